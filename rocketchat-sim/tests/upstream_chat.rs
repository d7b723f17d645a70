//! Cases of Rocket.Chat's `apps/meteor/tests/end-to-end/api/chat.ts` (stored version read:
//! file id 932272953, 140 887 chars; the 8.2.0 tag could not be pinned, see UPSTREAM.md),
//! restated in our own words against the simulator. Each test names the upstream
//! `describe` > `it` it mirrors. Where the test and 8.x's source disagree the source wins
//! and the comment says so. Settings and permissions are changed the way the upstream
//! helpers do it (`POST settings/:_id`, `permissions.update`).
//! The `it('...')` texts from `/chat.sendMessage` on are the upstream titles as read; those of
//! `/chat.postMessage` and `/chat.getMessage` paraphrase them (behaviour exact, wording not).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use serde_json::{json, Value};

async fn set_setting(admin: &Api<'_>, id: &str, value: Value) {
    let r = admin
        .post(&format!("settings/{id}"), json!({"value": value}))
        .await;
    assert_ok(&r);
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

/// `testChannel`: a public channel created by the admin.
async fn channel(api: &Api<'_>, name: &str) -> String {
    let r = api.post("channels.create", json!({"name": name})).await;
    assert_ok(&r);
    r.body["channel"]["_id"].as_str().unwrap().to_owned()
}

async fn send(api: &Api<'_>, rid: &str, msg: &str) -> String {
    // Distinct milliseconds, as messages sent one HTTP round trip apart have upstream.
    tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    let r = api
        .post(
            "chat.sendMessage",
            json!({"message": {"rid": rid, "msg": msg}}),
        )
        .await;
    assert_ok(&r);
    r.body["message"]["_id"].as_str().unwrap().to_owned()
}

// ------------------------------------------------------------------ /chat.postMessage

// /chat.postMessage > it('should throw an error when neither channel nor roomId is sent')
#[tokio::test]
async fn post_message_without_a_target_is_invalid_channel() {
    let sim = start().await;
    let admin = admin(&sim);
    let r = admin
        .post("chat.postMessage", json!({"text": "Sample message"}))
        .await;
    assert_400(&r);
    assert_eq!(r.body["error"], "[invalid-channel]");
    sim.shutdown().await;
}

fn attachment_with(key: &str, value: Value) -> Value {
    let mut a = json!({"color": "#ff0000", "text": "Yay for gruggy!", "ts": "2016-12-09T16:53:06.761Z",
        "title": "Attachment Example"});
    a[key] = value;
    a
}

// /chat.postMessage > it('should throw an error when it has some properties with the wrong
// type(attachments.title_link_download, attachments.fields, message_link)')
#[tokio::test]
async fn post_message_attachment_fields_of_the_wrong_type() {
    let sim = start().await;
    let admin = admin(&sim);
    let rid = channel(&admin, "test-channel").await;
    let r = admin
        .post(
            "chat.postMessage",
            json!({"channel": "#test-channel", "text": "Sample message", "attachments": [{
                "message_link": 12, "title_link_download": "https://youtube.com", "fields": ""}]}),
        )
        .await;
    assert_400(&r);
    assert!(sim
        .messages(&rid)
        .iter()
        .all(|m| m["msg"] != "Sample message"));
    sim.shutdown().await;
}

// /chat.postMessage > describe('should throw an error when the sensitive properties contain
// malicious XSS values') > it('attachment.message_link'), it('attachment.author_link'),
// it('attachment.title_link'), it('attachment.action.url'), it('message.avatar'),
// it('attachment.action.image_url'), it('attachment.thumb_url'), it('attachment.author_icon'),
// it('attachment.image_url'), it('attachment.audio_url'), it('attachment.video_url')
#[tokio::test]
async fn post_message_refuses_javascript_urls_everywhere() {
    let sim = start().await;
    let admin = admin(&sim);
    channel(&admin, "test-channel").await;
    let xss = json!("javascript:alert(\"xss\")");
    let mut bodies: Vec<Value> = [
        "message_link",
        "author_link",
        "title_link",
        "thumb_url",
        "author_icon",
        "image_url",
        "audio_url",
        "video_url",
    ]
    .iter()
    .map(|k| json!({"channel": "#test-channel", "text": "x", "attachments": [attachment_with(k, xss.clone())]}))
    .collect();
    for key in ["url", "image_url"] {
        bodies.push(json!({"channel": "#test-channel", "text": "x", "attachments": [
            attachment_with("actions", json!([{"type": "button", "text": "Text", key: xss.clone()}]))]}));
    }
    bodies.push(json!({"channel": "#test-channel", "text": "x", "avatar": xss.clone()}));
    assert_eq!(bodies.len(), 11);
    for body in bodies {
        let r = admin.post("chat.postMessage", body.clone()).await;
        assert_400(&r);
        assert!(r.body["error"].is_string(), "{body}");
    }
    sim.shutdown().await;
}

// /chat.postMessage > it('should throw an error when the properties (attachments.fields.title,
// attachments.fields.value) are with the wrong type')
#[tokio::test]
async fn post_message_field_title_and_value_types() {
    let sim = start().await;
    let admin = admin(&sim);
    channel(&admin, "test-channel").await;
    let r = admin
        .post(
            "chat.postMessage",
            json!({"channel": "#test-channel", "text": "x", "attachments": [
                attachment_with("fields", json!([{"short": true, "title": 12, "value": false}]))]}),
        )
        .await;
    assert_400(&r);
    sim.shutdown().await;
}

// /chat.postMessage > it('should return statusCode 200 when postMessage successfully')
#[tokio::test]
async fn post_message_with_a_full_attachment() {
    let sim = start().await;
    let admin = admin(&sim);
    channel(&admin, "test-channel").await;
    let r = admin
        .post(
            "chat.postMessage",
            json!({"channel": "#test-channel", "text": "Sample message", "emoji": ":smirk:",
                "attachments": [{"color": "#ff0000", "text": "Yay for gruggy!",
                    "ts": "2016-12-09T16:53:06.761Z", "thumb_url": "http://res.guggy.com/logo_128.png",
                    "message_link": "https://google.com", "collapsed": false,
                    "author_name": "Bradley Hilton", "author_link": "https://rocket.chat/",
                    "author_icon": "https://avatars.githubusercontent.com/u/850391?v=3",
                    "title": "Attachment Example", "title_link": "https://youtube.com",
                    "title_link_download": true, "image_url": "http://res.guggy.com/logo_128.png",
                    "audio_url": "http://www.w3schools.com/tags/horse.mp3",
                    "video_url": "http://www.w3schools.com/tags/movie.mp4",
                    "fields": [{"short": true, "title": "Test", "value": "Testing out something or other"}]}]}),
        )
        .await;
    assert_ok(&r);
    assert_eq!(r.body["message"]["msg"], "Sample message");
    assert_eq!(r.body["channel"], "#test-channel");
    assert!(r.body["ts"].is_number());
    sim.shutdown().await;
}

// /chat.postMessage > describe('text message allowed size') (Message_MaxAllowedSize = 10):
// it('should return an error if text parameter surpasses the maximum allowed size'),
// it('should return an error if text parameter in attachment surpasses the maximum allowed
// size'), it('should return an error if text parameter in any of the attachments surpasses the
// maximum allowed size'), it('should pass if text parameter length does not surpasses the
// maximum allowed size')
#[tokio::test]
async fn post_message_text_sizes_follow_the_setting() {
    let sim = start().await;
    let admin = admin(&sim);
    channel(&admin, "test-channel").await;
    set_setting(&admin, "Message_MaxAllowedSize", json!(10)).await;
    let long = "Text to test max limit";
    let cases = [
        json!({"channel": "#test-channel", "text": long}),
        json!({"channel": "#test-channel", "text": "Yay!", "attachments": [{"text": long}]}),
        json!({"channel": "#test-channel", "text": "Yay!", "attachments": [{"text": "Short"}, {"text": long}]}),
    ];
    for body in cases {
        let r = admin.post("chat.postMessage", body).await;
        assert_400(&r);
        assert_eq!(r.body["error"], "error-message-size-exceeded");
    }
    let r = admin
        .post(
            "chat.postMessage",
            json!({"channel": "#test-channel", "text": "Sample"}),
        )
        .await;
    assert_ok(&r);
    sim.shutdown().await;
}

// ------------------------------------------------------------------ /chat.getMessage

// /chat.getMessage > it('should retrieve the message successfully')
#[tokio::test]
async fn get_message_returns_it() {
    let sim = start().await;
    let admin = admin(&sim);
    let rid = channel(&admin, "test-channel").await;
    let mid = send(&admin, &rid, "hello").await;
    let r = admin.get(&format!("chat.getMessage?msgId={mid}")).await;
    assert_ok(&r);
    assert_eq!(r.body["message"]["_id"], json!(mid));
    sim.shutdown().await;
}

// ------------------------------------------------------------------ /chat.sendMessage

// /chat.sendMessage > it("should throw an error when the required param 'rid' is not sent")
#[tokio::test]
async fn send_message_needs_rid() {
    let sim = start().await;
    let admin = admin(&sim);
    let r = admin
        .post(
            "chat.sendMessage",
            json!({"message": {"text": "Sample message", "alias": "Gruggy", "emoji": ":smirk:",
                "avatar": "http://res.guggy.com/logo_128.png"}}),
        )
        .await;
    assert_400(&r);
    assert_eq!(
        r.body["error"],
        "The 'rid' property on the message object is missing."
    );
    sim.shutdown().await;
}

// /chat.sendMessage > describe('should throw an error when the sensitive properties contain
// malicious XSS values') > it('attachment.message_link'), it('attachment.author_link'),
// it('attachment.title_link'), it('attachment.action.url') (sent through chat.postMessage)
#[tokio::test]
async fn send_message_section_xss_cases() {
    let sim = start().await;
    let admin = admin(&sim);
    channel(&admin, "test-channel").await;
    let xss = json!("javascript:alert(\"xss\")");
    let mut attachments: Vec<Value> = ["message_link", "author_link", "title_link"]
        .iter()
        .map(|k| attachment_with(k, xss.clone()))
        .collect();
    attachments.push(attachment_with(
        "actions",
        json!([{"type": "button", "text": "Text", "url": xss.clone()}]),
    ));
    for a in attachments {
        let r = admin
            .post(
                "chat.postMessage",
                json!({"channel": "#test-channel", "text": "x", "attachments": [a]}),
            )
            .await;
        assert_400(&r);
        assert_eq!(r.body["error"], "Invalid href value provided");
    }
    sim.shutdown().await;
}

// /chat.sendMessage > it('should throw an error when it has some properties with the wrong
// type(attachments.title_link_download, attachments.fields, message_link)') (the message has no
// `rid`, so the rid check answers)
#[tokio::test]
async fn send_message_wrong_types_without_rid() {
    let sim = start().await;
    let admin = admin(&sim);
    let r = admin
        .post(
            "chat.sendMessage",
            json!({"message": {"channel": "general", "text": "Sample message", "attachments": [
                {"message_link": 12, "title_link_download": "https://youtube.com", "fields": ""}]}}),
        )
        .await;
    assert_400(&r);
    sim.shutdown().await;
}

// /chat.sendMessage > it('should send a message successfully')
#[tokio::test]
async fn send_message_with_client_id_and_attachments() {
    let sim = start().await;
    let admin = admin(&sim);
    let rid = channel(&admin, "test-channel").await;
    let r = admin
        .post(
            "chat.sendMessage",
            json!({"message": {"_id": "id-1234", "rid": rid, "msg": "Sample message", "emoji": ":smirk:",
                "attachments": [{"color": "#ff0000", "text": "Yay for gruggy!", "message_link": "https://google.com",
                    "title_link_download": true, "fields": [
                        {"short": true, "title": "Test", "value": "Testing out something or other"},
                        {"short": true, "title": "Another Test", "value": "[Link](https://google.com/) something"}]}]}}),
        )
        .await;
    assert_ok(&r);
    assert_eq!(r.body["message"]["msg"], "Sample message");
    assert_eq!(r.body["message"]["_id"], "id-1234");
    sim.shutdown().await;
}

// /chat.sendMessage > describe('oembed') > it('should not generate previews if an empty array of
// URL to preview is provided')
#[tokio::test]
async fn empty_preview_urls_mark_every_url_ignored() {
    let sim = start().await;
    let admin = admin(&sim);
    let rid = channel(&admin, "test-channel").await;
    let r = admin
        .post(
            "chat.sendMessage",
            json!({"message": {"rid": rid, "msg": "https://www.youtube.com/watch?v=T2v29gK8fP4"}, "previewUrls": []}),
        )
        .await;
    assert_ok(&r);
    assert_eq!(r.body["message"]["urls"][0]["ignoreParse"], true);
    let mid = r.body["message"]["_id"].as_str().unwrap();
    let r = admin.get(&format!("chat.getMessage?msgId={mid}")).await;
    assert_eq!(r.body["message"]["urls"].as_array().unwrap().len(), 1);
    assert_eq!(r.body["message"]["urls"][0]["meta"], json!({}));
    sim.shutdown().await;
}

// /chat.sendMessage > describe('oembed') > it('should not generate previews if the message
// contains more than five external URL')
#[tokio::test]
async fn more_than_five_urls_get_no_previews_and_no_marks() {
    let sim = start().await;
    let admin = admin(&sim);
    let rid = channel(&admin, "test-channel").await;
    let urls: Vec<String> = (0..6)
        .map(|i| format!("https://www.youtube.com/watch?v=video{i}"))
        .collect();
    let r = admin
        .post(
            "chat.sendMessage",
            json!({"message": {"rid": rid, "msg": urls.join(" ")}, "previewUrls": urls}),
        )
        .await;
    assert_ok(&r);
    assert_eq!(r.body["message"]["urls"].as_array().unwrap().len(), 6);
    let mid = r.body["message"]["_id"].as_str().unwrap();
    let r = admin.get(&format!("chat.getMessage?msgId={mid}")).await;
    for u in r.body["message"]["urls"].as_array().unwrap() {
        assert!(u.get("ignoreParse").is_none(), "{u}");
        assert_eq!(u["meta"], json!({}));
    }
    sim.shutdown().await;
}

// /chat.sendMessage > describe('Read only channel') > it('Creating a read-only channel'),
// it('should send a message when the user is the owner of a readonly channel'),
// it('Inviting regular user to read-only channel'), it('should fail to send message when the
// user lacks permission'), it('should send a message when the user has permission to send
// messages on readonly channels')
#[tokio::test]
async fn read_only_channels_owner_posts_others_need_post_readonly() {
    let sim = start().await;
    let admin = admin(&sim);
    let user = human(&sim, "user1");
    let r = admin
        .post(
            "channels.create",
            json!({"name": "readonlychannel", "readOnly": true}),
        )
        .await;
    assert_ok(&r);
    assert_eq!(r.body["channel"]["ro"], true);
    let rid = r.body["channel"]["_id"].as_str().unwrap().to_owned();
    send(&admin, &rid, "Sample message").await;
    let r = admin
        .post(
            "channels.invite",
            json!({"roomId": rid, "userId": user.uid}),
        )
        .await;
    assert_ok(&r);
    let r = user
        .post(
            "chat.sendMessage",
            json!({"message": {"rid": rid, "msg": "Sample blocked message"}}),
        )
        .await;
    assert_400(&r);
    assert_eq!(
        r.body["error"],
        "You can't send messages because the room is readonly."
    );
    set_permission(&admin, "post-readonly", &["user"]).await;
    let r = user
        .post(
            "chat.sendMessage",
            json!({"message": {"rid": rid, "msg": "Sample message overwriting readonly status"}}),
        )
        .await;
    assert_ok(&r);
    sim.shutdown().await;
}

// /chat.sendMessage > it('should fail if user does not have the message-impersonate permission
// and tries to send message with alias param'), it('... with avatar param')
#[tokio::test]
async fn alias_and_avatar_need_message_impersonate() {
    let sim = start().await;
    let admin = admin(&sim);
    let rid = channel(&admin, "test-channel").await;
    for (key, value) in [("alias", "Gruggy"), ("avatar", "http://site.com/logo.png")] {
        let r = admin
            .post(
                "chat.sendMessage",
                json!({"message": {"rid": rid, "msg": "Sample message", key: value}}),
            )
            .await;
        assert_400(&r);
        assert_eq!(r.body["error"], "Not enough permission");
    }
    sim.shutdown().await;
}

// /chat.sendMessage > it('should fail if message is a system message')
#[tokio::test]
async fn system_messages_cannot_be_sent() {
    let sim = start().await;
    let admin = admin(&sim);
    let r = admin
        .post(
            "chat.sendMessage",
            json!({"message": {"_id": "sysmsg", "rid": "GENERAL", "msg": "xss",
                "t": "subscription-role-added", "role": "<h1>XSS</h1>"}}),
        )
        .await;
    assert_400(&r);
    assert!(sim.message("sysmsg").is_none());
    sim.shutdown().await;
}

/// The upstream `testMessageSending` helper without its `rooms.upload` leg (that route is
/// gone in 8.x; uploads are `rooms.media`): chat.sendMessage, then chat.postMessage.
async fn send_with_custom_fields(
    admin: &Api<'_>,
    rid: &str,
    cf: Option<Value>,
) -> Vec<common::Resp> {
    let mut message = json!({"rid": rid, "msg": "Sample message"});
    let mut post = json!({"roomId": rid, "text": "Sample message"});
    if let Some(cf) = cf {
        message["customFields"] = cf.clone();
        post["customFields"] = cf;
    }
    vec![
        admin
            .post("chat.sendMessage", json!({"message": message}))
            .await,
        admin.post("chat.postMessage", post).await,
    ]
}

// /chat.sendMessage > describe('customFields') > describe('when disabled') > it('should not
// allow sending custom fields'), it('should not allow update custom fields')
#[tokio::test]
async fn custom_fields_refused_while_disabled() {
    let sim = start().await;
    let admin = admin(&sim);
    let rid = channel(&admin, "test-channel").await;
    for r in send_with_custom_fields(&admin, &rid, Some(json!({"field1": "value1"}))).await {
        assert_400(&r);
        assert_eq!(r.body["error"], "Custom fields not enabled");
    }
    let mid = send(&admin, &rid, "Sample message").await;
    let r = admin
        .post(
            "chat.update",
            json!({"roomId": rid, "msgId": mid, "text": "Sample message Updated", "customFields": {"field1": "value1"}}),
        )
        .await;
    assert_400(&r);
    assert_eq!(r.body["error"], "Custom fields not enabled");
    sim.shutdown().await;
}

// /chat.sendMessage > describe('customFields') > describe('when enabled') > it('should allow not
// sending custom fields'), it('should not allow sending empty custom fields'), it('should not
// allow sending wrong custom fields'), it('should allow sending correct custom fields'),
// it('should allow not sending custom fields on update'), it('should not allow update empty
// custom fields'), it('should not allow update wrong custom fields'), it('should allow update
// correct custom fields')
#[tokio::test]
async fn custom_fields_follow_the_schema_when_enabled() {
    let sim = start().await;
    let admin = admin(&sim);
    let rid = channel(&admin, "test-channel").await;
    set_setting(&admin, "Message_CustomFields_Enabled", json!(true)).await;
    let schema = json!({"properties": {"priority": {"type": "string", "nullable": false,
        "enum": ["low", "medium", "high"]}}, "required": ["priority"]});
    set_setting(&admin, "Message_CustomFields", json!(schema.to_string())).await;
    for r in send_with_custom_fields(&admin, &rid, None).await {
        assert_ok(&r);
    }
    for bad in [json!({}), json!({"field1": "value1"})] {
        for r in send_with_custom_fields(&admin, &rid, Some(bad.clone())).await {
            assert_400(&r);
        }
    }
    for r in send_with_custom_fields(&admin, &rid, Some(json!({"priority": "low"}))).await {
        assert_ok(&r);
        assert_eq!(
            r.body["message"]["customFields"],
            json!({"priority": "low"})
        );
    }
    let update = |cf: Option<Value>| {
        let mut body = json!({"roomId": rid, "msgId": "", "text": "Sample message Updated"});
        if let Some(cf) = cf {
            body["customFields"] = cf;
        }
        body
    };
    for (cf, ok) in [
        (None, true),
        (Some(json!({})), false),
        (Some(json!({"field1": "value1"})), false),
        (Some(json!({"priority": "low"})), true),
    ] {
        let mid = send(&admin, &rid, "Sample message").await;
        let mut body = update(cf.clone());
        body["msgId"] = json!(mid);
        let r = admin.post("chat.update", body).await;
        if ok {
            assert_ok(&r);
            if let Some(cf) = cf {
                assert_eq!(r.body["message"]["customFields"], cf);
            }
        } else {
            assert_400(&r);
        }
    }
    sim.shutdown().await;
}

// ------------------------------------------------------------------ /chat.update

/// The `/chat.update` setup: custom fields on with `{properties: {test: {type: string}}}`, and
/// the `message` of the suite (sent with a `message_link` attachment, a quote by
/// `isQuoteAttachment`).
async fn update_setup(admin: &Api<'_>) -> (String, String) {
    set_setting(admin, "Message_CustomFields_Enabled", json!(true)).await;
    set_setting(
        admin,
        "Message_CustomFields",
        json!(json!({"properties": {"test": {"type": "string"}}}).to_string()),
    )
    .await;
    let rid = channel(admin, "test-channel").await;
    let r = admin
        .post(
            "chat.sendMessage",
            json!({"message": {"rid": rid, "msg": "Sample message", "attachments": [
                {"text": "quoted", "message_link": "https://google.com"}]}}),
        )
        .await;
    assert_ok(&r);
    (rid, r.body["message"]["_id"].as_str().unwrap().to_owned())
}

// /chat.update > it('should fail updating a message if no room id is provided'), it('... if no
// message id is provided'), it('... if no  text is provided'). The test expects errorType
// 'invalid-params'; chat.ts (00daca25) makes chat.update a typed route, whose schema errors are
// 'error-invalid-params' (router.ts): the source wins.
#[tokio::test]
async fn update_requires_room_message_and_text() {
    let sim = start().await;
    let admin = admin(&sim);
    let (rid, mid) = update_setup(&admin).await;
    for body in [
        json!({"msgId": mid, "text": "This message was edited via API"}),
        json!({"roomId": rid, "text": "This message was edited via API"}),
        json!({"roomId": rid, "msgId": mid}),
    ] {
        let r = admin.post("chat.update", body).await;
        assert_400(&r);
        assert_eq!(r.body["errorType"], "error-invalid-params");
    }
    sim.shutdown().await;
}

// /chat.update > it('should fail updating a message if an invalid message id is provided'),
// it('should fail updating a message if it is not in the provided room'), it('should update a
// message successfully')
#[tokio::test]
async fn update_checks_the_message_and_its_room() {
    let sim = start().await;
    let admin = admin(&sim);
    let (rid, mid) = update_setup(&admin).await;
    let text = "This message was edited via API";
    let r = admin
        .post(
            "chat.update",
            json!({"roomId": rid, "msgId": "invalid-id", "text": text}),
        )
        .await;
    assert_400(&r);
    assert_eq!(
        r.body["error"],
        "No message found with the id of \"invalid-id\"."
    );
    let r = admin
        .post(
            "chat.update",
            json!({"roomId": "invalid-room", "msgId": mid, "text": text}),
        )
        .await;
    assert_400(&r);
    assert_eq!(
        r.body["error"],
        "The room id provided does not match where the message is from."
    );
    let r = admin
        .post(
            "chat.update",
            json!({"roomId": rid, "msgId": mid, "text": text}),
        )
        .await;
    assert_ok(&r);
    assert_eq!(r.body["message"]["msg"], text);
    sim.shutdown().await;
}

// /chat.update > it('should erase old quote attachments when updating a message')
#[tokio::test]
async fn update_erases_old_quote_attachments() {
    let sim = start().await;
    let admin = admin(&sim);
    let (rid, mid) = update_setup(&admin).await;
    let r = admin
        .post(
            "chat.update",
            json!({"roomId": rid, "msgId": mid, "text": "This message was edited via API"}),
        )
        .await;
    assert_ok(&r);
    assert_eq!(r.body["message"]["attachments"], json!([]));
    sim.shutdown().await;
}

// /chat.update > it('should do nothing if the message text hasnt changed and theres no custom
// fields'), it('should update message custom fields along with msg'), it('should update message
// custom fields without changes to msg')
#[tokio::test]
async fn update_custom_fields_with_and_without_text_changes() {
    let sim = start().await;
    let admin = admin(&sim);
    let (rid, mid) = update_setup(&admin).await;
    let text = "This message was edited via API";
    admin
        .post(
            "chat.update",
            json!({"roomId": rid, "msgId": mid, "text": text}),
        )
        .await;
    let r = admin
        .post(
            "chat.update",
            json!({"roomId": rid, "msgId": mid, "text": text}),
        )
        .await;
    assert_ok(&r);
    assert_eq!(r.body["message"]["msg"], text);
    assert!(r.body["message"].get("customFields").is_none());
    let r = admin
        .post(
            "chat.update",
            json!({"roomId": rid, "msgId": mid, "text": "This message was edited via API 2",
                "customFields": {"test": "test"}}),
        )
        .await;
    assert_ok(&r);
    assert_eq!(r.body["message"]["customFields"], json!({"test": "test"}));
    let r = admin
        .post(
            "chat.update",
            json!({"roomId": rid, "msgId": mid, "text": "This message was edited via API 2",
                "customFields": {"test": "test 2"}}),
        )
        .await;
    assert_ok(&r);
    assert_eq!(
        r.body["message"]["msg"],
        "This message was edited via API 2"
    );
    assert_eq!(r.body["message"]["customFields"], json!({"test": "test 2"}));
    sim.shutdown().await;
}

// ------------------------------------------------------------------ /chat.delete

// [/chat.delete] > it('should fail deleting a message if no message id is provided'), it('... if
// no room id is provided'), it('... if it is not in the provided room'), it('... if an invalid id
// is provided'), it('should delete a message successfully')
#[tokio::test]
async fn delete_checks_then_deletes() {
    let sim = start().await;
    let admin = admin(&sim);
    let rid = channel(&admin, "test-channel").await;
    let mid = send(&admin, &rid, "Sample message").await;
    for body in [json!({"roomId": rid}), json!({"msgId": mid})] {
        let r = admin.post("chat.delete", body).await;
        assert_400(&r);
        assert_eq!(r.body["errorType"], "invalid-params");
    }
    let r = admin
        .post(
            "chat.delete",
            json!({"roomId": "invalid-room", "msgId": mid}),
        )
        .await;
    assert_eq!(
        r.body["error"],
        "The room id provided does not match where the message is from."
    );
    let r = admin
        .post("chat.delete", json!({"roomId": rid, "msgId": "invalid-id"}))
        .await;
    assert_eq!(
        r.body["error"],
        "No message found with the id of \"invalid-id\"."
    );
    let r = admin
        .post("chat.delete", json!({"roomId": rid, "msgId": mid}))
        .await;
    assert_ok(&r);
    assert_eq!(r.body["_id"], json!(mid));
    assert!(r.body["ts"].is_string());
    assert!(sim.message(&mid).is_none());
    sim.shutdown().await;
}

// [/chat.delete] > it('sending message as another user...'), it('should delete a message
// successfully when the user deletes a message send by another user')
#[tokio::test]
async fn delete_as_user_needs_force_delete() {
    let sim = start().await;
    let admin = admin(&sim);
    let user = human(&sim, "other");
    let rid = channel(&admin, "test-channel").await;
    let mid = send(&user, &rid, "Sample message").await;
    let r = admin
        .post(
            "chat.delete",
            json!({"roomId": rid, "msgId": mid, "asUser": true}),
        )
        .await;
    assert_ok(&r);
    // The author itself lacks force-delete-message for someone else's message.
    let mine = send(&admin, &rid, "admin's").await;
    let r = user
        .post(
            "chat.delete",
            json!({"roomId": rid, "msgId": mine, "asUser": true}),
        )
        .await;
    assert_400(&r);
    sim.shutdown().await;
}

// ------------------------------------------------------------------ /chat.react

// [/chat.react] > the eight its: unreact a message not reacted yet (shouldReact false), react
// 'smile', ':squid:', react again with shouldReact true, unreact with shouldReact false, react
// with shouldReact true, 'bee' without colons, `reaction: 'ant'`
#[tokio::test]
async fn react_variants_all_succeed() {
    let sim = start().await;
    let admin = admin(&sim);
    let rid = channel(&admin, "test-channel").await;
    let mid = send(&admin, &rid, "react to me").await;
    for body in [
        json!({"emoji": ":squid:", "messageId": mid, "shouldReact": false}),
        json!({"emoji": "smile", "messageId": mid}),
        json!({"emoji": ":squid:", "messageId": mid}),
        json!({"emoji": ":squid:", "messageId": mid, "shouldReact": true}),
        json!({"emoji": ":squid:", "messageId": mid, "shouldReact": false}),
        json!({"emoji": ":squid:", "messageId": mid, "shouldReact": true}),
        json!({"emoji": "bee", "messageId": mid}),
        json!({"reaction": "ant", "messageId": mid}),
    ] {
        let r = admin.post("chat.react", body).await;
        assert_ok(&r);
    }
    let reactions = &sim.message(&mid).unwrap()["reactions"];
    for key in [":smile:", ":squid:", ":bee:", ":ant:"] {
        assert_eq!(reactions[key]["usernames"], json!(["admin"]), "{reactions}");
    }
    sim.shutdown().await;
}

// ------------------------------------------------------------------ pin / unpin / star

// [/chat.pinMessage] > it('should return an error when pinMessage is not allowed in this
// server'), it('... allowed in server but user dont have permission'), it('should return an error
// when messageId does not exist'), it('should pin Message successfully'), it('should return
// message when its already pinned')
#[tokio::test]
async fn pin_message_setting_permission_and_repeat() {
    let sim = start().await;
    let admin = admin(&sim);
    let rid = channel(&admin, "test-channel").await;
    let mid = send(&admin, &rid, "pin me").await;
    set_setting(&admin, "Message_AllowPinning", json!(false)).await;
    let r = admin
        .post("chat.pinMessage", json!({"messageId": mid}))
        .await;
    assert_400(&r);
    assert_eq!(r.body["errorType"], "error-action-not-allowed");
    set_setting(&admin, "Message_AllowPinning", json!(true)).await;
    set_permission(&admin, "pin-message", &[]).await;
    let r = admin
        .post("chat.pinMessage", json!({"messageId": mid}))
        .await;
    assert_400(&r);
    assert_eq!(r.body["errorType"], "not-authorized");
    let r = admin
        .post("chat.pinMessage", json!({"messageId": "test"}))
        .await;
    assert_400(&r);
    assert_eq!(r.body["errorType"], "error-message-not-found");
    set_permission(&admin, "pin-message", &["admin"]).await;
    let r = admin
        .post("chat.pinMessage", json!({"messageId": mid}))
        .await;
    assert_ok(&r);
    assert_eq!(r.body["message"]["t"], "message_pinned");
    let r = admin
        .post("chat.pinMessage", json!({"messageId": mid}))
        .await;
    assert_ok(&r);
    assert_eq!(r.body["message"]["_id"], json!(mid));
    assert_eq!(r.body["message"]["pinned"], true);
    sim.shutdown().await;
}

// [/chat.unPinMessage] > it('should return an error when pinMessage is not allowed in this
// server'), it('... users dont have permission'), it('should unpin Message successfully')
#[tokio::test]
async fn unpin_message_setting_permission_success() {
    let sim = start().await;
    let admin = admin(&sim);
    let rid = channel(&admin, "test-channel").await;
    let mid = send(&admin, &rid, "pin me").await;
    assert_ok(
        &admin
            .post("chat.pinMessage", json!({"messageId": mid}))
            .await,
    );
    set_setting(&admin, "Message_AllowPinning", json!(false)).await;
    assert_400(
        &admin
            .post("chat.unPinMessage", json!({"messageId": mid}))
            .await,
    );
    set_setting(&admin, "Message_AllowPinning", json!(true)).await;
    set_permission(&admin, "pin-message", &[]).await;
    assert_400(
        &admin
            .post("chat.unPinMessage", json!({"messageId": mid}))
            .await,
    );
    set_permission(&admin, "pin-message", &["admin"]).await;
    let r = admin
        .post("chat.unPinMessage", json!({"messageId": mid}))
        .await;
    assert_ok(&r);
    assert!(r.body.get("error").is_none());
    assert_eq!(sim.message(&mid).unwrap()["pinned"], false);
    sim.shutdown().await;
}

// [/chat.unStarMessage] > it('should return an error when starMessage is not allowed in this
// server'), it('should unstar Message successfully'); [/chat.starMessage] > it('should return an
// error when starMessage is not allowed in this server'), it('should star Message successfully')
#[tokio::test]
async fn star_and_unstar_follow_the_setting() {
    let sim = start().await;
    let admin = admin(&sim);
    let rid = channel(&admin, "test-channel").await;
    let mid = send(&admin, &rid, "star me").await;
    set_setting(&admin, "Message_AllowStarring", json!(false)).await;
    for route in ["chat.unStarMessage", "chat.starMessage"] {
        assert_400(&admin.post(route, json!({"messageId": mid})).await);
    }
    set_setting(&admin, "Message_AllowStarring", json!(true)).await;
    assert_ok(
        &admin
            .post("chat.starMessage", json!({"messageId": mid}))
            .await,
    );
    assert_eq!(
        sim.message(&mid).unwrap()["starred"],
        json!([{"_id": admin.uid}])
    );
    assert_ok(
        &admin
            .post("chat.unStarMessage", json!({"messageId": mid}))
            .await,
    );
    assert_eq!(sim.message(&mid).unwrap()["starred"], json!([]));
    sim.shutdown().await;
}

// [/chat.getPinnedMessages] > describe('when execute successfully') > it('should return a list of
// pinned messages'), it('... when the user sets count query parameter'), it('... count and offset
// query parameters'); describe('when an error occurs') > it('should return statusCode 400 and an
// error when "roomId" is not provided')
#[tokio::test]
async fn pinned_messages_list() {
    let sim = start().await;
    let admin = admin(&sim);
    let rid = channel(&admin, "channel.test").await;
    let mid = send(&admin, &rid, "pinned").await;
    send(&admin, &rid, "not pinned").await;
    assert_ok(
        &admin
            .post("chat.pinMessage", json!({"messageId": mid}))
            .await,
    );
    for q in ["", "&count=1", "&count=1&offset=0"] {
        let r = admin
            .get(&format!("chat.getPinnedMessages?roomId={rid}{q}"))
            .await;
        assert_ok(&r);
        assert_eq!(r.body["messages"].as_array().unwrap().len(), 1);
        assert_eq!(r.body["messages"][0]["_id"], json!(mid));
    }
    assert_400(&admin.get("chat.getPinnedMessages?count=1&offset=0").await);
    sim.shutdown().await;
}

// [/chat.getStarredMessages] > it('should return an error when the required "roomId" parameter is
// not sent'), it('should return an error when the roomId is invalid'), it('should return the
// starred messages')
#[tokio::test]
async fn starred_messages_list() {
    let sim = start().await;
    let admin = admin(&sim);
    let rid = channel(&admin, "channel.test").await;
    let r = admin.get("chat.getStarredMessages").await;
    assert_400(&r);
    assert_eq!(r.body["errorType"], "invalid-params");
    let r = admin
        .get("chat.getStarredMessages?roomId=invalid-room")
        .await;
    assert_400(&r);
    assert_eq!(r.body["error"], "error-not-allowed");
    let mid = send(&admin, &rid, "starred").await;
    assert_ok(
        &admin
            .post("chat.starMessage", json!({"messageId": mid}))
            .await,
    );
    let r = admin
        .get(&format!("chat.getStarredMessages?roomId={rid}"))
        .await;
    assert_ok(&r);
    assert_eq!(r.body["messages"].as_array().unwrap().len(), 1);
    for key in ["offset", "total", "count"] {
        assert!(r.body.get(key).is_some(), "{key}");
    }
    sim.shutdown().await;
}

// ------------------------------------------------------------------ /chat.syncMessages

// [/chat.syncMessages] > it('should return an error when the required "roomId" parameter is not
// sent'), it('... neither "lastUpdate" or "type" parameter is sent'), it('... "lastUpdate"
// parameter is invalid'), it('... user provides an invalid roomId'), it('... "type" parameter is
// not supported'), it('... "next" or "previous" parameter is sent without the "type" parameter'),
// it('... both "next" and "previous" are sent'), it('... both "next" or "previous" and
// "lastUpdate" are sent'), it('should return an error when neither "type" or "lastUpdate" are
// sent'), it('should return an empty response when there are no messages to sync')
#[tokio::test]
async fn sync_messages_parameter_errors() {
    let sim = start().await;
    let admin = admin(&sim);
    let rid = channel(&admin, "channel.test.syncMessages").await;
    let now = "2030-01-01T00:00:00.000Z";
    let r = admin.get("chat.syncMessages").await;
    assert_eq!(r.body["errorType"], "invalid-params");
    assert!(r.body["error"]
        .as_str()
        .unwrap()
        .contains("must have required property 'roomId'"));
    for q in [
        format!("roomId={rid}"),
        format!("roomId={rid}"),
        format!("roomId={rid}&next={now}"),
        format!("roomId={rid}&previous={now}"),
    ] {
        let r = admin.get(&format!("chat.syncMessages?{q}")).await;
        assert_eq!(r.body["errorType"], "error-param-required", "{q}");
        assert!(r.body["error"]
            .as_str()
            .unwrap()
            .contains("The \"type\" or \"lastUpdate\" parameters must be provided"));
    }
    let r = admin
        .get("chat.syncMessages?roomId=invalid-room&lastUpdate=invalid-date")
        .await;
    assert_eq!(r.body["errorType"], "error-lastUpdate-param-invalid");
    let r = admin
        .get(&format!(
            "chat.syncMessages?roomId=invalid-room&lastUpdate={now}"
        ))
        .await;
    assert_eq!(r.body["errorType"], "error-not-allowed");
    assert!(r.body["error"].as_str().unwrap().contains("Not allowed"));
    let r = admin
        .get(&format!(
            "chat.syncMessages?roomId={rid}&type=invalid-type&next={now}"
        ))
        .await;
    assert_eq!(r.body["errorType"], "invalid-params");
    assert!(r.body["error"]
        .as_str()
        .unwrap()
        .contains("must be equal to one of the allowed values"));
    let r = admin
        .get(&format!(
            "chat.syncMessages?roomId={rid}&type=UPDATED&next=1&previous=2"
        ))
        .await;
    assert_eq!(r.body["errorType"], "error-cursor-conflict");
    let r = admin
        .get(&format!(
            "chat.syncMessages?roomId={rid}&type=UPDATED&next=1&lastUpdate={now}"
        ))
        .await;
    assert_eq!(r.body["errorType"], "error-cursor-and-lastUpdate-conflict");
    let r = admin
        .get(&format!("chat.syncMessages?roomId={rid}&lastUpdate={now}"))
        .await;
    assert_ok(&r);
    assert_eq!(r.body["result"], json!({"updated": [], "deleted": []}));
    sim.shutdown().await;
}

fn ms_of(v: &Value) -> String {
    let text = v.as_str().unwrap();
    chrono_ms(text).to_string()
}

/// ISO string -> epoch ms, by hand (no date crate in the tests).
fn chrono_ms(iso: &str) -> i64 {
    // YYYY-MM-DDTHH:MM:SS.mmmZ
    let p = |a: usize, b: usize| iso[a..b].parse::<i64>().unwrap();
    let (y, m, d) = (p(0, 4), p(5, 7), p(8, 10));
    let (hh, mm, ss, ms) = (p(11, 13), p(14, 16), p(17, 19), p(20, 23));
    // Days from civil (Howard Hinnant).
    let y2 = if m <= 2 { y - 1 } else { y };
    let era = y2.div_euclid(400);
    let yoe = y2 - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    ((days * 24 + hh) * 60 + mm) * 60_000 + ss * 1000 + ms
}

// [/chat.syncMessages] > it('should return all updated and deleted messages since "lastUpdate"
// parameter date'), it('should return all updated messages with a cursor when "type" parameter is
// "UPDATED"'), it('should return all deleted messages with a cursor when "type" parameter is
// "DELETED"')
#[tokio::test]
async fn sync_messages_lists_and_cursors() {
    let sim = start().await;
    let admin = admin(&sim);
    let rid = channel(&admin, "channel.test.syncMessages").await;
    let start_ms = chrono_ms(&sim_now(&sim).await) - 1;
    let first = send(&admin, &rid, "First Message").await;
    let second = send(&admin, &rid, "Second Message").await;
    let since = format!("lastUpdate={}", iso_of(start_ms));
    let r = admin
        .get(&format!("chat.syncMessages?roomId={rid}&{since}"))
        .await;
    let ids: Vec<&str> = r.body["result"]["updated"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [second.as_str(), first.as_str()]);
    admin
        .post("chat.delete", json!({"roomId": rid, "msgId": first}))
        .await;
    let r = admin
        .get(&format!("chat.syncMessages?roomId={rid}&{since}"))
        .await;
    assert_eq!(r.body["result"]["updated"].as_array().unwrap().len(), 1);
    assert_eq!(r.body["result"]["deleted"][0]["_id"], json!(first));
    // UPDATED cursor over three fresh messages, two per page.
    let rid2 = channel(&admin, "channel.test.syncMessages2").await;
    let m: Vec<String> = [
        send(&admin, &rid2, "First Message").await,
        send(&admin, &rid2, "Second Message").await,
        send(&admin, &rid2, "Third Message").await,
    ]
    .into();
    let r = admin
        .get(&format!(
            "chat.syncMessages?roomId={rid2}&next={start_ms}&type=UPDATED&count=2"
        ))
        .await;
    let page = r.body["result"]["updated"].as_array().unwrap();
    assert_eq!(
        page.iter()
            .map(|x| x["_id"].as_str().unwrap())
            .collect::<Vec<_>>(),
        [m[0].as_str(), m[1].as_str()]
    );
    assert_eq!(
        r.body["result"]["cursor"]["next"],
        json!(ms_of(&page[1]["_updatedAt"]))
    );
    assert_eq!(
        r.body["result"]["cursor"]["previous"],
        json!(ms_of(&page[0]["_updatedAt"]))
    );
    let next = r.body["result"]["cursor"]["next"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = admin
        .get(&format!(
            "chat.syncMessages?roomId={rid2}&next={next}&type=UPDATED&count=2"
        ))
        .await;
    assert_eq!(r.body["result"]["updated"][0]["_id"], json!(m[2]));
    assert!(r.body["result"]["cursor"]["next"].is_null());
    // DELETED cursor: nothing, then the three deletions two per page.
    let r = admin
        .get(&format!(
            "chat.syncMessages?roomId={rid2}&next={start_ms}&type=DELETED&count=2"
        ))
        .await;
    assert_eq!(r.body["result"]["deleted"], json!([]));
    assert!(
        r.body["result"]["cursor"]["next"].is_null()
            && r.body["result"]["cursor"]["previous"].is_null()
    );
    for id in &m {
        admin
            .post("chat.delete", json!({"roomId": rid2, "msgId": id}))
            .await;
    }
    let r = admin
        .get(&format!(
            "chat.syncMessages?roomId={rid2}&next={start_ms}&type=DELETED&count=2"
        ))
        .await;
    let page = r.body["result"]["deleted"].as_array().unwrap();
    assert_eq!(
        page.iter()
            .map(|x| x["_id"].as_str().unwrap())
            .collect::<Vec<_>>(),
        [m[0].as_str(), m[1].as_str()]
    );
    let next = r.body["result"]["cursor"]["next"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = admin
        .get(&format!(
            "chat.syncMessages?roomId={rid2}&next={next}&type=DELETED&count=2"
        ))
        .await;
    assert_eq!(r.body["result"]["deleted"][0]["_id"], json!(m[2]));
    assert!(r.body["result"]["cursor"]["next"].is_null());
    sim.shutdown().await;
}

/// The server's clock, read from a fresh message's `ts`.
async fn sim_now(sim: &rocketchat_sim::SimHandle) -> String {
    let uid = sim.user_id("rocket.cat").unwrap();
    let mid = sim.post(&uid, "GENERAL", "clock").unwrap();
    let ms = sim.message(&mid).unwrap()["ts"]["$date"].as_i64().unwrap();
    iso_of(ms)
}

fn iso_of(ms: i64) -> String {
    let days = ms.div_euclid(86_400_000);
    let rem = ms.rem_euclid(86_400_000);
    // Civil from days (Howard Hinnant).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3_600_000,
        rem / 60_000 % 60,
        rem / 1000 % 60,
        rem % 1000
    )
}

// ------------------------------------------------------------------ Threads

// Threads > [/chat.getThreadMessages] > it('should return an error for chat.getThreadMessages when
// threads are not allowed in this server'), it('should return an error when the user is not
// allowed access the room'), it("should return the thread's message list")
#[tokio::test]
async fn thread_messages_setting_access_and_list() {
    let sim = start().await;
    let admin = admin(&sim);
    let user = human(&sim, "outsider");
    let rid = channel(&admin, "channel.test.threads").await;
    let root = send(&admin, &rid, "Message to create thread").await;
    let r = admin
        .post(
            "chat.sendMessage",
            json!({"message": {"rid": rid, "msg": "Thread Message", "tmid": root}}),
        )
        .await;
    assert_ok(&r);
    set_setting(&admin, "Threads_enabled", json!(false)).await;
    let r = admin
        .get(&format!("chat.getThreadMessages?tmid={root}"))
        .await;
    assert_eq!(r.body["errorType"], "error-not-allowed");
    assert_eq!(r.body["error"], "Threads Disabled [error-not-allowed]");
    set_setting(&admin, "Threads_enabled", json!(true)).await;
    set_permission(&admin, "view-c-room", &[]).await;
    let r = user
        .get(&format!("chat.getThreadMessages?tmid={root}"))
        .await;
    assert_eq!(r.body["errorType"], "error-not-allowed");
    assert_eq!(r.body["error"], "Not Allowed [error-not-allowed]");
    set_permission(&admin, "view-c-room", &["admin", "user"]).await;
    let r = admin
        .get(&format!("chat.getThreadMessages?tmid={root}"))
        .await;
    assert_ok(&r);
    assert_eq!(r.body["total"], 1);
    assert_eq!(r.body["messages"][0]["tmid"], json!(root));
    sim.shutdown().await;
}
