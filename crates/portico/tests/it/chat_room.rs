//! The chat as people read it: thumbnails made by the server, the Files
//! panel, per-person receipts in groups, titles from the reader's side,
//! renamed groups and "Olivia added Tom" lines; the one composer form
//! carries its anti-forgery token in its body, never in its address.

use crate::harness::{Browser, Chatting, TestApp, location};
use crate::harness::{active, signed_in};
use portico::domain::{PracticeId, Role};

/// Olivia (the admin) and Hannah's direct chat about the bakery.
async fn direct_chat(app: &TestApp) -> (Browser, Browser, String, String, PracticeId) {
    let Chatting {
        world,
        hannah_browser,
        chat,
        ..
    } = Chatting::new(app).await;
    (
        world.staff,
        hannah_browser,
        chat.staff_path,
        chat.portal_path,
        world.practice.id,
    )
}

/// Sends the chat's one form as a page does: multipart, its token as its
/// first field (not in the address).
async fn send_files(
    app: &TestApp,
    browser: &Browser,
    path: &str,
    key: &str,
    files: Vec<(&str, Vec<u8>)>,
) -> reqwest::Response {
    let mut form = reqwest::multipart::Form::new()
        .text("csrf", browser.csrf().await)
        .text("key", key.to_owned())
        .text("body", "");
    for (name, bytes) in files {
        form = form.part(
            "files",
            reqwest::multipart::Part::bytes(bytes).file_name(name.to_owned()),
        );
    }
    browser
        .client
        .post(browser.url(&format!("{path}/files")))
        .header("origin", &app.base_url)
        .multipart(form)
        .send()
        .await
        .unwrap()
}

fn picture(width: u32, height: u32, format: image::ImageFormat) -> Vec<u8> {
    let pixels = image::RgbImage::from_fn(width, height, |x, y| {
        image::Rgb([(x % 256) as u8, (y % 256) as u8, 128])
    });
    let mut out = std::io::Cursor::new(Vec::new());
    image::DynamicImage::ImageRgb8(pixels)
        .write_to(&mut out, format)
        .unwrap();
    out.into_inner()
}

