//! Configuration in layers: built-in defaults, then an optional TOML file,
//! then `PORTICO_*` environment variables, then command-line flags (the
//! last two are merged by clap, flags winning). Unknown keys in the file are
//! refused; a bad value stops start-up with a sentence naming the setting.

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// Settings common to every subcommand, as given on the command line or in
/// the environment. `None` means "not given here": the file or the default
/// decides.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct ConfigArgs {
    /// A TOML configuration file.
    #[arg(long, env = "PORTICO_CONFIG", global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Where Portico keeps its embedded database, files and outbox.
    /// [default: ./portico-data]
    #[arg(long, env = "PORTICO_DATA_DIR", global = true, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,

    /// sqlite://FILE or postgres://USER@HOST/DB.
    /// [default: sqlite://<data-dir>/portico.db]
    #[arg(
        long,
        env = "PORTICO_DATABASE_URL",
        global = true,
        value_name = "URL",
        hide_env_values = true
    )]
    pub database_url: Option<String>,

    /// The address to listen on. [default: 127.0.0.1:8080]
    #[arg(long, env = "PORTICO_LISTEN", global = true, value_name = "ADDR")]
    pub listen: Option<String>,

    /// The address people reach Portico at, used in links in e-mails
    /// (often https://… behind a TLS proxy). [default: http://<listen>]
    #[arg(long, env = "PORTICO_PUBLIC_URL", global = true, value_name = "URL")]
    pub public_url: Option<String>,

    /// Where e-mail is sent: smtp://HOST:PORT (plain), smtp://HOST:PORT?tls=required
    /// (STARTTLS), smtps://HOST:PORT (TLS), with USER:PASSWORD@ before the host
    /// if the server wants them. [default: .eml files in <data-dir>/outbox/]
    #[arg(
        long,
        env = "PORTICO_SMTP_URL",
        global = true,
        value_name = "URL",
        hide_env_values = true
    )]
    pub smtp_url: Option<String>,

    /// The sender of Portico's e-mail. [default: Portico <portico@localhost>]
    #[arg(long, env = "PORTICO_MAIL_FROM", global = true, value_name = "ADDRESS")]
    pub mail_from: Option<String>,

    /// An SMS provider's endpoint for sending a message (a form POST of To,
    /// From and Body). [default: text files in <data-dir>/outbox/sms/]
    #[arg(long, env = "PORTICO_SMS_URL", global = true, value_name = "URL")]
    pub sms_url: Option<String>,

    /// The SMS provider account (the HTTP Basic user name).
    #[arg(
        long,
        env = "PORTICO_SMS_ACCOUNT",
        global = true,
        value_name = "ACCOUNT"
    )]
    pub sms_account: Option<String>,

    /// The SMS provider token (the HTTP Basic password).
    #[arg(
        long,
        env = "PORTICO_SMS_TOKEN",
        global = true,
        value_name = "TOKEN",
        hide_env_values = true
    )]
    pub sms_token: Option<String>,

    /// The number or sender name text messages come from.
    #[arg(long, env = "PORTICO_SMS_FROM", global = true, value_name = "FROM")]
    pub sms_from: Option<String>,

    /// Where uploaded files are kept: s3://BUCKET[/PREFIX] for S3-compatible
    /// storage (credentials from AWS_* variables). [default: <data-dir>/files]
    #[arg(long, env = "PORTICO_FILES_URL", global = true, value_name = "URL")]
    pub files_url: Option<String>,

    /// The endpoint of S3-compatible storage that is not Amazon's.
    #[arg(long, env = "PORTICO_S3_ENDPOINT", global = true, value_name = "URL")]
    pub s3_endpoint: Option<String>,

    /// The largest file accepted, in megabytes. [default: 25]
    #[arg(long, env = "PORTICO_MAX_UPLOAD_MB", global = true, value_name = "MB")]
    pub max_upload_mb: Option<u64>,

    /// The most messages one person may send in a minute; 0 turns the limit
    /// off. Counted by each instance. [default: 60]
    #[arg(
        long,
        env = "PORTICO_SEND_LIMIT_PER_MINUTE",
        global = true,
        value_name = "COUNT"
    )]
    pub send_limit_per_minute: Option<u32>,

    /// X3: the most requests one API token may make in a minute; 0 turns
    /// the limit off. Counted by each instance. [default: 600]
    #[arg(
        long,
        env = "PORTICO_API_LIMIT_PER_MINUTE",
        global = true,
        value_name = "COUNT"
    )]
    pub api_limit_per_minute: Option<u32>,

    /// How long a new message or question may wait unread before its
    /// recipient is told by e-mail or text; 0 tells at once. [default: 120]
    #[arg(
        long,
        env = "PORTICO_NOTIFY_DELAY_SECS",
        global = true,
        value_name = "SECONDS"
    )]
    pub notify_delay_secs: Option<u64>,

    /// Trust the X-Forwarded-For header for the client's address (only behind
    /// a proxy that sets it). [default: false]
    #[arg(
        long,
        env = "PORTICO_TRUST_FORWARDED_FOR",
        global = true,
        value_name = "BOOL"
    )]
    pub trust_forwarded_for: Option<bool>,

    /// Log format: human or json. [default: human]
    #[arg(long, env = "PORTICO_LOG_FORMAT", global = true, value_name = "FORMAT")]
    pub log_format: Option<String>,

    /// Seconds an instance keeps serving after SIGTERM while reporting
    /// itself not ready, so a load balancer moves traffic away first.
    /// [default: 0]
    #[arg(
        long,
        env = "PORTICO_SHUTDOWN_GRACE_SECS",
        global = true,
        value_name = "SECONDS"
    )]
    pub shutdown_grace_secs: Option<u64>,
    /// The secret key (32 random bytes in base64) that encrypts secrets at
    /// rest and signs anti-forgery tokens; every instance on one database
    /// needs the same. [default: generated into <data-dir>/secret.key]
    #[arg(
        long,
        env = "PORTICO_SECRET_KEY",
        global = true,
        value_name = "KEY",
        hide_env_values = true
    )]
    pub secret_key: Option<String>,

    /// A separate address that serves /metrics (e.g. 127.0.0.1:9090).
    /// [default: none]
    #[arg(
        long,
        env = "PORTICO_METRICS_LISTEN",
        global = true,
        value_name = "ADDR"
    )]
    pub metrics_listen: Option<String>,

    /// A bearer token that opens /metrics on the public address.
    /// [default: none: /metrics is not served there]
    #[arg(
        long,
        env = "PORTICO_METRICS_TOKEN",
        global = true,
        value_name = "TOKEN",
        hide_env_values = true
    )]
    pub metrics_token: Option<String>,

    /// X11: the domain of the reply addresses of notification e-mails
    /// (`reply+…@DOMAIN`); its mail must reach Portico. [default: none:
    /// notifications carry no Reply-To]
    #[arg(
        long,
        env = "PORTICO_REPLY_DOMAIN",
        global = true,
        value_name = "DOMAIN"
    )]
    pub reply_domain: Option<String>,

    /// X11: an address where Portico takes replies by SMTP (e.g.
    /// 0.0.0.0:2525). [default: none]
    #[arg(
        long,
        env = "PORTICO_INBOUND_SMTP_LISTEN",
        global = true,
        value_name = "ADDR"
    )]
    pub inbound_smtp_listen: Option<String>,

    /// X11: the secret a mail provider gives to POST /inbound/email.
    /// [default: none: the endpoint is off]
    #[arg(
        long,
        env = "PORTICO_INBOUND_EMAIL_SECRET",
        global = true,
        value_name = "SECRET",
        hide_env_values = true
    )]
    pub inbound_email_secret: Option<String>,

    /// X11: the secret that signs the SMS provider's inbound texts to
    /// POST /inbound/sms. [default: none: the endpoint is off]
    #[arg(
        long,
        env = "PORTICO_SMS_INBOUND_SECRET",
        global = true,
        value_name = "SECRET",
        hide_env_values = true
    )]
    pub sms_inbound_secret: Option<String>,
    /// X12: the VAPID key (a P-256 private key: 32 bytes in base64) that
    /// signs Web Push requests; every instance on one database needs the
    /// same. [default: generated into <data-dir>/vapid.key]
    #[arg(
        long,
        env = "PORTICO_VAPID_PRIVATE_KEY",
        global = true,
        value_name = "KEY",
        hide_env_values = true
    )]
    pub vapid_private_key: Option<String>,

    /// X12: the push services devices may subscribe with, as host names or
    /// their endings, separated by commas. [default: the services of
    /// Chrome, Firefox, Safari and Edge]
    #[arg(
        long,
        env = "PORTICO_PUSH_SERVICE_HOSTS",
        global = true,
        value_name = "HOSTS"
    )]
    pub push_service_hosts: Option<String>,
}

