//! Cases of Rocket.Chat's `apps/meteor/tests/end-to-end/api/channels.ts` (stored version
//! 03171a3d, 141 499 chars; the 8.2.0 tag could not be pinned, see UPSTREAM.md), restated
//! against the simulator. Each test names the upstream `describe` > `it` it mirrors.
//! The `it('...')` texts paraphrase the upstream titles (the cases and their behaviour are
//! exact, the wording may not be); `describe` names are the upstream routes they test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use serde_json::{json, Value};

async fn info(api: &Api<'_>, rid: &str) -> Value {
    let r = api.get(&format!("channels.info?roomId={rid}")).await;
    assert_ok(&r);
    r.body["channel"].clone()
}

fn msgs(room: &Value) -> u64 {
    room["msgs"].as_u64().unwrap()
}

// The top-level its of channels.ts, in their order: 'channels.invite', 'channels.addModerator',
// 'channels.addModerator should fail with missing room Id', '... missing user Id',
// 'channels.removeModerator', '... should fail on invalid room id', '... invalid user id',
// 'channels.addOwner', 'channels.removeOwner', 'channels.kick', 'channels.invite' (again),
// 'channels.addOwner' (again), 'channels.rename', 'channels.addLeader', 'channels.removeLeader',
// 'channels.setJoinCode', 'channels.setReadOnly', 'channels.leave'. System messages count in
// `msgs`: invite (au), kick (ru), rename (r), setReadOnly (room-set-read-only) and leave (ul)
// add one each; setJoinCode adds none.
#[tokio::test]
async fn the_channel_lifecycle_of_the_top_level_cases() {
    let sim = start().await;
    let admin = admin(&sim);
    let rid = id_of(&create_room(&admin, "c", "channel.test", json!({})).await);
    let cat = "rocket.cat";
    let r = admin
        .post("channels.invite", json!({"roomId": rid, "userId": cat}))
        .await;
    assert_ok(&r);
    assert_eq!(r.body["channel"]["_id"], json!(rid));
    assert_eq!(msgs(&r.body["channel"]), 1);
    assert_ok(
        &admin
            .post(
                "channels.addModerator",
                json!({"roomId": rid, "userId": cat}),
            )
            .await,
    );
    assert_400(
        &admin
            .post("channels.addModerator", json!({"userId": cat}))
            .await,
    );
    assert_400(
        &admin
            .post("channels.addModerator", json!({"roomId": rid}))
            .await,
    );
    assert_ok(
        &admin
            .post(
                "channels.removeModerator",
                json!({"roomId": rid, "userId": cat}),
            )
            .await,
    );
    assert_400(
        &admin
            .post(
                "channels.removeModerator",
                json!({"roomId": "invalid", "userId": cat}),
            )
            .await,
    );
    assert_400(
        &admin
            .post(
                "channels.removeModerator",
                json!({"roomId": rid, "userId": "invalid"}),
            )
            .await,
    );
    assert_ok(
        &admin
            .post("channels.addOwner", json!({"roomId": rid, "userId": cat}))
            .await,
    );
    assert_ok(
        &admin
            .post(
                "channels.removeOwner",
                json!({"roomId": rid, "userId": cat}),
            )
            .await,
    );
    let before = msgs(&info(&admin, &rid).await);
    let r = admin
        .post("channels.kick", json!({"roomId": rid, "userId": cat}))
        .await;
    assert_ok(&r);
    assert_eq!(r.body["channel"]["name"], "channel.test");
    assert_eq!(r.body["channel"]["t"], "c");
    assert_eq!(msgs(&r.body["channel"]), before + 1);
    let r = admin
        .post("channels.invite", json!({"roomId": rid, "userId": cat}))
        .await;
    assert_eq!(msgs(&r.body["channel"]), before + 2);
    assert_ok(
        &admin
            .post("channels.addOwner", json!({"roomId": rid, "userId": cat}))
            .await,
    );
    let before = msgs(&info(&admin, &rid).await);
    let r = admin
        .post(
            "channels.rename",
            json!({"roomId": rid, "name": "EDITED.channel.test"}),
        )
        .await;
    assert_ok(&r);
    assert_eq!(r.body["channel"]["name"], "EDITED.channel.test");
    assert_eq!(msgs(&r.body["channel"]), before + 1);
    assert_ok(
        &admin
            .post("channels.addLeader", json!({"roomId": rid, "userId": cat}))
            .await,
    );
    assert_ok(
        &admin
            .post(
                "channels.removeLeader",
                json!({"roomId": rid, "userId": cat}),
            )
            .await,
    );
    let before = msgs(&info(&admin, &rid).await);
    let r = admin
        .post(
            "channels.setJoinCode",
            json!({"roomId": rid, "joinCode": "123"}),
        )
        .await;
    assert_ok(&r);
    assert_eq!(msgs(&r.body["channel"]), before);
    let r = admin
        .post(
            "channels.setReadOnly",
            json!({"roomId": rid, "readOnly": true}),
        )
        .await;
    assert_ok(&r);
    assert_eq!(msgs(&r.body["channel"]), before + 1);
    let r = admin.post("channels.leave", json!({"roomId": rid})).await;
    assert_ok(&r);
    assert_eq!(msgs(&r.body["channel"]), before + 2);
    sim.shutdown().await;
}

