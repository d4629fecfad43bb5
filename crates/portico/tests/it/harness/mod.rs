//! `TestApp`: the real server on a free port against a fresh database, with
//! builders for the people a story needs; [`World`] and [`Chatting`], the
//! worlds most stories start from; [`Page`], a page asked by selector; and
//! the live sockets of [`live`].
//!
//! The database is SQLite in a temporary folder, or, when
//! `PORTICO_TEST_BACKEND=postgres`, a fresh schema in the PostgreSQL
//! database named by `PORTICO_TEST_POSTGRES_URL`.

pub mod live;
mod page;
mod world;

pub use live::{Socket, closed_for_session_end, next_event, socket, socket_at};
pub use page::Page;
pub use world::{Chat, Chatting, World, ask, ask_with, many_messages_from, say_as};

use portico::app::App;
use portico::config::{Config, ConfigArgs};
use portico::delivery::worker::OutboxWorker;
use portico::domain::{ClientKind, Clock, EmailAddress, Millis, Name, PracticeId, Role};
use portico::server::Server;
use portico::store::{
    Client, Contact, NewClient, NewContact, NewStaff, Practice, Staff, Store, StoreOptions,
};
use secrecy::SecretString;
use std::path::PathBuf;
use tempfile::TempDir;
use tokio::sync::oneshot;

/// The password every staff user made by the builders has.
pub const PASSWORD: &str = "a long test password";

/// A database of its own for one test.
pub struct TestDb {
    pub url: String,
    pub dir: TempDir,
}

impl TestDb {
    /// SQLite, or PostgreSQL when `PORTICO_TEST_BACKEND=postgres`.
    pub async fn from_env() -> Self {
        match std::env::var("PORTICO_TEST_BACKEND").as_deref() {
            Ok("postgres") => Self::postgres()
                .await
                .expect("PORTICO_TEST_BACKEND=postgres needs PORTICO_TEST_POSTGRES_URL"),
            _ => Self::sqlite(),
        }
    }

    pub fn sqlite() -> Self {
        let dir = tempfile::tempdir().expect("temporary folder");
        let url = format!("sqlite://{}", dir.path().join("portico.db").display());
        Self { url, dir }
    }

    /// A fresh schema in the database named by `PORTICO_TEST_POSTGRES_URL`,
    /// or `None` when it is not set.
    pub async fn postgres() -> Option<Self> {
        let base = std::env::var("PORTICO_TEST_POSTGRES_URL").ok()?;
        let schema = format!("t_{}", uuid::Uuid::now_v7().simple());
        let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(&base)
            .await
            .expect("connect to PORTICO_TEST_POSTGRES_URL");
        // The schema name is made here of hex digits, never of input.
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
            .execute(&mut conn)
            .await
            .expect("create a test schema");
        let sep = if base.contains('?') { '&' } else { '?' };
        // Named after the schema, so a test can find its own connections.
        let url =
            format!("{base}{sep}options=-c%20search_path%3D{schema}&application_name={schema}");
        let dir = tempfile::tempdir().expect("temporary folder");
        Some(Self { url, dir })
    }

    pub async fn store(&self) -> Store {
        let store = Store::connect(&self.url, &StoreOptions::default())
            .await
            .expect("open the test database");
        store.migrate().await.expect("migrate the test database");
        store
    }
}

/// A running Portico for one test.
pub struct TestApp {
    pub base_url: String,
    pub app: App,
    pub http: reqwest::Client,
    pub data_dir: PathBuf,
    /// Moves only when the test says so.
    pub clock: Clock,
    pub worker: OutboxWorker,
    /// X11: the SMTP listener for replies, when `inbound_smtp_listen` is set.
    pub inbound_smtp: Option<std::net::SocketAddr>,
    config: Config,
    shutdown: Option<oneshot::Sender<()>>,
    stopped: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
    _db: TestDb,
}

impl TestApp {
    pub async fn spawn() -> Self {
        Self::spawn_with(ConfigArgs::default()).await
    }

    /// A server with some settings of the test's own (e.g. `smtp_url`).
    pub async fn spawn_with(args: ConfigArgs) -> Self {
        Self::spawn_full(args, false).await
    }

