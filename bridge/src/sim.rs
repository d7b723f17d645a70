//! `bridge sim`: the Rocket.Chat simulator with a demo seed (a bot with a PAT, a human with
//! a PAT, a public room both are in, and their DM), the bridge config that connects to it,
//! and a ready `channels.rocketchat` block for OpenClaw's `openclaw.json`. `bridge demo`
//! starts the same world.
//!
//! With a state file (`--state`), the world is written down after seeding (mode 0600: it
//! holds the tokens) and re-created from it at the next start: the same users with the
//! same tokens, the same rooms. The simulator's control API cannot create a user or a
//! room with a given id (`SimHandle::create_user` and `create_room` draw fresh ids), so
//! the ids are new at every start; the state file then records the new ones, and `bridge
//! sim` says which changed (the tokens, usernames and room names stay, and the printed
//! blocks name the room by name).

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use rocketchat_sim::seed::{Seed, SeedPat, SeedRoom, SeedUser};
use rocketchat_sim::{SimConfig, SimError, SimHandle, Simulator};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// The port `bridge sim` listens on unless told otherwise (not 3000: Rocket.Chat's own, and
/// the compose file's).
pub const DEFAULT_PORT: u16 = 3210;

/// The demo world on a running simulator. Tokens are for this throwaway server only.
#[derive(Debug)]
pub struct DemoSim {
    /// The simulator.
    pub sim: SimHandle,
    /// The bot's user id.
    pub bot_id: String,
    /// The bot's PAT.
    pub bot_token: String,
    /// The human's user id.
    pub human_id: String,
    /// The human's PAT.
    pub human_token: String,
    /// The public room's id.
    pub room_id: String,
    /// The bot-human DM's id.
    pub dm_id: String,
}

/// The bot's username in the demo world.
pub const BOT: &str = "bot";
/// The human's username in the demo world.
pub const HUMAN: &str = "alice";
/// The public room's name in the demo world.
pub const ROOM: &str = "demo";
/// The bot's PAT name.
const BOT_PAT: &str = "bridge";
/// The human's PAT name.
const HUMAN_PAT: &str = "cli";

/// Why `bridge sim` could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The port is taken: the message names the flag to use.
    #[error("port {port} is in use: pass --port <another port> (or --port 0 for any free port)")]
    PortInUse {
        /// The port asked for.
        port: u16,
    },
    /// The state file cannot be read or written.
    #[error("state file {path}: {reason}")]
    State {
        /// The file.
        path: String,
        /// What went wrong.
        reason: String,
    },
    /// The simulator failed.
    #[error("simulator: {0}")]
    Sim(#[from] SimError),
}

/// What the state file holds (version 1). Tokens included: the file is written 0600.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct State {
    /// The format's version (1).
    pub version: u32,
    /// The bot.
    pub bot: StateUser,
    /// The human.
    pub human: StateUser,
    /// The public room's id.
    pub room_id: String,
    /// The DM's id.
    pub dm_id: String,
}

/// A user in the state file.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct StateUser {
    /// The user id at the last start.
    pub id: String,
    /// The username.
    pub username: String,
    /// The PAT.
    pub token: String,
}

impl std::fmt::Debug for StateUser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StateUser")
            .field("id", &self.id)
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

/// How a start with a state file went.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Restored {
    /// The world was re-created from the file (false: seeded afresh, then written).
    pub from_file: bool,
    /// The ids that differ from the file's (`@bot userId`, `#demo id`, ...), as
    /// `(what, before, now)`.
    pub changed_ids: Vec<(String, String, String)>,
}

impl DemoSim {
    /// Starts a simulator on `bind` (port 0 = any free port) and seeds the demo world.
    /// Rate limits and 2FA are off so a person can poke it by hand; the JSON control API
    /// (`POST /_sim/<control>`) is on.
    pub async fn start(bind: SocketAddr) -> Result<Self, SimError> {
        let sim = Self::simulator(bind).await?;
        Self::seed(sim, None)
    }

