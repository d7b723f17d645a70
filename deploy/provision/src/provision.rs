//! The provisioning sequence (reference section 4.5): check the server, log in as admin,
//! make sure the users exist, give each a fresh PAT, make sure the rooms exist with the
//! right members, and open the DMs. Every step first looks for what is already there, so
//! a second run reuses the same users and rooms.

use std::fmt;
use std::time::Duration;

use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::error::ProvisionError;
use crate::http::{Api, Auth, ClientOptions, Reply};

/// What to provision, and where.
#[derive(Clone)]
pub struct Settings {
    /// How to reach the server.
    pub client: ClientOptions,
    /// The admin's username.
    pub admin_user: String,
    /// The admin's password (also the secret the users' passwords are derived from).
    pub admin_password: String,
    /// How many bot users (`<prefix>-bot`, `<prefix>-bot2`, ...).
    pub bots: u32,
    /// Prefix of every user and room name.
    pub prefix: String,
    /// Name of the PAT created for each user.
    pub token_name: String,
}

impl fmt::Debug for Settings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Settings")
            .field("client", &self.client)
            .field("admin_user", &self.admin_user)
            .field("admin_password", &"[REDACTED]")
            .field("bots", &self.bots)
            .field("prefix", &self.prefix)
            .field("token_name", &self.token_name)
            .finish()
    }
}

impl Settings {
    /// Defaults for everything but the URL and the admin credentials.
    pub fn new(url: &str, admin_user: &str, admin_password: &str) -> Self {
        Self {
            client: ClientOptions {
                url: url.to_owned(),
                ca_file: None,
                insecure: false,
                timeout: Duration::from_secs(30),
            },
            admin_user: admin_user.to_owned(),
            admin_password: admin_password.to_owned(),
            bots: 1,
            prefix: "conformance".to_owned(),
            token_name: "conformance".to_owned(),
        }
    }

    /// Checks the names before anything is sent.
    pub fn validate(&self) -> Result<(), ProvisionError> {
        let name_ok = |s: &str| {
            !s.is_empty()
                && s.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "-_.".contains(c))
        };
        if !name_ok(&self.prefix) {
            return Err(ProvisionError::Usage(format!(
                "--prefix {:?}: use lowercase letters, digits, '-', '_' or '.'",
                self.prefix
            )));
        }
        if self.token_name.trim().is_empty() {
            return Err(ProvisionError::Usage(
                "--token-name must not be empty".into(),
            ));
        }
        if !(1..=20).contains(&self.bots) {
            return Err(ProvisionError::Usage(
                "--bots must be between 1 and 20".into(),
            ));
        }
        if self.admin_password.is_empty() {
            return Err(ProvisionError::Usage("the admin password is empty".into()));
        }
        Ok(())
    }

    /// The bot usernames: `<prefix>-bot`, then `<prefix>-bot2`, `<prefix>-bot3`, ...
    pub fn bot_usernames(&self) -> Vec<String> {
        (1..=self.bots)
            .map(|i| match i {
                1 => format!("{}-bot", self.prefix),
                n => format!("{}-bot{n}", self.prefix),
            })
            .collect()
    }

    /// The peer's username.
    pub fn peer_username(&self) -> String {
        format!("{}-peer", self.prefix)
    }

    /// The public channel's name.
    pub fn public_room_name(&self) -> String {
        format!("{}-public", self.prefix)
    }

    /// The private group's name.
    pub fn private_room_name(&self) -> String {
        format!("{}-private", self.prefix)
    }
}

/// A provisioned user. `Debug` hides the token and the password.
#[derive(Clone)]
pub struct User {
    /// Username.
    pub username: String,
    /// User id.
    pub user_id: String,
    /// The fresh PAT.
    pub token: String,
    /// The user's password (derived, see [`derive_password`]).
    pub password: String,
    /// Whether this run created the user (false: it existed and was reused).
    pub created: bool,
    /// Whether a PAT with the same name existed and was replaced.
    pub replaced_token: bool,
}

impl fmt::Debug for User {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("User")
            .field("username", &self.username)
            .field("user_id", &self.user_id)
            .field("token", &"[REDACTED]")
            .field("password", &"[REDACTED]")
            .field("created", &self.created)
            .field("replaced_token", &self.replaced_token)
            .finish()
    }
}

/// A provisioned room.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Room {
    /// Name (for DMs: the two usernames joined by `+`).
    pub name: String,
    /// Room id.
    pub id: String,
    /// Whether this run created it.
    pub created: bool,
}

