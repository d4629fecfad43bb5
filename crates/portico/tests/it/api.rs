//! X3: the API under `/api/v1`. Tokens (scoped, expiring, revocable, dead
//! with their team member), each resource's "yes" and "no", cursor
//! pagination, idempotent sends, files through the file store's checks,
//! the rate limit's headers and 429, and the OpenAPI document.

use crate::harness::{TestApp, active, origin};
use portico::app::api_tokens::NewTokenInput;
use portico::config::ConfigArgs;
use portico::domain::{Role, StaffId};
use portico::store::{AuditFilter, AuditKind, Staff};
use serde_json::{Value, json};

const PDF: &[u8] = b"%PDF-1.7\n1 0 obj\n<<>>\nendobj\n";
const EVERYTHING: &[&str] = &[
    "clients:write",
    "contacts:write",
    "questions:write",
    "messages:write",
    "team:read",
];

/// A token of `staff` with `scopes`, valid for `days`.
async fn token_as(app: &TestApp, staff: &Staff, scopes: &[&str], days: i64) -> String {
    made_by(app, staff, None, scopes, days).await
}

async fn made_by(
    app: &TestApp,
    maker: &Staff,
    acts_as: Option<StaffId>,
    scopes: &[&str],
    days: i64,
) -> String {
    app.app
        .create_api_token(
            maker,
            &NewTokenInput {
                name: "Test integration".into(),
                scopes: scopes.iter().map(|s| (*s).to_owned()).collect(),
                expires_in_days: days.to_string(),
                acts_as,
            },
            &origin(),
        )
        .await
        .unwrap()
        .secret
}

/// An API client: no cookies, a bearer token.
struct Api {
    base: String,
    token: String,
    http: reqwest::Client,
}

