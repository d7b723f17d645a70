//! Attachments, history and `sendFile` through the JSON-RPC loop, against the in-memory
//! world (`backend-mock`).
#![allow(clippy::unwrap_used)]

mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use backend_mock::{MemoryChannel, MemoryPeer, Operation, World};
use bridge_core::{run_bridge, AccountConfig, BridgeError};
use channel_api::{AccountId, Channel, Message, RoomId, UserId};
use common::gated::{Gated, Slow};
use common::{join, Client};
use serde_json::{json, Value};
use tokio::task::JoinHandle;

const MIB: usize = 1024 * 1024;

/// A directory of the test's own, removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new(tag: &str) -> Self {
        let path = std::env::temp_dir().join(format!(
            "bridge-media-test-{tag}-{}-{:?}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos()
        ));
        Self(path)
    }

    fn file(&self, name: &str, data: &[u8]) -> PathBuf {
        std::fs::create_dir_all(&self.0).unwrap();
        let path = self.0.join(name);
        std::fs::write(&path, data).unwrap();
        path
    }

    fn entries(&self) -> Vec<PathBuf> {
        match std::fs::read_dir(&self.0) {
            Ok(dir) => dir.map(|e| e.unwrap().path()).collect(),
            Err(_) => Vec::new(),
        }
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

struct Setup {
    world: World,
    bot: UserId,
    alice: MemoryPeer,
    op: MemoryPeer,
    room: RoomId,
    other: RoomId,
    channel: Arc<MemoryChannel>,
    client: Client,
    bridge: JoinHandle<Result<(), BridgeError>>,
}

fn config(bot: &UserId, extra: &Value) -> AccountConfig {
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
    AccountConfig::from_value(config).unwrap()
}

/// A world with a bot, alice and op in two public rooms, and a bridge over `wrap(channel)`.
async fn setup_over<C, F>(extra: Value, wrap: F) -> Setup
where
    C: Channel + 'static,
    F: FnOnce(Arc<MemoryChannel>) -> C,
{
    let world = World::new();
    let bot = world.add_bot("bot");
    let alice = world.add_user("alice");
    let op = world.add_user("op");
    let room = world
        .create_public_room("general", &[&bot, &alice, &op])
        .unwrap();
    let other = world
        .create_public_room("other", &[&bot, &alice, &op])
        .unwrap();
    let config = config(&bot, &extra);
    let channel = Arc::new(world.channel_for(&bot, AccountId::new("default")).unwrap());
    let wrapped = wrap(channel.clone());
    let (client, bridge_in, bridge_out) = Client::pipes();
    let bridge = tokio::spawn(async move {
        run_bridge(
            wrapped,
            &config,
            common::mock_namespace(),
            bridge_in,
            bridge_out,
        )
        .await
    });
    Setup {
        alice: world.peer(&alice).unwrap(),
        op: world.peer(&op).unwrap(),
        world,
        bot,
        room,
        other,
        channel,
        client,
        bridge,
    }
}

async fn setup(extra: Value) -> Setup {
    setup_over(extra, |c| c).await
}

/// The whole configuration line for `reconfigure`: the setup's keys and `extra`.
fn reconfigured(s: &Setup, extra: Value) -> Value {
    let mut line = json!({
        "accountId": "default",
        "serverUrl": "https://chat.example",
        "userId": s.bot.as_str(),
        "username": "bot",
        "authToken": "SECRET-TOKEN-123",
        "groupPolicy": "open",
    });
    for (k, v) in extra.as_object().unwrap() {
        line[k] = v.clone();
    }
    line
}

fn bytes(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i % 251) as u8).collect()
}

fn texts(entries: &Value) -> Vec<&str> {
    entries
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["text"].as_str().unwrap())
        .collect()
}

/// The bot's messages in a room (top level and threads).
fn bot_messages(s: &Setup, room: &RoomId) -> Vec<Message> {
    s.world
        .messages(room)
        .unwrap()
        .into_iter()
        .filter(|m| m.author.id == s.bot)
        .collect()
}

