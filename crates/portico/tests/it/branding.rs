//! X15: a practice's own name, logo and colour on its pages and e-mails;
//! the front page, favicon and web app manifest.

use crate::harness::{Browser, TestApp, active, location};
use portico::domain::Role;

/// The smallest PNG: one transparent pixel.
const PNG: &[u8] = &[
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52,
    0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1f, 0x15, 0xc4,
    0x89, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9c, 0x63, 0x00, 0x01, 0x00, 0x00,
    0x05, 0x00, 0x01, 0x0d, 0x0a, 0x2d, 0xb4, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4e, 0x44, 0xae,
    0x42, 0x60, 0x82,
];

async fn upload_logo(browser: &Browser, name: &str, bytes: Vec<u8>) -> reqwest::Response {
    let form = reqwest::multipart::Form::new().part(
        "logo",
        reqwest::multipart::Part::bytes(bytes).file_name(name.to_owned()),
    );
    browser
        .post_multipart("/app/settings/branding/logo", form)
        .await
}

#[tokio::test]
async fn an_admin_brands_the_practice_and_members_cannot() {
    let app = TestApp::spawn().await;
    let (practice, admin) = app.with_practice("Harbour").await;
    let member = app
        .with_staff(practice.id, "mia@harbour.example", Role::Member)
        .await;
    let staff = app.staff_browser(&admin.email).await;
    let (status, html) = staff.page("/app/settings/branding").await;
    assert_eq!(status, 200);
    assert!(html.contains("<h1>Branding</h1>"));
    // The staff header carries the practice's name.
    assert!(html.contains("<span>Harbour</span>"), "{html}");

    // Refusals: an SVG (it can carry script), what is not an image, too big.
    let svg = br#"<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>"#;
    let refused = upload_logo(&staff, "logo.svg", svg.to_vec()).await;
    assert_eq!(refused.status(), 422);
    assert!(
        refused
            .text()
            .await
            .unwrap()
            .contains("SVG logos are not accepted")
    );
    let refused = upload_logo(&staff, "logo.png", b"%PDF-1.7 not a picture".to_vec()).await;
    assert_eq!(refused.status(), 422);
    assert!(
        refused
            .text()
            .await
            .unwrap()
            .contains("must be a PNG, JPEG or WebP")
    );
    let mut big = PNG.to_vec();
    big.resize(600 * 1024, 0);
    let refused = upload_logo(&staff, "big.png", big).await;
    assert_eq!(refused.status(), 422);
    assert!(refused.text().await.unwrap().contains("at most 512 KB"));
    assert!(app.store().logo(practice.id).await.unwrap().is_none());

    // A PNG is kept, shown in the header, served as an image.
    let saved = upload_logo(&staff, "logo.png", PNG.to_vec()).await;
    assert_eq!(location(&saved), "/app/settings/branding?done=logo");
    let (_, html) = staff.page("/app/clients").await;
    let logo_path = format!("/brand/{}/logo?v=1", practice.id);
    assert!(
        html.contains(&format!("<img class=\"brand-logo\" src=\"{logo_path}\"")),
        "{html}"
    );
    let logo = app.browser().get(&logo_path).await;
    assert_eq!(logo.status(), 200);
    assert_eq!(logo.headers()["content-type"], "image/png");
    assert_eq!(logo.bytes().await.unwrap().as_ref(), PNG);

    // The colour: only #rrggbb, dark enough; nothing else reaches CSS.
    for bad in ["red", "#12345", "#123456;} body { display:none", "#ffff00"] {
        let refused = staff
            .post_form("/app/settings/branding/colour", &[("accent_colour", bad)])
            .await;
        assert_eq!(refused.status(), 422, "{bad}");
    }
    let saved = staff
        .post_form(
            "/app/settings/branding/colour",
            &[("accent_colour", "#7A1F5C")],
        )
        .await;
    assert_eq!(location(&saved), "/app/settings/branding?done=colour");
    let (_, html) = staff.page("/app").await;
    let style_path = format!("/brand/{}/style.css?v=2", practice.id);
    assert!(
        html.contains(&format!("<link rel=\"stylesheet\" href=\"{style_path}\">")),
        "{html}"
    );
    let css = app.browser().get(&style_path).await;
    assert_eq!(css.headers()["content-type"], "text/css; charset=utf-8");
    assert!(css.text().await.unwrap().contains("--accent: #7a1f5c;"));

    // Members: neither the page nor any change.
    let mia = app.staff_browser(&member.email).await;
    assert_eq!(mia.page("/app/settings/branding").await.0, 403);
    let refused = mia
        .post_form(
            "/app/settings/branding/colour",
            &[("accent_colour", "#000000")],
        )
        .await;
    assert_eq!(refused.status(), 403);
    assert_eq!(
        upload_logo(&mia, "logo.png", PNG.to_vec()).await.status(),
        403
    );
    assert_eq!(
        mia.post_form("/app/settings/branding/logo/remove", &[])
            .await
            .status(),
        403
    );
    let kept = app.store().get_practice(practice.id).await.unwrap();
    assert_eq!(kept.accent_colour.as_deref(), Some("#7a1f5c"));
    assert!(kept.has_logo);

    // The admin removes the logo; the header shows the name alone.
    let removed = staff
        .post_form("/app/settings/branding/logo/remove", &[])
        .await;
    assert_eq!(
        location(&removed),
        "/app/settings/branding?done=logo-removed"
    );
    assert_eq!(app.browser().get(&logo_path).await.status(), 404);
}

