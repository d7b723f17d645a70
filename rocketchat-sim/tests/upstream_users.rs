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

/// An admin whose only role is `admin` (upstream's test admin does not hold `user`, which the
/// simulator's `admin` does), with a PAT, like `createUser({ roles: ['admin'] })`.
fn admin_only<'a>(sim: &'a rocketchat_sim::SimHandle, name: &str) -> Api<'a> {
    let uid = sim
        .create_user_full(
            name,
            name,
            rocketchat_sim::UserKind::Human,
            vec!["admin".to_owned()],
            Some("Admin-only-1"),
        )
        .unwrap();
    let token = sim.create_pat(&uid, "upstream").unwrap();
    Api { sim, uid, token }
}

/// The `before` of [/users.update]: every Accounts_Allow*Change on, edit-other-user-info
/// for admins (the simulator's defaults already).
async fn update_before(admin: &Api<'_>) {
    for id in [
        "Accounts_AllowUserProfileChange",
        "Accounts_AllowRealNameChange",
        "Accounts_AllowUserStatusMessageChange",
        "Accounts_AllowEmailChange",
        "Accounts_AllowPasswordChange",
    ] {
        set_setting(admin, id, json!(true)).await;
    }
    set_permission(admin, "edit-other-user-info", &["admin"]).await;
}

// [/users.update] > it("should update a user's info by userId") (without its `username`
// leg: username changes are not simulated), it("should update a user's email by userId"),
// it('should return an error when trying to upsert a user by sending an empty userId'),
// it('should return an error when trying to use the joinDefaultChannels param, which is not
// intended for updates'), it("should update a bot's email"), it("should verify user's email
// by userId")
#[tokio::test]
async fn update_info_email_and_schema() {
    let sim = start().await;
    let admin = admin(&sim);
    update_before(&admin).await;
    let target = human(&sim, "target");
    let r = admin
        .post(
            "users.update",
            json!({"userId": target.uid, "data": {"email": "edited@example.com",
                "name": "editedtarget", "password": "pw", "active": true, "roles": ["user"]}}),
        )
        .await;
    assert_ok(&r);
    assert_eq!(r.body["user"]["emails"][0]["address"], "edited@example.com");
    assert_eq!(r.body["user"]["active"], true);
    assert_eq!(r.body["user"]["name"], "editedtarget");
    assert!(r.body["user"].get("e2e").is_none());

    let r = admin
        .post(
            "users.update",
            json!({"userId": target.uid, "data": {"email": "editededited@example.com"}}),
        )
        .await;
    assert_ok(&r);
    assert_eq!(
        r.body["user"]["emails"][0]["address"],
        "editededited@example.com"
    );
    assert_eq!(r.body["user"]["emails"][0]["verified"], false);

    let r = admin
        .post("users.update", json!({"userId": "", "data": {}}))
        .await;
    assert_400(&r);
    assert_eq!(r.body["errorType"], "invalid-params");
    assert_eq!(
        r.body["error"],
        "must NOT have fewer than 1 characters [invalid-params]"
    );
    let r = admin
        .post(
            "users.update",
            json!({"userId": target.uid, "data": {"joinDefaultChannels": true}}),
        )
        .await;
    assert_400(&r);
    assert_eq!(r.body["errorType"], "invalid-params");
    assert_eq!(
        r.body["error"],
        "must NOT have additional properties [invalid-params]"
    );

    let r = admin
        .post(
            "users.update",
            json!({"userId": "rocket.cat", "data": {"email": "nouser@rocket.cat"}}),
        )
        .await;
    assert_ok(&r);

    let r = admin
        .post(
            "users.update",
            json!({"userId": target.uid, "data": {"verified": true}}),
        )
        .await;
    assert_ok(&r);
    assert_eq!(r.body["user"]["emails"][0]["verified"], true);
    assert!(r.body["user"].get("e2e").is_none());
    sim.shutdown().await;
}

