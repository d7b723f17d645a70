//! REST history: `channels.history`, `groups.history`, `im.history` / `dm.history` and
//! `chat.getThreadMessages`, with a raw HTTP client.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::*;
use rocketchat_sim::{RoomKind, SimConfig, SimHandle, UserKind};
use serde_json::{json, Value};

/// Posts with distinct millisecond stamps, so `latest` / `oldest` cut cleanly.
async fn post_spaced(sim: &SimHandle, uid: &str, rid: &str, text: &str) -> String {
    tokio::time::sleep(Duration::from_millis(3)).await;
    sim.post(uid, rid, text).unwrap()
}

async fn get(sim: &SimHandle, auth: (&str, &str), path: &str) -> Resp {
    http(sim, "GET", path, Some(auth), None).await
}

fn texts(body: &Value) -> Vec<String> {
    body["messages"]
        .as_array()
        .unwrap_or_else(|| panic!("no messages in {body}"))
        .iter()
        .map(|m| m["msg"].as_str().unwrap_or_default().to_owned())
        .collect()
}

/// The stored `ts` of a message as the ISO string REST takes.
fn iso_ts(sim: &SimHandle, mid: &str) -> String {
    let ms = sim.message(mid).unwrap()["ts"]["$date"].as_i64().unwrap();
    chrono_iso(ms)
}

fn chrono_iso(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// A public room with the bot and alice, five top-level messages by alice (`m1`..`m5`)
/// and one thread reply under the first.
struct Room {
    sim: SimHandle,
    bot: (String, String),
    alice: String,
    rid: String,
    ids: Vec<String>,
    reply: String,
}

async fn public_room() -> Room {
    let sim = start().await;
    let bot = bot(&sim, "bot");
    let alice = sim.create_user("alice", UserKind::Human).unwrap();
    let rid = sim
        .create_room(RoomKind::Public, "dev", &alice, &[&bot.0])
        .unwrap();
    let mut ids = Vec::new();
    for i in 1..=5 {
        ids.push(post_spaced(&sim, &alice, &rid, &format!("m{i}")).await);
    }
    tokio::time::sleep(Duration::from_millis(3)).await;
    let reply = sim.post_reply(&alice, &rid, &ids[0], "reply").unwrap();
    Room {
        sim,
        bot,
        alice,
        rid,
        ids,
        reply,
    }
}

impl Room {
    fn auth(&self) -> (&str, &str) {
        (&self.bot.0, &self.bot.1)
    }
}

#[tokio::test]
async fn channels_history_is_newest_first_without_thread_replies_by_default() {
    let r = public_room().await;
    let path = format!("/api/v1/channels.history?roomId={}&count=3", r.rid);
    let resp = get(&r.sim, r.auth(), &path).await;
    assert_eq!(resp.status, 200, "{}", resp.body);
    assert_eq!(texts(&resp.body), ["m5", "m4", "m3"]);
    // `{messages}` merged with success, nothing else (no unreads asked for).
    let keys: Vec<&String> = resp.body.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["messages", "success"]);
    let first = &resp.body["messages"][0];
    assert_eq!(first["_id"], json!(r.ids[4]));
    assert_eq!(first["u"]["_id"], json!(r.alice));
    assert!(
        first["ts"].as_str().unwrap().ends_with('Z'),
        "REST dates are ISO"
    );

    let path = format!(
        "/api/v1/channels.history?roomId={}&count=3&showThreadMessages=true",
        r.rid
    );
    let resp = get(&r.sim, r.auth(), &path).await;
    assert_eq!(texts(&resp.body), ["reply", "m5", "m4"]);
    assert_eq!(resp.body["messages"][0]["_id"], json!(r.reply));
    assert_eq!(resp.body["messages"][0]["tmid"], json!(r.ids[0]));
    r.sim.shutdown().await;
}

#[tokio::test]
async fn history_latest_oldest_inclusive_and_offset() {
    let r = public_room().await;
    let base = format!("/api/v1/channels.history?roomId={}", r.rid);
    let m3 = iso_ts(&r.sim, &r.ids[2]);
    let m1 = iso_ts(&r.sim, &r.ids[0]);

    let resp = get(&r.sim, r.auth(), &format!("{base}&latest={m3}")).await;
    assert_eq!(texts(&resp.body), ["m2", "m1"], "latest is exclusive");
    let resp = get(
        &r.sim,
        r.auth(),
        &format!("{base}&latest={m3}&inclusive=true"),
    )
    .await;
    assert_eq!(texts(&resp.body), ["m3", "m2", "m1"]);
    let resp = get(&r.sim, r.auth(), &format!("{base}&latest={m3}&oldest={m1}")).await;
    assert_eq!(texts(&resp.body), ["m2"], "oldest is exclusive too");
    let resp = get(&r.sim, r.auth(), &format!("{base}&offset=1&count=2")).await;
    assert_eq!(texts(&resp.body), ["m4", "m3"]);
    let resp = get(&r.sim, r.auth(), &format!("{base}&latest=yesterday")).await;
    assert_eq!(resp.status, 400);
    r.sim.shutdown().await;
}

