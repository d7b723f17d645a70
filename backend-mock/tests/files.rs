//! Files on the in-memory backend: uploads by the bot and by peers, attachments on inbound
//! messages, downloads with a size limit, the world's upload limit and who may download.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::setup;

use backend_mock::{Operation, DEFAULT_UPLOAD_LIMIT};
use channel_api::{
    Attachment, Channel, ChannelExt, Error, Event, EventStream, Message, OutboundFile, RoomId,
};

/// A generous bound that only turns a hang into a failure.
const HANG: Duration = Duration::from_secs(10);

async fn next_message(events: &mut EventStream) -> Message {
    loop {
        let event = tokio::time::timeout(HANG, events.recv())
            .await
            .expect("no event arrived")
            .expect("stream ended");
        if let Event::MessageCreated { message } = event {
            return message;
        }
    }
}

fn file(room: &RoomId, name: &str, data: &[u8]) -> OutboundFile {
    OutboundFile {
        room: room.clone(),
        thread: None,
        name: name.into(),
        mime_type: "text/plain".into(),
        data: data.to_vec(),
        caption: None,
    }
}

#[tokio::test]
async fn capabilities_say_files_work() {
    let s = setup();
    assert!(s.channel.capabilities().files);
}

#[tokio::test]
async fn peer_file_arrives_as_attachment_and_downloads_exactly() {
    let mut s = setup();
    let data = b"\x89PNG\r\n\x1a\n not really a png".to_vec();
    let posted = s
        .peer
        .post_file(
            &s.room,
            "cat.png",
            "image/png",
            &data,
            Some("look at this"),
            None,
        )
        .unwrap();

    let message = next_message(&mut s.events).await;
    assert_eq!(message.id, posted.id);
    assert_eq!(message.text, "look at this");
    assert_eq!(message.attachments.len(), 1);
    let attachment = &message.attachments[0];
    assert_eq!(attachment.name, "cat.png");
    assert_eq!(attachment.mime_type.as_deref(), Some("image/png"));
    assert_eq!(attachment.size, Some(data.len() as u64));

    let bytes = s.channel.download(attachment, 1024).await.unwrap();
    assert_eq!(bytes, data);
    // Exactly at the limit is fine.
    let bytes = s
        .channel
        .download(attachment, data.len() as u64)
        .await
        .unwrap();
    assert_eq!(bytes, data);
}

#[tokio::test]
async fn file_without_caption_has_empty_text() {
    let mut s = setup();
    s.peer
        .post_file(&s.room, "a.txt", "text/plain", b"abc", None, None)
        .unwrap();
    let message = next_message(&mut s.events).await;
    assert_eq!(message.text, "");
    assert_eq!(message.attachments.len(), 1);
}

#[tokio::test]
async fn download_over_max_bytes_is_too_large() {
    let mut s = setup();
    s.peer
        .post_file(&s.room, "big.bin", "", &[7u8; 100], None, None)
        .unwrap();
    let message = next_message(&mut s.events).await;
    let attachment = &message.attachments[0];
    // An empty MIME type is recorded as unknown.
    assert_eq!(attachment.mime_type, None);

    let error = s.channel.download(attachment, 99).await.unwrap_err();
    assert_eq!(
        error,
        Error::TooLarge {
            what: "file \"big.bin\"".into(),
            size: 100,
            limit: 99,
        }
    );
}

#[tokio::test]
async fn send_file_into_thread_is_seen_by_peer_with_caption_and_bytes() {
    let mut s = setup();
    let root = s.peer.post(&s.room, "root").unwrap();
    next_message(&mut s.events).await;

    let mut outbound = file(&s.room, "report.txt", b"the report");
    outbound.thread = Some(root.id.clone());
    outbound.caption = Some("here it is".into());
    let sent = s.channel.send_file(outbound).await.unwrap();
    assert_eq!(sent.thread.as_ref(), Some(&root.id));

    let replies = s.peer.thread(&s.room, &root.id).unwrap();
    assert_eq!(replies.len(), 1);
    let reply = &replies[0];
    assert_eq!(reply.id, sent.message.id);
    assert_eq!(reply.text, "here it is");
    assert_eq!(reply.thread_root.as_ref(), Some(&root.id));
    assert_eq!(reply.attachments.len(), 1);
    assert_eq!(reply.attachments[0].name, "report.txt");
    assert_eq!(
        s.world.file(&reply.attachments[0].id).unwrap(),
        b"the report"
    );
}

#[tokio::test]
async fn bot_file_is_not_delivered_back_to_the_bot() {
    let mut s = setup();
    s.channel
        .send_file(file(&s.room, "mine.txt", b"x"))
        .await
        .unwrap();
    let sentinel = s.peer.post(&s.room, "sentinel").unwrap();
    let message = next_message(&mut s.events).await;
    assert_eq!(message.id, sentinel.id);
}

