//! Cases of Rocket.Chat's `apps/meteor/tests/end-to-end/api/groups.ts` (stored version
//! 067c12fe, 72 826 chars; the 8.2.0 tag could not be pinned, see UPSTREAM.md), restated
//! against the simulator. Each test names the upstream `describe` > `it` it mirrors.
//! The `it('...')` texts paraphrase the upstream titles (the cases and their behaviour are
//! exact, the wording may not be); `describe` names are the upstream routes they test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use serde_json::{json, Value};

async fn info(api: &Api<'_>, rid: &str) -> Value {
    let r = api.get(&format!("groups.info?roomId={rid}")).await;
    assert_ok(&r);
    r.body["group"].clone()
}

// /groups.create > it('should not create a group with the same name of an existing one (general)')
#[tokio::test]
async fn create_refuses_a_taken_name() {
    let sim = start().await;
    let admin = admin(&sim);
    let r = admin
        .post("groups.create", json!({"name": "general"}))
        .await;
    assert_eq!(r.body["errorType"], "error-duplicate-channel-name");
    sim.shutdown().await;
}

// /groups.info > it('should return group basic structure'), it('sending a message...'), it('REACTing
// with last message'), it('STARring last message'), it('PINning last message'), it('should return
// group structure with "lastMessage" object including pin, reactions and star(should be an array)
// infos')
#[tokio::test]
async fn info_and_last_message() {
    let sim = start().await;
    let admin = admin(&sim);
    let rid = id_of(&create_room(&admin, "p", "group.test", json!({})).await);
    let g = info(&admin, &rid).await;
    assert_eq!(g["name"], "group.test");
    assert_eq!(g["t"], "p");
    assert_eq!(g["msgs"], 0);
    let r = admin
        .post(
            "chat.sendMessage",
            json!({"message": {"rid": rid, "msg": "Sample message"}}),
        )
        .await;
    let mid = r.body["message"]["_id"].as_str().unwrap().to_owned();
    assert_ok(
        &admin
            .post("chat.react", json!({"emoji": "smile", "messageId": mid}))
            .await,
    );
    assert_ok(
        &admin
            .post("chat.starMessage", json!({"messageId": mid}))
            .await,
    );
    assert_ok(
        &admin
            .post("chat.pinMessage", json!({"messageId": mid}))
            .await,
    );
    let last = info(&admin, &rid).await["lastMessage"].clone();
    assert!(last["reactions"].is_object());
    assert_eq!(last["pinned"], true);
    assert!(last["pinnedAt"].is_string());
    assert!(last["pinnedBy"].is_object());
    assert!(last["starred"].is_array());
    sim.shutdown().await;
}

// /groups.invite, /groups.addModerator, /groups.removeModerator, /groups.addOwner,
// /groups.removeOwner, /groups.addLeader, /groups.removeLeader: one it each
#[tokio::test]
async fn invite_and_room_roles() {
    let sim = start().await;
    let admin = admin(&sim);
    let user = human(&sim, "member");
    let rid = id_of(&create_room(&admin, "p", "roles-group", json!({})).await);
    let r = admin
        .post("groups.invite", json!({"roomId": rid, "userId": user.uid}))
        .await;
    assert_ok(&r);
    assert_eq!(r.body["group"]["msgs"], 1);
    for route in [
        "groups.addModerator",
        "groups.removeModerator",
        "groups.addOwner",
        "groups.removeOwner",
        "groups.addLeader",
        "groups.removeLeader",
    ] {
        assert_ok(
            &admin
                .post(route, json!({"roomId": rid, "userId": user.uid}))
                .await,
        );
    }
    sim.shutdown().await;
}

