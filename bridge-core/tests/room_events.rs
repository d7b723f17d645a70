//! Room events through the bridge: a join in a room the policy admits is one `roomEvent`
//! notification; a room the policy excludes, or `roomEvents: false`, gives none (counted
//! under `stats` with the reason instead).
#![allow(clippy::unwrap_used)]

mod common;

use std::sync::Arc;

use backend_mock::World;
use bridge_core::{run_bridge, AccountConfig};
use channel_api::{AccountId, RoomId, UserId};
use common::Client;
use serde_json::{json, Value};

struct Setup {
    world: World,
    general: RoomId,
    random: RoomId,
    alice: backend_mock::MemoryPeer,
    carol: UserId,
    client: Client,
}

/// The bot and alice in `general` and `random`; carol exists but is in neither.
fn setup(extra: impl FnOnce(&RoomId) -> Value) -> Setup {
    let world = World::new();
    let bot = world.add_bot("bot");
    let alice = world.add_user("alice");
    let carol = world.add_user("carol");
    let general = world
        .create_public_room("general", &[&bot, &alice])
        .unwrap();
    let random = world.create_public_room("random", &[&bot, &alice]).unwrap();
    let mut config = json!({
        "accountId": "default",
        "serverUrl": "https://chat.example",
        "userId": bot.as_str(),
        "username": "bot",
        "authToken": "SECRET-TOKEN-123",
    });
    for (k, v) in extra(&general).as_object().unwrap() {
        config[k] = v.clone();
    }
    let config = AccountConfig::from_value(config).unwrap();
    let channel = Arc::new(world.channel_for(&bot, AccountId::new("default")).unwrap());
    let (client, bridge_in, bridge_out) = Client::pipes();
    tokio::spawn(async move {
        run_bridge(
            channel,
            &config,
            common::mock_namespace(),
            bridge_in,
            bridge_out,
        )
        .await
    });
    Setup {
        alice: world.peer(&alice).unwrap(),
        world,
        general,
        random,
        carol,
        client,
    }
}

async fn stats(client: &mut Client) -> Value {
    client.call("stats", json!({})).await["result"].clone()
}

#[tokio::test]
async fn a_join_in_an_admitted_room_is_one_notification_and_an_excluded_room_none() {
    // Only `general` is listed.
    let mut s =
        setup(|general| json!({"groupPolicy": "allowlist", "rooms": {general.as_str(): {}}}));
    s.world.join(&s.random, &s.carol).unwrap();
    s.world.join(&s.general, &s.carol).unwrap();
    let n = s.client.notification("roomEvent").await;
    assert_eq!(n["kind"], json!("joined"));
    assert_eq!(n["room"]["id"], json!(s.general.as_str()));
    assert_eq!(n["room"]["name"], json!("general"));
    assert_eq!(n["room"]["kind"], json!("public"));
    assert_eq!(
        n["user"],
        json!({"id": s.carol.as_str(), "username": "carol"})
    );
    assert_eq!(
        n["conversationId"],
        json!(format!("mock:default:channel:{}", s.general.as_str()))
    );
    assert!(n["timestamp"].as_i64().is_some_and(|t| t > 0), "{n}");
    // Only what the kind says is set.
    for absent in ["by", "name", "topic", "text", "author"] {
        assert!(n.get(absent).is_none(), "{absent} in {n}");
    }
    // The join in `random` was dropped by the room gate, not sent.
    let stats = stats(&mut s.client).await;
    assert_eq!(
        stats["dropped"]["room_not_allowlisted"],
        json!(1),
        "{stats}"
    );
    assert!(s.client.take_backlog("roomEvent").is_empty());
}

#[tokio::test]
async fn room_events_off_sends_none() {
    let mut s = setup(|_| json!({"groupPolicy": "open", "roomEvents": false}));
    s.world.join(&s.general, &s.carol).unwrap();
    // A later message in the same room: the join, had it been sent, came before it.
    s.alice.post(&s.general, "@bot after the join").unwrap();
    let m = s.client.notification("message").await;
    assert_eq!(m["text"], json!("@bot after the join"));
    assert!(s.client.take_backlog("roomEvent").is_empty());
    let stats = stats(&mut s.client).await;
    assert_eq!(stats["skipped"]["room_events_off"], json!(1), "{stats}");
    assert!(s.client.take_backlog("roomEvent").is_empty());
}
