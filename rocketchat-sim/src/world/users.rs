//! Accounts: users (humans, bots, app users), login tokens and PATs (stored hashed),
//! activation, presence, and the user documents REST and DDP send.

use serde_json::{json, Value};

use super::{Emit, OpError, World};
use crate::util::{ejson_date, hash_token, random_id, random_secret};

/// Human or bot account (the public control API's choice).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserKind {
    /// `type: "user"`, roles `["user"]`.
    Human,
    /// `type: "bot"`, roles `["bot"]` (plus `user` when created by tests, so it may mint PATs).
    Bot,
}

/// The user document's `type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AccountType {
    User,
    Bot,
    /// An Apps-Engine app's user (`type: "app"`, role `app`, `appId`).
    App,
}

impl From<UserKind> for AccountType {
    fn from(kind: UserKind) -> Self {
        match kind {
            UserKind::Human => AccountType::User,
            UserKind::Bot => AccountType::Bot,
        }
    }
}

impl AccountType {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            AccountType::User => "user",
            AccountType::Bot => "bot",
            AccountType::App => "app",
        }
    }
}

/// `status` of a user (`UserStatus`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Presence {
    Online,
    Away,
    Busy,
    Offline,
}

impl Presence {
    pub(crate) fn parse(text: &str) -> Option<Self> {
        match text {
            "online" => Some(Presence::Online),
            "away" => Some(Presence::Away),
            "busy" => Some(Presence::Busy),
            "offline" => Some(Presence::Offline),
            _ => None,
        }
    }

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Presence::Online => "online",
            Presence::Away => "away",
            Presence::Busy => "busy",
            Presence::Offline => "offline",
        }
    }

    /// `STATUS_MAP` of the `user-status` event.
    fn number(self) -> u8 {
        match self {
            Presence::Offline => 0,
            Presence::Online => 1,
            Presence::Away => 2,
            Presence::Busy => 3,
        }
    }
}

#[derive(Clone)]
pub(crate) struct Token {
    pub(crate) hashed: String,
    /// Set for PATs.
    pub(crate) name: Option<String>,
    pub(crate) created_at: i64,
    pub(crate) bypass_two_factor: bool,
    pub(crate) last_part: String,
}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Token")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

#[derive(Clone)]
pub(crate) struct User {
    pub(crate) id: String,
    pub(crate) username: String,
    pub(crate) name: String,
    pub(crate) account: AccountType,
    pub(crate) roles: Vec<String>,
    pub(crate) active: bool,
    pub(crate) password: Option<String>,
    pub(crate) email: Option<String>,
    /// `emails[0].verified`.
    pub(crate) email_verified: bool,
    pub(crate) tokens: Vec<Token>,
    pub(crate) created_at: i64,
    pub(crate) updated_at: i64,
    pub(crate) status: Presence,
    pub(crate) status_text: Option<String>,
    /// App users only.
    pub(crate) app_id: Option<String>,
}

impl std::fmt::Debug for User {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // No password, no token hashes.
        f.debug_struct("User")
            .field("id", &self.id)
            .field("username", &self.username)
            .field("account", &self.account)
            .field("roles", &self.roles)
            .finish_non_exhaustive()
    }
}

impl User {
    pub(crate) fn has_role(&self, role: &str) -> bool {
        self.roles.iter().any(|r| r == role)
    }

    /// `{_id, username, name}`, the `u` of messages and subscriptions.
    pub(crate) fn user_ref(&self) -> Value {
        json!({"_id": self.id, "username": self.username, "name": self.name})
    }
}

