//! Measures the simulator's firehose end to end: one DDP client subscribed to
//! `__my_messages__`, N messages over M rooms, and the delivery latency computed from each
//! message's `customFields.simSentAtNanos`. Prints a summary; asserts nothing.
//!
//! `cargo run --release -p rocketchat-sim --example firehose -- 20000 4`
#![allow(clippy::print_stdout, clippy::unwrap_used, clippy::expect_used)]

use std::future::Future;
use std::time::Instant;

use bytes::Bytes;
use fastwebsockets::{FragmentCollector, Frame, OpCode, Payload};
use rocketchat_sim::{RoomKind, SimConfig, Simulator, UserKind};
use serde_json::{json, Value};

struct SpawnExecutor;

impl<Fut> hyper::rt::Executor<Fut> for SpawnExecutor
where
    Fut: Future + Send + 'static,
    Fut::Output: Send + 'static,
{
    fn execute(&self, fut: Fut) {
        tokio::task::spawn(fut);
    }
}

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let count: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(10_000);
    let room_count: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(4);

    let sim = Simulator::start(SimConfig::default()).await.unwrap();
    let bot = sim.create_user("bot", UserKind::Bot).unwrap();
    let token = sim.create_pat(&bot, "bench").unwrap();
    let peer = sim.create_user("peer", UserKind::Human).unwrap();
    let rooms: Vec<String> = (0..room_count)
        .map(|i| {
            sim.create_room(RoomKind::Public, &format!("load{i}"), &peer, &[&bot])
                .unwrap()
        })
        .collect();

    let stream = tokio::net::TcpStream::connect(sim.addr()).await.unwrap();
    let req = hyper::Request::builder()
        .uri(sim.ws_url())
        .header("Host", sim.addr().to_string())
        .header(hyper::header::UPGRADE, "websocket")
        .header(hyper::header::CONNECTION, "upgrade")
        .header(
            "Sec-WebSocket-Key",
            fastwebsockets::handshake::generate_key(),
        )
        .header("Sec-WebSocket-Version", "13")
        .body(http_body_util::Empty::<Bytes>::new())
        .unwrap();
    let (ws, _) = fastwebsockets::handshake::client(&SpawnExecutor, req, stream)
        .await
        .unwrap();
    let mut ws = FragmentCollector::new(ws);
    for frame in [
        json!({"msg": "connect", "version": "1", "support": ["1"]}),
        json!({"msg": "method", "id": "1", "method": "login", "params": [{"resume": token}]}),
        json!({"msg": "sub", "id": "s", "name": "stream-room-messages", "params": ["__my_messages__", false]}),
    ] {
        ws.write_frame(Frame::text(Payload::Owned(frame.to_string().into_bytes())))
            .await
            .unwrap();
    }
    loop {
        let f = ws.read_frame().await.unwrap();
        let v: Value = serde_json::from_slice(&f.payload).unwrap();
        if v["msg"] == "ready" {
            break;
        }
    }

    let started = Instant::now();
    let sender = {
        let sim = sim.clone();
        tokio::spawn(async move { sim.firehose(&peer, &rooms, count).await.unwrap() })
    };
    let mut latencies_us: Vec<f64> = Vec::with_capacity(count);
    while latencies_us.len() < count {
        let f = ws.read_frame().await.unwrap();
        if f.opcode != OpCode::Text {
            continue;
        }
        let v: Value = serde_json::from_slice(&f.payload).unwrap();
        let Some(sent) = v["fields"]["args"][0]["customFields"]["simSentAtNanos"].as_str() else {
            continue;
        };
        let sent: i128 = sent.parse().unwrap();
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos() as i128;
        latencies_us.push((now - sent) as f64 / 1000.0);
    }
    let elapsed = started.elapsed();
    sender.await.unwrap();
    latencies_us.sort_by(|a, b| a.total_cmp(b));
    let pct = |p: f64| latencies_us[((latencies_us.len() as f64 - 1.0) * p) as usize];
    println!(
        "{count} messages over {room_count} rooms in {:.3}s ({:.0} msg/s); latency us p50 {:.0} p99 {:.0} max {:.0}",
        elapsed.as_secs_f64(),
        count as f64 / elapsed.as_secs_f64(),
        pct(0.5),
        pct(0.99),
        pct(1.0)
    );
    sim.shutdown().await;
}
