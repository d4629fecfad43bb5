//! `TestApp`: the real server on a free port against a fresh database, with
//! builders for the people a story needs.
//!
//! The database is SQLite in a temporary folder, or, when
//! `PORTICO_TEST_BACKEND=postgres`, a fresh schema in the PostgreSQL
//! database named by `PORTICO_TEST_POSTGRES_URL`.

use portico::app::App;
use portico::config::{Config, ConfigArgs};
use portico::domain::{ClientKind, EmailAddress, Name, PracticeId, Role};
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
        let url = format!("{base}{sep}options=-c%20search_path%3D{schema}");
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
    shutdown: Option<oneshot::Sender<()>>,
    stopped: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
    _db: TestDb,
}

impl TestApp {
    pub async fn spawn() -> Self {
        let db = TestDb::from_env().await;
        let data_dir = db.dir.path().join("data");
        let args = ConfigArgs {
            data_dir: Some(data_dir.clone()),
            database_url: Some(db.url.clone()),
            listen: Some("127.0.0.1:0".into()),
            ..Default::default()
        };
        let config = Config::load(&args).expect("test configuration");
        let server = Server::build(config).await.expect("build the server");
        let addr = server.local_addr().expect("bound address");
        let app = server.app().clone();
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

    /// Stops the server gracefully and waits for it.
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
