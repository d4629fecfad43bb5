//! X2: the audit log. Each audited action leaves an entry (who, what, which
//! record, from where, in which request), the entries form a hash chain
//! that `verify-audit` checks, the page is for the practice's admins only,
//! and old entries go by the practice's retention with the chain intact.

use crate::harness::{TestApp, active, location, post_files, signed_in, test_entry, totp_key};
use portico::app::questions::QuestionInput;
use portico::app::two_factor::current_code;
use portico::domain::{Millis, PracticeId, Role};
use portico::store::{AuditActor, AuditEntry, AuditFilter, AuditKind, NewAudit};

const PDF: &[u8] = b"%PDF-1.7\n1 0 obj\n<<>>\nendobj\n";

/// Every entry of a practice, newest first.
async fn entries(app: &TestApp, practice: PracticeId) -> Vec<AuditEntry> {
    app.store()
        .audit_entries(practice, &AuditFilter::default(), None, 10_000)
        .await
        .unwrap()
}

fn find(entries: &[AuditEntry], kind: AuditKind) -> &AuditEntry {
    entries
        .iter()
        .find(|e| e.action == kind.code())
        .unwrap_or_else(|| panic!("no {:?} entry among {entries:#?}", kind.code()))
}

#[tokio::test]
async fn each_audited_action_is_recorded_with_who_what_where_and_the_request() {
    let app = TestApp::spawn().await;
    let (practice, admin) = app.with_practice("Harbour").await;
    let p = practice.id;
    let bakery = app.with_client(p, "Northwind Bakery").await;
    let tom = app.with_staff(p, "tom@harbour.example", Role::Member).await;

    // Sign-ins: a wrong password (the address tried), then the right one.
    let admin_browser = app.browser();
    let refused = admin_browser
        .post_form(
            "/app/sign-in",
            &[("email", &admin.email), ("password", "not it")],
        )
        .await;
    assert_eq!(refused.status(), 401);
    let staff = app.staff_browser(&admin.email).await;

    // Two-factor on, then off.
    let (_, html) = staff.page("/app/two-factor").await;
    let code = current_code(&totp_key(&html), app.clock.now()).unwrap();
    assert_eq!(
        staff
            .post_form("/app/two-factor", &[("code", &code)])
            .await
            .status(),
        200
    );
    staff.post_form("/app/two-factor/disable", &[]).await;

    // A contact added (access given, invitation sent), a preview, roles
    // and deactivation, a setting.
    let added = staff
        .post_form(
            &format!("/app/clients/{}/contacts", bakery.id),
            &[
                ("name", "Hannah Brooks"),
                ("email", "hannah@northwind.example"),
                ("phone", ""),
            ],
        )
        .await;
    assert_eq!(added.status(), 303);
    let hannah = app
        .store()
        .find_contact_by_email(
            p,
            &portico::domain::EmailAddress::parse("hannah@northwind.example").unwrap(),
        )
        .await
        .unwrap()
        .unwrap();
    app.store()
        .set_contact_status(p, hannah.id, portico::store::ContactStatus::Active)
        .await
        .unwrap();
    assert_eq!(
        staff
            .get(&format!("/app/preview/{}/clients/{}", hannah.id, bakery.id))
            .await
            .status(),
        200
    );
    staff
        .post_form(&format!("/app/team/{}/role", tom.id), &[("role", "admin")])
        .await;
    staff
        .post_form(
            &format!("/app/team/{}/active", tom.id),
            &[("active", "off")],
        )
        .await;
    staff
        .post_form("/app/settings/time-zone", &[("time_zone", "Europe/London")])
        .await;

    // The contact: a sign-in link, an answer with a file, a download.
    let question = app
        .app
        .ask_questions(
            &admin,
            bakery.id,
            &[QuestionInput {
                title: "Where is the March bank statement?".into(),
                details: String::new(),
                assignee: None,
                urgent: false,
            }],
        )
        .await
        .unwrap()[0]
        .id;
    let portal = signed_in(&app, &hannah.email).await;
    let answered = post_files(
        &portal,
        &format!("/portal/questions/{question}/answer"),
        "Here it is.",
        vec![("march.pdf", PDF.to_vec())],
    )
    .await;
    assert_eq!(answered.status(), 303);
    let file = app.store().question_files(p, question).await.unwrap()[0].clone();
    let download = staff.get(&format!("/files/{}", file.id)).await;
    assert_eq!(download.status(), 200);
    let request_id = download.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();

    // Sessions ended: everywhere else, then this one.
    staff.post_form("/app/account/sign-out-others", &[]).await;
    staff.post_form("/sign-out", &[]).await;

    let log = entries(&app, p).await;
    let failed = find(&log, AuditKind::SignInFailed);
    assert_eq!(failed.actor_kind, "address");
    assert_eq!(failed.actor_name, admin.email);
    assert_eq!(failed.ip, "127.0.0.1");
    assert!(!failed.request_id.is_empty());
    for kind in [
        AuditKind::SignedIn,
        AuditKind::TwoFactorOn,
        AuditKind::TwoFactorOff,
        AuditKind::AccessGiven,
        AuditKind::InvitationSent,
        AuditKind::PortalPreviewed,
        AuditKind::RoleChanged,
        AuditKind::Deactivated,
        AuditKind::SettingsChanged,
        AuditKind::LinkSent,
        AuditKind::QuestionAnswered,
        AuditKind::FileUploaded,
        AuditKind::FileDownloaded,
        AuditKind::OtherSessionsEnded,
        AuditKind::SignedOut,
    ] {
        let entry = find(&log, kind);
        assert_eq!(entry.ip, "127.0.0.1", "{kind:?}");
        assert!(!entry.request_id.is_empty(), "{kind:?}");
    }
    let role = find(&log, AuditKind::RoleChanged);
    assert_eq!(role.actor_name, admin.name);
    assert_eq!(role.subject, format!("staff:{}", tom.id));
    assert_eq!(role.detail, "member to admin");
    let answered = find(&log, AuditKind::QuestionAnswered);
    assert_eq!(answered.actor_name, "Hannah Brooks");
    assert_eq!(answered.client_name.as_deref(), Some("Northwind Bakery"));
    let downloaded = find(&log, AuditKind::FileDownloaded);
    assert_eq!(downloaded.subject, format!("file:{}", file.id));
    assert_eq!(
        downloaded.request_id, request_id,
        "the entry names the request's id"
    );
    assert_eq!(downloaded.client_name.as_deref(), Some("Northwind Bakery"));
    // Nothing of what was written reaches the log: no text, no file name.
    assert!(
        log.iter()
            .all(|e| !e.detail.contains("Here it is") && !e.detail.contains("march.pdf"))
    );

    let report = &app.app.verify_audit(Some(p)).await.unwrap()[0];
    assert_eq!(report.first_break, None);
    assert_eq!(report.entries, i64::try_from(log.len()).unwrap());
}

