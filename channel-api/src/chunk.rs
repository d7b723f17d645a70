//! Splitting long replies to the server's size limit.
//!
//! A limit is a [`TextLimit`]: a number and the unit the server counts in (e.g. UTF-16
//! code units for a server written in JavaScript). [`chunk_text`]:
//! - returns text that fits unchanged (one chunk), and no chunk for blank text;
//! - cuts at the last paragraph break (blank line) that fits, else the last line break,
//!   else the last space or tab, else at the last whole character that fits (a character
//!   is never cut, so neither is a UTF-16 surrogate pair);
//! - drops the whitespace at a cut (but keeps the indentation of the next line);
//! - closes a code fence (```` ``` ```` or `~~~`) that is open at a cut and reopens it,
//!   with the same info string, at the start of the next chunk; the limit holds with the
//!   added fence lines (when a limit is too small for them, that chunk goes undecorated);
//! - never returns an empty or blank chunk, and keeps the order.
//!
//! ```
//! use channel_api::chunk::chunk_text;
//! use channel_api::TextLimit;
//!
//! let text = "first paragraph\n\nsecond paragraph";
//! assert_eq!(chunk_text(text, TextLimit::utf16(20)), ["first paragraph", "second paragraph"]);
//!
//! let code = "```rust\nlet a = 1;\nlet b = 2;\n```";
//! assert_eq!(
//!     chunk_text(code, TextLimit::utf16(24)),
//!     ["```rust\nlet a = 1;\n```", "```rust\nlet b = 2;\n```"]
//! );
//! ```

use crate::model::{TextLimit, TextUnit};

/// The smallest usable limit in `unit`: room for the widest character (two UTF-16 code
/// units, four UTF-8 bytes). Smaller limits are raised to this.
pub fn min_limit(unit: TextUnit) -> usize {
    match unit {
        TextUnit::Utf16 => 2,
        TextUnit::Chars => 1,
        TextUnit::Bytes => 4,
    }
}

/// Splits `text` into chunks of at most `limit` (see the module docs).
pub fn chunk_text(text: &str, limit: TextLimit) -> Vec<String> {
    split(text, limit).iter().map(Piece::render).collect()
}

/// One chunk: a slice of the original text, with the fence lines added around it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Piece<'a> {
    reopen: Option<String>,
    body: &'a str,
    close: Option<String>,
}

impl Piece<'_> {
    fn render(&self) -> String {
        let mut out = String::new();
        out.push_str(self.reopen.as_deref().unwrap_or_default());
        out.push_str(self.body);
        out.push_str(self.close.as_deref().unwrap_or_default());
        out
    }
}

/// An open code fence: its marker (```` ``` ````, `~~~~`, ...) and info string.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Fence {
    marker: String,
    info: String,
}

impl Fence {
    /// Parses an opening fence line (CommonMark: up to 3 spaces of indentation, 3 or more
    /// backticks or tildes, an info string without backticks for a backtick fence).
    fn opening(line: &str) -> Option<Fence> {
        let (marker, after) = fence_marker(line)?;
        let info = after.trim();
        if marker.starts_with('`') && info.contains('`') {
            return None;
        }
        Some(Fence {
            marker: marker.to_owned(),
            info: info.to_owned(),
        })
    }

    /// Whether `line` closes this fence: the same character, at least as many, nothing after.
    fn is_closed_by(&self, line: &str) -> bool {
        fence_marker(line).is_some_and(|(marker, after)| {
            marker.len() >= self.marker.len()
                && marker.starts_with(&self.marker[..1])
                && after.trim().is_empty()
        })
    }

    fn reopen_line(&self) -> String {
        format!("{}{}\n", self.marker, self.info)
    }

    fn close_line(&self) -> String {
        format!("\n{}", self.marker)
    }
}

