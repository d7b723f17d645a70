//! Cases of Rocket.Chat's `apps/meteor/tests/end-to-end/api/users.ts` (stored version read:
//! file id 103321170, 142 276 chars; only the describes of the routes the simulator serves were
//! read) and, for `users.setStatus`, the older `users.js` (file id 444122227), restated against
//! the simulator. See UPSTREAM.md.
//! The `it('...')` texts paraphrase the upstream titles (the cases and their behaviour are
//! exact, the wording may not be); `describe` names are the upstream routes they test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use serde_json::json;

fn new_user(name: &str) -> serde_json::Value {
    json!({"email": format!("{name}@example.com"), "name": name, "username": name, "password": "pw"})
}

// [/users.create] > describe('default roles') > it('should set the default roles when none is
// given' (Accounts_Registration_Users_Default_Roles 'user,admin')), it('should use the roles given')
#[tokio::test]
async fn create_uses_the_default_roles_setting() {
    let sim = start().await;
    let admin = admin(&sim);
    set_setting(
        &admin,
        "Accounts_Registration_Users_Default_Roles",
        json!("user,admin"),
    )
    .await;
    let r = admin.post("users.create", new_user("defaulted")).await;
    assert_ok(&r);
    assert_eq!(r.body["user"]["roles"], json!(["user", "admin"]));
    let mut body = new_user("given");
    body["roles"] = json!(["guest"]);
    let r = admin.post("users.create", body).await;
    assert_eq!(r.body["user"]["roles"], json!(["guest"]));
    sim.shutdown().await;
}

// saveNewUser / insertUserDoc: users.create joins the default channels (a `uj` in GENERAL)
// unless `joinDefaultChannels: false`.
#[tokio::test]
async fn create_joins_default_channels_unless_told_not_to() {
    let sim = start().await;
    let admin = admin(&sim);
    let r = admin.post("users.create", new_user("joiner")).await;
    let uid = r.body["user"]["_id"].as_str().unwrap().to_owned();
    let joined = sim
        .messages("GENERAL")
        .iter()
        .any(|m| m["t"] == "uj" && m["u"]["_id"] == json!(uid));
    assert!(joined);
    let mut body = new_user("stayer");
    body["joinDefaultChannels"] = json!(false);
    let r = admin.post("users.create", body).await;
    let uid = r.body["user"]["_id"].as_str().unwrap().to_owned();
    assert!(sim
        .messages("GENERAL")
        .iter()
        .all(|m| m["u"]["_id"] != json!(uid)));
    sim.shutdown().await;
}

// [/users.info] > it('should return an error when the user does not exist'), it('should query
// information about a user by userId'), it('should return "rooms" field when user request it and
// the user has permission' (view-other-user-channels)), it('should NOT return "rooms" field when
// user NOT request it but has permission'), it('should return the rooms when the user request
// your own rooms but does NOT have the necessary permission'), it("should NOT return any
// services fields when request to another user's info even if the user has the necessary
// permission"), it('should return all services fields when request for myself data even without
// privileged permission'), it('should correctly route users that have `ufs` in their username')
#[tokio::test]
async fn info_rooms_and_services_rules() {
    let sim = start().await;
    let admin = admin(&sim);
    let user = human(&sim, "someone");
    let ufs = human(&sim, "ufs");
    let r = admin.get("users.info?username=nobody-here").await;
    assert_400(&r);
    let r = admin.get(&format!("users.info?userId={}", user.uid)).await;
    assert_ok(&r);
    assert_eq!(r.body["user"]["username"], "someone");
    assert_eq!(r.body["user"]["active"], true);
    assert_eq!(r.body["user"]["name"], "someone");
    assert!(r.body["user"].get("e2e").is_none());
    let r = admin
        .get(&format!(
            "users.info?userId={}&includeUserRooms=true",
            admin.uid
        ))
        .await;
    assert!(r.body["user"]["rooms"].is_array());
    let r = admin.get(&format!("users.info?userId={}", admin.uid)).await;
    assert!(r.body["user"].get("rooms").is_none());
    let r = user
        .get(&format!(
            "users.info?userId={}&fields=%7B%22userRooms%22%3A1%7D",
            user.uid
        ))
        .await;
    assert!(r.body["user"]["rooms"].is_array());
    let r = user
        .get(&format!(
            "users.info?userId={}&includeUserRooms=true",
            admin.uid
        ))
        .await;
    assert!(r.body["user"].get("rooms").is_none());
    let r = user.get(&format!("users.info?userId={}", admin.uid)).await;
    assert!(r.body["user"].get("services").is_none());
    let r = user.get(&format!("users.info?userId={}", user.uid)).await;
    assert!(r.body["user"]["services"]["password"].is_object());
    assert!(r.body["user"]["services"]["resume"].is_object());
    let r = admin.get("users.info?username=ufs").await;
    assert_eq!(r.body["user"]["_id"], json!(ufs.uid));
    assert_eq!(r.body["user"]["type"], "user");
    sim.shutdown().await;
}

// users.js [/users.setStatus] > it('should return an error when the setting
// "Accounts_AllowUserStatusMessageChange" is disabled'), it("should update user's status by
// userId"), it("should return an error when trying to update other user's status without the
// required permission"), it("should update another user's status when the logged user has the
// required permission"), it('should return an error when the user try to update user status with
// an invalid status'), it('should return an error when user changes status to offline and
// invisible status is disabled')
#[tokio::test]
async fn set_status_rules() {
    let sim = start().await;
    let admin = admin(&sim);
    let user = human(&sim, "statusy");
    set_setting(
        &admin,
        "Accounts_AllowUserStatusMessageChange",
        json!(false),
    )
    .await;
    let r = user
        .post("users.setStatus", json!({"status": "busy", "message": "x"}))
        .await;
    assert_eq!(
        r.body["error"],
        "Change status is not allowed [error-not-allowed]"
    );
    set_setting(&admin, "Accounts_AllowUserStatusMessageChange", json!(true)).await;
    assert_ok(
        &user
            .post(
                "users.setStatus",
                json!({"status": "busy", "userId": user.uid}),
            )
            .await,
    );
    assert_eq!(user.get("users.getStatus").await.body["status"], "busy");
    let r = user
        .post(
            "users.setStatus",
            json!({"status": "away", "userId": admin.uid}),
        )
        .await;
    assert_eq!(r.status, 403);
    assert_eq!(r.body["error"], "unauthorized");
    assert_ok(
        &admin
            .post(
                "users.setStatus",
                json!({"status": "away", "userId": user.uid}),
            )
            .await,
    );
    assert_eq!(
        admin
            .get(&format!("users.getStatus?userId={}", user.uid))
            .await
            .body["status"],
        "away"
    );
    let r = user
        .post("users.setStatus", json!({"status": "invalid"}))
        .await;
    assert_eq!(
        r.body["error"],
        "Valid status types include online, away, offline, and busy. [error-invalid-status]"
    );
    set_setting(&admin, "Accounts_AllowInvisibleStatusOption", json!(false)).await;
    let r = user
        .post("users.setStatus", json!({"status": "offline"}))
        .await;
    assert_eq!(
        r.body["error"],
        "Invisible status is disabled [error-status-not-allowed]"
    );
    sim.shutdown().await;
}
