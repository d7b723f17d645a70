//! The requests the plugin sends (`send`, `react`, `probe`, ...): parsing their params,
//! running them against the channel, and answering.

use std::sync::Arc;

use channel_api::threading::{ReplyPlan, ReplyTarget};
use channel_api::{
    MessageId, MessageRef, Namespace, OutboundFile, RoomId, RoomQuery, Target, UserId, UserQuery,
};
use serde::Serialize;
use serde_json::{json, Value};
use tokio::task::JoinSet;

use crate::core::Core;
use crate::media::{self, ReadError};
use crate::ordering::Turn;
use crate::protocol::{
    ConnectionParams, ProbeResult, ReactParams, ReplyThreadWire, Request, SendFileParams,
    SendParams, SendResult, SetApprovedSendersParams,
};
use crate::route;
use crate::rpc::{self, RpcError};
use crate::semantics;

/// Whether the reader goes on after a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Flow {
    /// Read the next line.
    Continue,
    /// `shutdown` was answered: stop reading.
    Shutdown,
}

/// Starts one request. Quick bookkeeping requests are answered inline; anything that talks
/// to the server runs as its own task so a slow send never holds up a probe.
pub(crate) async fn dispatch(
    core: &Arc<Core>,
    id: Option<Value>,
    request: Request,
    tasks: &mut JoinSet<()>,
) -> Flow {
    let method = request.method();
    tracing::debug!(method, "request");
    match request {
        Request::Shutdown(_) => {
            respond(core, id.as_ref(), method, Ok(json!({}))).await;
            return Flow::Shutdown;
        }
        Request::Stats(_) => {
            let mut stats = core.stats.snapshot();
            stats.unacked = core.ledger.as_ref().map_or(0, |l| l.pending());
            let result = to_result(stats);
            respond(core, id.as_ref(), method, result).await;
        }
        Request::SetApprovedSenders(params) => {
            let result = set_approved_senders(core, params);
            respond(core, id.as_ref(), method, result).await;
        }
        Request::Ack(params) => {
            let ids: Vec<MessageId> = params.message_ids.into_iter().map(MessageId::new).collect();
            let acked = route::acknowledge(core, &ids);
            respond(core, id.as_ref(), method, Ok(json!({ "acked": acked }))).await;
        }
        Request::Reconfigure(params) => {
            let result = core.reconfigure(params.config).await;
            respond(core, id.as_ref(), method, result).await;
        }
        Request::Send(params) => {
            // Take the room's turn now, in input order; wait for it in the task.
            let turn = core
                .room_order
                .enqueue(&order_key(core.namespace(), &params.target));
            let core = core.clone();
            tasks.spawn(async move {
                let result = within_budget(&core, method, send(&core, params, turn))
                    .await
                    .and_then(to_result);
                respond(&core, id.as_ref(), method, result).await;
            });
        }
        Request::SendFile(params) => {
            // The same room turn as `send`: text and files to one room keep their order.
            let turn = core
                .room_order
                .enqueue(&order_key(core.namespace(), &params.target));
            let core = core.clone();
            tasks.spawn(async move {
                let result = within_budget(&core, method, send_file(&core, params, turn))
                    .await
                    .and_then(to_result);
                respond(&core, id.as_ref(), method, result).await;
            });
        }
        Request::Probe(_) => {
            // Answered after a fatal stop too: it reports the state.
            let core = core.clone();
            tasks.spawn(async move {
                let result = match tokio::time::timeout(core.request_budget, probe(&core)).await {
                    Ok(report) => to_result(report),
                    Err(_) => Err(channel_api::Error::Timeout {
                        operation: "probe".into(),
                    }
                    .into()),
                };
                respond(&core, id.as_ref(), method, result).await;
            });
        }
        request => {
            let core = core.clone();
            tasks.spawn(async move {
                let result = within_budget(&core, method, run_simple(&core, request)).await;
                respond(&core, id.as_ref(), method, result).await;
            });
        }
    }
    Flow::Continue
}

