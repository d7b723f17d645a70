//! `implicitMentions` through the bridge: a thread reply under the bot's message, or a
//! follow-up in a thread the bot replied in, is admitted without `@bot` and the `message`
//! notification says so (`mentions.implicit`); each switch turns its case off.
#![allow(clippy::unwrap_used)]

mod common;

use std::sync::Arc;

use backend_mock::World;
use bridge_core::{run_bridge, AccountConfig};
use channel_api::{AccountId, ChannelExt, RoomId};
use common::Client;
use serde_json::{json, Value};

struct Setup {
    room: RoomId,
    alice: backend_mock::MemoryPeer,
    channel: Arc<backend_mock::MemoryChannel>,
    client: Client,
}

fn setup(extra: Value) -> Setup {
    let world = World::new();
    let bot = world.add_bot("bot");
    let alice = world.add_user("alice");
    let room = world
        .create_public_room("general", &[&bot, &alice])
        .unwrap();
    let mut config = json!({
        "accountId": "default",
        "serverUrl": "https://chat.example",
        "userId": bot.as_str(),
        "username": "bot",
        "authToken": "SECRET-TOKEN-123",
        "groupPolicy": "open",
    });
    for (k, v) in extra.as_object().unwrap() {
        config[k] = v.clone();
    }
    let config = AccountConfig::from_value(config).unwrap();
    let channel = Arc::new(world.channel_for(&bot, AccountId::new("default")).unwrap());
    let (client, bridge_in, bridge_out) = Client::pipes();
    {
        let channel = channel.clone();
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
    }
    Setup {
        alice: world.peer(&alice).unwrap(),
        room,
        channel,
        client,
    }
}

#[tokio::test]
async fn replies_in_the_bots_threads_are_implicit_mentions() {
    let mut s = setup(json!({}));
    // A thread under the bot's own message.
    let bot_root = s.channel.send_text(&s.room, "bot says hi").await.unwrap();
    let reply = s
        .alice
        .reply(&s.room, &bot_root.message.id, "thanks")
        .unwrap();
    let m = s.client.notification("message").await;
    assert_eq!(m["messageId"], json!(reply.id.as_str()));
    assert_eq!(m["mentions"]["implicit"], json!(true));
    assert_eq!(m["mentions"]["explicit"], json!(false));
    assert_eq!(m["mentions"]["wasMentioned"], json!(true));

    // Alice's own thread, where the bot replied: her follow-up counts too.
    let root = s.alice.post(&s.room, "@bot question").unwrap();
    let first = s.client.notification("message").await;
    assert_eq!(first["mentions"]["implicit"], json!(false));
    s.channel
        .reply_in_thread(&s.room, &root.id, "answer")
        .await
        .unwrap();
    let follow_up = s.alice.reply(&s.room, &root.id, "and also").unwrap();
    let m = s.client.notification("message").await;
    assert_eq!(m["messageId"], json!(follow_up.id.as_str()));
    assert_eq!(m["mentions"]["implicit"], json!(true));
}

#[tokio::test]
async fn each_switch_turns_its_implicit_mention_off() {
    let mut s = setup(json!({
        "implicitMentions": { "replyToBot": false, "threadParticipation": false }
    }));
    let bot_root = s.channel.send_text(&s.room, "bot says hi").await.unwrap();
    s.alice
        .reply(&s.room, &bot_root.message.id, "thanks")
        .unwrap();
    let root = s.alice.post(&s.room, "a thread").unwrap();
    s.channel
        .reply_in_thread(&s.room, &root.id, "bot joins")
        .await
        .unwrap();
    s.alice.reply(&s.room, &root.id, "and also").unwrap();
    // Events are handled in order: the first notification is this explicit mention.
    s.alice.post(&s.room, "@bot sentinel").unwrap();
    let m = s.client.notification("message").await;
    assert_eq!(m["textForAgent"], json!("sentinel"));
    let stats = s.client.call("stats", json!({})).await;
    assert_eq!(stats["result"]["skipped"]["not_mentioned"], json!(3));
    assert_eq!(stats["result"]["admitted"], json!(1));
}
