//! Building and running the server: the data folder, the database, the
//! listener, and a graceful stop that lets requests in flight finish.

use crate::app::{App, Settings};
use crate::config::Config;
use crate::delivery::Mailer;
use crate::delivery::sms::SmsSender;
use crate::delivery::worker::OutboxWorker;
use crate::domain::Clock;
use crate::http::{AppState, Metrics, metrics_router, router};
use crate::store::{Store, StoreOptions};
use anyhow::Context;
use secrecy::ExposeSecret;
use std::future::Future;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use tokio::net::TcpListener;

/// A server that is bound and migrated, ready to run.
pub struct Server {
    listener: TcpListener,
    /// X11: `inbound_smtp_listen`: replies to notifications by SMTP.
    inbound_smtp: Option<TcpListener>,
    /// `metrics_listen`: `/metrics` alone, off the public address.
    metrics_listener: Option<TcpListener>,
    state: AppState,
    worker: OutboxWorker,
    background_delivery: bool,
}

/// Checks the data folder exists (creating it) and can be written to.
pub fn prepare_data_dir(dir: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir)
        .with_context(|| format!("could not create the data folder {}", dir.display()))?;
    let probe = dir.join(".portico-write-check");
    std::fs::write(&probe, b"ok")
        .with_context(|| format!("the data folder {} is not writable", dir.display()))?;
    let _ = std::fs::remove_file(probe);
    Ok(())
}

/// The keys of the configured secret key, or of the data folder's
/// (generated on first start).
pub fn keyring_of(config: &Config) -> anyhow::Result<crate::keys::Keyring> {
    let (key, _) = crate::keys::load_or_create(config.secret_key.as_ref(), &config.data_dir)?;
    Ok(crate::keys::Keyring::new(&key))
}

/// Opens the configured database and brings its schema up to date.
pub async fn open_store(config: &Config) -> anyhow::Result<Store> {
    prepare_data_dir(&config.data_dir)?;
    let store = Store::connect(
        config.database_url.expose_secret(),
        &StoreOptions::default(),
    )
    .await
    .with_context(|| {
        format!(
            "could not open the database at {}",
            config.database_url_for_display()
        )
    })?;
    store.migrate().await.with_context(|| {
        format!(
            "could not update the database schema at {}",
            config.database_url_for_display()
        )
    })?;
    Ok(store)
}

