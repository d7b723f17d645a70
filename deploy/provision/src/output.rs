//! What a run prints: `export` lines for the live conformance run, and an OpenClaw config
//! snippet for the bot as shell comments (so `eval "$(rc-provision ...)"` stays valid).

use std::fmt::Write as _;
use std::path::Path;

use crate::error::ProvisionError;
use crate::provision::{Provisioned, User};

/// One `NAME=value` pair of the live-run environment.
pub type EnvVar = (String, String);

/// The `RC_TEST_*` variables, in print order. Bot 1 is the bot under test; bots 2..N get
/// `RC_TEST_BOT<n>_*`.
pub fn env_vars(p: &Provisioned) -> Vec<EnvVar> {
    let mut vars: Vec<EnvVar> = Vec::new();
    let mut push = |k: &str, v: &str| vars.push((k.to_owned(), v.to_owned()));
    push("RC_TEST_URL", &p.url);
    for (i, bot) in p.bots.iter().enumerate() {
        let tag = if i == 0 {
            "BOT".to_owned()
        } else {
            format!("BOT{}", i + 1)
        };
        push(&format!("RC_TEST_{tag}_USER_ID"), &bot.user_id);
        push(&format!("RC_TEST_{tag}_USERNAME"), &bot.username);
        push(&format!("RC_TEST_{tag}_TOKEN"), &bot.token);
        if i > 0 {
            if let Some(dm) = p.dms.get(i) {
                push(&format!("RC_TEST_{tag}_DM_ROOM_ID"), &dm.id);
            }
        }
    }
    push("RC_TEST_PEER_USER_ID", &p.peer.user_id);
    push("RC_TEST_PEER_USERNAME", &p.peer.username);
    push("RC_TEST_PEER_TOKEN", &p.peer.token);
    push("RC_TEST_ROOM_ID", &p.public_room.id);
    push("RC_TEST_ROOM_NAME", &p.public_room.name);
    push("RC_TEST_PRIVATE_ROOM_ID", &p.private_room.id);
    push("RC_TEST_PRIVATE_ROOM_NAME", &p.private_room.name);
    if let Some(dm) = p.dms.first() {
        push("RC_TEST_DM_ROOM_ID", &dm.id);
    }
    if p.url.to_ascii_lowercase().starts_with("http://") {
        push("RC_TEST_ALLOW_INSECURE", "1");
    }
    if let Some(ca) = &p.ca_file {
        let absolute = std::path::absolute(ca).unwrap_or_else(|_| ca.clone());
        push("RC_TEST_CA_FILE", &absolute.display().to_string());
    }
    vars
}

/// A value quoted for POSIX shells: single quotes, with `'` written as `'\''`.
pub fn shell_quote(value: &str) -> String {
    format!("'{}'", value.replace('\'', r"'\''"))
}

/// The whole stdout of a run: `export` lines, then the OpenClaw snippet as comments.
pub fn render(p: &Provisioned) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# Rocket.Chat {} at {}: live conformance environment (rc-provision)",
        p.server_version, p.url
    );
    for (name, value) in env_vars(p) {
        let _ = writeln!(out, "export {name}={}", shell_quote(&value));
    }
    let _ = writeln!(out, "#");
    let _ = writeln!(
        out,
        "# OpenClaw config for the bot (JSON5; the token is read from RC_TEST_BOT_TOKEN):"
    );
    for line in openclaw_snippet(p).lines() {
        let _ = writeln!(out, "#   {line}");
    }
    out
}

/// `channels.rocketchat` for the first bot, with the token as an env secret reference.
pub fn openclaw_snippet(p: &Provisioned) -> String {
    let Some(bot) = p.bots.first() else {
        return String::new();
    };
    let mut s = String::new();
    let _ = writeln!(s, "channels: {{");
    let _ = writeln!(s, "  rocketchat: {{");
    let _ = writeln!(s, "    enabled: true,");
    let _ = writeln!(s, "    serverUrl: {},", json_str(&p.url));
    let _ = writeln!(s, "    userId: {},", json_str(&bot.user_id));
    let _ = writeln!(s, "    username: {},", json_str(&bot.username));
    let _ = writeln!(
        s,
        "    authToken: {{ source: \"env\", provider: \"default\", id: \"RC_TEST_BOT_TOKEN\" }},"
    );
    if p.url.to_ascii_lowercase().starts_with("http://") {
        let _ = writeln!(
            s,
            "    dangerouslyAllowInsecure: true, // local http server only"
        );
    }
    if let Some(ca) = &p.ca_file {
        let absolute = std::path::absolute(ca).unwrap_or_else(|_| ca.clone());
        let _ = writeln!(
            s,
            "    caFile: {},",
            json_str(&absolute.display().to_string())
        );
    }
    let _ = writeln!(
        s,
        "    rooms: {{ {}: {{ enabled: true }} }},",
        json_str(&p.public_room.id)
    );
    let _ = writeln!(s, "  }},");
    let _ = writeln!(s, "}}");
    s
}

fn json_str(s: &str) -> String {
    serde_json::Value::String(s.to_owned()).to_string()
}

