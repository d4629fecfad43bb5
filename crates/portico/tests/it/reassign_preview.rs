//! Q4 and P7 as a practice meets them: "Move to" never starts on the
//! person who has the question, moving it to her again is refused, it can
//! go back to every contact; a preview shows the contact's messages and
//! questions, read-only, and changes nothing she would notice.

use crate::harness::{Chat, TestApp, active, location, signed_in};
use portico::app::questions::QuestionInput;
use portico::domain::Role;

#[tokio::test]
async fn move_to_starts_on_nobody_refuses_the_same_person_and_goes_back_to_everyone() {
    let app = TestApp::spawn().await;
    let (practice, admin) = app.with_practice("Harbour").await;
    let p = practice.id;
    let bakery = app.with_client(p, "Northwind Bakery").await;
    app.store()
        .set_assignable_questions(p, bakery.id, true)
        .await
        .unwrap();
    let hannah = active(&app, p, "hannah@northwind.example", &[&bakery]).await;
    let tom = active(&app, p, "tom@northwind.example", &[&bakery]).await;
    let asked = app
        .app
        .ask_questions(
            &admin,
            bakery.id,
            &[QuestionInput {
                title: "Who signed the lease?".into(),
                assignee: Some(hannah.id),
                ..Default::default()
            }],
        )
        .await
        .unwrap();
    let id = asked[0].id;
    let staff = app.staff_browser(&admin.email).await;
    let path = format!("/app/questions/{id}/reassign");

    // The picker starts on a choice to make; Hannah, who has it, is shown
    // but cannot be chosen; "back to every contact" is offered.
    let (_, html) = staff.page(&format!("/app/questions/{id}")).await;
    assert!(
        html.contains("<option value=\"\" selected>Choose who…</option>"),
        "{html}"
    );
    assert!(html.contains(&format!(
        "<option value=\"{}\" disabled>hannah (has it now)</option>",
        hannah.id
    )));
    assert!(html.contains("<option value=\"everyone\">Back to every contact</option>"));
    assert!(html.contains("Now with hannah only."));

    // Nothing chosen, or Hannah again: refused by the picker, the
    // follow-up kept, nothing moved.
    let response = staff
        .post_form(&path, &[("to", ""), ("follow_up", "Over to you")])
        .await;
    assert_eq!(response.status(), 422);
    let html = response.text().await.unwrap();
    assert!(html.contains("id=\"to-error\">Choose who the question moves to."));
    assert!(html.contains(">Over to you</textarea>"));
    let response = staff
        .post_form(
            &path,
            &[("to", &hannah.id.to_string()), ("follow_up", "Again")],
        )
        .await;
    assert_eq!(response.status(), 409);
    let html = response.text().await.unwrap();
    assert!(
        html.contains("The question is already with hannah: choose someone else to move it to."),
        "{html}"
    );
    assert!(html.contains("aria-describedby=\"to-error\""));
    let stored = app.store().get_question(p, id).await.unwrap();
    assert_eq!(stored.question.assignee, Some(hannah.id));

    // Back to every contact: both see it, and the thread says so.
    let response = staff.post_form(&path, &[("to", "everyone")]).await;
    assert_eq!(
        location(&response),
        format!("/app/questions/{id}?done=reassigned")
    );
    let stored = app.store().get_question(p, id).await.unwrap();
    assert_eq!(stored.question.assignee, None);
    for contact in [&hannah, &tom] {
        let browser = signed_in(&app, &contact.email).await;
        let (status, html) = browser.page(&format!("/portal/questions/{id}")).await;
        assert_eq!(status, 200, "{}", contact.email);
        assert!(html.contains("Moved from hannah to every contact of Northwind Bakery."));
    }
    let (_, html) = staff.page(&format!("/app/questions/{id}")).await;
    assert!(
        !html.contains("Back to every contact"),
        "it is there already"
    );
    assert!(html.contains("Now for every contact of Northwind Bakery."));
    let response = staff.post_form(&path, &[("to", "everyone")]).await;
    assert_eq!(response.status(), 409);
    assert!(
        response
            .text()
            .await
            .unwrap()
            .contains("The question is already for every contact")
    );
}

