//! Reading past messages over REST: `channels.history`, `groups.history`, `im.history` /
//! `dm.history`, and `chat.getThreadMessages`.
//!
//! Read from Rocket.Chat 8.x:
//! - `apps/meteor/app/api/server/v1/channels.ts` (`channels.history`): the room must be a
//!   `c` room (else `error-room-not-found`, "... does not match any channel"); `count` /
//!   `offset` from `getPaginationItems` (default 50, at most 100, `0` = no limit);
//!   `showThreadMessages === 'true'`, so thread replies are left out unless asked for;
//!   `getChannelHistory` returning false (cannot read the room) is `API.v1.forbidden()`.
//! - `groups.ts` (`groups.history`): `findPrivateGroupByIdOrName` answers
//!   `error-room-not-found` ("... does not match any group") for a room that is not `p`
//!   *or* that the caller cannot access; `count` is `parseInt(count)` (default 20, no cap);
//!   `showThreadMessages !== 'false'`, so replies are listed unless refused.
//! - `im.ts` (`im.history` / `dm.history`): `findDirectMessageRoom` answers
//!   `error-room-not-found` ("... does not match any direct message") for a room that is
//!   not `d`; a `d` room the caller is not in fails `getChannelHistory`'s `canReadRoom`,
//!   which is `forbidden()`; pagination as channels; `showThreadMessages === 'true'`.
//! - `apps/meteor/app/lib/server/methods/getChannelHistory.ts` +
//!   `Messages.findVisibleByRoomIdBeforeTimestampNotContainingTypes`: `_hidden` documents
//!   never; `ts < latest` (`<=` with `inclusive=true`), `ts > oldest` when given;
//!   `showThreadMessages` false keeps `{tmid: {$exists: false}}` or `{tshow: true}`;
//!   types in `Hide_System_Messages` are left out, and that setting defaults to `[]`, so
//!   system messages (`uj`, `au`, `rm`, `message_pinned`, ...) ARE listed; sorted `ts: -1`,
//!   `skip: offset`, `limit: count`. Result `{messages}` (+ `success`).
//! - `chat.ts` (`chat.getThreadMessages`): `tmid` required; the root looked up by id
//!   (missing: `error-invalid-message` "Invalid Message"); no access to its room:
//!   `error-not-allowed` "Not Allowed"; then `Messages.findPaginated({...query, tmid})`
//!   with `sort || {ts: 1}`: the replies only (never the root), oldest first by default,
//!   and with NO `_hidden` filter (hidden replies are listed). `count` / `offset` from
//!   `getPaginationItems`. Result `{messages, count, offset, total}` (+ `success`).
//!
//! Not simulated: `unreads` (`firstUnread`, `unreadNotLoaded`), the `query` / `fields`
//! JSON parameters, per-room `sysMes` and a non-empty `Hide_System_Messages`.
//!
//! One deliberate difference: without `latest`, Rocket.Chat uses `new Date()` at request
//! time, which leaves out a message stamped in the same millisecond; the simulator treats
//! a missing `latest` as "no upper bound" so tests do not depend on the clock.

use std::cmp::Reverse;

use http::{Method, Response};
use serde_json::{json, Value};

use super::{failure, failure_text, forbidden, query, success, Body, Handler, Req};
use crate::hub::State;
use crate::util::{parse_date_ms, read_ejson_date};
use crate::world::{OpError, Room, RoomKind};

pub(super) fn route(method: &Method, route: &str) -> Option<Handler> {
    let h: Handler = match (method, route) {
        (&Method::GET, "channels.history") => |c| {
            let uid = c.user.id.clone();
            room_history(c.st, c.req, &uid, HistoryEndpoint::Channels)
        },
        (&Method::GET, "groups.history") => |c| {
            let uid = c.user.id.clone();
            room_history(c.st, c.req, &uid, HistoryEndpoint::Groups)
        },
        (&Method::GET, "im.history") | (&Method::GET, "dm.history") => |c| {
            let uid = c.user.id.clone();
            room_history(c.st, c.req, &uid, HistoryEndpoint::Im)
        },
        (&Method::GET, "chat.getThreadMessages") => |c| {
            let uid = c.user.id.clone();
            thread_messages(c.st, c.req, &uid)
        },
        _ => return None,
    };
    Some(h)
}

/// `API_Default_Count`, the count `getPaginationItems` gives when none is asked for.
const DEFAULT_COUNT: usize = 50;
/// `API_Upper_Count_Limit`: `getPaginationItems` never gives more.
const UPPER_COUNT_LIMIT: usize = 100;

