//! The `bridge` command line: `serve` (what the OpenClaw plugin runs), the one-shot
//! `probe`, `resolve` and `directory` (what the plugin runs from CLI processes), `doctor`,
//! `sim` and `demo`. See `bridge --help`.

use std::io::{IsTerminal, Read, Write};
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use serde_json::Value;

/// What `bridge --version` prints: the product, its version and the bridge protocol it
/// speaks, in one line the plugin checks before it runs anything
/// (`/^openclaw-rocketchat-bridge (\S+) protocol (\d+)$/`).
fn version_line() -> String {
    format!(
        "{PRODUCT} {} protocol {}",
        env!("CARGO_PKG_VERSION"),
        bridge_core::protocol::PROTOCOL_VERSION
    )
}

/// The product name in `--version`: not `bridge`, which other programs are called too
/// (iproute2's `/sbin/bridge`).
const PRODUCT: &str = "openclaw-rocketchat-bridge";

#[derive(Debug, Parser)]
#[command(
    name = "bridge",
    disable_version_flag = true,
    about = "The Rocket.Chat channel core for OpenClaw: the plugin's bridge process, and tools"
)]
struct Cli {
    /// Print the product, its version and the bridge protocol version, then exit.
    #[arg(long, short = 'V')]
    version: bool,
    #[command(subcommand)]
    command: Option<Command>,
}