#[tokio::test]
async fn a_preview_shows_the_contacts_messages_and_questions_read_only() {
    let app = TestApp::spawn().await;
    let (practice, admin) = app.with_practice("Harbour").await;
    let p = practice.id;
    let bakery = app.with_client(p, "Northwind Bakery").await;
    app.store()
        .set_assignable_questions(p, bakery.id, true)
        .await
        .unwrap();
    let hannah = active(&app, p, "hannah@northwind.example", &[&bakery]).await;
    let tom = active(&app, p, "tom@northwind.example", &[&bakery]).await;
    let asked = app
        .app
        .ask_questions(
            &admin,
            bakery.id,
            &[
                QuestionInput {
                    title: "Is the van leased?".into(),
                    assignee: Some(hannah.id),
                    ..Default::default()
                },
                QuestionInput {
                    title: "Tom's own question".into(),
                    assignee: Some(tom.id),
                    ..Default::default()
                },
            ],
        )
        .await
        .unwrap();
    let staff = app.staff_browser(&admin.email).await;
    let chat_path = Chat::open(&staff, &bakery, &hannah).await.staff_path;
    let chat = chat_path.trim_start_matches("/app/messages/").to_owned();
    staff
        .post_form(
            &chat_path,
            &[("body", "Your return is ready to sign."), ("key", "s-1")],
        )
        .await;
    let preview = format!("/app/preview/{}", hannah.id);

    // Her client page links her question to its read-only preview.
    let (_, html) = staff
        .page(&format!("{preview}/clients/{}", bakery.id))
        .await;
    assert!(html.contains(&format!("href=\"{preview}/questions/{}\"", asked[0].id)));
    assert!(html.contains(&format!("href=\"{preview}/messages\"")));

    // Her messages: the chat, unread for her, and no form.
    let (status, html) = staff.page(&format!("{preview}/messages")).await;
    assert_eq!(status, 200);
    assert!(html.contains(&format!("href=\"{preview}/messages/{chat}\"")));
    assert!(html.contains("Preview of hannah"));
    let (status, html) = staff.page(&format!("{preview}/messages/{chat}")).await;
    assert_eq!(status, 200);
    assert!(html.contains("Your return is ready to sign."));
    assert!(html.contains("Read-only preview"));
    assert!(!html.contains("class=\"composer\""), "no composer");
    assert!(
        !html.contains("name=\"action\""),
        "no reactions, pins or stars"
    );
    assert!(!html.contains("Message the practice"));
    // Looking changed nothing she would notice: still unread for her,
    // and the staff see no read receipt.
    let (_, html) = staff.page(&chat_path).await;
    assert!(html.contains("Not read yet"), "no receipt from a preview");
    let hannah_browser = signed_in(&app, &hannah.email).await;
    let (_, html) = hannah_browser.page("/portal/messages").await;
    assert!(html.contains("<span class=\"badge unread\" data-unread>1</span>"));

    // Her question, read-only; Tom's is not hers to see.
    let (status, html) = staff
        .page(&format!("{preview}/questions/{}", asked[0].id))
        .await;
    assert_eq!(status, 200);
    assert!(html.contains("Is the van leased?"));
    assert!(html.contains("Read-only preview"));
    assert!(!html.contains("Send answer"));
    assert!(html.contains(&format!("href=\"{preview}/clients/{}\"", bakery.id)));
    assert_eq!(
        staff
            .page(&format!("{preview}/questions/{}", asked[1].id))
            .await
            .0,
        404
    );
    // Nothing can be posted from a preview.
    for path in [
        format!("{preview}/messages/{chat}"),
        format!("{preview}/questions/{}", asked[0].id),
    ] {
        let response = staff.post_form(&path, &[("body", "x")]).await;
        assert_eq!(response.status(), 403, "{path}");
    }

    // A member previews too; another practice's staff cannot.
    let member = app
        .with_staff(p, "marcus@harbour.example", Role::Member)
        .await;
    let member_browser = app.staff_browser(&member.email).await;
    assert_eq!(
        member_browser.page(&format!("{preview}/messages")).await.0,
        200
    );
    let (_, rival) = app.with_practice("Rival").await;
    let rival_browser = app.staff_browser(&rival.email).await;
    assert_eq!(
        rival_browser.page(&format!("{preview}/messages")).await.0,
        404
    );
    assert_eq!(
        rival_browser
            .page(&format!("{preview}/messages/{chat}"))
            .await
            .0,
        404
    );
    assert_eq!(
        rival_browser
            .page(&format!("{preview}/questions/{}", asked[0].id))
            .await
            .0,
        404
    );
}
