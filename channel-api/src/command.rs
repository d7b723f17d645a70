//! `!` commands (seed spec, "Commands (v1)") and who may run them.
//!
//! A message whose text, after trimming and after removing a leading mention of the bot
//! (`@bot`, `@bot:` or `@bot,`), starts with `!` is a command and is never sent to the
//! model. The command word is case-insensitive.
//!
//! | text | command | OpenClaw form | who |
//! |---|---|---|---|
//! | `!status` | [`Command::Status`] | `/status` | any sender the room's policy admits |
//! | `!model <name>` | [`Command::Model`] (argument kept verbatim: alias or `provider/model`) | `/model <name>` | operators |
//! | `!stop` | [`Command::Stop`] | `/stop` | operators |
//! | `!model` | [`Command::ModelWithoutName`]: answered with the usage | | anyone admitted |
//! | `!other` | [`Command::Unknown`]: answered with the known commands | | anyone admitted |
//!
//! Operators are the senders in `commandAllowFrom`. When it is unset or empty, `!model`
//! and `!stop` are denied everywhere, DMs included: with OpenClaw's default
//! `session.dmScope: main` every DM shares the owner's main session, so one approved DM
//! sender could otherwise stop or re-model the owner's run. Group addressing (a command
//! in a room that requires mentions must start with a mention of the bot) is checked by
//! [`crate::policy`].
//!
//! ```
//! use channel_api::command::{parse_command, strip_leading_mention, Command};
//!
//! let (addressed, text) = strip_leading_mention("  @Bot: !model openai/gpt-5 ", "bot");
//! assert!(addressed);
//! let command = parse_command(text).unwrap();
//! assert_eq!(command, Command::Model { name: "openai/gpt-5".into() });
//! assert_eq!(command.slash_form().as_deref(), Some("/model openai/gpt-5"));
//! assert_eq!(parse_command("hello"), None);
//! ```

use crate::config::ChannelConfig;
use crate::model::Author;

/// The commands in the order the help text lists them.
pub const KNOWN_COMMANDS: &str = "!status, !model <name>, !stop";

/// A parsed `!` command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// `!status`: OpenClaw's `/status`.
    Status,
    /// `!model <name>`: OpenClaw's `/model <name>`.
    Model {
        /// The model as typed: an alias or `provider/model`.
        name: String,
    },
    /// `!stop`: OpenClaw's `/stop` (aborts the current run).
    Stop,
    /// `!model` without a name.
    ModelWithoutName,
    /// Any other `!word` (the word without `!`, as typed).
    Unknown {
        /// The word.
        word: String,
    },
}

impl Command {
    /// OpenClaw's slash form (`/status`, `/model <name>`, `/stop`); `None` for commands
    /// answered directly.
    pub fn slash_form(&self) -> Option<String> {
        match self {
            Command::Status => Some("/status".to_owned()),
            Command::Model { name } => Some(format!("/model {name}")),
            Command::Stop => Some("/stop".to_owned()),
            Command::ModelWithoutName | Command::Unknown { .. } => None,
        }
    }

    /// Whether only operators (`commandAllowFrom`) may run it.
    pub fn needs_operator(&self) -> bool {
        matches!(self, Command::Model { .. } | Command::Stop)
    }

    /// A stable name for logs and counters.
    pub fn as_str(&self) -> &'static str {
        match self {
            Command::Status => "status",
            Command::Model { .. } => "model",
            Command::Stop => "stop",
            Command::ModelWithoutName => "model_without_name",
            Command::Unknown { .. } => "unknown",
        }
    }
}

/// Why a command was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CommandDenial {
    /// `commandAllowFrom` is set and the sender is not in it.
    NotAnOperator,
    /// `commandAllowFrom` is unset or empty (in every kind of room).
    NoOperatorsConfigured,
}

impl CommandDenial {
    /// A stable name for logs and counters.
    pub fn as_str(self) -> &'static str {
        match self {
            CommandDenial::NotAnOperator => "not_an_operator",
            CommandDenial::NoOperatorsConfigured => "no_operators_configured",
        }
    }
}

