//! The live-run environment and the peer for runs against a real server (or the simulator
//! through the same path): [`LiveEnv`] reads the `RC_TEST_*` variables at run time, and
//! [`LiveEnv::peer`] is the peer user over REST ([`RestPeer`], the workspace's one REST
//! client with the bot's trust rules: public roots plus `RC_TEST_CA_FILE`).
//!
//! Use it from a test file with `#[path = "support/live_env.rs"] mod live_env;`.
//!
//! | Variable | Meaning |
//! |---|---|
//! | `RC_TEST_URL` | Server base URL (unset: live tests print one skip line) |
//! | `RC_TEST_BOT_USER_ID`, `RC_TEST_BOT_USERNAME`, `RC_TEST_BOT_TOKEN` | The bot under test (PAT) |
//! | `RC_TEST_PEER_USER_ID`, `RC_TEST_PEER_USERNAME`, `RC_TEST_PEER_TOKEN` | The other user (PAT) |
//! | `RC_TEST_ROOM_ID`, `RC_TEST_ROOM_NAME` | A group room both are in |
//! | `RC_TEST_DM_ROOM_ID` | The DM between them |
//! | `RC_TEST_ALLOW_INSECURE` | `1`: allow `http://` (a local test server only) |
//! | `RC_TEST_CA_FILE` | Extra trusted CA (PEM), e.g. for the compose `tls` profile |
//!
//! `rc-provision` prints all of them. With `CONFORMANCE_REQUIRE_LIVE=1` a missing variable
//! fails instead of skipping.
//!
//! # Cleanup
//! Every text a case posts carries the run id. When the peer is dropped (the harness is
//! dropped at the end of each case, also when the case panicked), it deletes the messages
//! of its run from the test room and the DM: the peer's own with the peer's token, the
//! bot's with the bot's token. It runs on a separate thread with its own runtime and
//! clients, so it works from any runtime; failures are printed, never panicked on.
//! `RC_TEST_KEEP_MESSAGES=1` turns the cleanup off (to look at a run's messages).

#![allow(dead_code, unreachable_pub, clippy::unwrap_used)]

use std::collections::HashSet;
use std::fmt;
use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use backend_rocketchat::admin::AdminOptions;
use backend_rocketchat::{RocketChatConfig, Secret};
use channel_api::{Error, MessageRef, RoomId};
use serde_json::{json, Value};

#[path = "peer.rs"]
mod peer;
pub use peer::RestPeer;

/// The peer of a live run: it deletes the run's messages when dropped.
pub type LivePeer = RestPeer;

/// Every variable a live run needs (the optional ones are not listed).
/// The live gate: `RC_TEST_URL` turns live runs on, the rest must be set then.
pub const LIVE_VARS: conformance::live::LiveVars<'static> = conformance::live::LiveVars {
    switch: "RC_TEST_URL",
    required: REQUIRED_VARS,
};

pub const REQUIRED_VARS: &[&str] = &[
    "RC_TEST_URL",
    "RC_TEST_BOT_USER_ID",
    "RC_TEST_BOT_USERNAME",
    "RC_TEST_BOT_TOKEN",
    "RC_TEST_PEER_USER_ID",
    "RC_TEST_PEER_USERNAME",
    "RC_TEST_PEER_TOKEN",
    "RC_TEST_ROOM_ID",
    "RC_TEST_ROOM_NAME",
    "RC_TEST_DM_ROOM_ID",
];

/// How far back the peer reads room history (`chat.syncMessages?lastUpdate=`): everything
/// a case looks at is newer; the margin absorbs clock skew between test host and server.
const HISTORY_WINDOW: Duration = Duration::from_secs(3600);

/// One REST request's limit.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// The `RC_TEST_*` environment. `Debug` hides the tokens.
#[derive(Clone)]
pub struct LiveEnv {
    pub url: String,
    pub bot_user_id: String,
    pub bot_username: String,
    pub bot_token: String,
    pub peer_user_id: String,
    pub peer_username: String,
    pub peer_token: String,
    pub room_id: String,
    pub room_name: String,
    pub dm_room_id: String,
    pub allow_insecure: bool,
    pub ca_file: Option<PathBuf>,
}