#[tokio::test]
async fn the_chain_verifies_and_a_changed_or_removed_entry_is_found() {
    let app = TestApp::spawn().await;
    let (practice, _) = app.with_practice("Harbour").await;
    let (other, _) = app.with_practice("Rival").await;
    for (n, p) in [practice.id, practice.id, other.id, practice.id, practice.id]
        .into_iter()
        .enumerate()
    {
        app.store()
            .audit(&test_entry(p).detail(format!("step {n}")))
            .await
            .unwrap();
    }
    let reports = app.app.verify_audit(None).await.unwrap();
    assert!(
        reports.iter().all(|r| r.first_break.is_none()),
        "{reports:?}"
    );

    // The operator's command agrees, and exits 0.
    let verify = || {
        std::process::Command::new(env!("CARGO_BIN_EXE_portico"))
            .args(["admin", "verify-audit"])
            .env("PORTICO_DATABASE_URL", app.database_url())
            .env("PORTICO_DATA_DIR", &app.data_dir)
            .env("PORTICO_LOG", "warn")
            .output()
            .unwrap()
    };
    let output = verify();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(output.status.success(), "{stdout}");
    assert!(stdout.contains(&format!("{}  intact: 4 entries verified", practice.id)));

    // Someone changes entry 2 in the database: found, and nothing after.
    app.execute_sql("UPDATE audit_events SET detail = 'nothing happened' WHERE seq = 2")
        .await;
    let report = app.store().verify_audit_chain(practice.id).await.unwrap();
    let at = report.first_break.expect("the change is found");
    assert_eq!(at.seq, 2);
    assert_eq!(report.entries, 1);
    let output = verify();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(!output.status.success());
    assert!(stdout.contains("BROKEN at entry 2"), "{stdout}");
    assert!(
        stdout.contains(&format!("{}  intact: 1 entries verified", other.id)),
        "the other practice's chain is its own: {stdout}"
    );

    // The last entry removed: the head still says four were written.
    let (third, _) = app.with_practice("Third").await;
    for _ in 0..3 {
        app.store().audit(&test_entry(third.id)).await.unwrap();
    }
    app.execute_sql("DELETE FROM audit_events WHERE seq = 3 AND detail = ''")
        .await;
    let report = app.store().verify_audit_chain(third.id).await.unwrap();
    assert_eq!(report.first_break.expect("a gap at the end").seq, 3);
}

