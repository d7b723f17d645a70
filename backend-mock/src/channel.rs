//! [`MemoryChannel`]: the bot's side of the in-memory server, implementing
//! [`channel_api::Channel`], plus fault hooks for tests of code that drives a channel.

use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, MutexGuard};

use async_trait::async_trait;
use channel_api::{
    AccountId, Attachment, Author, Capabilities, Channel, ConnectionState, Error, Event,
    EventStream, FatalCause, HistoryQuery, Identity, Message, MessageId, MessageRef, OutboundFile,
    OutboundMessage, ProbeReport, Result, RoomId, RoomInfo, RoomQuery, SentMessage, UserId,
    UserQuery,
};
use tokio::sync::mpsc;

use crate::world::{FileRequest, PostRequest, World, MAX_TEXT};

/// How many events may wait in the stream before the feeding task waits for the reader.
const STREAM_BUFFER: usize = 64;

/// An operation of [`Channel`], for scripting one-off failures with
/// [`MemoryChannel::fail_next`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Operation {
    /// [`Channel::send`]
    Send,
    /// [`Channel::react`]
    React,
    /// [`Channel::unreact`]
    Unreact,
    /// [`Channel::edit`]
    Edit,
    /// [`Channel::delete`]
    Delete,
    /// [`Channel::set_typing`]
    SetTyping,
    /// [`Channel::resolve_room`]
    ResolveRoom,
    /// [`Channel::download`]
    Download,
    /// [`Channel::send_file`]
    SendFile,
    /// [`Channel::history`]
    History,
    /// [`Channel::open_direct`]
    OpenDirect,
    /// [`Channel::probe`]
    Probe,
    /// [`Channel::find_user`]
    FindUser,
    /// [`Channel::rooms`]
    Rooms,
}

/// The bot, logged in to a [`World`]. Cheap to share behind an `Arc`.
///
/// Behaves like a real server connection: its own messages, edits and reactions are not
/// delivered back; it receives events for public rooms and for the private rooms and DMs
/// it is a member of, in order.
#[derive(Debug)]
pub struct MemoryChannel {
    world: World,
    user: UserId,
    account: AccountId,
    /// This channel's feed number in the world.
    number: u64,
    state: Mutex<ChannelState>,
}

#[derive(Debug)]
struct ChannelState {
    /// The world's feed, until `events()` takes it.
    feed: Option<mpsc::UnboundedReceiver<Event>>,
    /// Set once the channel is closed for good; every later call fails with it.
    closed: Option<Error>,
    /// The connection state last reported (the memory world is "connected" from the start).
    connection: ConnectionState,
    /// Scripted failures, consumed one per call of the operation.
    faults: HashMap<Operation, VecDeque<Error>>,
}

impl MemoryChannel {
    pub(crate) fn new(
        world: World,
        user: UserId,
        account: AccountId,
        number: u64,
        feed: mpsc::UnboundedReceiver<Event>,
    ) -> Self {
        Self {
            world,
            user,
            account,
            number,
            state: Mutex::new(ChannelState {
                feed: Some(feed),
                closed: None,
                connection: ConnectionState::Active,
                faults: HashMap::new(),
            }),
        }
    }

    fn state(&self) -> MutexGuard<'_, ChannelState> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The world this channel lives in.
    pub fn world(&self) -> &World {
        &self.world
    }

    /// The bot's user id.
    pub fn user_id(&self) -> &UserId {
        &self.user
    }

    /// Closes the channel for good, as when the server refuses the account: the stream gets
    /// `ConnectionStateChanged { FatallyClosed { reason } }` and then ends, and every later
    /// call returns `Error::Closed`.
    pub fn close_fatally(&self, reason: &str) {
        self.shut_down(
            reason,
            FatalCause::Refused,
            Error::Closed {
                reason: reason.to_owned(),
            },
        );
    }

    /// Like [`Self::close_fatally`], for revoked credentials: later calls return
    /// `Error::Unauthorized`.
    pub fn revoke_credentials(&self, reason: &str) {
        self.shut_down(
            reason,
            FatalCause::Unauthorized,
            Error::Unauthorized {
                reason: reason.to_owned(),
            },
        );
    }

    fn shut_down(&self, reason: &str, cause: FatalCause, error: Error) {
        let mut state = self.state();
        if state.closed.is_some() {
            return;
        }
        state.closed = Some(error);
        let fatal = ConnectionState::FatallyClosed {
            cause,
            reason: reason.to_owned(),
        };
        state.connection = fatal.clone();
        drop(state);
        let last = Event::ConnectionStateChanged { state: fatal };
        self.world.lock().close_subscriber(self.number, last);
    }

    /// Reports a connection state change on the stream (e.g. `Reconnecting`, then
    /// `Active`). `FatallyClosed` closes the channel as [`Self::revoke_credentials`] (cause
    /// `Unauthorized`) or [`Self::close_fatally`] (any other cause) does.
    pub fn emit_connection_state(&self, state: ConnectionState) {
        if let ConnectionState::FatallyClosed { cause, reason } = &state {
            match cause {
                FatalCause::Unauthorized => self.revoke_credentials(reason),
                FatalCause::Shutdown | FatalCause::Refused => self.close_fatally(reason),
            }
            return;
        }
        {
            let mut current = self.state();
            if current.closed.is_some() {
                return;
            }
            current.connection = state.clone();
        }
        self.world
            .lock()
            .send_to_subscriber(self.number, Event::ConnectionStateChanged { state });
    }

    /// Makes the next call of `operation` fail with `error` (queued: call again to fail
    /// several calls in a row). The call has no effect on the world.
    pub fn fail_next(&self, operation: Operation, error: Error) {
        self.state()
            .faults
            .entry(operation)
            .or_default()
            .push_back(error);
    }