/// Everything a run made or found.
#[derive(Debug, Clone)]
pub struct Provisioned {
    /// The server URL as given.
    pub url: String,
    /// The version the server reported (full for the admin, e.g. `8.2.0`).
    pub server_version: String,
    /// The bots, first one is the bot under test.
    pub bots: Vec<User>,
    /// The peer.
    pub peer: User,
    /// The public channel (bots + peer).
    pub public_room: Room,
    /// The private group (bots + peer).
    pub private_room: Room,
    /// The DM between each bot and the peer, in the order of `bots`.
    pub dms: Vec<Room>,
    /// Plain http was allowed.
    pub insecure: bool,
    /// The extra CA file, if one was given.
    pub ca_file: Option<std::path::PathBuf>,
}

/// The password of a provisioned user: derived from the admin password and the username
/// (SHA-256 of a labelled string), so a second run can log in as the users it created
/// without keeping any state, and nothing new needs to be kept secret (whoever knows the
/// admin password controls these users anyway).
///
/// It passes Rocket.Chat's password policy at its strictest defaults (8.x: at least 14
/// characters, a lowercase letter, an uppercase letter, a digit and a symbol, and no
/// character three times in a row): `Rp1-` followed by 32 characters alternating between
/// a letter and a digit.
pub fn derive_password(admin_password: &str, username: &str) -> String {
    let digest = Sha256::digest(format!("rc-provision/v1\n{admin_password}\n{username}"));
    let mut password = String::from("Rp1-");
    for byte in &digest[..16] {
        password.push(char::from(b'a' + (byte >> 4)));
        password.push(char::from(b'0' + (byte & 0x0f) % 10));
    }
    password
}

