use clap::Parser;
use std::process::ExitCode;

/// mimalloc rather than the system's allocator: a send allocates and frees
/// a few hundred small blocks across the runtime's threads, and glibc's
/// malloc took about a sixth of the server's CPU in the send profile (see
/// `docs/BENCHMARKS.md`, *Where the time goes*).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