impl Server {
    /// Opens the store and binds the listening socket (port 0 picks a free one).
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        Self::build_with_clock(config, Clock::system()).await
    }

    /// As [`Server::build`], with a clock of the caller's (tests move it).
    pub async fn build_with_clock(config: Config, clock: Clock) -> anyhow::Result<Self> {
        let store = open_store(&config).await?.with_clock(clock.clone());
        Self::with_store(config, store, clock).await
    }

    pub async fn with_store(config: Config, store: Store, clock: Clock) -> anyhow::Result<Self> {
        // One TLS implementation for the whole process (SMTP and SMS).
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mailer = match &config.smtp_url {
            Some(url) => Mailer::smtp(url.expose_secret()).map_err(anyhow::Error::msg)?,
            None => Mailer::Files(config.data_dir.join("outbox")),
        };
        let sms = match &config.sms {
            Some(provider) => SmsSender::http(
                provider.url.clone(),
                provider.account.clone(),
                provider.token.clone(),
                provider.from.clone(),
            )
            .map_err(anyhow::Error::msg)?,
            None => SmsSender::Files(config.data_dir.join("outbox").join("sms")),
        };
        let from = config.mail_from.parse().map_err(|_| {
            anyhow::anyhow!("mail_from (PORTICO_MAIL_FROM) is not an e-mail address")
        })?;
        let listener = TcpListener::bind(config.listen).await.with_context(|| {
            format!(
                "could not listen on {} (is another Portico running there? choose another address with --listen or PORTICO_LISTEN)",
                config.listen
            )
        })?;
        let inbound_smtp = match config.inbound_smtp_listen {
            Some(addr) => Some(TcpListener::bind(addr).await.with_context(|| {
                format!("could not listen for e-mail on {addr} (inbound_smtp_listen, PORTICO_INBOUND_SMTP_LISTEN)")
            })?),
            None => None,
        };
        let metrics_listener = match config.metrics_listen {
            Some(addr) => Some(TcpListener::bind(addr).await.with_context(|| {
                format!("could not listen for metrics on {addr} (metrics_listen, PORTICO_METRICS_LISTEN)")
            })?),
            None => None,
        };
        let bound = listener.local_addr()?;
        let public_url = config
            .public_url
            .clone()
            .unwrap_or_else(|| format!("http://{bound}"));
        let mut app = App::new(
            store.clone(),
            Settings {
                public_url: public_url.clone(),
                send_limit_per_minute: config.send_limit_per_minute,
                notify_delay_secs: config.notify_delay_secs,
            },
            clock.clone(),
            config.file_store()?,
            keyring_of(&config)?,
        )
        .with_channels(crate::app::inbound::ChannelSettings {
            reply_domain: config.reply_domain.clone(),
            sms_replies: config.sms_inbound_secret.is_some(),
        });
        // X12: the VAPID key, configured or generated into the data folder.
        let vapid = Arc::new(
            crate::delivery::push::VapidKey::load_or_create(
                config.vapid_private_key.as_ref(),
                &config.data_dir,
            )
            .map_err(|e| anyhow::anyhow!("vapid_private_key (PORTICO_VAPID_PRIVATE_KEY): {e}"))?,
        );
        app.push = Some(Arc::new(crate::app::push::PushSetup {
            key: vapid.clone(),
            hosts: config.push_service_hosts.clone(),
        }));
        let push = crate::delivery::push::PushSender::new(vapid, &config.mail_from)
            .map_err(anyhow::Error::msg)?;
        app.prepare_secrets()
            .await
            .map_err(|e| anyhow::anyhow!("could not prepare the secrets at rest: {e}"))?;
        // X2: entries written before the audit log was chained join it.
        store
            .chain_earlier_audit_events()
            .await
            .map_err(|e| anyhow::anyhow!("could not chain the earlier audit entries: {e}"))?;
        let worker = OutboxWorker::new(store, mailer, sms, from, clock, app.outbox_wake.clone())
            .with_push(push);
        let state = AppState {
            public_url: Arc::from(public_url),
            app,
            config: Arc::new(config),
            metrics: Arc::new(Metrics::new()),
            draining: Arc::default(),
        };
        Ok(Self {
            listener,
            inbound_smtp,
            metrics_listener,
            state,
            worker,
            background_delivery: true,
        })
    }

    pub fn local_addr(&self) -> anyhow::Result<SocketAddr> {
        Ok(self.listener.local_addr()?)
    }

    /// The separate address serving `/metrics`, when `metrics_listen` is set.
    /// The address of the SMTP listener for replies (X11), when set.
    pub fn inbound_smtp_addr(&self) -> Option<SocketAddr> {
        self.inbound_smtp.as_ref().and_then(|l| l.local_addr().ok())
    }

    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics_listener
            .as_ref()
            .and_then(|l| l.local_addr().ok())
    }

    /// The address people reach this server at, for links.
    pub fn public_url(&self) -> &str {
        &self.state.public_url
    }

    pub fn app(&self) -> &App {
        &self.state.app
    }

    /// Leaves the outbox to [`OutboxWorker::run_once`] calls of the caller
    /// instead of a background task (tests that count deliveries).
    pub fn without_background_delivery(mut self) -> Self {
        self.background_delivery = false;
        self
    }

    /// The outbox worker this server runs (tests drive it directly too).
    pub fn outbox_worker(&self) -> OutboxWorker {
        self.worker.clone()
    }

    /// Serves until `shutdown` completes, then stops accepting connections
    /// and waits for requests in flight to finish.
    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let store = self.state.app.store.clone();
        let relay = self.relay_live_events().await;
        let stop_worker = Arc::new(tokio::sync::Notify::new());
        let worker = self
            .background_delivery
            .then(|| tokio::spawn(self.worker.run_until(stop_worker.clone())));
        let sweeper = self
            .background_delivery
            .then(|| tokio::spawn(self.state.app.file_sweeper().run()));
        let webhooks = self
            .background_delivery
            .then(|| tokio::spawn(self.state.app.webhook_worker().run()));
        let reminders = self.background_delivery.then(|| {
            let app = self.state.app.clone();
            tokio::spawn(async move {
                // Q5: due reminders go out within a minute of their slot; the
                // claim per slot keeps several instances from sending twice.
                let mut tick = tokio::time::interval(std::time::Duration::from_secs(60));
                loop {
                    tick.tick().await;
                    if let Err(error) = app.run_reminders().await {
                        tracing::error!(%error, "could not send reminders");
                    }
                }
            })
        });
        let audit_retention = self.background_delivery.then(|| {
            let app = self.state.app.clone();
            tokio::spawn(async move {
                // X2: once a day (and at start), each practice's entries
                // past its retention go; several instances take turns on
                // the chain's lock, the second finds nothing to remove.
                let mut tick = tokio::time::interval(std::time::Duration::from_secs(24 * 3600));
                loop {
                    tick.tick().await;
                    match app.prune_audit_logs().await {
                        Ok(0) => {}
                        Ok(removed) => tracing::info!(removed, "old audit entries removed"),
                        Err(error) => tracing::error!(%error, "could not remove old audit entries"),
                    }
                }
            })
        });
        let notifications = self.background_delivery.then(|| {
            let app = self.state.app.clone();
            tokio::spawn(crate::app::notify::run_notification_job(app))
        });
        let scheduled = self.background_delivery.then(|| {
            let app = self.state.app.clone();
            tokio::spawn(async move {
                // X10: scheduled messages go out within seconds of their
                // time; each is claimed, so several instances send it once.
                let mut tick = tokio::time::interval(std::time::Duration::from_secs(5));
                loop {
                    tick.tick().await;
                    if let Err(error) = app.run_scheduled_sends().await {
                        tracing::error!(%error, "could not send scheduled messages");
                    }
                    if let Err(error) = app.run_scheduled_questions().await {
                        tracing::error!(%error, "could not ask scheduled questions");
                    }
                }
            })
        });
        // A socket never outlives its session, however the session ended
        // (another process, a clock that passed its end): checked often.
        let sockets = {
            let app = self.state.app.clone();
            tokio::spawn(async move {
                let mut tick = tokio::time::interval(crate::app::sessions::SOCKET_CHECK_EVERY);
                tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                loop {
                    tick.tick().await;
                    if let Err(error) = app.close_ended_sockets().await {
                        tracing::warn!(%error, "could not check the open sockets' sessions");
                    }
                }
            })
        };
        let inbound_smtp = self.inbound_smtp.map(|listener| {
            let app = self.state.app.clone();
            let domain = self.state.config.reply_domain.clone().unwrap_or_default();
            // A message with its attachments, encoded: a third more than
            // the largest file, and some room.
            let max = usize::try_from(self.state.config.max_upload_bytes.saturating_mul(2))
                .unwrap_or(usize::MAX)
                .max(1024 * 1024);
            tokio::spawn(crate::inbound_smtp::serve(listener, app, domain, max))
        });
        let metrics = self.metrics_listener.map(|listener| {
            let router = metrics_router(self.state.clone());
            tokio::spawn(async move {
                if let Err(error) = axum::serve(listener, router).await {
                    tracing::error!(%error, "the metrics address stopped");
                }
            })
        });
        // Stopping (X4, a rolling restart): first report not ready and tell
        // open pages to reconnect elsewhere, keep serving for the grace
        // period while the load balancer notices, then stop accepting and
        // let requests in flight finish.
        let draining = self.state.draining.clone();
        let hub = self.state.app.live.clone();
        let grace = self.state.config.shutdown_grace;
        let drain = async move {
            shutdown.await;
            draining.store(true, std::sync::atomic::Ordering::SeqCst);
            let told = hub.restart_all();
            tracing::info!(
                sockets = told,
                ?grace,
                "draining: open pages were told to reconnect"
            );
            tokio::time::sleep(grace).await;
        };
        let served = axum::serve(
            self.listener,
            router(self.state).into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(drain)
        .await
        .context("the server stopped with an error");
        // What the last requests published still reaches the other
        // instances: the relay sends what it holds, then stops.
        relay.stop.cancel();
        for task in relay.draining {
            if tokio::time::timeout(RELAY_DRAINS_WITHIN, task)
                .await
                .is_err()
            {
                tracing::warn!(
                    "the relay did not empty in time; pages on other instances catch up when they reconnect"
                );
            }
        }
        // The outbox worker finishes the batch it claimed (so nothing it
        // sent is sent again by another instance) and stops.
        if let Some(worker) = worker {
            stop_worker.notify_one();
            if tokio::time::timeout(WORKER_FINISHES_WITHIN, worker)
                .await
                .is_err()
            {
                tracing::warn!(
                    "the outbox worker did not finish in time; its claims run out and another instance sends them"
                );
            }
        }
        for task in [
            sweeper,
            webhooks,
            reminders,
            audit_retention,
            notifications,
            scheduled,
            Some(sockets),
            metrics,
            inbound_smtp,
        ]
        .into_iter()
        .flatten()
        .chain(relay.listening)
        {
            task.abort();
        }
        store.close().await;
        served
    }
}