/// The file layer. Every key is optional; unknown keys are an error.
#[derive(Deserialize, Debug, Default)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    data_dir: Option<PathBuf>,
    database_url: Option<String>,
    listen: Option<String>,
    public_url: Option<String>,
    smtp_url: Option<String>,
    mail_from: Option<String>,
    sms_url: Option<String>,
    sms_account: Option<String>,
    sms_token: Option<String>,
    sms_from: Option<String>,
    files_url: Option<String>,
    s3_endpoint: Option<String>,
    max_upload_mb: Option<u64>,
    send_limit_per_minute: Option<u32>,
    api_limit_per_minute: Option<u32>,
    shutdown_grace_secs: Option<u64>,
    notify_delay_secs: Option<u64>,
    trust_forwarded_for: Option<bool>,
    log_format: Option<String>,
    secret_key: Option<String>,
    metrics_listen: Option<String>,
    metrics_token: Option<String>,
    reply_domain: Option<String>,
    inbound_smtp_listen: Option<String>,
    inbound_email_secret: Option<String>,
    sms_inbound_secret: Option<String>,
    vapid_private_key: Option<String>,
    push_service_hosts: Option<String>,
}

/// X12: where browsers' push subscriptions may point (Chrome's FCM,
/// Mozilla's autopush, Apple's and Microsoft's services).
pub const DEFAULT_PUSH_SERVICE_HOSTS: &[&str] = &[
    "fcm.googleapis.com",
    "updates.push.services.mozilla.com",
    "push.services.mozilla.com",
    "web.push.apple.com",
    "notify.windows.com",
];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    Human,
    Json,
}

