//! dockopt: an automatic Dockerfile optimizer.
//!
//! Data flow: bytes → [`syntax`] (lossless tree) → [`model`] (what BuildKit sees) → transforms → edits → text.

pub mod buildkit;
pub mod dump;
pub mod model;
pub mod syntax;
pub mod text;
pub mod diagnostic;
pub mod shell;
pub mod context;
pub mod fix;

#[path = "../transforms/mod.rs"]
pub mod transforms;
