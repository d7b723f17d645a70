//! Backend-neutral conformance cases for [`channel_api::Channel`]. Every backend runs the
//! same cases: the mock, and each real backend against its simulator and, when one is
//! configured, against a live server.
//!
//! A backend's test file is two items:
//!
//! ```ignore
//! async fn my_harness() -> Option<conformance::Harness> {
//!     // start the backend, build the channel and a peer; None (after printing why) skips
//! }
//! conformance::channel_conformance!(my_harness);
//! ```
//!
//! The macro expands to one `#[tokio::test]` per case (the backend needs `tokio` with
//! `macros` and `rt-multi-thread` among its dev-dependencies).
//!
//! # Writing a harness for a backend
//! 1. Start the server (or read the live env, see [`live`]), build the channel under test
//!    and a [`Peer`] logged in as a second user. Both must be members of a group room and
//!    share a DM; pass them as [`TestRooms`].
//! 2. `Harness::new(channel, peer, rooms, Timeouts::from_env())` takes the channel's event
//!    stream, so build it before anything the case must see is posted. Every case gets a
//!    fresh harness (one harness function call per test).
//! 3. `Peer` notes: `messages`/`thread_messages` read what the *server* holds (history
//!    and thread endpoints), never the channel's events; `reactions` gives emoji names
//!    without colons (`eyes`, not `:eyes:`); errors map to [`channel_api::Error`]. The
//!    mention helpers default to `@username`, `@all` and `@here`.
//!
//! `backend-mock/tests/conformance.rs` is a complete, small example.
//!
//! # Layout
//! - [`harness`]: [`Harness`] (the channel under test, a [`Peer`], the test rooms, a run
//!   id, [`Timeouts`]) and its helpers for waiting on events and on what the server holds.
//! - [`peer`]: the [`Peer`] trait: another user who posts (text and files), reacts, edits,
//!   deletes and reads.
//! - [`cases`]: the cases, one `pub async fn case(&Harness) -> CaseResult` each, grouped by
//!   area (`send`, `receive`, `thread`, `implicit`, `reaction`, `lifecycle`, `rooms`,
//!   `history`, `media`).
//! - [`live`]: env gating for runs against a live server (skip, or fail when required).
//!
//! # Rules the cases follow
//! - Every text a case posts carries `h.run_id`; every inbound wait filters on it (or on a
//!   message id that came from a post carrying it), so a shared live room is safe.
//! - Every wait is bounded by `h.timeouts.event`. Nothing is timed: a negative ("this never
//!   arrives") is checked with a sentinel the peer posts afterwards in the same room.
//! - A case that needs a capability the backend lacks asserts `Error::Unsupported`.

pub mod cases;
pub mod harness;
pub mod live;
pub mod peer;

pub use harness::{new_run_id, CaseError, CaseResult, Harness, TestRooms, Timeouts};
pub use peer::PeerFile;
pub use peer::{Peer, PeerMessage, PeerReaction};

/// Expands to a module `channel_conformance` with one `#[tokio::test]` per case. The
/// argument names an `async fn() -> Option<conformance::Harness>` in the calling module;
/// `None` skips the case (the function prints why).
#[macro_export]
macro_rules! channel_conformance {
    ($harness:ident) => {
        mod channel_conformance {
            use super::$harness;

            // send
            $crate::__case!($harness, send_to_room_is_seen_once);
            $crate::__case!($harness, text_at_max_len_is_accepted);
            $crate::__case!($harness, text_over_max_len_is_rejected);
            $crate::__case!($harness, same_idempotency_key_posts_once);
            $crate::__case!($harness, own_messages_never_come_back);
            // thread
            $crate::__case!($harness, reply_in_thread_lands_in_thread);
            $crate::__case!($harness, inbound_thread_reply_carries_root);
            // implicit mentions (thread facts)
            $crate::__case!($harness, reply_under_bot_message_is_reply_to_bot);
            $crate::__case!($harness, follow_up_after_bot_reply_is_bot_in_thread);
            $crate::__case!($harness, message_outside_bot_threads_has_no_thread_facts);
            // receive
            $crate::__case!($harness, inbound_dm_arrives_as_direct);
            $crate::__case!($harness, inbound_room_message_arrives_with_kind_and_author);
            $crate::__case!($harness, mention_of_bot_is_in_payload);
            $crate::__case!($harness, mention_all_and_here_are_in_payload);
            $crate::__case!($harness, events_from_one_room_keep_order);
            $crate::__case!($harness, peer_edit_arrives_as_message_edited);
            $crate::__case!($harness, peer_delete_arrives_as_message_deleted);
            $crate::__case!($harness, second_events_call_is_invalid);
            // reaction
            $crate::__case!($harness, peer_reaction_add_and_remove_arrive);
            $crate::__case!($harness, channel_react_and_unreact_seen_by_peer);
            // lifecycle
            $crate::__case!($harness, channel_edit_is_seen_by_peer);
            $crate::__case!($harness, channel_delete_removes_message);
            $crate::__case!($harness, typing_on_and_off);
            // rooms
            $crate::__case!($harness, room_resolves_by_name_and_id);
            $crate::__case!($harness, unknown_room_is_not_found);
            $crate::__case!($harness, unknown_message_is_not_found);
            // history
            $crate::__case!($harness, room_history_is_latest_oldest_first);
            $crate::__case!($harness, room_history_before_excludes_later_messages);
            $crate::__case!($harness, thread_history_is_root_then_first_replies);
            $crate::__case!($harness, history_has_own_and_edited_but_not_deleted);
            // media
            $crate::__case!($harness, peer_file_arrives_as_attachment_and_downloads);
            $crate::__case!($harness, download_over_max_bytes_is_too_large);
            $crate::__case!($harness, send_file_into_thread_is_seen_by_peer);
        }
    };
}

/// One conformance case as a test. Used by [`channel_conformance!`].
#[doc(hidden)]
#[macro_export]
macro_rules! __case {
    ($harness:ident, $name:ident) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $name() {
            // The harness function already printed why it skipped.
            let Some(h) = $harness().await else { return };
            if let Err(error) = $crate::cases::$name(&h).await {
                panic!(
                    "conformance case {} failed (run id {}): {}",
                    stringify!($name),
                    h.run_id,
                    error
                );
            }
        }
    };
}
