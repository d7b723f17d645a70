//! The conformance suite against the simulator: the bot is a `RocketChatChannel`, the peer
//! a second simulator user speaking REST.

#![allow(clippy::unwrap_used)]

mod support;

use std::sync::Arc;

use backend_rocketchat::RocketChatChannel;
use channel_api::{AccountId, RoomId};
use conformance::{Harness, TestRooms, Timeouts};

async fn sim_harness() -> Option<Harness> {
    let world = support::world().await;
    let channel = RocketChatChannel::connect(world.config(), AccountId::new("default"))
        .await
        .unwrap();
    let peer = world.peer();
    let rooms = TestRooms {
        room: RoomId::new(world.room.clone()),
        room_name: world.room_name.clone(),
        dm_room: RoomId::new(world.dm.clone()),
    };
    // The simulator lives as long as the test process; the harness owns the channel.
    std::mem::forget(world.sim);
    Some(
        Harness::new(
            Arc::new(channel),
            Arc::new(peer),
            rooms,
            Timeouts::from_env(),
        )
        .unwrap(),
    )
}

conformance::channel_conformance!(sim_harness);
