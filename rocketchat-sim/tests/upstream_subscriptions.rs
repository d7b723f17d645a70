//! Cases of Rocket.Chat's `apps/meteor/tests/end-to-end/api/subscriptions.ts` (stored version
//! 3243dfd7, 12 960 chars) and `emoji-custom.ts` (stored version 0e154f37, 20 459 chars),
//! restated against the simulator. See UPSTREAM.md.
//! The `it('...')` texts paraphrase the upstream titles (the cases and their behaviour are
//! exact, the wording may not be); `describe` names are the upstream routes they test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use serde_json::json;

// [/subscriptions.get] > it('should return all subscriptions'), it('should return all
// subscriptions with updatedSince' (now: both lists empty))
#[tokio::test]
async fn get_lists_and_filters() {
    let sim = start().await;
    let admin = admin(&sim);
    create_room(&admin, "c", "subs-room", json!({})).await;
    let r = admin.get("subscriptions.get").await;
    assert_ok(&r);
    assert!(!r.body["update"].as_array().unwrap().is_empty());
    assert!(r.body["remove"].is_array());
    let r = admin
        .get("subscriptions.get?updatedSince=2999-01-01T00:00:00.000Z")
        .await;
    assert_eq!(
        (
            r.body["update"].as_array().unwrap().len(),
            r.body["remove"].as_array().unwrap().len()
        ),
        (0, 0)
    );
    sim.shutdown().await;
}

// [/subscriptions.getOne] > it('should fail if no roomId provided'), it('should fail if not logged
// in'), it('should return the subscription with success'), it('should keep subscription as read
// after sending a message')
#[tokio::test]
async fn get_one_rules() {
    let sim = start().await;
    let admin = admin(&sim);
    let rid = id_of(&create_room(&admin, "c", "one-room", json!({})).await);
    let r = admin.get("subscriptions.getOne").await;
    assert_eq!(
        r.body["error"],
        "must have required property 'roomId' [invalid-params]"
    );
    let r = http(
        &sim,
        "GET",
        &format!("/api/v1/subscriptions.getOne?roomId={rid}"),
        None,
        None,
    )
    .await;
    assert_eq!(r.status, 401);
    assert_eq!(r.body["status"], "error");
    assert!(r.body["message"].is_string());
    let r = admin
        .get(&format!("subscriptions.getOne?roomId={rid}"))
        .await;
    assert_ok(&r);
    assert!(r.body["subscription"].is_object());
    admin
        .post(
            "chat.sendMessage",
            json!({"message": {"rid": rid, "msg": "mine"}}),
        )
        .await;
    let r = admin
        .get(&format!("subscriptions.getOne?roomId={rid}"))
        .await;
    assert_eq!(r.body["subscription"]["alert"], false);
    sim.shutdown().await;
}

// [/subscriptions.read] > it('should mark public channels as read'), it('should mark groups as
// read'), it('should mark DMs as read'), it('should succeed when using the roomId param'),
// it('should fail on two params with different ids'), it('should fail on mark inexistent public
// channel as read'), it('should fail on invalid params'), it('should fail on empty params')
#[tokio::test]
async fn read_rules() {
    let sim = start().await;
    let admin = admin(&sim);
    human(&sim, "peer");
    let c = id_of(&create_room(&admin, "c", "read-c", json!({})).await);
    let p = id_of(&create_room(&admin, "p", "read-p", json!({})).await);
    let d = admin
        .post("im.create", json!({"username": "peer"}))
        .await
        .body["room"]["rid"]
        .as_str()
        .unwrap()
        .to_owned();
    for rid in [&c, &p, &d] {
        assert_ok(&admin.post("subscriptions.read", json!({"rid": rid})).await);
    }
    assert_ok(&admin.post("subscriptions.read", json!({"roomId": c})).await);
    let r = admin
        .post("subscriptions.read", json!({"rid": c, "roomId": p}))
        .await;
    assert_eq!(r.body["errorType"], "invalid-params");
    let r = admin
        .post(
            "subscriptions.read",
            json!({"rid": "foobar123-somechannel"}),
        )
        .await;
    assert_eq!(r.body["error"], "error-invalid-subscription");
    let r = admin
        .post("subscriptions.read", json!({"rid": 12345}))
        .await;
    assert_eq!(r.body["errorType"], "invalid-params");
    let r = admin.post("subscriptions.read", json!({})).await;
    assert_eq!(r.body["errorType"], "invalid-params");
    sim.shutdown().await;
}

