//! `bridge doctor`: checks a configuration against a server and prints one screen of
//! results (or, with `--json`, one JSON object): the configuration (every bad key, not
//! only the first), the URL and TLS, the server version (a warning when it is not 8.x),
//! the token and whose it is, the bot role, every `rooms` key, and optionally a test post.
//!
//! Every check talks to the server through the backend's public API: a REST-only
//! [`RocketChatChannel::offline`] and the [`Channel`] trait (`probe`, `find_user`,
//! `resolve_room`, `send`). The TLS line is read from the configuration (scheme,
//! `dangerouslyAllowInsecure`, `caFile`), and an unreachable server is explained by
//! [`crate::diagnose`].

use std::fmt::Write as _;

use backend_rocketchat::{RocketChatChannel, RocketChatConfig};
use bridge_core::config::{AccountConfig, ConfigError};
use channel_api::{Channel, ChannelExt, Error, OutboundMessage, RoomInfo, RoomQuery, UserQuery};
use serde_json::{json, Map, Value};

use crate::diagnose;
use crate::oneshot::kind_word;
use crate::openclaw::Account;
use crate::rocketchat::{offline, rocketchat_config};

/// The keys a configuration cannot do without.
pub const REQUIRED_KEYS: &[&str] = &["serverUrl", "userId", "username", "authToken"];

/// The outcome of one check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Fine.
    Pass,
    /// Works, but look at it.
    Warn,
    /// Broken.
    Fail,
    /// Not run.
    Skip,
}

impl Status {
    fn mark(self) -> &'static str {
        match self {
            Status::Pass => "✓",
            Status::Warn => "⚠",
            Status::Fail => "✗",
            Status::Skip => "·",
        }
    }

    /// The `level` of the JSON report; `None` for a check that did not run.
    pub fn level(self) -> Option<&'static str> {
        match self {
            Status::Pass => Some("ok"),
            Status::Warn => Some("warn"),
            Status::Fail => Some("error"),
            Status::Skip => None,
        }
    }
}

/// One line of the report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    /// The outcome.
    pub status: Status,
    /// What was checked (`token`, `rooms.general`, a configuration key, ...).
    pub name: String,
    /// What was found.
    pub detail: String,
    /// What to do about it, when there is something to say.
    pub hint: Option<String>,
}

impl Check {
    /// A check without a hint.
    pub fn new(status: Status, name: impl Into<String>, detail: impl Into<String>) -> Self {
        Self {
            status,
            name: name.into(),
            detail: detail.into(),
            hint: None,
        }
    }

    /// The same check with a hint.
    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
}

/// Every check, in order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DoctorReport {
    /// The server checked, when the configuration named one.
    pub server: Option<String>,
    /// The checks.
    pub checks: Vec<Check>,
}

impl DoctorReport {
    fn add(&mut self, status: Status, name: impl Into<String>, detail: impl Into<String>) {
        self.checks.push(Check::new(status, name, detail));
    }

    /// Whether no check failed.
    pub fn ok(&self) -> bool {
        self.checks.iter().all(|c| c.status != Status::Fail)
    }

    /// The first check named `name`.
    pub fn check(&self, name: &str) -> Option<&Check> {
        self.checks.iter().find(|c| c.name == name)
    }

    /// The report as people read it. `account`: the heading names the account.
    pub fn render_for(&self, account: Option<&str>) -> String {
        let mut out = String::new();
        let _ = write!(
            out,
            "bridge doctor: {}",
            self.server.as_deref().unwrap_or("(no server)")
        );
        if let Some(account) = account {
            let _ = write!(out, " (account {account})");
        }
        let _ = writeln!(out, "\n");
        let width = self.checks.iter().map(|c| c.name.len()).max().unwrap_or(0);
        for c in &self.checks {
            let _ = writeln!(out, "  {} {:width$}  {}", c.status.mark(), c.name, c.detail);
            if let Some(hint) = &c.hint {
                let _ = writeln!(out, "    {:width$}  → {hint}", "");
            }
        }
        let count = |s: Status| self.checks.iter().filter(|c| c.status == s).count();
        let _ = writeln!(out);
        let _ = match (count(Status::Fail), count(Status::Warn)) {
            (0, 0) => writeln!(out, "All checks passed."),
            (0, w) => writeln!(out, "No failures; {w} warning(s)."),
            (f, w) => writeln!(out, "{f} check(s) failed, {w} warning(s)."),
        };
        out
    }