/// The `x-2fa-code` for the `password` method: lowercase hex SHA-256 of the password.
pub fn two_factor_code(password: &str) -> String {
    hex(&Sha256::digest(password.as_bytes()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Accepts `8`, `8.2`, `8.2.0`, ...; anything else is [`ProvisionError::NotVersion8`].
pub fn check_version(version: &str) -> Result<(), ProvisionError> {
    let major = version
        .trim()
        .split('.')
        .next()
        .and_then(|m| m.parse::<u32>().ok());
    match major {
        Some(8) => Ok(()),
        _ => Err(ProvisionError::NotVersion8 {
            version: version.trim().to_owned(),
        }),
    }
}

/// Runs the whole sequence.
pub async fn provision(settings: &Settings) -> Result<Provisioned, ProvisionError> {
    settings.validate()?;
    let api = Api::new(&settings.client)?;

    // 1. Is this a Rocket.Chat 8.x at all? (Also the first reachability and TLS check.)
    let version = server_version(&api, None).await?;
    check_version(&version)?;

    // 2. Admin login; the admin sees the full version.
    let admin = login(&api, &settings.admin_user, &settings.admin_password)
        .await
        .map_err(|e| match e {
            LoginError::Refused => ProvisionError::AdminLoginRefused {
                username: settings.admin_user.clone(),
            },
            LoginError::TwoFactor => ProvisionError::AdminTwoFactor {
                username: settings.admin_user.clone(),
            },
            LoginError::Other(e) => e,
        })?;
    let version = server_version(&api, Some(&admin)).await.unwrap_or(version);
    check_version(&version)?;

    // 3. Users and their PATs.
    let mut bots = Vec::new();
    for username in settings.bot_usernames() {
        bots.push(ensure_user(&api, settings, &admin, &username, &["bot", "user"]).await?);
    }
    let peer = ensure_user(&api, settings, &admin, &settings.peer_username(), &["user"]).await?;

    // 4. Rooms with every bot and the peer, created by the admin.
    let members: Vec<&User> = bots.iter().chain(std::iter::once(&peer)).collect();
    let public_room = ensure_room(
        &api,
        settings,
        &admin,
        RoomKind::Public,
        &settings.public_room_name(),
        &members,
    )
    .await?;
    let private_room = ensure_room(
        &api,
        settings,
        &admin,
        RoomKind::Private,
        &settings.private_room_name(),
        &members,
    )
    .await?;

    // 5. A DM between the peer and each bot, opened by the peer (im.create is idempotent).
    let peer_auth = Auth {
        user_id: peer.user_id.clone(),
        token: peer.token.clone(),
    };
    let mut dms = Vec::new();
    for bot in &bots {
        let reply = api
            .post(
                "/api/v1/im.create",
                &json!({"username": bot.username}),
                Some(&peer_auth),
                &[],
            )
            .await?;
        if !reply.ok() {
            return Err(reply.into_error("im.create"));
        }
        let id = str_at(&reply.body, &["/room/_id", "/room/rid"])
            .ok_or_else(|| bad("im.create", "no room id"))?;
        dms.push(Room {
            name: format!("{}+{}", peer.username, bot.username),
            id,
            created: false,
        });
    }

    Ok(Provisioned {
        url: api.base().to_owned(),
        server_version: version,
        bots,
        peer,
        public_room,
        private_room,
        dms,
        insecure: settings.client.insecure,
        ca_file: settings.client.ca_file.clone(),
    })
}

/// `GET /api/info`: `info.version` (admins) or `version` (major.minor for everyone else).
async fn server_version(api: &Api, auth: Option<&Auth>) -> Result<String, ProvisionError> {
    let reply = api.get("/api/info", &[], auth).await?;
    if !reply.ok() {
        return Err(ProvisionError::BadResponse {
            call: "GET /api/info".into(),
            reason: format!(
                "HTTP {} (is {} a Rocket.Chat server?)",
                reply.status,
                api.base()
            ),
        });
    }
    str_at(&reply.body, &["/info/version", "/version"]).ok_or_else(|| ProvisionError::BadResponse {
        call: "GET /api/info".into(),
        reason: format!("no version field (is {} a Rocket.Chat server?)", api.base()),
    })
}

enum LoginError {
    Refused,
    TwoFactor,
    Other(ProvisionError),
}

impl From<ProvisionError> for LoginError {
    fn from(e: ProvisionError) -> Self {
        Self::Other(e)
    }
}

/// `POST /api/v1/login` with a password: a login token.
async fn login(api: &Api, username: &str, password: &str) -> Result<Auth, LoginError> {
    let reply = api
        .post(
            "/api/v1/login",
            &json!({"user": username, "password": password}),
            None,
            &[],
        )
        .await?;
    if reply.status == http::StatusCode::OK {
        let user_id = str_at(&reply.body, &["/data/userId"]);
        let token = str_at(&reply.body, &["/data/authToken"]);
        return match (user_id, token) {
            (Some(user_id), Some(token)) => Ok(Auth { user_id, token }),
            _ => Err(bad("login", "no userId/authToken").into()),
        };
    }
    let text = format!(
        "{} {}",
        reply.error_text(),
        reply.error_type().unwrap_or_default()
    );
    if text.contains("totp") || text.contains("2fa") {
        return Err(LoginError::TwoFactor);
    }
    if reply.status == http::StatusCode::UNAUTHORIZED || reply.status == http::StatusCode::FORBIDDEN
    {
        return Err(LoginError::Refused);
    }
    Err(reply.into_error("login").into())
}

/// Finds or creates `username`, logs in as it and gives it a fresh PAT.
async fn ensure_user(
    api: &Api,
    settings: &Settings,
    admin: &Auth,
    username: &str,
    roles: &[&str],
) -> Result<User, ProvisionError> {
    let password = derive_password(&settings.admin_password, username);
    let (user_id, created) = match find_user(api, admin, username).await? {
        Some(id) => (id, false),
        None => (
            create_user(api, settings, admin, username, &password, roles).await?,
            true,
        ),
    };
    let session = login(api, username, &password).await.map_err(|e| match e {
        LoginError::Refused => ProvisionError::UserLoginRefused {
            username: username.to_owned(),
        },
        // E.g. e-mail 2FA, which 8.x turns on for new users when 2FA is enabled.
        LoginError::TwoFactor => ProvisionError::TwoFactorRefused {
            call: "login".into(),
            username: username.to_owned(),
            detail: "totp-required".into(),
        },
        LoginError::Other(e) => e,
    })?;
    if session.user_id != user_id {
        return Err(bad("login", "the login answered for a different user id"));
    }
    let (token, replaced_token) =
        fresh_pat(api, &session, username, &password, &settings.token_name).await?;
    Ok(User {
        username: username.to_owned(),
        user_id,
        token,
        password,
        created,
        replaced_token,
    })
}

/// `users.info?username=`: the id, or `None` when there is no such user.
async fn find_user(
    api: &Api,
    admin: &Auth,
    username: &str,
) -> Result<Option<String>, ProvisionError> {
    let reply = api
        .get("/api/v1/users.info", &[("username", username)], Some(admin))
        .await?;
    if reply.ok() {
        return str_at(&reply.body, &["/user/_id"])
            .map(Some)
            .ok_or_else(|| bad("users.info", "no user._id"));
    }
    match reply.status.as_u16() {
        // "User not found." is a plain 400 failure; 404 on some versions.
        400 | 404 => Ok(None),
        _ => Err(reply.into_error("users.info")),
    }
}

async fn create_user(
    api: &Api,
    settings: &Settings,
    admin: &Auth,
    username: &str,
    password: &str,
    roles: &[&str],
) -> Result<String, ProvisionError> {
    let body = json!({
        "username": username,
        "name": username,
        "email": format!("{username}@conformance.invalid"),
        "password": password,
        "roles": roles,
        "verified": true,
        "joinDefaultChannels": false,
        "requirePasswordChange": false,
        "sendWelcomeEmail": false,
    });
    let reply = api
        .post("/api/v1/users.create", &body, Some(admin), &[])
        .await?;
    if reply.status == http::StatusCode::FORBIDDEN {
        return Err(ProvisionError::NotAdmin {
            call: "users.create".into(),
            username: settings.admin_user.clone(),
        });
    }
    if !reply.ok() {
        return Err(reply.into_error("users.create"));
    }
    str_at(&reply.body, &["/user/_id"]).ok_or_else(|| bad("users.create", "no user._id"))
}

/// Creates the PAT `name`; if one by that name exists (its value cannot be read back) it is
/// removed and created again. Returns the token and whether one was replaced.
async fn fresh_pat(
    api: &Api,
    session: &Auth,
    username: &str,
    password: &str,
    name: &str,
) -> Result<(String, bool), ProvisionError> {
    let code = two_factor_code(password);
    let headers = [("x-2fa-method", "password"), ("x-2fa-code", code.as_str())];
    let generate = || async {
        api.post(
            "/api/v1/users.generatePersonalAccessToken",
            &json!({"tokenName": name, "bypassTwoFactor": true}),
            Some(session),
            &headers,
        )
        .await
    };
    let check = |reply: Reply, call: &str| -> Result<Reply, ProvisionError> {
        if reply.ok() {
            return Ok(reply);
        }
        match reply.error_type() {
            Some(t @ ("totp-required" | "totp-invalid" | "totp-no-method")) => {
                Err(ProvisionError::TwoFactorRefused {
                    call: call.to_owned(),
                    username: username.to_owned(),
                    detail: t.to_owned(),
                })
            }
            _ => Err(reply.into_error(call)),
        }
    };

    let first = generate().await?;
    let exists = first.error_type() == Some("error-token-already-exists")
        || first.error_text().contains("error-token-already-exists");
    let reply = if exists {
        let removed = api
            .post(
                "/api/v1/users.removePersonalAccessToken",
                &json!({"tokenName": name}),
                Some(session),
                &headers,
            )
            .await?;
        check(removed, "users.removePersonalAccessToken")?;
        check(generate().await?, "users.generatePersonalAccessToken")?
    } else {
        check(first, "users.generatePersonalAccessToken")?
    };
    let token = str_at(&reply.body, &["/token"])
        .ok_or_else(|| bad("users.generatePersonalAccessToken", "no token"))?;
    Ok((token, exists))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RoomKind {
    Public,
    Private,
}

impl RoomKind {
    /// The endpoint family and the key of the room in its answers.
    fn api(self) -> (&'static str, &'static str) {
        match self {
            Self::Public => ("channels", "channel"),
            Self::Private => ("groups", "group"),
        }
    }
}

/// Finds the room by name or creates it, then invites every member (a no-op for members).
async fn ensure_room(
    api: &Api,
    settings: &Settings,
    admin: &Auth,
    kind: RoomKind,
    name: &str,
    members: &[&User],
) -> Result<Room, ProvisionError> {
    let (family, key) = kind.api();
    let id_path = format!("/{key}/_id");
    let info_call = format!("{family}.info");
    let reply = api
        .get(
            &format!("/api/v1/{info_call}"),
            &[("roomName", name)],
            Some(admin),
        )
        .await?;
    let found = if reply.ok() {
        Some(str_at(&reply.body, &[&id_path]).ok_or_else(|| bad(&info_call, "no room id"))?)
    } else if reply.status.as_u16() == 400 || reply.status.as_u16() == 404 {
        None
    } else {
        return Err(reply.into_error(&info_call));
    };
    let (id, created) = match found {
        Some(id) => (id, false),
        None => {
            let call = format!("{family}.create");
            let usernames: Vec<&str> = members.iter().map(|u| u.username.as_str()).collect();
            let reply = api
                .post(
                    &format!("/api/v1/{call}"),
                    &json!({"name": name, "members": usernames}),
                    Some(admin),
                    &[],
                )
                .await?;
            if reply.status == http::StatusCode::FORBIDDEN {
                return Err(ProvisionError::NotAdmin {
                    call,
                    username: settings.admin_user.clone(),
                });
            }
            if !reply.ok() {
                return Err(reply.into_error(&call));
            }
            let id = str_at(&reply.body, &[&id_path]).ok_or_else(|| bad(&call, "no room id"))?;
            (id, true)
        }
    };
    let invite = format!("{family}.invite");
    for member in members {
        let reply = api
            .post(
                &format!("/api/v1/{invite}"),
                &json!({"roomId": id, "userId": member.user_id}),
                Some(admin),
                &[],
            )
            .await?;
        if !reply.ok() {
            return Err(reply.into_error(&invite));
        }
    }
    Ok(Room {
        name: name.to_owned(),
        id,
        created,
    })
}

/// The first string found at one of the JSON pointers.
fn str_at(body: &Value, pointers: &[&str]) -> Option<String> {
    pointers
        .iter()
        .find_map(|p| body.pointer(p).and_then(Value::as_str))
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

fn bad(call: &str, reason: &str) -> ProvisionError {
    ProvisionError::BadResponse {
        call: call.to_owned(),
        reason: reason.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_check_accepts_8x_only() {
        for ok in ["8", "8.2", "8.2.0", " 8.10.1 "] {
            assert!(check_version(ok).is_ok(), "{ok}");
        }
        for wrong in ["7.6", "7.10.0", "9.0.0", "", "latest"] {
            let err = check_version(wrong).unwrap_err();
            assert!(matches!(err, ProvisionError::NotVersion8 { .. }), "{wrong}");
            assert_eq!(err.exit_code(), 4);
        }
        assert_eq!(
            check_version("7.6.1").unwrap_err().to_string(),
            "the server reports Rocket.Chat 7.6.1, not 8.x; this kit targets Rocket.Chat 8.2.0"
        );
    }

    #[test]
    fn two_factor_code_is_hex_sha256_of_the_password() {
        // sha256("abc"), a published test vector.
        assert_eq!(
            two_factor_code("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn derived_passwords_are_stable_and_differ_per_user_and_secret() {
        let a = derive_password("admin-pw", "conformance-bot");
        assert_eq!(a, derive_password("admin-pw", "conformance-bot"));
        assert_ne!(a, derive_password("admin-pw", "conformance-peer"));
        assert_ne!(a, derive_password("other-pw", "conformance-bot"));
        assert!(!a.contains("admin-pw"));
    }

    #[test]
    fn derived_passwords_pass_the_strict_password_policy() {
        for user in [
            "conformance-bot",
            "conformance-peer",
            "a",
            "b",
            "c",
            "d",
            "e",
        ] {
            let p = derive_password("secret", user);
            assert!(p.len() >= 14, "{p}");
            assert!(p.chars().any(|c| c.is_ascii_lowercase()), "{p}");
            assert!(p.chars().any(|c| c.is_ascii_uppercase()), "{p}");
            assert!(p.chars().any(|c| c.is_ascii_digit()), "{p}");
            assert!(p.chars().any(|c| !c.is_ascii_alphanumeric()), "{p}");
            let chars: Vec<char> = p.chars().collect();
            assert!(
                chars.windows(3).all(|w| !(w[0] == w[1] && w[1] == w[2])),
                "three in a row: {p}"
            );
        }
    }

    #[test]
    fn names_follow_the_prefix() {
        let mut s = Settings::new("https://h", "admin", "pw");
        s.bots = 3;
        assert_eq!(
            s.bot_usernames(),
            ["conformance-bot", "conformance-bot2", "conformance-bot3"]
        );
        assert_eq!(s.peer_username(), "conformance-peer");
        assert_eq!(s.public_room_name(), "conformance-public");
        assert_eq!(s.private_room_name(), "conformance-private");
        s.prefix = "Bad Prefix".into();
        assert!(matches!(s.validate(), Err(ProvisionError::Usage(_))));
    }

    #[test]
    fn debug_hides_secrets() {
        let s = Settings::new("https://h", "admin", "very-secret-admin-pw");
        assert!(!format!("{s:?}").contains("very-secret-admin-pw"));
        let u = User {
            username: "b".into(),
            user_id: "id".into(),
            token: "very-secret-token".into(),
            password: "very-secret-pw".into(),
            created: true,
            replaced_token: false,
        };
        let shown = format!("{u:?}");
        assert!(!shown.contains("very-secret"), "{shown}");
    }
}
