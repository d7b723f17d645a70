//! The simulator the benchmarks run against: its own Tokio runtime on its own thread (one
//! worker), a bot with a PAT, a human who posts, and `rooms` public rooms with both in them.

use std::time::Duration;

use rocketchat_sim::{FirehoseReport, RoomKind, SimConfig, SimHandle, Simulator, UserKind};
use tokio::runtime::Runtime;
use tokio::task::JoinHandle;

use crate::Res;

/// A running simulator with the benchmark's users and rooms.
pub(crate) struct Sim {
    rt: Runtime,
    pub(crate) handle: SimHandle,
    pub(crate) bot_id: String,
    pub(crate) bot_username: String,
    pub(crate) bot_token: String,
    pub(crate) human_id: String,
    pub(crate) rooms: Vec<String>,
}

impl std::fmt::Debug for Sim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sim")
            .field("addr", &self.handle.addr())
            .field("rooms", &self.rooms.len())
            .finish_non_exhaustive()
    }
}

impl Sim {
    /// Starts a simulator with rate limits off and `rooms` public rooms.
    pub(crate) fn start(rooms: usize) -> Res<Self> {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("sim")
            .enable_all()
            .build()?;
        let config = SimConfig {
            rest_rate_limit: None,
            ddp_rate_limit: None,
            // A long benchmark must not be cut short by the server's ping cadence.
            heartbeat_interval: Duration::from_secs(60),
            heartbeat_timeout: Duration::from_secs(60),
            ..SimConfig::default()
        };
        let handle = rt.block_on(Simulator::start(config))?;
        let bot_username = "bot".to_owned();
        let bot_id = handle.create_user(&bot_username, UserKind::Bot)?;
        let bot_token = handle.create_pat(&bot_id, "bench")?;
        let human_id = handle.create_user("alice", UserKind::Human)?;
        let mut ids = Vec::with_capacity(rooms);
        for i in 0..rooms {
            ids.push(handle.create_room(
                RoomKind::Public,
                &format!("room-{i}"),
                &human_id,
                &[bot_id.as_str()],
            )?);
        }
        Ok(Self {
            rt,
            handle,
            bot_id,
            bot_username,
            bot_token,
            human_id,
            rooms: ids,
        })
    }

    /// `http://127.0.0.1:<port>`.
    pub(crate) fn base_url(&self) -> String {
        self.handle.base_url()
    }

    /// Starts the firehose on the simulator's runtime: `n` messages from the human,
    /// round-robin over the rooms.
    pub(crate) fn firehose(&self, n: usize) -> JoinHandle<Res<FirehoseReport>> {
        let handle = self.handle.clone();
        let uid = self.human_id.clone();
        let rooms = self.rooms.clone();
        self.rt
            .spawn(async move { Ok(handle.firehose(&uid, &rooms, n).await?) })
    }

    /// Posts `n` firehose messages round-robin over `rooms` and waits for them: their ids,
    /// in posting order.
    pub(crate) fn firehose_into(&self, rooms: Vec<String>, n: usize) -> Res<Vec<String>> {
        let handle = self.handle.clone();
        let uid = self.human_id.clone();
        let report = self
            .rt
            .block_on(async move { handle.firehose(&uid, &rooms, n).await })?;
        Ok(report.message_ids)
    }

    /// Posts one firehose message per `every`, `n` in all, into the first room, on the
    /// simulator's runtime (a steady rate for the latency run).
    pub(crate) fn steady(&self, n: usize, every: Duration) -> JoinHandle<Res<Vec<String>>> {
        let handle = self.handle.clone();
        let uid = self.human_id.clone();
        let rooms = vec![self.rooms[0].clone()];
        self.rt.spawn(async move {
            let mut ids = Vec::with_capacity(n);
            let mut tick = tokio::time::interval(every);
            for _ in 0..n {
                tick.tick().await;
                ids.extend(handle.firehose(&uid, &rooms, 1).await?.message_ids);
            }
            Ok(ids)
        })
    }

    /// The simulator's send stamp of a stored message (`customFields.simSentAtNanos`).
    pub(crate) fn stamp(&self, mid: &str) -> Option<i128> {
        self.handle
            .message(mid)?
            .pointer("/customFields/simSentAtNanos")?
            .as_str()?
            .parse()
            .ok()
    }

    /// Stops the server and its runtime.
    pub(crate) fn stop(self) {
        let Sim { rt, handle, .. } = self;
        rt.block_on(handle.shutdown());
        rt.shutdown_timeout(Duration::from_secs(2));
    }
}
