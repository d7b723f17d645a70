//! The configuration line: the first line on stdin, one JSON object with the account's
//! settings, secrets included (`docs/bridge-protocol.md`, "The configuration line").
//!
//! The bridge reads the keys that are its own (`accountId`, `approvedSenders`), hands the
//! connection keys to the backend's config parser and the policy keys to `channel-api`'s,
//! and reports the first bad value as a [`ConfigError`] naming the field.

use std::fmt;

use channel_api::config::ChannelConfig;
use channel_api::{AccountId, UserId};
use serde_json::{Map, Value};

/// A configuration value that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct ConfigError {
    /// The key, in its JSON spelling (dotted for nested keys); `config` for the whole line.
    pub field: String,
    /// What is wrong with it. Never quotes a secret.
    pub reason: String,
}

impl ConfigError {
    /// An error about `field`.
    pub fn new(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            reason: reason.into(),
        }
    }
}

/// The keys the connection (backend) uses; everything else is policy or the bridge's own.
pub const CONNECTION_KEYS: &[&str] = &[
    "serverUrl",
    "userId",
    "username",
    "authToken",
    "dangerouslyAllowInsecure",
    "caFile",
    "revalidateIntervalSeconds",
    "maxFrameBytes",
    "timeouts",
];

/// The parsed configuration line.
///
/// It keeps the whole JSON object so each component parses its own keys, which includes
/// the token: `Debug` shows only the account id.
#[derive(Clone)]
pub struct AccountConfig {
    account_id: AccountId,
    approved_senders: Vec<UserId>,
    channel: ChannelConfig,
    object: Map<String, Value>,
}

impl fmt::Debug for AccountConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccountConfig")
            .field("account_id", &self.account_id)
            .field("approved_senders", &self.approved_senders.len())
            .finish_non_exhaustive()
    }
}

impl AccountConfig {
    /// Parses the configuration line.
    pub fn from_line(line: &str) -> Result<Self, ConfigError> {
        // serde_json's message may quote the input, which may hold the token: report only
        // where the problem is.
        let value: Value = serde_json::from_str(line).map_err(|e| {
            ConfigError::new(
                "config",
                format!(
                    "the first line must be one JSON object (error at column {})",
                    e.column()
                ),
            )
        })?;
        Self::from_value(value)
    }

    /// Parses an already decoded configuration object.
    pub fn from_value(value: Value) -> Result<Self, ConfigError> {
        let Value::Object(object) = value else {
            return Err(ConfigError::new("config", "must be a JSON object"));
        };
        let account_id = match object.get("accountId") {
            None | Some(Value::Null) => AccountId::new("default"),
            Some(Value::String(s)) if valid_account_id(s) => AccountId::new(s.clone()),
            Some(_) => {
                return Err(ConfigError::new(
                    "accountId",
                    "must be a non-empty string without ':' or whitespace",
                ))
            }
        };
        let approved_senders = string_list(&object, "approvedSenders")?
            .into_iter()
            .map(UserId::new)
            .collect();
        // The policy keys; `channel-api` ignores the keys it does not own.
        let channel = ChannelConfig::from_value(Value::Object(object.clone()))
            .map_err(|e| ConfigError::new(e.field.clone(), e.problem.to_string()))?;
        Ok(Self {
            account_id,
            approved_senders,
            channel,
            object,
        })
    }

    /// The OpenClaw account id.
    pub fn account_id(&self) -> &AccountId {
        &self.account_id
    }

    /// DM senders approved through OpenClaw pairing, as configured at start.
    pub fn approved_senders(&self) -> &[UserId] {
        &self.approved_senders
    }

    /// The policy configuration (`dmPolicy`, `rooms`, `textChunkLimit`, ...).
    pub fn channel(&self) -> &ChannelConfig {
        &self.channel
    }

    /// The whole configuration object (contains the token: never log it).
    pub fn object(&self) -> &Map<String, Value> {
        &self.object
    }

    /// Only the connection keys that are present, for the backend's parser.
    pub fn connection_object(&self) -> Map<String, Value> {
        self.object
            .iter()
            .filter(|(k, _)| CONNECTION_KEYS.contains(&k.as_str()))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }

    /// A string key, if present.
    pub fn str_key(&self, key: &str) -> Option<&str> {
        self.object.get(key).and_then(Value::as_str)
    }
}

fn valid_account_id(s: &str) -> bool {
    !s.is_empty() && !s.contains(':') && !s.chars().any(char::is_whitespace)
}

/// An optional list of strings.
fn string_list(object: &Map<String, Value>, key: &str) -> Result<Vec<String>, ConfigError> {
    match object.get(key) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .iter()
            .map(|item| match item {
                Value::String(s) => Ok(s.clone()),
                _ => Err(ConfigError::new(key, "must be a list of strings")),
            })
            .collect(),
        Some(_) => Err(ConfigError::new(key, "must be a list of strings")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_own_keys_are_read() {
        let c = AccountConfig::from_line(r#"{"serverUrl":"https://x","approvedSenders":["u1"]}"#)
            .unwrap();
        assert_eq!(c.account_id().as_str(), "default");
        assert_eq!(c.approved_senders(), &[UserId::new("u1")]);
        assert_eq!(c.str_key("serverUrl"), Some("https://x"));
    }

    #[test]
    fn bad_values_name_the_field_and_never_quote_the_token() {
        let cases = [
            (r#"[1]"#, "config"),
            (r#"{"accountId":"a:b"}"#, "accountId"),
            (r#"{"accountId":""}"#, "accountId"),
            (r#"{"approvedSenders":"u1"}"#, "approvedSenders"),
            (r#"{"approvedSenders":[1]}"#, "approvedSenders"),
            (r#"{"dmPolicy":"sometimes"}"#, "dmPolicy"),
            (r#"{"textChunkLimit":1}"#, "textChunkLimit"),
        ];
        for (line, field) in cases {
            assert_eq!(
                AccountConfig::from_line(line).unwrap_err().field,
                field,
                "{line}"
            );
        }
        let err = AccountConfig::from_line(r#"{"authToken":"SECRET-TOKEN" oops}"#).unwrap_err();
        assert_eq!(err.field, "config");
        assert!(!err.to_string().contains("SECRET"));
    }

    #[test]
    fn debug_output_hides_the_token() {
        let c = AccountConfig::from_line(r#"{"authToken":"SECRET-TOKEN"}"#).unwrap();
        assert!(!format!("{c:?}").contains("SECRET"));
        assert_eq!(
            c.connection_object().get("authToken"),
            Some(&Value::String("SECRET-TOKEN".into()))
        );
    }
}
