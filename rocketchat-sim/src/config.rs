//! `SimConfig`: every knob of the simulator, with defaults that match a stock Rocket.Chat 8.2.0.
//!
//! Where the protocol reference marks a behaviour \[unconfirmed\], the likeliest behaviour is the
//! default and the alternative is a switch here.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// A REST or DDP rate-limit rule: at most `limit` calls per `window`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateRule {
    /// Calls allowed per window.
    pub limit: u32,
    /// Window length.
    pub window: Duration,
}

/// A PEM certificate chain and private key for https/wss.
#[derive(Debug, Clone)]
pub struct TlsFiles {
    /// PEM file with the certificate chain.
    pub cert_pem: PathBuf,
    /// PEM file with the private key (PKCS#8, PKCS#1 or SEC1).
    pub key_pem: PathBuf,
}

/// What an unparseable JSON frame gets back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InvalidJsonReply {
    /// `{"msg":"error","reason":"Parse error"}` (Meteor 3 serializer path; the reference's table).
    ParseError,
    /// `{"msg":"error","reason":"Bad request"}` (older `parseDDP` returned null instead of throwing).
    BadRequest,
}

/// Simulator configuration. `SimConfig::default()` is a stock 8.2.0 server on 127.0.0.1:0.
/// `Debug` leaves the admin password out.
#[derive(Clone)]
pub struct SimConfig {
    /// Address to bind. Default `127.0.0.1:0` (a free port).
    pub bind: SocketAddr,
    /// Serve https/wss with this certificate instead of plain http/ws.
    pub tls: Option<TlsFiles>,
    /// Expose the JSON control API under `/_sim/` on the same port (the binary turns it on).
    pub control_http: bool,
    /// Server heartbeat: send `{"msg":"ping"}` after this long without an inbound frame. Default 15 s.
    pub heartbeat_interval: Duration,
    /// Server heartbeat: close the socket when nothing arrives this long after the ping. Default 15 s.
    pub heartbeat_timeout: Duration,
    /// Close sockets that have not sent `connect` after this long. Default 45 s.
    pub handshake_timeout: Duration,
    /// Answer to unparseable JSON (\[unconfirmed\] which one 8.2.0 sends). Default `ParseError`.
    pub invalid_json_reply: InvalidJsonReply,
    /// `nosub` for a refused stream read: `message` is `"[not-allowed]"` when true (core-services
    /// `MeteorError` formatting), `"not-allowed"` when false. \[unconfirmed\] Default true.
    pub not_allowed_message_bracketed: bool,
    /// Start value of `Message_ShowDeletedStatus` (a setting: changeable at run time over
    /// REST `settings/:_id` or `SimHandle::set_setting`): deletes leave a `t:"rm"` tombstone.
    /// Default false.
    pub show_deleted_status: bool,
    /// Start value of `Message_KeepHistory`: without show-deleted-status, deletes hide the document
    /// (`_hidden: true`) instead of removing it; `<rid>/deleteMessage` is still emitted. Default false.
    pub keep_history: bool,
    /// Start value of `Message_MaxAllowedSize` in UTF-16 code units. Default 5000.
    pub max_message_size: usize,
    /// Start value of `API_Embed`, the URL-preview enrichment: a message containing URLs gets a follow-up update (`urls[].meta`,
    /// new `_updatedAt`) right after its insert, as OEmbed does. Default true.
    pub url_previews: bool,
    /// Start value of `UI_Use_Real_Name`: typing writes must carry the user's `name` instead of `username`. Default false.
    pub use_real_name: bool,
    /// DDP `sendMessage` accepts only the newer whitelist of keys (`Match.Error` on `attachments`,
    /// `alias`, ...). [unconfirmed for 8.2.0] Default true.
    pub strict_send_message_check: bool,
    /// Start value of `Accounts_TwoFactorAuthentication_Enabled` (REST PAT creation needs
    /// `x-2fa-*`). Default true.
    pub two_factor_enabled: bool,
    /// `Accounts_TwoFactorAuthentication_RememberFor`: users created less than this long ago need no
    /// 2FA code. Default 1800 s.
    pub two_factor_remember: Duration,
    /// REST limiter (`API_Enable_Rate_Limiter`), per route + method + client IP. Default 10 / 60 s.
    /// `None` turns it off. Users with `bot` or `admin` roles bypass it (`api-bypass-rate-limit`)
    /// unless `rest_rate_limit_bots` is set.
    pub rest_rate_limit: Option<RateRule>,
    /// Apply the REST limiter to bot and admin users too (test switch). Default false.
    pub rest_rate_limit_bots: bool,
    /// DDP limiter per connection per method/sub name (streams `stream-*` get 4x calls over 4x the
    /// window). Default 10 / 10 s. `None` turns it off.
    pub ddp_rate_limit: Option<RateRule>,
    /// DDP `sendMessage`'s own rule for users without `send-many-messages` (not admin/bot/app).
    /// Default 5 / 1 s. `None` turns it off.
    pub send_message_rate_limit: Option<RateRule>,
    /// Revocation switch: removing a PAT or deactivating a user leaves open sockets open (REST
    /// still answers 401). Default false (sockets are closed with no DDP frame).
    pub silent_revocation: bool,
    /// 401 bodies keep the legacy `status`/`message` keys (`applyBreakingChanges` off, which 8.x
    /// almost certainly is: \[unconfirmed\]). When false, 401 is `{"success":false,"error":...}`.
    /// Default true.
    pub legacy_auth_bodies: bool,
    /// The 400 `error` text for a `chat.sendMessage` retry with an existing `_id` (a Node
    /// TypeError; the exact text depends on the Node version: \[unconfirmed\]).
    pub duplicate_send_error: String,
    /// Admin user created at start (username, password), roles `admin` + `user`. Default `admin`/`admin`.
    pub admin: Option<(String, String)>,
    /// `pinMessage` re-broadcasts the pinned original with `pinned`/`pinnedAt`/`pinnedBy`.
    /// 8.x's `pinMessage.ts` saves those fields without `notifyOnMessageChange` (only the
    /// `message_pinned` system message is broadcast; `unpinMessage` does notify), so the
    /// default is false. Default false.
    pub pin_broadcasts_original: bool,
}

