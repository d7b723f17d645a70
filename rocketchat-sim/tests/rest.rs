//! REST envelopes and message semantics, with a raw hyper client.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use rocketchat_sim::{RoomKind, SimConfig, UserKind};
use serde_json::{json, Value};

#[tokio::test]
async fn unauthenticated_calls_get_the_legacy_401() {
    let sim = start().await;
    let r = http(&sim, "GET", "/api/v1/me", None, None).await;
    assert_eq!(r.status, 401);
    assert_eq!(
        r.body,
        json!({"success": false, "error": "You must be logged in to do this.",
            "status": "error", "message": "You must be logged in to do this."})
    );
    let r = http(&sim, "GET", "/api/v1/me", Some(("x", "y")), None).await;
    assert_eq!(r.status, 401);
    assert_eq!(r.headers["content-type"], "application/json");
    assert_eq!(r.headers["cache-control"], "no-store");
    sim.shutdown().await;
}

#[tokio::test]
async fn me_and_info() {
    let sim = start().await;
    let (uid, token) = bot(&sim, "bot");
    let r = http(&sim, "GET", "/api/v1/me", Some((&uid, &token)), None).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["success"], true);
    assert_eq!(r.body["_id"], json!(uid));
    assert_eq!(r.body["username"], "bot");
    // REST dates are ISO strings.
    assert!(r.body["createdAt"].as_str().unwrap().ends_with('Z'));
    let r = http(&sim, "GET", "/api/info", None, None).await;
    assert_eq!(r.body["version"], "8.2");
    assert_eq!(r.body["success"], true);
    sim.shutdown().await;
}