/// How `serve` writes its logs to stderr.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum LogFormat {
    /// Lines for people.
    Text,
    /// One JSON object per line (`level`, `target`, `fields.message`, ...): the plugin
    /// passes each line to OpenClaw's log at its own level.
    Json,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Print the JSON schema of OpenClaw's channels.rocketchat block, generated from the
    /// Rust config types and the plugin's own keys; --write puts it into the manifest.
    Schema {
        /// The plugin's own keys.
        #[arg(long, default_value = "openclaw-plugin/schema/plugin-keys.json")]
        plugin_keys: PathBuf,
        /// Write it into this manifest (openclaw-plugin/openclaw.plugin.json) instead.
        #[arg(long, value_name = "MANIFEST")]
        write: Option<PathBuf>,
    },
    /// Run one bot account: the first stdin line is the account configuration (JSON),
    /// then newline-delimited JSON-RPC 2.0 on stdin/stdout (docs/bridge-protocol.md).
    /// Logs go to stderr (RUST_LOG sets the level; default info).
    Serve {
        /// The stderr log format.
        #[arg(long, value_enum, default_value = "text")]
        log_format: LogFormat,
    },
    /// Check the server and the token over REST: the first stdin line is the account
    /// configuration; prints one JSON line ({reachable, tokenValid, identityMatches,
    /// serverVersion, user, rooms, error?}). Exit 0 when it ran, 2 on a bad configuration.
    Probe,
    /// Resolve targets (#room, @user, room ids, conversation ids) over REST: the first
    /// stdin line is the account configuration, the second {"targets": [...]}; prints one
    /// JSON line ({results: [...]}). Exit 0 when it ran, 2 on bad input.
    Resolve,
    /// List the bot's rooms and the users it knows of, over REST: the first stdin line is
    /// the account configuration, the optional second {"query": "..", "limit": 50}; prints
    /// one JSON line ({rooms, users}). Exit 0 when it ran, 2 on bad input.
    Directory,
    /// Check a configuration against its server: URL and TLS, version, token, bot role,
    /// rooms, and optionally a test post. Every problem is reported at once. Either a
    /// bridge configuration file (--config; the token is read from its authToken, else
    /// from stdin with --token-stdin, else from RC_TOKEN) or OpenClaw's own config file
    /// (--openclaw-config: JSON5, channels.rocketchat and its accounts, secret
    /// references). Exit 0 if everything is ok, 1 if not, 2 if the file cannot be read.
    Doctor {
        /// The bridge configuration file (the same JSON object `serve` reads).
        #[arg(
            long,
            required_unless_present = "openclaw_config",
            conflicts_with = "openclaw_config"
        )]
        config: Option<PathBuf>,
        /// OpenClaw's config file (openclaw.json).
        #[arg(long, value_name = "PATH")]
        openclaw_config: Option<PathBuf>,
        /// With --openclaw-config: check only this account.
        #[arg(long, value_name = "ID", requires = "openclaw_config")]
        account: Option<String>,
        /// Print one JSON object: {ok, accounts: [{accountId, ok, checks: [{name, level,
        /// detail, hint?}]}]}.
        #[arg(long)]
        json: bool,
        /// Post a test message in this room (id or #name).
        #[arg(long, value_name = "ROOM")]
        post_test_message: Option<String>,
        /// Read the token from the first line of stdin (with --config).
        #[arg(long, conflicts_with = "openclaw_config")]
        token_stdin: bool,
    },
    /// Run the Rocket.Chat simulator with a demo seed (a bot, a human, a room, a DM) and
    /// print the connection details, a bridge configuration line, and a channels.rocketchat
    /// block for OpenClaw's openclaw.json.
    Sim {
        /// Port to listen on (0 = any free port).
        #[arg(long, default_value_t = bridge::sim::DEFAULT_PORT)]
        port: u16,
        /// Address to bind.
        #[arg(long, default_value = "127.0.0.1")]
        host: IpAddr,
        /// Keep the users, their tokens and the rooms in this file (mode 0600) across
        /// restarts.
        #[arg(long, value_name = "FILE")]
        state: Option<PathBuf>,
    },
    /// See it work: the simulator, a scripted human and an echo agent in one process.
    Demo,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if cli.version {
        print(&format!("{}\n", version_line()));
        return ExitCode::SUCCESS;
    }
    let Some(command) = cli.command else {
        eprintln!("bridge: a command is needed (bridge --help lists them)");
        return ExitCode::from(2);
    };
    let default_level = match command {
        Command::Serve { .. } => "info",
        // The transcript is the output; the simulator's insecure-TLS warning is expected.
        Command::Demo => "error",
        _ => "warn",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_level));
    let json_logs = matches!(
        command,
        Command::Serve {
            log_format: LogFormat::Json
        }
    );
    if json_logs {
        tracing_subscriber::fmt()
            .json()
            .with_env_filter(filter)
            .with_writer(std::io::stderr)
            .init();
    } else {
        tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(std::io::stderr)
            .with_ansi(std::io::stderr().is_terminal())
            .init();
    }
    // `serve` runs one account on one thread: its tasks hand every event from one to the
    // next, and across threads each hand-off costs a wake-up and a cross-thread free.
    let mut builder = match command {
        Command::Serve { .. } => tokio::runtime::Builder::new_current_thread(),
        _ => {
            let mut b = tokio::runtime::Builder::new_multi_thread();
            b.worker_threads(2);
            b
        }
    };
    let runtime = match builder.enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("bridge: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let code = runtime.block_on(async {
        match command {
            Command::Serve { .. } => serve().await,
            Command::Probe => one_shot(OneShot::Probe).await,
            Command::Resolve => one_shot(OneShot::Resolve).await,
            Command::Directory => one_shot(OneShot::Directory).await,
            Command::Doctor {
                config,
                openclaw_config,
                account,
                json,
                post_test_message,
                token_stdin,
            } => {
                let output = if json { Output::Json } else { Output::Text };
                let post_to = post_test_message.as_deref();
                match (config, openclaw_config) {
                    (_, Some(path)) => {
                        doctor_openclaw(&path, account.as_deref(), post_to, output).await
                    }
                    (Some(path), None) => doctor(&path, post_to, token_stdin, output).await,
                    // clap requires one of them.
                    (None, None) => 2,
                }
            }
            Command::Sim { port, host, state } => {
                sim(SocketAddr::new(host, port), state.as_deref()).await
            }
            Command::Demo => demo().await,
            Command::Schema { plugin_keys, write } => schema(&plugin_keys, write.as_deref()),
        }
    });
    // stdin is read on a blocking thread that may still be waiting for a line: do not let
    // the runtime wait for it.
    runtime.shutdown_background();
    ExitCode::from(code)
}

async fn serve() -> u8 {
    // SIGTERM (the plugin's second step after a `shutdown` request) stops cleanly, as the
    // end of stdin does: requests drain, the state file is written.
    let stop = std::sync::Arc::new(tokio::sync::Notify::new());
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut terminate) => {
                let stop = stop.clone();
                tokio::spawn(async move {
                    if terminate.recv().await.is_some() {
                        stop.notify_one();
                    }
                });
            }
            Err(e) => tracing::warn!(error = %e, "cannot listen for SIGTERM"),
        }
    }
    let outcome = bridge_core::serve::serve_with(
        tokio::io::stdin(),
        tokio::io::stdout(),
        bridge::rocketchat::connect,
        bridge_core::serve::ServeOptions {
            backend: Some(bridge::rocketchat::backend_keys()),
            stop: Some(stop),
        },
    )
    .await;
    u8::try_from(outcome.exit_code()).unwrap_or(1)
}