    /// [`DoctorReport::render_for`] without an account in the heading.
    pub fn render(&self) -> String {
        self.render_for(None)
    }

    /// One account of the `--json` report:
    /// `{accountId, ok, checks: [{name, level: "ok"|"warn"|"error", detail, hint?}]}`.
    /// Checks that did not run are left out.
    pub fn to_json(&self, account_id: &str) -> Value {
        let checks: Vec<Value> = self
            .checks
            .iter()
            .filter_map(|c| {
                let level = c.status.level()?;
                let mut check = json!({"name": c.name, "level": level, "detail": c.detail});
                if let Some(hint) = &c.hint {
                    check["hint"] = json!(hint);
                }
                Some(check)
            })
            .collect();
        json!({"accountId": account_id, "ok": self.ok(), "checks": checks})
    }
}

/// Every problem of a configuration object, not only the first: each missing required
/// key, then each bad value. The parsers stop at the first bad value, so the bad key is
/// taken out and the rest parsed again until nothing more is found; missing required keys
/// are stood in for by harmless values while the others are checked. Errors name the key
/// and never quote a value. Async only because building the channel (it reads `caFile`)
/// needs the runtime.
pub async fn config_errors(config: &Value) -> Vec<ConfigError> {
    let Some(object) = config.as_object() else {
        return vec![ConfigError::new("config", "must be a JSON object")];
    };
    let mut errors = Vec::new();
    let mut object: Map<String, Value> = object.clone();
    for key in REQUIRED_KEYS {
        if object.get(*key).is_none_or(Value::is_null) {
            errors.push(ConfigError::new(*key, "missing"));
            object.insert((*key).to_owned(), stand_in(key));
        }
    }
    // Each round removes one key; the bound only guards against a parser that names a
    // key it then does not stop complaining about.
    for _ in 0..=object.len() {
        let Err(err) = parse(&object) else { break };
        let top = err.field.split('.').next().unwrap_or_default().to_owned();
        let repeated = errors.iter().any(|e| e.field == err.field);
        if !repeated {
            errors.push(err.clone());
        }
        if err.field == "config" || repeated {
            break;
        }
        // A bad required key is stood in for (without it the parser stops at "missing");
        // any other bad key is left out.
        if REQUIRED_KEYS.contains(&top.as_str()) {
            let value = stand_in(&top);
            object.insert(top, value);
        } else if object.remove(&top).is_none() {
            break;
        }
    }
    errors
}

/// A value for a required key that passes every check, so that the keys after it get
/// checked too.
fn stand_in(key: &str) -> Value {
    match key {
        "serverUrl" => json!("https://server.invalid"),
        _ => json!("stand-in"),
    }
}

/// The configuration, the backend's view of it, and its REST-only channel (which reads
/// `caFile`: a missing or bad file is a configuration error too).
fn parse(
    object: &Map<String, Value>,
) -> Result<(AccountConfig, RocketChatConfig, RocketChatChannel), ConfigError> {
    let config = AccountConfig::from_value(Value::Object(object.clone()))?;
    let rc = rocketchat_config(&config)?;
    let channel = offline(&config)?;
    Ok((config, rc, channel))
}