/// Runs a request that needs the server: at once refused with the account's final error
/// when it has stopped (never a retryable `disconnected`), and cut off with `timeout`
/// past the request budget (`ready.limits.sendBudgetMs`).
async fn within_budget<T>(
    core: &Core,
    method: &'static str,
    work: impl std::future::Future<Output = Result<T, RpcError>>,
) -> Result<T, RpcError> {
    if let Some(err) = core.stopped_error() {
        return Err(err.into());
    }
    match tokio::time::timeout(core.request_budget, work).await {
        Ok(result) => result,
        Err(_) => Err(channel_api::Error::Timeout {
            operation: format!("{method} (the bridge's request budget)"),
        }
        .into()),
    }
}

/// Answers a request that could not be decoded (its id was readable).
pub(crate) async fn refuse(core: &Core, id: Option<Value>, err: RpcError) {
    respond(core, id.as_ref(), "(undecodable)", Err(err)).await;
}

/// Writes the response of a request; for a notification (no id) only logs a failure.
async fn respond(core: &Core, id: Option<&Value>, method: &str, result: Result<Value, RpcError>) {
    if let Err(err) = &result {
        tracing::warn!(method, code = err.code, reason = %err.message, "request failed");
    }
    let Some(id) = id else { return };
    let line = match result {
        Ok(value) => rpc::result_line(id, value),
        Err(err) => rpc::error_line(id, &err),
    };
    core.emit(line).await;
}

fn to_result<T: Serialize>(value: T) -> Result<Value, RpcError> {
    serde_json::to_value(value).map_err(|e| RpcError::invalid_params(e.to_string()))
}

fn non_empty<'a>(field: &str, value: &'a str) -> Result<&'a str, RpcError> {
    if value.trim().is_empty() {
        Err(RpcError::invalid_params(format!(
            "{field} must not be empty"
        )))
    } else {
        Ok(value)
    }
}

/// The requests that are one channel call each.
async fn run_simple(core: &Core, request: Request) -> Result<Value, RpcError> {
    let outcome = match request {
        Request::React(p) => {
            let (message, emoji) = reaction_of(core.namespace(), &p)?;
            core.channel.react(&message, emoji).await
        }
        Request::Unreact(p) => {
            let (message, emoji) = reaction_of(core.namespace(), &p)?;
            core.channel.unreact(&message, emoji).await
        }
        Request::Edit(p) => {
            let message = message_ref(core.namespace(), &p.room_id, &p.message_id)?;
            core.channel.edit(&message, &p.text).await
        }
        Request::Delete(p) => {
            let message = message_ref(core.namespace(), &p.room_id, &p.message_id)?;
            core.channel.delete(&message).await
        }
        Request::Typing(p) => {
            let room = room_of(core.namespace(), &p.room_id)?;
            let thread = p.thread_id.filter(|t| !t.is_empty()).map(MessageId::new);
            core.channel.set_typing(&room, thread, p.on).await
        }
        other => return Err(RpcError::method_not_found(other.method())),
    };
    match outcome {
        Ok(()) => Ok(json!({})),
        Err(err) => {
            core.note_error(&err).await;
            Err(err.into())
        }
    }
}

/// The message and emoji of `react` / `unreact` (colons around the emoji are tolerated).
fn reaction_of<'a>(
    namespace: &Namespace,
    p: &'a ReactParams,
) -> Result<(MessageRef, &'a str), RpcError> {
    let message = message_ref(namespace, &p.room_id, &p.message_id)?;
    let emoji = non_empty("emoji", p.emoji.trim().trim_matches(':'))?;
    Ok((message, emoji))
}

fn message_ref(
    namespace: &Namespace,
    room_id: &str,
    message_id: &str,
) -> Result<MessageRef, RpcError> {
    Ok(MessageRef {
        room: room_of(namespace, room_id)?,
        id: MessageId::new(non_empty("messageId", message_id)?),
    })
}