#[tokio::test]
async fn the_portal_and_e_mails_carry_the_practices_brand_and_name() {
    let app = TestApp::spawn().await;
    let (practice, admin) = app.with_practice("Harbour & Vale").await;
    app.app
        .set_accent_colour(&admin, "#7a1f5c", &crate::harness::origin())
        .await
        .unwrap();
    app.app
        .set_logo(&admin, PNG, &crate::harness::origin())
        .await
        .unwrap();
    let bakery = app.with_client(practice.id, "Northwind Bakery").await;
    let hannah = active(&app, practice.id, "hannah@northwind.example", &[&bakery]).await;

    let browser = app.browser();
    browser
        .post_form("/portal/sign-in/link", &[("email", &hannah.email)])
        .await;
    let mail = app.store().outbox_for(&hannah.email).await.unwrap();
    let html = mail[0].body_html.as_deref().unwrap();
    assert!(html.contains("background:#7a1f5c;"), "{html}");
    assert!(
        html.contains(&format!(
            "<img src=\"{}/brand/{}/logo?v=2\"",
            app.base_url, practice.id
        )),
        "{html}"
    );
    // Delivered, it comes from the practice's name at mail_from's address.
    app.deliver_mail().await;
    let eml = app.mail_files().pop().unwrap();
    let from = eml
        .lines()
        .find(|l| l.starts_with("From: "))
        .unwrap()
        .to_owned();
    // The default `mail_from` is "Portico <portico@localhost>"; a name
    // with "&" travels as an encoded word.
    use base64::Engine;
    let encoded = base64::engine::general_purpose::STANDARD.encode("Harbour & Vale");
    assert_eq!(
        from,
        format!("From: =?utf-8?b?{encoded}?= <portico@localhost>")
    );

    let link = app.latest_link(&hannah.email, "/portal/link/").await;
    browser.post_form(&link, &[]).await;
    let (_, html) = browser.follow("/portal").await;
    assert!(html.contains("<span>Harbour &#38; Vale</span>"), "{html}");
    assert!(html.contains(&format!("/brand/{}/style.css?v=2", practice.id)));
    assert!(html.contains("class=\"brand-logo\""));

    // The pages opened from an e-mail's link, before anyone is signed
    // in, wear the same brand: a contact's password reset and a new
    // team member's welcome.
    app.browser()
        .post_form("/portal/help", &[("email", &hannah.email)])
        .await;
    let reset = app.latest_link(&hannah.email, "/portal/reset/").await;
    let admin_browser = app.staff_browser(&admin.email).await;
    crate::harness::invite_priya(&admin_browser).await;
    let welcome = app
        .latest_link("priya@harbour.example", "/app/welcome/")
        .await;
    for link in [&reset, &welcome] {
        let (status, html) = app.browser().page(link).await;
        assert_eq!(status, 200, "{link}");
        assert!(html.contains("<span>Harbour &#38; Vale</span>"), "{html}");
        assert!(html.contains(&format!("/brand/{}/style.css?v=2", practice.id)));
        assert!(html.contains(&format!(
            "<img class=\"brand-logo\" src=\"/brand/{}/logo?v=2\"",
            practice.id
        )));
    }
    let (_, html) = app.browser().page(&welcome).await;
    assert!(
        html.contains("<h1>Welcome to Harbour &#38; Vale</h1>"),
        "{html}"
    );
    // A link that no longer works names no practice: it may be anyone's.
    let (status, html) = app.browser().page("/app/welcome/not-a-token").await;
    assert_eq!(status, 410);
    assert!(
        html.contains("<a class=\"brand\" href=\"/\"><span>Portico</span></a>"),
        "{html}"
    );
}