/// Waits until every post already queued for the room has been made: a send to the same
/// room takes its turn after them. Deletes the marker again.
async fn settle(s: &mut Setup) {
    let room = s.room.clone();
    let r = s
        .client
        .call("send", json!({"target": room.as_str(), "text": "settle"}))
        .await;
    let id = r["result"]["messageIds"][0].as_str().unwrap().to_owned();
    let r = s
        .client
        .call("delete", json!({"roomId": room.as_str(), "messageId": id}))
        .await;
    assert_eq!(r["result"], json!({}));
}

#[cfg(unix)]
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

// ----- attachments -----

#[tokio::test]
async fn attachments_are_downloaded_into_the_media_dir_with_their_fields() {
    let media = Scratch::new("in");
    let mut s = setup(json!({"mediaDir": media.0.to_str().unwrap()})).await;
    let png = bytes(3000);
    s.alice
        .post_file(
            &s.room,
            "pic one.png",
            "image/png",
            &png,
            Some("@bot look"),
            None,
        )
        .unwrap();
    let m = s.client.notification("message").await;
    assert_eq!(m["textForAgent"], json!("look"));
    let attachments = m["attachments"].as_array().unwrap();
    assert_eq!(attachments.len(), 1, "{m}");
    let a = &attachments[0];
    assert!(a["id"].as_str().is_some_and(|id| !id.is_empty()));
    assert_eq!(a["name"], json!("pic one.png"));
    assert_eq!(a["mimeType"], json!("image/png"));
    assert_eq!(a["size"], json!(3000));
    assert_eq!(a["error"], Value::Null);
    let path = PathBuf::from(a["path"].as_str().unwrap());
    assert_eq!(path.parent(), Some(media.0.as_path()));
    assert!(
        path.file_name()
            .unwrap()
            .to_str()
            .unwrap()
            .ends_with("-pic_one.png"),
        "{path:?}"
    );
    assert_eq!(std::fs::read(&path).unwrap(), png);
    #[cfg(unix)]
    {
        assert_eq!(mode(&path), 0o600);
        assert_eq!(mode(&media.0), 0o700);
    }

    // A configured mediaDir is the plugin's: it stays after the bridge stops.
    s.client.close_input();
    join(s.bridge).await.unwrap();
    assert!(path.exists());
}

#[tokio::test]
async fn an_oversized_attachment_gets_one_notice_in_its_thread_and_no_file() {
    let media = Scratch::new("big");
    let mut s = setup(json!({"mediaDir": media.0.to_str().unwrap(), "mediaMaxMb": 1})).await;
    let root = s.alice.post(&s.room, "@bot topic").unwrap();
    let _ = s.client.notification("message").await;
    let big = bytes(MIB + MIB / 2);
    let small = bytes(10);
    s.alice
        .post_file(
            &s.room,
            "big.bin",
            "",
            &big,
            Some("@bot two files"),
            Some(&root.id),
        )
        .unwrap();
    let m = s.client.notification("message").await;
    let a = &m["attachments"][0];
    assert_eq!(a["name"], json!("big.bin"));
    assert_eq!(a["error"], json!("tooLarge"));
    assert_eq!(a["path"], Value::Null);
    // No type recorded: guessed from the name (unknown here).
    assert_eq!(a["mimeType"], json!("application/octet-stream"));
    assert!(media.entries().is_empty(), "no file written");

    settle(&mut s).await;
    let notices: Vec<Message> = bot_messages(&s, &s.room)
        .into_iter()
        .filter(|m| m.text.starts_with("I can't read"))
        .collect();
    assert_eq!(notices.len(), 1, "exactly one notice");
    assert_eq!(
        notices[0].text,
        "I can't read big.bin: it is 1.5 MB and my limit is 1 MB."
    );
    assert_eq!(
        notices[0].thread_root.as_ref(),
        Some(&root.id),
        "in the thread"
    );

    // A file within the limit in the same room still comes through.
    s.alice
        .post_file(
            &s.room,
            "small.txt",
            "text/plain",
            &small,
            Some("@bot small"),
            None,
        )
        .unwrap();
    let m = s.client.notification("message").await;
    assert_eq!(m["attachments"][0]["error"], Value::Null);
    assert_eq!(m["attachments"][0]["size"], json!(10));
}