/// The configuration Portico runs with, every value checked.
#[derive(Clone, Debug)]
pub struct Config {
    pub data_dir: PathBuf,
    pub database_url: SecretString,
    /// True when the database is the embedded default under `data_dir`.
    pub embedded_database: bool,
    pub listen: SocketAddr,
    /// The address in links people follow; `None` means "the address the
    /// server is bound to" (see [`crate::server::Server::public_url`]).
    pub public_url: Option<String>,
    /// `None`: e-mail is written as files to `<data_dir>/outbox/`.
    pub smtp_url: Option<SecretString>,
    pub mail_from: String,
    /// `None`: text messages are written as files to `<data_dir>/outbox/sms/`.
    pub sms: Option<SmsProvider>,
    /// `None`: files are kept under `<data_dir>/files`.
    pub files_url: Option<String>,
    pub s3_endpoint: Option<String>,
    pub max_upload_bytes: u64,
    /// 0: no limit.
    pub send_limit_per_minute: u32,
    /// X3: requests per API token per minute; 0: no limit.
    pub api_limit_per_minute: u32,
    /// How long a stopping instance goes on serving while not ready.
    pub shutdown_grace: std::time::Duration,
    /// N2: seconds an item waits unread before it is notified.
    pub notify_delay_secs: u64,
    pub trust_forwarded_for: bool,
    pub log_format: LogFormat,
    /// `None`: the key in `<data_dir>/secret.key`, generated on first start.
    pub secret_key: Option<SecretString>,
    /// `None`: no separate address serves `/metrics`.
    pub metrics_listen: Option<SocketAddr>,
    /// `None`: `/metrics` is not served on the public address.
    pub metrics_token: Option<SecretString>,
    /// X11: `None`: notifications carry no Reply-To.
    pub reply_domain: Option<String>,
    /// X11: `None`: no SMTP listener.
    pub inbound_smtp_listen: Option<SocketAddr>,
    /// X11: `None`: `POST /inbound/email` is off.
    pub inbound_email_secret: Option<SecretString>,
    /// X11: `None`: `POST /inbound/sms` is off.
    pub sms_inbound_secret: Option<SecretString>,
    /// X12: `None`: the key in `<data_dir>/vapid.key`, generated on first
    /// start.
    pub vapid_private_key: Option<SecretString>,
    /// X12: host names (or their endings) push subscriptions may point to.
    pub push_service_hosts: Vec<String>,
}

