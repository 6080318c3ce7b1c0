//! `worker`: runs Paquetería jobs, or manages the queues. See `worker --help`.

use std::process::ExitCode;

use clap::Parser;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = paqueteria_worker::cli::Cli::parse();
    if let Some(code) = paqueteria_core::telemetry::init_or_exit() {
        return code;
    }
    paqueteria_worker::main(cli).await
}