#[tokio::test]
async fn a_failed_download_is_marked_failed_and_the_message_still_goes() {
    let mut s = setup(json!({})).await;
    s.channel.fail_next(
        Operation::Download,
        channel_api::Error::Backend {
            backend: "memory",
            message: "disk on fire".into(),
        },
    );
    s.alice
        .post_file(
            &s.room,
            "a.txt",
            "text/plain",
            b"hello",
            Some("@bot read"),
            None,
        )
        .unwrap();
    let m = s.client.notification("message").await;
    assert_eq!(m["attachments"][0]["error"], json!("failed"));
    assert_eq!(m["attachments"][0]["path"], Value::Null);
    settle(&mut s).await;
    assert!(
        !bot_messages(&s, &s.room)
            .iter()
            .any(|m| m.text.starts_with("I can't read")),
        "no notice for a failure that is not about size"
    );
}

#[tokio::test]
async fn the_default_media_dir_is_private_and_removed_at_a_clean_shutdown() {
    let mut s = setup(json!({})).await;
    s.alice
        .post_file(
            &s.room,
            "a.txt",
            "text/plain",
            b"hello",
            Some("@bot read"),
            None,
        )
        .unwrap();
    let m = s.client.notification("message").await;
    let path = PathBuf::from(m["attachments"][0]["path"].as_str().unwrap());
    let dir = path.parent().unwrap().to_owned();
    assert!(dir.starts_with(std::env::temp_dir()));
    #[cfg(unix)]
    assert_eq!(mode(&dir), 0o700);
    assert_eq!(std::fs::read(&path).unwrap(), b"hello");
    let r = s.client.call("shutdown", json!({})).await;
    assert_eq!(r["result"], json!({}));
    join(s.bridge).await.unwrap();
    assert!(!dir.exists(), "the temporary media dir is removed");
}

// ----- history -----

#[tokio::test]
async fn room_history_covers_what_came_since_the_last_dispatch_once() {
    let mut s = setup(json!({"historyLimit": 10})).await;
    s.alice.post(&s.room, "before one").unwrap();
    s.op.post(&s.room, "before two").unwrap();
    s.alice.post(&s.room, "@bot first").unwrap();
    let first = s.client.notification("message").await;
    assert_eq!(texts(&first["history"]), vec!["before one", "before two"]);
    assert_eq!(first["threadHistory"], json!([]));
    let entry = &first["history"][1];
    assert_eq!(entry["sender"]["username"], json!("op"));
    assert_eq!(entry["sender"]["isBot"], json!(false));
    assert_eq!(entry["fromSelf"], json!(false));
    assert_eq!(entry["threadId"], Value::Null);
    assert!(entry["messageId"].is_string() && entry["timestamp"].is_i64());

    // The bot answers, op says something, alice asks again: only those two.
    let answer = s
        .client
        .call(
            "send",
            json!({"target": first["conversationId"], "text": "the answer"}),
        )
        .await;
    assert!(answer["result"].is_object());
    s.op.post(&s.room, "in between").unwrap();
    s.alice.post(&s.room, "@bot second").unwrap();
    let second = s.client.notification("message").await;
    assert_eq!(texts(&second["history"]), vec!["the answer", "in between"]);
    assert_eq!(second["history"][0]["fromSelf"], json!(true));
    assert_eq!(second["history"][0]["sender"]["isBot"], json!(true));

    // Nothing in between: nothing again.
    s.alice.post(&s.room, "@bot third").unwrap();
    let third = s.client.notification("message").await;
    assert_eq!(third["history"], json!([]));

    // The limit keeps the latest.
    for i in 0..12 {
        s.op.post(&s.room, &format!("chatter {i}")).unwrap();
    }
    s.alice.post(&s.room, "@bot fourth").unwrap();
    let fourth = s.client.notification("message").await;
    let got = texts(&fourth["history"]);
    assert_eq!(got.len(), 10);
    assert_eq!(got.first(), Some(&"chatter 2"));
    assert_eq!(got.last(), Some(&"chatter 11"));
}

#[tokio::test]
async fn history_is_off_with_limit_zero_and_in_dms_by_default() {
    let mut s = setup(json!({"historyLimit": 0, "dmPolicy": "open", "allowFrom": ["*"]})).await;
    s.op.post(&s.room, "chatter").unwrap();
    s.alice.post(&s.room, "@bot hi").unwrap();
    let m = s.client.notification("message").await;
    assert_eq!(m["history"], json!([]));
    s.alice.post_dm(&s.bot, "dm one").unwrap();
    let _ = s.client.notification("message").await;
    s.alice.post_dm(&s.bot, "dm two").unwrap();
    let dm = s.client.notification("message").await;
    assert_eq!(dm["room"]["kind"], json!("direct"));
    assert_eq!(dm["history"], json!([]), "dmHistoryLimit defaults to 0");
}

