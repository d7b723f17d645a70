//! Trust and secrecy against the simulator: certificates from an unknown CA are refused and
//! accepted once the CA is configured; the token never shows in trace output.

#![allow(clippy::unwrap_used)]

mod support;

use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use backend_rocketchat::RocketChatChannel;
use channel_api::{AccountId, Channel, ChannelExt, ConnectionState, Error, Event, RoomId};
use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair, KeyUsagePurpose};
use rocketchat_sim::{SimConfig, TlsFiles};

const WAIT: Duration = Duration::from_secs(20);

struct Pki {
    dir: PathBuf,
    ca_pem: PathBuf,
    tls: TlsFiles,
}

/// A throwaway CA and a server certificate for 127.0.0.1/localhost signed by it.
fn make_pki(tag: &str) -> Pki {
    let dir = std::env::temp_dir().join(format!(
        "rc-backend-tls-{tag}-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let ca_key = KeyPair::generate().unwrap();
    let ca_cert = ca_params.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca_params, ca_key);

    let server_params =
        CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()]).unwrap();
    let server_key = KeyPair::generate().unwrap();
    let server_cert = server_params.signed_by(&server_key, &issuer).unwrap();

    let write = |name: &str, pem: String| {
        let path = dir.join(name);
        std::fs::File::create(&path)
            .unwrap()
            .write_all(pem.as_bytes())
            .unwrap();
        path
    };
    let ca_pem = write("ca.pem", ca_cert.pem());
    let cert_pem = write("server.pem", server_cert.pem());
    let key_pem = write("server-key.pem", server_key.serialize_pem());
    Pki {
        dir,
        ca_pem,
        tls: TlsFiles { cert_pem, key_pem },
    }
}

async fn tls_world(pki: &Pki) -> support::World {
    support::world_with(SimConfig {
        tls: Some(pki.tls.clone()),
        ..SimConfig::default()
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_ca_is_refused_and_a_configured_ca_is_trusted() {
    support::scoped_log_capture_safe();
    let pki = make_pki("ca");
    let w = tls_world(&pki).await;
    assert!(w.sim.base_url().starts_with("https://"));

    let mut config = w.config();
    config.dangerously_allow_insecure = false;
    let err = RocketChatChannel::connect(config.clone(), AccountId::new("default"))
        .await
        .unwrap_err();
    match &err {
        Error::Disconnected { reason } => {
            assert!(reason.to_lowercase().contains("certificate"), "{reason}")
        }
        other => panic!("expected a refused certificate, got {other:?}"),
    }

    config.ca_file = Some(pki.ca_pem.clone());
    let channel = RocketChatChannel::connect(config, AccountId::new("default"))
        .await
        .unwrap();
    let mut events = channel.events().unwrap();
    w.sim.post(&w.peer_id, &w.room, "over wss").unwrap();
    let found = tokio::time::timeout(WAIT, async {
        loop {
            match events.recv().await {
                Some(Event::MessageCreated { message }) if message.text == "over wss" => break,
                Some(_) => {}
                None => panic!("stream ended"),
            }
        }
    })
    .await;
    assert!(found.is_ok(), "no message over wss");
    channel
        .send_text(&RoomId::new(w.room.clone()), "reply over https")
        .await
        .unwrap();
    channel.shutdown().await;
    let _ = std::fs::remove_dir_all(&pki.dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_insecure_flag_skips_verification() {
    support::scoped_log_capture_safe();
    let pki = make_pki("insecure");
    let w = tls_world(&pki).await;
    // `w.config()` sets the flag and no CA.
    let channel = RocketChatChannel::connect(w.config(), AccountId::new("default"))
        .await
        .unwrap();
    assert_eq!(channel.state(), ConnectionState::Active);
    channel.shutdown().await;
    let _ = std::fs::remove_dir_all(&pki.dir);
}

/// A `MakeWriter` into a shared buffer.
#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Capture {
    type Writer = Capture;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

// Single-threaded, so the thread-local subscriber sees every task of the backend.
#[tokio::test]
async fn the_token_never_appears_in_trace_output() {
    support::scoped_log_capture_safe();
    let capture = Capture::default();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(capture.clone())
        .with_ansi(false)
        .with_env_filter(tracing_subscriber::EnvFilter::new(
            "trace,rocketchat_sim=off",
        ))
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let w = support::world().await;
    let mut config = w.config();
    config.timeouts.reconnect_min = Duration::from_millis(10);
    let token = w.bot_token.clone();
    let channel = RocketChatChannel::connect(config.clone(), AccountId::new("default"))
        .await
        .unwrap();
    tracing::info!(?config, "the config, as Debug");
    tracing::info!(channel = ?channel, "the channel, as Debug");
    let mut events = channel.events().unwrap();
    let room = RoomId::new(w.room.clone());
    channel.send_text(&room, "hello").await.unwrap();
    channel.set_typing(&room, None, true).await.unwrap();
    // A reconnect logs in again.
    w.sim.drop_sockets(&w.bot_id);
    let mut actives = 0;
    tokio::time::timeout(WAIT, async {
        while let Some(e) = events.recv().await {
            if e == (Event::ConnectionStateChanged {
                state: ConnectionState::Active,
            }) {
                actives += 1;
                if actives == 2 {
                    break;
                }
            }
        }
    })
    .await
    .unwrap();
    // A bad token's errors too.
    let mut wrong = config.clone();
    wrong.auth_token = backend_rocketchat::Secret::new(format!("{token}x"));
    let err = RocketChatChannel::connect(wrong, AccountId::new("default"))
        .await
        .unwrap_err();
    tracing::warn!(%err, "refused as expected");
    channel.shutdown().await;

    let text = String::from_utf8(capture.0.lock().unwrap().clone()).unwrap();
    assert!(text.contains("connection state"), "nothing was captured");
    assert!(
        !text.contains(&token),
        "the token leaked into the trace output"
    );
}