#[tokio::test]
async fn send_message_with_client_id_is_idempotent_and_echoes() {
    let sim = start().await;
    let (uid, token) = bot(&sim, "bot");
    let mut ws = Ws::logged_in(&sim, &token).await;
    ws.sub_my_messages().await;
    let body = json!({"message": {"_id": "fixed-id-0001", "rid": "GENERAL", "msg": "hello"}});
    let r = http(
        &sim,
        "POST",
        "/api/v1/chat.sendMessage",
        Some((&uid, &token)),
        Some(body.clone()),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["message"]["_id"], "fixed-id-0001");
    assert!(r.body["message"]["ts"].as_str().unwrap().ends_with('Z'));
    // The sender gets its own message on the stream.
    let ev = ws.next_event("stream-room-messages").await;
    assert_eq!(ev["fields"]["args"][0]["_id"], "fixed-id-0001");
    assert_eq!(ev["fields"]["args"][0]["u"]["_id"], json!(uid));
    // A retry with the same _id: 400 TypeError body, nothing inserted.
    let r = http(
        &sim,
        "POST",
        "/api/v1/chat.sendMessage",
        Some((&uid, &token)),
        Some(body),
    )
    .await;
    assert_eq!(r.status, 400);
    assert_eq!(
        r.body,
        json!({"success": false, "error": "Cannot read properties of undefined (reading 'starred')"})
    );
    let stored: Vec<Value> = sim.messages("GENERAL");
    assert_eq!(
        stored
            .iter()
            .filter(|m| m["_id"] == "fixed-id-0001")
            .count(),
        1
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn send_message_validation() {
    let sim = start().await;
    let (uid, token) = bot(&sim, "bot");
    let auth = Some((uid.as_str(), token.as_str()));
    // Typed-route schema errors come before auth.
    let r = http(
        &sim,
        "POST",
        "/api/v1/chat.sendMessage",
        None,
        Some(json!({})),
    )
    .await;
    assert_eq!(r.status, 400);
    assert_eq!(r.body["errorType"], "error-invalid-params");
    let r = http(
        &sim,
        "POST",
        "/api/v1/chat.sendMessage",
        auth,
        Some(json!({"message": {"msg": "x"}})),
    )
    .await;
    assert_eq!(
        r.body,
        json!({"success": false, "error": "The 'rid' property on the message object is missing."})
    );
    // 5000 UTF-16 units is fine, 5001 is not (an emoji counts 2).
    let ok = format!("{}😀", "a".repeat(4998));
    let r = http(
        &sim,
        "POST",
        "/api/v1/chat.sendMessage",
        auth,
        Some(json!({"message": {"rid": "GENERAL", "msg": ok}})),
    )
    .await;
    assert_eq!(r.status, 200);
    let too_long = format!("{}😀", "a".repeat(4999));
    let r = http(
        &sim,
        "POST",
        "/api/v1/chat.sendMessage",
        auth,
        Some(json!({"message": {"rid": "GENERAL", "msg": too_long}})),
    )
    .await;
    assert_eq!(r.status, 400);
    assert_eq!(r.body["errorType"], "error-message-size-exceeded");
    assert_eq!(
        r.body["error"],
        "Message size exceeds Message_MaxAllowedSize [error-message-size-exceeded]"
    );
    let r = http(
        &sim,
        "POST",
        "/api/v1/chat.sendMessage",
        auth,
        Some(json!({"message": {"rid": "GENERAL", "msg": "x", "tshow": true}})),
    )
    .await;
    assert_eq!(r.body["errorType"], "invalid-params");
    sim.shutdown().await;
}

#[tokio::test]
async fn replies_go_to_the_parent_room_and_unknown_parents_are_kept() {
    let sim = start().await;
    let (uid, token) = bot(&sim, "bot");
    let alice = sim.create_user("alice", UserKind::Human).unwrap();
    let other = sim
        .create_room(RoomKind::Public, "other", &alice, &[&uid])
        .unwrap();
    let root = sim.post(&alice, &other, "root elsewhere").unwrap();
    let r = http(
        &sim,
        "POST",
        "/api/v1/chat.sendMessage",
        Some((&uid, &token)),
        Some(json!({"message": {"rid": "GENERAL", "msg": "reply", "tmid": root}})),
    )
    .await;
    assert_eq!(r.body["message"]["rid"], json!(other));
    let r = http(
        &sim,
        "POST",
        "/api/v1/chat.sendMessage",
        Some((&uid, &token)),
        Some(json!({"message": {"rid": "GENERAL", "msg": "orphan", "tmid": "no-such-root"}})),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["message"]["tmid"], "no-such-root");
    sim.shutdown().await;
}

#[tokio::test]
async fn threads_bump_root_and_flatten_nested_tmid() {
    let sim = start().await;
    let (uid, token) = bot(&sim, "bot");
    let alice = sim.create_user("alice", UserKind::Human).unwrap();
    let root = sim.post(&alice, "GENERAL", "root").unwrap();
    let mut ws = Ws::logged_in(&sim, &token).await;
    ws.sub_my_messages().await;
    let r1 = http(
        &sim,
        "POST",
        "/api/v1/chat.sendMessage",
        Some((&uid, &token)),
        Some(json!({"message": {"rid": "GENERAL", "msg": "reply", "tmid": root}})),
    )
    .await;
    let reply = r1.body["message"]["_id"].as_str().unwrap().to_owned();
    // Reply event, then the root re-broadcast with counters.
    let ev = ws.next_event("stream-room-messages").await;
    assert_eq!(ev["fields"]["args"][0]["_id"], json!(reply));
    let ev = ws.next_event("stream-room-messages").await;
    let root_doc = &ev["fields"]["args"][0];
    assert_eq!(root_doc["_id"], json!(root));
    assert_eq!(root_doc["tcount"], 1);
    assert_eq!(root_doc["replies"], json!([alice, uid]));
    assert!(root_doc["tlm"]["$date"].is_i64());
    // A reply to the reply lands on the root.
    let r2 = http(
        &sim,
        "POST",
        "/api/v1/chat.sendMessage",
        Some((&uid, &token)),
        Some(json!({"message": {"rid": "GENERAL", "msg": "nested", "tmid": reply}})),
    )
    .await;
    assert_eq!(r2.body["message"]["tmid"], json!(root));
    assert_eq!(sim.message(&root).unwrap()["tcount"], 2);
    sim.shutdown().await;
}

#[tokio::test]
async fn react_toggles_and_should_react_is_idempotent() {
    let sim = start().await;
    let (uid, token) = bot(&sim, "bot");
    let auth = Some((uid.as_str(), token.as_str()));
    let alice = sim.create_user("alice", UserKind::Human).unwrap();
    let mid = sim.post(&alice, "GENERAL", "hi").unwrap();
    let react = |body: Value| http(&sim, "POST", "/api/v1/chat.react", auth, Some(body));
    assert_eq!(
        react(json!({"emoji": "thumbsup", "messageId": mid}))
            .await
            .body,
        json!({"success": true})
    );
    assert_eq!(
        sim.message(&mid).unwrap()["reactions"],
        json!({":thumbsup:": {"usernames": ["bot"]}})
    );
    react(json!({"emoji": ":thumbsup:", "messageId": mid, "shouldReact": true})).await;
    assert_eq!(
        sim.message(&mid).unwrap()["reactions"],
        json!({":thumbsup:": {"usernames": ["bot"]}})
    );
    react(json!({"emoji": ":thumbsup:", "messageId": mid})).await;
    assert!(sim.message(&mid).unwrap().get("reactions").is_none());
    let r = react(json!({"emoji": "x", "messageId": "nope"})).await;
    assert_eq!(r.body["errorType"], "error-message-not-found");
    sim.shutdown().await;
}

#[tokio::test]
async fn update_identical_text_is_a_noop_and_edit_rebroadcasts() {
    let sim = start().await;
    let (uid, token) = bot(&sim, "bot");
    let auth = Some((uid.as_str(), token.as_str()));
    let mid = sim.post(&uid, "GENERAL", "v1").unwrap();
    let mut ws = Ws::logged_in(&sim, &token).await;
    ws.sub_my_messages().await;
    let r = http(
        &sim,
        "POST",
        "/api/v1/chat.update",
        auth,
        Some(json!({"roomId": "GENERAL", "msgId": mid, "text": "v1"})),
    )
    .await;
    assert_eq!(r.status, 200);
    let r = http(
        &sim,
        "POST",
        "/api/v1/chat.update",
        auth,
        Some(json!({"roomId": "GENERAL", "msgId": mid, "text": "v2"})),
    )
    .await;
    assert!(r.body["message"]["editedAt"].is_string());
    // Only the real edit is broadcast.
    let ev = ws.next_event("stream-room-messages").await;
    assert_eq!(ev["fields"]["args"][0]["msg"], "v2");
    assert_eq!(ev["fields"]["args"][0]["editedBy"]["username"], "bot");
    let alice = sim.create_user("alice", UserKind::Human).unwrap();
    let other = sim.post(&alice, "GENERAL", "hers").unwrap();
    let r = http(
        &sim,
        "POST",
        "/api/v1/chat.update",
        auth,
        Some(json!({"roomId": "GENERAL", "msgId": other, "text": "mine"})),
    )
    .await;
    assert_eq!(r.body["errorType"], "error-action-not-allowed");
    sim.shutdown().await;
}

#[tokio::test]
async fn delete_emits_only_delete_message_by_default() {
    let sim = start().await;
    let (uid, token) = bot(&sim, "bot");
    let auth = Some((uid.as_str(), token.as_str()));
    let mid = sim.post(&uid, "GENERAL", "bye").unwrap();
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
    let r = http(
        &sim,
        "POST",
        "/api/v1/chat.delete",
        auth,
        Some(json!({"roomId": "GENERAL", "msgId": mid})),
    )
    .await;
    assert_eq!(r.body["_id"], json!(mid));
    assert!(r.body["ts"].as_str().unwrap().parse::<i64>().is_ok());
    let ev = ws.recv().await;
    assert_eq!(ev["collection"], "stream-notify-room");
    assert_eq!(ev["fields"]["args"], json!([{"_id": mid}]));
    ws.expect_silence(std::time::Duration::from_millis(200))
        .await;
    assert!(sim.message(&mid).is_none());
    sim.shutdown().await;
}

#[tokio::test]
async fn delete_leaves_tombstone_with_show_deleted_status_or_for_thread_roots() {
    for show in [true, false] {
        let sim = start_with(SimConfig {
            show_deleted_status: show,
            ..SimConfig::default()
        })
        .await;
        let (uid, token) = bot(&sim, "bot");
        let mid = sim.post(&uid, "GENERAL", "root").unwrap();
        if !show {
            sim.post_reply(&uid, "GENERAL", &mid, "reply").unwrap();
        }
        let mut ws = Ws::logged_in(&sim, &token).await;
        ws.sub_my_messages().await;
        let r = http(
            &sim,
            "POST",
            "/api/v1/chat.delete",
            Some((&uid, &token)),
            Some(json!({"roomId": "GENERAL", "msgId": mid})),
        )
        .await;
        assert_eq!(r.status, 200);
        let ev = ws.next_event("stream-room-messages").await;
        let doc = &ev["fields"]["args"][0];
        assert_eq!(doc["_id"], json!(mid));
        assert_eq!(doc["t"], "rm");
        assert_eq!(doc["msg"], "");
        assert!(doc["editedAt"]["$date"].is_i64());
        sim.shutdown().await;
    }
}

#[tokio::test]
async fn mentions_all_here_users_and_channels() {
    let sim = start().await;
    let (uid, token) = bot(&sim, "bot");
    let alice = sim.create_user("alice", UserKind::Human).unwrap();
    let r = http(
        &sim,
        "POST",
        "/api/v1/chat.sendMessage",
        Some((&uid, &token)),
        Some(
            json!({"message": {"rid": "GENERAL", "msg": "@alice @ghost @all @here see #general"}}),
        ),
    )
    .await;
    let m = &r.body["message"];
    assert_eq!(
        m["mentions"],
        json!([{"_id": "all", "username": "all"}, {"_id": "here", "username": "here"},
            {"_id": alice, "username": "alice", "name": "alice", "type": "user"}])
    );
    assert_eq!(
        m["channels"],
        json!([{"_id": "GENERAL", "name": "general"}])
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn post_message_trims_sets_groupable_and_auto_joins() {
    let sim = start().await;
    let (uid, token) = bot(&sim, "bot");
    let r = http(
        &sim,
        "POST",
        "/api/v1/chat.postMessage",
        Some((&uid, &token)),
        Some(json!({"channel": "#general", "text": "  hi  "})),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body["ts"].is_i64());
    assert_eq!(r.body["channel"], "#general");
    assert_eq!(r.body["message"]["msg"], "hi");
    assert_eq!(r.body["message"]["groupable"], false);
    let msgs = sim.messages("GENERAL");
    assert_eq!(msgs[0]["t"], "uj");
    let r = http(
        &sim,
        "GET",
        "/api/v1/subscriptions.getOne?roomId=GENERAL",
        Some((&uid, &token)),
        None,
    )
    .await;
    assert_eq!(r.body["subscription"]["rid"], "GENERAL");
    let r = http(
        &sim,
        "POST",
        "/api/v1/chat.postMessage",
        Some((&uid, &token)),
        Some(json!({"channel": "#nope", "text": "x"})),
    )
    .await;
    assert_eq!(r.body["errorType"], "invalid-channel");
    sim.shutdown().await;
}

#[tokio::test]
async fn sync_messages_reports_updates_and_deletes() {
    let sim = start().await;
    let (uid, token) = bot(&sim, "bot");
    let keep = sim.post(&uid, "GENERAL", "keep").unwrap();
    let gone = sim.post(&uid, "GENERAL", "gone").unwrap();
    let r = http(
        &sim,
        "GET",
        "/api/v1/chat.getMessage?msgId=x",
        Some((&uid, &token)),
        None,
    )
    .await;
    assert_eq!(r.body, json!({"success": false}));
    let since = "2000-01-01T00:00:00.000Z";
    sim.delete(&uid, &gone).unwrap();
    let r = http(
        &sim,
        "GET",
        &format!("/api/v1/chat.syncMessages?roomId=GENERAL&lastUpdate={since}"),
        Some((&uid, &token)),
        None,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let updated = r.body["result"]["updated"].as_array().unwrap();
    assert_eq!(updated.len(), 1);
    assert_eq!(updated[0]["_id"], json!(keep));
    assert_eq!(r.body["result"]["deleted"][0]["_id"], json!(gone));
    assert!(r.body["result"]["deleted"][0]["_deletedAt"].is_string());
    let r = http(
        &sim,
        "GET",
        "/api/v1/chat.syncMessages?roomId=GENERAL",
        Some((&uid, &token)),
        None,
    )
    .await;
    assert_eq!(r.status, 400);
    assert_eq!(r.body["errorType"], "error-param-required");
    let r = http(
        &sim,
        "GET",
        "/api/v1/chat.syncMessages?roomId=GENERAL&lastUpdate=nope",
        Some((&uid, &token)),
        None,
    )
    .await;
    assert_eq!(r.body["errorType"], "error-lastUpdate-param-invalid");
    sim.shutdown().await;
}

#[tokio::test]
async fn rooms_and_users_lookups() {
    let sim = start().await;
    let (uid, token) = bot(&sim, "bot");
    let auth = Some((uid.as_str(), token.as_str()));
    let alice = sim.create_user("alice", UserKind::Human).unwrap();
    let secret = sim
        .create_room(RoomKind::Private, "secret", &alice, &[])
        .unwrap();
    let r = http(&sim, "GET", "/api/v1/rooms.info?roomId=GENERAL", auth, None).await;
    assert_eq!(r.body["room"]["t"], "c");
    assert_eq!(r.body["room"]["default"], true);
    let r = http(
        &sim,
        "GET",
        &format!("/api/v1/rooms.info?roomId={secret}"),
        auth,
        None,
    )
    .await;
    assert_eq!(r.status, 400);
    let r = http(
        &sim,
        "GET",
        "/api/v1/channels.info?roomName=general",
        auth,
        None,
    )
    .await;
    assert_eq!(r.body["channel"]["_id"], "GENERAL");
    let r = http(
        &sim,
        "GET",
        &format!("/api/v1/groups.info?roomId={secret}"),
        auth,
        None,
    )
    .await;
    assert_eq!(r.body["errorType"], "error-room-not-found");
    let r = http(
        &sim,
        "POST",
        "/api/v1/im.create",
        auth,
        Some(json!({"username": "alice"})),
    )
    .await;
    let mut ids = [uid.clone(), alice.clone()];
    ids.sort();
    assert_eq!(r.body["room"]["_id"], json!(ids.concat()));
    assert_eq!(r.body["room"]["t"], "d");
    let r = http(&sim, "GET", "/api/v1/users.info?username=alice", auth, None).await;
    assert_eq!(r.body["user"]["_id"], json!(alice));
    let r = http(&sim, "GET", "/api/v1/rooms.get", auth, None).await;
    assert_eq!(r.body["update"].as_array().unwrap().len(), 1);
    sim.shutdown().await;
}

#[tokio::test]
async fn provisioning_flow_with_2fa() {
    let sim = start_with(SimConfig {
        two_factor_remember: std::time::Duration::ZERO,
        ..SimConfig::default()
    })
    .await;
    let r = http(
        &sim,
        "POST",
        "/api/v1/login",
        None,
        Some(json!({"user": "admin", "password": "admin"})),
    )
    .await;
    assert_eq!(r.body["status"], "success");
    let admin = r.body["data"]["userId"].as_str().unwrap().to_owned();
    let admin_token = r.body["data"]["authToken"].as_str().unwrap().to_owned();
    let a = Some((admin.as_str(), admin_token.as_str()));
    let r = http(
        &sim,
        "POST",
        "/api/v1/users.create",
        a,
        Some(json!({"email": "b@x.y", "name": "B",
        "password": "pw", "username": "newbot", "roles": ["bot", "user"], "verified": true})),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = http(
        &sim,
        "POST",
        "/api/v1/login",
        None,
        Some(json!({"user": "newbot", "password": "pw"})),
    )
    .await;
    let bot = r.body["data"]["userId"].as_str().unwrap().to_owned();
    let bot_login = r.body["data"]["authToken"].as_str().unwrap().to_owned();
    let b = Some((bot.as_str(), bot_login.as_str()));
    let r = http(
        &sim,
        "POST",
        "/api/v1/users.generatePersonalAccessToken",
        b,
        Some(json!({"tokenName": "t"})),
    )
    .await;
    assert_eq!(r.status, 400);
    assert_eq!(r.body["errorType"], "totp-required");
    assert_eq!(
        r.body["details"],
        json!({"method": "password", "codeGenerated": false, "availableMethods": []})
    );
    let code = {
        use sha2::Digest;
        sha2::Sha256::digest(b"pw")
            .iter()
            .map(|x| format!("{x:02x}"))
            .collect::<String>()
    };
    let r = http_h(
        &sim,
        "POST",
        "/api/v1/users.generatePersonalAccessToken",
        b,
        Some(json!({"tokenName": "t"})),
        &[("x-2fa-method", "password"), ("x-2fa-code", &code)],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let pat = r.body["token"].as_str().unwrap().to_owned();
    assert_eq!(pat.len(), 43);
    let r = http(&sim, "GET", "/api/v1/me", Some((&bot, &pat)), None).await;
    assert_eq!(r.body["username"], "newbot");
    let r = http(
        &sim,
        "POST",
        "/api/v1/channels.create",
        Some((&bot, &pat)),
        Some(json!({"name": "botroom"})),
    )
    .await;
    let rid = r.body["channel"]["_id"].as_str().unwrap().to_owned();
    let r = http(
        &sim,
        "POST",
        "/api/v1/channels.invite",
        Some((&bot, &pat)),
        Some(json!({"roomId": rid, "userId": admin})),
    )
    .await;
    assert_eq!(r.body["channel"]["usersCount"], 2);
    sim.shutdown().await;
}

#[tokio::test]
async fn rest_rate_limit_429_with_absolute_reset() {
    let sim = start().await;
    let alice = sim.create_user("alice", UserKind::Human).unwrap();
    let token = sim.create_pat(&alice, "t").unwrap();
    sim.set_rest_rate_limit(
        Some(rocketchat_sim::RateRule {
            limit: 2,
            window: std::time::Duration::from_secs(60),
        }),
        false,
    );
    for left in ["1", "0"] {
        let r = http(&sim, "GET", "/api/v1/me", Some((&alice, &token)), None).await;
        assert_eq!(r.status, 200);
        assert_eq!(r.headers["x-ratelimit-remaining"], left);
    }
    let r = http(&sim, "GET", "/api/v1/me", Some((&alice, &token)), None).await;
    assert_eq!(r.status, 429);
    assert_eq!(r.headers["x-ratelimit-limit"], "2");
    let reset: i64 = r.headers["x-ratelimit-reset"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(reset > 1_600_000_000_000, "reset is absolute epoch ms");
    assert!(r.body["error"]
        .as_str()
        .unwrap()
        .ends_with("[error-too-many-requests]"));
    // Bots bypass the limiter (api-bypass-rate-limit).
    let (b, bt) = bot(&sim, "bot");
    for _ in 0..4 {
        assert_eq!(
            http(&sim, "GET", "/api/v1/me", Some((&b, &bt)), None)
                .await
                .status,
            200
        );
    }
    sim.shutdown().await;
}

#[tokio::test]
async fn post_message_to_a_user_uses_the_dm() {
    let sim = start().await;
    let (uid, token) = bot(&sim, "bot");
    let alice = sim.create_user("alice", UserKind::Human).unwrap();
    let r = http(
        &sim,
        "POST",
        "/api/v1/chat.postMessage",
        Some((&uid, &token)),
        Some(json!({"channel": "@alice", "text": "psst"})),
    )
    .await;
    let mut ids = [uid.clone(), alice.clone()];
    ids.sort();
    assert_eq!(r.body["message"]["rid"], json!(ids.concat()));
    assert_eq!(r.body["channel"], "@alice");
    sim.shutdown().await;
}

#[tokio::test]
async fn sync_messages_cursor_mode_pages_by_updated_at() {
    let sim = start().await;
    let (uid, token) = bot(&sim, "bot");
    // Cursors are millisecond timestamps: messages sharing one ms would be skipped (as on a
    // real server), so space the posts out.
    let mut ids: Vec<String> = Vec::new();
    for i in 0..5 {
        ids.push(sim.post(&uid, "GENERAL", &format!("m{i}")).unwrap());
        tokio::time::sleep(std::time::Duration::from_millis(3)).await;
    }
    let get = |q: String| {
        let path = format!("/api/v1/chat.syncMessages?roomId=GENERAL&{q}");
        let sim = sim.clone();
        let (uid, token) = (uid.clone(), token.clone());
        async move { http(&sim, "GET", &path, Some((&uid, &token)), None).await }
    };
    let r = get("type=UPDATED&next=0&count=2".into()).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let page: Vec<Value> = r.body["result"]["updated"].as_array().unwrap().clone();
    assert_eq!(page.len(), 2);
    assert_eq!(page[0]["_id"], json!(ids[0]));
    assert_eq!(page[1]["_id"], json!(ids[1]));
    let next = r.body["result"]["cursor"]["next"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut seen: Vec<Value> = page;
    let mut cursor = Some(next);
    while let Some(c) = cursor {
        let r = get(format!("type=UPDATED&next={c}&count=2")).await;
        seen.extend(
            r.body["result"]["updated"]
                .as_array()
                .unwrap()
                .iter()
                .cloned(),
        );
        cursor = r.body["result"]["cursor"]["next"]
            .as_str()
            .map(str::to_owned);
    }
    let seen_ids: Vec<&str> = seen.iter().map(|m| m["_id"].as_str().unwrap()).collect();
    assert_eq!(seen_ids, ids.iter().map(String::as_str).collect::<Vec<_>>());
    sim.delete(&uid, &ids[0]).unwrap();
    let r = get("type=DELETED&next=0&count=10".into()).await;
    assert_eq!(r.body["result"]["deleted"][0]["_id"], json!(ids[0]));
    assert!(r.body["result"]["cursor"]["next"].is_null());
    // validateParams checks the type enum first (chat.ts isChatSyncMessagesProps).
    let r = get("type=BOGUS&next=0".into()).await;
    assert_eq!(r.body["errorType"], "invalid-params");
    assert!(r.body["error"]
        .as_str()
        .unwrap()
        .contains("must be equal to one of the allowed values"));
    let r = get("type=UPDATED&next=0&previous=1".into()).await;
    assert_eq!(r.body["errorType"], "error-cursor-conflict");
    sim.shutdown().await;
}

/// `POST /api/v1/login` with a password: `(userId, authToken)` or the HTTP status.
async fn password_login(
    sim: &rocketchat_sim::SimHandle,
    user: &str,
    password: &str,
) -> Result<(String, String), u16> {
    let r = http(
        sim,
        "POST",
        "/api/v1/login",
        None,
        Some(json!({"user": user, "password": password})),
    )
    .await;
    if r.status != 200 {
        return Err(r.status);
    }
    Ok((
        r.body["data"]["userId"].as_str().unwrap().to_owned(),
        r.body["data"]["authToken"].as_str().unwrap().to_owned(),
    ))
}

fn sha256_hex(text: &str) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(text.as_bytes())
        .iter()
        .map(|x| format!("{x:02x}"))
        .collect()
}

// users.update as rc-provision uses it (saveUser.ts / setPasswordUpdater.ts): the admin sets
// another user's password, with the 2FA password code (`twoFactorRequired`); the new password
// logs in, the old one does not, and every login token and PAT of the user is gone (its
// sockets close). Without `edit-other-user-password` the call succeeds but sets nothing.
#[tokio::test]
async fn users_update_sets_a_password_and_revokes_every_token() {
    let sim = start_with(SimConfig {
        two_factor_remember: std::time::Duration::ZERO,
        ..SimConfig::default()
    })
    .await;
    let (admin_id, admin_token) = password_login(&sim, "admin", "admin").await.unwrap();
    let a = Some((admin_id.as_str(), admin_token.as_str()));
    let admin_code = sha256_hex("admin");
    let admin_2fa = [
        ("x-2fa-method", "password"),
        ("x-2fa-code", admin_code.as_str()),
    ];
    let r = http(
        &sim,
        "POST",
        "/api/v1/users.create",
        a,
        Some(
            json!({"email": "reset-me@x.invalid", "name": "R", "password": "Old-pass-1",
            "username": "reset-me", "roles": ["user"], "verified": true}),
        ),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let uid = r.body["user"]["_id"].as_str().unwrap().to_owned();

    // The user's login token, a PAT, and a DDP session on the PAT.
    let (_, login_token) = password_login(&sim, "reset-me", "Old-pass-1")
        .await
        .unwrap();
    let old_code = sha256_hex("Old-pass-1");
    let r = http_h(
        &sim,
        "POST",
        "/api/v1/users.generatePersonalAccessToken",
        Some((&uid, &login_token)),
        Some(json!({"tokenName": "t", "bypassTwoFactor": true})),
        &[("x-2fa-method", "password"), ("x-2fa-code", &old_code)],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let pat = r.body["token"].as_str().unwrap().to_owned();
    let mut ws = Ws::logged_in(&sim, &pat).await;

    let body = json!({"userId": uid, "data": {"password": "New-pass-2"}});
    // twoFactorRequired: no code, a wrong code.
    let r = http(&sim, "POST", "/api/v1/users.update", a, Some(body.clone())).await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(r.body["errorType"], "totp-required");
    let r = http_h(
        &sim,
        "POST",
        "/api/v1/users.update",
        a,
        Some(body.clone()),
        &[("x-2fa-method", "password"), ("x-2fa-code", &old_code)],
    )
    .await;
    assert_eq!(r.body["errorType"], "totp-invalid", "{}", r.body);
    assert_eq!(
        password_login(&sim, "reset-me", "Old-pass-1")
            .await
            .map(|_| ()),
        Ok(())
    );

    let r = http_h(
        &sim,
        "POST",
        "/api/v1/users.update",
        a,
        Some(body),
        &admin_2fa,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["success"], true);
    assert_eq!(r.body["user"]["_id"], json!(uid));
    assert!(r.body["user"].get("services").is_none(), "{}", r.body);
    assert!(!r.body.to_string().contains("New-pass-2"));

    assert_eq!(
        password_login(&sim, "reset-me", "Old-pass-1").await,
        Err(401)
    );
    let (_, new_token) = password_login(&sim, "reset-me", "New-pass-2")
        .await
        .unwrap();
    for token in [&login_token, &pat] {
        let r = http(&sim, "GET", "/api/v1/me", Some((&uid, token)), None).await;
        assert_eq!(r.status, 401, "an old token still works: {}", r.body);
    }
    ws.expect_closed().await;
    let r = http(&sim, "GET", "/api/v1/me", Some((&uid, &new_token)), None).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = http(
        &sim,
        "GET",
        "/api/v1/users.getPersonalAccessTokens",
        Some((&uid, &new_token)),
        None,
    )
    .await;
    assert_eq!(
        r.body["tokens"],
        json!([]),
        "the PAT went with the password"
    );

    // Without edit-other-user-password the call succeeds and the password stays.
    let r = http(
        &sim,
        "POST",
        "/api/v1/permissions.update",
        a,
        Some(json!({"permissions": [{"_id": "edit-other-user-password", "roles": []}]})),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = http_h(
        &sim,
        "POST",
        "/api/v1/users.update",
        a,
        Some(json!({"userId": uid, "data": {"password": "Third-pass-3"}})),
        &admin_2fa,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        password_login(&sim, "reset-me", "Third-pass-3").await,
        Err(401)
    );
    assert!(password_login(&sim, "reset-me", "New-pass-2").await.is_ok());

    // An ordinary user may not edit another user at all.
    let (_, other_login) = {
        let r = http(
            &sim,
            "POST",
            "/api/v1/users.create",
            a,
            Some(
                json!({"email": "plain@x.invalid", "name": "P", "password": "Plain-pass-1",
                "username": "plain", "verified": true}),
            ),
        )
        .await;
        assert_eq!(r.status, 200, "{}", r.body);
        password_login(&sim, "plain", "Plain-pass-1").await.unwrap()
    };
    let plain_id = sim.user_id("plain").unwrap();
    let plain_code = sha256_hex("Plain-pass-1");
    let r = http_h(
        &sim,
        "POST",
        "/api/v1/users.update",
        Some((&plain_id, &other_login)),
        Some(json!({"userId": uid, "data": {"password": "Hijack-pass-4"}})),
        &[("x-2fa-method", "password"), ("x-2fa-code", &plain_code)],
    )
    .await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(
        r.body["error"],
        "Editing user is not allowed [error-action-not-allowed]"
    );
    assert!(password_login(&sim, "reset-me", "New-pass-2").await.is_ok());

    // An unknown user id.
    let r = http_h(
        &sim,
        "POST",
        "/api/v1/users.update",
        a,
        Some(json!({"userId": "no-such-user", "data": {"name": "x"}})),
        &admin_2fa,
    )
    .await;
    assert_eq!(
        r.body["error"], "Invalid user [error-invalid-user]",
        "{}",
        r.body
    );
    sim.shutdown().await;
}
