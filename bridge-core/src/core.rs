//! The state shared by the request reader, the handlers and the event route: the
//! channel, the settings in force (replaced whole by `reconfigure` and by room
//! resolution), the connection state, the counters, the per-room orders and the ledger.
//! Every other module of the core reads it; it reads none of them but the leaves
//! (`semantics`, `protocol`, `rpc`, `resume`, `context`, `ordering`, `stats`, `keys`).

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use channel_api::bot_loop::BotLoopGuard;
use channel_api::config::ResolvedRooms;
use channel_api::policy::RecentMessages;
use channel_api::{Channel, ChannelExt, ConnectionState, MessageRef, UserId};
use serde::Serialize;
use serde_json::Value;
use tokio::sync::{mpsc, Semaphore};

use crate::config::keys::BackendKeys;
use crate::config::{AccountConfig, ConfigError, HistoryConfig, MediaConfig};
use crate::context::Windows;
use crate::options::BridgeOptions;
use crate::ordering::KeyedOrder;
use crate::protocol::{
    method, ConnectionParams, IdentityWire, LimitsWire, ReadyParams, PROTOCOL_VERSION,
};
use crate::resume::Ledger;
use crate::rpc::{self, RpcError};
use crate::semantics::Semantics;
use crate::stats::Stats;

/// Admitted and posted messages remembered for their edits and deletes.
const KNOWN_MESSAGES: usize = 10_000;

/// Messages being prepared at once (downloads and fetches in flight).
pub(crate) const MAX_IN_FLIGHT: usize = 256;

/// The inbound side's state, part of [`Core`].
#[derive(Debug)]
pub(crate) struct InboundState {
    /// Where downloads go.
    pub(crate) media_dir: std::path::PathBuf,
    /// What each conversation has seen.
    pub(crate) windows: Windows,
    /// Per-room order of notifications.
    pub(crate) order: KeyedOrder,
    /// Bounds the tasks preparing messages.
    pub(crate) slots: Arc<Semaphore>,
}

impl InboundState {
    pub(crate) fn new(media_dir: std::path::PathBuf) -> Self {
        Self {
            media_dir,
            windows: Windows::default(),
            order: KeyedOrder::default(),
            slots: Arc::new(Semaphore::new(MAX_IN_FLIGHT)),
        }
    }
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
            history: config.history().clone(),
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
    /// Bot-loop protection (policy rule 6): kept across `reconfigure`, so a reload never
    /// resets a cooldown.
    bot_loop: Mutex<BotLoopGuard>,
    /// The guard's clock: tokio's, so tests with paused time drive it.
    started: tokio::time::Instant,
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
    /// The core of one run: `settings` from `config` (rooms not resolved yet).
    pub(crate) fn new(
        channel: Box<dyn Channel>,
        config: &AccountConfig,
        options: &BridgeOptions,
        out: mpsc::Sender<String>,
        media_dir: std::path::PathBuf,
        ledger: Option<Arc<Ledger>>,
    ) -> Result<Self, ConfigError> {
        let identity = channel.identity();
        let settings = Settings::new(config, &identity, &options.namespace, &ResolvedRooms::new())?;
        Ok(Self {
            channel,
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
            bot_loop: Mutex::new(BotLoopGuard::new()),
            started: tokio::time::Instant::now(),
            out,
            stats: Stats::default(),
            approved: RwLock::new(config.approved_senders().iter().cloned().collect()),
            state: Mutex::new(None),
            fatal: AtomicBool::new(false),
            ready_sent: AtomicBool::new(false),
            room_order: KeyedOrder::default(),
            inbound: InboundState::new(media_dir),
            ledger,
        })
    }

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
            let id = self
                .channel
                .resolve_room_key(&key)
                .await?
                .map(|room| room.id);
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
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self.resolve_rooms().await {
                Ok(()) => return,
                Err(e) if e.is_fatal() => return,
                Err(e) => {
                    tracing::info!(error = %e, attempt, "cannot resolve the rooms keys yet; retrying");
                    let wait = channel_api::backoff::delay(
                        attempt,
                        Duration::from_millis(200),
                        Duration::from_secs(30),
                        1.0,
                    );
                    tokio::time::sleep(wait).await;
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
        let now_ms = u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX);
        let mut bot_loop = self
            .bot_loop
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let (inbound, admitted) =
            settings
                .semantics
                .classify(event, &approved, &*known, &mut bot_loop, now_ms);
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
        match rpc::notification_line_of(method, params) {
            Ok(line) => self.emit(line).await,
            Err(e) => tracing::error!(method, error = %e, "notification not serializable"),
        }
    }

    /// Answers a line that is not a valid request.
    pub(crate) async fn reject_line(&self, err: RpcError) {
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
