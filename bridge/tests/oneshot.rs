//! `bridge probe`, `bridge resolve`, `bridge directory` as child processes against the
//! simulator: stdin lines in, one JSON line out, exit codes as the contract says.
#![allow(clippy::unwrap_used)]

use std::net::SocketAddr;
use std::process::Stdio;
use std::time::Duration;

use bridge::sim::DemoSim;
use serde_json::{json, Value};
use tokio::io::AsyncWriteExt;
use tokio::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_bridge");
/// Generous: only there so a broken test fails instead of hanging.
const WAIT: Duration = Duration::from_secs(30);

async fn start_sim() -> DemoSim {
    DemoSim::start(SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .unwrap()
}

/// What one run printed and how it exited.
struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl Run {
    /// The one JSON line (and checks that there is exactly one line).
    fn json(&self) -> Value {
        let lines: Vec<&str> = self.stdout.lines().collect();
        assert_eq!(lines.len(), 1, "exactly one line: {:?}", self.stdout);
        serde_json::from_str(lines[0]).unwrap()
    }
}

/// Runs `bridge <command>` with `lines` on stdin (debug logs on, to see that the token is
/// not in them either).
async fn run(command: &str, lines: &[Value]) -> Run {
    let mut child = Command::new(BIN)
        .arg(command)
        .env("RUST_LOG", "debug")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let input: String = lines.iter().map(|l| format!("{l}\n")).collect();
    stdin.write_all(input.as_bytes()).await.unwrap();
    drop(stdin);
    let out = tokio::time::timeout(WAIT, child.wait_with_output())
        .await
        .expect("the command did not finish")
        .unwrap();
    Run {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn assert_no_token(run: &Run, token: &str) {
    assert!(
        !run.stdout.contains(token),
        "token in stdout: {}",
        run.stdout
    );
    assert!(
        !run.stderr.contains(token),
        "token in stderr: {}",
        run.stderr
    );
}

#[tokio::test]
async fn probe_of_a_good_token_reports_the_server_the_user_and_every_rooms_key() {
    let world = start_sim().await;
    let mut config = world.bridge_config();
    config["rooms"] = json!({"demo": {}, world.room_id.clone(): {}, "no-such-room": {}, "*": {}});
    let run = run("probe", &[config]).await;
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let out = run.json();
    assert_eq!(out["reachable"], json!(true));
    assert_eq!(out["tokenValid"], json!(true));
    assert_eq!(out["identityMatches"], json!(true));
    assert_eq!(out["serverVersion"], json!("8.2"));
    assert_eq!(out["user"], json!({"id": world.bot_id, "username": "bot"}));
    assert!(out.get("error").is_none(), "{out}");
    let rooms = out["rooms"].as_array().unwrap();
    assert_eq!(rooms.len(), 3, "every key but *: {out}");
    let entry = |key: &str| rooms.iter().find(|r| r["entry"] == json!(key)).unwrap();
    for key in ["demo", world.room_id.as_str()] {
        assert_eq!(entry(key)["id"], json!(world.room_id), "{out}");
        assert_eq!(entry(key)["name"], json!("demo"));
        assert_eq!(entry(key)["kind"], json!("public"));
    }
    let missing = entry("no-such-room");
    assert_eq!(missing["error"]["kind"], json!("notFound"), "{out}");
    assert!(missing.get("id").is_none());
    assert_no_token(&run, &world.bot_token);
    world.sim.shutdown().await;
}

#[tokio::test]
async fn probe_of_a_revoked_token_says_token_invalid_but_reachable() {
    let world = start_sim().await;
    world.sim.remove_pat(&world.bot_id, "bridge").unwrap();
    let run = run("probe", &[world.bridge_config()]).await;
    assert_eq!(run.code, Some(0), "the command ran: {}", run.stderr);
    let out = run.json();
    assert_eq!(out["reachable"], json!(true), "{out}");
    assert_eq!(out["tokenValid"], json!(false));
    assert_eq!(out["user"], Value::Null);
    assert_eq!(out["error"]["kind"], json!("unauthorized"), "{out}");
    assert_eq!(
        out["rooms"][0]["error"]["kind"],
        json!("unauthorized"),
        "{out}"
    );
    assert_no_token(&run, &world.bot_token);
    world.sim.shutdown().await;
}

#[tokio::test]
async fn probe_of_an_unreachable_server_says_not_reachable() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let config = json!({"serverUrl": format!("http://127.0.0.1:{port}"),
        "dangerouslyAllowInsecure": true, "userId": "u", "username": "bot",
        "authToken": "SECRET-UNREACHABLE-TOKEN"});
    let run = run("probe", &[config]).await;
    assert_eq!(run.code, Some(0));
    let out = run.json();
    assert_eq!(out["reachable"], json!(false), "{out}");
    assert_eq!(out["tokenValid"], json!(false));
    assert_eq!(out["error"]["kind"], json!("disconnected"), "{out}");
    assert_no_token(&run, "SECRET-UNREACHABLE-TOKEN");
}

#[tokio::test]
async fn probe_of_https_against_plain_http_gives_the_hint() {
    let world = start_sim().await;
    let mut config = world.bridge_config();
    config["serverUrl"] = json!(world.sim.base_url().replace("http://", "https://"));
    config
        .as_object_mut()
        .unwrap()
        .remove("dangerouslyAllowInsecure");
    let run = run("probe", &[config]).await;
    assert_eq!(run.code, Some(0));
    let out = run.json();
    assert_eq!(out["reachable"], json!(false), "{out}");
    let message = out["error"]["message"].as_str().unwrap();
    assert!(
        message.contains(bridge::diagnose::PLAIN_HTTP_HINT),
        "{message}"
    );
    assert_no_token(&run, &world.bot_token);
    world.sim.shutdown().await;
}

#[tokio::test]
async fn a_bad_configuration_exits_2_naming_the_field() {
    let run1 = run(
        "probe",
        &[
            json!({"serverUrl": "https://x", "userId": "u", "username": "b",
        "authToken": "SECRET-T", "dmPolicy": "sometimes"}),
        ],
    )
    .await;
    assert_eq!(run1.code, Some(2));
    assert_eq!(run1.json()["error"]["field"], json!("dmPolicy"));
    assert_no_token(&run1, "SECRET-T");

    let run2 = run("probe", &[]).await;
    assert_eq!(run2.code, Some(2));
    assert_eq!(run2.json()["error"]["field"], json!("config"));

    let world = start_sim().await;
    let run3 = run("resolve", &[world.bridge_config()]).await;
    assert_eq!(run3.code, Some(2), "resolve needs its request line");
    assert_eq!(run3.json()["error"]["field"], json!("targets"));
    let run4 = run("directory", &[world.bridge_config(), json!({"limit": -1})]).await;
    assert_eq!(run4.code, Some(2));
    assert_eq!(run4.json()["error"]["field"], json!("limit"));
    world.sim.shutdown().await;
}

#[tokio::test]
async fn resolve_finds_rooms_by_name_and_id_and_users_and_reports_the_rest() {
    let world = start_sim().await;
    let conversation = format!("rocketchat:demo:channel:{}", world.room_id);
    let targets = json!({"targets": ["#demo", "@alice", world.room_id, world.dm_id,
        conversation, "@nobody", "#nowhere", "NOSUCHID", "a b"]});
    let run = run("resolve", &[world.bridge_config(), targets]).await;
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let out = run.json();
    let results = out["results"].as_array().unwrap();
    assert_eq!(results.len(), 9, "{out}");
    let room = json!({"input": "#demo", "ok": true, "kind": "room", "id": world.room_id,
        "name": "demo", "roomKind": "public", "conversationId": conversation});
    assert_eq!(results[0], room);
    assert_eq!(
        results[1],
        json!({"input": "@alice", "ok": true, "kind": "user", "id": world.human_id, "name": "alice"})
    );
    assert_eq!(results[2]["id"], json!(world.room_id));
    assert_eq!(results[2]["conversationId"], json!(conversation));
    assert_eq!(results[3]["roomKind"], json!("direct"), "{out}");
    assert_eq!(results[3]["name"], Value::Null);
    assert_eq!(
        results[3]["conversationId"],
        json!(format!("rocketchat:demo:direct:{}", world.dm_id))
    );
    assert_eq!(results[4]["id"], json!(world.room_id));
    for (i, kind) in [
        (5, "notFound"),
        (6, "notFound"),
        (7, "notFound"),
        (8, "invalid"),
    ] {
        assert_eq!(results[i]["ok"], json!(false), "{out}");
        assert_eq!(results[i]["error"]["kind"], json!(kind), "{i}: {out}");
        assert!(results[i]["error"]["message"].is_string());
    }
    assert!(results[7]["error"]["message"]
        .as_str()
        .unwrap()
        .contains("#name"));
    assert_no_token(&run, &world.bot_token);
    world.sim.shutdown().await;
}

#[tokio::test]
async fn directory_lists_the_bots_rooms_and_the_users_it_knows() {
    let world = start_sim().await;
    world
        .sim
        .post(&world.human_id, &world.room_id, "hello")
        .unwrap();
    let run1 = run("directory", &[world.bridge_config()]).await;
    assert_eq!(run1.code, Some(0), "{}", run1.stderr);
    let out = run1.json();
    let rooms = out["rooms"].as_array().unwrap();
    assert!(
        rooms.contains(&json!({"id": world.room_id, "name": "demo", "kind": "public"})),
        "{out}"
    );
    assert!(
        rooms.contains(&json!({"id": world.dm_id, "name": null, "kind": "direct"})),
        "{out}"
    );
    let users = out["users"].as_array().unwrap();
    assert_eq!(users.len(), 1, "alice, not the bot: {out}");
    assert_eq!(users[0]["id"], json!(world.human_id));
    assert_eq!(users[0]["username"], json!("alice"));
    assert_no_token(&run1, &world.bot_token);

    // A query filters both lists; a username finds the user even without messages.
    let run2 = run(
        "directory",
        &[world.bridge_config(), json!({"query": "dem", "limit": 5})],
    )
    .await;
    let out = run2.json();
    assert_eq!(out["rooms"].as_array().unwrap().len(), 1, "{out}");
    assert_eq!(out["users"], json!([]));
    let world2 = start_sim().await;
    let run3 = run(
        "directory",
        &[world2.bridge_config(), json!({"query": "alice"})],
    )
    .await;
    let out = run3.json();
    assert_eq!(out["users"][0]["id"], json!(world2.human_id), "{out}");
    world.sim.shutdown().await;
    world2.sim.shutdown().await;
}
