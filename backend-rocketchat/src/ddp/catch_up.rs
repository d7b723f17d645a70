//! Reading what the rooms got while no connection was up: the fetching half of a
//! catch-up. The session maps what arrives; this module only talks to REST.
//!
//! - Rooms are read [`PARALLEL`] at a time (rooms are independent); each room by one task,
//!   page after page, so its pages reach the session in the room's order, followed by the
//!   room's outcome.
//! - A room is read in pages of `chat.syncMessages`' cursor mode (Rocket.Chat 8.x
//!   apps/meteor/server/publications/messages.ts `handleCursorPagination`), so no answer
//!   has to hold the room's whole gap: first its deletions, then its updated documents,
//!   each oldest first, from the room's own mark.
//! - The next page starts one millisecond before the page's last stamp: the cursor is
//!   strict (`> next`), so documents sharing that millisecond are read twice (the mapper
//!   drops the second) rather than skipped. A page wholly inside one millisecond is asked
//!   for again with more documents.
//! - A page over the REST answer cap is asked for again with half the documents; a single
//!   document over it cannot be read: the room is refused (skipped, loudly).
//! - A server failure (5xx, timeout, broken connection) is tried [`TRIES`] times with
//!   backoff, then the room failed (the session fails the attempt after the other rooms);
//!   a rate limit fails the room at once with the server's reset; a 4xx refuses the room.

use std::collections::VecDeque;

use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;

use crate::backoff::reconnect_delay;
use crate::config::Timeouts;
use crate::error::RcError;
use crate::fatal::Stop;
use crate::rest::{Rest, SyncKind, SyncPage};
use crate::wire::WireDate;

/// Rooms read at the same time.
pub(super) const PARALLEL: usize = 8;
/// Tries of one page when the server fails (5xx, timeout, broken connection).
const TRIES: u32 = 3;
/// Documents per page (halved while a page is over the REST answer cap).
const PAGE: usize = 100;
/// The most documents a page asks for when a whole page shares one millisecond.
const PAGE_MAX: usize = 1_000;

/// What the fetchers hand the session; per room: its pages in order, then its outcome.
#[derive(Debug)]
pub(super) enum Fetched {
    Page { rid: String, page: SyncPage },
    Done { rid: String, outcome: RoomOutcome },
}

/// How one room's catch-up ended.
#[derive(Debug)]
pub(super) enum RoomOutcome {
    /// Read to the end.
    Complete,
    /// The account stopped meanwhile.
    Stopped,
    /// The server refuses the room (4xx, or a document over the answer cap).
    Refused(RcError),
    /// The server failed for it (5xx, timeout, rate limit): the attempt fails, at least
    /// `wait` before the next.
    Failed {
        reason: String,
        wait: Option<std::time::Duration>,
    },
}

/// The running catch-up of a list of rooms.
pub(super) struct CatchUp {
    rest: Rest,
    timeouts: Timeouts,
    fatal: watch::Receiver<Option<Stop>>,
    /// Rooms not started yet, with where each is read from (epoch ms).
    queue: VecDeque<(String, i64)>,
    running: usize,
    tasks: JoinSet<()>,
    tx: mpsc::Sender<Fetched>,
    rx: mpsc::Receiver<Fetched>,
}

impl CatchUp {
    /// Starts reading `rooms` (each with the point it is read from).
    pub(super) fn start(
        rest: Rest,
        timeouts: Timeouts,
        fatal: watch::Receiver<Option<Stop>>,
        rooms: Vec<(String, i64)>,
    ) -> Self {
        // Bounded: fetchers wait while the session maps, so pages in memory stay few.
        let (tx, rx) = mpsc::channel(PARALLEL);
        let mut catch_up = Self {
            rest,
            timeouts,
            fatal,
            queue: rooms.into(),
            running: 0,
            tasks: JoinSet::new(),
            tx,
            rx,
        };
        while catch_up.running < PARALLEL && catch_up.start_next() {}
        catch_up
    }

    fn start_next(&mut self) -> bool {
        let Some((rid, from)) = self.queue.pop_front() else {
            return false;
        };
        self.running += 1;
        self.tasks.spawn(fetch_room(
            self.rest.clone(),
            self.timeouts.clone(),
            self.fatal.clone(),
            rid,
            from,
            self.tx.clone(),
        ));
        true
    }

