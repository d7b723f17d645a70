//! From an admitted message to its `message` notification: downloading its attachments,
//! fetching its context (`history`, `threadHistory`), then sending it in room order.
//!
//! Ordering: notifications about one room go out in the order the events arrived. Each
//! takes a turn in its room's queue when the event is read; a message that needs the
//! server (a download, a history fetch) does that work in its own task and waits for its
//! turn only to be sent, so a slow download holds back its own room and no other, and
//! several messages of one room fetch at the same time. A notification that needs nothing
//! and whose room has nothing pending is sent at once, without a task.
//!
//! At most [`MAX_IN_FLIGHT`] such tasks run; beyond that the event pump waits, which holds
//! back the backend's event stream (its own bound then applies).

use std::sync::Arc;

use channel_api::{Attachment, Error, HistoryQuery, RoomKind};
use serde::Serialize;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::config::{HistoryConfig, MediaConfig};
use crate::context::{self, Needed, Windows};
use crate::handlers;
use crate::media;
use crate::ordering::KeyedOrder;
use crate::protocol::{method, AttachmentError, AttachmentWire, HistoryEntryWire};
use crate::semantics::{self, Admitted};
use crate::server::Core;

/// Messages being prepared at once (downloads and fetches in flight).
pub(crate) const MAX_IN_FLIGHT: usize = 256;

/// The inbound side's settings and state, part of [`Core`].
#[derive(Debug)]
pub(crate) struct InboundState {
    /// Where downloads go.
    pub(crate) media_dir: std::path::PathBuf,
    /// `mediaMaxMb`.
    pub(crate) media: MediaConfig,
    /// The history limits.
    pub(crate) history: HistoryConfig,
    /// What each conversation has seen.
    pub(crate) windows: Windows,
    /// Per-room order of notifications.
    order: KeyedOrder,
    /// Bounds the tasks preparing messages.
    slots: Arc<Semaphore>,
}

impl InboundState {
    pub(crate) fn new(
        media_dir: std::path::PathBuf,
        media: MediaConfig,
        history: HistoryConfig,
    ) -> Self {
        Self {
            media_dir,
            media,
            history,
            windows: Windows::default(),
            order: KeyedOrder::default(),
            slots: Arc::new(Semaphore::new(MAX_IN_FLIGHT)),
        }
    }
}

/// Sends a notification about `room` after any earlier one about the same room.
pub(crate) async fn notify_in_order<P>(
    core: &Arc<Core>,
    tasks: &mut JoinSet<()>,
    room: &str,
    method: &'static str,
    params: P,
) where
    P: Serialize + Send + Sync + 'static,
{
    let mut turn = core.inbound.order.enqueue(room);
    if turn.try_ready() {
        core.notify(method, &params).await;
        return;
    }
    let Some(permit) = slot(core).await else {
        return;
    };
    let core = core.clone();
    tasks.spawn(async move {
        let _permit = permit;
        turn.wait().await;
        core.notify(method, &params).await;
    });
}

/// Handles an admitted message: records the dispatch, then sends the notification now or
/// once its files and context are in. `seen_before` is the message seen just before it
/// in its room ([`Windows::saw`]).
pub(crate) async fn dispatch(
    core: &Arc<Core>,
    tasks: &mut JoinSet<()>,
    admitted: Admitted,
    seen_before: Option<channel_api::MessageId>,
) {
    let history = core.inbound.history;
    let room_limit = match admitted.message.room.kind {
        RoomKind::Direct => history.dm,
        _ => history.room,
    };
    let mut needed = core.inbound.windows.dispatch(
        &admitted.params.conversation_id,
        &admitted.message,
        seen_before.as_ref(),
        room_limit,
        history.thread_initial,
    );
    // A backend without history would only answer `unsupported`.
    if needed != Needed::Nothing && !core.channel.capabilities().history {
        needed = Needed::Nothing;
    }
    let mut turn = core
        .inbound
        .order
        .enqueue(admitted.message.room.id.as_str());
    if needed == Needed::Nothing && admitted.message.attachments.is_empty() && turn.try_ready() {
        deliver(core, admitted).await;
        return;
    }
    let Some(permit) = slot(core).await else {
        return;
    };
    let core = core.clone();
    tasks.spawn(async move {
        let _permit = permit;
        let admitted = prepare(&core, admitted, needed, room_limit).await;
        turn.wait().await;
        deliver(&core, admitted).await;
    });
}

/// A task slot; `None` only if the semaphore was closed (never, in practice).
async fn slot(core: &Core) -> Option<tokio::sync::OwnedSemaphorePermit> {
    core.inbound.slots.clone().acquire_owned().await.ok()
}

/// Downloads the attachments and fetches the context, at the same time.
async fn prepare(
    core: &Arc<Core>,
    mut admitted: Admitted,
    needed: Needed,
    room_limit: usize,
) -> Admitted {
    let (attachments, context) = tokio::join!(
        download_all(core, &admitted),
        fetch_context(core, &admitted, needed, room_limit)
    );
    admitted.params.attachments = attachments;
    match context {
        Context::None => {}
        Context::Room(entries) => admitted.params.history = entries,
        Context::Thread(entries) => admitted.params.thread_history = entries,
    }
    admitted
}

