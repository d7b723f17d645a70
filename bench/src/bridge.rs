//! The `bridge serve` child process, as the OpenClaw plugin runs it: start-up time to the
//! connected state, idle RSS, and the long run (inbound end to end, simulator -> bridge ->
//! JSON lines on stdout, with RSS samples along the way).
//!
//! The end-to-end rate is the bridge's, not the simulator's: for each chunk the bridge is
//! paused (SIGSTOP) while the simulator produces the chunk, then resumed (SIGCONT) and
//! timed until the chunk's last `message` line. Paused, it uses no CPU and reads nothing;
//! the frames wait in the socket and in the simulator's queue.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use serde_json::json;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};
use tokio::runtime::Runtime;

use crate::inbound::{policy_keys, Filter, ReadFigures};
use crate::measure::{mib, process_cpu, rss, Rss};
use crate::sim::Sim;
use crate::{Res, Sizes};

/// Start-ups measured (the median is reported).
const STARTS: usize = 5;
/// Chunks of the long run (RSS is sampled after each).
const CHUNKS: usize = 10;
/// The log level of the child: `info` logs one line per admitted message to stderr.
const CHILD_LOG: &str = "warn";

/// `bridge` next to this executable (`target/release/bridge`).
pub(crate) fn default_binary() -> Res<PathBuf> {
    let exe = std::env::current_exe()?;
    let dir = exe
        .parent()
        .ok_or("no directory for the bench executable")?;
    let bridge = dir.join("bridge");
    if !bridge.exists() {
        return Err(format!(
            "{} not found: build it first (cargo build --release -p bridge -p bench) or pass --bridge",
            bridge.display()
        )
        .into());
    }
    Ok(bridge)
}

/// A running `bridge serve`.
struct Bridge {
    child: Child,
    pid: u32,
    stdin: Option<ChildStdin>,
    lines: Lines<BufReader<ChildStdout>>,
    /// From spawn to the `connection` `active` notification.
    to_active: Duration,
    /// From spawn to the `ready` notification.
    to_ready: Duration,
}

impl Bridge {
    /// Spawns the bridge, writes the configuration line and waits for `ready`.
    /// `log`: the child's `RUST_LOG`; `None` leaves the default (`info`) and drains stderr
    /// line by line, as the plugin does.
    async fn start(exe: &Path, sim: &Sim, filter: Filter, log: Option<&str>) -> Res<Self> {
        let mut config = json!({
            "accountId": "bench",
            "serverUrl": sim.base_url(),
            "userId": sim.bot_id,
            "username": sim.bot_username,
            "authToken": sim.bot_token,
            "dangerouslyAllowInsecure": true,
        });
        let room = sim.rooms.last().cloned().unwrap_or_default();
        if let (Some(c), serde_json::Value::Object(p)) =
            (config.as_object_mut(), policy_keys(filter, &room))
        {
            c.extend(p);
        }
        let started = Instant::now();
        let mut command = Command::new(exe);
        command
            .arg("serve")
            .env_remove("RUST_LOG")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .kill_on_drop(true);
        match log {
            Some(level) => command.env("RUST_LOG", level).stderr(Stdio::null()),
            None => command.stderr(Stdio::piped()),
        };
        let mut child = command.spawn()?;
        if let Some(stderr) = child.stderr.take() {
            tokio::spawn(async move {
                let mut lines = BufReader::new(stderr).lines();
                while let Ok(Some(_)) = lines.next_line().await {}
            });
        }
        let pid = child.id().ok_or("the bridge exited at once")?;
        let mut stdin = child.stdin.take().ok_or("no stdin")?;
        let stdout = child.stdout.take().ok_or("no stdout")?;
        stdin.write_all(format!("{config}\n").as_bytes()).await?;
        stdin.flush().await?;
        let mut lines = BufReader::with_capacity(1 << 16, stdout).lines();
        let mut to_active = None;
        let to_ready = loop {
            let line = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
                .await
                .map_err(|_| "the bridge did not get ready within 30 s")??
                .ok_or("the bridge closed its stdout before ready")?;
            let v: serde_json::Value = serde_json::from_str(&line)?;
            match v["method"].as_str() {
                Some("connection") if v["params"]["state"] == "active" => {
                    to_active.get_or_insert(started.elapsed());
                }
                Some("connection") if v["params"]["state"] == "fatal" => {
                    return Err(format!("the bridge stopped: {}", v["params"]).into())
                }
                Some("fatal") => return Err(format!("bridge config refused: {line}").into()),
                Some("ready") => break started.elapsed(),
                _ => {}
            }
        };
        Ok(Self {
            child,
            pid,
            stdin: Some(stdin),
            lines,
            to_active: to_active.unwrap_or(to_ready),
            to_ready,
        })
    }

