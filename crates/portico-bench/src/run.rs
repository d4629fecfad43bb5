//! The benchmark itself: for each backend, a fresh Portico, the fixture,
//! then each scenario `runs` times.

use crate::children::{self, ServerProcess};
use crate::cpu::CpuMeter;
use crate::fixture::{self, Db, Fixture, Sizes};
use crate::load::{self, Level, Target};
use crate::machine::{Header, load_average};
use crate::pgprobe::{PgProbe, STATS_SETTLE};
use crate::report::{self, BackendReport, Report, Settings};
use crate::sockets;
use crate::{BackendChoice, Cli, Scenario, cluster, notify, pages, practices};
use anyhow::Context;
use std::collections::HashMap;
use std::time::Duration;

const CONCURRENCY: [usize; 3] = [1, 16, 64];

pub fn main(cli: Cli) -> anyhow::Result<()> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("could not start the runtime")?
        .block_on(run(cli))
}

fn settings(cli: &Cli) -> Settings {
    let quick = cli.quick;
    let mut scenarios = if cli.scenario.is_empty() {
        Scenario::ALL.to_vec()
    } else {
        cli.scenario.clone()
    };
    scenarios.sort();
    scenarios.dedup();
    Settings {
        runs: cli.runs.max(1),
        warmup_seconds: if quick { 0.5 } else { 1.0 },
        duration_seconds: cli.duration.unwrap_or(if quick { 1.0 } else { 5.0 }),
        concurrency: CONCURRENCY.to_vec(),
        delivery_sockets: cli
            .delivery_sockets
            .unwrap_or(if quick { 200 } else { 1_000 }),
        delivery_rate: cli
            .delivery_rate
            .unwrap_or(if quick { 500.0 } else { 2_000.0 }),
        idle_sockets: if quick { 200 } else { 10_000 },
        page_requests: if quick { 10 } else { 50 },
        practices: cli.practices.unwrap_or(if quick { 10 } else { 100 }),
        notify_contacts: cli
            .notify_contacts
            .unwrap_or(if quick { 200 } else { 10_000 }),
        sizes: Sizes {
            staff: if quick { 8 } else { 32 },
            clients: if quick { 8 } else { 32 },
            group_chats: if quick { 2 } else { 8 },
            questions: 500,
            page_chat_messages: if quick { 1_000 } else { 100_000 },
            // The export's chat is filled only when the export is measured.
            export_chat_messages: match (
                scenarios.contains(&Scenario::Export) || scenarios.contains(&Scenario::Search),
                quick,
            ) {
                (false, _) => 0,
                (true, _) if cli.large_chat.is_some() => cli.large_chat.unwrap_or(0).max(0),
                (true, true) => 1_000,
                (true, false) => 1_000_000,
            },
        },
        scenarios,
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    // 10,000 sockets need as many descriptors here and in the server,
    // which inherits the limit.
    let nofile = rlimit::increase_nofile_limit(u64::MAX).context("raising RLIMIT_NOFILE")?;
    let settings = settings(&cli);
    let header = Header::now();
    eprintln!(
        "portico-bench: {} at {}; open files limit {nofile}",
        header.command, header.commit
    );
    let work = tempfile::Builder::new()
        .prefix("portico-bench-")
        .tempdir()
        .context("a temporary folder")?;

    let mut report = Report {
        header,
        settings: settings.clone(),
        bare: Vec::new(),
        bare_runs: Vec::new(),
        backends: Vec::new(),
    };
    if settings.scenarios.contains(&Scenario::Bare) {
        eprintln!("== bare: a trivial axum handler");
        let bare = children::start_bare(work.path()).await?;
        let targets: Vec<Target> = (0..64)
            .map(|i| Target {
                addr: bare.addr,
                origin: bare.base_url(),
                path: format!("/app/messages/chat{}", i % 32),
                cookie: "portico_session=bare".to_owned(),
                csrf: "bare".to_owned(),
                chat: format!("chat{}", i % 32),
                person: i,
                via: None,
            })
            .collect();
        let cpu = CpuMeter::new(bare.pid, false);
        let (levels, runs) = levels(&settings, &targets, None, Some(&cpu)).await?;
        report.bare = levels;
        report.bare_runs = runs;
        bare.stop().await?;
    }
    let backends = match cli.backend {
        BackendChoice::Sqlite => vec!["SQLite"],
        BackendChoice::Postgres => vec!["PostgreSQL"],
        BackendChoice::Both => vec!["SQLite", "PostgreSQL"],
    };
    for name in backends {
        eprintln!("== {name}");
        let dir = work.path().join(name.to_lowercase());
        std::fs::create_dir_all(&dir).context("a data folder")?;
        let result = if name == "SQLite" {
            let db = Db::Sqlite(dir.join("data").join("portico.db"));
            backend(name, &settings, &dir, None, &db, None).await
        } else {
            postgres(name, &settings, &dir, &cli.postgres_url).await
        };
        match result {
            Ok(b) => report.backends.push(b),
            Err(error) => report.backends.push(BackendReport {
                backend: name.to_owned(),
                problems: vec![format!("{error:#}")],
                ..BackendReport::default()
            }),
        }
    }
    if cli.keep {
        let kept = work.keep();
        eprintln!("portico-bench: kept {}", kept.display());
    }
    let json = report.write(&cli.out)?;
    println!("{}", report.markdown());
    eprintln!(
        "portico-bench: wrote {} and {}",
        cli.out.display(),
        json.display()
    );
    Ok(())
}

/// A fresh schema in the PostgreSQL database, dropped afterwards.
async fn postgres(
    name: &str,
    settings: &Settings,
    dir: &std::path::Path,
    base: &str,
) -> anyhow::Result<BackendReport> {
    use sqlx::Connection;
    let schema = format!("bench_{}", uuid::Uuid::now_v7().simple());
    let mut conn = sqlx::PgConnection::connect(base)
        .await
        .with_context(|| format!("could not connect to {}", portico::config::redact_url(base)))?;
    // The schema name is made here of hex digits, never of input.
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
        .execute(&mut conn)
        .await
        .context("create a schema")?;
    let sep = if base.contains('?') { '&' } else { '?' };
    let url = format!("{base}{sep}options=-c%20search_path%3D{schema}");
    // Each instance names itself to PostgreSQL, so that its connections
    // can be counted.
    let instance = |name: &str| format!("{url}&application_name=portico-{name}");
    let probe = PgProbe { url: url.clone() };
    let result = backend(
        name,
        settings,
        dir,
        Some(&instance(cluster::A)),
        &Db::Postgres(url.clone()),
        Some((&probe, &instance(cluster::B))),
    )
    .await;
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("DROP SCHEMA {schema} CASCADE")))
        .execute(&mut conn)
        .await
        .context("drop the schema")?;
    result
}