/// An SMS provider's HTTP API.
#[derive(Clone, Debug)]
pub struct SmsProvider {
    pub url: String,
    pub account: String,
    pub token: SecretString,
    pub from: String,
}

/// A setting that could not be used, named, with what was expected.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(String);

impl Config {
    /// Merges the layers and checks every value.
    pub fn load(args: &ConfigArgs) -> Result<Self, ConfigError> {
        let file = match &args.config {
            Some(path) => read_file(path)?,
            None => FileConfig::default(),
        };
        let data_dir = args
            .data_dir
            .clone()
            .or(file.data_dir)
            .unwrap_or_else(|| PathBuf::from("portico-data"));
        let (database_url, embedded_database) =
            match args.database_url.clone().or(file.database_url) {
                Some(url) => {
                    crate::store::Backend::from_url(&url).map_err(|e| {
                        ConfigError(format!("database_url (PORTICO_DATABASE_URL): {e}"))
                    })?;
                    (url, false)
                }
                None => (
                    format!("sqlite://{}", data_dir.join("portico.db").display()),
                    true,
                ),
            };
        let listen_text = args
            .listen
            .clone()
            .or(file.listen)
            .unwrap_or_else(|| "127.0.0.1:8080".to_owned());
        let listen: SocketAddr = listen_text.parse().map_err(|_| {
            ConfigError(format!(
                "listen (PORTICO_LISTEN): {listen_text:?} is not an address; expected IP:PORT such as 127.0.0.1:8080"
            ))
        })?;
        let public_url = args
            .public_url
            .clone()
            .or(file.public_url)
            .map(|url| parse_public_url(&url))
            .transpose()?;
        let smtp_url = match args.smtp_url.clone().or(file.smtp_url) {
            Some(url) if url.starts_with("smtp://") || url.starts_with("smtps://") => {
                Some(SecretString::from(url))
            }
            Some(url) => {
                return Err(ConfigError(format!(
                    "smtp_url (PORTICO_SMTP_URL): {:?} is not an SMTP address; expected smtp://HOST:PORT or smtps://HOST:PORT",
                    redact_url(&url)
                )));
            }
            None => None,
        };
        let mail_from = args
            .mail_from
            .clone()
            .or(file.mail_from)
            .unwrap_or_else(|| "Portico <portico@localhost>".to_owned());
        if mail_from.parse::<lettre::message::Mailbox>().is_err() {
            return Err(ConfigError(format!(
                "mail_from (PORTICO_MAIL_FROM): {mail_from:?} is not an e-mail address; expected e.g. Portico <portal@example.com>"
            )));
        }
        let sms = match args.sms_url.clone().or(file.sms_url) {
            None => None,
            Some(url) => {
                if !(url.starts_with("https://") || url.starts_with("http://")) {
                    return Err(ConfigError(format!(
                        "sms_url (PORTICO_SMS_URL): {url:?} is not a web address; expected https://…"
                    )));
                }
                let missing = |name: &str, env: &str| {
                    ConfigError(format!("{name} ({env}) must be set when sms_url is set"))
                };
                Some(SmsProvider {
                    url,
                    account: args
                        .sms_account
                        .clone()
                        .or(file.sms_account)
                        .ok_or_else(|| missing("sms_account", "PORTICO_SMS_ACCOUNT"))?,
                    token: SecretString::from(
                        args.sms_token
                            .clone()
                            .or(file.sms_token)
                            .ok_or_else(|| missing("sms_token", "PORTICO_SMS_TOKEN"))?,
                    ),
                    from: args
                        .sms_from
                        .clone()
                        .or(file.sms_from)
                        .ok_or_else(|| missing("sms_from", "PORTICO_SMS_FROM"))?,
                })
            }
        };
        let files_url = args.files_url.clone().or(file.files_url);
        if let Some(url) = files_url.as_ref().filter(|u| !u.starts_with("s3://")) {
            return Err(ConfigError(format!(
                "files_url (PORTICO_FILES_URL): {url:?} is not an S3 address; expected s3://BUCKET"
            )));
        }
        let max_upload_mb = args.max_upload_mb.or(file.max_upload_mb).unwrap_or(25);
        if !(1..=2048).contains(&max_upload_mb) {
            return Err(ConfigError(format!(
                "max_upload_mb (PORTICO_MAX_UPLOAD_MB): {max_upload_mb} is out of range; expected 1 to 2048"
            )));
        }
        let send_limit_per_minute = args
            .send_limit_per_minute
            .or(file.send_limit_per_minute)
            .unwrap_or(60);
        if send_limit_per_minute > 1_000_000 {
            return Err(ConfigError(format!(
                "send_limit_per_minute (PORTICO_SEND_LIMIT_PER_MINUTE): {send_limit_per_minute} is out of range; expected 0 (no limit) to 1000000"
            )));
        }
        let api_limit_per_minute = args
            .api_limit_per_minute
            .or(file.api_limit_per_minute)
            .unwrap_or(600);
        if api_limit_per_minute > 1_000_000 {
            return Err(ConfigError(format!(
                "api_limit_per_minute (PORTICO_API_LIMIT_PER_MINUTE): {api_limit_per_minute} is out of range; expected 0 (no limit) to 1000000"
            )));
        }
        let shutdown_grace_secs = args
            .shutdown_grace_secs
            .or(file.shutdown_grace_secs)
            .unwrap_or(0);
        if shutdown_grace_secs > 600 {
            return Err(ConfigError(format!(
                "shutdown_grace_secs (PORTICO_SHUTDOWN_GRACE_SECS): {shutdown_grace_secs} is out of range; expected 0 to 600"
            )));
        }
        let notify_delay_secs = args
            .notify_delay_secs
            .or(file.notify_delay_secs)
            .unwrap_or(120);
        if notify_delay_secs > 7 * 24 * 3600 {
            return Err(ConfigError(format!(
                "notify_delay_secs (PORTICO_NOTIFY_DELAY_SECS): {notify_delay_secs} is out of range; expected 0 (at once) to 604800 (a week)"
            )));
        }
        let trust_forwarded_for = args
            .trust_forwarded_for
            .or(file.trust_forwarded_for)
            .unwrap_or(false);
        let log_format = match args.log_format.clone().or(file.log_format).as_deref() {
            None | Some("human") => LogFormat::Human,
            Some("json") => LogFormat::Json,
            Some(other) => {
                return Err(ConfigError(format!(
                    "log_format (PORTICO_LOG_FORMAT): {other:?} is not a log format; expected human or json"
                )));
            }
        };
        let secret_key = args.secret_key.clone().or(file.secret_key);
        if let Some(key) = &secret_key {
            crate::keys::SecretKey::parse(key)
                .map_err(|e| ConfigError(format!("secret_key (PORTICO_SECRET_KEY): {e}")))?;
        }
        let metrics_listen = args
            .metrics_listen
            .clone()
            .or(file.metrics_listen)
            .map(|text| {
                text.parse::<SocketAddr>().map_err(|_| {
                    ConfigError(format!(
                        "metrics_listen (PORTICO_METRICS_LISTEN): {text:?} is not an address; expected IP:PORT such as 127.0.0.1:9090"
                    ))
                })
            })
            .transpose()?;
        let metrics_token = args.metrics_token.clone().or(file.metrics_token);
        if let Some(token) = &metrics_token
            && (token.len() < 16 || !token.bytes().all(|b| b.is_ascii_graphic()))
        {
            return Err(ConfigError(
                "metrics_token (PORTICO_METRICS_TOKEN): expected at least 16 printable characters without spaces (e.g. from `openssl rand -hex 32`)".into(),
            ));
        }
        let reply_domain = args
            .reply_domain
            .clone()
            .or(file.reply_domain)
            .map(|d| d.trim().to_ascii_lowercase())
            .map(|d| {
                let valid = d.contains('.')
                    && d.len() <= 200
                    && d.split('.').all(|label| {
                        !label.is_empty()
                            && label
                                .bytes()
                                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
                    });
                if valid {
                    Ok(d)
                } else {
                    Err(ConfigError(format!(
                        "reply_domain (PORTICO_REPLY_DOMAIN): {d:?} is not a domain; expected a name such as reply.example.com"
                    )))
                }
            })
            .transpose()?;
        let inbound_smtp_listen = args
            .inbound_smtp_listen
            .clone()
            .or(file.inbound_smtp_listen)
            .map(|text| {
                text.parse::<SocketAddr>().map_err(|_| {
                    ConfigError(format!(
                        "inbound_smtp_listen (PORTICO_INBOUND_SMTP_LISTEN): {text:?} is not an address; expected IP:PORT such as 0.0.0.0:2525"
                    ))
                })
            })
            .transpose()?;
        if inbound_smtp_listen.is_some() && reply_domain.is_none() {
            return Err(ConfigError(
                "inbound_smtp_listen (PORTICO_INBOUND_SMTP_LISTEN) needs reply_domain (PORTICO_REPLY_DOMAIN): the listener takes mail for that domain only".into(),
            ));
        }
        let secret = |value: Option<String>, name: &str, env: &str| match value {
            Some(v) if v.len() < 16 || !v.bytes().all(|b| b.is_ascii_graphic()) => {
                Err(ConfigError(format!(
                    "{name} ({env}): expected at least 16 printable characters without spaces (e.g. from `openssl rand -hex 32`)"
                )))
            }
            other => Ok(other.map(SecretString::from)),
        };
        let inbound_email_secret = secret(
            args.inbound_email_secret
                .clone()
                .or(file.inbound_email_secret),
            "inbound_email_secret",
            "PORTICO_INBOUND_EMAIL_SECRET",
        )?;
        let sms_inbound_secret = secret(
            args.sms_inbound_secret.clone().or(file.sms_inbound_secret),
            "sms_inbound_secret",
            "PORTICO_SMS_INBOUND_SECRET",
        )?;
        let vapid_private_key = args.vapid_private_key.clone().or(file.vapid_private_key);
        if let Some(key) = &vapid_private_key {
            crate::keys::SecretKey::parse(key).map_err(|e| {
                ConfigError(format!(
                    "vapid_private_key (PORTICO_VAPID_PRIVATE_KEY): {e}"
                ))
            })?;
        }
        let push_service_hosts = match args.push_service_hosts.clone().or(file.push_service_hosts) {
            None => DEFAULT_PUSH_SERVICE_HOSTS
                .iter()
                .map(|h| (*h).to_owned())
                .collect(),
            Some(text) => {
                let hosts: Vec<String> = text
                    .split(',')
                    .map(|h| h.trim().to_ascii_lowercase())
                    .filter(|h| !h.is_empty())
                    .collect();
                if hosts.iter().any(|h| {
                    !h.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
                }) {
                    return Err(ConfigError(format!(
                        "push_service_hosts (PORTICO_PUSH_SERVICE_HOSTS): {text:?} is not a list of host names; expected e.g. fcm.googleapis.com,push.services.mozilla.com"
                    )));
                }
                hosts
            }
        };
        Ok(Config {
            reply_domain,
            inbound_smtp_listen,
            inbound_email_secret,
            sms_inbound_secret,
            data_dir,
            database_url: SecretString::from(database_url),
            embedded_database,
            listen,
            public_url,
            smtp_url,
            mail_from,
            sms,
            files_url,
            s3_endpoint: args.s3_endpoint.clone().or(file.s3_endpoint),
            max_upload_bytes: max_upload_mb * 1024 * 1024,
            send_limit_per_minute,
            api_limit_per_minute,
            shutdown_grace: std::time::Duration::from_secs(shutdown_grace_secs),
            notify_delay_secs,
            trust_forwarded_for,
            log_format,
            secret_key: secret_key.map(SecretString::from),
            metrics_listen,
            metrics_token: metrics_token.map(SecretString::from),
            vapid_private_key: vapid_private_key.map(SecretString::from),
            push_service_hosts,
        })
    }

