//! `bridge doctor`: checks a configuration against a server and prints one screen of
//! results: the configuration, the URL and TLS, the server version (a warning when it is
//! not 8.x), the token (`/api/v1/me`), every `rooms` key, and optionally a test post.

use std::fmt::Write as _;

use http::StatusCode;
use serde_json::{json, Value};

use crate::rest::{RestClient, RestError, Token};
use crate::rocketchat::rocketchat_config;
use bridge_core::config::AccountConfig;

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
}

/// One line of the report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    /// The outcome.
    pub status: Status,
    /// What was checked (`token`, `rooms.general`, ...).
    pub name: String,
    /// What was found.
    pub detail: String,
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
        self.checks.push(Check {
            status,
            name: name.into(),
            detail: detail.into(),
        });
    }

    /// Whether no check failed.
    pub fn ok(&self) -> bool {
        self.checks.iter().all(|c| c.status != Status::Fail)
    }

    /// The report as people read it.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "bridge doctor: {}\n",
            self.server.as_deref().unwrap_or("(no server)")
        );
        let width = self.checks.iter().map(|c| c.name.len()).max().unwrap_or(0);
        for c in &self.checks {
            let _ = writeln!(out, "  {} {:width$}  {}", c.status.mark(), c.name, c.detail);
        }
        let failures = self
            .checks
            .iter()
            .filter(|c| c.status == Status::Fail)
            .count();
        let warnings = self
            .checks
            .iter()
            .filter(|c| c.status == Status::Warn)
            .count();
        let _ = writeln!(out);
        let _ = match (failures, warnings) {
            (0, 0) => writeln!(out, "All checks passed."),
            (0, w) => writeln!(out, "No failures; {w} warning(s)."),
            (f, w) => writeln!(out, "{f} check(s) failed, {w} warning(s)."),
        };
        out
    }
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
    let parsed = AccountConfig::from_value(config).and_then(|c| {
        let rc = rocketchat_config(&c)?;
        Ok((c, rc))
    });
    let (config, rc) = match parsed {
        Ok(parsed) => parsed,
        Err(e) => {
            report.add(Status::Fail, "configuration", e.to_string());
            return report;
        }
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

    // URL and TLS: /api/info needs no credentials.
    let insecure = rc.dangerously_allow_insecure;
    let client = match RestClient::new(&rc.server_url, insecure, rc.ca_file.as_deref()) {
        Ok(client) => client,
        Err(e) => {
            report.add(Status::Fail, "server", e.to_string());
            return report;
        }
    };
    let info = match client.get("/api/info").await {
        Ok(info) if info.status == StatusCode::OK => info,
        Ok(info) => {
            report.add(
                Status::Fail,
                "server",
                format!("{}/api/info answered HTTP {}", client.base(), info.status),
            );
            return report;
        }
        Err(e) => {
            report.add(Status::Fail, "server", explain_connect_error(&e, insecure));
            return report;
        }
    };
    let transport = match (client.is_tls(), insecure) {
        (true, false) => (Status::Pass, "TLS, certificate verified"),
        (true, true) => (
            Status::Warn,
            "TLS, certificate NOT verified (dangerouslyAllowInsecure)",
        ),
        (false, _) => (
            Status::Warn,
            "plain http, no TLS (dangerouslyAllowInsecure; local development only)",
        ),
    };
    report.add(
        transport.0,
        "server",
        format!("reached {} over {}", client.base(), transport.1),
    );
    match info.body.get("version").and_then(Value::as_str) {
        Some(v) if v.starts_with("8.") => {
            report.add(Status::Pass, "version", format!("Rocket.Chat {v}"))
        }
        Some(v) => report.add(
            Status::Warn,
            "version",
            format!("Rocket.Chat {v} is not 8.x; this bridge is built and tested for 8.2.0"),
        ),
        None => report.add(Status::Warn, "version", "/api/info gave no version"),
    }

    // The token.
    let client = client.with_auth(rc.user_id.clone(), Token::new(rc.auth_token.expose()));
    if !check_token(&mut report, &client, &rc.user_id, &rc.username).await {
        report.add(Status::Skip, "rooms", "skipped (needs a valid token)");
        return report;
    }

    // Rooms named in the configuration.
    let rooms: Vec<String> = config.channel().rooms.keys().cloned().collect();
    if rooms.is_empty() {
        let policy = config.channel().group_policy;
        let status = match policy {
            channel_api::config::GroupPolicy::Allowlist => Status::Warn,
            _ => Status::Pass,
        };
        let detail = match status {
            Status::Warn => "no rooms configured and groupPolicy is allowlist: the bot ignores every room (DMs only)",
            _ => "no rooms configured",
        };
        report.add(status, "rooms", detail);
    }
    for key in rooms.iter().filter(|k| k.as_str() != "*") {
        match find_room(&client, key).await {
            Ok(Some(room)) => {
                report.add(Status::Pass, format!("rooms.{key}"), describe_room(&room))
            }
            Ok(None) => report.add(
                Status::Fail,
                format!("rooms.{key}"),
                "no room with this id or name is visible to the bot",
            ),
            Err(e) => report.add(Status::Fail, format!("rooms.{key}"), e.to_string()),
        }
    }

    // The bot can post.
    match post_to {
        None => report.add(
            Status::Skip,
            "post",
            "not tried (--post-test-message <room> posts a test message)",
        ),
        Some(target) => post_test_message(&mut report, &client, target).await,
    }
    report
}

