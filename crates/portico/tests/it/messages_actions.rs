//! What people do with messages and chats: reactions (M12), replies (M11),
//! pins and deleting one's own message (M10), unread, starred, hidden and
//! deleted chats (M4, M5, M6), and unread marks in the portal's switcher.

use crate::harness::{Chatting, Page, TestApp, World, location};

/// The reactions under message `seq` of a chat page, as their buttons say
/// them ("👍 1").
fn reactions(html: &str, seq: i64) -> Vec<String> {
    Page::parse(html).select_text(&format!("#m{seq} form.reactions button.reaction"))
}

#[tokio::test]
async fn reactions_replies_pins_and_deleting_ones_own_message() {
    let app = TestApp::spawn().await;
    let c = Chatting::started(&app).await;
    let (staff, hannah) = (c.staff(), &c.hannah_browser);
    let (staff_path, portal_path) = (c.chat.staff_path.clone(), c.chat.portal_path.clone());
    let action = format!("{staff_path}/action");

    // M12: a reaction toggles; only the offered emoji are taken.
    staff
        .post_form(&action, &[("action", "react:👍"), ("seq", "2")])
        .await;
    let (_, html) = hannah.page(&portal_path).await;
    assert_eq!(reactions(&html, 2), ["👍 1"]);
    staff
        .post_form(&action, &[("action", "react:👍"), ("seq", "2")])
        .await;
    let (_, html) = hannah.page(&portal_path).await;
    assert!(
        reactions(&html, 2).is_empty(),
        "the same emoji again takes it away"
    );
    let response = staff
        .post_form(&action, &[("action", "react:<script>"), ("seq", "2")])
        .await;
    assert_eq!(response.status(), 422);

    // M11: a reply shows the quoted original.
    hannah
        .post_form(
            &portal_path,
            &[("body", "Which one?"), ("key", "h2"), ("reply_to", "1")],
        )
        .await;
    let (_, html) = staff.page(&staff_path).await;
    assert_eq!(
        Page::parse(&html).select_text("#m3 blockquote.quote"),
        ["Harbour Admin: Your return is ready."],
        "{html}"
    );

    // M10: pins show in the panel; a sender deletes their own message only.
    staff
        .post_form(&action, &[("action", "pin"), ("seq", "2")])
        .await;
    let (_, html) = hannah.page(&portal_path).await;
    assert_eq!(
        Page::parse(&html).select_text("aside.pinned li"),
        ["hannah: Great, thank you!"]
    );
    let response = staff
        .post_form(&action, &[("action", "delete"), ("seq", "2")])
        .await;
    assert_eq!(response.status(), 403, "not the sender");
    let response = hannah
        .post_form(
            &format!("{portal_path}/action"),
            &[("action", "delete"), ("seq", "2")],
        )
        .await;
    assert_eq!(response.status(), 303);
    let (_, html) = staff.page(&staff_path).await;
    let page = Page::parse(&html);
    assert_eq!(page.text("#m2 .body"), "Message deleted");
    assert!(
        !html.contains("Great, thank you!"),
        "the text is gone for everyone"
    );
    assert!(!page.has("aside.pinned"), "a deleted message is unpinned");
}

