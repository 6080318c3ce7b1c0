//! `worker`: runs Paquetería jobs, or manages the queues. See `worker --help`.

use std::process::ExitCode;

use clap::Parser;
use paqueteria_core::settings::Settings;
use paqueteria_worker::cli::Cli;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    paqueteria_worker::telemetry::init();
    let settings = match Settings::from_env() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: invalid setting {e}");
            return ExitCode::from(2);
        }
    };
    let broker = match paqueteria_core::broker::connect(&settings).await {
        Ok(b) => b,
        Err(e) => {
            eprintln!(
                "error: cannot open the broker ({}): {e}",
                settings.broker.describe()
            );
            return ExitCode::from(2);
        }
    };
    let result = match cli.command {
        Some(cmd) => {
            let mut out = std::io::stdout();
            paqueteria_worker::commands::execute(cmd, &broker, &mut out).await
        }
        None => {
            tracing::info!(broker = %settings.broker.describe(), "job engine");
            let handlers =
                match paqueteria_worker::services::Services::open(&settings, broker.clone())
                    .await
                    .and_then(|s| paqueteria_worker::jobs::Handlers::with_services(&s))
                {
                    Ok(h) => h,
                    Err(e) => {
                        eprintln!("error: {e:#}");
                        return ExitCode::from(2);
                    }
                };
            paqueteria_worker::run(
                cli.run,
                broker,
                settings.lease,
                handlers,
                paqueteria_worker::shutdown_signal(),
            )
            .await
            .map(|()| 0)
        }
    };
    match result {
        Ok(code) => ExitCode::from(u8::try_from(code).unwrap_or(1)),
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(1)
        }
    }
}
