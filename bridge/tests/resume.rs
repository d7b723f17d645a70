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

/// The texts of the `message` notifications read until the one whose text is `last`,
/// each acknowledged as the plugin does once OpenClaw has it.
async fn messages_until(bridge: &mut Serve, last: &str) -> Vec<String> {
    messages_until_acking(bridge, last, true).await
}

async fn messages_until_acking(bridge: &mut Serve, last: &str, ack: bool) -> Vec<String> {
    let mut texts = Vec::new();
    loop {
        let params = bridge.notification("message").await;
        let text = params["text"].as_str().unwrap().to_owned();
        if ack {
            let ack = json!({"jsonrpc": "2.0", "method": "ack",
                "params": {"messageIds": [params["messageId"]]}});
            bridge.write(&ack.to_string()).await;
        }
        texts.push(text.clone());
        if text == last {
            return texts;
        }
    }
}

/// The point in the state file, once `ready` says what it must show.
async fn saved_point_until(state_file: &Path, ready: impl Fn(&Value) -> bool) -> Value {
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        if let Ok(bytes) = std::fs::read(state_file) {
            if let Ok(saved) = serde_json::from_slice::<Value>(&bytes) {
                if ready(&saved["point"]) {
                    return saved["point"].clone();
                }
            }
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the state file never showed the expected point"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

fn handles(point: &Value, id: &str) -> bool {
    point["handled"]
        .as_array()
        .is_some_and(|ids| ids.iter().any(|h| h == id))
}

fn kill(serve: &Serve, signal: &str) {
    let pid = serve.child.id().unwrap();
    let status = std::process::Command::new("kill")
        .args([signal, &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success());
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
    kill(&first, "-TERM");
    // The output ends when the process does; stdin is still open, so only the signal
    // can have stopped it.
    while first.read().await.is_some() {}
    let (code, _, stderr) = first.finish().await;
    assert_eq!(code, Some(0), "exit 0 on SIGTERM; stderr: {stderr}");
    assert!(stderr.contains("asked to stop"), "{stderr}");
    let saved: Value = serde_json::from_slice(&std::fs::read(&state_file).unwrap()).unwrap();
    assert_eq!(saved["version"], json!(2), "{saved}");
    assert_eq!(
        saved["point"]["handled"].as_array().map(Vec::len),
        Some(1),
        "{saved}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// The crash-loss hole of the seams issue: message A is admitted; a later message B of the
/// same room is skipped (handled at once) and the state file is written; the bridge is
/// SIGKILLed before the plugin acknowledged A. The restarted bridge hands A over: the
/// resume point never passes a message the plugin has not confirmed.
#[cfg(unix)]
#[tokio::test]
async fn a_crash_before_the_ack_hands_the_message_over_again() {
    let world = start_sim().await;
    let dir = state_dir("crash");
    let state_file = dir.join("demo.json");

    let mut first = Serve::start("info", &config(&world, &state_file)).await;
    let a = world
        .sim
        .post(&world.human_id, &world.room_id, "@bot A")
        .unwrap();
    // Handed over, never acknowledged (the gateway took it but crashed before OpenClaw
    // accepted it).
    assert_eq!(
        messages_until_acking(&mut first, "@bot A", false).await,
        ["@bot A"]
    );
    let b = world
        .sim
        .post(&world.human_id, &world.room_id, "B, not for the bot")
        .unwrap();
    // B is handled and written down; A is still pending.
    let point = saved_point_until(&state_file, |p| handles(p, &b)).await;
    assert!(!handles(&point, &a), "{point}");
    kill(&first, "-KILL");
    let _ = first.finish().await;

    let mut second = Serve::spawn("info");
    second.write(&config(&world, &state_file).to_string()).await;
    world
        .sim
        .post(&world.human_id, &world.room_id, "@bot C")
        .unwrap();
    assert_eq!(
        messages_until(&mut second, "@bot C").await,
        ["@bot A", "@bot C"],
        "A again (never confirmed), B not (handled), then live"
    );
    second.finish().await;
    let _ = std::fs::remove_dir_all(&dir);
}

/// The same hole while A is still being prepared: its history fetch hangs; B, skipped
/// after it, is written down as handled; SIGKILL. The restarted bridge prepares A again
/// and hands it over.
#[cfg(unix)]
#[tokio::test]
async fn a_crash_while_a_message_is_prepared_loses_nothing() {
    let world = start_sim().await;
    let dir = state_dir("preparing");
    let state_file = dir.join("demo.json");
    let mut config = config(&world, &state_file);
    // A's first dispatch in its conversation fetches the room's history: make it hang.
    config["historyLimit"] = json!(5);
    world.sim.fail_endpoint(
        "/api/v1/channels.history",
        rocketchat_sim::RestFault::Stall(std::time::Duration::from_secs(60)),
        1,
    );
    let first = Serve::start("info", &config).await;
    let a = world
        .sim
        .post(&world.human_id, &world.room_id, "@bot A")
        .unwrap();
    let b = world
        .sim
        .post(&world.human_id, &world.room_id, "B, not for the bot")
        .unwrap();
    let point = saved_point_until(&state_file, |p| handles(p, &b)).await;
    assert!(!handles(&point, &a), "A is pending, not handled: {point}");
    assert!(
        first.raw_stdout.iter().all(|l| !l.contains("\"message\"")),
        "A was not handed over yet"
    );
    kill(&first, "-KILL");
    let _ = first.finish().await;

    let mut second = Serve::spawn("info");
    second.write(&config.to_string()).await;
    assert_eq!(messages_until(&mut second, "@bot A").await, ["@bot A"]);
    second.finish().await;
    let _ = std::fs::remove_dir_all(&dir);
}
