//! The provisioning sequence (reference section 4.5): check the server, log in as admin,
//! make sure the users exist, give each a fresh random password and a fresh PAT, make sure
//! the rooms exist with the right members, and open the DMs. Every step first looks for what
//! is already there, so a second run reuses the same users and rooms.

use std::fmt;
use std::time::Duration;

use rand::Rng;
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
    /// The admin's password.
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
    /// The user's password: a fresh one from [`random_password`], set by this run.
    pub password: String,
    /// Whether this run created the user (false: it existed and was reused).
    pub created: bool,
    /// Whether this run reset the password of an existing user (`users.update`), which also
    /// revoked the user's login tokens and PATs.
    pub password_reset: bool,
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
            .field("password_reset", &self.password_reset)
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

/// The characters of a random password: letters and digits, without look-alikes.
const PASSWORD_ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789";

/// A fresh password for a provisioned user, from the thread-local CSPRNG (`rand::rng()`,
/// ChaCha seeded by the OS): 24 characters of [`PASSWORD_ALPHABET`] (about 140 bits) in
/// four groups of six joined by `-`. Nothing about it depends on the admin password or
/// the username, and a new one is drawn for every user on every run.
///
/// It passes Rocket.Chat's password policy at its strictest defaults (8.x: at least 14
/// characters, a lowercase letter, an uppercase letter, a digit and a symbol, and no
/// character three times in a row): the `-` is the symbol, and a draw without one of the
/// three classes or with a triple is drawn again (a few draws in a hundred).
pub fn random_password() -> String {
    let mut rng = rand::rng();
    loop {
        let chars: Vec<char> = (0..24)
            .map(|_| char::from(PASSWORD_ALPHABET[rng.random_range(0..PASSWORD_ALPHABET.len())]))
            .collect();
        let has = |f: fn(&char) -> bool| chars.iter().any(f);
        let triple = chars.windows(3).any(|w| w[0] == w[1] && w[1] == w[2]);
        if !(has(char::is_ascii_lowercase)
            && has(char::is_ascii_uppercase)
            && has(char::is_ascii_digit))
            || triple
        {
            continue;
        }
        let groups: Vec<String> = chars.chunks(6).map(|c| c.iter().collect()).collect();
        return groups.join("-");
    }
}