// [/users.update] > it('should return an error when trying update user real name and it is not
// allowed'), it('should update user real name when the required permission is applied'),
// it('should return an error when trying update user status message and it is not allowed')
// (it sends `statusMessage`, not a schema key), it('should update user status message when
// the required permission is applied') (it sends `name`), it('should return an error when
// trying update user email and it is not allowed'), it('should update user email when the
// required permission is applied'), it('should return an error when trying update user
// password and it is not allowed'), it('should update user password when the required
// permission is applied'), it('should return an error when trying update profile and it is
// not allowed'), it('should update profile when the required permission is applied').
// The caller is an admin without the `user` role, as upstream's is.
#[tokio::test]
async fn update_settings_and_permissions() {
    let sim = start().await;
    let setup = admin(&sim);
    update_before(&setup).await;
    let admin = admin_only(&sim, "adminonly");
    let target = human(&sim, "edited");
    let update = |data: serde_json::Value| {
        let body = json!({"userId": target.uid, "data": data});
        let admin = &admin;
        async move { admin.post("users.update", body).await }
    };

    set_permission(&setup, "edit-other-user-info", &["user"]).await;
    set_setting(&setup, "Accounts_AllowRealNameChange", json!(false)).await;
    assert_400(&update(json!({"name": "Fake name"})).await);
    set_permission(&setup, "edit-other-user-info", &["admin"]).await;
    assert_ok(&update(json!({"name": "Fake name"})).await);

    set_permission(&setup, "edit-other-user-info", &["user"]).await;
    set_setting(
        &setup,
        "Accounts_AllowUserStatusMessageChange",
        json!(false),
    )
    .await;
    assert_400(&update(json!({"statusMessage": "a new status"})).await);
    set_permission(&setup, "edit-other-user-info", &["admin"]).await;
    assert_ok(&update(json!({"name": "a new status"})).await);

    set_permission(&setup, "edit-other-user-info", &["user"]).await;
    set_setting(&setup, "Accounts_AllowEmailChange", json!(false)).await;
    assert_400(&update(json!({"email": "itsnotworking@email.com"})).await);
    set_permission(&setup, "edit-other-user-info", &["admin"]).await;
    assert_ok(&update(json!({"email": "edited@example.com"})).await);

    set_permission(&setup, "edit-other-user-password", &["user"]).await;
    set_setting(&setup, "Accounts_AllowPasswordChange", json!(false)).await;
    let r = update(json!({"password": "itsnotworking"})).await;
    assert_400(&r);
    assert_eq!(
        r.body["error"],
        "Edit user password is not allowed [error-action-not-allowed]"
    );
    set_permission(&setup, "edit-other-user-password", &["admin"]).await;
    assert_ok(&update(json!({"password": "itsnotworking"})).await);

    set_permission(&setup, "edit-other-user-info", &["user"]).await;
    set_setting(&setup, "Accounts_AllowUserProfileChange", json!(false)).await;
    assert_400(&update(json!({"verified": true})).await);
    set_permission(&setup, "edit-other-user-info", &["admin"]).await;
    assert_ok(&update(json!({"verified": true})).await);
    sim.shutdown().await;
}

// [/users.update] > describe('email verification') > it("should update user's email verified
// correctly"), it("should update user's email verified even if email is not changed")
#[tokio::test]
async fn update_email_verification() {
    let sim = start().await;
    let admin = admin_only(&sim, "verifier");
    let target = human(&sim, "unverified");
    let r = admin
        .post(
            "users.update",
            json!({"userId": target.uid, "data": {"email": "fresh@example.com"}}),
        )
        .await;
    assert_eq!(r.body["user"]["emails"][0]["verified"], false);
    let r = admin
        .post(
            "users.update",
            json!({"userId": target.uid, "data": {"verified": true}}),
        )
        .await;
    assert_ok(&r);
    assert_eq!(r.body["user"]["emails"][0]["verified"], true);
    assert!(r.body["user"].get("e2e").is_none());
    let r = admin
        .post(
            "users.update",
            json!({"userId": target.uid, "data": {"email": "fresh@example.com", "verified": true}}),
        )
        .await;
    assert_ok(&r);
    assert_eq!(r.body["user"]["emails"][0]["verified"], true);
    sim.shutdown().await;
}

// Our own cases for what rc-provision relies on (saveUser.ts, setPasswordUpdater.ts): the
// password is set and every token of the user goes; `roles` are checked against the known
// roles; a user may not mark its own e-mail verified.
#[tokio::test]
async fn update_password_roles_and_self_verification() {
    let sim = start().await;
    let admin = admin(&sim);
    let target = human(&sim, "rolled");
    let r = admin
        .post(
            "users.update",
            json!({"userId": target.uid, "data": {"password": "Fresh-pass-1"}}),
        )
        .await;
    assert_ok(&r);
    assert_eq!(target.get("me").await.status, 401, "the PAT went");
    let r = common::http(
        &sim,
        "POST",
        "/api/v1/login",
        None,
        Some(json!({"user": "rolled", "password": "Fresh-pass-1"})),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);

    let r = admin
        .post(
            "users.update",
            json!({"userId": target.uid, "data": {"roles": ["bot", "user"]}}),
        )
        .await;
    assert_ok(&r);
    assert_eq!(r.body["user"]["roles"], json!(["bot", "user"]));
    let r = admin
        .post(
            "users.update",
            json!({"userId": target.uid, "data": {"roles": ["no-such-role"]}}),
        )
        .await;
    assert_eq!(
        r.body["error"],
        "The field Roles consist invalid role id [error-action-not-allowed]"
    );
    let me = human(&sim, "selfish");
    let r = me
        .post(
            "users.update",
            json!({"userId": me.uid, "data": {"verified": true}}),
        )
        .await;
    assert_eq!(
        r.body["error"],
        "Editing email verification is not allowed [error-action-not-allowed]"
    );
    sim.shutdown().await;
}
