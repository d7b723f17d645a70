//! Which keys the configuration line may carry, as one JSON schema: the bridge's own keys
//! ([`BridgeKeys`]), the policy's (`channel_api::config::ChannelConfig::schema`) and the
//! backend's (the host passes them as [`BackendKeys`]). The same schema
//!
//! - refuses a misspelled key, with its path and the closest valid name
//!   ([`unknown_keys`]): `dmpolicy` does not silently leave DMs on pairing;
//! - is what the OpenClaw plugin's manifest declares (the binary's `bridge schema`).

use schemars::JsonSchema;
use serde_json::{Map, Value};

use super::ConfigError;

/// The bridge's own keys of the configuration line: the schema of what
/// [`crate::AccountConfig`] reads itself. (Policy keys are `channel-api`'s; connection
/// keys the backend's.)
#[derive(Debug, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)] // read as a schema, never built
pub(crate) struct BridgeKeys {
    /// The OpenClaw account id: part of every conversation id (`default`). No `:` or
    /// white space.
    account_id: Option<String>,
    /// DM senders approved through OpenClaw pairing (user ids); `setApprovedSenders`
    /// replaces them.
    approved_senders: Option<Vec<String>>,
    /// The largest file downloaded for the agent or uploaded for it, in MiB (20).
    media_max_mb: Option<f64>,
    /// Where downloaded attachments are written (default: a fresh private directory
    /// under the system temp dir, removed at exit).
    media_dir: Option<String>,
    /// Room messages given as context with an admitted room message (50; 0 = none).
    history_limit: Option<u32>,
    /// The same for DMs (0, Slack's default).
    dm_history_limit: Option<u32>,
    /// Per DM, by the other user's id: `historyLimit` there over `dmHistoryLimit` (Slack's
    /// `dms.<userId>.historyLimit`).
    dms: Option<std::collections::BTreeMap<String, DmKeys>>,
    /// Messages from the start of a thread given when the core first dispatches from it
    /// (20).
    thread_initial_history_limit: Option<u32>,
    /// Which recent history a message in a thread carries: `thread` (the thread's
    /// messages since the bot's last turn there; Slack's default) or `channel` (the
    /// room's). Slack's `thread.historyScope`.
    thread_history_scope: Option<super::ThreadHistoryScope>,
    /// Where the core keeps the point it has read up to (a small JSON file, mode 0600):
    /// with it, a restarted bridge catches up once on what it had not handled.
    state_file: Option<String>,
    /// A resume point older than this is ignored (3600; 0 turns resuming off).
    resume_max_age_seconds: Option<u32>,
}

/// One `dms` entry.
#[derive(Debug, Default, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[allow(dead_code)] // read as a schema, never built
pub(crate) struct DmKeys {
    /// DM messages given as context in this DM (over `dmHistoryLimit`; 0 = none).
    history_limit: Option<u32>,
}

/// The keys a backend owns in the configuration line, as the JSON schema of its
/// configuration (an object schema: `properties`, `required`, `$defs`). The host passes
/// it; the core knows no backend.
#[derive(Debug, Clone, PartialEq)]
pub struct BackendKeys {
    schema: Option<Value>,
}

impl BackendKeys {
    /// The backend's keys are the properties of `schema`.
    pub fn from_schema(schema: Value) -> Self {
        Self {
            schema: Some(schema),
        }
    }

    /// Any key that is neither the bridge's nor the policy's belongs to the backend, and
    /// nothing is checked about it (for backends without a schema, like the test mock).
    pub fn any() -> Self {
        Self { schema: None }
    }

