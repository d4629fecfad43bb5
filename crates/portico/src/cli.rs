//! The `portico` command line: `serve`, `migrate`, `demo` and `admin …`.

use crate::app::{App, AppError, Settings, demo};
use crate::config::{Config, ConfigArgs};
use crate::domain::Clock;
use crate::server::{Server, keyring_of, open_store, shutdown_signal};
use crate::telemetry;
use anyhow::Context;
use clap::{Parser, Subcommand};
use secrecy::{ExposeSecret, SecretString};
use std::io::BufRead;

#[derive(Parser, Debug)]
#[command(
    name = "portico",
    version,
    about = "Portico: a secure client portal for professional practices.",
    long_about = "Portico: a secure client portal for professional practices.\n\n\
        Settings come from defaults, then the --config file, then PORTICO_* environment \
        variables, then flags. With none at all, `portico serve` keeps everything under \
        ./portico-data and listens on 127.0.0.1:8080."
)]
pub struct Cli {
    #[command(flatten)]
    pub config: ConfigArgs,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the web server (migrating the database first).
    ///
    /// On a fresh embedded database a demo practice is created and how to
    /// sign in is printed, unless --no-demo is given.
    Serve {
        /// Do not create the demo practice on a fresh embedded database.
        #[arg(long, env = "PORTICO_NO_DEMO")]
        no_demo: bool,
    },
    /// Bring the database schema up to date, then exit.
    Migrate,
    /// Create a demo practice (staff, clients, contacts, one family) and
    /// print how to sign in to it.
    Demo,
    /// Operator tasks: practices and staff passwords.
    #[command(subcommand)]
    Admin(AdminCommand),
    /// Copy the database and the files into one archive, while the server
    /// runs (SQLite; on PostgreSQL it says what to use instead).
    Backup {
        /// The archive to write (replaced if it exists, once complete).
        #[arg(long, value_name = "FILE")]
        to: std::path::PathBuf,
    },
    /// Unpack an archive made by `portico backup` into an empty data folder
    /// and a database file that does not exist yet.
    Restore {
        /// The archive to read.
        #[arg(long, value_name = "FILE")]
        from: std::path::PathBuf,
    },
}

#[derive(Subcommand, Debug)]
pub enum AdminCommand {
    /// Create a practice and its first admin. Prints the admin's password
    /// unless one is read from standard input.
    CreatePractice {
        /// The practice's name, e.g. "Harbour & Vale Accounting".
        #[arg(long)]
        name: String,
        /// The first admin's name.
        #[arg(long)]
        admin_name: String,
        /// The first admin's e-mail address, which they sign in with.
        #[arg(long)]
        admin_email: String,
        /// Read the password from the first line of standard input instead
        /// of generating one.
        #[arg(long)]
        password_stdin: bool,
    },
    /// Set a new password for a staff user. Prints it unless one is read
    /// from standard input.
    ResetPassword {
        /// The staff user's e-mail address.
        #[arg(long)]
        email: String,
        /// Read the password from the first line of standard input instead
        /// of generating one.
        #[arg(long)]
        password_stdin: bool,
    },
    /// List the practices on this server.
    ListPractices,
    /// Verify the audit log's hash chain of every practice (or one): each
    /// entry must name the hash of the one before it and match its own.
    /// Reports the first break and exits with status 1 if there is one.
    VerifyAudit {
        /// Only this practice (its id, from list-practices).
        #[arg(long)]
        practice: Option<String>,
    },
    /// Reseal every secret stored in the database (two-factor secrets)
    /// under a new secret key, in one transaction. Stop every instance
    /// first; start them again with the new key.
    ///
    /// The current key is the configured secret_key, or the data folder's
    /// secret.key. When it came from the data folder, that file is replaced
    /// by the new key once every secret is resealed; otherwise set
    /// secret_key (PORTICO_SECRET_KEY) to the new key on every instance.
    RotateKey {
        /// The new key: a file holding 32 random bytes in base64. If the
        /// file does not exist, a new key is generated into it (mode 0600).
        #[arg(long, value_name = "FILE")]
        new_key_file: std::path::PathBuf,
    },
}

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let config = Config::load(&cli.config)?;
    telemetry::init(config.log_format);
    match cli.command {
        Command::Serve { no_demo } => serve(config, no_demo).await,
        Command::Migrate => {
            open_store(&config).await?;
            println!(
                "The database at {} is up to date.",
                config.database_url_for_display()
            );
            Ok(())
        }
        Command::Demo => {
            let app = operator_app(&config).await?;
            let demo = app.create_demo_practice().await.map_err(explain)?;
            print_demo(&demo, &public_url_of(&config));
            Ok(())
        }
        Command::Admin(command) => admin(config, command).await,
        Command::Backup { to } => {
            let manifest = crate::backup::backup(&config, &to).await?;
            println!(
                "Backed up the database and {} files to {}.",
                manifest.files,
                to.display()
            );
            if !manifest.includes_file_store {
                println!(
                    "The files are in the S3 bucket named by files_url: keep them with the bucket's own means (see docs/BACKUPS.md)."
                );
            }
            if !manifest.deleted_meanwhile.is_empty() {
                println!(
                    "{} files deleted while the backup ran are not in it.",
                    manifest.deleted_meanwhile.len()
                );
            }
            Ok(())
        }
        Command::Restore { from } => {
            let manifest = crate::backup::restore(&config, &from).await?;
            println!(
                "Restored the backup of {} ({} files) into {}; the database is at {}.",
                jiff::Timestamp::from_millisecond(manifest.created_at)
                    .map(|t| t.to_string())
                    .unwrap_or_default(),
                manifest.files,
                config.data_dir.display(),
                config.database_url_for_display()
            );
            Ok(())
        }
    }
}

