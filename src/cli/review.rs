//! `dockopt review`: a pull-request review on GitHub, as the GitHub Action in this repository posts it.
//!
//! It reads the pull request from the workflow's event, asks the REST API which Dockerfiles it changes, and posts
//! one review: each safe fix as a comment with a ```` ```suggestion ```` block that replaces exactly the lines the
//! fix changes, each unsafe fix and each warning without a fix as a plain comment, and advice as annotations
//! (workflow commands on standard output). A fix on lines the pull request does not touch cannot be a suggestion
//! there, so it goes into the review's body as a diff. Every comment carries a hidden marker; a re-run posts only
//! what no earlier review holds, and nothing at all when nothing is new.
//!
//! The only service is the GitHub REST API, with the workflow's token, through `curl` (on every GitHub runner):
//! `GITHUB_TOKEN`, `GITHUB_REPOSITORY`, `GITHUB_EVENT_PATH` and `GITHUB_API_URL` come from the workflow.

use crate::cli::args::{FileArgs, Mode};
use crate::cli::discover::is_dockerfile_name;
use crate::cli::inputs::Inputs;
use crate::cli::report::{self, FileReport, FixKind, Hunk};
use crate::cli::run::FileRun;
use crate::engine::finding::Severity;
use crate::syntax::text::LineIndex;
use anyhow::{bail, Context as _, Result};
use serde_json::{json, Value};
use std::collections::HashSet;
use std::io::Write;
use std::ops::RangeInclusive;
use std::path::PathBuf;
use std::process::{Command, ExitCode, Stdio};

pub fn review_command(args: &FileArgs) -> Result<ExitCode> {
    let github = GitHub::from_env()?;
    let Some(pull) = PullRequest::from_event()? else {
        writeln!(std::io::stderr(), "dockopt review: the event is not a pull request; nothing to review")?;
        return Ok(ExitCode::SUCCESS);
    };
    let changed = changed_dockerfiles(&github, &pull)?;
    if changed.is_empty() {
        writeln!(std::io::stderr(), "dockopt review: the pull request changes no Dockerfile")?;
        return Ok(ExitCode::SUCCESS);
    }
    let mut file_args = args.clone();
    file_args.paths = changed.iter().map(|c| c.path.clone()).collect();
    let inputs = Inputs::gather(&file_args, Some(false), false)?;
    let mut files = FileRun::new(&file_args, &inputs, Mode::Check);
    files.hunks = true;
    let mut review = Review::default();
    let mut status = 0u8;
    for file in &changed {
        let Some(report) = files.process(&file.path) else { continue };
        for error in &report.errors {
            writeln!(std::io::stderr(), "{error}")?;
            status = 2;
        }
        review.add(file, &report);
        let mut advice = FileReport { path: report.path.clone(), source: report.source, ..FileReport::default() };
        advice.findings = report.findings.into_iter().filter(|f| f.rule.severity == Severity::Advice).collect();
        write!(std::io::stdout(), "{}", report::github::file(&advice))?;
    }
    let posted = github.markers(&pull)?;
    match review.unposted(&posted) {
        Some(body) => {
            github.post(&format!("pulls/{}/reviews", pull.number), &body.with_commit(&pull.head_sha))?;
            let n = body.comments.len();
            writeln!(
                std::io::stderr(),
                "dockopt review: posted a review with {n} comment{}",
                if n == 1 { "" } else { "s" }
            )?;
        }
        None => writeln!(std::io::stderr(), "dockopt review: nothing new to post")?,
    }
    Ok(ExitCode::from(status))
}

/// A Dockerfile the pull request changes, and the lines of its new version the diff shows (where GitHub takes
/// review comments).
struct ChangedFile {
    path: PathBuf,
    lines: Vec<RangeInclusive<usize>>,
}

impl ChangedFile {
    fn shows(&self, lines: RangeInclusive<usize>) -> bool {
        self.lines.iter().any(|shown| shown.start() <= lines.start() && lines.end() <= shown.end())
    }
}

