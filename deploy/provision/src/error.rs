//! What can go wrong, each as one readable line, and the exit code for it.
//!
//! Messages never carry a password or a token: they name the call, the HTTP status and the
//! server's own error text (which Rocket.Chat never fills with secrets).

/// A provisioning failure.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProvisionError {
    /// The command line or its inputs are wrong.
    #[error("{0}")]
    Usage(String),
    /// No TCP connection (refused, DNS, unreachable network).
    #[error("cannot reach {url}: {reason}")]
    Unreachable {
        /// The server URL.
        url: String,
        /// What the OS said.
        reason: String,
    },
    /// The TLS handshake failed (untrusted or wrong certificate, not TLS at all, ...).
    #[error("TLS with {url} failed: {reason} (for a private CA pass --ca-file)")]
    Tls {
        /// The server URL.
        url: String,
        /// What rustls said.
        reason: String,
    },
    /// The server did not answer in time.
    #[error("{call}: no answer from the server within {seconds} s")]
    Timeout {
        /// The call.
        call: String,
        /// The limit.
        seconds: u64,
    },
    /// `/api/info` reported a version other than 8.x.
    #[error(
        "the server reports Rocket.Chat {version}, not 8.x; this kit targets Rocket.Chat 8.2.0"
    )]
    NotVersion8 {
        /// The version string the server gave.
        version: String,
    },
    /// The admin username or password was refused.
    #[error("admin login refused for {username:?}: wrong username or password")]
    AdminLoginRefused {
        /// The admin username.
        username: String,
    },
    /// The admin account asks for a second factor (TOTP or e-mail) at login.
    #[error("admin login for {username:?} needs a two-factor code; use an admin without TOTP/e-mail 2FA, or set Accounts_TwoFactorAuthentication_Enabled=false")]
    AdminTwoFactor {
        /// The admin username.
        username: String,
    },
    /// The admin credentials work but lack a permission provisioning needs.
    #[error("{call} was refused: {username:?} lacks the permission (is it an admin?)")]
    NotAdmin {
        /// The call.
        call: String,
        /// The admin username.
        username: String,
    },
    /// A user this run created refused the login with the password it was created with.
    #[error("login as the new user {username:?} was refused with the password it was just created with (is the account deactivated, or waiting for approval?)")]
    UserLoginRefused {
        /// The user.
        username: String,
    },
    /// `users.update` answered success, but the login with the new password was refused:
    /// Rocket.Chat sets a password only for a caller with `edit-other-user-password`.
    #[error("users.update did not change the password of {username:?}: the login with the new one was refused (does {admin:?} have the edit-other-user-password permission? is the account deactivated?)")]
    PasswordNotSet {
        /// The user.
        username: String,
        /// The admin username.
        admin: String,
    },
    /// A user by a provisioned name exists without the e-mail address this tool gives its
    /// users: it is someone else's, and its password is not reset.
    #[error("the existing user {username:?} was not created by rc-provision (its e-mail is not {username}@conformance.invalid), so its password is left alone; delete that user or use another --prefix")]
    NotProvisionedUser {
        /// The user.
        username: String,
    },
    /// 2FA is required for PAT calls and the password code was refused.
    #[error("{call} for {username:?}: the server requires two-factor authentication and refused the password code ({detail}); set Accounts_TwoFactorAuthentication_Enabled=false (or keep Accounts_TwoFactorAuthentication_Enforce_Password_Fallback=true and Accounts_TwoFactorAuthentication_By_Email_Auto_Opt_In=false)")]
    TwoFactorRefused {
        /// The call.
        call: String,
        /// The user.
        username: String,
        /// The server's error type (`totp-invalid`, `totp-required`, ...).
        detail: String,
    },
    /// Any other refusal by the server.
    #[error("{call} failed (HTTP {status}): {message}")]
    Api {
        /// The call.
        call: String,
        /// HTTP status.
        status: u16,
        /// The server's error text.
        message: String,
    },
    /// The server answered something this tool cannot read.
    #[error("{call}: unexpected answer: {reason}")]
    BadResponse {
        /// The call.
        call: String,
        /// What was wrong.
        reason: String,
    },
    /// Writing an output file failed.
    #[error("cannot write {path}: {reason}")]
    Write {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
}

impl ProvisionError {
    /// The process exit code: 2 usage, 3 network/TLS, 4 wrong server version, 5 admin
    /// credentials, 6 user login or 2FA, 1 anything else.
    pub fn exit_code(&self) -> u8 {
        match self {
            Self::Usage(_) => 2,
            Self::Unreachable { .. } | Self::Tls { .. } | Self::Timeout { .. } => 3,
            Self::NotVersion8 { .. } => 4,
            Self::AdminLoginRefused { .. }
            | Self::AdminTwoFactor { .. }
            | Self::NotAdmin { .. } => 5,
            Self::UserLoginRefused { .. }
            | Self::PasswordNotSet { .. }
            | Self::NotProvisionedUser { .. }
            | Self::TwoFactorRefused { .. } => 6,
            Self::Api { .. } | Self::BadResponse { .. } | Self::Write { .. } => 1,
        }
    }
}
