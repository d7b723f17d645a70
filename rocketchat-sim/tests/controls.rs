//! The fault controls other streams use (issue 12): refused and revoked subscriptions, a DDP
//! method answered with an error, a REST fault on one path (status, huge body, stall, drop),
//! multi-MiB messages under a raised `Message_MaxAllowedSize`, and their JSON forms.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::*;
use rocketchat_sim::{MeteorError, RestFault, RoomKind, SimConfig, UserKind};
use serde_json::json;

#[tokio::test]
async fn a_refused_subscription_gets_nosub_with_the_error() {
    let sim = start().await;
    let (uid, token) = bot(&sim, "bot");
    sim.refuse_subscription(
        "stream-notify-user",
        &format!("{uid}/rooms"),
        MeteorError::status(403, "not-allowed"),
    );
    let mut ws = Ws::logged_in(&sim, &token).await;
    let r = ws
        .sub(
            "a",
            "stream-notify-user",
            json!([format!("{uid}/rooms-changed"), false]),
        )
        .await;
    assert_eq!(
        r,
        json!({"msg": "nosub", "id": "a", "error": {"isClientSafe": true, "error": 403,
            "reason": "not-allowed", "message": "not-allowed [403]", "errorType": "Meteor.Error"}})
    );
    // Other keys and streams are untouched.
    let r = ws
        .sub(
            "b",
            "stream-notify-user",
            json!([format!("{uid}/message"), false]),
        )
        .await;
    assert_eq!(r["msg"], "ready");
    sim.clear_subscription_refusals();
    let r = ws
        .sub(
            "c",
            "stream-notify-user",
            json!([format!("{uid}/rooms-changed"), false]),
        )
        .await;
    assert_eq!(r["msg"], "ready");
    sim.shutdown().await;
}

#[tokio::test]
async fn a_revoked_live_subscription_ends_with_nosub() {
    let sim = start().await;
    let (uid, token) = bot(&sim, "bot");
    let mut ws = Ws::logged_in(&sim, &token).await;
    ws.sub_my_messages().await;
    let n = sim.revoke_subscriptions(
        &uid,
        "stream-room-messages",
        "__my",
        MeteorError::named("not-allowed", None),
    );
    assert_eq!(n, 1);
    let v = ws.recv().await;
    assert_eq!(v["msg"], "nosub");
    assert_eq!(v["id"], "mm");
    assert_eq!(v["error"]["message"], "[not-allowed]");
    sim.post(&uid, "GENERAL", "after").unwrap();
    ws.expect_silence(Duration::from_millis(150)).await;
    sim.shutdown().await;
}

#[tokio::test]
async fn a_failing_method_answers_its_error_then_recovers() {
    let sim = start().await;
    let (_uid, token) = bot(&sim, "bot");
    sim.fail_method(
        "sendMessage",
        MeteorError::status(
            403,
            "You've been logged out by the server. Please log in again.",
        ),
        1,
    );
    let mut ws = Ws::logged_in(&sim, &token).await;
    let r = ws
        .call("sendMessage", json!([{"rid": "GENERAL", "msg": "x"}]))
        .await;
    assert_eq!(r["error"]["error"], 403);
    assert_eq!(
        r["error"]["reason"],
        "You've been logged out by the server. Please log in again."
    );
    let r = ws
        .call("sendMessage", json!([{"rid": "GENERAL", "msg": "y"}]))
        .await;
    assert_eq!(r["result"]["msg"], "y");
    sim.shutdown().await;
}

