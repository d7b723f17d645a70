//! Server behaviours of the in-memory backend that the conformance suite does not cover:
//! fault hooks, nested threads, permissions, visibility and input checks.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::{setup, Setup};

use backend_mock::Operation;
use channel_api::{
    AccountId, Channel, ChannelExt, ConnectionState, Error, Event, EventStream, FatalCause,
    Mention, MessageRef, OutboundMessage, Phase, RoomKind, RoomQuery, UserQuery,
};

/// A generous bound that only turns a hang into a failure.
const HANG: Duration = Duration::from_secs(10);

async fn next(events: &mut EventStream) -> Option<Event> {
    tokio::time::timeout(HANG, events.recv())
        .await
        .expect("no event arrived")
}

/// Every event before a sentinel the peer posts in the shared room. Events arrive in
/// order, so anything earlier actions would deliver is in the list.
async fn events_before_sentinel(s: &mut Setup) -> Vec<Event> {
    let sentinel = s.peer.post(&s.room, "sentinel").unwrap();
    let mut seen = Vec::new();
    loop {
        match next(&mut s.events).await {
            Some(Event::MessageCreated { message }) if message.id == sentinel.id => return seen,
            Some(event) => seen.push(event),
            None => panic!("stream ended before the sentinel"),
        }
    }
}

#[tokio::test]
async fn fatal_close_reports_the_state_ends_the_stream_and_refuses_calls() {
    let mut s = setup();
    s.channel.close_fatally("account disabled");

    let last = next(&mut s.events).await;
    assert_eq!(
        last,
        Some(Event::ConnectionStateChanged {
            state: ConnectionState::FatallyClosed {
                cause: FatalCause::Refused,
                reason: "account disabled".into()
            }
        })
    );
    // Nothing after the fatal state, even if the world goes on.
    s.peer.post(&s.room, "anyone?").unwrap();
    assert_eq!(next(&mut s.events).await, None);

    let err = s.channel.send_text(&s.room, "hello").await.unwrap_err();
    assert!(matches!(err, Error::Closed { .. }), "{err}");
    let err = s
        .channel
        .resolve_room(&RoomQuery::Id(s.room.clone()))
        .await
        .unwrap_err();
    assert!(err.is_fatal(), "{err}");
    assert!(s
        .world
        .messages(&s.room)
        .unwrap()
        .iter()
        .all(|m| m.text != "hello"));
}

#[tokio::test]
async fn revoked_credentials_make_later_calls_unauthorized() {
    let mut s = setup();
    s.channel.revoke_credentials("token revoked");
    assert!(matches!(
        next(&mut s.events).await,
        Some(Event::ConnectionStateChanged {
            state: ConnectionState::FatallyClosed { .. }
        })
    ));
    assert_eq!(next(&mut s.events).await, None);
    let err = s.channel.send_text(&s.room, "hello").await.unwrap_err();
    assert!(matches!(err, Error::Unauthorized { .. }), "{err}");
    assert!(matches!(
        s.channel.events().unwrap_err(),
        Error::Unauthorized { .. }
    ));
}

#[tokio::test]
async fn connection_states_are_reported_in_order_with_messages() {
    let mut s = setup();
    let reconnecting = ConnectionState::Reconnecting {
        attempt: 1,
        phase: Phase::Waiting,
    };
    s.channel.emit_connection_state(reconnecting.clone());
    assert_eq!(s.channel.state(), reconnecting);
    // Not connected: calls fail, retryably.
    let err = s.channel.send_text(&s.room, "now?").await.unwrap_err();
    assert!(matches!(err, Error::Disconnected { .. }), "{err}");
    s.peer.post(&s.room, "while reconnecting").unwrap();
    s.channel.emit_connection_state(ConnectionState::Active);

    assert_eq!(
        next(&mut s.events).await,
        Some(Event::ConnectionStateChanged {
            state: reconnecting
        })
    );
    assert!(matches!(
        next(&mut s.events).await,
        Some(Event::MessageCreated { .. })
    ));
    assert_eq!(
        next(&mut s.events).await,
        Some(Event::ConnectionStateChanged {
            state: ConnectionState::Active
        })
    );
    // A FatallyClosed state given to the hook closes the channel for real.
    s.channel
        .emit_connection_state(ConnectionState::FatallyClosed {
            cause: FatalCause::Unauthorized,
            reason: "bye".into(),
        });
    assert!(matches!(
        next(&mut s.events).await,
        Some(Event::ConnectionStateChanged { .. })
    ));
    assert_eq!(next(&mut s.events).await, None);
    let err = s.channel.send_text(&s.room, "x").await.unwrap_err();
    assert!(matches!(err, Error::Unauthorized { .. }), "{err}");
    assert!(s.channel.state().is_fatal());
}