fn explain_connect_error(err: &RestError, insecure: bool) -> String {
    let text = err.to_string();
    let hint = if text.contains("certificate") && !insecure {
        " (for a private CA, set caFile to its PEM certificate)"
    } else {
        ""
    };
    format!("{text}{hint}")
}

/// `/api/v1/me`: the token works and belongs to `userId` / `username`.
async fn check_token(
    report: &mut DoctorReport,
    client: &RestClient,
    user_id: &str,
    username: &str,
) -> bool {
    let me = match client.get("/api/v1/me").await {
        Ok(me) => me,
        Err(e) => {
            report.add(Status::Fail, "token", e.to_string());
            return false;
        }
    };
    if me.status == StatusCode::UNAUTHORIZED {
        report.add(
            Status::Fail,
            "token",
            "rejected (HTTP 401): the token is wrong, revoked or belongs to another userId",
        );
        return false;
    }
    if me.status != StatusCode::OK {
        report.add(
            Status::Fail,
            "token",
            format!("/api/v1/me answered HTTP {}", me.status),
        );
        return false;
    }
    let id = me.body["_id"].as_str().unwrap_or_default();
    let name = me.body["username"].as_str().unwrap_or_default();
    if id != user_id {
        report.add(
            Status::Fail,
            "token",
            format!("the token belongs to user id {id}, not userId {user_id}"),
        );
        return false;
    }
    if name != username {
        report.add(
            Status::Fail,
            "username",
            format!(
                "the token's user is @{name}, not @{username} (mention gating uses the username)"
            ),
        );
    }
    report.add(
        Status::Pass,
        "token",
        format!("valid: logged in as @{name} ({id})"),
    );
    let is_bot = me.body["roles"]
        .as_array()
        .is_some_and(|roles| roles.iter().any(|r| r == "bot"));
    if !is_bot {
        report.add(
            Status::Warn,
            "roles",
            "the user has no bot role: REST rate limits apply to it",
        );
    }
    true
}

/// A room by id, else by name (`#` optional). `None`: no such room visible to the bot.
async fn find_room(client: &RestClient, key: &str) -> Result<Option<Value>, RestError> {
    if !key.starts_with('#') {
        let by_id = client
            .get(&format!("/api/v1/rooms.info?roomId={}", encode(key)))
            .await?;
        if by_id.status == StatusCode::OK && by_id.body["room"].is_object() {
            return Ok(Some(by_id.body["room"].clone()));
        }
    }
    let name = key.trim_start_matches('#');
    let by_name = client
        .get(&format!("/api/v1/rooms.info?roomName={}", encode(name)))
        .await?;
    if by_name.status == StatusCode::OK && by_name.body["room"].is_object() {
        return Ok(Some(by_name.body["room"].clone()));
    }
    Ok(None)
}

fn describe_room(room: &Value) -> String {
    let kind = match room["t"].as_str() {
        Some("c") => "public",
        Some("p") => "private",
        Some("d") => "direct",
        _ => "room",
    };
    format!(
        "#{} ({kind}, id {})",
        room["name"].as_str().unwrap_or("?"),
        room["_id"].as_str().unwrap_or("?")
    )
}

async fn post_test_message(report: &mut DoctorReport, client: &RestClient, target: &str) {
    let room = match find_room(client, target).await {
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
    let rid = room["_id"].as_str().unwrap_or_default();
    let body = json!({"message": {"rid": rid, "msg": "bridge doctor: test message (the bot can post here)"}});
    match client.post("/api/v1/chat.sendMessage", &body).await {
        Ok(r) if r.status == StatusCode::OK => {
            let id = r.body["message"]["_id"].as_str().unwrap_or("?");
            report.add(
                Status::Pass,
                "post",
                format!(
                    "posted a test message in {} (message {id})",
                    describe_room(&room)
                ),
            );
        }
        Ok(r) => report.add(
            Status::Fail,
            "post",
            format!(
                "HTTP {}: {}",
                r.status,
                r.body["error"].as_str().unwrap_or("no reason given")
            ),
        ),
        Err(e) => report.add(Status::Fail, "post", e.to_string()),
    }
}

/// Percent-encodes a query value (everything but unreserved characters).
fn encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(byte));
        } else {
            let _ = write!(out, "%{byte:02X}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_values_are_encoded() {
        assert_eq!(encode("general"), "general");
        assert_eq!(encode("a b&c/é"), "a%20b%26c%2F%C3%A9");
    }

    #[tokio::test]
    async fn a_bad_config_fails_first_and_names_the_field() {
        let report = run_doctor(json!({"serverUrl": "https://x", "userId": "u"}), None).await;
        assert!(!report.ok());
        assert_eq!(report.checks.len(), 1);
        assert!(report.checks[0].detail.contains("username"), "{report:?}");
        let report = run_doctor(
            json!({"serverUrl": "http://x", "userId": "u", "username": "b", "authToken": "t"}),
            None,
        )
        .await;
        assert!(report.checks[0].detail.contains("serverUrl"), "{report:?}");
    }
}