/// CRC-32 (PNG's), to make a well-formed header.
fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for byte in bytes {
        crc ^= u32::from(*byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// A small PNG that claims to be 50,000 × 50,000 pixels (7.5 GB decoded).
fn bomb() -> Vec<u8> {
    let mut png = picture(4, 4, image::ImageFormat::Png);
    // IHDR's width and height are bytes 16..24; its CRC follows its data.
    png[16..20].copy_from_slice(&50_000u32.to_be_bytes());
    png[20..24].copy_from_slice(&50_000u32.to_be_bytes());
    let crc = crc32(&png[12..29]);
    png[29..33].copy_from_slice(&crc.to_be_bytes());
    png
}

/// The ids of the files a page links to, in order.
fn file_ids(html: &str) -> Vec<String> {
    let mut ids: Vec<String> = Vec::new();
    for part in html.split("href=\"/files/").skip(1) {
        let id = part.split('"').next().unwrap().to_owned();
        if !ids.contains(&id) {
            ids.push(id);
        }
    }
    ids
}

#[tokio::test]
async fn pictures_show_as_thumbnails_made_by_the_server_and_a_bomb_is_refused() {
    let app = TestApp::spawn().await;
    let (staff, hannah, staff_path, portal_path, _) = direct_chat(&app).await;
    let png = picture(1200, 800, image::ImageFormat::Png);
    let jpeg = picture(600, 900, image::ImageFormat::Jpeg);
    let response = send_files(
        &app,
        &hannah,
        &portal_path,
        "pics-1",
        vec![("receipt.png", png), ("invoice.jpg", jpeg)],
    )
    .await;
    assert_eq!(location(&response), portal_path);

    let (_, html) = staff.page(&staff_path).await;
    let ids = file_ids(&html);
    assert_eq!(ids.len(), 2, "{html}");
    for (id, (width, height)) in ids.iter().zip([(480, 320), (320, 480)]) {
        assert!(
            html.contains(&format!("<img src=\"/files/{id}/thumb\"")),
            "{html}"
        );
        let thumb = staff.get(&format!("/files/{id}/thumb")).await;
        assert_eq!(thumb.status(), 200);
        assert_eq!(thumb.headers()["content-type"], "image/jpeg");
        let bytes = thumb.bytes().await.unwrap();
        let small = image::load_from_memory(&bytes).unwrap();
        assert_eq!((small.width(), small.height()), (width, height));
        // Kept once made: the same bytes again, for Hannah too.
        let again = hannah.get(&format!("/files/{id}/thumb")).await;
        assert_eq!(again.bytes().await.unwrap(), bytes);
    }

    // Someone outside the chat gets nothing, signed in or not.
    let outsider = app.browser();
    assert_eq!(
        outsider
            .get(&format!("/files/{}/thumb", ids[0]))
            .await
            .status(),
        404
    );
    let (_, rival) = app.with_practice("Rival").await;
    let rival = app.staff_browser(&rival.email).await;
    assert_eq!(
        rival
            .get(&format!("/files/{}/thumb", ids[0]))
            .await
            .status(),
        404
    );

    // A picture too large to decode is never decoded: no preview, a
    // sentence, and the file is still there to download.
    let response = send_files(
        &app,
        &hannah,
        &portal_path,
        "pics-2",
        vec![("huge.png", bomb())],
    )
    .await;
    assert_eq!(location(&response), portal_path);
    let (_, html) = staff.page(&staff_path).await;
    let bomb_id = file_ids(&html).pop().unwrap();
    let thumb = staff.get(&format!("/files/{bomb_id}/thumb")).await;
    assert_eq!(thumb.status(), 422);
    assert!(thumb.text().await.unwrap().contains("no preview"));
    assert_eq!(staff.get(&format!("/files/{bomb_id}")).await.status(), 200);

    // A file that is not a picture has no thumbnail.
    let pdf = b"%PDF-1.7\n1 0 obj\n<<>>\nendobj\n".to_vec();
    send_files(&app, &hannah, &portal_path, "pics-3", vec![("a.pdf", pdf)]).await;
    let (_, html) = staff.page(&staff_path).await;
    let pdf_id = file_ids(&html).pop().unwrap();
    assert_eq!(
        staff.get(&format!("/files/{pdf_id}/thumb")).await.status(),
        404
    );
}

#[tokio::test]
async fn the_composer_form_carries_its_token_in_its_body_and_errors_stay_in_the_chat() {
    let app = TestApp::spawn().await;
    let (staff, hannah, staff_path, portal_path, _) = direct_chat(&app).await;
    let (_, html) = hannah.page(&portal_path).await;
    assert!(!html.contains("csrf="), "no token in an address: {html}");
    assert!(html.contains("enctype=\"multipart/form-data\""));
    assert!(html.contains("capture=\"environment\""));
    assert_eq!(html.matches("<form class=\"composer\"").count(), 1);

    // Without the token as its first field, the form is refused.
    let form = reqwest::multipart::Form::new()
        .text("key", "no-token")
        .text("body", "hello")
        .text("csrf", hannah.csrf().await);
    let response = hannah
        .client
        .post(hannah.url(&format!("{portal_path}/files")))
        .header("origin", &app.base_url)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);

    // Text alone goes through the same form, as a reply.
    let form = reqwest::multipart::Form::new()
        .text("csrf", hannah.csrf().await)
        .text("key", "text-1")
        .text("body", "Just text");
    let response = hannah
        .client
        .post(hannah.url(&format!("{portal_path}/files")))
        .header("origin", &app.base_url)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(location(&response), portal_path);
    let form = reqwest::multipart::Form::new()
        .text("csrf", staff.csrf().await)
        .text("key", "text-2")
        .text("reply_to", "1")
        .text("body", "Answering that");
    let response = staff
        .client
        .post(staff.url(&format!("{staff_path}/files")))
        .header("origin", &app.base_url)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(location(&response), staff_path);
    let (_, html) = hannah.page(&portal_path).await;
    assert!(
        html.contains(
            "<blockquote class=\"quote\"><strong>hannah:</strong> Just text</blockquote>"
        ),
        "{html}"
    );

    // A refused file: the chat page with the sentence and the draft.
    let form = reqwest::multipart::Form::new()
        .text("csrf", hannah.csrf().await)
        .text("key", "bad-1")
        .text("body", "my page")
        .part(
            "files",
            reqwest::multipart::Part::bytes(b"<html></html>".to_vec()).file_name("page.html"),
        );
    let response = hannah
        .client
        .post(hannah.url(&format!("{portal_path}/files")))
        .header("origin", &app.base_url)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 422);
    let page = response.text().await.unwrap();
    assert!(
        page.contains("is not a kind of file Portico takes"),
        "{page}"
    );
    assert!(
        page.contains("id=\"messages\""),
        "the chat, not an error page"
    );
    assert!(page.contains(">my page</textarea>"), "the draft is kept");

    // The page's script asks for JSON and gets the refusal as JSON.
    let form = reqwest::multipart::Form::new()
        .text("csrf", hannah.csrf().await)
        .text("key", "bad-2")
        .part(
            "files",
            reqwest::multipart::Part::bytes(b"<html></html>".to_vec()).file_name("page.html"),
        );
    let response = hannah
        .client
        .post(hannah.url(&format!("{portal_path}/files")))
        .header("origin", &app.base_url)
        .header("accept", "application/json")
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 422);
    let answer: serde_json::Value = response.json().await.unwrap();
    assert!(
        answer["error"]
            .as_str()
            .unwrap()
            .contains("is not a kind of file")
    );
}