#[tokio::test]
async fn scripted_failures_hit_the_next_calls_only_and_change_nothing() {
    let s = setup();
    s.channel.fail_next(
        Operation::Send,
        Error::RateLimited {
            retry_after: Some(Duration::from_secs(2)),
        },
    );
    s.channel.fail_next(
        Operation::Send,
        Error::Disconnected {
            reason: "socket dropped".into(),
        },
    );

    let first = s.channel.send_text(&s.room, "try").await.unwrap_err();
    assert_eq!(first.retry_after(), Some(Duration::from_secs(2)));
    let second = s.channel.send_text(&s.room, "try").await.unwrap_err();
    assert!(matches!(second, Error::Disconnected { .. }));
    assert!(
        s.world.messages(&s.room).unwrap().is_empty(),
        "a failed send posted"
    );

    s.channel.send_text(&s.room, "try").await.unwrap();
    assert_eq!(s.world.messages(&s.room).unwrap().len(), 1);
}

#[tokio::test]
async fn a_reply_to_a_reply_lands_in_the_root_thread() {
    let mut s = setup();
    let root = s.peer.post(&s.room, "root").unwrap();
    let reply = s.peer.reply(&s.room, &root.id, "first reply").unwrap();

    let sent = s
        .channel
        .reply_in_thread(&s.room, &reply.id, "reply to the reply")
        .await
        .unwrap();
    assert_eq!(sent.thread, Some(root.id.clone()));
    let nested = s
        .peer
        .reply(&s.room, &reply.id, "peer reply to the reply")
        .unwrap();

    let thread: Vec<String> = s
        .peer
        .thread(&s.room, &root.id)
        .unwrap()
        .into_iter()
        .map(|m| m.text)
        .collect();
    assert_eq!(
        thread,
        [
            "first reply",
            "reply to the reply",
            "peer reply to the reply"
        ]
    );

    // The bot sees the peer's nested reply with the root as its thread.
    let seen = events_before_sentinel(&mut s).await;
    let nested_event = seen
        .iter()
        .find_map(|e| match e {
            Event::MessageCreated { message } if message.id == nested.id => Some(message.clone()),
            _ => None,
        })
        .unwrap();
    assert_eq!(nested_event.thread_root, Some(root.id));
}

#[tokio::test]
async fn only_the_author_may_edit_or_delete() {
    let s = setup();
    let theirs = s.peer.post(&s.room, "alice's words").unwrap();
    let err = s.channel.edit(&theirs, "bot's words").await.unwrap_err();
    assert!(matches!(err, Error::PermissionDenied { .. }), "{err}");
    let err = s.channel.delete(&theirs).await.unwrap_err();
    assert!(matches!(err, Error::PermissionDenied { .. }), "{err}");

    let ours = s.channel.send_text(&s.room, "bot's words").await.unwrap();
    let err = s.peer.edit(&ours.message, "alice was here").unwrap_err();
    assert!(matches!(err, Error::PermissionDenied { .. }), "{err}");

    let texts: Vec<String> = s
        .world
        .messages(&s.room)
        .unwrap()
        .into_iter()
        .map(|m| m.text)
        .collect();
    assert_eq!(texts, ["alice's words", "bot's words"]);
}