    /// The backend's required keys.
    fn required(&self) -> Vec<String> {
        self.schema
            .as_ref()
            .and_then(|s| s.get("required"))
            .and_then(Value::as_array)
            .map(|keys| {
                keys.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// The schema of the bridge's own keys.
pub(crate) fn bridge_schema() -> Value {
    serde_json::to_value(schemars::schema_for!(BridgeKeys)).unwrap_or_default()
}

/// The bridge's own key names.
pub(crate) fn bridge_key_names() -> Vec<String> {
    property_names(&bridge_schema())
}

/// The policy's key names.
pub(crate) fn channel_key_names() -> Vec<String> {
    property_names(&channel_api::config::ChannelConfig::schema())
}

fn property_names(schema: &Value) -> Vec<String> {
    schema
        .get("properties")
        .and_then(Value::as_object)
        .map(|p| p.keys().cloned().collect())
        .unwrap_or_default()
}

/// The whole configuration line's schema: one object with the bridge's, the policy's and
/// the backend's properties (their definitions merged), closed to other keys when the
/// backend names its keys.
pub fn account_schema(backend: &BackendKeys) -> Value {
    let parts = [
        Some(bridge_schema()),
        Some(channel_api::config::ChannelConfig::schema()),
        backend.schema.clone(),
    ];
    let mut properties = Map::new();
    let mut defs = Map::new();
    for part in parts.into_iter().flatten() {
        if let Some(p) = part.get("properties").and_then(Value::as_object) {
            properties.extend(p.clone());
        }
        if let Some(d) = part.get("$defs").and_then(Value::as_object) {
            defs.extend(d.clone());
        }
    }
    let mut schema = serde_json::json!({
        "type": "object",
        "properties": properties,
        "additionalProperties": backend.schema.is_none(),
        "required": backend.required(),
    });
    if !defs.is_empty() {
        schema["$defs"] = Value::Object(defs);
    }
    schema
}

/// What the OpenClaw plugin adds to the account keys in its `channels.<id>` block: its own
/// keys (read by the plugin alone), the channel block's keys, the shape of a secret input
/// (a literal or a reference OpenClaw resolves), and which account keys hold secrets. The
/// plugin owns this file (`openclaw-plugin/schema/plugin-keys.json`); the bridge owns the
/// rest of the schema.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PluginKeys {
    /// The plugin's own keys of each account (JSON schema properties).
    pub account_properties: Map<String, Value>,
    /// Keys of the channel block only (besides `accounts`, which this adds).
    pub channel_properties: Map<String, Value>,
    /// The schema of a secret input.
    pub secret_input: Value,
    /// The account keys that hold secrets.
    pub secrets: Vec<String>,
    /// Bridge keys the plugin fills in itself (the account id from the `accounts` key,
    /// the senders approved through pairing): not the operator's to write.
    #[serde(default)]
    pub plugin_sets: Vec<String>,
    /// The plugin's own keys of a `rooms` entry (per-room agent policy: tools, skills,
    /// system prompt), added to every entry's schema; the plugin reads them and strips
    /// them from the configuration line.
    #[serde(default)]
    pub room_properties: Map<String, Value>,
}

/// The JSON schema of OpenClaw's `channels.<id>` block for this channel, generated from
/// the Rust types: every account key (the bridge's, the policy's, the backend's, and the
/// plugin's own), with the secret keys as secret inputs, once at the channel level and
/// again per account under `accounts`. Definitions are inlined (the manifest is read by
/// tools that may not follow `$ref`); nothing is required at the channel level (an account
/// may live under `accounts`).
pub fn openclaw_channel_schema(backend: &BackendKeys, plugin: &PluginKeys) -> Value {
    let account = without_nulls(&inline_refs(&account_schema(backend)));
    let mut properties = account
        .get("properties")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    for key in &plugin.plugin_sets {
        properties.remove(key);
    }
    for secret in &plugin.secrets {
        if let Some(slot) = properties.get_mut(secret) {
            let description = slot.get("description").cloned();
            let mut input = plugin.secret_input.clone();
            if let (Some(description), Value::Object(input)) = (description, &mut input) {
                input.entry("description").or_insert(description);
            }
            *slot = input;
        }
    }
    if !plugin.room_properties.is_empty() {
        let entry = properties
            .get_mut("rooms")
            .and_then(|rooms| rooms.get_mut("additionalProperties"))
            .and_then(|entry| entry.get_mut("properties"))
            .and_then(Value::as_object_mut);
        if let Some(entry) = entry {
            entry.extend(plugin.room_properties.clone());
        }
    }
    properties.extend(plugin.account_properties.clone());
    let account_block = serde_json::json!({
        "type": "object",
        "additionalProperties": false,
        "properties": properties.clone(),
    });
    let mut channel = properties;
    channel.extend(plugin.channel_properties.clone());
    channel.insert(
        "accounts".into(),
        serde_json::json!({
            "type": "object",
            "description": "One bot per agent, keyed by account id; an account's keys override the channel-level ones.",
            "additionalProperties": account_block,
        }),
    );
    serde_json::json!({
        "type": "object",
        "additionalProperties": false,
        "properties": channel,
    })
}

/// `schema` as the operator writes it: no `null` as an allowed value (an absent key already
/// means "unset", and OpenClaw's config editor shows `["string", "null"]` as a union to
/// pick from): `type: [T, "null"]` becomes `type: T`, `anyOf: [S, {type: null}]` becomes
/// `S`. No `default`s (see below); a short default is named in the description instead.
fn without_nulls(schema: &Value) -> Value {
    let is_null = |v: &Value| v.get("type").and_then(Value::as_str) == Some("null");
    match schema {
        Value::Object(object) => {
            let mut out = Map::new();
            if let (Some(default), Some(Value::String(description))) =
                (object.get("default"), object.get("description"))
            {
                if !default.is_null() && !description.contains("default") {
                    let shown = match default {
                        Value::String(s) => s.clone(),
                        other => other.to_string(),
                    };
                    if shown.len() <= 40 && !matches!(default, Value::Object(_)) {
                        out.insert(
                            "description".into(),
                            Value::String(format!("{description} Default: `{shown}`.")),
                        );
                    }
                }
            }
            for (key, item) in object {
                match (key.as_str(), item) {
                    ("description", _) if out.contains_key("description") => {}
                    ("type", Value::Array(types)) => {
                        let kept: Vec<Value> = types
                            .iter()
                            .filter(|t| t.as_str() != Some("null"))
                            .cloned()
                            .collect();
                        let kept = match <[Value; 1]>::try_from(kept) {
                            Ok([one]) => one,
                            Err(many) => Value::Array(many),
                        };
                        out.insert(key.clone(), kept);
                    }
                    ("anyOf", Value::Array(options)) if options.iter().any(is_null) => {
                        let kept: Vec<&Value> = options.iter().filter(|o| !is_null(o)).collect();
                        match kept.as_slice() {
                            [Value::Object(only)] => {
                                for (k, v) in only {
                                    out.entry(k.clone()).or_insert_with(|| without_nulls(v));
                                }
                            }
                            _ => {
                                let kept = kept.into_iter().map(without_nulls).collect();
                                out.insert(key.clone(), Value::Array(kept));
                            }
                        }
                    }
                    // OpenClaw fills schema defaults into the config it loads, also under
                    // `accounts.<id>`, where a default would override the channel-level
                    // value the account inherits: defaults stay the bridge's, named in
                    // the description.
                    ("default", _) => {}
                    _ => {
                        out.insert(key.clone(), without_nulls(item));
                    }
                }
            }
            Value::Object(out)
        }
        Value::Array(items) => Value::Array(items.iter().map(without_nulls).collect()),
        other => other.clone(),
    }
}

/// `schema` with every `#/$defs/...` reference replaced by its definition (siblings of
/// the `$ref` kept), and the `$defs`, `$schema` and `title` keys dropped.
fn inline_refs(schema: &Value) -> Value {
    fn walk(value: &Value, defs: &Map<String, Value>, depth: usize) -> Value {
        match value {
            Value::Object(object) => {
                let target = object
                    .get("$ref")
                    .and_then(Value::as_str)
                    .and_then(|r| r.strip_prefix("#/$defs/"))
                    .and_then(|name| defs.get(name));
                let mut out = match target {
                    // Recursive types would never end: stop at a sane depth.
                    Some(def) if depth < 16 => match walk(def, defs, depth + 1) {
                        Value::Object(def) => def,
                        other => return other,
                    },
                    _ => Map::new(),
                };
                for (key, item) in object {
                    if matches!(key.as_str(), "$ref" | "$defs" | "$schema" | "title") {
                        continue;
                    }
                    out.insert(key.clone(), walk(item, defs, depth));
                }
                Value::Object(out)
            }
            Value::Array(items) => {
                Value::Array(items.iter().map(|i| walk(i, defs, depth)).collect())
            }
            other => other.clone(),
        }
    }
    let defs = schema
        .get("$defs")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    walk(schema, &defs, 0)
}

/// Every key of `object` the schema does not know, at any depth, each with its path and
/// the closest valid name, and every required key that is missing.
pub(crate) fn check_keys(object: &Map<String, Value>, schema: &Value) -> Vec<ConfigError> {
    let mut errors = Vec::new();
    walk(object, schema, schema, "", &mut errors);
    if let Some(required) = schema.get("required").and_then(Value::as_array) {
        for key in required.iter().filter_map(Value::as_str) {
            if object.get(key).is_none_or(Value::is_null) {
                errors.push(ConfigError::new(key, "is required"));
            }
        }
    }
    errors
}

fn walk(
    object: &Map<String, Value>,
    schema: &Value,
    root: &Value,
    path: &str,
    errors: &mut Vec<ConfigError>,
) {
    let shape = object_shape(schema, root);
    if !shape.closed && shape.properties.is_empty() && shape.values.is_none() {
        return;
    }
    for (key, value) in object {
        let here = if path.is_empty() {
            key.clone()
        } else {
            format!("{path}.{key}")
        };
        let sub = shape.properties.get(key).or(shape.values.as_ref()).cloned();
        match sub {
            Some(sub) => {
                if let Value::Object(inner) = value {
                    walk(inner, &sub, root, &here, errors);
                }
            }
            None if shape.closed => {
                let names: Vec<&str> = shape.properties.keys().map(String::as_str).collect();
                let reason = match closest(key, &names) {
                    Some(name) => format!("unknown key (did you mean `{name}`?)"),
                    None => "unknown key".to_owned(),
                };
                errors.push(ConfigError::new(here, reason));
            }
            None => {}
        }
    }
}

/// What an object-valued schema allows: named properties, a schema for any other key
/// (`additionalProperties`, a map), and whether other keys are refused.
struct Shape {
    properties: Map<String, Value>,
    values: Option<Value>,
    closed: bool,
}

fn object_shape(schema: &Value, root: &Value) -> Shape {
    let mut shape = Shape {
        properties: Map::new(),
        values: None,
        closed: false,
    };
    collect_shape(schema, root, &mut shape, 0);
    shape
}

fn collect_shape(schema: &Value, root: &Value, shape: &mut Shape, depth: usize) {
    // `$ref` chains and `anyOf` (an `Option<T>`) are shallow in schemars' output.
    if depth > 8 {
        return;
    }
    if let Some(target) = schema
        .get("$ref")
        .and_then(Value::as_str)
        .and_then(|r| r.strip_prefix("#/"))
        .and_then(|r| root.pointer(&format!("/{r}")))
    {
        collect_shape(target, root, shape, depth + 1);
    }
    for key in ["anyOf", "oneOf", "allOf"] {
        for branch in schema
            .get(key)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            collect_shape(branch, root, shape, depth + 1);
        }
    }
    if let Some(properties) = schema.get("properties").and_then(Value::as_object) {
        shape.properties.extend(properties.clone());
        // A struct: closed to other keys unless it says otherwise.
        shape.closed = true;
    }
    match schema.get("additionalProperties") {
        Some(Value::Bool(true)) => shape.closed = false,
        Some(values @ Value::Object(_)) => {
            shape.values = Some(values.clone());
            shape.closed = false;
        }
        _ => {}
    }
}

/// The valid name closest to a misspelled one: the same name in other case, else one
/// within two edits.
fn closest<'a>(key: &str, names: &[&'a str]) -> Option<&'a str> {
    if let Some(same) = names.iter().find(|n| n.eq_ignore_ascii_case(key)) {
        return Some(same);
    }
    names
        .iter()
        .map(|name| {
            (
                strsim::levenshtein(&key.to_lowercase(), &name.to_lowercase()),
                *name,
            )
        })
        .filter(|(distance, _)| *distance <= 2)
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, name)| name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn backend() -> BackendKeys {
        BackendKeys::from_schema(json!({
            "type": "object",
            "properties": {
                "serverUrl": {"type": "string"},
                "timeouts": {"$ref": "#/$defs/Timeouts"},
            },
            "required": ["serverUrl"],
            "$defs": {"Timeouts": {"type": "object", "properties": {"requestTimeoutMs": {}}, "additionalProperties": false}},
        }))
    }

    fn errors(value: Value) -> Vec<(String, String)> {
        let schema = account_schema(&backend());
        check_keys(value.as_object().unwrap(), &schema)
            .into_iter()
            .map(|e| (e.field, e.reason))
            .collect()
    }

    #[test]
    fn misspelled_keys_are_refused_with_the_closest_name_at_any_depth() {
        let found = errors(json!({
            "serverUrl": "https://x",
            "dmpolicy": "disabled",
            "requireMentoin": true,
            "rooms": {"general": {"requireMention": true, "enabeld": false}},
            "timeouts": {"requestTimeoutMS": 5},
            "implicitMentions": {"replyToBot": true, "nonsense": 1},
            "whatever": 1,
        }));
        let want = [
            ("dmpolicy", "unknown key (did you mean `dmPolicy`?)"),
            ("implicitMentions.nonsense", "unknown key"),
            (
                "requireMentoin",
                "unknown key (did you mean `requireMention`?)",
            ),
            (
                "rooms.general.enabeld",
                "unknown key (did you mean `enabled`?)",
            ),
            (
                "timeouts.requestTimeoutMS",
                "unknown key (did you mean `requestTimeoutMs`?)",
            ),
            ("whatever", "unknown key"),
        ];
        let mut found = found;
        found.sort();
        assert_eq!(
            found,
            want.iter()
                .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
                .collect::<Vec<_>>()
        );
    }

    #[test]
    fn the_openclaw_schema_has_every_account_key_once_per_level_with_secrets_as_inputs() {
        let plugin: PluginKeys = serde_json::from_value(json!({
            "accountProperties": {"ackReaction": {"type": "string"}},
            "channelProperties": {"defaultAccount": {"type": "string"}},
            "secretInput": {"oneOf": [{"type": "string"}, {"type": "object"}]},
            "secrets": ["serverUrl"],
        }))
        .unwrap();
        let schema = openclaw_channel_schema(&backend(), &plugin);
        let text = schema.to_string();
        assert!(!text.contains("$ref") && !text.contains("$defs"), "{text}");
        let channel = schema["properties"].as_object().unwrap();
        for key in [
            "dmPolicy",
            "historyLimit",
            "timeouts",
            "ackReaction",
            "defaultAccount",
            "accounts",
        ] {
            assert!(channel.contains_key(key), "{key}");
        }
        assert!(channel["serverUrl"]["oneOf"].is_array(), "a secret input");
        let account = schema["properties"]["accounts"]["additionalProperties"]["properties"]
            .as_object()
            .unwrap();
        assert!(account.contains_key("dmPolicy") && account.contains_key("ackReaction"));
        assert!(!account.contains_key("accounts") && !account.contains_key("defaultAccount"));
        assert_eq!(
            channel["timeouts"]["properties"]["requestTimeoutMs"],
            json!({}),
            "definitions inlined"
        );
    }

    /// OpenClaw fills schema defaults into the loaded config: a default under
    /// `accounts.<id>` would override what the account inherits from the channel level
    /// (`dangerouslyAllowInsecure: true` at the channel, `false` filled into the account).
    #[test]
    fn the_openclaw_schema_has_no_defaults_and_no_nulls_and_no_plugin_set_keys() {
        let plugin: PluginKeys = serde_json::from_value(json!({
            "accountProperties": {},
            "channelProperties": {},
            "secretInput": {"type": "string"},
            "secrets": [],
            "pluginSets": ["accountId", "approvedSenders"],
        }))
        .unwrap();
        let backend = BackendKeys::from_schema(json!({
            "type": "object",
            "properties": {
                "dangerouslyAllowInsecure": {"type": "boolean", "default": false, "description": "Skip checks."},
                "caFile": {"type": ["string", "null"]},
            },
        }));
        let schema = openclaw_channel_schema(&backend, &plugin);
        let text = schema.to_string();
        assert!(
            !text.contains("\"default\"") && !text.contains("null"),
            "{text}"
        );
        let channel = &schema["properties"];
        assert_eq!(channel["caFile"]["type"], json!("string"));
        assert_eq!(
            channel["dangerouslyAllowInsecure"]["description"],
            json!("Skip checks. Default: `false`.")
        );
        assert!(channel.get("accountId").is_none() && channel.get("approvedSenders").is_none());
        let account = &channel["accounts"]["additionalProperties"]["properties"];
        assert!(account.get("accountId").is_none());
        assert!(account["dmPolicy"].is_object());
    }

    /// The plugin's per-room keys (tools, skills, ...) are part of every `rooms` entry at
    /// both levels, beside the bridge's own entry keys.
    #[test]
    fn the_plugins_room_keys_are_in_every_rooms_entry() {
        let plugin: PluginKeys = serde_json::from_value(json!({
            "accountProperties": {},
            "channelProperties": {},
            "secretInput": {"type": "string"},
            "secrets": [],
            "roomProperties": {"systemPrompt": {"type": "string"}},
        }))
        .unwrap();
        let schema = openclaw_channel_schema(&BackendKeys::any(), &plugin);
        let channel = &schema["properties"];
        let account = &channel["accounts"]["additionalProperties"]["properties"];
        for level in [channel, account] {
            let entry = &level["rooms"]["additionalProperties"]["properties"];
            assert_eq!(entry["systemPrompt"], json!({"type": "string"}));
            assert!(entry["requireMention"].is_object(), "{entry}");
        }
    }

    #[test]
    fn a_missing_required_key_is_named() {
        assert_eq!(
            errors(json!({"dmPolicy": "open"})),
            [("serverUrl".to_owned(), "is required".to_owned())]
        );
    }

    #[test]
    fn every_key_of_every_part_is_known() {
        let ok = errors(json!({
            "serverUrl": "https://x", "accountId": "a", "stateFile": "/s", "mediaMaxMb": 2,
            "dmPolicy": "pairing", "rooms": {"x": {"users": ["u"]}}, "dm": {"groupEnabled": true},
            "timeouts": {"requestTimeoutMs": 5},
        }));
        assert!(ok.is_empty(), "{ok:?}");
    }

    #[test]
    fn without_a_backend_schema_extra_top_level_keys_are_the_backends() {
        let schema = account_schema(&BackendKeys::any());
        let found = check_keys(
            json!({"serverUrl": "x", "rooms": {"g": {"requirMention": true}}})
                .as_object()
                .unwrap(),
            &schema,
        );
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].field, "rooms.g.requirMention");
    }
}
