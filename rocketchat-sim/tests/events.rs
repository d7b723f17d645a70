//! Room events, bots and per-message frames at the frame level: system messages with their
//! real `t` (uj, ul, au, ru, r, room_changed_topic, message_pinned), what kicks and deletions
//! do to the streams, group DMs, webhook and app messages, and exactly which user-stream
//! frames follow a message (notifyUsersOnMessage.ts).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::*;
use rocketchat_sim::{RoomKind, UserKind};
use serde_json::{json, Value};

const QUIET: Duration = Duration::from_millis(150);

fn doc(ev: &Value) -> Value {
    ev["fields"]["args"][0].clone()
}

async fn next(ws: &mut Ws) -> Value {
    doc(&ws.next_event("stream-room-messages").await)
}

async fn sub_user(ws: &mut Ws, uid: &str, event: &str) {
    let r = ws
        .sub(
            &format!("u-{event}"),
            "stream-notify-user",
            json!([format!("{uid}/{event}"), false]),
        )
        .await;
    assert_eq!(r["msg"], "ready", "{r}");
}

#[tokio::test]
async fn room_events_are_system_messages_with_their_types() {
    let sim = start().await;
    let (bot, token) = bot(&sim, "bot");
    let alice = human(&sim, "alice");
    let carol = human(&sim, "carol");
    let rid = sim
        .create_room(RoomKind::Public, "events", &alice.uid, &[&bot])
        .unwrap();
    let mut ws = Ws::logged_in(&sim, &token).await;
    ws.sub_my_messages().await;
    assert_ok(&carol.post("channels.join", json!({"roomId": rid})).await);
    let m = next(&mut ws).await;
    assert_eq!(
        (
            m["t"].as_str(),
            m["msg"].as_str(),
            m["u"]["username"].as_str()
        ),
        (Some("uj"), Some("carol"), Some("carol"))
    );
    assert_ok(&carol.post("channels.leave", json!({"roomId": rid})).await);
    let m = next(&mut ws).await;
    assert_eq!(
        (m["t"].as_str(), m["msg"].as_str()),
        (Some("ul"), Some("carol"))
    );
    assert_ok(
        &alice
            .post(
                "channels.invite",
                json!({"roomId": rid, "userId": carol.uid}),
            )
            .await,
    );
    let m = next(&mut ws).await;
    assert_eq!(
        (
            m["t"].as_str(),
            m["msg"].as_str(),
            m["u"]["username"].as_str()
        ),
        (Some("au"), Some("carol"), Some("alice"))
    );
    assert_ok(
        &alice
            .post("channels.kick", json!({"roomId": rid, "userId": carol.uid}))
            .await,
    );
    let m = next(&mut ws).await;
    assert_eq!(
        (
            m["t"].as_str(),
            m["msg"].as_str(),
            m["u"]["username"].as_str()
        ),
        (Some("ru"), Some("carol"), Some("alice"))
    );
    assert_ok(
        &alice
            .post("channels.rename", json!({"roomId": rid, "name": "renamed"}))
            .await,
    );
    let m = next(&mut ws).await;
    assert_eq!(
        (m["t"].as_str(), m["msg"].as_str()),
        (Some("r"), Some("renamed"))
    );
    assert_ok(
        &alice
            .post(
                "channels.setTopic",
                json!({"roomId": rid, "topic": "new topic"}),
            )
            .await,
    );
    let m = next(&mut ws).await;
    assert_eq!(
        (m["t"].as_str(), m["msg"].as_str()),
        (Some("room_changed_topic"), Some("new topic"))
    );
    let mid = sim.post(&alice.uid, &rid, "pin me").unwrap();
    assert_eq!(next(&mut ws).await["_id"], json!(mid));
    assert_ok(
        &alice
            .post("chat.pinMessage", json!({"messageId": mid}))
            .await,
    );
    let m = next(&mut ws).await;
    assert_eq!(m["t"], "message_pinned");
    assert_eq!(m["attachments"][0]["text"], "pin me");
    // System messages count in msgs but leave lastMessage alone.
    let room = alice.get(&format!("rooms.info?roomId={rid}")).await.body["room"].clone();
    assert_eq!(room["lastMessage"]["_id"], json!(mid));
    assert_eq!(room["msgs"], 8);
    sim.shutdown().await;
}

