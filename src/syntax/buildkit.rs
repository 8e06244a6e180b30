//! The small lexers BuildKit's Dockerfile parser applies to one logical line, re-implemented so that dockopt
//! splits words, flags, JSON arrays and heredoc markers exactly where BuildKit does, quirks included.
//!
//! Every function works on a `&str` and reports positions as byte offsets into it, so callers can map each value
//! back to the source. None of them panics on any input.

use crate::syntax::scan::BytePositions;
use std::borrow::Cow;
use std::ops::Range;

/// Go's `unicode.IsSpace`. Rust's `White_Space` property is the same set of code points.
pub fn is_space(c: char) -> bool {
    c.is_whitespace()
}

/// `unicode.IsSpace(rune(b))` applied to one byte, which is how BuildKit walks flags and HEALTHCHECK types.
/// Bytes 0x85 and 0xA0 count, even when they are the tail of a multi-byte character.
pub fn is_byte_space(b: u8) -> bool {
    matches!(b, b'\t' | b'\n' | 0x0b | 0x0c | b'\r' | b' ' | 0x85 | 0xa0)
}

/// The `[\t\v\f\r ]` class of BuildKit's `reWhitespace`.
pub fn is_re_whitespace(c: char) -> bool {
    matches!(c, '\t' | '\u{0b}' | '\u{0c}' | '\r' | ' ')
}

/// True for the ASCII bytes [`is_space`] accepts.
const fn is_ascii_space(b: u8) -> bool {
    matches!(b, b'\t' | b'\n' | 0x0b | 0x0c | b'\r' | b' ')
}

/// How many bytes of whitespace ([`is_space`]) `s` starts with. Lines are nearly all ASCII, so bytes are read
/// without decoding until the first non-ASCII one.
// Asked of every line by the parser. Left to its own judgement, the compiler stopped inlining it there as other
// callers came, which cost 2% more parse instructions; since the parser reads the model in the same pass, even a
// hint does not keep it inlined there.
#[inline(always)]
pub fn leading_space_len(s: &str) -> usize {
    let bytes = s.as_bytes();
    let mut i = 0;
    // Continuation lines are mostly indented with spaces: eight bytes are compared at once, up to the first that is
    // not a space, and the byte loop below goes on from there.
    if bytes.first() == Some(&b' ') {
        while let Some(chunk) = bytes.get(i..i + 8) {
            let spaces = u64::from_le_bytes(chunk.try_into().expect("eight bytes")) ^ u64::from_le_bytes([b' '; 8]);
            if spaces != 0 {
                i += spaces.trailing_zeros() as usize / 8;
                break;
            }
            i += 8;
        }
    }
    while i < bytes.len() && is_ascii_space(bytes[i]) {
        i += 1;
    }
    if i < bytes.len() && bytes[i] >= 0x80 {
        let rest = &s[i..];
        i += rest.len() - rest.trim_start_matches(is_space).len();
    }
    i
}

/// Where the trailing whitespace ([`is_space`]) of `s` starts.
// Inlined for the same reason as `leading_space_len`.
#[inline]
pub fn trailing_space_start(s: &str) -> usize {
    let bytes = s.as_bytes();
    let mut end = bytes.len();
    while end > 0 && is_ascii_space(bytes[end - 1]) {
        end -= 1;
    }
    if end > 0 && bytes[end - 1] >= 0x80 {
        end = s[..end].trim_end_matches(is_space).len();
    }
    end
}

/// Go's `strings.TrimSpace`, as a sub-range of `r`.
pub fn trim_space(s: &str, r: Range<usize>) -> Range<usize> {
    let text = &s[r.clone()];
    // Nearly every instruction starts and ends in an ASCII byte that is not a space: then there is nothing to trim.
    let plain = |b: Option<&u8>| b.is_some_and(|&b| b.is_ascii() && !is_ascii_space(b));
    if plain(text.as_bytes().first()) && plain(text.as_bytes().last()) {
        return r;
    }
    let start = r.start + leading_space_len(text);
    let end = r.start + trailing_space_start(text);
    if start >= end {
        start..start
    } else {
        start..end
    }
}