async fn serve(config: Config, no_demo: bool) -> anyhow::Result<()> {
    let embedded = config.embedded_database;
    let database = config.database_url_for_display();
    let server = Server::build(config).await?;
    let public_url = server.public_url().to_owned();
    let fresh = server.app().store.count_practices().await? == 0;
    let demo = if fresh && embedded && !no_demo {
        Some(server.app().create_demo_practice().await.map_err(explain)?)
    } else {
        None
    };
    let addr = server.local_addr()?;
    tracing::info!(%addr, database, "listening");
    println!("Portico is running at {public_url} (database: {database}).");
    match demo {
        Some(demo) => {
            println!(
                "The database was empty, so a demo practice was created (start with --no-demo to skip this)."
            );
            print_demo(&demo, &public_url);
        }
        None if fresh => println!(
            "There is no practice yet. Create one with:\n  portico admin create-practice --name \"…\" --admin-name \"…\" --admin-email you@example.com"
        ),
        None => {}
    }
    println!("Press Ctrl-C to stop.");
    server.run_until_stopped(shutdown_signal()).await
}

fn print_demo(demo: &demo::DemoPractice, public_url: &str) {
    println!("Demo practice: {}", demo.practice.name);
    println!("  Team sign-in: {public_url}/app");
    println!("    e-mail:   {}", demo.admin_email);
    println!("    password: {}", demo.admin_password.expose_secret());
    println!(
        "    (the demo team member {} has the same password)",
        demo.member_email
    );
    println!("  Client portal: {public_url}/portal");
    println!(
        "    contacts sign in with a link sent to their e-mail, e.g. {}",
        demo.contact_email
    );
    println!("  The password is shown only now; `portico admin reset-password` sets a new one.");
}

async fn admin(config: Config, command: AdminCommand) -> anyhow::Result<()> {
    if let AdminCommand::RotateKey { new_key_file } = &command {
        return rotate_key(&config, new_key_file).await;
    }
    let app = operator_app(&config).await?;
    match command {
        AdminCommand::CreatePractice {
            name,
            admin_name,
            admin_email,
            password_stdin,
        } => {
            let (password, generated) = password_from(password_stdin)?;
            let (practice, admin) = app
                .create_practice_with_admin(&name, &admin_name, &admin_email, password.clone())
                .await
                .map_err(explain)?;
            println!("Created the practice {} ({}).", practice.name, practice.id);
            println!(
                "Its admin {} signs in at {}/app",
                admin.email,
                public_url_of(&config)
            );
            if generated {
                println!("Password (shown only now): {}", password.expose_secret());
            }
        }
        AdminCommand::ResetPassword {
            email,
            password_stdin,
        } => {
            let (password, generated) = password_from(password_stdin)?;
            let staff = app
                .reset_staff_password(&email, password.clone())
                .await
                .map_err(|e| match e {
                    AppError::NotFound => {
                        anyhow::anyhow!("no staff user has the e-mail address {email}")
                    }
                    other => explain(other),
                })?;
            println!("Set a new password for {}.", staff.email);
            if generated {
                println!("Password (shown only now): {}", password.expose_secret());
            }
        }
        AdminCommand::RotateKey { .. } => {}
        AdminCommand::VerifyAudit { practice } => {
            let practice = match practice {
                Some(id) => Some(
                    id.parse()
                        .map_err(|_| anyhow::anyhow!("--practice {id:?} is not a practice id"))?,
                ),
                None => None,
            };
            let reports = app.verify_audit(practice).await.map_err(explain)?;
            let mut broken = 0;
            for report in &reports {
                let from = if report.anchor_seq > 0 {
                    format!(
                        " (from entry {}, after older ones were removed)",
                        report.anchor_seq + 1
                    )
                } else {
                    String::new()
                };
                match &report.first_break {
                    None => println!(
                        "{}  intact: {} entries verified{from}",
                        report.practice, report.entries
                    ),
                    Some(at) => {
                        broken += 1;
                        println!(
                            "{}  BROKEN at entry {}: {} ({} entries verified before it){from}",
                            report.practice, at.seq, at.reason, report.entries
                        );
                    }
                }
            }
            if broken > 0 {
                anyhow::bail!("the audit log of {broken} practice(s) has been changed");
            }
        }
        AdminCommand::ListPractices => {
            let practices = app.store.list_practices().await?;
            if practices.is_empty() {
                println!("No practices yet.");
            }
            for practice in practices {
                let staff = app.store.list_staff(practice.id).await?;
                println!(
                    "{}  {}  created {}  {} staff",
                    practice.id,
                    practice.name,
                    practice.created_at.to_timestamp(),
                    staff.len()
                );
            }
        }
    }
    Ok(())
}