/// PostgreSQL's window for the benchmark, and the second instance's URL.
type Postgres<'a> = Option<(&'a PgProbe, &'a str)>;

async fn backend(
    name: &str,
    settings: &Settings,
    dir: &std::path::Path,
    database_url: Option<&str>,
    db: &Db,
    postgres: Postgres<'_>,
) -> anyhow::Result<BackendReport> {
    let data_dir = dir.join("data");
    std::fs::create_dir_all(&data_dir).context("a data folder")?;
    children::create_practice(
        &data_dir,
        database_url,
        "Bench Practice",
        fixture::ADMIN_EMAIL,
        fixture::PASSWORD,
    )
    .await?;
    let server = children::start_portico(&data_dir, database_url, "server.log").await?;
    let result = scenarios(
        name,
        settings,
        &server,
        &data_dir,
        database_url,
        db,
        postgres,
    )
    .await;
    let log = data_dir.join("server.log");
    server.stop().await?;
    let mut report = result?;
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    let errors: Vec<&str> = text.lines().filter(|l| l.contains("ERROR")).collect();
    if let Some(first) = errors.first() {
        report.problems.push(format!(
            "the server logged {} errors (`--keep` keeps its log); the first: `{}`",
            errors.len(),
            plain(first)
        ));
    }
    Ok(report)
}

