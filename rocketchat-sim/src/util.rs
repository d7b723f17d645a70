//! Small helpers: Meteor-style random ids, token hashing, dates in both wire forms.

use base64::Engine;
use chrono::{DateTime, SecondsFormat, TimeZone, Utc};
use rand::Rng;
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

/// Meteor `Random.id()` alphabet (no look-alike characters).
const UNMISTAKABLE: &[u8] = b"23456789ABCDEFGHJKLMNPQRSTWXYZabcdefghijkmnopqrstuvwxyz";
/// Meteor `Random.secret()` alphabet (base64 url-ish).
const BASE64_CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

fn random_from(alphabet: &[u8], len: usize) -> String {
    let mut rng = rand::rng();
    (0..len)
        .map(|_| alphabet[rng.random_range(0..alphabet.len())] as char)
        .collect()
}

/// A 17-character Meteor id (`Random.id()`), used for sessions, users, rooms and messages.
pub(crate) fn random_id() -> String {
    random_from(UNMISTAKABLE, 17)
}

/// A 43-character secret (`Random.secret()`), used for PATs and login tokens.
pub(crate) fn random_secret() -> String {
    random_from(BASE64_CHARS, 43)
}

/// `Accounts._hashLoginToken`: base64 of the SHA-256 of the token.
pub(crate) fn hash_token(token: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(Sha256::digest(token.as_bytes()))
}

/// Lower-case hex SHA-256, the 2FA `password` method code.
pub(crate) fn sha256_hex(text: &str) -> String {
    Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Now, in epoch milliseconds.
pub(crate) fn now_ms() -> i64 {
    Utc::now().timestamp_millis()
}

/// Now, in epoch nanoseconds (the firehose stamp).
pub(crate) fn now_nanos() -> i128 {
    i128::from(Utc::now().timestamp_nanos_opt().unwrap_or(0))
}

/// The EJSON form of a date, as DDP sends it: `{"$date": ms}`.
pub(crate) fn ejson_date(ms: i64) -> Value {
    json!({ "$date": ms })
}

/// An ISO-8601 string with milliseconds and `Z`, as REST (`JSON.stringify`) sends it.
pub(crate) fn iso(ms: i64) -> String {
    match Utc.timestamp_millis_opt(ms).single() {
        Some(t) => t.to_rfc3339_opts(SecondsFormat::Millis, true),
        None => String::new(),
    }
}

/// Parses what JavaScript `Date.parse` accepts for our purposes: RFC 3339, or epoch ms digits.
pub(crate) fn parse_date_ms(text: &str) -> Option<i64> {
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Some(t.timestamp_millis());
    }
    if let Ok(t) = chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f") {
        return Some(t.and_utc().timestamp_millis());
    }
    if let Ok(d) = chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        return d
            .and_hms_opt(0, 0, 0)
            .map(|t| t.and_utc().timestamp_millis());
    }
    None
}

/// Reads an EJSON date (`{"$date": ms}`) from a DDP parameter.
pub(crate) fn read_ejson_date(v: &Value) -> Option<i64> {
    v.as_object()
        .filter(|o| o.len() == 1)
        .and_then(|o| o.get("$date"))
        .and_then(Value::as_i64)
}

/// Turns a document in DDP form into REST form: every `{"$date": ms}` becomes an ISO string.
pub(crate) fn to_rest(v: &Value) -> Value {
    match v {
        Value::Object(o) => {
            if let Some(ms) = read_ejson_date(v) {
                return Value::String(iso(ms));
            }
            let mut out = Map::with_capacity(o.len());
            for (k, val) in o {
                out.insert(k.clone(), to_rest(val));
            }
            Value::Object(out)
        }
        Value::Array(a) => Value::Array(a.iter().map(to_rest).collect()),
        other => other.clone(),
    }
}

/// JavaScript `String.prototype.length`: UTF-16 code units.
pub(crate) fn utf16_len(text: &str) -> usize {
    text.encode_utf16().count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_have_meteor_shapes() {
        assert_eq!(random_id().len(), 17);
        assert_eq!(random_secret().len(), 43);
        assert_ne!(random_id(), random_id());
    }

    #[test]
    fn token_hash_is_sha256_base64() {
        // sha256("abc") base64, computed independently.
        assert_eq!(
            hash_token("abc"),
            "ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0="
        );
    }

    #[test]
    fn dates_convert_both_ways() {
        assert_eq!(iso(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(parse_date_ms("1970-01-01T00:00:01.500Z"), Some(1500));
        let rest = to_rest(&json!({"ts": {"$date": 1000}, "a": [{"$date": 0}], "n": 1}));
        assert_eq!(
            rest,
            json!({"ts": "1970-01-01T00:00:01.000Z", "a": ["1970-01-01T00:00:00.000Z"], "n": 1})
        );
    }

    #[test]
    fn length_counts_utf16_units() {
        assert_eq!(utf16_len("a😀"), 3);
    }
}