/// Runs every check. `config` is the bridge configuration object (the `serve` line),
/// with `authToken` filled in; `post_to` is a room id or `#name` for a test post.
pub async fn run_doctor(config: Value, post_to: Option<&str>) -> DoctorReport {
    let mut report = DoctorReport {
        server: config
            .get("serverUrl")
            .and_then(Value::as_str)
            .map(str::to_owned),
        ..DoctorReport::default()
    };
    let errors = config_errors(&config).await;
    for e in &errors {
        report.add(Status::Fail, e.field.clone(), e.reason.clone());
    }
    let parsed = match (errors.is_empty(), config.as_object()) {
        (true, Some(object)) => parse(object).ok(),
        _ => None,
    };
    let Some((config, rc, channel)) = parsed else {
        report.add(
            Status::Skip,
            "server",
            "not checked (fix the configuration first)",
        );
        return report;
    };
    report.add(
        Status::Pass,
        "configuration",
        format!(
            "valid (account {}, bot @{}, user id {})",
            config.account_id(),
            rc.username,
            rc.user_id
        ),
    );
    check_server(&mut report, &config, &rc, &channel, post_to).await;
    channel.shutdown().await;
    report
}

/// Checks one account of OpenClaw's config file: what reading it found (secret
/// references, a plain-text token), then, when nothing there failed, every check of
/// [`run_doctor`]; otherwise every configuration problem, and no server check. Missing
/// keys say where in `openclaw.json` they go.
pub async fn run_account(account: &Account, post_to: Option<&str>) -> DoctorReport {
    if !account.enabled {
        return DoctorReport {
            server: account
                .config
                .get("serverUrl")
                .and_then(Value::as_str)
                .map(str::to_owned),
            checks: vec![Check::new(
                Status::Pass,
                "enabled",
                "the account is disabled (enabled: false); not checked",
            )],
        };
    }
    let mut report = if account.has_errors() {
        let mut report = DoctorReport {
            server: account
                .config
                .get("serverUrl")
                .and_then(Value::as_str)
                .map(str::to_owned),
            checks: Vec::new(),
        };
        // An empty config is an account that is not there (already reported). A token that
        // did not resolve is reported too: check the rest.
        if let Some(object) = account.config.as_object().filter(|o| !o.is_empty()) {
            let mut object = object.clone();
            object
                .entry("authToken")
                .or_insert_with(|| stand_in("authToken"));
            for e in config_errors(&Value::Object(object)).await {
                report.add(Status::Fail, e.field.clone(), e.reason.clone());
            }
        }
        report.add(
            Status::Skip,
            "server",
            "not checked (fix the configuration first)",
        );
        report
    } else {
        run_doctor(account.config.clone(), post_to).await
    };
    for check in &mut report.checks {
        if check.status == Status::Fail && check.detail == "missing" {
            check.detail = format!("missing: set {}", account.key_path(&check.name));
        }
    }
    let mut checks = account.checks.clone();
    checks.append(&mut report.checks);
    report.checks = checks;
    report
}

/// How the configuration says to talk to the server.
fn transport(rc: &RocketChatConfig) -> (Status, String) {
    let https = rc
        .server_url
        .get(..8)
        .is_some_and(|s| s.eq_ignore_ascii_case("https://"));
    match (https, rc.dangerously_allow_insecure, &rc.ca_file) {
        (true, false, None) => (Status::Pass, "TLS, certificate verified".into()),
        (true, false, Some(ca)) => (
            Status::Pass,
            format!(
                "TLS, certificate verified (public roots and caFile {})",
                ca.display()
            ),
        ),
        (true, true, _) => (
            Status::Warn,
            "TLS, certificate NOT verified (dangerouslyAllowInsecure)".into(),
        ),
        (false, _, _) => (
            Status::Warn,
            "plain http, no TLS (dangerouslyAllowInsecure; local development only)".into(),
        ),
    }
}

