//! X13: single sign-on for staff. The test runs its own OpenID provider on
//! 127.0.0.1 (discovery, authorization, token and JWKS endpoints, ID tokens
//! signed with a P-256 key made for the test) and follows every redirect by
//! hand, as a browser would.

use crate::harness::{Browser, PASSWORD, TestApp, location, totp_key};
use axum::extract::{Form, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Json, Redirect, Response};
use axum::routing::{get, post};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use p256::ecdsa::signature::Signer;
use p256::ecdsa::{Signature, SigningKey};
use portico::app::two_factor::current_code;
use portico::domain::Role;
use portico::store::{AuditFilter, Staff};
use serde::Deserialize;
use serde_json::json;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

const CLIENT_ID: &str = "portico-test-client";
const CLIENT_SECRET: &str = "the-client-secret";

/// Who the provider signs in next, and how it misbehaves.
#[derive(Clone, Debug)]
struct NextLogin {
    email: String,
    email_verified: bool,
    /// Overrides the audience (the client id).
    audience: Option<String>,
    /// Overrides the nonce the browser brought.
    nonce: Option<String>,
}

struct Grant {
    nonce: String,
    challenge: String,
    login: NextLogin,
}

struct ProviderState {
    issuer: String,
    key: SigningKey,
    next: Mutex<NextLogin>,
    codes: Mutex<HashMap<String, Grant>>,
}

#[derive(Clone)]
struct Provider(Arc<ProviderState>);

impl Provider {
    async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let issuer = format!("http://{}", listener.local_addr().unwrap());
        let secret: [u8; 32] = rand::random();
        let key = SigningKey::from_slice(&secret).unwrap();
        let provider = Provider(Arc::new(ProviderState {
            issuer,
            key,
            next: Mutex::new(NextLogin {
                email: String::new(),
                email_verified: true,
                audience: None,
                nonce: None,
            }),
            codes: Mutex::new(HashMap::new()),
        }));
        let router = axum::Router::new()
            .route("/.well-known/openid-configuration", get(discovery))
            .route("/authorize", get(authorize))
            .route("/token", post(token))
            .route("/jwks", get(jwks))
            .with_state(provider.clone());
        tokio::spawn(async move {
            axum::serve(listener, router).await.unwrap();
        });
        provider
    }

    fn issuer(&self) -> &str {
        &self.0.issuer
    }

    /// The provider signs `email` in next, with a verified address.
    fn next(&self, email: &str) -> NextLogin {
        let login = NextLogin {
            email: email.to_owned(),
            email_verified: true,
            audience: None,
            nonce: None,
        };
        *self.0.next.lock().unwrap() = login.clone();
        login
    }

    fn set_next(&self, login: NextLogin) {
        *self.0.next.lock().unwrap() = login;
    }

    fn id_token(&self, grant: &Grant) -> String {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let header = json!({"alg": "ES256", "typ": "JWT", "kid": "test-key"});
        let claims = json!({
            "iss": self.0.issuer,
            "sub": format!("subject-{}", grant.login.email),
            "aud": grant.login.audience.clone().unwrap_or_else(|| CLIENT_ID.into()),
            "iat": now,
            "exp": now + 300,
            "nonce": grant.login.nonce.clone().unwrap_or_else(|| grant.nonce.clone()),
            "email": grant.login.email,
            "email_verified": grant.login.email_verified,
        });
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let signature: Signature = self.0.key.sign(input.as_bytes());
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature.to_bytes()))
    }
}

async fn discovery(State(p): State<Provider>) -> Json<serde_json::Value> {
    let issuer = &p.0.issuer;
    Json(json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{issuer}/authorize"),
        "token_endpoint": format!("{issuer}/token"),
        "jwks_uri": format!("{issuer}/jwks"),
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["ES256"],
        "scopes_supported": ["openid", "email", "profile"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic"],
        "code_challenge_methods_supported": ["S256"],
    }))
}

