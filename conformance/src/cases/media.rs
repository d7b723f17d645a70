//! Files: inbound attachments and their download (with a size limit), and the channel's
//! own uploads into a thread. A backend without `capabilities().files` must answer
//! `download` and `send_file` with `Error::Unsupported`.

use channel_api::{Attachment, Error, OutboundFile};

use super::{expect_error, expect_unsupported};
use crate::harness::{CaseResult, Harness};
use crate::peer::PeerFile;

/// The MIME type of the files the cases upload: arbitrary bytes, so no server inspects or
/// converts them.
const MIME: &str = "application/octet-stream";

/// Bytes that are not valid UTF-8 and carry the run id, so a download that mangles binary
/// data or returns another run's file fails.
fn file_bytes(h: &Harness, len: usize) -> Vec<u8> {
    let mut data: Vec<u8> = h.run_id.as_bytes().to_vec();
    data.extend((0..=255u8).cycle().take(len.saturating_sub(data.len())));
    data
}

/// A file name unique to this run.
fn file_name(h: &Harness, what: &str) -> String {
    format!("{what}-{}.bin", h.run_id)
}

/// What a backend without files must say to a download.
async fn download_is_unsupported(h: &Harness) -> CaseResult {
    let attachment = Attachment {
        id: "conformance-no-such-file".into(),
        name: "none.bin".into(),
        mime_type: None,
        size: None,
        url: "/file-upload/conformance-no-such-file/none.bin".into(),
    };
    expect_unsupported("files", h.channel.download(&attachment, 1024).await)
}

/// The peer posts a file with a caption: the channel receives one `MessageCreated` with
/// one attachment (name, MIME type, size), and `download` returns exactly the bytes.
pub async fn peer_file_arrives_as_attachment_and_downloads(h: &Harness) -> CaseResult {
    if !h.channel.capabilities().files {
        return download_is_unsupported(h).await;
    }
    let name = file_name(h, "inbound");
    let data = file_bytes(h, 700);
    let caption = h.text("a file from the peer");
    let file = PeerFile {
        name: &name,
        mime_type: MIME,
        data: &data,
        caption: Some(&caption),
    };
    let posted = h.peer.post_file(&h.room, file, None).await?;

    let message = h
        .wait_for_message("the peer's file message", |m| m.id == posted.id)
        .await?;
    ensure!(
        message.text == caption,
        "the file message arrived with text {:?}, expected the caption {caption:?}",
        message.text
    );
    ensure!(
        message.attachments.len() == 1,
        "expected one attachment, got {:?}",
        message.attachments
    );
    let attachment = &message.attachments[0];
    ensure!(
        attachment.name == name,
        "attachment name {:?}, expected {name:?}",
        attachment.name
    );
    ensure!(
        attachment.mime_type.as_deref() == Some(MIME),
        "attachment MIME type {:?}, expected {MIME:?}",
        attachment.mime_type
    );
    ensure!(
        attachment.size == Some(data.len() as u64),
        "attachment size {:?}, expected {}",
        attachment.size,
        data.len()
    );

    let downloaded = h.channel.download(attachment, 1024 * 1024).await?;
    ensure!(
        downloaded == data,
        "download returned {} bytes that differ from the {} uploaded",
        downloaded.len(),
        data.len()
    );
    // A limit of exactly the size is enough.
    let downloaded = h.channel.download(attachment, data.len() as u64).await?;
    ensure!(
        downloaded == data,
        "download at a limit of exactly the size returned other bytes"
    );
    Ok(())
}

/// A download whose limit is below the file's size is `Error::TooLarge` naming that limit.
pub async fn download_over_max_bytes_is_too_large(h: &Harness) -> CaseResult {
    if !h.channel.capabilities().files {
        return download_is_unsupported(h).await;
    }
    let name = file_name(h, "large");
    let data = file_bytes(h, 4096);
    let file = PeerFile {
        name: &name,
        mime_type: MIME,
        data: &data,
        caption: Some(&h.text("a file too large for the bot")),
    };
    let posted = h.peer.post_file(&h.room, file, None).await?;
    let message = h
        .wait_for_message("the peer's file message", |m| m.id == posted.id)
        .await?;
    let Some(attachment) = message.attachments.first() else {
        return Err(format!("the file message arrived without attachments: {message:?}").into());
    };

    let limit = data.len() as u64 - 1;
    expect_error(
        "download with max_bytes one below the size",
        "Error::TooLarge with that limit and a size above it",
        h.channel.download(attachment, limit).await,
        |e| matches!(e, Error::TooLarge { size, limit: l, .. } if *l == limit && *size > limit),
    )
}

/// The channel uploads a file with a caption into a thread: `send_file` reports the thread,
/// and the peer finds one message there, with the caption and the file.
pub async fn send_file_into_thread_is_seen_by_peer(h: &Harness) -> CaseResult {
    let root = h
        .peer
        .post(&h.room, &h.text("root for a bot file"), None)
        .await?;
    let name = file_name(h, "outbound");
    let caption = h.text("a file from the bot");
    let outbound = OutboundFile {
        room: h.room.clone(),
        thread: Some(root.id.clone()),
        name: name.clone(),
        mime_type: MIME.into(),
        data: file_bytes(h, 300),
        caption: Some(caption.clone()),
    };
    if !h.channel.capabilities().files {
        return expect_unsupported("files", h.channel.send_file(outbound).await);
    }

    let sent = h.channel.send_file(outbound).await?;
    ensure!(
        sent.thread.as_ref() == Some(&root.id),
        "send_file reports thread {:?}, expected {:?}",
        sent.thread,
        root.id
    );
    let replies = h
        .eventually("the bot's file shows in the thread", || async {
            let replies = h.peer.thread_messages(&h.room, &root.id).await?;
            Ok(replies
                .iter()
                .any(|m| m.id == sent.message.id)
                .then_some(replies))
        })
        .await?;
    let copies: Vec<_> = replies.iter().filter(|m| m.text == caption).collect();
    ensure!(
        copies.len() == 1,
        "the caption is in the thread {} times",
        copies.len()
    );
    let reply = copies[0];
    ensure!(
        reply.id == sent.message.id,
        "the caption is on message {:?}, send_file returned {:?}",
        reply.id,
        sent.message.id
    );
    ensure!(
        reply.author == h.bot().user_id,
        "the file message was written by {:?}",
        reply.author
    );
    ensure!(
        reply.file_names == [name.clone()],
        "the file message carries files {:?}, expected [{name:?}]",
        reply.file_names
    );
    Ok(())
}
