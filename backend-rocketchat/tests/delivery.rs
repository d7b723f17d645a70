//! Delivery niceties against the simulator: a thread reply also shown in the room
//! (`tshow`), and the agent's name and picture on sent messages (`alias` / `avatar` /
//! `emoji`, which need Rocket.Chat's `message-impersonate` permission for the first two).

#![allow(clippy::unwrap_used)]

mod support;

use backend_rocketchat::RocketChatChannel;
use channel_api::{AccountId, Channel, OutboundMessage, SenderIdentity};
use serde_json::Value;

use support::wait_active;

async fn connect(w: &support::World) -> RocketChatChannel {
    let channel = RocketChatChannel::connect(w.config(), AccountId::new("default"))
        .await
        .unwrap();
    let mut events = channel.events().unwrap();
    wait_active(&mut events).await;
    channel
}

fn field<'a>(doc: &'a Value, key: &str) -> Option<&'a str> {
    doc.get(key).and_then(Value::as_str)
}

fn identity(avatar: Option<&str>) -> Option<SenderIdentity> {
    Some(SenderIdentity {
        name: Some("Molty".into()),
        avatar_url: avatar.map(str::to_owned),
        emoji: Some("lobster".into()),
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broadcast_thread_reply_carries_tshow_and_a_plain_one_does_not() {
    let w = support::world().await;
    let channel = connect(&w).await;
    let root = w.sim.post(&w.peer_id, &w.room, "root").unwrap();

    let out = OutboundMessage::new(w.room.as_str(), "also in the room")
        .in_thread(root.as_str())
        .broadcast(true);
    let sent = channel.send(out).await.unwrap();
    let doc = w.sim.message(sent.message.id.as_str()).unwrap();
    assert_eq!(field(&doc, "tmid"), Some(root.as_str()), "{doc}");
    assert_eq!(doc.get("tshow"), Some(&Value::Bool(true)), "{doc}");

    let plain = OutboundMessage::new(w.room.as_str(), "thread only").in_thread(root.as_str());
    let sent = channel.send(plain).await.unwrap();
    let doc = w.sim.message(sent.message.id.as_str()).unwrap();
    assert!(doc.get("tshow").is_none(), "{doc}");

    // At top level `broadcast` means nothing (the server would refuse `tshow` without `tmid`).
    let top = OutboundMessage::new(w.room.as_str(), "top").broadcast(true);
    let sent = channel.send(top).await.unwrap();
    let doc = w.sim.message(sent.message.id.as_str()).unwrap();
    assert!(
        doc.get("tshow").is_none() && doc.get("tmid").is_none(),
        "{doc}"
    );
    channel.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_agents_identity_is_sent_as_alias_and_avatar_or_emoji() {
    let w = support::world().await;
    let channel = connect(&w).await;

    let out = OutboundMessage::new(w.room.as_str(), "with avatar")
        .with_identity(identity(Some("https://example.com/molty.png")));
    let sent = channel.send(out).await.unwrap();
    let doc = w.sim.message(sent.message.id.as_str()).unwrap();
    assert_eq!(field(&doc, "alias"), Some("Molty"), "{doc}");
    assert_eq!(
        field(&doc, "avatar"),
        Some("https://example.com/molty.png"),
        "{doc}"
    );
    assert!(doc.get("emoji").is_none(), "the picture URL wins: {doc}");

    let out = OutboundMessage::new(w.room.as_str(), "with emoji").with_identity(identity(None));
    let sent = channel.send(out).await.unwrap();
    let doc = w.sim.message(sent.message.id.as_str()).unwrap();
    assert_eq!(field(&doc, "alias"), Some("Molty"), "{doc}");
    assert_eq!(field(&doc, "emoji"), Some(":lobster:"), "{doc}");
    channel.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_message_impersonate_the_message_goes_out_under_the_bots_own_name() {
    let w = support::world().await;
    // Rocket.Chat gives `message-impersonate` to `bot` and `app`; this server took it away.
    w.sim.set_permission("message-impersonate", &[]).unwrap();
    let channel = connect(&w).await;

    let out = OutboundMessage::new(w.room.as_str(), "refused alias")
        .with_identity(identity(Some("https://example.com/molty.png")))
        .with_idempotency_key("keyImpersonate0001");
    let sent = channel.send(out).await.unwrap();
    assert_eq!(sent.message.id.as_str(), "keyImpersonate0001");
    let doc = w.sim.message("keyImpersonate0001").unwrap();
    assert_eq!(field(&doc, "msg"), Some("refused alias"));
    assert!(
        doc.get("alias").is_none() && doc.get("avatar").is_none(),
        "{doc}"
    );
    assert_eq!(
        field(&doc, "emoji"),
        Some(":lobster:"),
        "emoji needs no permission: {doc}"
    );
    let posted = w
        .sim
        .messages(&w.room)
        .into_iter()
        .filter(|m| field(m, "msg") == Some("refused alias"))
        .count();
    assert_eq!(posted, 1);

    // Remembered: the next one goes without them at once.
    let out = OutboundMessage::new(w.room.as_str(), "second").with_identity(identity(None));
    let sent = channel.send(out).await.unwrap();
    let doc = w.sim.message(sent.message.id.as_str()).unwrap();
    assert!(doc.get("alias").is_none(), "{doc}");
    channel.shutdown().await;
}
