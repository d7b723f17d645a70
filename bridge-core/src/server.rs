//! The JSON-RPC loop: reads requests from the input, runs them concurrently, pumps the
//! channel's events through the policy, and writes responses and notifications as lines.
//!
//! Tasks:
//! - the **reader** (the caller's task) parses each line and starts a handler per request;
//!   sends take a per-room turn first so sends to one room post in input order;
//! - the **event pump** turns channel events into notifications, counters and in-room
//!   answers; an admitted message with files or context to fetch is prepared in its own
//!   task, and notifications about one room keep their order (`inbound`);
//! - the **writer** owns the output and writes one line per message.
//!
//! End of input or a `shutdown` request stops the reader; in-flight requests get a grace
//! period, then everything queued is written and `run` returns.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use channel_api::{Channel, ConnectionState, Event, EventStream, UserId};
use serde::Serialize;
use serde_json::Value;
use tokio::io::{AsyncBufRead, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinSet;

use crate::config::{AccountConfig, ConfigError};
use crate::inbound::{self, InboundState};
use crate::lines::{Line, LineReader, MAX_LINE_BYTES};
use crate::media::MediaDir;
use crate::ordering::KeyedOrder;
use crate::protocol::{method, ConnectionParams, IdentityWire, ReadyParams};
use crate::resume::ResumeState;
use crate::rpc::{self, RpcError};
use crate::semantics::{Inbound, Semantics};
use crate::stats::Stats;
use crate::{handlers, semantics};

/// How many output lines may wait for the writer before producers wait.
const OUTBOX_CAPACITY: usize = 1024;
/// Queued output lines are written together up to about this many bytes.
const WRITE_BATCH_BYTES: usize = 64 * 1024;

/// Why the bridge could not run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BridgeError {
    /// The configuration was rejected.
    #[error("invalid configuration: {0}")]
    Config(#[from] ConfigError),
    /// The channel refused to hand out its event stream.
    #[error("the channel has no event stream: {0}")]
    Channel(#[from] channel_api::Error),
    /// Reading the input or writing the output failed.
    #[error("stdio: {0}")]
    Io(#[from] std::io::Error),
}

/// Knobs of one bridge run.
#[derive(Debug, Clone)]
pub struct BridgeOptions {
    /// The conversation-id namespace (the channel's name in OpenClaw, e.g. `rocketchat`):
    /// the host names it, the core knows no backend.
    pub namespace: channel_api::Namespace,
    /// How long a shutdown waits for requests still running.
    pub drain_timeout: Duration,
    /// A signal to stop as if the input had ended (the binary fires it on SIGTERM).
    pub stop: Option<Arc<tokio::sync::Notify>>,
}

impl BridgeOptions {
    /// The defaults (a 10 s drain, no stop signal) for a channel under `namespace`.
    pub fn new(namespace: channel_api::Namespace) -> Self {
        Self {
            namespace,
            drain_timeout: Duration::from_secs(10),
            stop: None,
        }
    }
}

/// Runs the bridge over `channel` until the input ends or a `shutdown` request arrives.
///
/// `config` is the already parsed configuration line; `input` carries the JSON-RPC lines
/// that follow it and `output` receives responses and notifications.
pub async fn run_bridge<C, R, W>(
    channel: C,
    config: &AccountConfig,
    namespace: channel_api::Namespace,
    input: R,
    output: W,
) -> Result<(), BridgeError>
where
    C: Channel + 'static,
    R: AsyncRead + Unpin + Send,
    W: AsyncWrite + Unpin + Send + 'static,
{
    run_bridge_with(
        channel,
        config,
        BridgeOptions::new(namespace),
        input,
        output,
    )
    .await
}

/// [`run_bridge`] with options.
pub async fn run_bridge_with<C, R, W>(
    channel: C,
    config: &AccountConfig,
    options: BridgeOptions,
    input: R,
    output: W,
) -> Result<(), BridgeError>
where
    C: Channel + 'static,
    R: AsyncRead + Unpin + Send,
    W: AsyncWrite + Unpin + Send + 'static,
{
    let media = MediaDir::open(config.media())?;
    let reader = LineReader::new(BufReader::new(input), MAX_LINE_BYTES);
    run_lines(channel, config, options, media, None, reader, output).await
}

/// The loop, over an already opened line reader (the serve path has read the config line
/// from it). `media` is removed (when temporary) once the loop has stopped; `resume` is
/// kept up to date with what was read, and written when the event stream is idle and at
/// the end.
pub(crate) async fn run_lines<C, R, W>(
    channel: C,
    config: &AccountConfig,
    options: BridgeOptions,
    media: MediaDir,
    resume: Option<ResumeState>,
    mut reader: LineReader<R>,
    output: W,
) -> Result<(), BridgeError>
where
    C: Channel + 'static,
    R: AsyncBufRead + Unpin + Send,
    W: AsyncWrite + Unpin + Send + 'static,
{
    let identity = channel.identity();
    let semantics = Semantics::new(config, &identity, &options.namespace)?;
    let events = channel.events()?;

    let (out_tx, out_rx) = mpsc::channel(OUTBOX_CAPACITY);
    let (stop_writer, writer_stopped) = oneshot::channel();
    let writer = tokio::spawn(write_lines(out_rx, writer_stopped, output));

    let core = Arc::new(Core {
        channel: Box::new(channel),
        semantics,
        out: out_tx,
        stats: Stats::default(),
        approved: RwLock::new(config.approved_senders().iter().cloned().collect()),
        state: Mutex::new(None),
        fatal: AtomicBool::new(false),
        ready_sent: AtomicBool::new(false),
        room_order: KeyedOrder::default(),
        inbound: InboundState::new(
            media.path().to_owned(),
            config.media().clone(),
            config.history(),
        ),
        resume: resume.map(Mutex::new),
    });

    let mut tasks = JoinSet::new();
    let (stop_pump, pump_stopped) = oneshot::channel();
    let pump = tokio::spawn(pump_events(
        core.clone(),
        events,
        pump_stopped,
        options.drain_timeout,
    ));

    let result = match &options.stop {
        Some(stop) => tokio::select! {
            result = read_requests(&core, &mut reader, &mut tasks) => result,
            () = stop.notified() => {
                tracing::info!("asked to stop; shutting down");
                Ok(())
            }
        },
        None => read_requests(&core, &mut reader, &mut tasks).await,
    };

    // Let running requests finish (a send half-way through its chunks), then stop.
    let drain = async { while tasks.join_next().await.is_some() {} };
    if tokio::time::timeout(options.drain_timeout, drain)
        .await
        .is_err()
    {
        tracing::warn!("requests still running at shutdown were cancelled");
        tasks.abort_all();
    }
    // The pump stops reading events and finishes the messages it is preparing (within
    // the drain timeout), so what it read is either handed over or not marked as read.
    let _ = stop_pump.send(());
    if let Err(e) = pump.await {
        tracing::warn!(error = %e, "the event pump stopped abnormally");
    }
    core.save_resume();
    drop(core);
    let _ = stop_writer.send(());
    match writer.await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => tracing::warn!(error = %e, "writing the output failed"),
        Err(e) => tracing::warn!(error = %e, "the output writer stopped"),
    }
    // Nothing writes downloads any more: a temporary media directory can go.
    drop(media);
    tracing::info!("bridge stopped");
    result
}

/// Reads and dispatches lines until the input ends, a `shutdown` arrives or reading fails.
async fn read_requests<R: AsyncBufRead + Unpin + Send>(
    core: &Arc<Core>,
    reader: &mut LineReader<R>,
    tasks: &mut JoinSet<()>,
) -> Result<(), BridgeError> {
    loop {
        let line = tokio::select! {
            line = reader.next_line() => line?,
            Some(joined) = tasks.join_next(), if !tasks.is_empty() => {
                if let Err(e) = joined {
                    tracing::error!(error = %e, "a request handler failed");
                }
                continue;
            }
        };
        let text = match line {
            None => {
                tracing::info!("input closed; shutting down");
                return Ok(());
            }
            Some(Line::Text(text)) => text,
            Some(Line::TooLong) => {
                core.reject_line(RpcError::invalid_request(format!(
                    "line longer than {MAX_LINE_BYTES} bytes"
                )))
                .await;
                continue;
            }
            Some(Line::NotUtf8) => {
                core.reject_line(RpcError::parse("line is not UTF-8")).await;
                continue;
            }
        };
        if text.trim().is_empty() {
            continue;
        }
        let incoming = match rpc::parse_line(&text) {
            Ok(incoming) => incoming,
            Err(err) => {
                core.reject_line(err).await;
                continue;
            }
        };
        if handlers::dispatch(core, incoming, tasks).await == handlers::Flow::Shutdown {
            tracing::info!("shutdown requested");
            return Ok(());
        }
    }
}

/// Writes queued lines until told to stop, then writes what is still queued.
async fn write_lines<W: AsyncWrite + Unpin>(
    mut lines: mpsc::Receiver<String>,
    mut stop: oneshot::Receiver<()>,
    mut output: W,
) -> std::io::Result<()> {
    let mut batch = Vec::with_capacity(WRITE_BATCH_BYTES);
    loop {
        let line = tokio::select! {
            biased;
            line = lines.recv() => line,
            _ = &mut stop => {
                lines.close();
                lines.recv().await
            }
        };
        let Some(line) = line else { break };
        // Lines already queued go out in one write: each write to stdout is a system call
        // (and through tokio's stdout a hop to the blocking pool), so a burst of events
        // costs one write, not one per line.
        batch.clear();
        batch.extend_from_slice(line.as_bytes());
        batch.push(b'\n');
        while batch.len() < WRITE_BATCH_BYTES {
            let Ok(line) = lines.try_recv() else { break };
            batch.extend_from_slice(line.as_bytes());
            batch.push(b'\n');
        }
        output.write_all(&batch).await?;
        if lines.is_empty() {
            output.flush().await?;
        }
    }
    output.flush().await
}

/// The state shared by the reader, the handlers and the event pump.
#[derive(Debug)]
pub(crate) struct Core {
    pub(crate) channel: Box<dyn Channel>,
    pub(crate) semantics: Semantics,
    out: mpsc::Sender<String>,
    pub(crate) stats: Stats,
    /// DM senders approved through OpenClaw pairing (replaced by `setApprovedSenders`).
    pub(crate) approved: RwLock<HashSet<UserId>>,
    /// The last state reported; `None` before the first.
    state: Mutex<Option<ConnectionState>>,
    /// Set once the account is fatal; no `message` is sent after it.
    fatal: AtomicBool,
    ready_sent: AtomicBool,
    /// Per-room turns, so sends (and in-room answers) to one room keep their order.
    pub(crate) room_order: KeyedOrder,
    /// Downloads, context and per-room order of inbound notifications.
    pub(crate) inbound: InboundState,
    /// Where this account has read up to (`stateFile`), when configured.
    resume: Option<Mutex<ResumeState>>,
}

impl Core {
    /// Notes a new message as handled (for the resume point).
    pub(crate) fn note_read(&self, timestamp_ms: i64, id: &str) {
        if let Some(resume) = &self.resume {
            if let Ok(mut resume) = resume.lock() {
                resume.observe(timestamp_ms, id);
            }
        }
    }

    /// Writes the resume point if it moved. A failure is logged: the bridge keeps working,
    /// a restart would then resume from an older point.
    pub(crate) fn save_resume(&self) {
        if let Some(resume) = &self.resume {
            if let Ok(mut resume) = resume.lock() {
                if let Err(e) = resume.save_if_changed() {
                    tracing::warn!(error = %e, "could not write the state file");
                }
            }
        }
    }

    /// Queues one output line. Fails only when the writer has stopped (output closed).
    pub(crate) async fn emit(&self, line: String) {
        if self.out.send(line).await.is_err() {
            tracing::debug!("output closed; line dropped");
        }
    }

    /// Queues a notification.
    pub(crate) async fn notify<P: Serialize>(&self, method: &str, params: &P) {
        match serde_json::to_value(params) {
            Ok(params) => self.emit(rpc::notification_line(method, params)).await,
            Err(e) => tracing::error!(method, error = %e, "notification not serializable"),
        }
    }

    /// Answers a line that is not a valid request.
    async fn reject_line(&self, err: RpcError) {
        tracing::warn!(code = err.code, reason = %err.message, "rejected an input line");
        self.emit(rpc::error_line(&Value::Null, &err)).await;
    }

    /// The connection state now.
    pub(crate) fn state(&self) -> ConnectionState {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
            .unwrap_or_else(|| self.channel.state())
    }

    /// Whether the account has stopped for good.
    pub(crate) fn is_fatal(&self) -> bool {
        self.fatal.load(Ordering::SeqCst)
    }

    /// The approved DM senders now.
    pub(crate) fn approved(&self) -> HashSet<UserId> {
        self.approved
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Records a connection state and tells the plugin. Reports `fatal` once, and sends
    /// `ready` on the first `active`.
    pub(crate) async fn set_state(&self, state: ConnectionState) {
        if state.is_fatal() && self.fatal.swap(true, Ordering::SeqCst) {
            return; // already reported
        }
        if self.is_fatal() && !state.is_fatal() {
            tracing::warn!(?state, "state change after fatal ignored");
            return;
        }
        {
            let mut current = self
                .state
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            // The host hears of changes only (a first connection may report `connecting`
            // from two layers).
            if current.as_ref() == Some(&state) {
                return;
            }
            *current = Some(state.clone());
        }
        match &state {
            ConnectionState::FatallyClosed { cause, reason } => {
                tracing::error!(?cause, %reason, "account stopped for good");
            }
            other => tracing::info!(state = ?other, "connection state"),
        }
        self.notify(method::CONNECTION, &ConnectionParams::from(&state))
            .await;
        if state == ConnectionState::Active && !self.ready_sent.swap(true, Ordering::SeqCst) {
            let server_version = match self.channel.probe().await {
                Ok(report) => report.server_version,
                Err(err) => {
                    tracing::warn!(error = %err, "could not read the server version");
                    None
                }
            };
            // Asked now: a backend connected in the background knows the server's answer.
            let identity = self.channel.identity();
            let ready = ReadyParams {
                identity: IdentityWire {
                    account_id: self.semantics.account().to_string(),
                    user_id: identity.user_id.to_string(),
                    username: identity.username,
                },
                capabilities: self.channel.capabilities(),
                server_version,
            };
            self.notify(method::READY, &ready).await;
        }
    }

    /// A call failed with `err`: revoked credentials stop the account even if the backend
    /// has not said so yet.
    pub(crate) async fn note_error(&self, err: &channel_api::Error) {
        if let channel_api::Error::Unauthorized { reason } = err {
            self.set_state(ConnectionState::FatallyClosed {
                cause: channel_api::FatalCause::Unauthorized,
                reason: reason.clone(),
            })
            .await;
        }
    }
}

/// Turns channel events into notifications until the stream ends or `stop` fires. Owns
/// the tasks that prepare messages: at the end they get `drain` to finish, then are
/// cancelled. The resume point is written whenever no event is waiting.
async fn pump_events(
    core: Arc<Core>,
    mut events: EventStream,
    mut stop: oneshot::Receiver<()>,
    drain: Duration,
) {
    let mut tasks = JoinSet::new();
    loop {
        let event = tokio::select! {
            event = events.recv() => event,
            _ = &mut stop => {
                tracing::info!("stopping the event pump");
                break;
            }
        };
        let Some(event) = event else {
            tracing::info!("the channel's event stream ended");
            break;
        };
        on_event(&core, event, &mut tasks).await;
        // What is already queued belongs to the same burst; write the resume point once
        // the burst is handled, not per event.
        while let Some(event) = events.try_recv() {
            on_event(&core, event, &mut tasks).await;
        }
        core.save_resume();
        while let Some(joined) = tasks.try_join_next() {
            if let Err(e) = joined {
                tracing::error!(error = %e, "preparing a message failed");
            }
        }
    }
    // Messages still being prepared are sent when ready, within the drain time.
    let finish = async { while tasks.join_next().await.is_some() {} };
    if tokio::time::timeout(drain, finish).await.is_err() {
        tracing::warn!("messages still being prepared at shutdown were cancelled");
        tasks.abort_all();
    }
}

async fn on_event(core: &Arc<Core>, event: Event, tasks: &mut JoinSet<()>) {
    if let Event::ConnectionStateChanged { state } = event {
        // Messages may be missed across a change: no room is known to be quiet any more.
        core.inbound.windows.forget_rooms();
        core.set_state(state).await;
        return;
    }
    if core.is_fatal() {
        core.stats.dropped(semantics::AFTER_FATAL);
        tracing::info!(reason = semantics::AFTER_FATAL, "event dropped");
        return;
    }
    // A new message that is not admitted is handled here and now; an admitted one once
    // its notification is written (`inbound::deliver`).
    let created = match &event {
        Event::MessageCreated { message } => {
            Some((message.timestamp.as_millis(), message.id.clone()))
        }
        _ => None,
    };
    // Every new message, admitted or not, moves its room's window (`context`); with room
    // and DM history off nothing reads it.
    let history = core.inbound.history;
    let seen_before = match &event {
        Event::MessageCreated { message } if history.room > 0 || history.dm > 0 => {
            core.inbound.windows.saw(&message.room.id, &message.id)
        }
        _ => None,
    };
    let classified = core.semantics.classify(&event, &core.approved());
    if let (Some((timestamp, id)), false) = (&created, matches!(classified, Inbound::Message(_))) {
        core.note_read(*timestamp, id.as_str());
    }
    match classified {
        Inbound::Message(admitted) => {
            inbound::dispatch(core, tasks, *admitted, seen_before).await;
        }
        Inbound::Pairing(params) => {
            tracing::info!(sender = %params.sender.id, "pairing required");
            let room = params.room.id.clone();
            inbound::notify_in_order(core, tasks, &room, method::PAIRING_REQUIRED, params).await;
        }
        Inbound::Reaction(params) => {
            let room = params.room.id.clone();
            inbound::notify_in_order(core, tasks, &room, method::REACTION, params).await;
        }
        Inbound::Edited(params) => {
            let room = params.room.id.clone();
            inbound::notify_in_order(core, tasks, &room, method::MESSAGE_EDITED, params).await;
        }
        Inbound::Deleted(params) => {
            let room = params.room.id.clone();
            inbound::notify_in_order(core, tasks, &room, method::MESSAGE_DELETED, params).await;
        }
        Inbound::Answer { plan, text, reason } => {
            core.stats.skipped(&reason);
            tracing::info!(%reason, room = %plan.room, "answered in the room, not forwarded");
            handlers::spawn_answer(core, plan, text);
        }
        Inbound::Skip(reason) => {
            core.stats.skipped(&reason);
            // Per event at debug: on a busy server nearly every message is skipped, and a
            // log line each costs more than deciding (`stats` keeps the counts).
            tracing::debug!(%reason, room = ?event.room(), "event skipped");
        }
        Inbound::Drop(reason) => {
            core.stats.dropped(&reason);
            tracing::debug!(%reason, room = ?event.room(), "event dropped");
        }
    }
}