// [/subscriptions.unread] > it('should fail when there are no messages on an channel'), it('should
// return success: true when make as unread successfully'), it('should fail on invalid params'),
// it('should fail on empty params')
#[tokio::test]
async fn unread_rules() {
    let sim = start().await;
    let admin = admin(&sim);
    let rid = id_of(&create_room(&admin, "c", "unread-room", json!({})).await);
    let r = admin
        .post("subscriptions.unread", json!({"roomId": rid}))
        .await;
    assert_eq!(r.body["errorType"], "error-no-message-for-unread");
    admin
        .post(
            "chat.sendMessage",
            json!({"message": {"rid": rid, "msg": "one"}}),
        )
        .await;
    assert_ok(
        &admin
            .post("subscriptions.unread", json!({"roomId": rid}))
            .await,
    );
    assert_400(
        &admin
            .post("subscriptions.unread", json!({"roomId": 12345}))
            .await,
    );
    assert_400(&admin.post("subscriptions.unread", json!({})).await);
    sim.shutdown().await;
}

// emoji-custom.ts [/emoji-custom.list] > it('should return emojis'), it('should return emojis when
// use "updatedSince" query parameter'), it('should return emojis when use "updatedSince" query
// parameter (future)'), it('should return an error when "updatedSince" is not a valid date')
#[tokio::test]
async fn emoji_list() {
    let sim = start().await;
    let admin = admin(&sim);
    let id = sim.add_custom_emoji("parrot", &["party"], "gif").unwrap();
    let r = admin.get("emoji-custom.list").await;
    assert_ok(&r);
    assert_eq!(r.body["emojis"]["update"][0]["name"], "parrot");
    assert_eq!(r.body["emojis"]["update"][0]["_id"], json!(id));
    assert!(r.body["emojis"]["remove"].is_array());
    let r = admin
        .get("emoji-custom.list?updatedSince=2000-01-01T00:00:00.000Z")
        .await;
    assert_eq!(r.body["emojis"]["update"].as_array().unwrap().len(), 1);
    let r = admin
        .get("emoji-custom.list?updatedSince=2999-01-01T00:00:00.000Z")
        .await;
    assert_eq!(r.body["emojis"], json!({"update": [], "remove": []}));
    let r = admin
        .get("emoji-custom.list?updatedSince=invalid-date")
        .await;
    assert_eq!(r.body["errorType"], "error-roomId-param-invalid");
    sim.remove_custom_emoji(&id).unwrap();
    let r = admin
        .get("emoji-custom.list?updatedSince=2000-01-01T00:00:00.000Z")
        .await;
    assert_eq!(r.body["emojis"]["remove"][0]["_id"], json!(id));
    sim.shutdown().await;
}

// emoji-custom.ts [/emoji-custom.all] > it('should return emojis'), it('should return emojis
// filtered by name' -- here: paginated)
#[tokio::test]
async fn emoji_all() {
    let sim = start().await;
    let admin = admin(&sim);
    sim.add_custom_emoji("b-emoji", &[], "png").unwrap();
    sim.add_custom_emoji("a-emoji", &[], "png").unwrap();
    let r = admin.get("emoji-custom.all").await;
    assert_ok(&r);
    assert_eq!(r.body["emojis"][0]["name"], "a-emoji");
    assert_eq!(
        (
            r.body["total"].as_u64(),
            r.body["count"].as_u64(),
            r.body["offset"].as_u64()
        ),
        (Some(2), Some(2), Some(0))
    );
    sim.shutdown().await;
}
