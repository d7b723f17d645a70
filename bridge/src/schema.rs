//! `bridge schema`: the JSON schema of OpenClaw's `channels.rocketchat` block, generated
//! from the Rust types (the bridge's, the policy's and the Rocket.Chat backend's keys)
//! and the plugin's own keys (`openclaw-plugin/schema/plugin-keys.json`). The plugin's
//! manifest carries it; a test keeps the committed manifest equal to it.

use std::path::Path;

use bridge_core::keys::{openclaw_channel_schema, PluginKeys};
use serde_json::Value;

/// Why the schema could not be made or written.
#[derive(Debug, thiserror::Error)]
pub enum SchemaError {
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// A file is not what it should be.
    #[error("{path}: {reason}")]
    Invalid {
        /// The file.
        path: String,
        /// What is wrong.
        reason: String,
    },
}

/// The channel schema, with the plugin's keys read from `plugin_keys`.
pub fn channel_schema(plugin_keys: &Path) -> Result<Value, SchemaError> {
    let text = read(plugin_keys)?;
    let keys: PluginKeys = serde_json::from_str(&text).map_err(|e| SchemaError::Invalid {
        path: plugin_keys.display().to_string(),
        reason: e.to_string(),
    })?;
    Ok(openclaw_channel_schema(
        &crate::rocketchat::backend_keys(),
        &keys,
    ))
}

/// The schema the manifest at `manifest` carries for the channel.
pub fn manifest_schema(manifest: &Path) -> Result<Value, SchemaError> {
    let value = manifest_value(manifest)?;
    Ok(value
        .pointer(&format!(
            "/channelConfigs/{}/schema",
            crate::rocketchat::NAMESPACE
        ))
        .cloned()
        .unwrap_or(Value::Null))
}

/// Puts `schema` into the manifest at `manifest` (everything else is kept).
pub fn write_into_manifest(manifest: &Path, schema: Value) -> Result<(), SchemaError> {
    let mut value = manifest_value(manifest)?;
    let invalid = |reason: &str| SchemaError::Invalid {
        path: manifest.display().to_string(),
        reason: reason.to_owned(),
    };
    let slot = value
        .get_mut("channelConfigs")
        .and_then(|c| c.get_mut(crate::rocketchat::NAMESPACE))
        .and_then(Value::as_object_mut)
        .ok_or_else(|| invalid("no channelConfigs.rocketchat object"))?;
    slot.insert("schema".into(), schema);
    let mut text = serde_json::to_string_pretty(&value).map_err(|e| invalid(&e.to_string()))?;
    text.push('\n');
    std::fs::write(manifest, text).map_err(|source| SchemaError::Io {
        path: manifest.display().to_string(),
        source,
    })
}

fn manifest_value(manifest: &Path) -> Result<Value, SchemaError> {
    serde_json::from_str(&read(manifest)?).map_err(|e| SchemaError::Invalid {
        path: manifest.display().to_string(),
        reason: e.to_string(),
    })
}

fn read(path: &Path) -> Result<String, SchemaError> {
    std::fs::read_to_string(path).map_err(|source| SchemaError::Io {
        path: path.display().to_string(),
        source,
    })
}
