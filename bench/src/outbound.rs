//! Outbound: sequential sends against the simulator, rate limits off, connections reused.
//! The backend (`Channel::send`, REST `chat.sendMessage` with a client-chosen `_id`) against
//! a bare hyper client posting the same request on one keep-alive connection.

use std::time::{Duration, Instant};

use backend_rocketchat::RocketChatChannel;
use bytes::Bytes;
use channel_api::{AccountId, Channel, OutboundMessage, RoomId};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::json;

use crate::inbound::backend_config;
use crate::measure::{thread_cpu, us};
use crate::sim::Sim;
use crate::Res;

#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Sends {
    pub(crate) sends: usize,
    pub(crate) wall: Duration,
    /// CPU of the client thread (the simulator runs on its own thread).
    pub(crate) cpu: Duration,
}

impl Sends {
    fn rate(&self) -> f64 {
        self.sends as f64 / self.wall.as_secs_f64().max(1e-9)
    }
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct Outbound {
    pub(crate) backend: Sends,
    pub(crate) raw: Sends,
}

pub(crate) fn run(client_rt: &tokio::runtime::Runtime, sim: &Sim, n: usize) -> Res<Outbound> {
    let room = sim.rooms[0].clone();
    let config = backend_config(sim, &[])?;
    let backend = client_rt.block_on(async {
        let channel = RocketChatChannel::connect(config, AccountId::new("bench")).await?;
        // One warm-up send opens the keep-alive connection.
        channel
            .send(OutboundMessage::new(RoomId::new(room.clone()), "warm-up"))
            .await?;
        let cpu0 = thread_cpu();
        let t0 = Instant::now();
        for i in 0..n {
            channel
                .send(OutboundMessage::new(
                    RoomId::new(room.clone()),
                    format!("outbound {i}"),
                ))
                .await?;
        }
        let s = Sends {
            sends: n,
            wall: t0.elapsed(),
            cpu: thread_cpu() - cpu0,
        };
        channel.shutdown().await;
        Res::Ok(s)
    })?;

    let url = format!("{}/api/v1/chat.sendMessage", sim.base_url());
    let raw = client_rt.block_on(async {
        let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new()).build_http();
        let post = |i: usize| {
            let body = json!({"message": {"rid": room, "msg": format!("raw {i}")}}).to_string();
            http::Request::post(url.as_str())
                .header("content-type", "application/json")
                .header("x-user-id", sim.bot_id.as_str())
                .header("x-auth-token", sim.bot_token.as_str())
                .body(Full::new(Bytes::from(body)))
        };
        let send = |i: usize| {
            let client = client.clone();
            let request = post(i);
            async move {
                let response = client.request(request?).await?;
                let status = response.status();
                let body = response.into_body().collect().await?.to_bytes();
                if !status.is_success() {
                    return Err(format!("raw send: {status}").into());
                }
                let _: serde_json::Value = serde_json::from_slice(&body)?;
                Res::Ok(())
            }
        };
        send(0).await?;
        let cpu0 = thread_cpu();
        let t0 = Instant::now();
        for i in 0..n {
            send(i).await?;
        }
        Res::Ok(Sends {
            sends: n,
            wall: t0.elapsed(),
            cpu: thread_cpu() - cpu0,
        })
    })?;
    Ok(Outbound { backend, raw })
}

pub(crate) fn print(o: &Outbound) {
    println!("\n## Outbound (sequential sends, rate limits off, keep-alive connection)");
    for (label, s) in [
        ("backend Channel::send", &o.backend),
        ("raw hyper POST chat.sendMessage", &o.raw),
    ] {
        println!(
            "- {label}: {} sends in {:.2} s: {:.0} sends/s; client CPU {} per send",
            s.sends,
            s.wall.as_secs_f64(),
            s.rate(),
            us(s.cpu / u32::try_from(s.sends.max(1)).unwrap_or(u32::MAX)),
        );
    }
    println!(
        "- backend vs raw: {:.0}% of the raw send rate",
        100.0 * o.backend.rate() / o.raw.rate().max(1e-9)
    );
}
