//! `Channel::history` on the in-memory backend: which messages, in which order, and who
//! may read them.
#![allow(clippy::unwrap_used)]

mod common;

use common::setup;

use backend_mock::Operation;
use channel_api::{Channel, ChannelExt, Error, HistoryQuery, Message, MessageId, RoomId};

fn room_query(room: &RoomId, limit: usize) -> HistoryQuery {
    HistoryQuery::Room {
        room: room.clone(),
        before: None,
        limit,
    }
}

fn texts(messages: &[Message]) -> Vec<&str> {
    messages.iter().map(|m| m.text.as_str()).collect()
}

#[tokio::test]
async fn capabilities_report_history() {
    let s = setup();
    assert!(s.channel.capabilities().history);
}

#[tokio::test]
async fn room_history_is_the_latest_messages_oldest_first() {
    let s = setup();
    for i in 1..=5 {
        s.peer.post(&s.room, &format!("m{i}")).unwrap();
    }
    let got = s.channel.history(&room_query(&s.room, 3)).await.unwrap();
    assert_eq!(texts(&got), ["m3", "m4", "m5"]);
    assert!(got
        .iter()
        .all(|m| m.author.id == s.alice && m.room.id == s.room));
    assert!(got.windows(2).all(|w| w[0].timestamp < w[1].timestamp));

    let all = s.channel.history(&room_query(&s.room, 50)).await.unwrap();
    assert_eq!(texts(&all), ["m1", "m2", "m3", "m4", "m5"]);
}

#[tokio::test]
async fn zero_limit_is_empty() {
    let s = setup();
    let root = s.peer.post(&s.room, "root").unwrap();
    assert!(s
        .channel
        .history(&room_query(&s.room, 0))
        .await
        .unwrap()
        .is_empty());
    let thread = HistoryQuery::Thread {
        room: s.room.clone(),
        root: root.id,
        limit: 0,
    };
    assert!(s.channel.history(&thread).await.unwrap().is_empty());
}

#[tokio::test]
async fn before_excludes_that_message_and_later_ones() {
    let s = setup();
    for i in 1..=4 {
        s.peer.post(&s.room, &format!("m{i}")).unwrap();
    }
    let third = s.world.messages(&s.room).unwrap()[2].clone();
    assert_eq!(third.text, "m3");
    let query = HistoryQuery::Room {
        room: s.room.clone(),
        before: Some(third.timestamp),
        limit: 10,
    };
    let got = s.channel.history(&query).await.unwrap();
    assert_eq!(texts(&got), ["m1", "m2"]);
}

#[tokio::test]
async fn room_history_lists_thread_replies_with_their_root() {
    let s = setup();
    let root = s.peer.post(&s.room, "root").unwrap();
    s.peer.reply(&s.room, &root.id, "reply").unwrap();
    s.peer.post(&s.room, "after").unwrap();
    let got = s.channel.history(&room_query(&s.room, 10)).await.unwrap();
    assert_eq!(texts(&got), ["root", "reply", "after"]);
    assert_eq!(got[0].thread_root, None);
    assert_eq!(got[1].thread_root.as_ref(), Some(&root.id));
    assert_eq!(got[2].thread_root, None);
}

#[tokio::test]
async fn own_messages_are_included_and_deleted_ones_are_not() {
    let s = setup();
    s.peer.post(&s.room, "question").unwrap();
    let mine = s.channel.send_text(&s.room, "answer").await.unwrap();
    let gone = s.channel.send_text(&s.room, "oops").await.unwrap();
    s.channel.delete(&gone.message).await.unwrap();
    let got = s.channel.history(&room_query(&s.room, 10)).await.unwrap();
    assert_eq!(texts(&got), ["question", "answer"]);
    assert_eq!(got[1].id, mine.message.id);
    assert_eq!(got[1].author.id, s.bot);
}

#[tokio::test]
async fn edited_messages_have_their_current_text() {
    let s = setup();
    let first = s.peer.post(&s.room, "draft").unwrap();
    s.peer.edit(&first, "final").unwrap();
    let got = s.channel.history(&room_query(&s.room, 10)).await.unwrap();
    assert_eq!(texts(&got), ["final"]);
    assert!(got[0].edited);
}

