//! Files against the simulator (beyond the conformance cases): uploads into a thread, the
//! server's upload limit, downloads refused by `Content-Length`, rooms the bot cannot
//! read, and revoked credentials. The byte-level limits (a body never read, a stream cut
//! off) are unit tests in `src/media.rs`, against servers that misbehave on purpose.

#![allow(clippy::unwrap_used)]

mod support;

use backend_rocketchat::RocketChatChannel;
use channel_api::{
    AccountId, Attachment, Channel, ConnectionState, Error, Event, EventStream, Message, MessageId,
    OutboundFile, RoomId,
};
use conformance::{Peer, PeerFile};
use rocketchat_sim::RoomKind;

use support::{next_event, wait_active};

async fn created(events: &mut EventStream, id: &MessageId) -> Message {
    loop {
        if let Event::MessageCreated { message } = next_event(events).await {
            if &message.id == id {
                return message;
            }
        }
    }
}

async fn connect(w: &support::World) -> (RocketChatChannel, EventStream) {
    let channel = RocketChatChannel::connect(w.config(), AccountId::new("default"))
        .await
        .unwrap();
    let mut events = channel.events().unwrap();
    wait_active(&mut events).await;
    (channel, events)
}

fn outbound(room: &str, name: &str, data: &[u8]) -> OutboundFile {
    OutboundFile {
        room: RoomId::new(room),
        thread: None,
        name: name.into(),
        mime_type: "text/plain".into(),
        data: data.to_vec(),
        caption: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_file_into_a_thread_posts_one_message_with_the_file() {
    let w = support::world().await;
    let (channel, _events) = connect(&w).await;
    let root = w.sim.post(&w.peer_id, &w.room, "root").unwrap();

    let mut file = outbound(&w.room, "report 1.txt", b"the report");
    file.thread = Some(MessageId::new(&root));
    file.caption = Some("here it is".into());
    let sent = channel.send_file(file).await.unwrap();
    assert_eq!(sent.thread, Some(MessageId::new(&root)));

    let doc = w.sim.message(sent.message.id.as_str()).unwrap();
    assert_eq!(doc["tmid"], root.as_str());
    assert_eq!(doc["msg"], "here it is");
    assert_eq!(doc["files"].as_array().unwrap().len(), 1);
    assert_eq!(doc["file"]["name"], "report 1.txt");
    assert_eq!(doc["file"]["type"], "text/plain");
    let file_id = doc["file"]["_id"].as_str().unwrap();
    assert_eq!(w.sim.upload(file_id).unwrap(), b"the report");
    let with_files = w
        .sim
        .messages(&w.room)
        .into_iter()
        .filter(|m| m.get("file").is_some())
        .count();
    assert_eq!(with_files, 1);
    channel.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inbound_file_has_the_card_url_and_downloads() {
    let w = support::world().await;
    let (channel, mut events) = connect(&w).await;
    let peer = w.peer();
    let data: Vec<u8> = (0..=255u8).cycle().take(3000).collect();
    let posted = peer
        .post_file(
            &RoomId::new(&w.room),
            PeerFile {
                name: "raw data.bin",
                mime_type: "application/octet-stream",
                data: &data,
                caption: None,
            },
            None,
        )
        .await
        .unwrap();
    let message = created(&mut events, &posted.id).await;
    assert_eq!(message.text, "");
    assert_eq!(message.attachments.len(), 1);
    let attachment = &message.attachments[0];
    assert_eq!(attachment.name, "raw data.bin");
    assert_eq!(attachment.size, Some(3000));
    assert_eq!(
        attachment.url,
        format!("/file-upload/{}/raw%20data.bin", attachment.id)
    );
    assert_eq!(channel.download(attachment, 3000).await.unwrap(), data);
    channel.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn download_over_the_limit_is_refused_by_content_length() {
    let w = support::world().await;
    let (channel, _events) = connect(&w).await;
    let sent = channel
        .send_file(outbound(&w.room, "big.txt", &[b'a'; 5000]))
        .await
        .unwrap();
    let doc = w.sim.message(sent.message.id.as_str()).unwrap();
    let attachment = Attachment {
        id: doc["file"]["_id"].as_str().unwrap().to_owned(),
        name: "big.txt".into(),
        mime_type: None,
        size: None,
        url: doc["attachments"][0]["title_link"]
            .as_str()
            .unwrap()
            .to_owned(),
    };
    // The full size in the error can only come from the header: a streamed cut-off stops
    // at limit + 1.
    assert_eq!(
        channel.download(&attachment, 10).await.unwrap_err(),
        Error::TooLarge {
            what: "file \"big.txt\"".into(),
            size: 5000,
            limit: 10,
        }
    );
    channel.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upload_over_the_server_limit_is_too_large_and_posts_nothing() {
    let w = support::world().await;
    let (channel, _events) = connect(&w).await;
    w.sim.set_file_upload_max_size(10);
    let error = channel
        .send_file(outbound(&w.room, "eleven.txt", b"01234567890"))
        .await
        .unwrap_err();
    assert!(
        matches!(error, Error::TooLarge { size: 11, limit, .. } if limit < 11),
        "{error:?}"
    );
    assert!(w
        .sim
        .messages(&w.room)
        .iter()
        .all(|m| m.get("file").is_none()));
    // The channel is still usable.
    channel
        .send_file(outbound(&w.room, "ten.txt", b"0123456789"))
        .await
        .unwrap();
    channel.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_of_rooms_the_bot_cannot_read_are_permission_denied() {
    let w = support::world().await;
    let (channel, _events) = connect(&w).await;
    let secret = w
        .sim
        .create_room(RoomKind::Private, "secret", &w.peer_id, &[])
        .unwrap();
    let file_id = w
        .peer()
        .upload(&RoomId::new(&secret), "s.txt", "text/plain", b"hidden")
        .await
        .unwrap();
    let attachment = Attachment {
        id: file_id.clone(),
        name: "s.txt".into(),
        mime_type: None,
        size: None,
        url: format!("/file-upload/{file_id}/s.txt"),
    };
    let error = channel.download(&attachment, 1024).await.unwrap_err();
    assert!(matches!(error, Error::PermissionDenied { .. }), "{error:?}");
    // Uploading there is refused too (rooms.media checks room access first).
    let error = channel
        .send_file(outbound(&secret, "x.txt", b"x"))
        .await
        .unwrap_err();
    assert!(matches!(error, Error::PermissionDenied { .. }), "{error:?}");
    channel.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoked_credentials_are_typed_on_download_and_fatal_on_upload() {
    let w = support::world().await;
    let (channel, mut events) = connect(&w).await;
    let sent = channel
        .send_file(outbound(&w.room, "a.txt", b"abc"))
        .await
        .unwrap();
    let doc = w.sim.message(sent.message.id.as_str()).unwrap();
    let attachment = Attachment {
        id: doc["file"]["_id"].as_str().unwrap().to_owned(),
        name: "a.txt".into(),
        mime_type: None,
        size: None,
        url: doc["attachments"][0]["title_link"]
            .as_str()
            .unwrap()
            .to_owned(),
    };
    // Sockets stay open, so only the requests see the revocation.
    w.sim.set_silent_revocation(true);
    w.sim.remove_pat(&w.bot_id, "bridge").unwrap();
    // Rocket.Chat's file route answers bad credentials with a bare 403, which cannot be
    // told apart from a room the bot may not read.
    let error = channel.download(&attachment, 1024).await.unwrap_err();
    assert!(matches!(error, Error::PermissionDenied { .. }), "{error:?}");
    // rooms.media is a REST route: its 401 stops the account.
    let error = channel
        .send_file(outbound(&w.room, "b.txt", b"b"))
        .await
        .unwrap_err();
    assert!(matches!(error, Error::Unauthorized { .. }), "{error:?}");
    loop {
        if let Event::ConnectionStateChanged {
            state: ConnectionState::FatallyClosed { .. },
        } = next_event(&mut events).await
        {
            break;
        }
    }
    let error = channel.download(&attachment, 1024).await.unwrap_err();
    assert!(
        matches!(error, Error::Unauthorized { .. } | Error::Closed { .. }),
        "{error:?}"
    );
}