fn changed_dockerfiles(github: &GitHub, pull: &PullRequest) -> Result<Vec<ChangedFile>> {
    let mut out = Vec::new();
    for file in github.get_all(&format!("pulls/{}/files", pull.number))? {
        let (Some(name), Some(status)) = (file["filename"].as_str(), file["status"].as_str()) else { continue };
        let base = name.rsplit('/').next().unwrap_or(name);
        if status == "removed" || !is_dockerfile_name(base) {
            continue;
        }
        let lines = file["patch"].as_str().map(shown_lines).unwrap_or_default();
        out.push(ChangedFile { path: PathBuf::from(name), lines });
    }
    Ok(out)
}

/// The new file's lines each hunk of a unified diff shows (`@@ -a,b +c,d @@` shows lines c to c+d-1).
fn shown_lines(patch: &str) -> Vec<RangeInclusive<usize>> {
    patch
        .lines()
        .filter_map(|line| {
            let new = line.strip_prefix("@@ -")?.split(' ').nth(1)?.strip_prefix('+')?;
            let (start, count) = new.split_once(',').unwrap_or((new, "1"));
            let (start, count): (usize, usize) = (start.parse().ok()?, count.parse().ok()?);
            (count > 0).then(|| start..=start + count - 1)
        })
        .collect()
}

/// What a review says: comments on lines, and the parts of its body, each with its marker.
#[derive(Default)]
struct Review {
    comments: Vec<(String, Value)>,
    body: Vec<(String, String)>,
}

/// A review ready to post.
struct ReviewBody {
    body: String,
    comments: Vec<Value>,
}

impl ReviewBody {
    fn with_commit(&self, sha: &str) -> Value {
        json!({ "commit_id": sha, "event": "COMMENT", "body": self.body, "comments": self.comments })
    }
}

impl Review {
    fn add(&mut self, file: &ChangedFile, report: &FileReport) {
        let path = file.path.to_string_lossy().replace('\\', "/");
        for hunk in &report.hunks {
            self.add_hunk(file, &path, report, hunk);
        }
        let lines = LineIndex::new(&report.source);
        for f in report.findings.iter().filter(|f| f.rule.severity == Severity::Warning) {
            let note = match FixKind::of(f) {
                FixKind::Safe => continue,
                FixKind::Unsafe => "unsafe fix, applied only with `--unsafe-fixes`: check what it changes first",
                FixKind::DisplayOnly | FixKind::None => "no automatic fix",
            };
            let (line, _) = lines.line_col(&report.source, f.range.start);
            let (end, _) = lines.line_col(&report.source, f.range.end);
            let text = format!("**dockopt {}** {} ({note}): {}", f.rule.code, f.rule.name, f.message);
            let marker = marker(&[&path, f.rule.code, &report.source[f.range.as_range()], &f.message]);
            if file.shows(line..=end) {
                self.comments.push((marker.clone(), comment(&path, line..=end, &format!("{text}\n{}", tag(&marker)))));
            } else {
                self.body.push((marker.clone(), format!("- `{path}` line {line}: {text} {}", tag(&marker))));
            }
        }
    }

    /// A safe fix: a suggestion on the lines it changes, or in the body when the diff does not show them.
    fn add_hunk(&mut self, file: &ChangedFile, path: &str, report: &FileReport, hunk: &Hunk) {
        let original: Vec<&str> = report.source.split_inclusive('\n').collect();
        // A suggestion replaces whole lines; an insertion is made on the line before it (or after, at the top).
        let (lines, replacement) = if hunk.end_line >= hunk.start_line {
            (hunk.start_line..=hunk.end_line, hunk.replacement.clone())
        } else if hunk.start_line > 1 {
            let before = hunk.start_line - 1;
            (before..=before, format!("{}{}", with_newline(original[before - 1]), hunk.replacement))
        } else {
            (1..=1, format!("{}{}", hunk.replacement, original.first().copied().unwrap_or("")))
        };
        let replaced: String = original[lines.start() - 1..(*lines.end()).min(original.len())].concat();
        let rules = hunk.rules.join(", ");
        let marker = marker(&[path, &rules, &replaced, &replacement]);
        if file.shows(lines.clone()) {
            let body = format!(
                "**dockopt** safe fix ({rules}):\n\n```suggestion\n{}```\n{}",
                with_newline(&replacement),
                tag(&marker)
            );
            self.comments.push((marker, comment(path, lines, &body)));
        } else {
            let diff: String = replaced
                .lines()
                .map(|l| format!("-{l}\n"))
                .chain(replacement.lines().map(|l| format!("+{l}\n")))
                .collect();
            let text = format!(
                "- `{path}` lines {}-{}, outside the lines this pull request changes: safe fix ({rules}) {}\n\n```diff\n{diff}```",
                lines.start(),
                lines.end(),
                tag(&marker)
            );
            self.body.push((marker, text));
        }
    }

