//! `!` commands (seed spec, "Commands (v1)"; OpenClaw's text commands) and who may run
//! them.
//!
//! A message whose text, after trimming and after removing a leading mention of the bot
//! (`@bot`, `@bot:` or `@bot,`), starts with `!` is a command and is never sent to the
//! model. The command word is case-insensitive. `!word` stands for OpenClaw's `/word`
//! (chat servers keep a leading `/` for their own slash commands). The table
//! ([`COMMANDS`]) is the one list: parsing, the operator check and `!help` all read it.
//!
//! | text | OpenClaw form | who | why |
//! |---|---|---|---|
//! | `!status` | `/status` | anyone admitted | read-only (seed spec) |
//! | `!whoami` | `/whoami` | anyone admitted | read-only: the sender's own id |
//! | `!help` | answered here | anyone admitted | lists what *this sender* may run |
//! | `!model <name>` | `/model <name>` | operators | changes the model of a session others may share (seed spec) |
//! | `!stop` | `/stop` | operators | aborts a run others may be waiting for (seed spec) |
//! | `!new [model]` | `/new [model]` | operators | archives the session: everyone in it loses its context |
//! | `!reset [soft [message]]` | `/reset ...` | operators | resets the session in place, as `!new` |
//! | `!compact [instructions]` | `/compact ...` | operators | rewrites the session's context |
//! | `!think [level]` | `/think ...` | operators | changes the session's thinking level (cost, latency) |
//! | `!verbose [on\|off\|full]` | `/verbose ...` | operators | shows tool output, risky where several people read |
//! | `!queue [mode]` | `/queue ...` | operators | changes how the session queues runs |
//! | other `!word` | answered here | anyone admitted | "unknown", with what the sender may run |
//!
//! Operators are the senders in `commandAllowFrom`. When it is unset or empty, the
//! operator commands are denied everywhere, DMs included: with OpenClaw's default
//! `session.dmScope: main` every DM shares the owner's main session, so one approved DM
//! sender could otherwise stop, reset or re-model the owner's run. A room's session is
//! shared by everyone in the room, so the same holds there. Commands that OpenClaw has but
//! this table does not (`/bash`, `/elevated`, `/exec`, `/config`, ...) are not reachable
//! with `!`: they are unknown here.
//!
//! An argument is one line and no word of it may start with `/` or `!`: the slash form is
//! handed to OpenClaw as a message body, where such a word could be read as a further
//! directive. A command that needs an argument and has none, or has one it may not take,
//! is answered with its usage. A command that takes no argument ignores any text after
//! it (`!status please` is `!status`).
//!
//! Group addressing (a command in a room that requires mentions must start with a mention
//! of the bot) is checked by [`crate::policy`].
//!
//! ```
//! use channel_api::command::{parse_command, strip_leading_mention, Command};
//!
//! let (addressed, text) = strip_leading_mention("  @Bot: !model openai/gpt-5 ", "bot");
//! assert!(addressed);
//! let command = parse_command(text).unwrap();
//! assert_eq!(command.as_str(), "model");
//! assert_eq!(command.argument(), Some("openai/gpt-5"));
//! assert_eq!(command.slash_form().as_deref(), Some("/model openai/gpt-5"));
//! assert!(command.needs_operator());
//! assert_eq!(parse_command("!reset").unwrap().slash_form().as_deref(), Some("/reset"));
//! assert_eq!(parse_command("hello"), None);
//! ```

use crate::config::ChannelConfig;
use crate::model::Author;

/// Who may run a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Audience {
    /// Any sender the room's policy admitted.
    Anyone,
    /// Only command operators (`commandAllowFrom`).
    Operators,
}

/// Whether a command takes an argument.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Argument {
    /// None; text after the word is ignored.
    None,
    /// Optional.
    Optional,
    /// Required: without one the command is answered with its usage.
    Required,
}

/// One row of the command table.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct CommandSpec {
    /// The word after `!` (lowercase); also its stable name for logs and counters.
    pub word: &'static str,
    /// OpenClaw's slash command, without arguments; `None`: answered here (`!help`).
    pub slash: Option<&'static str>,
    /// Whether it takes an argument.
    pub argument: Argument,
    /// Who may run it.
    pub audience: Audience,
    /// How to write it, for `!help` and usage answers.
    pub usage: &'static str,
    /// What it does, for `!help`.
    pub summary: &'static str,
}