#[tokio::test]
async fn the_files_panel_lists_every_file_shared_and_sound_plays_inline() {
    let app = TestApp::spawn().await;
    let (staff, hannah, staff_path, portal_path, _) = direct_chat(&app).await;
    let pdf = b"%PDF-1.7\n1 0 obj\n<<>>\nendobj\n".to_vec();
    let mut ogg = b"OggS\x00\x02".to_vec();
    ogg.resize(200, 0);
    send_files(
        &app,
        &hannah,
        &portal_path,
        "f-1",
        vec![("statement.pdf", pdf)],
    )
    .await;
    send_files(
        &app,
        &staff,
        &staff_path,
        "f-2",
        vec![("voice-note.ogg", ogg)],
    )
    .await;
    let (_, html) = hannah.page(&portal_path).await;
    let panel = html
        .split("<details class=\"files-panel\"")
        .nth(1)
        .unwrap()
        .split("</details>")
        .next()
        .unwrap();
    assert!(panel.contains("Files (2)"), "{panel}");
    assert!(
        panel.contains("statement.pdf") && panel.contains("PDF"),
        "{panel}"
    );
    assert!(panel.contains("voice-note.ogg"), "{panel}");
    // The PDF as a card with its type and size; the sound as a player.
    assert!(html.contains("class=\"attachment card-file\""), "{html}");
    assert!(html.contains("<audio controls"), "{html}");

    // A deleted message's file leaves the panel.
    staff
        .post_form(
            &format!("{staff_path}/action"),
            &[("action", "delete"), ("seq", "2")],
        )
        .await;
    let (_, html) = hannah.page(&portal_path).await;
    assert!(html.contains("Files (1)"), "{html}");
    assert!(!html.contains("voice-note.ogg"));
}