/// Which `*.history` endpoint was called; each checks the room its own way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum HistoryEndpoint {
    /// `channels.history`: public channels.
    Channels,
    /// `groups.history`: private groups.
    Groups,
    /// `im.history` / `dm.history`: direct messages.
    Im,
}

impl HistoryEndpoint {
    fn kind(self) -> RoomKind {
        match self {
            HistoryEndpoint::Channels => RoomKind::Public,
            HistoryEndpoint::Groups => RoomKind::Private,
            HistoryEndpoint::Im => RoomKind::Direct,
        }
    }

    fn not_found(self) -> Response<Body> {
        let what = match self {
            HistoryEndpoint::Channels => "channel",
            HistoryEndpoint::Groups => "group",
            HistoryEndpoint::Im => {
                return failure(&OpError::meteor(
                    "error-room-not-found",
                    "The required \"roomId\" param provided does not match any direct message",
                ))
            }
        };
        failure(&OpError::meteor(
            "error-room-not-found",
            &format!(
                "The required \"roomId\" or \"roomName\" param provided does not match any {what}"
            ),
        ))
    }

    /// Whether thread replies are listed when `showThreadMessages` is not given.
    fn threads_by_default(self) -> bool {
        matches!(self, HistoryEndpoint::Groups)
    }
}

/// `count` as `getPaginationItems` reads it: missing means 50, more than 100 means 100,
/// `0` means no limit (`API_Allow_Infinite_Count` is on by default). `None` = no limit.
fn paginated_count(req: &Req) -> Option<usize> {
    let count = match query(req, "count").map(|c| c.trim().parse::<i64>()) {
        None => DEFAULT_COUNT,
        Some(Ok(0)) => return None,
        Some(Ok(n)) if n > 0 => usize::try_from(n).unwrap_or(UPPER_COUNT_LIMIT),
        // parseInt of garbage is NaN; NaN > limit and NaN === 0 are both false, so the
        // query gets `limit: NaN`, which the driver ignores [unconfirmed]: treat as default.
        Some(_) => DEFAULT_COUNT,
    };
    Some(count.min(UPPER_COUNT_LIMIT))
}

/// `offset` as both helpers read it: `parseInt`, default 0.
fn offset(req: &Req) -> usize {
    query(req, "offset")
        .and_then(|o| o.trim().parse::<usize>().ok())
        .unwrap_or(0)
}

fn ts(doc: &Value) -> i64 {
    doc.get("ts").and_then(read_ejson_date).unwrap_or(0)
}

fn is_hidden(doc: &Value) -> bool {
    doc.get("_hidden").and_then(Value::as_bool) == Some(true)
}

/// Applies `skip` and `limit` to an already sorted list.
fn page(docs: Vec<Value>, skip: usize, limit: Option<usize>) -> Vec<Value> {
    let rest = docs.into_iter().skip(skip);
    match limit {
        Some(limit) => rest.take(limit).collect(),
        None => rest.collect(),
    }
}

