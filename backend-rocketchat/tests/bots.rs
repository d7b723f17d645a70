//! Bots at the seam between the backend and the policy, against the simulator: the backend
//! reports Rocket.Chat bots (`type: bot|app` from `users.info`, a message's own `bot`
//! field: webhooks, the JS SDK) as `Author::is_bot`, and channel-api's policy drops them
//! without `allowBots`, admits them with it, and cuts a bot pair off after 20 messages in
//! 60 s (the budget and cooldown themselves are tested with an injected clock in
//! channel-api's policy and bot_loop tests). A human who marks his own message `bot` is
//! only treated as a bot.

#![allow(clippy::unwrap_used)]

mod support;

use std::collections::HashSet;
use std::time::{Duration, Instant};

use backend_rocketchat::RocketChatChannel;
use channel_api::bot_loop::BotLoopGuard;
use channel_api::config::ChannelConfig;
use channel_api::policy::{NoKnownMessages, Policy};
use channel_api::{
    AccountId, Channel, ConnectionState, Event, EventStream, Identity, Message, Namespace, UserId,
};
use rocketchat_sim::UserKind;
use serde_json::{json, Value};

/// Only turns a hang into a failure.
const HANG: Duration = Duration::from_secs(20);

async fn next_event(events: &mut EventStream) -> Event {
    tokio::time::timeout(HANG, events.recv())
        .await
        .expect("no event arrived")
        .expect("the stream ended")
}

async fn wait_active(events: &mut EventStream) {
    loop {
        if let Event::ConnectionStateChanged {
            state: ConnectionState::Active,
        } = next_event(events).await
        {
            return;
        }
    }
}

async fn created(events: &mut EventStream, id: &str) -> Event {
    loop {
        let event = next_event(events).await;
        if let Event::MessageCreated { message } = &event {
            if message.id.as_str() == id {
                return event;
            }
        }
    }
}

fn message(event: &Event) -> &Message {
    match event {
        Event::MessageCreated { message } => message,
        other => panic!("not a message: {other:?}"),
    }
}

fn policy(w: &support::World, extra: Value) -> Policy {
    let mut config = json!({ "groupPolicy": "open" });
    for (k, v) in extra.as_object().unwrap() {
        config[k] = v.clone();
    }
    let identity = Identity {
        account: AccountId::new("default"),
        user_id: UserId::new(w.bot_id.clone()),
        username: "bot".into(),
    };
    Policy::new(
        ChannelConfig::from_value(config).unwrap(),
        identity,
        Namespace::new("rocketchat").unwrap(),
    )
    .unwrap()
}

/// `dispatch`, `drop:<reason>`, `skip:<reason>`.
fn label(policy: &Policy, event: &Event) -> String {
    let decision = policy.decide(&HashSet::new(), &NoKnownMessages, event);
    match decision.reason() {
        Some(reason) => format!("{}:{reason}", decision.kind()),
        None => decision.kind().to_owned(),
    }
}