/// `Accounts_Default_User_Preferences_*` defaults: the keys `/me` returns in
/// `settings.preferences` (apps/meteor/server/settings/accounts.ts; the exact key list is
/// the one `miscellaneous.ts` "/me" expects for a CE server).
pub(crate) fn default_preferences() -> Value {
    json!({
        "alsoSendThreadToChannel": "default",
        "newRoomNotification": "door",
        "newMessageNotification": "chime",
        "showThreadsInMainChannel": false,
        "useEmojis": true,
        "convertAsciiEmoji": true,
        "saveMobileBandwidth": true,
        "collapseMediaByDefault": false,
        "autoImageLoad": true,
        "emailNotificationMode": "mentions",
        "unreadAlert": true,
        "notificationsSoundVolume": 100,
        "omnichannelTranscriptEmail": false,
        "desktopNotifications": "all",
        "pushNotifications": "all",
        "enableAutoAway": true,
        "desktopNotificationRequireInteraction": false,
        "hideUsernames": false,
        "hideRoles": false,
        "displayAvatars": true,
        "hideFlexTab": false,
        "sendOnEnter": "normal",
        "idleTimeLimit": 300,
        "sidebarShowFavorites": true,
        "sidebarShowUnread": false,
        "themeAppearence": "auto",
        "sidebarSortby": "activity",
        "sidebarViewMode": "medium",
        "sidebarDisplayAvatar": true,
        "sidebarGroupByType": true,
        "sidebarSectionsOrder": ["Incoming_Calls", "Omnichannel", "Unread", "Favorites",
            "Teams", "Discussions", "Channels", "Direct_Messages", "Conversations"],
        "muteFocusedConversations": true,
        "notifyCalendarEvents": true,
        "enableMobileRinging": true,
        "featuresPreview": [],
    })
}

/// What `users.update` may change on a user (`data.*`; `None` leaves the field as it is).
/// `Debug` hides the password.
#[derive(Clone, Default)]
pub(crate) struct UserUpdate {
    pub(crate) name: Option<String>,
    pub(crate) email: Option<String>,
    pub(crate) verified: Option<bool>,
    /// Plain text; only set when the caller may (`edit-other-user-password`).
    pub(crate) password: Option<String>,
    pub(crate) roles: Option<Vec<String>>,
    pub(crate) status_text: Option<String>,
}

impl std::fmt::Debug for UserUpdate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserUpdate")
            .field("name", &self.name)
            .field("email", &self.email)
            .field("verified", &self.verified)
            .field("password", &self.password.as_ref().map(|_| "[REDACTED]"))
            .field("roles", &self.roles)
            .field("status_text", &self.status_text)
            .finish()
    }
}

/// `validateEmail` (`apps/meteor/lib/emailValidator.ts`), roughly: one `@`, something on
/// both sides, a dot in the domain, no spaces.
fn valid_email(email: &str) -> bool {
    let Some((local, domain)) = email.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && !domain.contains('@')
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !email.chars().any(char::is_whitespace)
}

impl World {
    /// `initialData.ts`: rocket.cat and GENERAL exist on every server.
    pub(super) fn seed_initial_data(&mut self) {
        let now = self.now();
        self.users.insert(
            "rocket.cat".to_owned(),
            User {
                id: "rocket.cat".to_owned(),
                username: "rocket.cat".to_owned(),
                name: "Rocket.Cat".to_owned(),
                account: AccountType::Bot,
                roles: vec!["bot".to_owned()],
                active: true,
                password: None,
                email: None,
                email_verified: false,
                tokens: Vec::new(),
                created_at: now,
                updated_at: now,
                status: Presence::Online,
                status_text: None,
                app_id: None,
            },
        );
        self.insert_room(super::Room::new(
            "GENERAL".to_owned(),
            super::RoomKind::Public,
            Some("general".to_owned()),
            None,
            now,
        ));
        if let Some(general) = self.rooms.get_mut("GENERAL") {
            general.default = true;
        }
    }

    pub(crate) fn user(&self, uid: &str) -> Option<&User> {
        self.users.get(uid)
    }

    pub(crate) fn user_by_username(&self, username: &str) -> Option<&User> {
        self.users.values().find(|u| u.username == username)
    }