// /groups.kick > it("should not be able to kick if the user isn't a member of the room and has no
// kick-user-from-any-p-room permission"), it('should be able to kick a user as a moderator'),
// it('should be able to kick a user as an owner'), it('should be able to kick a user as an admin
// with kick-user-from-any-p-room permission'), it('should not be able to kick a user as an owner
// without remove-user permission'), it('should not be able to kick the last owner')
#[tokio::test]
async fn kick_rules() {
    let sim = start().await;
    let admin = admin(&sim);
    let owner = human(&sim, "owner");
    let moderator = human(&sim, "moderator");
    let victim = human(&sim, "victim");
    let rid = id_of(
        &create_room(
            &owner,
            "p",
            "kick-group",
            json!({"members": ["moderator", "victim"]}),
        )
        .await,
    );
    assert_ok(
        &owner
            .post(
                "groups.addModerator",
                json!({"roomId": rid, "userId": moderator.uid}),
            )
            .await,
    );
    let r = admin
        .post("groups.kick", json!({"roomId": rid, "userId": victim.uid}))
        .await;
    assert_eq!(r.body["errorType"], "error-room-not-found");
    assert_ok(
        &moderator
            .post("groups.kick", json!({"roomId": rid, "userId": victim.uid}))
            .await,
    );
    assert_ok(
        &owner
            .post(
                "groups.invite",
                json!({"roomId": rid, "userId": victim.uid}),
            )
            .await,
    );
    assert_ok(
        &owner
            .post("groups.kick", json!({"roomId": rid, "userId": victim.uid}))
            .await,
    );
    assert_ok(
        &owner
            .post(
                "groups.invite",
                json!({"roomId": rid, "userId": victim.uid}),
            )
            .await,
    );
    set_permission(&admin, "kick-user-from-any-p-room", &["admin"]).await;
    assert_ok(
        &admin
            .post("groups.kick", json!({"roomId": rid, "userId": victim.uid}))
            .await,
    );
    assert_ok(
        &owner
            .post(
                "groups.invite",
                json!({"roomId": rid, "userId": victim.uid}),
            )
            .await,
    );
    set_permission(&admin, "remove-user", &["admin", "moderator"]).await;
    let r = owner
        .post("groups.kick", json!({"roomId": rid, "userId": victim.uid}))
        .await;
    assert_eq!(r.body["errorType"], "error-not-allowed");
    let r = moderator
        .post("groups.kick", json!({"roomId": rid, "userId": owner.uid}))
        .await;
    assert_eq!(r.body["errorType"], "error-you-are-last-owner");
    sim.shutdown().await;
}

// /groups.setDescription, /groups.setTopic, /groups.setPurpose, /groups.setAnnouncement: it('should
// set the X of the group with a string') and it('... with an empty string(remove the X)')
#[tokio::test]
async fn text_setters_echo_the_value() {
    let sim = start().await;
    let admin = admin(&sim);
    let rid = id_of(&create_room(&admin, "p", "texts-group", json!({})).await);
    for (route, key) in [
        ("groups.setDescription", "description"),
        ("groups.setTopic", "topic"),
        ("groups.setPurpose", "purpose"),
        ("groups.setAnnouncement", "announcement"),
    ] {
        for text in ["this is a text for testing", ""] {
            let r = admin.post(route, json!({"roomId": rid, key: text})).await;
            assert_ok(&r);
            assert_eq!(r.body[key], text);
        }
    }
    sim.shutdown().await;
}

// /groups.history > it('should return groups history when searching by roomId'), it('should return
// groups history when searching by roomId even requested with count and offset params');
// /groups.members > it('should return group members'), it('should return group members even
// requested with count and offset params')
#[tokio::test]
async fn history_and_members() {
    let sim = start().await;
    let admin = admin(&sim);
    human(&sim, "member");
    let rid = id_of(&create_room(&admin, "p", "hist-group", json!({"members": ["member"]})).await);
    admin
        .post(
            "chat.sendMessage",
            json!({"message": {"rid": rid, "msg": "one"}}),
        )
        .await;
    for q in ["", "&count=5&offset=0"] {
        let r = admin.get(&format!("groups.history?roomId={rid}{q}")).await;
        assert_ok(&r);
        assert!(!r.body["messages"].as_array().unwrap().is_empty());
        let r = admin.get(&format!("groups.members?roomId={rid}{q}")).await;
        assert_ok(&r);
        assert_eq!(r.body["total"], 2);
    }
    sim.shutdown().await;
}