    /// A Portico whose `/metrics` answers to `token`.
    pub async fn spawn_with_metrics(token: &str) -> Self {
        Self::spawn_with(ConfigArgs {
            metrics_token: Some(token.into()),
            ..Default::default()
        })
        .await
    }

    /// `/metrics` as an operator with `token` reads it: its status and text.
    pub async fn metrics(&self, token: &str) -> (u16, String) {
        let response = self
            .http
            .get(self.url("/metrics"))
            .bearer_auth(token)
            .send()
            .await
            .expect("GET /metrics");
        let status = response.status().as_u16();
        (status, response.text().await.expect("read /metrics"))
    }

    /// With `background_delivery`, the server's own outbox worker runs;
    /// without, the test delivers with [`TestApp::deliver_mail`].
    pub async fn spawn_full(args: ConfigArgs, background_delivery: bool) -> Self {
        let db = TestDb::from_env().await;
        let data_dir = db.dir.path().join("data");
        let args = ConfigArgs {
            data_dir: Some(data_dir.clone()),
            database_url: Some(db.url.clone()),
            listen: Some("127.0.0.1:0".into()),
            ..args
        };
        let config = Config::load(&args).expect("test configuration");
        let clock = Clock::manual(Millis::now());
        let mut server = Server::build_with_clock(config.clone(), clock.clone())
            .await
            .expect("build the server");
        if !background_delivery {
            server = server.without_background_delivery();
        }
        let addr = server.local_addr().expect("bound address");
        let app = server.app().clone();
        let worker = server.outbox_worker();
        let inbound_smtp = server.inbound_smtp_addr();
        let (tx, rx) = oneshot::channel::<()>();
        let stopped = tokio::spawn(server.run_until_stopped(async move {
            let _ = rx.await;
        }));
        let http = reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("http client");
        Self {
            base_url: format!("http://{addr}"),
            app,
            http,
            data_dir,
            clock,
            worker,
            inbound_smtp,
            config,
            shutdown: Some(tx),
            stopped: Some(stopped),
            _db: db,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.http.get(self.url(path)).send().await.expect("GET")
    }

    pub fn store(&self) -> &Store {
        &self.app.store
    }

    /// The configuration this server runs with.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// A second instance of Portico on the same database and clock, as in
    /// a scale-out deployment (not serving HTTP).
    pub async fn another_instance(&self) -> App {
        let server = Server::build_with_clock(self.config.clone(), self.clock.clone())
            .await
            .expect("a second instance");
        server.app().clone()
    }

    /// A second instance serving HTTP on the same database, as behind a
    /// load balancer; it stops when the returned guard is dropped.
    pub async fn second_server(&self) -> (String, oneshot::Sender<()>) {
        let server = Server::build_with_clock(self.config.clone(), self.clock.clone())
            .await
            .expect("a second instance")
            .without_background_delivery();
        let addr = server.local_addr().expect("bound address");
        let (tx, rx) = oneshot::channel::<()>();
        tokio::spawn(server.run_until_stopped(async move {
            let _ = rx.await;
        }));
        (format!("http://{addr}"), tx)
    }

    /// A browser of its own: its own cookies, sending what a browser sends
    /// (its forms come from the public address, when one is configured).
    pub fn browser(&self) -> Browser {
        let mut browser = Browser::new(&self.base_url);
        if let Some(public_url) = &self.config.public_url {
            browser.origin = public_url.clone();
        }
        browser
    }

    /// A browser signed in as a staff user with [`PASSWORD`].
    pub async fn staff_browser(&self, email: &str) -> Browser {
        let browser = self.browser();
        let response = browser
            .post_form("/app/sign-in", &[("email", email), ("password", PASSWORD)])
            .await;
        assert_eq!(response.status(), 303, "sign-in of {email}");
        browser
    }

    /// Runs the reminders due now, as the server's minute timer would.
    pub async fn run_reminders_now(&self) -> usize {
        self.app.run_reminders().await.expect("reminders")
    }

    /// Delivers everything due in the outbox now.
    pub async fn deliver_mail(&self) -> usize {
        self.worker.run_once().await.expect("outbox worker")
    }

    /// The e-mails written to `<data>/outbox/`, oldest first.
    pub fn mail_files(&self) -> Vec<String> {
        let dir = self.data_dir.join("outbox");
        let mut paths: Vec<_> = std::fs::read_dir(&dir)
            .map(|entries| entries.filter_map(Result::ok).map(|e| e.path()).collect())
            .unwrap_or_default();
        paths.retain(|p| p.extension().is_some_and(|e| e == "eml"));
        paths.sort();
        paths
            .iter()
            .map(|p| std::fs::read_to_string(p).expect("read .eml"))
            .collect()
    }

    /// The path (`/portal/…/TOKEN`) of the latest link e-mailed to `to`
    /// whose path starts with `prefix`.
    pub async fn latest_link(&self, to: &str, prefix: &str) -> String {
        let items = self.store().outbox_for(to).await.expect("outbox");
        // Links are written with the public address when one is configured.
        let base = self.config.public_url.as_deref().unwrap_or(&self.base_url);
        let marker = format!("{base}{prefix}");
        items
            .iter()
            .rev()
            .find_map(|item| {
                item.body_text
                    .split_whitespace()
                    .find(|w| w.starts_with(&marker))
                    .map(|w| w.trim_start_matches(base).to_owned())
            })
            .unwrap_or_else(|| panic!("no {prefix} link e-mailed to {to}"))
    }

    /// Stops the server gracefully and waits for it.
    /// Runs SQL of the test's own on the server's database (e.g. a trigger
    /// that makes a write fail).
    pub async fn execute_sql(&self, sql: &'static str) {
        use secrecy::ExposeSecret;
        use sqlx::Connection;
        sqlx::any::install_default_drivers();
        let mut conn = sqlx::AnyConnection::connect(self.config.database_url.expose_secret())
            .await
            .expect("connect to the test database");
        sqlx::raw_sql(sql)
            .execute(&mut conn)
            .await
            .expect("run the test's SQL");
    }

    /// The URL of the server's database (for connections of the test's own).
    pub fn database_url(&self) -> String {
        use secrecy::ExposeSecret;
        self.config.database_url.expose_secret().to_owned()
    }

    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(handle) = self.stopped.take() {
            handle
                .await
                .expect("server task")
                .expect("server stopped cleanly");
        }
    }

