//! The conformance suite against a live Rocket.Chat 8.x server (or the simulator, through
//! the very same `RC_TEST_*` path: `scripts/live-conformance.sh`).
//!
//! Unconfigured, every case prints one skip line and passes; with
//! `CONFORMANCE_REQUIRE_LIVE=1` a missing variable fails instead. Provision a server and
//! print the variables with `rc-provision` (see `deploy/README.md`), then:
//!
//! ```text
//! CONFORMANCE_REQUIRE_LIVE=1 cargo test -p backend-rocketchat --test conformance_live
//! ```
//!
//! Each case runs with its own run id in every text it posts, so cases can run in parallel
//! in shared rooms; when a case ends, the peer deletes that run's messages (see
//! `support/live_env.rs`).

#![allow(clippy::unwrap_used)]

#[path = "support/live_env.rs"]
mod live_env;

use std::sync::Arc;

use backend_rocketchat::RocketChatChannel;
use channel_api::{AccountId, RoomId};
use conformance::{Harness, TestRooms, Timeouts};

use crate::live_env::LiveEnv;

/// One harness per case: the bot's channel connected to the live server, the peer acting
/// over REST as the peer user, and the provisioned room and DM.
async fn live_harness() -> Option<Harness> {
    let env = LiveEnv::from_env()?;
    let channel = match RocketChatChannel::connect(env.bot_config(), AccountId::new("live")).await {
        Ok(channel) => channel,
        Err(e) => panic!("conformance: the bot could not connect to {}: {e}", env.url),
    };
    let run_id = conformance::new_run_id();
    let peer = env.peer(&run_id);
    let rooms = TestRooms {
        room: RoomId::new(env.room_id.clone()),
        room_name: env.room_name.clone(),
        dm_room: RoomId::new(env.dm_room_id.clone()),
    };
    let harness = Harness::new(
        Arc::new(channel),
        Arc::new(peer),
        rooms,
        Timeouts::from_env(),
    )
    .unwrap()
    .with_run_id(run_id);
    Some(harness)
}

conformance::channel_conformance!(live_harness);
