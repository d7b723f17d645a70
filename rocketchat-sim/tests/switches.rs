//! SimConfig switches for [unconfirmed] points, and smaller behaviours.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::*;
use rocketchat_sim::{InvalidJsonReply, RoomKind, SimConfig, UserKind};
use serde_json::{json, Value};

#[tokio::test]
async fn invalid_json_reply_switch() {
    let sim = start_with(SimConfig {
        invalid_json_reply: InvalidJsonReply::BadRequest,
        ..SimConfig::default()
    })
    .await;
    let mut ws = Ws::open(&sim).await;
    ws.send_text("nope{").await;
    assert_eq!(
        ws.recv().await,
        json!({"msg": "error", "reason": "Bad request"})
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn not_allowed_message_switch() {
    for (bracketed, message) in [(true, "[not-allowed]"), (false, "not-allowed")] {
        let sim = start_with(SimConfig {
            not_allowed_message_bracketed: bracketed,
            ..SimConfig::default()
        })
        .await;
        let (_uid, token) = bot(&sim, "bot");
        let alice = sim.create_user("alice", UserKind::Human).unwrap();
        let mut ws = Ws::logged_in(&sim, &token).await;
        let r = ws
            .sub(
                "x",
                "stream-notify-user",
                json!([format!("{alice}/message"), false]),
            )
            .await;
        assert_eq!(
            r,
            json!({"msg": "nosub", "id": "x", "error": {"isClientSafe": true, "error": "not-allowed",
                "message": message, "errorType": "Meteor.Error"}})
        );
        sim.shutdown().await;
    }
}

#[tokio::test]
async fn loose_send_message_check_accepts_extra_keys() {
    let sim = start_with(SimConfig {
        strict_send_message_check: false,
        ..SimConfig::default()
    })
    .await;
    let (_uid, token) = bot(&sim, "bot");
    let mut ws = Ws::logged_in(&sim, &token).await;
    let r = ws
        .call(
            "sendMessage",
            json!([{"rid": "GENERAL", "msg": "x", "alias": "Robo"}]),
        )
        .await;
    assert_eq!(r["result"]["alias"], "Robo");
    sim.shutdown().await;
}

#[tokio::test]
async fn url_previews_switch_off_means_one_event() {
    let sim = start_with(SimConfig {
        url_previews: false,
        ..SimConfig::default()
    })
    .await;
    let (_uid, token) = bot(&sim, "bot");
    let alice = sim.create_user("alice", UserKind::Human).unwrap();
    let mut ws = Ws::logged_in(&sim, &token).await;
    ws.sub_my_messages().await;
    sim.post(&alice, "GENERAL", "https://example.com").unwrap();
    let ev = ws.next_event("stream-room-messages").await;
    assert_eq!(
        ev["fields"]["args"][0]["urls"],
        json!([{"url": "https://example.com"}])
    );
    ws.expect_silence(Duration::from_millis(200)).await;
    sim.shutdown().await;
}

#[tokio::test]
async fn real_name_switch_changes_the_typing_check() {
    let sim = start_with(SimConfig {
        use_real_name: true,
        ..SimConfig::default()
    })
    .await;
    let bot_id = sim
        .create_user_full(
            "bot",
            "Botty McBot",
            UserKind::Bot,
            vec!["bot".into(), "user".into()],
            Some("pw"),
        )
        .unwrap();
    let token = sim.create_pat(&bot_id, "t").unwrap();
    let (_w, wtoken) = bot(&sim, "watcher");
    let key = "GENERAL/user-activity";
    let mut me = Ws::logged_in(&sim, &token).await;
    let mut other = Ws::logged_in(&sim, &wtoken).await;
    assert_eq!(
        other
            .sub("t", "stream-notify-room", json!([key, false]))
            .await["msg"],
        "ready"
    );
    me.call(
        "stream-notify-room",
        json!([key, "bot", ["user-typing"], {}]),
    )
    .await;
    me.call(
        "stream-notify-room",
        json!([key, "Botty McBot", ["user-typing"], {}]),
    )
    .await;
    let ev = other.next_event("stream-notify-room").await;
    assert_eq!(ev["fields"]["args"][0], "Botty McBot");
    other.expect_silence(Duration::from_millis(200)).await;
    sim.shutdown().await;
}

#[tokio::test]
async fn deactivation_under_silent_revocation_emits_user_data() {
    let sim = start_with(SimConfig {
        silent_revocation: true,
        ..SimConfig::default()
    })
    .await;
    let (uid, token) = bot(&sim, "bot");
    let mut ws = Ws::logged_in(&sim, &token).await;
    assert_eq!(
        ws.sub(
            "u",
            "stream-notify-user",
            json!([format!("{uid}/userData"), false])
        )
        .await["msg"],
        "ready"
    );
    sim.deactivate_user(&uid).unwrap();
    let ev = ws.next_event("stream-notify-user").await;
    assert_eq!(
        ev["fields"]["args"][0]["diff"],
        json!({"services.resume.loginTokens": [], "active": false})
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn unsub_stops_delivery_and_rooms_changed_follows_messages() {
    let sim = start().await;
    let (uid, token) = bot(&sim, "bot");
    let alice = sim.create_user("alice", UserKind::Human).unwrap();
    let rid = sim
        .create_room(RoomKind::Public, "r", &alice, &[&uid])
        .unwrap();
    let mut ws = Ws::logged_in(&sim, &token).await;
    ws.sub_my_messages().await;
    assert_eq!(
        ws.sub(
            "rc",
            "stream-notify-user",
            json!([format!("{uid}/rooms-changed"), false])
        )
        .await["msg"],
        "ready"
    );
    ws.send(json!({"msg": "unsub", "id": "mm"})).await;
    assert_eq!(ws.recv().await, json!({"msg": "nosub", "id": "mm"}));
    let mid = sim.post(&alice, &rid, "x").unwrap();
    let ev = ws.recv().await;
    assert_eq!(ev["collection"], "stream-notify-user");
    assert_eq!(ev["fields"]["args"][0], "updated");
    assert_eq!(ev["fields"]["args"][1]["lastMessage"]["_id"], json!(mid));
    ws.expect_silence(Duration::from_millis(200)).await;
    sim.shutdown().await;
}

#[tokio::test]
async fn deleting_a_reply_decrements_the_root() {
    let sim = start().await;
    let (uid, _token) = bot(&sim, "bot");
    let root = sim.post(&uid, "GENERAL", "root").unwrap();
    let r1 = sim.post_reply(&uid, "GENERAL", &root, "a").unwrap();
    sim.post_reply(&uid, "GENERAL", &root, "b").unwrap();
    assert_eq!(sim.message(&root).unwrap()["tcount"], 2);
    sim.delete(&uid, &r1).unwrap();
    assert_eq!(sim.message(&root).unwrap()["tcount"], 1);
    sim.shutdown().await;
}

#[tokio::test]
async fn rest_refuses_system_messages_and_private_rooms_without_membership() {
    let sim = start().await;
    let (uid, token) = bot(&sim, "bot");
    let auth = Some((uid.as_str(), token.as_str()));
    let alice = sim.create_user("alice", UserKind::Human).unwrap();
    let secret = sim
        .create_room(RoomKind::Private, "secret", &alice, &[])
        .unwrap();
    let r = http(
        &sim,
        "POST",
        "/api/v1/chat.sendMessage",
        auth,
        Some(json!({"message": {"rid": "GENERAL", "msg": "x", "t": "uj"}})),
    )
    .await;
    assert_eq!(
        r.body,
        json!({"success": false, "error": "Cannot send system messages using 'chat.sendMessage'"})
    );
    let r = http(
        &sim,
        "POST",
        "/api/v1/chat.sendMessage",
        auth,
        Some(json!({"message": {"rid": secret, "msg": "x"}})),
    )
    .await;
    assert_eq!(
        r.body,
        json!({"success": false, "error": "error-not-allowed"})
    );
    let r = http(
        &sim,
        "POST",
        "/api/v1/chat.sendMessage",
        auth,
        Some(json!({"message": {"rid": "NOPE", "msg": "x"}})),
    )
    .await;
    assert_eq!(
        r.body,
        json!({"success": false, "error": "error-invalid-room"})
    );
    let stored: Vec<Value> = sim.messages(&secret);
    assert!(stored.is_empty());
    sim.shutdown().await;
}

#[tokio::test]
async fn two_factor_switch_and_pat_bypass() {
    let sim = start_with(SimConfig {
        two_factor_remember: Duration::ZERO,
        ..SimConfig::default()
    })
    .await;
    let alice = sim.create_user("alice", UserKind::Human).unwrap();
    let token = sim.create_pat(&alice, "base").unwrap();
    let auth = Some((alice.as_str(), token.as_str()));
    let r = http(
        &sim,
        "POST",
        "/api/v1/users.generatePersonalAccessToken",
        auth,
        Some(json!({"tokenName": "n"})),
    )
    .await;
    assert_eq!(r.body["errorType"], "totp-required");
    let r = http_h(
        &sim,
        "POST",
        "/api/v1/users.generatePersonalAccessToken",
        auth,
        Some(json!({"tokenName": "n"})),
        &[("x-2fa-method", "password"), ("x-2fa-code", "wrong")],
    )
    .await;
    assert_eq!(r.body["errorType"], "totp-invalid");
    sim.set_two_factor(false);
    let r = http(
        &sim,
        "POST",
        "/api/v1/users.generatePersonalAccessToken",
        auth,
        Some(json!({"tokenName": "n"})),
    )
    .await;
    assert_eq!(r.status, 200);
    let r = http(
        &sim,
        "POST",
        "/api/v1/users.generatePersonalAccessToken",
        auth,
        Some(json!({"tokenName": "n"})),
    )
    .await;
    assert_eq!(r.body["errorType"], "error-token-already-exists");
    let r = http(
        &sim,
        "POST",
        "/api/v1/users.generatePersonalAccessToken",
        auth,
        Some(json!({})),
    )
    .await;
    assert_eq!(
        r.body,
        json!({"success": false, "error": "The 'tokenName' param is required"})
    );
    // A bot-only user cannot mint PATs (create-personal-access-tokens is admin + user).
    let b = sim
        .create_user_full(
            "pure",
            "pure",
            UserKind::Bot,
            vec!["bot".into()],
            Some("pw"),
        )
        .unwrap();
    let bt = sim.create_pat(&b, "x").unwrap();
    let r = http(
        &sim,
        "POST",
        "/api/v1/users.generatePersonalAccessToken",
        Some((&b, &bt)),
        Some(json!({"tokenName": "y"})),
    )
    .await;
    assert_eq!(r.body["errorType"], "not-authorized");
    // Removing over REST closes nothing here but makes the token unusable.
    let r = http(
        &sim,
        "POST",
        "/api/v1/users.removePersonalAccessToken",
        auth,
        Some(json!({"tokenName": "base"})),
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(
        http(&sim, "GET", "/api/v1/me", auth, None).await.status,
        401
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn ddp_password_login_returns_a_real_expiry() {
    let sim = start().await;
    let uid = sim.create_user("alice", UserKind::Human).unwrap();
    let digest = {
        use sha2::Digest;
        sha2::Sha256::digest(b"alice")
            .iter()
            .map(|x| format!("{x:02x}"))
            .collect::<String>()
    };
    let mut ws = Ws::open(&sim).await;
    ws.connect().await;
    let r = ws
        .call("login", json!([{"user": {"username": "alice"}, "password": {"digest": digest, "algorithm": "sha-256"}}]))
        .await;
    assert_eq!(r["result"]["id"], json!(uid));
    assert_eq!(r["result"]["type"], "password");
    assert!(r["result"]["tokenExpires"]["$date"].is_i64());
    let r = ws
        .call("login", json!([{"user": {"username": "alice"}, "password": {"digest": "bad", "algorithm": "sha-256"}}]))
        .await;
    assert_eq!(r["error"]["error"], 403);
    sim.shutdown().await;
}

#[tokio::test]
async fn empty_event_name_is_invalid() {
    let sim = start().await;
    let (_uid, token) = bot(&sim, "bot");
    let mut ws = Ws::logged_in(&sim, &token).await;
    let r = ws
        .sub("e", "stream-room-messages", json!(["", false]))
        .await;
    assert_eq!(r["error"]["error"], "invalid-event-name");
    sim.shutdown().await;
}

#[tokio::test]
async fn load_missed_messages_without_access_is_false() {
    let sim = start().await;
    let alice = sim.create_user("alice", UserKind::Human).unwrap();
    let secret = sim
        .create_room(RoomKind::Private, "secret", &alice, &[])
        .unwrap();
    let (_uid, token) = bot(&sim, "bot");
    let mut ws = Ws::logged_in(&sim, &token).await;
    let r = ws
        .call("loadMissedMessages", json!([secret, {"$date": 0}]))
        .await;
    assert_eq!(r["result"], false);
    let r = ws.call("loadMissedMessages", json!([secret, 0])).await;
    assert_eq!(r["error"]["reason"], "Match failed");
    let mut anon = Ws::open(&sim).await;
    anon.connect().await;
    assert_eq!(
        anon.call("loadMissedMessages", json!(["GENERAL", {"$date": 0}]))
            .await["result"],
        false
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn duplicate_send_error_text_is_configurable() {
    let sim = start_with(SimConfig {
        duplicate_send_error: "TypeError: other".into(),
        ..SimConfig::default()
    })
    .await;
    let (uid, token) = bot(&sim, "bot");
    let body = json!({"message": {"_id": "dup-0000000001", "rid": "GENERAL", "msg": "x"}});
    http(
        &sim,
        "POST",
        "/api/v1/chat.sendMessage",
        Some((&uid, &token)),
        Some(body.clone()),
    )
    .await;
    let r = http(
        &sim,
        "POST",
        "/api/v1/chat.sendMessage",
        Some((&uid, &token)),
        Some(body),
    )
    .await;
    assert_eq!(
        r.body,
        json!({"success": false, "error": "TypeError: other"})
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn keep_history_hides_instead_of_removing() {
    let sim = start_with(SimConfig {
        keep_history: true,
        ..SimConfig::default()
    })
    .await;
    let (uid, token) = bot(&sim, "bot");
    let mid = sim.post(&uid, "GENERAL", "to hide").unwrap();
    let mut ws = Ws::logged_in(&sim, &token).await;
    ws.sub_my_messages().await;
    assert_eq!(
        ws.sub(
            "d",
            "stream-notify-room",
            json!(["GENERAL/deleteMessage", false])
        )
        .await["msg"],
        "ready"
    );
    sim.delete(&uid, &mid).unwrap();
    let ev = ws.recv().await;
    assert_eq!(ev["collection"], "stream-notify-room");
    ws.expect_silence(Duration::from_millis(200)).await;
    assert_eq!(sim.message(&mid).unwrap()["_hidden"], true);
    let r = http(
        &sim,
        "GET",
        &format!("/api/v1/chat.getMessage?msgId={mid}"),
        Some((&uid, &token)),
        None,
    )
    .await;
    assert_eq!(r.body, json!({"success": false}));
    let r = http(
        &sim,
        "GET",
        "/api/v1/chat.syncMessages?roomId=GENERAL&lastUpdate=2000-01-01T00:00:00.000Z",
        Some((&uid, &token)),
        None,
    )
    .await;
    assert_eq!(r.body["result"], json!({"updated": [], "deleted": []}));
    sim.shutdown().await;
}

#[tokio::test]
async fn desktop_notifications_for_mentions_and_dms_only() {
    let sim = start().await;
    let (uid, token) = bot(&sim, "bot");
    let alice = sim.create_user("alice", UserKind::Human).unwrap();
    let room = sim
        .create_room(RoomKind::Public, "r", &alice, &[&uid])
        .unwrap();
    let dm = sim.create_dm(&alice, &uid).unwrap();
    let mut ws = Ws::logged_in(&sim, &token).await;
    assert_eq!(
        ws.sub(
            "n",
            "stream-notify-user",
            json!([format!("{uid}/notification"), false])
        )
        .await["msg"],
        "ready"
    );
    sim.post(&alice, &room, "no mention").unwrap();
    let mid = sim.post(&alice, &room, "hey @bot").unwrap();
    let ev = ws.next_event("stream-notify-user").await;
    let n = &ev["fields"]["args"][0];
    assert_eq!(n["payload"]["_id"], json!(mid));
    assert_eq!(n["payload"]["sender"]["username"], "alice");
    assert_eq!(n["payload"]["type"], "c");
    sim.post(&alice, &dm, "direct").unwrap();
    let ev = ws.next_event("stream-notify-user").await;
    assert_eq!(
        ev["fields"]["args"][0]["payload"]["message"]["msg"],
        "direct"
    );
    // The sender is never notified of its own message.
    sim.post(&uid, &dm, "mine @bot").unwrap();
    ws.expect_silence(Duration::from_millis(200)).await;
    sim.shutdown().await;
}

#[tokio::test]
async fn set_reaction_errors_follow_execute_set_reaction() {
    let sim = start().await;
    let (_uid, token) = bot(&sim, "bot");
    let alice = sim.create_user("alice", UserKind::Human).unwrap();
    let secret = sim
        .create_room(RoomKind::Private, "secret", &alice, &[])
        .unwrap();
    let hidden = sim.post(&alice, &secret, "x").unwrap();
    let mut ws = Ws::logged_in(&sim, &token).await;
    let r = ws.call("setReaction", json!([":+1:", "nope"])).await;
    assert_eq!(r["error"]["error"], "error-not-allowed");
    assert_eq!(r["error"]["details"], json!({"method": "setReaction"}));
    let r = ws.call("setReaction", json!([":+1:", hidden])).await;
    assert_eq!(r["error"]["error"], "not-authorized");
    let r = ws.call("setReaction", json!([":no such:", hidden])).await;
    assert_eq!(r["error"]["reason"], "Invalid emoji provided.");
    sim.shutdown().await;
}

#[tokio::test]
async fn room_owners_may_edit_and_delete_others_messages() {
    let sim = start().await;
    let (uid, _token) = bot(&sim, "bot");
    let alice = sim.create_user("alice", UserKind::Human).unwrap();
    let carol = sim.create_user("carol", UserKind::Human).unwrap();
    let room = sim
        .create_room(RoomKind::Public, "owned", &uid, &[&alice, &carol])
        .unwrap();
    let m = sim.post(&alice, &room, "hers").unwrap();
    assert!(sim.edit(&carol, &m, "not yours").is_err());
    sim.edit(&uid, &m, "moderated").unwrap();
    assert_eq!(sim.message(&m).unwrap()["msg"], "moderated");
    assert!(sim.delete(&carol, &m).is_err());
    sim.delete(&uid, &m).unwrap();
    assert!(sim.message(&m).is_none());
    sim.shutdown().await;
}