#[tokio::test]
async fn the_bot_sees_public_rooms_and_its_private_rooms_only() {
    let mut s = setup();
    let bob = s.world.add_user("bob");
    let bob_peer = s.world.peer(&bob).unwrap();
    let secret = s
        .world
        .create_private_room("secret", &[&s.alice, &bob])
        .unwrap();
    let lobby = s
        .world
        .create_public_room("lobby", &[&s.alice, &bob])
        .unwrap();
    let bob_dm = s.world.create_dm(&s.alice, &bob).unwrap();
    let team = s
        .world
        .create_private_room("team", &[&s.alice, &s.bot])
        .unwrap();

    s.peer.post(&secret, "not for the bot").unwrap();
    bob_peer.post(&bob_dm, "not for the bot either").unwrap();
    s.peer.post(&lobby, "public chatter").unwrap();
    s.peer.post(&team, "for the team").unwrap();

    let seen: Vec<(String, RoomKind)> = events_before_sentinel(&mut s)
        .await
        .into_iter()
        .filter_map(|e| match e {
            Event::MessageCreated { message } => Some((message.text, message.room.kind)),
            _ => None,
        })
        .collect();
    assert_eq!(
        seen,
        [
            ("public chatter".to_owned(), RoomKind::Public),
            ("for the team".to_owned(), RoomKind::Private)
        ]
    );

    let err = s
        .channel
        .resolve_room(&RoomQuery::Name("secret".into()))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::NotFound { .. }), "{err}");
    // Visible but not a member: the bot may read, not post.
    let err = s.channel.send_text(&lobby, "hi").await.unwrap_err();
    assert!(matches!(err, Error::PermissionDenied { .. }), "{err}");
}

#[tokio::test]
async fn repeated_reactions_change_nothing_and_send_no_event() {
    let mut s = setup();
    let ours = s.channel.send_text(&s.room, "react here").await.unwrap();
    s.peer.react(&ours.message, "tada").unwrap();
    s.peer.react(&ours.message, "tada").unwrap();
    s.peer.unreact(&ours.message, "tada").unwrap();
    s.peer.unreact(&ours.message, "tada").unwrap();
    // The bot's own reactions are stored but not echoed.
    s.channel.react(&ours.message, "eyes").await.unwrap();
    s.channel.react(&ours.message, "eyes").await.unwrap();

    let kinds: Vec<&str> = events_before_sentinel(&mut s)
        .await
        .iter()
        .map(|e| match e {
            Event::ReactionAdded { .. } => "added",
            Event::ReactionRemoved { .. } => "removed",
            _ => "other",
        })
        .collect();
    assert_eq!(kinds, ["added", "removed"]);
    let reactions = s.world.reactions(&ours.message).unwrap();
    assert_eq!(reactions.len(), 1);
    assert_eq!(reactions[0].emoji, "eyes");
    assert_eq!(reactions[0].usernames, ["bot"]);

    let err = s.channel.react(&ours.message, ":eyes:").await.unwrap_err();
    assert!(matches!(err, Error::InvalidRequest { .. }), "{err}");
}

#[tokio::test]
async fn bad_requests_are_refused_without_posting() {
    let s = setup();
    let err = s.channel.send_text(&s.room, "   ").await.unwrap_err();
    assert!(matches!(err, Error::InvalidRequest { .. }), "{err}");

    // An idempotency key another author already used is refused, not merged.
    let taken = s.peer.post(&s.room, "alice first").unwrap();
    let clash =
        OutboundMessage::new(s.room.clone(), "bot second").with_idempotency_key(taken.id.clone());
    let err = s.channel.send(clash).await.unwrap_err();
    assert!(matches!(err, Error::InvalidRequest { .. }), "{err}");

    let missing = MessageRef {
        room: s.room.clone(),
        id: "nope".into(),
    };
    assert!(matches!(
        s.channel.edit(&missing, "x").await.unwrap_err(),
        Error::NotFound { .. }
    ));
    // A message addressed through the wrong room does not exist there.
    let other = s.world.create_public_room("other", &[&s.bot]).unwrap();
    let wrong_room = MessageRef {
        room: other,
        id: taken.id,
    };
    assert!(matches!(
        s.channel.react(&wrong_room, "eyes").await.unwrap_err(),
        Error::NotFound { .. }
    ));

    let texts: Vec<String> = s
        .world
        .messages(&s.room)
        .unwrap()
        .into_iter()
        .map(|m| m.text)
        .collect();
    assert_eq!(texts, ["alice first"]);
}

#[tokio::test]
async fn typing_is_recorded_and_cleared() {
    let s = setup();
    s.channel.set_typing(&s.room, None, true).await.unwrap();
    assert!(s.world.is_typing(&s.room, &s.bot));
    s.channel.set_typing(&s.room, None, false).await.unwrap();
    assert!(!s.world.is_typing(&s.room, &s.bot));
}

