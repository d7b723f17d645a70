//! Latency at a steady 1,000 messages per second: from the simulator's send stamp
//! (`customFields.simSentAtNanos`, taken just before the message is stored and broadcast)
//! to the moment the event leaves the backend (the consumer's `recv` returns it). The raw
//! client is measured the same way, up to its parsed frame, for comparison.

use std::collections::HashMap;
use std::time::Duration;

use backend_rocketchat::RocketChatChannel;
use channel_api::{AccountId, Channel, Event};

use crate::inbound::backend_config;
use crate::measure::{unix_nanos, us, Percentiles};
use crate::raw::RawClient;
use crate::sim::Sim;
use crate::Res;

/// One interval between messages: 1,000 per second.
const EVERY: Duration = Duration::from_millis(1);

#[derive(Debug, Clone, Copy)]
pub(crate) struct Latency {
    pub(crate) backend: Percentiles,
    pub(crate) raw: Percentiles,
    /// Per message, backend event minus raw frame, both clients on one thread reading
    /// the same stream: the backend's own share, with the server's jitter cancelled out.
    pub(crate) paired: Percentiles,
}

fn to_latencies(sim: &Sim, arrivals: &HashMap<String, i128>) -> Vec<Duration> {
    arrivals
        .iter()
        .filter_map(|(mid, at)| {
            let sent = sim.stamp(mid)?;
            let ns = u64::try_from(at - sent).unwrap_or(0);
            Some(Duration::from_nanos(ns))
        })
        .collect()
}

pub(crate) fn run(client_rt: &tokio::runtime::Runtime, sim: &Sim, n: usize) -> Res<Latency> {
    // Through the backend.
    let config = backend_config(sim, &[])?;
    let arrivals = client_rt.block_on(async {
        let channel = RocketChatChannel::connect(config, AccountId::new("bench")).await?;
        let mut events = channel.events()?;
        let sending = sim.steady(n, EVERY);
        let mut arrivals = HashMap::with_capacity(n);
        while arrivals.len() < n {
            match events.recv().await {
                Some(Event::MessageCreated { message }) => {
                    arrivals.insert(message.id.as_str().to_owned(), unix_nanos());
                }
                Some(_) => {}
                None => return Err("the event stream ended".into()),
            }
        }
        sending.await??;
        channel.shutdown().await;
        Res::Ok(arrivals)
    })?;
    let backend = Percentiles::of(to_latencies(sim, &arrivals));

    // The raw client, same rate.
    let raw = client_rt.block_on(async {
        let mut client = RawClient::connect(sim.handle.addr(), &sim.bot_token).await?;
        let sending = sim.steady(n, EVERY);
        let mut latencies = Vec::with_capacity(n);
        client
            .read_messages(n, |v| {
                let now = unix_nanos();
                let sent = v
                    .pointer("/fields/args/0/customFields/simSentAtNanos")
                    .and_then(|s| s.as_str())
                    .and_then(|s| s.parse::<i128>().ok());
                if let Some(sent) = sent {
                    latencies.push(Duration::from_nanos(u64::try_from(now - sent).unwrap_or(0)));
                }
            })
            .await?;
        sending.await??;
        Res::Ok(Percentiles::of(latencies))
    })?;
    // Both at once, on this one thread.
    let config = backend_config(sim, &[])?;
    let (backend_at, raw_at) = client_rt.block_on(async {
        let channel = RocketChatChannel::connect(config, AccountId::new("bench")).await?;
        let mut events = channel.events()?;
        let mut client = RawClient::connect(sim.handle.addr(), &sim.bot_token).await?;
        let sending = sim.steady(n, EVERY);
        let backend = async {
            let mut arrivals = HashMap::with_capacity(n);
            while arrivals.len() < n {
                match events.recv().await {
                    Some(Event::MessageCreated { message }) => {
                        arrivals.insert(message.id.as_str().to_owned(), unix_nanos());
                    }
                    Some(_) => {}
                    None => return Err("the event stream ended".into()),
                }
            }
            Res::Ok(arrivals)
        };
        let raw = async {
            let mut arrivals = HashMap::with_capacity(n);
            client
                .read_messages(n, |v| {
                    let now = unix_nanos();
                    if let Some(id) = v.pointer("/fields/args/0/_id").and_then(|s| s.as_str()) {
                        arrivals.insert(id.to_owned(), now);
                    }
                })
                .await?;
            Res::Ok(arrivals)
        };
        let (backend, raw) = tokio::join!(backend, raw);
        sending.await??;
        channel.shutdown().await;
        Res::Ok((backend?, raw?))
    })?;
    let paired = backend_at
        .iter()
        .filter_map(|(mid, b)| {
            let r = raw_at.get(mid)?;
            Some(Duration::from_nanos(u64::try_from(b - r).unwrap_or(0)))
        })
        .collect();
    Ok(Latency {
        backend,
        raw,
        paired: Percentiles::of(paired),
    })
}

pub(crate) fn print(l: &Latency) {
    println!("\n## Latency at 1,000 msgs/s (simulator send stamp -> event out of the backend)");
    for (label, p) in [("backend", &l.backend), ("raw client", &l.raw)] {
        println!(
            "- {label}: p50 {} / p99 {} / p999 {} / max {} ({} samples)",
            us(p.p50),
            us(p.p99),
            us(p.p999),
            us(p.max),
            p.samples
        );
    }
    println!(
        "- added by the backend (both clients on one thread, same stream; per message, event out of the backend minus raw frame parsed): p50 {} / p99 {} / p999 {} / max {} ({} samples)",
        us(l.paired.p50),
        us(l.paired.p99),
        us(l.paired.p999),
        us(l.paired.max),
        l.paired.samples
    );
}