    pub(crate) fn create_user(
        &mut self,
        username: &str,
        name: &str,
        account: AccountType,
        roles: Vec<String>,
        password: Option<String>,
        email: Option<String>,
    ) -> Result<String, OpError> {
        if username.is_empty() || self.user_by_username(username).is_some() {
            return Err(OpError::meteor(
                "error-field-unavailable",
                &format!("{username} is already in use :("),
            ));
        }
        if let Some(email) = &email {
            if self
                .users
                .values()
                .any(|u| u.email.as_deref() == Some(email))
            {
                return Err(OpError::meteor(
                    "error-field-unavailable",
                    &format!("{email} is already in use :("),
                ));
            }
        }
        let now = self.now();
        let id = random_id();
        self.users.insert(
            id.clone(),
            User {
                id: id.clone(),
                username: username.to_owned(),
                name: name.to_owned(),
                account,
                roles,
                active: true,
                password,
                email,
                // The simulator's users are created verified, whatever `verified` says.
                email_verified: true,
                tokens: Vec::new(),
                created_at: now,
                updated_at: now,
                status: Presence::Online,
                status_text: None,
                app_id: None,
            },
        );
        Ok(id)
    }

    /// An Apps-Engine app's user: `type: "app"`, role `app`, `appId`, no password.
    pub(crate) fn create_app_user(
        &mut self,
        username: &str,
        name: &str,
    ) -> Result<String, OpError> {
        let uid = self.create_user(
            username,
            name,
            AccountType::App,
            vec!["app".to_owned()],
            None,
            None,
        )?;
        if let Some(u) = self.users.get_mut(&uid) {
            u.app_id = Some(random_id());
        }
        Ok(uid)
    }

    /// Mints a PAT (`generateToken.ts`): stored hashed, returned once in clear.
    pub(crate) fn create_pat(
        &mut self,
        uid: &str,
        name: &str,
        bypass_two_factor: bool,
    ) -> Result<String, OpError> {
        self.insert_pat(uid, name, bypass_two_factor, None)
    }

    /// A PAT with a caller-chosen value (seed files).
    pub(crate) fn add_fixed_pat(
        &mut self,
        uid: &str,
        name: &str,
        token: &str,
    ) -> Result<(), OpError> {
        self.insert_pat(uid, name, false, Some(token)).map(|_| ())
    }

    fn insert_pat(
        &mut self,
        uid: &str,
        name: &str,
        bypass_two_factor: bool,
        fixed: Option<&str>,
    ) -> Result<String, OpError> {
        let now = self.now();
        let user = self
            .users
            .get_mut(uid)
            .ok_or_else(|| OpError::meteor("not-authorized", "Not Authorized"))?;
        if user.tokens.iter().any(|t| t.name.as_deref() == Some(name)) {
            return Err(OpError::meteor(
                "error-token-already-exists",
                "A token with this name already exists",
            ));
        }
        let token = fixed.map(str::to_owned).unwrap_or_else(random_secret);
        user.tokens.push(Token {
            hashed: hash_token(&token),
            name: Some(name.to_owned()),
            created_at: now,
            bypass_two_factor,
            last_part: token.chars().skip(token.len().saturating_sub(6)).collect(),
        });
        user.updated_at = now;
        Ok(token)
    }

    /// A normal login token (REST `login`, DDP password login).
    pub(crate) fn create_login_token(&mut self, uid: &str) -> Option<String> {
        let now = self.now();
        let user = self.users.get_mut(uid)?;
        let token = random_secret();
        user.tokens.push(Token {
            hashed: hash_token(&token),
            name: None,
            created_at: now,
            bypass_two_factor: false,
            last_part: String::new(),
        });
        Some(token)
    }

    /// Removes a PAT by name; the hub closes the sockets that logged in with it.
    pub(crate) fn remove_pat(&mut self, uid: &str, name: &str) -> Result<(), OpError> {
        let user = self
            .users
            .get_mut(uid)
            .ok_or_else(|| OpError::meteor("not-authorized", "Not Authorized"))?;
        let Some(pos) = user
            .tokens
            .iter()
            .position(|t| t.name.as_deref() == Some(name))
        else {
            return Err(OpError::meteor(
                "error-token-does-not-exists",
                "Token does not exist",
            ));
        };
        let token = user.tokens.remove(pos);
        self.emit(Emit::CloseToken {
            hashed: token.hashed,
        });
        Ok(())
    }