// [/channels.create] > it(`should return an error when trying to create a channel with a name
// that already exists`) (general)
#[tokio::test]
async fn create_refuses_a_taken_name() {
    let sim = start().await;
    let admin = admin(&sim);
    let r = admin
        .post("channels.create", json!({"name": "general"}))
        .await;
    assert_400(&r);
    assert_eq!(r.body["errorType"], "error-duplicate-channel-name");
    sim.shutdown().await;
}

// [/channels.info] > it('creating new channel...'), it('should fail to create the same channel
// twice'), it('should return channel basic structure'), it('sending a message...'), it('REACTing
// with last message'), it('STARring last message'), it('PINning last message'), it('should return
// channel structure with "lastMessage" object including pin, reactions and star(should be an
// array) infos')
#[tokio::test]
async fn info_last_message_keeps_reactions_stars_and_pins() {
    let sim = start().await;
    let admin = admin(&sim);
    let room = create_room(&admin, "c", "channel.info.test", json!({})).await;
    let rid = id_of(&room);
    let r = admin
        .post("channels.create", json!({"name": "channel.info.test"}))
        .await;
    assert!(r.body["error"]
        .as_str()
        .unwrap()
        .contains("error-duplicate-channel-name"));
    let c = info(&admin, &rid).await;
    assert_eq!(c["_id"], json!(rid));
    assert_eq!(c["name"], "channel.info.test");
    assert_eq!(c["t"], "c");
    assert_eq!(c["msgs"], 0);
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
    assert_eq!(last["_id"], json!(mid));
    assert!(last["reactions"].is_object());
    assert_eq!(last["pinned"], true);
    assert!(last["pinnedAt"].is_string());
    assert!(last["pinnedBy"].is_object());
    assert!(last["starred"].is_array());
    sim.shutdown().await;
}

// [/channels.info] > describe('Additional Visibility Tests') > it('Should not return a private
// group info to a member via channels.info'), it('... to a non-member'), it('Should return a public
// channel info to a member'), it('... to a non-member'); the same four for [/channels.members]
// and [/channels.moderators]
#[tokio::test]
async fn channels_routes_do_not_see_groups_but_see_public_rooms() {
    let sim = start().await;
    let admin = admin(&sim);
    let member = human(&sim, "member");
    let outsider = human(&sim, "outsider");
    let group = id_of(&create_room(&admin, "p", "a-group", json!({"members": ["member"]})).await);
    let channel =
        id_of(&create_room(&admin, "c", "a-channel", json!({"members": ["member"]})).await);
    for route in ["channels.info", "channels.members", "channels.moderators"] {
        for who in [&member, &outsider] {
            let r = who.get(&format!("{route}?roomId={group}")).await;
            assert_400(&r);
            assert_eq!(r.body["errorType"], "error-room-not-found", "{route}");
            let r = who.get(&format!("{route}?roomId={channel}")).await;
            assert_ok(&r);
        }
    }
    sim.shutdown().await;
}