async fn jwks(State(p): State<Provider>) -> Json<serde_json::Value> {
    let point = p.0.key.verifying_key().to_sec1_bytes();
    assert_eq!(point.len(), 65, "an uncompressed point");
    Json(json!({"keys": [{
        "kty": "EC", "crv": "P-256", "use": "sig", "alg": "ES256", "kid": "test-key",
        "x": URL_SAFE_NO_PAD.encode(&point[1..33]),
        "y": URL_SAFE_NO_PAD.encode(&point[33..65]),
    }]}))
}

#[derive(Deserialize)]
struct AuthorizeQuery {
    client_id: String,
    redirect_uri: String,
    response_type: String,
    scope: String,
    state: String,
    nonce: String,
    code_challenge: String,
    code_challenge_method: String,
}

/// Signs the next person in at once and sends the browser back.
async fn authorize(State(p): State<Provider>, Query(q): Query<AuthorizeQuery>) -> Response {
    assert_eq!(q.client_id, CLIENT_ID);
    assert_eq!(q.response_type, "code");
    assert_eq!(q.code_challenge_method, "S256", "PKCE with SHA-256");
    for scope in ["openid", "email", "profile"] {
        assert!(q.scope.split(' ').any(|s| s == scope), "scope {scope}");
    }
    let code = format!("code-{}", rand::random::<u64>());
    let login = p.0.next.lock().unwrap().clone();
    p.0.codes.lock().unwrap().insert(
        code.clone(),
        Grant {
            nonce: q.nonce,
            challenge: q.code_challenge,
            login,
        },
    );
    Redirect::to(&format!("{}?code={code}&state={}", q.redirect_uri, q.state)).into_response()
}

#[derive(Deserialize)]
struct TokenForm {
    grant_type: String,
    code: String,
    code_verifier: String,
}

async fn token(
    State(p): State<Provider>,
    headers: HeaderMap,
    Form(form): Form<TokenForm>,
) -> Response {
    let basic = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{CLIENT_ID}:{CLIENT_SECRET}"))
    );
    let refuse =
        |error: &str| (StatusCode::BAD_REQUEST, Json(json!({"error": error}))).into_response();
    if headers.get("authorization").and_then(|v| v.to_str().ok()) != Some(basic.as_str()) {
        return (
            StatusCode::UNAUTHORIZED,
            Json(json!({"error": "invalid_client"})),
        )
            .into_response();
    }
    if form.grant_type != "authorization_code" {
        return refuse("unsupported_grant_type");
    }
    let Some(grant) = p.0.codes.lock().unwrap().remove(&form.code) else {
        return refuse("invalid_grant");
    };
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(form.code_verifier.as_bytes()));
    if challenge != grant.challenge {
        return refuse("invalid_grant");
    }
    Json(json!({
        "access_token": "an-access-token",
        "token_type": "Bearer",
        "expires_in": 300,
        "id_token": p.id_token(&grant),
    }))
    .into_response()
}

/// An admin's browser saves the provider for the practice.
async fn configure(admin: &Browser, provider: &Provider, require: bool, counts_as_2fa: bool) {
    let mut fields = vec![
        ("issuer_url", provider.issuer().to_owned()),
        ("client_id", CLIENT_ID.to_owned()),
        ("client_secret", CLIENT_SECRET.to_owned()),
        ("display_name", "Test Workspace".to_owned()),
    ];
    if require {
        fields.push(("require_sso", "on".into()));
    }
    if counts_as_2fa {
        fields.push(("counts_as_two_factor", "on".into()));
    }
    let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let response = admin.post_form("/app/settings/sso", &fields).await;
    assert_eq!(response.status(), 303, "{}", response.text().await.unwrap());
    assert_eq!(location(&response), "/app/settings/sso?done=saved");
}

/// The path and query of a URL of the Portico `browser` uses.
fn path_of(browser: &Browser, url: &str) -> String {
    url.strip_prefix(&browser.base_url)
        .unwrap_or_else(|| panic!("{url} is not Portico's"))
        .to_owned()
}

