//! Cases of Rocket.Chat's `apps/meteor/tests/end-to-end/api/settings.ts` (stored version
//! 0085ab5e, 19 602 chars) and `permissions.ts` (stored version 435e88b9, 9 051 chars),
//! restated against the simulator. See UPSTREAM.md.
//! The `it('...')` texts paraphrase the upstream titles (the cases and their behaviour are
//! exact, the wording may not be); `describe` names are the upstream routes they test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use serde_json::json;

async fn public(sim: &rocketchat_sim::SimHandle, q: &str) -> common::Resp {
    http(
        sim,
        "GET",
        &format!("/api/v1/settings.public{q}"),
        None,
        None,
    )
    .await
}

// [/settings.public] > it('should return public settings'), it('should return public settings
// even requested with count and offset params'), it('should return public settings even
// requested with _id param'), it('should return public settings even requested with _id param as
// an array'), it('should return an empty response when requesting public settings with a broken
// _id param')
#[tokio::test]
async fn public_settings_without_login() {
    let sim = start().await;
    let r = public(&sim, "").await;
    assert_ok(&r);
    assert!(r.body["settings"].is_array());
    assert!(r.body["count"].is_number());
    let r = public(&sim, "?count=5&offset=0").await;
    assert_eq!(r.body["settings"].as_array().unwrap().len(), 5);
    assert_eq!(r.body["count"], 5);
    let r = public(&sim, "?_id=Site_Url").await;
    assert_eq!(r.body["settings"].as_array().unwrap().len(), 1);
    let r = public(&sim, "?_id=Site_Url,LDAP_Enable").await;
    assert_eq!(r.body["settings"].as_array().unwrap().len(), 2);
    let r = public(&sim, "?_id=10").await;
    assert_eq!(r.body["settings"], json!([]));
    assert_eq!(
        (
            r.body["count"].as_u64(),
            r.body["offset"].as_u64(),
            r.body["total"].as_u64()
        ),
        (Some(0), Some(0), Some(0))
    );
    sim.shutdown().await;
}

// [/settings] > it('should return private settings'), it('should return private settings with
// packageValue when includeDefaults is true')
#[tokio::test]
async fn private_settings_list() {
    let sim = start().await;
    let admin = admin(&sim);
    let r = admin.get("settings").await;
    assert_ok(&r);
    assert!(r.body["settings"].is_array() && r.body["count"].is_number());
    let r = admin.get("settings?includeDefaults=true").await;
    assert!(r.body["settings"][0].get("packageValue").is_some());
    sim.shutdown().await;
}

// [/settings/:_id] > it('should return one setting'), it('should fail returning a setting if user
// does NOT have the "view-privileged-setting" permission'), it('should update one setting'),
// it('should fail updating the value of a setting if user does NOT have the
// "edit-privileged-setting" permission'), describe('Accounts_Default_User_Preferences_masterVolume')
// > it('should fail when value is less than 0'), it('should fail when value is greater than 100')
#[tokio::test]
async fn one_setting_read_write_and_bounds() {
    let sim = start().await;
    let admin = admin(&sim);
    let user = human(&sim, "plain");
    let r = admin.get("settings/Site_Url").await;
    assert_ok(&r);
    assert_eq!(r.body["_id"], "Site_Url");
    assert!(r.body.get("value").is_some());
    let r = user.get("settings/Site_Url").await;
    assert_eq!(r.status, 403);
    assert_eq!(
        r.body["error"],
        "User does not have the permissions required for this action [error-unauthorized]"
    );
    assert_ok(
        &admin
            .post("settings/LDAP_Enable", json!({"value": false}))
            .await,
    );
    let r = user
        .post("settings/LDAP_Enable", json!({"value": false}))
        .await;
    assert_eq!(r.status, 403);
    let r = admin
        .post(
            "settings/Accounts_Default_User_Preferences_masterVolume",
            json!({"value": -1}),
        )
        .await;
    assert_400(&r);
    assert_eq!(r.body["error"], "Value for setting Accounts_Default_User_Preferences_masterVolume must be greater than or equal to 0 [error-invalid-setting-value]");
    let r = admin
        .post(
            "settings/Accounts_Default_User_Preferences_masterVolume",
            json!({"value": 101}),
        )
        .await;
    assert_eq!(r.body["error"], "Value for setting Accounts_Default_User_Preferences_masterVolume must be less than or equal to 100 [error-invalid-setting-value]");
    sim.shutdown().await;
}