/// `portico admin rotate-key --new-key-file FILE`.
async fn rotate_key(config: &Config, new_key_file: &std::path::Path) -> anyhow::Result<()> {
    use crate::keys::{KeySource, Keyring, SecretKey, load_or_create};
    let (old, source) = load_or_create(config.secret_key.as_ref(), &config.data_dir)?;
    let new = match SecretKey::read_file(new_key_file)? {
        Some(key) => key,
        None => {
            let key = SecretKey::generate().create_file(new_key_file)?;
            println!(
                "Generated a new key into {} (readable by its owner only).",
                new_key_file.display()
            );
            key
        }
    };
    if old.id() == new.id() {
        anyhow::bail!("the new key is the current key; give a file with another key");
    }
    let app = unprepared_app(config, Keyring::new(&new)).await?;
    let resealed = app
        .rotate_secret_key(&old, &new)
        .await
        .map_err(|e| anyhow::anyhow!("the key was not rotated (nothing changed): {e}"))?;
    println!(
        "Resealed {resealed} stored secrets under the new key {} (the old key was {}).",
        new.id(),
        old.id()
    );
    match source {
        KeySource::DataFolder(path) => {
            new.replace_file(&path)?;
            println!(
                "{} now holds the new key. Copy it to every instance that has its own data folder, then start them.",
                path.display()
            );
        }
        KeySource::Configured => println!(
            "Set secret_key (PORTICO_SECRET_KEY) to the key in {} on every instance, then start them.",
            new_key_file.display()
        ),
    }
    Ok(())
}

/// The application for a command run by an operator (no web server).
async fn operator_app(config: &Config) -> anyhow::Result<App> {
    let app = unprepared_app(config, keyring_of(config)?).await?;
    app.prepare_secrets()
        .await
        .map_err(|e| anyhow::anyhow!("could not prepare the secrets at rest: {e}"))?;
    Ok(app)
}

/// As [`operator_app`], without the start-up check of the key (for the
/// key rotation, which does its own).
async fn unprepared_app(config: &Config, keys: crate::keys::Keyring) -> anyhow::Result<App> {
    Ok(App::new(
        open_store(config).await?,
        Settings {
            public_url: public_url_of(config),
            send_limit_per_minute: config.send_limit_per_minute,
            notify_delay_secs: config.notify_delay_secs,
        },
        Clock::system(),
        config.file_store()?,
        keys,
    ))
}

/// Where people reach the server, for commands that do not bind it.
fn public_url_of(config: &Config) -> String {
    config
        .public_url
        .clone()
        .unwrap_or_else(|| format!("http://{}", config.listen))
}

/// A password from standard input, or a generated one (and whether it was).
fn password_from(stdin: bool) -> anyhow::Result<(SecretString, bool)> {
    if stdin {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .context("could not read the password from standard input")?;
        Ok((
            SecretString::from(line.trim_end_matches(['\r', '\n']).to_owned()),
            false,
        ))
    } else {
        Ok((demo::random_password(), true))
    }
}

/// A use-case error as one sentence for the operator.
fn explain(error: AppError) -> anyhow::Error {
    match error {
        AppError::Store(inner) => anyhow::Error::new(inner),
        other => anyhow::anyhow!("{other}"),
    }
}