    /// A practice with an admin whose password is [`PASSWORD`].
    pub async fn with_practice(&self, name: &str) -> (Practice, Staff) {
        let slug: String = name.chars().filter(char::is_ascii_alphanumeric).collect();
        self.app
            .create_practice_with_admin(
                name,
                &format!("{name} Admin"),
                &format!("admin@{}.example", slug.to_lowercase()),
                SecretString::from(PASSWORD),
            )
            .await
            .expect("create a practice")
    }

    pub async fn with_staff(&self, practice: PracticeId, email: &str, role: Role) -> Staff {
        let hash = portico::app::password::hash_password(SecretString::from(PASSWORD))
            .await
            .expect("hash");
        self.store()
            .create_staff(
                practice,
                &NewStaff {
                    email: EmailAddress::parse(email).expect("email"),
                    name: Name::parse(email.split('@').next().unwrap_or(email)).expect("name"),
                    role,
                    password_hash: Some(hash),
                },
            )
            .await
            .expect("create staff")
    }

    pub async fn with_client(&self, practice: PracticeId, name: &str) -> Client {
        self.store()
            .create_client(
                practice,
                &NewClient {
                    name: Name::parse(name).expect("name"),
                    kind: ClientKind::Business,
                },
            )
            .await
            .expect("create client")
    }

