//! Cases of Rocket.Chat's `apps/meteor/tests/end-to-end/api/direct-message.ts` (stored version
//! 0a96cc4b, 33 872 chars; the 8.2.0 tag could not be pinned, see UPSTREAM.md), restated
//! against the simulator, plus the group-DM rules of `createDirectRoom.ts`.
//! The `it('...')` texts paraphrase the upstream titles (the cases and their behaviour are
//! exact, the wording may not be); `describe` names are the upstream routes they test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use serde_json::json;

async fn dm(api: &Api<'_>, body: serde_json::Value) -> serde_json::Value {
    let r = api.post("im.create", body).await;
    assert_ok(&r);
    r.body["room"].clone()
}

// [/im.setTopic] > it('should set the topic of the DM with a string'), it('should set the topic of
// the DM with an empty string(remove the topic)')
#[tokio::test]
async fn set_topic_echoes() {
    let sim = start().await;
    let admin = admin(&sim);
    human(&sim, "peer");
    let rid = dm(&admin, json!({"username": "peer"})).await["rid"]
        .as_str()
        .unwrap()
        .to_owned();
    for topic in ["a direct message with rocket.cat", ""] {
        let r = admin
            .post("im.setTopic", json!({"roomId": rid, "topic": topic}))
            .await;
        assert_ok(&r);
        assert_eq!(r.body["topic"], topic);
    }
    sim.shutdown().await;
}

// [/im.history] > it('should return all DM messages that were sent to yourself using your username')
#[tokio::test]
async fn history_of_a_self_dm() {
    let sim = start().await;
    let admin = admin(&sim);
    let rid = dm(&admin, json!({"username": "admin"})).await["rid"]
        .as_str()
        .unwrap()
        .to_owned();
    admin
        .post(
            "chat.sendMessage",
            json!({"message": {"rid": rid, "msg": "to myself"}}),
        )
        .await;
    let r = admin.get(&format!("im.history?roomId={rid}")).await;
    assert_ok(&r);
    assert_eq!(r.body["messages"][0]["msg"], "to myself");
    sim.shutdown().await;
}

