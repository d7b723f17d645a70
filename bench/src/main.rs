//! `bench`: the performance figures of issue 7 in one run (`docs/performance.md`).
//!
//! ```text
//! cargo build --release -p bridge -p bench
//! target/release/bench all            # full run (figures for the document)
//! target/release/bench all --quick    # small N, under a minute (CI: proves it still works)
//! ```
//!
//! # Layout
//! - `sim`: the simulator on its own runtime and thread, with a bot, a human and rooms.
//! - `raw`: the raw baseline client (fastwebsockets + hand-written DDP + serde_json).
//! - `inbound`: the raw read and the in-process read (backend -> events -> policy).
//! - `latency`: send stamp -> event out of the backend, at a steady rate.
//! - `outbound`: sends per second, the backend against a bare hyper client.
//! - `catchup`: a restart with missed messages: start -> the last one, order kept.
//! - `bridge`: the `bridge serve` child process: start-up, idle RSS, end to end, 1M run.
//! - `ddp_client`: Rocket.Chat's `@rocket.chat/ddp-client` on the same firehose, beside
//!   `bridge serve` in the same run (skipped, with one line, where it is not installed).
//! - `measure`: CPU clocks, RSS, percentiles.
//!
//! The client side runs on a current-thread runtime on the main thread, so the CPU meter of
//! that thread is the whole cost of the client; the simulator has its own thread.
#![allow(clippy::print_stdout)]

mod bridge;
mod catchup;
mod ddp_client;
mod inbound;
mod latency;
mod measure;
mod outbound;
mod raw;
mod sim;

use clap::{Parser, ValueEnum};

/// Errors of a benchmark run (reported, then exit 1).
pub(crate) type Res<T> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Which {
    All,
    Raw,
    Inbound,
    Latency,
    Outbound,
    Bridge,
    /// `bridge serve` and Rocket.Chat's `@rocket.chat/ddp-client` on the same firehose.
    VsDdpClient,
    /// Catch-up after a restart: socket open to the last missed message.
    CatchUp,
    /// Only the in-process read with every message admitted (for profiling).
    #[value(hide = true)]
    Admit,
}

/// Performance benchmarks against the Rocket.Chat simulator.
#[derive(Debug, Parser)]
struct Args {
    /// Which part to run.
    #[arg(value_enum, default_value = "all")]
    which: Which,
    /// Small sizes: proves the benchmark works, in well under a minute.
    #[arg(long)]
    quick: bool,
    /// The `bridge` binary (default: next to this executable).
    #[arg(long)]
    bridge: Option<std::path::PathBuf>,
}

/// Run sizes.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Sizes {
    /// Firehose messages of the inbound runs.
    pub(crate) inbound: usize,
    /// Rooms of the inbound runs (one of them allowlisted in the 99%-skipped runs).
    pub(crate) rooms: usize,
    /// Messages at 1,000/s in the latency run.
    pub(crate) latency: usize,
    /// Sequential sends.
    pub(crate) outbound: usize,
    /// The long memory run: rooms and messages.
    pub(crate) memory_rooms: usize,
    pub(crate) memory_messages: usize,
    /// The catch-up runs: many rooms with some missed, and one room with many.
    pub(crate) catch_up: [catchup::Shape; 2],
}

impl Sizes {
    fn new(quick: bool) -> Self {
        if quick {
            Sizes {
                inbound: 20_000,
                rooms: 100,
                latency: 1_000,
                outbound: 500,
                memory_rooms: 100,
                memory_messages: 40_000,
                catch_up: [
                    catchup::Shape {
                        rooms: 100,
                        missed_rooms: 10,
                        missed: 100,
                    },
                    catchup::Shape {
                        rooms: 1,
                        missed_rooms: 1,
                        missed: 1_000,
                    },
                ],
            }
        } else {
            Sizes {
                inbound: 200_000,
                rooms: 100,
                latency: 10_000,
                outbound: 5_000,
                memory_rooms: 1_000,
                memory_messages: 1_000_000,
                catch_up: [
                    catchup::Shape {
                        rooms: 1_000,
                        missed_rooms: 100,
                        missed: 1_000,
                    },
                    catchup::Shape {
                        rooms: 1,
                        missed_rooms: 1,
                        missed: 10_000,
                    },
                ],
            }
        }
    }
}

fn main() {
    let args = Args::parse();
    if let Err(e) = run(&args) {
        eprintln!("bench failed: {e}");
        std::process::exit(1);
    }
}

