//! The JSON-RPC loop: reads requests from the input, runs them concurrently, pumps the
//! channel's events through the policy, and writes responses and notifications as lines.
//!
//! Tasks:
//! - the **reader** (the caller's task) parses each line and starts a handler per request;
//!   sends take a per-room turn first so sends to one room post in input order;
//! - the **event pump** sends every channel event down its route (`route`): decided,
//!   prepared, handed over in room order, acknowledged;
//! - the **writer** owns the output and writes one line per message;
//! - the **ledger writer** writes the resume point (`stateFile`) when it changes.
//!
//! End of input or a `shutdown` request stops the reader; in-flight requests get a grace
//! period, then everything queued is written and `run` returns.

use std::sync::Arc;

use channel_api::Channel;
use tokio::io::{AsyncBufRead, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinSet;

use crate::config::{AccountConfig, ConfigError};
use crate::core::Core;
use crate::handlers;
use crate::lines::{Line, LineReader, MAX_LINE_BYTES};
use crate::media::MediaDir;
pub use crate::options::BridgeOptions;
use crate::resume::Ledger;
use crate::route;
use crate::rpc::{self, RpcError};

/// How many output lines may wait for the writer before producers wait.
const OUTBOX_CAPACITY: usize = 1024;
/// Queued output lines are written together up to about this many bytes.
const WRITE_BATCH_BYTES: usize = 64 * 1024;

/// Why the bridge could not run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BridgeError {
    /// The configuration was rejected.
    #[error("invalid configuration: {0}")]
    Config(#[from] ConfigError),
    /// The channel refused to hand out its event stream.
    #[error("the channel has no event stream: {0}")]
    Channel(#[from] channel_api::Error),
    /// Reading the input or writing the output failed.
    #[error("stdio: {0}")]
    Io(#[from] std::io::Error),
}

/// Runs the bridge over `channel` until the input ends or a `shutdown` request arrives.
///
/// `config` is the already parsed configuration line; `input` carries the JSON-RPC lines
/// that follow it and `output` receives responses and notifications.
pub async fn run_bridge<C, R, W>(
    channel: C,
    config: &AccountConfig,
    namespace: channel_api::Namespace,
    input: R,
    output: W,
) -> Result<(), BridgeError>
where
    C: Channel + 'static,
    R: AsyncRead + Unpin + Send,
    W: AsyncWrite + Unpin + Send + 'static,
{
    run_bridge_with(
        channel,
        config,
        BridgeOptions::new(namespace),
        input,
        output,
    )
    .await
}

/// [`run_bridge`] with options.
pub async fn run_bridge_with<C, R, W>(
    channel: C,
    config: &AccountConfig,
    options: BridgeOptions,
    input: R,
    output: W,
) -> Result<(), BridgeError>
where
    C: Channel + 'static,
    R: AsyncRead + Unpin + Send,
    W: AsyncWrite + Unpin + Send + 'static,
{
    let media = MediaDir::open(config.media())?;
    let reader = LineReader::new(BufReader::new(input), MAX_LINE_BYTES);
    run_lines(channel, config, options, media, None, reader, output).await
}

/// The loop, over an already opened line reader (the serve path has read the config line
/// from it). `media` is removed (when temporary) once the loop has stopped; `ledger`
/// (with `stateFile`) learns what was read and acknowledged, and its point is written by
/// its own task, a last time at the end.
pub(crate) async fn run_lines<C, R, W>(
    channel: C,
    config: &AccountConfig,
    options: BridgeOptions,
    media: MediaDir,
    ledger: Option<Arc<Ledger>>,
    mut reader: LineReader<R>,
    output: W,
) -> Result<(), BridgeError>
where
    C: Channel + 'static,
    R: AsyncBufRead + Unpin + Send,
    W: AsyncWrite + Unpin + Send + 'static,
{
    let events = channel.events()?;

    let (out_tx, out_rx) = mpsc::channel(OUTBOX_CAPACITY);
    let (stop_writer, writer_stopped) = oneshot::channel();
    let writer = tokio::spawn(write_lines(out_rx, writer_stopped, output));

    let core = Arc::new(Core::new(
        Box::new(channel),
        config,
        &options,
        out_tx,
        media.path().to_owned(),
        ledger.clone(),
    )?);
    let stop_ledger = Arc::new(tokio::sync::Notify::new());
    let ledger_writer = ledger.map(|ledger| tokio::spawn(ledger.write_until(stop_ledger.clone())));

    let mut tasks = JoinSet::new();
    let (stop_pump, pump_stopped) = oneshot::channel();
    let pump = tokio::spawn(route::pump_events(
        core.clone(),
        events,
        pump_stopped,
        options.drain_timeout,
    ));

    let result = match &options.stop {
        Some(stop) => tokio::select! {
            result = read_requests(&core, &mut reader, &mut tasks) => result,
            () = stop.notified() => {
                tracing::info!("asked to stop; shutting down");
                Ok(())
            }
        },
        None => read_requests(&core, &mut reader, &mut tasks).await,
    };

    // One deadline for the whole stop (what `ready` announces as `drainMs`, after which
    // the plugin may SIGKILL): running requests finish first (a send half-way through
    // its chunks), then the pump finishes the messages it is preparing, in what is left.
    let deadline = tokio::time::Instant::now() + options.drain_timeout;
    let drain = async { while tasks.join_next().await.is_some() {} };
    if tokio::time::timeout_at(deadline, drain).await.is_err() {
        tracing::warn!("requests still running at shutdown were cancelled");
        tasks.abort_all();
    }
    // The pump stops reading events and finishes the messages it is preparing (within
    // the drain timeout), so what it read is either handed over or not marked as read.
    let _ = stop_pump.send(deadline);
    if let Err(e) = pump.await {
        tracing::warn!(error = %e, "the event pump stopped abnormally");
    }
    // The last point: after the last ack the plugin could send.
    if let Some(writer) = ledger_writer {
        stop_ledger.notify_one();
        if let Err(e) = writer.await {
            tracing::warn!(error = %e, "the state file writer stopped abnormally");
        }
    }
    drop(core);
    let _ = stop_writer.send(());
    match writer.await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => tracing::warn!(error = %e, "writing the output failed"),
        Err(e) => tracing::warn!(error = %e, "the output writer stopped"),
    }
    // Nothing writes downloads any more: a temporary media directory can go.
    drop(media);
    tracing::info!("bridge stopped");
    result
}

/// Reads and dispatches lines until the input ends, a `shutdown` arrives or reading fails.
async fn read_requests<R: AsyncBufRead + Unpin + Send>(
    core: &Arc<Core>,
    reader: &mut LineReader<R>,
    tasks: &mut JoinSet<()>,
) -> Result<(), BridgeError> {
    loop {
        let line = tokio::select! {
            line = reader.next_line() => line?,
            Some(joined) = tasks.join_next(), if !tasks.is_empty() => {
                if let Err(e) = joined {
                    tracing::error!(error = %e, "a request handler failed");
                }
                continue;
            }
        };
        let text = match line {
            None => {
                tracing::info!("input closed; shutting down");
                return Ok(());
            }
            Some(Line::Text(text)) => text,
            Some(Line::TooLong) => {
                core.reject_line(RpcError::invalid_request(format!(
                    "line longer than {MAX_LINE_BYTES} bytes"
                )))
                .await;
                continue;
            }
            Some(Line::NotUtf8) => {
                core.reject_line(RpcError::parse("line is not UTF-8")).await;
                continue;
            }
        };
        if text.trim().is_empty() {
            continue;
        }
        let incoming = match rpc::parse_line(&text) {
            Ok(incoming) => incoming,
            Err(err) => {
                core.reject_line(err).await;
                continue;
            }
        };
        let request = match incoming.request {
            Ok(request) => request,
            Err(err) => {
                handlers::refuse(core, incoming.id, err).await;
                continue;
            }
        };
        if handlers::dispatch(core, incoming.id, request, tasks).await == handlers::Flow::Shutdown {
            tracing::info!("shutdown requested");
            return Ok(());
        }
    }
}

/// Writes queued lines until told to stop, then writes what is still queued.
async fn write_lines<W: AsyncWrite + Unpin>(
    mut lines: mpsc::Receiver<String>,
    mut stop: oneshot::Receiver<()>,
    mut output: W,
) -> std::io::Result<()> {
    let mut batch = Vec::with_capacity(WRITE_BATCH_BYTES);
    loop {
        let line = tokio::select! {
            biased;
            line = lines.recv() => line,
            _ = &mut stop => {
                lines.close();
                lines.recv().await
            }
        };
        let Some(line) = line else { break };
        // Lines already queued go out in one write: each write to stdout is a system call
        // (and through tokio's stdout a hop to the blocking pool), so a burst of events
        // costs one write, not one per line.
        batch.clear();
        batch.extend_from_slice(line.as_bytes());
        batch.push(b'\n');
        while batch.len() < WRITE_BATCH_BYTES {
            let Ok(line) = lines.try_recv() else { break };
            batch.extend_from_slice(line.as_bytes());
            batch.push(b'\n');
        }
        output.write_all(&batch).await?;
        if lines.is_empty() {
            output.flush().await?;
        }
    }
    output.flush().await
}
