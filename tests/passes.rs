//! Each pass on positive cases, negative cases (must not fire) and every trap in DESIGN.md. Each snapshot
//! shows the input, the findings, the file after safe fixes and, when it differs, after unsafe fixes too.
//! Every case also checks that fixing the fixed file changes nothing.

mod common;

use dockopt::engine::build_context::BuildContext;
use dockopt::engine::context::Context;
use dockopt::engine::finding::{Applicability, Finding};
use dockopt::engine::options::RuleOptions;
use dockopt::engine::{fix, rule};
use dockopt::syntax::model::Dockerfile;
use dockopt::syntax::text::LineIndex;
use dockopt::transforms;
use std::fmt::Write;
use std::path::Path;

/// Every rule but those in `codes`.
fn rules_but(codes: &[&str]) -> Vec<&'static dyn dockopt::engine::rule::Rule> {
    transforms::all().into_iter().filter(|r| !codes.contains(&r.info().code)).collect()
}

/// Every rule but DO301 and DO304, which fire on almost every case: no USER, and a final stage on a full image
/// such as `debian:12`. Their own cases run them.
fn render(input: &str, path: Option<&Path>) -> String {
    render_with(input, path, &rules_but(&["DO301", "DO304"]))
}

fn render_with(input: &str, path: Option<&Path>, rules: &[&'static dyn dockopt::engine::rule::Rule]) -> String {
    render_with_options(input, path, rules, &RuleOptions::DEFAULT)
}

fn render_with_options(
    input: &str,
    path: Option<&Path>,
    rules: &[&'static dyn dockopt::engine::rule::Rule],
    options: &RuleOptions,
) -> String {
    let df = Dockerfile::parse(input);
    assert!(df.errors.is_empty() && df.build_errors.is_empty(), "test input must parse: {:?}", df.errors);
    let build = path.map(|p| BuildContext::for_dockerfile(p, None));
    let path = build.as_ref();
    let ctx = Context::with_options(&df, path, options);
    let lines = LineIndex::new(input);
    let mut out = format!("--- input\n{input}\n--- findings\n");
    let mut suggestions = String::new();
    for f in rule::check(&ctx, rules) {
        if let Some(fix) = f.fix.as_ref().filter(|fix| fix.applicability == Applicability::DisplayOnly) {
            let suggested = fix::apply(input, &fix.edits);
            write!(suggestions, "--- suggested by {}, never applied\n{suggested}\n", f.rule.code).unwrap();
        }
        let (line, col) = lines.line_col(input, f.range.start);
        let fix = match f.fix.as_ref().map(|f| f.applicability) {
            Some(Applicability::Safe) => " [fix]",
            Some(Applicability::Unsafe) => " [unsafe fix]",
            Some(Applicability::DisplayOnly) => " [suggestion]",
            None => "",
        };
        writeln!(out, "{line}:{col} {} {}{fix}", f.rule.code, f.message).unwrap();
    }
    out.push_str(&suggestions);
    let safe = fix::fix_with_options(input, path, rules, false, options, fix::Remaining::All).expect("fixable").text;
    let again =
        fix::fix_with_options(&safe, path, rules, false, options, fix::Remaining::All).expect("fixed text parses").text;
    assert_eq!(again, safe, "fixing twice must change nothing");
    if safe == input {
        out.push_str("--- fixed: unchanged\n");
    } else {
        write!(out, "--- fixed\n{safe}\n").unwrap();
    }
    let unsafe_ = fix::fix_with_options(input, path, rules, true, options, fix::Remaining::All).expect("fixable").text;
    let unsafe_again = fix::fix_with_options(&unsafe_, path, rules, true, options, fix::Remaining::All)
        .expect("fixed text parses")
        .text;
    assert_eq!(unsafe_again, unsafe_, "fixing twice with unsafe fixes must change nothing");
    if unsafe_ != safe {
        write!(out, "--- fixed with --unsafe-fixes\n{unsafe_}\n").unwrap();
    }
    out
}

macro_rules! case {
    ($name:ident, $input:expr) => {
        #[test]
        fn $name() {
            common::snapshot_settings().bind(|| insta::assert_snapshot!(stringify!($name), render($input, None)));
        }
    };
}

// DO101 merge-runs
case!(
    merge_seed_apt_example,
    "FROM debian:12\nRUN apt-get update\nRUN apt-get install -y package1\nRUN apt-get install -y package2\n"
);
case!(merge_cd_runs_in_a_subshell, "FROM debian:12\nRUN cd /tmp\nRUN touch f\n");
case!(merge_export_runs_in_a_subshell, "FROM debian:12\nRUN export A=1\nRUN echo \"$A\"\n");
case!(merge_set_runs_in_a_subshell, "FROM debian:12\nRUN set -ex; false || true\nRUN false && echo never\n");
case!(merge_exit_0_runs_in_a_subshell, "FROM debian:12\nRUN test -f /x || exit 0\nRUN echo after\n");
case!(merge_or_chain_first_is_fine, "FROM debian:12\nRUN a || b\nRUN c\n");
case!(
    merge_indents_with_blanks_only,
    "FROM debian:12\n\u{b}RUN apt-get update\n\u{b}RUN apt-get install -y --no-install-recommends curl\nRUN \\\n\u{b}\u{b}echo a \\\n\u{b}\u{b}&& echo b\nRUN echo c\n"
);
case!(merge_or_chain_later_is_grouped, "FROM debian:12\nRUN a\nRUN b || c\nRUN d; e\n");
case!(merge_different_flags_stay_apart, "FROM debian:12\nRUN --mount=type=cache,target=/root/.cache make\nRUN make install\nRUN --network=none true\nRUN --network=none false\n");
case!(merge_exec_form_stays_apart, "FROM debian:12\nRUN [\"echo\", \"a\"]\nRUN echo b\n");
case!(merge_heredoc_run_stays_apart, "FROM debian:12\nRUN <<EOF\necho a\nEOF\nRUN echo b\n");
case!(
    merge_keeps_comments_between_runs,
    "FROM debian:12\nRUN echo a\n\n# why b\n  # and more\nRUN echo b \\\n    && echo c\n"
);
case!(merge_stops_at_ignore_comments, "FROM debian:12\nRUN echo a\n# dockopt: ignore=DO101 keep this layer apart\nRUN echo b\nRUN echo c\n# hadolint ignore=DL3059\nRUN echo d\n");
case!(
    merge_keeps_tabs_and_trailing_operators,
    "FROM debian:12\nRUN apt-get update && \\\n\tapt-get install -y curl\nRUN echo done\n"
);
case!(merge_keeps_leading_operators_and_their_indent, "FROM debian:12\nRUN a \\\n    && b\nRUN c\n");
case!(
    merge_joins_runs_opening_with_the_same_set_e,
    "FROM debian:12\nRUN set -eux; apt-get update; apt-get install -y curl\nRUN set -eux; curl -V; echo ok\n"
);
case!(merge_with_different_set_options_uses_subshells, "FROM debian:12\nRUN set -eux; a; b\nRUN set -x; c\n");
case!(merge_with_set_e_and_a_last_and_list_uses_subshells, "FROM debian:12\nRUN set -eux; a && b\nRUN set -eux; c\n");
case!(
    merge_with_set_e_and_a_case_statement,
    "FROM debian:12\nRUN set -e; apt-get update\nRUN case \"$(uname -m)\" in x86_64) echo amd64 ;; esac\n"
);
case!(merge_cleans_a_cache_once_at_the_end, "FROM node:22-slim\nRUN npm install -g pnpm\nRUN npm install -g yarn\n");
case!(merge_background_job_stays_apart, "FROM debian:12\nRUN sleep 10 &\nRUN echo b\n");
case!(merge_shell_comment_stays_apart, "FROM debian:12\nRUN echo a # note\nRUN echo b\n");
case!(merge_keeps_crlf_and_backtick_escape, "# escape=`\r\nFROM debian:12\r\nRUN echo a\r\nRUN echo b\r\n");
case!(merge_not_in_powershell_stage, "FROM mcr.microsoft.com/windows/servercore:ltsc2022\nSHELL [\"powershell\", \"-Command\"]\nRUN Write-Host a\nRUN Write-Host b\n");
case!(merge_trailing_semicolon, "FROM debian:12\nRUN echo a;\nRUN echo b;\n");
case!(merge_indented_instructions, "FROM debian:12\n    RUN echo a\n    RUN echo b\n");

// DO201 apt-lists-cleanup, DO202 apt-no-install-recommends
case!(apt_cleanup_in_the_installing_run, "FROM debian:12\nRUN apt-get update && apt-get install -y curl\n");
case!(apt_cleanup_on_a_continuation_line, "FROM debian:12\nRUN apt-get update \\\n    && apt-get install -y --no-install-recommends \\\n        curl \\\n        git\n");
case!(
    apt_child_stage_needs_the_lists,
    "FROM debian:12 AS base\nRUN apt-get update && apt-get install -y curl\nFROM base\nRUN apt-get install -y git\n"
);
case!(apt_later_run_needs_the_lists, "FROM debian:12\nRUN apt-get update\nENV X=1\nRUN apt-get install -y curl\n");
case!(
    apt_cleanup_after_a_case_statement,
    "FROM debian:12\nRUN apt-get update && apt-get install -y curl \\\n && case \"$(uname -m)\" in x86_64) echo amd64 > /arch ;; esac\n"
);
case!(
    apt_cleanup_lands_once_runs_merge_into_a_case_statement,
    "FROM debian:12\nRUN apt-get update && apt-get install -y curl\nRUN case \"$(uname -m)\" in x86_64) echo amd64 > /arch ;; esac\n"
);
case!(
    apt_no_cleanup_where_a_case_statement_may_clean,
    "FROM debian:12\nRUN apt-get update && case \"$(uname -m)\" in x86_64) apt-get install -y curl; rm -rf /var/lib/apt/lists/* ;; esac\n"
);
// The other cache clean-ups in a script with a `case` statement, whose commands dockopt does not list: a clean-up
// named in its text may run there; a tool's own clean-up is appended only when no word of the script may remove
// the tool.
case!(
    rpm_cleanup_after_a_case_statement,
    "FROM fedora:40\nRUN case \"$(uname -m)\" in x86_64) arch=amd64 ;; esac; dnf install -y curl\n"
);
case!(
    rpm_no_cleanup_where_a_case_statement_may_clean,
    "FROM fedora:40\nRUN dnf install -y curl; case \"$(uname -m)\" in x86_64) dnf clean all ;; esac\n"
);
case!(
    go_cleanup_lands_once_runs_merge_into_a_case_statement,
    "FROM golang:1.22\nRUN go build -o /app .\nRUN case \"$(uname -m)\" in x86_64) echo amd64 > /arch ;; esac\n"
);
case!(
    node_cleanup_withheld_where_a_case_statement_may_remove_npm,
    "FROM node:22\nRUN npm install; case \"$(uname -m)\" in x86_64) apt-get purge -y nodejs ;; esac\n"
);
case!(
    conda_no_cleanup_where_a_case_statement_may_clean,
    "FROM continuumio/miniconda3\nRUN conda install -y numpy; case \"$(uname -m)\" in x86_64) conda clean -afy ;; esac\n"
);
case!(apt_later_run_has_its_own_update, "FROM debian:12\nRUN apt-get update && apt-get install -y curl\nENV X=1\nRUN apt-get update && apt-get install -y git\n");
case!(
    apt_cache_mount_holds_the_lists,
    "FROM debian:12\nRUN --mount=type=cache,target=/var/lib/apt apt-get update && apt-get install -y curl\n"
);
case!(
    apt_already_cleaned,
    "FROM debian:12\nRUN apt-get update && apt-get install -y curl && rm -rf /var/lib/apt/lists/*\n"
);
case!(
    apt_dist_clean_removes_the_lists,
    "FROM debian:13\nRUN set -eux; apt-get update; apt-get install -y curl; apt-get dist-clean\n"
);
case!(apt_with_sudo, "FROM debian:12\nUSER builder\nRUN sudo apt-get update && sudo apt-get install -y curl\n");
case!(apt_trailing_comment_and_semicolon, "FROM debian:12\nRUN apt-get update; apt-get install -y curl; # tools\n");
case!(apt_background_job_is_left_alone, "FROM debian:12\nRUN apt-get update && apt-get install -y curl &\n");
// A quote that does not end leaves the script unbalanced, and passes edit only balanced scripts.
case!(apt_in_an_unbalanced_script_gets_no_fix, "FROM debian:12\nRUN apt-get update && apt-get install -y 'curl\n");

// DO203 apk-no-cache
case!(
    apk_no_cache_drops_update_and_rm,
    "FROM alpine:3.20\nRUN apk update && apk add curl && rm -rf /var/cache/apk/*\n"
);
case!(apk_no_cache_multiline, "FROM alpine:3.20\nRUN apk update && \\\n    apk add --virtual .build-deps gcc && \\\n    apk add curl && \\\n    rm -rf /var/cache/apk/*\n");
case!(apk_already_no_cache, "FROM alpine:3.20\nRUN apk add --no-cache curl\n");
case!(apk_cache_mount, "FROM alpine:3.20\nRUN --mount=type=cache,target=/var/cache/apk apk add curl\n");
case!(apk_upgrade_keeps_update, "FROM alpine:3.20\nRUN apk update && apk upgrade && apk add curl\n");
case!(apk_in_an_unbalanced_script_gets_no_fix, "FROM alpine:3.20\nRUN apk update && apk add 'curl\n");
// A `case` statement or a `!` between the two commands would go with the update.
case!(
    apk_update_stays_before_a_case_statement,
    "FROM alpine:3.20\nRUN apk update; case x in x) apk add curl;; esac; apk add --no-cache wget\n"
);
case!(apk_update_stays_before_a_negation, "FROM alpine:3.20\nRUN apk update; ! apk add --no-cache curl\n");
// `rm` with options alone removes nothing: it stays, and is no reason to count the cache as removed. Counting it
// so made a RUN of many such segments take one fix per round, past the 32 rounds.
case!(apk_rm_of_options_alone_is_kept, "FROM alpine:3.20\nRUN apk update && apk add curl && rm -f\n");

// DO204 rpm-cache-clean
case!(rpm_yum_dnf_microdnf_zypper, "FROM fedora:40\nRUN yum install -y httpd\nENV A=1\nRUN dnf -y install git\nENV B=1\nRUN microdnf install -y tar\nENV C=1\nRUN zypper --non-interactive install curl\n");
case!(rpm_already_clean, "FROM fedora:40\nRUN dnf install -y git && dnf clean all\n");

// DO205 pip-no-cache-dir
case!(pip_every_spelling, "FROM python:3.12-slim\nRUN pip install flask\nENV A=1\nRUN pip3 install -r requirements.txt\nENV B=1\nRUN python -m pip install -U pip\nENV C=1\nRUN python3.11 -m pip install requests\nENV D=1\nRUN uv pip install --system httpx\nENV E=1\nRUN uv sync --frozen\n");
case!(pip_env_makes_it_pointless, "FROM python:3.12-slim\nENV PIP_NO_CACHE_DIR=1\nRUN pip install flask\n");
case!(pip_inline_env_and_cache_mount, "FROM python:3.12-slim\nRUN PIP_NO_CACHE_DIR=off pip install flask\nENV A=1\nRUN --mount=type=cache,target=/root/.cache pip install requests\n");
case!(
    pip_download_and_wheel_left_alone,
    "FROM python:3.12-slim\nRUN pip download -d /wheels flask && pip wheel -w /wheels .\n"
);
case!(
    pip_env_in_parent_stage,
    "FROM python:3.12-slim AS base\nENV PIP_NO_CACHE_DIR=1\nFROM base\nRUN pip install flask\n"
);
// After a quote that does not end, the subcommand's word runs to the end of the RUN: an option appended to it
// would join the quoted string, and the next fix would append another (found by the `fix` fuzz target).
case!(pip_after_a_quote_that_does_not_end_gets_no_fix, "FROM python:3.12-slim\nRUN pip install'flask\n");

// DO206 node-cache-clean, DO207 gem-no-document, DO208 conda-clean
case!(
    node_npm_yarn_pnpm,
    "FROM node:22-slim\nRUN npm ci\nENV A=1\nRUN yarn install --frozen-lockfile\nENV B=1\nRUN pnpm install\n"
);
case!(node_cache_mount, "FROM node:22-slim\nRUN --mount=type=cache,target=/root/.npm npm ci\n");
// The cleanup goes at the end of the RUN, so it must not come after npm is gone or off PATH.
case!(
    node_removed_before_the_end_gets_no_fix,
    "FROM alpine:3.20\nRUN apk add --virtual .build nodejs npm && npm install && apk del .build\n"
);
case!(node_in_a_subshell_gets_no_fix, "FROM debian:12-slim\nRUN (. /opt/nvm/nvm.sh && npm install)\n");
case!(node_in_a_branch_gets_no_fix, "FROM node:22-slim\nRUN if [ -f package.json ]; then npm install; fi\n");
case!(node_cache_removed_by_rm, "FROM node:22-slim\nRUN npm install && rm -rf /root/.npm\n");
// A cleanup appended after `exit` never runs; after `|| exit 1`, or an `exit` in an `if`, it runs where the
// install succeeded.
case!(
    cleanup_after_exit_gets_no_fix,
    "FROM node:22-slim\nRUN npm install; exit 0\nENV A=1\nRUN npm ci && exec true\nENV B=1\nRUN npm ci || exit 1\n\
     ENV C=1\nRUN if [ ! -f package.json ]; then exit 1; fi; npm ci\n"
);
// A group runs whenever the commands before it do, so an `exit` in it ends the shell as one outside it would;
// after `||`, it runs only where the install failed.
case!(
    cleanup_after_exit_in_a_group,
    "FROM node:22-slim\nRUN { npm install; exit 0; }\nENV A=1\nRUN npm ci || { echo failed; exit 1; }\n"
);
case!(gem_no_document_is_unsafe, "FROM ruby:3.3-slim\nRUN gem install bundler\n");
case!(gem_in_an_unbalanced_script_gets_no_fix, "FROM ruby:3.3-slim\nRUN gem install \"bundler\n");
case!(conda_clean, "FROM continuumio/miniconda3:24.1.2-0\nRUN conda install -y numpy\n");

// DO301-DO304 report only
macro_rules! root_user_case {
    ($name:ident, $input:expr) => {
        #[test]
        fn $name() {
            let rules = rules_but(&["DO304"]);
            common::snapshot_settings()
                .bind(|| insta::assert_snapshot!(stringify!($name), render_with($input, None, &rules)));
        }
    };
}
root_user_case!(report_root_user, "FROM debian:12\nUSER app\nFROM debian:12\nUSER root\nCMD [\"sh\"]\n");
root_user_case!(report_root_user_when_no_user_is_set, "FROM python:3.12-slim\nCMD [\"python\"]\n");
root_user_case!(
    report_root_user_inherited_from_a_parent_stage,
    "FROM debian:12 AS base\nUSER root\nRUN true\nFROM base\nCMD [\"sh\"]\n"
);
root_user_case!(
    root_user_set_in_a_parent_stage_not_reported,
    "FROM debian:12 AS base\nUSER app\nFROM base\nCMD [\"sh\"]\n"
);
root_user_case!(root_user_nonroot_image_not_reported, "FROM gcr.io/distroless/static:nonroot\nCOPY app /app\n");
root_user_case!(root_user_variable_not_reported, "FROM debian:12\nUSER $APP_USER\n");
root_user_case!(root_user_windows_not_reported, "FROM mcr.microsoft.com/windows/servercore:ltsc2022\nCMD [\"cmd\"]\n");
// .NET Framework images are Windows images, though their names do not say so.
root_user_case!(
    root_user_dotnet_framework_not_reported,
    "FROM mcr.microsoft.com/dotnet/framework/aspnet:4.8\nCOPY site /inetpub/wwwroot\n"
);
case!(report_unpinned_images, "FROM python AS build\nFROM node:latest\nFROM build\nFROM scratch\nFROM $BASE\nFROM alpine@sha256:0123\nFROM registry:5000/team/app\n");
case!(report_rm_in_later_layer, "FROM debian:12\nRUN curl -o /tmp/big.tgz https://example.com/big.tgz && tar -xzf /tmp/big.tgz -C /opt\nENV A=1\nRUN rm -f /tmp/big.tgz\n");
// A COPY writes its destination and what is under it, not a path that merely begins with the same letters; only
// an rm-only RUN is reported, and a later stage's rm of its own files is its own business.
case!(
    report_rm_in_later_layer_under_a_copy,
    "FROM debian:12\nCOPY . /app\nRUN rm -rf /app/tests\nRUN rm -rf /application-cache\nRUN rm -rf /app/docs && make\nFROM debian:12\nRUN rm -rf /app/tests\n"
);

// DO304 slim-base-image
macro_rules! slim_case {
    ($name:ident, $input:expr) => {
        #[test]
        fn $name() {
            let rules = rules_but(&["DO301", "DO209"]);
            common::snapshot_settings()
                .bind(|| insta::assert_snapshot!(stringify!($name), render_with($input, None, &rules)));
        }
    };
}
slim_case!(report_slim_base_image, "FROM python:3.12 AS build\nFROM node:22\n");
slim_case!(
    slim_base_image_says_what_a_pip_install_may_need,
    "FROM python:3.12\nWORKDIR /app\nCOPY requirements.txt .\nRUN pip install --no-cache-dir -r requirements.txt\nCOPY . .\nCMD [\"python\", \"app.py\"]\n"
);
slim_case!(
    slim_base_image_withheld_when_the_stage_runs_gcc,
    "FROM python:3.12\nRUN gcc -O2 -o /usr/local/bin/tool tool.c\n"
);
slim_case!(
    slim_base_image_given_when_the_stage_installs_its_compiler,
    "FROM python:3.12\nRUN apt-get update && apt-get install -y --no-install-recommends gcc libc6-dev && rm -rf /var/lib/apt/lists/*\nRUN gcc -o /usr/local/bin/tool tool.c\n"
);
slim_case!(
    slim_base_image_withheld_when_a_healthcheck_runs_curl,
    "FROM node:20\nCOPY . /app\nHEALTHCHECK CMD curl -f http://localhost:3000/ || exit 1\nCMD [\"node\", \"/app/server.js\"]\n"
);
slim_case!(
    slim_base_image_withheld_when_a_sh_c_command_runs_git,
    "FROM ruby:3.3\nCMD [\"sh\", \"-c\", \"git pull && ruby app.rb\"]\n"
);
slim_case!(
    slim_base_image_for_the_final_stage_only,
    "FROM golang:1.22 AS build\nRUN go build -o /app .\nFROM python:3.12 AS tools\nRUN gcc -v\nFROM debian:bookworm\nCOPY --from=build /app /app\nCMD [\"/app\"]\n"
);

/// Each base image of a final stage, and what DO304 makes of it: the slim tag in the image's own naming, a
/// withheld fix, or nothing.
#[test]
fn slim_base_image_tags() {
    let rules: Vec<_> = transforms::all().into_iter().filter(|r| r.info().code == "DO304").collect();
    let bases = [
        "python:3.12",
        "python:3.12-bookworm",
        "python:3.13-rc-bookworm",
        "python",
        "python:latest",
        "python:3.12-slim",
        "python:3.12-alpine",
        "python:3.12-windowsservercore-ltsc2022",
        "docker.io/library/python:3.12.4",
        "node:20",
        "node:20-bookworm",
        "node:lts",
        "node:iron-bookworm",
        "node:current-alpine",
        "ruby:3.3-bullseye",
        "perl:5.38",
        "perl:5.38-threaded-bookworm",
        "perl:threaded",
        "rust:1.79",
        "rust:1.79-bookworm",
        "debian",
        "debian:bookworm",
        "debian:12.5",
        "debian:bookworm-20240722",
        "debian:bookworm-backports",
        "debian:experimental",
        "golang:1.22",
        "registry.example.com/python:3.12",
        "python:${PY}",
        "python:3.12@sha256:0123",
    ];
    let mut out = String::new();
    for base in bases {
        let input = format!("FROM {base}\n");
        let df = Dockerfile::parse(&input);
        let ctx = Context::new(&df, None);
        let findings = rule::check(&ctx, &rules);
        let fixed = fix::fix(&input, None, &rules, true).expect("fixable").text;
        let result = match (findings.len(), fixed.trim_end().strip_prefix("FROM ")) {
            (0, _) => "no finding".to_string(),
            (_, Some(slim)) if slim != base => slim.to_string(),
            _ => "finding without a fix".to_string(),
        };
        writeln!(out, "{base} → {result}").unwrap();
    }
    common::snapshot_settings().bind(|| insta::assert_snapshot!("slim_base_image_tags", out));
}

#[test]
fn report_missing_dockerignore() {
    let base = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/contexts");
    let without = std::fs::read_to_string(base.join("copy-all/Dockerfile")).unwrap();
    let with = std::fs::read_to_string(base.join("copy-all-ignored/Dockerfile")).unwrap();
    let report = format!(
        "without .dockerignore:\n{}\nwith .dockerignore:\n{}",
        render(&without, Some(Path::new("tests/contexts/copy-all/Dockerfile"))),
        render(&with, Some(Path::new("tests/contexts/copy-all-ignored/Dockerfile")))
    );
    common::snapshot_settings().bind(|| insta::assert_snapshot!("report_missing_dockerignore", report));
}
case!(apt_purge_after_cleanup_needs_nothing, "FROM debian:12\nRUN apt-get update; apt-get install -y gcc; rm -rf /var/lib/apt/lists/*; make; apt-get purge -y --auto-remove gcc\n");
case!(
    apk_update_in_a_merged_run_goes,
    "FROM alpine:3.20\nRUN apk update\nRUN apk add bash && rm -rf /var/cache/apk/*\n"
);
case!(apk_update_alone_stays, "FROM alpine:3.20\nRUN apk update\n");

// The shell rules run on the RUN under ONBUILD, with edits inside it; ONBUILD RUNs are never merged.
case!(
    onbuild_runs_get_the_shell_rules,
    "FROM python:3.12-slim\nONBUILD RUN pip install -r requirements.txt\nONBUILD RUN apt-get update && apt-get install -y curl\n"
);
case!(onbuild_runs_are_not_merged, "FROM debian:12\nONBUILD RUN echo a\nONBUILD RUN echo b\n");
// Options that take a value before the subcommand do not hide it.
case!(
    options_with_values_before_the_subcommand,
    "FROM debian:12\nRUN apt-get update && apt-get -t bookworm-backports -yy -q install nginx \\\n && apt-get -o Dpkg::Options::=--force-confold --target-release stable install -y curl\n"
);
case!(
    dnf_and_yum_aliases,
    "FROM fedora:40\nRUN dnf in -y a\nWORKDIR /a\nRUN dnf rei -y b\nWORKDIR /b\nRUN dnf up -y\nWORKDIR /c\nRUN dnf up-min -y\nWORKDIR /d\nRUN yum -y swap -- remove a -- install b\n"
);
case!(
    dnf5_cache_mount_and_cleanup_count,
    "FROM fedora:41\nRUN --mount=type=cache,target=/var/cache/libdnf5 dnf install -y a\nRUN dnf5 install -y b && rm -rf /var/cache/libdnf5\n"
);
// Exec form: reported; fixed where an argument is enough; a cleanup cannot be appended.
case!(
    exec_form_runs_are_read,
    "FROM python:3.12-slim\nRUN [\"pip\", \"install\", \"flask\"]\nRUN [\"apt-get\", \"install\", \"-y\", \"curl\"]\nRUN [\"npm\", \"ci\"]\n"
);
case!(
    versioned_tool_names,
    "FROM python:3.12-slim\nRUN pip-3.2 install a\nWORKDIR /a\nRUN pip3.11 install b\nWORKDIR /b\nRUN python3.12 -m pip install c\nWORKDIR /c\nRUN /usr/local/bin/pip install d\n"
);
// DO201: only the last update before an install without one keeps its lists.
case!(
    apt_lists_refreshed_in_between_are_cleaned,
    "FROM debian:12\nRUN apt-get update && apt-get install -y a\nWORKDIR /a\nRUN apt-get update && apt-get install -y b\nWORKDIR /b\nRUN apt-get install -y c\n"
);
case!(
    apt_update_moves_past_harmless_metadata,
    "FROM debian:12\nRUN apt-get update\nENV DEBIAN_FRONTEND=noninteractive LANG=C.UTF-8\nARG TZ=UTC\nLABEL a=b\nEXPOSE 80\nRUN apt-get install -y curl\n"
);
case!(
    apt_update_stays_behind_path_and_is_reported,
    "FROM debian:12\nRUN apt-get update\nENV PATH=/opt/bin:$PATH\nRUN apt-get install -y curl\n"
);
// The update stays where a `case` arm or a quote that does not end may hide an install after it: moving it
// deleted the case statement with it, or carried the unseen commands into the install's RUN.
case!(
    apt_update_stays_before_a_case_statement,
    "FROM debian:12\nRUN apt-get update; case x in x) apt-get install -y curl;; esac\nENV LANG=C\nRUN apt-get install -y wget\n"
);
case!(
    apt_update_stays_before_a_case_statement_and_more,
    "FROM debian:12\nRUN apt-get update && case x in x) apt-get install -y curl;; esac && echo done\nENV LANG=C\nRUN apt-get install -y wget\n"
);
// A RUN that opens with `apt-get update` reads lists of its own, even in its `case` arms: the RUN before it cleans.
case!(
    apt_lists_refreshed_before_a_case_statement,
    "FROM debian:12\nRUN apt-get update && apt-get install -y a\nENV LANG=C\nRUN apt-get update; case x in x) apt-get install -y b;; esac\n"
);
case!(
    apt_update_stays_in_an_unbalanced_script,
    "FROM debian:12\nRUN apt-get update `echo\nENV LANG=C\nRUN apt-get install -y curl\n"
);
case!(
    apt_update_with_other_work_stays,
    "FROM debian:12\nRUN apt-get update && apt-get install -y a\nENV DEBIAN_FRONTEND=noninteractive\nRUN apt-get install -y b\n"
);
// DO104: installs in a row with the same options become one.
case!(
    join_installs_in_a_row,
    "FROM debian:12\nRUN apt-get update && apt-get install -y curl && apt-get install -y ca-certificates \\\n && apt-get install -y jq && rm -rf /var/lib/apt/lists/*\n"
);
case!(
    join_installs_not_when_options_differ_or_something_runs_between,
    "FROM debian:12\nRUN apt-get update && apt-get install -y a && apt-get install -y --no-install-recommends b \\\n && apt-get install -y c > /dev/null && apt-get install -y \"$PKG\" \\\n && apt-get install -y d; apt-get install -y e && rm -rf /var/lib/apt/lists/*\n"
);
case!(join_installs_apk_and_dnf, "FROM alpine:3.20\nRUN apk add --no-cache a && apk add --no-cache b c\n");
// False positives no more.
case!(
    apt_lists_removed_with_their_directory,
    "FROM debian:12\nRUN apt-get update && apt-get install -y a && rm -rf /var/lib/apt\nWORKDIR /a\nRUN apt-get update && apt-get install -y b && rm -rf /var/lib/apt/*\n"
);
case!(
    yarn_cache_removed_as_yarn_reports_it,
    "FROM node:22-slim\nRUN yarn install && rm -rf \"$(yarn cache dir)\"\nWORKDIR /a\nRUN yarn install && yarn cache clean --all\n"
);
// yarn 2 and later keep the install in their cache: only the last stage's yarn is yarn 1's.
case!(
    yarn_2_settings_copied_by_name,
    "FROM node:22-slim\nWORKDIR /app\nCOPY package.json yarn.lock .yarnrc.yml ./\nRUN yarn install\n"
);
case!(yarn_2_directory_copied_by_name, "FROM node:22-slim\nWORKDIR /app\nCOPY .yarn ./.yarn\nRUN yarn install\n");
case!(
    yarn_2_or_later_keeps_its_cache,
    "FROM node:22-slim AS immutable\nRUN yarn install --immutable\nFROM node:22-slim AS corepack\nRUN corepack enable\nRUN yarn install\nFROM corepack AS child\nRUN yarn install\nFROM node:22-slim AS version\nRUN yarn set version stable && yarn install\nFROM node:22-slim AS classic\nRUN yarn install --frozen-lockfile\n"
);
/// DO206's fixes for the yarn install of `dockerfile`, the last RUN, in a build context holding `files`: the
/// cleanup it appends, or `None` when it reports nothing there.
fn later_yarn_cleanup(dockerfile: &str, files: &[(&str, &str)]) -> Option<String> {
    let context = tempfile::tempdir().expect("a temporary directory");
    for (path, text) in files {
        let path = context.path().join(path);
        std::fs::create_dir_all(path.parent().expect("a parent")).expect("the directory");
        std::fs::write(path, text).expect("the file");
    }
    let path = context.path().join("Dockerfile");
    std::fs::write(&path, dockerfile).expect("the Dockerfile");
    let df = Dockerfile::parse(dockerfile);
    let build = BuildContext::for_dockerfile(&path, None);
    let ctx = Context::new(&df, Some(&build));
    let last_run = df.statements.iter().rposition(|s| s.instruction.kind == dockopt::syntax::model::Kind::Run);
    let node = transforms::all().into_iter().filter(|r| r.info().code == "DO206").collect::<Vec<_>>();
    let findings = rule::check(&ctx, &node);
    let finding = findings.iter().find(|f| Some(f.instructions[0]) == last_run)?;
    let fix = finding.fix.as_ref().expect("a fix");
    Some(fix.edits.iter().map(|e| e.replacement.trim().to_string()).collect())
}

// yarn 2 and later that lay out node_modules, as their settings say, keep only downloads in their global cache:
// yarn 4's default, and yarn 2's and 3's with `enableGlobalCache`.
#[test]
fn yarn_2_cache_cleaned_only_where_its_settings_say_node_modules() {
    const NODE_MODULES: &str = "enableTelemetry: false\nnodeLinker: node-modules # flat\n";
    const YARN_4: &str = r#"{"name": "x", "packageManager": "yarn@4.5.3+sha512.abc"}"#;
    const YARN_3: &str = r#"{"packageManager": "yarn@3.8.7"}"#;
    let install =
        |before: &str, run: &str| format!("FROM node:22-slim\nRUN corepack enable\nWORKDIR /app\n{before}RUN {run}\n");
    let cleaned = Some("&& yarn cache clean --all".to_string());
    let copy_all = install("COPY . .\n", "yarn install --immutable");
    let yarn_4 = [(".yarnrc.yml", NODE_MODULES), ("package.json", YARN_4)];
    // The settings come in with the whole context, by name, or beside the other manifests.
    assert_eq!(later_yarn_cleanup(&copy_all, &yarn_4), cleaned);
    let by_name = install("COPY .yarnrc.yml package.json yarn.lock ./\n", "yarn install --immutable");
    assert_eq!(later_yarn_cleanup(&by_name, &yarn_4), cleaned);
    let from_dir = install("COPY web /app\n", "yarn install");
    assert_eq!(
        later_yarn_cleanup(&from_dir, &[("web/.yarnrc.yml", NODE_MODULES), ("web/package.json", YARN_4)]),
        cleaned
    );
    // The version from the release the settings name, or yarn 2 and 3 told to use the global cache.
    let release = "nodeLinker: node-modules\nyarnPath: .yarn/releases/yarn-4.1.0.cjs\n";
    assert_eq!(later_yarn_cleanup(&copy_all, &[(".yarnrc.yml", release)]), cleaned);
    let global = "nodeLinker: node-modules\nenableGlobalCache: true\n";
    assert_eq!(later_yarn_cleanup(&copy_all, &[(".yarnrc.yml", global), ("package.json", YARN_3)]), cleaned);
    assert_eq!(later_yarn_cleanup(&copy_all, &[(".yarnrc.yml", global)]), cleaned);
    let told = install("ENV YARN_ENABLE_GLOBAL_CACHE=true\nCOPY . .\n", "yarn install");
    assert_eq!(later_yarn_cleanup(&told, &[(".yarnrc.yml", NODE_MODULES), ("package.json", YARN_3)]), cleaned);
    // yarn 1, which corepack runs for `yarn@1`, cleans its own cache.
    let classic = [(".yarnrc.yml", "nodeLinker: pnp\n"), ("package.json", r#"{"packageManager": "yarn@1.22.22"}"#)];
    assert_eq!(later_yarn_cleanup(&copy_all, &classic), cleaned);
    // Or the linker from the variable, which wins over the file.
    let variable = |value: &str| install(&format!("ENV YARN_NODE_LINKER={value}\nCOPY . .\n"), "yarn install");
    assert_eq!(later_yarn_cleanup(&variable("node-modules"), &[("package.json", YARN_4)]), cleaned);
    assert_eq!(later_yarn_cleanup(&variable("pnp"), &yarn_4), None);
    let own = install("COPY . .\n", "YARN_NODE_LINKER=node-modules yarn install");
    assert_eq!(later_yarn_cleanup(&own, &[(".yarnrc.yml", "nodeLinker: pnp\n"), ("package.json", YARN_4)]), cleaned);

    // Plug'n'Play, yarn 2's default, a cache in the project, and every setting dockopt cannot read for certain,
    // keep their cache.
    for (dockerfile, files) in [
        (copy_all.clone(), vec![("package.json", YARN_4)]),
        (copy_all.clone(), vec![(".yarnrc.yml", "nodeLinker: pnp\n"), ("package.json", YARN_4)]),
        (copy_all.clone(), vec![(".yarnrc.yml", "nodeLinker: node-modules\ncacheFolder: ./c\n"), ("package.json", YARN_4)]),
        (copy_all.clone(), vec![(".yarnrc.yml", "nodeLinker: node-modules\nenableGlobalCache: false\n"), ("package.json", YARN_4)]),
        // yarn 3 keeps its cache in the project by default; an unknown version may be it.
        (copy_all.clone(), vec![(".yarnrc.yml", NODE_MODULES), ("package.json", YARN_3)]),
        (copy_all.clone(), vec![(".yarnrc.yml", NODE_MODULES)]),
        (copy_all.clone(), vec![(".yarnrc.yml", NODE_MODULES), ("package.json", "{\"name\": \"x\"}")]),
        // A zero-install project commits its packages, which the cleanup would delete.
        (copy_all.clone(), vec![(".yarnrc.yml", NODE_MODULES), ("package.json", YARN_4), (".yarn/cache/a.zip", "zip")]),
        // In another directory, or another stage's file, or one a RUN may change.
        (install("COPY . /srv/\n", "yarn install"), yarn_4.to_vec()),
        (install("COPY . .\n", "cd web && yarn install"), vec![("web/.yarnrc.yml", NODE_MODULES), ("web/package.json", YARN_4)]),
        (install("COPY . .\n", "yarn install && cd /"), yarn_4.to_vec()),
        (install("COPY --from=settings /app /app\n", "yarn install"), vec![]),
        (install("COPY . .\nRUN yarn config set nodeLinker pnp\n", "yarn install"), yarn_4.to_vec()),
        (install("COPY . .\nRUN yarn set version 3.8.7\n", "yarn install"), yarn_4.to_vec()),
        (install("COPY . .\nENV YARN_CACHE_FOLDER=/c\n", "yarn install"), yarn_4.to_vec()),
        // Any cache mount of the RUN may hold the global cache, whatever yarn 1's option says.
        (install("COPY . .\n", "--mount=type=cache,target=/tmp/y yarn install"), yarn_4.to_vec()),
        (install("COPY . .\n", "--mount=type=cache,target=/tmp/y yarn install --cache-folder /c"), yarn_4.to_vec()),
        // A stage built on another may have its files.
        (
            "FROM node:22-slim AS base\nRUN corepack enable\nFROM base\nWORKDIR /app\nENV YARN_NODE_LINKER=node-modules\nRUN yarn install\n".into(),
            vec![],
        ),
        // Without a WORKDIR, where the install runs is the base image's.
        ("FROM node:22-slim\nRUN corepack enable\nCOPY . .\nRUN yarn install\n".into(), yarn_4.to_vec()),
    ] {
        assert_eq!(later_yarn_cleanup(&dockerfile, &files), None, "{dockerfile}{files:?}");
    }
}

// corepack after the install switches yarn for the RUNs after it only.
case!(yarn_switched_after_the_install, "FROM node:22-slim\nRUN yarn install\nWORKDIR /a\nRUN corepack enable\n");
case!(
    cache_mounts_where_variables_put_the_cache,
    "FROM node:22-slim\nRUN --mount=type=cache,target=/root/.yarn YARN_CACHE_FOLDER=/root/.yarn yarn install\nENV npm_config_cache=/cache/npm PNPM_HOME=/pnpm\nRUN --mount=type=cache,target=/cache/npm npm ci\nWORKDIR /a\nRUN --mount=type=cache,target=/pnpm/store pnpm install\nWORKDIR /b\nRUN --mount=type=cache,target=/tmp/other npm ci\n"
);
case!(
    pip_cache_off_by_any_value_or_held_by_a_mount,
    "FROM python:3.12-slim\nRUN export PIP_NO_CACHE_DIR=1 && pip install a\nWORKDIR /a\nRUN PIP_NO_CACHE_DIR=off pip install b\nENV PIP_CACHE_DIR=/pipcache\nRUN --mount=type=cache,target=/pipcache pip install c\nWORKDIR /b\nRUN pip install d\n"
);
case!(
    apk_redundant_rm_alone_is_no_finding,
    "FROM alpine:3.20\nRUN apk add --no-cache curl && rm -rf /var/cache/apk/*\nWORKDIR /a\nRUN apk update && apk add --no-cache jq\n"
);

#[test]
fn quoted_add_sources_are_read_from_the_context() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/contexts/add-sources");
    let input = "FROM python:3.12-slim\nADD \"app.py\" /app/\nADD 'conf/app.conf' /etc/\nADD \"missing file.txt\" /x/\nADD \"$SRC\" /y/\n";
    let report = render(input, Some(&dir.join("Dockerfile")));
    common::snapshot_settings()
        .bind(|| insta::assert_snapshot!("quoted_add_sources_are_read_from_the_context", report));
}

#[test]
fn add_to_copy_reads_the_build_context() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/contexts/add-sources");
    std::fs::write(dir.join("vendor.tar.gz"), [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3]).unwrap();
    // A tar archive whatever its name: ADD would unpack it.
    let mut tar = [0u8; 1024];
    tar[..9].copy_from_slice(b"notes.txt");
    let sum: u64 = tar[..512].iter().map(|&b| u64::from(b)).sum::<u64>() + 8 * 32;
    tar[148..155].copy_from_slice(format!("{sum:06o}\0").as_bytes());
    tar[155] = b' ';
    std::fs::write(dir.join("renamed.txt"), tar).unwrap();
    let input = std::fs::read_to_string(dir.join("Dockerfile")).unwrap();
    let report = render(&input, Some(&dir.join("Dockerfile")));
    common::snapshot_settings().bind(|| insta::assert_snapshot!("add_to_copy_reads_the_build_context", report));
}

/// DO103 on real build contexts under tests/contexts, one per ecosystem and refusal, one snapshot each.
#[test]
fn copy_manifests_first_reads_the_build_context() {
    let base = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/contexts");
    for case in [
        "pip-plain",
        "pip-nested",
        "pip-nested-missing",
        "pip-editable",
        "pip-ignored",
        "pip-build-in-run",
        "pip-chown",
        "pip-run-between",
        "node-npm",
        "node-npm-postinstall",
        "node-yarn",
        "node-pnpm",
        "go-mod",
        "bundler",
        "composer",
        "pipenv",
        "poetry",
        "uv",
        "cargo",
        "cargo-bin",
        "pip-chmod",
        "pip-blank-workdir",
        "pip-quoted-destination",
        "pip-chown-quoted",
        "pip-target",
        "go-proxy-in-source",
        "pip-find-links-env",
        "yarn-offline-mirror",
        "pnpm-patches",
        "go-work",
        "bundler-vendor-cache",
        "composer-path-repository",
        "poetry-path-dependency",
        "uv-path-source",
        "cargo-config",
        "pip-local-index",
        "pip-direct-reference",
        "pipenv-env-ignored",
        "composer-optimized-autoloader",
        "composer-authoritative-config",
        "bundler-ruby-version",
        "bundler-eval-gemfile",
        "uv-tool-paths",
        "uv-find-links",
        "cargo-target-path",
        "pnpm-catalog",
        "pnpm-workspace-members",
        "pipenv-local-file",
        "node-npm-local-modules",
        "node-npm-local-modules-ignored",
        "uv-local-venv",
        "yarn-berry",
        "pip-nested-interleaved",
        "yarn-path-elsewhere",
    ] {
        let dockerfile = base.join(case).join("Dockerfile");
        let input = std::fs::read_to_string(&dockerfile).unwrap();
        let report = render(&input, Some(&dockerfile));
        common::snapshot_settings().bind(|| insta::assert_snapshot!(format!("copy_manifests_first_{case}"), report));
    }
}

// DO306 multi-stage-build: a single-stage Go build split into a builder and a runtime stage.
macro_rules! multi_stage_case {
    ($name:ident, $context:expr, $input:expr) => {
        #[test]
        fn $name() {
            let context: Option<&str> = $context;
            // Relative, as tests run in the package's directory: messages that name the context stay the same
            // wherever the checkout is.
            let dockerfile = context.map(|dir| Path::new(dir).join("Dockerfile"));
            // DO209 cleans the build cache of every Go build; its own cases run it.
            let rules = rules_but(&["DO301", "DO304", "DO209"]);
            common::snapshot_settings().bind(|| {
                insta::assert_snapshot!(stringify!($name), render_with($input, dockerfile.as_deref(), &rules))
            });
        }
    };
}
const GO_SERVER: &str = "FROM golang:1.22-bookworm\nWORKDIR /src\nCOPY go.mod main.go ./\nRUN go build -o /usr/local/bin/hello .\nCOPY static /srv/static\nEXPOSE 8080\nUSER nobody\nCMD [\"hello\"]\n";
multi_stage_case!(multi_stage_go_to_scratch, Some("tests/e2e/go-split"), GO_SERVER);
multi_stage_case!(
    multi_stage_go_with_cgo_off_keeps_the_build,
    Some("tests/contexts/go-cgo"),
    "FROM golang:1.22-alpine3.20 AS app\nENV CGO_ENABLED=0\nWORKDIR /src\nCOPY . .\nRUN go build -o app . && go test ./...\nENTRYPOINT [\"./app\"]\nCMD [\"--port\", \"80\"]\n"
);
multi_stage_case!(
    multi_stage_go_with_cgo_runs_on_the_slim_release,
    Some("tests/contexts/go-cgo"),
    "FROM golang:1.21-bullseye\nWORKDIR /go/src/app\nCOPY . .\nRUN go build -o /bin/app\nHEALTHCHECK CMD [\"/bin/app\", \"-check\"]\nCMD [\"/bin/app\"]\n"
);
multi_stage_case!(
    multi_stage_go_shell_form_command_needs_a_shell,
    Some("tests/e2e/go-split"),
    "FROM golang:1.22-bookworm\r\nWORKDIR /src\r\nCOPY . .\r\nRUN go build -o server . \\\r\n && go vet ./...\r\nCMD ./server --listen :8080\r\n"
);
multi_stage_case!(
    multi_stage_go_with_cgo_and_no_release_gets_no_fix,
    Some("tests/contexts/go-cgo"),
    "FROM golang:1.22\nWORKDIR /src\nCOPY . .\nRUN go build -o /app .\nCMD [\"/app\"]\n"
);
multi_stage_case!(
    multi_stage_go_binary_with_a_blank_is_copied_in_exec_form,
    None,
    "FROM golang:1.22-bookworm\nWORKDIR /src\nCOPY . .\nRUN go build -o \"/usr/local/bin/my app\" .\nCMD [\"/usr/local/bin/my app\"]\n"
);
multi_stage_case!(
    multi_stage_go_binary_named_by_a_variable_gets_no_fix,
    None,
    "FROM golang:1.22-bookworm\nARG OUT=/app\nWORKDIR /src\nCOPY . .\nRUN go build -o $OUT .\nCMD [\"/app\"]\n"
);
multi_stage_case!(
    multi_stage_go_relative_output_without_workdir_gets_no_fix,
    None,
    "FROM golang:1.22-bookworm\nCOPY . .\nRUN go build -o app .\nCMD [\"./app\"]\n"
);
multi_stage_case!(
    multi_stage_go_command_that_runs_something_else_gets_no_fix,
    None,
    "FROM golang:1.22-bookworm\nWORKDIR /src\nCOPY . .\nRUN go build -o /app .\nCMD [\"sh\", \"-c\", \"/app migrate && /app\"]\n"
);
multi_stage_case!(
    multi_stage_not_reported,
    None,
    "FROM golang:1.22-bookworm AS build\nRUN go build -o /app .\nFROM scratch\nCOPY --from=build /app /app\nCMD [\"/app\"]\n"
);
multi_stage_case!(
    multi_stage_not_reported_for_windows_or_without_a_build,
    None,
    "FROM golang:1.22-windowsservercore-ltsc2022\nWORKDIR C:/src\nRUN go build -o C:/app.exe .\nCMD [\"C:/app.exe\"]\n"
);
multi_stage_case!(
    multi_stage_not_reported_for_go_run,
    None,
    "FROM golang:1.22\nWORKDIR /src\nCOPY . .\nCMD [\"go\", \"run\", \".\"]\n"
);

// DO307 build-only-packages: compilers and headers purged in the RUN that built with them. DO306, whose Python
// split is the other way out of the same RUN, has cases of its own.
macro_rules! build_only_case {
    ($name:ident, $input:expr) => {
        #[test]
        fn $name() {
            let rules = rules_but(&["DO301", "DO304", "DO306"]);
            common::snapshot_settings()
                .bind(|| insta::assert_snapshot!(stringify!($name), render_with($input, None, &rules)));
        }
    };
}
build_only_case!(
    build_only_packages_purged_after_a_pip_build,
    "FROM python:3.12-slim\nRUN apt-get update && apt-get install -y --no-install-recommends gcc libpq-dev \\\n && pip install --no-cache-dir psycopg2 \\\n && rm -rf /var/lib/apt/lists/*\nCMD [\"python\"]\n"
);
build_only_case!(
    build_only_packages_quote_a_workdir_the_shell_would_split,
    "FROM python:3.12-slim\nWORKDIR /srv/it's my app\nRUN apt-get update && apt-get install -y --no-install-recommends gcc libpq-dev \\\n && pip install --no-cache-dir psycopg2 \\\n && rm -rf /var/lib/apt/lists/*\nCMD [\"python\"]\n"
);
case!(
    build_only_packages_keep_what_is_not_for_building,
    "FROM node:20-bookworm-slim\nWORKDIR /app\nCOPY . .\nRUN apt-get update && apt-get install -y --no-install-recommends curl python3 make g++ && npm ci && rm -rf /var/lib/apt/lists/*\nCMD [\"node\", \"index.js\"]\n"
);
build_only_case!(
    build_only_packages_withheld_when_a_later_run_compiles,
    "FROM python:3.12-slim\nRUN apt-get update && apt-get install -y build-essential && pip install --no-cache-dir numpy && rm -rf /var/lib/apt/lists/*\nRUN gcc -o /usr/local/bin/tool tool.c\nCMD [\"tool\"]\n"
);
case!(
    build_only_packages_withheld_when_a_later_run_builds_again,
    "FROM ruby:3.3-slim\nRUN apt-get update && apt-get install -y libpq-dev gcc make && gem install pg && rm -rf /var/lib/apt/lists/*\nCOPY Gemfile .\nRUN bundle install\nCMD [\"ruby\", \"app.rb\"]\n"
);
case!(
    build_only_packages_not_reported_for_a_build_environment,
    "FROM debian:bookworm\nRUN apt-get update && apt-get install -y build-essential cmake && make -C /opt/tools install && rm -rf /var/lib/apt/lists/*\n"
);
case!(
    build_only_packages_not_reported,
    "FROM python:3.12-slim AS build\nRUN apt-get update && apt-get install -y gcc && pip wheel -w /wheels psycopg2 && rm -rf /var/lib/apt/lists/*\nFROM python:3.12-slim\nRUN apt-get update && apt-get install -y gcc && rm -rf /var/lib/apt/lists/*\nRUN apt-get update && apt-get install -y gcc libffi-dev && pip install cffi && apt-get purge -y --auto-remove gcc libffi-dev && rm -rf /var/lib/apt/lists/*\n"
);
multi_stage_case!(
    multi_stage_rust_runs_on_the_slim_release,
    Some("tests/e2e/rust-split"),
    "FROM rust:1.75-bookworm\nWORKDIR /app\nCOPY Cargo.toml Cargo.lock ./\nCOPY src ./src\nRUN cargo build --release\nCOPY config /app/config\nCMD [\"./target/release/hello\"]\n"
);
multi_stage_case!(
    multi_stage_rust_install_into_the_path,
    Some("tests/e2e/rust-split"),
    "FROM rust:1.79-slim-bookworm\nWORKDIR /src\nCOPY . .\nRUN cargo install --locked --path . --root /usr/local\nUSER 1000\nENTRYPOINT [\"hello\"]\n"
);
multi_stage_case!(
    multi_stage_rust_says_to_install_openssl,
    Some("tests/contexts/rust-openssl"),
    "FROM rust:1.75-bullseye\nWORKDIR /app\nCOPY . .\nRUN CARGO_TARGET_DIR=/build cargo build --release --target x86_64-unknown-linux-gnu\nCMD [\"/build/x86_64-unknown-linux-gnu/release/web\"]\n"
);
multi_stage_case!(
    multi_stage_rust_without_a_release_gets_no_fix,
    None,
    "FROM rust:1.75\nWORKDIR /app\nCOPY . .\nRUN cargo build --release\nCMD [\"./target/release/app\"]\n"
);
multi_stage_case!(
    multi_stage_rust_in_cargo_home_gets_no_fix,
    None,
    "FROM rust:1.75-bookworm\nWORKDIR /app\nCOPY . .\nRUN cargo install --path .\nCMD [\"app\"]\n"
);

// DO306 for Node.js: `npm run build` in one stage.
multi_stage_case!(
    multi_stage_node_build_prunes_and_copies_the_app,
    Some("tests/e2e/node-build"),
    "FROM node:20-bookworm-slim\nWORKDIR /app\nCOPY package.json package-lock.json ./\nRUN npm ci\nCOPY tsconfig.json ./\nCOPY src ./src\nRUN npm run build\nCOPY nginx.conf /etc/nginx.conf\nENV NODE_ENV=production\nUSER node\nCMD [\"npm\", \"start\"]\n"
);
multi_stage_case!(
    multi_stage_node_on_old_npm_prunes_with_production,
    None,
    "FROM node:10\nRUN mkdir -p /usr/src/app\nWORKDIR /usr/src/app\nCOPY . .\nRUN npm install && npm run build && npm test\nCMD node dist/server.js\n"
);
multi_stage_case!(
    multi_stage_node_start_script_runs_a_dev_dependency,
    Some("tests/contexts/node-dev-start"),
    "FROM node:20\nWORKDIR /app\nCOPY . .\nRUN npm ci && npm run build\nCMD [\"npm\", \"start\"]\n"
);
multi_stage_case!(
    multi_stage_node_withheld,
    None,
    "FROM node:20 AS apt\nWORKDIR /app\nRUN apt-get update && apt-get install -y git\nCOPY . .\nRUN npm ci && npm run build\nCMD [\"node\", \"dist/index.js\"]\n"
);
multi_stage_case!(
    multi_stage_node_built_as_another_user_is_withheld,
    None,
    "FROM node:20\nUSER node\nWORKDIR /home/node/app\nCOPY --chown=node:node . .\nRUN npm ci && npm run build\nCMD [\"node\", \"dist/index.js\"]\n"
);
multi_stage_case!(
    multi_stage_node_app_directory_with_a_blank_is_copied_in_exec_form,
    None,
    "FROM node:20\nWORKDIR /srv/my app\nCOPY . .\nRUN npm ci && npm run build\nCMD [\"node\", \"dist/index.js\"]\n"
);
multi_stage_case!(
    multi_stage_node_app_directory_copy_cannot_name_gets_no_fix,
    None,
    "FROM node:20\nWORKDIR /srv/app\u{7}\nCOPY . .\nRUN npm ci && npm run build\nCMD [\"node\", \"dist/index.js\"]\n"
);
multi_stage_case!(
    multi_stage_node_not_without_a_workdir_a_build_or_a_command,
    None,
    "FROM node:20\nCOPY . .\nRUN npm ci && npm run build\nCMD [\"node\", \"dist/index.js\"]\n"
);

// DO306 for Python: pip builds with compilers in one stage.
multi_stage_case!(
    multi_stage_python_into_a_virtual_environment,
    None,
    "FROM python:3.12-bookworm\nWORKDIR /app\nRUN apt-get update && apt-get install -y --no-install-recommends gcc libpq-dev \\\n && rm -rf /var/lib/apt/lists/*\nCOPY requirements.txt .\nRUN pip install --no-cache-dir -r requirements.txt\nCOPY . .\nENV FLASK_APP=app.py\nEXPOSE 5000\nCMD [\"flask\", \"run\", \"--host=0.0.0.0\"]\n"
);
multi_stage_case!(
    multi_stage_python_installs_the_other_packages_again,
    None,
    "FROM python:3.12 AS app\nRUN apt-get update && apt-get install -y gcc imagemagick && pip install wand\nWORKDIR /app\nRUN useradd app && mkdir /data && chown app /data\nUSER app\nCMD [\"python\", \"app.py\"]\n"
);
multi_stage_case!(
    multi_stage_python_withheld_for_a_download,
    None,
    "FROM python:3.12\nRUN apt-get update && apt-get install -y gcc wget && pip install cffi\nRUN wget -O /usr/local/bin/tool https://example.com/tool\nCMD [\"tool\"]\n"
);
multi_stage_case!(
    multi_stage_python_withheld_for_a_user_install,
    None,
    "FROM python:3.12\nRUN apt-get update && apt-get install -y gcc && pip install --user cffi\nCMD [\"python\", \"app.py\"]\n"
);
multi_stage_case!(
    multi_stage_python_withheld_for_a_purge,
    None,
    "FROM python:3.12-slim\nRUN apt-get update && apt-get install -y gcc && pip install cffi && apt-get purge -y --auto-remove gcc\nCMD [\"python\", \"app.py\"]\n"
);
multi_stage_case!(
    multi_stage_python_not_on_alpine_or_without_compilers,
    None,
    "FROM python:3.12-alpine\nRUN apk add gcc musl-dev && pip install cffi\nCMD [\"python\"]\n"
);

// --cache-mounts: the cache rules mount a cache where they would delete one.
macro_rules! cache_mount_case {
    ($name:ident, $input:expr) => {
        #[test]
        fn $name() {
            let options = RuleOptions { cache_mounts: true, ..RuleOptions::DEFAULT };
            let rules = rules_but(&["DO301", "DO304"]);
            common::snapshot_settings().bind(|| {
                insta::assert_snapshot!(stringify!($name), render_with_options($input, None, &rules, &options))
            });
        }
    };
}
cache_mount_case!(
    cache_mount_for_pip_and_uv,
    "# syntax=docker/dockerfile:1\nFROM python:3.12-slim\nRUN pip install -r requirements.txt\nENV A=1\nRUN uv pip install --system httpx\n"
);
cache_mount_case!(
    cache_mount_for_npm_yarn_and_pnpm,
    "# syntax=docker/dockerfile:1\nFROM node:22-slim\nRUN npm ci\nENV A=1\nRUN yarn install --frozen-lockfile\nENV B=1\nRUN pnpm install\n"
);
// BuildKit's flag reader stops at a no-break space after RUN, so a mount written after it would be an argument: the
// mount goes before it.
// yarn 2 and later that lay out node_modules keep the cleanup: no build has proven a mount of their cache; npm's
// cache in the same RUN is mounted.
cache_mount_case!(
    cache_mount_not_for_yarn_2,
    "# syntax=docker/dockerfile:1\nFROM node:22-slim\nRUN corepack enable\nWORKDIR /app\nENV YARN_NODE_LINKER=node-modules YARN_ENABLE_GLOBAL_CACHE=true\nRUN yarn install && npm install -g left-pad\n"
);
cache_mount_case!(cache_mount_before_a_no_break_space, "FROM alpine:3.20\nRUN \u{a0} apk update && apk add gcc\n");
cache_mount_case!(
    cache_mount_for_apt_is_unsafe,
    "# syntax=docker/dockerfile:1\nFROM debian:bookworm\nRUN apt-get update && apt-get install -y --no-install-recommends curl\n"
);
cache_mount_case!(cache_mount_without_a_sign_of_buildkit_is_unsafe, "FROM python:3.12-slim\nRUN pip install flask\n");
cache_mount_case!(
    cache_mount_with_another_mount_in_the_file_is_safe,
    "FROM node:22-slim\nRUN --mount=type=secret,id=npmrc,target=/root/.npmrc npm ci\n"
);
cache_mount_case!(
    cache_mount_not_for_a_user_or_onbuild,
    "# syntax=docker/dockerfile:1\nFROM python:3.12-slim\nONBUILD RUN pip install -r requirements.txt\nUSER app\nRUN pip install --user flask\n"
);
cache_mount_case!(
    cache_mount_not_added_twice,
    "# syntax=docker/dockerfile:1\nFROM python:3.12-slim\nRUN --mount=type=cache,target=/root/.cache/pip pip install flask\nRUN --mount=type=cache,target=/root/.cache/pip pip install requests\n"
);
cache_mount_case!(
    cache_mount_for_apk_unless_the_run_deletes_the_cache,
    "# syntax=docker/dockerfile:1\nFROM alpine:3.20\nRUN apk update && apk add curl\nENV A=1\nRUN apk add git && rm -rf /var/cache/apk/*\n"
);
cache_mount_case!(
    cache_mount_before_the_marker_that_ends_the_flags,
    "# syntax=docker/dockerfile:1\nFROM debian:bookworm\nRUN -- apt-get update && apt-get install -y --no-install-recommends curl\nRUN --network=host \\\n  -- pip install flask\n"
);
case!(
    build_only_packages_on_alpine_are_a_suggestion,
    "FROM python:3.12-alpine\nRUN apk add --no-cache gcc musl-dev libffi-dev \\\n && pip install --no-cache-dir cffi\nCMD [\"python\"]\n"
);
case!(
    build_only_packages_on_alpine_mixed_with_runtime_packages,
    "FROM python:3.12-alpine\nRUN apk add --no-cache build-base postgresql-dev libpq && pip install --no-cache-dir psycopg2\nCMD [\"python\"]\n"
);
case!(
    build_only_packages_on_alpine_not_reported_in_a_virtual_package,
    "FROM python:3.12-alpine\nRUN apk add --no-cache --virtual .build-deps gcc musl-dev && pip install --no-cache-dir cffi && apk del .build-deps\nCMD [\"python\"]\n"
);

// DO209 go-build-cache
case!(
    go_build_cache_cleaned_in_the_building_run,
    "FROM golang:1.22-bookworm\nWORKDIR /src\nCOPY go.mod go.sum ./\nRUN go mod download\nCOPY . .\nRUN go vet ./... && go build -o /app .\nCMD [\"/app\"]\n"
);
case!(
    go_build_cache_moved_or_already_cleaned,
    "FROM golang:1.22\nENV GOCACHE=/tmp/gocache\nRUN go build -o /a .\nRUN go build -o /c . && go clean -cache\nRUN go test ./... && rm -rf /tmp/gocache\nRUN --mount=type=cache,target=/tmp/gocache go install ./cmd/...\nENV GOCACHE=$CACHE\nRUN go build -o /b .\n"
);
cache_mount_case!(
    cache_mount_for_the_go_build_cache,
    "# syntax=docker/dockerfile:1\nFROM golang:1.22-bookworm\nRUN go build -o /app .\n"
);

// DO210 dependency-cache-mount, only with --cache-mounts.
cache_mount_case!(
    cache_mount_for_go_modules_on_every_run_that_reads_them,
    "# syntax=docker/dockerfile:1\nFROM golang:1.22-bookworm AS build\nWORKDIR /src\nCOPY go.mod go.sum ./\nRUN go mod download\nCOPY . .\nRUN go vet ./... && go build -o /app .\nFROM build AS test\nRUN go test ./...\nFROM scratch\nCOPY --from=build /app /app\nCMD [\"/app\"]\n"
);
cache_mount_case!(
    cache_mount_for_the_cargo_registry_not_its_target,
    "# syntax=docker/dockerfile:1\nFROM rust:1.75-bookworm AS build\nWORKDIR /src\nCOPY . .\nRUN cargo build --release\nFROM alpine:3.20\nENV CARGO_HOME=/opt/cargo\nRUN apk add cargo && cargo install ripgrep\nFROM debian:bookworm-slim\nCOPY --from=build /src/target/release/app /usr/local/bin/app\nCMD [\"app\"]\n"
);
cache_mount_case!(
    cache_mount_for_go_modules_withheld,
    "# syntax=docker/dockerfile:1\nFROM golang:1.22 AS runs-go\nRUN go mod download\nCMD go run .\nFROM golang:1.22 AS copied\nRUN go mod download\nFROM alpine AS uses\nCOPY --from=copied /go /go\nFROM golang:1.22 AS make\nRUN go mod download\nCOPY . .\nRUN make build\nFROM golang:1.22 AS user\nRUN go mod download\nUSER app\nRUN go build -o /tmp/app .\nFROM golang:1.22 AS moved\nRUN go mod download\nENV GOMODCACHE=/mods\nRUN go build -o /app .\nFROM golang:1.22 AS mounted\nRUN --mount=type=cache,target=/go/pkg/mod go build -o /app .\nFROM $BASE AS unknown\nRUN go build -o /app .\n"
);
// The cache directories that HOME and XDG_CACHE_HOME move, where no variable of the tool's own does.
cache_mount_case!(
    cache_mount_where_home_or_the_xdg_cache_puts_the_cache,
    "# syntax=docker/dockerfile:1\nFROM python:3.12-slim AS xdg\nENV XDG_CACHE_HOME=/xdg\nRUN pip install flask\nFROM python:3.12-slim AS home\nENV HOME=/home/app\nRUN pip install flask\nFROM node:22-slim AS yarn\nENV HOME=/home/app\nRUN yarn install\nFROM golang:1.22-bookworm AS go\nENV XDG_CACHE_HOME=/xdg\nRUN go build -o /app .\n"
);
cache_mount_case!(
    cache_mount_not_at_a_target_the_flag_cannot_hold,
    "# syntax=docker/dockerfile:1\nFROM golang:1.22\nENV GOPATH=/go\\\\path\nRUN go mod download\nENV PIP_CACHE_DIR=\"/pip cache\"\nRUN pip install flask\nENV PIP_CACHE_DIR=/caché\nRUN pip install requests\n"
);
#[test]
fn dependency_cache_mount_needs_the_option() {
    let input = "# syntax=docker/dockerfile:1\nFROM golang:1.22\nRUN go mod download\nRUN go build -o /app .\n";
    let without = render_with_options(input, None, &rules_but(&[]), &RuleOptions::DEFAULT);
    assert!(!without.contains("DO210"), "{without}");
    let options = RuleOptions { cache_mounts: true, ..RuleOptions::DEFAULT };
    let with = render_with_options(input, None, &rules_but(&[]), &options);
    assert!(with.contains("DO210"), "{with}");
}

/// The finding of rule `code` at `line` whose message holds `about`, among the original text's findings that
/// `check` reads: labelled as `fix` leaves it.
fn checked_finding(input: &str, rules: &[&dyn rule::Rule], code: &str, line: usize, about: &str) -> Finding {
    let outcome = fix::fix_with_options(input, None, rules, false, &RuleOptions::DEFAULT, fix::Remaining::Fixable)
        .expect("fixable");
    let lines = LineIndex::new(input);
    outcome
        .initial
        .into_iter()
        .find(|f| f.rule.code == code && lines.line_byte_col(f.range.start).0 == line && f.message.contains(about))
        .expect("the finding")
}

/// A finding with no fix, of a rule that may fix, says when the other fixes resolve it, as `fix` leaves nothing
/// there; one they leave says nothing more, nor does one of a rule that only reports.
#[test]
fn a_finding_with_no_fix_says_when_the_other_fixes_resolve_it() {
    let rules = rules_but(&["DO304"]);
    let resolved = " (resolved once the other fixes apply)";
    let message_at = |input: &str, code: &str, line: usize| {
        let finding = checked_finding(input, &rules, code, line, "");
        assert_eq!(finding.fix, None, "{}", finding.message);
        finding.message
    };
    // The merge brings the update, in a subshell for its `exit`, into the RUN that installs and cleans.
    let cleaned = "FROM centos:7\nRUN yum update -y; exit 0\nRUN yum install -y httpd && yum clean all\n";
    assert!(message_at(cleaned, "DO204", 2).ends_with(resolved));
    // The merge of two other RUNs leaves the cache.
    let left = "FROM centos:7\nRUN yum update -y; exit 0\nENV A=1\nRUN echo a\nRUN echo b\n";
    assert!(!message_at(left, "DO204", 2).contains(resolved));
    // The merge makes room for the cleanup, which `check` reports as a follow-on of its own.
    let followed = "FROM centos:7\nRUN yum update -y; exit 0\nRUN echo hi\n";
    assert!(!message_at(followed, "DO204", 2).contains(resolved));
    // DO301 only reports, and the merge does not change what it reads.
    assert!(!message_at(cleaned, "DO301", 1).contains(resolved));
}

/// So does a finding whose fix is unsafe, when the run leaves unsafe fixes alone: `fix` resolves it without one.
#[test]
fn an_unsafe_finding_says_when_the_safe_fixes_resolve_it() {
    let rules = rules_but(&[]);
    let resolved = " (resolved once the other fixes apply)";
    let build_only = |input: &str| {
        let finding = checked_finding(input, &rules, "DO307", 2, "build-essential");
        assert_eq!(finding.fix.map(|f| f.applicability), Some(Applicability::Unsafe), "{}", finding.message);
        finding.message
    };
    // The merge brings in the RUN that removes the compilers.
    let removed = "FROM node:20\nRUN apt-get update && apt-get install -y build-essential && npm install -g sharp\n\
                   RUN apt-get remove -y build-essential && rm -rf /var/lib/apt/lists/*\nCMD [\"node\"]\n";
    assert!(build_only(removed).ends_with(resolved));
    // The merge brings in a RUN that leaves them.
    let left = "FROM node:20\nRUN apt-get update && apt-get install -y build-essential && npm install -g sharp\n\
                RUN echo done\nCMD [\"node\"]\n";
    assert!(!build_only(left).contains(resolved));
}

/// A finding of the original text keeps the fix `check` labels it with unless no round applied a fix of its rule
/// where it is and the fixed text still has it: `check` says what `fix` does.
#[test]
fn a_fix_the_other_fixes_keep_from_applying_is_taken_off_only_where_the_finding_is_left() {
    let rules = rules_but(&["DO301", "DO304"]);
    let fix_at = |input: &str, code: &str, line: usize, about: &str| {
        let finding = checked_finding(input, &rules, code, line, about);
        (finding.fix.map(|f| f.applicability), finding.message)
    };
    // The merge puts the go build before a case statement beside an `rm`: DO209 cannot clean the merged RUN.
    let merged = "FROM golang:1.22\nRUN go build ./...\nRUN case x in x) echo;; esac && rm -f /x\n";
    let (fix, message) = fix_at(merged, "DO209", 2, "go");
    assert_eq!(fix, None);
    assert!(message.ends_with(" (no fix once the other fixes apply)"), "{message}");
    // The merge brings in the second build's cleanup, which covers the first's. The install after it leaves a
    // finding of another rule, DO202, in the fixed text.
    let covered = "FROM golang:1.22\nRUN go build ./a\nRUN go build ./b\nWORKDIR /w\n\
                   RUN apt-get update && apt-get install -y curl && rm -rf /var/lib/apt/lists/*\n";
    let (fix, message) = fix_at(covered, "DO209", 2, "go");
    assert_eq!(fix, Some(Applicability::Safe), "{message}");
    // The cleanup waits for the merge and lands once, at the end of the merged RUN.
    let apt = "FROM debian:12\nRUN apt-get update && apt-get install -y curl\nRUN echo hi\n";
    let (fix, message) = fix_at(apt, "DO201", 2, "apt");
    assert_eq!(fix, Some(Applicability::Safe), "{message}");
    // npm's cleanup applies; yarn's finding on the same RUN, which has no fix, stays.
    let both = "FROM node:20\nRUN npm i -g coffeescript && (cd backend; yarn install)\n";
    let (fix, message) = fix_at(both, "DO206", 2, "npm");
    assert_eq!(fix, Some(Applicability::Safe), "{message}");
}