async fn connect(w: &support::World) -> (RocketChatChannel, EventStream) {
    let channel = RocketChatChannel::connect(w.config(), AccountId::new("default"))
        .await
        .unwrap();
    let mut events = channel.events().unwrap();
    wait_active(&mut events).await;
    (channel, events)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bots_are_dropped_without_allow_bots_and_admitted_with_it() {
    let w = support::world().await;
    let other = w.sim.create_user("other.bot", UserKind::Bot).unwrap();
    w.sim.join_room(&w.room, &other).unwrap();
    let app = w.sim.create_app_user("poll.app", "Poll").unwrap();
    let hook = w
        .sim
        .create_incoming_webhook("ci", &w.peer_id, &w.room)
        .unwrap();
    let (channel, mut events) = connect(&w).await;
    let closed = policy(&w, json!({}));
    let open = policy(&w, json!({ "allowBots": true }));

    // A bot account (type bot: the only sign a plain bot may see, roles are withheld).
    let id = w.sim.post(&other, &w.room, "@bot ping").unwrap();
    let from_bot = created(&mut events, &id).await;
    assert!(message(&from_bot).author.is_bot);
    assert_eq!(label(&closed, &from_bot), "drop:bot_message");
    assert_eq!(label(&open, &from_bot), "dispatch");

    // A human, in the same room, is heard either way.
    let id = w.sim.post(&w.peer_id, &w.room, "@bot hello").unwrap();
    let from_human = created(&mut events, &id).await;
    assert!(!message(&from_human).author.is_bot);
    assert_eq!(label(&closed, &from_human), "dispatch");
    assert_eq!(label(&open, &from_human), "dispatch");

    // An app user (type app) and an incoming webhook (its messages carry `bot: {i}`, posted
    // as a human integration owner).
    let id = w.sim.post(&app, &w.room, "@bot poll").unwrap();
    let from_app = created(&mut events, &id).await;
    assert!(message(&from_app).author.is_bot);
    assert_eq!(label(&closed, &from_app), "drop:bot_message");
    let ids = w
        .sim
        .post_webhook(&hook.id, json!({"text": "@bot build failed"}))
        .unwrap();
    let from_hook = created(&mut events, &ids[0]).await;
    assert_eq!(message(&from_hook).author.id.as_str(), w.peer_id);
    assert!(message(&from_hook).author.is_bot);
    assert_eq!(label(&closed, &from_hook), "drop:bot_message");
    assert_eq!(label(&open, &from_hook), "dispatch");

    // The owner's own later messages are not tainted by the webhook's.
    let id = w.sim.post(&w.peer_id, &w.room, "@bot me again").unwrap();
    let again = created(&mut events, &id).await;
    assert!(!message(&again).author.is_bot);
    channel.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_human_who_marks_his_message_bot_is_only_held_to_the_bot_rules() {
    let w = support::world().await;
    let (channel, mut events) = connect(&w).await;
    let closed = policy(&w, json!({}));
    let open = policy(&w, json!({ "allowBots": true }));
    let peer = w.peer();
    let send = |msg: &str| {
        let body = json!({"message": {"rid": w.room, "msg": msg, "bot": {"i": "js.SDK"}}});
        let peer = peer.clone();
        async move {
            let r = peer
                .call("POST", "chat.sendMessage", Some(body))
                .await
                .unwrap();
            r["message"]["_id"].as_str().unwrap().to_owned()
        }
    };
    let id = send("@bot I am a bot now").await;
    let marked = created(&mut events, &id).await;
    assert!(message(&marked).author.is_bot);
    assert_eq!(label(&closed, &marked), "drop:bot_message");
    // With allowBots it is a message like any other: still gated by the mention.
    let id = send("no mention").await;
    let unmentioned = created(&mut events, &id).await;
    assert_eq!(label(&open, &unmentioned), "skip:not_mentioned");
    // And still bounded by the loop budget (next test), never exempt from a gate.
    channel.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_bots_ping_ponging_are_cut_off_after_twenty_in_a_minute() {
    let w = support::world().await;
    let other = w.sim.create_user("other.bot", UserKind::Bot).unwrap();
    w.sim.join_room(&w.room, &other).unwrap();
    let (channel, mut events) = connect(&w).await;
    let open = policy(&w, json!({ "allowBots": true }));
    let mut guard = BotLoopGuard::new();
    let start = Instant::now();
    let mut labels = Vec::new();
    for n in 1..=22 {
        let id = w
            .sim
            .post(&other, &w.room, &format!("@bot ping {n}"))
            .unwrap();
        let event = created(&mut events, &id).await;
        let now_ms = u64::try_from(start.elapsed().as_millis()).unwrap();
        let decision = open.decide_at(
            &mut guard,
            now_ms,
            &HashSet::new(),
            &NoKnownMessages,
            &event,
        );
        labels.push(match decision.reason() {
            Some(reason) => format!("{}:{reason}", decision.kind()),
            None => decision.kind().to_owned(),
        });
        // The bot answers each ping, as a bot on the other side would.
        if decision.admitted_message().is_some() {
            channel_api::ChannelExt::send_text(&channel, &message(&event).room.id, "pong")
                .await
                .unwrap();
        }
    }
    assert!(
        start.elapsed() < Duration::from_secs(60),
        "too slow to test"
    );
    assert!(labels[..20].iter().all(|l| l == "dispatch"), "{labels:?}");
    assert_eq!(labels[20..], ["drop:bot_loop", "drop:bot_loop"]);
    // A human in the room is still heard during the cooldown.
    let id = w
        .sim
        .post(&w.peer_id, &w.room, "@bot are you there")
        .unwrap();
    let event = created(&mut events, &id).await;
    let now_ms = u64::try_from(start.elapsed().as_millis()).unwrap();
    let decision = open.decide_at(
        &mut guard,
        now_ms,
        &HashSet::new(),
        &NoKnownMessages,
        &event,
    );
    assert_eq!(decision.kind(), "dispatch");
    channel.shutdown().await;
}
