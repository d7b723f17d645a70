//! The REST-only channel one-shot tools use (`bridge probe`, `resolve`, `directory`): it
//! answers without a socket, and a refused token stops it like any channel.

#![allow(clippy::unwrap_used)]

mod support;

use backend_rocketchat::RocketChatChannel;
use channel_api::{AccountId, Channel, ConnectionState, Error, RoomKind, RoomQuery, UserQuery};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offline_channel_probes_finds_users_and_lists_rooms_without_a_socket() {
    let w = support::world().await;
    let channel = RocketChatChannel::offline(w.config(), AccountId::new("cli")).unwrap();
    assert_eq!(channel.state(), ConnectionState::Active);
    let report = channel.probe().await.unwrap();
    assert!(report.identity_matches);
    assert!(report.server_version.is_some());
    assert_eq!(w.sim.session_count(&w.bot_id), 0, "no realtime session");

    let alice = channel
        .find_user(&UserQuery::Username("alice".into()))
        .await
        .unwrap();
    assert_eq!(alice.id.as_str(), w.peer_id);
    assert!(!alice.is_bot);
    let bot = channel
        .find_user(&UserQuery::Id(channel_api::UserId::new(w.bot_id.clone())))
        .await
        .unwrap();
    assert!(bot.is_bot, "the bot role marks a bot");
    let err = channel
        .find_user(&UserQuery::Username("nobody".into()))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::NotFound { .. }), "{err:?}");

    let rooms = channel.rooms().await.unwrap();
    assert!(rooms
        .iter()
        .any(|r| r.id.as_str() == w.room && r.kind == RoomKind::Public));
    assert!(rooms
        .iter()
        .any(|r| r.id.as_str() == w.dm && r.kind == RoomKind::Direct));
    let room = channel
        .resolve_room(&RoomQuery::Name(w.room_name.clone()))
        .await
        .unwrap();
    assert_eq!(room.id.as_str(), w.room);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_token_makes_the_offline_channel_fatal() {
    let w = support::world().await;
    let mut config = w.config();
    config.auth_token = backend_rocketchat::Secret::new("wrong");
    let channel = RocketChatChannel::offline(config, AccountId::new("cli")).unwrap();
    let err = channel.probe().await.unwrap_err();
    assert!(matches!(err, Error::Unauthorized { .. }), "{err:?}");
    // The stop switch tripped: the state follows, and later calls are refused at once.
    for _ in 0..100 {
        if channel.state().is_fatal() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert!(channel.state().is_fatal(), "{:?}", channel.state());
    assert!(matches!(
        channel.rooms().await.unwrap_err(),
        Error::Unauthorized { .. }
    ));
}
