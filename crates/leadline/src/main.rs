//! `leadline`: one binary for the server and every administrative command.

mod bench;
mod cli;
mod config;
mod import_cmd;
mod model_cmd;
mod score_cmd;
mod telemetry;

use clap::Parser;

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