/// Splits a line into its fence marker and what follows, if it starts with one.
fn fence_marker(line: &str) -> Option<(&str, &str)> {
    let line = line.strip_suffix('\r').unwrap_or(line);
    let unindented = line.trim_start_matches(' ');
    if line.len() - unindented.len() > 3 {
        return None;
    }
    let fence_char = unindented
        .chars()
        .next()
        .filter(|c| matches!(c, '`' | '~'))?;
    let after = unindented.trim_start_matches(fence_char);
    let marker = &unindented[..unindented.len() - after.len()];
    (marker.len() >= 3).then_some((marker, after))
}

/// The fence state at the start of a line of the original text.
#[derive(Debug, Clone, Default)]
struct FenceCheckpoint {
    line_start: usize,
    open: Option<Fence>,
}

impl FenceCheckpoint {
    /// Applies every line that ends (at its `\n` or the end of the text) at or before
    /// `offset`. A line cut in the middle does not count yet.
    fn advance(&self, text: &str, offset: usize) -> FenceCheckpoint {
        let mut checkpoint = self.clone();
        while checkpoint.line_start < text.len() {
            let start = checkpoint.line_start;
            let end = text[start..].find('\n').map_or(text.len(), |i| start + i);
            if end > offset {
                break;
            }
            let line = &text[start..end];
            checkpoint.open = match checkpoint.open.take() {
                Some(fence) if fence.is_closed_by(line) => None,
                Some(fence) => Some(fence),
                None => Fence::opening(line),
            };
            checkpoint.line_start = end + 1;
        }
        checkpoint
    }
}

fn split(text: &str, limit: TextLimit) -> Vec<Piece<'_>> {
    let unit = limit.unit;
    let limit = Budget {
        max: limit.max.max(min_limit(unit)),
        unit,
    };
    if text.trim().is_empty() {
        return Vec::new();
    }
    if unit.len_of(text) <= limit.max {
        return vec![Piece {
            reopen: None,
            body: text,
            close: None,
        }];
    }
    let mut pieces = Vec::new();
    let mut fences = FenceCheckpoint::default();
    let mut pos = skip_separator(text, 0);
    while pos < text.len() {
        fences = fences.advance(text, pos);
        match next_piece(text, pos, &fences, limit) {
            Next::Piece(piece, cut) => {
                pieces.push(piece);
                pos = skip_separator(text, cut);
            }
            Next::SkipIndentation(to) => pos = to,
            Next::Done => break,
        }
    }
    pieces
}

/// A limit being spent: how many units, and which unit.
#[derive(Debug, Clone, Copy)]
struct Budget {
    max: usize,
    unit: TextUnit,
}

enum Next<'a> {
    /// Emit this piece; the text continues after the cut at this offset.
    Piece(Piece<'a>, usize),
    /// Only leading indentation fits: drop it and continue from this offset.
    SkipIndentation(usize),
    /// Only whitespace is left.
    Done,
}

/// The piece starting at `pos`, decorated with fence lines when they fit.
fn next_piece<'a>(text: &'a str, pos: usize, fences: &FenceCheckpoint, limit: Budget) -> Next<'a> {
    let rest = &text[pos..];
    let Some(first_content) = rest.find(|c: char| !c.is_whitespace()) else {
        return Next::Done;
    };
    let unit = limit.unit;
    let len = |s: &str| unit.len_of(s);
    let reopen = fences.open.as_ref().map(Fence::reopen_line);
    let reopen_len = reopen.as_deref().map_or(0, len);
    let mut budget = limit.max.saturating_sub(reopen_len);
    while budget >= min_limit(unit) {
        let Some(cut) = choose_cut(rest, first_content, budget, unit) else {
            // Only indentation fits after the fence line: drop the indentation instead.
            return Next::SkipIndentation(pos + first_content);
        };
        let body = rest[..cut].trim_end();
        if cut == rest.len() {
            return Next::Piece(piece(reopen, body, None), text.len());
        }
        let close = fences.advance(text, pos + cut).open.map(|f| f.close_line());
        let total = reopen_len + len(body) + close.as_deref().map_or(0, len);
        if total <= limit.max {
            return Next::Piece(piece(reopen, body, close), pos + cut);
        }
        budget = budget.saturating_sub(total - limit.max);
    }
    // The fence lines leave no room: this piece goes undecorated.
    match choose_cut(rest, first_content, limit.max, unit) {
        Some(cut) => Next::Piece(piece(None, rest[..cut].trim_end(), None), pos + cut),
        None => Next::SkipIndentation(pos + first_content),
    }
}