#[tokio::test]
async fn channels_history_count_defaults_to_50_and_caps_at_100() {
    let sim = start().await;
    let (uid, token) = bot(&sim, "bot");
    for i in 0..120 {
        sim.post(&uid, "GENERAL", &format!("n{i}")).unwrap();
    }
    let count = |body: &Value| body["messages"].as_array().unwrap().len();
    let base = "/api/v1/channels.history?roomId=GENERAL";
    let resp = get(&sim, (&uid, &token), base).await;
    assert_eq!(count(&resp.body), 50);
    let resp = get(&sim, (&uid, &token), &format!("{base}&count=500")).await;
    assert_eq!(count(&resp.body), 100);
    let resp = get(&sim, (&uid, &token), &format!("{base}&count=0")).await;
    assert_eq!(count(&resp.body), 120, "count=0 is no limit");
    // groups.history reads count itself: default 20, no cap.
    let alice = sim.create_user("alice", UserKind::Human).unwrap();
    let gid = sim
        .create_room(RoomKind::Private, "secret", &alice, &[&uid])
        .unwrap();
    for i in 0..120 {
        sim.post(&uid, &gid, &format!("g{i}")).unwrap();
    }
    let base = format!("/api/v1/groups.history?roomId={gid}");
    let resp = get(&sim, (&uid, &token), &base).await;
    assert_eq!(count(&resp.body), 20);
    let resp = get(&sim, (&uid, &token), &format!("{base}&count=110")).await;
    assert_eq!(count(&resp.body), 110);
    sim.shutdown().await;
}

#[tokio::test]
async fn public_channels_are_readable_without_membership() {
    let sim = start().await;
    let (uid, token) = bot(&sim, "bot");
    let alice = sim.create_user("alice", UserKind::Human).unwrap();
    let rid = sim
        .create_room(RoomKind::Public, "lobby", &alice, &[])
        .unwrap();
    sim.post(&alice, &rid, "welcome").unwrap();
    let path = format!("/api/v1/channels.history?roomId={rid}");
    let resp = get(&sim, (&uid, &token), &path).await;
    assert_eq!(resp.status, 200, "{}", resp.body);
    assert!(texts(&resp.body).contains(&"welcome".to_owned()));
    let resp = get(
        &sim,
        (&uid, &token),
        "/api/v1/channels.history?roomName=lobby",
    )
    .await;
    assert!(texts(&resp.body).contains(&"welcome".to_owned()));
    sim.shutdown().await;
}

#[tokio::test]
async fn each_endpoint_checks_the_room_type_and_membership() {
    let sim = start().await;
    let (uid, token) = bot(&sim, "bot");
    let alice = sim.create_user("alice", UserKind::Human).unwrap();
    let carol = sim.create_user("carol", UserKind::Human).unwrap();
    let carol_token = sim.create_pat(&carol, "t").unwrap();
    let gid = sim
        .create_room(RoomKind::Private, "secret", &alice, &[&uid])
        .unwrap();
    let root = sim.post(&alice, &gid, "root").unwrap();
    sim.post_reply(&alice, &gid, &root, "reply").unwrap();
    let dm = sim.create_dm(&uid, &alice).unwrap();
    sim.post(&alice, &dm, "psst").unwrap();

    // groups.history lists thread replies unless told not to.
    let path = format!("/api/v1/groups.history?roomId={gid}");
    let resp = get(&sim, (&uid, &token), &path).await;
    assert_eq!(resp.status, 200, "{}", resp.body);
    assert_eq!(texts(&resp.body)[..2], ["reply", "root"]);
    let resp = get(
        &sim,
        (&uid, &token),
        &format!("{path}&showThreadMessages=false"),
    )
    .await;
    assert!(!texts(&resp.body).contains(&"reply".to_owned()));

    // A non-member's group does not exist for them.
    let resp = get(&sim, (&carol, &carol_token), &path).await;
    assert_eq!(resp.status, 400);
    assert_eq!(resp.body["errorType"], "error-room-not-found");
    assert_eq!(
        resp.body["error"],
        "The required \"roomId\" or \"roomName\" param provided does not match any group [error-room-not-found]"
    );

    // The wrong endpoint for the room type.
    let resp = get(
        &sim,
        (&uid, &token),
        &format!("/api/v1/channels.history?roomId={gid}"),
    )
    .await;
    assert_eq!(resp.status, 400);
    assert_eq!(resp.body["errorType"], "error-room-not-found");
    assert!(resp.body["error"].as_str().unwrap().contains("any channel"));
    let resp = get(
        &sim,
        (&uid, &token),
        &format!("/api/v1/im.history?roomId={gid}"),
    )
    .await;
    assert_eq!(resp.status, 400);
    assert!(resp.body["error"]
        .as_str()
        .unwrap()
        .contains("any direct message"));

    // im.history and its dm.history alias; a stranger to the DM is forbidden.
    for route in ["im.history", "dm.history"] {
        let path = format!("/api/v1/{route}?roomId={dm}");
        let resp = get(&sim, (&uid, &token), &path).await;
        assert_eq!(resp.status, 200, "{}", resp.body);
        assert_eq!(texts(&resp.body), ["psst"]);
        let resp = get(&sim, (&carol, &carol_token), &path).await;
        assert_eq!(resp.status, 403, "{}", resp.body);
    }
    let resp = get(&sim, (&uid, &token), "/api/v1/channels.history").await;
    assert_eq!(resp.body["errorType"], "error-room-param-not-provided");
    sim.shutdown().await;
}

