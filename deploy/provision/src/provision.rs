//! The provisioning sequence (reference section 4.5): check the server, log in as admin,
//! make sure the users exist, give each a fresh random password and a fresh PAT, make sure
//! the rooms exist with the right members, and open the DMs. Every step first looks for what
//! is already there, so a second run reuses the same users and rooms.

use std::time::Duration;

use backend_rocketchat::admin::{AdminOptions, AdminRest, Credentials, RestError};
use backend_rocketchat::Secret;
use rand::Rng;
use serde_json::{json, Value};

use crate::error::ProvisionError;

/// What to provision, and where. `Debug` hides the password ([`Secret`]).
#[derive(Debug, Clone)]
pub struct Settings {
    /// How to reach the server (`allow_plain_http` is `--insecure`).
    pub client: AdminOptions,
    /// The admin's username.
    pub admin_user: String,
    /// The admin's password.
    pub admin_password: Secret,
    /// How many bot users (`<prefix>-bot`, `<prefix>-bot2`, ...).
    pub bots: u32,
    /// Prefix of every user and room name.
    pub prefix: String,
    /// Name of the PAT created for each user.
    pub token_name: String,
}

impl Settings {
    /// Defaults for everything but the URL and the admin credentials.
    pub fn new(url: &str, admin_user: &str, admin_password: &str) -> Self {
        Self {
            client: AdminOptions {
                server_url: url.to_owned(),
                ca_file: None,
                allow_plain_http: false,
                request_timeout: Duration::from_secs(30),
            },
            admin_user: admin_user.to_owned(),
            admin_password: Secret::new(admin_password),
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

/// A provisioned user. `Debug` hides the token and the password ([`Secret`]).
#[derive(Debug, Clone)]
pub struct User {
    /// Username.
    pub username: String,
    /// User id.
    pub user_id: String,
    /// The fresh PAT.
    pub token: Secret,
    /// The user's password: a fresh one from [`random_password`], set by this run.
    pub password: Secret,
    /// Whether this run created the user (false: it existed and was reused).
    pub created: bool,
    /// Whether this run reset the password of an existing user (`users.update`), which also
    /// revoked the user's login tokens and PATs.
    pub password_reset: bool,
    /// Whether a PAT with the same name existed and was replaced.
    pub replaced_token: bool,
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
pub fn random_password() -> Secret {
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
        return Secret::new(groups.join("-"));
    }
}

/// The e-mail address this tool gives the users it creates; an existing user without it
/// was not made by this tool, and its password is never reset.
pub fn marker_email(username: &str) -> String {
    format!("{username}@conformance.invalid")
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
    let api = AdminRest::new(&settings.client)?;

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
    let peer_auth = Credentials {
        user_id: peer.user_id.clone(),
        token: peer.token.clone(),
    };
    let mut dms = Vec::new();
    for bot in &bots {
        let answer = api
            .post("im.create", json!({"username": bot.username}))
            .auth(&peer_auth)
            .send()
            .await?;
        let id = str_at(&answer, &["/room/_id", "/room/rid"])
            .ok_or_else(|| bad("im.create", "no room id"))?;
        dms.push(Room {
            name: format!("{}+{}", peer.username, bot.username),
            id,
            created: false,
        });
    }

    Ok(Provisioned {
        // The URL as given (the client's base spells out the port).
        url: settings
            .client
            .server_url
            .trim()
            .trim_end_matches('/')
            .to_owned(),
        server_version: version,
        bots,
        peer,
        public_room,
        private_room,
        dms,
        insecure: settings.client.allow_plain_http,
        ca_file: settings.client.ca_file.clone(),
    })
}

/// `GET /api/info`: `info.version` (admins) or `version` (major.minor for everyone else).
async fn server_version(
    api: &AdminRest,
    auth: Option<&Credentials>,
) -> Result<String, ProvisionError> {
    let call = api.get("/info");
    let call = match auth {
        Some(who) => call.auth(who),
        None => call,
    };
    let not_rocket_chat = |what: String| ProvisionError::BadResponse {
        call: "GET /api/info".into(),
        reason: format!("{what} (is {} a Rocket.Chat server?)", api.base()),
    };
    let answer = match call.send().await {
        Ok(answer) => answer,
        Err(RestError::Api { status, .. }) => {
            return Err(not_rocket_chat(format!("HTTP {status}")))
        }
        Err(RestError::BadResponse { reason, .. }) => return Err(not_rocket_chat(reason)),
        Err(e) => return Err(e.into()),
    };
    str_at(&answer, &["/info/version", "/version"])
        .ok_or_else(|| not_rocket_chat("no version field".into()))
}

enum LoginError {
    Refused,
    TwoFactor,
    Other(ProvisionError),
}

/// `POST /api/v1/login` with a password: a login token.
async fn login(
    api: &AdminRest,
    username: &str,
    password: &Secret,
) -> Result<Credentials, LoginError> {
    match api.login(username, password).await {
        Ok(who) => Ok(who),
        Err(e) if e.two_factor().is_some() => Err(LoginError::TwoFactor),
        Err(e) if matches!(e.status(), Some(401 | 403)) => Err(LoginError::Refused),
        Err(e) => Err(LoginError::Other(e.into())),
    }
}

/// Creates `username` (`existing` is `None`) or reuses the existing user (whose marker
/// e-mail was checked), with a fresh random password (an existing user gets it through
/// `users.update`), logs in as it and gives it a fresh PAT.
async fn ensure_user(
    api: &AdminRest,
    settings: &Settings,
    admin: &Credentials,
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
    api: &AdminRest,
    admin: &Credentials,
    username: &str,
) -> Result<Option<FoundUser>, ProvisionError> {
    let answer = match api
        .get("users.info")
        .query("username", username)
        .auth(admin)
        .send()
        .await
    {
        Ok(answer) => answer,
        // "User not found." is a plain 400 failure; 404 on some versions.
        Err(e) if matches!(e.status(), Some(400 | 404)) => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    let id = str_at(&answer, &["/user/_id"]).ok_or_else(|| bad("users.info", "no user._id"))?;
    let email = str_at(&answer, &["/user/emails/0/address"]);
    Ok(Some(FoundUser { id, email }))
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
    api: &AdminRest,
    settings: &Settings,
    admin: &Credentials,
    username: &str,
    user_id: &str,
    password: &Secret,
) -> Result<(), ProvisionError> {
    const CALL: &str = "users.update";
    let sent = api
        .post(
            CALL,
            json!({"userId": user_id, "data": {"password": password.expose()}}),
        )
        .auth(admin)
        .two_factor_password(&settings.admin_password)
        .send()
        .await;
    let e = match sent {
        Ok(_) => return Ok(()),
        Err(e) => e,
    };
    if let Some(t) = e.two_factor() {
        return Err(ProvisionError::TwoFactorRefused {
            call: CALL.to_owned(),
            username: settings.admin_user.clone(),
            detail: t.to_owned(),
        });
    }
    if e.code() == Some("error-action-not-allowed") || e.status() == Some(403) {
        return Err(ProvisionError::NotAdmin {
            call: format!("{CALL} for {username:?}"),
            username: settings.admin_user.clone(),
        });
    }
    Err(e.into())
}

async fn create_user(
    api: &AdminRest,
    settings: &Settings,
    admin: &Credentials,
    username: &str,
    password: &Secret,
    roles: &[&str],
) -> Result<String, ProvisionError> {
    const CALL: &str = "users.create";
    let body = json!({
        "username": username,
        "name": username,
        "email": marker_email(username),
        "password": password.expose(),
        "roles": roles,
        "verified": true,
        "joinDefaultChannels": false,
        "requirePasswordChange": false,
        "sendWelcomeEmail": false,
    });
    let answer = match api.post(CALL, body).auth(admin).send().await {
        Ok(answer) => answer,
        Err(e) if e.status() == Some(403) => {
            return Err(ProvisionError::NotAdmin {
                call: CALL.into(),
                username: settings.admin_user.clone(),
            })
        }
        Err(e) => return Err(e.into()),
    };
    str_at(&answer, &["/user/_id"]).ok_or_else(|| bad(CALL, "no user._id"))
}

/// Creates the PAT `name`; if one by that name exists (its value cannot be read back) it is
/// removed and created again. Returns the token and whether one was replaced.
async fn fresh_pat(
    api: &AdminRest,
    session: &Credentials,
    username: &str,
    password: &Secret,
    name: &str,
) -> Result<(Secret, bool), ProvisionError> {
    const GENERATE: &str = "users.generatePersonalAccessToken";
    const REMOVE: &str = "users.removePersonalAccessToken";
    let send = |endpoint: &'static str, body: Value| async move {
        api.post(endpoint, body)
            .auth(session)
            .two_factor_password(password)
            .send()
            .await
    };
    let generate = || {
        send(
            GENERATE,
            json!({"tokenName": name, "bypassTwoFactor": true}),
        )
    };
    let check = |e: RestError| -> ProvisionError {
        match e.two_factor() {
            Some(t) => ProvisionError::TwoFactorRefused {
                call: match &e {
                    RestError::Api { endpoint, .. } => endpoint.clone(),
                    _ => GENERATE.to_owned(),
                },
                username: username.to_owned(),
                detail: t.to_owned(),
            },
            None => e.into(),
        }
    };

    let (answer, replaced) = match generate().await {
        Ok(answer) => (answer, false),
        Err(e) if e.code() == Some("error-token-already-exists") => {
            send(REMOVE, json!({"tokenName": name}))
                .await
                .map_err(check)?;
            (generate().await.map_err(check)?, true)
        }
        Err(e) => return Err(check(e)),
    };
    let token = str_at(&answer, &["/token"]).ok_or_else(|| bad(GENERATE, "no token"))?;
    Ok((Secret::new(token), replaced))
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
    api: &AdminRest,
    settings: &Settings,
    admin: &Credentials,
    kind: RoomKind,
    name: &str,
    members: &[&User],
) -> Result<Room, ProvisionError> {
    let (family, key) = kind.api();
    let id_path = format!("/{key}/_id");
    let info = format!("{family}.info");
    let found = match api
        .get(&info)
        .query("roomName", name)
        .auth(admin)
        .send()
        .await
    {
        Ok(answer) => Some(str_at(&answer, &[&id_path]).ok_or_else(|| bad(&info, "no room id"))?),
        Err(e) if matches!(e.status(), Some(400 | 404)) => None,
        Err(e) => return Err(e.into()),
    };
    let (id, created) = match found {
        Some(id) => (id, false),
        None => {
            let create = format!("{family}.create");
            let usernames: Vec<&str> = members.iter().map(|u| u.username.as_str()).collect();
            let answer = match api
                .post(&create, json!({"name": name, "members": usernames}))
                .auth(admin)
                .send()
                .await
            {
                Ok(answer) => answer,
                Err(e) if e.status() == Some(403) => {
                    return Err(ProvisionError::NotAdmin {
                        call: create,
                        username: settings.admin_user.clone(),
                    })
                }
                Err(e) => return Err(e.into()),
            };
            let id = str_at(&answer, &[&id_path]).ok_or_else(|| bad(&create, "no room id"))?;
            (id, true)
        }
    };
    let invite = format!("{family}.invite");
    for member in members {
        api.post(&invite, json!({"roomId": id, "userId": member.user_id}))
            .auth(admin)
            .send()
            .await?;
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
    fn random_passwords_are_fresh_every_time() {
        let drawn: std::collections::HashSet<String> = (0..200)
            .map(|_| random_password().expose().to_owned())
            .collect();
        assert_eq!(drawn.len(), 200, "a password repeated");
    }

    #[test]
    fn random_passwords_pass_the_strict_password_policy() {
        for _ in 0..500 {
            let p = random_password();
            let p = p.expose();
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
            token: Secret::new("very-secret-token"),
            password: Secret::new("very-secret-pw"),
            created: true,
            password_reset: false,
            replaced_token: false,
        };
        let shown = format!("{u:?}");
        assert!(!shown.contains("very-secret"), "{shown}");
    }
}