/// `channels.history`, `groups.history`, `im.history`.
pub(crate) fn room_history(
    st: &State,
    req: &Req,
    uid: &str,
    endpoint: HistoryEndpoint,
) -> Response<Body> {
    let room: Option<&Room> = match (query(req, "roomId"), query(req, "roomName")) {
        (Some(id), _) => st.world.room(id),
        (None, Some(name)) if endpoint != HistoryEndpoint::Im => st.world.room_by_name(name),
        _ => {
            return failure(&OpError::meteor(
                "error-room-param-not-provided",
                "The parameter \"roomId\" or \"roomName\" is required",
            ))
        }
    };
    let Some(room) = room.filter(|r| r.kind == endpoint.kind()) else {
        return endpoint.not_found();
    };
    if !st.world.can_access(&room.id, uid) {
        // groups.ts checks access while finding the group; the others learn it from
        // getChannelHistory returning false.
        return match endpoint {
            HistoryEndpoint::Groups => endpoint.not_found(),
            HistoryEndpoint::Channels | HistoryEndpoint::Im => forbidden(),
        };
    }

    // `new Date(garbage)` is an Invalid Date and the Mongo query then fails [unconfirmed
    // body]: a plain 400. `Some(None)` is "given but not a date".
    let date = |key: &str| query(req, key).map(parse_date_ms);
    let (latest, oldest) = match (date("latest"), date("oldest")) {
        (Some(None), _) | (_, Some(None)) => return failure_text("Invalid Date"),
        (latest, oldest) => (latest.flatten(), oldest.flatten()),
    };
    let inclusive = query(req, "inclusive") == Some("true");
    let show_threads = match query(req, "showThreadMessages") {
        Some("true") => true,
        Some("false") => false,
        // channels / im: `=== 'true'`; groups: `!== 'false'`.
        Some(_) => matches!(endpoint, HistoryEndpoint::Groups),
        None => endpoint.threads_by_default(),
    };
    let (count, skip) = match endpoint {
        HistoryEndpoint::Groups => {
            // `if (count) count = parseInt(count)`: default 20, no upper limit; "0" is a
            // truthy string, so limit 0 = everything.
            let count = match query(req, "count").map(|c| c.trim().parse::<usize>()) {
                None | Some(Err(_)) => Some(20),
                Some(Ok(0)) => None,
                Some(Ok(n)) => Some(n),
            };
            (count, offset(req))
        }
        HistoryEndpoint::Channels | HistoryEndpoint::Im => (paginated_count(req), offset(req)),
    };

    let mut docs: Vec<(usize, Value)> = st
        .world
        .messages_of(&room.id)
        .into_iter()
        .enumerate()
        .filter(|(_, m)| !is_hidden(m))
        .filter(|(_, m)| match latest {
            None => true,
            Some(latest) if inclusive => ts(m) <= latest,
            Some(latest) => ts(m) < latest,
        })
        .filter(|(_, m)| match oldest {
            None => true,
            Some(oldest) if inclusive => ts(m) >= oldest,
            Some(oldest) => ts(m) > oldest,
        })
        .filter(|(_, m)| {
            show_threads
                || m.get("tmid").is_none()
                || m.get("tshow").and_then(Value::as_bool) == Some(true)
        })
        .collect();
    // `ts: -1`; equal stamps newest-inserted first.
    docs.sort_by_key(|(at, m)| (Reverse(ts(m)), Reverse(*at)));
    let messages = page(docs.into_iter().map(|(_, m)| m).collect(), skip, count);
    success(json!({ "messages": messages }))
}

/// Sort order of `chat.getThreadMessages`: `sort` is a JSON object (`{"ts":-1}`); only
/// `ts` is honoured here, ascending unless it says `-1`.
fn newest_first(req: &Req) -> bool {
    query(req, "sort")
        .and_then(|s| serde_json::from_str::<Value>(s).ok())
        .and_then(|s| s.get("ts").and_then(Value::as_i64))
        == Some(-1)
}

/// `chat.getThreadMessages`: the replies of a thread (never its root).
pub(crate) fn thread_messages(st: &State, req: &Req, uid: &str) -> Response<Body> {
    if !st.world.settings.threads_enabled() {
        return failure(&OpError::meteor("error-not-allowed", "Threads Disabled"));
    }
    let Some(tmid) = query(req, "tmid") else {
        return failure(&OpError::meteor(
            "invalid-params",
            "must have required property 'tmid'",
        ));
    };
    // `Messages.findOneById(tmid)`: hidden or not.
    let Some(rid) = st
        .world
        .stored_message(tmid)
        .and_then(|root| root.get("rid"))
        .and_then(Value::as_str)
    else {
        return failure(&OpError::meteor("error-invalid-message", "Invalid Message"));
    };
    if !st.world.can_access(rid, uid) {
        return failure(&OpError::meteor("error-not-allowed", "Not Allowed"));
    }
    let mut replies: Vec<(usize, Value)> = st
        .world
        .messages_of(rid)
        .into_iter()
        .enumerate()
        // No `_hidden` filter: chat.ts queries `{...query, tmid}` only.
        .filter(|(_, m)| m.get("tmid").and_then(Value::as_str) == Some(tmid))
        .collect();
    if newest_first(req) {
        replies.sort_by_key(|(at, m)| (Reverse(ts(m)), Reverse(*at)));
    } else {
        replies.sort_by_key(|(at, m)| (ts(m), *at));
    }
    let total = replies.len();
    let skip = offset(req);
    let messages = page(
        replies.into_iter().map(|(_, m)| m).collect(),
        skip,
        paginated_count(req),
    );
    let count = messages.len();
    success(json!({
        "messages": messages,
        "count": count,
        "offset": skip,
        "total": total,
    }))
}
