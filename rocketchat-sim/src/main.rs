//! `rocketchat-sim`: runs the Rocket.Chat 8.2.0 simulator with the JSON control API on.
//!
//! ```text
//! rocketchat-sim [--port 0] [--host 127.0.0.1] [--tls-cert cert.pem --tls-key key.pem]
//!                [--seed seed.json] [--heartbeat-ms 15000] [--no-rate-limits] [--no-2fa]
//! ```
//! Prints one JSON line on stdout once listening: `{"baseUrl","wsUrl","controlUrl","seed"}`,
//! then runs until killed (SIGINT/SIGTERM).

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;
use rocketchat_sim::{SimConfig, Simulator, TlsFiles};

#[derive(Debug, Parser)]
#[command(
    name = "rocketchat-sim",
    about = "A Rocket.Chat 8.2.0 simulator (DDP + REST) for tests"
)]
struct Args {
    /// Port to listen on (0 = a free port).
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// Address to bind.
    #[arg(long, default_value = "127.0.0.1")]
    host: IpAddr,
    /// PEM certificate chain for https/wss.
    #[arg(long, requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// PEM private key for https/wss.
    #[arg(long, requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Seed file (users, PATs, rooms); see the crate docs of `rocketchat_sim::seed`.
    #[arg(long)]
    seed: Option<PathBuf>,
    /// Server heartbeat interval and timeout in milliseconds.
    #[arg(long, default_value_t = 15_000)]
    heartbeat_ms: u64,
    /// Turn the REST and DDP rate limiters off.
    #[arg(long)]
    no_rate_limits: bool,
    /// Turn REST 2FA for PAT endpoints off.
    #[arg(long)]
    no_2fa: bool,
    /// `Message_ShowDeletedStatus`: deletes leave a tombstone.
    #[arg(long)]
    show_deleted_status: bool,
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    match run(Args::parse()).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("rocketchat-sim: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let mut config = SimConfig {
        bind: SocketAddr::new(args.host, args.port),
        control_http: true,
        heartbeat_interval: Duration::from_millis(args.heartbeat_ms),
        heartbeat_timeout: Duration::from_millis(args.heartbeat_ms),
        show_deleted_status: args.show_deleted_status,
        two_factor_enabled: !args.no_2fa,
        ..SimConfig::default()
    };
    if args.no_rate_limits {
        config.rest_rate_limit = None;
        config.ddp_rate_limit = None;
        config.send_message_rate_limit = None;
    }
    if let (Some(cert_pem), Some(key_pem)) = (args.tls_cert, args.tls_key) {
        config.tls = Some(TlsFiles { cert_pem, key_pem });
    }
    let sim = Simulator::start(config).await?;
    let seeded = match &args.seed {
        Some(path) => {
            let text = std::fs::read_to_string(path)?;
            let seed: rocketchat_sim::seed::Seed = serde_json::from_str(&text)?;
            rocketchat_sim::seed::apply(&sim, &seed)?
        }
        None => serde_json::Value::Null,
    };
    let line = serde_json::json!({
        "baseUrl": sim.base_url(),
        "wsUrl": sim.ws_url(),
        "controlUrl": format!("{}/_sim/", sim.base_url()),
        "seed": seeded,
    });
    // The one line a launcher reads to learn the port, ids and tokens.
    #[allow(clippy::print_stdout)]
    {
        println!("{line}");
    }
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
    sim.shutdown().await;
    Ok(())
}
