//! What the user reads when input is wrong: `file:line:col`, what is wrong, and what to do.

use crate::syntax::text::LineIndex;
use crate::syntax::tree::SyntaxError;
use std::fmt;

/// A problem with a file. `line` and `column` are 1-based, or both 0 for a problem with the file as a whole (it
/// cannot be read).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    pub path: String,
    pub line: usize,
    pub column: usize,
    pub message: String,
    pub help: String,
}

impl Diagnostic {
    /// A problem with the whole file, such as that it cannot be read.
    pub fn whole_file(path: &str, message: String, help: String) -> Diagnostic {
        Diagnostic { path: path.to_string(), line: 0, column: 0, message, help }
    }

    /// Line and column, unless the problem is with the whole file.
    pub fn position(&self) -> Option<(usize, usize)> {
        (self.line > 0).then_some((self.line, self.column))
    }

    pub fn from_syntax_error(path: &str, source: &str, lines: &LineIndex, error: &SyntaxError) -> Diagnostic {
        let (line, column) = lines.line_col(source, error.range.start);
        Diagnostic { path: path.to_string(), line, column, message: error.message.clone(), help: error.help.clone() }
    }
}

impl Diagnostic {
    /// `path:line:col: LEVEL: message` (or `path: LEVEL: message`) and a `help:` line, printable on a terminal.
    pub fn to_text(&self, level: &str) -> String {
        let place = match self.position() {
            Some((line, column)) => format!("{}:{line}:{column}", printable(&self.path, usize::MAX)),
            None => printable(&self.path, usize::MAX).into_owned(),
        };
        format!(
            "{place}: {level}: {}\n  help: {}",
            printable(&self.message, MAX_MESSAGE_CHARS),
            printable(&self.help, MAX_MESSAGE_CHARS)
        )
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_text("error"))
    }
}

/// How much of a message dockopt prints: messages quote the file, and a file may hold a line of megabytes.
pub const MAX_MESSAGE_CHARS: usize = 500;

/// Text from a file as it may reach a terminal: control characters (which could move the cursor, retitle the
/// window or ring the bell) written as `\u{1b}` escapes, tabs kept, and at most `max_chars` characters, the rest
/// cut with `…`.
pub fn printable(text: &str, max_chars: usize) -> std::borrow::Cow<'_, str> {
    let clean = |c: char| c == '\t' || !c.is_control();
    // Only the text up to the cut is looked at: a long line costs no more than the part shown.
    let cut = if text.len() <= max_chars {
        text.len()
    } else if text.as_bytes()[..max_chars].is_ascii() {
        max_chars
    } else {
        text.char_indices().nth(max_chars).map_or(text.len(), |(at, _)| at)
    };
    let (shown, rest) = text.split_at(cut);
    // Most text is printable ASCII, which is checked eight bytes at a time.
    let shown_is_clean = is_printable_ascii(shown.as_bytes()) || shown.chars().all(clean);
    if shown_is_clean && rest.is_empty() {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = if shown_is_clean {
        shown.to_string()
    } else {
        let mut out = String::with_capacity(shown.len() + 16);
        for c in shown.chars() {
            if clean(c) {
                out.push(c);
            } else {
                out.push_str(&format!("\\u{{{:x}}}", c as u32));
            }
        }
        out
    };
    if !rest.is_empty() {
        out.push('…');
    }
    std::borrow::Cow::Owned(out)
}

/// Every byte is printable ASCII or a tab: no control character, no DEL and nothing beyond ASCII.
pub fn is_printable_ascii(bytes: &[u8]) -> bool {
    const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
    const HIGHS: u64 = u64::from_ne_bytes([0x80; 8]);
    let is_printable = |b: u8| b == b'\t' || (b' '..0x7f).contains(&b);
    let mut chunks = bytes.chunks_exact(8);
    for chunk in &mut chunks {
        let word = u64::from_ne_bytes(chunk.try_into().expect("chunks of 8"));
        // A byte below 0x20, at or above 0x7f (DEL and beyond ASCII) sets its high bit in one of these; only then
        // are the bytes looked at one by one, which lets tabs through.
        let below_space = word.wrapping_sub(ONES * 0x20) & !word;
        let from_del = word.wrapping_add(ONES) | word;
        if (below_space | from_del) & HIGHS != 0 && !chunk.iter().all(|&b| is_printable(b)) {
            return false;
        }
    }
    chunks.remainder().iter().all(|&b| is_printable(b))
}

/// Dockerfiles are UTF-8 text. Anything else is refused at the first byte that is not UTF-8.
pub fn decode(path: &str, bytes: Vec<u8>) -> Result<String, Diagnostic> {
    String::from_utf8(bytes).map_err(|e| {
        let valid = e.utf8_error().valid_up_to();
        let bytes = e.into_bytes();
        let prefix = std::str::from_utf8(&bytes[..valid]).unwrap_or_default();
        let (line, column) = LineIndex::new(prefix).line_col(prefix, valid);
        Diagnostic {
            path: path.to_string(),
            line,
            column,
            message: format!("invalid UTF-8 (byte 0x{:02x})", bytes[valid]),
            help: "Dockerfiles must be UTF-8; convert the file, for example with `iconv -f latin1 -t utf-8`".into(),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn printable_ascii_is_told_apart_in_every_position() {
        let clean = "RUN apt-get install -y\tcurl ~}";
        assert!(is_printable_ascii(clean.as_bytes()));
        for at in 0..clean.len() {
            for bad in [0x00, 0x1b, 0x1f, 0x7f, 0x80, 0xff] {
                let mut bytes = clean.as_bytes().to_vec();
                bytes[at] = bad;
                assert!(!is_printable_ascii(&bytes), "byte {bad:#x} at {at}");
            }
        }
    }

    #[test]
    fn file_text_reaches_the_terminal_escaped_and_cut() {
        assert_eq!(printable("RUN \x1b]0;x\x07 a\tb", 100), "RUN \\u{1b}]0;x\\u{7} a\tb");
        assert_eq!(printable(&"\0".repeat(10_000_000), 3), "\\u{0}\\u{0}\\u{0}…");
        assert!(matches!(printable("plain", 100), std::borrow::Cow::Borrowed("plain")));
        assert_eq!(printable("abcdef", 3), "abc…");
        assert_eq!(printable("abc", 3), "abc");
        // C1 controls are two bytes in UTF-8; the cut counts characters, not bytes.
        assert_eq!(printable("é\u{85}xyz", 3), "é\\u{85}x…");
    }

    #[test]
    fn non_utf8_points_at_the_bad_byte() {
        let d = decode("Dockerfile", b"FROM a\nRUN caf\xe9\n".to_vec()).unwrap_err();
        assert_eq!((d.line, d.column), (2, 8));
        assert!(d.to_string().starts_with("Dockerfile:2:8: error: invalid UTF-8 (byte 0xe9)"));
    }
}