impl fmt::Debug for LiveEnv {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LiveEnv")
            .field("url", &self.url)
            .field("bot_user_id", &self.bot_user_id)
            .field("bot_username", &self.bot_username)
            .field("peer_user_id", &self.peer_user_id)
            .field("peer_username", &self.peer_username)
            .field("room_id", &self.room_id)
            .field("room_name", &self.room_name)
            .field("dm_room_id", &self.dm_room_id)
            .field("allow_insecure", &self.allow_insecure)
            .field("ca_file", &self.ca_file)
            .finish_non_exhaustive()
    }
}

impl LiveEnv {
    /// Reads the environment at run time. `None` (after printing one skip line) when live
    /// runs are not configured; panics (fails the test) when `CONFORMANCE_REQUIRE_LIVE=1`
    /// and something is missing.
    pub fn from_env() -> Option<Self> {
        if !conformance::live::should_run(LIVE_VARS) {
            return None;
        }
        let var = |name: &str| match conformance::live::required_var(name) {
            Ok(v) => v.trim().to_owned(),
            Err(e) => panic!("conformance: {e}"),
        };
        let optional = |name: &str| {
            std::env::var(name)
                .ok()
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        Some(Self {
            url: var("RC_TEST_URL").trim_end_matches('/').to_owned(),
            bot_user_id: var("RC_TEST_BOT_USER_ID"),
            bot_username: var("RC_TEST_BOT_USERNAME"),
            bot_token: var("RC_TEST_BOT_TOKEN"),
            peer_user_id: var("RC_TEST_PEER_USER_ID"),
            peer_username: var("RC_TEST_PEER_USERNAME"),
            peer_token: var("RC_TEST_PEER_TOKEN"),
            room_id: var("RC_TEST_ROOM_ID"),
            room_name: var("RC_TEST_ROOM_NAME").trim_start_matches('#').to_owned(),
            dm_room_id: var("RC_TEST_DM_ROOM_ID"),
            allow_insecure: optional("RC_TEST_ALLOW_INSECURE")
                .is_some_and(|v| v == "1" || v.eq_ignore_ascii_case("true")),
            ca_file: optional("RC_TEST_CA_FILE").map(PathBuf::from),
        })
    }

    /// The bot's channel config.
    pub fn bot_config(&self) -> RocketChatConfig {
        let mut config = RocketChatConfig::new(
            self.url.clone(),
            self.bot_user_id.clone(),
            self.bot_username.clone(),
            Secret::new(self.bot_token.clone()),
        );
        config.dangerously_allow_insecure = self.allow_insecure;
        config.ca_file = self.ca_file.clone();
        config
    }

    /// How the peers reach the server: the bot's URL and trust rules.
    fn options(&self) -> AdminOptions {
        AdminOptions {
            server_url: self.url.clone(),
            ca_file: self.ca_file.clone(),
            // http:// only with RC_TEST_ALLOW_INSECURE, like the bot's config.
            allow_plain_http: self.allow_insecure,
            request_timeout: REQUEST_TIMEOUT,
        }
    }

    /// A REST client acting as the bot (for cleanup).
    pub fn bot_rest(&self) -> RestPeer {
        RestPeer::new(
            &self.options(),
            &self.bot_user_id,
            &self.bot_username,
            &self.bot_token,
        )
        .reading_since(iso_millis(SystemTime::now() - HISTORY_WINDOW))
    }

    /// The peer for one run: it deletes the run's messages when dropped.
    pub fn peer(&self, run_id: &str) -> LivePeer {
        let keep = std::env::var("RC_TEST_KEEP_MESSAGES").is_ok_and(|v| v.trim() == "1");
        let peer = RestPeer::new(
            &self.options(),
            &self.peer_user_id,
            &self.peer_username,
            &self.peer_token,
        )
        .reading_since(iso_millis(SystemTime::now() - HISTORY_WINDOW));
        if keep {
            return peer;
        }
        let cleanup = Cleanup {
            env: self.clone(),
            run_id: run_id.to_owned(),
        };
        peer.on_drop(move |peer| cleanup.run_blocking(peer.posted()))
    }
}

/// What a run must remove when it ends.
struct Cleanup {
    env: LiveEnv,
    run_id: String,
}

impl Cleanup {
    /// Runs [`Cleanup::run`] on its own thread and runtime (fresh clients: the test's
    /// runtime, whose tasks hold the pooled connections, may be shutting down) and waits
    /// for it. `posted` are the peer's messages (deleted even if a case changed their text).
    fn run_blocking(self, posted: Vec<MessageRef>) {
        let worker =
            std::thread::spawn(move || {
                match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(runtime) => runtime.block_on(self.run(posted)),
                    Err(e) => eprintln!("live cleanup: no runtime: {e}"),
                }
            });
        if worker.join().is_err() {
            eprintln!("live cleanup: the cleanup thread panicked");
        }
    }

