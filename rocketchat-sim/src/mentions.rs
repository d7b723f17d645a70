//! Mention parsing, after `apps/meteor/app/mentions/lib/MentionsParser.ts` (reference section 6).

use std::sync::OnceLock;

use regex::Regex;

/// `UTF8_User_Names_Validation` default.
const NAME: &str = r"[0-9a-zA-Z\-_.]+";

fn user_re() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        // (^|\s|>)@(P(@(P))?(:([0-9a-zA-Z-_.]+))?)
        let pattern = format!(r"(?:^|\s|>)@({NAME}(?:@{NAME})?(?::{NAME})?)");
        Regex::new(&pattern).expect("static regex compiles")
    })
}

fn channel_re() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        let pattern = format!(r"(?:^|\s|>)#({NAME}(?:@{NAME})?)");
        Regex::new(&pattern).expect("static regex compiles")
    })
}

fn link_re() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| Regex::new(r"\[[^\]]*\]\([^)]*\)").expect("static regex compiles"))
}

/// Markdown links are stripped before matching, so `[@bob](http://x)` mentions nobody.
fn strip_links(text: &str) -> String {
    link_re().replace_all(text, " ").into_owned()
}

/// Usernames mentioned with `@`, in text order, without duplicates.
pub(crate) fn user_mentions(text: &str) -> Vec<String> {
    let text = strip_links(text);
    let mut out: Vec<String> = Vec::new();
    // The regex consumes the leading whitespace, so adjacent mentions need overlapping search.
    let mut start = 0;
    while let Some(c) = user_re().captures_at(&text, start) {
        let (Some(whole), Some(name)) = (c.get(0), c.get(1)) else {
            break;
        };
        let name = name.as_str().to_owned();
        if !out.contains(&name) {
            out.push(name);
        }
        start = whole.end().max(start + 1);
        if start >= text.len() {
            break;
        }
    }
    out
}

/// Channel names mentioned with `#`, in text order, without duplicates.
pub(crate) fn channel_mentions(text: &str) -> Vec<String> {
    let text = strip_links(text);
    let mut out: Vec<String> = Vec::new();
    for c in channel_re().captures_iter(&text) {
        if let Some(name) = c.get(1) {
            let name = name.as_str().to_owned();
            if !out.contains(&name) {
                out.push(name);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_users_in_order_and_skips_links_and_emails() {
        assert_eq!(
            user_mentions("@alice hi @bob and @alice, mail a@b.c [@carol](http://x)"),
            vec!["alice", "bob"]
        );
        assert_eq!(user_mentions("@all @here"), vec!["all", "here"]);
        assert_eq!(user_mentions(">@quoted"), vec!["quoted"]);
    }

    #[test]
    fn finds_channels() {
        assert_eq!(
            channel_mentions("see #general and #dev."),
            vec!["general", "dev."]
        );
    }
}