#[tokio::test]
async fn dm_history_follows_dm_history_limit() {
    let mut s = setup(json!({"dmHistoryLimit": 5, "dmPolicy": "open", "allowFrom": ["*"]})).await;
    let dm = s.world.create_dm(&s.bot, s.alice.id()).unwrap();
    s.alice.post(&dm, "earlier").unwrap();
    let first = s.client.notification("message").await;
    assert_eq!(first["history"], json!([]), "nothing before the first");
    let r = s
        .client
        .call("send", json!({"target": dm.as_str(), "text": "reply"}))
        .await;
    assert!(r["result"].is_object());
    s.alice.post(&dm, "later").unwrap();
    let second = s.client.notification("message").await;
    assert_eq!(texts(&second["history"]), vec!["reply"]);
}

#[tokio::test]
async fn thread_history_comes_only_with_the_first_dispatch_from_a_thread() {
    let mut s = setup(json!({"historyLimit": 10})).await;
    let root = s.alice.post(&s.room, "@bot topic").unwrap();
    let top = s.client.notification("message").await;
    assert_eq!(top["threadHistory"], json!([]));
    s.op.reply(&s.room, &root.id, "first reply").unwrap();
    s.alice
        .reply(&s.room, &root.id, "@bot in the thread")
        .unwrap();
    let inside = s.client.notification("message").await;
    assert_eq!(inside["threadId"], json!(root.id.as_str()));
    assert_eq!(
        texts(&inside["threadHistory"]),
        vec!["@bot topic", "first reply"],
        "root and first replies, without the message"
    );
    assert_eq!(
        inside["history"],
        json!([]),
        "threads get threadHistory only"
    );
    assert_eq!(
        inside["threadHistory"][1]["threadId"],
        json!(root.id.as_str())
    );

    s.op.reply(&s.room, &root.id, "more").unwrap();
    s.op.post(&s.room, "top-level chatter").unwrap();
    s.alice.reply(&s.room, &root.id, "@bot again").unwrap();
    let again = s.client.notification("message").await;
    assert_eq!(again["threadHistory"], json!([]), "only the first dispatch");
    assert_eq!(
        texts(&again["history"]),
        vec!["more"],
        "threadHistoryScope thread (the default): the thread's messages since the last turn, not the room's"
    );
}

#[tokio::test]
async fn under_thread_history_scope_channel_a_thread_reply_gets_the_rooms_window() {
    let mut s =
        setup(json!({"historyLimit": 10, "threadHistoryScope": "channel", "replyToMode": "off"}))
            .await;
    s.op.post(&s.room, "earlier in the room").unwrap();
    let root = s.op.post(&s.room, "topic").unwrap();
    s.op.reply(&s.room, &root.id, "first reply").unwrap();
    s.alice
        .reply(&s.room, &root.id, "@bot in the thread")
        .unwrap();
    let inside = s.client.notification("message").await;
    assert_eq!(
        texts(&inside["threadHistory"]),
        vec!["topic", "first reply"],
        "the thread's start as well"
    );
    assert_eq!(
        texts(&inside["history"]),
        vec!["earlier in the room", "topic", "first reply"],
        "the room's timeline"
    );
    s.op.post(&s.room, "top-level chatter").unwrap();
    s.alice.reply(&s.room, &root.id, "@bot again").unwrap();
    let again = s.client.notification("message").await;
    assert_eq!(again["threadHistory"], json!([]));
    assert_eq!(texts(&again["history"]), vec!["top-level chatter"]);

    // Live: back to the thread's own messages.
    let r = s
        .client
        .call(
            "reconfigure",
            json!({"config": reconfigured(&s, json!({"historyLimit": 10, "replyToMode": "off", "threadHistoryScope": "thread"}))}),
        )
        .await;
    assert!(
        r["result"]["applied"]
            .as_array()
            .unwrap()
            .contains(&json!("threadHistoryScope")),
        "{r}"
    );
    s.op.post(&s.room, "more chatter").unwrap();
    s.op.reply(&s.room, &root.id, "thread news").unwrap();
    s.alice.reply(&s.room, &root.id, "@bot third").unwrap();
    let third = s.client.notification("message").await;
    assert_eq!(texts(&third["history"]), vec!["thread news"]);
}

