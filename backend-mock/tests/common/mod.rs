//! The world most backend-mock tests start from: a bot and alice in a public room, the
//! bot's channel with its event stream, and alice as a peer.
#![allow(clippy::unwrap_used, dead_code, unreachable_pub)]

use backend_mock::{MemoryChannel, MemoryPeer, World};
use channel_api::{AccountId, Channel, EventStream, RoomId, UserId};

pub struct Setup {
    pub world: World,
    pub bot: UserId,
    pub alice: UserId,
    pub room: RoomId,
    pub channel: MemoryChannel,
    pub events: EventStream,
    pub peer: MemoryPeer,
}

pub fn setup() -> Setup {
    let world = World::new();
    let bot = world.add_bot("bot");
    let alice = world.add_user("alice");
    let room = world
        .create_public_room("general", &[&bot, &alice])
        .unwrap();
    let channel = world.channel_for(&bot, AccountId::new("default")).unwrap();
    let events = channel.events().unwrap();
    let peer = world.peer(&alice).unwrap();
    Setup {
        world,
        bot,
        alice,
        room,
        channel,
        events,
        peer,
    }
}