/// Sends the notification, unless the account went fatal meanwhile.
async fn deliver(core: &Core, admitted: Admitted) {
    let params = admitted.params;
    core.note_read(params.timestamp, &params.message_id);
    if core.is_fatal() {
        core.stats.dropped(semantics::AFTER_FATAL);
        tracing::info!(message = %params.message_id, reason = semantics::AFTER_FATAL, "message dropped");
        // Nobody will own the downloads.
        for path in params.attachments.iter().filter_map(|a| a.path.as_ref()) {
            let _ = std::fs::remove_file(path);
        }
        return;
    }
    core.stats.admitted();
    tracing::info!(
        message = %params.message_id,
        room = %params.room.id,
        sender = %params.sender.id,
        attachments = params.attachments.len(),
        history = params.history.len(),
        thread_history = params.thread_history.len(),
        "message admitted"
    );
    core.notify(method::MESSAGE, &params).await;
}

// ----- attachments -----

async fn download_all(core: &Arc<Core>, admitted: &Admitted) -> Vec<AttachmentWire> {
    let mut out = Vec::with_capacity(admitted.message.attachments.len());
    // One at a time: each download is held in memory until written.
    for attachment in &admitted.message.attachments {
        out.push(download_one(core, admitted, attachment).await);
    }
    out
}

async fn download_one(
    core: &Arc<Core>,
    admitted: &Admitted,
    attachment: &Attachment,
) -> AttachmentWire {
    let limit = core.inbound.media.max_bytes();
    let mut wire = AttachmentWire {
        id: attachment.id.clone(),
        name: attachment.name.clone(),
        mime_type: attachment
            .mime_type
            .clone()
            .or_else(|| Some(media::guess_mime(&attachment.name).to_owned())),
        size: attachment.size,
        path: None,
        error: None,
    };
    let outcome = match core.channel.download(attachment, limit).await {
        // A backend that read past the limit still does not get it through.
        Ok(data) if data.len() as u64 > limit => Err(Error::TooLarge {
            what: format!("file {:?}", attachment.name),
            size: data.len() as u64,
            limit,
        }),
        other => other,
    };
    match outcome {
        Ok(data) => {
            let size = data.len() as u64;
            match media::write_download(&core.inbound.media_dir, &attachment.name, data).await {
                Ok(path) => {
                    wire.size = Some(size);
                    wire.path = Some(path.display().to_string());
                }
                Err(e) => {
                    tracing::warn!(message = %admitted.params.message_id, file = %attachment.id, error = %e, "could not write an attachment");
                    wire.error = Some(AttachmentError::Failed);
                }
            }
        }
        Err(Error::TooLarge { size, .. }) => {
            let size = size.max(attachment.size.unwrap_or(0));
            tracing::info!(message = %admitted.params.message_id, file = %attachment.id, size, limit, "attachment over mediaMaxMb");
            handlers::spawn_answer(
                core,
                admitted.reply.clone(),
                too_large_notice(&attachment.name, size, &core.inbound.media),
            );
            wire.error = Some(AttachmentError::TooLarge);
        }
        Err(e) => {
            tracing::warn!(message = %admitted.params.message_id, file = %attachment.id, error = %e, "could not download an attachment");
            core.note_error(&e).await;
            wire.error = Some(AttachmentError::Failed);
        }
    }
    wire
}

/// "I can't read report.pdf: it is 31.2 MB and my limit is 20 MB."
pub(crate) fn too_large_notice(name: &str, size: u64, media: &MediaConfig) -> String {
    // A file named `@all` must not ping the room: a zero-width space after each `@`
    // breaks the server's mention parsing and looks the same.
    let name = name.replace('@', "@\u{200B}");
    format!(
        "I can't read {name}: it is {} MB and my limit is {} MB.",
        media::mib_one_decimal(size),
        media.max_mb
    )
}

// ----- context -----

enum Context {
    None,
    Room(Vec<HistoryEntryWire>),
    Thread(Vec<HistoryEntryWire>),
}

async fn fetch_context(
    core: &Core,
    admitted: &Admitted,
    needed: Needed,
    room_limit: usize,
) -> Context {
    let message = &admitted.message;
    let (query, after) = match needed {
        Needed::Nothing => return Context::None,
        Needed::Room(after) => (
            HistoryQuery::Room {
                room: message.room.id.clone(),
                before: Some(message.timestamp),
                limit: room_limit,
            },
            after,
        ),
        Needed::ThreadStart => match &message.thread_root {
            Some(root) => (
                HistoryQuery::Thread {
                    room: message.room.id.clone(),
                    root: root.clone(),
                    // One more: the message itself may be among the first replies.
                    limit: core.inbound.history.thread_initial.saturating_add(1),
                },
                None,
            ),
            None => return Context::None,
        },
    };
    let fetched = match core.channel.history(&query).await {
        Ok(fetched) => fetched,
        Err(e) => {
            // Context is a nicety: the message goes on without it.
            tracing::warn!(message = %admitted.params.message_id, error = %e, "history fetch failed; sending the message without it");
            core.note_error(&e).await;
            return Context::None;
        }
    };
    let bot = core.channel.identity().user_id;
    match query {
        HistoryQuery::Room { .. } => {
            Context::Room(context::room_window(fetched, message, after.as_ref(), &bot))
        }
        HistoryQuery::Thread { .. } => Context::Thread(context::thread_start(
            fetched,
            message,
            core.inbound.history.thread_initial,
            &bot,
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_notice_names_the_file_its_size_and_the_limit() {
        let media = MediaConfig::default();
        assert_eq!(
            too_large_notice("report.pdf", 31 * 1024 * 1024 + 200 * 1024, &media),
            "I can't read report.pdf: it is 31.2 MB and my limit is 20 MB."
        );
        let half = MediaConfig {
            max_mb: 0.5,
            ..MediaConfig::default()
        };
        assert!(too_large_notice("a", 1024 * 1024, &half).ends_with("my limit is 0.5 MB."));
        assert!(!too_large_notice("@all", 1, &media).contains("@all"));
    }
}