// /groups.rename > it('should return the group rename'); /groups.setReadOnly > it('should set the
// group as read only')
#[tokio::test]
async fn rename_and_read_only() {
    let sim = start().await;
    let admin = admin(&sim);
    let rid = id_of(&create_room(&admin, "p", "old-name", json!({})).await);
    let r = admin
        .post("groups.rename", json!({"roomId": rid, "name": "new-name"}))
        .await;
    assert_ok(&r);
    assert_eq!(r.body["group"]["name"], "new-name");
    let r = admin
        .post(
            "groups.setReadOnly",
            json!({"roomId": rid, "readOnly": true}),
        )
        .await;
    assert_ok(&r);
    assert_eq!(r.body["group"]["ro"], true);
    sim.shutdown().await;
}

// /groups.setCustomFields: it('create group with customFields'), it('change customFields'), it('get
// customFields using groups.info'), it('set customFields with one nested field'), it('set
// customFields with multiple nested fields'), it('set customFields to empty object'), it('set
// customFields as a string -> should return 400')
#[tokio::test]
async fn custom_fields() {
    let sim = start().await;
    let admin = admin(&sim);
    let rid = id_of(
        &create_room(
            &admin,
            "p",
            "cf-group",
            json!({"customFields": {"field0": "value0"}}),
        )
        .await,
    );
    assert_eq!(info(&admin, &rid).await["customFields"]["field0"], "value0");
    for cf in [
        json!({"field9": "value9"}),
        json!({"field1": "value1"}),
        json!({"field2": "value2", "field3": "value3"}),
        json!({}),
    ] {
        let r = admin
            .post(
                "groups.setCustomFields",
                json!({"roomId": rid, "customFields": cf}),
            )
            .await;
        assert_ok(&r);
        assert_eq!(r.body["group"]["customFields"], cf);
        assert_eq!(info(&admin, &rid).await["customFields"], cf);
    }
    assert_400(
        &admin
            .post(
                "groups.setCustomFields",
                json!({"roomId": rid, "customFields": "x"}),
            )
            .await,
    );
    sim.shutdown().await;
}

// /groups.delete > it('should delete group'), it('should return group not found') (after deletion)
#[tokio::test]
async fn delete_then_not_found() {
    let sim = start().await;
    let admin = admin(&sim);
    let rid = id_of(&create_room(&admin, "p", "doomed-group", json!({})).await);
    assert_ok(
        &admin
            .post("groups.delete", json!({"roomName": "doomed-group"}))
            .await,
    );
    let r = admin.get(&format!("groups.info?roomId={rid}")).await;
    assert_eq!(r.body["errorType"], "error-room-not-found");
    sim.shutdown().await;
}

// /groups.roles > it('/groups.invite'), it('/groups.addModerator'), it('/groups.addLeader'),
// it('should return an array of roles <-> user relationships in a private group');
// /groups.moderators > it('/groups.invite'), it('/groups.addModerator'), it('should return an array
// of moderators with rocket.cat as a moderator')
#[tokio::test]
async fn roles_and_moderators() {
    let sim = start().await;
    let admin = admin(&sim);
    let rid = id_of(&create_room(&admin, "p", "roles-group", json!({})).await);
    assert_ok(
        &admin
            .post(
                "groups.invite",
                json!({"roomId": rid, "userId": "rocket.cat"}),
            )
            .await,
    );
    assert_ok(
        &admin
            .post(
                "groups.addModerator",
                json!({"roomId": rid, "userId": "rocket.cat"}),
            )
            .await,
    );
    assert_ok(
        &admin
            .post(
                "groups.addLeader",
                json!({"roomId": rid, "userId": "rocket.cat"}),
            )
            .await,
    );
    let r = admin.get(&format!("groups.roles?roomId={rid}")).await;
    assert_eq!(r.body["roles"].as_array().unwrap().len(), 2);
    let r = admin.get(&format!("groups.moderators?roomId={rid}")).await;
    assert_eq!(r.body["moderators"][0]["username"], "rocket.cat");
    sim.shutdown().await;
}