#[tokio::test]
async fn a_dms_entry_sets_that_dms_history_limit_over_dm_history_limit() {
    let mut s = setup(json!({"dmPolicy": "open", "allowFrom": ["*"]})).await;
    let alice_dm = s.world.create_dm(&s.bot, s.alice.id()).unwrap();
    let op_dm = s.world.create_dm(&s.bot, s.op.id()).unwrap();
    let r = s
        .client
        .call(
            "reconfigure",
            json!({"config": reconfigured(&s, json!({"dmPolicy": "open", "allowFrom": ["*"],
                "dms": {s.alice.id().as_str(): {"historyLimit": 2}}}))}),
        )
        .await;
    assert!(
        r["result"]["applied"]
            .as_array()
            .unwrap()
            .contains(&json!("dms")),
        "{r}"
    );
    for dm in [&alice_dm, &op_dm] {
        let r = s
            .client
            .call("send", json!({"target": dm.as_str(), "text": "one"}))
            .await;
        assert!(r["result"].is_object());
        let r = s
            .client
            .call("send", json!({"target": dm.as_str(), "text": "two"}))
            .await;
        assert!(r["result"].is_object());
        let r = s
            .client
            .call("send", json!({"target": dm.as_str(), "text": "three"}))
            .await;
        assert!(r["result"].is_object());
    }
    s.alice.post(&alice_dm, "hello").unwrap();
    let from_alice = s.client.notification("message").await;
    assert_eq!(
        texts(&from_alice["history"]),
        vec!["two", "three"],
        "alice's dms entry"
    );
    s.op.post(&op_dm, "hello").unwrap();
    let from_op = s.client.notification("message").await;
    assert_eq!(
        from_op["history"],
        json!([]),
        "dmHistoryLimit (0) elsewhere"
    );
}

#[tokio::test]
async fn under_reply_to_mode_all_a_top_level_message_gets_history_and_opens_its_thread() {
    let mut s = setup(json!({"replyToMode": "all"})).await;
    s.op.post(&s.room, "earlier").unwrap();
    let root = s.alice.post(&s.room, "@bot question").unwrap();
    let top = s.client.notification("message").await;
    assert!(top["conversationId"]
        .as_str()
        .unwrap()
        .ends_with(&format!(":thread:{}", root.id)));
    assert_eq!(texts(&top["history"]), vec!["earlier"]);
    assert_eq!(top["threadHistory"], json!([]));
    s.op.reply(&s.room, &root.id, "a reply").unwrap();
    s.alice.reply(&s.room, &root.id, "@bot follow-up").unwrap();
    let inside = s.client.notification("message").await;
    assert_eq!(inside["conversationId"], top["conversationId"]);
    assert_eq!(
        inside["threadHistory"],
        json!([]),
        "the conversation already started with the root"
    );
    assert_eq!(
        texts(&inside["history"]),
        vec!["a reply"],
        "the thread's messages since the root"
    );
}

#[tokio::test]
async fn thread_history_respects_its_limit() {
    let mut s = setup(json!({"threadInitialHistoryLimit": 2, "replyToMode": "off"})).await;
    let root = s.alice.post(&s.room, "root").unwrap();
    for i in 0..4 {
        s.op.reply(&s.room, &root.id, &format!("reply {i}"))
            .unwrap();
    }
    s.alice.reply(&s.room, &root.id, "@bot catch up").unwrap();
    let m = s.client.notification("message").await;
    assert_eq!(texts(&m["threadHistory"]), vec!["root", "reply 0"]);
}

#[tokio::test]
async fn a_failed_history_fetch_gives_empty_history() {
    let mut s = setup(json!({})).await;
    s.op.post(&s.room, "chatter").unwrap();
    s.channel.fail_next(
        Operation::History,
        channel_api::Error::Timeout {
            operation: "history".into(),
        },
    );
    s.alice.post(&s.room, "@bot hi").unwrap();
    let m = s.client.notification("message").await;
    assert_eq!(m["textForAgent"], json!("hi"));
    assert_eq!(m["history"], json!([]));
}

