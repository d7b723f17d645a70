//! The one route of an inbound event through the bridge, in the order the code reads:
//!
//! 1. **receive**: the event pump takes each event from the channel ([`pump_events`]);
//! 2. **decide**: the policy classifies it (`semantics`), and a new message is entered in
//!    the ledger, handled at once when it is not admitted, pending when it is
//!    ([`on_event`]);
//! 3. **prepare**: an admitted message's attachments are downloaded and its context
//!    (`history`, `threadHistory`) fetched, in a task of its own ([`admit`], `prepare`);
//! 4. **hand over**: its notification is written in its room's order (`hand_over`);
//! 5. **acknowledged**: the plugin's `ack` marks it handled in the ledger
//!    ([`acknowledge`]);
//! 6. **resume point**: the ledger's writer task writes the point, which never passes a
//!    pending message (`resume`).
//!
//! Ordering: notifications about one room go out in the order the events arrived. Each
//! takes a turn in its room's queue when the event is read; a message that needs the
//! server (a download, a history fetch) does that work in its own task and waits for its
//! turn only to be handed over, so a slow download holds back its own room and no other,
//! and several messages of one room fetch at the same time. A notification that needs
//! nothing and whose room has nothing pending is written at once, without a task.
//!
//! At most `MAX_IN_FLIGHT` (in `core`) such tasks run; beyond that the event pump waits, which holds
//! back the backend's event stream (its own bound then applies).

use std::sync::Arc;
use std::time::Duration;

use channel_api::threading::ReplyPlan;
use channel_api::{Attachment, Error, Event, EventStream, HistoryQuery, MessageId};
use serde::Serialize;
use tokio::sync::oneshot;
use tokio::task::JoinSet;

use crate::config::MediaConfig;
use crate::context::{self, Limits, Needed, Recent};
use crate::core::{Core, Settings};
use crate::media;
use crate::protocol::{method, AttachmentError, AttachmentWire, HistoryEntryWire};
use crate::semantics::{self, Admitted, Inbound};

// ----- 1. receive -----

/// Turns channel events into notifications until the stream ends or `stop` fires. Owns
/// the tasks that prepare messages: at the end they get `drain` to finish, then are
/// cancelled (what they held stays pending in the ledger: a restart hands it over).
pub(crate) async fn pump_events(
    core: Arc<Core>,
    mut events: EventStream,
    mut stop: oneshot::Receiver<tokio::time::Instant>,
    drain: Duration,
) {
    // No event is decided before the `rooms` keys are resolved to ids: a name-keyed room
    // would be closed meanwhile, and a message read then would be handled as refused.
    tokio::select! {
        () = core.resolve_rooms_until_done() => {}
        _ = &mut stop => return,
    }
    let mut tasks = JoinSet::new();
    let deadline = loop {
        let event = tokio::select! {
            event = events.recv() => event,
            deadline = &mut stop => {
                tracing::info!("stopping the event pump");
                // The server's one shutdown deadline; a dropped sender: stop now.
                break deadline.unwrap_or_else(|_| tokio::time::Instant::now());
            }
        };
        let Some(event) = event else {
            tracing::info!("the channel's event stream ended");
            break tokio::time::Instant::now() + drain;
        };
        on_event(&core, event, &mut tasks).await;
        while let Some(event) = events.try_recv() {
            on_event(&core, event, &mut tasks).await;
        }
        while let Some(joined) = tasks.try_join_next() {
            if let Err(e) = joined {
                tracing::error!(error = %e, "preparing a message failed");
            }
        }
    };
    // Messages still being prepared are sent when ready, until the deadline.
    let finish = async { while tasks.join_next().await.is_some() {} };
    if tokio::time::timeout_at(deadline, finish).await.is_err() {
        tracing::warn!("messages still being prepared at shutdown were cancelled");
        tasks.abort_all();
    }
}

// ----- 2. decide -----

