//! A channel that connects in the background and keeps trying while the server cannot be
//! reached, so the bridge answers requests (and reports `connecting` / `reconnecting`)
//! from its first moment, whatever the state of the server.
//!
//! The backend's own `connect` fails fast on the first connection; retrying that first
//! connection is the process's job, and lives here. Revoked or refused credentials (any
//! error that is not retryable) end it with `FatallyClosed` at once.

use std::future::Future;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use async_trait::async_trait;
use channel_api::{
    Attachment, Capabilities, Channel, ConnectionState, Error, Event, EventStream, HistoryQuery,
    Identity, Message, MessageId, MessageRef, OutboundFile, OutboundMessage, Result, RoomId,
    RoomInfo, RoomQuery, SentMessage,
};
use rand::Rng;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// Events buffered between the connecting task and the bridge.
const EVENT_BUFFER: usize = 1024;

/// Delays between connection attempts: doubling from `min` up to `max`, with jitter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// The first delay.
    pub min: Duration,
    /// The longest delay.
    pub max: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Self {
            min: Duration::from_secs(1),
            max: Duration::from_secs(60),
        }
    }
}

impl Backoff {
    /// The delay before attempt number `attempt` (from 1): up to a quarter less, so that
    /// many bridges restarted together do not retry in step.
    pub fn delay(&self, attempt: u32) -> Duration {
        let doubled = self
            .min
            .saturating_mul(2u32.saturating_pow(attempt.saturating_sub(1).min(16)));
        let full = doubled.min(self.max);
        let jitter = rand::rng().random_range(0.75..=1.0);
        full.mul_f64(jitter)
    }
}

/// Whether a failed first connection is worth another attempt.
fn worth_retrying(err: &Error) -> bool {
    err.is_retryable() || matches!(err, Error::Backend { .. })
}

/// A [`Channel`] whose backend is still being connected. Calls made before the connection
/// is up fail with `Disconnected` (retryable).
pub struct DeferredChannel<C> {
    identity: Identity,
    inner: Arc<OnceLock<C>>,
    events: Mutex<Option<EventStream>>,
    task: JoinHandle<()>,
}

impl<C> std::fmt::Debug for DeferredChannel<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeferredChannel")
            .field("identity", &self.identity)
            .field("connected", &self.inner.get().is_some())
            .finish_non_exhaustive()
    }
}

impl<C> Drop for DeferredChannel<C> {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl<C: Channel + 'static> DeferredChannel<C> {
    /// Starts connecting with `connect`, retrying retryable failures after `backoff`.
    /// `identity` answers [`Channel::identity`] until the connection is up.
    pub fn start<F, Fut>(identity: Identity, backoff: Backoff, connect: F) -> Self
    where
        F: FnMut() -> Fut + Send + 'static,
        Fut: Future<Output = Result<C>> + Send + 'static,
    {
        let (tx, rx) = mpsc::channel(EVENT_BUFFER);
        let inner = Arc::new(OnceLock::new());
        let task = tokio::spawn(connect_loop(tx, inner.clone(), backoff, connect));
        Self {
            identity,
            inner,
            events: Mutex::new(Some(EventStream::new(rx))),
            task,
        }
    }

    /// The connected backend, once it is up.
    pub fn connected(&self) -> Option<&C> {
        self.inner.get()
    }

    fn get(&self) -> Result<&C> {
        self.inner.get().ok_or_else(|| Error::Disconnected {
            reason: "not connected yet".into(),
        })
    }
}

async fn connect_loop<C, F, Fut>(
    tx: mpsc::Sender<Event>,
    slot: Arc<OnceLock<C>>,
    backoff: Backoff,
    mut connect: F,
) where
    C: Channel + 'static,
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<C>>,
{
    let state = |state| Event::ConnectionStateChanged { state };
    let _ = tx.send(state(ConnectionState::Connecting)).await;
    let mut attempt: u32 = 0;
    let channel = loop {
        match connect().await {
            Ok(channel) => break channel,
            Err(err) if worth_retrying(&err) => {
                attempt = attempt.saturating_add(1);
                let delay = backoff.delay(attempt);
                tracing::warn!(error = %err, attempt, ?delay, "could not connect; will retry");
                let _ = tx
                    .send(state(ConnectionState::Reconnecting { attempt }))
                    .await;
                tokio::time::sleep(delay).await;
            }
            Err(err) => {
                tracing::error!(error = %err, "could not connect; giving up");
                let reason = err.to_string();
                let _ = tx
                    .send(state(ConnectionState::FatallyClosed { reason }))
                    .await;
                return;
            }
        }
    };
    let events = channel.events();
    // Set before forwarding, so calls work by the time `active` reaches the host.
    let _ = slot.set(channel);
    let mut events = match events {
        Ok(events) => events,
        Err(err) => {
            let reason = format!("the backend has no event stream: {err}");
            let _ = tx
                .send(state(ConnectionState::FatallyClosed { reason }))
                .await;
            return;
        }
    };
    while let Some(event) = events.recv().await {
        if tx.send(event).await.is_err() {
            return;
        }
    }
}