#[tokio::test]
async fn upload_over_world_limit_is_too_large_and_posts_nothing() {
    let s = setup();
    assert_eq!(DEFAULT_UPLOAD_LIMIT, 104_857_600);
    s.world.set_upload_limit(10);

    let error = s
        .channel
        .send_file(file(&s.room, "eleven.txt", b"01234567890"))
        .await
        .unwrap_err();
    assert_eq!(
        error,
        Error::TooLarge {
            what: "file \"eleven.txt\"".into(),
            size: 11,
            limit: 10,
        }
    );
    let error = s
        .peer
        .post_file(
            &s.room,
            "eleven.txt",
            "text/plain",
            b"01234567890",
            None,
            None,
        )
        .unwrap_err();
    assert!(matches!(error, Error::TooLarge { size: 11, .. }));
    assert!(s.world.messages(&s.room).unwrap().is_empty());

    // At the limit is accepted.
    s.channel
        .send_file(file(&s.room, "ten.txt", b"0123456789"))
        .await
        .unwrap();
    assert_eq!(s.world.messages(&s.room).unwrap().len(), 1);
}

#[tokio::test]
async fn bad_file_name_is_invalid() {
    let s = setup();
    for name in ["", "  ", "a/b.txt"] {
        let error = s
            .channel
            .send_file(file(&s.room, name, b"x"))
            .await
            .unwrap_err();
        assert!(
            matches!(error, Error::InvalidRequest { .. }),
            "{name:?}: {error:?}"
        );
    }
}

#[tokio::test]
async fn file_in_a_room_the_bot_cannot_see_is_not_found() {
    let s = setup();
    let alice = s.peer.id().clone();
    let bob = s.world.add_user("bob");
    let secret = s
        .world
        .create_private_room("secret", &[&alice, &bob])
        .unwrap();
    let posted = s
        .peer
        .post_file(&secret, "secret.txt", "text/plain", b"hidden", None, None)
        .unwrap();
    let attachment = s.world.message(&posted.id).unwrap().attachments[0].clone();

    let error = s.channel.download(&attachment, 1024).await.unwrap_err();
    assert!(matches!(error, Error::NotFound { .. }), "{error:?}");
    // An id that never existed is not found either.
    let unknown = Attachment {
        id: "nope".into(),
        ..attachment
    };
    let error = s.channel.download(&unknown, 1024).await.unwrap_err();
    assert!(matches!(error, Error::NotFound { .. }), "{error:?}");
}

#[tokio::test]
async fn send_file_where_the_bot_is_not_a_member_is_refused_and_stores_nothing() {
    let s = setup();
    let alice = s.peer.id().clone();
    let open = s.world.create_public_room("open", &[&alice]).unwrap();
    let error = s
        .channel
        .send_file(file(&open, "x.txt", b"x"))
        .await
        .unwrap_err();
    assert!(matches!(error, Error::PermissionDenied { .. }), "{error:?}");
    assert!(s.world.messages(&open).unwrap().is_empty());
}

#[tokio::test]
async fn deleting_the_message_deletes_its_file() {
    let s = setup();
    let sent = s
        .channel
        .send_file(file(&s.room, "gone.txt", b"soon gone"))
        .await
        .unwrap();
    let attachment = s.world.message(&sent.message.id).unwrap().attachments[0].clone();
    assert!(s.world.file(&attachment.id).is_some());

    s.channel.delete(&sent.message).await.unwrap();
    assert!(s.world.file(&attachment.id).is_none());
    let error = s.channel.download(&attachment, 1024).await.unwrap_err();
    assert!(matches!(error, Error::NotFound { .. }), "{error:?}");
}

#[tokio::test]
async fn scripted_failures_apply_to_file_operations() {
    let s = setup();
    s.channel.fail_next(
        Operation::SendFile,
        Error::Disconnected {
            reason: "scripted".into(),
        },
    );
    let error = s
        .channel
        .send_file(file(&s.room, "x.txt", b"x"))
        .await
        .unwrap_err();
    assert!(matches!(error, Error::Disconnected { .. }));
    assert!(s.world.messages(&s.room).unwrap().is_empty());

    let sent = s
        .channel
        .send_file(file(&s.room, "x.txt", b"x"))
        .await
        .unwrap();
    let attachment = s.world.message(&sent.message.id).unwrap().attachments[0].clone();
    s.channel.fail_next(
        Operation::Download,
        Error::Disconnected {
            reason: "scripted".into(),
        },
    );
    assert!(s.channel.download(&attachment, 10).await.is_err());
    assert_eq!(s.channel.download(&attachment, 10).await.unwrap(), b"x");
    // The text-only helper still works next to files.
    s.channel.send_text(&s.room, "plain").await.unwrap();
}
