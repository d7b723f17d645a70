//! Thread facts for threads from before the bot (re)started: the first reply in such a
//! thread already says whether the bot wrote the root or replied in the thread, because
//! the backend looks the root up once (`chat.getMessage`, which carries `u` and `replies`).

#![allow(clippy::unwrap_used)]

mod support;

use std::time::Duration;

use backend_rocketchat::RocketChatChannel;
use channel_api::{AccountId, Channel, Event, EventStream, Message};

use support::{next_event, wait_active};

async fn created(events: &mut EventStream, id: &str) -> Message {
    loop {
        if let Event::MessageCreated { message } = next_event(events).await {
            if message.id.as_str() == id {
                return message;
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_replies_in_threads_from_before_the_start_carry_the_facts() {
    let w = support::world().await;
    let (bot, peer, room) = (&w.bot_id, &w.peer_id, &w.room);
    // Before the bot connects: its own root, a peer thread it replied in, and a peer thread
    // it never touched.
    let bot_root = w.sim.post(bot, room, "bot root from yesterday").unwrap();
    let joined = w
        .sim
        .post(peer, room, "peer thread the bot joined")
        .unwrap();
    w.sim
        .post_reply(bot, room, &joined, "bot reply from yesterday")
        .unwrap();
    let untouched = w
        .sim
        .post(peer, room, "peer thread without the bot")
        .unwrap();
    w.sim
        .post_reply(peer, room, &untouched, "old chatter")
        .unwrap();

    let channel = RocketChatChannel::connect(w.config(), AccountId::new("default"))
        .await
        .unwrap();
    let mut events = channel.events().unwrap();
    wait_active(&mut events).await;

    let id = w.sim.post_reply(peer, room, &bot_root, "thanks").unwrap();
    let m = created(&mut events, &id).await;
    assert!(m.reply_to_bot && !m.bot_in_thread, "{m:?}");

    let id = w.sim.post_reply(peer, room, &joined, "follow-up").unwrap();
    let m = created(&mut events, &id).await;
    assert!(!m.reply_to_bot && m.bot_in_thread, "{m:?}");

    let id = w
        .sim
        .post_reply(peer, room, &untouched, "more chatter")
        .unwrap();
    let m = created(&mut events, &id).await;
    assert!(!m.reply_to_bot && !m.bot_in_thread, "{m:?}");

    // Later replies in the same threads keep their facts.
    let id = w.sim.post_reply(peer, room, &joined, "again").unwrap();
    let m = created(&mut events, &id).await;
    assert!(m.bot_in_thread, "{m:?}");
    channel.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replies_caught_up_after_a_reconnect_carry_the_facts_too() {
    let w = support::world().await;
    let (bot, peer, room) = (&w.bot_id, &w.peer_id, &w.room);
    let bot_root = w.sim.post(bot, room, "bot root from yesterday").unwrap();
    let joined = w
        .sim
        .post(peer, room, "peer thread the bot joined")
        .unwrap();
    w.sim
        .post_reply(bot, room, &joined, "bot reply from yesterday")
        .unwrap();

    let mut config = w.config();
    // Long enough that the replies below are posted while the bot is away.
    config.timeouts.reconnect_min = Duration::from_millis(400);
    config.timeouts.reconnect_max = Duration::from_millis(800);
    let channel = RocketChatChannel::connect(config, AccountId::new("default"))
        .await
        .unwrap();
    let mut events = channel.events().unwrap();
    wait_active(&mut events).await;

    w.sim.drop_sockets(bot);
    let to_bot = w.sim.post_reply(peer, room, &bot_root, "thanks").unwrap();
    let follow_up = w.sim.post_reply(peer, room, &joined, "follow-up").unwrap();

    let m = created(&mut events, &to_bot).await;
    assert!(m.reply_to_bot && !m.bot_in_thread, "{m:?}");
    let m = created(&mut events, &follow_up).await;
    assert!(!m.reply_to_bot && m.bot_in_thread, "{m:?}");
    channel.shutdown().await;
}
