//! Test support: a simulator with a bot and a peer user, the bot's config, and the peer
//! ([`peer::RestPeer`]: real protocol, not the simulator's control handle).

#![allow(clippy::unwrap_used, dead_code, unreachable_pub)]

use std::time::Duration;

use backend_rocketchat::{RocketChatConfig, Secret};
use channel_api::{ConnectionState, Event, EventStream};
use rocketchat_sim::{RoomKind, SimConfig, SimHandle, Simulator, UserKind};

pub mod peer;
pub use peer::RestPeer;

/// Only turns a hang into a failure (tests wait for outcomes, not for time).
pub const HANG: Duration = Duration::from_secs(20);

/// The next event of the channel's stream; a hang or the stream's end fails the test.
pub async fn next_event(events: &mut EventStream) -> Event {
    tokio::time::timeout(HANG, events.recv())
        .await
        .expect("no event arrived")
        .expect("the stream ended")
}

/// Reads events until the connection is active.
pub async fn wait_active(events: &mut EventStream) {
    loop {
        if let Event::ConnectionStateChanged {
            state: ConnectionState::Active,
        } = next_event(events).await
        {
            return;
        }
    }
}

/// A running simulator with a bot, a peer, a public room both are in, and their DM.
pub struct World {
    pub sim: SimHandle,
    pub bot_id: String,
    pub bot_token: String,
    pub peer_id: String,
    pub peer_token: String,
    pub room: String,
    pub room_name: String,
    pub dm: String,
}

pub async fn world() -> World {
    world_with(SimConfig::default()).await
}

pub async fn world_with(config: SimConfig) -> World {
    let sim = Simulator::start(config).await.unwrap();
    let bot_id = sim.create_user("bot", UserKind::Bot).unwrap();
    let bot_token = sim.create_pat(&bot_id, "bridge").unwrap();
    let peer_id = sim.create_user("alice", UserKind::Human).unwrap();
    let peer_token = sim.create_pat(&peer_id, "peer").unwrap();
    let room = sim
        .create_room(RoomKind::Public, "dev", &peer_id, &[&bot_id])
        .unwrap();
    let dm = sim.create_dm(&bot_id, &peer_id).unwrap();
    World {
        sim,
        bot_id,
        bot_token,
        peer_id,
        peer_token,
        room,
        room_name: "dev".into(),
        dm,
    }
}

impl World {
    /// The bot's config: plain http to the simulator (so the insecure flag), short
    /// timeouts so failures show quickly.
    pub fn config(&self) -> RocketChatConfig {
        let mut c = RocketChatConfig::new(
            self.sim.base_url(),
            self.bot_id.clone(),
            "bot",
            Secret::new(self.bot_token.clone()),
        );
        c.dangerously_allow_insecure = true;
        c.timeouts.connect = Duration::from_secs(5);
        c.timeouts.request = Duration::from_secs(5);
        c.timeouts.reconnect_min = Duration::from_millis(50);
        c.timeouts.reconnect_max = Duration::from_millis(500);
        c
    }

    pub fn peer(&self) -> RestPeer {
        RestPeer::new(
            &RestPeer::plain_http(&self.sim.base_url()),
            &self.peer_id,
            "alice",
            &self.peer_token,
        )
    }
}

/// Call first in every test of a binary where some test captures logs with a scoped
/// subscriber (`tracing::subscriber::set_default`).
///
/// tracing caches per callsite whether anyone listens. A callsite first hit by another
/// test's thread while a scoped subscriber is being registered can be cached as "nobody"
/// and its events then never reach the capture (a race in tracing-core between callsite
/// registration and the interest rebuild). A global subscriber that answers "sometimes"
/// for every callsite, installed before any test logs, makes every event ask the current
/// thread's subscriber instead.
pub fn scoped_log_capture_safe() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let _ = tracing::subscriber::set_global_default(AskEveryTime);
    });
}

/// Listens to nothing itself, but never lets a callsite be cached as unwanted.
struct AskEveryTime;

impl tracing::Subscriber for AskEveryTime {
    fn register_callsite(
        &self,
        _: &'static tracing::Metadata<'static>,
    ) -> tracing::subscriber::Interest {
        tracing::subscriber::Interest::sometimes()
    }
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        false
    }
    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, _: &tracing::Event<'_>) {}
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}