/// Go's `regexp.Split` with `reWhitespace` and a limit (`None` for -1): the pieces between runs of whitespace.
/// An empty string gives one empty piece; leading and trailing whitespace give empty pieces at the ends.
pub fn split_re_whitespace(s: &str, limit: Option<usize>) -> WhitespaceSplit<'_> {
    WhitespaceSplit { bytes: s.as_bytes(), begin: 0, pieces: 0, limit: limit.unwrap_or(usize::MAX), done: false }
}

pub struct WhitespaceSplit<'a> {
    bytes: &'a [u8],
    begin: usize,
    pieces: usize,
    limit: usize,
    done: bool,
}

impl Iterator for WhitespaceSplit<'_> {
    type Item = Range<usize>;

    fn next(&mut self) -> Option<Range<usize>> {
        if self.done {
            return None;
        }
        let ws = |b: &u8| is_re_whitespace(*b as char);
        if self.pieces + 1 < self.limit {
            if let Some(run) = self.bytes[self.begin..].iter().position(ws) {
                let run_start = self.begin + run;
                let run_end =
                    self.bytes[run_start..].iter().position(|b| !ws(b)).map_or(self.bytes.len(), |n| run_start + n);
                let piece = self.begin..run_start;
                self.begin = run_end;
                self.pieces += 1;
                return Some(piece);
            }
        }
        self.done = true;
        Some(self.begin..self.bytes.len())
    }
}

/// A word and the range of the source text it was read from.
pub type SpannedWord = (String, Range<usize>);

/// BuildKit's `parseWords`: splits ENV, LABEL and ARG arguments on unquoted whitespace, keeping quotes and
/// escape characters in the words. Each word is verbatim source text, so only its range is given; an escape
/// at the very end of the input is dropped, as BuildKit drops it. The words are read as they are asked for, so
/// that an instruction's values are made from them directly, with no list of ranges in between.
///
/// Quotes and the escape are ASCII, so bytes are walked: runs of bytes that matter to none of the rules are
/// skipped, and a character is decoded only where a non-ASCII one starts.
pub fn parse_words(s: &str, escape: char) -> Words<'_> {
    Words { s, escape: escape as u8, next: 0 }
}

/// The words of [`parse_words`].
pub struct Words<'a> {
    s: &'a str,
    escape: u8,
    /// Where the next word is looked for; the end of the text once the words are done.
    next: usize,
}

impl Iterator for Words<'_> {
    type Item = Range<usize>;

    fn next(&mut self) -> Option<Range<usize>> {
        let (s, escape) = (self.s, self.escape);
        let bytes = s.as_bytes();
        let mut i = self.next;
        loop {
            while i < bytes.len() {
                match space_len_at(s, i) {
                    0 => break,
                    n => i += n,
                }
            }
            if i == bytes.len() {
                self.next = i;
                return None;
            }
            let start = i;
            // A word is kept when it is non-empty or was quoted (`""`).
            let mut quoted = false;
            let mut quote = None;
            loop {
                while i < bytes.len() && !WORD_STOPS[usize::from(bytes[i])] {
                    i += 1;
                }
                let Some(&b) = bytes.get(i) else { break };
                match quote {
                    None if space_len_at(s, i) > 0 => break,
                    None if b == b'\'' || b == b'"' => {
                        quote = Some(b);
                        quoted = true;
                    }
                    Some(q) if b == q => quote = None,
                    _ => {}
                }
                // The escape and the character after it stay in the word; an escape at the very end is dropped,
                // and ends the words.
                if b == escape && quote != Some(b'\'') {
                    if i + 1 == bytes.len() {
                        self.next = bytes.len();
                        return (quoted || i > start).then_some(start..i);
                    }
                    i += 1;
                }
                i += 1;
            }
            if quoted || i > start {
                self.next = i;
                return Some(start..i);
            }
        }
    }
}

/// The bytes where [`parse_words`] looks closer: whitespace, quotes, either escape character, and the first byte
/// of a non-ASCII character, which may be whitespace.
static WORD_STOPS: [bool; 256] = {
    let mut stops = [false; 256];
    let mut b = 0;
    while b < 256 {
        stops[b] = is_ascii_space(b as u8) || matches!(b as u8, b'\'' | b'"' | b'\\' | b'`') || b >= 0xc0;
        b += 1;
    }
    stops
};

