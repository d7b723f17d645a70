//! The `rc-provision` command line. The admin password comes from `RC_ADMIN_PASSWORD` or
//! stdin, never from argv. Output: `export` lines on stdout (eval them), progress and
//! errors on stderr, one line per error, and a non-zero exit code on failure.

use std::io::{IsTerminal, Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use rc_provision::http::ClientOptions;
use rc_provision::provision::User;
use rc_provision::{output, provision, ProvisionError, Provisioned, Settings};

/// The variable the admin password is read from.
const PASSWORD_VAR: &str = "RC_ADMIN_PASSWORD";

#[derive(Debug, Parser)]
#[command(
    name = "rc-provision",
    about = "Provision a Rocket.Chat 8.x server for the live conformance run",
    after_help = "The admin password is read from RC_ADMIN_PASSWORD, or from the first line of \
stdin when that is unset. Every run gives each user a fresh random password (an existing user \
gets it from the admin through users.update, which also revokes its old sessions and PATs) and \
a fresh PAT. The passwords are not printed; --passwords-file keeps them.\n\n\
Typical use:  eval \"$(RC_ADMIN_PASSWORD=... rc-provision --url http://localhost:3000 --insecure)\""
)]
struct Args {
    /// Server URL, e.g. https://chat.example.com.
    #[arg(long)]
    url: String,
    /// Admin username.
    #[arg(long, env = "RC_ADMIN_USERNAME", default_value = "admin")]
    admin_user: String,
    /// Number of bot users (<prefix>-bot, <prefix>-bot2, ...).
    #[arg(long, default_value_t = 1)]
    bots: u32,
    /// Prefix of the users and rooms this tool creates.
    #[arg(long, default_value = "conformance")]
    prefix: String,
    /// Name of the personal access token created for each user.
    #[arg(long, default_value = "conformance")]
    token_name: String,
    /// Extra trusted CA certificate(s), PEM (for a server with a private or local CA).
    #[arg(long)]
    ca_file: Option<PathBuf>,
    /// Allow plain http:// (a local test server only).
    #[arg(long)]
    insecure: bool,
    /// Also write "username password" lines with this run's passwords to this file (mode 0600).
    #[arg(long)]
    passwords_file: Option<PathBuf>,
    /// Limit for one request, in seconds.
    #[arg(long, default_value_t = 30)]
    timeout_secs: u64,
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let args = Args::parse();
    match run(args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("rc-provision: error: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}

async fn run(args: Args) -> Result<(), ProvisionError> {
    let password = admin_password()?;
    let mut settings = Settings::new(&args.url, &args.admin_user, &password);
    settings.client = ClientOptions {
        url: args.url.clone(),
        ca_file: args.ca_file.clone(),
        insecure: args.insecure,
        timeout: Duration::from_secs(args.timeout_secs.max(1)),
    };
    settings.bots = args.bots;
    settings.prefix = args.prefix.clone();
    settings.token_name = args.token_name.clone();

    let done = provision(&settings).await?;
    report(&done);
    if let Some(path) = &args.passwords_file {
        let users: Vec<&User> = done
            .bots
            .iter()
            .chain(std::iter::once(&done.peer))
            .collect();
        output::write_passwords(path, &users)?;
        eprintln!("rc-provision: passwords written to {}", path.display());
    }
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(output::render(&done).as_bytes())
        .and_then(|()| stdout.flush())
        .map_err(|e| ProvisionError::Write {
            path: "stdout".into(),
            reason: e.to_string(),
        })
}

/// `RC_ADMIN_PASSWORD`, else the first line of stdin (not from a terminal: it would echo).
fn admin_password() -> Result<String, ProvisionError> {
    if let Ok(value) = std::env::var(PASSWORD_VAR) {
        if !value.is_empty() {
            return Ok(value);
        }
    }
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        return Err(ProvisionError::Usage(format!(
            "no admin password: set {PASSWORD_VAR} or pipe it on stdin"
        )));
    }
    let mut text = String::new();
    stdin
        .lock()
        .take(4096)
        .read_to_string(&mut text)
        .map_err(|e| {
            ProvisionError::Usage(format!("reading the admin password from stdin: {e}"))
        })?;
    let line = text.lines().next().unwrap_or_default().to_owned();
    if line.is_empty() {
        return Err(ProvisionError::Usage(format!(
            "no admin password: set {PASSWORD_VAR} or pipe it on stdin"
        )));
    }
    Ok(line)
}

/// What was created and what was reused, on stderr (no secrets).
fn report(p: &Provisioned) {
    eprintln!(
        "rc-provision: Rocket.Chat {} at {}",
        p.server_version, p.url
    );
    for user in p.bots.iter().chain(std::iter::once(&p.peer)) {
        let what = if user.created {
            "created"
        } else {
            "reused, password reset (old sessions and PATs revoked)"
        };
        let pat = if user.replaced_token {
            "PAT replaced"
        } else {
            "PAT created"
        };
        eprintln!(
            "rc-provision: user {} ({}): {what}, {pat}",
            user.username, user.user_id
        );
    }
    for room in [&p.public_room, &p.private_room] {
        let what = if room.created { "created" } else { "reused" };
        eprintln!("rc-provision: room {} ({}): {what}", room.name, room.id);
    }
    for dm in &p.dms {
        eprintln!("rc-provision: DM {} ({})", dm.name, dm.id);
    }
}