// [/channels.join] > it('should fail if invalid channel'), describe('code-free channel') >
// it('should succeed when joining code-free channel without join code'), describe('code-needed
// channel') > describe('without join-without-join-code permission') > it('should fail when
// joining code-needed channel without join code and no join-without-join-code permission'),
// it('should fail when joining code-needed channel with incorrect join code and no
// join-without-join-code permission'), it('should succeed when joining code-needed channel with
// join code'); describe('with join-without-join-code permission') > it('should succeed when
// joining code-needed channel without join code and with join-without-join-code permission')
#[tokio::test]
async fn join_codes_and_their_permission() {
    let sim = start().await;
    let admin = admin(&sim);
    let user = human(&sim, "joiner");
    let r = user
        .post("channels.join", json!({"roomId": "invalid"}))
        .await;
    assert_eq!(r.body["errorType"], "error-room-not-found");
    let free = id_of(&create_room(&admin, "c", "code-free", json!({})).await);
    let r = user.post("channels.join", json!({"roomId": free})).await;
    assert_ok(&r);
    assert_eq!(r.body["channel"]["_id"], json!(free));
    let coded = id_of(&create_room(&admin, "c", "code-needed", json!({})).await);
    assert_ok(
        &admin
            .post(
                "channels.setJoinCode",
                json!({"roomId": coded, "joinCode": "123"}),
            )
            .await,
    );
    set_permission(&admin, "join-without-join-code", &[]).await;
    let r = user.post("channels.join", json!({"roomId": coded})).await;
    assert_eq!(r.body["errorType"], "error-code-required");
    let r = user
        .post(
            "channels.join",
            json!({"roomId": coded, "joinCode": "WRONG"}),
        )
        .await;
    assert_eq!(r.body["errorType"], "error-code-invalid");
    assert_ok(
        &user
            .post("channels.join", json!({"roomId": coded, "joinCode": "123"}))
            .await,
    );
    assert_ok(&user.post("channels.leave", json!({"roomId": coded})).await);
    set_permission(&admin, "join-without-join-code", &["admin", "user"]).await;
    assert_ok(&user.post("channels.join", json!({"roomId": coded})).await);
    sim.shutdown().await;
}

// [/channels.setDescription], [/channels.setTopic], [/channels.setAnnouncement],
// [/channels.setPurpose]: each it('should set the X of the channel with a string') and it('... with
// an empty string(remove the X)')
#[tokio::test]
async fn text_setters_echo_the_value() {
    let sim = start().await;
    let admin = admin(&sim);
    let rid = id_of(&create_room(&admin, "c", "texts", json!({})).await);
    for (route, key) in [
        ("channels.setDescription", "description"),
        ("channels.setTopic", "topic"),
        ("channels.setAnnouncement", "announcement"),
        ("channels.setPurpose", "purpose"),
    ] {
        for text in ["this is a text for testing", ""] {
            let r = admin.post(route, json!({"roomId": rid, key: text})).await;
            assert_ok(&r);
            assert_eq!(r.body[key], text, "{route}");
        }
    }
    sim.shutdown().await;
}

// [/channels.history] > it('should return an array of members by channel'), it('should return an
// array of members by channel even requested with count and offset params')
#[tokio::test]
async fn history_lists_messages() {
    let sim = start().await;
    let admin = admin(&sim);
    let rid = id_of(&create_room(&admin, "c", "history", json!({})).await);
    admin
        .post(
            "chat.sendMessage",
            json!({"message": {"rid": rid, "msg": "one"}}),
        )
        .await;
    for q in ["", "&count=5&offset=0"] {
        let r = admin
            .get(&format!("channels.history?roomId={rid}{q}"))
            .await;
        assert_ok(&r);
        assert!(r.body["messages"].is_array());
    }
    sim.shutdown().await;
}