/// Whether the sender may run the command.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CommandAccess {
    /// Run it (or answer it).
    Allowed,
    /// Refuse it.
    Denied(CommandDenial),
}

/// A command from a sender the room's policy admitted, with the operator check applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandRequest {
    /// The command.
    pub command: Command,
    /// Whether the sender may run it.
    pub access: CommandAccess,
}

/// What the host does with a command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommandAction {
    /// Hand OpenClaw this slash command (`/status`, `/model x`, `/stop`).
    Forward {
        /// The slash form.
        slash: String,
    },
    /// Post this text in the same room and thread; nothing goes to OpenClaw.
    Reply {
        /// The text.
        text: String,
    },
}

impl CommandRequest {
    /// What to do with the command.
    pub fn action(&self) -> CommandAction {
        if let CommandAccess::Denied(_) = self.access {
            let name = match &self.command {
                Command::Model { .. } => "!model",
                _ => "!stop",
            };
            return CommandAction::Reply {
                text: format!("{name} is not allowed for you here."),
            };
        }
        match (&self.command, self.command.slash_form()) {
            (_, Some(slash)) => CommandAction::Forward { slash },
            (Command::Unknown { word }, None) => CommandAction::Reply {
                text: format!("Unknown command !{word}. Known commands: {KNOWN_COMMANDS}"),
            },
            (_, None) => CommandAction::Reply {
                text: "Usage: !model <name> (an alias or provider/model).".to_owned(),
            },
        }
    }
}

/// Removes a leading `@username` (optionally followed by `:` or `,`) of the bot and the
/// whitespace around it. Returns whether there was one, and the rest, trimmed. The
/// username compares case-insensitively, as Rocket.Chat usernames do.
pub fn strip_leading_mention<'a>(text: &'a str, username: &str) -> (bool, &'a str) {
    let trimmed = text.trim();
    let Some(after_at) = trimmed.strip_prefix('@') else {
        return (false, trimmed);
    };
    let name_len = username.len();
    let name_matches = !username.is_empty()
        && after_at
            .get(..name_len)
            .is_some_and(|name| name.eq_ignore_ascii_case(username));
    let Some(rest) = after_at.get(name_len..).filter(|_| name_matches) else {
        return (false, trimmed);
    };
    match rest.chars().next() {
        None => (true, ""),
        Some(':' | ',') => (true, rest[1..].trim_start()),
        Some(c) if c.is_whitespace() => (true, rest.trim_start()),
        // `@botname2` is somebody else.
        Some(_) => (false, trimmed),
    }
}

/// Parses a command from text whose leading bot mention was already removed; `None` when
/// the text is not a command.
pub fn parse_command(text: &str) -> Option<Command> {
    let body = text.trim().strip_prefix('!')?;
    let (word, argument) = match body.split_once(char::is_whitespace) {
        Some((word, argument)) => (word, argument.trim()),
        None => (body, ""),
    };
    let command = match word.to_ascii_lowercase().as_str() {
        "status" => Command::Status,
        "stop" => Command::Stop,
        "model" if argument.is_empty() => Command::ModelWithoutName,
        "model" => Command::Model {
            name: argument.to_owned(),
        },
        _ => Command::Unknown {
            word: word.to_owned(),
        },
    };
    Some(command)
}

