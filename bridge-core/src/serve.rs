//! `bridge serve`: read the configuration line, build the channel, run the JSON-RPC loop.
//!
//! [`serve`] is generic over the channel constructor and the byte streams, so tests run it
//! over in-memory pipes and an in-memory channel; the binary passes stdin, stdout and a
//! Rocket.Chat constructor.

use std::future::Future;
use std::sync::Arc;

use channel_api::Channel;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};

use crate::config::{AccountConfig, ConfigError};
use crate::lines::{Line, LineReader, MAX_LINE_BYTES};
use crate::media::MediaDir;
use crate::protocol::{method, FatalParams};
use crate::resume::Ledger;
use crate::rpc;
use crate::server::{run_lines, BridgeError, BridgeOptions};

/// A channel built from the configuration, and the conversation-id namespace it runs
/// under.
#[derive(Debug)]
pub struct Connected<C> {
    /// The channel.
    pub channel: C,
    /// The conversation-id namespace (the channel's name in OpenClaw).
    pub namespace: channel_api::Namespace,
}

/// How a `serve` run ended.
#[derive(Debug)]
pub enum ServeOutcome {
    /// Input closed or `shutdown`: exit 0.
    Finished,
    /// The configuration line was rejected (a `fatal` notification was written): exit 2.
    BadConfig(ConfigError),
    /// The loop could not run: exit 1.
    Failed(BridgeError),
}

impl ServeOutcome {
    /// The process exit code.
    pub fn exit_code(&self) -> i32 {
        match self {
            ServeOutcome::Finished => 0,
            ServeOutcome::BadConfig(_) => 2,
            ServeOutcome::Failed(_) => 1,
        }
    }
}

/// Reads the configuration line from `input`, builds the channel with `connect`, and runs
/// the bridge until the input ends or `shutdown`.
pub async fn serve<R, W, C, F, Fut>(input: R, output: W, connect: F) -> ServeOutcome
where
    R: AsyncRead + Unpin + Send,
    W: AsyncWrite + Unpin + Send + 'static,
    C: Channel + 'static,
    F: FnOnce(AccountConfig) -> Fut,
    Fut: Future<Output = Result<Connected<C>, ConfigError>>,
{
    serve_until(input, output, connect, None).await
}

/// [`serve`], also stopping cleanly (as if the input had ended) when `stop` is notified.
pub async fn serve_until<R, W, C, F, Fut>(
    input: R,
    mut output: W,
    connect: F,
    stop: Option<Arc<tokio::sync::Notify>>,
) -> ServeOutcome
where
    R: AsyncRead + Unpin + Send,
    W: AsyncWrite + Unpin + Send + 'static,
    C: Channel + 'static,
    F: FnOnce(AccountConfig) -> Fut,
    Fut: Future<Output = Result<Connected<C>, ConfigError>>,
{
    let mut reader = LineReader::new(BufReader::new(input), MAX_LINE_BYTES);
    let config = match read_config(&mut reader).await {
        Ok(config) => config,
        Err(err) => return reject_config(&mut output, err).await,
    };
    tracing::info!(account = %config.account_id(), "configuration accepted");
    // Before connecting: an unusable mediaDir is a configuration error like any other.
    let media = match MediaDir::open(config.media()) {
        Ok(media) => media,
        Err(err) => return reject_config(&mut output, err).await,
    };
    // Where the previous process stopped, so the first connection catches up from there.
    let (ledger, point) = match &config.resume().state_file {
        Some(path) => {
            let (ledger, point) = Ledger::load(path, config.resume().max_age);
            (Some(ledger), point)
        }
        None => (None, None),
    };
    let config = config.with_resume_point(point);
    let connected = match connect(config.clone()).await {
        Ok(connected) => connected,
        Err(err) => return reject_config(&mut output, err).await,
    };
    let options = BridgeOptions {
        stop,
        ..BridgeOptions::new(connected.namespace)
    };
    match run_lines(
        connected.channel,
        &config,
        options,
        media,
        ledger,
        reader,
        output,
    )
    .await
    {
        Ok(()) => ServeOutcome::Finished,
        Err(err) => {
            tracing::error!(error = %err, "bridge failed");
            ServeOutcome::Failed(err)
        }
    }
}

async fn read_config<R: tokio::io::AsyncBufRead + Unpin>(
    reader: &mut LineReader<R>,
) -> Result<AccountConfig, ConfigError> {
    let missing = || ConfigError::new("config", "no configuration line on stdin");
    match reader.next_line().await {
        Ok(Some(Line::Text(line))) => AccountConfig::from_line(&line),
        Ok(Some(Line::TooLong)) => Err(ConfigError::new("config", "the line is too long")),
        Ok(Some(Line::NotUtf8)) => Err(ConfigError::new("config", "the line is not UTF-8")),
        Ok(None) => Err(missing()),
        Err(e) => Err(ConfigError::new(
            "config",
            format!("cannot read stdin: {e}"),
        )),
    }
}

/// Writes the `fatal` notification naming the field.
async fn reject_config<W: AsyncWrite + Unpin>(output: &mut W, err: ConfigError) -> ServeOutcome {
    tracing::error!(field = %err.field, reason = %err.reason, "configuration rejected");
    let params = FatalParams {
        field: err.field.clone(),
        reason: err.reason.clone(),
    };
    let line = match serde_json::to_value(&params) {
        Ok(params) => rpc::notification_line(method::FATAL, params),
        Err(_) => String::new(),
    };
    let written = async {
        output.write_all(line.as_bytes()).await?;
        output.write_all(b"\n").await?;
        output.flush().await
    };
    if let Err(e) = written.await {
        tracing::warn!(error = %e, "could not write the fatal notification");
    }
    ServeOutcome::BadConfig(err)
}
