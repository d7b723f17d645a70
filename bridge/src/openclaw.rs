//! OpenClaw's own configuration file (`openclaw.json`, JSON5) as `bridge doctor
//! --openclaw-config` reads it: the `channels.rocketchat` block, its `accounts`, merged as
//! the plugin merges them, and the `authToken` secret reference resolved.
//!
//! - **Accounts**: the keys of `channels.rocketchat.accounts`, plus `default` when the
//!   channel level names a bot (`userId` or `authToken`); `default` alone when there is
//!   neither. An account's keys win over the channel's (a shallow merge). The default
//!   account takes `serverUrl`, `userId`, `username` and `authToken` from
//!   `ROCKETCHAT_URL`, `ROCKETCHAT_USER_ID`, `ROCKETCHAT_USERNAME` and
//!   `ROCKETCHAT_AUTH_TOKEN` when it has none (OpenClaw's `channels add --use-env`).
//! - **Plugin-only keys** (`enabled`, `accounts`, `defaultAccount`, `bridgePath`, `name`,
//!   and the plugin's live keys `ackReaction`, `streaming`, `thread`) are not passed to
//!   the checks; Slack's `thread.initialHistoryLimit` becomes `threadInitialHistoryLimit`
//!   as the plugin does it.
//! - **Secret references** (OpenClaw's SecretRef: `{source, provider?, id}`) for
//!   `authToken`: `env` reads the variable `id` (and the shorthands `"${VAR}"`, `"$VAR"`);
//!   `file` reads the provider `secrets.providers.<provider>` (default
//!   `secrets.defaults.file`): `mode: "json"` (the default) takes the JSON pointer `id`,
//!   `mode: "singleValue"` the whole file, trimmed; `{source: "file", path}` reads that
//!   file, trimmed. `exec` and `store` references are resolved by OpenClaw only.
//!
//! The token is never part of a message: problems name the key, the variable or the file.

use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use crate::doctor::{Check, Status};

/// The channel's key under `channels`.
pub const CHANNEL: &str = "rocketchat";
/// The account id of the channel-level bot.
pub const DEFAULT_ACCOUNT: &str = "default";
/// Keys only the plugin reads: never passed to the bridge's checks.
pub const PLUGIN_ONLY_KEYS: &[&str] = &[
    "enabled",
    "accounts",
    "defaultAccount",
    "bridgePath",
    "name",
    "ackReaction",
    "streaming",
    "thread",
];
/// The default account's connection keys that may come from the environment.
pub const ENV_FALLBACKS: &[(&str, &str)] = &[
    ("serverUrl", "ROCKETCHAT_URL"),
    ("userId", "ROCKETCHAT_USER_ID"),
    ("username", "ROCKETCHAT_USERNAME"),
    ("authToken", "ROCKETCHAT_AUTH_TOKEN"),
];

/// Why the file could not be read at all (`doctor` exits 2).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReadError {
    /// The file cannot be opened or read.
    #[error("cannot read {path}: {reason}")]
    Io {
        /// The file.
        path: String,
        /// The system's reason.
        reason: String,
    },
    /// It is not JSON5, or not one object.
    #[error("{path} is not a JSON5 object ({reason})")]
    Syntax {
        /// The file.
        path: String,
        /// Where and what, without quoting the file (it may hold tokens).
        reason: String,
    },
}

/// Reads and parses the file.
pub fn read_file(path: &Path) -> Result<Value, ReadError> {
    let text = std::fs::read_to_string(path).map_err(|e| ReadError::Io {
        path: path.display().to_string(),
        reason: e.to_string(),
    })?;
    parse(&text).map_err(|reason| ReadError::Syntax {
        path: path.display().to_string(),
        reason,
    })
}