/// The length of the whitespace character ([`is_space`]) at byte `i` of `s`, or 0.
fn space_len_at(s: &str, i: usize) -> usize {
    match s.as_bytes()[i] {
        b if b < 0x80 => usize::from(is_ascii_space(b)),
        0x80..=0xbf => 0,
        _ => s[i..].chars().next().filter(|&c| is_space(c)).map_or(0, char::len_utf8),
    }
}

/// BuildKit's `extractBuilderFlags`: the leading `--flag` words of an instruction's arguments, with quotes and
/// escapes resolved, and the offset where the remaining arguments start. It walks bytes, not characters, as
/// BuildKit does, so a non-ASCII byte becomes the Latin-1 character of the same value.
pub fn extract_builder_flags(s: &str) -> (Vec<SpannedWord>, usize) {
    #[derive(PartialEq)]
    enum Phase {
        Spaces,
        Word,
        Quote,
    }
    let bytes = s.as_bytes();
    let mut flags = Vec::new();
    let mut phase = Phase::Spaces;
    let mut word = String::new();
    let mut word_start = 0;
    let mut quote = 0u8;
    let mut blank_ok = false;
    let mut pos = 0;
    while pos <= bytes.len() {
        let at_end = pos == bytes.len();
        let ch = if at_end { 0 } else { bytes[pos] };
        if phase == Phase::Spaces {
            if at_end {
                break;
            }
            if is_byte_space(ch) {
                pos += 1;
                continue;
            }
            if ch != b'-' || pos + 1 == bytes.len() || bytes[pos + 1] != b'-' {
                return (flags, pos);
            }
            phase = Phase::Word;
            word_start = pos;
        }
        if at_end {
            if word != "--" && (blank_ok || !word.is_empty()) {
                flags.push((word, word_start..pos));
            }
            return (flags, bytes.len());
        }
        if phase == Phase::Word {
            if is_byte_space(ch) {
                phase = Phase::Spaces;
                if word == "--" {
                    return (flags, pos);
                }
                if blank_ok || !word.is_empty() {
                    flags.push((std::mem::take(&mut word), word_start..pos));
                }
                word.clear();
                blank_ok = false;
                pos += 1;
                continue;
            }
            if ch == b'\'' || ch == b'"' {
                quote = ch;
                blank_ok = true;
                phase = Phase::Quote;
                pos += 1;
                continue;
            }
            if ch.is_ascii() && ch != b'\\' {
                // A run of plain ASCII bytes, such as nearly all of `--mount=type=cache,target=/root/.cache`, is
                // the word's text as it is: copied at once, where a byte at a time cost a push each.
                let run = bytes[pos..]
                    .iter()
                    .position(|&b| !b.is_ascii() || is_byte_space(b) || matches!(b, b'\'' | b'"' | b'\\'))
                    .map_or(bytes.len(), |n| pos + n);
                word.push_str(&s[pos..run]);
                pos = run;
                continue;
            }
            let mut c = ch;
            if ch == b'\\' {
                if pos + 1 == bytes.len() {
                    pos += 1;
                    continue;
                }
                pos += 1;
                c = bytes[pos];
            }
            word.push(char::from(c));
            pos += 1;
            continue;
        }
        // Phase::Quote
        if ch == quote {
            phase = Phase::Word;
            pos += 1;
            continue;
        }
        let mut c = ch;
        if ch == b'\\' {
            if pos + 1 == bytes.len() {
                phase = Phase::Word;
                pos += 1;
                continue;
            }
            pos += 1;
            c = bytes[pos];
        }
        word.push(char::from(c));
        pos += 1;
    }
    (flags, bytes.len())
}

/// A string of a JSON array and the range of its literal, quotes included. Borrowed when it has no escape: then
/// it is the literal without its quotes.
pub type JsonString<'a> = (Cow<'a, str>, Range<usize>);

/// What BuildKit makes of arguments that might be a JSON array.
#[derive(Debug, PartialEq)]
pub enum JsonArgs<'a> {
    /// Not a JSON array: the arguments are shell form.
    NotJson,
    /// A JSON array of strings (exec form).
    Strings(Vec<JsonString<'a>>),
    /// A JSON array holding something other than strings, which BuildKit rejects.
    NotStringArray,
}