// ----- sendFile -----

#[tokio::test]
async fn send_file_into_a_thread_posts_one_message_with_the_file() {
    let files = Scratch::new("out");
    let mut s = setup(json!({})).await;
    let root = s.alice.post(&s.room, "@bot draw").unwrap();
    let _ = s.client.notification("message").await;
    let data = bytes(5000);
    let path = files.file("chart.png", &data);
    let target = format!("mock:default:channel:{}:thread:{}", s.room, root.id);
    let r = s
        .client
        .call(
            "sendFile",
            json!({"target": target, "path": path, "caption": "here it is"}),
        )
        .await;
    let ids = r["result"]["messageIds"].as_array().unwrap();
    assert_eq!(ids.len(), 1, "{r}");
    assert_eq!(r["result"]["threadId"], json!(root.id.as_str()));
    let posted = bot_messages(&s, &s.room);
    assert_eq!(posted.len(), 1);
    let m = &posted[0];
    assert_eq!(json!(m.id.as_str()), ids[0]);
    assert_eq!(m.thread_root.as_ref(), Some(&root.id));
    assert_eq!(m.text, "here it is");
    assert_eq!(m.attachments.len(), 1);
    let a = &m.attachments[0];
    assert_eq!(a.name, "chart.png");
    assert_eq!(a.mime_type.as_deref(), Some("image/png"));
    assert_eq!(s.world.file(&a.id).unwrap(), data);
    assert!(path.exists(), "the plugin keeps its file");

    // name, mimeType and threadId given explicitly; a room id target.
    let r = s
        .client
        .call(
            "sendFile",
            json!({"target": s.room.as_str(), "path": path, "name": "report",
                   "mimeType": "application/pdf", "threadId": root.id.as_str()}),
        )
        .await;
    assert_eq!(r["result"]["threadId"], json!(root.id.as_str()));
    let last = bot_messages(&s, &s.room).pop().unwrap();
    assert_eq!(last.attachments[0].name, "report");
    assert_eq!(
        last.attachments[0].mime_type.as_deref(),
        Some("application/pdf")
    );
    assert_eq!(last.text, "");
}

#[tokio::test]
async fn an_oversized_send_file_is_refused_and_posts_nothing() {
    let files = Scratch::new("huge");
    let mut s = setup(json!({"mediaMaxMb": 1})).await;
    let path = files.file("huge.bin", &bytes(MIB + 1));
    let r = s
        .client
        .call("sendFile", json!({"target": s.room.as_str(), "path": path}))
        .await;
    assert_eq!(r["error"]["code"], json!(-32011), "{r}");
    assert_eq!(r["error"]["data"]["kind"], json!("tooLarge"));
    assert_eq!(r["error"]["data"]["limitBytes"], json!(MIB));
    assert_eq!(r["error"]["data"]["retryable"], json!(false));

    // The server's own limit is tooLarge too.
    s.world.set_upload_limit(100);
    let small = files.file("small.bin", &bytes(200));
    let r = s
        .client
        .call(
            "sendFile",
            json!({"target": s.room.as_str(), "path": small}),
        )
        .await;
    assert_eq!(r["error"]["code"], json!(-32011), "{r}");
    assert_eq!(r["error"]["data"]["limitBytes"], json!(100));
    assert!(
        s.world.messages(&s.room).unwrap().is_empty(),
        "nothing posted"
    );
}

#[tokio::test]
async fn send_file_with_bad_params_is_invalid_params() {
    let files = Scratch::new("bad");
    let mut s = setup(json!({})).await;
    let ok = files.file("ok.txt", b"x");
    let room = s.room.as_str().to_owned();
    let cases = [
        json!({"target": room}),
        json!({"path": ok}),
        json!({"target": room, "path": ""}),
        json!({"target": room, "path": files.0.join("missing.txt")}),
        json!({"target": room, "path": files.0}),
        json!({"target": "", "path": ok}),
        json!({"target": "mock:other:channel:R1", "path": ok}),
        json!({"target": room, "path": ok, "replyThread": {"id": " ", "scope": "all"}}),
        json!({"target": room, "path": 7}),
    ];
    for params in cases {
        let r = s.client.call("sendFile", params.clone()).await;
        assert_eq!(r["error"]["code"], json!(-32602), "{params} -> {r}");
        assert_eq!(r["error"]["data"]["kind"], json!("invalidParams"));
    }
    assert!(
        s.world.messages(&s.room).unwrap().is_empty(),
        "nothing posted"
    );
}

