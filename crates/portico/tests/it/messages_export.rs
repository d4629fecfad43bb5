//! A chat's history as a spreadsheet (M13), and a contact's export of her
//! own chat (X9).

use crate::harness::{Chatting, Page, TestApp};

#[tokio::test]
async fn a_chat_exports_to_xlsx_and_csv() {
    use calamine::{Reader, Xlsx};
    let app = TestApp::spawn().await;
    let c = Chatting::started(&app).await;
    let (staff, hannah) = (c.staff(), &c.hannah_browser);
    let (staff_path, portal_path) = (c.chat.staff_path.clone(), c.chat.portal_path.clone());
    staff
        .post_form(
            &format!("{staff_path}/action"),
            &[("action", "react:🎉"), ("seq", "2")],
        )
        .await;
    hannah
        .post_form(
            &portal_path,
            &[
                ("body", "=SUM(A1) stays text"),
                ("key", "h3"),
                ("reply_to", "1"),
            ],
        )
        .await;

    let response = staff.get(&format!("{staff_path}/export/xlsx")).await;
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("attachment;")
    );
    let bytes = response.bytes().await.unwrap().to_vec();
    let mut workbook: Xlsx<_> = Xlsx::new(std::io::Cursor::new(bytes)).unwrap();
    let sheet = workbook.worksheet_range_at(0).unwrap().unwrap();
    let rows: Vec<Vec<String>> = sheet
        .rows()
        .map(|r| r.iter().map(|c| c.to_string()).collect())
        .collect();
    assert_eq!(
        rows[0],
        vec![
            "Date",
            "Sender",
            "Message",
            "Reply to",
            "Attachments",
            "Reactions"
        ]
    );
    assert_eq!(rows.len(), 4);
    assert_eq!(rows[1][1], "Harbour Admin");
    assert_eq!(rows[1][2], "Your return is ready.");
    assert_eq!(rows[2][5], "🎉 1");
    assert_eq!(rows[3][2], "=SUM(A1) stays text");
    assert_eq!(rows[3][3], "#1");

    let csv = staff
        .get(&format!("{staff_path}/export/csv"))
        .await
        .text()
        .await
        .unwrap();
    assert!(csv.starts_with("Date,Sender,Message,Reply to,Attachments,Reactions\n"));
    assert!(csv.contains("Great, thank you!"));
    assert!(
        csv.contains("'=SUM(A1) stays text"),
        "no formula runs when the CSV is opened"
    );
    // A contact cannot export from the staff side; each export is recorded.
    assert_eq!(
        hannah
            .get(&format!("{staff_path}/export/csv"))
            .await
            .status(),
        403
    );
    let events = app
        .store()
        .audit_events(c.world.id(), &format!("chat:{}", c.chat.id))
        .await
        .unwrap();
    assert_eq!(
        events.iter().filter(|(a, _)| a == "chat exported").count(),
        2
    );
}

#[tokio::test]
async fn a_contact_exports_her_own_chat_and_nobody_elses() {
    // X9: the same spreadsheet as the practice's, from her side, recorded.
    let app = TestApp::spawn().await;
    let c = Chatting::started(&app).await;
    let (staff, hannah) = (c.staff(), &c.hannah_browser);
    let (staff_path, portal_path) = (c.chat.staff_path.clone(), c.chat.portal_path.clone());
    let (_, page) = hannah.page(&portal_path).await;
    assert_eq!(
        Page::parse(&page).text(&format!("a[href='{portal_path}/export/csv']")),
        "Export (CSV)",
        "her chat's menu offers the export"
    );
    let response = hannah.get(&format!("{portal_path}/export/csv")).await;
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("attachment;")
    );
    let csv = response.text().await.unwrap();
    assert!(csv.starts_with("Date,Sender,Message,Reply to,Attachments,Reactions\n"));
    assert!(csv.contains("Your return is ready.") && csv.contains("Great, thank you!"));
    let xlsx = hannah.get(&format!("{portal_path}/export/xlsx")).await;
    assert_eq!(xlsx.status(), 200);

    // Another contact of the practice, and the staff side's address: no.
    let client = c.world.client("Another Client").await;
    let tom = c.world.contact("tom@another.example", &[&client]).await;
    let tom = c.world.portal(&tom).await;
    assert_eq!(
        tom.get(&format!("{portal_path}/export/csv")).await.status(),
        404
    );
    assert_eq!(
        hannah
            .get(&format!("{staff_path}/export/csv"))
            .await
            .status(),
        403
    );
    assert_eq!(
        staff
            .get(&format!("{portal_path}/export/csv"))
            .await
            .status(),
        403,
        "the portal's address is for contacts"
    );
    let events = app
        .store()
        .audit_events(c.world.id(), &format!("chat:{}", c.chat.id))
        .await
        .unwrap();
    assert_eq!(
        events.iter().filter(|(a, _)| a == "chat exported").count(),
        2,
        "both of her exports are recorded"
    );
}