    /// `setUserActiveStatus`: deactivation wipes every token, PATs included, sets DMs with the
    /// user read-only and emits `userData`.
    pub(crate) fn set_active(&mut self, uid: &str, active: bool) -> Result<(), OpError> {
        let now = self.now();
        let user = self
            .users
            .get_mut(uid)
            .ok_or_else(|| OpError::meteor("error-invalid-user", "Invalid user"))?;
        user.active = active;
        user.updated_at = now;
        if active {
            return Ok(());
        }
        user.tokens.clear();
        let dms: Vec<String> = self
            .rooms
            .values()
            .filter(|r| r.kind == super::RoomKind::Direct && r.members.iter().any(|m| m == uid))
            .map(|r| r.id.clone())
            .collect();
        for rid in dms {
            if let Some(room) = self.rooms.get_mut(&rid) {
                room.read_only = true;
                room.updated_at = now;
            }
        }
        // Tokens go first (unsetLoginTokens closes the sockets), then the userData event, which
        // therefore only reaches sockets left open by the silent-revocation switch.
        self.emit(Emit::CloseUser {
            uid: uid.to_owned(),
        });
        self.notify_user(
            uid,
            "userData",
            vec![json!({"type": "updated", "id": uid,
                "diff": {"services.resume.loginTokens": [], "active": false}, "unset": {}})],
        );
        Ok(())
    }

    /// `saveUser`'s update of an existing user (`users.update`), after the REST layer's
    /// permission checks, in upstream's order: identity (`saveUserIdentity`: the name is
    /// trimmed, an empty one is refused), status text, e-mail (`setEmail`), password
    /// (`setPasswordUpdater`), roles, `verified`. Nothing is changed when a step fails.
    ///
    /// Sources: `apps/meteor/app/lib/server/functions/saveUser/saveUser.ts`,
    /// `setPasswordUpdater.ts` (the new hash is set and `services.resume.loginTokens` unset:
    /// every login token *and* PAT of the user goes, and its sockets close),
    /// `apps/meteor/app/lib/server/functions/setEmail.ts` (a changed address is unverified
    /// unless `verified: true`; one in use by another user is `error-field-unavailable`),
    /// `setRealName.ts`. Not simulated: the `userData` / `user.nameChanged` broadcasts and
    /// renaming the user in stored messages.
    pub(crate) fn update_user(&mut self, uid: &str, change: UserUpdate) -> Result<(), OpError> {
        let identity = || {
            OpError::meteor_with(
                "error-could-not-save-identity",
                "Could not save user identity",
                json!({"method": "saveUser"}),
            )
        };
        let user = self
            .users
            .get(uid)
            .ok_or_else(|| OpError::meteor("error-invalid-user", "Invalid user"))?;
        let name = match change.name.as_deref().map(str::trim) {
            // _setRealName: Accounts_RequireNameForSignUp (on by default) refuses an empty name.
            Some("") => return Err(identity()),
            other => other.map(str::to_owned),
        };
        let email = match change.email.as_deref().map(str::trim) {
            None => None,
            Some(e) if !valid_email(e) => {
                return Err(OpError::meteor_with(
                    "error-invalid-email",
                    &format!("Invalid email {e}"),
                    json!({"function": "RocketChat.validateEmailDomain", "email": e}),
                ))
            }
            Some(e) if user.email.as_deref() == Some(e) => None,
            Some(e) => {
                let taken = self.users.values().any(|u| {
                    u.id != uid
                        && u.email
                            .as_deref()
                            .is_some_and(|other| other.eq_ignore_ascii_case(e))
                });
                if taken {
                    return Err(OpError::meteor_with(
                        "error-field-unavailable",
                        &format!("{e} is already in use :("),
                        json!({"function": "_setEmail", "field": e}),
                    ));
                }
                Some(e.to_owned())
            }
        };
        let now = self.now();
        let Some(user) = self.users.get_mut(uid) else {
            return Err(OpError::meteor("error-invalid-user", "Invalid user"));
        };
        if let Some(name) = name {
            user.name = name;
        }
        if let Some(text) = change.status_text {
            user.status_text = Some(text);
        }
        let email_changed = email.is_some();
        if let Some(email) = email {
            user.email = Some(email);
            user.email_verified = change.verified == Some(true);
        }
        let password_set = match change.password.as_deref().map(str::trim) {
            Some(p) if !p.is_empty() => {
                user.password = Some(p.to_owned());
                user.tokens.clear();
                true
            }
            _ => false,
        };
        if let Some(roles) = change.roles {
            user.roles = roles;
        }
        if let (Some(verified), false) = (change.verified, email_changed) {
            if user.email.is_some() {
                user.email_verified = verified;
            }
        }
        user.updated_at = now;
        if password_set {
            self.emit(Emit::CloseUser {
                uid: uid.to_owned(),
            });
        }
        Ok(())
    }