impl Server {
    /// On PostgreSQL, live events cross instances (X4): this instance's
    /// go out by `NOTIFY`, the others' come in by `LISTEN`.
    async fn relay_live_events(&self) -> Relay {
        let app = &self.state.app;
        let stop = tokio_util::sync::CancellationToken::new();
        let mut relay = Relay {
            stop: stop.clone(),
            draining: Vec::new(),
            listening: Vec::new(),
        };
        if app.store.backend() != crate::store::Backend::Postgres {
            return relay;
        }
        let Some(mut outgoing) = app.live.start_relay().await else {
            return relay;
        };
        let hub = app.live.clone();
        let store = app.store.clone();
        let stopping = stop.clone();
        let send = tokio::spawn(async move {
            // Events that piled up while the last NOTIFYs went out travel
            // together: one NOTIFY carries a JSON array of them, and one
            // statement sends every NOTIFY they need.
            let mut events = Vec::new();
            while receive_until_stopped(&mut outgoing, &mut events, 256, &stopping).await > 0 {
                let payloads = events.drain(..).flat_map(|relayed| {
                    let wire = hub.wire(relayed);
                    if !wire.ended_sessions.is_empty() {
                        // Many ended sessions (a deactivated member's) go
                        // in as many notifications as they need.
                        let origin = wire.origin;
                        return wire
                            .ended_sessions
                            .chunks(64)
                            .map(|sessions| {
                                serde_json::to_string(&crate::delivery::live::WireEvent {
                                    origin: origin.clone(),
                                    practice: wire.practice,
                                    recipients: Vec::new(),
                                    event: None,
                                    ended_sessions: sessions.to_vec(),
                                    people_changed: Vec::new(),
                                })
                                .unwrap_or_default()
                            })
                            .collect::<Vec<_>>();
                    }
                    let mut wire = wire;
                    let mut payload = serde_json::to_string(&wire).unwrap_or_default();
                    if payload.len() > RELAY_BYTES {
                        // NOTIFY takes 8000 bytes: pages fetch a long body themselves.
                        if let Some(event) = wire.event.as_mut() {
                            event.drop_body();
                        }
                        payload = serde_json::to_string(&wire).unwrap_or_default();
                    }
                    vec![payload]
                });
                if let Err(error) = store.notify_instances(&relay_batches(payloads)).await {
                    tracing::warn!(%error, "could not relay live events to the other instances");
                }
            }
        });
        let changes = match app.store.changes().take_relay() {
            Some(mut marks) => {
                let hub = app.live.clone();
                let store = app.store.clone();
                let stopping = stop.clone();
                Some(tokio::spawn(async move {
                    // Marks that piled up while the last NOTIFY went out
                    // travel together, each practice once.
                    let mut practices = Vec::new();
                    while receive_until_stopped(&mut marks, &mut practices, 512, &stopping).await
                        > 0
                    {
                        practices.sort_unstable();
                        practices.dedup();
                        let payloads = std::mem::take(&mut practices)
                            .chunks(100)
                            .map(|chunk| {
                                serde_json::to_string(&hub.wire_changes(chunk.to_vec()))
                                    .unwrap_or_default()
                            })
                            .collect::<Vec<_>>();
                        let batches = relay_batches(payloads.into_iter());
                        if let Err(error) = store.notify_instances(&batches).await {
                            tracing::warn!(%error, "could not relay changes to the other instances");
                            // They may keep what changed: bounded by
                            // IDENTITY_KEPT_FOR.
                        }
                    }
                }))
            }
            None => None,
        };
        let hub = app.live.clone();
        let store = app.store.clone();
        let url = self.state.config.database_url.expose_secret().to_owned();
        let receive = tokio::spawn(async move {
            let mut wait = std::time::Duration::from_millis(500);
            loop {
                match crate::store::listen_instances(&url).await {
                    Ok(mut listener) => {
                        wait = std::time::Duration::from_millis(500);
                        // What changed while nobody listened was not heard:
                        // nothing kept from before is used.
                        store.changes().changed_everywhere();
                        while let Ok(notification) = listener.recv().await {
                            let Ok(wires) = serde_json::from_str::<
                                Vec<crate::delivery::live::WireEvent>,
                            >(notification.payload()) else {
                                continue;
                            };
                            for wire in wires {
                                if !hub.is_own(&wire) {
                                    for practice in &wire.people_changed {
                                        store.changes().changed_here(*practice);
                                    }
                                }
                                hub.receive(wire);
                            }
                        }
                    }
                    Err(error) => {
                        tracing::warn!(%error, "could not listen for the other instances' live events")
                    }
                }
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(std::time::Duration::from_secs(30));
            }
        });
        relay.draining.push(send);
        relay.draining.extend(changes);
        relay.listening.push(receive);
        relay
    }
}

