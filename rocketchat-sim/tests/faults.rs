//! Revocation, fault injection, load, restart and the JSON control API.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::*;
use rocketchat_sim::{RateRule, RoomKind, SimConfig, UserKind};
use serde_json::{json, Value};

#[tokio::test]
async fn removing_a_pat_closes_its_socket_without_a_frame_and_rest_401s() {
    let sim = start().await;
    let (uid, token) = bot(&sim, "bot");
    let other = sim.create_pat(&uid, "other").unwrap();
    let mut ws = Ws::logged_in(&sim, &token).await;
    let mut ws_other = Ws::logged_in(&sim, &other).await;
    ws.sub_my_messages().await;
    sim.remove_pat(&uid, "test").unwrap();
    assert_eq!(ws.expect_closed().await, Vec::<Value>::new());
    assert_eq!(
        http(&sim, "GET", "/api/v1/me", Some((&uid, &token)), None)
            .await
            .status,
        401
    );
    // Only sockets of that token close.
    ws_other.send(json!({"msg": "ping", "id": "p"})).await;
    assert_eq!(ws_other.recv().await, json!({"msg": "pong", "id": "p"}));
    // Logging in again is the 403.
    let mut again = Ws::open(&sim).await;
    again.connect().await;
    assert_eq!(
        again.call("login", json!([{"resume": token}])).await["error"]["error"],
        403
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn deactivation_closes_every_socket_and_wipes_pats() {
    let sim = start().await;
    let (uid, token) = bot(&sim, "bot");
    let alice = sim.create_user("alice", UserKind::Human).unwrap();
    let dm = sim.create_dm(&alice, &uid).unwrap();
    let mut ws = Ws::logged_in(&sim, &token).await;
    sim.deactivate_user(&uid).unwrap();
    assert_eq!(ws.expect_closed().await, Vec::<Value>::new());
    assert_eq!(
        http(&sim, "GET", "/api/v1/me", Some((&uid, &token)), None)
            .await
            .status,
        401
    );
    sim.activate_user(&uid).unwrap();
    assert_eq!(
        http(&sim, "GET", "/api/v1/me", Some((&uid, &token)), None)
            .await
            .status,
        401
    );
    let atok = sim.create_pat(&alice, "a").unwrap();
    let r = http(
        &sim,
        "GET",
        &format!("/api/v1/rooms.info?roomId={dm}"),
        Some((&alice, &atok)),
        None,
    )
    .await;
    assert_eq!(r.body["room"]["ro"], true);
    sim.shutdown().await;
}

#[tokio::test]
async fn silent_revocation_keeps_the_socket_open() {
    let sim = start_with(SimConfig {
        silent_revocation: true,
        ..SimConfig::default()
    })
    .await;
    let (uid, token) = bot(&sim, "bot");
    let mut ws = Ws::logged_in(&sim, &token).await;
    sim.remove_pat(&uid, "test").unwrap();
    assert_eq!(
        http(&sim, "GET", "/api/v1/me", Some((&uid, &token)), None)
            .await
            .status,
        401
    );
    ws.send(json!({"msg": "ping", "id": "still"})).await;
    assert_eq!(ws.recv().await, json!({"msg": "pong", "id": "still"}));
    sim.shutdown().await;
}

#[tokio::test]
async fn drop_sockets_now_and_after_n_frames() {
    let sim = start().await;
    let (uid, token) = bot(&sim, "bot");
    let alice = sim.create_user("alice", UserKind::Human).unwrap();
    let mut ws = Ws::logged_in(&sim, &token).await;
    assert_eq!(sim.session_count(&uid), 1);
    sim.drop_sockets(&uid);
    assert_eq!(ws.expect_closed().await, Vec::<Value>::new());

    let mut ws = Ws::logged_in(&sim, &token).await;
    ws.sub_my_messages().await;
    sim.drop_sockets_after(&uid, 2);
    for i in 0..4 {
        sim.post(&alice, "GENERAL", &format!("m{i}")).unwrap();
    }
    let seen = ws.expect_closed().await;
    assert_eq!(seen.len(), 2, "{seen:?}");
    assert_eq!(seen[1]["fields"]["args"][0]["msg"], "m1");
    sim.shutdown().await;
}

#[tokio::test]
async fn deaf_socket_answers_nothing_but_stays_open() {
    let sim = start_with(SimConfig {
        heartbeat_interval: Duration::from_millis(100),
        heartbeat_timeout: Duration::from_millis(100),
        ..SimConfig::default()
    })
    .await;
    let (uid, token) = bot(&sim, "bot");
    let mut ws = Ws::logged_in(&sim, &token).await;
    sim.set_deaf(&uid, true);
    ws.send(json!({"msg": "ping", "id": "x"})).await;
    ws.expect_silence(Duration::from_millis(500)).await;
    assert_eq!(sim.session_count(&uid), 1);
    sim.set_deaf(&uid, false);
    ws.send(json!({"msg": "ping", "id": "y"})).await;
    let v = ws.recv_until(|v| v["msg"] == "pong").await;
    assert_eq!(v["id"], "y");
    sim.shutdown().await;
}

#[tokio::test]
async fn injected_429s_and_ddp_too_many_requests() {
    let sim = start().await;
    let (uid, token) = bot(&sim, "bot");
    sim.inject_429(1);
    let r = http(&sim, "GET", "/api/v1/me", Some((&uid, &token)), None).await;
    assert_eq!(r.status, 429);
    assert!(r.headers.contains_key("x-ratelimit-reset"));
    assert_eq!(
        http(&sim, "GET", "/api/v1/me", Some((&uid, &token)), None)
            .await
            .status,
        200
    );

    let mut ws = Ws::logged_in(&sim, &token).await;
    sim.set_ddp_too_many_requests(true);
    let r = ws.call("setReaction", json!([":x:", "m"])).await;
    assert_eq!(r["error"]["error"], "too-many-requests");
    assert!(r["error"]["details"]["timeToReset"].is_u64());
    let r = ws
        .sub(
            "s",
            "stream-room-messages",
            json!(["__my_messages__", false]),
        )
        .await;
    assert_eq!(r["msg"], "nosub");
    assert_eq!(r["error"]["error"], "too-many-requests");
    sim.shutdown().await;
}

#[tokio::test]
async fn ddp_rate_limit_per_connection_and_method() {
    let sim = start_with(SimConfig {
        ddp_rate_limit: Some(RateRule {
            limit: 3,
            window: Duration::from_secs(60),
        }),
        ..SimConfig::default()
    })
    .await;
    let (_uid, token) = bot(&sim, "bot");
    let mut ws = Ws::logged_in(&sim, &token).await;
    for _ in 0..3 {
        let r = ws
            .call("loadMissedMessages", json!(["GENERAL", {"$date": 0}]))
            .await;
        assert!(r.get("error").is_none(), "{r}");
    }
    let r = ws
        .call("loadMissedMessages", json!(["GENERAL", {"$date": 0}]))
        .await;
    assert_eq!(r["error"]["error"], "too-many-requests");
    sim.shutdown().await;
}

#[tokio::test]
async fn dropped_send_response_still_stores_once() {
    let sim = start().await;
    let (uid, token) = bot(&sim, "bot");
    sim.drop_next_send_response();
    let body = json!({"message": {"_id": "retry-me-0001", "rid": "GENERAL", "msg": "once"}});
    let r = try_http(
        &sim,
        "POST",
        "/api/v1/chat.sendMessage",
        Some((&uid, &token)),
        Some(body.clone()),
        &[],
    )
    .await;
    assert!(r.is_err(), "the response should have been dropped");
    let r = http(
        &sim,
        "POST",
        "/api/v1/chat.sendMessage",
        Some((&uid, &token)),
        Some(body),
    )
    .await;
    assert_eq!(r.status, 400);
    let r = http(
        &sim,
        "GET",
        "/api/v1/chat.getMessage?msgId=retry-me-0001",
        Some((&uid, &token)),
        None,
    )
    .await;
    assert_eq!(r.body["message"]["msg"], "once");
    assert_eq!(
        sim.messages("GENERAL")
            .iter()
            .filter(|m| m["_id"] == "retry-me-0001")
            .count(),
        1
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn restart_keeps_state_and_port() {
    let sim = start().await;
    let (uid, token) = bot(&sim, "bot");
    let mid = sim.post(&uid, "GENERAL", "persist").unwrap();
    let addr = sim.addr();
    let mut ws = Ws::logged_in(&sim, &token).await;
    sim.restart().await.unwrap();
    assert_eq!(ws.expect_closed().await, Vec::<Value>::new());
    assert_eq!(sim.addr(), addr);
    let _ws = Ws::logged_in(&sim, &token).await;
    let r = http(
        &sim,
        "GET",
        &format!("/api/v1/chat.getMessage?msgId={mid}"),
        Some((&uid, &token)),
        None,
    )
    .await;
    assert_eq!(r.body["message"]["msg"], "persist");
    sim.shutdown().await;
}

#[tokio::test]
async fn firehose_stamps_send_time() {
    let sim = start().await;
    let (_uid, token) = bot(&sim, "bot");
    let alice = sim.create_user("alice", UserKind::Human).unwrap();
    let rooms: Vec<String> = (0..3)
        .map(|i| {
            sim.create_room(RoomKind::Public, &format!("load{i}"), &alice, &[])
                .unwrap()
        })
        .collect();
    let mut ws = Ws::logged_in(&sim, &token).await;
    ws.sub_my_messages().await;
    let report = sim.firehose(&alice, &rooms, 30).await.unwrap();
    assert_eq!(report.message_ids.len(), 30);
    let mut got = Vec::new();
    while got.len() < 30 {
        let ev = ws.next_event("stream-room-messages").await;
        got.push(ev["fields"]["args"][0].clone());
    }
    for (i, m) in got.iter().enumerate() {
        assert_eq!(m["_id"], json!(report.message_ids[i]));
        assert_eq!(m["rid"], json!(rooms[i % 3]));
        let nanos: i128 = m["customFields"]["simSentAtNanos"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!(nanos > 1_600_000_000_000_000_000);
    }
    sim.shutdown().await;
}

#[tokio::test]
async fn latency_still_answers() {
    let sim = start().await;
    let (uid, token) = bot(&sim, "bot");
    sim.set_latency(Duration::from_millis(20));
    assert_eq!(
        http(&sim, "GET", "/api/v1/me", Some((&uid, &token)), None)
            .await
            .status,
        200
    );
    let mut ws = Ws::logged_in(&sim, &token).await;
    let r = ws
        .call("loadMissedMessages", json!(["GENERAL", {"$date": 0}]))
        .await;
    assert!(r["result"].is_array());
    sim.shutdown().await;
}

#[tokio::test]
async fn json_control_api_drives_the_simulator() {
    let sim = start_with(SimConfig {
        control_http: true,
        ..SimConfig::default()
    })
    .await;
    let ctl = |name: &str, body: Value| {
        let path = format!("/_sim/{name}");
        let sim = sim.clone();
        async move { http(&sim, "POST", &path, None, Some(body)).await.body }
    };
    let bot_id = ctl("createUser", json!({"username": "bot", "bot": true})).await["userId"]
        .as_str()
        .unwrap()
        .to_owned();
    let token = ctl("createPat", json!({"userId": bot_id, "name": "t"})).await["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let alice = ctl("createUser", json!({"username": "alice"})).await["userId"]
        .as_str()
        .unwrap()
        .to_owned();
    let rid = ctl(
        "createRoom",
        json!({"type": "p", "name": "priv", "creator": alice, "members": [bot_id]}),
    )
    .await["roomId"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut ws = Ws::logged_in(&sim, &token).await;
    ws.sub_my_messages().await;
    let mid = ctl(
        "post",
        json!({"userId": alice, "roomId": rid, "text": "via control"}),
    )
    .await["messageId"]
        .as_str()
        .unwrap()
        .to_owned();
    let ev = ws.next_event("stream-room-messages").await;
    assert_eq!(ev["fields"]["args"][0]["_id"], json!(mid));
    assert_eq!(ev["fields"]["args"][1]["roomType"], "p");
    ctl(
        "react",
        json!({"userId": alice, "messageId": mid, "emoji": "tada"}),
    )
    .await;
    let msgs = ctl("messages", json!({"roomId": rid})).await;
    assert_eq!(
        msgs["messages"][0]["reactions"],
        json!({":tada:": {"usernames": ["alice"]}})
    );
    assert!(msgs["messages"][0]["ts"].is_string());
    let r = ctl("nope", json!({})).await;
    assert_eq!(r["ok"], false);
    // Disabled by default.
    let plain = start().await;
    assert_eq!(
        http(&plain, "POST", "/_sim/info", None, Some(json!({})))
            .await
            .status,
        404
    );
    plain.shutdown().await;
    sim.shutdown().await;
}

#[tokio::test]
async fn breaking_changes_switch_changes_the_401_body() {
    let sim = start_with(SimConfig {
        legacy_auth_bodies: false,
        ..SimConfig::default()
    })
    .await;
    let r = http(&sim, "GET", "/api/v1/me", None, None).await;
    assert_eq!(
        r.body,
        json!({"success": false, "error": "You must be logged in to do this."})
    );
    sim.shutdown().await;
}
