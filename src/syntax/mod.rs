//! The syntax layer: bytes → lossless tree and model, in one pass.
//!
//! [`tree`] groups the bytes into tokens and nodes exactly as BuildKit groups lines, losing nothing; [`buildkit`]
//! holds BuildKit's own small lexers (words, flags, JSON arrays, heredoc markers); [`model`] is what BuildKit
//! sees: instructions and stages, every value with its source range. [`parse`] reads a file into both at once.
//! [`text`] has byte ranges and line:column, and [`diagnostic`] the `file:line:col` errors a user reads. `scan`
//! finds a byte 64 bytes at a time, for the line ends and heredoc markers that every line is searched for.
//!
//! Uses nothing else in the crate: everything above is built on it.

pub mod buildkit;
pub mod diagnostic;
pub mod model;
pub mod parse;
mod scan;
pub mod text;
pub mod tree;