#[tokio::test]
async fn groups_show_receipts_per_person_to_staff_lines_for_members_and_can_be_renamed() {
    let app = TestApp::spawn().await;
    let (practice, admin) = app.with_practice("Harbour").await;
    let marcus = app
        .with_staff(practice.id, "marcus@harbour.example", Role::Member)
        .await;
    let bakery = app.with_client(practice.id, "Northwind Bakery").await;
    let hannah = active(&app, practice.id, "hannah@northwind.example", &[&bakery]).await;
    let tom = active(&app, practice.id, "tom@northwind.example", &[&bakery]).await;
    let olivia = app.staff_browser(&admin.email).await;
    let response = olivia
        .post_form(
            "/app/messages/new",
            &[
                ("title", "Year end"),
                ("contact", &hannah.id.to_string()),
                ("contact", &tom.id.to_string()),
            ],
        )
        .await;
    let chat_path = location(&response);
    let portal_path = chat_path.replace("/app/", "/portal/");
    olivia
        .post_form(&chat_path, &[("body", "Welcome, both."), ("key", "g1")])
        .await;
    let hannah_browser = signed_in(&app, &hannah.email).await;
    hannah_browser.page(&portal_path).await;
    let (_, html) = olivia.page(&chat_path).await;
    assert!(html.contains("Read by hannah · not yet by tom"), "{html}");
    let (_, html) = hannah_browser.page(&portal_path).await;
    assert!(!html.contains("Read by"), "receipts are for staff");

    // Olivia adds Marcus: everyone sees the line, in its place.
    olivia
        .post_form(
            &format!("{chat_path}/members"),
            &[("staff", &marcus.id.to_string())],
        )
        .await;
    let (_, html) = hannah_browser.page(&portal_path).await;
    assert!(html.contains("Harbour Admin added marcus"), "{html}");
    let welcome = html.find("Welcome, both.").unwrap();
    assert!(html.find("Harbour Admin added marcus").unwrap() > welcome);
    let (_, html) = olivia.page(&chat_path).await;
    assert!(html.contains("not yet by marcus, tom"), "{html}");

    // Renamed by a member of the team; a contact cannot.
    let response = olivia
        .post_form(
            &format!("{chat_path}/rename"),
            &[("title", "Northwind 2026")],
        )
        .await;
    assert_eq!(location(&response), chat_path);
    let (_, html) = hannah_browser.page(&portal_path).await;
    assert!(html.contains("<h2>Northwind 2026</h2>"), "{html}");
    assert!(html.contains("Harbour Admin renamed the chat “Northwind 2026”"));
    let response = hannah_browser
        .post_form(&format!("{chat_path}/rename"), &[("title", "Mine")])
        .await;
    assert!(!response.status().is_success());
    let response = olivia
        .post_form(&format!("{chat_path}/rename"), &[("title", "  ")])
        .await;
    assert_eq!(response.status(), 422);
    assert!(response.text().await.unwrap().contains("Enter a name."));
    let (_, rival) = app.with_practice("Rival").await;
    let rival = app.staff_browser(&rival.email).await;
    let response = rival
        .post_form(&format!("{chat_path}/rename"), &[("title", "Theirs")])
        .await;
    assert_eq!(response.status(), 404);

    // Olivia takes Tom out: "Harbour Admin removed tom".
    olivia
        .post_form(
            &format!("{chat_path}/members/remove"),
            &[("member", &format!("contact:{}", tom.id))],
        )
        .await;
    let (_, html) = hannah_browser.page(&portal_path).await;
    assert!(html.contains("Harbour Admin removed tom"), "{html}");
}

#[tokio::test]
async fn a_contact_sees_who_she_writes_to_never_her_own_name() {
    let app = TestApp::spawn().await;
    let (staff, hannah, staff_path, portal_path, _) = direct_chat(&app).await;
    let (_, html) = staff.page(&staff_path).await;
    assert!(
        html.contains("<h2>hannah — Northwind Bakery</h2>"),
        "{html}"
    );
    let (_, html) = hannah.page(&portal_path).await;
    assert!(
        html.contains("<h2>Harbour Admin — Northwind Bakery</h2>"),
        "{html}"
    );
    let (_, list) = hannah.page("/portal/messages").await;
    assert!(
        list.contains("<strong>Harbour Admin — Northwind Bakery</strong>"),
        "{list}"
    );
    assert!(!list.contains("hannah — "), "{list}");
    // A direct chat is not renamed.
    let response = staff
        .post_form(&format!("{staff_path}/rename"), &[("title", "Other")])
        .await;
    assert_eq!(response.status(), 409);
}