// [/channels.members] > it('should return an array of members by channel'), it('should return an
// array of members by channel even requested with count and offset params'), it('should return
// an filtered array of members by channel')
#[tokio::test]
async fn members_list_pages_and_filters() {
    let sim = start().await;
    let admin = admin(&sim);
    let user = human(&sim, "member1");
    let rid = id_of(&create_room(&admin, "c", "members", json!({"members": ["member1"]})).await);
    let r = admin.get(&format!("channels.members?roomId={rid}")).await;
    assert_ok(&r);
    assert_eq!(r.body["count"], 2);
    assert_eq!(r.body["total"], 2);
    assert_eq!(r.body["offset"], 0);
    let r = admin
        .get(&format!("channels.members?roomId={rid}&count=1&offset=0"))
        .await;
    assert_eq!(r.body["members"].as_array().unwrap().len(), 1);
    assert_eq!(r.body["total"], 2);
    let r = admin
        .get(&format!("channels.members?roomId={rid}&filter=member1"))
        .await;
    assert_eq!(r.body["count"], 1);
    assert_eq!(r.body["members"][0]["_id"], json!(user.uid));
    sim.shutdown().await;
}

// [/channels.setCustomFields] > it('create channel with customFields'), it('change customFields'),
// it('get customFields using channels.info'), it('delete channels with customFields'), it('create
// channel without customFields'), it('set customFields with one nested field'), it('set
// customFields with multiple nested fields'), it('set customFields to empty object'), it('set
// customFields as a string -> should return 400'), it('delete channel with empty customFields')
#[tokio::test]
async fn custom_fields_are_replaced_and_validated() {
    let sim = start().await;
    let admin = admin(&sim);
    let rid = id_of(
        &create_room(
            &admin,
            "c",
            "cf-room",
            json!({"customFields": {"field0": "value0"}}),
        )
        .await,
    );
    assert_eq!(info(&admin, &rid).await["customFields"]["field0"], "value0");
    let r = admin
        .post(
            "channels.setCustomFields",
            json!({"roomId": rid, "customFields": {"field9": "value9"}}),
        )
        .await;
    assert_ok(&r);
    assert_eq!(
        r.body["channel"]["customFields"],
        json!({"field9": "value9"})
    );
    assert_eq!(
        info(&admin, &rid).await["customFields"],
        json!({"field9": "value9"})
    );
    assert_ok(
        &admin
            .post("channels.delete", json!({"roomName": "cf-room"}))
            .await,
    );
    let rid = id_of(&create_room(&admin, "c", "cf-room2", json!({})).await);
    assert!(info(&admin, &rid).await.get("customFields").is_none());
    let r = admin
        .post(
            "channels.setCustomFields",
            json!({"roomId": rid, "customFields": {"field1": "value1"}}),
        )
        .await;
    assert_eq!(
        r.body["channel"]["customFields"],
        json!({"field1": "value1"})
    );
    let many = json!({"field2": "value2", "field3": "value3", "field4": "value4"});
    let r = admin
        .post(
            "channels.setCustomFields",
            json!({"roomName": "cf-room2", "customFields": many}),
        )
        .await;
    assert_eq!(r.body["channel"]["customFields"], many);
    let r = admin
        .post(
            "channels.setCustomFields",
            json!({"roomName": "cf-room2", "customFields": {}}),
        )
        .await;
    assert_ok(&r);
    assert_eq!(r.body["channel"]["customFields"], json!({}));
    let r = admin
        .post(
            "channels.setCustomFields",
            json!({"roomName": "cf-room2", "customFields": "a string"}),
        )
        .await;
    assert_400(&r);
    assert_ok(
        &admin
            .post("channels.delete", json!({"roomName": "cf-room2"}))
            .await,
    );
    sim.shutdown().await;
}