    /// The review of what no earlier review holds; `None` when everything was posted before.
    fn unposted(self, posted: &HashSet<String>) -> Option<ReviewBody> {
        let comments: Vec<Value> =
            self.comments.into_iter().filter(|(m, _)| !posted.contains(m)).map(|(_, c)| c).collect();
        let body: Vec<String> = self.body.into_iter().filter(|(m, _)| !posted.contains(m)).map(|(_, b)| b).collect();
        if comments.is_empty() && body.is_empty() {
            return None;
        }
        let mut text = format!(
            "**dockopt** suggests {} change{} to the Dockerfiles of this pull request. Safe fixes keep the image's \
             files (package caches aside); run `dockopt fix` to apply them all.",
            comments.len() + body.len(),
            if comments.len() + body.len() == 1 { "" } else { "s" }
        );
        if !body.is_empty() {
            text.push_str("\n\n");
            text.push_str(&body.join("\n"));
        }
        Some(ReviewBody { body: text, comments })
    }
}

fn with_newline(text: &str) -> String {
    if text.is_empty() || text.ends_with('\n') {
        text.to_string()
    } else {
        format!("{text}\n")
    }
}

/// A review comment on lines of the pull request's new file.
fn comment(path: &str, lines: RangeInclusive<usize>, body: &str) -> Value {
    let mut comment = json!({ "path": path, "line": lines.end(), "side": "RIGHT", "body": body });
    if lines.start() < lines.end() {
        comment["start_line"] = json!(lines.start());
        comment["start_side"] = json!("RIGHT");
    }
    comment
}

/// A marker that names what a comment says, so a re-run can tell it was posted.
fn marker(parts: &[&str]) -> String {
    report::digest(parts, 12)
}

fn tag(marker: &str) -> String {
    format!("<!-- dockopt:{marker} -->")
}

/// The markers in texts posted before.
fn markers_in(text: &str) -> impl Iterator<Item = String> + '_ {
    text.match_indices("<!-- dockopt:").filter_map(|(at, found)| {
        let rest = &text[at + found.len()..];
        Some(rest[..rest.find(" -->")?].to_string())
    })
}

struct PullRequest {
    number: u64,
    head_sha: String,
}

impl PullRequest {
    /// The pull request of the workflow's event, if it has one.
    fn from_event() -> Result<Option<PullRequest>> {
        let path = std::env::var_os("GITHUB_EVENT_PATH").context("GITHUB_EVENT_PATH is not set: run in a workflow")?;
        let event: Value = serde_json::from_str(&std::fs::read_to_string(&path).context("cannot read the event")?)
            .context("the event is not JSON")?;
        let pull = &event["pull_request"];
        let (Some(number), Some(sha)) = (pull["number"].as_u64(), pull["head"]["sha"].as_str()) else {
            return Ok(None);
        };
        Ok(Some(PullRequest { number, head_sha: sha.to_string() }))
    }
}

/// The REST API of one repository, through curl.
struct GitHub {
    /// `https://api.github.com/repos/OWNER/REPO/`.
    base: String,
    /// The request headers, the token among them, in a file only this user can read: a command line would show
    /// the token to every process on the machine.
    headers: tempfile::NamedTempFile,
}

