//! The [`Harness`] every case receives, and its helpers for waiting.

use std::collections::VecDeque;
use std::fmt;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use channel_api::{Channel, Event, EventStream, Identity, Message, RoomId};
use tokio::sync::Mutex;

use crate::peer::{Peer, PeerMessage};

/// Why a case failed.
pub type CaseError = Box<dyn std::error::Error + Send + Sync>;

/// What a case returns.
pub type CaseResult = Result<(), CaseError>;

/// How long cases wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// Longest wait for one inbound event, or for the server to show a change to the peer.
    pub event: Duration,
}

impl Timeouts {
    /// The variable that overrides [`Timeouts::event`], in milliseconds.
    pub const EVENT_TIMEOUT_VAR: &'static str = "CONFORMANCE_EVENT_TIMEOUT_MS";

    /// The default event wait: generous, because it only bounds a hang.
    pub const DEFAULT_EVENT: Duration = Duration::from_secs(15);

    /// Reads `CONFORMANCE_EVENT_TIMEOUT_MS` at run time. Unset means the default; a value
    /// that is not a positive number of milliseconds is reported on stderr and ignored.
    pub fn from_env() -> Self {
        Self::from_value(std::env::var(Self::EVENT_TIMEOUT_VAR).ok().as_deref())
    }

    fn from_value(value: Option<&str>) -> Self {
        let event = match value.map(|v| v.trim().parse::<u64>()) {
            None => Self::DEFAULT_EVENT,
            Some(Ok(ms)) if ms > 0 => Duration::from_millis(ms),
            Some(_) => {
                eprintln!(
                    "conformance: ignoring {}={:?} (expected a positive number of milliseconds)",
                    Self::EVENT_TIMEOUT_VAR,
                    value.unwrap_or_default()
                );
                Self::DEFAULT_EVENT
            }
        };
        Self { event }
    }
}

impl Default for Timeouts {
    fn default() -> Self {
        Self {
            event: Self::DEFAULT_EVENT,
        }
    }
}

/// The rooms a run uses. The channel's account and the peer must both be members of both.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestRooms {
    /// A group room (public or private).
    pub room: RoomId,
    /// That room's name, as [`channel_api::RoomQuery::Name`] takes it (no `#`).
    pub room_name: String,
    /// The direct conversation between the channel's account and the peer.
    pub dm_room: RoomId,
}

/// A fresh run id: letters and digits only (usable inside message ids), unique per call.
pub fn new_run_id() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    let count = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("cf{nanos:x}p{:x}n{count}", std::process::id())
}

/// What one case works with: the channel under test, the peer, the rooms, a run id, and
/// the channel's event stream (taken once, when the harness is built).
pub struct Harness {
    /// The channel under test.
    pub channel: Arc<dyn Channel>,
    /// The other user.
    pub peer: Arc<dyn Peer>,
    /// A group room both are in.
    pub room: RoomId,
    /// That room's name.
    pub room_name: String,
    /// The DM between the channel's account and the peer.
    pub dm_room: RoomId,
    /// Tags every text this run posts.
    pub run_id: String,
    /// How long to wait.
    pub timeouts: Timeouts,
    inbox: Mutex<Inbox>,
}

/// The event stream plus events read while looking for something else.
struct Inbox {
    stream: EventStream,
    backlog: VecDeque<Event>,
}

impl fmt::Debug for Harness {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Harness")
            .field("channel", &self.channel)
            .field("peer", &self.peer)
            .field("room", &self.room)
            .field("room_name", &self.room_name)
            .field("dm_room", &self.dm_room)
            .field("run_id", &self.run_id)
            .field("timeouts", &self.timeouts)
            .finish_non_exhaustive()
    }
}

impl Harness {
    /// Takes the channel's event stream and builds a harness with a fresh run id.
    /// Build it before the peer posts anything the case must see.
    pub fn new(
        channel: Arc<dyn Channel>,
        peer: Arc<dyn Peer>,
        rooms: TestRooms,
        timeouts: Timeouts,
    ) -> channel_api::Result<Self> {
        let stream = channel.events()?;
        Ok(Self {
            channel,
            peer,
            room: rooms.room,
            room_name: rooms.room_name,
            dm_room: rooms.dm_room,
            run_id: new_run_id(),
            timeouts,
            inbox: Mutex::new(Inbox {
                stream,
                backlog: VecDeque::new(),
            }),
        })
    }

    /// The same harness with a chosen run id (letters and digits only).
    pub fn with_run_id(mut self, run_id: impl Into<String>) -> Self {
        self.run_id = run_id.into();
        self
    }

    /// Who the channel under test is logged in as.
    pub fn bot(&self) -> Identity {
        self.channel.identity()
    }

    /// `what`, tagged with this run's id.
    pub fn text(&self, what: &str) -> String {
        format!("{what} [{}]", self.run_id)
    }

    /// Whether an event is a message of this run (its text carries the run id).
    pub fn is_ours(&self, event: &Event) -> bool {
        event_message(event).is_some_and(|m| m.text.contains(&self.run_id))
    }