#[tokio::test]
async fn the_front_page_keeps_quiet_and_the_portal_installs() {
    let app = TestApp::spawn().await;
    let (status, html) = app.browser().page("/").await;
    assert_eq!(status, 200);
    for word in ["SQLite", "sqlite", "PostgreSQL", "postgres"] {
        assert!(!html.contains(word), "the front page names {word}");
    }
    assert!(html.contains("<link rel=\"icon\" href=\"/favicon.svg\""));
    assert!(html.contains("<link rel=\"manifest\" href=\"/manifest.webmanifest\">"));
    for (path, kind) in [
        ("/favicon.ico", "image/svg+xml"),
        ("/favicon.svg", "image/svg+xml"),
        ("/static/icon-192.png", "image/png"),
        ("/static/icon-512.png", "image/png"),
        ("/manifest.webmanifest", "application/manifest+json"),
    ] {
        let response = app.browser().get(path).await;
        assert_eq!(response.status(), 200, "{path}");
        assert_eq!(response.headers()["content-type"], kind, "{path}");
    }
    let manifest: serde_json::Value = app
        .browser()
        .get("/manifest.webmanifest")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(manifest["start_url"], "/portal");
    assert_eq!(manifest["display"], "standalone");
    assert!(manifest["icons"].as_array().unwrap().len() >= 2);
    assert!(manifest.get("serviceworker").is_none());
    // The one service worker (X12's push) caches nothing: no fetch
    // handler, no Cache API, so private pages are never kept on a device.
    let worker = app.browser().get("/sw.js").await.text().await.unwrap();
    assert!(
        worker.contains("addEventListener(\"push\"") || worker.contains("addEventListener('push'")
    );
    assert!(!worker.contains("\"fetch\"") && !worker.contains("'fetch'"));
    assert!(!worker.contains("caches."));
}

/// At a phone's width: the branded header, Settings → Branding, a chat's
/// local times and the portal fit the screen. Leaves pictures in
/// `target/screenshots/` for a person to look at.
#[tokio::test]
async fn branding_and_local_times_fit_a_phone() {
    use crate::browser::{PHONE, run_story};
    let app = TestApp::spawn().await;
    let (practice, admin) = app.with_practice("Harbour & Vale Accounting").await;
    app.app
        .set_practice_time_zone(&admin, "Australia/Sydney", &crate::harness::origin())
        .await
        .unwrap();
    let bakery = app.with_client(practice.id, "Northwind Bakery").await;
    let hannah = active(&app, practice.id, "hannah@northwind.example", &[&bakery]).await;
    let logo = tempfile::NamedTempFile::with_suffix(".png").unwrap();
    std::fs::write(
        logo.path(),
        include_bytes!("../../static/icon-192.png").as_slice(),
    )
    .unwrap();
    let shots = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/screenshots");
    let width = "return document.documentElement.scrollWidth;";
    let app = &app;
    run_story("branding_and_local_times_fit_a_phone", &app.base_url, |browser| async move {
        browser.phone().await;
        browser.goto("/app/sign-in").await;
        browser.fill("#email", &admin.email).await;
        browser.fill("#password", crate::harness::PASSWORD).await;
        browser.press("Sign in").await;
        browser.wait_for_path("/app").await;
        browser.goto("/app/settings/branding").await;
        browser.attach("#logo", logo.path()).await;
        browser.press("Upload the logo").await;
        browser.wait_for_text(".notice[role=status]", "The logo is saved.").await;
        browser.fill("#accent_colour", "#7a1f5c").await;
        browser.press("Save the colour").await;
        browser.wait_for_text(".notice[role=status]", "The colour is saved.").await;
        browser.wait_for("img.brand-logo").await;
        let accent = browser
            .run_async_script(
                "arguments[0](getComputedStyle(document.documentElement).getPropertyValue('--accent').trim());",
                vec![],
            )
            .await;
        assert_eq!(accent, "#7a1f5c");
        let scroll = browser
            .run_async_script(&format!("arguments[0]((function(){{ {width} }})());"), vec![])
            .await;
        assert!(scroll.as_u64().unwrap() <= u64::from(PHONE.0), "{scroll}");
        browser.screenshot(&shots.join("branding-phone.png")).await;

        // A chat: the time in the admin's zone (the practice's, Sydney).
        browser.goto(&format!("/app/clients/{}/contacts", bakery.id)).await;
        browser.press("Chat with hannah").await;
        browser.fill("textarea[name=body]", "Your return is ready.").await;
        browser.press("Send").await;
        let shown = browser.wait_for_text("#messages time", "Today").await;
        assert!(shown.starts_with("Today "), "{shown}");
        let scroll = browser
            .run_async_script(&format!("arguments[0]((function(){{ {width} }})());"), vec![])
            .await;
        assert!(scroll.as_u64().unwrap() <= u64::from(PHONE.0), "{scroll}");
        browser.screenshot(&shots.join("chat-times-phone.png")).await;

        // The portal, branded, on the contact's phone.
        let portal = browser.another().await;
        portal.phone().await;
        portal.goto("/portal/sign-in").await;
        portal.fill("#link-email", &hannah.email).await;
        portal.press("Send me a link").await;
        portal.wait_for_text("h1", "Check your e-mail").await;
        let link = app.latest_link(&hannah.email, "/portal/link/").await;
        portal.goto(&link).await;
        portal.press("Sign me in").await;
        portal.wait_for("img.brand-logo").await;
        let scroll = portal
            .run_async_script(&format!("arguments[0]((function(){{ {width} }})());"), vec![])
            .await;
        assert!(scroll.as_u64().unwrap() <= u64::from(PHONE.0), "{scroll}");
        portal.screenshot(&shots.join("portal-branded-phone.png")).await;
    })
    .await;
}