/// The e-mail address this tool gives the users it creates; an existing user without it
/// was not made by this tool, and its password is never reset.
pub fn marker_email(username: &str) -> String {
    format!("{username}@conformance.invalid")
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

    // 3. Users, their fresh passwords and PATs. Every user is looked up first, so that a
    //    user this tool did not make stops the run before any password is reset.
    let mut wanted: Vec<(String, &[&str])> = settings
        .bot_usernames()
        .into_iter()
        .map(|u| (u, &["bot", "user"][..]))
        .collect();
    wanted.push((settings.peer_username(), &["user"][..]));
    let mut found = Vec::new();
    for (username, _) in &wanted {
        let existing = find_user(&api, &admin, username).await?;
        if let Some(user) = &existing {
            if user.email.as_deref() != Some(marker_email(username).as_str()) {
                return Err(ProvisionError::NotProvisionedUser {
                    username: username.clone(),
                });
            }
        }
        found.push(existing);
    }
    let mut users = Vec::new();
    for ((username, roles), existing) in wanted.iter().zip(found) {
        users.push(ensure_user(&api, settings, &admin, username, roles, existing).await?);
    }
    let peer = users
        .pop()
        .ok_or_else(|| bad("users", "no peer was provisioned"))?;
    let bots = users;

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

/// Creates `username` (`existing` is `None`) or reuses the existing user (whose marker
/// e-mail was checked), with a fresh random password (an existing user gets it through
/// `users.update`), logs in as it and gives it a fresh PAT.
async fn ensure_user(
    api: &Api,
    settings: &Settings,
    admin: &Auth,
    username: &str,
    roles: &[&str],
    existing: Option<FoundUser>,
) -> Result<User, ProvisionError> {
    let password = random_password();
    let (user_id, created) = match existing {
        Some(found) => {
            set_password(api, settings, admin, username, &found.id, &password).await?;
            (found.id, false)
        }
        None => (
            create_user(api, settings, admin, username, &password, roles).await?,
            true,
        ),
    };
    let session = login(api, username, &password).await.map_err(|e| match e {
        LoginError::Refused if created => ProvisionError::UserLoginRefused {
            username: username.to_owned(),
        },
        // users.update answers success without setting the password when the admin lacks
        // edit-other-user-password (saveUser.ts).
        LoginError::Refused => ProvisionError::PasswordNotSet {
            username: username.to_owned(),
            admin: settings.admin_user.clone(),
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
        password_reset: !created,
        replaced_token,
    })
}

/// An existing user as `users.info` shows it to the admin.
struct FoundUser {
    id: String,
    /// `emails[0].address`, when the answer has it.
    email: Option<String>,
}

/// `users.info?username=`: the user, or `None` when there is no such user.
async fn find_user(
    api: &Api,
    admin: &Auth,
    username: &str,
) -> Result<Option<FoundUser>, ProvisionError> {
    let reply = api
        .get("/api/v1/users.info", &[("username", username)], Some(admin))
        .await?;
    if reply.ok() {
        let id =
            str_at(&reply.body, &["/user/_id"]).ok_or_else(|| bad("users.info", "no user._id"))?;
        let email = str_at(&reply.body, &["/user/emails/0/address"]);
        return Ok(Some(FoundUser { id, email }));
    }
    match reply.status.as_u16() {
        // "User not found." is a plain 400 failure; 404 on some versions.
        400 | 404 => Ok(None),
        _ => Err(reply.into_error("users.info")),
    }
}

/// Sets `password` on the existing user `user_id` as the admin.
///
/// `POST /api/v1/users.update {userId, data: {password}}` (Rocket.Chat 8.x,
/// `apps/meteor/app/api/server/v1/users.ts`, `twoFactorRequired`, hence the admin's
/// password-method 2FA headers; `apps/meteor/app/lib/server/functions/saveUser/saveUser.ts`
/// and `validateUserData.ts` / `validateUserEditing.ts`): editing another user needs
/// `edit-other-user-info` (else `error-action-not-allowed` "Editing user is not allowed");
/// the password is only set with `edit-other-user-password` (without it the call still
/// succeeds and nothing changes, which the login that follows finds out); with
/// `Accounts_AllowPasswordChange` off and no such permission it is `error-action-not-allowed`
/// "Edit user password is not allowed". Setting it (`setPasswordUpdater.ts`) removes every
/// login token and PAT of the user.
async fn set_password(
    api: &Api,
    settings: &Settings,
    admin: &Auth,
    username: &str,
    user_id: &str,
    password: &str,
) -> Result<(), ProvisionError> {
    const CALL: &str = "users.update";
    let code = two_factor_code(&settings.admin_password);
    let headers = [("x-2fa-method", "password"), ("x-2fa-code", code.as_str())];
    let reply = api
        .post(
            "/api/v1/users.update",
            &json!({"userId": user_id, "data": {"password": password}}),
            Some(admin),
            &headers,
        )
        .await?;
    if reply.ok() {
        return Ok(());
    }
    match reply.error_type() {
        Some(t @ ("totp-required" | "totp-invalid" | "totp-no-method")) => {
            Err(ProvisionError::TwoFactorRefused {
                call: CALL.to_owned(),
                username: settings.admin_user.clone(),
                detail: t.to_owned(),
            })
        }
        Some("error-action-not-allowed") => Err(ProvisionError::NotAdmin {
            call: format!("{CALL} for {username:?}"),
            username: settings.admin_user.clone(),
        }),
        _ if reply.status == http::StatusCode::FORBIDDEN => Err(ProvisionError::NotAdmin {
            call: format!("{CALL} for {username:?}"),
            username: settings.admin_user.clone(),
        }),
        _ => Err(reply.into_error(CALL)),
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
        "email": marker_email(username),
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
    fn random_passwords_are_fresh_every_time() {
        let drawn: std::collections::HashSet<String> =
            (0..200).map(|_| random_password()).collect();
        assert_eq!(drawn.len(), 200, "a password repeated");
    }

    #[test]
    fn random_passwords_pass_the_strict_password_policy() {
        for _ in 0..500 {
            let p = random_password();
            assert_eq!(p.len(), 27, "{p}");
            assert!(p.len() >= 14, "{p}");
            assert!(p.chars().any(|c| c.is_ascii_lowercase()), "{p}");
            assert!(p.chars().any(|c| c.is_ascii_uppercase()), "{p}");
            assert!(p.chars().any(|c| c.is_ascii_digit()), "{p}");
            assert!(p.chars().any(|c| !c.is_ascii_alphanumeric()), "{p}");
            assert!(p.chars().all(|c| c.is_ascii_graphic()), "no spaces: {p}");
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
            password_reset: false,
            replaced_token: false,
        };
        let shown = format!("{u:?}");
        assert!(!shown.contains("very-secret"), "{shown}");
    }
}
