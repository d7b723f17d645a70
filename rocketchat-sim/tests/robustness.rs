//! Bad input never takes the simulator down: every frame gets an answer or is dropped, and
//! the session and the server keep working.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use serde_json::{json, Value};

#[tokio::test]
async fn malformed_method_params_get_errors_and_the_session_survives() {
    let sim = start_with(rocketchat_sim::SimConfig {
        ddp_rate_limit: None,
        ..Default::default()
    })
    .await;
    let (_uid, token) = bot(&sim, "bot");
    let mut ws = Ws::logged_in(&sim, &token).await;
    let calls: Vec<(&str, Value)> = vec![
        ("login", json!([null])),
        ("login", json!([1])),
        ("login", json!([{"resume": 1}])),
        ("setReaction", json!([1, 2, 3])),
        ("setReaction", json!([])),
        ("stream-notify-room", json!([1])),
        ("stream-notify-room", json!([""])),
        ("stream-notify-room", json!(["x"])),
        ("stream-notify-room", json!(["GENERAL/user-activity"])),
        ("loadMissedMessages", json!([null, null])),
        ("sendMessage", json!([null])),
        ("sendMessage", json!([{"rid": 1}])),
        ("sendMessage", json!([{"rid": "GENERAL", "msg": 1}])),
        (
            "sendMessage",
            json!([{"rid": "GENERAL", "msg": "x", "tmid": 5}]),
        ),
        (
            "sendMessage",
            json!([{"rid": "GENERAL", "msg": "x", "ts": "yesterday"}]),
        ),
        ("updateMessage", json!([null])),
        (
            "updateMessage",
            json!([{"_id": "nope", "rid": "GENERAL", "msg": "x"}]),
        ),
    ];
    for (method, params) in calls {
        let r = ws.call(method, params.clone()).await;
        assert_eq!(r["msg"], "result", "{method} {params}: {r}");
        if method == "sendMessage" {
            assert_eq!(r["error"]["reason"], "Match failed", "{params}: {r}");
        }
    }
    for params in [json!([null]), json!([1, {"useCollection": "x"}]), json!([])] {
        let r = ws.sub("s", "stream-room-messages", params).await;
        assert_eq!(r["msg"], "nosub");
    }
    ws.send(json!({"msg": "unsub"})).await;
    assert_eq!(ws.recv().await, json!({"msg": "nosub"}));
    ws.send_text(&"[".repeat(10_000)).await;
    assert_eq!(ws.recv().await["msg"], "error");
    ws.send(json!({"msg": "ping", "id": "alive"})).await;
    assert_eq!(ws.recv_until(|v| v["msg"] == "pong").await["id"], "alive");
    sim.shutdown().await;
}

#[tokio::test]
async fn garbage_rest_bodies_get_4xx_and_the_server_survives() {
    let sim = start().await;
    let (uid, token) = bot(&sim, "bot");
    let auth = Some((uid.as_str(), token.as_str()));
    let routes = [
        "chat.sendMessage",
        "chat.postMessage",
        "chat.react",
        "chat.update",
        "chat.delete",
        "chat.pinMessage",
        "im.create",
        "users.create",
        "users.generatePersonalAccessToken",
        "users.removePersonalAccessToken",
        "users.setActiveStatus",
        "channels.create",
        "groups.create",
        "channels.invite",
        "groups.invite",
        "login",
    ];
    let bodies = [
        json!(null),
        json!(1),
        json!([]),
        json!({"message": 1}),
        json!({"roomId": [1], "text": {}}),
    ];
    for route in routes {
        for body in &bodies {
            let r = http(
                &sim,
                "POST",
                &format!("/api/v1/{route}"),
                auth,
                Some(body.clone()),
            )
            .await;
            assert!(
                (400..500).contains(&r.status) || r.status == 200,
                "{route} {body}: {}",
                r.status
            );
        }
    }
    for path in [
        "/api/v1/chat.getMessage",
        "/api/v1/chat.syncMessages?roomId=&lastUpdate=",
        "/api/v1/rooms.info",
        "/api/v1/users.info?userId=%ZZ",
        "/api/v1/nope",
    ] {
        let r = http(&sim, "GET", path, auth, None).await;
        assert!((400..500).contains(&r.status), "{path}: {}", r.status);
    }
    assert_eq!(
        http(&sim, "GET", "/api/v1/me", auth, None).await.status,
        200
    );
    sim.shutdown().await;
}
