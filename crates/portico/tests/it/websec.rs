//! Web hardening: downloads keep their own policy, signed-in answers are
//! never cached, anti-forgery tokens belong to a session, `/metrics` is
//! closed to the public, and two-factor secrets are sealed at rest.

use crate::harness::{Browser, Chat, Chatting, PASSWORD, Page, TestApp, TestDb, location};
use portico::app::two_factor::current_code;
use portico::config::{Config, ConfigArgs};
use portico::domain::{Clock, Millis};
use portico::keys::{KEY_FILE, Keyring, SecretKey};
use portico::server::Server;
use secrecy::ExposeSecret;

/// A staff member and a contact in a chat about a client, with one PDF
/// sent by the contact: (staff, contact, staff chat path, portal chat path,
/// the file's path).
async fn chat_with_a_file(app: &TestApp) -> (Browser, Browser, String, String, String) {
    let Chatting {
        world,
        hannah_browser: contact,
        chat: Chat {
            staff_path,
            portal_path,
            ..
        },
        ..
    } = Chatting::new(app).await;
    let staff = world.staff;
    let form = reqwest::multipart::Form::new()
        .text("body", "My statement")
        .text("key", "file-1")
        .part(
            "files",
            reqwest::multipart::Part::bytes(b"%PDF-1.7\n1 0 obj\n<<>>\nendobj\n".to_vec())
                .file_name("statement.pdf"),
        );
    let response = contact
        .post_multipart(&format!("{portal_path}/files"), form)
        .await;
    assert_eq!(location(&response), portal_path);
    let (_, html) = staff.page(&staff_path).await;
    let file = Page::parse(&html)
        .attr("a[href^='/files/']", "href")
        .expect("a file link");
    (staff, contact, staff_path, portal_path, file)
}

#[tokio::test]
async fn downloads_keep_their_own_sandbox_policy() {
    let app = TestApp::spawn().await;
    let (staff, contact, _, _, file) = chat_with_a_file(&app).await;
    for browser in [&staff, &contact] {
        let download = browser.get(&file).await;
        assert_eq!(download.status(), 200);
        assert_eq!(
            download.headers()["content-security-policy"],
            "default-src 'none'; sandbox"
        );
        assert_eq!(download.headers()["x-content-type-options"], "nosniff");
    }
    // Pages keep the page policy.
    let page = staff.get("/app").await;
    let csp = page.headers()["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("script-src 'self'"), "{csp}");
}

#[tokio::test]
async fn signed_in_pages_fragments_exports_and_files_are_never_stored() {
    let app = TestApp::spawn().await;
    let (staff, contact, staff_path, portal_path, file) = chat_with_a_file(&app).await;
    let staff_paths = [
        "/app".to_owned(),
        "/app/clients".to_owned(),
        "/app/messages".to_owned(),
        "/app/messages/dock".to_owned(),
        "/app/questions".to_owned(),
        "/app/account".to_owned(),
        "/app/settings".to_owned(),
        staff_path.clone(),
        format!("{staff_path}/after/0"),
        format!("{staff_path}/export/csv"),
        file.clone(),
    ];
    let portal_paths = [
        "/portal".to_owned(),
        "/portal/messages".to_owned(),
        "/portal/account".to_owned(),
        portal_path.clone(),
        format!("{portal_path}/after/0"),
        file.clone(),
    ];
    for (browser, paths) in [(&staff, &staff_paths[..]), (&contact, &portal_paths[..])] {
        for path in paths {
            let response = browser.get(path).await;
            // (The portal's home sends a contact of one client to its page.)
            assert!(matches!(response.status().as_u16(), 200 | 303), "{path}");
            let cache = response
                .headers()
                .get("cache-control")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            assert!(cache.contains("no-store"), "{path}: {cache:?}");
        }
    }
    // After signing out, the same address shows nothing of the chat.
    staff.post_form("/sign-out", &[]).await;
    let response = staff.get(&staff_path).await;
    assert_eq!(location(&response), "/app/sign-in");
    assert!(
        response.headers()["cache-control"]
            .to_str()
            .unwrap()
            .contains("no-store")
    );
}

/// A form post with exactly these cookies, Origin and token.
async fn raw_post(
    app: &TestApp,
    path: &str,
    cookies: &str,
    origin: &str,
    fields: &[(&str, &str)],
) -> reqwest::Response {
    app.http
        .post(app.url(path))
        .header("cookie", cookies)
        .header("origin", origin)
        .form(fields)
        .send()
        .await
        .unwrap()
}

/// The `name=value` of a Set-Cookie header naming `name`, and the whole
/// header.
fn set_cookie(response: &reqwest::Response, name: &str) -> Option<(String, String)> {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("{name}=")))
        .map(|v| {
            let value = v
                .split(';')
                .next()
                .unwrap_or("")
                .trim_start_matches(&format!("{name}="))
                .to_owned();
            (value, v.to_owned())
        })
}