async fn scenarios(
    name: &str,
    settings: &Settings,
    server: &ServerProcess,
    data_dir: &std::path::Path,
    database_url: Option<&str>,
    db: &Db,
    postgres: Postgres<'_>,
) -> anyhow::Result<BackendReport> {
    let probe = postgres.map(|(probe, _)| probe);
    let base = server.base_url();
    eprintln!("   making the fixture through the HTTP API");
    let fixture = fixture::build(&base, data_dir, db, &settings.sizes).await?;
    eprintln!(
        "   fixture made in {:.1} s ({} people, {} senders)",
        fixture.seconds,
        fixture.people.len(),
        fixture.senders.len()
    );
    let mut report = BackendReport {
        backend: name.to_owned(),
        fixture_seconds: fixture.seconds,
        ..BackendReport::default()
    };
    if let Some(probe) = probe {
        match probe.storage().await {
            Ok(storage) => report.storage = Some(storage),
            Err(error) => note(&mut report.problems, "storage", Err(error)),
        }
    }
    let targets = targets(server, &fixture)?;
    let cpu = CpuMeter::new(server.pid, probe.is_some());
    let runs = settings.runs;
    let has = |s: Scenario| settings.scenarios.contains(&s);

    if has(Scenario::Idle) {
        report.loads.push(("idle".into(), load_average()));
        eprintln!("   idle: {} sockets", settings.idle_sockets);
        let cookies: Vec<String> = fixture
            .people
            .iter()
            .map(|p| p.browser.cookie_header())
            .collect::<anyhow::Result<_>>()?;
        let result: anyhow::Result<()> = async {
            for run in 0..runs {
                // A freshly started server on the same database for each run:
                // memory freed by closed sockets stays in a process's RSS, and
                // would hide the next run's growth.
                let fresh =
                    children::start_portico(data_dir, database_url, &format!("idle-{run}.log"))
                        .await?;
                let idle = sockets::idle(&fresh, &cookies, settings.idle_sockets).await;
                fresh.stop().await?;
                let idle = idle?;
                eprintln!("     {:.1} KiB per socket", idle.per_socket_kib);
                report.idle_runs.push(idle);
            }
            Ok(())
        }
        .await;
        note(&mut report.problems, "idle", result);
        if !report.idle_runs.is_empty() {
            report.idle = Some(sockets::Idle::median(&report.idle_runs));
        }
    }
    if has(Scenario::Pages) {
        report.loads.push(("pages".into(), load_average()));
        eprintln!("   pages");
        let staff = &fixture.people[fixture.page_person].browser;
        let unread = &fixture.people[fixture.unread_person].browser;
        let contact = &fixture.people[fixture.portal_person].browser;
        let chat_messages = report::thousands(settings.sizes.page_chat_messages as f64);
        let timed: Vec<(String, &fixture::Browser, String)> = vec![
            (
                format!("staff chat page, {chat_messages}-message chat (newest page)"),
                staff,
                format!("/app/messages/{}", fixture.page_chat),
            ),
            // M4: a chat counts at most 1,000 of its unread messages.
            (
                format!(
                    "staff home (what waits) of another member of the {chat_messages}-message chat, who has read none of it"
                ),
                unread,
                "/app".to_owned(),
            ),
            (
                "staff chat list, the same team member".to_owned(),
                unread,
                "/app/messages".to_owned(),
            ),
            (
                "staff top bar's count (every staff page asks for it), the same team member"
                    .to_owned(),
                unread,
                "/app/messages/dock".to_owned(),
            ),
            (
                format!(
                    "portal home of a contact (what waits), {} questions",
                    settings.sizes.questions
                ),
                contact,
                fixture.portal_home.clone(),
            ),
            (
                "portal chat list, the same contact".to_owned(),
                contact,
                "/portal/messages".to_owned(),
            ),
        ];
        let result: anyhow::Result<()> = async {
            for _ in 0..runs {
                let mut times = Vec::new();
                for (name, browser, path) in &timed {
                    let time = pages::page_time(browser, path, settings.page_requests).await?;
                    eprintln!("     {name}: {:.1} ms ({})", time.median_ms, time.source);
                    times.push((name.clone(), time));
                }
                report.page_runs.push(times);
            }
            Ok(())
        }
        .await;
        note(&mut report.problems, "pages", result);
        if let Some(first) = report.page_runs.first() {
            report.pages = first
                .iter()
                .enumerate()
                .map(|(i, (name, _))| {
                    let runs: Vec<_> = report
                        .page_runs
                        .iter()
                        .filter_map(|run| run.get(i).map(|(_, t)| t.clone()))
                        .collect();
                    (name.clone(), pages::PageTime::median(&runs))
                })
                .collect();
        }
    }
    if has(Scenario::Send) {
        report.loads.push(("send".into(), load_average()));
        eprintln!("   send");
        match levels(settings, &targets, probe, Some(&cpu)).await {
            Ok((levels, runs)) => {
                report.send = levels;
                report.send_runs = runs;
            }
            Err(error) => note(&mut report.problems, "send", Err(error)),
        }
    }
    if has(Scenario::Delivery) {
        report.loads.push(("delivery".into(), load_average()));
        eprintln!(
            "   delivery: {} sockets at {} msg/s",
            settings.delivery_sockets, settings.delivery_rate
        );
        let writers: Vec<Target> = targets.iter().take(64).cloned().collect();
        let watchers = watchers(&fixture, &writers)?;
        let result: anyhow::Result<()> = async {
            for _ in 0..runs {
                let d = sockets::delivery(
                    server.addr,
                    server.addr,
                    None,
                    &writers,
                    &watchers,
                    &fixture.members,
                    settings.delivery_sockets,
                    settings.delivery_rate,
                    Duration::from_secs_f64(settings.duration_seconds),
                )
                .await?;
                eprintln!(
                    "     {:.0} sent/s, p50 {:.1} ms, p99 {:.1} ms, missed {} of {}",
                    d.achieved_rate, d.latency.p50_ms, d.latency.p99_ms, d.missed, d.expected
                );
                report.delivery_runs.push(d);
            }
            Ok(())
        }
        .await;
        note(&mut report.problems, "delivery", result);
        if !report.delivery_runs.is_empty() {
            report.delivery = Some(sockets::Delivery::median(&report.delivery_runs));
        }
    }
    if has(Scenario::Cluster) {
        match postgres {
            None => eprintln!("   cluster: skipped (SQLite is one server's database)"),
            Some((probe, second_url)) => {
                report.loads.push(("cluster".into(), load_average()));
                eprintln!(
                    "   cluster: two instances behind HAProxy ({} sockets at {} msg/s)",
                    settings.delivery_sockets, settings.delivery_rate
                );
                let writers: Vec<Target> = targets.iter().take(64).cloned().collect();
                let watchers = watchers(&fixture, &writers)?;
                match cluster::run(cluster::Inputs {
                    settings,
                    first: server,
                    data_dir,
                    second_url,
                    probe,
                    targets: &targets,
                    watchers: &watchers,
                    members: &fixture.members,
                })
                .await
                {
                    Ok(c) => report.cluster = Some(c),
                    Err(error) => note(&mut report.problems, "cluster", Err(error)),
                }
            }
        }
    }
    if has(Scenario::Export) {
        report.loads.push(("export".into(), load_average()));
        eprintln!(
            "   export: {} messages to XLSX",
            settings.sizes.export_chat_messages
        );
        let admin = &fixture.people[fixture.admin].browser;
        let result: anyhow::Result<()> = async {
            for _ in 0..runs {
                let e = pages::export(
                    admin,
                    server.pid,
                    &fixture.export_chat,
                    settings.sizes.export_chat_messages,
                )
                .await?;
                eprintln!(
                    "     {:.1} s, {} bytes, status {}, peak RSS {} KiB (+{})",
                    e.seconds, e.bytes, e.status, e.rss_peak_kib, e.rss_growth_kib
                );
                report.export_runs.push(e);
            }
            Ok(())
        }
        .await;
        note(&mut report.problems, "export", result);
        let failed: Vec<u16> = report
            .export_runs
            .iter()
            .map(|e| e.status)
            .filter(|s| *s != 200)
            .collect();
        if !failed.is_empty() {
            report.problems.push(format!(
                "export: {} of {} runs did not succeed (status {failed:?}; 408 is the server's 30 s request timeout); the figures are of the others",
                failed.len(),
                report.export_runs.len()
            ));
        }
        let good: Vec<_> = report
            .export_runs
            .iter()
            .filter(|e| e.status == 200)
            .cloned()
            .collect();
        if !good.is_empty() {
            report.export = Some(pages::Export::median(&good));
        }
    }
    if has(Scenario::Practices) {
        report.loads.push(("practices".into(), load_average()));
        eprintln!("   practices: {} more, each in use", settings.practices);
        match practices::run(data_dir, database_url, settings.practices).await {
            Ok(p) => {
                eprintln!(
                    "     {:.1} KiB per practice in use ({} → {} KiB)",
                    p.per_practice_kib, p.rss_two_kib, p.rss_all_kib
                );
                report.practices = Some(p);
            }
            Err(error) => note(&mut report.problems, "practices", Err(error)),
        }
    }
    if has(Scenario::Search) {
        report.loads.push(("search".into(), load_average()));
        let large = settings.sizes.export_chat_messages;
        eprintln!("   search: a {large}-message chat");
        let result = search(settings, &fixture, db, &targets, probe, &cpu, &mut report).await;
        note(&mut report.problems, "search", result);
    }
    if has(Scenario::Notify) {
        report.loads.push(("notify".into(), load_average()));
        eprintln!(
            "   notify: one window telling {} contacts, sends meanwhile",
            settings.notify_contacts
        );
        let result: anyhow::Result<()> = async {
            let log = data_dir.join("server.log");
            for _ in 0..runs {
                let without = level(settings, &targets, notify::CONCURRENCY, None, None).await?;
                let n = notify::run(
                    db,
                    &fixture,
                    &log,
                    &targets,
                    settings.notify_contacts,
                    without,
                )
                .await?;
                eprintln!(
                    "     window {:.0} ms ({} told, {} queued); sends {:.0} → {:.0} /s, p50 {:.1} → {:.1} ms",
                    n.window_ms,
                    n.told,
                    n.queued,
                    n.without.per_second,
                    n.during_per_second,
                    n.without.latency.p50_ms,
                    n.during.p50_ms
                );
                report.notify_runs.push(n);
            }
            Ok(())
        }
        .await;
        note(&mut report.problems, "notify", result);
        if !report.notify_runs.is_empty() {
            report.notify = Some(notify::NotifyWindow::median(&report.notify_runs));
        }
    }
    report.loads.push(("end".into(), load_average()));
    Ok(report)
}