#[tokio::test]
async fn history_leaves_out_hidden_messages_but_lists_system_messages() {
    let sim = start_with(SimConfig {
        keep_history: true,
        ..SimConfig::default()
    })
    .await;
    let (uid, token) = bot(&sim, "bot");
    let kept = sim.post(&uid, "GENERAL", "kept").unwrap();
    let gone = sim.post(&uid, "GENERAL", "gone").unwrap();
    sim.delete(&uid, &gone).unwrap();
    assert_eq!(sim.message(&gone).unwrap()["_hidden"], true);
    // pin-message: owner, moderator, admin.
    let admin = sim.user_id("admin").unwrap();
    sim.pin(&admin, &kept).unwrap();
    let resp = get(
        &sim,
        (&uid, &token),
        "/api/v1/channels.history?roomId=GENERAL",
    )
    .await;
    let messages = resp.body["messages"].as_array().unwrap();
    assert!(messages.iter().all(|m| m["_id"] != json!(gone)));
    assert!(messages.iter().any(|m| m["_id"] == json!(kept)));
    // Hide_System_Messages defaults to [], so the pin notice is listed.
    assert!(
        messages.iter().any(|m| m["t"] == "message_pinned"),
        "{messages:?}"
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn thread_messages_are_the_replies_oldest_first_with_paging() {
    let sim = start_with(SimConfig {
        keep_history: true,
        ..SimConfig::default()
    })
    .await;
    let (uid, token) = bot(&sim, "bot");
    let root = sim.post(&uid, "GENERAL", "root").unwrap();
    let mut replies = Vec::new();
    for i in 1..=3 {
        tokio::time::sleep(Duration::from_millis(3)).await;
        replies.push(
            sim.post_reply(&uid, "GENERAL", &root, &format!("r{i}"))
                .unwrap(),
        );
    }
    sim.post(&uid, "GENERAL", "outside").unwrap();
    let base = format!("/api/v1/chat.getThreadMessages?tmid={root}");
    let resp = get(&sim, (&uid, &token), &base).await;
    assert_eq!(resp.status, 200, "{}", resp.body);
    assert_eq!(
        texts(&resp.body),
        ["r1", "r2", "r3"],
        "replies only, ts ascending"
    );
    assert_eq!(resp.body["count"], 3);
    assert_eq!(resp.body["offset"], 0);
    assert_eq!(resp.body["total"], 3);

    let resp = get(&sim, (&uid, &token), &format!("{base}&count=1&offset=1")).await;
    assert_eq!(texts(&resp.body), ["r2"]);
    assert_eq!(resp.body["count"], 1);
    assert_eq!(resp.body["offset"], 1);
    assert_eq!(resp.body["total"], 3);

    let resp = get(
        &sim,
        (&uid, &token),
        &format!("{base}&sort=%7B%22ts%22%3A-1%7D"),
    )
    .await;
    assert_eq!(texts(&resp.body), ["r3", "r2", "r1"]);

    // A hidden reply (Message_KeepHistory delete) is still listed: no `_hidden` filter.
    sim.delete(&uid, &replies[1]).unwrap();
    let resp = get(&sim, (&uid, &token), &base).await;
    let hidden: Vec<&Value> = resp.body["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["_hidden"] == true)
        .collect();
    assert_eq!(hidden.len(), 1, "{}", resp.body);
    assert_eq!(hidden[0]["_id"], json!(replies[1]));
    sim.shutdown().await;
}

#[tokio::test]
async fn thread_messages_errors() {
    let sim = start().await;
    let (uid, token) = bot(&sim, "bot");
    let alice = sim.create_user("alice", UserKind::Human).unwrap();
    let gid = sim
        .create_room(RoomKind::Private, "secret", &alice, &[])
        .unwrap();
    let root = sim.post(&alice, &gid, "root").unwrap();

    let resp = get(&sim, (&uid, &token), "/api/v1/chat.getThreadMessages").await;
    assert_eq!(resp.status, 400);
    let resp = get(
        &sim,
        (&uid, &token),
        "/api/v1/chat.getThreadMessages?tmid=nope",
    )
    .await;
    assert_eq!(resp.status, 400);
    assert_eq!(resp.body["errorType"], "error-invalid-message");
    let resp = get(
        &sim,
        (&uid, &token),
        &format!("/api/v1/chat.getThreadMessages?tmid={root}"),
    )
    .await;
    assert_eq!(resp.status, 400);
    assert_eq!(resp.body["errorType"], "error-not-allowed");
    assert_eq!(resp.body["error"], "Not Allowed [error-not-allowed]");
    sim.shutdown().await;
}