#[tokio::test]
async fn controls_cause_the_same_system_messages() {
    let sim = start().await;
    let (bot, token) = bot(&sim, "bot");
    let alice = sim.create_user("alice", UserKind::Human).unwrap();
    let carol = sim.create_user("carol", UserKind::Human).unwrap();
    let rid = sim
        .create_room(RoomKind::Public, "ctl", &alice, &[&bot])
        .unwrap();
    let mut ws = Ws::logged_in(&sim, &token).await;
    ws.sub_my_messages().await;
    sim.join_room(&rid, &carol).unwrap();
    sim.leave_room(&rid, &carol).unwrap();
    sim.invite(&rid, &alice, &carol).unwrap();
    sim.kick(&rid, &alice, &carol).unwrap();
    sim.rename_room(&rid, &alice, "ctl2").unwrap();
    sim.set_topic(&rid, &alice, "t").unwrap();
    let mut types = Vec::new();
    for _ in 0..6 {
        types.push(
            doc(&ws.next_event("stream-room-messages").await)["t"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    assert_eq!(types, ["uj", "ul", "au", "ru", "r", "room_changed_topic"]);
    sim.shutdown().await;
}

#[tokio::test]
async fn a_kicked_user_loses_the_subscription_and_the_room_stream() {
    let sim = start().await;
    let (bot, token) = bot(&sim, "bot");
    let alice = human(&sim, "alice");
    let rid = sim
        .create_room(RoomKind::Private, "secret", &alice.uid, &[&bot])
        .unwrap();
    let mut ws = Ws::logged_in(&sim, &token).await;
    sub_user(&mut ws, &bot, "subscriptions-changed").await;
    let r = ws
        .sub("room", "stream-room-messages", json!([rid, false]))
        .await;
    assert_eq!(r["msg"], "ready");
    assert_ok(
        &alice
            .post("groups.kick", json!({"roomId": rid, "userId": bot}))
            .await,
    );
    // The ru message is saved before the subscription goes.
    let ev = ws.next_event("stream-room-messages").await;
    assert_eq!(doc(&ev)["t"], "ru");
    let ev = ws.next_event("stream-notify-user").await;
    assert_eq!(ev["fields"]["args"][0], "removed");
    assert_eq!(ev["fields"]["args"][1]["rid"], json!(rid));
    sim.post(&alice.uid, &rid, "after the kick").unwrap();
    ws.expect_silence(QUIET).await;
    sim.shutdown().await;
}

#[tokio::test]
async fn deleting_a_room_removes_every_subscription_silently() {
    let sim = start().await;
    let (bot, token) = bot(&sim, "bot");
    let alice = human(&sim, "alice");
    let rid = sim
        .create_room(RoomKind::Public, "doomed", &alice.uid, &[&bot])
        .unwrap();
    let mut ws = Ws::logged_in(&sim, &token).await;
    sub_user(&mut ws, &bot, "subscriptions-changed").await;
    let r = ws
        .sub("room", "stream-room-messages", json!([rid, false]))
        .await;
    assert_eq!(r["msg"], "ready");
    assert_ok(&alice.post("channels.delete", json!({"roomId": rid})).await);
    let ev = ws.next_event("stream-notify-user").await;
    assert_eq!(ev["fields"]["args"][0], "removed");
    ws.expect_silence(QUIET).await;
    assert!(sim.messages(&rid).is_empty());
    let r = alice.get(&format!("rooms.info?roomId={rid}")).await;
    assert_400(&r);
    sim.shutdown().await;
}

#[tokio::test]
async fn group_dms_are_d_rooms_with_every_member() {
    let sim = start().await;
    let (bot, token) = bot(&sim, "bot");
    let alice = human(&sim, "alice");
    human(&sim, "carol");
    let mut ws = Ws::logged_in(&sim, &token).await;
    ws.sub_my_messages().await;
    sub_user(&mut ws, &bot, "subscriptions-changed").await;
    let r = alice
        .post("im.create", json!({"usernames": "bot,carol"}))
        .await;
    assert_ok(&r);
    let rid = r.body["room"]["rid"].as_str().unwrap().to_owned();
    // A random id, not the concatenation of two ids.
    assert_eq!(rid.len(), 17);
    let ev = ws.next_event("stream-notify-user").await;
    assert_eq!(ev["fields"]["args"][0], "inserted");
    let sub = &ev["fields"]["args"][1];
    assert_eq!(sub["t"], "d");
    assert_eq!(sub["name"], "alice, carol");
    let room = alice.get(&format!("rooms.info?roomId={rid}")).await.body["room"].clone();
    assert_eq!(room["uids"].as_array().unwrap().len(), 3);
    assert_eq!(room["usernames"], json!(["alice", "bot", "carol"]));
    // Same members again: the same room.
    let again = alice
        .post("im.create", json!({"usernames": "carol,bot"}))
        .await;
    assert_eq!(again.body["room"]["rid"], json!(rid));
    sim.post(&alice.uid, &rid, "hi all").unwrap();
    let ev = ws.next_event("stream-room-messages").await;
    assert_eq!(ev["fields"]["args"][0]["msg"], "hi all");
    assert_eq!(ev["fields"]["args"][1]["roomType"], "d");
    sim.shutdown().await;
}

#[tokio::test]
async fn ddp_create_direct_message_makes_group_dms() {
    let sim = start().await;
    let (_bot, token) = bot(&sim, "bot");
    human(&sim, "alice");
    human(&sim, "carol");
    let mut ws = Ws::logged_in(&sim, &token).await;
    let r = ws
        .call("createDirectMessage", json!(["alice", "carol"]))
        .await;
    let result = &r["result"];
    assert_eq!(result["t"], "d");
    assert_eq!(result["usernames"], json!(["alice", "bot", "carol"]));
    assert!(result["rid"].is_string());
    let r = ws.call("createDirectMessage", json!(["nobody"])).await;
    assert_eq!(r["error"]["error"], "error-invalid-user");
    let r = ws.call("createDirectMessage", json!([12])).await;
    assert_eq!(r["error"]["error"], 400);
    sim.shutdown().await;
}

#[tokio::test]
async fn webhook_messages_carry_the_integration_id() {
    let sim = start().await;
    let (bot, token) = bot(&sim, "bot");
    let hook_user = sim.create_user("hook.bot", UserKind::Bot).unwrap();
    let alice = sim.create_user("alice", UserKind::Human).unwrap();
    let rid = sim
        .create_room(RoomKind::Public, "alerts", &alice, &[&bot])
        .unwrap();
    let hook = sim
        .create_incoming_webhook("ci", &hook_user, "#alerts")
        .unwrap();
    let mut ws = Ws::logged_in(&sim, &token).await;
    ws.sub_my_messages().await;
    let r = http(
        &sim,
        "POST",
        &hook.path,
        None,
        Some(json!({"text": "build green", "alias": "CI"})),
    )
    .await;
    assert_ok(&r);
    // The integration's user joined the public room first (uj), then posted.
    let mut msg = doc(&ws.next_event("stream-room-messages").await);
    if msg["t"] == "uj" {
        msg = doc(&ws.next_event("stream-room-messages").await);
    }
    assert_eq!(msg["msg"], "build green");
    assert_eq!(msg["bot"], json!({"i": hook.id}));
    assert_eq!(msg["u"]["username"], "hook.bot");
    assert_eq!(msg["alias"], "CI");
    assert_eq!(msg["groupable"], false);
    assert_eq!(msg["rid"], json!(rid));
    // Empty body: success, nothing posted; another channel without override: refused; bad token.
    assert_ok(&http(&sim, "POST", &hook.path, None, Some(json!({}))).await);
    let r = http(
        &sim,
        "POST",
        &hook.path,
        None,
        Some(json!({"text": "x", "channel": "#general"})),
    )
    .await;
    assert_eq!(
        r.body["error"],
        "overriding destination channel is disabled for this integration"
    );
    let r = http(
        &sim,
        "POST",
        &format!("/hooks/{}/wrong", hook.id),
        None,
        Some(json!({"text": "x"})),
    )
    .await;
    assert_eq!(r.status, 404);
    let ids = sim
        .post_webhook(&hook.id, json!({"text": "from the control"}))
        .unwrap();
    assert_eq!(sim.message(&ids[0]).unwrap()["bot"], json!({"i": hook.id}));
    sim.shutdown().await;
}

#[tokio::test]
async fn app_users_post_as_themselves_anywhere() {
    let sim = start().await;
    let (bot, token) = bot(&sim, "bot");
    let alice = human(&sim, "alice");
    let rid = sim
        .create_room(RoomKind::Private, "app-room", &alice.uid, &[&bot])
        .unwrap();
    let app = sim.create_app_user("poll.bot", "Poll").unwrap();
    let mut ws = Ws::logged_in(&sim, &token).await;
    ws.sub_my_messages().await;
    // Not a member: apps skip canSendMessage's access check.
    sim.post(&app, &rid, "vote now").unwrap();
    let msg = doc(&ws.next_event("stream-room-messages").await);
    assert_eq!(
        msg["u"],
        json!({"_id": app, "username": "poll.bot", "name": "Poll"})
    );
    assert!(msg.get("bot").is_none());
    let info = alice.get(&format!("users.info?userId={app}")).await;
    assert_eq!(info.body["user"]["type"], "app");
    // getFullUserData: roles are a full field, withheld from a plain user.
    assert!(info.body["user"].get("roles").is_none());
    assert!(info.body["user"]["appId"].is_string());
    let info = admin(&sim).get(&format!("users.info?userId={app}")).await;
    assert_eq!(info.body["user"]["roles"], json!(["app"]));
    sim.shutdown().await;
}

#[tokio::test]
async fn users_created_with_the_bot_role_are_bots() {
    let sim = start().await;
    let admin = admin(&sim);
    let r = admin
        .post(
            "users.create",
            json!({"email": "b@x.y", "name": "B", "username": "b.bot", "password": "p",
            "roles": ["bot"], "joinDefaultChannels": false}),
        )
        .await;
    assert_ok(&r);
    assert_eq!(r.body["user"]["type"], "bot");
    assert_eq!(r.body["user"]["roles"], json!(["bot"]));
    sim.shutdown().await;
}

// getFullUserData.ts: `type` is a default field (every caller sees a bot account as such),
// `roles` a full field (only oneself and holders of `view-full-other-user-info`).
#[tokio::test]
async fn users_info_shows_a_bot_by_type_to_anyone_and_by_role_to_the_privileged() {
    let sim = start().await;
    let (_me, my_token) = bot(&sim, "me.bot");
    let me = Api {
        sim: &sim,
        uid: _me.clone(),
        token: my_token,
    };
    let (other, _) = bot(&sim, "other.bot");
    let alice = human(&sim, "alice");
    let r = me.get(&format!("users.info?userId={other}")).await;
    assert_ok(&r);
    assert_eq!(r.body["user"]["type"], "bot");
    assert!(r.body["user"].get("roles").is_none(), "{}", r.body);
    assert!(r.body["user"].get("emails").is_none(), "{}", r.body);
    assert_eq!(r.body["user"]["canViewAllInfo"], false);
    let r = me.get(&format!("users.info?userId={}", alice.uid)).await;
    assert_eq!(r.body["user"]["type"], "user");
    let r = admin(&sim).get(&format!("users.info?userId={other}")).await;
    assert_eq!(r.body["user"]["roles"], json!(["bot", "user"]));
    assert!(r.body["user"].get("services").is_none(), "{}", r.body);
    let r = me.get(&format!("users.info?userId={_me}")).await;
    assert_eq!(r.body["user"]["roles"], json!(["bot", "user"]));
    assert!(r.body["user"]["services"].is_object());
    sim.shutdown().await;
}

// A message's own `bot` field (the JS SDK's `{ i: 'js.SDK' }`, Rocket.Chat's methods.ts test
// "should accept message sent by js.SDK") is stored and streamed as sent, over DDP and REST.
#[tokio::test]
async fn a_bot_field_on_a_sent_message_is_kept() {
    let sim = start().await;
    let (bot, token) = bot(&sim, "bot");
    let alice = human(&sim, "alice");
    let rid = sim
        .create_room(RoomKind::Public, "sdk", &alice.uid, &[&bot])
        .unwrap();
    let mut ws = Ws::logged_in(&sim, &token).await;
    ws.sub_my_messages().await;
    let r = alice
        .post(
            "chat.sendMessage",
            json!({"message": {"rid": rid, "msg": "rest", "bot": {"i": "js.SDK"}}}),
        )
        .await;
    assert_ok(&r);
    assert_eq!(r.body["message"]["bot"], json!({"i": "js.SDK"}));
    let m = next(&mut ws).await;
    assert_eq!(
        (m["msg"].as_str(), &m["bot"]),
        (Some("rest"), &json!({"i": "js.SDK"}))
    );
    let id = m["_id"].as_str().unwrap().to_owned();
    assert_eq!(sim.message(&id).unwrap()["bot"], json!({"i": "js.SDK"}));

    let mut alice_ws = Ws::logged_in(&sim, &alice.token).await;
    let r = alice_ws
        .call(
            "sendMessage",
            json!([{"rid": rid, "msg": "ddp", "bot": {"i": "js.SDK"}}]),
        )
        .await;
    assert!(r.get("error").is_none(), "{r}");
    let m = next(&mut ws).await;
    assert_eq!(
        (m["msg"].as_str(), &m["bot"]),
        (Some("ddp"), &json!({"i": "js.SDK"}))
    );
    let id = m["_id"].as_str().unwrap().to_owned();
    assert_eq!(sim.message(&id).unwrap()["bot"], json!({"i": "js.SDK"}));
    sim.shutdown().await;
}

/// Collects the `stream-notify-user` event names (and actions) that arrive until silence.
async fn user_frames(ws: &mut Ws) -> Vec<String> {
    let mut out = Vec::new();
    while let Ok(Some(v)) = ws.recv_opt(QUIET).await {
        if v["collection"] == "stream-notify-user" {
            let name = v["fields"]["eventName"].as_str().unwrap();
            let event = name.rsplit('/').next().unwrap().to_owned();
            out.push(format!(
                "{event}:{}",
                v["fields"]["args"][0].as_str().unwrap_or("")
            ));
        }
    }
    out
}

// notifyUsersOnMessage.ts: every message announces the room; a member's subscription is
// announced only when it changes (first alert, a mention), the sender's every time (read).
#[tokio::test]
async fn user_stream_frames_per_message() {
    let sim = start().await;
    let (bot, token) = bot(&sim, "bot");
    let alice = sim.create_user("alice", UserKind::Human).unwrap();
    let rid = sim
        .create_room(RoomKind::Public, "frames", &alice, &[&bot])
        .unwrap();
    let mut ws = Ws::logged_in(&sim, &token).await;
    sub_user(&mut ws, &bot, "rooms-changed").await;
    sub_user(&mut ws, &bot, "subscriptions-changed").await;
    sim.post(&alice, &rid, "first").unwrap();
    assert_eq!(
        user_frames(&mut ws).await,
        ["rooms-changed:updated", "subscriptions-changed:updated"]
    );
    sim.post(&alice, &rid, "second").unwrap();
    assert_eq!(user_frames(&mut ws).await, ["rooms-changed:updated"]);
    sim.post(&alice, &rid, "hey @bot").unwrap();
    assert_eq!(
        user_frames(&mut ws).await,
        ["rooms-changed:updated", "subscriptions-changed:updated"]
    );
    let sub = &sim_subscription(&sim, &bot, &token, &rid).await;
    assert_eq!(
        (
            sub["alert"].as_bool(),
            sub["userMentions"].as_u64(),
            sub["unread"].as_u64()
        ),
        (Some(true), Some(1), Some(1))
    );
    sim.post(&bot, &rid, "my own").unwrap();
    assert_eq!(
        user_frames(&mut ws).await,
        ["rooms-changed:updated", "subscriptions-changed:updated"]
    );
    let sub = &sim_subscription(&sim, &bot, &token, &rid).await;
    assert_eq!(
        (sub["alert"].as_bool(), sub["unread"].as_u64()),
        (Some(false), Some(0))
    );
    sim.shutdown().await;
}

async fn sim_subscription(
    sim: &rocketchat_sim::SimHandle,
    uid: &str,
    token: &str,
    rid: &str,
) -> Value {
    let r = http(
        sim,
        "GET",
        &format!("/api/v1/subscriptions.getOne?roomId={rid}"),
        Some((uid, token)),
        None,
    )
    .await;
    r.body["subscription"].clone()
}

// A thread-only reply increments msgs but leaves lastMessage; with tshow it becomes the last.
#[tokio::test]
async fn thread_replies_and_last_message() {
    let sim = start().await;
    let (bot, token) = bot(&sim, "bot");
    let root = sim.post(&bot, "GENERAL", "root").unwrap();
    let reply = sim.post_reply(&bot, "GENERAL", &root, "reply").unwrap();
    let room = http(
        &sim,
        "GET",
        "/api/v1/rooms.info?roomId=GENERAL",
        Some((&bot, &token)),
        None,
    )
    .await
    .body["room"]
        .clone();
    assert_eq!(room["lastMessage"]["_id"], json!(root));
    assert_eq!(room["msgs"], 2);
    let shown = sim
        .post_with(
            &bot,
            "GENERAL",
            "shown",
            rocketchat_sim::PostOptions {
                tmid: Some(root.clone()),
                tshow: true,
                ..Default::default()
            },
        )
        .unwrap();
    let room = http(
        &sim,
        "GET",
        "/api/v1/rooms.info?roomId=GENERAL",
        Some((&bot, &token)),
        None,
    )
    .await
    .body["room"]
        .clone();
    assert_eq!(room["lastMessage"]["_id"], json!(shown));
    // Deleting the last message brings the previous one back.
    sim.delete(&bot, &shown).unwrap();
    let room = http(
        &sim,
        "GET",
        "/api/v1/rooms.info?roomId=GENERAL",
        Some((&bot, &token)),
        None,
    )
    .await
    .body["room"]
        .clone();
    assert_eq!(room["lastMessage"]["_id"], json!(root));
    let _ = reply;
    sim.shutdown().await;
}

// jumpToMessage (beforeSave): a link to a message of this server (`<Site_Url>/...?msg=<id>`)
// becomes a quote attachment (`message_link`), and its URL is not previewed; an edit recomputes
// the quotes from the new text.
#[tokio::test]
async fn links_to_messages_become_quotes() {
    let sim = start().await;
    let (bot, token) = bot(&sim, "bot");
    sim.set_setting("Site_Url", json!("https://chat.example"))
        .unwrap();
    let quoted = sim.post(&bot, "GENERAL", "the original").unwrap();
    let link = format!("https://chat.example/channel/general?msg={quoted}");
    let r = http(
        &sim,
        "POST",
        "/api/v1/chat.sendMessage",
        Some((&bot, &token)),
        Some(json!({"message": {"rid": "GENERAL", "msg": format!("see {link}")}})),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let m = &r.body["message"];
    assert_eq!(m["attachments"][0]["message_link"], json!(link));
    assert_eq!(m["attachments"][0]["text"], "the original");
    assert_eq!(m["attachments"][0]["author_name"], "bot");
    assert_eq!(m["urls"][0]["ignoreParse"], true);
    let mid = m["_id"].as_str().unwrap().to_owned();
    let r = http(
        &sim,
        "POST",
        "/api/v1/chat.update",
        Some((&bot, &token)),
        Some(json!({"roomId": "GENERAL", "msgId": mid, "text": "no link now"})),
    )
    .await;
    assert_eq!(r.body["message"]["attachments"], json!([]));
    sim.shutdown().await;
}

// canSendMessage: a muted user cannot post (`You_have_been_muted`), and gets the ephemeral
// notice; unmuted, it can again.
#[tokio::test]
async fn muted_users_cannot_post() {
    let sim = start().await;
    let alice = human(&sim, "alice");
    let carol = human(&sim, "carol");
    let rid = sim
        .create_room(RoomKind::Public, "quiet", &alice.uid, &[&carol.uid])
        .unwrap();
    assert_ok(
        &alice
            .post(
                "rooms.muteUser",
                json!({"roomId": rid, "userId": carol.uid}),
            )
            .await,
    );
    let r = carol
        .post(
            "chat.sendMessage",
            json!({"message": {"rid": rid, "msg": "hello?"}}),
        )
        .await;
    assert_400(&r);
    assert_eq!(r.body["error"], "You_have_been_muted");
    let last = sim.messages(&rid).last().cloned().unwrap();
    assert_eq!(last["t"], "user-muted");
    assert_eq!(last["msg"], "carol");
    assert_ok(
        &alice
            .post(
                "rooms.unmuteUser",
                json!({"roomId": rid, "userId": carol.uid}),
            )
            .await,
    );
    assert_ok(
        &carol
            .post(
                "chat.sendMessage",
                json!({"message": {"rid": rid, "msg": "hello"}}),
            )
            .await,
    );
    sim.shutdown().await;
}

// rooms.info / channels.info `fields`: an inclusion projection keeps `_id` and the fields named.
#[tokio::test]
async fn room_info_fields_projection() {
    let sim = start().await;
    let (bot, token) = bot(&sim, "bot");
    let r = http(
        &sim,
        "GET",
        "/api/v1/rooms.info?roomId=GENERAL&fields=%7B%22name%22%3A1%7D",
        Some((&bot, &token)),
        None,
    )
    .await;
    assert_eq!(r.body["room"], json!({"_id": "GENERAL", "name": "general"}));
    let r = http(
        &sim,
        "GET",
        "/api/v1/channels.info?roomId=GENERAL&fields=%7B%22msgs%22%3A0%7D",
        Some((&bot, &token)),
        None,
    )
    .await;
    assert!(r.body["channel"].get("msgs").is_none());
    assert_eq!(r.body["channel"]["name"], "general");
    sim.shutdown().await;
}

// users.setStatus / set_user_status: `user-status` on stream-notify-logged, `[id, username,
// status number, statusText, name, roles]` (offline 0, online 1, away 2, busy 3); a room role
// change is `roles-change` there too.
#[tokio::test]
async fn presence_and_role_changes_on_notify_logged() {
    let sim = start().await;
    let (bot, token) = bot(&sim, "bot");
    let alice = human(&sim, "alice");
    let mut ws = Ws::logged_in(&sim, &token).await;
    for (id, key) in [("s", "user-status"), ("r", "roles-change")] {
        let r = ws
            .sub(id, "stream-notify-logged", json!([key, false]))
            .await;
        assert_eq!(r["msg"], "ready");
    }
    assert_ok(
        &alice
            .post(
                "users.setStatus",
                json!({"status": "busy", "message": "in a call"}),
            )
            .await,
    );
    let ev = ws.next_event("stream-notify-logged").await;
    assert_eq!(ev["fields"]["eventName"], "user-status");
    assert_eq!(
        ev["fields"]["args"][0],
        json!([alice.uid, "alice", 3, "in a call", "alice", ["user"]])
    );
    let rid = sim
        .create_room(RoomKind::Public, "roles", &alice.uid, &[&bot])
        .unwrap();
    sim.set_room_role(&rid, &bot, "moderator", true, &alice.uid)
        .unwrap();
    let ev = ws.next_event("stream-notify-logged").await;
    assert_eq!(ev["fields"]["eventName"], "roles-change");
    assert_eq!(ev["fields"]["args"][0]["type"], "added");
    assert_eq!(ev["fields"]["args"][0]["_id"], "moderator");
    assert_eq!(ev["fields"]["args"][0]["scope"], json!(rid));
    sim.shutdown().await;
}

// POST /api/v1/logout removes the token used (its sockets close; REST answers 401).
#[tokio::test]
async fn logout_removes_the_token() {
    let sim = start().await;
    let r = http(
        &sim,
        "POST",
        "/api/v1/login",
        None,
        Some(json!({"username": "admin", "password": "admin"})),
    )
    .await;
    let uid = r.body["data"]["userId"].as_str().unwrap().to_owned();
    let token = r.body["data"]["authToken"].as_str().unwrap().to_owned();
    let mut ws = Ws::logged_in(&sim, &token).await;
    let r = http(&sim, "POST", "/api/v1/logout", Some((&uid, &token)), None).await;
    assert_eq!(r.body["status"], "success");
    assert!(ws.expect_closed().await.is_empty());
    assert_eq!(
        http(&sim, "GET", "/api/v1/me", Some((&uid, &token)), None)
            .await
            .status,
        401
    );
    sim.shutdown().await;
}
