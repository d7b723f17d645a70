//! The interaction-test pattern with `channel_api::MockChannel` (feature `mock`): assert
//! what code that drives a channel *asked for* ("exactly one reply, in thread X, and
//! nothing else"). Copy this for the bridge. For behaviour ("the reply is on the server,
//! in the thread"), use `backend_mock::World` instead.
#![allow(clippy::unwrap_used)]

use channel_api::{
    Author, Channel, ChannelExt, Message, MessageId, MessageRef, MockChannel, RoomId, RoomInfo,
    RoomKind, SentMessage, Timestamp, UserId,
};

/// Stands in for the bridge: answers an inbound message in its thread (starting one on a
/// top-level message).
async fn answer(
    channel: &dyn Channel,
    inbound: &Message,
    text: &str,
) -> channel_api::Result<SentMessage> {
    let root = inbound
        .thread_root
        .clone()
        .unwrap_or_else(|| inbound.id.clone());
    channel.reply_in_thread(&inbound.room.id, &root, text).await
}

fn inbound(id: &str, thread_root: Option<&str>) -> Message {
    Message {
        id: MessageId::new(id),
        room: RoomInfo {
            id: RoomId::new("RoomA"),
            kind: RoomKind::Public,
            name: Some("general".into()),
        },
        author: Author {
            id: UserId::new("uAlice"),
            username: "alice".into(),
            display_name: None,
            is_bot: false,
        },
        text: "@bot hi".into(),
        thread_root: thread_root.map(MessageId::new),
        mentions: Vec::new(),
        timestamp: Timestamp(1),
        edited: false,
        reply_to_bot: false,
        bot_in_thread: false,
        quotes_bot: false,
        attachments: Vec::new(),
    }
}

/// A channel that expects exactly one send: into `room`, in thread `root`, with `text`.
/// Any other call (a second send, a react, an edit, ...) fails the test: mockall panics on
/// calls nobody expected, and checks `times(1)` when the mock is dropped.
fn expect_one_reply(room: &'static str, root: &'static str, text: &'static str) -> MockChannel {
    let mut channel = MockChannel::new();
    channel
        .expect_send()
        .withf(move |m| {
            m.room.as_str() == room
                && m.thread.as_ref().map(MessageId::as_str) == Some(root)
                && m.text == text
        })
        .times(1)
        .returning(move |m| {
            Ok(SentMessage {
                message: MessageRef {
                    room: m.room,
                    id: MessageId::new("MsgReply1"),
                },
                thread: m.thread,
            })
        });
    channel
}

#[tokio::test]
async fn a_top_level_message_gets_exactly_one_reply_in_its_own_thread() {
    let channel = expect_one_reply("RoomA", "MsgTop", "hello!");
    let sent = answer(&channel, &inbound("MsgTop", None), "hello!")
        .await
        .unwrap();
    assert_eq!(sent.thread, Some(MessageId::new("MsgTop")));
}

#[tokio::test]
async fn a_thread_reply_is_answered_in_the_same_thread_not_a_new_one() {
    let channel = expect_one_reply("RoomA", "MsgRoot", "hello!");
    answer(&channel, &inbound("MsgReply0", Some("MsgRoot")), "hello!")
        .await
        .unwrap();
}

#[tokio::test]
async fn errors_from_the_channel_reach_the_caller() {
    let mut channel = MockChannel::new();
    channel
        .expect_send()
        .times(1)
        .returning(|_| Err(channel_api::Error::RateLimited { retry_after: None }));
    let err = answer(&channel, &inbound("MsgTop", None), "hello!")
        .await
        .unwrap_err();
    assert!(err.is_retryable());
}