/// Classifies one event and sends it down its route.
async fn on_event(core: &Arc<Core>, event: Event, tasks: &mut JoinSet<()>) {
    if let Event::ConnectionStateChanged { state } = event {
        // Messages may be missed across a change: no room is known to be quiet any more.
        core.inbound.windows.forget_rooms();
        if let Some(ledger) = &core.ledger {
            ledger.connection(state.is_active());
        }
        // Rooms are renamed, created and deleted while we are away: resolve the `rooms`
        // keys again (the old resolution holds meanwhile).
        if state.is_active() && core.was_connected() {
            let core = core.clone();
            tasks.spawn(async move {
                if let Err(e) = core.resolve_rooms().await {
                    tracing::warn!(error = %e, "could not resolve the rooms keys again; the last resolution holds");
                }
            });
        }
        core.set_state(state).await;
        return;
    }
    if core.is_fatal() {
        core.stats.dropped(semantics::AFTER_FATAL);
        tracing::info!(reason = semantics::AFTER_FATAL, "event dropped");
        return;
    }
    // The settings of this event, whatever a `reconfigure` does meanwhile.
    let settings = core.settings();
    // Every new message, admitted or not, moves its room's window (`context`); with room
    // and DM history off nothing reads it.
    let seen_before = match &event {
        Event::MessageCreated { message } if settings.history.any_recent() => {
            core.inbound.windows.saw(&message.room.id, &message.id)
        }
        _ => None,
    };
    let classified = core.classify(&settings, &event);
    // A new message is handled at once when it is not admitted, and pending until the
    // plugin acknowledges it when it is.
    if let (Some(ledger), Event::MessageCreated { message }) = (&core.ledger, &event) {
        let admitted = matches!(classified, Inbound::Message(_));
        ledger.read(&message.room.id, &message.id, message.timestamp, admitted);
    }
    match classified {
        Inbound::Message(admitted) => admit(core, tasks, &settings, *admitted, seen_before).await,
        Inbound::Pairing(params) => {
            tracing::info!(sender = %params.sender.id, "pairing required");
            let room = params.room.id.clone();
            notify_in_order(core, tasks, &room, method::PAIRING_REQUIRED, params).await;
        }
        Inbound::Reaction(params) => {
            let room = params.room.id.clone();
            notify_in_order(core, tasks, &room, method::REACTION, params).await;
        }
        Inbound::Edited(params) => {
            let room = params.room.id.clone();
            notify_in_order(core, tasks, &room, method::MESSAGE_EDITED, params).await;
        }
        Inbound::Deleted(params) => {
            let room = params.room.id.clone();
            notify_in_order(core, tasks, &room, method::MESSAGE_DELETED, params).await;
        }
        Inbound::RoomEvent(params) => {
            let room = params.room.id.clone();
            notify_in_order(core, tasks, &room, method::ROOM_EVENT, *params).await;
        }
        Inbound::Answer { plan, text, reason } => {
            core.stats.skipped(&reason);
            tracing::info!(%reason, room = %plan.room, "answered in the room, not forwarded");
            spawn_answer(core, plan, text);
        }
        Inbound::Skip(reason) => {
            core.stats.skipped(&reason);
            // Per event at debug: on a busy server nearly every message is skipped, and a
            // log line each costs more than deciding (`stats` keeps the counts).
            tracing::debug!(%reason, room = ?event.room(), "event skipped");
        }
        Inbound::Drop(reason) => {
            core.stats.dropped(&reason);
            if reason == "bot_loop" {
                // Two bots answering each other: worth seeing (at most one line per
                // message of that bot, for the length of its cooldown).
                tracing::info!(%reason, room = ?event.room(), "bot message dropped: bot-loop cooldown");
            } else {
                tracing::debug!(%reason, room = ?event.room(), "event dropped");
            }
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

// ----- 3. prepare -----

/// Handles an admitted message: records the dispatch, then hands it over now or once its
/// files and context are in. `seen_before` is the message seen just before it in its room
/// ([`Windows::saw`]).
async fn admit(
    core: &Arc<Core>,
    tasks: &mut JoinSet<()>,
    settings: &Arc<Settings>,
    admitted: Admitted,
    seen_before: Option<channel_api::MessageId>,
) {
    let history = &settings.history;
    let limits = Limits {
        recent: history.recent_limit(admitted.message.room.kind, &admitted.message.author.id),
        thread_initial: history.thread_initial,
        scope: history.thread_scope,
    };
    let mut needed = core.inbound.windows.dispatch(
        &admitted.params.conversation_id,
        &admitted.message,
        seen_before.as_ref(),
        limits,
    );
    // A backend without history would only answer `unsupported`.
    if !needed.is_nothing() && !core.channel.capabilities().history {
        needed = Needed::NOTHING;
    }
    let mut turn = core
        .inbound
        .order
        .enqueue(admitted.message.room.id.as_str());
    if needed.is_nothing() && admitted.message.attachments.is_empty() && turn.try_ready() {
        hand_over(core, admitted).await;
        return;
    }
    let Some(permit) = slot(core).await else {
        return;
    };
    let core = core.clone();
    let settings = settings.clone();
    tasks.spawn(async move {
        let _permit = permit;
        let admitted = prepare(&core, &settings, admitted, needed, limits).await;
        turn.wait().await;
        hand_over(&core, admitted).await;
    });
}

/// A task slot; `None` only if the semaphore was closed (never, in practice).
async fn slot(core: &Core) -> Option<tokio::sync::OwnedSemaphorePermit> {
    core.inbound.slots.clone().acquire_owned().await.ok()
}

/// Downloads the attachments and fetches the context, at the same time.
async fn prepare(
    core: &Arc<Core>,
    settings: &Settings,
    mut admitted: Admitted,
    needed: Needed,
    limits: Limits,
) -> Admitted {
    let (attachments, recent, thread_start) = tokio::join!(
        download_all(core, &settings.media, &admitted),
        fetch_recent(core, &admitted, needed.recent.as_ref(), limits.recent),
        fetch_thread_start(core, &admitted, needed.thread_start, limits.thread_initial)
    );
    admitted.params.attachments = attachments;
    admitted.params.history = recent;
    admitted.params.thread_history = thread_start;
    admitted
}

// ----- 4. hand over -----

/// Writes the notification, unless the account went fatal meanwhile (the message then
/// stays pending in the ledger: a restarted bridge hands it over).
async fn hand_over(core: &Core, admitted: Admitted) {
    let params = admitted.params;
    if core.is_fatal() {
        core.stats.dropped(semantics::AFTER_FATAL);
        tracing::info!(message = %params.message_id, reason = semantics::AFTER_FATAL, "message dropped");
        // Nobody will own the downloads.
        let paths: Vec<String> = params
            .attachments
            .iter()
            .filter_map(|a| a.path.clone())
            .collect();
        media::remove_files(paths).await;
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

/// Posts a short answer from the core itself (a refused or unknown command) in the
/// message's room and thread, after any send to that room already queued.
pub(crate) fn spawn_answer(core: &Arc<Core>, plan: ReplyPlan, text: String) {
    let mut turn = core.room_order.enqueue(plan.room.as_str());
    let core = core.clone();
    tokio::spawn(async move {
        turn.wait().await;
        core.inbound.windows.posting(&plan.room);
        for (index, chunk) in core
            .settings()
            .semantics
            .chunk(&text, core.channel.capabilities().max_text)
            .into_iter()
            .enumerate()
        {
            match core.channel.send(plan.outbound(index, chunk)).await {
                Ok(sent) => core.remember_sent(&sent.message),
                Err(err) => {
                    tracing::warn!(room = %plan.room, error = %err, "could not post the core's answer");
                    core.note_error(&err).await;
                    return;
                }
            }
        }
    });
}

// ----- 5. acknowledged -----

/// The plugin confirmed these messages (OpenClaw accepted or declined them): they are
/// handled, and the resume point may pass them. Returns how many were pending.
pub(crate) fn acknowledge(core: &Core, ids: &[MessageId]) -> usize {
    match &core.ledger {
        Some(ledger) => ledger.acked(ids),
        // Without a state file nothing waits for acks.
        None => 0,
    }
}

// ----- 6. resume point: `crate::resume` (the ledger and its writer task) -----

// ----- attachments -----

async fn download_all(
    core: &Arc<Core>,
    media: &MediaConfig,
    admitted: &Admitted,
) -> Vec<AttachmentWire> {
    let mut out = Vec::with_capacity(admitted.message.attachments.len());
    // One at a time: each download is held in memory until written.
    for attachment in &admitted.message.attachments {
        out.push(download_one(core, media, admitted, attachment).await);
    }
    out
}

async fn download_one(
    core: &Arc<Core>,
    media: &MediaConfig,
    admitted: &Admitted,
    attachment: &Attachment,
) -> AttachmentWire {
    let limit = media.max_bytes();
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
            spawn_answer(
                core,
                admitted.reply.clone(),
                too_large_notice(&attachment.name, size, media),
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

/// How many room messages a thread's recent window is read from: the room's latest,
/// filtered to the thread (as Slack reads `max(50, historyLimit)`).
fn thread_window_fetch(limit: usize) -> usize {
    limit.max(crate::config::DEFAULT_HISTORY_LIMIT)
}

/// The recent window (`history`): the room's messages, or its thread's under
/// `threadHistoryScope: thread`, after the previous dispatch. A failed fetch gives none.
async fn fetch_recent(
    core: &Core,
    admitted: &Admitted,
    recent: Option<&Recent>,
    limit: usize,
) -> Vec<HistoryEntryWire> {
    let Some(recent) = recent else {
        return Vec::new();
    };
    let message = &admitted.message;
    let fetch = match recent.thread {
        Some(_) => thread_window_fetch(limit),
        None => limit,
    };
    let query = HistoryQuery::Room {
        room: message.room.id.clone(),
        before: Some(message.timestamp),
        limit: fetch,
    };
    match fetch_history(core, admitted, &query).await {
        Some(fetched) => {
            let bot = core.channel.identity().user_id;
            context::room_window(fetched, message, recent, limit, &bot)
        }
        None => Vec::new(),
    }
}

/// The thread's start (`threadHistory`) on its first dispatch. A failed fetch gives none.
async fn fetch_thread_start(
    core: &Core,
    admitted: &Admitted,
    wanted: bool,
    limit: usize,
) -> Vec<HistoryEntryWire> {
    let message = &admitted.message;
    let (true, Some(root)) = (wanted, &message.thread_root) else {
        return Vec::new();
    };
    let query = HistoryQuery::Thread {
        room: message.room.id.clone(),
        root: root.clone(),
        // One more: the message itself may be among the first replies.
        limit: limit.saturating_add(1),
    };
    match fetch_history(core, admitted, &query).await {
        Some(fetched) => {
            let bot = core.channel.identity().user_id;
            context::thread_start(fetched, message, limit, &bot)
        }
        None => Vec::new(),
    }
}

async fn fetch_history(
    core: &Core,
    admitted: &Admitted,
    query: &HistoryQuery,
) -> Option<Vec<channel_api::Message>> {
    match core.channel.history(query).await {
        Ok(fetched) => Some(fetched),
        Err(e) => {
            // Context is a nicety: the message goes on without it.
            tracing::warn!(message = %admitted.params.message_id, error = %e, "history fetch failed; sending the message without it");
            core.note_error(&e).await;
            None
        }
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