/// Writes `username password` lines to `path`, readable by the owner only: a new file is
/// created with mode 0600, an existing one is set to 0600 before anything is written.
pub fn write_passwords(path: &Path, users: &[&User]) -> Result<(), ProvisionError> {
    use std::io::Write;
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let fail = |e: std::io::Error| ProvisionError::Write {
        path: path.display().to_string(),
        reason: e.to_string(),
    };
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .map_err(fail)?;
    // `mode` only applies to a file this call creates.
    file.set_permissions(std::fs::Permissions::from_mode(0o600))
        .map_err(fail)?;
    for user in users {
        writeln!(file, "{} {}", user.username, user.password).map_err(fail)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provision::Room;

    fn user(name: &str, id: &str, token: &str) -> User {
        User {
            username: name.into(),
            user_id: id.into(),
            token: token.into(),
            password: "pw".into(),
            created: true,
            password_reset: false,
            replaced_token: false,
        }
    }

    fn provisioned(url: &str, bots: usize) -> Provisioned {
        let room = |name: &str, id: &str| Room {
            name: name.into(),
            id: id.into(),
            created: true,
        };
        Provisioned {
            url: url.into(),
            server_version: "8.2.0".into(),
            bots: (1..=bots)
                .map(|i| user(&format!("c-bot{i}"), &format!("B{i}"), &format!("tok{i}")))
                .collect(),
            peer: user("c-peer", "P", "peer'tok"),
            public_room: room("c-public", "R1"),
            private_room: room("c-private", "R2"),
            dms: (1..=bots).map(|i| room("dm", &format!("D{i}"))).collect(),
            insecure: true,
            ca_file: None,
        }
    }

    #[test]
    fn env_names_every_variable_the_live_harness_reads() {
        let vars = env_vars(&provisioned("http://127.0.0.1:3000", 2));
        let get = |k: &str| vars.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        assert_eq!(get("RC_TEST_URL"), Some("http://127.0.0.1:3000"));
        assert_eq!(get("RC_TEST_BOT_USER_ID"), Some("B1"));
        assert_eq!(get("RC_TEST_BOT_USERNAME"), Some("c-bot1"));
        assert_eq!(get("RC_TEST_BOT_TOKEN"), Some("tok1"));
        assert_eq!(get("RC_TEST_BOT2_TOKEN"), Some("tok2"));
        assert_eq!(get("RC_TEST_BOT2_DM_ROOM_ID"), Some("D2"));
        assert_eq!(get("RC_TEST_PEER_USER_ID"), Some("P"));
        assert_eq!(get("RC_TEST_PEER_USERNAME"), Some("c-peer"));
        assert_eq!(get("RC_TEST_ROOM_ID"), Some("R1"));
        assert_eq!(get("RC_TEST_ROOM_NAME"), Some("c-public"));
        assert_eq!(get("RC_TEST_PRIVATE_ROOM_ID"), Some("R2"));
        assert_eq!(get("RC_TEST_DM_ROOM_ID"), Some("D1"));
        assert_eq!(get("RC_TEST_ALLOW_INSECURE"), Some("1"));
        assert_eq!(get("RC_TEST_CA_FILE"), None);
        let https = env_vars(&provisioned("https://chat.example", 1));
        assert!(!https.iter().any(|(n, _)| n == "RC_TEST_ALLOW_INSECURE"));
    }

    #[test]
    fn values_are_shell_quoted() {
        assert_eq!(shell_quote("abc"), "'abc'");
        assert_eq!(shell_quote("a'b"), r"'a'\''b'");
        let out = render(&provisioned("https://chat.example", 1));
        assert!(
            out.contains(r"export RC_TEST_PEER_TOKEN='peer'\''tok'"),
            "{out}"
        );
        // Everything that is not an export is a comment, so the output can be eval'ed.
        for line in out.lines() {
            assert!(
                line.starts_with("export ") || line.starts_with('#'),
                "{line}"
            );
        }
    }

    #[test]
    fn openclaw_snippet_refers_to_the_token_by_env_name() {
        let p = provisioned("https://chat.example", 1);
        let snippet = openclaw_snippet(&p);
        assert!(
            snippet.contains(r#"serverUrl: "https://chat.example""#),
            "{snippet}"
        );
        assert!(snippet.contains(r#"userId: "B1""#), "{snippet}");
        assert!(snippet.contains(r#"username: "c-bot1""#), "{snippet}");
        assert!(snippet.contains(r#"id: "RC_TEST_BOT_TOKEN""#), "{snippet}");
        assert!(
            !snippet.contains("tok1"),
            "the literal token leaked: {snippet}"
        );
        assert!(!snippet.contains("dangerouslyAllowInsecure"));
    }

    #[test]
    fn passwords_file_is_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pw.txt");
        let p = provisioned("https://h", 1);
        write_passwords(&path, &[&p.bots[0], &p.peer]).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text, "c-bot1 pw\nc-peer pw\n");
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);

        // An existing, world-readable file is made private again and overwritten.
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        write_passwords(&path, &[&p.peer]).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "c-peer pw\n");
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}