fn run(args: &Args) -> Res<()> {
    let sizes = Sizes::new(args.quick);
    let client_rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    print_machine(args.quick);
    let all = args.which == Which::All;
    let mut baseline = None;
    if all || matches!(args.which, Which::Raw | Which::Inbound) {
        let sim = sim::Sim::start(sizes.rooms)?;
        let raw = inbound::raw(&client_rt, &sim, sizes.inbound)?;
        sim.stop();
        println!("\n## Raw baseline (fastwebsockets + DDP by hand + serde_json::Value)");
        print_read(&raw, None);
        println!(
            "  simulator firehose production: {:.0} msgs/s (its own ceiling)",
            raw.produce_rate()
        );
        baseline = Some(raw);
    }
    if all || args.which == Which::Inbound {
        println!("\n## Inbound in process (frames -> backend-rocketchat -> events -> policy)");
        for (label, filter) in [
            ("all admitted", inbound::Filter::AdmitAll),
            (
                "99% dropped by the policy (1 of 100 rooms allowlisted: room_not_allowlisted)",
                inbound::Filter::PolicyAllowlist,
            ),
            (
                "99% dropped by the backend's own room list",
                inbound::Filter::BackendAllowlist,
            ),
        ] {
            let sim = sim::Sim::start(sizes.rooms)?;
            let f = inbound::in_process(&client_rt, &sim, sizes.inbound, filter)?;
            sim.stop();
            println!("- {label}:");
            print_read(&f, baseline.as_ref());
            println!(
                "  events {} / dispatched {} / skipped {} / dropped {}",
                f.events, f.dispatched, f.skipped, f.dropped
            );
        }
    }
    if args.which == Which::Admit {
        let sim = sim::Sim::start(sizes.rooms)?;
        let f = inbound::in_process(&client_rt, &sim, sizes.inbound, inbound::Filter::AdmitAll)?;
        print_read(&f, None);
        std::mem::forget(sim);
    }
    if all || args.which == Which::Latency {
        let sim = sim::Sim::start(1)?;
        let l = latency::run(&client_rt, &sim, sizes.latency)?;
        sim.stop();
        latency::print(&l);
    }
    if all || args.which == Which::CatchUp {
        println!("\n## Catch-up after a restart (resume point; start -> last missed message)");
        for shape in sizes.catch_up {
            catchup::print(&catchup::run(&client_rt, shape)?);
        }
    }
    if all || args.which == Which::Outbound {
        let sim = sim::Sim::start(1)?;
        let o = outbound::run(&client_rt, &sim, sizes.outbound)?;
        sim.stop();
        outbound::print(&o);
    }
    let exe = || match &args.bridge {
        Some(p) => Ok(p.clone()),
        None => bridge::default_binary(),
    };
    let mut serve_figure = None;
    if all || args.which == Which::Bridge {
        serve_figure = Some(bridge::run_all(
            &client_rt,
            &exe()?,
            &sizes,
            baseline.as_ref(),
        )?);
    }
    if all || args.which == Which::VsDdpClient {
        println!(
            "\n## vs Rocket.Chat's @rocket.chat/ddp-client (the same firehose: {} msgs over 100 rooms; load average {})",
            sizes.inbound,
            measure::load_average()
        );
        let serve = match serve_figure {
            Some(f) => f,
            None => {
                let f = bridge::long_run(
                    &client_rt,
                    &exe()?,
                    100,
                    sizes.inbound,
                    inbound::Filter::AdmitAll,
                    None,
                )?;
                println!(
                    "- bridge serve end to end, 100 rooms, all admitted, default log level: peak RSS {}",
                    measure::mib(f.peak_kib())
                );
                print_read(&f.read, baseline.as_ref());
                f
            }
        };
        if let Some(runs) = ddp_client::run(&client_rt, 100, sizes.inbound)? {
            for run in &runs {
                ddp_client::print(run, Some((&serve.read, serve.peak_kib())));
            }
        }
        println!("  load average after: {}", measure::load_average());
    }
    Ok(())
}

/// Prints one read: wall rate, CPU per message, capacity, ratios to the baseline.
pub(crate) fn print_read(f: &inbound::ReadFigures, baseline: Option<&inbound::ReadFigures>) {
    println!(
        "  {} msgs in {:.3} s: {:.0} msgs/s wall; CPU {} per msg (one core: {:.0} msgs/s)",
        f.messages,
        f.wall.as_secs_f64(),
        f.rate(),
        measure::us(f.cpu_per_message()),
        f.capacity()
    );
    if let Some(b) = baseline {
        println!(
            "  vs raw baseline: {:.0}% of its wall rate, {:.0}% of its one-core capacity",
            100.0 * f.rate() / b.rate(),
            100.0 * f.capacity() / b.capacity()
        );
    }
}

fn print_machine(quick: bool) {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split(':').nth(1))
        .map_or("unknown", str::trim);
    let cores = std::thread::available_parallelism().map_or(0, usize::from);
    let mem = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find(|l| l.starts_with("MemTotal:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse::<u64>().ok())
        })
        .unwrap_or(0);
    let load = measure::load_average();
    println!(
        "# bench ({} mode): {cores} cores, CPU {model}, memory {}, load average {load}",
        if quick { "quick" } else { "full" },
        measure::mib(mem)
    );
}
