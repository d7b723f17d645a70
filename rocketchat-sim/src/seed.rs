//! Seed files for the binary: users (with PATs) and rooms, created at start.
//!
//! ```json
//! {"users": [{"username": "bot", "bot": true, "name": "Bot", "password": "pw",
//!             "pats": [{"name": "ci", "token": "optional-fixed-token"}]},
//!            {"username": "alice"}],
//!  "rooms": [{"name": "dev", "type": "c", "creator": "alice", "members": ["bot"]},
//!            {"dm": ["alice", "bot"]}]}
//! ```
//! Users and members are referred to by username. A PAT with a `token` uses that exact token
//! (so a test can know it in advance); without one a token is generated.

use serde::Deserialize;
use serde_json::{json, Value};

use crate::control::SimHandle;
use crate::error::SimError;
use crate::world::{RoomKind, UserKind};

/// A seed file.
#[derive(Debug, Deserialize, Default)]
pub struct Seed {
    /// Users to create.
    #[serde(default)]
    pub users: Vec<SeedUser>,
    /// Rooms to create.
    #[serde(default)]
    pub rooms: Vec<SeedRoom>,
}

/// A seeded user.
#[derive(Debug, Deserialize)]
pub struct SeedUser {
    /// Username.
    pub username: String,
    /// Display name (default: the username).
    pub name: Option<String>,
    /// A bot (roles bot + user) instead of a human (role user).
    #[serde(default)]
    pub bot: bool,
    /// Password (default: the username).
    pub password: Option<String>,
    /// Explicit roles.
    pub roles: Option<Vec<String>>,
    /// PATs to create.
    #[serde(default)]
    pub pats: Vec<SeedPat>,
}

/// A seeded PAT.
#[derive(Deserialize)]
pub struct SeedPat {
    /// Token name.
    pub name: String,
    /// Fixed token value (otherwise generated).
    pub token: Option<String>,
}

impl std::fmt::Debug for SeedPat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SeedPat")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// A seeded room: a named room, or a DM between two usernames.
#[derive(Debug, Deserialize)]
pub struct SeedRoom {
    /// Room name (public/private rooms).
    pub name: Option<String>,
    /// `c` (default) or `p`.
    #[serde(rename = "type")]
    pub kind: Option<String>,
    /// Creator username.
    pub creator: Option<String>,
    /// Member usernames.
    #[serde(default)]
    pub members: Vec<String>,
    /// Two usernames for a DM.
    pub dm: Option<Vec<String>>,
}

/// Applies a seed; returns a JSON summary (ids, tokens) for the binary to print.
pub fn apply(sim: &SimHandle, seed: &Seed) -> Result<Value, SimError> {
    let mut users = serde_json::Map::new();
    for u in &seed.users {
        let kind = if u.bot {
            UserKind::Bot
        } else {
            UserKind::Human
        };
        let roles = u.roles.clone().unwrap_or_else(|| match kind {
            UserKind::Bot => vec!["bot".into(), "user".into()],
            UserKind::Human => vec!["user".into()],
        });
        let id = sim.create_user_full(
            &u.username,
            u.name.as_deref().unwrap_or(&u.username),
            kind,
            roles,
            Some(u.password.as_deref().unwrap_or(&u.username)),
        )?;
        let mut pats = serde_json::Map::new();
        for p in &u.pats {
            let token = match &p.token {
                Some(t) => {
                    sim.with_world(|w| w.add_fixed_pat(&id, &p.name, t))?;
                    t.clone()
                }
                None => sim.create_pat(&id, &p.name)?,
            };
            pats.insert(p.name.clone(), json!(token));
        }
        users.insert(u.username.clone(), json!({"userId": id, "pats": pats}));
    }
    let id_of = |name: &str| {
        sim.user_id(name)
            .ok_or_else(|| SimError::Seed(format!("unknown user '{name}'")))
    };
    let mut rooms = serde_json::Map::new();
    for r in &seed.rooms {
        if let Some(dm) = &r.dm {
            let [a, b] = dm.as_slice() else {
                return Err(SimError::Seed("a dm needs exactly two usernames".into()));
            };
            let rid = sim.create_dm(&id_of(a)?, &id_of(b)?)?;
            rooms.insert(format!("dm:{a}:{b}"), json!(rid));
            continue;
        }
        let name = r
            .name
            .as_deref()
            .ok_or_else(|| SimError::Seed("a room needs a name or dm".into()))?;
        let kind = match r.kind.as_deref() {
            Some("p") => RoomKind::Private,
            _ => RoomKind::Public,
        };
        let creator = id_of(r.creator.as_deref().unwrap_or("admin"))?;
        let members = r
            .members
            .iter()
            .map(|m| id_of(m))
            .collect::<Result<Vec<_>, _>>()?;
        let refs: Vec<&str> = members.iter().map(String::as_str).collect();
        let rid = sim.create_room(kind, name, &creator, &refs)?;
        rooms.insert(name.to_owned(), json!(rid));
    }
    Ok(json!({"users": users, "rooms": rooms}))
}
