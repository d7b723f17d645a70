//! `Channel::history` against the simulator: which endpoint per room kind, what is left
//! out (hidden and system messages) without shortening the window, thread limits and
//! thread facts, errors, and the REST rules (429 waited out, 401 stops the account).

#![allow(clippy::unwrap_used)]

mod support;

use std::time::Duration;

use backend_rocketchat::RocketChatChannel;
use channel_api::{
    AccountId, Channel, ChannelExt, Error, HistoryQuery, Message, MessageId, RoomId, RoomKind,
};
use rocketchat_sim::config::RateRule;
use rocketchat_sim::{RoomKind as SimRoomKind, SimConfig};

async fn connect(w: &support::World) -> RocketChatChannel {
    RocketChatChannel::connect(w.config(), AccountId::new("default"))
        .await
        .unwrap()
}

fn room(room: &str, limit: usize) -> HistoryQuery {
    HistoryQuery::Room {
        room: RoomId::new(room),
        before: None,
        limit,
    }
}

fn thread(room: &str, root: &str, limit: usize) -> HistoryQuery {
    HistoryQuery::Thread {
        room: RoomId::new(room),
        root: MessageId::new(root),
        limit,
    }
}

fn texts(messages: &[Message]) -> Vec<&str> {
    messages.iter().map(|m| m.text.as_str()).collect()
}

#[tokio::test]
async fn capabilities_report_history() {
    let w = support::world().await;
    let channel = connect(&w).await;
    assert!(channel.capabilities().history);
    channel.shutdown().await;
}

#[tokio::test]
async fn system_and_hidden_messages_are_left_out_and_the_window_stays_full() {
    let w = support::world_with(SimConfig {
        keep_history: true,
        ..SimConfig::default()
    })
    .await;
    let channel = connect(&w).await;
    let mut ids = Vec::new();
    for text in ["a1", "a2", "a3"] {
        ids.push(w.sim.post(&w.peer_id, &w.room, text).unwrap());
    }
    // Newer than every real message: three pin notices (system) and a kept deletion
    // (hidden), so the first page of three holds nothing to keep.
    for id in &ids {
        w.sim.pin(&w.peer_id, id).unwrap();
    }
    let gone = w.sim.post(&w.peer_id, &w.room, "gone").unwrap();
    w.sim.delete(&w.peer_id, &gone).unwrap();

    let got = channel.history(&room(&w.room, 3)).await.unwrap();
    assert_eq!(texts(&got), ["a1", "a2", "a3"]);
    let ids_got: Vec<&str> = got.iter().map(|m| m.id.as_str()).collect();
    assert_eq!(ids_got, ids);
    assert!(got.iter().all(|m| m.room.kind == RoomKind::Public));
    assert!(got.iter().all(|m| m.author.id.as_str() == w.peer_id));
    channel.shutdown().await;
}

#[tokio::test]
async fn private_groups_and_dms_use_their_own_endpoints_with_thread_replies() {
    let w = support::world().await;
    let group = w
        .sim
        .create_room(SimRoomKind::Private, "secret", &w.peer_id, &[&w.bot_id])
        .unwrap();
    let channel = connect(&w).await;
    for (rid, kind) in [(&group, RoomKind::Private), (&w.dm, RoomKind::Direct)] {
        let root = w.sim.post(&w.peer_id, rid, "root").unwrap();
        let reply = w.sim.post_reply(&w.peer_id, rid, &root, "reply").unwrap();
        let got = channel.history(&room(rid, 10)).await.unwrap();
        assert_eq!(texts(&got), ["root", "reply"], "{kind:?}");
        assert!(got
            .iter()
            .all(|m| m.room.kind == kind && m.room.id.as_str() == rid));
        assert_eq!(got[1].id.as_str(), reply);
        // im.history leaves replies out unless asked: they are here, so the ask was made.
        assert_eq!(
            got[1].thread_root.as_ref().map(MessageId::as_str),
            Some(root.as_str())
        );
    }
    channel.shutdown().await;
}