// ----- ordering: a download that waits for a gate (common::gated) -----

#[tokio::test]
async fn a_slow_download_holds_back_its_room_only() {
    let gate = Arc::new(tokio::sync::Semaphore::new(0));
    let mut s = {
        let gate = gate.clone();
        setup_over(json!({"reactionNotifications": "all"}), move |inner| {
            Gated {
                inner,
                gate,
                slow: Slow::Downloads,
            }
        })
        .await
    };
    let with_file = s
        .alice
        .post_file(
            &s.room,
            "a.txt",
            "text/plain",
            b"slow",
            Some("@bot file"),
            None,
        )
        .unwrap();
    s.alice.post(&s.room, "@bot after the file").unwrap();
    s.op.react(&with_file, "eyes").unwrap();
    s.alice.post(&s.other, "@bot elsewhere").unwrap();

    // The other room's message comes while the download waits.
    let first = s.client.notification("message").await;
    assert_eq!(first["textForAgent"], json!("elsewhere"));
    assert!(s.client.take_backlog("message").is_empty());
    assert!(s.client.take_backlog("reaction").is_empty());

    gate.add_permits(1);
    // Then the room's own notifications, in the order they happened.
    let mut order = Vec::new();
    while order.len() < 3 {
        let line = s.client.read().await.unwrap();
        match line["method"].as_str() {
            Some("message") => {
                order.push(line["params"]["textForAgent"].as_str().unwrap().to_owned())
            }
            Some("reaction") => order.push(format!(
                "reaction {}",
                line["params"]["emoji"].as_str().unwrap()
            )),
            _ => {}
        }
    }
    assert_eq!(order, vec!["file", "after the file", "reaction eyes"]);
    s.client.close_input();
    join(s.bridge).await.unwrap();
}

// ----- configuration -----

#[tokio::test]
async fn bad_media_and_history_values_are_fatal_and_name_the_field() {
    for (extra, field) in [
        (json!({"mediaMaxMb": 0}), "mediaMaxMb"),
        (json!({"historyLimit": -1}), "historyLimit"),
        (json!({"dmHistoryLimit": 1.5}), "dmHistoryLimit"),
        (
            json!({"threadInitialHistoryLimit": "x"}),
            "threadInitialHistoryLimit",
        ),
        (json!({"mediaDir": ""}), "mediaDir"),
    ] {
        let mut line = json!({"serverUrl": "https://chat.example", "userId": "B", "username": "bot", "authToken": "t"});
        for (k, v) in extra.as_object().unwrap() {
            line[k] = v.clone();
        }
        let (mut client, bridge_in, bridge_out) = Client::pipes();
        let serve = tokio::spawn(bridge_core::serve::serve(
            bridge_in,
            bridge_out,
            |_config| async {
                Err::<bridge_core::serve::Connected<MemoryChannel>, _>(
                    bridge_core::ConfigError::new("test", "connect must not be reached"),
                )
            },
        ));
        client.write_line(&line.to_string()).await;
        let fatal = client.notification("fatal").await;
        assert_eq!(fatal["field"], json!(field), "{extra}");
        assert_eq!(join(serve).await.exit_code(), 2);
    }
}

#[tokio::test]
async fn a_media_dir_that_is_a_file_is_fatal() {
    let scratch = Scratch::new("notadir");
    let file = scratch.file("plain", b"x");
    let line = json!({"serverUrl": "https://chat.example", "userId": "B", "username": "bot",
                      "authToken": "t", "mediaDir": file});
    let (mut client, bridge_in, bridge_out) = Client::pipes();
    let serve = tokio::spawn(bridge_core::serve::serve(
        bridge_in,
        bridge_out,
        |_config| async {
            Err::<bridge_core::serve::Connected<MemoryChannel>, _>(bridge_core::ConfigError::new(
                "test",
                "connect must not be reached",
            ))
        },
    ));
    client.write_line(&line.to_string()).await;
    let fatal = client.notification("fatal").await;
    assert_eq!(fatal["field"], json!("mediaDir"));
    assert_eq!(join(serve).await.exit_code(), 2);
}