fn piece(reopen: Option<String>, body: &str, close: Option<String>) -> Piece<'_> {
    Piece {
        reopen,
        body,
        close,
    }
}

/// Where to cut `rest` so that `rest[..cut]` fits `budget` and still holds content
/// (`first_content` is the offset of the first non-whitespace character). `rest.len()`
/// when all of it fits; `None` when only whitespace fits.
fn choose_cut(rest: &str, first_content: usize, budget: usize, unit: TextUnit) -> Option<usize> {
    let mut units = 0;
    let mut window_end = rest.len();
    for (i, c) in rest.char_indices() {
        units += unit.len_of_char(c);
        if units > budget {
            window_end = i;
            break;
        }
    }
    if window_end == rest.len() {
        return Some(rest.len());
    }
    if window_end <= first_content {
        return None;
    }
    // A cut at `p` drops the whitespace at `p`, so `p` may be the first character past the
    // window. Break characters are ASCII, so every match is a character boundary.
    let bytes = rest.as_bytes();
    let last = |is_break: &dyn Fn(usize) -> bool| {
        (first_content + 1..=window_end)
            .rev()
            .find(|&p| is_break(p))
    };
    let paragraph = |p: usize| {
        bytes[p] == b'\n'
            && match bytes.get(p + 1) {
                Some(b'\n') => true,
                Some(b'\r') => bytes.get(p + 2) == Some(&b'\n'),
                _ => false,
            }
    };
    let line = |p: usize| bytes[p] == b'\n';
    let word = |p: usize| matches!(bytes[p], b' ' | b'\t');
    last(&paragraph)
        .or_else(|| last(&line))
        .or_else(|| last(&word))
        .or(Some(window_end))
}

