//! `portico-bench`: starts Portico in a child process, makes a fixture
//! through its HTTP API (the forms a browser posts), and measures sends,
//! live delivery, idle sockets, pages, an export and a notification window. See docs/BENCHMARKS.md.

mod children;
mod cluster;
mod cpu;
mod fixture;
mod load;
mod machine;
mod notify;
mod pages;
mod pgprobe;
mod practices;
mod report;
mod run;
mod sockets;
mod stats;

use clap::{Parser, Subcommand, ValueEnum};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser, Debug, Clone)]
#[command(
    name = "portico-bench",
    about = "Measures Portico: sends, live delivery, idle sockets, pages and exports.",
    long_about = "Measures Portico: starts the server as a child process on a fresh \
        database, makes the fixture through its HTTP API, runs the scenarios over \
        real HTTP and WebSocket connections on 127.0.0.1, and writes a Markdown \
        report (and the raw figures as JSON beside it)."
)]
pub struct Cli {
    /// The database(s) to measure.
    #[arg(long, value_enum, default_value_t = BackendChoice::Both)]
    pub backend: BackendChoice,

    /// The PostgreSQL server to use; a fresh schema is made in it and
    /// dropped at the end.
    #[arg(
        long,
        env = "PORTICO_BENCH_POSTGRES_URL",
        default_value = "postgres://postgres@127.0.0.1:5432/postgres"
    )]
    pub postgres_url: String,

    /// Scenarios to run (repeatable or comma separated). [default: all]
    #[arg(long, value_enum, value_delimiter = ',')]
    pub scenario: Vec<Scenario>,

    /// Messages per second asked for in delivery (and cluster's deliveries).
    /// [default: 2000, or 500 with --quick]
    #[arg(long)]
    pub delivery_rate: Option<f64>,

    /// Sockets open during delivery (and cluster's deliveries).
    /// [default: 1000, or 200 with --quick]
    #[arg(long)]
    pub delivery_sockets: Option<usize>,

    /// Practices made and used in the practices scenario.
    /// [default: 100, or 10 with --quick]
    #[arg(long)]
    pub practices: Option<usize>,

    /// How many times each scenario is run; the report gives medians.
    #[arg(long, default_value_t = 3)]
    pub runs: usize,

    /// Seconds each measured stretch lasts (send and bare per concurrency,
    /// delivery). [default: 5, or 1 with --quick]
    #[arg(long)]
    pub duration: Option<f64>,

    /// Messages in the large chat (the export's and search's).
    /// [default: 1,000,000, or 1,000 with --quick]
    #[arg(long)]
    pub large_chat: Option<i64>,

    /// Contacts told in the notify scenario's one window, each with an
    /// unread message past the window. [default: 10,000, or 200 with --quick]
    #[arg(long)]
    pub notify_contacts: Option<usize>,

    /// Small sizes for a smoke run: 1,000-message chats, 200 sockets, 1 s.
    #[arg(long)]
    pub quick: bool,

    /// Keep the temporary folder (data, server logs) and print where it is.
    #[arg(long)]
    pub keep: bool,

    /// Where the Markdown report is written (the JSON goes beside it).
    #[arg(long, default_value = "target/bench/report.md")]
    pub out: PathBuf,

    #[command(subcommand)]
    pub child: Option<Child>,
}

#[derive(Subcommand, Debug, Clone)]
pub enum Child {
    /// Runs Portico's own command line with these arguments (the server
    /// under test, or `admin create-practice`).
    #[command(hide = true)]
    Portico {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// A trivial axum server taking the send form: the bare limit.
    #[command(hide = true)]
    BareChild {
        #[arg(long)]
        listen: String,
    },
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub enum BackendChoice {
    Sqlite,
    Postgres,
    Both,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Scenario {
    Send,
    Bare,
    Delivery,
    Idle,
    Pages,
    Export,
    /// Two instances behind HAProxy (PostgreSQL only).
    Cluster,
    Practices,
    /// X1: staff search over the large chat, and sends with the search
    /// index and without it.
    Search,
    /// N2: one notification window telling `--notify-contacts` people,
    /// and sends during it.
    Notify,
}

impl Scenario {
    pub const ALL: [Scenario; 10] = [
        Scenario::Send,
        Scenario::Bare,
        Scenario::Delivery,
        Scenario::Idle,
        Scenario::Pages,
        Scenario::Export,
        Scenario::Cluster,
        Scenario::Practices,
        Scenario::Search,
        Scenario::Notify,
    ];
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.child.clone() {
        Some(Child::Portico { args }) => children::run_portico(args),
        Some(Child::BareChild { listen }) => children::run_bare(&listen),
        None => run::main(cli),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("portico-bench: {error:#}");
            ExitCode::FAILURE
        }
    }
}
