//! Issue 12 item 1: a file card is not a path to anything the bot can read. A room
//! member posts messages whose cards link `/api/v1/me`, another room's history, paths
//! with `..` or percent-encoded dots, or another host: the bot's messages carry no
//! attachment for them (or only the forged record's own `/file-upload/<id>/<name>`), and
//! a download of any such link makes no request at all (counted at a proxy).

#![allow(clippy::unwrap_used)]

#[path = "support/ddp_proxy.rs"]
mod ddp_proxy;
mod support;

use std::time::Duration;

use backend_rocketchat::RocketChatChannel;
use channel_api::{AccountId, Attachment, Channel, Error, Event, EventStream, Message};
use ddp_proxy::DdpProxy;
use rocketchat_sim::RoomKind;
use serde_json::json;

const WAIT: Duration = Duration::from_secs(20);

async fn created(events: &mut EventStream, text: &str) -> Message {
    tokio::time::timeout(WAIT, async {
        loop {
            match events.recv().await {
                Some(Event::MessageCreated { message }) if message.text == text => return message,
                Some(_) => {}
                None => panic!("stream ended"),
            }
        }
    })
    .await
    .unwrap_or_else(|_| panic!("{text:?} never arrived"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crafted_file_cards_make_no_request() {
    let w = support::world().await;
    // A private room of the bot's that the peer is not in: its history must not leak.
    let private = w
        .sim
        .create_room(RoomKind::Private, "secret", &w.bot_id, &[])
        .unwrap();
    w.sim.post(&w.bot_id, &private, "the secret").unwrap();
    let proxy = DdpProxy::start(w.sim.addr()).await;
    let mut config = w.config();
    config.server_url = proxy.base_url();
    let channel = RocketChatChannel::connect(config, AccountId::new("default"))
        .await
        .unwrap();
    let mut events = channel.events().unwrap();
    let peer = w.peer();

    // Rocket.Chat 8.x takes only full URLs in `title_link` (validateMessage's
    // `validFullURL`, apps/meteor/app/lib/server/functions/validateMessage.ts), so the
    // attack points them at the server itself; relative forms are covered by the mapper's
    // unit tests (`file_card_tests`).
    let base = w.sim.base_url();
    let crafted = [
        format!("{base}/api/v1/groups.history?roomId={private}&x=/file-upload/F9/a"),
        format!("{base}/api/v1/me"),
        format!("{base}/file-upload/../api/v1/me"),
        format!("{base}/file-upload/F9/%2e%2e/%2e%2e/api/v1/me"),
        "https://elsewhere.example/file-upload/F9/a".to_owned(),
    ];
    let mut received = Vec::new();
    for (i, link) in crafted.iter().enumerate() {
        let card = json!([{"title": "a", "title_link": link, "title_link_download": true,
                           "type": "file", "fileId": "F9"}]);
        // chat.sendMessage with a forged upload record beside the card ...
        let text = format!("forged {i}");
        peer.call(
            "POST",
            "chat.sendMessage",
            Some(json!({"message": {"rid": w.room, "msg": text,
                "files": [{"_id": "F9", "name": "a", "type": "text/plain"}],
                "attachments": card}})),
        )
        .await
        .unwrap();
        received.push((created(&mut events, &text).await, link.clone()));
        // ... and chat.postMessage with the card alone.
        let text = format!("card {i}");
        peer.call(
            "POST",
            "chat.postMessage",
            Some(json!({"roomId": w.room, "text": text, "attachments": card})),
        )
        .await
        .unwrap();
        received.push((created(&mut events, &text).await, link.clone()));
    }

    let before = proxy.requests().len();
    for (message, link) in &received {
        if message.text.starts_with("card") {
            assert!(message.attachments.is_empty(), "{link}: {message:?}");
        } else {
            // Only the record's own path, whatever the card says.
            let urls: Vec<&str> = message.attachments.iter().map(|a| a.url.as_str()).collect();
            assert_eq!(urls, ["/file-upload/F9/a"], "{link}");
        }
        // A host that hands the crafted link back gets a refusal, not a request.
        for name in ["a", link.rsplit('/').next().unwrap_or_default()] {
            let attachment = Attachment {
                id: "F9".into(),
                name: name.into(),
                mime_type: None,
                size: None,
                url: link.clone(),
            };
            let err = channel.download(&attachment, 1 << 20).await.unwrap_err();
            assert!(
                matches!(err, Error::InvalidRequest { .. }),
                "{link}: {err:?}"
            );
        }
    }
    let after = proxy.requests();
    assert_eq!(after.len(), before, "requests made: {:?}", &after[before..]);
    assert!(
        !after
            .iter()
            .any(|r| r.contains("groups.history") || r.contains("/api/v1/me?")),
        "{after:?}"
    );
    channel.shutdown().await;
}