/// The offset after the whitespace at a cut, keeping the indentation of the next line.
fn skip_separator(text: &str, cut: usize) -> usize {
    let mut after_newline = None;
    for (i, c) in text[cut..].char_indices() {
        if !c.is_whitespace() {
            return after_newline.unwrap_or(cut + i);
        }
        if c == '\n' {
            after_newline = Some(cut + i + 1);
        }
    }
    text.len()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn chunk(text: &str, limit: usize) -> Vec<String> {
        chunk_text(text, TextLimit::utf16(limit))
    }

    fn utf16_len(text: &str) -> usize {
        TextUnit::Utf16.len_of(text)
    }

    #[test]
    fn other_units_are_counted_in_their_own_terms() {
        let bytes = TextLimit {
            max: 5,
            unit: TextUnit::Bytes,
        };
        // é is two bytes: two fit, the third does not.
        assert_eq!(chunk_text("ééééé", bytes), ["éé", "éé", "é"]);
        let chars = TextLimit {
            max: 2,
            unit: TextUnit::Chars,
        };
        assert_eq!(chunk_text("😀😀😀", chars), ["😀😀", "😀"]);
        // A byte limit below the widest character is raised to four bytes.
        let tiny = TextLimit {
            max: 1,
            unit: TextUnit::Bytes,
        };
        assert_eq!(chunk_text("😀😀", tiny), ["😀", "😀"]);
    }

    #[test]
    fn short_and_blank_text() {
        let cases: [(&str, usize, &[&str]); 6] = [
            ("", 10, &[]),
            ("  \n\n \t", 10, &[]),
            ("hello", 10, &["hello"]),
            // Text that fits is returned exactly, whitespace and all.
            ("  hello \n", 10, &["  hello \n"]),
            ("0123456789", 10, &["0123456789"]),
            // A limit below the minimum is raised to it.
            ("abc", 0, &["ab", "c"]),
        ];
        for (text, limit, expected) in cases {
            assert_eq!(chunk(text, limit), expected, "{text:?} @ {limit}");
        }
    }

    #[test]
    fn boundaries_are_preferred_paragraph_then_line_then_word_then_hard() {
        let cases: [(&str, usize, &[&str]); 8] = [
            // A paragraph break wins over a later line break.
            ("aa\n\nbb\ncc\ndd", 9, &["aa", "bb\ncc\ndd"]),
            ("aa\r\n\r\nbb\ncc\ndd", 9, &["aa", "bb\ncc\ndd"]),
            // A line break wins over a later space.
            ("aaa bbb\nccc ddd", 12, &["aaa bbb", "ccc ddd"]),
            // A space wins over a hard cut.
            ("hello world", 8, &["hello", "world"]),
            // The whitespace right after the window is a fine cut.
            ("abcd efgh", 4, &["abcd", "efgh"]),
            // No whitespace: hard cuts.
            ("abcdefghij", 4, &["abcd", "efgh", "ij"]),
            // Runs of separators are dropped at the cut.
            ("one\n\n\n\ntwo   three", 5, &["one", "two", "three"]),
            // The next line's indentation is kept.
            ("top\n    indented", 12, &["top", "    indented"]),
        ];
        for (text, limit, expected) in cases {
            assert_eq!(chunk(text, limit), expected, "{text:?} @ {limit}");
        }
    }

    #[test]
    fn limits_count_utf16_units_and_never_cut_a_character() {
        let cases: [(&str, usize, &[&str]); 4] = [
            // Each emoji is a surrogate pair: two units.
            ("😀😀😀", 3, &["😀", "😀", "😀"]),
            ("a😀b", 2, &["a", "😀", "b"]),
            ("😀😀 😀", 4, &["😀😀", "😀"]),
            // é is one unit (two UTF-8 bytes).
            ("ééééé", 2, &["éé", "éé", "é"]),
        ];
        for (text, limit, expected) in cases {
            assert_eq!(chunk(text, limit), expected, "{text:?} @ {limit}");
        }
        assert_eq!(utf16_len("a😀é"), 4);
    }

    #[test]
    fn code_fences_are_closed_and_reopened() {
        let cases: [(&str, usize, &[&str]); 6] = [
            (
                "```rust\nlet a = 1;\nlet b = 2;\n```",
                24,
                &["```rust\nlet a = 1;\n```", "```rust\nlet b = 2;\n```"],
            ),
            // Text around the block; the block is cut inside.
            (
                "intro\n\n```\nl1\nl2\nl3\n```\noutro",
                12,
                &[
                    "intro",
                    "```\nl1\n```",
                    "```\nl2\n```",
                    "```\nl3\n```",
                    "outro",
                ],
            ),
            // Tilde fences, longer markers, indentation inside the block.
            (
                "~~~~ py\n  a\n  b\n~~~~",
                16,
                &["~~~~ py\n  a\n~~~~", "~~~~py\n  b\n~~~~"],
            ),
            // A closed block needs nothing added.
            (
                "```\nx\n```\n\nafter text",
                10,
                &["```\nx\n```", "after text"],
            ),
            // A cut right after the opening line closes the (empty) block and reopens it.
            (
                "```sh\n\nls -la /tmp",
                14,
                &["```sh\n```", "```sh\nls\n```", "```sh\n-la /tmp"],
            ),
            // Inline triple backticks are not a fence.
            ("```a``` b c d", 8, &["```a```", "b c d"]),
        ];
        for (text, limit, expected) in cases {
            let chunks = chunk(text, limit);
            assert_eq!(chunks, expected, "{text:?} @ {limit}");
            assert!(chunks.iter().all(|c| utf16_len(c) <= limit), "{chunks:?}");
        }
    }

    #[test]
    fn an_unclosed_fence_at_the_end_is_left_as_written() {
        let chunks = chunk("```\naaaa\nbbbb", 12);
        assert_eq!(chunks, ["```\naaaa\n```", "```\nbbbb"]);
    }

    #[test]
    fn a_limit_too_small_for_the_fence_lines_goes_undecorated() {
        let text = "```a-very-long-info-string\nxx yy\n```";
        let pieces = split(text, TextLimit::utf16(8));
        assert!(
            pieces.iter().all(|p| utf16_len(&p.render()) <= 8),
            "{pieces:?}"
        );
        let joined: String = pieces
            .iter()
            .map(|p| p.body)
            .collect::<String>()
            .split_whitespace()
            .collect();
        let original: String = text.split_whitespace().collect();
        assert_eq!(joined, original);
    }

    #[test]
    fn only_indentation_fitting_is_dropped_not_looped_on() {
        assert_eq!(chunk("x\n        abc", 4), ["x", "abc"]);
        // Inside a fence, the indentation goes rather than the fence lines.
        assert_eq!(chunk("```\nab\n      cd", 10), ["```\nab\n```", "```\ncd"]);
    }

    #[test]
    fn the_default_limit_cuts_a_long_reply_into_full_chunks() {
        let limit = crate::config::DEFAULT_TEXT_CHUNK_LIMIT;
        assert_eq!(limit, 5000);
        let text = "word ".repeat(2500);
        let chunks = chunk(&text, limit);
        assert_eq!(chunks.len(), 3);
        assert!(chunks.iter().all(|c| utf16_len(c) <= limit));
    }

    fn no_whitespace(text: &str) -> String {
        text.chars().filter(|c| !c.is_whitespace()).collect()
    }

    fn text_strategy() -> impl Strategy<Value = String> {
        let token = prop_oneof![
            Just("word".to_string()),
            Just("longerword".to_string()),
            Just(" ".to_string()),
            Just("  ".to_string()),
            Just("\n".to_string()),
            Just("\n\n".to_string()),
            Just("\r\n".to_string()),
            Just("```rust\n".to_string()),
            Just("```\n".to_string()),
            Just("~~~\n".to_string()),
            Just("    ".to_string()),
            Just("é".to_string()),
            Just("😀".to_string()),
            Just("ab😀cd".to_string()),
            "[a-z]{1,30}",
        ];
        proptest::collection::vec(token, 0..80).prop_map(|tokens| tokens.concat())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn chunks_fit_are_not_empty_and_keep_the_content(
            text in text_strategy(),
            limit in 2usize..80,
        ) {
            let pieces = split(&text, TextLimit::utf16(limit));
            let rendered = chunk(&text, limit);
            prop_assert_eq!(pieces.len(), rendered.len());
            for (piece, chunk) in pieces.iter().zip(&rendered) {
                prop_assert!(utf16_len(chunk) <= limit, "{:?} > {}", chunk, limit);
                prop_assert!(!chunk.trim().is_empty(), "blank chunk in {:?}", rendered);
                prop_assert!(!piece.body.trim().is_empty());
                prop_assert_eq!(&piece.render(), chunk);
            }
            let bodies: String = pieces.iter().map(|p| p.body).collect();
            prop_assert_eq!(no_whitespace(&bodies), no_whitespace(&text));
        }

        #[test]
        fn every_close_is_followed_by_a_reopen_when_the_limit_allows(
            text in text_strategy(),
            limit in 24usize..80,
        ) {
            let pieces = split(&text, TextLimit::utf16(limit));
            for pair in pieces.windows(2) {
                let closed = pair[0].close.is_some();
                let reopened = pair[1].reopen.is_some();
                prop_assert_eq!(closed, reopened, "{:?}", pair);
            }
        }
    }
}