    /// The first event matching `wanted`, from events read earlier and then the stream.
    /// Other events are kept for later waits. Fails after `timeouts.event`.
    pub async fn wait_for(
        &self,
        what: &str,
        wanted: impl Fn(&Event) -> bool,
    ) -> Result<Event, CaseError> {
        let mut inbox = self.inbox.lock().await;
        if let Some(at) = inbox.backlog.iter().position(&wanted) {
            if let Some(event) = inbox.backlog.remove(at) {
                return Ok(event);
            }
        }
        let read = async {
            loop {
                match inbox.stream.recv().await {
                    Some(event) if wanted(&event) => return Ok(event),
                    Some(event) => inbox.backlog.push_back(event),
                    None => return Err(format!("the event stream ended while waiting for {what}")),
                }
            }
        };
        match tokio::time::timeout(self.timeouts.event, read).await {
            Ok(found) => found.map_err(Into::into),
            Err(_) => Err(format!(
                "timed out after {:?} waiting for {what}",
                self.timeouts.event
            )
            .into()),
        }
    }

    /// The first `MessageCreated` whose message matches `wanted`.
    pub async fn wait_for_message(
        &self,
        what: &str,
        wanted: impl Fn(&Message) -> bool,
    ) -> Result<Message, CaseError> {
        let event = self
            .wait_for(
                what,
                |e| matches!(e, Event::MessageCreated { message } if wanted(message)),
            )
            .await?;
        match event {
            Event::MessageCreated { message } => Ok(message),
            other => Err(format!("expected MessageCreated for {what}, got {other:?}").into()),
        }
    }

    /// Every event up to and including the first that matches `last`, in arrival order
    /// (events read earlier first). They are consumed. Fails after `timeouts.event`.
    pub async fn events_until(
        &self,
        what: &str,
        last: impl Fn(&Event) -> bool,
    ) -> Result<Vec<Event>, CaseError> {
        let mut inbox = self.inbox.lock().await;
        let mut seen: Vec<Event> = Vec::new();
        while let Some(event) = inbox.backlog.pop_front() {
            let done = last(&event);
            seen.push(event);
            if done {
                return Ok(seen);
            }
        }
        let read = async {
            loop {
                match inbox.stream.recv().await {
                    Some(event) => {
                        let done = last(&event);
                        seen.push(event);
                        if done {
                            return Ok(());
                        }
                    }
                    None => return Err(format!("the event stream ended while waiting for {what}")),
                }
            }
        };
        match tokio::time::timeout(self.timeouts.event, read).await {
            Ok(Ok(())) => Ok(seen),
            Ok(Err(error)) => Err(error.into()),
            Err(_) => Err(format!(
                "timed out after {:?} waiting for {what}",
                self.timeouts.event
            )
            .into()),
        }
    }

    /// Has the peer post a sentinel in `room` and returns every event up to and including
    /// it. Events of one room arrive in order, so anything the channel would have delivered
    /// for earlier actions in that room is in the list: this is how cases check that
    /// something never arrives, without timing.
    pub async fn events_until_sentinel(&self, room: &RoomId) -> Result<Vec<Event>, CaseError> {
        let text = self.text("sentinel");
        let sentinel = self.peer.post(room, &text, None).await?;
        self.events_until(
            "the peer's sentinel message",
            |e| matches!(e, Event::MessageCreated { message } if message.id == sentinel.id),
        )
        .await
    }

    /// Calls `check` until it returns `Some`, pausing briefly between tries; fails after
    /// `timeouts.event`. For reading what the server holds after a change (a live server
    /// may apply it a moment later).
    pub async fn eventually<T, F, Fut>(&self, what: &str, mut check: F) -> Result<T, CaseError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<Option<T>, CaseError>>,
    {
        let poll = async {
            loop {
                if let Some(found) = check().await? {
                    return Ok::<T, CaseError>(found);
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        };
        match tokio::time::timeout(self.timeouts.event, poll).await {
            Ok(result) => result,
            Err(_) => Err(format!(
                "timed out after {:?} waiting until {what}",
                self.timeouts.event
            )
            .into()),
        }
    }

    /// The peer's view of `room`, limited to messages whose text is exactly `text`, once
    /// at least one is there.
    pub async fn peer_sees_text(
        &self,
        room: &RoomId,
        text: &str,
    ) -> Result<Vec<PeerMessage>, CaseError> {
        self.eventually(&format!("the peer sees {text:?}"), || async move {
            let matching: Vec<PeerMessage> = self
                .peer
                .messages(room)
                .await?
                .into_iter()
                .filter(|m| m.text == text)
                .collect();
            Ok((!matching.is_empty()).then_some(matching))
        })
        .await
    }
}

/// The message an event carries, for created and edited messages.
pub(crate) fn event_message(event: &Event) -> Option<&Message> {
    match event {
        Event::MessageCreated { message } | Event::MessageEdited { message } => Some(message),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_timeout_reads_milliseconds_and_ignores_bad_values() {
        assert_eq!(Timeouts::from_value(None), Timeouts::default());
        assert_eq!(
            Timeouts::from_value(Some("250")).event,
            Duration::from_millis(250)
        );
        assert_eq!(Timeouts::from_value(Some("0")), Timeouts::default());
        assert_eq!(Timeouts::from_value(Some("soon")), Timeouts::default());
    }

    #[test]
    fn run_ids_are_unique_and_alphanumeric() {
        let a = new_run_id();
        let b = new_run_id();
        assert_ne!(a, b);
        assert!(a.chars().all(|c| c.is_ascii_alphanumeric()), "{a}");
    }
}