#[tokio::test]
async fn two_instances_writing_at_once_keep_one_chain() {
    let app = TestApp::spawn().await;
    let (practice, admin) = app.with_practice("Harbour").await;
    let second = app.another_instance().await;
    let write = |store: portico::store::Store, n: usize| {
        let entry = NewAudit::new(
            practice.id,
            AuditActor::Staff(admin.id),
            AuditKind::FileDownloaded,
            Millis::now(),
        )
        .detail(format!("{n}"));
        tokio::spawn(async move { store.audit(&entry).await })
    };
    let mut writes = Vec::new();
    for n in 0..40 {
        let store = if n % 2 == 0 {
            app.store().clone()
        } else {
            second.store.clone()
        };
        writes.push(write(store, n));
    }
    for w in writes {
        w.await.unwrap().unwrap();
    }
    let report = app.store().verify_audit_chain(practice.id).await.unwrap();
    assert_eq!(report.first_break, None);
    assert_eq!(report.entries, 40);
    let mut seqs: Vec<i64> = entries(&app, practice.id)
        .await
        .iter()
        .map(|e| e.seq)
        .collect();
    seqs.sort_unstable();
    assert_eq!(seqs, (1..=40).collect::<Vec<_>>());
}

#[tokio::test]
async fn old_entries_go_by_the_retention_and_the_chain_stays_verifiable() {
    let app = TestApp::spawn().await;
    let (practice, admin) = app.with_practice("Harbour").await;
    for _ in 0..3 {
        app.store().audit(&test_entry(practice.id)).await.unwrap();
    }
    // The admin keeps the log 2 years; three years pass.
    let staff = app.staff_browser(&admin.email).await;
    let refused = staff
        .post_form("/app/settings/audit/retention", &[("years", "0")])
        .await;
    assert_eq!(refused.status(), 422);
    let html = refused.text().await.unwrap();
    assert!(html.contains("Keep the log for 1 to 100 years."));
    assert!(html.contains("value=\"0\""), "the typed value is kept");
    let saved = staff
        .post_form("/app/settings/audit/retention", &[("years", "2")])
        .await;
    assert_eq!(location(&saved), "/app/settings/audit?done=saved");
    let kept_before = entries(&app, practice.id).await.len();
    app.clock
        .advance(std::time::Duration::from_secs(3 * 366 * 86_400));
    let mut recent = test_entry(practice.id);
    recent.at = app.clock.now();
    app.store().audit(&recent).await.unwrap();

    let removed = app.app.prune_audit_logs().await.unwrap();
    assert_eq!(
        removed,
        i64::try_from(kept_before).unwrap(),
        "everything older than two years"
    );
    let log = entries(&app, practice.id).await;
    assert_eq!(log.len(), 2, "the recent entry and the removal's own");
    assert_eq!(log[0].action, AuditKind::AuditPruned.code());
    let report = app.store().verify_audit_chain(practice.id).await.unwrap();
    assert_eq!(report.first_break, None);
    assert_eq!(report.anchor_seq, i64::try_from(kept_before).unwrap());
    assert_eq!(report.entries, 2);
    // A second run (another instance, the next day) finds nothing to do.
    assert_eq!(app.app.prune_audit_logs().await.unwrap(), 0);
}