/// Every `!` command, in the order `!help` lists them.
pub static COMMANDS: [CommandSpec; 11] = [
    CommandSpec {
        word: "status",
        slash: Some("/status"),
        argument: Argument::None,
        audience: Audience::Anyone,
        usage: "!status",
        summary: "show the session's status",
    },
    CommandSpec {
        word: "whoami",
        slash: Some("/whoami"),
        argument: Argument::None,
        audience: Audience::Anyone,
        usage: "!whoami",
        summary: "show your sender id",
    },
    CommandSpec {
        word: "help",
        slash: None,
        argument: Argument::None,
        audience: Audience::Anyone,
        usage: "!help",
        summary: "list the commands you may run here",
    },
    CommandSpec {
        word: "model",
        slash: Some("/model"),
        argument: Argument::Required,
        audience: Audience::Operators,
        usage: "!model <name>",
        summary: "switch the model (an alias or provider/model)",
    },
    CommandSpec {
        word: "stop",
        slash: Some("/stop"),
        argument: Argument::None,
        audience: Audience::Operators,
        usage: "!stop",
        summary: "abort the current run",
    },
    CommandSpec {
        word: "new",
        slash: Some("/new"),
        argument: Argument::Optional,
        audience: Audience::Operators,
        usage: "!new [model]",
        summary: "start a fresh session",
    },
    CommandSpec {
        word: "reset",
        slash: Some("/reset"),
        argument: Argument::Optional,
        audience: Audience::Operators,
        usage: "!reset [soft [message]]",
        summary: "reset the session in place",
    },
    CommandSpec {
        word: "compact",
        slash: Some("/compact"),
        argument: Argument::Optional,
        audience: Audience::Operators,
        usage: "!compact [instructions]",
        summary: "compact the session's context",
    },
    CommandSpec {
        word: "think",
        slash: Some("/think"),
        argument: Argument::Optional,
        audience: Audience::Operators,
        usage: "!think [level]",
        summary: "set the thinking level",
    },
    CommandSpec {
        word: "verbose",
        slash: Some("/verbose"),
        argument: Argument::Optional,
        audience: Audience::Operators,
        usage: "!verbose [on|off|full]",
        summary: "toggle verbose output",
    },
    CommandSpec {
        word: "queue",
        slash: Some("/queue"),
        argument: Argument::Optional,
        audience: Audience::Operators,
        usage: "!queue [mode]",
        summary: "set how runs are queued",
    },
];

/// The table row for a command word (case-insensitive).
pub fn spec(word: &str) -> Option<&'static CommandSpec> {
    COMMANDS
        .iter()
        .find(|spec| spec.word.eq_ignore_ascii_case(word))
}

/// A parsed `!` command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// A command from the table, with its argument (trimmed) when it takes one and got
    /// one. `!help` is one too (its `slash` is `None`).
    Known {
        /// The table row.
        spec: &'static CommandSpec,
        /// The argument, as typed.
        argument: Option<String>,
    },
    /// A known command without its required argument, or with one it may not take
    /// (more than one line, or a word starting with `/` or `!`): answered with the usage.
    Usage {
        /// The table row.
        spec: &'static CommandSpec,
    },
    /// Any other `!word` (the word without `!`, as typed).
    Unknown {
        /// The word.
        word: String,
    },
}

impl Command {
    /// The table row, for known words.
    pub fn spec(&self) -> Option<&'static CommandSpec> {
        match self {
            Command::Known { spec, .. } | Command::Usage { spec } => Some(spec),
            Command::Unknown { .. } => None,
        }
    }

    /// The argument, when the command took one.
    pub fn argument(&self) -> Option<&str> {
        match self {
            Command::Known { argument, .. } => argument.as_deref(),
            Command::Usage { .. } | Command::Unknown { .. } => None,
        }
    }

    /// OpenClaw's slash form (`/status`, `/model <name>`, `/reset soft`); `None` for
    /// commands answered here (`!help`, usage, unknown).
    pub fn slash_form(&self) -> Option<String> {
        let Command::Known { spec, argument } = self else {
            return None;
        };
        let slash = spec.slash?;
        Some(match argument {
            Some(argument) => format!("{slash} {argument}"),
            None => slash.to_owned(),
        })
    }

    /// Whether only operators (`commandAllowFrom`) may run it. Usage and unknown answers
    /// are for anyone: they run nothing.
    pub fn needs_operator(&self) -> bool {
        matches!(self, Command::Known { spec, .. } if spec.audience == Audience::Operators)
    }

    /// A stable name for logs and counters: the command word, `usage` or `unknown`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Command::Known { spec, .. } => spec.word,
            Command::Usage { .. } => "usage",
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
    /// Whether the sender is a command operator (decides what `!help` lists).
    pub operator: bool,
}