#[tokio::test]
async fn thread_history_respects_the_limit_skips_hidden_replies_and_sets_facts() {
    let w = support::world_with(SimConfig {
        keep_history: true,
        ..SimConfig::default()
    })
    .await;
    let channel = connect(&w).await;
    let rid = RoomId::new(w.room.clone());
    let root = channel
        .send_text(&rid, "bot root")
        .await
        .unwrap()
        .message
        .id;
    let mut replies = Vec::new();
    for text in ["r1", "r2", "r3", "r4"] {
        tokio::time::sleep(Duration::from_millis(2)).await;
        replies.push(
            w.sim
                .post_reply(&w.peer_id, &w.room, root.as_str(), text)
                .unwrap(),
        );
    }
    // A kept deletion: chat.getThreadMessages still lists it, with `_hidden`.
    w.sim.delete(&w.peer_id, &replies[1]).unwrap();

    let got = channel
        .history(&thread(&w.room, root.as_str(), 3))
        .await
        .unwrap();
    assert_eq!(texts(&got), ["bot root", "r1", "r3"]);
    assert_eq!(got[0].thread_root, None);
    assert!(got[1..]
        .iter()
        .all(|m| m.thread_root.as_ref() == Some(&root)));
    assert!(
        got[1..].iter().all(|m| m.reply_to_bot),
        "the bot wrote the root"
    );
    assert!(got[1..].iter().all(|m| !m.bot_in_thread));

    let all = channel
        .history(&thread(&w.room, root.as_str(), 20))
        .await
        .unwrap();
    assert_eq!(texts(&all), ["bot root", "r1", "r3", "r4"]);
    let one = channel
        .history(&thread(&w.room, root.as_str(), 1))
        .await
        .unwrap();
    assert_eq!(texts(&one), ["bot root"]);
    let none = channel
        .history(&thread(&w.room, root.as_str(), 0))
        .await
        .unwrap();
    assert!(none.is_empty());

    // Once the bot replies too, the others' replies are in a thread it took part in.
    channel
        .reply_in_thread(&rid, &root, "bot reply")
        .await
        .unwrap();
    let all = channel
        .history(&thread(&w.room, root.as_str(), 20))
        .await
        .unwrap();
    let by_peer: Vec<&Message> = all[1..]
        .iter()
        .filter(|m| m.author.id.as_str() == w.peer_id)
        .collect();
    assert!(by_peer.iter().all(|m| m.bot_in_thread), "{all:?}");
    channel.shutdown().await;
}

#[tokio::test]
async fn unknown_or_hidden_rooms_and_roots_are_not_found() {
    let w = support::world().await;
    let secret = w
        .sim
        .create_room(SimRoomKind::Private, "secret", &w.peer_id, &[])
        .unwrap();
    let other = w
        .sim
        .create_room(SimRoomKind::Public, "other", &w.peer_id, &[])
        .unwrap();
    let elsewhere = w.sim.post(&w.peer_id, &other, "elsewhere").unwrap();
    let channel = connect(&w).await;
    let not_found = |r: channel_api::Result<Vec<Message>>| {
        assert!(matches!(r, Err(Error::NotFound { .. })), "{r:?}");
    };
    not_found(channel.history(&room("nope", 5)).await);
    not_found(channel.history(&room(&secret, 5)).await);
    not_found(channel.history(&thread(&w.room, "nope", 5)).await);
    not_found(channel.history(&thread(&w.room, &elsewhere, 5)).await);
    // A public room the bot never joined is readable, as on Rocket.Chat.
    let got = channel.history(&room(&other, 5)).await.unwrap();
    assert_eq!(texts(&got), ["elsewhere"]);
    channel.shutdown().await;
}

#[tokio::test]
async fn a_rate_limit_is_waited_out() {
    let w = support::world().await;
    w.sim.post(&w.peer_id, &w.room, "hello").unwrap();
    let channel = connect(&w).await;
    // A 429 whose reset is near (the stock window is a minute).
    w.sim.set_rest_rate_limit(
        Some(RateRule {
            limit: 100,
            window: Duration::from_millis(100),
        }),
        true,
    );
    w.sim.inject_429(1);
    let got = channel.history(&room(&w.room, 5)).await.unwrap();
    assert_eq!(texts(&got), ["hello"]);
    w.sim.set_rest_rate_limit(None, false);
    channel.shutdown().await;
}

#[tokio::test]
async fn a_revoked_token_stops_history() {
    let w = support::world().await;
    let channel = connect(&w).await;
    w.sim.remove_pat(&w.bot_id, "bridge").unwrap();
    let err = channel.history(&room(&w.room, 5)).await.unwrap_err();
    assert!(matches!(err, Error::Unauthorized { .. }), "{err:?}");
    let err = channel.history(&room(&w.room, 5)).await.unwrap_err();
    assert!(matches!(err, Error::Unauthorized { .. }), "{err:?}");
}
