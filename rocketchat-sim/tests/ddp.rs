//! DDP framing, login and streams, asserted frame by frame against the protocol reference.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::*;
use rocketchat_sim::{RoomKind, SimConfig, UserKind};
use serde_json::json;

#[tokio::test]
async fn connect_gives_17_char_session_and_sends_nothing_first() {
    let sim = start().await;
    let mut ws = Ws::open(&sim).await;
    // The monolith sends nothing before connect.
    ws.expect_silence(Duration::from_millis(200)).await;
    let session = ws.connect().await;
    assert_eq!(session.len(), 17);
    sim.shutdown().await;
}

#[tokio::test]
async fn connect_version_mismatch_fails_and_closes() {
    let sim = start().await;
    let mut ws = Ws::open(&sim).await;
    ws.send(json!({"msg": "connect", "version": "2", "support": ["2"]}))
        .await;
    assert_eq!(
        ws.expect_closed().await,
        vec![json!({"msg": "failed", "version": "1"})]
    );

    let mut ws = Ws::open(&sim).await;
    ws.send(json!({"msg": "connect", "version": "pre1", "support": ["1", "pre1"]}))
        .await;
    assert_eq!(
        ws.expect_closed().await,
        vec![json!({"msg": "failed", "version": "1"})]
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn malformed_input_gets_the_reference_error_frames() {
    let sim = start().await;
    let mut ws = Ws::open(&sim).await;
    ws.send_text("{not json").await;
    assert_eq!(
        ws.recv().await,
        json!({"msg": "error", "reason": "Parse error"})
    );
    ws.send(json!({"msg": "method", "id": "1", "method": "x"}))
        .await;
    assert_eq!(
        ws.recv().await,
        json!({"msg": "error", "reason": "Must connect first",
            "offendingMessage": {"msg": "method", "id": "1", "method": "x"}})
    );
    ws.send(json!({"id": "x"})).await;
    assert_eq!(
        ws.recv().await,
        json!({"msg": "error", "reason": "Bad request", "offendingMessage": {"id": "x"}})
    );
    ws.connect().await;
    ws.send(json!({"msg": "connect", "version": "1", "support": ["1"]}))
        .await;
    assert_eq!(ws.recv().await["reason"], "Already connected");
    ws.send(json!({"msg": "bogus"})).await;
    assert_eq!(
        ws.recv().await,
        json!({"msg": "error", "reason": "Bad request", "offendingMessage": {"msg": "bogus"}})
    );
    ws.send(json!({"msg": "method", "id": 7, "method": "login"}))
        .await;
    assert_eq!(ws.recv().await["reason"], "Malformed method invocation");
    ws.send(json!({"msg": "method", "id": "7", "method": "login", "params": {}}))
        .await;
    assert_eq!(ws.recv().await["reason"], "Malformed method invocation");
    ws.send(json!({"msg": "sub", "id": "s", "name": 3})).await;
    let e = ws.recv().await;
    assert_eq!(e["reason"], "Malformed subscription");
    assert_eq!(
        e["offendingMessage"],
        json!({"msg": "sub", "id": "s", "name": 3})
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn ping_pong_echoes_id() {
    let sim = start().await;
    let mut ws = Ws::open(&sim).await;
    ws.connect().await;
    ws.send(json!({"msg": "ping", "id": "abc"})).await;
    assert_eq!(ws.recv().await, json!({"msg": "pong", "id": "abc"}));
    ws.send(json!({"msg": "ping"})).await;
    assert_eq!(ws.recv().await, json!({"msg": "pong"}));
    sim.shutdown().await;
}

#[tokio::test]
async fn server_heartbeat_pings_then_closes_without_a_frame() {
    let sim = start_with(SimConfig {
        heartbeat_interval: Duration::from_millis(200),
        heartbeat_timeout: Duration::from_millis(200),
        ..SimConfig::default()
    })
    .await;
    let mut ws = Ws::open(&sim).await;
    ws.connect().await;
    assert_eq!(ws.recv().await, json!({"msg": "ping"}));
    // Answering keeps the session alive: another ping comes later, not a close.
    ws.send(json!({"msg": "pong"})).await;
    assert_eq!(ws.recv().await, json!({"msg": "ping"}));
    // Silence now: the socket closes with no DDP frame.
    assert_eq!(ws.expect_closed().await, Vec::<serde_json::Value>::new());
    sim.shutdown().await;
}

#[tokio::test]
async fn unknown_method_is_404_then_updated() {
    let sim = start().await;
    let mut ws = Ws::open(&sim).await;
    ws.connect().await;
    ws.send(json!({"msg": "method", "id": "9", "method": "nope", "params": []}))
        .await;
    assert_eq!(
        ws.recv().await,
        json!({"msg": "result", "id": "9", "error": {"isClientSafe": true, "error": 404,
            "reason": "Method 'nope' not found", "message": "Method 'nope' not found [404]",
            "errorType": "Meteor.Error"}})
    );
    assert_eq!(ws.recv().await, json!({"msg": "updated", "methods": ["9"]}));
    sim.shutdown().await;
}

#[tokio::test]
async fn login_with_pat_has_reference_shape_and_users_added() {
    let sim = start().await;
    let (uid, token) = bot(&sim, "botty");
    let mut ws = Ws::open(&sim).await;
    ws.connect().await;
    ws.send(json!({"msg": "method", "id": "1", "method": "login", "params": [{"resume": token}]}))
        .await;
    let added = ws.recv().await;
    assert_eq!(added["msg"], "added");
    assert_eq!(added["collection"], "users");
    assert_eq!(added["id"], json!(uid));
    assert_eq!(added["fields"]["username"], "botty");
    assert_eq!(ws.recv().await, json!({"msg": "updated", "methods": ["1"]}));
    assert_eq!(
        ws.recv().await,
        json!({"msg": "result", "id": "1", "result": {"id": uid, "token": token,
            "tokenExpires": {"$date": null}, "type": "resume"}})
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn login_with_unknown_token_is_403() {
    let sim = start().await;
    let mut ws = Ws::open(&sim).await;
    ws.connect().await;
    let r = ws.call("login", json!([{"resume": "nope"}])).await;
    assert_eq!(
        r["error"],
        json!({"isClientSafe": true, "error": 403,
            "reason": "You've been logged out by the server. Please log in again.",
            "message": "You've been logged out by the server. Please log in again. [403]",
            "errorType": "Meteor.Error"})
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn subs_ready_nosub_unsub_and_duplicate_ids() {
    let sim = start().await;
    let (_uid, token) = bot(&sim, "b");
    let alice = sim.create_user("alice", UserKind::Human).unwrap();
    let secret = sim
        .create_room(RoomKind::Private, "secret", &alice, &[])
        .unwrap();
    let mut ws = Ws::logged_in(&sim, &token).await;
    ws.sub_my_messages().await;
    // A reused live id is ignored: no ready, no nosub.
    ws.send(json!({"msg": "sub", "id": "mm", "name": "stream-room-messages", "params": ["__my_messages__", false]}))
        .await;
    ws.expect_silence(Duration::from_millis(200)).await;
    let r = ws.sub("x", "no-such-pub", json!([])).await;
    assert_eq!(r["error"]["error"], 404);
    assert_eq!(r["error"]["reason"], "Subscription 'no-such-pub' not found");
    let r = ws
        .sub("s2", "stream-room-messages", json!([secret, false]))
        .await;
    assert_eq!(r["msg"], "nosub");
    assert_eq!(r["error"]["error"], "not-allowed");
    ws.send(json!({"msg": "unsub", "id": "mm"})).await;
    assert_eq!(ws.recv().await, json!({"msg": "nosub", "id": "mm"}));
    sim.shutdown().await;
}

#[tokio::test]
async fn my_messages_delivers_full_document_with_room_info() {
    let sim = start().await;
    let (bot_id, token) = bot(&sim, "bot");
    let alice = sim.create_user("alice", UserKind::Human).unwrap();
    let joined = sim
        .create_room(RoomKind::Public, "joined", &alice, &[&bot_id])
        .unwrap();
    let other = sim
        .create_room(RoomKind::Public, "other", &alice, &[])
        .unwrap();
    let secret = sim
        .create_room(RoomKind::Private, "secret", &alice, &[])
        .unwrap();
    let dm = sim.create_dm(&alice, &bot_id).unwrap();
    let mut ids = [alice.clone(), bot_id.clone()];
    ids.sort();
    assert_eq!(dm, ids.concat());
    let mut ws = Ws::logged_in(&sim, &token).await;
    ws.sub_my_messages().await;

    let m1 = sim.post(&alice, &joined, "hi @bot").unwrap();
    let ev = ws.next_event("stream-room-messages").await;
    assert_eq!(ev["id"], "id");
    assert_eq!(ev["fields"]["eventName"], "__my_messages__");
    let args = ev["fields"]["args"].as_array().unwrap();
    assert_eq!(args[0]["_id"], json!(m1));
    assert_eq!(args[0]["msg"], "hi @bot");
    assert!(args[0]["ts"]["$date"].is_i64());
    assert_eq!(args[0]["mentions"][0]["type"], "user");
    assert_eq!(
        args[1],
        json!({"roomParticipant": true, "roomType": "c", "roomName": "joined"})
    );

    // Public room the bot never joined: delivered with roomParticipant false.
    sim.post(&alice, &other, "x").unwrap();
    let ev = ws.next_event("stream-room-messages").await;
    assert_eq!(
        ev["fields"]["args"][1],
        json!({"roomParticipant": false, "roomType": "c", "roomName": "other"})
    );

    // Private room without membership: nothing; DM: no roomName.
    sim.post(&alice, &secret, "hidden").unwrap();
    sim.post(&alice, &dm, "psst").unwrap();
    let ev = ws.next_event("stream-room-messages").await;
    assert_eq!(ev["fields"]["args"][0]["msg"], "psst");
    assert_eq!(
        ev["fields"]["args"][1],
        json!({"roomParticipant": true, "roomType": "d"})
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn access_is_checked_per_event() {
    let sim = start().await;
    let (bot_id, token) = bot(&sim, "bot");
    let alice = sim.create_user("alice", UserKind::Human).unwrap();
    let secret = sim
        .create_room(RoomKind::Private, "secret", &alice, &[])
        .unwrap();
    let mut ws = Ws::logged_in(&sim, &token).await;
    ws.sub_my_messages().await;
    sim.post(&alice, &secret, "before").unwrap();
    sim.add_member(&secret, &bot_id).unwrap();
    sim.post(&alice, &secret, "after").unwrap();
    let ev = ws.next_event("stream-room-messages").await;
    assert_eq!(ev["fields"]["args"][0]["msg"], "after");
    sim.shutdown().await;
}

#[tokio::test]
async fn room_key_subscription_gets_args_msg_only() {
    let sim = start().await;
    let (_bot_id, token) = bot(&sim, "bot");
    let alice = sim.create_user("alice", UserKind::Human).unwrap();
    let mut ws = Ws::logged_in(&sim, &token).await;
    let r = ws
        .sub(
            "r",
            "stream-room-messages",
            json!(["GENERAL", {"useCollection": false, "args": []}]),
        )
        .await;
    assert_eq!(r["msg"], "ready");
    let mid = sim.post(&alice, "GENERAL", "hello").unwrap();
    let ev = ws.next_event("stream-room-messages").await;
    assert_eq!(ev["fields"]["eventName"], "GENERAL");
    let args = ev["fields"]["args"].as_array().unwrap();
    assert_eq!(args.len(), 1);
    assert_eq!(args[0]["_id"], json!(mid));
    sim.shutdown().await;
}

#[tokio::test]
async fn set_reaction_rebroadcasts_with_usernames_and_removes_empty_keys() {
    let sim = start().await;
    let (_bot_id, token) = bot(&sim, "bot");
    let alice = sim.create_user("alice", UserKind::Human).unwrap();
    let mid = sim.post(&alice, "GENERAL", "react to me").unwrap();
    let mut ws = Ws::logged_in(&sim, &token).await;
    ws.sub_my_messages().await;
    let before = sim.message(&mid).unwrap()["_updatedAt"]["$date"]
        .as_i64()
        .unwrap();
    let r = ws.call("setReaction", json!(["+1", mid])).await;
    assert!(r.get("result").is_none() && r.get("error").is_none(), "{r}");
    let ev = ws.next_event("stream-room-messages").await;
    let doc = &ev["fields"]["args"][0];
    assert_eq!(doc["reactions"], json!({":+1:": {"usernames": ["bot"]}}));
    assert!(doc["_updatedAt"]["$date"].as_i64().unwrap() > before);
    ws.call("setReaction", json!([":+1:", mid])).await;
    let ev = ws.next_event("stream-room-messages").await;
    assert!(ev["fields"]["args"][0].get("reactions").is_none());
    sim.shutdown().await;
}

#[tokio::test]
async fn typing_write_goes_to_others_only_and_checks_username() {
    let sim = start().await;
    let (bot_id, token) = bot(&sim, "bot");
    let (_b2, token2) = bot(&sim, "watcher");
    let alice = sim.create_user("alice", UserKind::Human).unwrap();
    let room = sim
        .create_room(RoomKind::Public, "r", &alice, &[&bot_id])
        .unwrap();
    let key = format!("{room}/user-activity");
    let mut me = Ws::logged_in(&sim, &token).await;
    let mut other = Ws::logged_in(&sim, &token2).await;
    assert_eq!(
        me.sub("t", "stream-notify-room", json!([key, false])).await["msg"],
        "ready"
    );
    assert_eq!(
        other
            .sub("t", "stream-notify-room", json!([key, false]))
            .await["msg"],
        "ready"
    );
    // Wrong username: dropped silently.
    let r = me
        .call(
            "stream-notify-room",
            json!([key, "alice", ["user-typing"], {}]),
        )
        .await;
    assert!(r.get("error").is_none());
    let r = me
        .call(
            "stream-notify-room",
            json!([key, "bot", ["user-typing"], {}]),
        )
        .await;
    assert!(r.get("error").is_none());
    let ev = other.next_event("stream-notify-room").await;
    assert_eq!(ev["fields"]["eventName"], json!(key));
    assert_eq!(ev["fields"]["args"], json!(["bot", ["user-typing"], {}]));
    // The writer's own connection gets nothing.
    me.expect_silence(Duration::from_millis(200)).await;
    sim.shutdown().await;
}

#[tokio::test]
async fn notify_user_gets_subscription_and_room_changes() {
    let sim = start().await;
    let (bot_id, token) = bot(&sim, "bot");
    let alice = sim.create_user("alice", UserKind::Human).unwrap();
    let mut ws = Ws::logged_in(&sim, &token).await;
    let key = format!("{bot_id}/subscriptions-changed");
    assert_eq!(
        ws.sub("u", "stream-notify-user", json!([key, false])).await["msg"],
        "ready"
    );
    let r = ws
        .sub(
            "u2",
            "stream-notify-user",
            json!([format!("{alice}/message"), false]),
        )
        .await;
    assert_eq!(r["msg"], "nosub");
    let rid = sim
        .create_room(RoomKind::Private, "p", &alice, &[&bot_id])
        .unwrap();
    let ev = ws.next_event("stream-notify-user").await;
    assert_eq!(ev["fields"]["args"][0], "inserted");
    assert_eq!(ev["fields"]["args"][1]["rid"], json!(rid));
    sim.shutdown().await;
}

#[tokio::test]
async fn ddp_send_message_swallows_errors_into_ephemeral() {
    let sim = start().await;
    let (bot_id, token) = bot(&sim, "bot");
    let alice = sim.create_user("alice", UserKind::Human).unwrap();
    let atok = sim.create_pat(&alice, "a").unwrap();
    let r = http(
        &sim,
        "POST",
        "/api/v1/channels.create",
        Some((&alice, &atok)),
        Some(json!({"name": "announcements", "readOnly": true})),
    )
    .await;
    let ro = r.body["channel"]["_id"].as_str().unwrap().to_owned();
    let secret = sim
        .create_room(RoomKind::Private, "secret", &alice, &[])
        .unwrap();
    let mut ws = Ws::logged_in(&sim, &token).await;
    let key = format!("{bot_id}/message");
    assert_eq!(
        ws.sub("e", "stream-notify-user", json!([key, false])).await["msg"],
        "ready"
    );
    // Oversize fails before executeSendMessage's try: swallowed, no ephemeral.
    let long = "x".repeat(5001);
    let r = ws
        .call("sendMessage", json!([{"rid": "GENERAL", "msg": long}]))
        .await;
    assert!(r.get("result").is_none() && r.get("error").is_none(), "{r}");
    ws.expect_silence(Duration::from_millis(200)).await;
    // A read-only room fails inside it: ephemeral from rocket.cat, then swallowed.
    let r = ws
        .call("sendMessage", json!([{"rid": ro, "msg": "hi"}]))
        .await;
    assert!(r.get("result").is_none() && r.get("error").is_none(), "{r}");
    let ev = ws.next_event("stream-notify-user").await;
    let eph = &ev["fields"]["args"][0];
    assert_eq!(
        eph["u"],
        json!({"_id": "rocket.cat", "username": "rocket.cat"})
    );
    assert_eq!(eph["private"], true);
    assert_eq!(eph["rid"], json!(ro));
    assert_eq!(
        eph["msg"],
        "You can't send messages because the room is readonly."
    );
    // No access is rethrown, without a reason.
    let r = ws
        .call("sendMessage", json!([{"rid": secret, "msg": "hi"}]))
        .await;
    assert_eq!(
        r["error"],
        json!({"isClientSafe": true, "error": "error-not-allowed", "message": "[error-not-allowed]",
            "details": {"method": "sendMessage"}, "errorType": "Meteor.Error"})
    );
    // A good send returns the message.
    let r = ws
        .call(
            "sendMessage",
            json!([{"_id": "client-id-1", "rid": "GENERAL", "msg": "ok"}]),
        )
        .await;
    assert_eq!(r["result"]["_id"], "client-id-1");
    // Unknown keys fail the strict check; system types are a 500.
    let r = ws
        .call(
            "sendMessage",
            json!([{"rid": "GENERAL", "msg": "ok", "alias": "x"}]),
        )
        .await;
    assert_eq!(r["error"]["error"], 400);
    let r = ws
        .call(
            "sendMessage",
            json!([{"rid": "GENERAL", "msg": "ok", "t": "uj"}]),
        )
        .await;
    assert_eq!(r["error"]["error"], 500);
    sim.shutdown().await;
}

#[tokio::test]
async fn load_missed_messages_returns_newer_ones() {
    let sim = start().await;
    let (_bot_id, token) = bot(&sim, "bot");
    let alice = sim.create_user("alice", UserKind::Human).unwrap();
    let m1 = sim.post(&alice, "GENERAL", "one").unwrap();
    let ts1 = sim.message(&m1).unwrap()["ts"]["$date"].as_i64().unwrap();
    // Let the clock move on so the second message has a later ts (ms resolution).
    tokio::time::sleep(Duration::from_millis(5)).await;
    let m2 = sim.post(&alice, "GENERAL", "two").unwrap();
    let mut ws = Ws::logged_in(&sim, &token).await;
    let r = ws
        .call("loadMissedMessages", json!(["GENERAL", {"$date": ts1}]))
        .await;
    let list = r["result"].as_array().unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["_id"], json!(m2));
    sim.shutdown().await;
}

#[tokio::test]
async fn handshake_timeout_closes_silent_sockets() {
    let sim = start_with(SimConfig {
        handshake_timeout: Duration::from_millis(200),
        ..SimConfig::default()
    })
    .await;
    let mut ws = Ws::open(&sim).await;
    assert_eq!(ws.expect_closed().await, Vec::<serde_json::Value>::new());
    sim.shutdown().await;
}

#[tokio::test]
async fn use_collection_sends_an_added_frame() {
    let sim = start().await;
    let (_uid, token) = bot(&sim, "bot");
    let mut ws = Ws::logged_in(&sim, &token).await;
    ws.send(
        json!({"msg": "sub", "id": "c", "name": "stream-room-messages",
        "params": ["__my_messages__", {"useCollection": true, "args": []}]}),
    )
    .await;
    assert_eq!(
        ws.recv().await,
        json!({"msg": "added", "collection": "stream-room-messages", "id": "id",
            "fields": {"eventName": "__my_messages__"}})
    );
    assert_eq!(ws.recv().await, json!({"msg": "ready", "subs": ["c"]}));
    sim.shutdown().await;
}

#[tokio::test]
async fn url_preview_is_a_follow_up_update_of_the_same_message() {
    let sim = start().await;
    let (_uid, token) = bot(&sim, "bot");
    let alice = sim.create_user("alice", UserKind::Human).unwrap();
    let mut ws = Ws::logged_in(&sim, &token).await;
    ws.sub_my_messages().await;
    let mid = sim
        .post(&alice, "GENERAL", "see https://example.com/x.")
        .unwrap();
    let first = ws.next_event("stream-room-messages").await["fields"]["args"][0].clone();
    let second = ws.next_event("stream-room-messages").await["fields"]["args"][0].clone();
    assert_eq!(first["_id"], json!(mid));
    assert_eq!(second["_id"], json!(mid));
    assert_eq!(first["urls"], json!([{"url": "https://example.com/x"}]));
    assert_eq!(
        second["urls"],
        json!([{"url": "https://example.com/x", "meta": {}}])
    );
    assert!(second["_updatedAt"]["$date"].as_i64() > first["_updatedAt"]["$date"].as_i64());
    assert_eq!(second["ts"], first["ts"]);
    sim.shutdown().await;
}

// pinMessage.ts (8.x) saves pinned/pinnedAt/pinnedBy without notifyOnMessageChange: only the
// message_pinned system message is broadcast, unless the pin_broadcasts_original switch is on.
#[tokio::test]
async fn pin_inserts_a_system_message_and_rebroadcasts_only_with_the_switch() {
    for switch in [false, true] {
        let sim = start_with(SimConfig {
            pin_broadcasts_original: switch,
            ..SimConfig::default()
        })
        .await;
        let (uid, token) = bot(&sim, "bot");
        let admin = sim.user_id("admin").unwrap();
        let mid = sim.post(&uid, "GENERAL", "pin me").unwrap();
        let mut ws = Ws::logged_in(&sim, &token).await;
        ws.sub_my_messages().await;
        sim.pin(&admin, &mid).unwrap();
        if switch {
            let upd = ws.next_event("stream-room-messages").await["fields"]["args"][0].clone();
            assert_eq!(upd["_id"], json!(mid));
            assert_eq!(upd["pinned"], true);
        }
        let sys = ws.next_event("stream-room-messages").await["fields"]["args"][0].clone();
        assert_eq!(sys["t"], "message_pinned");
        assert_eq!(sys["msg"], "");
        assert_eq!(sys["attachments"][0]["text"], "pin me");
        assert_eq!(sys["attachments"][0]["author_name"], "bot");
        assert_eq!(sys["attachments"][0]["author_icon"], "/avatar/bot");
        assert_eq!(sim.message(&mid).unwrap()["pinned"], true);
        sim.shutdown().await;
    }
}

#[tokio::test]
async fn leaving_a_room_drops_its_stream_silently() {
    let sim = start().await;
    let (bot_id, token) = bot(&sim, "bot");
    let alice = sim.create_user("alice", UserKind::Human).unwrap();
    let rid = sim
        .create_room(RoomKind::Private, "p", &alice, &[&bot_id])
        .unwrap();
    let mut ws = Ws::logged_in(&sim, &token).await;
    assert_eq!(
        ws.sub("r", "stream-room-messages", json!([rid, false]))
            .await["msg"],
        "ready"
    );
    assert!(sim.remove_member(&rid, &bot_id));
    sim.post(&alice, &rid, "after leaving").unwrap();
    ws.expect_silence(Duration::from_millis(200)).await;
    sim.shutdown().await;
}

#[tokio::test]
async fn update_message_method_edits_and_rejects_other_keys() {
    let sim = start().await;
    let (uid, token) = bot(&sim, "bot");
    let mid = sim.post(&uid, "GENERAL", "v1").unwrap();
    let root = sim.post(&uid, "GENERAL", "root").unwrap();
    let mut ws = Ws::logged_in(&sim, &token).await;
    let r = ws
        .call(
            "updateMessage",
            json!([{"_id": mid, "rid": "GENERAL", "msg": "v2"}]),
        )
        .await;
    assert!(r.get("error").is_none(), "{r}");
    assert_eq!(sim.message(&mid).unwrap()["msg"], "v2");
    let r = ws
        .call(
            "updateMessage",
            json!([{"_id": mid, "rid": "GENERAL", "msg": "v3", "pinned": true}]),
        )
        .await;
    assert_eq!(r["error"]["error"], "error-invalid-update-key");
    let r = ws
        .call(
            "updateMessage",
            json!([{"_id": mid, "rid": "GENERAL", "msg": "v3", "tmid": root}]),
        )
        .await;
    assert_eq!(r["error"]["error"], "error-message-change-to-thread");
    sim.shutdown().await;
}

#[tokio::test]
async fn send_message_own_rule_limits_humans_not_bots() {
    let rule = rocketchat_sim::RateRule {
        limit: 2,
        window: Duration::from_secs(60),
    };
    let sim = start_with(SimConfig {
        send_message_rate_limit: Some(rule),
        ..SimConfig::default()
    })
    .await;
    let alice = sim.create_user("alice", UserKind::Human).unwrap();
    let atok = sim.create_pat(&alice, "t").unwrap();
    let (_b, btok) = bot(&sim, "bot");
    let mut human = Ws::logged_in(&sim, &atok).await;
    let mut botws = Ws::logged_in(&sim, &btok).await;
    for i in 0..3 {
        let r = human
            .call(
                "sendMessage",
                json!([{"rid": "GENERAL", "msg": format!("h{i}")}]),
            )
            .await;
        if i < 2 {
            assert!(r.get("error").is_none(), "{r}");
        } else {
            assert_eq!(r["error"]["error"], "too-many-requests");
        }
        let r = botws
            .call(
                "sendMessage",
                json!([{"rid": "GENERAL", "msg": format!("b{i}")}]),
            )
            .await;
        assert!(r.get("error").is_none(), "{r}");
    }
    sim.shutdown().await;
}

#[tokio::test]
async fn frames_are_processed_in_order_and_pings_bypass_the_queue() {
    let sim = start().await;
    let (_uid, token) = bot(&sim, "bot");
    let mut ws = Ws::logged_in(&sim, &token).await;
    sim.set_latency(Duration::from_millis(300));
    for id in ["a", "b"] {
        ws.send(
            json!({"msg": "method", "id": id, "method": "loadMissedMessages",
            "params": ["GENERAL", {"$date": 0}]}),
        )
        .await;
    }
    ws.send(json!({"msg": "ping", "id": "p"})).await;
    // The ping overtakes both queued methods; the methods answer in order.
    assert_eq!(ws.recv().await, json!({"msg": "pong", "id": "p"}));
    let order: Vec<String> = {
        let mut seen = Vec::new();
        while seen.len() < 2 {
            let v = ws.recv().await;
            if v["msg"] == "result" {
                seen.push(v["id"].as_str().unwrap().to_owned());
            }
        }
        seen
    };
    assert_eq!(order, vec!["a", "b"]);
    sim.shutdown().await;
}
