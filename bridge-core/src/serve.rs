//! `bridge serve`: read the configuration line, build the channel, run the JSON-RPC loop.
//!
//! [`serve`] is generic over the channel constructor and the byte streams, so tests run it
//! over in-memory pipes and an in-memory channel; the binary passes stdin, stdout and a
//! Rocket.Chat constructor.

use std::future::Future;
use std::sync::Arc;

use channel_api::Channel;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};

use crate::config::keys::BackendKeys;
use crate::config::{AccountConfig, ConfigError};
use crate::lines::{Line, LineReader, MAX_LINE_BYTES};
use crate::media::MediaDir;
use crate::protocol::{method, ConfigProblemWire, FatalParams};
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
    serve_with(input, output, connect, ServeOptions::default()).await
}

/// What the host tells `serve` besides the channel constructor.
#[derive(Debug, Default)]
pub struct ServeOptions {
    /// The backend's keys of the configuration line (unknown keys are refused against
    /// them); [`BackendKeys::any`] by default.
    pub backend: Option<BackendKeys>,
    /// A signal to stop as if the input had ended (the binary fires it on SIGTERM).
    pub stop: Option<Arc<tokio::sync::Notify>>,
}

/// [`serve`] with options: the backend's keys, and a stop signal.
pub async fn serve_with<R, W, C, F, Fut>(
    input: R,
    mut output: W,
    connect: F,
    serve_options: ServeOptions,
) -> ServeOutcome
where
    R: AsyncRead + Unpin + Send,
    W: AsyncWrite + Unpin + Send + 'static,
    C: Channel + 'static,
    F: FnOnce(AccountConfig) -> Fut,
    Fut: Future<Output = Result<Connected<C>, ConfigError>>,
{
    let backend = serve_options.backend.unwrap_or_else(BackendKeys::any);
    let mut reader = LineReader::new(BufReader::new(input), MAX_LINE_BYTES);
    let config = match read_config(&mut reader, &backend).await {
        Ok(config) => config,
        Err(errors) => return reject_config_errors(&mut output, errors).await,
    };
    tracing::info!(account = %config.account_id(), "configuration accepted");
    // Before connecting: an unusable mediaDir is a configuration error like any other.
    let media = match MediaDir::open(config.media()) {
        Ok(media) => media,
        Err(err) => return reject_config(&mut output, err).await,
    };
    // Where the previous process stopped, so the first connection catches up from there.
    let (ledger, point) = match &config.resume().state_file {
        Some(path) => match Ledger::load(path, config.resume().max_age) {
            Ok((ledger, point)) => (Some(ledger), point),
            Err(err) => {
                return reject_config(&mut output, ConfigError::new("stateFile", err.to_string()))
                    .await
            }
        },
        None => (None, None),
    };
    let config = config.with_resume_point(point);
    let connected = match connect(config.clone()).await {
        Ok(connected) => connected,
        Err(err) => return reject_config(&mut output, err).await,
    };
    let options = BridgeOptions {
        stop: serve_options.stop,
        backend,
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
    backend: &BackendKeys,
) -> Result<AccountConfig, Vec<ConfigError>> {
    let one = |field: &str, reason: String| vec![ConfigError::new(field, reason)];
    let line = match reader.next_line().await {
        Ok(Some(Line::Text(line))) => line,
        Ok(Some(Line::TooLong)) => return Err(one("config", "the line is too long".into())),
        Ok(Some(Line::NotUtf8)) => return Err(one("config", "the line is not UTF-8".into())),
        Ok(None) => return Err(one("config", "no configuration line on stdin".into())),
        Err(e) => return Err(one("config", format!("cannot read stdin: {e}"))),
    };
    // serde_json's message may quote the input, which may hold the token: report only
    // where the problem is.
    let value: serde_json::Value = serde_json::from_str(&line).map_err(|e| {
        one(
            "config",
            format!(
                "the first line must be one JSON object (error at column {})",
                e.column()
            ),
        )
    })?;
    AccountConfig::check(value, backend)
}

/// Writes the `fatal` notification naming the field.
async fn reject_config<W: AsyncWrite + Unpin>(output: &mut W, err: ConfigError) -> ServeOutcome {
    reject_config_errors(output, vec![err]).await
}

/// Writes the `fatal` notification naming every problem (the first as `field`/`reason`).
async fn reject_config_errors<W: AsyncWrite + Unpin>(
    output: &mut W,
    errors: Vec<ConfigError>,
) -> ServeOutcome {
    for err in &errors {
        tracing::error!(field = %err.field, reason = %err.reason, "configuration rejected");
    }
    let first = errors
        .first()
        .cloned()
        .unwrap_or_else(|| ConfigError::new("config", "rejected"));
    let params = FatalParams {
        field: first.field.clone(),
        reason: first.reason.clone(),
        errors: errors
            .iter()
            .map(|e| ConfigProblemWire {
                field: e.field.clone(),
                reason: e.reason.clone(),
            })
            .collect(),
    };
    let err = first;
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