    /// The database URL with any password hidden, for messages and logs.
    pub fn database_url_for_display(&self) -> String {
        redact_url(self.database_url.expose_secret())
    }
}

fn read_file(path: &Path) -> Result<FileConfig, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        ConfigError(format!(
            "could not read the configuration file {}: {e}",
            path.display()
        ))
    })?;
    toml::from_str(&text).map_err(|e| {
        ConfigError(format!(
            "the configuration file {} is not valid: {}",
            path.display(),
            e.message()
        ))
    })
}

fn parse_public_url(url: &str) -> Result<String, ConfigError> {
    let trimmed = url.trim().trim_end_matches('/');
    let rest = trimmed
        .strip_prefix("https://")
        .or_else(|| trimmed.strip_prefix("http://"));
    match rest {
        Some(host) if !host.is_empty() && !host.contains(char::is_whitespace) => {
            Ok(trimmed.to_owned())
        }
        _ => Err(ConfigError(format!(
            "public_url (PORTICO_PUBLIC_URL): {url:?} is not a web address; expected http://… or https://…"
        ))),
    }
}

/// `postgres://user:secret@host/db` → `postgres://user:***@host/db`.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let Some((userinfo, host)) = rest.split_once('@') else {
        return url.to_owned();
    };
    match userinfo.split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
        None => url.to_owned(),
    }
}

