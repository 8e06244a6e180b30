//! dockopt: an automatic Dockerfile optimizer.
//!
//! Data flow: bytes → [`syntax`] (lossless tree) → [`model`] (what BuildKit sees) → transforms → edits → text.

pub mod buildkit;
pub mod context;
pub mod diagnostic;
pub mod dump;
pub mod fix;
pub mod model;
pub mod shell;
pub mod syntax;
pub mod text;

pub mod build_context;
pub mod builder;
pub mod cli;
pub mod config;
pub mod discover;
pub mod image;
pub mod measure;
pub mod report;
pub mod suppression;
#[path = "../transforms/mod.rs"]
pub mod transforms;
