//! The fixture, made through Portico's HTTP API exactly as a browser does
//! (forms with the anti-forgery token and an Origin header), except the two
//! very large chats, which are filled with set-based SQL.

use anyhow::{Context, bail, ensure};
use futures_util::{StreamExt, TryStreamExt, stream};
use reqwest::cookie::CookieStore;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub const ADMIN_EMAIL: &str = "admin@bench.example";
pub const PASSWORD: &str = "a long benchmark password";

/// How big the fixture is.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Sizes {
    pub staff: usize,
    pub clients: usize,
    pub group_chats: usize,
    pub questions: usize,
    pub page_chat_messages: i64,
    pub export_chat_messages: i64,
}

/// A browser: its own cookie jar, an Origin header on every form.
#[derive(Clone)]
pub struct Browser {
    pub base: String,
    pub client: reqwest::Client,
    jar: Arc<reqwest::cookie::Jar>,
}

impl Browser {
    pub fn new(base: &str) -> anyhow::Result<Self> {
        let jar = Arc::new(reqwest::cookie::Jar::default());
        let client = reqwest::Client::builder()
            .cookie_provider(jar.clone())
            .redirect(reqwest::redirect::Policy::none())
            .user_agent("portico-bench")
            .build()
            .context("http client")?;
        Ok(Self {
            base: base.to_owned(),
            client,
            jar,
        })
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn cookie(&self, name: &str) -> Option<String> {
        let url: reqwest::Url = self.base.parse().ok()?;
        let header = self.jar.cookies(&url)?;
        header
            .to_str()
            .ok()?
            .split("; ")
            .find_map(|pair| pair.strip_prefix(&format!("{name}=")).map(str::to_owned))
    }

    /// The `Cookie` header of this browser (session and anti-forgery token).
    pub fn cookie_header(&self) -> anyhow::Result<String> {
        let url: reqwest::Url = self.base.parse().context("base url")?;
        let header = self
            .jar
            .cookies(&url)
            .context("the browser has no cookies")?;
        Ok(header.to_str().context("cookie header")?.to_owned())
    }

    pub async fn csrf(&self) -> anyhow::Result<String> {
        if let Some(token) = self.cookie("portico_csrf") {
            return Ok(token);
        }
        self.get("/").await?;
        self.cookie("portico_csrf")
            .context("no anti-forgery cookie was set")
    }

    pub async fn get(&self, path: &str) -> anyhow::Result<reqwest::Response> {
        self.client
            .get(self.url(path))
            .send()
            .await
            .with_context(|| format!("GET {path}"))
    }

    pub async fn page(&self, path: &str) -> anyhow::Result<String> {
        let response = self.get(path).await?;
        let status = response.status();
        let text = response.text().await.context("page body")?;
        ensure!(status.is_success(), "GET {path}: {status}");
        Ok(text)
    }

    /// Posts a form as a page of Portico does, expecting a redirect;
    /// returns where it points.
    pub async fn post_form(&self, path: &str, fields: &[(&str, &str)]) -> anyhow::Result<String> {
        let csrf = self.csrf().await?;
        let mut form: Vec<(&str, &str)> = fields.to_vec();
        form.push(("csrf", &csrf));
        let response = self
            .client
            .post(self.url(path))
            .header("origin", &self.base)
            .form(&form)
            .send()
            .await
            .with_context(|| format!("POST {path}"))?;
        redirect_target(path, response).await
    }
}

async fn redirect_target(path: &str, response: reqwest::Response) -> anyhow::Result<String> {
    let status = response.status();
    if !status.is_redirection() {
        let text = response.text().await.unwrap_or_default();
        let snippet: String = text.chars().take(400).collect();
        bail!("POST {path} answered {status}: {snippet}");
    }
    Ok(response
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned())
}

/// Someone signed in: their browser and their id in Portico.
#[derive(Clone)]
pub struct Person {
    pub id: String,
    /// `staff` or `contact`, as Portico names member kinds.
    pub kind: &'static str,
    pub browser: Browser,
}

/// Who sends where: a person in one of their chats.
#[derive(Clone)]
pub struct SenderSpec {
    pub person: usize,
    pub chat: String,
    /// `/app/messages/{chat}` or `/portal/messages/{chat}`.
    pub path: String,
}

/// Everything the scenarios need.
pub struct Fixture {
    pub people: Vec<Person>,
    pub admin: usize,
    /// The team member whose staff chat page of the large chat is timed.
    pub page_person: usize,
    /// A team member of the pages' large chat who never opens it: all its
    /// messages stay unread for her.
    pub unread_person: usize,
    /// Interleaved so that the first N cover distinct people and chats.
    pub senders: Vec<SenderSpec>,
    /// `chat id` → member ids (`kind:id`).
    pub members: HashMap<String, Vec<String>>,
    /// Staff chat page of the large chat.
    pub page_chat: String,
    pub export_chat: String,
    /// The portal home of the contact whose client has the questions.
    pub portal_person: usize,
    pub portal_home: String,
    pub seconds: f64,
}

/// Where the fixture's database is, for the bulk inserts.
pub enum Db {
    Sqlite(PathBuf),
    Postgres(String),
}

pub async fn build(base: &str, data_dir: &Path, db: &Db, sizes: &Sizes) -> anyhow::Result<Fixture> {
    let started = Instant::now();
    let admin_browser = Browser::new(base)?;
    admin_browser.csrf().await?;
    let to = admin_browser
        .post_form(
            "/app/sign-in",
            &[("email", ADMIN_EMAIL), ("password", PASSWORD)],
        )
        .await
        .context("admin sign-in")?;
    ensure!(to == "/app", "admin sign-in went to {to:?}");
    let outbox = data_dir.join("outbox");

    // The team: invited by the admin, each choosing a password from the
    // e-mailed welcome link.
    for k in 0..sizes.staff {
        admin_browser
            .post_form(
                "/app/team",
                &[
                    ("name", &format!("Staff {k}")),
                    ("email", &staff_email(k)),
                    ("role", "member"),
                ],
            )
            .await?;
    }
    let staff_browsers: Vec<Browser> = stream::iter(0..sizes.staff)
        .map(|k| {
            let outbox = outbox.clone();
            async move {
                let link = wait_link(&outbox, &staff_email(k), "/app/welcome/").await?;
                let browser = Browser::new(base)?;
                browser.page(&link).await?;
                let to = browser
                    .post_form(&link, &[("password", PASSWORD), ("confirm", PASSWORD)])
                    .await?;
                ensure!(to == "/app", "welcome of staff {k} went to {to:?}");
                Ok::<_, anyhow::Error>(browser)
            }
        })
        .buffered(4)
        .try_collect()
        .await?;
    let team_html = admin_browser.page("/app/team").await?;
    let admin_id = id_in_row(&team_html, ADMIN_EMAIL, "/app/team/")?;
    let mut people = vec![Person {
        id: admin_id,
        kind: "staff",
        browser: admin_browser.clone(),
    }];
    let admin = 0;
    let mut staff = Vec::new();
    for (k, browser) in staff_browsers.into_iter().enumerate() {
        let id = id_in_row(&team_html, &staff_email(k), "/app/team/")?;
        staff.push(people.len());
        people.push(Person {
            id,
            kind: "staff",
            browser,
        });
    }

    // Clients, each added by one team member (who then looks after it),
    // with two contacts, invited by the admin.
    let mut clients = Vec::new();
    let mut contact_ids: Vec<(String, String)> = Vec::new(); // (a, b) per client
    for k in 0..sizes.clients {
        let maker = &people[staff[k % staff.len()]].browser;
        let to = maker
            .post_form(
                "/app/clients",
                &[("name", &format!("Client {k}")), ("kind", "business")],
            )
            .await?;
        let client = to
            .trim_start_matches("/app/clients/")
            .trim_end_matches("/contacts")
            .to_owned();
        ensure!(
            !client.is_empty() && !client.contains('/'),
            "client {k}: {to}"
        );
        let tab = format!("/app/clients/{client}/contacts");
        for side in ["a", "b"] {
            maker
                .post_form(
                    &tab,
                    &[
                        ("name", &format!("Contact {side}{k}")),
                        ("email", &contact_email(side, k)),
                        ("phone", ""),
                    ],
                )
                .await?;
        }
        let html = maker.page(&tab).await?;
        let a = id_in_row(&html, &contact_email("a", k), "/app/preview/")?;
        let b = id_in_row(&html, &contact_email("b", k), "/app/preview/")?;
        for id in [&a, &b] {
            admin_browser
                .post_form(&format!("/app/contacts/{id}/invite"), &[])
                .await?;
        }
        clients.push(client);
        contact_ids.push((a, b));
    }
    let contact_browsers: Vec<(Browser, Browser)> = stream::iter(0..sizes.clients)
        .map(|k| {
            let outbox = outbox.clone();
            async move {
                let a = accept_invitation(base, &outbox, &contact_email("a", k)).await?;
                let b = accept_invitation(base, &outbox, &contact_email("b", k)).await?;
                Ok::<_, anyhow::Error>((a, b))
            }
        })
        .buffered(4)
        .try_collect()
        .await?;
    let mut contact_a = Vec::new();
    let mut contact_b = Vec::new();
    for ((a_id, b_id), (a, b)) in contact_ids.into_iter().zip(contact_browsers) {
        contact_a.push(people.len());
        people.push(Person {
            id: a_id,
            kind: "contact",
            browser: a,
        });
        contact_b.push(people.len());
        people.push(Person {
            id: b_id,
            kind: "contact",
            browser: b,
        });
    }

    // Chats: a direct chat with contact a of each client, opened from the
    // client's page by the team member who looks after it; team chats
    // between pairs of team members; group chats of the admin, two team
    // members and the b contacts.
    let mut direct = Vec::new();
    for k in 0..sizes.clients {
        let maker = &people[staff[k % staff.len()]];
        let to = maker
            .browser
            .post_form(
                &format!("/app/clients/{}/chat", clients[k]),
                &[("contact", &people[contact_a[k]].id)],
            )
            .await?;
        direct.push(chat_of(&to)?);
    }
    let mut team_chats = Vec::new();
    for pair in staff.chunks(2) {
        if let [one, two] = pair {
            let to = people[*one]
                .browser
                .post_form(&format!("/app/messages/with/{}", people[*two].id), &[])
                .await?;
            team_chats.push((chat_of(&to)?, *one, *two));
        }
    }
    let mut groups: Vec<(String, Vec<usize>)> = Vec::new();
    for g in 0..sizes.group_chats {
        let mut fields: Vec<(String, String)> = vec![("title".into(), format!("Group {g}"))];
        let staff_in: Vec<usize> = [g, g + 1].iter().map(|i| staff[i % staff.len()]).collect();
        for s in &staff_in {
            fields.push(("staff".into(), people[*s].id.clone()));
        }
        let contacts_in: Vec<usize> = (0..sizes.clients)
            .filter(|k| k % sizes.group_chats == g)
            .map(|k| contact_b[k])
            .collect();
        for c in &contacts_in {
            fields.push(("contact".into(), people[*c].id.clone()));
        }
        let refs: Vec<(&str, &str)> = fields
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let to = admin_browser.post_form("/app/messages/new", &refs).await?;
        groups.push((chat_of(&to)?, contacts_in));
    }

    // Senders, interleaved: a contact in a direct chat, a team member in a
    // team chat, a contact in a group chat, and round again.
    let mut kinds: [Vec<SenderSpec>; 3] = [Vec::new(), Vec::new(), Vec::new()];
    for (k, chat) in direct.iter().enumerate() {
        kinds[0].push(portal_sender(contact_a[k], chat));
    }
    for (chat, one, two) in &team_chats {
        kinds[1].push(staff_sender(*one, chat));
        kinds[1].push(staff_sender(*two, chat));
    }
    for (chat, contacts_in) in &groups {
        for c in contacts_in {
            kinds[2].push(portal_sender(*c, chat));
        }
    }
    let mut senders = Vec::new();
    let longest = kinds.iter().map(Vec::len).max().unwrap_or(0);
    for i in 0..longest {
        for list in &kinds {
            if let Some(s) = list.get(i) {
                senders.push(s.clone());
            }
        }
    }

    // The questions: one bulk-ask POST of lines to client 0.
    let list: String = (0..sizes.questions)
        .map(|i| format!("Question {i}: please send the statement for account {i}.\n"))
        .collect();
    ask_many(&admin_browser, &clients[0], &list).await?;
    let portal_person = contact_a[0];
    let home = people[portal_person].browser.get("/portal").await?;
    let portal_home = home
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("/portal")
        .to_owned();

    // The two large chats: made through the API, filled with SQL. Each
    // has the admin and one team member; the portal contact is in neither,
    // and the team member whose page is timed is not in the export's chat.
    let page_chat = chat_of(
        &admin_browser
            .post_form(
                "/app/messages/new",
                &[
                    ("title", "Archive (pages)"),
                    ("staff", &people[staff[0]].id),
                    ("staff", &people[staff[1]].id),
                ],
            )
            .await?,
    )?;
    let export_chat = chat_of(
        &admin_browser
            .post_form(
                "/app/messages/new",
                &[
                    ("title", "Archive (export)"),
                    ("staff", &people[staff[1]].id),
                ],
            )
            .await?,
    )?;
    let admin_person = &people[admin];
    fill_chat(db, &page_chat, &admin_person.id, sizes.page_chat_messages).await?;
    fill_chat(
        db,
        &export_chat,
        &admin_person.id,
        sizes.export_chat_messages,
    )
    .await?;

    let members = chat_members(db).await?;
    Ok(Fixture {
        people,
        admin,
        page_person: staff[0],
        unread_person: staff[1],
        senders,
        members,
        page_chat,
        export_chat,
        portal_person,
        portal_home,
        seconds: started.elapsed().as_secs_f64(),
    })
}

fn staff_email(k: usize) -> String {
    format!("staff{k}@bench.example")
}

fn contact_email(side: &str, k: usize) -> String {
    format!("contact-{side}{k}@client{k}.example")
}

fn portal_sender(person: usize, chat: &str) -> SenderSpec {
    SenderSpec {
        person,
        chat: chat.to_owned(),
        path: format!("/portal/messages/{chat}"),
    }
}

fn staff_sender(person: usize, chat: &str) -> SenderSpec {
    SenderSpec {
        person,
        chat: chat.to_owned(),
        path: format!("/app/messages/{chat}"),
    }
}

fn chat_of(location: &str) -> anyhow::Result<String> {
    let chat = location.trim_start_matches("/app/messages/");
    ensure!(
        !chat.is_empty() && !chat.contains('/') && chat != location,
        "expected a chat, got a redirect to {location:?}"
    );
    Ok(chat.to_owned())
}

/// In a table row naming `email`, the id after `prefix` in a link or form.
fn id_in_row(html: &str, email: &str, prefix: &str) -> anyhow::Result<String> {
    let row = html
        .split("<tr>")
        .find(|row| row.contains(&format!(">{email}<")))
        .with_context(|| format!("no row for {email}"))?;
    let at = row
        .find(prefix)
        .with_context(|| format!("no {prefix} in the row of {email}"))?;
    let id: String = row[at + prefix.len()..]
        .chars()
        .take_while(|c| c.is_ascii_hexdigit() || *c == '-')
        .collect();
    ensure!(!id.is_empty(), "no id in the row of {email}");
    Ok(id)
}

/// The link e-mailed to `to` (an `.eml` file the outbox worker writes).
async fn wait_link(outbox: &Path, to: &str, prefix: &str) -> anyhow::Result<String> {
    let deadline = Instant::now() + Duration::from_secs(60);
    let to_line = format!("To: {to}");
    loop {
        if let Ok(mut entries) = tokio::fs::read_dir(outbox).await {
            while let Ok(Some(entry)) = entries.next_entry().await {
                let path = entry.path();
                if path.extension().is_none_or(|e| e != "eml") {
                    continue;
                }
                let Ok(text) = tokio::fs::read_to_string(&path).await else {
                    continue;
                };
                if !text.lines().any(|l| l.trim_end() == to_line) {
                    continue;
                }
                if let Some(at) = text.find(prefix) {
                    let link: String = text[at..]
                        .chars()
                        .take_while(|c| !c.is_whitespace() && !matches!(c, '"' | '<' | '>'))
                        .collect();
                    return Ok(link);
                }
            }
        }
        if Instant::now() > deadline {
            bail!("no e-mail with a {prefix} link reached {to} within 60 s");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn accept_invitation(base: &str, outbox: &Path, email: &str) -> anyhow::Result<Browser> {
    let link = wait_link(outbox, email, "/portal/invitation/").await?;
    let browser = Browser::new(base)?;
    browser.page(&link).await?;
    let to = browser.post_form(&link, &[]).await?;
    ensure!(to == "/portal", "the invitation of {email} went to {to:?}");
    Ok(browser)
}

async fn ask_many(browser: &Browser, client: &str, list: &str) -> anyhow::Result<()> {
    let csrf = browser.csrf().await?;
    let path = format!("/app/clients/{client}/questions/many");
    let form = reqwest::multipart::Form::new().text("list", list.to_owned());
    let response = browser
        .client
        .post(browser.url(&format!("{path}?csrf={csrf}")))
        .header("origin", &browser.base)
        .multipart(form)
        .send()
        .await
        .context("bulk ask")?;
    let to = redirect_target(&path, response).await?;
    ensure!(to.contains("done=asked-many"), "bulk ask went to {to:?}");
    Ok(())
}

/// Fills a chat made through the API with `count` messages from `sender`,
/// in one statement, and moves the chat's counters to match.
async fn fill_chat(db: &Db, chat: &str, sender: &str, count: i64) -> anyhow::Result<()> {
    use sqlx::Connection;
    if count == 0 {
        return Ok(());
    }
    // Message ids are UUIDs: a random prefix and the number.
    let prefix: String = uuid::Uuid::now_v7().to_string().chars().take(23).collect();
    let now = jiff::Timestamp::now().as_millisecond();
    let start = now - count * 1000;
    let body = "'Message ' || i || ': the figures for this quarter are attached, please check the totals.'";
    match db {
        Db::Sqlite(path) => {
            let url = format!("sqlite://{}", path.display());
            let mut conn = sqlx::SqliteConnection::connect(&url)
                .await
                .context("connect to SQLite")?;
            let mut tx = conn.begin().await?;
            let practice: (String,) = sqlx::query_as("SELECT practice_id FROM chats WHERE id = ?")
                .bind(chat)
                .fetch_one(&mut *tx)
                .await?;
            let sql = format!(
                "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?1) \
                 INSERT INTO messages (id, practice_id, chat_id, seq, sender_kind, sender_id, \
                 sender_name, body, idempotency_key, created_at) \
                 SELECT printf('%s-%012x', ?2, i), ?3, ?4, i, 'staff', ?5, 'Bench Admin', {body}, \
                 'bulk-' || ?4 || '-' || i, ?6 + i * 1000 FROM n"
            );
            sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(count)
                .bind(&prefix)
                .bind(&practice.0)
                .bind(chat)
                .bind(sender)
                .bind(start)
                .execute(&mut *tx)
                .await
                .context("filling a chat (SQLite)")?;
            sqlx::query("UPDATE chats SET last_seq = ?1, last_message_at = ?2 WHERE id = ?3")
                .bind(count)
                .bind(start + count * 1000)
                .bind(chat)
                .execute(&mut *tx)
                .await?;
            // The sender has read what they sent, as every send marks it.
            sqlx::query(
                "UPDATE chat_members SET last_read_seq = ?1 WHERE chat_id = ?2 \
                 AND member_kind = 'staff' AND member_id = ?3",
            )
            .bind(count)
            .bind(chat)
            .bind(sender)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
        }
        Db::Postgres(url) => {
            let mut conn = sqlx::PgConnection::connect(url)
                .await
                .context("connect to PostgreSQL")?;
            let mut tx = conn.begin().await?;
            let practice: (String,) = sqlx::query_as("SELECT practice_id FROM chats WHERE id = $1")
                .bind(chat)
                .fetch_one(&mut *tx)
                .await?;
            let sql = format!(
                "INSERT INTO messages (id, practice_id, chat_id, seq, sender_kind, sender_id, \
                 sender_name, body, idempotency_key, created_at) \
                 SELECT $2 || '-' || lpad(to_hex(i), 12, '0'), $3, $4, i, 'staff', $5, 'Bench Admin', \
                 {body}, 'bulk-' || $4 || '-' || i, $6 + i * 1000 \
                 FROM generate_series(1::bigint, $1::bigint) AS i"
            );
            sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(count)
                .bind(&prefix)
                .bind(&practice.0)
                .bind(chat)
                .bind(sender)
                .bind(start)
                .execute(&mut *tx)
                .await
                .context("filling a chat (PostgreSQL)")?;
            sqlx::query("UPDATE chats SET last_seq = $1, last_message_at = $2 WHERE id = $3")
                .bind(count)
                .bind(start + count * 1000)
                .bind(chat)
                .execute(&mut *tx)
                .await?;
            // The sender has read what they sent, as every send marks it.
            sqlx::query(
                "UPDATE chat_members SET last_read_seq = $1 WHERE chat_id = $2 \
                 AND member_kind = 'staff' AND member_id = $3",
            )
            .bind(count)
            .bind(chat)
            .bind(sender)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            // Statistics as autovacuum keeps them on a database in use
            // (the benchmark's server may run without autovacuum).
            sqlx::query("ANALYZE").execute(&mut conn).await?;
        }
    }
    Ok(())
}

/// X1: drops the messages' search index (SQLite's triggers and FTS table,
/// PostgreSQL's generated column, its GIN index and the time index its
/// window reads), so sends can be
/// measured without it on the same database.
pub async fn drop_search_index(db: &Db) -> anyhow::Result<()> {
    use sqlx::Connection;
    match db {
        Db::Sqlite(path) => {
            let mut conn =
                sqlx::SqliteConnection::connect(&format!("sqlite://{}", path.display())).await?;
            sqlx::raw_sql(
                "DROP TRIGGER messages_fts_ai; DROP TRIGGER messages_fts_ad; \
                 DROP TRIGGER messages_fts_au; DROP TABLE messages_fts;",
            )
            .execute(&mut conn)
            .await
            .context("dropping the search index (SQLite)")?;
        }
        Db::Postgres(url) => {
            let mut conn = sqlx::PgConnection::connect(url).await?;
            sqlx::raw_sql(
                "ALTER TABLE messages DROP COLUMN search_vector; DROP INDEX messages_newest_search",
            )
            .execute(&mut conn)
            .await
            .context("dropping the search index (PostgreSQL)")?;
        }
    }
    Ok(())
}

/// Who is in each chat, from the database (`kind:id`).
async fn chat_members(db: &Db) -> anyhow::Result<HashMap<String, Vec<String>>> {
    use sqlx::Connection;
    let sql = "SELECT chat_id, member_kind, member_id FROM chat_members";
    let rows: Vec<(String, String, String)> = match db {
        Db::Sqlite(path) => {
            let mut conn =
                sqlx::SqliteConnection::connect(&format!("sqlite://{}", path.display())).await?;
            sqlx::query_as(sql).fetch_all(&mut conn).await?
        }
        Db::Postgres(url) => {
            let mut conn = sqlx::PgConnection::connect(url).await?;
            sqlx::query_as(sql).fetch_all(&mut conn).await?
        }
    };
    let mut members: HashMap<String, Vec<String>> = HashMap::new();
    for (chat, kind, id) in rows {
        members
            .entry(chat)
            .or_default()
            .push(format!("{kind}:{id}"));
    }
    Ok(members)
}