/// This instance's part of the relay (PostgreSQL): what it sends, which
/// empties before it stops, and what it hears, which just stops.
struct Relay {
    stop: tokio_util::sync::CancellationToken,
    draining: Vec<tokio::task::JoinHandle<()>>,
    listening: Vec<tokio::task::JoinHandle<()>>,
}

/// Receives up to `limit` items into `buffer` as `recv_many` does; once
/// `stop` is cancelled, takes nothing new but still gives what was queued
/// before, then 0.
async fn receive_until_stopped<T>(
    queue: &mut tokio::sync::mpsc::UnboundedReceiver<T>,
    buffer: &mut Vec<T>,
    limit: usize,
    stop: &tokio_util::sync::CancellationToken,
) -> usize {
    if !stop.is_cancelled() {
        tokio::select! {
            received = queue.recv_many(buffer, limit) => return received,
            () = stop.cancelled() => {}
        }
    }
    queue.close();
    queue.recv_many(buffer, limit).await
}

/// How long a stopping instance waits for its relay to send what it holds.
const RELAY_DRAINS_WITHIN: std::time::Duration = std::time::Duration::from_secs(5);

/// How long a stopping instance waits for the outbox worker's batch.
const WORKER_FINISHES_WITHIN: std::time::Duration = std::time::Duration::from_secs(30);