    /// The next page or room outcome; `None` once every room is done. Dropping the
    /// catch-up stops its fetchers.
    pub(super) async fn next(&mut self) -> Option<Fetched> {
        if self.running == 0 {
            return None;
        }
        let item = self.rx.recv().await?;
        if matches!(item, Fetched::Done { .. }) {
            self.running -= 1;
            self.start_next();
        }
        Some(item)
    }
}

/// Reads one room to the end and reports how it went.
async fn fetch_room(
    rest: Rest,
    timeouts: Timeouts,
    mut fatal: watch::Receiver<Option<Stop>>,
    rid: String,
    from: i64,
    out: mpsc::Sender<Fetched>,
) {
    let outcome = match read_room(&rest, &timeouts, &mut fatal, &rid, from, &out).await {
        Ok(()) => RoomOutcome::Complete,
        Err(outcome) => outcome,
    };
    let _ = out.send(Fetched::Done { rid, outcome }).await;
}

async fn read_room(
    rest: &Rest,
    timeouts: &Timeouts,
    fatal: &mut watch::Receiver<Option<Stop>>,
    rid: &str,
    from: i64,
    out: &mpsc::Sender<Fetched>,
) -> Result<(), RoomOutcome> {
    // Deletions first: they do not move the room's mark, so a catch-up cut short in the
    // updates reads them again rather than losing them.
    for kind in [SyncKind::Deleted, SyncKind::Updated] {
        let mut after = from;
        let mut count = PAGE;
        loop {
            let page = fetch_page(rest, timeouts, fatal, rid, kind, after, &mut count).await?;
            let last = page
                .deleted
                .iter()
                .map(|d| d.deleted_at.as_ref().and_then(WireDate::millis))
                .chain(
                    page.updated
                        .iter()
                        .map(|d| d.updated_at.as_ref().and_then(WireDate::millis)),
                )
                .max()
                .flatten();
            let more = page.more;
            let page = Fetched::Page {
                rid: rid.to_owned(),
                page,
            };
            if out.send(page).await.is_err() {
                return Err(RoomOutcome::Stopped);
            }
            let Some(last) = last.filter(|_| more) else {
                break;
            };
            if last - 1 > after {
                after = last - 1;
            } else if count < PAGE_MAX {
                count = (count * 2).min(PAGE_MAX);
            } else {
                tracing::warn!(%rid, "more than a page of documents in one millisecond; reading on after it");
                after = last;
            }
        }
    }
    Ok(())
}

/// One page, tried again after a server failure and asked for with fewer documents while
/// it is over the answer cap (`count` keeps the size that fit, for the room's next pages).
async fn fetch_page(
    rest: &Rest,
    timeouts: &Timeouts,
    fatal: &mut watch::Receiver<Option<Stop>>,
    rid: &str,
    kind: SyncKind,
    after: i64,
    count: &mut usize,
) -> Result<SyncPage, RoomOutcome> {
    let mut tries = 0;
    loop {
        match rest.sync_page(rid, kind, after, *count).await {
            Ok(page) => return Ok(page),
            Err(RcError::Unauthorized(_) | RcError::Closed(_)) => return Err(RoomOutcome::Stopped),
            Err(RcError::RateLimited { retry_after }) => {
                return Err(RoomOutcome::Failed {
                    reason: format!("catch-up of {rid} rate limited"),
                    wait: retry_after,
                })
            }
            Err(RcError::ResponseTooLarge { .. }) if *count > 1 => *count /= 2,
            Err(e) if e.is_transient() => {
                tries += 1;
                if tries >= TRIES {
                    return Err(RoomOutcome::Failed {
                        reason: format!("catch-up of {rid}: {e}"),
                        wait: None,
                    });
                }
                tracing::info!(%rid, error = %e, tries, "catch-up of a room failed; trying again");
                let delay = reconnect_delay(tries, timeouts.reconnect_min, timeouts.reconnect_max);
                tokio::select! {
                    biased;
                    _ = fatal.changed() => return Err(RoomOutcome::Stopped),
                    _ = tokio::time::sleep(delay) => {}
                }
            }
            Err(e) => return Err(RoomOutcome::Refused(e)),
        }
    }
}