impl GitHub {
    fn from_env() -> Result<GitHub> {
        let token = std::env::var("GITHUB_TOKEN").context("GITHUB_TOKEN is not set: pass the workflow's token")?;
        let repo = std::env::var("GITHUB_REPOSITORY").context("GITHUB_REPOSITORY is not set: run in a workflow")?;
        let api = std::env::var("GITHUB_API_URL").unwrap_or_else(|_| "https://api.github.com".into());
        let mut headers = tempfile::NamedTempFile::new().context("cannot make a file for the request headers")?;
        write!(
            headers,
            "Authorization: Bearer {token}\nAccept: application/vnd.github+json\nX-GitHub-Api-Version: 2022-11-28\n\
             Content-Type: application/json\nExpect:\n"
        )?;
        Ok(GitHub { base: format!("{}/repos/{repo}/", api.trim_end_matches('/')), headers })
    }

    /// Every item of a listing, page by page.
    fn get_all(&self, path: &str) -> Result<Vec<Value>> {
        let mut items = Vec::new();
        for page in 1.. {
            let listing = self.request("GET", &format!("{path}?per_page=100&page={page}"), None)?;
            let Value::Array(batch) = listing else { bail!("GET {path}: not a list") };
            let last = batch.len() < 100;
            items.extend(batch);
            if last {
                break;
            }
        }
        Ok(items)
    }

    fn post(&self, path: &str, body: &Value) -> Result<Value> {
        self.request("POST", path, Some(&body.to_string()))
    }

    /// The markers of everything dockopt posted on the pull request before: in review comments and review bodies.
    fn markers(&self, pull: &PullRequest) -> Result<HashSet<String>> {
        let comments = self.get_all(&format!("pulls/{}/comments", pull.number))?;
        let reviews = self.get_all(&format!("pulls/{}/reviews", pull.number))?;
        Ok(comments.iter().chain(&reviews).filter_map(|c| c["body"].as_str()).flat_map(markers_in).collect())
    }

    fn request(&self, method: &str, path: &str, body: Option<&str>) -> Result<Value> {
        let url = format!("{}{path}", self.base);
        let mut curl = Command::new("curl");
        curl.args([
            "--silent",
            "--show-error",
            "--max-time",
            "60",
            "--request",
            method,
            "--write-out",
            "\n%{http_code}",
        ])
        .arg("--header")
        .arg(format!("@{}", self.headers.path().display()))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
        if body.is_some() {
            curl.args(["--data-binary", "@-"]);
        }
        let mut child = curl.arg(&url).spawn().context("cannot run curl, which dockopt review talks to GitHub with")?;
        let mut stdin = child.stdin.take().expect("piped");
        if let Some(body) = body {
            stdin.write_all(body.as_bytes())?;
        }
        drop(stdin);
        let out = child.wait_with_output()?;
        let text = String::from_utf8_lossy(&out.stdout);
        let (response, code) = text.rsplit_once('\n').unwrap_or(("", &text));
        if !out.status.success() || !code.starts_with('2') {
            bail!("{method} {url}: HTTP {code}: {}{}", response.trim(), String::from_utf8_lossy(&out.stderr).trim());
        }
        serde_json::from_str(response).with_context(|| format!("{method} {url}: the answer is not JSON"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lines_a_patch_shows() {
        let patch = "@@ -1,3 +1,4 @@\n FROM a\n+RUN b\n@@ -10 +11,0 @@\n-x\n@@ -20,2 +21 @@\n y";
        assert_eq!(shown_lines(patch), vec![1..=4, 21..=21]);
    }

    #[test]
    fn markers_are_found_again() {
        let text = format!("a {} b {}", tag("0123abcd"), tag("ffff"));
        assert_eq!(markers_in(&text).collect::<Vec<_>>(), ["0123abcd", "ffff"]);
    }

    #[test]
    fn comments_span_their_lines() {
        assert_eq!(
            comment("Dockerfile", 2..=3, "x"),
            json!({"path": "Dockerfile", "start_line": 2, "start_side": "RIGHT", "line": 3, "side": "RIGHT", "body": "x"})
        );
        assert_eq!(comment("Dockerfile", 4..=4, "x")["start_line"], Value::Null);
    }
}
