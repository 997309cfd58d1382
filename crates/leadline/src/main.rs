//! `leadline`: one binary for the server and every administrative command.

mod bench;
mod bench_load;
mod bench_reports;
mod cli;
mod config;
mod import_cmd;
mod model_cmd;
mod report_cmd;
mod score_cmd;
mod telemetry;

use clap::Parser;

// mimalloc instead of glibc's allocator, for Rust and (feature `override`) for the bundled
// SQLite too: batch work (re-scores, imports) allocates per value on the SQLite driver's
// threads and frees on the runtime's, where glibc's arenas took a third of a re-score's
// time (docs/benchmarks.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let args = cli::Cli::parse();
    leadline_app::outbound::install_tls();
    match cli::run(args).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