/// What the host does with a command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommandAction {
    /// Hand OpenClaw this slash command (`/status`, `/model x`, `/stop`, ...).
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
            return CommandAction::Reply {
                text: format!(
                    "!{} is not allowed for you here. {}",
                    self.command.as_str(),
                    self.help()
                ),
            };
        }
        if let Some(slash) = self.command.slash_form() {
            return CommandAction::Forward { slash };
        }
        let text = match &self.command {
            Command::Unknown { word } => format!("Unknown command !{word}. {}", self.help()),
            Command::Usage { spec } => format!("Usage: {} ({}).", spec.usage, spec.summary),
            Command::Known { .. } => self.help(),
        };
        CommandAction::Reply { text }
    }

    /// `!help`'s answer: the commands this sender may run.
    pub fn help(&self) -> String {
        let lines: Vec<String> = COMMANDS
            .iter()
            .filter(|spec| self.operator || spec.audience == Audience::Anyone)
            .map(|spec| format!("{}: {}", spec.usage, spec.summary))
            .collect();
        format!("Commands you may run here: {}.", lines.join("; "))
    }
}

/// Removes a leading `@username` (optionally followed by `:` or `,`) of the bot and the
/// whitespace around it. Returns whether there was one, and the rest, trimmed. The
/// username compares case-insensitively, as chat servers' usernames do.
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
    let Some(spec) = spec(word) else {
        return Some(Command::Unknown {
            word: word.to_owned(),
        });
    };
    let command = match (spec.argument, argument) {
        (Argument::None, _) => Command::Known {
            spec,
            argument: None,
        },
        (Argument::Required, "") => Command::Usage { spec },
        (Argument::Optional, "") => Command::Known {
            spec,
            argument: None,
        },
        (Argument::Required | Argument::Optional, argument) if !safe_argument(argument) => {
            Command::Usage { spec }
        }
        (Argument::Required | Argument::Optional, argument) => Command::Known {
            spec,
            argument: Some(argument.to_owned()),
        },
    };
    Some(command)
}

/// One line, and no word that OpenClaw could read as another command or directive.
fn safe_argument(argument: &str) -> bool {
    !argument.contains(['\n', '\r'])
        && argument
            .split_whitespace()
            .all(|word| !word.starts_with(['/', '!']))
}