async fn check_server(
    report: &mut DoctorReport,
    config: &AccountConfig,
    rc: &RocketChatConfig,
    channel: &RocketChatChannel,
    post_to: Option<&str>,
) {
    let reached = |report: &mut DoctorReport| {
        let (status, line) = transport(rc);
        report.add(
            status,
            "server",
            format!("reached {} over {line}", rc.server_url),
        );
    };
    let probe = match channel.probe().await {
        Ok(probe) => probe,
        Err(Error::Unauthorized { .. }) => {
            reached(report);
            report.add(Status::Skip, "version", "not read (the token was refused)");
            report.checks.push(
                Check::new(
                    Status::Fail,
                    "token",
                    "rejected (HTTP 401): the token is wrong, revoked or belongs to another userId",
                )
                .with_hint("create a personal access token for the bot user and put it in authToken, with the bot's userId"),
            );
            report.add(Status::Skip, "rooms", "skipped (needs a valid token)");
            return;
        }
        Err(e) => {
            let mut check = Check::new(Status::Fail, "server", e.to_string());
            if let Some(cause) = diagnose::cause(rc, &e).await {
                check = check.with_hint(cause.hint(rc.ca_file.is_some()));
            }
            report.checks.push(check);
            return;
        }
    };
    reached(report);
    match probe.server_version.as_deref() {
        Some(v) if v.starts_with("8.") => {
            report.add(Status::Pass, "version", format!("Rocket.Chat {v}"))
        }
        Some(v) => report.add(
            Status::Warn,
            "version",
            format!("Rocket.Chat {v} is not 8.x; this bridge is built and tested for 8.2.0"),
        ),
        None => report.add(Status::Warn, "version", "the server gave no version"),
    }

    // The token, and whose it is.
    let (id, name) = (probe.user_id.as_str(), probe.username.as_str());
    if id != rc.user_id {
        report.add(
            Status::Fail,
            "token",
            format!(
                "the token belongs to user id {id}, not userId {}",
                rc.user_id
            ),
        );
        report.add(Status::Skip, "rooms", "skipped (needs the bot's own token)");
        return;
    }
    if name != rc.username {
        report.add(
            Status::Fail,
            "username",
            format!(
                "the token's user is @{name}, not @{} (mention gating uses the username)",
                rc.username
            ),
        );
    }
    report.add(
        Status::Pass,
        "token",
        format!("valid: logged in as @{name} ({id})"),
    );
    match channel
        .find_user(&UserQuery::Id(probe.user_id.clone()))
        .await
    {
        Ok(user) if user.is_bot => {}
        Ok(_) => report.checks.push(
            Check::new(
                Status::Warn,
                "roles",
                "the user has no bot role: REST rate limits apply to it",
            )
            .with_hint("give the user the bot role (Administration → Users)"),
        ),
        Err(e) => report.add(
            Status::Warn,
            "roles",
            format!("could not read the user's roles: {e}"),
        ),
    }

    check_rooms(report, config, channel).await;

    // The bot can post.
    match post_to {
        None => report.add(
            Status::Skip,
            "post",
            "not tried (--post-test-message <room> posts a test message)",
        ),
        Some(target) => post_test_message(report, channel, target).await,
    }
}

/// Every key of `rooms`, resolved as the bridge core resolves it.
async fn check_rooms(report: &mut DoctorReport, config: &AccountConfig, channel: &impl Channel) {
    let rooms: Vec<String> = config.channel().rooms.keys().cloned().collect();
    if rooms.is_empty() {
        match config.channel().group_policy {
            channel_api::config::GroupPolicy::Allowlist => report.add(
                Status::Warn,
                "rooms",
                "no rooms configured and groupPolicy is allowlist: the bot ignores every room (DMs only)",
            ),
            _ => report.add(Status::Pass, "rooms", "no rooms configured"),
        }
    }
    for key in rooms.iter().filter(|k| k.as_str() != "*") {
        let name = format!("rooms.{key}");
        match channel.resolve_room_key(key).await {
            Ok(Some(room)) => report.add(Status::Pass, name, describe_room(&room)),
            Ok(None) => report.checks.push(
                Check::new(
                    Status::Fail,
                    name,
                    "no room with this id or name is visible to the bot",
                )
                .with_hint("check the spelling, and add the bot to the room (private rooms are visible to members only)"),
            ),
            Err(e) => report.add(Status::Fail, name, e.to_string()),
        }
    }
}

