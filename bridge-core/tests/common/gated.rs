//! A memory channel whose chosen calls wait for a gate (a semaphore the test releases), for
//! tests of what a slow server call holds back and what it does not.
#![allow(clippy::unwrap_used, dead_code, unreachable_pub)]

use std::sync::Arc;

use async_trait::async_trait;
use backend_mock::MemoryChannel;
use channel_api::{
    Attachment, Author, Capabilities, Channel, ConnectionState, EventStream, HistoryQuery,
    Identity, Message, MessageId, MessageRef, OutboundFile, OutboundMessage, ProbeReport, Result,
    RoomId, RoomInfo, RoomQuery, SentMessage, UserQuery,
};
use tokio::sync::Semaphore;

/// Which calls wait for the gate.
#[derive(Debug, Clone, Copy)]
pub enum Slow {
    /// `send` of a text starting with this.
    SendsStartingWith(&'static str),
    /// Every `download`.
    Downloads,
}

/// `inner`, with the calls `slow` names waiting for one permit of `gate` each.
#[derive(Debug)]
pub struct Gated {
    pub inner: Arc<MemoryChannel>,
    pub gate: Arc<Semaphore>,
    pub slow: Slow,
}

impl Gated {
    async fn wait(&self) {
        self.gate.acquire().await.unwrap().forget();
    }
}

#[async_trait]
impl Channel for Gated {
    fn identity(&self) -> Identity {
        self.inner.identity()
    }
    fn capabilities(&self) -> Capabilities {
        self.inner.capabilities()
    }
    fn state(&self) -> ConnectionState {
        self.inner.state()
    }
    fn events(&self) -> Result<EventStream> {
        self.inner.events()
    }
    async fn send(&self, message: OutboundMessage) -> Result<SentMessage> {
        if matches!(self.slow, Slow::SendsStartingWith(p) if message.text.starts_with(p)) {
            self.wait().await;
        }
        self.inner.send(message).await
    }
    async fn react(&self, m: &MessageRef, e: &str) -> Result<()> {
        self.inner.react(m, e).await
    }
    async fn unreact(&self, m: &MessageRef, e: &str) -> Result<()> {
        self.inner.unreact(m, e).await
    }
    async fn edit(&self, m: &MessageRef, t: &str) -> Result<()> {
        self.inner.edit(m, t).await
    }
    async fn delete(&self, m: &MessageRef) -> Result<()> {
        self.inner.delete(m).await
    }
    async fn set_typing(&self, r: &RoomId, t: Option<MessageId>, on: bool) -> Result<()> {
        self.inner.set_typing(r, t, on).await
    }
    async fn resolve_room(&self, q: &RoomQuery) -> Result<RoomInfo> {
        self.inner.resolve_room(q).await
    }
    async fn open_direct(&self, u: &UserQuery) -> Result<RoomInfo> {
        self.inner.open_direct(u).await
    }
    async fn probe(&self) -> Result<ProbeReport> {
        self.inner.probe().await
    }
    async fn find_user(&self, u: &UserQuery) -> Result<Author> {
        self.inner.find_user(u).await
    }
    async fn rooms(&self) -> Result<Vec<RoomInfo>> {
        self.inner.rooms().await
    }
    async fn download(&self, a: &Attachment, max: u64) -> Result<Vec<u8>> {
        if matches!(self.slow, Slow::Downloads) {
            self.wait().await;
        }
        self.inner.download(a, max).await
    }
    async fn send_file(&self, f: OutboundFile) -> Result<SentMessage> {
        self.inner.send_file(f).await
    }
    async fn history(&self, q: &HistoryQuery) -> Result<Vec<Message>> {
        self.inner.history(q).await
    }
}
