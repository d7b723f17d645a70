//! Mentions, read from the text the way a chat server does when it stores a message:
//! `@username` of a known user, `@all` and `@here`.

use channel_api::{Mention, UserId};

/// The mentions in `text`, in text order, each once. `lookup` maps a username to a user id;
/// unknown names are not mentions.
pub(crate) fn parse_mentions(text: &str, lookup: impl Fn(&str) -> Option<UserId>) -> Vec<Mention> {
    let mut mentions = Vec::new();
    for (at, _) in text.match_indices('@') {
        // `a@b` is an address, not a mention: a mention starts a word.
        let starts_word = text[..at]
            .chars()
            .next_back()
            .is_none_or(|c| !is_name_char(c));
        if !starts_word {
            continue;
        }
        let rest = &text[at + 1..];
        let end = rest.find(|c: char| !is_name_char(c)).unwrap_or(rest.len());
        // Trailing dots end sentences ("thanks @bob.") rather than names.
        let name = rest[..end].trim_end_matches('.');
        let mention = match name {
            "" => None,
            "all" => Some(Mention::All),
            "here" => Some(Mention::Here),
            _ => lookup(name).map(|id| Mention::User {
                id,
                username: name.to_owned(),
            }),
        };
        if let Some(mention) = mention {
            if !mentions.contains(&mention) {
                mentions.push(mention);
            }
        }
    }
    mentions
}

fn is_name_char(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, '.' | '_' | '-')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lookup(name: &str) -> Option<UserId> {
        match name {
            "bot" => Some(UserId::new("B1")),
            "alice" => Some(UserId::new("A1")),
            _ => None,
        }
    }

    fn user(id: &str, name: &str) -> Mention {
        Mention::User {
            id: UserId::new(id),
            username: name.into(),
        }
    }

    #[test]
    fn reads_users_all_and_here_in_order_once() {
        let got = parse_mentions(
            "@alice ping @bot, also @all and @here and @bot again",
            lookup,
        );
        assert_eq!(
            got,
            vec![
                user("A1", "alice"),
                user("B1", "bot"),
                Mention::All,
                Mention::Here
            ]
        );
    }

    #[test]
    fn ignores_unknown_names_addresses_and_bare_at() {
        assert!(parse_mentions("mail me@bot.com or @nobody or @ alone", lookup).is_empty());
    }

    #[test]
    fn trailing_punctuation_does_not_hide_a_mention() {
        assert_eq!(
            parse_mentions("thanks @bot.", lookup),
            vec![user("B1", "bot")]
        );
        assert_eq!(
            parse_mentions("(@alice)", lookup),
            vec![user("A1", "alice")]
        );
    }
}