/// Parses JSON5 text into one object. The error says where, never what was there.
pub fn parse(text: &str) -> Result<Value, String> {
    match json5::from_str::<Value>(text) {
        Ok(value) if value.is_object() => Ok(value),
        Ok(_) => Err("the top level must be an object".into()),
        Err(e) => {
            let what = e
                .code()
                .map_or_else(|| "not valid JSON5".to_owned(), |code| code.to_string());
            Err(match e.position() {
                Some(p) => format!("line {}, column {}: {what}", p.line + 1, p.column + 1),
                None => what,
            })
        }
    }
}

/// One account as the checks see it.
#[derive(Debug, Clone)]
pub struct Account {
    /// The OpenClaw account id.
    pub account_id: String,
    /// `enabled` is not `false` at the channel or the account level.
    pub enabled: bool,
    /// The bridge configuration object: merged, plugin-only keys out, `accountId` set,
    /// `authToken` resolved when it could be (contains the token: never print it).
    pub config: Value,
    /// What reading the account found (a secret that did not resolve, a plain-text
    /// token, the account named by `--account` not existing, ...).
    pub checks: Vec<Check>,
}

impl Account {
    /// Whether a check found a problem that stops the server checks.
    pub fn has_errors(&self) -> bool {
        self.checks.iter().any(|c| c.status == Status::Fail)
    }

    /// Where a key of this account goes in `openclaw.json`.
    pub fn key_path(&self, key: &str) -> String {
        if self.account_id == DEFAULT_ACCOUNT {
            format!("channels.{CHANNEL}.{key}")
        } else {
            format!(
                "channels.{CHANNEL}.accounts.{}.{key} (or channels.{CHANNEL}.{key})",
                self.account_id
            )
        }
    }
}

