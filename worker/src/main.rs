//! `worker`: runs Paquetería jobs, or manages the queues. See `worker --help`.

use std::process::ExitCode;

use clap::Parser;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = paqueteria_worker::cli::Cli::parse();
    paqueteria_core::telemetry::init();
    paqueteria_worker::main(cli).await
}