/// The one-shot commands (`bridge::oneshot`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OneShot {
    Probe,
    Resolve,
    Directory,
}

/// Reads the configuration line (and, but for `probe`, the request line), runs the
/// command, prints its one JSON line.
async fn one_shot(command: OneShot) -> u8 {
    let mut reader = bridge_core::lines::LineReader::new(
        tokio::io::BufReader::new(tokio::io::stdin()),
        bridge_core::lines::MAX_LINE_BYTES,
    );
    let outcome = match read_json_line(&mut reader, "config").await {
        Ok(None) => bridge::oneshot::Outcome::bad_input(&bridge_core::ConfigError::new(
            "config",
            "no configuration line on stdin",
        )),
        Err(e) => bridge::oneshot::Outcome::bad_input(&e),
        Ok(Some(config)) => {
            // `probe` has no request: it does not wait for a second line.
            let request = match command {
                OneShot::Probe => Ok(None),
                _ => read_json_line(&mut reader, "request").await,
            };
            match (command, request) {
                (_, Err(e)) => bridge::oneshot::Outcome::bad_input(&e),
                (OneShot::Probe, Ok(_)) => bridge::oneshot::probe(config).await,
                (OneShot::Resolve, Ok(request)) => bridge::oneshot::resolve(config, request).await,
                (OneShot::Directory, Ok(request)) => {
                    bridge::oneshot::directory(config, request).await
                }
            }
        }
    };
    print(&format!("{}\n", outcome.json));
    outcome.code
}

/// One JSON line from stdin; `None` at the end of the input (or an empty line). Errors
/// name `field` and never quote the line (the configuration line holds the token).
async fn read_json_line<R: tokio::io::AsyncBufRead + Unpin>(
    reader: &mut bridge_core::lines::LineReader<R>,
    field: &str,
) -> Result<Option<Value>, bridge_core::ConfigError> {
    use bridge_core::lines::Line;
    let bad = |reason: String| bridge_core::ConfigError::new(field, reason);
    let line = match reader.next_line().await {
        Ok(Some(Line::Text(line))) => line,
        Ok(Some(Line::TooLong)) => return Err(bad("the line is too long".into())),
        Ok(Some(Line::NotUtf8)) => return Err(bad("the line is not UTF-8".into())),
        Ok(None) => return Ok(None),
        Err(e) => return Err(bad(format!("cannot read stdin: {e}"))),
    };
    if line.trim().is_empty() {
        return Ok(None);
    }
    match serde_json::from_str::<Value>(&line) {
        Ok(value) if value.is_object() => Ok(Some(value)),
        Ok(_) => Err(bad("the line must be one JSON object".into())),
        Err(e) => Err(bad(format!(
            "the line must be one JSON object (error at column {})",
            e.column()
        ))),
    }
}

fn schema(plugin_keys: &std::path::Path, write: Option<&std::path::Path>) -> u8 {
    let schema = match bridge::schema::channel_schema(plugin_keys) {
        Ok(schema) => schema,
        Err(e) => {
            eprintln!("bridge schema: {e}");
            return 1;
        }
    };
    match write {
        Some(manifest) => match bridge::schema::write_into_manifest(manifest, schema) {
            Ok(()) => 0,
            Err(e) => {
                eprintln!("bridge schema: {e}");
                1
            }
        },
        None => {
            print(&format!(
                "{}\n",
                serde_json::to_string_pretty(&schema).unwrap_or_default()
            ));
            0
        }
    }
}

fn print(text: &str) {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes());
    let _ = out.flush();
}

/// How `doctor` prints its report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Output {
    Text,
    Json,
}

