//! Issue 6, isolation and bad input: two accounts in two `bridge serve` processes on one
//! server. One is fed seeded garbage on stdin (every line gets a JSON-RPC error, the process
//! keeps working), then made fatal (PAT removed), then killed; the other keeps receiving and
//! sending through all of it.

#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::serve::Serve;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rocketchat_sim::{RoomKind, SimConfig, SimHandle, Simulator, UserKind};
use serde_json::{json, Value};

/// Generous: only there so a broken test fails instead of hanging.
const WAIT: Duration = Duration::from_secs(30);
const GARBAGE_SEED: u64 = 0x6A4B_A6E0;

struct World {
    sim: SimHandle,
    alice: String,
    room: String,
}

fn config(sim: &SimHandle, account: &str, uid: &str, token: &str) -> Value {
    json!({
        "accountId": account,
        "serverUrl": sim.base_url(),
        "dangerouslyAllowInsecure": true,
        "userId": uid,
        "username": account,
        "authToken": token,
        "rooms": {"shared": {}},
    })
}

/// The account is alive: a message mentioning it arrives, and its send is stored.
async fn works(w: &World, bridge: &mut Serve, account: &str, step: u64) {
    let text = format!("@{account} ping {step}");
    let posted = w.sim.post(&w.alice, &w.room, &text).unwrap();
    let m = bridge
        .until(&text, |v| {
            v["method"] == json!("message") && v["params"]["messageId"] == json!(posted)
        })
        .await;
    assert_eq!(m["params"]["textForAgent"], json!(format!("ping {step}")));
    let reply = format!("{account} pong {step}");
    let r = bridge
        .call(step, "send", json!({"target": w.room, "text": reply}))
        .await;
    let id = r["result"]["messageIds"][0]
        .as_str()
        .unwrap_or_else(|| panic!("{account} send {step}: {r}"))
        .to_owned();
    assert_eq!(w.sim.message(&id).unwrap()["msg"], json!(reply));
}

/// Seeded garbage lines: random bytes, JSON that is not JSON-RPC, bad requests, a line over
/// the length limit and one that is not UTF-8. Each one, sent as a line, deserves exactly
/// one error response (blank lines are skipped by design and are left out).
fn garbage() -> Vec<Vec<u8>> {
    let mut rng = StdRng::seed_from_u64(GARBAGE_SEED);
    let mut lines: Vec<Vec<u8>> = (0..300)
        .map(|_| {
            let len = rng.random_range(1..200);
            (0..len)
                .map(|_| loop {
                    let b: u8 = rng.random();
                    if b != b'\n' {
                        break b;
                    }
                })
                .collect()
        })
        .collect();
    for fixed in [
        "{}",
        "[]",
        "null",
        "42",
        r#""a string""#,
        r#"{"jsonrpc":"2.0"}"#,
        r#"{"jsonrpc":"1.0","id":900,"method":"send"}"#,
        r#"{"jsonrpc":"2.0","id":901,"method":"no-such-method"}"#,
        r#"{"jsonrpc":"2.0","id":902,"method":"send","params":"not an object"}"#,
        r#"{"jsonrpc":"2.0","id":903,"method":"send","params":{"text":5}}"#,
        r#"{"jsonrpc":"2.0","id":[1],"method":"stats"}"#,
        r#"{"jsonrpc":"2.0","id":904,"method":"react","params":{"roomId":"x"}}"#,
        "{\"jsonrpc\":\"2.0\",\"id\":905,\"method\":\"send\",\"params\":{\"target\":\"#shared\",\"text\":\"\"}}",
    ] {
        lines.push(fixed.as_bytes().to_vec());
    }
    lines.push(vec![0xff, 0xfe, 0x00, 0x80]);
    lines.push(vec![b'x'; 5 * 1024 * 1024]);
    // Lines the bridge skips as blank are not garbage for this count.
    lines.retain(|l| std::str::from_utf8(l).map_or(true, |s| !s.trim().is_empty()));
    lines
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_account_fed_garbage_fatal_or_killed_leaves_the_other_working() {
    let sim = Simulator::start(SimConfig {
        rest_rate_limit: None,
        ddp_rate_limit: None,
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let one = sim.create_user("one", UserKind::Bot).unwrap();
    let one_token = sim.create_pat(&one, "bridge").unwrap();
    let two = sim.create_user("two", UserKind::Bot).unwrap();
    let two_token = sim.create_pat(&two, "bridge").unwrap();
    let alice = sim.create_user("alice", UserKind::Human).unwrap();
    let room = sim
        .create_room(RoomKind::Public, "shared", &alice, &[&one, &two])
        .unwrap();
    let w = World { sim, alice, room };
    let mut a = Serve::start("warn", &config(&w.sim, "one", &one, &one_token)).await;
    let mut b = Serve::start("warn", &config(&w.sim, "two", &two, &two_token)).await;
    works(&w, &mut a, "one", 1).await;
    works(&w, &mut b, "two", 1).await;

    // Garbage into one: an error response per line, and it keeps serving.
    let lines = garbage();
    for line in &lines {
        a.write_bytes(line).await;
    }
    a.write_bytes(br#"{"jsonrpc":"2.0","id":1000,"method":"stats"}"#)
        .await;
    let mut errors = 0;
    let mut codes = std::collections::BTreeMap::new();
    let mut stats_seen = false;
    tokio::time::timeout(WAIT, async {
        while !(stats_seen && errors == lines.len()) {
            let v = a.read().await.expect("the bridge's output ended");
            if v["id"] == json!(1000) {
                stats_seen = true;
            } else if let Some(code) = v["error"]["code"].as_i64() {
                assert_eq!(v["jsonrpc"], json!("2.0"), "{v}");
                *codes.entry(code).or_insert(0) += 1;
                errors += 1;
            }
        }
    })
    .await
    .unwrap_or_else(|_| panic!("{errors} errors for {} garbage lines", lines.len()));
    works(&w, &mut a, "one", 2).await;
    works(&w, &mut b, "two", 2).await;

    // One is made fatal: two carries on.
    w.sim.remove_pat(&one, "bridge").unwrap();
    a.until("one fatal", |v| {
        v["method"] == json!("connection") && v["params"]["state"] == json!("fatal")
    })
    .await;
    works(&w, &mut b, "two", 3).await;
    let r = a
        .call(3, "send", json!({"target": w.room, "text": "x"}))
        .await;
    assert!(r["error"].is_object(), "{r}");

    // One is killed outright: two carries on.
    a.child.kill().await.unwrap();
    works(&w, &mut b, "two", 4).await;
    works(&w, &mut b, "two", 5).await;
    println!(
        "isolation: {} garbage lines (seed {GARBAGE_SEED:#x}) -> {errors} JSON-RPC errors {codes:?}, \
         the fed account kept working; then fatal, then killed: the other account received \
         and sent 5 of 5",
        lines.len()
    );
    assert_eq!(errors, lines.len());
    drop(b);
    w.sim.shutdown().await;
}
