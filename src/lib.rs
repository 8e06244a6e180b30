//! dockopt: an automatic Dockerfile optimizer.
//!
//! Data flow: bytes → [`syntax`] (lossless tree) → [`model`] (what BuildKit sees) → transforms → edits → text.

#[path = "syntax/buildkit.rs"]
pub mod buildkit;
#[path = "engine/context.rs"]
pub mod context;
#[path = "syntax/diagnostic.rs"]
pub mod diagnostic;
#[path = "cli/dump.rs"]
pub mod dump;
#[path = "engine/fix.rs"]
pub mod fix;
#[path = "syntax/model.rs"]
pub mod model;
#[path = "shell/mod.rs"]
pub mod shell;
#[path = "syntax/tree.rs"]
pub mod syntax;
#[path = "syntax/text.rs"]
pub mod text;

#[path = "engine/build_context.rs"]
pub mod build_context;
#[path = "measure/builder.rs"]
pub mod builder;
#[path = "cli/mod.rs"]
pub mod cli;
#[path = "engine/config.rs"]
pub mod config;
#[path = "cli/discover.rs"]
pub mod discover;
#[path = "measure/image.rs"]
pub mod image;
#[path = "measure/mod.rs"]
pub mod measure;
#[path = "cli/report.rs"]
pub mod report;
#[path = "engine/suppression.rs"]
pub mod suppression;
#[path = "../transforms/mod.rs"]
pub mod transforms;
