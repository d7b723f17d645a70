//! The `serve` entry point over in-memory pipes: the configuration line, its rejection,
//! and logs (captured at trace level) that never contain the token.
#![allow(clippy::unwrap_used)]

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex};

use backend_mock::World;
use bridge_core::serve::{serve, Connected, ServeOutcome};
use common::Client;
use serde_json::json;

const TOKEN: &str = "SECRET-TOKEN-123";

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

/// Runs `body` on a current-thread runtime with every log line captured.
fn with_logs<F: std::future::Future<Output = ()>>(body: impl FnOnce() -> F) -> String {
    let logs = Captured::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(body());
    logs.text()
}

#[test]
fn serve_runs_a_session_and_never_logs_the_token() {
    let logs = with_logs(|| async {
        let world = World::new();
        let bot = world.add_bot("bot");
        let alice = world.add_user("alice");
        let room = world
            .create_public_room("general", &[&bot, &alice])
            .unwrap();
        let (mut client, bridge_in, bridge_out) = Client::pipes();
        let connect_world = world.clone();
        let connect_bot = bot.clone();
        let bridge = tokio::spawn(serve(bridge_in, bridge_out, move |config| async move {
            let channel = connect_world
                .channel_for(&connect_bot, config.account_id().clone())
                .unwrap();
            Ok(Connected {
                channel,
                namespace: common::mock_namespace(),
            })
        }));
        let config = json!({"serverUrl": "https://chat.example", "userId": bot.as_str(),
            "username": "bot", "authToken": TOKEN, "groupPolicy": "open"});
        client.write_line(&config.to_string()).await;
        // Once a request is answered, the channel exists and hears the world.
        let _ = client.call("stats", json!({})).await;
        let peer = world.peer(&alice).unwrap();
        peer.post(&room, "@bot hi").unwrap();
        peer.post(&room, "no mention").unwrap();
        peer.post_dm(&bot, "pair me").unwrap();
        let _ = client.notification("message").await;
        let _ = client.notification("pairingRequired").await;
        let r = client
            .call("send", json!({"target": room.as_str(), "text": "hello"}))
            .await;
        assert!(r["result"].is_object(), "{r}");
        client.write_line("garbage").await;
        let _ = client.call("stats", json!({})).await;
        client.close_input();
        let outcome = common::join(bridge).await;
        assert!(matches!(outcome, ServeOutcome::Finished), "{outcome:?}");
        assert_eq!(outcome.exit_code(), 0);
    });
    assert!(logs.contains("configuration accepted"), "{logs}");
    assert!(
        logs.contains("not_mentioned"),
        "skips are logged with their reason: {logs}"
    );
    assert!(!logs.contains(TOKEN), "the token was logged:\n{logs}");
}

#[test]
fn a_rejected_config_line_writes_fatal_and_never_logs_the_token() {
    let logs = with_logs(|| async {
        let (mut client, bridge_in, bridge_out) = Client::pipes();
        let bridge = tokio::spawn(serve(bridge_in, bridge_out, |_config| async {
            Err::<Connected<backend_mock::MemoryChannel>, _>(bridge_core::ConfigError::new(
                "unreachable",
                "connect must not be called",
            ))
        }));
        let config = json!({"authToken": TOKEN, "dmPolicy": "open", "allowFrom": ["u1"]});
        client.write_line(&config.to_string()).await;
        let fatal = client.notification("fatal").await;
        assert_eq!(fatal["field"], json!("allowFrom"));
        let outcome = common::join(bridge).await;
        assert_eq!(outcome.exit_code(), 2);
        assert!(!fatal.to_string().contains(TOKEN));
    });
    assert!(logs.contains("configuration rejected"), "{logs}");
    assert!(!logs.contains(TOKEN), "the token was logged:\n{logs}");
}