/// BuildKit's `parseJSON`: the arguments are exec form when, after leading whitespace, they are one JSON array
/// and nothing else.
pub fn parse_json_array(s: &str) -> JsonArgs<'_> {
    let mut strings = Vec::new();
    match plain_json_strings(s, |text, range| strings.push((Cow::Borrowed(text), range))) {
        PlainJson::NotJson => JsonArgs::NotJson,
        PlainJson::Plain => JsonArgs::Strings(strings),
        PlainJson::Other => decoded_json_array(s),
    }
}

/// [`parse_json_array`] of arguments that [`plain_json_strings`] found to be [`PlainJson::Other`], by a full JSON
/// parser, without reading them plainly again.
pub fn decoded_json_array(s: &str) -> JsonArgs<'_> {
    let lead = leading_space_len(s);
    json_array(&s[lead..], lead)
}

/// What [`plain_json_strings`] found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PlainJson {
    /// Not a JSON array: the arguments are shell form.
    NotJson,
    /// A JSON array of strings without escapes or control characters, and nothing after it but whitespace: the
    /// exec form nearly everyone writes. Each of its strings was handed over.
    Plain,
    /// Some other array, which [`parse_json_array`] decides. Some of its strings may have been handed over.
    Other,
}

/// [`parse_json_array`] for the exec form nearly everyone writes, read without building JSON values: each string's
/// text, without its quotes, is handed to `string` with the range of its literal as it is read, so that the parser
/// adds it to the file's words without a list made for each instruction.
pub fn plain_json_strings<'t>(s: &'t str, mut string: impl FnMut(&'t str, Range<usize>)) -> PlainJson {
    let base = leading_space_len(s);
    let text = &s[base..];
    if !text.starts_with('[') {
        return PlainJson::NotJson;
    }
    let bytes = text.as_bytes();
    let skip_whitespace = |mut i: usize| {
        while i < bytes.len() && matches!(bytes[i], b' ' | b'\t' | b'\n' | b'\r') {
            i += 1;
        }
        i
    };
    // Plain when nothing but whitespace follows the `]` at `i`.
    let closes = |i: usize| if skip_whitespace(i + 1) == bytes.len() { PlainJson::Plain } else { PlainJson::Other };
    let mut i = skip_whitespace(1);
    if bytes.get(i) == Some(&b']') {
        return closes(i);
    }
    loop {
        if bytes.get(i) != Some(&b'"') {
            return PlainJson::Other;
        }
        let start = i + 1;
        let Some(len) = bytes[start..].iter().position(|&b| b == b'"' || b == b'\\' || b < 0x20) else {
            return PlainJson::Other;
        };
        let end = start + len;
        if bytes[end] != b'"' {
            return PlainJson::Other;
        }
        string(&text[start..end], base + i..base + end + 1);
        i = skip_whitespace(end + 1);
        match bytes.get(i) {
            Some(b',') => i = skip_whitespace(i + 1),
            Some(b']') => return closes(i),
            _ => return PlainJson::Other,
        }
    }
}

/// [`parse_json_array`] on `text`, which starts with `[`, by a full JSON parser: escapes, and values other than
/// strings, which make the arguments invalid rather than shell form. Ranges are offset by `base`.
fn json_array(text: &str, base: usize) -> JsonArgs<'_> {
    let Ok(values) = serde_json::from_str::<Vec<serde_json::Value>>(text) else {
        return JsonArgs::NotJson;
    };
    let ranges = top_level_string_ranges(text);
    let mut strings = Vec::with_capacity(values.len());
    let mut ranges = ranges.into_iter();
    for value in values {
        let serde_json::Value::String(v) = value else {
            return JsonArgs::NotStringArray;
        };
        let r = ranges.next().unwrap_or(0..0);
        strings.push((Cow::Owned(v), base + r.start..base + r.end));
    }
    JsonArgs::Strings(strings)
}

