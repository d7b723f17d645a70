//! The JSON-RPC loop: reads requests from the input, runs them concurrently, pumps the
//! channel's events through the policy, and writes responses and notifications as lines.
//!
//! Tasks:
//! - the **reader** (the caller's task) parses each line and starts a handler per request;
//!   sends take a per-room turn first so sends to one room post in input order;
//! - the **event pump** sends every channel event down its route (`route`): decided,
//!   prepared, handed over in room order, acknowledged;
//! - the **writer** owns the output and writes one line per message;
//! - the **ledger writer** writes the resume point (`stateFile`) when it changes.
//!
//! End of input or a `shutdown` request stops the reader; in-flight requests get a grace
//! period, then everything queued is written and `run` returns.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use channel_api::config::ResolvedRooms;
use channel_api::policy::RecentMessages;
use channel_api::{Channel, ConnectionState, MessageRef, RoomId, RoomQuery, UserId};
use serde::Serialize;
use serde_json::Value;
use tokio::io::{AsyncBufRead, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinSet;

use crate::config::{AccountConfig, ConfigError, HistoryConfig, MediaConfig};
use crate::handlers;
use crate::keys::BackendKeys;
use crate::lines::{Line, LineReader, MAX_LINE_BYTES};
use crate::media::MediaDir;
use crate::ordering::KeyedOrder;
use crate::protocol::{
    method, ConnectionParams, IdentityWire, LimitsWire, ReadyParams, PROTOCOL_VERSION,
};
use crate::resume::Ledger;
use crate::route::{self, InboundState};
use crate::rpc::{self, RpcError};
use crate::semantics::Semantics;
use crate::stats::Stats;

/// Admitted and posted messages remembered for their edits and deletes.
const KNOWN_MESSAGES: usize = 10_000;
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
    /// The longest one request may run; past it the bridge answers `timeout` and stops
    /// the request (a send with an idempotency key is then safe to retry).
    pub request_budget: Duration,
    /// The bridge's version, for `ready` (the host's crate version).
    pub version: String,
    /// A signal to stop as if the input had ended (the binary fires it on SIGTERM).
    pub stop: Option<Arc<tokio::sync::Notify>>,
    /// The backend's keys: a `reconfigure` is checked against them like the first line.
    pub backend: BackendKeys,
}