/// Applies the operator rule to a command from a sender the room's policy admitted. The
/// rule is the same in every kind of room.
pub fn authorize(config: &ChannelConfig, command: Command, sender: &Author) -> CommandRequest {
    let operator = config.list_allows(
        &config.command_allow_from,
        Some(&sender.id),
        Some(&sender.username),
    );
    let access = if !command.needs_operator() || operator {
        CommandAccess::Allowed
    } else if config.command_allow_from.is_empty() {
        CommandAccess::Denied(CommandDenial::NoOperatorsConfigured)
    } else {
        CommandAccess::Denied(CommandDenial::NotAnOperator)
    };
    CommandRequest {
        command,
        access,
        operator,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::UserId;

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

    fn known(word: &str, argument: Option<&str>) -> Option<Command> {
        Some(Command::Known {
            spec: spec(word).unwrap(),
            argument: argument.map(str::to_owned),
        })
    }

    fn usage(word: &str) -> Option<Command> {
        Some(Command::Usage {
            spec: spec(word).unwrap(),
        })
    }

    #[test]
    fn commands_parse_from_the_text() {
        let unknown = |word: &str| Some(Command::Unknown { word: word.into() });
        let cases = [
            ("!status", known("status", None)),
            ("  !status  ", known("status", None)),
            ("!STATUS", known("status", None)),
            ("!status please", known("status", None)), // no argument: ignored
            ("!stop", known("stop", None)),
            ("!stop /bash x", known("stop", None)),
            ("!whoami", known("whoami", None)),
            ("!help", known("help", None)),
            ("!model g5.2", known("model", Some("g5.2"))),
            (
                "!model   openai/gpt-5.2  ",
                known("model", Some("openai/gpt-5.2")),
            ),
            ("!model\tOpus Fast", known("model", Some("Opus Fast"))),
            ("!model", usage("model")),
            ("!model   ", usage("model")),
            ("!new", known("new", None)),
            ("!new opus", known("new", Some("opus"))),
            ("!reset", known("reset", None)),
            (
                "!reset soft keep going",
                known("reset", Some("soft keep going")),
            ),
            (
                "!compact keep the decisions",
                known("compact", Some("keep the decisions")),
            ),
            ("!think high", known("think", Some("high"))),
            ("!Verbose off", known("verbose", Some("off"))),
            ("!queue steer", known("queue", Some("steer"))),
            // An argument is one line without further commands or directives in it.
            ("!model x /elevated full", usage("model")),
            ("!think high\n/bash rm -rf /", usage("think")),
            ("!reset soft !stop", usage("reset")),
            ("!new a\rb", usage("new")),
            // Not in the table: unknown here, even where OpenClaw has it.
            ("!bash ls", unknown("bash")),
            ("!elevated full", unknown("elevated")),
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
        // (text, slash form, operator only, name)
        let cases = [
            ("!status", Some("/status"), false, "status"),
            ("!whoami", Some("/whoami"), false, "whoami"),
            ("!help", None, false, "help"),
            ("!model g5.2", Some("/model g5.2"), true, "model"),
            ("!stop", Some("/stop"), true, "stop"),
            ("!new", Some("/new"), true, "new"),
            ("!new opus", Some("/new opus"), true, "new"),
            ("!reset soft", Some("/reset soft"), true, "reset"),
            ("!compact", Some("/compact"), true, "compact"),
            ("!think low", Some("/think low"), true, "think"),
            ("!verbose on", Some("/verbose on"), true, "verbose"),
            ("!queue collect", Some("/queue collect"), true, "queue"),
            ("!model", None, false, "usage"),
            ("!x", None, false, "unknown"),
        ];
        for (text, slash, operator, name) in cases {
            let command = parse_command(text).unwrap();
            assert_eq!(command.slash_form().as_deref(), slash, "{text}");
            assert_eq!(command.needs_operator(), operator, "{text}");
            assert_eq!(command.as_str(), name, "{text}");
        }
        // The table is the one list: every word is distinct, lowercase, and its usage
        // starts with it.
        let words: std::collections::HashSet<&str> = COMMANDS.iter().map(|s| s.word).collect();
        assert_eq!(words.len(), COMMANDS.len());
        for spec in &COMMANDS {
            assert_eq!(spec.word, spec.word.to_ascii_lowercase());
            assert!(
                spec.usage.starts_with(&format!("!{}", spec.word)),
                "{spec:?}"
            );
            if let Some(slash) = spec.slash {
                assert_eq!(slash, format!("/{}", spec.word));
            }
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
    fn operators_gate_the_operator_commands() {
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
        let everyone = ChannelConfig {
            command_allow_from: vec!["*".into()],
            ..ChannelConfig::default()
        };
        let cases = [
            // Anyone admitted.
            (&no_ops, "!status", "U1", Allowed),
            (&no_ops, "!whoami", "U1", Allowed),
            (&no_ops, "!help", "U1", Allowed),
            (&ops, "!status", "U1", Allowed),
            // Answered here, never operator-gated.
            (&no_ops, "!model", "U1", Allowed),
            (&no_ops, "!x", "U1", Allowed),
            // No operators configured: denied everywhere (the rule has no room kind).
            (&no_ops, "!stop", "U1", Denied(NoOperatorsConfigured)),
            (&no_ops, "!model x", "U1", Denied(NoOperatorsConfigured)),
            (&no_ops, "!new", "U1", Denied(NoOperatorsConfigured)),
            (&no_ops, "!reset", "U1", Denied(NoOperatorsConfigured)),
            (&no_ops, "!compact", "U1", Denied(NoOperatorsConfigured)),
            (&no_ops, "!think high", "U1", Denied(NoOperatorsConfigured)),
            (&no_ops, "!verbose on", "U1", Denied(NoOperatorsConfigured)),
            (&no_ops, "!queue steer", "U1", Denied(NoOperatorsConfigured)),
            // Operators configured: only they may.
            (&ops, "!stop", "OP", Allowed),
            (&ops, "!new", "OP", Allowed),
            (&ops, "!model x", "OP", Allowed),
            (&ops, "!stop", "U1", Denied(NotAnOperator)),
            (&ops, "!reset", "U1", Denied(NotAnOperator)),
            (&ops, "!verbose full", "U1", Denied(NotAnOperator)),
            // Names match only with dangerouslyAllowNameMatching.
            (&by_name, "!stop", "OP", Allowed),
            // `"*"` makes everyone an operator, deliberately.
            (&everyone, "!reset", "U1", Allowed),
        ];
        for (config, text, who, expected) in cases {
            let command = parse_command(text).unwrap();
            let request = authorize(config, command.clone(), &sender(who));
            assert_eq!(request.access, expected, "{text} by {who}");
            assert_eq!(request.command, command);
        }
        let names_off = ChannelConfig {
            dangerously_allow_name_matching: false,
            ..by_name.clone()
        };
        let stop = parse_command("!stop").unwrap();
        let request = authorize(&names_off, stop, &sender("OP"));
        assert_eq!(request.access, Denied(NotAnOperator));
        assert!(!request.operator);
        assert_eq!(NotAnOperator.as_str(), "not_an_operator");
        assert_eq!(NoOperatorsConfigured.as_str(), "no_operators_configured");
    }

    #[test]
    fn actions_forward_or_answer_and_help_lists_what_the_sender_may_run() {
        let ops = ChannelConfig {
            command_allow_from: vec!["OP".into()],
            ..ChannelConfig::default()
        };
        let action = |text: &str, who: &str| {
            authorize(&ops, parse_command(text).unwrap(), &sender(who)).action()
        };
        let forward = |slash: &str| CommandAction::Forward {
            slash: slash.into(),
        };
        assert_eq!(action("!status", "U1"), forward("/status"));
        assert_eq!(action("!whoami", "U1"), forward("/whoami"));
        assert_eq!(action("!model a/b", "OP"), forward("/model a/b"));
        assert_eq!(action("!stop", "OP"), forward("/stop"));
        assert_eq!(action("!reset soft", "OP"), forward("/reset soft"));
        let reply = |text: &str, who: &str| match action(text, who) {
            CommandAction::Reply { text } => text,
            other => panic!("expected a reply, got {other:?}"),
        };
        // !help lists what this sender may run, and nothing else.
        let user_help = reply("!help", "U1");
        for usage in ["!status", "!whoami", "!help"] {
            assert!(user_help.contains(usage), "{user_help}");
        }
        for usage in [
            "!model", "!stop", "!new", "!reset", "!think", "!verbose", "!queue",
        ] {
            assert!(!user_help.contains(usage), "{usage} in {user_help}");
        }
        let operator_help = reply("!help", "OP");
        for spec in &COMMANDS {
            assert!(operator_help.contains(spec.usage), "{operator_help}");
        }
        // Refusals and unknown words say what the sender may run instead.
        let denied = reply("!stop", "U1");
        assert!(
            denied.starts_with("!stop is not allowed for you here."),
            "{denied}"
        );
        assert!(
            denied.contains("!status") && !denied.contains("!reset"),
            "{denied}"
        );
        let model = reply("!model x", "U1");
        assert!(model.contains("!model is not allowed"), "{model}");
        let unknown = reply("!halp", "U1");
        assert!(
            unknown.contains("Unknown command !halp") && unknown.contains("!help"),
            "{unknown}"
        );
        let usage = reply("!model", "OP");
        assert!(usage.contains("Usage: !model <name>"), "{usage}");
        let smuggled = reply("!model x /elevated full", "OP");
        assert!(smuggled.starts_with("Usage: !model"), "{smuggled}");
    }
}