// [/im.open] > it('should open direct message'); [/im.close] > it('should close direct message')
#[tokio::test]
async fn open_and_close() {
    let sim = start().await;
    let admin = admin(&sim);
    human(&sim, "peer");
    let rid = dm(&admin, json!({"username": "peer"})).await["rid"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_ok(&admin.post("im.close", json!({"roomId": rid})).await);
    assert_eq!(
        admin
            .get(&format!("subscriptions.getOne?roomId={rid}"))
            .await
            .body["subscription"]["open"],
        false
    );
    assert_ok(&admin.post("im.open", json!({"roomId": rid})).await);
    assert_eq!(
        admin
            .get(&format!("subscriptions.getOne?roomId={rid}"))
            .await
            .body["subscription"]["open"],
        true
    );
    sim.shutdown().await;
}

// describe('fname property') > it("should return the user's name when the DM is with another
// user"), it("should return the user's own name when it's a self DM"), it("should return the
// names of the other users of a group DM, joined by ', '") (subscription `fname`, `name` is the
// usernames)
#[tokio::test]
async fn subscription_names_of_dms() {
    let sim = start().await;
    let admin = admin(&sim);
    let first = sim
        .create_user_full(
            "first",
            "First User",
            rocketchat_sim::UserKind::Human,
            vec!["user".into()],
            Some("p"),
        )
        .unwrap();
    sim.create_user_full(
        "second",
        "Second User",
        rocketchat_sim::UserKind::Human,
        vec!["user".into()],
        Some("p"),
    )
    .unwrap();
    let _ = first;
    let one = dm(&admin, json!({"username": "first"})).await["rid"]
        .as_str()
        .unwrap()
        .to_owned();
    let me = dm(&admin, json!({"username": "admin"})).await["rid"]
        .as_str()
        .unwrap()
        .to_owned();
    let group = dm(&admin, json!({"usernames": "first,second"})).await["rid"]
        .as_str()
        .unwrap()
        .to_owned();
    let sub = |rid: String| {
        let admin = &admin;
        async move {
            admin
                .get(&format!("subscriptions.getOne?roomId={rid}"))
                .await
                .body["subscription"]
                .clone()
        }
    };
    let s = sub(one).await;
    assert_eq!(
        (s["fname"].as_str(), s["name"].as_str()),
        (Some("First User"), Some("first"))
    );
    let s = sub(me).await;
    assert_eq!(
        (s["fname"].as_str(), s["name"].as_str()),
        (Some("Administrator"), Some("admin"))
    );
    let s = sub(group).await;
    assert_eq!(s["fname"], "First User, Second User");
    assert_eq!(s["name"], "first, second");
    sim.shutdown().await;
}

// [/im.members] > it('should return and array with two members'), it('should return and array
// with two members when using the username of the other user'), it('should return and array
// with one member when filtering by status online' (the simulator's users are online unless
// set otherwise, so a peer set away is filtered out)
#[tokio::test]
async fn members_of_a_dm() {
    let sim = start().await;
    let admin = admin(&sim);
    let peer = human(&sim, "peer");
    let rid = dm(&admin, json!({"username": "peer"})).await["rid"]
        .as_str()
        .unwrap()
        .to_owned();
    for q in [format!("roomId={rid}"), "username=peer".to_owned()] {
        let r = admin.get(&format!("im.members?{q}")).await;
        assert_ok(&r);
        assert_eq!(
            (
                r.body["count"].as_u64(),
                r.body["offset"].as_u64(),
                r.body["total"].as_u64()
            ),
            (Some(2), Some(0), Some(2))
        );
        assert_eq!(r.body["members"].as_array().unwrap().len(), 2);
    }
    sim.set_user_status(&peer.uid, "away", None).unwrap();
    let r = admin
        .get(&format!("im.members?roomId={rid}&status[]=online"))
        .await;
    assert_eq!(r.body["count"], 1);
    sim.shutdown().await;
}

// [/im.create] > it('creates a DM between two other parties (including self)'), it('creates a DM
// between two other parties (excluding self)'), it('should create a self-DM')
#[tokio::test]
async fn create_group_dm_with_and_without_self() {
    let sim = start().await;
    let user = human(&sim, "user");
    human(&sim, "other");
    human(&sim, "third");
    let room = dm(&user, json!({"usernames": "other,third"})).await;
    assert_eq!(room["t"], "d");
    assert_eq!(room["_id"], room["rid"]);
    let mut names: Vec<&str> = room["usernames"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    names.sort_unstable();
    assert_eq!(names, ["other", "third", "user"]);
    let room = dm(
        &user,
        json!({"usernames": "other,third", "excludeSelf": true}),
    )
    .await;
    let mut names: Vec<&str> = room["usernames"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    names.sort_unstable();
    assert_eq!(names, ["other", "third"]);
    let room = dm(&user, json!({"username": "user"})).await;
    assert_eq!(room["usernames"], json!(["user"]));
    sim.shutdown().await;
}

// [/im.delete] > it('/im.delete', as an admin, by username), it('/im.open' on the deleted DM ->
// 403 unauthorized), it('should not delete a DM for a user without delete-d (non-admin)')
#[tokio::test]
async fn delete_needs_delete_d() {
    let sim = start().await;
    let admin = admin(&sim);
    let user = human(&sim, "user");
    let rid = dm(&admin, json!({"username": "user"})).await["rid"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_400(&user.post("im.delete", json!({"roomId": rid})).await);
    assert_ok(&admin.post("im.delete", json!({"username": "user"})).await);
    let r = admin.post("im.open", json!({"roomId": rid})).await;
    assert_eq!(r.status, 403);
    assert_eq!(r.body["error"], "unauthorized");
    sim.shutdown().await;
}

// createDirectRoom.ts: `DirectMesssage_maxUsers` (default 8) counts the creator.
#[tokio::test]
async fn group_dm_size_limit() {
    let sim = start().await;
    let admin = admin(&sim);
    let names: Vec<String> = (0..8).map(|i| format!("u{i}")).collect();
    for n in &names {
        human(&sim, n);
    }
    let r = admin
        .post("im.create", json!({"usernames": names.join(",")}))
        .await;
    assert_400(&r);
    assert_eq!(
        r.body["errorType"],
        "error-direct-message-max-user-exceeded"
    );
    assert_ok(
        &admin
            .post("im.create", json!({"usernames": names[..7].join(",")}))
            .await,
    );
    sim.shutdown().await;
}