#[tokio::test]
async fn anti_forgery_tokens_belong_to_the_session_and_change_at_sign_in() {
    let app = TestApp::spawn().await;
    let (_, admin) = app.with_practice("Harbour").await;
    let browser = app.browser();
    let anonymous = browser.csrf().await;
    let response = browser
        .post_form(
            "/app/sign-in",
            &[("email", &admin.email), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(response.status(), 303, "an anonymous form works");
    let signed_in = browser.cookie("portico_csrf").unwrap();
    assert_ne!(signed_in, anonymous, "the token changes at sign-in");
    let session = browser.cookie("portico_session").unwrap();

    // The token from before signing in is worth nothing now…
    let cookies = format!("portico_session={session}; portico_csrf={anonymous}");
    let stale = raw_post(
        &app,
        "/app/settings/time-zone",
        &cookies,
        &app.base_url,
        &[("time_zone", "Europe/Paris"), ("csrf", &anonymous)],
    )
    .await;
    assert_eq!(stale.status(), 403);
    // …and neither is a token of the attacker's choosing planted in the
    // cookie (double submit alone would take it).
    let planted = "a".repeat(43);
    let cookies = format!("portico_session={session}; portico_csrf={planted}");
    let forged = raw_post(
        &app,
        "/app/settings/time-zone",
        &cookies,
        &app.base_url,
        &[("time_zone", "Europe/Paris"), ("csrf", &planted)],
    )
    .await;
    assert_eq!(forged.status(), 403);
    // Another session of the same person has a token of its own.
    let other = app.staff_browser(&admin.email).await;
    let other_token = other.csrf().await;
    assert_ne!(other_token, signed_in);
    let cookies = format!(
        "portico_session={}; portico_csrf={signed_in}",
        other.cookie("portico_session").unwrap()
    );
    let crossed = raw_post(
        &app,
        "/app/settings/time-zone",
        &cookies,
        &app.base_url,
        &[("time_zone", "Europe/Paris"), ("csrf", &signed_in)],
    )
    .await;
    assert_eq!(crossed.status(), 403);
    // The session's own token works, from the page's own form.
    let (_, html) = browser.page("/app/settings").await;
    assert!(html.contains(&format!("value=\"{signed_in}\"")));
    let ok = browser
        .post_form("/app/settings/time-zone", &[("time_zone", "Europe/Paris")])
        .await;
    assert_eq!(ok.status(), 303);

    // Signing out ends the session's token; the next is random again.
    browser.post_form("/sign-out", &[]).await;
    let after = browser.cookie("portico_csrf").unwrap();
    assert_ne!(after, signed_in);
    let response = browser
        .post_form(
            "/app/sign-in",
            &[("email", &admin.email), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(response.status(), 303);
    assert_ne!(browser.cookie("portico_csrf").unwrap(), signed_in);
}

#[tokio::test]
async fn the_whole_origin_is_compared_scheme_included() {
    let app = TestApp::spawn().await;
    let (_, admin) = app.with_practice("Harbour").await;
    let browser = app.browser();
    let csrf = browser.csrf().await;
    let cookies = format!("portico_csrf={csrf}");
    let fields = [
        ("email", admin.email.as_str()),
        ("password", PASSWORD),
        ("csrf", csrf.as_str()),
    ];
    let https = app.base_url.replace("http://", "https://");
    let other_port = format!("{}1", app.base_url);
    for origin in [https.as_str(), other_port.as_str(), "http://evil.example"] {
        let response = raw_post(&app, "/app/sign-in", &cookies, origin, &fields).await;
        assert_eq!(response.status(), 403, "{origin}");
    }
    let response = raw_post(&app, "/app/sign-in", &cookies, &app.base_url, &fields).await;
    assert_eq!(response.status(), 303);
}

#[tokio::test]
async fn https_addresses_use_host_only_cookie_names_and_their_own_origin() {
    let public = "https://portal.example.test";
    let app = TestApp::spawn_with(ConfigArgs {
        public_url: Some(public.into()),
        ..Default::default()
    })
    .await;
    let (_, admin) = app.with_practice("Harbour").await;
    let page = app.get("/app/sign-in").await;
    let (csrf, header) = set_cookie(&page, "__Host-portico_csrf").expect("a __Host- csrf cookie");
    assert!(set_cookie(&page, "portico_csrf").is_none());
    for attribute in ["Secure", "Path=/", "HttpOnly"] {
        assert!(header.contains(attribute), "{header}");
    }
    assert!(!header.contains("Domain"), "{header}");
    let cookies = format!("__Host-portico_csrf={csrf}");
    let fields = [
        ("email", admin.email.as_str()),
        ("password", PASSWORD),
        ("csrf", csrf.as_str()),
    ];
    // The Host the request names does not make another origin this site's.
    let spoofed = app
        .http
        .post(app.url("/app/sign-in"))
        .header("cookie", &cookies)
        .header("origin", "http://evil.example")
        .header("host", "evil.example")
        .form(&fields)
        .send()
        .await
        .unwrap();
    assert_eq!(spoofed.status(), 403);
    let plain = raw_post(
        &app,
        "/app/sign-in",
        &cookies,
        "http://portal.example.test",
        &fields,
    )
    .await;
    assert_eq!(plain.status(), 403);
    let signed_in = raw_post(&app, "/app/sign-in", &cookies, public, &fields).await;
    assert_eq!(signed_in.status(), 303);
    let (session, header) =
        set_cookie(&signed_in, "__Host-portico_session").expect("a __Host- session cookie");
    assert!(
        header.contains("Secure") && header.contains("Path=/"),
        "{header}"
    );
    assert!(set_cookie(&signed_in, "portico_session").is_none());
    let (rotated, _) = set_cookie(&signed_in, "__Host-portico_csrf").expect("a new token");
    assert_ne!(rotated, csrf);

    let get = |cookie: String| {
        app.http
            .get(app.url("/app"))
            .header("cookie", cookie)
            .send()
    };
    let home = get(format!("__Host-portico_session={session}"))
        .await
        .unwrap();
    assert_eq!(home.status(), 200);
    // The unprefixed name (which a sibling domain could plant) is not read.
    let unprefixed = get(format!("portico_session={session}")).await.unwrap();
    assert_eq!(location(&unprefixed), "/app/sign-in");
    // Signing out removes the __Host- cookie.
    let cookies = format!("__Host-portico_session={session}; __Host-portico_csrf={rotated}");
    let out = raw_post(&app, "/sign-out", &cookies, public, &[("csrf", &rotated)]).await;
    assert_eq!(out.status(), 303);
    let (value, header) = set_cookie(&out, "__Host-portico_session").expect("removal");
    assert!(value.is_empty() && header.contains("Max-Age=0"), "{header}");
}

#[tokio::test]
async fn metrics_are_not_on_the_public_address_by_default() {
    let app = TestApp::spawn().await;
    assert_eq!(app.get("/healthz").await.status(), 200);
    let metrics = app.get("/metrics").await;
    assert_eq!(metrics.status(), 404);
    assert!(!metrics.text().await.unwrap().contains("portico_http"));
}

#[tokio::test]
async fn metrics_on_the_public_address_need_the_configured_token() {
    let token = "0123456789abcdef0123456789abcdef";
    let app = TestApp::spawn_with(ConfigArgs {
        metrics_token: Some(token.into()),
        ..Default::default()
    })
    .await;
    let get = |authorization: Option<String>| {
        let mut request = app.http.get(app.url("/metrics"));
        if let Some(value) = authorization {
            request = request.header("authorization", value);
        }
        request.send()
    };
    let none = get(None).await.unwrap();
    assert_eq!(none.status(), 401);
    assert!(none.headers().contains_key("www-authenticate"));
    for wrong in [
        "Bearer nope".to_owned(),
        format!("Bearer {token}x"),
        format!("Basic {token}"),
        token.to_owned(),
    ] {
        assert_eq!(
            get(Some(wrong.clone())).await.unwrap().status(),
            401,
            "{wrong}"
        );
    }
    let ok = get(Some(format!("Bearer {token}"))).await.unwrap();
    assert_eq!(ok.status(), 200);
    assert!(
        ok.text()
            .await
            .unwrap()
            .contains("portico_http_requests_total")
    );
}

#[tokio::test]
async fn metrics_can_be_served_on_a_separate_address_only() {
    let db = TestDb::from_env().await;
    let config = Config::load(&ConfigArgs {
        data_dir: Some(db.dir.path().join("data")),
        database_url: Some(db.url.clone()),
        listen: Some("127.0.0.1:0".into()),
        metrics_listen: Some("127.0.0.1:0".into()),
        ..Default::default()
    })
    .unwrap();
    let server = Server::build(config).await.unwrap();
    let public = format!("http://{}", server.local_addr().unwrap());
    let private = format!(
        "http://{}",
        server.metrics_addr().expect("a metrics address")
    );
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(server.run_until_stopped(async move {
        let _ = stopped.await;
    }));
    let http = reqwest::Client::new();
    assert_eq!(
        http.get(format!("{public}/healthz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let metrics = http.get(format!("{private}/metrics")).send().await.unwrap();
    assert_eq!(metrics.status(), 200);
    let text = metrics.text().await.unwrap();
    assert!(
        text.contains(
            r#"portico_http_requests_total{method="GET",route="/healthz",status="200"} 1"#
        ),
        "{text}"
    );
    // Only /metrics is there; the public address does not serve it.
    assert_eq!(
        http.get(format!("{private}/app"))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
    assert_eq!(
        http.get(format!("{public}/metrics"))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
    let _ = stop.send(());
    running.await.unwrap().unwrap();
}

/// The key file of a server's data folder.
fn data_key(app: &TestApp) -> SecretKey {
    SecretKey::read_file(&app.data_dir.join(KEY_FILE))
        .unwrap()
        .expect("a generated key")
}

/// Enrols a staff member's authenticator through the pages; returns the
/// secret the page showed.
async fn enrol(app: &TestApp, browser: &Browser) -> String {
    let (_, html) = browser.page("/app/two-factor").await;
    let marker = "Type this key instead: <code>";
    let start = html.find(marker).expect("the key on the page") + marker.len();
    let secret = html[start..].split('<').next().unwrap_or("").to_owned();
    let code = current_code(&secret, app.clock.now()).unwrap();
    let response = browser
        .post_form("/app/two-factor", &[("code", &code)])
        .await;
    assert_eq!(response.status(), 200);
    secret
}

/// Signs in with a password and a code of `secret`.
async fn sign_in_with_code(app: &TestApp, email: &str, secret: &str) -> u16 {
    let browser = app.browser();
    let response = browser
        .post_form("/app/sign-in", &[("email", email), ("password", PASSWORD)])
        .await;
    assert_eq!(location(&response), "/app/sign-in/code");
    let code = current_code(secret, app.clock.now()).unwrap();
    let response = browser
        .post_form("/app/sign-in/code", &[("code", &code)])
        .await;
    if response.status() == 303 {
        assert_eq!(location(&response), "/app");
    }
    response.status().as_u16()
}

#[tokio::test]
async fn two_factor_secrets_are_sealed_at_rest_under_the_data_folders_key() {
    let app = TestApp::spawn().await;
    let (_, admin) = app.with_practice("Harbour").await;
    let browser = app.staff_browser(&admin.email).await;
    let secret = enrol(&app, &browser).await;
    let stored = app.store().stored_secrets().await.unwrap();
    assert_eq!(stored.len(), 1);
    assert!(Keyring::is_sealed(&stored[0].value), "{}", stored[0].value);
    assert!(!stored[0].value.contains(&secret));
    let key = data_key(&app);
    assert_eq!(
        Keyring::key_id_of(&stored[0].value),
        Some(key.id().as_str())
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(app.data_dir.join(KEY_FILE))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    // A later code (the enrolment used the current one) signs in.
    app.clock.advance(std::time::Duration::from_secs(60));
    assert_eq!(sign_in_with_code(&app, &admin.email, &secret).await, 303);
}

#[tokio::test]
async fn secrets_stored_in_clear_are_sealed_on_start() {
    let app = TestApp::spawn().await;
    let (practice, admin) = app.with_practice("Harbour").await;
    // As an older Portico stored it.
    let secret = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP";
    app.store()
        .set_totp_pending(practice.id, admin.id, secret)
        .await
        .unwrap();
    app.store()
        .enable_totp(
            practice.id,
            admin.id,
            0,
            &[],
            &crate::harness::test_entry(practice.id),
        )
        .await
        .unwrap();
    assert_eq!(app.store().stored_secrets().await.unwrap()[0].value, secret);
    // Starting (another instance, on the same key) seals it.
    let _second = app.another_instance().await;
    let stored = app.store().stored_secrets().await.unwrap();
    assert!(Keyring::is_sealed(&stored[0].value));
    assert!(!stored[0].value.contains(secret));
    assert_eq!(sign_in_with_code(&app, &admin.email, secret).await, 303);
}

#[tokio::test]
async fn an_instance_with_another_key_refuses_to_start_and_a_shared_key_works() {
    let app = TestApp::spawn().await;
    let (_, admin) = app.with_practice("Harbour").await;
    let browser = app.staff_browser(&admin.email).await;
    let secret = enrol(&app, &browser).await;
    let key = data_key(&app);
    let elsewhere = tempfile::tempdir().unwrap();
    let config = |data: &std::path::Path, secret_key: Option<String>| {
        Config::load(&ConfigArgs {
            data_dir: Some(data.to_path_buf()),
            database_url: Some(app.config().database_url.expose_secret().to_owned()),
            listen: Some("127.0.0.1:0".into()),
            secret_key,
            ..Default::default()
        })
        .unwrap()
    };
    // Its own data folder, so its own generated key: refused, by name.
    let refused = Server::build_with_clock(
        config(&elsewhere.path().join("a"), None),
        Clock::manual(Millis::now()),
    )
    .await
    .err()
    .expect("another key is refused");
    assert!(format!("{refused:#}").contains("secret_key"), "{refused:#}");
    // The same key, configured: starts and reads the secrets.
    let shared = Server::build_with_clock(
        config(
            &elsewhere.path().join("b"),
            Some(key.to_base64().expose_secret().to_owned()),
        ),
        app.clock.clone(),
    )
    .await
    .unwrap();
    assert!(shared.app().prepare_secrets().await.is_ok());
    app.clock.advance(std::time::Duration::from_secs(60));
    assert_eq!(sign_in_with_code(&app, &admin.email, &secret).await, 303);
}

#[tokio::test]
async fn rotating_the_key_reseals_every_secret() {
    let app = TestApp::spawn().await;
    let (practice, admin) = app.with_practice("Harbour").await;
    let browser = app.staff_browser(&admin.email).await;
    let secret = enrol(&app, &browser).await;
    // A second member half-way through enrolment has a pending secret.
    let member = app
        .with_staff(
            practice.id,
            "sam@harbour.example",
            portico::domain::Role::Member,
        )
        .await;
    let member_browser = app.staff_browser(&member.email).await;
    member_browser.page("/app/two-factor").await;
    assert_eq!(app.store().stored_secrets().await.unwrap().len(), 2);

    let old = data_key(&app);
    let new = SecretKey::generate();
    let resealed = app.app.rotate_secret_key(&old, &new).await.unwrap();
    assert_eq!(resealed, 2);
    for stored in app.store().stored_secrets().await.unwrap() {
        assert_eq!(Keyring::key_id_of(&stored.value), Some(new.id().as_str()));
    }
    // Run again (as after an interruption), it is still right.
    assert_eq!(app.app.rotate_secret_key(&old, &new).await.unwrap(), 2);
    // A key that is neither is refused, and changes nothing.
    let stranger = SecretKey::generate();
    assert!(
        app.app
            .rotate_secret_key(&stranger, &SecretKey::generate())
            .await
            .is_err()
    );
    // The old key no longer starts a server; the new one does, and its
    // codes sign in.
    let config = |secret_key: &SecretKey| {
        let mut config = app.config().clone();
        config.secret_key = Some(secret_key.to_base64());
        config
    };
    assert!(
        Server::build_with_clock(config(&old), app.clock.clone())
            .await
            .is_err()
    );
    let server = Server::build_with_clock(config(&new), app.clock.clone())
        .await
        .unwrap()
        .without_background_delivery();
    let addr = server.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(server.run_until_stopped(async move {
        let _ = stopped.await;
    }));
    let rotated = Browser::new(&format!("http://{addr}"));
    let response = rotated
        .post_form(
            "/app/sign-in",
            &[("email", &admin.email), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(location(&response), "/app/sign-in/code");
    app.clock.advance(std::time::Duration::from_secs(60));
    let code = current_code(&secret, app.clock.now()).unwrap();
    let response = rotated
        .post_form("/app/sign-in/code", &[("code", &code)])
        .await;
    assert_eq!(location(&response), "/app");
    let _ = stop.send(());
}

#[test]
fn the_rotate_key_command_replaces_the_data_folders_key() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let run = |args: &[&str]| {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_portico"));
        for (key, _) in std::env::vars() {
            if key.starts_with("PORTICO_") {
                cmd.env_remove(key);
            }
        }
        cmd.env("PORTICO_LOG", "warn")
            .arg("--data-dir")
            .arg(&data)
            .args(args)
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap()
    };
    let listed = run(&["admin", "list-practices"]);
    assert!(listed.status.success());
    let old = SecretKey::read_file(&data.join(KEY_FILE)).unwrap().unwrap();
    let new_file = dir.path().join("new.key");
    let new_path = new_file.to_str().unwrap();
    let rotated = run(&["admin", "rotate-key", "--new-key-file", new_path]);
    let stdout = String::from_utf8_lossy(&rotated.stdout);
    assert!(rotated.status.success(), "{stdout}");
    assert!(stdout.contains("Generated a new key"), "{stdout}");
    let new = SecretKey::read_file(&new_file).unwrap().unwrap();
    assert_ne!(new.id(), old.id());
    assert!(stdout.contains(&new.id()), "{stdout}");
    // The data folder's key is the new one, still private; the server
    // starts with it.
    let now = SecretKey::read_file(&data.join(KEY_FILE)).unwrap().unwrap();
    assert_eq!(now.id(), new.id());
    #[cfg(unix)]
    for path in [data.join(KEY_FILE), new_file.clone()] {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "{}", path.display());
    }
    assert!(run(&["admin", "list-practices"]).status.success());
    // Rotating to the key in use is refused with a sentence.
    let again = run(&["admin", "rotate-key", "--new-key-file", new_path]);
    assert!(!again.status.success());
    let stderr = String::from_utf8_lossy(&again.stderr);
    assert!(
        stderr.contains("the new key is the current key"),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
}
