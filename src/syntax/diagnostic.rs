//! What the user reads when input is wrong: `file:line:col`, what is wrong, and what to do.

use crate::syntax::text::LineIndex;
use crate::syntax::tree::SyntaxError;
use std::fmt;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    pub path: String,
    pub line: usize,
    pub column: usize,
    pub message: String,
    pub help: String,
}

impl Diagnostic {
    pub fn from_syntax_error(path: &str, source: &str, lines: &LineIndex, error: &SyntaxError) -> Diagnostic {
        let (line, column) = lines.line_col(source, error.range.start);
        Diagnostic { path: path.to_string(), line, column, message: error.message.clone(), help: error.help.clone() }
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}: error: {}\n  help: {}", self.path, self.line, self.column, self.message, self.help)
    }
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
    fn non_utf8_points_at_the_bad_byte() {
        let d = decode("Dockerfile", b"FROM a\nRUN caf\xe9\n".to_vec()).unwrap_err();
        assert_eq!((d.line, d.column), (2, 8));
        assert!(d.to_string().starts_with("Dockerfile:2:8: error: invalid UTF-8 (byte 0xe9)"));
    }
}
