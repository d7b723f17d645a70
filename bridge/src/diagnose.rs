//! Why a server could not be reached, told in a way people can act on.
//!
//! The backend reports a failed connection as `Disconnected { reason }`: a sentence, not a
//! cause one could match on. Rather than reading that sentence for rustls' wording, the
//! cause is established by behaviour: the same address is asked again with TLS checks off,
//! then in plain HTTP, with **dummy credentials** (the real token never goes to a server
//! over a connection the configuration did not allow). Whichever answers says what is
//! wrong: an untrusted certificate, or a plain-HTTP server behind an `https://` URL.

use std::time::Duration;

use backend_rocketchat::{RocketChatChannel, RocketChatConfig, Secret};
use channel_api::{AccountId, Channel, Error};

/// What the hint says when an `https://` URL meets a plain-HTTP server.
pub const PLAIN_HTTP_HINT: &str = "the server answered in plain HTTP: use http:// with dangerouslyAllowInsecure for a local server, or check the port";

/// Why the server was not reached, when it can be told.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cause {
    /// An `https://` URL, and the server speaks plain HTTP on that port.
    PlainHttp,
    /// The server speaks TLS, but its certificate is not trusted.
    UntrustedCertificate,
}

impl Cause {
    /// The fix, in one sentence. `ca_file`: whether the configuration names a `caFile`.
    pub fn hint(self, ca_file: bool) -> &'static str {
        match (self, ca_file) {
            (Cause::PlainHttp, _) => PLAIN_HTTP_HINT,
            (Cause::UntrustedCertificate, false) => {
                "the server's TLS certificate is not trusted: for a private CA, set caFile to its PEM certificate"
            }
            (Cause::UntrustedCertificate, true) => {
                "the server's TLS certificate is not signed by caFile or a public CA: check that caFile holds the CA that signed it"
            }
        }
    }
}

/// Whether `err` means the server was not reached at all (as opposed to: it answered,
/// and refused or failed).
pub fn is_unreachable(err: &Error) -> bool {
    matches!(err, Error::Disconnected { .. } | Error::Timeout { .. })
}

/// How long each of the two extra requests may take: a server that answers at all answers
/// fast, and the caller has already waited for the first attempt.
const ASK_AGAIN_TIMEOUT: Duration = Duration::from_secs(5);

/// Finds out why `config`'s server was not reached (the call failed with `err`), by asking
/// it again without TLS checks and then in plain HTTP. `None`: neither answered (down,
/// wrong host), the URL is not `https://`, or `err` is a timeout (nothing answered at
/// all: asking again would only wait longer).
pub async fn cause(config: &RocketChatConfig, err: &Error) -> Option<Cause> {
    if !matches!(err, Error::Disconnected { .. }) {
        return None;
    }
    let https = config
        .server_url
        .get(..8)
        .is_some_and(|scheme| scheme.eq_ignore_ascii_case("https://"));
    if !https {
        return None;
    }
    if !config.dangerously_allow_insecure {
        let mut unverified = dummy(config);
        unverified.dangerously_allow_insecure = true;
        if answers(unverified).await {
            return Some(Cause::UntrustedCertificate);
        }
    }
    let mut plain = dummy(config);
    plain.server_url = plain_http_url(&config.server_url)?;
    plain.dangerously_allow_insecure = true;
    plain.ca_file = None;
    answers(plain).await.then_some(Cause::PlainHttp)
}

/// The same address in plain HTTP: `https://host[:port]/prefix` -> `http://host:port/prefix`
/// (port 443 when the URL names none).
fn plain_http_url(url: &str) -> Option<String> {
    let uri: http::Uri = url.parse().ok()?;
    let authority = uri.authority()?;
    let port = authority.port_u16().unwrap_or(443);
    let host = authority.host();
    let path = uri.path().trim_end_matches('/');
    Some(format!("http://{host}:{port}{path}"))
}

/// `config` with credentials that are worth nothing, so no secret goes to the server.
fn dummy(config: &RocketChatConfig) -> RocketChatConfig {
    let mut probe = config.clone();
    probe.user_id = "bridge-doctor".into();
    probe.auth_token = Secret::new("not-a-token");
    probe.timeouts.request = probe.timeouts.request.min(ASK_AGAIN_TIMEOUT);
    probe
}

/// Whether the server at `config` answers HTTP at all (any answer, a refusal included).
async fn answers(config: RocketChatConfig) -> bool {
    let Ok(channel) = RocketChatChannel::offline(config, AccountId::new("diagnose")) else {
        return false;
    };
    let answered = match channel.probe().await {
        Ok(_) => true,
        Err(e) => !is_unreachable(&e),
    };
    channel.shutdown().await;
    answered
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_plain_http_address_keeps_host_port_and_prefix() {
        assert_eq!(
            plain_http_url("https://127.0.0.1:3210").as_deref(),
            Some("http://127.0.0.1:3210")
        );
        assert_eq!(
            plain_http_url("https://chat.example/rc/").as_deref(),
            Some("http://chat.example:443/rc")
        );
        assert_eq!(
            plain_http_url("https://[::1]:8443").as_deref(),
            Some("http://[::1]:8443")
        );
    }
}
