//! dockopt: an automatic Dockerfile optimizer.
//!
//! Data flow: bytes → [`syntax`] (lossless tree, then the model BuildKit sees) → [`shell`] (what each RUN runs)
//! → [`engine`] (rules report findings with fixes, applied to a fixpoint) → [`transforms`] (the rules) → [`cli`]
//! (commands and output). [`measure`] builds images to prove a fix.
//!
//! The layering goes one way, in the order of the declarations below: a module uses only those declared before
//! it, so nothing below the CLI uses measure, and nothing uses the CLI. Inside each subsystem no two modules
//! import each other. `tests/architecture.rs` holds the code to both.

pub mod syntax;

pub mod shell;

pub mod engine;

#[path = "../transforms/mod.rs"]
pub mod transforms;

pub mod measure;

pub mod cli;