/// The room a `roomId` / `target` names: a room id, `<ns>:<roomId>` or a conversation id
/// (the target grammar; names and users need a lookup and are refused here).
fn room_of(namespace: &Namespace, room: &str) -> Result<RoomId, RpcError> {
    match parse_target(namespace, non_empty("roomId", room)?)? {
        Target::Room(room) => Ok(room),
        Target::Conversation(c) => Ok(c.room().clone()),
        Target::RoomName(_) | Target::User(_) => Err(RpcError::invalid_params(
            "roomId must be a room id or a conversation id",
        )),
    }
}

/// Checks the server and the token through the channel (so a refusal stops the account
/// like any other call would).
async fn probe(core: &Core) -> ProbeResult {
    let report = core.channel.probe().await;
    if let Err(err) = &report {
        core.note_error(err).await;
    }
    let state = ConnectionParams::from(&core.state()).state;
    let unresolved_rooms = core.settings().semantics.unresolved_rooms();
    match report {
        Ok(report) => ProbeResult {
            reachable: true,
            token_valid: report.identity_matches && !core.is_fatal(),
            server_version: report.server_version,
            state,
            unresolved_rooms,
        },
        Err(channel_api::Error::Unauthorized { .. }) => ProbeResult {
            reachable: true,
            token_valid: false,
            server_version: None,
            state,
            unresolved_rooms,
        },
        Err(err) => {
            tracing::warn!(error = %err, "probe failed");
            ProbeResult {
                reachable: false,
                token_valid: !core.is_fatal(),
                server_version: None,
                state,
                unresolved_rooms,
            }
        }
    }
}

fn set_approved_senders(core: &Core, p: SetApprovedSendersParams) -> Result<Value, RpcError> {
    let approved: std::collections::HashSet<UserId> = p
        .user_ids
        .into_iter()
        .filter(|id| !id.trim().is_empty())
        .map(UserId::new)
        .collect();
    let count = approved.len();
    *core
        .approved
        .write()
        .unwrap_or_else(std::sync::PoisonError::into_inner) = approved;
    tracing::info!(count, "approved DM senders replaced");
    Ok(json!({ "count": count }))
}

// ----- send -----

/// Parses a `send.target` with the channel's target grammar (`channel_api::target`).
fn parse_target(namespace: &Namespace, target: &str) -> Result<Target, RpcError> {
    Target::parse(namespace, target).map_err(|e| RpcError::invalid_params(e.to_string()))
}

/// The key that orders sends: the room id when the target shows it, else the target as
/// written (`#name` and `@user` are resolved later, inside the turn).
fn order_key(namespace: &Namespace, target: &str) -> String {
    match parse_target(namespace, target) {
        Ok(parsed) => match parsed.room_id() {
            Some(room) => room.to_string(),
            None => target.trim().to_owned(),
        },
        Err(_) => target.trim().to_owned(),
    }
}

async fn resolve_target(
    core: &Core,
    target: Target,
) -> Result<(RoomId, Option<MessageId>), RpcError> {
    match target {
        Target::Conversation(c) => {
            if c.account() != core.account() {
                return Err(RpcError::invalid_params(format!(
                    "target belongs to account {:?}, this bridge serves {:?}",
                    c.account().as_str(),
                    core.account().as_str()
                )));
            }
            Ok((c.room().clone(), c.thread().cloned()))
        }
        Target::Room(room) => Ok((room, None)),
        Target::RoomName(name) => {
            let room = resolve(core, RoomQuery::Name(name)).await?;
            Ok((room, None))
        }
        Target::User(username) => match core
            .channel
            .open_direct(&UserQuery::Username(username))
            .await
        {
            Ok(room) => Ok((room.id, None)),
            Err(err) => {
                core.note_error(&err).await;
                Err(err.into())
            }
        },
    }
}

async fn resolve(core: &Core, query: RoomQuery) -> Result<RoomId, RpcError> {
    match core.channel.resolve_room(&query).await {
        Ok(info) => Ok(info.id),
        Err(err) => {
            core.note_error(&err).await;
            Err(err.into())
        }
    }
}

