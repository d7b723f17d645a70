//! A bridge running over in-memory pipes, and a JSON-RPC client for it.
#![allow(clippy::unwrap_used, dead_code, unreachable_pub)]

pub mod gated;

use std::collections::VecDeque;
use std::time::Duration;

use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, DuplexStream, Lines};
use tokio::task::JoinHandle;

/// The namespace the in-memory bridges run under: the core knows no backend, and these
/// tests prove it by running the mock backend under its own name.
pub fn mock_namespace() -> channel_api::Namespace {
    channel_api::Namespace::new("mock").unwrap()
}

/// Generous: only there so a broken test fails instead of hanging.
pub const WAIT: Duration = Duration::from_secs(10);

/// The plugin's side of the pipes.
pub struct Client {
    input: Option<DuplexStream>,
    output: Lines<BufReader<DuplexStream>>,
    next_id: u64,
    /// Lines read while waiting for something else.
    backlog: VecDeque<Value>,
}

impl Client {
    /// Pipes for a bridge: (client, bridge input, bridge output).
    pub fn pipes() -> (Self, DuplexStream, DuplexStream) {
        let (client_in, bridge_in) = tokio::io::duplex(1 << 20);
        let (bridge_out, client_out) = tokio::io::duplex(1 << 20);
        let client = Self {
            input: Some(client_in),
            output: BufReader::new(client_out).lines(),
            next_id: 1,
            backlog: VecDeque::new(),
        };
        (client, bridge_in, bridge_out)
    }

    /// Writes one raw line.
    pub async fn write_line(&mut self, line: &str) {
        let input = self.input.as_mut().expect("input closed");
        input.write_all(line.as_bytes()).await.unwrap();
        input.write_all(b"\n").await.unwrap();
        input.flush().await.unwrap();
    }

    /// Closes the bridge's input (EOF).
    pub fn close_input(&mut self) {
        self.input = None;
    }

    /// The next line from the bridge, as JSON; `None` at end of output.
    pub async fn read(&mut self) -> Option<Value> {
        if let Some(v) = self.backlog.pop_front() {
            return Some(v);
        }
        self.read_raw().await
    }

    async fn read_raw(&mut self) -> Option<Value> {
        let line = tokio::time::timeout(WAIT, self.output.next_line())
            .await
            .expect("no output from the bridge in time")
            .unwrap()?;
        Some(serde_json::from_str(&line).unwrap_or_else(|e| panic!("bad line {line:?}: {e}")))
    }

    /// Sends a request and waits for its response (notifications read meanwhile are kept).
    pub async fn call(&mut self, method: &str, params: Value) -> Value {
        let id = self.next_id;
        self.next_id += 1;
        let line = json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params});
        self.write_line(&line.to_string()).await;
        self.response(id).await
    }

    /// Sends a request without waiting; returns its id.
    pub async fn start(&mut self, method: &str, params: Value) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        let line = json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params});
        self.write_line(&line.to_string()).await;
        id
    }

    /// Waits for the response with `id`.
    pub async fn response(&mut self, id: u64) -> Value {
        if let Some(pos) = self.backlog.iter().position(|v| v["id"] == json!(id)) {
            return self.backlog.remove(pos).unwrap();
        }
        loop {
            let v = self.read_raw().await.expect("output ended");
            if v["id"] == json!(id) {
                return v;
            }
            self.backlog.push_back(v);
        }
    }

    /// Waits for the next notification of `method` (other lines are kept).
    pub async fn notification(&mut self, method: &str) -> Value {
        if let Some(pos) = self
            .backlog
            .iter()
            .position(|v| v["method"] == json!(method))
        {
            return self.backlog.remove(pos).unwrap()["params"].clone();
        }
        loop {
            let v = self.read_raw().await.expect("output ended");
            if v["method"] == json!(method) {
                return v["params"].clone();
            }
            self.backlog.push_back(v);
        }
    }

    /// Every kept notification of `method`, removing them.
    pub fn take_backlog(&mut self, method: &str) -> Vec<Value> {
        let (hit, rest): (Vec<_>, Vec<_>) = self
            .backlog
            .drain(..)
            .partition(|v| v["method"] == json!(method));
        self.backlog = rest.into();
        hit.into_iter().map(|v| v["params"].clone()).collect()
    }
}

/// Waits for a task with the generous timeout.
pub async fn join<T>(task: JoinHandle<T>) -> T {
    tokio::time::timeout(WAIT, task)
        .await
        .expect("the bridge did not stop in time")
        .unwrap()
}
