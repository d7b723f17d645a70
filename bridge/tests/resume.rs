//! A restarted `bridge serve` (OpenClaw reloads the channel on config changes) with a
//! `stateFile`: what was posted while no bridge ran reaches the plugin once, what the
//! earlier process handed over does not come again; SIGTERM stops as cleanly as the end
//! of stdin does.

#![allow(clippy::unwrap_used)]

mod common;

use std::net::SocketAddr;
use std::path::Path;

use bridge::sim::DemoSim;
use common::serve::Serve;
use serde_json::{json, Value};

async fn start_sim() -> DemoSim {
    DemoSim::start(SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .unwrap()
}

fn config(world: &DemoSim, state_file: &Path) -> Value {
    let mut config = world.bridge_config();
    config["stateFile"] = json!(state_file);
    // The simulator's history would add lines this test does not look at.
    config["historyLimit"] = json!(0);
    config
}

/// The texts of the `message` notifications read until the one whose text is `last`.
async fn messages_until(bridge: &mut Serve, last: &str) -> Vec<String> {
    let mut texts = Vec::new();
    loop {
        let params = bridge.notification("message").await;
        let text = params["text"].as_str().unwrap().to_owned();
        texts.push(text.clone());
        if text == last {
            return texts;
        }
    }
}

fn state_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("bridge-resume-it-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[tokio::test]
async fn a_restarted_bridge_hands_over_the_gap_once_and_nothing_twice() {
    let world = start_sim().await;
    let dir = state_dir("gap");
    let state_file = dir.join("demo.json");

    let mut first = Serve::start("info", &config(&world, &state_file)).await;
    world
        .sim
        .post(&world.human_id, &world.room_id, "@bot one")
        .unwrap();
    assert_eq!(messages_until(&mut first, "@bot one").await, ["@bot one"]);
    let (code, _, _) = first.finish().await;
    assert_eq!(code, Some(0));
    assert!(
        state_file.exists(),
        "the state file is written at a clean stop"
    );

    // Posted while no bridge runs.
    world
        .sim
        .post(&world.human_id, &world.room_id, "@bot two")
        .unwrap();
    world
        .sim
        .post(&world.human_id, &world.room_id, "not for the bot")
        .unwrap();

    // Not `Serve::start`: the caught-up messages may come before `ready` (the connection
    // is active once it has caught up).
    let mut second = Serve::spawn("info");
    second.write(&config(&world, &state_file).to_string()).await;
    world
        .sim
        .post(&world.human_id, &world.room_id, "@bot three")
        .unwrap();
    assert_eq!(
        messages_until(&mut second, "@bot three").await,
        ["@bot two", "@bot three"],
        "the gap once, then live; `one` not again"
    );
    let (code, rest, _) = second.finish().await;
    assert_eq!(code, Some(0));
    assert!(
        rest.iter().all(|v| v["method"] != json!("message")),
        "nothing more: {rest:?}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn without_a_state_file_the_gap_is_not_read() {
    let world = start_sim().await;
    let mut config = world.bridge_config();
    config["historyLimit"] = json!(0);

    let mut first = Serve::start("info", &config).await;
    world
        .sim
        .post(&world.human_id, &world.room_id, "@bot one")
        .unwrap();
    messages_until(&mut first, "@bot one").await;
    first.finish().await;

    world
        .sim
        .post(&world.human_id, &world.room_id, "@bot two")
        .unwrap();
    let mut second = Serve::start("info", &config).await;
    world
        .sim
        .post(&world.human_id, &world.room_id, "@bot three")
        .unwrap();
    assert_eq!(
        messages_until(&mut second, "@bot three").await,
        ["@bot three"]
    );
    second.finish().await;
}

#[cfg(unix)]
#[tokio::test]
async fn sigterm_stops_cleanly_and_writes_the_state_file() {
    let world = start_sim().await;
    let dir = state_dir("sigterm");
    let state_file = dir.join("demo.json");

    let mut first = Serve::start("info", &config(&world, &state_file)).await;
    world
        .sim
        .post(&world.human_id, &world.room_id, "@bot one")
        .unwrap();
    messages_until(&mut first, "@bot one").await;
    let pid = first.child.id().unwrap();
    let status = std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    // The output ends when the process does; stdin is still open, so only the signal
    // can have stopped it.
    while first.read().await.is_some() {}
    let (code, _, stderr) = first.finish().await;
    assert_eq!(code, Some(0), "exit 0 on SIGTERM; stderr: {stderr}");
    assert!(stderr.contains("asked to stop"), "{stderr}");
    let saved: Value = serde_json::from_slice(&std::fs::read(&state_file).unwrap()).unwrap();
    assert_eq!(
        saved["delivered"].as_array().map(Vec::len),
        Some(1),
        "{saved}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
