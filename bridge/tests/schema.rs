//! The plugin manifest's channel schema is the one the Rust config types generate (issue
//! 13 item 4): a key added to a config type, and not to the manifest, fails here.

#![allow(clippy::unwrap_used)]

use std::path::PathBuf;

fn repo(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(path)
}

#[test]
fn the_committed_manifest_schema_is_the_generated_one() {
    let generated =
        bridge::schema::channel_schema(&repo("openclaw-plugin/schema/plugin-keys.json")).unwrap();
    let committed =
        bridge::schema::manifest_schema(&repo("openclaw-plugin/openclaw.plugin.json")).unwrap();
    assert!(
        generated == committed,
        "openclaw-plugin/openclaw.plugin.json's channel schema is not the generated one; run\n  \
         cargo run -p bridge -- schema --write openclaw-plugin/openclaw.plugin.json\n\
         then `node openclaw-plugin/scripts/merge-ui-hints.mjs` for the UI hints"
    );
}

#[test]
fn the_generated_schema_knows_the_keys_the_bridge_reads() {
    let schema =
        bridge::schema::channel_schema(&repo("openclaw-plugin/schema/plugin-keys.json")).unwrap();
    let channel = schema["properties"].as_object().unwrap();
    // The group-DM key and batched reply threading come from channel-api's types.
    assert!(channel.contains_key("dm"), "{:?}", channel.keys());
    let modes = schema["properties"]["replyToMode"].to_string();
    assert!(modes.contains("batched"), "{modes}");
    // Connection keys from the backend, secrets as secret inputs, the plugin's own keys.
    assert!(channel.contains_key("timeouts"));
    assert!(channel["authToken"].to_string().contains("source"));
    assert!(channel.contains_key("bridgePath") && channel.contains_key("accounts"));
}