/// X1: the admin's searches (server time, from `Server-Timing`), then
/// sends with the search index and, the index dropped, without it.
async fn search(
    settings: &Settings,
    fixture: &Fixture,
    db: &Db,
    targets: &[Target],
    probe: Option<&PgProbe>,
    cpu: &CpuMeter,
    report: &mut crate::report::BackendReport,
) -> anyhow::Result<()> {
    let large = settings.sizes.export_chat_messages;
    let admin = &fixture.people[fixture.admin].browser;
    // The large chat's messages read "Message <i>: the figures for this
    // quarter are attached, …": a number is in one message (and those it
    // begins), "quarter" in every one.
    let one = (large / 2).max(1);
    let queries = [
        (
            format!("{one}"),
            "a number: one message and those it begins",
        ),
        (
            format!("message {one}"),
            "two words, the phrase in one message",
        ),
        (
            "Müller invoice".to_owned(),
            "words in no message (nothing found)",
        ),
        ("quarter".to_owned(), "a word in every message"),
    ];
    for (q, what) in queries {
        let path = format!(
            "/app/search?q={}",
            form_urlencoded::byte_serialize(q.as_bytes()).collect::<String>()
        );
        let mut runs = Vec::new();
        for _ in 0..settings.runs {
            let time = pages::page_time(admin, &path, settings.page_requests).await?;
            eprintln!(
                "     {q:?}: {:.1} ms median, {:.1} ms p95 ({})",
                time.median_ms, time.p95_ms, time.source
            );
            runs.push(time);
        }
        report
            .search
            .push((q.clone(), what.to_owned(), pages::PageTime::median(&runs)));
    }
    eprintln!("   search: sends with the index");
    report.send_indexed = levels(settings, targets, probe, Some(cpu)).await?.0;
    fixture::drop_search_index(db).await?;
    eprintln!("   search: sends without it");
    report.send_unindexed = levels(settings, targets, probe, Some(cpu)).await?.0;
    Ok(())
}