/// Prints a `doctor` run: one report per account. Exit 0 if every account is ok, else 1.
fn print_reports(
    reports: &[(String, bridge::doctor::DoctorReport)],
    output: Output,
    named: bool,
) -> u8 {
    let ok = reports.iter().all(|(_, r)| r.ok());
    match output {
        Output::Json => {
            let accounts: Vec<Value> = reports.iter().map(|(id, r)| r.to_json(id)).collect();
            print(&format!(
                "{}\n",
                serde_json::json!({"ok": ok, "accounts": accounts})
            ));
        }
        Output::Text => {
            let texts: Vec<String> = reports
                .iter()
                .map(|(id, r)| r.render_for(named.then_some(id.as_str())))
                .collect();
            print(&texts.join("\n"));
        }
    }
    if ok {
        0
    } else {
        1
    }
}

/// A file `doctor` cannot read: exit 2, with a JSON line under --json.
fn unreadable(message: &str, output: Output) -> u8 {
    match output {
        Output::Json => print(&format!(
            "{}\n",
            serde_json::json!({"ok": false, "accounts": [], "error": {"kind": "unreadable", "message": message}})
        )),
        Output::Text => eprintln!("bridge doctor: {message}"),
    }
    2
}

async fn doctor(path: &PathBuf, post_to: Option<&str>, token_stdin: bool, output: Output) -> u8 {
    let mut config = match read_config_file(path) {
        Ok(config) => config,
        Err(e) => return unreadable(&e, output),
    };
    let has_token = config.get("authToken").is_some_and(Value::is_string);
    if !has_token {
        let token = if token_stdin {
            let mut line = String::new();
            let _ = std::io::stdin().read_to_string(&mut line);
            line.lines().next().unwrap_or_default().trim().to_owned()
        } else {
            std::env::var("RC_TOKEN").unwrap_or_default()
        };
        if token.is_empty() {
            return unreadable(
                &format!(
                    "no token: put authToken in {}, pass it on stdin with --token-stdin, or set RC_TOKEN",
                    path.display()
                ),
                output,
            );
        }
        config["authToken"] = Value::String(token);
    }
    let account = config
        .get("accountId")
        .and_then(Value::as_str)
        .unwrap_or("default")
        .to_owned();
    let report = bridge::doctor::run_doctor(config, post_to).await;
    print_reports(&[(account, report)], output, false)
}

async fn doctor_openclaw(
    path: &Path,
    only: Option<&str>,
    post_to: Option<&str>,
    output: Output,
) -> u8 {
    let root = match bridge::openclaw::read_file(path) {
        Ok(root) => root,
        Err(e) => return unreadable(&e.to_string(), output),
    };
    let env = |name: &str| std::env::var(name).ok();
    let mut reports = Vec::new();
    for account in bridge::openclaw::accounts(&root, only, &env) {
        let report = bridge::doctor::run_account(&account, post_to).await;
        reports.push((account.account_id, report));
    }
    print_reports(&reports, output, true)
}

fn read_config_file(path: &PathBuf) -> Result<Value, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let value: Value = serde_json::from_str(&text).map_err(|e| {
        format!(
            "{} is not JSON (line {}, column {})",
            path.display(),
            e.line(),
            e.column()
        )
    })?;
    if value.is_object() {
        Ok(value)
    } else {
        Err(format!("{} must hold one JSON object", path.display()))
    }
}

async fn sim(bind: SocketAddr, state: Option<&Path>) -> u8 {
    let (world, restored) = match bridge::sim::DemoSim::start_with_state(bind, state).await {
        Ok(started) => started,
        Err(e) => {
            eprintln!("bridge sim: {e}");
            return 1;
        }
    };
    print(&world.describe());
    if let Some(path) = state {
        let how = if restored.from_file {
            "re-created from"
        } else {
            "written to"
        };
        print(&format!(
            "\nState: {how} {} (same users, tokens and rooms at the next start).\n",
            path.display()
        ));
        for (what, before, now) in &restored.changed_ids {
            print(&format!("  {what} changed: {before} -> {now}\n"));
        }
        if !restored.changed_ids.is_empty() {
            print("  (the simulator cannot re-create ids: update userId in openclaw.json; rooms are named by name)\n");
        }
    }
    print("\nRunning; Ctrl-C to stop.\n");
    let _ = tokio::signal::ctrl_c().await;
    world.sim.shutdown().await;
    0
}

async fn demo() -> u8 {
    match bridge::demo::run_demo(Box::new(std::io::stdout())).await {
        Ok(_) => 0,
        Err(e) => {
            eprintln!("bridge demo failed: {e}");
            1
        }
    }
}