#[tokio::test]
async fn dm_mentions_and_edits_reach_the_bot_with_the_payload_view() {
    let mut s = setup();
    let dm = s.world.create_dm(&s.bot, &s.alice).unwrap();
    assert_eq!(
        s.world.create_dm(&s.alice, &s.bot).unwrap(),
        dm,
        "one DM per pair"
    );
    let posted = s.peer.post_dm(&s.bot, "hi @bot").unwrap();
    assert_eq!(posted.room, dm);
    s.peer.edit(&posted, "hi @all").unwrap();

    let Some(Event::MessageCreated { message }) = next(&mut s.events).await else {
        panic!()
    };
    assert_eq!(message.room.kind, RoomKind::Direct);
    assert_eq!(
        message.mentions,
        [Mention::User {
            id: s.bot.clone(),
            username: "bot".into()
        }]
    );
    let Some(Event::MessageEdited { message }) = next(&mut s.events).await else {
        panic!()
    };
    assert_eq!(message.mentions, [Mention::All]);
    assert!(message.edited);
}

#[tokio::test]
async fn events_can_be_taken_once() {
    let s = setup();
    assert!(matches!(
        s.channel.events().unwrap_err(),
        Error::InvalidRequest { .. }
    ));
}

/// The first `MessageCreated` for `id` on a stream (events before it are skipped).
async fn created(events: &mut EventStream, id: &channel_api::MessageId) -> channel_api::Message {
    loop {
        match next(events).await {
            Some(Event::MessageCreated { message }) if &message.id == id => return message,
            Some(_) => {}
            None => panic!("stream ended before message {id}"),
        }
    }
}

#[tokio::test]
async fn thread_facts_are_computed_for_each_receiving_bot() {
    let mut s = setup();
    let other_bot = s.world.add_bot("otherbot");
    s.world.add_member(&s.room, &other_bot).unwrap();
    let other = s
        .world
        .channel_for(&other_bot, AccountId::new("other"))
        .unwrap();
    let mut other_events = other.events().unwrap();

    // The bot writes a root; alice replies under it.
    let root = s.channel.send_text(&s.room, "bot root").await.unwrap();
    let reply = s.peer.reply(&s.room, &root.message.id, "reply").unwrap();
    let to_bot = created(&mut s.events, &reply.id).await;
    let to_other = created(&mut other_events, &reply.id).await;
    assert!(to_bot.reply_to_bot && !to_bot.bot_in_thread);
    assert!(!to_other.reply_to_bot && !to_other.bot_in_thread);

    // The other bot replies in the thread; alice follows up.
    other
        .reply_in_thread(&s.room, &root.message.id, "other bot joins")
        .await
        .unwrap();
    let follow_up = s
        .peer
        .reply(&s.room, &root.message.id, "follow-up")
        .unwrap();
    let to_bot = created(&mut s.events, &follow_up.id).await;
    let to_other = created(&mut other_events, &follow_up.id).await;
    assert!(to_bot.reply_to_bot && !to_bot.bot_in_thread, "{to_bot:?}");
    assert!(
        !to_other.reply_to_bot && to_other.bot_in_thread,
        "{to_other:?}"
    );

    // A top-level message carries neither fact.
    let plain = s.peer.post(&s.room, "plain").unwrap();
    let seen = created(&mut s.events, &plain.id).await;
    assert!(!seen.reply_to_bot && !seen.bot_in_thread);
}

#[tokio::test]
async fn open_direct_finds_or_creates_the_dm_and_refuses_strangers() {
    let s = setup();
    let alice = s.world.add_user("alice2");
    let room = s
        .channel
        .open_direct(&UserQuery::Username("alice2".into()))
        .await
        .unwrap();
    assert_eq!(room.kind, RoomKind::Direct);
    // The same DM the world knows, found again by id.
    let again = s
        .channel
        .open_direct(&UserQuery::Id(alice.clone()))
        .await
        .unwrap();
    assert_eq!(again.id, room.id);
    assert_eq!(
        s.world.create_dm(s.channel.user_id(), &alice).unwrap(),
        room.id
    );
    let err = s
        .channel
        .open_direct(&UserQuery::Username("nobody".into()))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::NotFound { .. }), "{err}");
}

#[tokio::test]
async fn probe_reports_the_identity_until_the_channel_closes() {
    let s = setup();
    let report = s.channel.probe().await.unwrap();
    assert_eq!(&report.user_id, s.channel.user_id());
    assert!(report.identity_matches);
    s.channel.revoke_credentials("revoked");
    let err = s.channel.probe().await.unwrap_err();
    assert!(matches!(err, Error::Unauthorized { .. }), "{err}");
}