/// The accounts of `root` (the whole `openclaw.json`), or only `only`. `env` reads
/// environment variables (a parameter, so tests need not touch the process's).
pub fn accounts(
    root: &Value,
    only: Option<&str>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Vec<Account> {
    let section = root
        .get("channels")
        .and_then(|c| c.get(CHANNEL))
        .and_then(Value::as_object);
    let Some(section) = section else {
        return vec![Account {
            account_id: only.unwrap_or(DEFAULT_ACCOUNT).to_owned(),
            enabled: true,
            config: Value::Object(Map::new()),
            checks: vec![Check::new(
                Status::Fail,
                format!("channels.{CHANNEL}"),
                "missing: the file configures no Rocket.Chat channel",
            )
            .with_hint("run `openclaw channels add --channel rocketchat`, or add the block `bridge sim` prints")],
        }];
    };
    let own_accounts = section.get("accounts").and_then(Value::as_object);
    let mut ids: Vec<String> = own_accounts
        .map(|a| a.keys().cloned().collect())
        .unwrap_or_default();
    let names_a_bot = section.contains_key("userId") || section.contains_key("authToken");
    if names_a_bot && !ids.iter().any(|id| id == DEFAULT_ACCOUNT) {
        ids.insert(0, DEFAULT_ACCOUNT.to_owned());
    }
    if ids.is_empty() {
        ids.push(DEFAULT_ACCOUNT.to_owned());
    }
    if let Some(only) = only {
        if !ids.iter().any(|id| id == only) {
            return vec![Account {
                account_id: only.to_owned(),
                enabled: true,
                config: Value::Object(Map::new()),
                checks: vec![Check::new(
                    Status::Fail,
                    "account",
                    format!(
                        "no account {only:?} in channels.{CHANNEL} (accounts: {})",
                        ids.join(", ")
                    ),
                )],
            }];
        }
        ids.retain(|id| id == only);
    }
    ids.into_iter()
        .map(|id| account(root, section, own_accounts, id, env))
        .collect()
}

fn account(
    root: &Value,
    section: &Map<String, Value>,
    own_accounts: Option<&Map<String, Value>>,
    account_id: String,
    env: &dyn Fn(&str) -> Option<String>,
) -> Account {
    let own = own_accounts
        .and_then(|a| a.get(&account_id))
        .and_then(Value::as_object);
    let mut merged = section.clone();
    merged.remove("accounts");
    merged.remove("defaultAccount");
    for (k, v) in own.into_iter().flatten() {
        merged.insert(k.clone(), v.clone());
    }
    let disabled = |o: Option<&Map<String, Value>>| {
        o.and_then(|o| o.get("enabled")) == Some(&Value::Bool(false))
    };
    let enabled = !disabled(Some(section)) && !disabled(own);
    if account_id == DEFAULT_ACCOUNT {
        for (key, var) in ENV_FALLBACKS {
            if merged.contains_key(*key) {
                continue;
            }
            if let Some(value) = env(var).filter(|v| !v.trim().is_empty()) {
                let value = if *key == "authToken" {
                    serde_json::json!({"source": "env", "provider": "default", "id": var})
                } else {
                    Value::String(value.trim().to_owned())
                };
                merged.insert((*key).to_owned(), value);
            }
        }
    }
    // Slack spells the thread seed `thread.initialHistoryLimit`; the plugin takes both.
    if !merged.contains_key("threadInitialHistoryLimit") {
        if let Some(limit) = merged
            .get("thread")
            .and_then(|t| t.get("initialHistoryLimit"))
        {
            let limit = limit.clone();
            merged.insert("threadInitialHistoryLimit".into(), limit);
        }
    }
    for key in PLUGIN_ONLY_KEYS {
        merged.remove(*key);
    }
    merged.insert("accountId".into(), Value::String(account_id.clone()));
    let mut out = Account {
        account_id,
        enabled,
        config: Value::Null,
        checks: Vec::new(),
    };
    if let Some(token) = merged.get("authToken").cloned() {
        match resolve_secret(root, &token, env) {
            Ok((value, source)) => {
                merged.insert("authToken".into(), Value::String(value));
                let check = match source {
                    Source::Plain => Check::new(
                        Status::Warn,
                        "authToken",
                        format!("plain text in the config ({})", out.key_path("authToken")),
                    )
                    .with_hint("use a secret reference: { source: \"env\", provider: \"default\", id: \"RC_TOKEN\" }"),
                    Source::Described(how) => Check::new(Status::Pass, "authToken", how),
                };
                out.checks.push(check);
            }
            Err(problem) => {
                // The checks go on without it; the server checks do not run.
                merged.remove("authToken");
                let mut check = Check::new(Status::Fail, "authToken", problem.detail);
                check.hint = problem.hint;
                out.checks.push(check);
            }
        }
    }
    out.config = Value::Object(merged);
    out
}

/// Where a resolved token came from.
enum Source {
    /// A plain string in the file.
    Plain,
    /// A reference, described for the report (`from the environment variable RC_TOKEN`).
    Described(String),
}

/// Why a reference did not resolve.
struct SecretProblem {
    detail: String,
    hint: Option<String>,
}

impl SecretProblem {
    fn new(detail: impl Into<String>) -> Self {
        Self {
            detail: detail.into(),
            hint: None,
        }
    }

    fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
}

/// OpenClaw's environment-variable name grammar.
fn is_env_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_uppercase())
        && name.len() <= 128
        && chars.all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
}

/// The env shorthands `"${VAR}"` and `"$VAR"`.
fn env_shorthand(text: &str) -> Option<&str> {
    let name = text
        .strip_prefix("${")
        .and_then(|rest| rest.strip_suffix('}'))
        .or_else(|| text.strip_prefix('$'))?;
    is_env_name(name).then_some(name)
}

