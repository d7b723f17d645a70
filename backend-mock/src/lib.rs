//! An in-memory chat server implementing the [`channel_api::Channel`] contract, for
//! behaviour tests of anything that drives a channel (the bridge) and as the reference
//! backend of the conformance suite.
//!
//! ```
//! # async fn demo() -> channel_api::Result<()> {
//! use backend_mock::World;
//! use channel_api::{AccountId, ChannelExt, Event};
//!
//! let world = World::new();
//! let bot = world.add_bot("bot");
//! let alice = world.add_user("alice");
//! let room = world.create_public_room("general", &[&bot, &alice])?;
//! let channel = world.channel_for(&bot, AccountId::new("default"))?;
//! let mut events = channel_api::Channel::events(&channel)?;
//!
//! let question = world.peer(&alice)?.post(&room, "@bot hello?")?;
//! let Some(Event::MessageCreated { message }) = events.recv().await else { panic!() };
//! assert!(message.mentions_user(&bot));
//! channel.reply_in_thread(&room, &question.id, "hi!").await?;
//! # Ok(()) }
//! ```
//!
//! # Layout
//! - [`world`]: [`World`], the server state (users, rooms with kind, name and members,
//!   messages with thread roots, reactions, edits, deletes) and who receives which event.
//! - [`channel`]: [`MemoryChannel`], the bot's `Channel`, and its fault hooks
//!   ([`MemoryChannel::close_fatally`], [`MemoryChannel::revoke_credentials`],
//!   [`MemoryChannel::emit_connection_state`], [`MemoryChannel::fail_next`]).
//! - [`peer`]: [`MemoryPeer`], another user who posts (in DMs, rooms, threads, with
//!   `@mentions`), reacts, edits, deletes and reads what the server holds.
//! - `mentions`: mentions read from the text as a server does (`@user`, `@all`, `@here`).
//!
//! # Server rules it follows
//! - Public rooms are visible to everyone; private rooms and DMs to members; posting needs
//!   membership. An invisible or unknown room or message is `NotFound`.
//! - A reply to a reply lands in the root's thread.
//! - A thread message a channel receives says whether that channel's user wrote the root
//!   (`reply_to_bot`) and whether it has replied in the thread (`bot_in_thread`); the
//!   world knows every author, so these facts are exact (no cache, no restart gap).
//! - Only the author may edit or delete a message (`PermissionDenied` otherwise).
//! - Text must be non-empty and at most [`MAX_TEXT`] (5000 characters: the mock counts characters, not UTF-16 units) (`InvalidRequest`).
//! - An idempotency key becomes the message id; sending it again by the same author
//!   returns the first post and posts nothing.
//! - History (`Channel::history`) reads what the room holds now: deleted messages are
//!   gone, edited ones carry their current text, the bot's own messages are included.
//! - Files: an upload posts one message carrying the attachment (the caption as its text,
//!   possibly empty). Uploads over the world's limit ([`World::set_upload_limit`],
//!   default [`DEFAULT_UPLOAD_LIMIT`]) are `TooLarge`; a download over the caller's
//!   `max_bytes` is `TooLarge`; a file in a room the downloader cannot see is `NotFound`;
//!   deleting the message deletes its file.

pub mod channel;
mod mentions;
pub mod peer;
pub mod world;

pub use channel::{MemoryChannel, Operation};
pub use peer::MemoryPeer;
pub use world::{ReactionSummary, World, DEFAULT_UPLOAD_LIMIT, MAX_TEXT};