#[async_trait]
impl<C: Channel + 'static> Channel for DeferredChannel<C> {
    fn identity(&self) -> Identity {
        match self.inner.get() {
            Some(channel) => Identity {
                account: self.identity.account.clone(),
                ..channel.identity()
            },
            None => self.identity.clone(),
        }
    }

    fn capabilities(&self) -> Capabilities {
        match self.inner.get() {
            Some(channel) => channel.capabilities(),
            // Nothing works before the connection is up.
            None => Capabilities {
                threads: false,
                reactions: false,
                edit: false,
                delete: false,
                typing: false,
                resolve_by_name: false,
                max_text_len: 0,
                files: false,
                history: false,
            },
        }
    }

    fn events(&self) -> Result<EventStream> {
        self.events
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take()
            .ok_or_else(|| Error::InvalidRequest {
                reason: "the event stream was already taken".into(),
            })
    }

    async fn send(&self, message: OutboundMessage) -> Result<SentMessage> {
        self.get()?.send(message).await
    }

    async fn react(&self, message: &MessageRef, emoji: &str) -> Result<()> {
        self.get()?.react(message, emoji).await
    }

    async fn unreact(&self, message: &MessageRef, emoji: &str) -> Result<()> {
        self.get()?.unreact(message, emoji).await
    }

    async fn edit(&self, message: &MessageRef, text: &str) -> Result<()> {
        self.get()?.edit(message, text).await
    }

    async fn delete(&self, message: &MessageRef) -> Result<()> {
        self.get()?.delete(message).await
    }

    async fn set_typing(&self, room: &RoomId, thread: Option<MessageId>, on: bool) -> Result<()> {
        self.get()?.set_typing(room, thread, on).await
    }

    async fn resolve_room(&self, query: &RoomQuery) -> Result<RoomInfo> {
        self.get()?.resolve_room(query).await
    }

    async fn download(&self, attachment: &Attachment, max_bytes: u64) -> Result<Vec<u8>> {
        self.get()?.download(attachment, max_bytes).await
    }

    async fn send_file(&self, file: OutboundFile) -> Result<SentMessage> {
        self.get()?.send_file(file).await
    }

    async fn history(&self, query: &HistoryQuery) -> Result<Vec<Message>> {
        self.get()?.history(query).await
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use backend_mock::World;
    use channel_api::{AccountId, UserId};

    use super::*;

    fn identity() -> Identity {
        Identity {
            account: AccountId::new("default"),
            user_id: UserId::new("bot-id"),
            username: "bot".into(),
        }
    }

    async fn next_state(events: &mut EventStream) -> ConnectionState {
        loop {
            let event = tokio::time::timeout(Duration::from_secs(10), events.recv())
                .await
                .expect("no event in time")
                .expect("stream ended");
            if let Event::ConnectionStateChanged { state } = event {
                return state;
            }
        }
    }

    #[tokio::test(start_paused = true)]
    async fn retries_until_connected_then_forwards_the_backends_events() {
        let world = World::new();
        let bot = world.add_bot("bot");
        let alice = world.add_user("alice");
        let room = world
            .create_public_room("general", &[&bot, &alice])
            .unwrap();
        let attempts = Arc::new(AtomicU32::new(0));
        let deferred = {
            let (world, bot, attempts) = (world.clone(), bot.clone(), attempts.clone());
            DeferredChannel::start(identity(), Backoff::default(), move || {
                let n = attempts.fetch_add(1, Ordering::SeqCst);
                let result = if n < 2 {
                    Err(Error::Disconnected {
                        reason: "refused".into(),
                    })
                } else {
                    world.channel_for(&bot, AccountId::new("default"))
                };
                async move { result }
            })
        };
        let mut events = deferred.events().unwrap();
        assert_eq!(next_state(&mut events).await, ConnectionState::Connecting);
        assert!(matches!(
            deferred
                .send(OutboundMessage::new(room.clone(), "early"))
                .await,
            Err(Error::Disconnected { .. })
        ));
        assert_eq!(
            next_state(&mut events).await,
            ConnectionState::Reconnecting { attempt: 1 }
        );
        assert_eq!(
            next_state(&mut events).await,
            ConnectionState::Reconnecting { attempt: 2 }
        );
        // Connected: the backend's events flow through, and calls work.
        while deferred.connected().is_none() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        world.peer(&alice).unwrap().post(&room, "@bot hi").unwrap();
        let event = tokio::time::timeout(Duration::from_secs(10), events.recv())
            .await
            .expect("no event in time")
            .unwrap();
        assert!(matches!(event, Event::MessageCreated { .. }), "{event:?}");
        deferred
            .send(OutboundMessage::new(room.clone(), "now"))
            .await
            .unwrap();
        assert_eq!(attempts.load(Ordering::SeqCst), 3);
        assert_eq!(deferred.identity().user_id, bot);
    }

    #[tokio::test]
    async fn refused_credentials_are_fatal_without_retry() {
        let attempts = Arc::new(AtomicU32::new(0));
        let deferred: DeferredChannel<backend_mock::MemoryChannel> = {
            let attempts = attempts.clone();
            DeferredChannel::start(identity(), Backoff::default(), move || {
                attempts.fetch_add(1, Ordering::SeqCst);
                async {
                    Err(Error::Unauthorized {
                        reason: "token revoked".into(),
                    })
                }
            })
        };
        let mut events = deferred.events().unwrap();
        assert_eq!(next_state(&mut events).await, ConnectionState::Connecting);
        assert_eq!(
            next_state(&mut events).await,
            ConnectionState::FatallyClosed {
                reason: "credentials rejected or revoked: token revoked".into()
            }
        );
        assert!(events.recv().await.is_none(), "the stream ends after fatal");
        assert_eq!(attempts.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let b = Backoff {
            min: Duration::from_secs(1),
            max: Duration::from_secs(8),
        };
        for (attempt, full) in [(1, 1), (2, 2), (3, 4), (4, 8), (9, 8), (40, 8)] {
            let d = b.delay(attempt);
            let full = Duration::from_secs(full);
            assert!(d <= full && d >= full.mul_f64(0.75), "{attempt}: {d:?}");
        }
    }
}