/// The idempotency key of chunk `index`: the caller's key for the first chunk, then
/// `<key>-<index>`, so a retried send reuses every chunk's id.
fn chunk_key(key: &str, index: usize) -> MessageId {
    if index == 0 {
        MessageId::new(key)
    } else {
        MessageId::new(format!("{key}-{index}"))
    }
}

/// Where a `send` or `sendFile` goes, as a reply target of the threading module:
/// `replyThread` (the plan of the `message` notification, passed back unchanged) wins,
/// then `threadId`, then the thread in the conversation id, else the top level. Which
/// chunk lands where is then the plan's decision (`ReplyPlan::thread_for_chunk`), not
/// this module's.
fn choose_target(
    reply_thread: Option<ReplyThreadWire>,
    thread_id: Option<String>,
    target_thread: Option<MessageId>,
) -> Result<ReplyTarget, RpcError> {
    Ok(match (reply_thread, thread_id) {
        (Some(reply), _) => {
            non_empty("replyThread.id", &reply.id)?;
            semantics::reply_target(reply)
        }
        (None, Some(id)) if !id.is_empty() => ReplyTarget::Thread(MessageId::new(id)),
        _ => target_thread.map_or(ReplyTarget::TopLevel, ReplyTarget::Thread),
    })
}

async fn send(core: &Core, params: SendParams, mut turn: Turn) -> Result<SendResult, RpcError> {
    let target = parse_target(core.namespace(), &params.target)?;
    turn.wait().await;
    let (room, target_thread) = resolve_target(core, target).await?;
    let plan = ReplyPlan {
        room,
        target: choose_target(params.reply_thread, params.thread_id, target_thread)?,
    };
    let room = &plan.room;
    core.inbound.windows.posting(room);
    let chunks = core
        .settings()
        .semantics
        .chunk(&params.text, core.channel.capabilities().max_text);
    if chunks.is_empty() {
        return Err(RpcError::from(channel_api::Error::InvalidRequest {
            reason: "text is empty".into(),
        }));
    }
    let mut message_ids = Vec::with_capacity(chunks.len());
    let mut thread_id = None;
    for (index, chunk) in chunks.into_iter().enumerate() {
        let mut message = plan
            .outbound(index, chunk)
            .with_identity(params.identity.clone());
        // As Slack's channel: only the first chunk of a thread reply is broadcast.
        if index == 0 && params.reply_broadcast && message.thread.is_some() {
            message = message.broadcast(true);
        }
        if let Some(key) = &params.idempotency_key {
            message = message.with_idempotency_key(chunk_key(key, index));
        }
        match core.channel.send(message).await {
            Ok(sent) => {
                core.remember_sent(&sent.message);
                if index == 0 {
                    thread_id = sent.thread.map(MessageId::into_string);
                }
                message_ids.push(sent.message.id.into_string());
            }
            Err(err) => {
                tracing::warn!(
                    room = %room,
                    posted = message_ids.len(),
                    "send failed part-way; the chunks already posted stay"
                );
                core.note_error(&err).await;
                return Err(err.into());
            }
        }
    }
    Ok(SendResult {
        message_ids,
        thread_id,
    })
}