/// Ranges of the string literals directly inside the outer array of valid JSON text.
fn top_level_string_ranges(text: &str) -> Vec<Range<usize>> {
    let bytes = text.as_bytes();
    let mut ranges = Vec::new();
    let mut depth = 0usize;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'[' | b'{' => depth += 1,
            b']' | b'}' => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    break;
                }
            }
            b'"' => {
                let start = i;
                i += 1;
                while i < bytes.len() && bytes[i] != b'"' {
                    i += if bytes[i] == b'\\' { 2 } else { 1 };
                }
                if depth == 1 {
                    ranges.push(start..(i + 1).min(bytes.len()));
                }
            }
            _ => {}
        }
        i += 1;
    }
    ranges
}

/// A heredoc marker (`<<EOF`, `<<-"EOF"`, `3<<EOF`) found in an instruction line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HeredocMarker {
    pub name: String,
    pub file_descriptor: u64,
    /// `<<-`: leading tabs are stripped from the body and the terminator.
    pub chomp: bool,
    /// False when any part of the name was quoted: the body is then not expanded.
    pub expand: bool,
}

/// BuildKit's `heredocsFromLine`: the heredoc markers among the shell words of a RUN, COPY or ADD line, in order.
/// A line without `<<` has none, which [`has_heredoc_operator`] tells for less.
pub fn heredoc_markers(line: &str) -> Vec<HeredocMarker> {
    let Some(words) = shell_words(line, true) else {
        return Vec::new();
    };
    words.iter().filter_map(|w| heredoc_marker(w)).collect()
}

/// True when `line` holds `<<`, without which it has no heredoc marker: each `<` found, and the byte after it
/// looked at.
pub fn has_heredoc_operator(line: &str) -> bool {
    let bytes = line.as_bytes();
    BytePositions::new(bytes, 0, b'<').any(|i| bytes.get(i + 1) == Some(&b'<'))
}

/// BuildKit's `ParseHeredoc` on one word: `^(\d*)<<(-?)([^<]*)$`, whose last part must read as one shell word.
fn heredoc_marker(word: &str) -> Option<HeredocMarker> {
    use nom::bytes::complete::tag;
    use nom::character::complete::{char, digit0};
    use nom::combinator::opt;
    use nom::sequence::tuple;
    let (rest, (digits, _, dash)) =
        tuple((digit0::<&str, nom::error::Error<&str>>, tag("<<"), opt(char('-'))))(word).ok()?;
    if rest.is_empty() || rest.contains('<') {
        return None;
    }
    let cooked = shell_words(rest, false)?;
    if cooked.len() != 1 {
        return None;
    }
    let raw = shell_words(rest, true)?;
    let quotes = |w: &str| w.matches(['\'', '"']).count();
    Some(HeredocMarker {
        expand: quotes(&cooked[0]) == quotes(&raw[0]),
        name: cooked.into_iter().next()?,
        file_descriptor: digits.parse().unwrap_or(0),
        chomp: dash.is_some(),
    })
}

/// BuildKit's shell lexer `ProcessWords` with an empty environment and unset variables kept as written, the way
/// heredoc detection calls it. `raw` keeps quotes and escapes in the words. `None` when the lexer reports an error
/// (an unterminated quote or a bad `${…}`), in which case BuildKit finds no heredocs.
fn shell_words(s: &str, raw: bool) -> Option<Vec<String>> {
    struct Words {
        words: Vec<String>,
        word: String,
        in_word: bool,
    }
    impl Words {
        fn add_char(&mut self, c: char) {
            if is_space(c) {
                if self.in_word && !self.word.is_empty() {
                    self.words.push(std::mem::take(&mut self.word));
                    self.in_word = false;
                }
            } else {
                self.add_raw_char(c);
            }
        }
        fn add_raw_char(&mut self, c: char) {
            self.word.push(c);
            self.in_word = true;
        }
        fn add_raw_str(&mut self, s: &str) {
            self.word.push_str(s);
            self.in_word = true;
        }
    }
    let chars: Vec<char> = s.chars().collect();
    let mut i = 0;
    let mut w = Words { words: Vec::new(), word: String::new(), in_word: false };
    while i < chars.len() {
        match chars[i] {
            '\'' => {
                let mut out = String::new();
                if raw {
                    out.push('\'');
                }
                i += 1;
                loop {
                    let c = *chars.get(i)?;
                    i += 1;
                    if c == '\'' {
                        break;
                    }
                    out.push(c);
                }
                if raw {
                    out.push('\'');
                }
                w.add_raw_str(&out);
            }
            '"' => {
                let mut out = String::new();
                if raw {
                    out.push('"');
                }
                i += 1;
                loop {
                    let c = *chars.get(i)?;
                    if c == '"' {
                        i += 1;
                        break;
                    }
                    if c == '$' {
                        out.push_str(&shell_dollar(&chars, &mut i)?);
                        continue;
                    }
                    i += 1;
                    let mut c = c;
                    if c == '\\' {
                        if raw {
                            out.push(c);
                        }
                        match chars.get(i) {
                            None => continue,
                            Some(&n @ ('"' | '$' | '\\')) => {
                                c = n;
                                i += 1;
                            }
                            Some(_) => {}
                        }
                    }
                    out.push(c);
                }
                if raw {
                    out.push('"');
                }
                w.add_raw_str(&out);
            }
            '$' => {
                let value = shell_dollar(&chars, &mut i)?;
                for c in value.chars() {
                    w.add_char(c);
                }
            }
            c => {
                i += 1;
                if c == '\\' {
                    if raw {
                        w.add_raw_char(c);
                    }
                    let Some(&next) = chars.get(i) else { break };
                    i += 1;
                    w.add_raw_char(next);
                } else {
                    w.add_char(c);
                }
            }
        }
    }
    if !w.word.is_empty() {
        w.words.push(w.word);
    }
    Some(w.words)
}