    /// A contact with access to `clients`.
    pub async fn with_contact(
        &self,
        practice: PracticeId,
        email: &str,
        clients: &[&Client],
    ) -> Contact {
        let contact = self
            .store()
            .create_contact(
                practice,
                &NewContact {
                    email: EmailAddress::parse(email).expect("email"),
                    name: Name::parse(email.split('@').next().unwrap_or(email)).expect("name"),
                    phone: None,
                },
            )
            .await
            .expect("create contact");
        for client in clients {
            self.store()
                .grant_access(practice, contact.id, client.id)
                .await
                .expect("grant access");
        }
        contact
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// A browser: its own cookie jar, an Origin header on every form it posts,
/// and the anti-forgery token of its pages.
pub struct Browser {
    pub base_url: String,
    /// The Origin its forms are sent from.
    pub origin: String,
    pub client: reqwest::Client,
    jar: std::sync::Arc<reqwest::cookie::Jar>,
}

impl Browser {
    pub fn new(base_url: &str) -> Self {
        let jar = std::sync::Arc::new(reqwest::cookie::Jar::default());
        let client = reqwest::Client::builder()
            .cookie_provider(jar.clone())
            .redirect(reqwest::redirect::Policy::none())
            .user_agent("Mozilla/5.0 (X11; Linux x86_64) Firefox/130.0")
            .build()
            .expect("http client");
        Self {
            base_url: base_url.to_owned(),
            origin: base_url.to_owned(),
            client,
            jar,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    /// The same browser (its cookies) at another address: another instance
    /// of the same Portico, as a load balancer would send it there.
    pub fn at(&self, base_url: &str) -> Browser {
        Browser {
            base_url: base_url.to_owned(),
            origin: base_url.to_owned(),
            client: self.client.clone(),
            jar: self.jar.clone(),
        }
    }

    /// A cookie's value, if the browser holds it.
    pub fn cookie(&self, name: &str) -> Option<String> {
        use reqwest::cookie::CookieStore;
        let url: reqwest::Url = self.base_url.parse().expect("url");
        let header = self.jar.cookies(&url)?;
        header
            .to_str()
            .ok()?
            .split("; ")
            .find_map(|pair| pair.strip_prefix(&format!("{name}=")).map(str::to_owned))
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client.get(self.url(path)).send().await.expect("GET")
    }

    /// GETs a page and returns its status and HTML.
    pub async fn page(&self, path: &str) -> (u16, String) {
        let response = self.get(path).await;
        let status = response.status().as_u16();
        (status, response.text().await.expect("body"))
    }

    /// GETs a page following redirects, as a browser would.
    pub async fn follow(&self, path: &str) -> (u16, String) {
        let mut path = path.to_owned();
        for _ in 0..5 {
            let response = self.get(&path).await;
            if response.status().is_redirection() {
                path = location(&response);
                continue;
            }
            let status = response.status().as_u16();
            return (status, response.text().await.expect("body"));
        }
        panic!("too many redirects from {path}");
    }

    /// The anti-forgery token, fetching the front page first if need be.
    /// (`__Host-portico_csrf` when the public address is https.)
    pub async fn csrf(&self) -> String {
        let token = || {
            self.cookie("portico_csrf")
                .or_else(|| self.cookie("__Host-portico_csrf"))
        };
        if let Some(token) = token() {
            return token;
        }
        self.get("/").await;
        token().expect("the csrf cookie is set on any page")
    }

    /// Posts a multipart form as a page of Portico would: the token in the
    /// query, the Origin set.
    pub async fn post_multipart(
        &self,
        path: &str,
        form: reqwest::multipart::Form,
    ) -> reqwest::Response {
        let csrf = self.csrf().await;
        let sep = if path.contains('?') { '&' } else { '?' };
        self.client
            .post(self.url(&format!("{path}{sep}csrf={csrf}")))
            .header("origin", &self.base_url)
            .multipart(form)
            .send()
            .await
            .expect("POST")
    }

    /// Sends a message to the chat at `path` as its page's form does.
    pub async fn say(&self, path: &str, body: &str, key: &str) -> reqwest::Response {
        self.post_form(path, &[("body", body), ("key", key)]).await
    }

    /// Posts a form as a page of Portico would: with the token and Origin.
    pub async fn post_form(&self, path: &str, fields: &[(&str, &str)]) -> reqwest::Response {
        let csrf = self.csrf().await;
        let mut form: Vec<(&str, &str)> = fields.to_vec();
        form.push(("csrf", &csrf));
        self.client
            .post(self.url(path))
            .header("origin", &self.origin)
            .form(&form)
            .send()
            .await
            .expect("POST")
    }
}

/// An admin invites Priya N (a member) from the team page; the answer
/// redirects to the team page when the invitation went out.
pub async fn invite_priya(admin: &Browser) -> reqwest::Response {
    admin
        .post_form(
            "/app/team",
            &[
                ("name", "Priya N"),
                ("email", "priya@harbour.example"),
                ("role", "member"),
            ],
        )
        .await
}

/// Where a redirect points.
pub fn location(response: &reqwest::Response) -> String {
    response
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned()
}

/// A contact of `clients` who has activated her account (A4).
pub async fn active(
    app: &TestApp,
    practice: PracticeId,
    email: &str,
    clients: &[&Client],
) -> Contact {
    let contact = app.with_contact(practice, email, clients).await;
    app.store()
        .set_contact_status(practice, contact.id, portico::store::ContactStatus::Active)
        .await
        .unwrap();
    contact
}

/// An active contact of one client with a mobile number (or none), for
/// stories that text her.
pub async fn active_with_phone(
    app: &TestApp,
    practice: PracticeId,
    email: &str,
    phone: Option<&str>,
    client: &Client,
) -> Contact {
    let contact = app
        .store()
        .create_contact(
            practice,
            &NewContact {
                email: EmailAddress::parse(email).expect("email"),
                name: Name::parse(email.split('@').next().unwrap_or(email)).expect("name"),
                phone: phone.map(|p| portico::domain::PhoneNumber::parse(p).expect("phone")),
            },
        )
        .await
        .expect("create contact");
    app.store()
        .grant_access(practice, contact.id, client.id)
        .await
        .expect("grant access");
    app.store()
        .set_contact_status(practice, contact.id, portico::store::ContactStatus::Active)
        .await
        .expect("activate");
    contact
}

/// A browser signed in to the portal as `email`, by an e-mailed link (A2).
pub async fn signed_in(app: &TestApp, email: &str) -> Browser {
    let browser = app.browser();
    browser
        .post_form("/portal/sign-in/link", &[("email", email)])
        .await;
    let link = app.latest_link(email, "/portal/link/").await;
    let response = browser.post_form(&link, &[]).await;
    assert_eq!(response.status(), 303, "{email} signed in with the link");
    assert!(
        location(&response).starts_with("/portal"),
        "{email} signed in to the portal"
    );
    browser
}

/// A port that was free a moment ago.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .port()
}

/// Where a test's own calls to the use cases come from (their audit
/// entries name it).
pub fn origin() -> portico::app::sessions::ClientInfo {
    portico::app::sessions::ClientInfo {
        ip: "192.0.2.1".into(),
        user_agent: "test".into(),
        request_id: "test-request".into(),
    }
}

/// An audit entry for a test's direct calls to the store.
pub fn test_entry(practice: PracticeId) -> portico::store::NewAudit {
    portico::store::NewAudit::new(
        practice,
        portico::store::AuditActor::System,
        portico::store::AuditKind::SettingsChanged,
        Millis::now(),
    )
}

/// Posts a multipart form as a page would (token in the query, Origin set).
pub async fn post_files(
    browser: &Browser,
    path: &str,
    body: &str,
    files: Vec<(&str, Vec<u8>)>,
) -> reqwest::Response {
    let mut form = reqwest::multipart::Form::new().text("body", body.to_owned());
    for (name, bytes) in files {
        form = form.part(
            "files",
            reqwest::multipart::Part::bytes(bytes).file_name(name.to_owned()),
        );
    }
    browser.post_multipart(path, form).await
}

/// The authenticator key written on the two-factor set-up page.
pub fn totp_key(html: &str) -> String {
    let start = html
        .find("Type this key instead: <code>")
        .expect("key on page")
        + 29;
    html[start..].split('<').next().expect("key").to_owned()
}

/// Sends a PDF named `name` into the chat at `path` (staff or portal).
pub async fn send_chat_file(browser: &Browser, path: &str, key: &str, name: &str) {
    let form = reqwest::multipart::Form::new()
        .text("body", format!("Here is {name}"))
        .text("key", key.to_owned())
        .part(
            "files",
            reqwest::multipart::Part::bytes(b"%PDF-1.7\n1 0 obj\n<<>>\nendobj\n".to_vec())
                .file_name(name.to_owned()),
        );
    let response = browser.post_multipart(&format!("{path}/files"), form).await;
    assert_eq!(location(&response), path, "{name} sent");
}
