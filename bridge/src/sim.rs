//! `bridge sim`: the Rocket.Chat simulator with a demo seed (a bot with a PAT, a human with
//! a PAT, a public room both are in, and their DM), and the bridge config that connects to
//! it. `bridge demo` starts the same world.

use std::fmt::Write as _;
use std::net::SocketAddr;

use rocketchat_sim::{RoomKind, SimConfig, SimError, SimHandle, Simulator, UserKind};
use serde_json::{json, Value};

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

impl DemoSim {
    /// Starts a simulator on `bind` (port 0 = any free port) and seeds the demo world.
    /// Rate limits and 2FA are off so a person can poke it by hand; the JSON control API
    /// (`POST /_sim/<control>`) is on.
    pub async fn start(bind: SocketAddr) -> Result<Self, SimError> {
        let sim = Simulator::start(SimConfig {
            bind,
            control_http: true,
            rest_rate_limit: None,
            ddp_rate_limit: None,
            two_factor_enabled: false,
            ..SimConfig::default()
        })
        .await?;
        let bot_id = sim.create_user(BOT, UserKind::Bot)?;
        let bot_token = sim.create_pat(&bot_id, "bridge")?;
        let human_id = sim.create_user(HUMAN, UserKind::Human)?;
        let human_token = sim.create_pat(&human_id, "cli")?;
        let room_id = sim.create_room(RoomKind::Public, ROOM, &human_id, &[&bot_id])?;
        let dm_id = sim.create_dm(&human_id, &bot_id)?;
        Ok(Self {
            sim,
            bot_id,
            bot_token,
            human_id,
            human_token,
            room_id,
            dm_id,
        })
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
        s
    }
}