    /// [`DemoSim::start`] for `bridge sim`: a taken port is [`StartError::PortInUse`], and
    /// with `state` the world comes from that file when it exists (same users, tokens and
    /// rooms) and is written to it (0600) after seeding.
    pub async fn start_with_state(
        bind: SocketAddr,
        state: Option<&Path>,
    ) -> Result<(Self, Restored), StartError> {
        let saved = match state {
            Some(path) => read_state(path)?,
            None => None,
        };
        let sim = Self::simulator(bind).await.map_err(|e| match e {
            SimError::Io(io) if io.kind() == std::io::ErrorKind::AddrInUse => {
                StartError::PortInUse { port: bind.port() }
            }
            other => StartError::Sim(other),
        })?;
        let world = Self::seed(sim, saved.as_ref())?;
        let mut restored = Restored::default();
        if let Some(saved) = &saved {
            restored.from_file = true;
            let pairs = [
                (format!("@{BOT} userId"), &saved.bot.id, &world.bot_id),
                (format!("@{HUMAN} userId"), &saved.human.id, &world.human_id),
                (format!("#{ROOM} id"), &saved.room_id, &world.room_id),
                ("DM id".to_owned(), &saved.dm_id, &world.dm_id),
            ];
            restored.changed_ids = pairs
                .into_iter()
                .filter(|(_, before, now)| before != now)
                .map(|(what, before, now)| (what, before.clone(), now.clone()))
                .collect();
        }
        if let Some(path) = state {
            write_state(path, &world.state())?;
        }
        Ok((world, restored))
    }

    async fn simulator(bind: SocketAddr) -> Result<SimHandle, SimError> {
        Simulator::start(SimConfig {
            bind,
            control_http: true,
            rest_rate_limit: None,
            ddp_rate_limit: None,
            two_factor_enabled: false,
            ..SimConfig::default()
        })
        .await
    }

    /// Seeds the demo world; with `saved`, the users get the saved tokens.
    fn seed(sim: SimHandle, saved: Option<&State>) -> Result<Self, SimError> {
        let user = |username: &str, bot: bool, pat: &str, token: Option<&str>| SeedUser {
            username: username.to_owned(),
            name: None,
            bot,
            password: None,
            roles: None,
            pats: vec![SeedPat {
                name: pat.to_owned(),
                token: token.map(str::to_owned),
            }],
        };
        let seed = Seed {
            users: vec![
                user(BOT, true, BOT_PAT, saved.map(|s| s.bot.token.as_str())),
                user(
                    HUMAN,
                    false,
                    HUMAN_PAT,
                    saved.map(|s| s.human.token.as_str()),
                ),
            ],
            rooms: vec![
                SeedRoom {
                    name: Some(ROOM.to_owned()),
                    kind: Some("c".to_owned()),
                    creator: Some(HUMAN.to_owned()),
                    members: vec![BOT.to_owned()],
                    dm: None,
                },
                SeedRoom {
                    name: None,
                    kind: None,
                    creator: None,
                    members: Vec::new(),
                    dm: Some(vec![HUMAN.to_owned(), BOT.to_owned()]),
                },
            ],
        };
        let summary = rocketchat_sim::seed::apply(&sim, &seed)?;
        let text = |pointer: &str| {
            summary
                .pointer(pointer)
                .and_then(Value::as_str)
                .map(str::to_owned)
                .ok_or_else(|| SimError::Seed(format!("the seed summary has no {pointer}")))
        };
        Ok(Self {
            bot_id: text(&format!("/users/{BOT}/userId"))?,
            bot_token: text(&format!("/users/{BOT}/pats/{BOT_PAT}"))?,
            human_id: text(&format!("/users/{HUMAN}/userId"))?,
            human_token: text(&format!("/users/{HUMAN}/pats/{HUMAN_PAT}"))?,
            room_id: text(&format!("/rooms/{ROOM}"))?,
            dm_id: text(&format!("/rooms/dm:{HUMAN}:{BOT}"))?,
            sim,
        })
    }