    /// Fails if the channel is closed or a failure is scripted for `operation`.
    fn check(&self, operation: Operation) -> Result<()> {
        let mut state = self.state();
        if let Some(error) = &state.closed {
            return Err(error.clone());
        }
        if let Some(error) = state.connection.unavailable() {
            return Err(error);
        }
        match state
            .faults
            .get_mut(&operation)
            .and_then(VecDeque::pop_front)
        {
            Some(error) => Err(error),
            None => Ok(()),
        }
    }
}

#[async_trait]
impl Channel for MemoryChannel {
    fn identity(&self) -> Identity {
        Identity {
            account: self.account.clone(),
            user_id: self.user.clone(),
            username: self.world.lock().username(&self.user).unwrap_or_default(),
        }
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            threads: true,
            reactions: true,
            edit: true,
            delete: true,
            typing: true,
            resolve_by_name: true,
            max_text: MAX_TEXT,
            files: true,
            history: true,
        }
    }

    fn state(&self) -> ConnectionState {
        self.state().connection.clone()
    }

    fn events(&self) -> Result<EventStream> {
        let mut state = self.state();
        if let Some(error) = &state.closed {
            return Err(error.clone());
        }
        let handle = tokio::runtime::Handle::try_current().map_err(|_| Error::InvalidRequest {
            reason: "events() must be called inside a tokio runtime".into(),
        })?;
        let Some(mut feed) = state.feed.take() else {
            return Err(Error::InvalidRequest {
                reason: "the event stream was already taken".into(),
            });
        };
        // The world feeds an unbounded queue (it never blocks while holding its lock);
        // this task moves events into the stream's bounded channel, in order, and ends the
        // stream when the world drops the feed.
        let (tx, rx) = mpsc::channel(STREAM_BUFFER);
        handle.spawn(async move {
            while let Some(event) = feed.recv().await {
                if tx.send(event).await.is_err() {
                    break;
                }
            }
        });
        Ok(EventStream::new(rx))
    }

    async fn send(&self, message: OutboundMessage) -> Result<SentMessage> {
        self.check(Operation::Send)?;
        let mut world = self.world.lock();
        world.record_sent(&message);
        world.post(PostRequest {
            author: &self.user,
            room: &message.room,
            text: &message.text,
            thread: message.thread.as_ref(),
            id: message.idempotency_key.as_ref(),
        })
    }

    async fn react(&self, message: &MessageRef, emoji: &str) -> Result<()> {
        self.check(Operation::React)?;
        self.world
            .lock()
            .set_reaction(&self.user, message, emoji, true)
    }

    async fn unreact(&self, message: &MessageRef, emoji: &str) -> Result<()> {
        self.check(Operation::Unreact)?;
        self.world
            .lock()
            .set_reaction(&self.user, message, emoji, false)
    }

    async fn edit(&self, message: &MessageRef, text: &str) -> Result<()> {
        self.check(Operation::Edit)?;
        self.world.lock().edit(&self.user, message, text)
    }

    async fn delete(&self, message: &MessageRef) -> Result<()> {
        self.check(Operation::Delete)?;
        self.world.lock().delete(&self.user, message)
    }

    async fn set_typing(&self, room: &RoomId, thread: Option<MessageId>, on: bool) -> Result<()> {
        self.check(Operation::SetTyping)?;
        self.world.lock().set_typing(&self.user, room, thread, on)
    }

    async fn resolve_room(&self, query: &RoomQuery) -> Result<RoomInfo> {
        self.check(Operation::ResolveRoom)?;
        let world = self.world.lock();
        match query {
            RoomQuery::Id(id) => world.visible_room(id, &self.user),
            RoomQuery::Name(name) => world.visible_room_by_name(name, &self.user),
        }
    }

    async fn open_direct(&self, user: &UserQuery) -> Result<RoomInfo> {
        self.check(Operation::OpenDirect)?;
        let other = self.world.lock().find_user(user)?;
        let room = self.world.create_dm(&self.user, &other)?;
        self.world.lock().visible_room(&room, &self.user)
    }

    async fn find_user(&self, user: &UserQuery) -> Result<Author> {
        self.check(Operation::FindUser)?;
        let world = self.world.lock();
        let id = world.find_user(user)?;
        world.author_of(&id)
    }

    async fn rooms(&self) -> Result<Vec<RoomInfo>> {
        self.check(Operation::Rooms)?;
        Ok(self.world.lock().rooms_of(&self.user))
    }

    async fn probe(&self) -> Result<ProbeReport> {
        self.check(Operation::Probe)?;
        Ok(ProbeReport {
            server_version: Some(env!("CARGO_PKG_VERSION").to_owned()),
            user_id: self.user.clone(),
            username: self.world.lock().username(&self.user)?,
            identity_matches: true,
        })
    }

    async fn download(&self, attachment: &Attachment, max_bytes: u64) -> Result<Vec<u8>> {
        self.check(Operation::Download)?;
        self.world
            .lock()
            .download(&self.user, attachment, max_bytes)
    }

    async fn send_file(&self, file: OutboundFile) -> Result<SentMessage> {
        self.check(Operation::SendFile)?;
        self.world.lock().post_file(FileRequest {
            author: &self.user,
            room: &file.room,
            name: &file.name,
            mime_type: &file.mime_type,
            data: &file.data,
            caption: file.caption.as_deref().unwrap_or(""),
            thread: file.thread.as_ref(),
        })
    }

    async fn history(&self, query: &HistoryQuery) -> Result<Vec<Message>> {
        self.check(Operation::History)?;
        self.world.lock().history(&self.user, query)
    }
}
