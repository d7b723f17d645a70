//! Cases of Rocket.Chat's `apps/meteor/tests/end-to-end/api/rooms.ts` (stored version
//! 02064cfd, 165 660 chars; the 8.2.0 tag could not be pinned, see UPSTREAM.md), restated
//! against the simulator. Each test names the upstream `describe` > `it` it mirrors.
//! The `it('...')` texts paraphrase the upstream titles (the cases and their behaviour are
//! exact, the wording may not be); `describe` names are the upstream routes they test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use bytes::Bytes;
use common::*;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use rocketchat_sim::SimHandle;
use serde_json::{json, Value};
use tokio::net::TcpStream;

async fn set_setting(admin: &Api<'_>, id: &str, value: Value) {
    assert_ok(
        &admin
            .post(&format!("settings/{id}"), json!({"value": value}))
            .await,
    );
}

async fn set_permission(admin: &Api<'_>, id: &str, roles: &[&str]) {
    let r = admin
        .post(
            "permissions.update",
            json!({"permissions": [{"_id": id, "roles": roles}]}),
        )
        .await;
    assert_ok(&r);
}

async fn create(api: &Api<'_>, kind: &str, name: &str) -> Value {
    let route = if kind == "c" {
        "channels.create"
    } else {
        "groups.create"
    };
    let key = if kind == "c" { "channel" } else { "group" };
    let r = api.post(route, json!({"name": name})).await;
    assert_ok(&r);
    r.body[key].clone()
}

fn id(v: &Value) -> String {
    v["_id"].as_str().unwrap().to_owned()
}

// rooms.get > it('should return an array of rooms'), it('should return an array of rooms when
// updatedSince is provided') (update and remove empty for "now")
#[tokio::test]
async fn rooms_get_lists_and_filters_by_date() {
    let sim = start().await;
    let admin = admin(&sim);
    create(&admin, "c", "a-room").await;
    let r = admin.get("rooms.get").await;
    assert_ok(&r);
    assert!(!r.body["update"].as_array().unwrap().is_empty());
    assert!(r.body["remove"].is_array());
    let r = admin
        .get("rooms.get?updatedSince=2999-01-01T00:00:00.000Z")
        .await;
    assert_eq!(r.body["update"], json!([]));
    assert_eq!(r.body["remove"], json!([]));
    sim.shutdown().await;
}

// ------------------------------------------------------------------ rooms.media

const BOUNDARY: &str = "----upstream-rooms-boundary";

async fn raw(
    sim: &SimHandle,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Vec<u8>,
) -> (u16, Bytes) {
    let stream = TcpStream::connect(sim.addr()).await.unwrap();
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(conn);
    let mut req = hyper::Request::builder()
        .method(method)
        .uri(path)
        .header("Host", sim.addr().to_string());
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let resp = sender
        .send_request(req.body(Full::new(Bytes::from(body))).unwrap())
        .await
        .unwrap();
    let status = resp.status().as_u16();
    (status, resp.into_body().collect().await.unwrap().to_bytes())
}