    /// `users.setStatus`' effect: `status`, and `statusText` when given; every logged-in
    /// session hears `user-status` on `stream-notify-logged` (`[id, username, status number,
    /// statusText, name, roles]`).
    pub(crate) fn set_status(
        &mut self,
        uid: &str,
        status: Option<Presence>,
        text: Option<String>,
    ) -> Result<(), OpError> {
        let now = self.now();
        let user = self
            .users
            .get_mut(uid)
            .ok_or_else(|| OpError::meteor("error-invalid-user", "Invalid user"))?;
        if let Some(status) = status {
            user.status = status;
        }
        if let Some(text) = text {
            user.status_text = Some(text);
        }
        user.updated_at = now;
        let args = vec![json!([
            user.id,
            user.username,
            user.status.number(),
            user.status_text.clone().unwrap_or_default(),
            user.name,
            user.roles
        ])];
        self.emit(Emit::NotifyLogged {
            event: "user-status".to_owned(),
            args,
        });
        Ok(())
    }

    /// The user whose id is `uid` and who holds `token` (compared by hash, as the server does).
    pub(crate) fn authenticate(&self, uid: &str, token: &str) -> Option<&User> {
        let hashed = hash_token(token);
        self.users
            .get(uid)
            .filter(|u| u.tokens.iter().any(|t| t.hashed == hashed))
    }

    /// The user holding `token` (DDP `login {resume}` has no user id).
    pub(crate) fn user_by_token(&self, token: &str) -> Option<&User> {
        let hashed = hash_token(token);
        self.users
            .values()
            .find(|u| u.tokens.iter().any(|t| t.hashed == hashed))
    }

    pub(crate) fn token_of<'a>(&'a self, uid: &str, token: &str) -> Option<&'a Token> {
        let hashed = hash_token(token);
        self.users
            .get(uid)
            .and_then(|u| u.tokens.iter().find(|t| t.hashed == hashed))
    }

    /// A user by username or e-mail address (the password login's `user` field).
    pub(crate) fn user_by_login(&self, who: &str) -> Option<&User> {
        self.users
            .values()
            .find(|u| u.username == who || u.email.as_deref() == Some(who))
    }

    /// The user document (DDP form), as `users.info` and `me` start from it.
    pub(crate) fn user_doc(&self, uid: &str) -> Option<Value> {
        let u = self.users.get(uid)?;
        let mut doc = json!({
            "_id": u.id,
            "username": u.username,
            "name": u.name,
            "type": u.account.as_str(),
            "roles": u.roles,
            "active": u.active,
            "status": u.status.as_str(),
            "statusConnection": "online",
            "utcOffset": 0,
            "createdAt": ejson_date(u.created_at),
            "_updatedAt": ejson_date(u.updated_at),
        });
        if let Some(obj) = doc.as_object_mut() {
            if let Some(email) = &u.email {
                obj.insert(
                    "emails".into(),
                    json!([{"address": email, "verified": u.email_verified}]),
                );
            }
            if let Some(text) = &u.status_text {
                obj.insert("statusText".into(), json!(text));
            }
            if let Some(app) = &u.app_id {
                obj.insert("appId".into(), json!(app));
            }
        }
        Some(doc)
    }

    /// PAT listing without secrets (`users.getPersonalAccessTokens`).
    pub(crate) fn pat_list(&self, uid: &str) -> Vec<Value> {
        self.users
            .get(uid)
            .map(|u| {
                u.tokens
                    .iter()
                    .filter_map(|t| {
                        t.name.as_ref().map(|name| {
                            json!({"name": name, "createdAt": ejson_date(t.created_at),
                                "lastTokenPart": t.last_part, "bypassTwoFactor": t.bypass_two_factor})
                        })
                    })
                    .collect()
            })
            .unwrap_or_default()
    }
}
