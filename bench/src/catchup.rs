//! Catch-up after a restart or a reconnect (issue 17 item 4): how long from the start
//! to the last missed message, and whether each room's messages keep their order.
//!
//! The run is deterministic, with no race between posting and reconnecting: the backend
//! starts with a [`ResumePoint`] taken before the missed messages were posted (as the
//! bridge restarts from its state file; a reconnect reads the same way, from each room's
//! mark). The clock starts when the backend is started (on loopback the socket, the login
//! and the subscriptions take a few milliseconds of it) and stops when the last missed
//! message is in the reader's hands. Event receipt times are not used for the phases: on
//! the one-thread client runtime the session may run ahead of the reader.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use backend_rocketchat::{ResumePoint, RocketChatChannel};
use channel_api::{AccountId, Channel, ConnectionState, Event, Timestamp};

use crate::inbound::backend_config;
use crate::measure::{load_average, thread_cpu};
use crate::sim::Sim;
use crate::Res;

/// One catch-up run's shape.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Shape {
    /// Rooms the bot is in.
    pub(crate) rooms: usize,
    /// Rooms that got messages while the bot was away.
    pub(crate) missed_rooms: usize,
    /// Missed messages in all.
    pub(crate) missed: usize,
}

/// What a run measured.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Figures {
    pub(crate) shape: Shape,
    /// Start to the connection reported `Active`, when the reader saw that before the
    /// last missed message.
    pub(crate) to_active: Option<Duration>,
    /// Start to the last missed message in the reader's hands.
    pub(crate) to_last: Duration,
    /// CPU of the client thread over the same span.
    pub(crate) cpu: Duration,
    /// Missed messages delivered (each once).
    pub(crate) delivered: usize,
    /// Rooms whose messages arrived out of the order they were posted in.
    pub(crate) out_of_order_rooms: usize,
}

/// Posts `shape.missed` messages over `shape.missed_rooms` rooms while the bot is away,
/// then starts the backend from a resume point taken before them and reads until every
/// missed message arrived.
pub(crate) fn run(client_rt: &tokio::runtime::Runtime, shape: Shape) -> Res<Figures> {
    let sim = Sim::start(shape.rooms)?;
    let result = measure(client_rt, &sim, shape);
    sim.stop();
    result
}

fn measure(client_rt: &tokio::runtime::Runtime, sim: &Sim, shape: Shape) -> Res<Figures> {
    // Everything before this point was handled; the missed messages come after it.
    let point = ResumePoint::at(Timestamp(now_millis()));
    std::thread::sleep(Duration::from_millis(5));
    let missed_rooms: Vec<String> = sim.rooms.iter().take(shape.missed_rooms).cloned().collect();
    let posted = sim.firehose_into(missed_rooms, shape.missed)?;
    if posted.len() != shape.missed {
        return Err(format!(
            "posted {} of {} missed messages",
            posted.len(),
            shape.missed
        )
        .into());
    }
    // Per room, the order the messages were posted in.
    let mut expected: HashMap<String, Vec<String>> = HashMap::new();
    for (i, id) in posted.iter().enumerate() {
        let room = &sim.rooms[i % shape.missed_rooms];
        expected.entry(room.clone()).or_default().push(id.clone());
    }

    let mut config = backend_config(sim, &[])?;
    config.resume = Some(point);
    client_rt.block_on(async {
        let (t0, cpu0) = (Instant::now(), thread_cpu());
        let channel = RocketChatChannel::start(config, AccountId::new("bench"))?;
        let mut events = channel.events()?;
        let mut to_active = None;
        let mut seen: HashMap<String, Vec<String>> = HashMap::new();
        let mut delivered = 0usize;
        let deadline = Duration::from_secs(300);
        while delivered < shape.missed {
            let event = tokio::time::timeout(deadline, events.recv())
                .await
                .map_err(|_| format!("catch-up stalled at {delivered} of {}", shape.missed))?
                .ok_or("the event stream ended")?;
            match event {
                Event::ConnectionStateChanged {
                    state: ConnectionState::Active,
                } => to_active = Some(t0.elapsed()),
                Event::MessageCreated { message } => {
                    delivered += 1;
                    seen.entry(message.room.id.as_str().to_owned())
                        .or_default()
                        .push(message.id.as_str().to_owned());
                }
                _ => {}
            }
        }
        let to_last = t0.elapsed();
        let cpu = thread_cpu().saturating_sub(cpu0);
        channel.shutdown().await;
        let out_of_order_rooms = expected
            .iter()
            .filter(|(room, ids)| seen.get(*room) != Some(*ids))
            .count();
        Res::Ok(Figures {
            shape,
            to_active,
            to_last,
            cpu,
            delivered,
            out_of_order_rooms,
        })
    })
}

fn now_millis() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// Prints one run.
pub(crate) fn print(f: &Figures) {
    println!(
        "- {} rooms, {} missed in {} of them: start -> last missed message {:.0} ms ({}), {:.1} µs CPU per message (the connection included), {} delivered, {} rooms out of order (load average {})",
        f.shape.rooms,
        f.shape.missed,
        f.shape.missed_rooms,
        f.to_last.as_secs_f64() * 1e3,
        match f.to_active {
            Some(d) => format!("Active after {:.0} ms", d.as_secs_f64() * 1e3),
            None => "Active after the last one".to_owned(),
        },
        f.cpu.as_secs_f64() * 1e6 / f.delivered.max(1) as f64,
        f.delivered,
        f.out_of_order_rooms,
        load_average(),
    );
}
