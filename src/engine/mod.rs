//! The rule engine: what a rule sees, what it reports, and how fixes are applied.
//!
//! - [`finding`]: findings, fixes, edits and rule descriptions (plain data);
//! - [`options`]: the rules' configurable options (plain data);
//! - [`suppression`]: comments that silence rules;
//! - [`memo`]: answers worked out once per run and shared between threads;
//! - [`files`]: reading hostile files safely (regular files only, never blocking, within a size limit) and
//!   resolving paths inside a build context without leaving it;
//! - [`build_context`]: the files COPY and ADD read, filtered by `.dockerignore`;
//! - [`style`]: how the file writes RUNs that span lines, for text added in its own style;
//! - [`context`]: what a rule can ask about one parsed file (shell views, ENV, mounts, suppressions, edits in the
//!   file's own style);
//! - [`rule`]: the [`Rule`](rule::Rule) trait and running rules on a file;
//! - [`fix`]: applying fixes round after round to a fixpoint;
//! - [`config`]: configuration files and the command line combined into the settings for one Dockerfile.
//!
//! Uses the syntax layer and the shell view. The modules above depend only on the ones listed before them.

pub mod build_context;
pub mod config;
pub mod context;
pub mod files;
pub mod finding;
pub mod fix;
pub mod memo;
pub mod options;
pub mod rule;
pub mod style;
pub mod suppression;