fn describe_room(room: &RoomInfo) -> String {
    let kind = kind_word(room.kind);
    match &room.name {
        Some(name) => format!("#{name} ({kind}, id {})", room.id),
        None => format!("{kind} room (id {})", room.id),
    }
}

async fn post_test_message(report: &mut DoctorReport, channel: &impl Channel, target: &str) {
    // `#name` is a name; anything else is looked up like a `rooms` key (id, then name).
    let found = match target.strip_prefix('#') {
        Some(name) => match channel
            .resolve_room(&RoomQuery::Name(name.to_owned()))
            .await
        {
            Ok(room) => Ok(Some(room)),
            Err(Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(e),
        },
        None => channel.resolve_room_key(target).await,
    };
    let room = match found {
        Ok(Some(room)) => room,
        Ok(None) => {
            report.add(Status::Fail, "post", format!("room {target} not found"));
            return;
        }
        Err(e) => {
            report.add(Status::Fail, "post", e.to_string());
            return;
        }
    };
    let message = OutboundMessage::new(
        room.id.clone(),
        "bridge doctor: test message (the bot can post here)",
    );
    match channel.send(message).await {
        Ok(sent) => report.add(
            Status::Pass,
            "post",
            format!(
                "posted a test message in {} (message {})",
                describe_room(&room),
                sent.message.id
            ),
        ),
        Err(e) => report.add(Status::Fail, "post", e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn every_configuration_problem_is_reported_at_once_naming_the_key() {
        let report = run_doctor(json!({"serverUrl": "https://x", "userId": "u"}), None).await;
        assert!(!report.ok());
        let failed: Vec<&str> = report
            .checks
            .iter()
            .filter(|c| c.status == Status::Fail)
            .map(|c| c.name.as_str())
            .collect();
        assert_eq!(failed, ["username", "authToken"], "{report:?}");
        assert_eq!(report.check("username").unwrap().detail, "missing");

        let report = run_doctor(
            json!({"serverUrl": "http://x", "userId": "u", "username": "b", "authToken": "SECRET-T",
                "dmPolicy": "sometimes", "historyLimit": -1, "caFile": 7}),
            None,
        )
        .await;
        let failed: Vec<&str> = report
            .checks
            .iter()
            .filter(|c| c.status == Status::Fail)
            .map(|c| c.name.as_str())
            .collect();
        for key in ["serverUrl", "dmPolicy", "historyLimit", "caFile"] {
            assert!(failed.contains(&key), "{key} in {failed:?}");
        }
        assert!(!report.render().contains("SECRET-T"));
    }

    #[tokio::test]
    async fn a_missing_key_does_not_hide_the_bad_ones() {
        let errors =
            config_errors(&json!({"userId": "u", "username": "@b", "authToken": "t"})).await;
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["serverUrl", "username"], "{errors:?}");
        let good =
            json!({"serverUrl": "https://x", "userId": "u", "username": "b", "authToken": "t"});
        assert!(config_errors(&good).await.is_empty());
    }

    #[test]
    fn the_json_report_has_levels_and_leaves_out_what_did_not_run() {
        let report = DoctorReport {
            server: None,
            checks: vec![
                Check::new(Status::Pass, "a", "fine"),
                Check::new(Status::Warn, "b", "hmm").with_hint("do x"),
                Check::new(Status::Skip, "c", "not run"),
                Check::new(Status::Fail, "d", "broken"),
            ],
        };
        assert_eq!(
            report.to_json("ops"),
            json!({"accountId": "ops", "ok": false, "checks": [
                {"name": "a", "level": "ok", "detail": "fine"},
                {"name": "b", "level": "warn", "detail": "hmm", "hint": "do x"},
                {"name": "d", "level": "error", "detail": "broken"},
            ]})
        );
        assert!(report.render().contains("→ do x"));
    }
}