#[tokio::test]
async fn the_audit_log_is_for_the_practices_admins_with_filters_and_csv() {
    let app = TestApp::spawn().await;
    let (practice, admin) = app.with_practice("Harbour").await;
    let p = practice.id;
    let bakery = app.with_client(p, "Northwind Bakery").await;
    let bluegum = app.with_client(p, "Bluegum Landscaping").await;
    let hannah = active(&app, p, "hannah@northwind.example", &[&bakery]).await;
    let olly = active(&app, p, "olly@bluegum.example", &[&bluegum]).await;
    app.with_staff(p, "tom@harbour.example", Role::Member).await;
    let (rival, rival_admin) = app.with_practice("Rival").await;
    let staff = app.staff_browser(&admin.email).await;
    signed_in(&app, &hannah.email).await;
    signed_in(&app, &olly.email).await;
    staff
        .get(&format!("/app/preview/{}/clients/{}", hannah.id, bakery.id))
        .await;

    let (status, html) = staff.page("/app/settings/audit").await;
    assert_eq!(status, 200);
    assert!(html.contains("<strong>portal previewed</strong>"));
    assert!(html.contains("<strong>signed in</strong>"));
    assert!(
        html.contains("class=\"responsive audit\""),
        "it folds on a phone"
    );
    assert!(
        html.contains("<time datetime="),
        "times in the viewer's zone"
    );

    // By person, by client, by kind.
    let (_, html) = staff
        .page(&format!("/app/settings/audit?person=contact:{}", olly.id))
        .await;
    assert!(html.contains("<strong>signed in</strong>"));
    assert!(!html.contains("<strong>portal previewed</strong>"));
    let (_, html) = staff
        .page(&format!(
            "/app/settings/audit?client={}&kind=portal+previewed",
            bakery.id
        ))
        .await;
    assert!(html.contains("<strong>portal previewed</strong>"));
    assert!(!html.contains("<strong>link sent</strong>"));
    // By date: nothing tomorrow; a bad date is refused, the form kept.
    let tomorrow = app
        .clock
        .now()
        .to_timestamp()
        .checked_add(jiff::SignedDuration::from_hours(48))
        .unwrap()
        .strftime("%Y-%m-%d")
        .to_string();
    let (_, html) = staff
        .page(&format!("/app/settings/audit?from={tomorrow}"))
        .await;
    assert!(html.contains("No entries match."));
    let (status, html) = staff
        .page("/app/settings/audit?from=last+week&kind=signed+in")
        .await;
    assert_eq!(status, 422);
    assert!(html.contains("Give the date as YYYY-MM-DD."));
    assert!(html.contains("value=\"last week\""));

    // The CSV: a header, the entries, recorded itself.
    let csv = staff
        .get(&format!(
            "/app/settings/audit/export.csv?client={}",
            bakery.id
        ))
        .await;
    assert_eq!(csv.status(), 200);
    assert!(
        csv.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("attachment;")
    );
    let csv = csv.text().await.unwrap();
    assert!(csv.starts_with(
        "Number,Time,Who,Who (kind),What,Record,Client,Detail,IP address,Request id\n"
    ));
    assert!(csv.contains("portal previewed") && csv.contains("Northwind Bakery"));
    assert!(!csv.contains("Bluegum"), "only the chosen client");
    assert_eq!(
        entries(&app, p)
            .await
            .iter()
            .filter(|e| e.action == AuditKind::AuditExported.code())
            .count(),
        1
    );

    // A member is refused the page, the export and the retention.
    let tom = app.staff_browser("tom@harbour.example").await;
    assert_eq!(tom.get("/app/settings/audit").await.status(), 403);
    assert_eq!(
        tom.get("/app/settings/audit/export.csv").await.status(),
        403
    );
    assert_eq!(
        tom.post_form("/app/settings/audit/retention", &[("years", "1")])
            .await
            .status(),
        403
    );
    // A contact cannot open it; another practice's admin sees only hers.
    let portal = signed_in(&app, &hannah.email).await;
    assert_eq!(portal.get("/app/settings/audit").await.status(), 403);
    let rival_browser = app.staff_browser(&rival_admin.email).await;
    let (status, html) = rival_browser
        .page(&format!("/app/settings/audit?client={}", bakery.id))
        .await;
    assert_eq!(status, 200);
    assert!(html.contains("No entries match."));
    let (_, html) = rival_browser.page("/app/settings/audit").await;
    assert!(!html.contains("Northwind") && !html.contains("<strong>portal previewed</strong>"));
    assert!(
        entries(&app, rival.id)
            .await
            .iter()
            .all(|e| e.client_id.is_none())
    );
}

