//! Cases of Rocket.Chat's `apps/meteor/tests/end-to-end/api/miscellaneous.ts` (stored version
//! 0037f042, 27 203 chars) restated against the simulator. See UPSTREAM.md.
//! The `it('...')` texts paraphrase the upstream titles (the cases and their behaviour are
//! exact, the wording may not be); `describe` names are the upstream routes they test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use serde_json::{json, Value};

// [/info] > it('should return "version", "build", "commit" and "marketplaceApiVersion" when the
// user is logged in'), it('should return only "version" and the version should not have patch info
// when the user is not logged in')
#[tokio::test]
async fn api_info_versions() {
    let sim = start().await;
    let admin = admin(&sim);
    let r = http(
        &sim,
        "GET",
        "/api/info",
        Some((&admin.uid, &admin.token)),
        None,
    )
    .await;
    assert_ok(&r);
    assert!(r.body["version"].is_string());
    assert!(r.body["info"]["version"].is_string());
    assert!(r.body["info"]["build"].is_object());
    assert!(r.body["info"]["commit"].is_object());
    assert!(r.body["info"]["marketplaceApiVersion"].is_string());
    let r = http(&sim, "GET", "/api/info", None, None).await;
    assert_eq!(r.body["version"], "8.2");
    assert!(r.body.get("info").is_none());
    sim.shutdown().await;
}

async fn login(sim: &rocketchat_sim::SimHandle, body: Value) -> common::Resp {
    http(sim, "POST", "/api/v1/login", None, Some(body)).await
}

// [/login] > it('should be able to login with username and password (wrapper)' ({user: {username}})),
// it('... with email and password (wrapper)' ({user: {email}})), it('... with email and password'
// ({user: email})), it('... with username and password' ({username}))
#[tokio::test]
async fn login_shapes() {
    let sim = start().await;
    for body in [
        json!({"user": {"username": "admin"}, "password": "admin"}),
        json!({"user": {"email": "admin@example.invalid"}, "password": "admin"}),
        json!({"user": "admin@example.invalid", "password": "admin"}),
        json!({"username": "admin", "password": "admin"}),
    ] {
        let r = login(&sim, body.clone()).await;
        assert_eq!(r.status, 200, "{body}");
        assert_eq!(r.body["status"], "success");
        assert!(r.body["data"]["userId"].is_string());
        assert!(r.body["data"]["authToken"].is_string());
        assert_eq!(r.body["data"]["me"]["username"], "admin");
    }
    let r = login(&sim, json!({"username": "admin", "password": "wrong"})).await;
    assert_eq!(r.status, 401);
    sim.shutdown().await;
}

const PREFERENCE_KEYS: &[&str] = &[
    "alsoSendThreadToChannel",
    "newRoomNotification",
    "newMessageNotification",
    "showThreadsInMainChannel",
    "useEmojis",
    "convertAsciiEmoji",
    "saveMobileBandwidth",
    "collapseMediaByDefault",
    "autoImageLoad",
    "emailNotificationMode",
    "unreadAlert",
    "notificationsSoundVolume",
    "omnichannelTranscriptEmail",
    "desktopNotifications",
    "pushNotifications",
    "enableAutoAway",
    "desktopNotificationRequireInteraction",
    "hideUsernames",
    "hideRoles",
    "displayAvatars",
    "hideFlexTab",
    "sendOnEnter",
    "idleTimeLimit",
    "sidebarShowFavorites",
    "sidebarShowUnread",
    "themeAppearence",
    "sidebarSortby",
    "sidebarViewMode",
    "sidebarDisplayAvatar",
    "sidebarGroupByType",
    "sidebarSectionsOrder",
    "muteFocusedConversations",
    "notifyCalendarEvents",
    "enableMobileRinging",
    "featuresPreview",
];

// [/me] > it('should return the user information')
#[tokio::test]
async fn me_has_the_preference_keys() {
    let sim = start().await;
    let admin = admin(&sim);
    let r = admin.get("me").await;
    assert_ok(&r);
    for key in ["_id", "username", "active", "name", "roles"] {
        assert!(r.body.get(key).is_some(), "{key}");
    }
    assert!(r.body["emails"][0]["address"].is_string());
    let mut got: Vec<&str> = r.body["settings"]["preferences"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    got.sort_unstable();
    let mut want = PREFERENCE_KEYS.to_vec();
    want.sort_unstable();
    assert_eq!(got, want);
    assert!(r.body.pointer("/services/password/bcrypt").is_none());
    sim.shutdown().await;
}