impl Api {
    fn new(app: &TestApp, token: &str) -> Self {
        Self {
            base: app.url("/api/v1"),
            token: token.to_owned(),
            http: reqwest::Client::new(),
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    async fn get(&self, path: &str) -> (u16, Value) {
        let response = self
            .http
            .get(self.url(path))
            .bearer_auth(&self.token)
            .send()
            .await
            .unwrap();
        read(response).await
    }

    async fn send(&self, method: reqwest::Method, path: &str, body: Value) -> (u16, Value) {
        let response = self
            .http
            .request(method, self.url(path))
            .bearer_auth(&self.token)
            .json(&body)
            .send()
            .await
            .unwrap();
        read(response).await
    }

    async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        self.send(reqwest::Method::POST, path, body).await
    }

    async fn post_keyed(&self, path: &str, key: &str, body: Value) -> (u16, Value) {
        let response = self
            .http
            .post(self.url(path))
            .bearer_auth(&self.token)
            .header("Idempotency-Key", key)
            .json(&body)
            .send()
            .await
            .unwrap();
        read(response).await
    }
}

/// Status and JSON body; a problem is checked to be RFC 9457 shaped.
async fn read(response: reqwest::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    if status >= 400 {
        assert_eq!(content_type, "application/problem+json", "{status} {body}");
        assert_eq!(body["status"], status, "{body}");
        assert!(
            body["type"]
                .as_str()
                .is_some_and(|t| t.starts_with("urn:portico:problem:"))
        );
        assert!(
            body["title"].is_string() && body["detail"].is_string(),
            "{body}"
        );
    }
    (status, body)
}

fn fields(problem: &Value) -> Vec<String> {
    problem["errors"]
        .as_array()
        .map(|all| {
            all.iter()
                .filter_map(|e| e["field"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn x3_clients_yes_and_no() {
    let app = TestApp::spawn().await;
    let (practice, admin) = app.with_practice("Harbour").await;
    let (other, _) = app.with_practice("Elsewhere").await;
    let theirs = app.with_client(other.id, "Their Client").await;
    let api = Api::new(&app, &token_as(&app, &admin, &["clients:write"], 30).await);

    let (status, made) = api
        .post(
            "/clients",
            json!({"name": "Northwind Bakery", "kind": "business"}),
        )
        .await;
    assert_eq!(status, 201, "{made}");
    let id = made["id"].as_str().unwrap();
    let (status, read) = api.get(&format!("/clients/{id}")).await;
    assert_eq!(status, 200);
    assert_eq!(read["name"], "Northwind Bakery");
    assert_eq!(read["assigned_staff_ids"][0], admin.id.to_string());
    let (status, list) = api.get("/clients").await;
    assert_eq!(status, 200);
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
    assert_eq!(practice.id, admin.practice_id);

    // Another practice's client is not there at all.
    let (status, _) = api.get(&format!("/clients/{}", theirs.id)).await;
    assert_eq!(status, 404);
    let (status, _) = api.get("/clients/not-an-id").await;
    assert_eq!(status, 404);

    // Every field refused at once, named.
    let (status, problem) = api.post("/clients", json!({"name": "", "kind": "x"})).await;
    assert_eq!(status, 422);
    assert_eq!(problem["type"], "urn:portico:problem:validation");
    assert_eq!(fields(&problem), vec!["name", "kind"]);
    let (status, _) = api
        .post("/clients", json!({"name": "A", "colour": 1}))
        .await;
    assert_eq!(status, 400);
    let (status, _) = api
        .post("/clients", json!({"name": "Nul\u{0}", "kind": "business"}))
        .await;
    assert_eq!(status, 400);

    // A read-only token does not write; a token without the area reads nothing.
    let reader = Api::new(&app, &token_as(&app, &admin, &["clients:read"], 30).await);
    assert_eq!(reader.get("/clients").await.0, 200);
    let (status, problem) = reader
        .post("/clients", json!({"name": "Nope", "kind": "business"}))
        .await;
    assert_eq!(status, 403);
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("clients:write")
    );
    let team_only = Api::new(&app, &token_as(&app, &admin, &["team:read"], 30).await);
    assert_eq!(team_only.get("/clients").await.0, 403);
    assert_eq!(team_only.get(&format!("/clients/{id}")).await.0, 403);
}

#[tokio::test]
async fn x3_tokens_stop_when_expired_revoked_or_their_member_leaves() {
    let app = TestApp::spawn().await;
    let (_, admin) = app.with_practice("Harbour").await;
    let tom = app
        .with_staff(admin.practice_id, "tom@harbour.example", Role::Member)
        .await;
    let http = reqwest::Client::new();

    // No token, a malformed one, an unknown one.
    let response = http.get(app.url("/api/v1/clients")).send().await.unwrap();
    assert_eq!(response.status(), 401);
    assert!(response.headers().contains_key("www-authenticate"));
    assert_eq!(read(response).await.0, 401);
    assert_eq!(Api::new(&app, "garbage").get("/me").await.0, 401);
    let unknown = format!("ptc_{}", "A".repeat(43));
    assert_eq!(Api::new(&app, &unknown).get("/me").await.0, 401);

    // A browser's session alone is refused: the API reads no cookies.
    let browser = app.staff_browser(&admin.email).await;
    let response = browser.get("/api/v1/clients").await;
    assert_eq!(response.status(), 401);
    assert_eq!(read(response).await.0, 401);

    // Expired.
    let week = Api::new(&app, &token_as(&app, &admin, &["clients:read"], 7).await);
    assert_eq!(week.get("/clients").await.0, 200);
    app.clock
        .advance(std::time::Duration::from_secs(7 * 24 * 3600));
    assert_eq!(week.get("/clients").await.0, 401);

    // Revoked: at once, and recorded.
    let secret = token_as(&app, &admin, &["clients:read"], 30).await;
    let revoked = Api::new(&app, &secret);
    assert_eq!(revoked.get("/clients").await.0, 200);
    let tokens = app.app.api_tokens(&admin).await.unwrap();
    let newest = tokens.first().unwrap();
    assert!(newest.last_used_at.is_some());
    app.app
        .revoke_api_token(&admin, newest.id, &origin())
        .await
        .unwrap();
    assert_eq!(revoked.get("/clients").await.0, 401);

    // A member cannot revoke an admin's token, nor make one as someone else.
    let other = app.app.api_tokens(&admin).await.unwrap();
    let admins = other.iter().find(|t| t.revoked_at.is_none()).unwrap();
    assert!(
        app.app
            .revoke_api_token(&tom, admins.id, &origin())
            .await
            .is_err()
    );
    let refused = app
        .app
        .create_api_token(
            &tom,
            &NewTokenInput {
                name: "Sneaky".into(),
                scopes: vec!["clients:read".into()],
                expires_in_days: "30".into(),
                acts_as: Some(admin.id),
            },
            &origin(),
        )
        .await;
    assert!(matches!(refused, Err(portico::app::AppError::Forbidden)));

    // An admin's token for an integration user acts as that member; it
    // stops when the member is deactivated.
    let for_tom = Api::new(
        &app,
        &made_by(
            &app,
            &admin,
            Some(tom.id),
            &["clients:read", "team:read"],
            30,
        )
        .await,
    );
    let (status, me) = for_tom.get("/me").await;
    assert_eq!(status, 200);
    assert_eq!(me["staff"]["id"], tom.id.to_string());
    assert_eq!(me["scopes"], json!(["clients:read", "team:read"]));
    let toms_own = Api::new(&app, &token_as(&app, &tom, &["clients:read"], 30).await);
    assert_eq!(toms_own.get("/clients").await.0, 200);
    app.app
        .set_staff_active(&admin, tom.id, false, &origin())
        .await
        .unwrap();
    assert_eq!(for_tom.get("/me").await.0, 401);
    assert_eq!(toms_own.get("/clients").await.0, 401);

    // X2: made and revoked are in the audit log.
    let entries = app
        .store()
        .audit_entries(admin.practice_id, &AuditFilter::default(), None, 1000)
        .await
        .unwrap();
    let made = entries
        .iter()
        .filter(|e| e.action == AuditKind::ApiTokenCreated.code())
        .count();
    assert_eq!(made, 4);
    assert!(
        entries
            .iter()
            .any(|e| e.action == AuditKind::ApiTokenRevoked.code())
    );
    assert!(
        entries
            .iter()
            .any(|e| e.detail.contains(&format!("acts as staff:{}", tom.id)))
    );
}

#[tokio::test]
async fn x3_contacts_and_their_access() {
    let app = TestApp::spawn().await;
    let (_, admin) = app.with_practice("Harbour").await;
    let tom = app
        .with_staff(admin.practice_id, "tom@harbour.example", Role::Member)
        .await;
    let (other, _) = app.with_practice("Elsewhere").await;
    let stranger = app.with_contact(other.id, "x@elsewhere.example", &[]).await;
    let bakery = app.with_client(admin.practice_id, "Northwind Bakery").await;
    let cafe = app.with_client(admin.practice_id, "Corner Cafe").await;
    let api = Api::new(&app, &token_as(&app, &admin, &["contacts:write"], 30).await);

    let path = format!("/clients/{}/contacts", bakery.id);
    let (status, added) = api
        .post(
            &path,
            json!({"name": "Hannah Lee", "email": "hannah@bakery.example"}),
        )
        .await;
    assert_eq!(status, 201, "{added}");
    assert_eq!(added["created"], true);
    let hannah = added["contact"]["id"].as_str().unwrap().to_owned();
    let (status, again) = api
        .post(
            &path,
            json!({"name": "Hannah Lee", "email": "hannah@bakery.example"}),
        )
        .await;
    assert_eq!((status, &again["created"]), (200, &json!(false)));
    let (status, problem) = api.post(&path, json!({"name": "", "email": "nope"})).await;
    assert_eq!(status, 422);
    assert!(fields(&problem).contains(&"email".to_owned()));

    let (status, list) = api.get(&path).await;
    assert_eq!(status, 200);
    assert_eq!(list["items"][0]["email"], "hannah@bakery.example");
    let (status, one) = api.get(&format!("/contacts/{hannah}")).await;
    assert_eq!(status, 200);
    assert_eq!(one["client_ids"], json!([bakery.id.to_string()]));
    assert_eq!(api.get(&format!("/contacts/{}", stranger.id)).await.0, 404);

    // Access: admins give and take it; a member is refused; another
    // practice's contact is not found.
    let access = format!("/clients/{}/contacts/{hannah}/access", cafe.id);
    let member = Api::new(&app, &token_as(&app, &tom, &["contacts:write"], 30).await);
    assert_eq!(
        member
            .send(reqwest::Method::PUT, &access, json!({}))
            .await
            .0,
        403
    );
    assert_eq!(
        api.send(reqwest::Method::PUT, &access, json!({})).await.0,
        204
    );
    let (_, one) = api.get(&format!("/contacts/{hannah}")).await;
    assert_eq!(one["client_ids"].as_array().unwrap().len(), 2);
    assert_eq!(
        api.send(reqwest::Method::DELETE, &access, json!({}))
            .await
            .0,
        204
    );
    let theirs = format!("/clients/{}/contacts/{}/access", cafe.id, stranger.id);
    assert_eq!(
        api.send(reqwest::Method::PUT, &theirs, json!({})).await.0,
        404
    );

    let reader = Api::new(&app, &token_as(&app, &admin, &["contacts:read"], 30).await);
    assert_eq!(
        reader
            .send(reqwest::Method::PUT, &access, json!({}))
            .await
            .0,
        403
    );
}

#[tokio::test]
async fn x3_questions_asked_listed_followed_up_and_resolved() {
    let app = TestApp::spawn().await;
    let (_, admin) = app.with_practice("Harbour").await;
    let (other, other_admin) = app.with_practice("Elsewhere").await;
    let bakery = app.with_client(admin.practice_id, "Northwind Bakery").await;
    let theirs = app.with_client(other.id, "Their Client").await;
    let api = Api::new(
        &app,
        &token_as(&app, &admin, &["questions:write"], 30).await,
    );

    let ask = format!("/clients/{}/questions", bakery.id);
    let (status, asked) = api
        .post(
            &ask,
            json!({"title": "Send the March bank statement", "details": "PDF is fine"}),
        )
        .await;
    assert_eq!(status, 201, "{asked}");
    assert_eq!(asked["state"], "open");
    let id = asked["id"].as_str().unwrap().to_owned();
    let (status, problem) = api.post(&ask, json!({"title": ""})).await;
    assert_eq!(status, 422);
    assert_eq!(fields(&problem), vec!["title"]);
    assert_eq!(
        api.post(
            &format!("/clients/{}/questions", theirs.id),
            json!({"title": "Hi"})
        )
        .await
        .0,
        404
    );

    let (_, open) = api.get("/questions?state=open").await;
    assert_eq!(open["items"][0]["id"], id);
    assert_eq!(api.get("/questions?state=sideways").await.0, 422);

    let (status, thread) = api
        .post(
            &format!("/questions/{id}/follow-ups"),
            json!({"body": "And April, please."}),
        )
        .await;
    assert_eq!(status, 201);
    assert_eq!(thread["entries"][0]["kind"], "follow_up");
    let (status, thread) = api
        .post(&format!("/questions/{id}/resolve"), json!({}))
        .await;
    assert_eq!(status, 200);
    assert_eq!(thread["question"]["state"], "resolved");
    let (_, resolved) = api.get("/questions?state=resolved").await;
    assert_eq!(resolved["items"].as_array().unwrap().len(), 1);
    let (_, open) = api.get("/questions?state=open").await;
    assert!(open["items"].as_array().unwrap().is_empty());
    let (status, thread) = api.get(&format!("/questions/{id}")).await;
    assert_eq!(status, 200);
    assert_eq!(thread["entries"].as_array().unwrap().len(), 2);

    // Another practice's token sees none of it.
    let outsider = Api::new(
        &app,
        &token_as(&app, &other_admin, &["questions:write"], 30).await,
    );
    assert_eq!(outsider.get(&format!("/questions/{id}")).await.0, 404);
    assert_eq!(
        outsider
            .post(&format!("/questions/{id}/resolve"), json!({}))
            .await
            .0,
        404
    );
    let reader = Api::new(&app, &token_as(&app, &admin, &["questions:read"], 30).await);
    assert_eq!(
        reader
            .post(&format!("/questions/{id}/reopen"), json!({}))
            .await
            .0,
        403
    );
}

#[tokio::test]
async fn x3_messages_sent_once_per_key_and_files_checked() {
    let app = TestApp::spawn().await;
    let (_, admin) = app.with_practice("Harbour").await;
    let (_, other_admin) = app.with_practice("Elsewhere").await;
    let bakery = app.with_client(admin.practice_id, "Northwind Bakery").await;
    let hannah = active(&app, admin.practice_id, "hannah@bakery.example", &[&bakery]).await;
    let chat = app
        .app
        .open_direct_chat(&admin, bakery.id, hannah.id)
        .await
        .unwrap();
    let api = Api::new(&app, &token_as(&app, &admin, &["messages:write"], 30).await);

    let (status, chats) = api.get("/chats").await;
    assert_eq!(status, 200);
    assert_eq!(chats["items"][0]["id"], chat.id.to_string());

    let send = format!("/chats/{}/messages", chat.id);
    let (status, first) = api
        .post_keyed(&send, "order-1", json!({"body": "Hello"}))
        .await;
    assert_eq!(status, 201, "{first}");
    let (status, again) = api
        .post_keyed(&send, "order-1", json!({"body": "Hello"}))
        .await;
    assert_eq!(status, 201);
    assert_eq!(first["id"], again["id"]);
    assert_eq!(first["seq"], again["seq"]);
    let (_, second) = api
        .post_keyed(&send, "order-2", json!({"body": "Second"}))
        .await;
    let (status, problem) = api.post(&send, json!({"body": "No key"})).await;
    assert_eq!(status, 422);
    assert_eq!(fields(&problem), vec!["Idempotency-Key"]);

    let (status, all) = api.get(&format!("/chats/{}/messages", chat.id)).await;
    assert_eq!(status, 200);
    let bodies: Vec<&str> = all["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["body"].as_str().unwrap())
        .collect();
    assert_eq!(bodies, vec!["Hello", "Second"]);
    let after = first["seq"].as_i64().unwrap();
    let (_, later) = api
        .get(&format!("/chats/{}/messages?after={after}", chat.id))
        .await;
    assert_eq!(later["items"].as_array().unwrap().len(), 1);
    assert_eq!(later["items"][0]["id"], second["id"]);

    // Files: through the file store's checks.
    let upload = |name: &'static str, bytes: &'static [u8], key: &'static str| {
        let form = reqwest::multipart::Form::new()
            .text("body", "The file")
            .part(
                "file",
                reqwest::multipart::Part::bytes(bytes).file_name(name),
            );
        reqwest::Client::new()
            .post(app.url(&format!("/api/v1/chats/{}/files", chat.id)))
            .bearer_auth(&api.token)
            .header("Idempotency-Key", key)
            .multipart(form)
            .send()
    };
    let (status, sent) = read(upload("statement.pdf", PDF, "file-1").await.unwrap()).await;
    assert_eq!(status, 201, "{sent}");
    assert_eq!(sent["files"][0]["name"], "statement.pdf");
    let (status, problem) = read(
        upload("page.html", b"<html><script>", "file-2")
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 422);
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("not a kind of file")
    );

    // Another practice, or a token that may only read, sends nothing.
    let outsider = Api::new(
        &app,
        &token_as(&app, &other_admin, &["messages:write"], 30).await,
    );
    assert_eq!(
        outsider
            .post_keyed(&send, "x", json!({"body": "Hi"}))
            .await
            .0,
        404
    );
    assert_eq!(
        outsider
            .get(&format!("/chats/{}/messages", chat.id))
            .await
            .0,
        404
    );
    let reader = Api::new(&app, &token_as(&app, &admin, &["messages:read"], 30).await);
    assert_eq!(
        reader.post_keyed(&send, "y", json!({"body": "Hi"})).await.0,
        403
    );
}

#[tokio::test]
async fn x3_lists_page_with_an_opaque_cursor() {
    let app = TestApp::spawn().await;
    let (_, admin) = app.with_practice("Harbour").await;
    for n in 0..5 {
        app.app
            .create_client(&admin, &format!("Client {n}"), "business")
            .await
            .unwrap();
    }
    let tom = app
        .with_staff(admin.practice_id, "tom@harbour.example", Role::Member)
        .await;
    let api = Api::new(
        &app,
        &token_as(&app, &admin, &["clients:read", "team:read"], 30).await,
    );
    let mut seen = Vec::new();
    let mut path = "/clients?limit=2".to_owned();
    let mut pages = 0;
    loop {
        let (status, page) = api.get(&path).await;
        assert_eq!(status, 200);
        pages += 1;
        for item in page["items"].as_array().unwrap() {
            seen.push(item["name"].as_str().unwrap().to_owned());
        }
        match page["next_cursor"].as_str() {
            Some(cursor) => path = format!("/clients?limit=2&cursor={cursor}"),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(
        seen,
        (0..5).map(|n| format!("Client {n}")).collect::<Vec<_>>()
    );

    let (status, problem) = api.get("/clients?limit=500&cursor=zzz").await;
    assert_eq!(status, 422);
    assert_eq!(fields(&problem), vec!["limit", "cursor"]);

    let (_, team) = api.get("/team?limit=1").await;
    assert_eq!(team["items"][0]["id"], admin.id.to_string());
    let cursor = team["next_cursor"].as_str().unwrap();
    let (_, rest) = api.get(&format!("/team?limit=1&cursor={cursor}")).await;
    assert_eq!(rest["items"][0]["id"], tom.id.to_string());
    assert!(rest["next_cursor"].is_null());
    assert_eq!(api.get(&format!("/team/{}", tom.id)).await.0, 200);
    assert_eq!(api.get(&format!("/team/{}", StaffId::new())).await.0, 404);
}

#[tokio::test]
async fn x3_rate_limit_headers_and_429() {
    let app = TestApp::spawn_with(ConfigArgs {
        api_limit_per_minute: Some(3),
        ..ConfigArgs::default()
    })
    .await;
    let (_, admin) = app.with_practice("Harbour").await;
    let token = token_as(&app, &admin, &["team:read"], 30).await;
    let get = || {
        reqwest::Client::new()
            .get(app.url("/api/v1/team"))
            .bearer_auth(&token)
            .send()
    };
    for remaining in [2, 1, 0] {
        let response = get().await.unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(
            response.headers()["ratelimit-policy"],
            "\"per-token\";q=3;w=60"
        );
        let now = response.headers()["ratelimit"].to_str().unwrap().to_owned();
        assert!(
            now.starts_with(&format!("\"per-token\";r={remaining};t=")),
            "{now}"
        );
    }
    let refused = get().await.unwrap();
    assert_eq!(refused.status(), 429);
    assert_eq!(refused.headers()["retry-after"], "60");
    assert_eq!(
        read(refused).await.1["type"],
        "urn:portico:problem:rate-limited"
    );
    // Another token has its own allowance; the next minute starts afresh.
    let other = token_as(&app, &admin, &["team:read"], 30).await;
    assert_eq!(Api::new(&app, &other).get("/team").await.0, 200);
    app.clock.advance(std::time::Duration::from_secs(60));
    assert_eq!(get().await.unwrap().status(), 200);
}

#[tokio::test]
async fn x3_the_openapi_document_is_valid_and_complete() {
    let app = TestApp::spawn().await;
    let (_, admin) = app.with_practice("Harbour").await;
    // Public: an integration reads it before it has a token.
    let response = reqwest::get(app.url("/api/v1/openapi.json")).await.unwrap();
    assert_eq!(response.status(), 200);
    let text = response.text().await.unwrap();
    let spec = oas3::from_json(&text).expect("a valid OpenAPI 3.1 document");
    assert!(spec.openapi.starts_with("3.1"), "{}", spec.openapi);
    let paths = spec.paths.clone().unwrap_or_default();

    // What the API must offer is documented.
    let wanted = [
        ("get", "/api/v1/clients"),
        ("post", "/api/v1/clients"),
        ("get", "/api/v1/clients/{client_id}"),
        ("get", "/api/v1/clients/{client_id}/contacts"),
        ("post", "/api/v1/clients/{client_id}/contacts"),
        ("get", "/api/v1/contacts/{contact_id}"),
        (
            "put",
            "/api/v1/clients/{client_id}/contacts/{contact_id}/access",
        ),
        (
            "delete",
            "/api/v1/clients/{client_id}/contacts/{contact_id}/access",
        ),
        ("get", "/api/v1/questions"),
        ("post", "/api/v1/clients/{client_id}/questions"),
        ("get", "/api/v1/questions/{question_id}"),
        ("post", "/api/v1/questions/{question_id}/follow-ups"),
        ("post", "/api/v1/questions/{question_id}/resolve"),
        ("get", "/api/v1/chats"),
        ("get", "/api/v1/chats/{chat_id}/messages"),
        ("post", "/api/v1/chats/{chat_id}/messages"),
        ("post", "/api/v1/chats/{chat_id}/files"),
        ("get", "/api/v1/team"),
        ("get", "/api/v1/team/{staff_id}"),
        ("get", "/api/v1/openapi.json"),
    ];
    let documented: Vec<(String, String)> = paths
        .iter()
        .flat_map(|(path, item)| {
            item.methods()
                .into_iter()
                .map(move |(method, _)| (method.as_str().to_lowercase(), path.clone()))
        })
        .collect();
    for (method, path) in wanted {
        assert!(
            documented.contains(&(method.to_owned(), path.to_owned())),
            "{method} {path} is not documented"
        );
    }

    // Every documented path is a route with exactly its documented methods:
    // they answer (not 405), and a method it does not document gets 405.
    let token = token_as(&app, &admin, EVERYTHING, 30).await;
    let http = reqwest::Client::new();
    let fake = uuid::Uuid::now_v7().to_string();
    for (path, item) in &paths {
        let concrete = path
            .split('/')
            .map(|part| {
                if part.starts_with('{') {
                    fake.as_str()
                } else {
                    part
                }
            })
            .collect::<Vec<_>>()
            .join("/");
        let methods: Vec<String> = item
            .methods()
            .into_iter()
            .map(|(m, _)| m.as_str().to_uppercase())
            .collect();
        for method in ["GET", "POST", "PUT", "DELETE", "PATCH"] {
            let status = http
                .request(method.parse().unwrap(), app.url(&concrete))
                .bearer_auth(&token)
                .header("Idempotency-Key", "openapi-check")
                .json(&json!({}))
                .send()
                .await
                .unwrap()
                .status()
                .as_u16();
            if methods.iter().any(|m| m == method) {
                assert_ne!(status, 405, "{method} {path} is documented but not routed");
            } else {
                assert_eq!(status, 405, "{method} {path} answers but is not documented");
            }
        }
    }

    // Unknown paths under the API answer in problem details.
    let (status, _) = Api::new(&app, &token).get("/nothing-here").await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn x3_tokens_are_made_under_my_account_and_shown_once() {
    let app = TestApp::spawn().await;
    let (_, admin) = app.with_practice("Harbour").await;
    let tom = app
        .with_staff(admin.practice_id, "tom@harbour.example", Role::Member)
        .await;
    let browser = app.staff_browser(&tom.email).await;
    let (status, html) = browser.page("/app/account").await;
    assert_eq!(status, 200);
    assert!(html.contains("/app/account/api-tokens"));
    let (status, html) = browser.page("/app/account/api-tokens").await;
    assert_eq!(status, 200);
    assert!(!html.contains("acts_as"), "members choose nobody else");

    let response = browser
        .post_form(
            "/app/account/api-tokens",
            &[
                ("name", "Zapier"),
                ("scope", "clients:read"),
                ("scope", "messages:write"),
                ("expires_in_days", "30"),
            ],
        )
        .await;
    assert_eq!(response.status(), 201);
    let html = response.text().await.unwrap();
    let start = html.find("value=\"ptc_").unwrap() + "value=\"".len();
    let secret: String = html[start..].chars().take_while(|c| *c != '"').collect();
    let (status, me) = Api::new(&app, &secret).get("/me").await;
    assert_eq!(status, 200);
    assert_eq!(me["staff"]["id"], tom.id.to_string());
    // Shown once: the list has its first characters only.
    let (_, html) = browser.page("/app/account/api-tokens").await;
    assert!(!html.contains(&secret));
    assert!(html.contains(&secret[..10]));

    // A refused form keeps what was typed and names the fields.
    let response = browser
        .post_form(
            "/app/account/api-tokens",
            &[("name", "No scopes"), ("expires_in_days", "1000")],
        )
        .await;
    assert_eq!(response.status(), 422);
    let html = response.text().await.unwrap();
    assert!(html.contains("value=\"No scopes\""));
    assert!(html.contains("scopes-error") && html.contains("expiry-error"));

    // Revoked from the page: the token stops.
    let token = app.app.api_tokens(&tom).await.unwrap().remove(0);
    let response = browser
        .post_form(&format!("/app/account/api-tokens/{}/revoke", token.id), &[])
        .await;
    assert_eq!(response.status(), 303);
    assert_eq!(Api::new(&app, &secret).get("/me").await.0, 401);
}

/// X3 at a phone's width: an admin makes a token for an integration user
/// on the API tokens page (axe-checked, nothing to scroll sideways), sees
/// it once, and revokes it.
#[tokio::test]
async fn x3_the_api_tokens_page_fits_a_phone() {
    use crate::browser::run_story;
    let app = TestApp::spawn().await;
    let (_, admin) = app.with_practice("Harbour & Vale Accounting").await;
    app.with_staff(
        admin.practice_id,
        "integration@harbour.example",
        Role::Member,
    )
    .await;
    let shots = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/screenshots");
    let app = &app;
    run_story(
        "x3_the_api_tokens_page_fits_a_phone",
        &app.base_url,
        |browser| async move {
            browser.phone().await;
            browser.goto("/app/sign-in").await;
            browser.fill("#email", &admin.email).await;
            browser.fill("#password", crate::harness::PASSWORD).await;
            browser.press("Sign in").await;
            browser.wait_for_path("/app").await;
            browser.goto("/app/account/api-tokens").await;
            browser.fill("#name", "Practice management sync").await;
            browser.choose("#acts_as", "integration").await;
            browser.press("Make token").await;
            browser.wait_for("#new-token").await;
            browser.audit().await;
            browser.assert_no_sideways_scroll().await;
            browser
                .screenshot(&shots.join("api-tokens-phone.png"))
                .await;
            browser.press("Revoke Practice management sync").await;
            browser.wait_for_text(".notice", "revoked").await;
            browser.assert_no_sideways_scroll().await;
        },
    )
    .await;
}
