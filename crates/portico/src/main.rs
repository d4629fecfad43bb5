use clap::Parser;
use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = portico::cli::Cli::parse();
    match portico::cli::run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            // One sentence for a person: the whole cause chain, no backtrace.
            eprintln!("portico: {error:#}");
            ExitCode::FAILURE
        }
    }
}