#[tokio::test]
async fn a_rest_fault_hits_one_path_n_times() {
    let sim = start().await;
    let (uid, token) = bot(&sim, "bot");
    let auth = Some((uid.as_str(), token.as_str()));
    sim.fail_endpoint("/api/v1/rooms.info", RestFault::Status(503), 2);
    for _ in 0..2 {
        let r = http(&sim, "GET", "/api/v1/rooms.info?roomId=GENERAL", auth, None).await;
        assert_eq!(r.status, 503);
        let r = http(&sim, "GET", "/api/v1/me", auth, None).await;
        assert_eq!(r.status, 200);
    }
    let r = http(&sim, "GET", "/api/v1/rooms.info?roomId=GENERAL", auth, None).await;
    assert_eq!(r.status, 200);
    sim.fail_endpoint("/api/v1/me", RestFault::Status(500), 1);
    let r = http(&sim, "GET", "/api/v1/me", auth, None).await;
    assert_eq!(
        r.body,
        json!({"success": false, "error": "Internal server error"})
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn huge_bodies_stalls_and_drops() {
    let sim = start().await;
    let (uid, token) = bot(&sim, "bot");
    let auth = Some((uid.as_str(), token.as_str()));
    sim.fail_endpoint("/api/v1/me", RestFault::HugeBody(1_000_000), 1);
    let r = http(&sim, "GET", "/api/v1/me", auth, None).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body.to_string().len(), 1_000_000);
    sim.fail_endpoint(
        "/api/v1/me",
        RestFault::Stall(Duration::from_millis(100)),
        1,
    );
    let r = http(&sim, "GET", "/api/v1/me", auth, None).await;
    assert_eq!(r.body["username"], "bot");
    sim.fail_endpoint("/api/v1/me", RestFault::Drop, 1);
    assert!(try_http(&sim, "GET", "/api/v1/me", auth, None, &[])
        .await
        .is_err());
    sim.clear_endpoint_faults();
    sim.shutdown().await;
}

#[tokio::test]
async fn multi_mib_messages_under_a_raised_limit() {
    let sim = start().await;
    let (uid, token) = bot(&sim, "bot");
    let alice = sim.create_user("alice", UserKind::Human).unwrap();
    let alice_token = sim.create_pat(&alice, "t").unwrap();
    let rid = sim
        .create_room(RoomKind::Public, "big", &alice, &[&uid])
        .unwrap();
    let mut ws = Ws::logged_in(&sim, &token).await;
    ws.sub_my_messages().await;
    let big = "x".repeat(3 * 1024 * 1024);
    let body = json!({"message": {"rid": rid, "msg": big}});
    let r = http(
        &sim,
        "POST",
        "/api/v1/chat.sendMessage",
        Some((&alice, &alice_token)),
        Some(body.clone()),
    )
    .await;
    assert_eq!(r.body["errorType"], "error-message-size-exceeded");
    sim.set_setting("Message_MaxAllowedSize", json!(4 * 1024 * 1024))
        .unwrap();
    let r = http(
        &sim,
        "POST",
        "/api/v1/chat.sendMessage",
        Some((&alice, &alice_token)),
        Some(body),
    )
    .await;
    assert_eq!(r.status, 200);
    let ev = ws.next_event("stream-room-messages").await;
    assert_eq!(
        ev["fields"]["args"][0]["msg"].as_str().unwrap().len(),
        big.len()
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn settings_and_permissions_controls() {
    let sim = start().await;
    assert_eq!(sim.setting("Message_MaxAllowedSize"), Some(json!(5000)));
    assert!(sim
        .set_setting("Accounts_Default_User_Preferences_masterVolume", json!(101))
        .is_err());
    assert!(sim.set_setting("No_Such_Setting", json!(1)).is_err());
    sim.set_permission("post-readonly", &["admin", "user"])
        .unwrap();
    assert!(sim
        .set_permission("post-readonly", &["no-such-role"])
        .is_err());
    assert!(sim
        .set_permission("no-such-permission", &["admin"])
        .is_err());
    sim.shutdown().await;
}

#[tokio::test]
async fn json_controls_for_faults_and_events() {
    let sim = start_with(SimConfig {
        control_http: true,
        ..SimConfig::default()
    })
    .await;
    let (uid, token) = bot(&sim, "bot");
    let control = |name: &str, body: serde_json::Value| {
        let sim = &sim;
        let name = name.to_owned();
        async move { http(sim, "POST", &format!("/_sim/{name}"), None, Some(body)).await }
    };
    let r = control(
        "failEndpoint",
        json!({"prefix": "/api/v1/me", "status": 502, "times": 1}),
    )
    .await;
    assert_eq!(r.body["ok"], true, "{}", r.body);
    assert_eq!(
        http(&sim, "GET", "/api/v1/me", Some((&uid, &token)), None)
            .await
            .status,
        502
    );
    let r = control(
        "refuseSubscription",
        json!({"stream": "stream-room-messages", "error": {"error": 403, "reason": "not-allowed"}}),
    )
    .await;
    assert_eq!(r.body["ok"], true);
    let mut ws = Ws::logged_in(&sim, &token).await;
    let r = ws
        .sub(
            "x",
            "stream-room-messages",
            json!(["__my_messages__", false]),
        )
        .await;
    assert_eq!(r["error"]["error"], 403);
    assert_eq!(
        control("clearSubscriptionRefusals", json!({})).await.body["ok"],
        true
    );
    let r = control("failMethod", json!({"method": "sendMessage", "error": {"error": "error-not-allowed", "reason": "Not allowed"}})).await;
    assert_eq!(r.body["ok"], true);
    let r = ws
        .call("sendMessage", json!([{"rid": "GENERAL", "msg": "x"}]))
        .await;
    assert_eq!(r["error"]["error"], "error-not-allowed");
    let r = control(
        "setSetting",
        json!({"id": "Message_AllowPinning", "value": false}),
    )
    .await;
    assert_eq!(r.body["ok"], true);
    assert_eq!(
        control("setting", json!({"id": "Message_AllowPinning"}))
            .await
            .body["value"],
        false
    );
    let r = control(
        "createGroupDm",
        json!({"creator": uid, "members": ["rocket.cat", sim.user_id("admin").unwrap()]}),
    )
    .await;
    assert!(r.body["roomId"].is_string(), "{}", r.body);
    let r = control(
        "createWebhook",
        json!({"userId": uid, "channel": "#general"}),
    )
    .await;
    let hook = r.body["id"].as_str().unwrap().to_owned();
    let r = control("postWebhook", json!({"id": hook, "body": {"text": "hi"}})).await;
    assert_eq!(r.body["messageIds"].as_array().unwrap().len(), 1);
    let r = control(
        "revokeSubscriptions",
        json!({"userId": uid, "stream": "stream-room-messages", "error": {"error": "not-allowed"}}),
    )
    .await;
    assert_eq!(r.body["revoked"], 0);
    let r = control("failEndpoint", json!({"prefix": "/api/v1/me"})).await;
    assert_eq!(r.body["ok"], false);
    sim.shutdown().await;
}
