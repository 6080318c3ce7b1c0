//! `app`: the Paquetería web app. With no configuration it runs the whole
//! system in one process (SQLite store, embedded job engine, in-process
//! worker and scheduler); see `.env.example` for every setting.

use std::process::ExitCode;

use clap::Parser;

// mimalloc: a page of the parcel list allocates and frees many small
// strings, which glibc's allocator serves slowly under load.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = paqueteria_app::cli::Cli::parse();
    if let Some(code) = paqueteria_core::telemetry::init_or_exit() {
        return code;
    }
    paqueteria_app::cli::main(cli).await
}