#[tokio::test]
async fn star_hide_unread_and_delete_a_chat() {
    let app = TestApp::spawn().await;
    let c = Chatting::started(&app).await;
    let (staff, hannah) = (c.staff(), &c.hannah_browser);
    let (staff_path, portal_path) = (c.chat.staff_path.clone(), c.chat.portal_path.clone());
    let action = format!("{staff_path}/action");

    // M5: mark unread, then the Unread filter shows it.
    let response = staff
        .post_form(&action, &[("action", "unread"), ("seq", "2")])
        .await;
    assert_eq!(location(&response), "/app/messages");
    let item = format!("li[data-chat-item='{}']", c.chat.id);
    let (_, html) = staff.page("/app/messages?filter=unread").await;
    assert_eq!(
        Page::parse(&html).text(&format!("{item} [data-unread]")),
        "1"
    );
    staff.page(&staff_path).await;
    let (_, html) = staff.page("/app/messages?filter=unread").await;
    assert!(!Page::parse(&html).has(&item), "read again: not in Unread");

    // M4: starred. M6: hidden until the next message.
    staff.post_form(&action, &[("action", "star")]).await;
    let (_, html) = staff.page("/app/messages").await;
    assert!(Page::parse(&html).has(&format!("{item}[data-starred] [aria-label=Starred]")));
    staff.post_form(&action, &[("action", "hide")]).await;
    let (_, html) = staff.page("/app/messages").await;
    assert!(!Page::parse(&html).has(&item), "hidden");
    hannah
        .post_form(&portal_path, &[("body", "One more thing"), ("key", "h9")])
        .await;
    let (_, html) = staff.page("/app/messages").await;
    assert!(Page::parse(&html).has(&item), "back with the next message");

    // M6: deleting asks first, then the chat and its messages are gone for good.
    let (status, html) = staff.page(&format!("{staff_path}/delete")).await;
    assert_eq!(status, 200);
    assert!(html.contains("for good"));
    assert_eq!(
        hannah
            .post_form(&format!("{portal_path}/action"), &[("action", "hide")])
            .await
            .status(),
        303
    );
    let response = hannah.post_form(&format!("{staff_path}/delete"), &[]).await;
    assert_eq!(
        response.status(),
        403,
        "a contact cannot delete from the staff side"
    );
    let response = staff.post_form(&format!("{staff_path}/delete"), &[]).await;
    assert_eq!(location(&response), "/app/messages");
    assert_eq!(staff.page(&staff_path).await.0, 404);
    assert_eq!(hannah.page(&portal_path).await.0, 404);
}

#[tokio::test]
async fn the_portal_switcher_marks_a_client_with_unread_messages() {
    let app = TestApp::spawn().await;
    let w = World::new(&app).await;
    let bakery = w.client("Northwind Bakery").await;
    let garden = w.client("Bluegum Landscaping").await;
    let hannah = w
        .contact("hannah@northwind.example", &[&bakery, &garden])
        .await;
    let chat = w.chat(&bakery, &hannah).await;
    w.staff
        .say(&chat.staff_path, "A question about the bakery", "u1")
        .await;
    let browser = w.portal(&hannah).await;
    let (_, html) = browser
        .page(&format!("/portal/clients/{}", garden.id))
        .await;
    assert!(
        Page::parse(&html)
            .select_text("#switcher li")
            .contains(&"Northwind Bakery 1 unread".to_owned()),
        "{html}"
    );
}

/// M4: a chat's unread count is taken among its newest 1,000 messages, so
/// that a list is not held up counting a chat of a million; more unread
/// than that read "1000+" (list, top bar) and "more than 1000 new
/// messages" (portal home), and reading the chat clears them.
#[tokio::test]
async fn more_unread_than_are_counted_read_as_more() {
    let app = TestApp::spawn().await;
    let c = Chatting::started(&app).await;
    let admin = &c.world.admin;
    // 1,005 messages from the team, written a batch at a time.
    crate::harness::many_messages_from(&app, admin, c.chat.id, 1005, "Update").await;

    let hannah = &c.hannah_browser;
    let item = format!("li[data-chat-item='{}']", c.chat.id);
    let (_, html) = hannah.page("/portal/messages").await;
    assert_eq!(
        Page::parse(&html).text(&format!("{item} [data-unread]")),
        "1000+"
    );
    let dock: serde_json::Value = hannah
        .get("/portal/messages/dock")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(dock["unread"], 1000);
    assert_eq!(dock["unread_text"], "1000+");
    let (_, html) = hannah.page("/portal/overview").await;
    assert!(html.contains("more than 1000 new messages"), "{html}");

    // Read, nothing waits; the next message is one again.
    hannah.page(&c.chat.portal_path).await;
    let (_, html) = hannah.page("/portal/messages").await;
    assert!(!Page::parse(&html).has(&format!("{item} [data-unread]")));
    c.staff()
        .post_form(&c.chat.staff_path, &[("body", "One more"), ("key", "m1")])
        .await;
    let (_, html) = hannah.page("/portal/messages").await;
    assert_eq!(
        Page::parse(&html).text(&format!("{item} [data-unread]")),
        "1"
    );
}