#[tokio::test]
async fn entries_written_before_the_chain_join_it_at_start_up() {
    let app = TestApp::spawn().await;
    let (practice, _) = app.with_practice("Harbour").await;
    app.store().audit(&test_entry(practice.id)).await.unwrap();
    // An entry as an earlier version wrote it: no number, no hash.
    app.execute_sql(
        "INSERT INTO audit_events (id, practice_id, actor_kind, actor_id, action, subject, created_at) \
         SELECT 'earlier-1', id, 'system', '', 'chat deleted', 'chat:x', 1 FROM practices",
    )
    .await;
    assert_eq!(
        entries(&app, practice.id).await.len(),
        1,
        "not in the log yet"
    );
    // Another instance starts: the entry is chained after the others.
    app.another_instance().await;
    let log = entries(&app, practice.id).await;
    assert_eq!(log.len(), 2);
    assert_eq!(log[0].action, "chat deleted");
    let report = app.store().verify_audit_chain(practice.id).await.unwrap();
    assert_eq!((report.entries, report.first_break), (2, None));
}

/// X2, X5 at a phone's width: the audit log and a client's Data tab fit
/// the screen. Leaves pictures in `target/screenshots/`.
#[tokio::test]
async fn the_audit_log_and_a_clients_data_fit_a_phone() {
    use crate::browser::{PHONE, run_story};
    let app = TestApp::spawn().await;
    let (practice, admin) = app.with_practice("Harbour & Vale Accounting").await;
    let bakery = app.with_client(practice.id, "Northwind Bakery").await;
    active(
        &app,
        practice.id,
        "hannah.brooks-with-a-long-address@northwind-bakery.example",
        &[&bakery],
    )
    .await;
    let width = "arguments[0](document.documentElement.scrollWidth);";
    let shots = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/screenshots");
    let app = &app;
    run_story(
        "the_audit_log_and_a_clients_data_fit_a_phone",
        &app.base_url,
        |browser| async move {
            browser.phone().await;
            browser.goto("/app/sign-in").await;
            browser.fill("#email", &admin.email).await;
            browser.fill("#password", crate::harness::PASSWORD).await;
            browser.press("Sign in").await;
            browser.wait_for_path("/app").await;
            browser.goto("/app/settings/audit").await;
            browser.wait_for_text("table.audit", "signed in").await;
            let scroll = browser.run_async_script(width, vec![]).await;
            assert!(scroll.as_u64().unwrap() <= u64::from(PHONE.0), "{scroll}");
            browser.screenshot(&shots.join("audit-log-phone.png")).await;
            browser
                .goto(&format!("/app/clients/{}/data", bakery.id))
                .await;
            browser.wait_for_text("h2", "Download everything").await;
            let scroll = browser.run_async_script(width, vec![]).await;
            assert!(scroll.as_u64().unwrap() <= u64::from(PHONE.0), "{scroll}");
            browser
                .screenshot(&shots.join("client-data-phone.png"))
                .await;
        },
    )
    .await;
}