/// Applies the operator rule to a command from a sender the room's policy admitted. The
/// rule is the same in every kind of room.
pub fn authorize(config: &ChannelConfig, command: Command, sender: &Author) -> CommandRequest {
    let access = if !command.needs_operator() {
        CommandAccess::Allowed
    } else if config.command_allow_from.is_empty() {
        CommandAccess::Denied(CommandDenial::NoOperatorsConfigured)
    } else if config.list_allows(
        &config.command_allow_from,
        Some(&sender.id),
        Some(&sender.username),
    ) {
        CommandAccess::Allowed
    } else {
        CommandAccess::Denied(CommandDenial::NotAnOperator)
    };
    CommandRequest { command, access }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::UserId;
    use crate::model::RoomKind;

    #[test]
    fn leading_mentions_of_the_bot_are_stripped() {
        // (text, addressed, rest)
        let cases = [
            ("@bot !stop", true, "!stop"),
            ("  @bot:  !stop ", true, "!stop"),
            ("@bot, hello", true, "hello"),
            ("@BOT hello", true, "hello"),
            ("@bot", true, ""),
            ("@bot:", true, ""),
            ("@bot2 !stop", false, "@bot2 !stop"),
            ("@bo !stop", false, "@bo !stop"),
            ("@alice !stop", false, "@alice !stop"),
            ("hello @bot", false, "hello @bot"),
            ("!stop @bot", false, "!stop @bot"),
            ("@bötname", false, "@bötname"),
            ("@", false, "@"),
            ("", false, ""),
        ];
        for (text, addressed, rest) in cases {
            assert_eq!(
                strip_leading_mention(text, "bot"),
                (addressed, rest),
                "{text:?}"
            );
        }
        assert_eq!(strip_leading_mention("@ hi", ""), (false, "@ hi"));
    }

    #[test]
    fn commands_parse_from_the_text() {
        let model = |name: &str| Some(Command::Model { name: name.into() });
        let unknown = |word: &str| Some(Command::Unknown { word: word.into() });
        let cases = [
            ("!status", Some(Command::Status)),
            ("  !status  ", Some(Command::Status)),
            ("!STATUS", Some(Command::Status)),
            ("!status please", Some(Command::Status)),
            ("!stop", Some(Command::Stop)),
            ("!model g5.2", model("g5.2")),
            ("!model   openai/gpt-5.2  ", model("openai/gpt-5.2")),
            ("!model\tOpus Fast", model("Opus Fast")),
            ("!model", Some(Command::ModelWithoutName)),
            ("!model   ", Some(Command::ModelWithoutName)),
            ("!help", unknown("help")),
            ("!Foo bar", unknown("Foo")),
            ("!", unknown("")),
            ("! status", unknown("")),
            ("status", None),
            ("hello !status", None),
            ("", None),
        ];
        for (text, expected) in cases {
            assert_eq!(parse_command(text), expected, "{text:?}");
        }
    }

    #[test]
    fn commands_map_to_openclaw_slash_forms() {
        let cases = [
            (Command::Status, Some("/status"), false, "status"),
            (
                Command::Model {
                    name: "g5.2".into(),
                },
                Some("/model g5.2"),
                true,
                "model",
            ),
            (Command::Stop, Some("/stop"), true, "stop"),
            (Command::ModelWithoutName, None, false, "model_without_name"),
            (
                Command::Unknown { word: "x".into() },
                None,
                false,
                "unknown",
            ),
        ];
        for (command, slash, operator, name) in cases {
            assert_eq!(command.slash_form().as_deref(), slash, "{command:?}");
            assert_eq!(command.needs_operator(), operator, "{command:?}");
            assert_eq!(command.as_str(), name);
        }
    }

    fn sender(id: &str) -> Author {
        Author {
            id: UserId::new(id),
            username: format!("user-{id}"),
            display_name: None,
            is_bot: false,
        }
    }

    #[test]
    fn operators_gate_model_and_stop() {
        use CommandAccess::*;
        use CommandDenial::*;
        let no_ops = ChannelConfig::default();
        let ops = ChannelConfig {
            command_allow_from: vec!["OP".into()],
            ..ChannelConfig::default()
        };
        let by_name = ChannelConfig {
            command_allow_from: vec!["user-OP".into()],
            dangerously_allow_name_matching: true,
            ..ChannelConfig::default()
        };
        let group = RoomKind::Public;
        let private = RoomKind::Private;
        let dm = RoomKind::Direct;
        let group_dm = RoomKind::GroupDirect;
        let cases = [
            // !status needs no operator.
            (&no_ops, Command::Status, "U1", group, Allowed),
            (&ops, Command::Status, "U1", group, Allowed),
            // No operators configured: denied everywhere, DMs and group DMs included.
            (
                &no_ops,
                Command::Stop,
                "U1",
                group,
                Denied(NoOperatorsConfigured),
            ),
            (
                &no_ops,
                Command::Stop,
                "U1",
                private,
                Denied(NoOperatorsConfigured),
            ),
            (
                &no_ops,
                Command::Model { name: "x".into() },
                "U1",
                group,
                Denied(NoOperatorsConfigured),
            ),
            (
                &no_ops,
                Command::Stop,
                "U1",
                dm,
                Denied(NoOperatorsConfigured),
            ),
            (
                &no_ops,
                Command::Model { name: "x".into() },
                "U1",
                dm,
                Denied(NoOperatorsConfigured),
            ),
            (
                &no_ops,
                Command::Stop,
                "U1",
                group_dm,
                Denied(NoOperatorsConfigured),
            ),
            (&no_ops, Command::Status, "U1", dm, Allowed),
            (&ops, Command::Stop, "OP", dm, Allowed),
            // Operators configured: only they may, in groups and DMs alike.
            (&ops, Command::Stop, "OP", group, Allowed),
            (
                &ops,
                Command::Model { name: "x".into() },
                "OP",
                group,
                Allowed,
            ),
            (&ops, Command::Stop, "U1", group, Denied(NotAnOperator)),
            (&ops, Command::Stop, "U1", dm, Denied(NotAnOperator)),
            (
                &ops,
                Command::Model { name: "x".into() },
                "U1",
                dm,
                Denied(NotAnOperator),
            ),
            // Names match only with dangerouslyAllowNameMatching.
            (&by_name, Command::Stop, "OP", group, Allowed),
            // Answered directly, never operator-gated.
            (&no_ops, Command::ModelWithoutName, "U1", group, Allowed),
            (
                &no_ops,
                Command::Unknown { word: "x".into() },
                "U1",
                group,
                Allowed,
            ),
        ];
        // The room kind is part of each case only to show the rule ignores it.
        for (config, command, who, kind, expected) in cases {
            let request = authorize(config, command.clone(), &sender(who));
            assert_eq!(request.access, expected, "{command:?} by {who} in {kind:?}");
            assert_eq!(request.command, command);
        }
        let names_off = ChannelConfig {
            dangerously_allow_name_matching: false,
            ..by_name.clone()
        };
        let request = authorize(&names_off, Command::Stop, &sender("OP"));
        assert_eq!(request.access, Denied(NotAnOperator));
        assert_eq!(NotAnOperator.as_str(), "not_an_operator");
        assert_eq!(NoOperatorsConfigured.as_str(), "no_operators_configured");
    }

    #[test]
    fn actions_forward_or_answer() {
        let request = |command, access| CommandRequest { command, access };
        let forward = |slash: &str| CommandAction::Forward {
            slash: slash.into(),
        };
        let allowed = CommandAccess::Allowed;
        let denied = CommandAccess::Denied(CommandDenial::NotAnOperator);
        let cases = [
            (request(Command::Status, allowed), forward("/status")),
            (
                request(Command::Model { name: "a/b".into() }, allowed),
                forward("/model a/b"),
            ),
            (request(Command::Stop, allowed), forward("/stop")),
        ];
        for (request, expected) in cases {
            assert_eq!(request.action(), expected);
        }
        let reply = |request: CommandRequest| match request.action() {
            CommandAction::Reply { text } => text,
            other => panic!("expected a reply, got {other:?}"),
        };
        let unknown = reply(request(
            Command::Unknown {
                word: "halp".into(),
            },
            allowed,
        ));
        assert!(
            unknown.contains("!halp") && unknown.contains(KNOWN_COMMANDS),
            "{unknown}"
        );
        let usage = reply(request(Command::ModelWithoutName, allowed));
        assert!(usage.contains("!model <name>"), "{usage}");
        assert!(reply(request(Command::Stop, denied)).contains("!stop is not allowed"));
        let model = reply(request(Command::Model { name: "x".into() }, denied));
        assert!(model.contains("!model is not allowed"), "{model}");
    }
}