    /// The world as the state file keeps it.
    pub fn state(&self) -> State {
        State {
            version: 1,
            bot: StateUser {
                id: self.bot_id.clone(),
                username: BOT.to_owned(),
                token: self.bot_token.clone(),
            },
            human: StateUser {
                id: self.human_id.clone(),
                username: HUMAN.to_owned(),
                token: self.human_token.clone(),
            },
            room_id: self.room_id.clone(),
            dm_id: self.dm_id.clone(),
        }
    }

    /// A ready-to-use configuration line for `bridge serve` against this simulator:
    /// the demo room admitted (mention needed), DMs by pairing, nobody may run `!stop`.
    pub fn bridge_config(&self) -> Value {
        json!({
            "accountId": "demo",
            "serverUrl": self.sim.base_url(),
            "dangerouslyAllowInsecure": true,
            "userId": self.bot_id,
            "username": BOT,
            "authToken": self.bot_token,
            "dmPolicy": "pairing",
            "groupPolicy": "allowlist",
            "rooms": { ROOM: {} },
            "reactionNotifications": "own",
        })
    }

    /// The `channels.rocketchat` object for OpenClaw's `openclaw.json`.
    /// (The block prints the keys in `OPENCLAW_KEY_ORDER`: one added here must be added there.)
    pub fn openclaw_channel(&self) -> Value {
        json!({
            "serverUrl": self.sim.base_url(),
            "userId": self.bot_id,
            "username": BOT,
            "authToken": self.bot_token,
            "dangerouslyAllowInsecure": true,
            "dmPolicy": "pairing",
            "groupPolicy": "allowlist",
            "rooms": { ROOM: { "requireMention": true } },
        })
    }

    /// [`DemoSim::openclaw_channel`] as JSON5 lines to paste into `openclaw.json`
    /// (`channels: { rocketchat: { ... } },`), indented by `indent` spaces.
    pub fn openclaw_block(&self, indent: usize) -> String {
        let pad = " ".repeat(indent);
        let mut out = String::new();
        let _ = writeln!(out, "{pad}channels: {{");
        let _ = writeln!(
            out,
            "{pad}  // The simulator's throwaway token; for a real server use a secret reference."
        );
        let _ = writeln!(out, "{pad}  rocketchat: {{");
        // In the order people read them (a JSON map is sorted by key).
        let channel = self.openclaw_channel();
        for key in OPENCLAW_KEY_ORDER {
            if let Some(value) = channel.get(*key) {
                let _ = write!(out, "{pad}    {key}: ");
                write_json5(&mut out, value, indent + 4);
                let _ = writeln!(out, ",");
            }
        }
        let _ = writeln!(out, "{pad}  }},");
        let _ = writeln!(out, "{pad}}},");
        out
    }

    /// The connection details, for people.
    pub fn describe(&self) -> String {
        let base = self.sim.base_url();
        let mut s = String::new();
        let _ = writeln!(s, "Rocket.Chat 8.2.0 simulator listening on {base}");
        let _ = writeln!(s, "  websocket   {}", self.sim.ws_url());
        let _ = writeln!(
            s,
            "  bot         @{BOT}  userId {}  token {}",
            self.bot_id, self.bot_token
        );
        let _ = writeln!(
            s,
            "  human       @{HUMAN}  userId {}  token {}",
            self.human_id, self.human_token
        );
        let _ = writeln!(s, "  room        #{ROOM}  id {}", self.room_id);
        let _ = writeln!(s, "  DM          {HUMAN} <-> {BOT}  id {}", self.dm_id);
        let _ = writeln!(s);
        let _ = writeln!(s, "Post as @{HUMAN}:");
        let _ = writeln!(
            s,
            "  curl -s {base}/api/v1/chat.sendMessage -H 'Content-Type: application/json' \\\n    -H 'X-User-Id: {}' -H 'X-Auth-Token: {}' \\\n    -d '{{\"message\":{{\"rid\":\"{}\",\"msg\":\"@{BOT} hello\"}}}}'",
            self.human_id, self.human_token, self.room_id
        );
        let _ = writeln!(s);
        let _ = writeln!(
            s,
            "Bridge configuration (the first stdin line of `bridge serve`):"
        );
        let _ = writeln!(s, "  {}", self.bridge_config());
        let _ = writeln!(s);
        let _ = writeln!(s, "Run a bridge against it (then type JSON-RPC requests):");
        let _ = writeln!(
            s,
            "  (echo '{}'; cat) | cargo run -p bridge -- serve",
            self.bridge_config()
        );
        let _ = writeln!(s);
        let _ = writeln!(
            s,
            "OpenClaw: put this block in ~/.openclaw/openclaw.json (JSON5), at the top level:"
        );
        s.push_str(&self.openclaw_block(2));
        s
    }
}