#[tokio::test]
async fn thread_history_is_the_root_then_the_first_replies() {
    let s = setup();
    let root = s.peer.post(&s.room, "root").unwrap();
    s.peer.post(&s.room, "unrelated").unwrap();
    for i in 1..=4 {
        s.peer.reply(&s.room, &root.id, &format!("r{i}")).unwrap();
    }
    let query = |limit| HistoryQuery::Thread {
        room: s.room.clone(),
        root: root.id.clone(),
        limit,
    };
    let got = s.channel.history(&query(3)).await.unwrap();
    assert_eq!(texts(&got), ["root", "r1", "r2"]);
    assert_eq!(got[0].id, root.id);
    assert_eq!(got[0].thread_root, None);
    assert!(got[1..]
        .iter()
        .all(|m| m.thread_root.as_ref() == Some(&root.id)));

    let all = s.channel.history(&query(20)).await.unwrap();
    assert_eq!(texts(&all), ["root", "r1", "r2", "r3", "r4"]);
    let one = s.channel.history(&query(1)).await.unwrap();
    assert_eq!(texts(&one), ["root"]);
}

#[tokio::test]
async fn thread_history_sets_the_bots_thread_facts() {
    let s = setup();
    let root = s.channel.send_text(&s.room, "bot root").await.unwrap();
    s.peer
        .reply(&s.room, &root.message.id, "alice reply")
        .unwrap();
    let query = HistoryQuery::Thread {
        room: s.room.clone(),
        root: root.message.id.clone(),
        limit: 10,
    };
    let got = s.channel.history(&query).await.unwrap();
    assert_eq!(texts(&got), ["bot root", "alice reply"]);
    assert!(got[1].reply_to_bot);
}

#[tokio::test]
async fn private_rooms_need_membership() {
    let s = setup();
    let secret = s.world.create_private_room("secret", &[&s.alice]).unwrap();
    s.peer.post(&secret, "hidden").unwrap();
    let err = s
        .channel
        .history(&room_query(&secret, 10))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::NotFound { .. }), "{err:?}");

    s.world.add_member(&secret, &s.bot).unwrap();
    let got = s.channel.history(&room_query(&secret, 10)).await.unwrap();
    assert_eq!(texts(&got), ["hidden"]);
}

#[tokio::test]
async fn public_rooms_are_readable_without_membership() {
    let s = setup();
    let lobby = s.world.create_public_room("lobby", &[&s.alice]).unwrap();
    s.peer.post(&lobby, "welcome").unwrap();
    let got = s.channel.history(&room_query(&lobby, 10)).await.unwrap();
    assert_eq!(texts(&got), ["welcome"]);
}

#[tokio::test]
async fn unknown_rooms_and_roots_are_not_found() {
    let s = setup();
    let err = s
        .channel
        .history(&room_query(&RoomId::new("nope"), 10))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::NotFound { .. }), "{err:?}");

    let other = s.world.create_public_room("other", &[&s.alice]).unwrap();
    let root = s.peer.post(&other, "elsewhere").unwrap();
    for missing in [MessageId::new("nope"), root.id] {
        let query = HistoryQuery::Thread {
            room: s.room.clone(),
            root: missing,
            limit: 10,
        };
        let err = s.channel.history(&query).await.unwrap_err();
        assert!(matches!(err, Error::NotFound { .. }), "{err:?}");
    }
}

#[tokio::test]
async fn scripted_failures_and_closing_apply_to_history() {
    let s = setup();
    s.channel
        .fail_next(Operation::History, Error::RateLimited { retry_after: None });
    assert!(s.channel.history(&room_query(&s.room, 1)).await.is_err());
    assert!(s.channel.history(&room_query(&s.room, 1)).await.is_ok());
    s.channel.revoke_credentials("gone");
    let err = s
        .channel
        .history(&room_query(&s.room, 1))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Unauthorized { .. }), "{err:?}");
}