/// A log line without its colours, cut short.
pub(crate) fn plain(line: &str) -> String {
    let mut out = String::new();
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            // An escape sequence runs to its final letter.
            for d in chars.by_ref() {
                if d.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out.chars().take(300).collect()
}

fn note(problems: &mut Vec<String>, scenario: &str, result: anyhow::Result<()>) {
    if let Err(error) = result {
        eprintln!("   {scenario} failed: {error:#}");
        problems.push(format!("{scenario} failed: {error:#}"));
    }
}

/// Each sender of the fixture as a load-generator target.
fn targets(server: &ServerProcess, fixture: &Fixture) -> anyhow::Result<Vec<Target>> {
    fixture
        .senders
        .iter()
        .map(|s| {
            let browser = &fixture.people[s.person].browser;
            Ok(Target {
                addr: server.addr,
                origin: server.base_url(),
                path: s.path.clone(),
                cookie: browser.cookie_header()?,
                csrf: browser
                    .cookie("portico_csrf")
                    .context("a sender without an anti-forgery cookie")?,
                chat: s.chat.clone(),
                person: s.person,
                via: None,
            })
        })
        .collect()
}

/// The members of the written chats, as (`kind:id`, cookie header).
fn watchers(fixture: &Fixture, writers: &[Target]) -> anyhow::Result<Vec<(String, String)>> {
    let by_key: HashMap<String, usize> = fixture
        .people
        .iter()
        .enumerate()
        .map(|(i, p)| (format!("{}:{}", p.kind, p.id), i))
        .collect();
    let mut chosen: Vec<usize> = Vec::new();
    for writer in writers {
        for key in fixture.members.get(&writer.chat).into_iter().flatten() {
            if let Some(&person) = by_key.get(key)
                && !chosen.contains(&person)
            {
                chosen.push(person);
            }
        }
    }
    chosen
        .into_iter()
        .map(|i| {
            let p = &fixture.people[i];
            Ok((format!("{}:{}", p.kind, p.id), p.browser.cookie_header()?))
        })
        .collect()
}

/// Every concurrency level `runs` times; the medians and the raw runs.
/// With a probe, what PostgreSQL did in each run is read as well (after
/// [`STATS_SETTLE`]).
pub(crate) async fn levels(
    settings: &Settings,
    targets: &[Target],
    probe: Option<&PgProbe>,
    cpu: Option<&CpuMeter>,
) -> anyhow::Result<(Vec<Level>, Vec<Vec<Level>>)> {
    let mut medians = Vec::new();
    let mut all = Vec::new();
    for &concurrency in &settings.concurrency {
        let mut runs = Vec::new();
        for _ in 0..settings.runs {
            runs.push(level(settings, targets, concurrency, probe, cpu).await?);
        }
        medians.push(Level::median(concurrency, &runs));
        all.push(runs);
    }
    Ok((medians, all))
}

/// One run at one concurrency (see [`levels`]).
pub(crate) async fn level(
    settings: &Settings,
    targets: &[Target],
    concurrency: usize,
    probe: Option<&PgProbe>,
    cpu: Option<&CpuMeter>,
) -> anyhow::Result<Level> {
    let warmup = Duration::from_secs_f64(settings.warmup_seconds);
    let duration = Duration::from_secs_f64(settings.duration_seconds);
    let before = match probe {
        Some(probe) => Some(probe.counters().await?),
        None => None,
    };
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let connections = probe.map(|probe| probe.watch_connections(stopped));
    let cpu_before = cpu.map(CpuMeter::now).transpose()?;
    let started = std::time::Instant::now();
    let mut level = load::closed_loop(targets, concurrency, warmup, duration).await?;
    let seconds = started.elapsed().as_secs_f64();
    if let (Some(cpu), Some(before)) = (cpu, cpu_before) {
        level.cpu = Some(cpu.per_send(before, level.acked_total)?);
    }
    stop.send(true).ok();
    if let (Some(probe), Some(before), Some(connections)) = (probe, before, connections) {
        let connections = connections.await.context("the connection watcher")??;
        tokio::time::sleep(STATS_SETTLE).await;
        let db = probe
            .load_since(before, seconds, level.acked_total, connections)
            .await?;
        eprintln!(
            "     database: {:.0} transactions/s, {:.0} rows written/s ({:.1} and {:.1} per send); connections {}",
            db.transactions_per_s,
            db.rows_written_per_s,
            db.transactions_per_send,
            db.rows_written_per_send,
            db.connections_text()
        );
        level.db = Some(db);
    }
    eprintln!(
        "     ×{concurrency}: {:.0} /s, p50 {:.2} ms, p99 {:.2} ms{}{}",
        level.per_second,
        level.latency.p50_ms,
        level.latency.p99_ms,
        level
            .cpu
            .map(|c| format!(", CPU {} a send", c.text()))
            .unwrap_or_default(),
        if level.throttled + level.refused + level.server_errors + level.errors > 0 {
            format!(
                " ({} throttled, {} 5xx, {} refused, {} errors)",
                level.throttled, level.server_errors, level.refused, level.errors
            )
        } else {
            String::new()
        }
    );
    Ok(level)
}