    fn signal(&self, name: &str) -> Res<()> {
        let status = std::process::Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.pid.to_string())
            .status()?;
        if !status.success() {
            return Err(format!("kill -{name} {} failed", self.pid).into());
        }
        Ok(())
    }

    /// Reads stdout until `n` more `message` notifications have arrived.
    async fn read_messages(&mut self, n: usize) -> Res<()> {
        let mut seen = 0;
        while seen < n {
            let line = tokio::time::timeout(Duration::from_secs(120), self.lines.next_line())
                .await
                .map_err(|_| format!("no output for 120 s after {seen} of {n} messages"))??
                .ok_or("the bridge closed its stdout")?;
            if line.starts_with(r#"{"jsonrpc":"2.0","method":"message""#)
                || line.contains(r#""method":"message""#)
            {
                seen += 1;
            }
        }
        Ok(())
    }

    /// Closes stdin (the bridge shuts down and exits 0) and waits for the exit.
    async fn stop(mut self) -> Res<()> {
        drop(self.stdin.take());
        match tokio::time::timeout(Duration::from_secs(10), self.child.wait()).await {
            Ok(status) => {
                let status = status?;
                if !status.success() {
                    return Err(format!("the bridge exited with {status}").into());
                }
            }
            Err(_) => {
                self.child.kill().await?;
                return Err("the bridge did not exit within 10 s of EOF".into());
            }
        }
        Ok(())
    }
}

/// Start-up and idle memory.
#[derive(Debug, Clone, Default)]
pub(crate) struct Startup {
    /// `RocketChatChannel::connect` in this process (no process start, no bridge).
    pub(crate) connect_in_process: Vec<Duration>,
    pub(crate) to_active: Vec<Duration>,
    pub(crate) to_ready: Vec<Duration>,
    pub(crate) idle: Rss,
}

/// One long run through the bridge.
#[derive(Debug, Clone, Default)]
pub(crate) struct LongRun {
    pub(crate) rooms: usize,
    pub(crate) read: ReadFigures,
    /// (messages so far, RSS) after each chunk.
    pub(crate) samples: Vec<(usize, Rss)>,
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort_unstable();
    v.get(v.len() / 2).copied().unwrap_or_default()
}

pub(crate) fn startup(client_rt: &Runtime, exe: &Path) -> Res<Startup> {
    let sim = Sim::start(10)?;
    let out = client_rt.block_on(async {
        let mut out = Startup::default();
        for _ in 0..STARTS {
            let config = crate::inbound::backend_config(&sim, &[])?;
            let t0 = Instant::now();
            let channel = backend_rocketchat::RocketChatChannel::connect(
                config,
                channel_api::AccountId::new("bench"),
            )
            .await?;
            out.connect_in_process.push(t0.elapsed());
            channel.shutdown().await;
        }
        for i in 0..STARTS {
            let bridge = Bridge::start(exe, &sim, Filter::AdmitAll, Some(CHILD_LOG)).await?;
            out.to_active.push(bridge.to_active);
            out.to_ready.push(bridge.to_ready);
            if i == 0 {
                // Idle: connected, nothing arriving.
                tokio::time::sleep(Duration::from_secs(1)).await;
                out.idle = rss(bridge.pid).ok_or("cannot read the bridge's RSS")?;
            }
            bridge.stop().await?;
        }
        Res::Ok(out)
    });
    sim.stop();
    out
}

/// `messages` over `rooms` rooms through one bridge, in chunks.
pub(crate) fn long_run(
    client_rt: &Runtime,
    exe: &Path,
    rooms: usize,
    messages: usize,
    filter: Filter,
    log: Option<&str>,
) -> Res<LongRun> {
    let sim = Sim::start(rooms)?;
    let expected_per_chunk = |chunk: usize| match filter {
        Filter::AdmitAll => chunk,
        _ => chunk / rooms,
    };
    let result = (|| {
        let mut bridge = client_rt.block_on(Bridge::start(exe, &sim, filter, log))?;
        let chunk = messages / CHUNKS;
        let mut run = LongRun {
            rooms,
            ..LongRun::default()
        };
        for i in 0..CHUNKS {
            bridge.signal("STOP")?;
            let produced = Instant::now();
            let report = client_rt.block_on(sim.firehose(chunk))??;
            run.read.produce += produced.elapsed();
            bridge.signal("CONT")?;
            if report.message_ids.len() != chunk {
                return Err("the firehose fell short".into());
            }
            let cpu0 = process_cpu(bridge.pid);
            let t0 = Instant::now();
            client_rt.block_on(bridge.read_messages(expected_per_chunk(chunk)))?;
            run.read.wall += t0.elapsed();
            run.read.cpu += process_cpu(bridge.pid).saturating_sub(cpu0);
            run.read.messages += chunk;
            let sample = rss(bridge.pid).ok_or("cannot read the bridge's RSS")?;
            run.samples.push(((i + 1) * chunk, sample));
        }
        client_rt.block_on(bridge.stop())?;
        Res::Ok(run)
    })();
    sim.stop();
    result
}

/// Start-up, idle memory, the long run and the 100-room runs; returns the 100-room
/// all-admitted run (default log level), the one `vs-ddp-client` compares with.
pub(crate) fn run_all(
    client_rt: &Runtime,
    exe: &Path,
    sizes: &Sizes,
    baseline: Option<&ReadFigures>,
) -> Res<LongRun> {
    let s = startup(client_rt, exe)?;
    println!("\n## Bridge process (`bridge serve`, RUST_LOG={CHILD_LOG})");
    println!(
        "- start-up to `connection: active`: median {:.1} ms (max {:.1} ms); to `ready`: median {:.1} ms, over {STARTS} starts (10 rooms)",
        median(s.to_active.clone()).as_secs_f64() * 1e3,
        s.to_active.iter().max().copied().unwrap_or_default().as_secs_f64() * 1e3,
        median(s.to_ready.clone()).as_secs_f64() * 1e3,
    );
    println!(
        "- for comparison, `RocketChatChannel::connect` in process (REST me + rooms, socket, DDP connect, login, subscriptions ready): median {:.1} ms",
        median(s.connect_in_process.clone()).as_secs_f64() * 1e3
    );
    println!(
        "- idle, connected: peak RSS (VmHWM) {}, RSS now {}",
        mib(s.idle.peak_kib),
        mib(s.idle.now_kib)
    );
    let run = long_run(
        client_rt,
        exe,
        sizes.memory_rooms,
        sizes.memory_messages,
        Filter::AdmitAll,
        Some(CHILD_LOG),
    )?;
    println!(
        "- end to end (simulator -> bridge -> `message` lines on stdout), {} rooms, all admitted:",
        run.rooms
    );
    crate::print_read(&run.read, baseline);
    println!("  (CPU: all threads of the bridge process, 10 ms ticks)");
    println!("- RSS during the run (messages: RSS / peak):");
    for (n, r) in &run.samples {
        println!("    {n:>9}: {} / {}", mib(r.now_kib), mib(r.peak_kib));
    }
    let mut admitted = LongRun::default();
    for (label, filter) in [
        ("all admitted", Filter::AdmitAll),
        (
            "99% dropped by the policy (1 of 100 rooms allowlisted)",
            Filter::PolicyAllowlist,
        ),
    ] {
        let r = long_run(client_rt, exe, 100, sizes.inbound, filter, None)?;
        println!(
            "- end to end, 100 rooms, {label}, default log level (info), stderr drained as the plugin does:"
        );
        crate::print_read(&r.read, baseline);
        if filter == Filter::AdmitAll {
            admitted = r;
        }
    }
    let half = run.samples.len() / 2;
    if let (Some((_, mid)), Some((_, end))) =
        (run.samples.get(half.saturating_sub(1)), run.samples.last())
    {
        let growth = end.now_kib as i64 - mid.now_kib as i64;
        println!(
            "- second half: RSS {} at the middle, {} at the end ({:+.1} MiB)",
            mib(mid.now_kib),
            mib(end.now_kib),
            growth as f64 / 1024.0
        );
    }
    Ok(admitted)
}

impl LongRun {
    /// The bridge's peak RSS (`VmHWM`, KiB) over the run.
    pub(crate) fn peak_kib(&self) -> u64 {
        self.samples
            .iter()
            .map(|(_, r)| r.peak_kib)
            .max()
            .unwrap_or(0)
    }
}
