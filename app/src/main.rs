//! `app`: the Paquetería web app. With no configuration it runs the whole
//! system in one process (SQLite store, embedded job engine, in-process
//! worker); see `.env.example` for every setting.

use std::process::ExitCode;

use paqueteria_app::startup::{AppSettings, Application};

#[tokio::main]
async fn main() -> ExitCode {
    paqueteria_worker::telemetry::init();
    let settings = match AppSettings::from_env() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: invalid setting {e}");
            return ExitCode::from(2);
        }
    };
    let listener = match tokio::net::TcpListener::bind(settings.addr).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("error: cannot listen on APP_ADDR {}: {e}", settings.addr);
            return ExitCode::from(2);
        }
    };
    let app = match Application::build(&settings.core, listener).await {
        Ok(a) => a,
        Err(e) => {
            eprintln!("error: {e:#}");
            return ExitCode::from(1);
        }
    };
    match app
        .run_until_stopped(paqueteria_worker::shutdown_signal())
        .await
    {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(1)
        }
    }
}
