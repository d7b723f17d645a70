//! `bridge serve` as a real child process: its stdin, its stdout read as JSON lines (kept
//! raw too), and its stderr collected in the background.
#![allow(clippy::unwrap_used, dead_code, unreachable_pub)]

use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};

const BIN: &str = env!("CARGO_BIN_EXE_bridge");
/// Generous: only there so a broken test fails instead of hanging.
pub const PROCESS_WAIT: Duration = Duration::from_secs(30);

/// A running `bridge serve` with its pipes.
pub struct Serve {
    pub child: Child,
    stdin: Option<ChildStdin>,
    stdout: Lines<BufReader<ChildStdout>>,
    /// Every stdout line read so far, as written.
    pub raw_stdout: Vec<String>,
    stderr: Arc<Mutex<String>>,
    stderr_task: tokio::task::JoinHandle<()>,
}

impl Serve {
    /// Starts `bridge serve` with `RUST_LOG=<rust_log>`; nothing written yet.
    pub fn spawn(rust_log: &str) -> Self {
        let mut child = Command::new(BIN)
            .arg("serve")
            .env("RUST_LOG", rust_log)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let stdin = child.stdin.take();
        let stdout = BufReader::new(child.stdout.take().unwrap()).lines();
        let mut err = child.stderr.take().unwrap();
        let stderr = Arc::new(Mutex::new(String::new()));
        let sink = stderr.clone();
        let stderr_task = tokio::spawn(async move {
            let mut buf = String::new();
            let _ = err.read_to_string(&mut buf).await;
            sink.lock().unwrap().push_str(&buf);
        });
        Self {
            child,
            stdin,
            stdout,
            raw_stdout: Vec::new(),
            stderr,
            stderr_task,
        }
    }

    /// Starts it, writes the configuration line and waits for `ready`.
    pub async fn start(rust_log: &str, config: &Value) -> Self {
        let mut serve = Self::spawn(rust_log);
        serve.write(&config.to_string()).await;
        serve.notification("ready").await;
        serve
    }

    /// Writes one line.
    pub async fn write(&mut self, line: &str) {
        self.write_bytes(line.as_bytes()).await;
    }

    /// Writes one line of raw bytes.
    pub async fn write_bytes(&mut self, line: &[u8]) {
        let stdin = self.stdin.as_mut().unwrap();
        stdin.write_all(line).await.unwrap();
        stdin.write_all(b"\n").await.unwrap();
        stdin.flush().await.unwrap();
    }

    /// The next stdout line, parsed; `None` at the end of the output.
    pub async fn read(&mut self) -> Option<Value> {
        let line = tokio::time::timeout(PROCESS_WAIT, self.stdout.next_line())
            .await
            .expect("no output in time")
            .unwrap()?;
        self.raw_stdout.push(line.clone());
        Some(serde_json::from_str(&line).unwrap_or_else(|e| panic!("not JSON {line:?}: {e}")))
    }

    /// Reads until a line matches; returns it.
    pub async fn until(&mut self, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
        loop {
            let v = self
                .read()
                .await
                .unwrap_or_else(|| panic!("output ended before {what}"));
            if pred(&v) {
                return v;
            }
        }
    }

    /// The params of the next notification called `method`.
    pub async fn notification(&mut self, method: &str) -> Value {
        self.until(method, |v| v["method"] == json!(method)).await["params"].clone()
    }

    /// Sends a request and returns its response line.
    pub async fn call(&mut self, id: u64, method: &str, params: Value) -> Value {
        let request = json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params});
        self.write(&request.to_string()).await;
        self.until(method, |v| v["id"] == json!(id)).await
    }

    /// `/proc/<pid>/<name>` of the child.
    pub fn proc_file(&self, name: &str) -> Vec<u8> {
        let pid = self.child.id().unwrap();
        std::fs::read(format!("/proc/{pid}/{name}")).unwrap()
    }

    /// Closes stdin and returns (exit code, remaining stdout lines, stderr).
    pub async fn finish(mut self) -> (Option<i32>, Vec<Value>, String) {
        self.stdin = None;
        let mut rest = Vec::new();
        while let Some(v) = self.read().await {
            rest.push(v);
        }
        let status = tokio::time::timeout(PROCESS_WAIT, self.child.wait())
            .await
            .expect("the bridge did not exit")
            .unwrap();
        tokio::time::timeout(PROCESS_WAIT, self.stderr_task)
            .await
            .unwrap()
            .unwrap();
        let stderr = self.stderr.lock().unwrap().clone();
        (status.code(), rest, stderr)
    }
}
