//! The `app` command line: serve (the default), or fill the store with demo
//! data.

use std::process::ExitCode;

use paqueteria_core::store::Store;
use paqueteria_jobs::Clock;

use crate::startup::{AppSettings, Application, ensure_first_admin};

/// The Paquetería web app.
#[derive(Debug, clap::Parser)]
#[command(name = "app", version)]
pub struct Cli {
    /// What to do; with none, serve.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Fills the store with demo data: branches, tariffs, customers and
    /// parcels in every status.
    Seed {
        /// How many parcels.
        #[arg(long, default_value_t = 1000)]
        parcels: usize,
    },
    /// Exits 0 when the app serving on APP_ADDR is ready (its store and
    /// job broker answer), 1 otherwise: a container's health check.
    Healthcheck,
}

/// What `app` does with its command line. Exit code 2 for bad settings.
pub async fn main(cli: Cli) -> ExitCode {
    if let Some(Command::Healthcheck) = cli.command {
        return match paqueteria_core::health::addr_from_env("APP_ADDR", "127.0.0.1:8000") {
            Ok(addr) => paqueteria_core::health::exit(addr, "/health/ready").await,
            // 1, not 2: a container runtime reserves 2 in health checks.
            Err(e) => {
                eprintln!("unhealthy: invalid setting {e}");
                ExitCode::from(1)
            }
        };
    }
    let settings = match AppSettings::from_env() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: invalid setting {e}");
            return ExitCode::from(2);
        }
    };
    let result = match cli.command {
        Some(Command::Seed { parcels }) => seed(&settings, parcels).await,
        Some(Command::Healthcheck) => Ok(()),
        None => serve(settings).await,
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(1)
        }
    }
}

async fn seed(settings: &AppSettings, parcels: usize) -> anyhow::Result<()> {
    let store = Store::open(&settings.core.database, Clock::system())
        .await?
        .with_pins(crate::startup::pin_settings(&settings.core)?);
    let started = std::time::Instant::now();
    let done = crate::seed::run(&store, parcels).await?;
    println!(
        "seeded {} parcels ({} new branches) in {:.1} s into {}",
        done.parcels,
        done.branches,
        started.elapsed().as_secs_f64(),
        settings.core.database.describe()
    );
    Ok(())
}

async fn serve(settings: AppSettings) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(settings.addr)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on APP_ADDR {}: {e}", settings.addr))?;
    let app = Application::build(&settings.core, listener).await?;
    let env = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    if let Some((email, password)) = ensure_first_admin(
        app.store(),
        env("APP_ADMIN_EMAIL"),
        env("APP_ADMIN_PASSWORD"),
    )
    .await?
    {
        // Printed once, to the terminal that started the app; never logged.
        println!("First admin created: {email} / {password} (change it after signing in)");
    }
    app.run_until_stopped(paqueteria_jobs::shutdown_signal())
        .await
}
