//! `app`: the Paquetería web app. With no configuration it runs the whole
//! system in one process (SQLite store, embedded job engine, in-process
//! worker); see `.env.example` for every setting.

use std::process::ExitCode;

use paqueteria_app::startup::{AppSettings, Application, ensure_first_admin};
use paqueteria_core::clock::Clock;
use paqueteria_core::store::Store;

// mimalloc: a page of the parcel list allocates and frees many small
// strings; with glibc's allocator malloc and free took about a tenth of the
// app's CPU under load (bench/app-bench).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The Paquetería web app.
#[derive(clap::Parser)]
#[command(name = "app", version)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(clap::Subcommand)]
enum Command {
    /// Fills the store with demo data: branches, tariffs, customers and
    /// parcels in every status.
    Seed {
        /// How many parcels.
        #[arg(long, default_value_t = 1000)]
        parcels: usize,
    },
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = <Cli as clap::Parser>::parse();
    paqueteria_worker::telemetry::init();
    let settings = match AppSettings::from_env() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: invalid setting {e}");
            return ExitCode::from(2);
        }
    };
    let result = match cli.command {
        Some(Command::Seed { parcels }) => seed(&settings, parcels).await,
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
    let store = Store::open(&settings.core.database, Clock::system()).await?;
    let started = std::time::Instant::now();
    let done = paqueteria_app::seed::run(&store, parcels).await?;
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
    app.run_until_stopped(paqueteria_worker::shutdown_signal())
        .await
}