impl BridgeOptions {
    /// The defaults (a 10 s drain, no stop signal) for a channel under `namespace`.
    pub fn new(namespace: channel_api::Namespace) -> Self {
        Self {
            namespace,
            drain_timeout: Duration::from_secs(10),
            request_budget: Duration::from_secs(120),
            version: env!("CARGO_PKG_VERSION").to_owned(),
            stop: None,
            backend: BackendKeys::any(),
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
/// from it). `media` is removed (when temporary) once the loop has stopped; `ledger`
/// (with `stateFile`) learns what was read and acknowledged, and its point is written by
/// its own task, a last time at the end.
pub(crate) async fn run_lines<C, R, W>(
    channel: C,
    config: &AccountConfig,
    options: BridgeOptions,
    media: MediaDir,
    ledger: Option<Arc<Ledger>>,
    mut reader: LineReader<R>,
    output: W,
) -> Result<(), BridgeError>
where
    C: Channel + 'static,
    R: AsyncBufRead + Unpin + Send,
    W: AsyncWrite + Unpin + Send + 'static,
{
    let identity = channel.identity();
    let settings = Settings::new(config, &identity, &options.namespace, &ResolvedRooms::new())?;
    let events = channel.events()?;

    let (out_tx, out_rx) = mpsc::channel(OUTBOX_CAPACITY);
    let (stop_writer, writer_stopped) = oneshot::channel();
    let writer = tokio::spawn(write_lines(out_rx, writer_stopped, output));

    let core = Arc::new(Core {
        channel: Box::new(channel),
        namespace: options.namespace.clone(),
        account: config.account_id().clone(),
        limits: LimitsWire {
            drain_ms: millis(options.drain_timeout),
            send_budget_ms: millis(options.request_budget),
        },
        request_budget: options.request_budget,
        version: options.version.clone(),
        backend: options.backend.clone(),
        config: RwLock::new(config.clone()),
        settings: RwLock::new(Arc::new(settings)),
        resolved: RwLock::new(ResolvedRooms::new()),
        known: Mutex::new(RecentMessages::new(KNOWN_MESSAGES)),
        out: out_tx,
        stats: Stats::default(),
        approved: RwLock::new(config.approved_senders().iter().cloned().collect()),
        state: Mutex::new(None),
        fatal: AtomicBool::new(false),
        ready_sent: AtomicBool::new(false),
        room_order: KeyedOrder::default(),
        inbound: InboundState::new(media.path().to_owned()),
        ledger: ledger.clone(),
    });
    let stop_ledger = Arc::new(tokio::sync::Notify::new());
    let ledger_writer = ledger.map(|ledger| tokio::spawn(ledger.write_until(stop_ledger.clone())));

    let mut tasks = JoinSet::new();
    let (stop_pump, pump_stopped) = oneshot::channel();
    let pump = tokio::spawn(route::pump_events(
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
    // The last point: after the last ack the plugin could send.
    if let Some(writer) = ledger_writer {
        stop_ledger.notify_one();
        if let Err(e) = writer.await {
            tracing::warn!(error = %e, "the state file writer stopped abnormally");
        }
    }
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
        let request = match incoming.request {
            Ok(request) => request,
            Err(err) => {
                handlers::refuse(core, incoming.id, err).await;
                continue;
            }
        };
        if handlers::dispatch(core, incoming.id, request, tasks).await == handlers::Flow::Shutdown {
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

/// What a `reconfigure` may change while the bridge runs: the policy and the limits.
#[derive(Debug)]
pub(crate) struct Settings {
    /// The policy, commands, threading, chunking.
    pub(crate) semantics: Semantics,
    /// `historyLimit`, `dmHistoryLimit`, `threadInitialHistoryLimit`.
    pub(crate) history: HistoryConfig,
    /// `mediaMaxMb` (the directory is fixed at start).
    pub(crate) media: MediaConfig,
}

impl Settings {
    fn new(
        config: &AccountConfig,
        identity: &channel_api::Identity,
        namespace: &channel_api::Namespace,
        rooms: &ResolvedRooms,
    ) -> Result<Self, ConfigError> {
        Ok(Self {
            semantics: Semantics::new(config, identity, namespace, rooms)?,
            history: config.history(),
            media: config.media().clone(),
        })
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// The state shared by the reader, the handlers and the event pump.
#[derive(Debug)]
pub(crate) struct Core {
    pub(crate) channel: Box<dyn Channel>,
    /// The conversation-id namespace the host gave.
    namespace: channel_api::Namespace,
    /// The account this bridge serves.
    account: channel_api::AccountId,
    /// What `ready` tells the plugin about the bridge's timeouts.
    limits: LimitsWire,
    /// The longest one request may run.
    pub(crate) request_budget: Duration,
    /// The bridge's version.
    version: String,
    /// The backend's keys, for checking a `reconfigure`.
    backend: BackendKeys,
    /// The configuration in force (the first line, or the last `reconfigure`).
    config: RwLock<AccountConfig>,
    /// The settings in force; replaced whole by `reconfigure` and room resolution.
    settings: RwLock<Arc<Settings>>,
    /// The `rooms` keys as last resolved to room ids.
    resolved: RwLock<ResolvedRooms>,
    /// Messages admitted or posted by the bot: only edits and deletes of these reach
    /// the agent.
    known: Mutex<RecentMessages>,
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
    /// What this account has handled (`stateFile`), when configured.
    pub(crate) ledger: Option<Arc<Ledger>>,
}

impl Core {
    /// The conversation-id namespace.
    pub(crate) fn namespace(&self) -> &channel_api::Namespace {
        &self.namespace
    }

    /// The account this bridge serves.
    pub(crate) fn account(&self) -> &channel_api::AccountId {
        &self.account
    }

    /// The settings in force now. Each event and request takes them once, so a
    /// `reconfigure` applies from the next one on, never half-way through one.
    pub(crate) fn settings(&self) -> Arc<Settings> {
        self.settings
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Applies a changed configuration: policy keys at once, a change of a key that needs
    /// a restart refuses the whole change (`restartRequired`).
    pub(crate) async fn reconfigure(&self, value: Value) -> Result<Value, RpcError> {
        let new = AccountConfig::check(value, &self.backend).map_err(|errors| {
            let all: Vec<String> = errors.iter().map(ToString::to_string).collect();
            RpcError::invalid_params(all.join("; "))
        })?;
        let changed = {
            let current = self
                .config
                .read()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            current.changed_keys(&new)
        };
        let blocked: Vec<String> = changed
            .iter()
            .filter(|k| crate::config::needs_restart(k))
            .cloned()
            .collect();
        if !blocked.is_empty() {
            return Err(RpcError::restart_required(&blocked));
        }
        let rooms = self.resolved_rooms();
        let settings = Settings::new(&new, &self.channel.identity(), &self.namespace, &rooms)
            .map_err(|e| RpcError::invalid_params(e.to_string()))?;
        if changed.iter().any(|k| k == "approvedSenders") {
            *self
                .approved
                .write()
                .unwrap_or_else(std::sync::PoisonError::into_inner) =
                new.approved_senders().iter().cloned().collect();
        }
        *self
            .settings
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Arc::new(settings);
        *self
            .config
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = new;
        tracing::info!(keys = ?changed, "configuration applied");
        // New `rooms` keys need resolving; one attempt now, again at every reconnect.
        if changed.iter().any(|k| k == "rooms") {
            if let Err(e) = self.resolve_rooms().await {
                tracing::warn!(error = %e, "could not resolve the rooms keys now; will retry at the next reconnect");
            }
        }
        Ok(serde_json::json!({ "applied": changed }))
    }

    /// The `rooms` keys as last resolved.
    fn resolved_rooms(&self) -> ResolvedRooms {
        self.resolved
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Resolves every `rooms` key to a room id through the channel (an id first, then a
    /// name), and puts the result in force. A key that names no room is denied (warned
    /// about, and listed by `probe`); a failure to ask (the server is down) changes nothing
    /// and is returned.
    pub(crate) async fn resolve_rooms(&self) -> Result<(), channel_api::Error> {
        let keys: Vec<String> = self
            .settings()
            .semantics
            .config()
            .rooms
            .keys()
            .cloned()
            .collect();
        if keys.is_empty() {
            return Ok(());
        }
        let mut resolved = ResolvedRooms::new();
        for key in keys {
            let bare = key.trim_start_matches('#').to_owned();
            let by_id = match self
                .channel
                .resolve_room(&RoomQuery::Id(RoomId::new(bare.clone())))
                .await
            {
                Ok(room) => Some(room.id),
                Err(channel_api::Error::NotFound { .. }) => None,
                Err(e) => return Err(e),
            };
            let id = match by_id {
                Some(id) => Some(id),
                None => match self.channel.resolve_room(&RoomQuery::Name(bare)).await {
                    Ok(room) => Some(room.id),
                    Err(channel_api::Error::NotFound { .. }) => None,
                    Err(e) => return Err(e),
                },
            };
            if id.is_none() {
                tracing::warn!(room = %key, "a rooms key names no room the bot can see; it is denied");
            }
            resolved.insert(key, id);
        }
        *self
            .resolved
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = resolved.clone();
        // The settings in force get the resolution (the configuration is unchanged).
        let config = self
            .config
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        match Settings::new(
            &config,
            &self.channel.identity(),
            &self.namespace,
            &resolved,
        ) {
            Ok(settings) => {
                *self
                    .settings
                    .write()
                    .unwrap_or_else(std::sync::PoisonError::into_inner) = Arc::new(settings);
            }
            Err(e) => tracing::error!(error = %e, "the configuration no longer builds a policy"),
        }
        Ok(())
    }

    /// [`Core::resolve_rooms`], retried with backoff until it succeeds or the account
    /// stops.
    pub(crate) async fn resolve_rooms_until_done(&self) {
        let mut wait = Duration::from_millis(200);
        loop {
            match self.resolve_rooms().await {
                Ok(()) => return,
                Err(e) if e.is_fatal() => return,
                Err(e) => {
                    tracing::info!(error = %e, "cannot resolve the rooms keys yet; retrying");
                    tokio::time::sleep(wait).await;
                    wait = (wait * 2).min(Duration::from_secs(30));
                }
            }
        }
    }

    /// Decides one event with the account's memory of admitted and posted messages, and
    /// remembers what it admits.
    pub(crate) fn classify(
        &self,
        settings: &Settings,
        event: &channel_api::Event,
    ) -> crate::semantics::Inbound {
        let approved = self.approved();
        let mut known = self
            .known
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let (inbound, admitted) = settings.semantics.classify(event, &approved, &*known);
        if let Some(message) = admitted {
            known.remember(message);
        }
        inbound
    }

    /// Remembers a message the bot posted: edits and deletes of it may reach the agent.
    pub(crate) fn remember_sent(&self, message: &MessageRef) {
        self.known
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remember(message.clone());
    }

    /// Whether the connection has been active before (a later `Active` is a reconnect).
    pub(crate) fn was_connected(&self) -> bool {
        self.ready_sent.load(Ordering::SeqCst)
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

    /// The error every request that needs the server gets once the account has stopped
    /// for good: `unauthorized` when credentials were refused, else `closed`; final.
    pub(crate) fn stopped_error(&self) -> Option<channel_api::Error> {
        if !self.is_fatal() {
            return None;
        }
        self.state().unavailable()
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
                protocol: PROTOCOL_VERSION,
                version: self.version.clone(),
                limits: self.limits,
                identity: IdentityWire {
                    account_id: self.account.to_string(),
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
