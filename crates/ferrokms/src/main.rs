//! `ferrokms`: the server (`serve`), its administration (`admin`), its audit log check
//! (`audit verify`) and its load tool (`bench`).

mod admin;
mod audit;
mod bench;

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Parser, Subcommand};
use ferrokms_server::ServeOptions;
use ferrokms_server::config::{self, FileConfig};

/// mimalloc rather than glibc's malloc: under load the request path spent about a tenth of its
/// CPU in glibc's allocator, and its p99 halved with mimalloc (docs/benchmarks.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(name = "ferrokms", version, about = "A self-hosted KMS that speaks the Tencent Cloud KMS API")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server.
    Serve {
        /// Address to listen on [default: 127.0.0.1:8300, or `listen` in the config file].
        #[arg(long)]
        listen: Option<SocketAddr>,
        /// Data directory [default: ./ferrokms-data, or `data_dir` in the config file].
        #[arg(long)]
        data_dir: Option<PathBuf>,
        /// TOML configuration file (see docs/configuration.md).
        #[arg(long)]
        config: Option<PathBuf>,
        /// The store: `sqlite://PATH` or `postgres://USER@HOST/DATABASE` [default: `[store] url`
        /// in the config file, else <data-dir>/ferrokms.db].
        #[arg(long, env = "FERROKMS_STORE_URL", hide_env_values = true)]
        store: Option<String>,
        /// Turn per-account request quotas off.
        #[arg(long)]
        no_rate_limit: bool,
    },
    /// Manage accounts and access keys in a data directory; unseal, seal and rotate the root key
    /// of a running server.
    Admin(admin::AdminArgs),
    /// Check the audit log (`audit verify`).
    Audit(audit::AuditArgs),
    /// Drive a running server with signed requests and report requests/s and latency.
    Bench(bench::BenchArgs),
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info,sqlx=warn".into()),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Serve { listen, data_dir, config: path, store, no_rate_limit } => {
                let mut file = match &path {
                    Some(p) => config::load(p)?,
                    None => FileConfig::default(),
                };
                if store.is_some() {
                    file.store.url = store;
                }
                let opts = ServeOptions {
                    listen: listen.or(file.listen).unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 8300))),
                    data_dir: data_dir.or_else(|| file.data_dir.clone()).unwrap_or_else(|| "ferrokms-data".into()),
                    file,
                    no_rate_limit,
                };
                ferrokms_server::serve(opts).await
            }
            Command::Admin(args) => admin::run(args).await,
            Command::Audit(args) => audit::run(args),
            Command::Bench(args) => bench::run(args).await,
        }
    });
    // Whatever is still running (a stuck blocking call) must not hold the exit: serve has
    // already drained connections and closed the store.
    runtime.shutdown_timeout(std::time::Duration::from_secs(2));
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