/// Sends `browser` to the provider for `email` and returns the callback
/// address it is sent back to (not yet visited).
async fn to_provider_and_back(_app: &TestApp, browser: &Browser, email: &str) -> String {
    let response = browser
        .post_form("/app/sso/start", &[("email", email)])
        .await;
    assert_eq!(response.status(), 303, "{}", response.text().await.unwrap());
    let to_provider = location(&response);
    assert!(
        to_provider.contains("code_challenge="),
        "PKCE: {to_provider}"
    );
    assert!(to_provider.contains("nonce="), "a nonce: {to_provider}");
    let back = browser.client.get(&to_provider).send().await.unwrap();
    assert_eq!(back.status(), 303);
    path_of(browser, &location(&back))
}

/// The whole sign-in: start, provider, callback. Returns the callback's
/// answer.
async fn sso_sign_in(app: &TestApp, browser: &Browser, email: &str) -> reqwest::Response {
    let callback = to_provider_and_back(app, browser, email).await;
    browser.get(&callback).await
}

async fn refused_with(response: reqwest::Response, words: &str) {
    assert_eq!(response.status(), 403);
    let html = response.text().await.unwrap();
    assert!(html.contains("Single sign-on did not work"), "{html}");
    assert!(html.contains(words), "{words:?} in {html}");
}

async fn audit_details(app: &TestApp, practice: portico::domain::PracticeId) -> Vec<String> {
    app.store()
        .audit_entries(practice, &AuditFilter::default(), None, 100)
        .await
        .unwrap()
        .into_iter()
        .map(|e| format!("{}: {}", e.action, e.detail))
        .collect()
}

/// A team member turns on two-factor sign-in through the pages; the
/// authenticator key.
async fn enrol_two_factor(app: &TestApp, staff: &Staff) -> String {
    let browser = app.staff_browser(&staff.email).await;
    let (_, html) = browser.page("/app/two-factor").await;
    let key = totp_key(&html);
    let code = current_code(&key, app.clock.now()).unwrap();
    let response = browser
        .post_form("/app/two-factor", &[("code", &code)])
        .await;
    assert_eq!(response.status(), 200);
    // The next code is another time step's.
    app.clock.advance(std::time::Duration::from_secs(30));
    key
}

#[tokio::test]
async fn x13_staff_sign_in_with_the_practice_provider_end_to_end() {
    let app = TestApp::spawn().await;
    let provider = Provider::start().await;
    let (practice, admin) = app.with_practice("Harbour").await;
    let member = app
        .with_staff(practice.id, "mia@harbour.example", Role::Member)
        .await;
    let admin_browser = app.staff_browser(&admin.email).await;
    configure(&admin_browser, &provider, false, false).await;

    // The settings page shows what is stored, never the secret.
    let (status, html) = admin_browser.page("/app/settings/sso").await;
    assert_eq!(status, 200);
    assert!(html.contains(provider.issuer()));
    assert!(html.contains("A secret is stored"));
    assert!(!html.contains(CLIENT_SECRET));
    assert!(html.contains(&format!("{}/app/sso/callback", app.base_url)));
    let stored = app
        .store()
        .sso_settings(practice.id)
        .await
        .unwrap()
        .unwrap();
    assert!(
        !stored.client_secret_sealed.contains(CLIENT_SECRET),
        "sealed at rest"
    );
    // Saving again with the secret left empty keeps it.
    configure_keeping_secret(&admin_browser, &provider).await;

    // The sign-in page offers the provider for an address of the practice.
    let browser = app.browser();
    let response = browser
        .post_form(
            "/app/sign-in",
            &[("email", &member.email), ("password", "wrong password")],
        )
        .await;
    let html = response.text().await.unwrap();
    assert!(html.contains("Sign in with Test Workspace"), "{html}");

    provider.next(&member.email);
    let response = sso_sign_in(&app, &browser, &member.email).await;
    assert_eq!(response.status(), 303);
    assert_eq!(location(&response), "/app");
    let (status, html) = browser.page("/app").await;
    assert_eq!(status, 200);
    assert!(html.contains("mia"), "signed in as the member");
    let details = audit_details(&app, practice.id).await;
    assert!(
        details
            .iter()
            .any(|d| d == "signed in: with single sign-on (Test Workspace)"),
        "{details:?}"
    );

    // An ordinary session: signing out ends it.
    let response = browser.post_form("/sign-out", &[]).await;
    assert_eq!(response.status(), 303);
    assert_eq!(location(&browser.get("/app").await), "/app/sign-in");

    // A deactivated team member is refused.
    app.store()
        .set_staff_active(
            practice.id,
            member.id,
            false,
            &crate::harness::test_entry(practice.id),
        )
        .await
        .unwrap();
    let browser = app.browser();
    provider.next(&member.email);
    refused_with(
        sso_sign_in(&app, &browser, &member.email).await,
        "not an active team member",
    )
    .await;
    assert!(browser.cookie("portico_session").is_none());
    let details = audit_details(&app, practice.id).await;
    assert!(
        details
            .iter()
            .any(|d| d == "sign-in failed: single sign-on: the team member is deactivated"),
        "{details:?}"
    );
}