/// The most a relayed NOTIFY carries (PostgreSQL takes 8000 bytes).
const RELAY_BYTES: usize = 7_000;

/// Joins events (each a JSON object) into JSON arrays of at most
/// [`RELAY_BYTES`], in order.
fn relay_batches(payloads: impl Iterator<Item = String>) -> Vec<String> {
    let mut batches = Vec::new();
    let mut current = String::from("[");
    for payload in payloads {
        if current.len() > 1 && current.len() + payload.len() + 2 > RELAY_BYTES {
            current.push(']');
            batches.push(std::mem::replace(&mut current, String::from("[")));
        }
        if current.len() > 1 {
            current.push(',');
        }
        current.push_str(&payload);
    }
    if current.len() > 1 {
        current.push(']');
        batches.push(current);
    }
    batches
}

/// Completes on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("stopping: finishing requests in flight");
}

#[cfg(test)]
mod tests {
    use super::relay_batches;

    #[test]
    fn relayed_events_travel_in_arrays_that_notify_takes() {
        let event = format!("{{\"a\":\"{}\"}}", "x".repeat(3000));
        let batches = relay_batches(std::iter::repeat_n(event.clone(), 5));
        assert_eq!(batches.len(), 3);
        let mut all = Vec::new();
        for batch in &batches {
            assert!(batch.len() <= super::RELAY_BYTES);
            let items: Vec<serde_json::Value> = serde_json::from_str(batch).unwrap();
            all.extend(items);
        }
        assert_eq!(all.len(), 5);
        assert!(relay_batches(std::iter::empty()).is_empty());
        assert_eq!(
            relay_batches(["{}".to_owned(), "{}".to_owned()].into_iter()),
            vec!["[{},{}]"]
        );
    }
}
