//! `rc-provision`: prepares a Rocket.Chat 8.x server for the live conformance run. Given
//! the server URL and admin credentials it creates (or finds) the bot user(s) and the peer
//! user, gives each a fresh random password and a fresh personal access token, makes sure
//! the test rooms exist with both as members (a public channel, a private group, and a DM
//! per bot), and prints the `RC_TEST_*` environment plus an OpenClaw config snippet. A
//! second run reuses the same users and rooms; the passwords are drawn again (the admin
//! sets them with `users.update`) and the PATs regenerated (a PAT cannot be read back).
//!
//! # Layout
//! - [`provision`]: the sequence (reference section 4.5), [`Settings`], and what a run
//!   made ([`Provisioned`]); the random passwords, the 2FA code and the version check.
//! - [`http`]: the JSON REST client (hyper + hyper-rustls; webpki roots plus `--ca-file`;
//!   `http://` only with `--insecure`), classifying transport failures (unreachable, TLS).
//! - [`output`]: the `export` lines, the OpenClaw snippet, and the optional passwords file.
//! - [`error`]: [`ProvisionError`]: one readable line per failure, and its exit code.
//! - `main.rs`: the CLI (clap).

pub mod error;
pub mod http;
pub mod output;
pub mod provision;

pub use error::ProvisionError;
pub use provision::{provision, Provisioned, Settings};