async fn configure_keeping_secret(admin: &Browser, provider: &Provider) {
    let response = admin
        .post_form(
            "/app/settings/sso",
            &[
                ("issuer_url", provider.issuer()),
                ("client_id", CLIENT_ID),
                ("client_secret", ""),
                ("display_name", "Test Workspace"),
            ],
        )
        .await;
    assert_eq!(response.status(), 303);
}

#[tokio::test]
async fn x13_tokens_for_another_audience_or_nonce_are_refused() {
    let app = TestApp::spawn().await;
    let provider = Provider::start().await;
    let (practice, admin) = app.with_practice("Harbour").await;
    configure(
        &app.staff_browser(&admin.email).await,
        &provider,
        false,
        false,
    )
    .await;

    let browser = app.browser();
    provider.set_next(NextLogin {
        audience: Some("another-client".into()),
        ..provider.next(&admin.email)
    });
    refused_with(
        sso_sign_in(&app, &browser, &admin.email).await,
        "could not complete the sign-in",
    )
    .await;
    assert!(browser.cookie("portico_session").is_none());

    provider.set_next(NextLogin {
        nonce: Some("a-nonce-from-another-sign-in".into()),
        ..provider.next(&admin.email)
    });
    refused_with(
        sso_sign_in(&app, &browser, &admin.email).await,
        "could not complete the sign-in",
    )
    .await;
    assert!(browser.cookie("portico_session").is_none());
    let details = audit_details(&app, practice.id).await;
    let refused = details
        .iter()
        .filter(|d| d.starts_with("sign-in failed: single sign-on: ID token refused"))
        .count();
    assert_eq!(refused, 2, "{details:?}");
}

#[tokio::test]
async fn x13_state_must_be_this_browsers_and_used_once() {
    let app = TestApp::spawn().await;
    let provider = Provider::start().await;
    let (_, admin) = app.with_practice("Harbour").await;
    configure(
        &app.staff_browser(&admin.email).await,
        &provider,
        false,
        false,
    )
    .await;

    // A callback from someone else's sign-in, in another browser.
    let victim = app.browser();
    provider.next(&admin.email);
    let callback = to_provider_and_back(&app, &app.browser(), &admin.email).await;
    refused_with(victim.get(&callback).await, "expired or was already used").await;
    assert!(victim.cookie("portico_session").is_none());

    // The right browser with a state that is not the one it was given.
    let browser = app.browser();
    let callback = to_provider_and_back(&app, &browser, &admin.email).await;
    let forged = callback.replace("state=", "state=x");
    refused_with(browser.get(&forged).await, "expired or was already used").await;

    // The real callback works once; a replay in the same browser does not.
    let browser = app.browser();
    let callback = to_provider_and_back(&app, &browser, &admin.email).await;
    let response = browser.get(&callback).await;
    assert_eq!(response.status(), 303);
    assert_eq!(location(&response), "/app");
    let replay = app.browser();
    // The replaying browser even has the right state cookie.
    let state = callback
        .split("state=")
        .nth(1)
        .unwrap()
        .split('&')
        .next()
        .unwrap();
    let response = replay
        .client
        .get(replay.url(&callback))
        .header("cookie", format!("portico_sso={state}"))
        .send()
        .await
        .unwrap();
    refused_with(response, "expired or was already used").await;
}