impl std::fmt::Debug for SimConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimConfig")
            .field("bind", &self.bind)
            .field("tls", &self.tls)
            .field("control_http", &self.control_http)
            .field("heartbeat_interval", &self.heartbeat_interval)
            .field("heartbeat_timeout", &self.heartbeat_timeout)
            .field("handshake_timeout", &self.handshake_timeout)
            .field("invalid_json_reply", &self.invalid_json_reply)
            .field(
                "not_allowed_message_bracketed",
                &self.not_allowed_message_bracketed,
            )
            .field("show_deleted_status", &self.show_deleted_status)
            .field("keep_history", &self.keep_history)
            .field("max_message_size", &self.max_message_size)
            .field("url_previews", &self.url_previews)
            .field("use_real_name", &self.use_real_name)
            .field("strict_send_message_check", &self.strict_send_message_check)
            .field("two_factor_enabled", &self.two_factor_enabled)
            .field("two_factor_remember", &self.two_factor_remember)
            .field("rest_rate_limit", &self.rest_rate_limit)
            .field("rest_rate_limit_bots", &self.rest_rate_limit_bots)
            .field("ddp_rate_limit", &self.ddp_rate_limit)
            .field("send_message_rate_limit", &self.send_message_rate_limit)
            .field("silent_revocation", &self.silent_revocation)
            .field("legacy_auth_bodies", &self.legacy_auth_bodies)
            .field("duplicate_send_error", &self.duplicate_send_error)
            .field("admin", &self.admin.as_ref().map(|(user, _)| user))
            .field("pin_broadcasts_original", &self.pin_broadcasts_original)
            .finish()
    }
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            bind: SocketAddr::from(([127, 0, 0, 1], 0)),
            tls: None,
            control_http: false,
            heartbeat_interval: Duration::from_secs(15),
            heartbeat_timeout: Duration::from_secs(15),
            handshake_timeout: Duration::from_secs(45),
            invalid_json_reply: InvalidJsonReply::ParseError,
            not_allowed_message_bracketed: true,
            show_deleted_status: false,
            keep_history: false,
            max_message_size: 5000,
            url_previews: true,
            use_real_name: false,
            strict_send_message_check: true,
            two_factor_enabled: true,
            two_factor_remember: Duration::from_secs(1800),
            rest_rate_limit: Some(RateRule {
                limit: 10,
                window: Duration::from_secs(60),
            }),
            rest_rate_limit_bots: false,
            ddp_rate_limit: Some(RateRule {
                limit: 10,
                window: Duration::from_secs(10),
            }),
            send_message_rate_limit: Some(RateRule {
                limit: 5,
                window: Duration::from_secs(1),
            }),
            silent_revocation: false,
            legacy_auth_bodies: true,
            duplicate_send_error: "Cannot read properties of undefined (reading 'starred')"
                .to_owned(),
            admin: Some(("admin".to_owned(), "admin".to_owned())),
            pin_broadcasts_original: false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_leaves_the_admin_password_out() {
        let config = SimConfig {
            admin: Some(("root".into(), "hunter2-secret".into())),
            ..SimConfig::default()
        };
        let text = format!("{config:?}");
        assert!(text.contains("root"));
        assert!(!text.contains("hunter2-secret"));
    }
}
