//! `scheduler`: runs the beat, or lists and triggers its entries. See
//! `scheduler --help`.

use std::process::ExitCode;

use clap::Parser;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = paqueteria_scheduler::cli::Cli::parse();
    if let Some(code) = paqueteria_core::telemetry::init_or_exit() {
        return code;
    }
    paqueteria_scheduler::main(cli).await
}
