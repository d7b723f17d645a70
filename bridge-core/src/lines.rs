//! Reading newline-delimited input with a bound on the line length, so that a runaway
//! writer cannot make the bridge buffer without limit.

use tokio::io::{AsyncBufRead, AsyncBufReadExt};

/// The longest accepted input line (the 12,000-character sends are far below it).
pub const MAX_LINE_BYTES: usize = 4 * 1024 * 1024;

/// One input line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Line {
    /// A line of UTF-8 text, without its `\n` (and `\r`).
    Text(String),
    /// The line was longer than the limit; it was skipped.
    TooLong,
    /// The line was not UTF-8.
    NotUtf8,
}

/// Reads lines of at most `max` bytes from `input`.
///
/// Cancel-safe: a partly read line is kept in the reader, so dropping a pending
/// [`LineReader::next_line`] future loses nothing.
#[derive(Debug)]
pub struct LineReader<R> {
    input: R,
    max: usize,
    /// The line read so far.
    buf: Vec<u8>,
    /// The current line went over `max`; the rest of it is being skipped.
    too_long: bool,
}

impl<R: AsyncBufRead + Unpin> LineReader<R> {
    /// Wraps a buffered reader.
    pub fn new(input: R, max: usize) -> Self {
        Self {
            input,
            max,
            buf: Vec::new(),
            too_long: false,
        }
    }

    /// The next line, or `None` at end of input.
    pub async fn next_line(&mut self) -> std::io::Result<Option<Line>> {
        loop {
            let available = self.input.fill_buf().await?;
            if available.is_empty() {
                if self.buf.is_empty() && !self.too_long {
                    return Ok(None);
                }
                break;
            }
            let (chunk, used, done) = match available.iter().position(|&b| b == b'\n') {
                Some(i) => (&available[..i], i + 1, true),
                None => (available, available.len(), false),
            };
            if !self.too_long {
                if self.buf.len() + chunk.len() > self.max {
                    self.too_long = true;
                    self.buf = Vec::new();
                } else {
                    self.buf.extend_from_slice(chunk);
                }
            }
            self.input.consume(used);
            if done {
                break;
            }
        }
        let mut buf = std::mem::take(&mut self.buf);
        if std::mem::take(&mut self.too_long) {
            return Ok(Some(Line::TooLong));
        }
        if buf.last() == Some(&b'\r') {
            buf.pop();
        }
        Ok(Some(match String::from_utf8(buf) {
            Ok(text) => Line::Text(text),
            Err(_) => Line::NotUtf8,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn read_all(input: &[u8], max: usize) -> Vec<Line> {
        let mut reader = LineReader::new(tokio::io::BufReader::with_capacity(4, input), max);
        let mut out = Vec::new();
        while let Some(line) = reader.next_line().await.unwrap() {
            out.push(line);
        }
        out
    }

    #[tokio::test]
    async fn splits_lines_across_buffer_refills() {
        let lines = read_all(b"hello world\r\nsecond\nlast-without-newline", 100).await;
        assert_eq!(
            lines,
            vec![
                Line::Text("hello world".into()),
                Line::Text("second".into()),
                Line::Text("last-without-newline".into())
            ]
        );
    }

    #[tokio::test]
    async fn overlong_and_binary_lines_are_reported_and_skipped() {
        let lines = read_all(b"0123456789abc\n\xff\xfe\nok\n", 10).await;
        assert_eq!(
            lines,
            vec![Line::TooLong, Line::NotUtf8, Line::Text("ok".into())]
        );
    }
}