#[tokio::test]
async fn x13_only_verified_addresses_of_the_practices_own_team_sign_in() {
    let app = TestApp::spawn().await;
    let provider = Provider::start().await;
    let (practice, admin) = app.with_practice("Harbour").await;
    let (_, other_admin) = app.with_practice("Lighthouse").await;
    configure(
        &app.staff_browser(&admin.email).await,
        &provider,
        false,
        false,
    )
    .await;

    // Unverified address.
    let browser = app.browser();
    provider.set_next(NextLogin {
        email_verified: false,
        ..provider.next(&admin.email)
    });
    refused_with(
        sso_sign_in(&app, &browser, &admin.email).await,
        "has not verified your e-mail address",
    )
    .await;

    // An address nobody has.
    provider.next("stranger@harbour.example");
    refused_with(
        sso_sign_in(&app, &browser, &admin.email).await,
        "not an active team member",
    )
    .await;

    // Another practice's team member, signed in by this practice's provider.
    provider.next(&other_admin.email);
    refused_with(
        sso_sign_in(&app, &browser, &admin.email).await,
        "not an active team member",
    )
    .await;
    assert!(browser.cookie("portico_session").is_none());

    // An address whose practice has no single sign-on is told so.
    let response = browser
        .post_form("/app/sso/start", &[("email", &other_admin.email)])
        .await;
    assert_eq!(response.status(), 401);
    assert!(
        response
            .text()
            .await
            .unwrap()
            .contains("Single sign-on is not set up for that address")
    );
    let details = audit_details(&app, practice.id).await;
    for expected in [
        "sign-in failed: single sign-on: the e-mail address is not verified by the provider",
        "sign-in failed: single sign-on: no team member of this practice has that address",
    ] {
        assert!(
            details.iter().any(|d| d == expected),
            "{expected}: {details:?}"
        );
    }
}