fn resolve_secret(
    root: &Value,
    value: &Value,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<(String, Source), SecretProblem> {
    let reference = match value {
        Value::String(text) => match env_shorthand(text) {
            Some(var) => return from_env(var, env),
            None => return Ok((text.clone(), Source::Plain)),
        },
        Value::Object(reference) => reference,
        _ => {
            return Err(SecretProblem::new(
                "must be a string or a secret reference {source, provider?, id}",
            ))
        }
    };
    let text = |key: &str| reference.get(key).and_then(Value::as_str);
    let providers = root
        .pointer("/secrets/providers")
        .and_then(Value::as_object);
    match text("source") {
        Some("env") => {
            let id = text("id").ok_or_else(|| {
                SecretProblem::new("the env reference has no id (the variable's name)")
            })?;
            if let Some(provider) = text("provider") {
                let entry = providers.and_then(|p| p.get(provider));
                match entry {
                    // Without an entry, an env reference reads the process environment.
                    None => {}
                    Some(entry) if entry.get("source").and_then(Value::as_str) != Some("env") => {
                        return Err(SecretProblem::new(format!(
                            "secrets.providers.{provider} is not an env provider"
                        )))
                    }
                    Some(entry) => {
                        if let Some(allow) = entry.get("allowlist").and_then(Value::as_array) {
                            if !allow.iter().any(|a| a.as_str() == Some(id)) {
                                return Err(SecretProblem::new(format!(
                                    "the environment variable {id} is not in secrets.providers.{provider}.allowlist"
                                )));
                            }
                        }
                    }
                }
            }
            from_env(id, env)
        }
        Some("file") => {
            if let Some(path) = text("path") {
                let path = expand_home(path, env);
                let content = read_secret_file(&path)?;
                return Ok((
                    content.trim().to_owned(),
                    Source::Described(format!("read from the file {}", path.display())),
                ));
            }
            let provider = text("provider")
                .map(str::to_owned)
                .or_else(|| {
                    root.pointer("/secrets/defaults/file")
                        .and_then(Value::as_str)
                        .map(str::to_owned)
                })
                .unwrap_or_else(|| "default".to_owned());
            let entry = providers
                .and_then(|p| p.get(&provider))
                .filter(|e| e.get("source").and_then(Value::as_str) == Some("file"))
                .ok_or_else(|| {
                    SecretProblem::new(format!(
                        "the file reference names the provider {provider:?}, and secrets.providers has no file provider by that name"
                    ))
                    .hint(format!("add secrets.providers.{provider}: {{ source: \"file\", path: \"...\", mode: \"singleValue\" }}"))
                })?;
            let path = entry.get("path").and_then(Value::as_str).ok_or_else(|| {
                SecretProblem::new(format!("secrets.providers.{provider} has no path"))
            })?;
            let path = expand_home(path, env);
            let content = read_secret_file(&path)?;
            let id = text("id").unwrap_or("value");
            let where_ = format!("the file {} (provider {provider})", path.display());
            match entry.get("mode").and_then(Value::as_str).unwrap_or("json") {
                "singleValue" => Ok((
                    content.trim().to_owned(),
                    Source::Described(format!("read from {where_}")),
                )),
                "json" => {
                    let doc: Value = serde_json::from_str(&content).map_err(|e| {
                        SecretProblem::new(format!(
                            "{where_} is not JSON (line {}, column {})",
                            e.line(),
                            e.column()
                        ))
                    })?;
                    match doc.pointer(id) {
                        Some(Value::String(s)) if !s.trim().is_empty() => Ok((
                            s.trim().to_owned(),
                            Source::Described(format!("read from {where_} at {id}")),
                        )),
                        _ => Err(SecretProblem::new(format!(
                            "{where_} has no string at the JSON pointer {id:?}"
                        ))),
                    }
                }
                other => Err(SecretProblem::new(format!(
                    "secrets.providers.{provider}.mode {other:?} is neither \"json\" nor \"singleValue\""
                ))),
            }
        }
        Some(source @ ("exec" | "store")) => Err(SecretProblem::new(format!(
            "{source} secret references are resolved by OpenClaw only"
        ))
        .hint("run `openclaw doctor`, or give bridge doctor the token through an env reference")),
        Some(other) => Err(SecretProblem::new(format!(
            "unknown secret source {other:?} (env, file, exec or store)"
        ))),
        None => Err(SecretProblem::new(
            "the secret reference has no source (env, file, exec or store)",
        )),
    }
}

fn from_env(
    var: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<(String, Source), SecretProblem> {
    match env(var) {
        Some(value) if !value.trim().is_empty() => Ok((
            value.trim().to_owned(),
            Source::Described(format!("from the environment variable {var}")),
        )),
        Some(_) => Err(SecretProblem::new(format!(
            "the environment variable {var} is empty"
        ))),
        None => Err(
            SecretProblem::new(format!("the environment variable {var} is not set")).hint(format!(
            "set {var} to the bot's personal access token where the gateway and this command run"
        )),
        ),
    }
}

fn read_secret_file(path: &Path) -> Result<String, SecretProblem> {
    std::fs::read_to_string(path).map_err(|e| {
        SecretProblem::new(format!(
            "cannot read the secret file {}: {e}",
            path.display()
        ))
    })
}

/// `~/x` under `$HOME`, as OpenClaw reads provider paths.
fn expand_home(path: &str, env: &dyn Fn(&str) -> Option<String>) -> PathBuf {
    match (path.strip_prefix("~/"), env("HOME")) {
        (Some(rest), Some(home)) => Path::new(&home).join(rest),
        _ => PathBuf::from(path),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn no_env(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn json5_with_comments_parses_and_errors_say_where_not_what() {
        let v = parse("{ // a comment\n channels: { rocketchat: { userId: 'u', }, }, }").unwrap();
        assert_eq!(v["channels"]["rocketchat"]["userId"], json!("u"));
        let err = parse("{\n  authToken: 'SECRET-XYZ' oops\n}").unwrap_err();
        assert!(err.starts_with("line 2"), "{err}");
        assert!(!err.contains("SECRET"), "{err}");
        assert!(parse("[1]").is_err());
    }

    #[test]
    fn accounts_merge_over_the_channel_and_lose_the_plugin_keys() {
        let root = json!({"channels": {"rocketchat": {
            "serverUrl": "https://chat", "userId": "top", "username": "bot", "authToken": "t",
            "enabled": true, "bridgePath": "/x", "defaultAccount": "ops", "dmPolicy": "open",
            "thread": {"initialHistoryLimit": 3},
            "accounts": {"ops": {"userId": "ops-id", "name": "Ops", "enabled": false}}}}});
        let accounts = accounts(&root, None, &no_env);
        let ids: Vec<&str> = accounts.iter().map(|a| a.account_id.as_str()).collect();
        assert_eq!(ids, ["default", "ops"]);
        let ops = &accounts[1];
        assert!(!ops.enabled);
        assert_eq!(ops.config["userId"], json!("ops-id"));
        assert_eq!(ops.config["serverUrl"], json!("https://chat"));
        assert_eq!(ops.config["accountId"], json!("ops"));
        assert_eq!(ops.config["threadInitialHistoryLimit"], json!(3));
        for key in PLUGIN_ONLY_KEYS {
            assert!(ops.config.get(*key).is_none(), "{key}");
        }
        assert!(accounts[0].enabled);
        assert_eq!(
            accounts[0].checks[0].status,
            Status::Warn,
            "plain-text token"
        );
    }

    #[test]
    fn the_default_account_takes_its_connection_from_the_environment() {
        let root = json!({"channels": {"rocketchat": {"dmPolicy": "pairing"}}});
        let env = |name: &str| match name {
            "ROCKETCHAT_URL" => Some("https://env-chat".to_owned()),
            "ROCKETCHAT_AUTH_TOKEN" => Some("ENV-TOKEN".to_owned()),
            _ => None,
        };
        let accounts = accounts(&root, None, &env);
        assert_eq!(accounts.len(), 1);
        assert_eq!(accounts[0].config["serverUrl"], json!("https://env-chat"));
        assert_eq!(accounts[0].config["authToken"], json!("ENV-TOKEN"));
        assert!(accounts[0].checks[0]
            .detail
            .contains("ROCKETCHAT_AUTH_TOKEN"));
    }

    #[test]
    fn secret_references_resolve_and_their_problems_name_the_variable_or_file() {
        let dir = std::env::temp_dir().join(format!("bridge-openclaw-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let single = dir.join("token.txt");
        std::fs::write(&single, "FILE-TOKEN\n").unwrap();
        let doc = dir.join("secrets.json");
        std::fs::write(&doc, r#"{"rc": {"ops": "JSON-TOKEN"}}"#).unwrap();
        let root = json!({"secrets": {"providers": {
            "one": {"source": "file", "path": single, "mode": "singleValue"},
            "main": {"source": "file", "path": doc},
            "strict": {"source": "env", "allowlist": ["RC_OK"]}}}});
        let env = |name: &str| (name == "RC_OK").then(|| "ENV-TOKEN".to_owned());
        let ok = |v: Value| resolve_secret(&root, &v, &env).map(|(t, _)| t).ok();
        assert_eq!(
            ok(json!({"source": "env", "provider": "default", "id": "RC_OK"})).as_deref(),
            Some("ENV-TOKEN")
        );
        assert_eq!(ok(json!("${RC_OK}")).as_deref(), Some("ENV-TOKEN"));
        assert_eq!(ok(json!("$RC_OK")).as_deref(), Some("ENV-TOKEN"));
        assert_eq!(
            ok(json!({"source": "file", "provider": "one", "id": "value"})).as_deref(),
            Some("FILE-TOKEN")
        );
        assert_eq!(
            ok(json!({"source": "file", "provider": "main", "id": "/rc/ops"})).as_deref(),
            Some("JSON-TOKEN")
        );
        assert_eq!(
            ok(json!({"source": "file", "path": single})).as_deref(),
            Some("FILE-TOKEN")
        );
        assert_eq!(ok(json!("plain-token")).as_deref(), Some("plain-token"));

        let err = |v: Value| match resolve_secret(&root, &v, &env) {
            Ok(_) => panic!("{v} resolved"),
            Err(e) => e.detail,
        };
        assert!(err(json!({"source": "env", "id": "RC_MISSING"})).contains("RC_MISSING is not set"));
        assert!(
            err(json!({"source": "env", "provider": "strict", "id": "RC_OTHER"}))
                .contains("allowlist")
        );
        assert!(
            err(json!({"source": "file", "provider": "nope", "id": "/x"})).contains("\"nope\"")
        );
        assert!(
            err(json!({"source": "file", "provider": "main", "id": "/rc/dev"})).contains("/rc/dev")
        );
        assert!(err(json!({"source": "file", "path": dir.join("absent")})).contains("absent"));
        assert!(
            err(json!({"source": "exec", "provider": "vault", "id": "x"}))
                .contains("OpenClaw only")
        );
        assert!(err(json!({"id": "X"})).contains("no source"));
        assert!(err(json!(7)).contains("secret reference"));
    }

    #[test]
    fn an_unknown_account_or_a_missing_channel_is_a_problem_not_a_crash() {
        let root = json!({"channels": {"rocketchat": {"accounts": {"a": {}, "b": {}}}}});
        let only = accounts(&root, Some("c"), &no_env);
        assert!(only[0].has_errors());
        assert!(
            only[0].checks[0].detail.contains("a, b"),
            "{:?}",
            only[0].checks
        );
        assert_eq!(accounts(&root, Some("b"), &no_env).len(), 1);
        let none = accounts(&json!({}), None, &no_env);
        assert!(none[0].has_errors());
        assert_eq!(none[0].checks[0].name, "channels.rocketchat");
    }
}