    /// Deletes this run's messages (its run id in the text or the id, or posted by the
    /// peer) from the test room and the DM, each with its author's token.
    async fn run(self, posted: Vec<MessageRef>) {
        let env = &self.env;
        let since = iso_millis(SystemTime::now() - HISTORY_WINDOW);
        let peer = RestPeer::new(
            &env.options(),
            &env.peer_user_id,
            &env.peer_username,
            &env.peer_token,
        )
        .reading_since(since);
        let bot = env.bot_rest();
        let posted: HashSet<String> = posted.iter().map(|m| m.id.as_str().to_owned()).collect();
        let mut failures = 0usize;
        for room in [&env.room_id, &env.dm_room_id] {
            let docs = match peer.room_messages(&RoomId::new(room.as_str())).await {
                Ok(docs) => docs,
                Err(e) => {
                    eprintln!("live cleanup: cannot read room {room}: {e}");
                    continue;
                }
            };
            let mut ours: Vec<&Value> = docs
                .iter()
                .filter(|d| {
                    let id = d.get("_id").and_then(Value::as_str).unwrap_or_default();
                    let text = d.get("msg").and_then(Value::as_str).unwrap_or_default();
                    posted.contains(id) || id.contains(&self.run_id) || text.contains(&self.run_id)
                })
                .collect();
            // Thread replies before their roots.
            ours.sort_by_key(|d| d.get("tmid").is_none());
            for doc in ours {
                let id = doc.get("_id").and_then(Value::as_str).unwrap_or_default();
                let author = doc
                    .pointer("/u/_id")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                let client = if author == env.bot_user_id {
                    &bot
                } else if author == env.peer_user_id {
                    &peer
                } else {
                    continue;
                };
                let body = json!({"roomId": room, "msgId": id});
                match client.call("POST", "chat.delete", Some(body)).await {
                    Ok(_) | Err(Error::NotFound { .. }) => {}
                    Err(e) => {
                        failures += 1;
                        eprintln!("live cleanup: could not delete {id} in {room}: {e}");
                    }
                }
            }
        }
        if failures > 0 {
            eprintln!(
                "live cleanup: run {}: {failures} message(s) left behind",
                self.run_id
            );
        }
    }
}

/// `2026-01-02T03:04:05.678Z` (millisecond precision, as JavaScript's `toISOString`).
fn iso_millis(at: SystemTime) -> String {
    let nanos = at
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i128 * 1_000_000)
        .unwrap_or(0);
    time::OffsetDateTime::from_unix_timestamp_nanos(nanos)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| "1970-01-01T00:00:00.000Z".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_format_in_millis() {
        let at = UNIX_EPOCH + Duration::from_millis(1_700_000_000_123);
        assert_eq!(iso_millis(at), "2023-11-14T22:13:20.123Z");
    }
}