#[tokio::test]
async fn x13_required_sso_refuses_passwords_but_admins_have_break_glass() {
    let app = TestApp::spawn().await;
    let provider = Provider::start().await;
    let (practice, admin) = app.with_practice("Harbour").await;
    let member = app
        .with_staff(practice.id, "mia@harbour.example", Role::Member)
        .await;
    let plain_admin = app
        .with_staff(practice.id, "ann@harbour.example", Role::Admin)
        .await;
    let key = enrol_two_factor(&app, &admin).await;
    let admin_browser = {
        let browser = app.browser();
        browser
            .post_form(
                "/app/sign-in",
                &[("email", &admin.email), ("password", PASSWORD)],
            )
            .await;
        let code = current_code(&key, app.clock.now()).unwrap();
        let response = browser
            .post_form("/app/sign-in/code", &[("code", &code)])
            .await;
        assert_eq!(location(&response), "/app");
        app.clock.advance(std::time::Duration::from_secs(30));
        browser
    };
    configure(&admin_browser, &provider, true, false).await;

    // A member's password is refused, with the way to sign in instead.
    for email in [&member.email, &plain_admin.email] {
        let browser = app.browser();
        let response = browser
            .post_form("/app/sign-in", &[("email", email), ("password", PASSWORD)])
            .await;
        assert_eq!(response.status(), 401);
        let html = response.text().await.unwrap();
        assert!(
            html.contains("Your practice signs in with Test Workspace"),
            "{html}"
        );
        assert!(html.contains("Sign in with Test Workspace"));
        assert!(browser.cookie("portico_session").is_none());
    }
    // Single sign-on still works for them.
    let browser = app.browser();
    provider.next(&member.email);
    assert_eq!(
        location(&sso_sign_in(&app, &browser, &member.email).await),
        "/app"
    );

    // An invitation cannot set a password; the invited person signs in
    // with the provider straight away.
    let response = crate::harness::invite_priya(&admin_browser).await;
    assert_eq!(location(&response), "/app/team?done=team-invited");
    let link = app
        .latest_link("priya@harbour.example", "/app/welcome/")
        .await;
    let priya = app.browser();
    let response = priya
        .post_form(
            &link,
            &[
                ("password", "priya's long password"),
                ("confirm", "priya's long password"),
            ],
        )
        .await;
    assert_eq!(response.status(), 401);
    assert!(
        response
            .text()
            .await
            .unwrap()
            .contains("Your practice signs in with Test Workspace")
    );
    assert!(priya.cookie("portico_session").is_none());
    provider.next("priya@harbour.example");
    assert_eq!(
        location(&sso_sign_in(&app, &priya, "priya@harbour.example").await),
        "/app"
    );

    // Break-glass: an admin with two-factor sign-in, password and code.
    let browser = app.browser();
    let response = browser
        .post_form(
            "/app/sign-in",
            &[("email", &admin.email), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(location(&response), "/app/sign-in/code");
    let code = current_code(&key, app.clock.now()).unwrap();
    let response = browser
        .post_form("/app/sign-in/code", &[("code", &code)])
        .await;
    assert_eq!(location(&response), "/app");
    assert_eq!(browser.page("/app").await.0, 200);
    let details = audit_details(&app, practice.id).await;
    assert!(
        details.iter().any(|d| d
            == "break-glass sign-in: password accepted while single sign-on is required; second factor next"),
        "{details:?}"
    );
    assert!(
        details
            .iter()
            .any(|d| d == "sign-in failed: password refused: the practice requires single sign-on"),
        "{details:?}"
    );
}

#[tokio::test]
async fn x13_the_provider_counts_as_two_factor_only_when_the_practice_says_so() {
    let app = TestApp::spawn().await;
    let provider = Provider::start().await;
    let (practice, admin) = app.with_practice("Harbour").await;
    let member = app
        .with_staff(practice.id, "mia@harbour.example", Role::Member)
        .await;
    let key = enrol_two_factor(&app, &member).await;
    let admin_browser = app.staff_browser(&admin.email).await;
    configure(&admin_browser, &provider, false, false).await;

    // Not ticked: Portico's own code follows the provider.
    let browser = app.browser();
    provider.next(&member.email);
    let response = sso_sign_in(&app, &browser, &member.email).await;
    assert_eq!(location(&response), "/app/sign-in/code");
    assert_eq!(location(&browser.get("/app").await), "/app/sign-in/code");
    let code = current_code(&key, app.clock.now()).unwrap();
    let response = browser
        .post_form("/app/sign-in/code", &[("code", &code)])
        .await;
    assert_eq!(location(&response), "/app");
    assert_eq!(browser.page("/app").await.0, 200);

    // A practice requiring two-factor sign-in, whose member has none yet:
    // enrolment follows the provider.
    let response = admin_browser
        .post_form("/app/settings/security", &[("require_totp", "on")])
        .await;
    assert_eq!(response.status(), 303);
    let newcomer = app
        .with_staff(practice.id, "ned@harbour.example", Role::Member)
        .await;
    let browser = app.browser();
    provider.next(&newcomer.email);
    let response = sso_sign_in(&app, &browser, &newcomer.email).await;
    assert_eq!(location(&response), "/app/two-factor");

    // Ticked: the provider's sign-in is enough.
    configure(&admin_browser, &provider, false, true).await;
    for staff in [&member, &newcomer] {
        let browser = app.browser();
        provider.next(&staff.email);
        let response = sso_sign_in(&app, &browser, &staff.email).await;
        assert_eq!(location(&response), "/app");
        assert_eq!(browser.page("/app").await.0, 200);
    }
    let details = audit_details(&app, practice.id).await;
    assert!(
        details.iter().any(|d| d
            == "signed in: with single sign-on (Test Workspace), which counts as the second factor"),
        "{details:?}"
    );
}

#[tokio::test]
async fn x13_members_cannot_see_or_change_the_settings() {
    let app = TestApp::spawn().await;
    let provider = Provider::start().await;
    let (practice, admin) = app.with_practice("Harbour").await;
    let member = app
        .with_staff(practice.id, "mia@harbour.example", Role::Member)
        .await;
    let browser = app.staff_browser(&member.email).await;
    assert_eq!(browser.page("/app/settings/sso").await.0, 403);
    let response = browser
        .post_form(
            "/app/settings/sso",
            &[
                ("issuer_url", provider.issuer()),
                ("client_id", CLIENT_ID),
                ("client_secret", CLIENT_SECRET),
                ("display_name", "Member's own"),
            ],
        )
        .await;
    assert_eq!(response.status(), 403);
    let response = browser.post_form("/app/settings/sso/remove", &[]).await;
    assert_eq!(response.status(), 403);
    assert!(
        app.store()
            .sso_settings(practice.id)
            .await
            .unwrap()
            .is_none()
    );
    let (_, html) = browser.follow("/app").await;
    assert!(!html.contains("/app/settings/sso"), "no link for members");

    // Admins see the link; a provider that cannot be read is refused with
    // the reason, the form kept.
    let admin_browser = app.staff_browser(&admin.email).await;
    let (_, html) = admin_browser.page("/app/settings").await;
    assert!(html.contains("/app/settings/sso"));
    let response = admin_browser
        .post_form(
            "/app/settings/sso",
            &[
                ("issuer_url", "http://127.0.0.1:9/nothing-here"),
                ("client_id", CLIENT_ID),
                ("client_secret", CLIENT_SECRET),
                ("display_name", "Test Workspace"),
            ],
        )
        .await;
    assert_eq!(response.status(), 422);
    let html = response.text().await.unwrap();
    assert!(html.contains("could not read the provider"), "{html}");
    assert!(html.contains("value=\"Test Workspace\""), "form kept");
    let response = admin_browser
        .post_form(
            "/app/settings/sso",
            &[
                ("issuer_url", "http://idp.example.com"),
                ("client_id", ""),
                ("client_secret", CLIENT_SECRET),
                ("display_name", "Test Workspace"),
            ],
        )
        .await;
    assert_eq!(response.status(), 422);
    let html = response.text().await.unwrap();
    assert!(html.contains("must start with https://"), "{html}");
    assert!(html.contains("Enter the client id"), "{html}");
    assert!(
        app.store()
            .sso_settings(practice.id)
            .await
            .unwrap()
            .is_none()
    );

    // Turning it off.
    configure(&admin_browser, &provider, true, false).await;
    let response = admin_browser
        .post_form("/app/settings/sso/remove", &[])
        .await;
    assert_eq!(response.status(), 303);
    assert!(
        app.store()
            .sso_settings(practice.id)
            .await
            .unwrap()
            .is_none()
    );
    // Passwords work again.
    app.staff_browser(&member.email).await;
}

#[tokio::test]
async fn x13_rotating_the_key_reseals_the_client_secret() {
    use portico::keys::{KEY_FILE, Keyring, SecretKey};
    let app = TestApp::spawn().await;
    let provider = Provider::start().await;
    let (practice, admin) = app.with_practice("Harbour").await;
    configure(
        &app.staff_browser(&admin.email).await,
        &provider,
        false,
        false,
    )
    .await;

    let old = SecretKey::read_file(&app.data_dir.join(KEY_FILE))
        .unwrap()
        .unwrap();
    let new = SecretKey::generate();
    assert_eq!(app.app.rotate_secret_key(&old, &new).await.unwrap(), 1);
    let stored = app
        .store()
        .sso_settings(practice.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        Keyring::key_id_of(&stored.client_secret_sealed),
        Some(new.id().as_str())
    );

    // A server with the new key signs in with the provider.
    let mut config = app.config().clone();
    config.secret_key = Some(new.to_base64());
    let server = portico::server::Server::build_with_clock(config, app.clock.clone())
        .await
        .unwrap()
        .without_background_delivery();
    let addr = server.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(server.run_until_stopped(async move {
        let _ = stopped.await;
    }));
    let browser = Browser::new(&format!("http://{addr}"));
    provider.next(&admin.email);
    let response = sso_sign_in(&app, &browser, &admin.email).await;
    assert_eq!(location(&response), "/app");
    let _ = stop.send(());
}