async fn media(sim: &SimHandle, api: &Api<'_>, rid: &str, field: &str) -> (u16, Value) {
    let mut body = format!(
        "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{field}\"; filename=\"1024x1024.png\"\r\nContent-Type: image/png\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(b"\x89PNG fake");
    body.extend_from_slice(format!("\r\n--{BOUNDARY}--\r\n").as_bytes());
    let ct = format!("multipart/form-data; boundary={BOUNDARY}");
    let (status, bytes) = raw(
        sim,
        "POST",
        &format!("/api/v1/rooms.media/{rid}"),
        &[
            ("X-User-Id", &api.uid),
            ("X-Auth-Token", &api.token),
            ("Content-Type", &ct),
        ],
        body,
    )
    .await;
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

// /rooms.media > it("don't upload a file to room with file field other than file")
#[tokio::test]
async fn media_field_must_be_file() {
    let sim = start().await;
    let admin = admin(&sim);
    let (status, body) = media(&sim, &admin, "GENERAL", "invalid").await;
    assert_eq!(status, 400);
    assert_eq!(body["errorType"], "invalid-field");
    assert_eq!(body["error"], "[invalid-field]");
    sim.shutdown().await;
}

// /rooms.media > it('should not upload more than one file at a time')
#[tokio::test]
async fn media_takes_one_file() {
    let sim = start().await;
    let admin = admin(&sim);
    let part = |name: &str| {
        format!(
            "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\nContent-Type: text/plain\r\n\r\nabc\r\n"
        )
    };
    let body = format!("{}{}--{BOUNDARY}--\r\n", part("a.txt"), part("b.txt")).into_bytes();
    let ct = format!("multipart/form-data; boundary={BOUNDARY}");
    let (status, bytes) = raw(
        &sim,
        "POST",
        "/api/v1/rooms.media/GENERAL",
        &[
            ("X-User-Id", &admin.uid),
            ("X-Auth-Token", &admin.token),
            ("Content-Type", &ct),
        ],
        body,
    )
    .await;
    assert_eq!(status, 400);
    let body: Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(body["errorType"], "error-too-many-files");
    sim.shutdown().await;
}

// /rooms.media > it('should not allow uploading a file with description over the limit'), it('should
// allow uploading a file with description under the limit') (Message_MaxAllowedSize 10; the
// description is checked by rooms.mediaConfirm)
#[tokio::test]
async fn media_description_size_follows_the_setting() {
    let sim = start().await;
    let admin = admin(&sim);
    set_setting(&admin, "Message_MaxAllowedSize", json!(10)).await;
    let (_, up) = media(&sim, &admin, "GENERAL", "file").await;
    let file = up["file"]["_id"].as_str().unwrap().to_owned();
    let r = admin
        .post(
            &format!("rooms.mediaConfirm/GENERAL/{file}"),
            json!({"description": "12345678901"}),
        )
        .await;
    assert_400(&r);
    assert_eq!(r.body["errorType"], "error-message-size-exceeded");
    let r = admin
        .post(
            &format!("rooms.mediaConfirm/GENERAL/{file}"),
            json!({"description": "123456789"}),
        )
        .await;
    assert_ok(&r);
    sim.shutdown().await;
}

// /rooms.media > it('should be able to get the file'), it('should not be able to get the file when
// the user is not a member of the room (Restrict_to_room_members true)'), it('should be able to get
// the file if member of the room'), it('should not be able to get the file without credentials'),
// it('should be able to get the file without credentials if FileUpload_ProtectFiles is false')
#[tokio::test]
async fn media_download_rules() {
    let sim = start().await;
    let admin = admin(&sim);
    let member = human(&sim, "member");
    let outsider = human(&sim, "outsider");
    let group = create(&admin, "p", "files-room").await;
    let rid = id(&group);
    assert_ok(
        &admin
            .post(
                "groups.invite",
                json!({"roomId": rid, "userId": member.uid}),
            )
            .await,
    );
    let (_, up) = media(&sim, &admin, &rid, "file").await;
    let url = up["file"]["url"].as_str().unwrap().to_owned();
    let file = up["file"]["_id"].as_str().unwrap().to_owned();
    assert_ok(
        &admin
            .post(&format!("rooms.mediaConfirm/{rid}/{file}"), json!({}))
            .await,
    );
    let get = |api: Option<&Api<'_>>| {
        let headers: Vec<(String, String)> = api
            .map(|a| {
                vec![
                    ("X-User-Id".to_owned(), a.uid.clone()),
                    ("X-Auth-Token".to_owned(), a.token.clone()),
                ]
            })
            .unwrap_or_default();
        let (sim, url) = (&sim, url.clone());
        async move {
            let h: Vec<(&str, &str)> = headers
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            raw(sim, "GET", &url, &h, Vec::new()).await.0
        }
    };
    assert_eq!(get(Some(&admin)).await, 200);
    assert_eq!(get(Some(&outsider)).await, 403);
    assert_eq!(get(Some(&member)).await, 200);
    assert_eq!(get(None).await, 403);
    set_setting(&admin, "FileUpload_ProtectFiles", json!(false)).await;
    assert_eq!(get(None).await, 200);
    sim.shutdown().await;
}

// ------------------------------------------------------------------ rooms.info

const ROOM_KEYS: &[&str] = &[
    "_id",
    "name",
    "fname",
    "t",
    "msgs",
    "usersCount",
    "u",
    "ts",
    "ro",
    "sysMes",
    "default",
    "_updatedAt",
];

fn keys(v: &Value) -> Vec<String> {
    let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
    k.sort();
    k
}

fn expected_keys() -> Vec<String> {
    let mut k: Vec<String> = ROOM_KEYS.iter().map(|s| (*s).to_owned()).collect();
    k.sort();
    k
}

// /rooms.info > it('should return the info about the created channel correctly searching by
// roomId'), it('... by roomName'), it('should return the info about the created group correctly
// searching by roomId'), it('... by roomName'), it('should return the info about the created DM
// correctly searching by roomId'), it('should not return parent & team for room thats not on a
// team nor is a discussion')
#[tokio::test]
async fn rooms_info_has_exactly_the_create_room_keys() {
    let sim = start().await;
    let admin = admin(&sim);
    let other = human(&sim, "rooms-info-peer");
    for (kind, name) in [("c", "info-channel"), ("p", "info-group")] {
        let room = create(&admin, kind, name).await;
        for q in [format!("roomId={}", id(&room)), format!("roomName={name}")] {
            let r = admin.get(&format!("rooms.info?{q}")).await;
            assert_ok(&r);
            assert_eq!(keys(&r.body["room"]), expected_keys(), "{}", r.body);
            assert!(r.body.get("team").is_none() && r.body.get("parent").is_none());
        }
    }
    let r = admin
        .post("im.create", json!({"username": "rooms-info-peer"}))
        .await;
    let dm = r.body["room"]["rid"].as_str().unwrap().to_owned();
    let r = admin.get(&format!("rooms.info?roomId={dm}")).await;
    assert_ok(&r);
    assert_eq!(r.body["room"]["t"], "d");
    assert!(r.body["room"].is_object());
    let _ = other;
    sim.shutdown().await;
}

// /rooms.info > describe('with archived rooms') > it('should not return a private archived room
// info to a non-member') — here without archiving (not simulated): a non-member gets
// `failure('not-allowed', 'Not Allowed')`.
#[tokio::test]
async fn rooms_info_refuses_a_private_room_to_a_non_member() {
    let sim = start().await;
    let admin = admin(&sim);
    let outsider = human(&sim, "outsider");
    let group = create(&admin, "p", "secret").await;
    let r = outsider
        .get(&format!("rooms.info?roomId={}", id(&group)))
        .await;
    assert_400(&r);
    assert_eq!(r.body["error"], "not-allowed");
    sim.shutdown().await;
}

// ------------------------------------------------------------------ rooms.leave

// /rooms.leave > it('should return an Unauthorized error when trying leave a DM room'), it('should
// return an Unauthorized error when trying leave a public channel and you are the last owner'),
// it('... private group and you are the last owner'), it('should return an Unauthorized error when
// trying leave a public channel and not have the necessary permission (leave-c)'), it('... private
// group ... (leave-p)'), it('should leave the public channel when the room has at least another
// owner'), it('should leave the private group when the room has at least another owner')
#[tokio::test]
async fn rooms_leave_rules() {
    let sim = start().await;
    let admin = admin(&sim);
    let user2 = human(&sim, "user2");
    let r = admin
        .post("im.create", json!({"username": "rocket.cat"}))
        .await;
    let dm = r.body["room"]["rid"].as_str().unwrap().to_owned();
    let r = admin.post("rooms.leave", json!({"roomId": dm})).await;
    assert_400(&r);
    assert_eq!(r.body["errorType"], "error-not-allowed");
    let channel = id(&create(&admin, "c", "leave-channel").await);
    let group = id(&create(&admin, "p", "leave-group").await);
    for rid in [&channel, &group] {
        let r = admin.post("rooms.leave", json!({"roomId": rid})).await;
        assert_eq!(
            r.body["errorType"], "error-you-are-last-owner",
            "{}",
            r.body
        );
    }
    set_permission(&admin, "leave-c", &[]).await;
    set_permission(&admin, "leave-p", &[]).await;
    for rid in [&channel, &group] {
        let r = admin.post("rooms.leave", json!({"roomId": rid})).await;
        assert_eq!(r.body["errorType"], "error-not-allowed");
    }
    set_permission(&admin, "leave-c", &["admin", "user"]).await;
    set_permission(&admin, "leave-p", &["admin", "user"]).await;
    // Another owner (the test uses channels.addAll; invite does the same for one user).
    for (rid, route) in [(&channel, "channels"), (&group, "groups")] {
        assert_ok(
            &admin
                .post(
                    &format!("{route}.invite"),
                    json!({"roomId": rid, "userId": user2.uid}),
                )
                .await,
        );
        assert_ok(
            &admin
                .post(
                    &format!("{route}.addOwner"),
                    json!({"roomId": rid, "userId": user2.uid}),
                )
                .await,
        );
    }
    assert_ok(&admin.post("rooms.leave", json!({"roomId": channel})).await);
    assert_ok(&user2.post("rooms.leave", json!({"roomId": group})).await);
    sim.shutdown().await;
}

// ------------------------------------------------------------------ rooms.join

// /rooms.join > it('should fail if the room does not exist'), it('should join a public room by
// roomId'), it('... by roomName' ), it('should fail to join a private room the user cannot access')
#[tokio::test]
async fn rooms_join_rules() {
    let sim = start().await;
    let admin = admin(&sim);
    let user = human(&sim, "joiner");
    let r = user.post("rooms.join", json!({"roomId": "invalid"})).await;
    assert_400(&r);
    assert_eq!(r.body["errorType"], "error-room-not-found");
    let c1 = id(&create(&admin, "c", "join-me").await);
    let r = user.post("rooms.join", json!({"roomId": c1})).await;
    assert_ok(&r);
    assert_eq!(r.body["room"]["_id"], json!(c1));
    let c2 = id(&create(&admin, "c", "join-me-too").await);
    let r = user
        .post("rooms.join", json!({"roomName": "join-me-too"}))
        .await;
    assert_ok(&r);
    assert_eq!(r.body["room"]["_id"], json!(c2));
    let group = id(&create(&admin, "p", "no-entry").await);
    let r = user.post("rooms.join", json!({"roomId": group})).await;
    assert_400(&r);
    assert_eq!(r.body["errorType"], "error-not-allowed");
    sim.shutdown().await;
}

// /rooms.adminRooms.getRoom > it('should return an error when a non-member admin asks groups.info')
#[tokio::test]
async fn groups_info_refuses_a_non_member_admin() {
    let sim = start().await;
    let admin = admin(&sim);
    let owner = human(&sim, "owner");
    let group = id(&create(&owner, "p", "owners-group").await);
    let r = admin.get(&format!("groups.info?roomId={group}")).await;
    assert_400(&r);
    sim.shutdown().await;
}

// ------------------------------------------------------------------ rooms.delete

// /rooms.delete > it('should throw an error when roomId is not provided'), it('should delete a room
// when the request is correct'), it('should throw an error when the room id doesn exist')
#[tokio::test]
async fn rooms_delete_rules() {
    let sim = start().await;
    let admin = admin(&sim);
    let r = admin.post("rooms.delete", json!({})).await;
    assert_400(&r);
    assert_eq!(r.body["errorType"], "invalid-params");
    assert!(r.body["error"]
        .as_str()
        .unwrap()
        .contains("must have required property 'roomId'"));
    let rid = id(&create(&admin, "c", "doomed").await);
    assert_ok(&admin.post("rooms.delete", json!({"roomId": rid})).await);
    assert_400(&admin.post("rooms.delete", json!({"roomId": rid})).await);
    sim.shutdown().await;
}

// ------------------------------------------------------------------ rooms.saveRoomSettings

// /rooms.saveRoomSettings > it('should update the room settings'), it('should have reflected on
// rooms.info'), it('should mark a room as favorite'), it('should not mark a room as favorite when
// defaultValue is false')
#[tokio::test]
async fn save_room_settings_are_reflected_by_rooms_info() {
    let sim = start().await;
    let admin = admin(&sim);
    let rid = id(&create(&admin, "c", "settings-room").await);
    let r = admin
        .post(
            "rooms.saveRoomSettings",
            json!({"rid": rid, "roomName": "new-name", "roomTopic": "topic", "roomAnnouncement": "ann",
                "roomDescription": "desc", "roomType": "p", "readOnly": true, "reactWhenReadOnly": true,
                "default": true, "featured": true, "favorite": {"favorite": true, "defaultValue": true}}),
        )
        .await;
    assert_ok(&r);
    assert_eq!(r.body["rid"], json!(rid));
    let room = admin.get(&format!("rooms.info?roomId={rid}")).await.body["room"].clone();
    assert_eq!(room["name"], "new-name");
    assert_eq!(room["topic"], "topic");
    assert_eq!(room["announcement"], "ann");
    assert_eq!(room["description"], "desc");
    assert_eq!(room["t"], "p");
    assert_eq!(room["featured"], true);
    assert_eq!(room["ro"], true);
    assert_eq!(room["default"], true);
    assert_eq!(room["favorite"], true);
    assert_eq!(room["reactWhenReadOnly"], true);
    assert_ok(
        &admin
            .post(
                "rooms.saveRoomSettings",
                json!({"rid": rid, "favorite": {"favorite": true, "defaultValue": false}}),
            )
            .await,
    );
    let room = admin.get(&format!("rooms.info?roomId={rid}")).await.body["room"].clone();
    assert!(room.get("favorite").is_none(), "{room}");
    sim.shutdown().await;
}

// ------------------------------------------------------------------ mute / unmute

// /rooms.muteUser > it('invite rocket.cat to room'), it('should mute the rocket.cat user'),
// it('should contain rocket.cat user in mute list'); /rooms.unmuteUser > it('should unmute the
// rocket.cat user in read-only room'), it('should contain rocket.cat user in unmute list')
#[tokio::test]
async fn mute_and_unmute_lists() {
    let sim = start().await;
    let admin = admin(&sim);
    let rid = id(&create(&admin, "c", "mute-room").await);
    let r = admin
        .post(
            "channels.invite",
            json!({"roomId": rid, "username": "rocket.cat"}),
        )
        .await;
    assert_ok(&r);
    assert_eq!(r.body["channel"]["name"], "mute-room");
    assert_ok(
        &admin
            .post(
                "rooms.muteUser",
                json!({"roomId": rid, "username": "rocket.cat"}),
            )
            .await,
    );
    let r = admin.get(&format!("channels.info?roomId={rid}")).await;
    assert_eq!(r.body["channel"]["muted"], json!(["rocket.cat"]));
    let ro = id(&create(&admin, "c", "ro-room").await);
    assert_ok(
        &admin
            .post(
                "rooms.saveRoomSettings",
                json!({"rid": ro, "readOnly": true}),
            )
            .await,
    );
    assert_ok(
        &admin
            .post(
                "channels.invite",
                json!({"roomId": ro, "username": "rocket.cat"}),
            )
            .await,
    );
    assert_ok(
        &admin
            .post(
                "rooms.unmuteUser",
                json!({"roomId": ro, "username": "rocket.cat"}),
            )
            .await,
    );
    let r = admin.get(&format!("channels.info?roomId={ro}")).await;
    assert_eq!(r.body["channel"]["unmuted"], json!(["rocket.cat"]));
    sim.shutdown().await;
}

// ------------------------------------------------------------------ rooms.isMember

// /rooms.isMember > it('should return error if room not found'), it('should return error if user
// not found with the given userId'), it('... username'), then for a public channel: member by
// userId, member by username, non-member; for a private group: member by userId, by username,
// non-member, and 403 for a caller outside the group; for a DM: member by userId, by username,
// non-member, and 403 for a caller outside it (14 its)
#[tokio::test]
async fn is_member_in_every_room_type() {
    let sim = start().await;
    let admin = admin(&sim);
    let member = human(&sim, "member");
    let outsider = human(&sim, "outsider");
    let r = admin.get("rooms.isMember?roomId=nope&userId=x").await;
    assert_eq!(
        r.body["error"],
        "The required \"roomId\" or \"roomName\" param provided does not match any channel [error-room-not-found]"
    );
    let c = id(&create(&admin, "c", "is-member-c").await);
    let r = admin
        .get(&format!("rooms.isMember?roomId={c}&userId=nobody"))
        .await;
    assert_eq!(r.body["error"], "error-user-not-found");
    let r = admin
        .get(&format!("rooms.isMember?roomId={c}&username=nobody"))
        .await;
    assert_eq!(r.body["error"], "error-user-not-found");
    let p = id(&create(&admin, "p", "is-member-p").await);
    assert_ok(
        &admin
            .post(
                "channels.invite",
                json!({"roomId": c, "userId": member.uid}),
            )
            .await,
    );
    assert_ok(
        &admin
            .post("groups.invite", json!({"roomId": p, "userId": member.uid}))
            .await,
    );
    let r = admin.post("im.create", json!({"username": "member"})).await;
    let d = r.body["room"]["rid"].as_str().unwrap().to_owned();
    for rid in [&c, &p, &d] {
        for q in [
            format!("userId={}", member.uid),
            "username=member".to_owned(),
        ] {
            let r = admin.get(&format!("rooms.isMember?roomId={rid}&{q}")).await;
            assert_ok(&r);
            assert_eq!(r.body["isMember"], true, "{rid} {q}");
        }
        let r = admin
            .get(&format!(
                "rooms.isMember?roomId={rid}&userId={}",
                outsider.uid
            ))
            .await;
        assert_eq!(r.body["isMember"], false);
    }
    for rid in [&p, &d] {
        let r = outsider
            .get(&format!(
                "rooms.isMember?roomId={rid}&userId={}",
                member.uid
            ))
            .await;
        assert_eq!(r.status, 403);
        assert_eq!(r.body["error"], "unauthorized");
    }
    sim.shutdown().await;
}