// permissions.ts [/permissions.listAll] > it('should return an array with update and remove
// properties'), it('should return an array with update and remov properties when search by
// "updatedSince" query parameter'), it('should return an error when updatedSince query parameter
// is not a valid ISODate string')
#[tokio::test]
async fn permissions_list_all() {
    let sim = start().await;
    let admin = admin(&sim);
    let r = admin.get("permissions.listAll").await;
    assert_ok(&r);
    assert!(r.body["update"].is_array() && r.body["remove"].is_array());
    let r = admin
        .get("permissions.listAll?updatedSince=2018-11-27T13:52:01Z")
        .await;
    assert_ok(&r);
    assert_400(&admin.get("permissions.listAll?updatedSince=fsafdf").await);
    sim.shutdown().await;
}

// permissions.ts [/permissions.update] > it('should change the permission roles'), it('should 400
// when trying to set an unknown permission'), it('should 400 when trying to assign a permission to
// an unknown role'), it('should 400 when trying to set permissions to a string'), it('should 403
// when trying to update permissions without the access-permissions permission')
#[tokio::test]
async fn permissions_update() {
    let sim = start().await;
    let admin = admin(&sim);
    let user = human(&sim, "plain");
    let r = admin
        .post(
            "permissions.update",
            json!({"permissions": [{"_id": "pin-message", "roles": ["admin", "user"]}]}),
        )
        .await;
    assert_ok(&r);
    let pin = r.body["permissions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["_id"] == "pin-message")
        .unwrap()
        .clone();
    assert_eq!(pin["roles"], json!(["admin", "user"]));
    assert!(pin["_updatedAt"].is_string());
    assert_400(
        &admin
            .post(
                "permissions.update",
                json!({"permissions": [{"_id": "this-is-not-a-permission", "roles": ["admin"]}]}),
            )
            .await,
    );
    assert_400(
        &admin
            .post(
                "permissions.update",
                json!({"permissions": [{"_id": "pin-message", "roles": ["this-is-not-a-role"]}]}),
            )
            .await,
    );
    assert_400(
        &admin
            .post(
                "permissions.update",
                json!({"permissions": "this is not an array"}),
            )
            .await,
    );
    let r = user
        .post(
            "permissions.update",
            json!({"permissions": [{"_id": "pin-message", "roles": ["admin"]}]}),
        )
        .await;
    assert_eq!(r.status, 403);
    sim.shutdown().await;
}

// permissions.ts [/permissions.addRole] > it('should 401 when not logged in'), it('should 400 for
// an unknown permission'), it('should 400 for an unknown role'), it('should 403 without the
// access-permissions permission'), it('should add the role' (listAll shows it));
// [/permissions.removeRole] > it('should 401 when not logged in'), it('should 403 without the
// access-permissions permission'), it('should remove the role')
#[tokio::test]
async fn permissions_add_and_remove_role() {
    let sim = start().await;
    let admin = admin(&sim);
    let user = human(&sim, "plain");
    for route in ["permissions.addRole", "permissions.removeRole"] {
        let r = http(
            &sim,
            "POST",
            &format!("/api/v1/{route}"),
            None,
            Some(json!({"permissionId": "pin-message", "role": "user"})),
        )
        .await;
        assert_eq!(r.status, 401);
        let r = user
            .post(
                route,
                json!({"permissionId": "pin-message", "role": "user"}),
            )
            .await;
        assert_eq!(r.status, 403);
    }
    assert_400(
        &admin
            .post(
                "permissions.addRole",
                json!({"permissionId": "nope", "role": "user"}),
            )
            .await,
    );
    assert_400(
        &admin
            .post(
                "permissions.addRole",
                json!({"permissionId": "pin-message", "role": "nope"}),
            )
            .await,
    );
    let roles = |r: &common::Resp| {
        r.body["update"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["_id"] == "pin-message")
            .unwrap()["roles"]
            .clone()
    };
    assert_ok(
        &admin
            .post(
                "permissions.addRole",
                json!({"permissionId": "pin-message", "role": "guest"}),
            )
            .await,
    );
    assert!(roles(&admin.get("permissions.listAll").await)
        .as_array()
        .unwrap()
        .contains(&json!("guest")));
    assert_ok(
        &admin
            .post(
                "permissions.removeRole",
                json!({"permissionId": "pin-message", "role": "guest"}),
            )
            .await,
    );
    assert!(!roles(&admin.get("permissions.listAll").await)
        .as_array()
        .unwrap()
        .contains(&json!("guest")));
    sim.shutdown().await;
}