impl Config {
    /// The file store this configuration names.
    pub fn file_store(&self) -> Result<crate::files::FileStore, ConfigError> {
        match &self.files_url {
            Some(url) => {
                crate::files::FileStore::s3(url, self.s3_endpoint.as_deref(), self.max_upload_bytes)
            }
            None => {
                crate::files::FileStore::local(&self.data_dir.join("files"), self.max_upload_bytes)
            }
        }
        .map_err(ConfigError)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_need_no_configuration() {
        let config = Config::load(&ConfigArgs::default()).unwrap();
        assert_eq!(config.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(config.public_url, None);
        assert!(config.embedded_database);
        assert_eq!(
            config.database_url.expose_secret(),
            "sqlite://portico-data/portico.db"
        );
    }

    #[test]
    fn flags_beat_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("portico.toml");
        std::fs::write(
            &path,
            "listen = \"127.0.0.1:9000\"\nlog_format = \"json\"\n",
        )
        .unwrap();
        let args = ConfigArgs {
            config: Some(path),
            listen: Some("127.0.0.1:9001".into()),
            ..Default::default()
        };
        let config = Config::load(&args).unwrap();
        assert_eq!(config.listen.port(), 9001);
        assert_eq!(config.log_format, LogFormat::Json);
    }

    #[test]
    fn the_notification_window_defaults_to_two_minutes_and_is_checked() {
        let config = Config::load(&ConfigArgs::default()).unwrap();
        assert_eq!(config.notify_delay_secs, 120);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("portico.toml");
        std::fs::write(&path, "notify_delay_secs = 0\n").unwrap();
        let at_once = Config::load(&ConfigArgs {
            config: Some(path),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(at_once.notify_delay_secs, 0);
        let err = Config::load(&ConfigArgs {
            notify_delay_secs: Some(10_000_000),
            ..Default::default()
        })
        .unwrap_err();
        assert!(
            err.to_string().contains("PORTICO_NOTIFY_DELAY_SECS"),
            "{err}"
        );
    }

    #[test]
    fn unknown_keys_in_the_file_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("portico.toml");
        std::fs::write(&path, "lisen = \"127.0.0.1:9000\"\n").unwrap();
        let err = Config::load(&ConfigArgs {
            config: Some(path),
            ..Default::default()
        })
        .unwrap_err();
        assert!(err.0.contains("lisen"), "{err}");
    }

    #[test]
    fn bad_values_name_the_setting() {
        let err = Config::load(&ConfigArgs {
            listen: Some("localhost".into()),
            ..Default::default()
        })
        .unwrap_err();
        assert!(err.0.starts_with("listen (PORTICO_LISTEN)"), "{err}");
        let err = Config::load(&ConfigArgs {
            database_url: Some("mysql://x".into()),
            ..Default::default()
        })
        .unwrap_err();
        assert!(err.0.starts_with("database_url"), "{err}");
        let err = Config::load(&ConfigArgs {
            public_url: Some("portal.example.com".into()),
            ..Default::default()
        })
        .unwrap_err();
        assert!(err.0.starts_with("public_url"), "{err}");
    }

    #[test]
    fn an_sms_provider_needs_all_its_settings() {
        let err = Config::load(&ConfigArgs {
            sms_url: Some("https://sms.example.com/send".into()),
            ..Default::default()
        })
        .unwrap_err();
        assert!(
            err.0
                .starts_with("sms_account (PORTICO_SMS_ACCOUNT) must be set"),
            "{err}"
        );
        let err = Config::load(&ConfigArgs {
            smtp_url: Some("mail.example.com".into()),
            ..Default::default()
        })
        .unwrap_err();
        assert!(err.0.starts_with("smtp_url (PORTICO_SMTP_URL)"), "{err}");
        let err = Config::load(&ConfigArgs {
            mail_from: Some("not an address".into()),
            ..Default::default()
        })
        .unwrap_err();
        assert!(err.0.starts_with("mail_from (PORTICO_MAIL_FROM)"), "{err}");
    }

    #[test]
    fn secret_key_and_metrics_come_from_every_layer() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("portico.toml");
        let key = crate::keys::SecretKey::generate().to_base64();
        std::fs::write(
            &path,
            format!(
                "secret_key = \"{}\"\nmetrics_listen = \"127.0.0.1:9090\"\nmetrics_token = \"from-the-file-0123456789\"\n",
                key.expose_secret()
            ),
        )
        .unwrap();
        let config = Config::load(&ConfigArgs {
            config: Some(path.clone()),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(
            config
                .secret_key
                .as_ref()
                .map(|k| k.expose_secret().to_owned()),
            Some(key.expose_secret().to_owned())
        );
        assert_eq!(config.metrics_listen.map(|a| a.port()), Some(9090));
        let config = Config::load(&ConfigArgs {
            config: Some(path),
            metrics_listen: Some("127.0.0.1:9191".into()),
            metrics_token: Some("from-the-flag-0123456789".into()),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(config.metrics_listen.map(|a| a.port()), Some(9191));
        assert_eq!(
            config
                .metrics_token
                .as_ref()
                .map(|t| t.expose_secret().to_owned()),
            Some("from-the-flag-0123456789".to_owned())
        );
        let defaults = Config::load(&ConfigArgs::default()).unwrap();
        assert!(defaults.secret_key.is_none());
        assert!(defaults.metrics_listen.is_none() && defaults.metrics_token.is_none());
        for (args, name) in [
            (
                ConfigArgs {
                    secret_key: Some("too short".into()),
                    ..Default::default()
                },
                "secret_key (PORTICO_SECRET_KEY)",
            ),
            (
                ConfigArgs {
                    metrics_token: Some("short".into()),
                    ..Default::default()
                },
                "metrics_token (PORTICO_METRICS_TOKEN)",
            ),
            (
                ConfigArgs {
                    metrics_listen: Some("9090".into()),
                    ..Default::default()
                },
                "metrics_listen (PORTICO_METRICS_LISTEN)",
            ),
        ] {
            let err = Config::load(&args).unwrap_err();
            assert!(err.0.starts_with(name), "{err}");
        }
    }

    #[test]
    fn passwords_in_urls_are_hidden() {
        assert_eq!(
            redact_url("postgres://portico:hunter2@db:5432/portico"),
            "postgres://portico:***@db:5432/portico"
        );
        assert_eq!(
            redact_url("sqlite://portico-data/portico.db"),
            "sqlite://portico-data/portico.db"
        );
    }
}