/// `$name`, `${…}` or a lone `$`, kept as written because no variable is set. `None` on a malformed `${`.
fn shell_dollar(chars: &[char], i: &mut usize) -> Option<String> {
    let start = *i;
    *i += 1;
    if chars.get(*i) != Some(&'{') {
        match chars.get(*i) {
            Some(c) if c.is_ascii_digit() => {
                while chars.get(*i).is_some_and(|c| c.is_ascii_digit()) {
                    *i += 1;
                }
            }
            Some('@' | '*' | '#' | '?' | '-' | '$' | '!') => *i += 1,
            _ => {
                while chars.get(*i).is_some_and(|c| c.is_alphanumeric() || *c == '_') {
                    *i += 1;
                }
            }
        }
        return Some(chars[start..*i].iter().collect());
    }
    *i += 1;
    match chars.get(*i) {
        None | Some('{' | '}' | ':') => return None,
        Some(_) => {}
    }
    let close = chars[*i..].iter().position(|&c| c == '}')?;
    *i += close + 1;
    Some(chars[start..*i].iter().collect())
}

/// Go's `strconv.Quote`, which BuildKit uses in its AST dumps and error messages.
pub fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{07}' => out.push_str("\\a"),
            '\u{08}' => out.push_str("\\b"),
            '\u{0c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{0b}' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => out.push_str(&format!("\\x{:02x}", c as u32)),
            c if c.is_control() => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        #[test]
        fn plain_string_arrays_read_as_the_json_parser_reads_them(
            elements in proptest::collection::vec("[aé \\\\\"\u{01}]{0,3}", 0..4),
            space in "[ \t\n]{0,2}",
            after in "[ \n\\]x]{0,1}",
        ) {
            let quoted: Vec<String> = elements.iter().map(|e| format!("\"{e}\"")).collect();
            let text = format!("[{space}{}{space}]{after}", quoted.join(&format!("{space},{space}")));
            let json = json_array(&text, 2);
            // After two blanks, which the ranges count.
            let mut strings = Vec::new();
            match plain_json_strings(&format!("  {text}"), |s, range| strings.push((Cow::Owned(s.to_string()), range))) {
                PlainJson::Plain => proptest::prop_assert_eq!(JsonArgs::Strings(strings), json),
                // Left to the JSON parser: anything but strings without escapes or control characters.
                PlainJson::Other => proptest::prop_assert!(
                    !matches!(json, JsonArgs::Strings(_)) || text.contains(['\\', '\u{01}']),
                    "{text:?} is {json:?}"
                ),
                PlainJson::NotJson => proptest::prop_assert!(false, "{text:?} starts with `[`"),
            }
        }

        #[test]
        fn whitespace_is_measured_as_trim_measures_it(s in "[ \t\r\n\u{0b}\u{0c}\u{85}\u{a0}\u{2003}\u{3000}a-c#é]{0,12}") {
            proptest::prop_assert_eq!(leading_space_len(&s), s.len() - s.trim_start_matches(is_space).len());
            proptest::prop_assert_eq!(trailing_space_start(&s), s.trim_end_matches(is_space).len());
        }
    }

    /// [`parse_words`] as first written, walking characters: the oracle the byte walk is held to. Splits ENV, LABEL and ARG arguments on unquoted whitespace, keeping quotes and
    /// escape characters in the words. Each word is verbatim source text, so only its range is returned; an escape
    /// at the very end of the input is dropped, as BuildKit drops it.
    fn parse_words_by_char(s: &str, escape: char) -> Vec<Range<usize>> {
        #[derive(PartialEq)]
        enum Phase {
            Spaces,
            Word,
            Quote,
        }
        let mut words = Vec::new();
        let mut phase = Phase::Spaces;
        let mut quote = '\0';
        let mut blank_ok = false;
        let mut word_start = 0;
        let mut chars = s.char_indices();
        // A word is kept when it is non-empty or was quoted (`""`).
        let finish = |start: usize, end: usize, blank_ok: bool, words: &mut Vec<Range<usize>>| {
            if blank_ok || end > start {
                words.push(start..end);
            }
        };
        while let Some((pos, ch)) = chars.next() {
            if phase == Phase::Spaces {
                if is_space(ch) {
                    continue;
                }
                phase = Phase::Word;
                word_start = pos;
            }
            let escapes = ch == escape && (phase == Phase::Word || quote != '\'');
            match phase {
                Phase::Word if is_space(ch) => {
                    phase = Phase::Spaces;
                    finish(word_start, pos, blank_ok, &mut words);
                    blank_ok = false;
                    continue;
                }
                Phase::Word if ch == '\'' || ch == '"' => {
                    quote = ch;
                    blank_ok = true;
                    phase = Phase::Quote;
                }
                Phase::Quote if ch == quote => phase = Phase::Word,
                _ => {}
            }
            // The escape and the character after it stay in the word; an escape at the very end is dropped.
            if escapes && chars.next().is_none() {
                finish(word_start, pos, blank_ok, &mut words);
                return words;
            }
        }
        if phase != Phase::Spaces {
            finish(word_start, s.len(), blank_ok, &mut words);
        }
        words
    }

    proptest::proptest! {
        #[test]
        fn trim_space_trims_what_go_trims(
            s in "[ \t\r\n\u{0b}\u{85}\u{a0}\u{2003}\u{1c}aé]{0,8}",
            prefix in "[ a]{0,2}",
        ) {
            // Within a larger text, as the parser trims an instruction's part of its line.
            let text = format!("{prefix}{s}");
            let trimmed = s.trim_matches(is_space);
            let start = prefix.len() + (s.len() - s.trim_start_matches(is_space).len());
            let expected = if trimmed.is_empty() { start..start } else { start..start + trimmed.len() };
            proptest::prop_assert_eq!(trim_space(&text, prefix.len()..text.len()), expected);
        }

        #[test]
        fn words_split_as_a_walk_over_characters_splits_them(
            s in "[ \t\u{85}\u{a0}\u{2003}\u{3000}a=é'\"\\\\`]{0,16}",
            backtick in proptest::bool::ANY,
        ) {
            let escape = if backtick { '`' } else { '\\' };
            proptest::prop_assert_eq!(parse_words(&s, escape).collect::<Vec<_>>(), parse_words_by_char(&s, escape));
        }
    }

    fn texts(words: Vec<SpannedWord>) -> Vec<String> {
        words.into_iter().map(|(w, _)| w).collect()
    }

    fn slices<'a>(s: &'a str, words: Words) -> Vec<&'a str> {
        words.map(|r| &s[r]).collect()
    }

    #[test]
    fn split_matches_go_regexp_split() {
        let s = "a  b\tc ";
        let pieces: Vec<&str> = split_re_whitespace(s, None).map(|r| &s[r]).collect();
        assert_eq!(pieces, ["a", "b", "c", ""]);
        let pieces: Vec<&str> = split_re_whitespace(s, Some(2)).map(|r| &s[r]).collect();
        assert_eq!(pieces, ["a", "b\tc "]);
        assert_eq!(split_re_whitespace("RUN", Some(2)).collect::<Vec<_>>(), vec![0..3]);
        assert_eq!(split_re_whitespace("", None).collect::<Vec<_>>(), vec![0..0]);
        let lead: Vec<&str> = split_re_whitespace(" a", None).map(|r| &" a"[r]).collect();
        assert_eq!(lead, ["", "a"]);
    }

    #[test]
    fn words_keep_quotes_and_escapes() {
        let s = r#"a="b c" d\ e"#;
        assert_eq!(slices(s, parse_words(s, '\\')), [r#"a="b c""#, r"d\ e"]);
        assert_eq!(slices("x=`` y", parse_words("x=`` y", '`')), ["x=``", "y"]);
        assert_eq!(slices("a\\", parse_words("a\\", '\\')), ["a"]);
        assert_eq!(slices("a 'b\\' c", parse_words("a 'b\\' c", '\\')), ["a", "'b\\'", "c"]);
        assert_eq!(slices("'' \"x\\", parse_words("'' \"x\\", '\\')), ["''", "\"x"]);
    }

    #[test]
    fn flags_stop_at_first_plain_word_and_at_double_dash() {
        let line = "--from=a --chown='x y' src dst";
        let (flags, rest) = extract_builder_flags(line);
        assert_eq!(texts(flags), ["--from=a", "--chown=x y"]);
        assert_eq!(&line[rest..], "src dst");
        let (flags, rest) = extract_builder_flags("--doit -- [ ]");
        assert_eq!(texts(flags), ["--doit"]);
        assert_eq!(&"--doit -- [ ]"[rest..], " [ ]");
        // An escaped byte is itself, and each byte of a multi-byte character is the Latin-1 character of its value.
        let (flags, _) = extract_builder_flags("--x=a\\b\u{e9}c\"q r\"s t");
        assert_eq!(texts(flags), ["--x=ab\u{c3}\u{a9}cq rs"]);
    }

    #[test]
    fn json_needs_the_whole_argument_to_be_a_string_array() {
        assert!(matches!(parse_json_array(r#" ["a", "b"]"#), JsonArgs::Strings(v) if v[1].1 == (7..10)));
        assert_eq!(parse_json_array(r#"["a"] b"#), JsonArgs::NotJson);
        assert_eq!(parse_json_array(r#"'["a"]'"#), JsonArgs::NotJson);
        assert_eq!(parse_json_array("[1]"), JsonArgs::NotStringArray);
    }

    #[test]
    fn a_heredoc_operator_is_two_angle_brackets_anywhere() {
        // `<<` within a block, across the boundary of two, at either end, and lines with `<` alone.
        for at in [0, 1, 30, 62, 63, 64, 65, 126, 127, 200] {
            for len in [at + 2, at + 3, 130, 260] {
                let mut line = vec![b'a'; len.max(at + 2)];
                line[at..at + 2].copy_from_slice(b"<<");
                let line = String::from_utf8(line).unwrap();
                assert!(has_heredoc_operator(&line), "<< at {at} of {}", line.len());
                let apart = line.replacen("<<", "< ", 1);
                assert!(!has_heredoc_operator(&apart), "< at {at} of {}", apart.len());
            }
        }
        assert!(!has_heredoc_operator(""));
        assert!(!has_heredoc_operator("<"));
    }

    #[test]
    fn heredoc_markers_follow_buildkit() {
        let names: Vec<(String, bool, bool)> = heredoc_markers(r#"RUN <<EOF 3<<-"END" cat<<NOT <<'Q'"#)
            .into_iter()
            .map(|m| (m.name, m.chomp, m.expand))
            .collect();
        assert_eq!(names, [("EOF".into(), false, true), ("END".into(), true, false), ("Q".into(), false, false)]);
        assert!(heredoc_markers("RUN echo '<<EOF'").is_empty());
        assert!(heredoc_markers("RUN echo 'unterminated <<EOF").is_empty());
    }

    #[test]
    fn go_quote_escapes_like_strconv() {
        assert_eq!(go_quote("a\"b\\c\n\u{1}é"), r#""a\"b\\c\n\x01é""#);
    }
}
