//! Byte ranges into the source text, and turning offsets into `line:col`.

use serde::{Serialize, Serializer};
use std::ops::Range;

/// A half-open byte range `[start, end)` into the original source.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TextRange {
    pub start: usize,
    pub end: usize,
}

impl TextRange {
    pub fn new(start: usize, end: usize) -> Self {
        debug_assert!(start <= end, "range {start}..{end} is inverted");
        TextRange { start, end }
    }

    pub fn empty(at: usize) -> Self {
        TextRange { start: at, end: at }
    }

    pub fn len(self) -> usize {
        self.end - self.start
    }

    pub fn is_empty(self) -> bool {
        self.start == self.end
    }

    pub fn as_range(self) -> Range<usize> {
        self.start..self.end
    }

    /// True when the two ranges share at least one byte, or when an empty range sits strictly inside the other.
    pub fn overlaps(self, other: TextRange) -> bool {
        self.start < other.end && other.start < self.end
    }

    pub fn contains_range(self, other: TextRange) -> bool {
        self.start <= other.start && other.end <= self.end
    }

    pub fn cover(self, other: TextRange) -> TextRange {
        TextRange::new(self.start.min(other.start), self.end.max(other.end))
    }
}

impl Serialize for TextRange {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        [self.start, self.end].serialize(s)
    }
}

/// Maps byte offsets to 1-based lines and 1-based character columns.
pub struct LineIndex {
    line_starts: Vec<usize>,
}

impl LineIndex {
    pub fn new(text: &str) -> Self {
        let mut line_starts = vec![0];
        line_starts.extend(memchr::memchr_iter(b'\n', text.as_bytes()).map(|i| i + 1));
        LineIndex { line_starts }
    }

    /// 1-based line and column of `offset`, the column counted in bytes, as some formats ask.
    pub fn line_byte_col(&self, offset: usize) -> (usize, usize) {
        let line = self.line_starts.partition_point(|&s| s <= offset) - 1;
        (line + 1, offset - self.line_starts[line] + 1)
    }

    /// 1-based line and column of `offset`. Columns count characters, as editors do.
    pub fn line_col(&self, text: &str, offset: usize) -> (usize, usize) {
        let offset = offset.min(text.len());
        let line = self.line_starts.partition_point(|&s| s <= offset) - 1;
        let start = self.line_starts[line];
        let col = text.get(start..offset).map_or(offset - start, |s| s.chars().count());
        (line + 1, col + 1)
    }
}

/// `line:col` of offsets asked mostly in ascending order, as a report lists findings. Each answer counts only the
/// newlines since the offset asked before it, so a file costs one pass up to its last finding, where a
/// [`LineIndex`] first finds every line start. An offset before the one asked last starts the count again.
pub struct LineCursor<'t> {
    text: &'t str,
    offset: usize,
    /// 0-based line of `offset`, and where that line starts.
    line: usize,
    line_start: usize,
}

impl<'t> LineCursor<'t> {
    pub fn new(text: &'t str) -> Self {
        LineCursor { text, offset: 0, line: 0, line_start: 0 }
    }

    /// 1-based line and column of `offset`, columns counted in characters: what [`LineIndex::line_col`] gives.
    pub fn line_col(&mut self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.text.len());
        if offset < self.offset {
            *self = LineCursor::new(self.text);
        }
        let between = &self.text.as_bytes()[self.offset..offset];
        let newlines = memchr::memchr_iter(b'\n', between).count();
        if newlines > 0 {
            self.line += newlines;
            self.line_start = self.offset + memchr::memrchr(b'\n', between).map_or(0, |n| n + 1);
        }
        self.offset = offset;
        let start = self.line_start;
        let col = self.text.get(start..offset).map_or(offset - start, |s| s.chars().count());
        (self.line + 1, col + 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn a_cursor_answers_as_the_index_does_in_any_order(
            text in "(a|é|\n|\r\n|\t){0,40}",
            offsets in proptest::collection::vec(0usize..50, 0..12),
        ) {
            let index = LineIndex::new(&text);
            let mut cursor = LineCursor::new(&text);
            for offset in offsets {
                prop_assert_eq!(cursor.line_col(offset), index.line_col(&text, offset), "offset {}", offset);
            }
        }
    }
}