/// Uploads a file: the target and thread as in `send`, the file read here, refused before
/// anything is posted when it is over `mediaMaxMb`.
async fn send_file(
    core: &Core,
    params: SendFileParams,
    mut turn: Turn,
) -> Result<SendResult, RpcError> {
    let target = parse_target(core.namespace(), &params.target)?;
    let path = std::path::PathBuf::from(non_empty("path", &params.path)?);
    let name = match params.name.as_deref().map(str::trim) {
        Some(name) if !name.is_empty() => name.to_owned(),
        _ => path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .filter(|n| !n.is_empty())
            .ok_or_else(|| RpcError::invalid_params("path has no file name; pass name"))?,
    };
    let mime_type = match params.mime_type.as_deref().map(str::trim) {
        Some(mime) if !mime.is_empty() => mime.to_owned(),
        _ => media::guess_mime(&name).to_owned(),
    };
    let caption = params.caption.filter(|c| !c.trim().is_empty());
    // Validated before the turn, so a bad request never waits behind other sends.
    let reply_target = match (&params.reply_thread, &params.thread_id) {
        (None, None) => None,
        _ => Some(choose_target(params.reply_thread, params.thread_id, None)?),
    };
    let media_limits = core.settings().media.clone();
    let limit = media_limits.max_bytes();
    let data = match media::read_limited(&path, limit).await {
        Ok(data) => data,
        Err(ReadError::TooLarge { size, limit, .. }) => {
            return Err(RpcError::too_large(
                format!(
                    "{name} is {} MB; the limit (mediaMaxMb) is {} MB",
                    media::mib_one_decimal(size),
                    media_limits.max_mb
                ),
                limit,
            ))
        }
        Err(err @ ReadError::Unreadable { .. }) => {
            return Err(RpcError::invalid_params(format!("path: {err}")))
        }
    };
    turn.wait().await;
    let (room, target_thread) = resolve_target(core, target).await?;
    let plan = ReplyPlan {
        room,
        target: reply_target
            .unwrap_or_else(|| target_thread.map_or(ReplyTarget::TopLevel, ReplyTarget::Thread)),
    };
    let room = plan.room.clone();
    core.inbound.windows.posting(&room);
    // A file is one message: the plan's first chunk.
    let file = OutboundFile {
        room: room.clone(),
        thread: plan.thread_for_chunk(0).cloned(),
        name,
        mime_type,
        data,
        caption,
    };
    match core.channel.send_file(file).await {
        Ok(sent) => {
            core.remember_sent(&sent.message);
            Ok(SendResult {
                message_ids: vec![sent.message.id.into_string()],
                thread_id: sent.thread.map(MessageId::into_string),
            })
        }
        Err(err) => {
            tracing::warn!(room = %room, error = %err, "sendFile failed");
            core.note_error(&err).await;
            Err(err.into())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::ReplyScope;

    fn ns() -> Namespace {
        Namespace::new("rocketchat").unwrap()
    }

    #[test]
    fn bad_targets_are_invalid_params() {
        // The grammar itself is channel-api's (`target.rs`); here only the error mapping.
        for bad in [
            "",
            "  ",
            "#",
            "@",
            "rocketchat:",
            "rocketchat:default:nope:R1",
        ] {
            assert_eq!(
                parse_target(&ns(), bad).unwrap_err().code,
                rpc::INVALID_PARAMS,
                "{bad:?}"
            );
        }
    }

    #[test]
    fn sends_are_ordered_by_room() {
        assert_eq!(
            order_key(&ns(), "rocketchat:default:channel:R1:thread:T"),
            "R1"
        );
        assert_eq!(order_key(&ns(), "R1"), "R1");
        assert_eq!(order_key(&ns(), "#general"), "#general");
    }

    #[test]
    fn the_target_is_reply_thread_then_thread_id_then_the_conversation() {
        let reply = || {
            Some(ReplyThreadWire {
                id: "R".into(),
                scope: ReplyScope::First,
            })
        };
        let root = || Some(MessageId::new("C"));
        let chosen = |r, t: Option<&str>, c| choose_target(r, t.map(str::to_owned), c).unwrap();
        assert_eq!(
            chosen(reply(), Some("T"), root()),
            ReplyTarget::FirstChunkInThread(MessageId::new("R"))
        );
        assert_eq!(
            chosen(None, Some("T"), root()),
            ReplyTarget::Thread(MessageId::new("T"))
        );
        assert_eq!(
            chosen(None, Some(""), root()),
            ReplyTarget::Thread(MessageId::new("C"))
        );
        assert_eq!(chosen(None, None, None), ReplyTarget::TopLevel);
        let empty = Some(ReplyThreadWire {
            id: " ".into(),
            scope: ReplyScope::All,
        });
        assert_eq!(
            choose_target(empty, None, None).unwrap_err().code,
            rpc::INVALID_PARAMS
        );
    }

    #[test]
    fn chunk_keys_are_stable() {
        assert_eq!(chunk_key("k", 0).as_str(), "k");
        assert_eq!(chunk_key("k", 2).as_str(), "k-2");
    }
}
