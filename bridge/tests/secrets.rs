//! Issue 6, secrets: `bridge serve` as a child process through a whole session at trace
//! level (connect, login, a message in, sends, typing, a dropped socket and the reconnect,
//! errors, and the PAT's revocation). The token reaches the bridge only on stdin: it is in
//! neither its argv nor its environment (`/proc/<pid>/cmdline`, `/proc/<pid>/environ`), and
//! in no line it writes to stdout or stderr.

#![allow(clippy::unwrap_used)]

mod common;

use common::serve::Serve;
use rocketchat_sim::{RoomKind, SimConfig, Simulator, UserKind};
use serde_json::{json, Value};

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

fn is_connection(state: &'static str) -> impl Fn(&Value) -> bool {
    move |v| v["method"] == json!("connection") && v["params"]["state"] == json!(state)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pat_is_in_no_argv_environment_log_or_output() {
    let sim = Simulator::start(SimConfig {
        rest_rate_limit: None,
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let bot = sim.create_user("bot", UserKind::Bot).unwrap();
    let token = sim.create_pat(&bot, "bridge").unwrap();
    let alice = sim.create_user("alice", UserKind::Human).unwrap();
    let room = sim
        .create_room(RoomKind::Public, "ops", &alice, &[&bot])
        .unwrap();
    let config = json!({
        "accountId": "secrets",
        "serverUrl": sim.base_url(),
        "dangerouslyAllowInsecure": true,
        "userId": bot,
        "username": "bot",
        "authToken": token,
        "rooms": {"ops": {}},
    });

    let mut bridge = Serve::spawn("trace");
    bridge.write(&config.to_string()).await;
    bridge
        .until("ready", |v| v["method"] == json!("ready"))
        .await;

    // Argv and environment, read while the bridge holds the token.
    let cmdline = bridge.proc_file("cmdline");
    let environ = bridge.proc_file("environ");
    assert!(contains(&cmdline, "serve"), "could not read the argv");
    assert!(
        contains(&environ, "RUST_LOG=trace"),
        "could not read the environment"
    );
    assert!(!contains(&cmdline, &token), "the token is in argv");
    assert!(
        !contains(&environ, &token),
        "the token is in the environment"
    );

    // A message in, a send, typing, a send that fails.
    let posted = sim.post(&alice, &room, "@bot status?").unwrap();
    let m = bridge
        .until("the message", |v| v["method"] == json!("message"))
        .await;
    assert_eq!(m["params"]["messageId"], json!(posted));
    let r = bridge
        .call(1, "send", json!({"target": room, "text": "all good"}))
        .await;
    assert!(r["result"]["messageIds"][0].is_string(), "{r}");
    let r = bridge
        .call(2, "typing", json!({"roomId": room, "on": true}))
        .await;
    assert_eq!(r["result"], json!({}), "{r}");
    let r = bridge
        .call(3, "send", json!({"target": "no-such-room", "text": "x"}))
        .await;
    assert!(r["error"].is_object(), "{r}");

    // A dropped socket: the reconnect logs in again with the same token.
    sim.drop_sockets(&bot);
    bridge
        .until("reconnecting", is_connection("reconnecting"))
        .await;
    bridge.until("active again", is_connection("active")).await;
    let r = bridge
        .call(4, "send", json!({"target": room, "text": "back"}))
        .await;
    assert!(r["result"]["messageIds"][0].is_string(), "{r}");

    // Revocation: fatal, and the errors after it.
    sim.remove_pat(&bot, "bridge").unwrap();
    bridge.until("fatal", is_connection("fatal")).await;
    let r = bridge
        .call(5, "send", json!({"target": room, "text": "too late"}))
        .await;
    assert!(r["error"].is_object(), "{r}");
    let r = bridge.call(6, "probe", json!({})).await;
    assert_eq!(r["result"]["tokenValid"], json!(false), "{r}");

    let cmdline_late = bridge.proc_file("cmdline");
    let environ_late = bridge.proc_file("environ");
    let stdout_lines = bridge.raw_stdout.clone();
    let (code, _, stderr) = bridge.finish().await;
    assert_eq!(code, Some(0), "{stderr}");
    let stderr_lines = stderr.lines().count();
    assert!(
        stderr.contains("TRACE") || stderr.contains("trace"),
        "no trace output"
    );
    let leaks_stdout = stdout_lines.iter().filter(|l| l.contains(&token)).count();
    let leaks_stderr = stderr.lines().filter(|l| l.contains(&token)).count();
    println!(
        "bridge secrets: argv and environment checked twice, {} stdout lines and {stderr_lines} \
         stderr (trace) lines: token found in argv 0, environment 0, stdout {leaks_stdout}, \
         stderr {leaks_stderr}",
        stdout_lines.len()
    );
    assert!(!contains(&cmdline_late, &token));
    assert!(!contains(&environ_late, &token));
    assert_eq!(leaks_stdout, 0, "the token is in a protocol line");
    assert_eq!(leaks_stderr, 0, "the token is in the logs");
    sim.shutdown().await;
}

/// A configuration line whose wrong-typed value is the token itself: `fatal` names the
/// field, the process exits 2, and neither stdout nor stderr quotes the token.
#[tokio::test]
async fn a_bad_config_value_is_fatal_naming_the_field_not_the_token() {
    let token = "SECRET-TOKEN-7f3a9c";
    let cases = [
        ("revalidateIntervalSeconds", json!(token)),
        ("timeouts", json!({"pongTimeoutMs": token})),
        ("maxFrameBytes", json!(10)),
    ];
    for (key, value) in cases {
        let mut line = json!({"serverUrl": "https://chat.example", "userId": "u",
            "username": "bot", "authToken": token});
        line[key] = value;
        let mut bridge = Serve::spawn("trace");
        bridge.write(&line.to_string()).await;
        let fatal = bridge
            .until("fatal", |v| v["method"] == json!("fatal"))
            .await;
        let field = fatal["params"]["field"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        assert!(field.starts_with(key), "{key}: {fatal}");
        let stdout = bridge.raw_stdout.clone();
        let (code, _, stderr) = bridge.finish().await;
        assert_eq!(code, Some(2), "{key}: {stderr}");
        assert!(stdout.iter().all(|l| !l.contains(token)), "{stdout:?}");
        assert!(!stderr.contains(token), "{stderr}");
    }
    println!("bridge config: 3 bad values (2 of them the token) -> fatal naming the field, exit 2, token quoted nowhere");
}