/// The keys of [`DemoSim::openclaw_channel`], in the order the block shows them.
const OPENCLAW_KEY_ORDER: &[&str] = &[
    "serverUrl",
    "userId",
    "username",
    "authToken",
    "dangerouslyAllowInsecure",
    "dmPolicy",
    "groupPolicy",
    "rooms",
];

/// Writes `value` as JSON5: keys bare where they are identifiers, trailing commas, one
/// key per line; strings and numbers as JSON writes them (valid JSON5).
fn write_json5(out: &mut String, value: &Value, indent: usize) {
    let pad = " ".repeat(indent);
    match value {
        Value::Object(map) if !map.is_empty() => {
            out.push_str("{\n");
            for (key, v) in map {
                let bare = key
                    .chars()
                    .next()
                    .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                    && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
                let key = if bare {
                    key.clone()
                } else {
                    Value::String(key.clone()).to_string()
                };
                let _ = write!(out, "{pad}  {key}: ");
                write_json5(out, v, indent + 2);
                out.push_str(",\n");
            }
            let _ = write!(out, "{pad}}}");
        }
        other => out.push_str(&other.to_string()),
    }
}

/// The saved world, or `None` when there is no file yet.
fn read_state(path: &Path) -> Result<Option<State>, StartError> {
    let bad = |reason: String| StartError::State {
        path: path.display().to_string(),
        reason,
    };
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(bad(e.to_string())),
    };
    // serde's message could quote a token: say where, not what.
    let state: State = serde_json::from_str(&text).map_err(|e| {
        bad(format!(
            "not a bridge sim state file (line {}, column {}); delete it to start afresh",
            e.line(),
            e.column()
        ))
    })?;
    if state.version != 1 || state.bot.username != BOT || state.human.username != HUMAN {
        return Err(bad(
            "written by another version of bridge sim; delete it to start afresh".into(),
        ));
    }
    Ok(Some(state))
}

/// Writes the state next to `path` and moves it into place, readable by its owner only.
fn write_state(path: &Path, state: &State) -> Result<(), StartError> {
    let bad = |reason: String| StartError::State {
        path: path.display().to_string(),
        reason,
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| bad(e.to_string()))?;
    }
    let text = serde_json::to_string_pretty(state).map_err(|e| bad(e.to_string()))?;
    let mut temp = PathBuf::from(path);
    temp.set_extension("tmp");
    write_private(&temp, text.as_bytes()).map_err(|e| bad(e.to_string()))?;
    std::fs::rename(&temp, path).map_err(|e| bad(e.to_string()))
}

/// Creates (or truncates) `path` with mode 0600 and writes `bytes`.
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write as _;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        options.mode(0o600);
        let mut file = options.open(path)?;
        // An existing file keeps its mode on open: set it.
        file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
        file.write_all(bytes)?;
        file.sync_all()
    }
    #[cfg(not(unix))]
    {
        let mut file = options.open(path)?;
        file.write_all(bytes)?;
        file.sync_all()
    }
}