// [/channels.setDefault] > it('should set channel as default'), it('should unset channel as
// default') (no system message)
#[tokio::test]
async fn set_default_posts_nothing() {
    let sim = start().await;
    let admin = admin(&sim);
    let rid = id_of(&create_room(&admin, "c", "default-room", json!({})).await);
    let before = msgs(&info(&admin, &rid).await);
    for value in [true, false] {
        let r = admin
            .post(
                "channels.setDefault",
                json!({"roomId": rid, "default": value}),
            )
            .await;
        assert_ok(&r);
        assert_eq!(r.body["channel"]["default"], value);
        assert_eq!(msgs(&r.body["channel"]), before);
    }
    sim.shutdown().await;
}

// [/channels.delete] > it('/channels.delete:'), it('/channels.info:') (the deleted channel is
// error-room-not-found)
#[tokio::test]
async fn delete_by_name_then_info_fails() {
    let sim = start().await;
    let admin = admin(&sim);
    create_room(&admin, "c", "to-delete", json!({})).await;
    assert_ok(
        &admin
            .post("channels.delete", json!({"roomName": "to-delete"}))
            .await,
    );
    let r = admin.get("channels.info?roomName=to-delete").await;
    assert_eq!(r.body["errorType"], "error-room-not-found");
    sim.shutdown().await;
}

// [/channels.roles] > it('/channels.invite'), it('/channels.addModerator'), it('/channels.addLeader'),
// it('should return an array of role <-> user relationships in a channel')
#[tokio::test]
async fn roles_lists_room_roles() {
    let sim = start().await;
    let admin = admin(&sim);
    let rid = id_of(&create_room(&admin, "c", "roles-room", json!({})).await);
    assert_ok(
        &admin
            .post(
                "channels.invite",
                json!({"roomId": rid, "userId": "rocket.cat"}),
            )
            .await,
    );
    assert_ok(
        &admin
            .post(
                "channels.addModerator",
                json!({"roomId": rid, "userId": "rocket.cat"}),
            )
            .await,
    );
    assert_ok(
        &admin
            .post(
                "channels.addLeader",
                json!({"roomId": rid, "userId": "rocket.cat"}),
            )
            .await,
    );
    let r = admin.get(&format!("channels.roles?roomId={rid}")).await;
    assert_ok(&r);
    let roles = r.body["roles"].as_array().unwrap();
    assert_eq!(roles.len(), 2);
    let cat = roles
        .iter()
        .find(|x| x["u"]["username"] == "rocket.cat")
        .unwrap();
    assert_eq!(cat["roles"], json!(["moderator", "leader"]));
    assert_eq!(cat["rid"], json!(rid));
    let owner = roles
        .iter()
        .find(|x| x["u"]["username"] == "admin")
        .unwrap();
    assert_eq!(owner["roles"], json!(["owner"]));
    sim.shutdown().await;
}

// [/channels.moderators] > it('/channels.invite'), it('/channels.addModerator'), it('should return
// an array of moderators with rocket.cat as a moderator')
#[tokio::test]
async fn moderators_lists_moderators() {
    let sim = start().await;
    let admin = admin(&sim);
    let rid = id_of(&create_room(&admin, "c", "mods-room", json!({})).await);
    assert_ok(
        &admin
            .post(
                "channels.invite",
                json!({"roomId": rid, "userId": "rocket.cat"}),
            )
            .await,
    );
    assert_ok(
        &admin
            .post(
                "channels.addModerator",
                json!({"roomId": rid, "userId": "rocket.cat"}),
            )
            .await,
    );
    let r = admin
        .get(&format!("channels.moderators?roomId={rid}"))
        .await;
    assert_ok(&r);
    assert_eq!(r.body["moderators"][0]["username"], "rocket.cat");
    assert_eq!(r.body["moderators"].as_array().unwrap().len(), 1);
    sim.shutdown().await;
}
