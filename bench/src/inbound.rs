//! Inbound in process: simulator frames -> `backend-rocketchat` -> events -> the
//! `channel-api` policy decision, on one thread. Also the raw baseline over the same frames.
//!
//! Both run the same way: connect, then freeze the client thread while the simulator runs
//! its firehose to the end (the frames wait in the socket and the server's queue), then
//! let the client read everything as fast as it can. The clock and the CPU meter cover
//! only that read, so the figure is the client's, not the simulator's production rate.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use backend_rocketchat::{RocketChatChannel, RocketChatConfig};
use channel_api::config::ChannelConfig;
use channel_api::policy::{Decision, Policy};
use channel_api::{AccountId, Channel, Event, UserId};
use serde_json::json;
use tokio::runtime::Runtime;

use crate::measure::thread_cpu;
use crate::raw::RawClient;
use crate::sim::Sim;
use crate::Res;

/// One read of the firehose.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct ReadFigures {
    /// Messages the firehose sent.
    pub(crate) messages: usize,
    /// Wall time of the read.
    pub(crate) wall: Duration,
    /// CPU time of the client thread during the read.
    pub(crate) cpu: Duration,
    /// How long the simulator took to produce the firehose (its own ceiling).
    pub(crate) produce: Duration,
    /// Policy outcomes (in-process runs).
    pub(crate) dispatched: usize,
    pub(crate) skipped: usize,
    pub(crate) dropped: usize,
    /// Events the backend delivered.
    pub(crate) events: usize,
}

impl ReadFigures {
    pub(crate) fn rate(&self) -> f64 {
        self.messages as f64 / self.wall.as_secs_f64().max(1e-9)
    }
    pub(crate) fn cpu_per_message(&self) -> Duration {
        self.cpu / u32::try_from(self.messages.max(1)).unwrap_or(u32::MAX)
    }
    /// Messages per second one core could take at this CPU cost.
    pub(crate) fn capacity(&self) -> f64 {
        self.messages as f64 / self.cpu.as_secs_f64().max(1e-9)
    }
    pub(crate) fn produce_rate(&self) -> f64 {
        self.messages as f64 / self.produce.as_secs_f64().max(1e-9)
    }
}

/// Which messages the in-process run admits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Filter {
    /// Every room, `groupPolicy: open`, `requireMention: false`: all dispatched.
    AdmitAll,
    /// One room of 100 in the policy's `rooms` (the bridge's path): 99% dropped by the
    /// policy (`room_not_allowlisted`, a drop, not a skip).
    PolicyAllowlist,
    /// One room of 100 in the backend's own `rooms` list: 99% dropped before an event exists.
    BackendAllowlist,
}

/// Runs the firehose on the simulator while this thread (the client runtime) is frozen.
fn produce(sim: &Sim, n: usize) -> Res<Duration> {
    let started = Instant::now();
    let report = futures_block(sim, n)?;
    if report < n {
        return Err(format!("the firehose sent {report} of {n} messages").into());
    }
    Ok(started.elapsed())
}

fn futures_block(sim: &Sim, n: usize) -> Res<usize> {
    let join = sim.firehose(n);
    let rt = tokio::runtime::Builder::new_current_thread().build()?;
    let report = rt.block_on(join)??;
    Ok(report.message_ids.len())
}

/// The raw baseline.
pub(crate) fn raw(client_rt: &Runtime, sim: &Sim, n: usize) -> Res<ReadFigures> {
    let mut client = client_rt.block_on(RawClient::connect(sim.handle.addr(), &sim.bot_token))?;
    let produce = produce(sim, n)?;
    let (wall, cpu) = client_rt.block_on(async {
        let cpu0 = thread_cpu();
        let t0 = Instant::now();
        let mut bytes = 0usize;
        client
            .read_messages(n, |v| bytes += v.as_object().map_or(0, |o| o.len()))
            .await?;
        std::hint::black_box(bytes);
        Res::Ok((t0.elapsed(), thread_cpu() - cpu0))
    })?;
    Ok(ReadFigures {
        messages: n,
        wall,
        cpu,
        produce,
        events: n,
        ..ReadFigures::default()
    })
}

/// The backend's config for the bot.
pub(crate) fn backend_config(sim: &Sim, rooms: &[String]) -> Res<RocketChatConfig> {
    let config = json!({
        "serverUrl": sim.base_url(),
        "userId": sim.bot_id,
        "username": sim.bot_username,
        "authToken": sim.bot_token,
        "dangerouslyAllowInsecure": true,
        "rooms": rooms,
    });
    Ok(RocketChatConfig::from_json(&config.to_string())?)
}

/// The policy keys for a filter: everything open, or one allowlisted room.
pub(crate) fn policy_keys(filter: Filter, room: &str) -> serde_json::Value {
    match filter {
        Filter::AdmitAll | Filter::BackendAllowlist => {
            json!({"groupPolicy": "open", "requireMention": false})
        }
        Filter::PolicyAllowlist => json!({
            "groupPolicy": "allowlist",
            "requireMention": false,
            "rooms": {room: {"requireMention": false}},
        }),
    }
}

/// Frames -> backend -> events -> policy, single account, one thread.
pub(crate) fn in_process(
    client_rt: &Runtime,
    sim: &Sim,
    n: usize,
    filter: Filter,
) -> Res<ReadFigures> {
    let rooms = sim.rooms.len();
    let allowlisted = sim.rooms[rooms - 1].clone();
    let backend_rooms = match filter {
        Filter::BackendAllowlist => vec![allowlisted.clone()],
        _ => Vec::new(),
    };
    let config = backend_config(sim, &backend_rooms)?;
    let channel_config = ChannelConfig::from_value(policy_keys(filter, &allowlisted))?;
    let (channel, mut events, policy) = client_rt.block_on(async {
        let channel = RocketChatChannel::connect(config, AccountId::new("bench")).await?;
        let events = channel.events()?;
        let policy = Policy::new(
            channel_config,
            channel.identity(),
            channel_api::Namespace::new("rocketchat")?,
        )?;
        Res::Ok((channel, events, policy))
    })?;
    // Every room gets n / rooms messages; the last one's messages end the run.
    let expected = match filter {
        Filter::BackendAllowlist => n / rooms,
        _ => n,
    };
    let produce = produce(sim, n)?;
    let approved: HashSet<UserId> = HashSet::new();
    let mut figures = client_rt.block_on(async {
        let cpu0 = thread_cpu();
        let t0 = Instant::now();
        let mut f = ReadFigures::default();
        let mut created = 0;
        while created < expected {
            let Some(event) = events.recv().await else {
                return Err("the event stream ended".into());
            };
            f.events += 1;
            if !matches!(event, Event::MessageCreated { .. }) {
                continue;
            }
            created += 1;
            match policy.decide(&approved, &channel_api::policy::NoKnownMessages, &event) {
                Decision::Dispatch(_) => f.dispatched += 1,
                Decision::Skip(_) => f.skipped += 1,
                Decision::Drop(_) => f.dropped += 1,
                Decision::PairingRequired { .. } => f.dropped += 1,
            }
        }
        f.wall = t0.elapsed();
        f.cpu = thread_cpu() - cpu0;
        Res::Ok(f)
    })?;
    client_rt.block_on(channel.shutdown());
    figures.messages = n;
    figures.produce = produce;
    Ok(figures)
}
