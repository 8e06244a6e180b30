//! `dockopt review`, as the GitHub Action runs it, against a stand-in for the GitHub REST API on 127.0.0.1 that
//! records every request: one review with suggestions that replace exactly the lines of each fix, plain comments
//! for what is not a safe fix, annotations for advice, nothing posted twice, and nothing when no Dockerfile
//! changes.

use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::sync::{Arc, Mutex};

/// What the stand-in API knows and saw.
#[derive(Default)]
struct Api {
    files: Vec<Value>,
    comments: Vec<Value>,
    reviews: Vec<Value>,
    /// (method, path, authorization header, body) of each request.
    requests: Vec<(String, String, String, String)>,
}

/// Serves the API on a free port of 127.0.0.1, answering what `dockopt review` asks, until the test ends.
fn serve(api: Arc<Mutex<Api>>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let mut stream = stream.unwrap();
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut request_line = String::new();
            reader.read_line(&mut request_line).unwrap();
            let mut parts = request_line.split_whitespace();
            let (method, target) = (parts.next().unwrap().to_string(), parts.next().unwrap().to_string());
            let (mut length, mut authorization) = (0, String::new());
            loop {
                let mut header = String::new();
                reader.read_line(&mut header).unwrap();
                let header = header.trim_end();
                if header.is_empty() {
                    break;
                }
                let (name, value) = header.split_once(": ").unwrap_or((header, ""));
                match name.to_ascii_lowercase().as_str() {
                    "content-length" => length = value.parse().unwrap(),
                    "authorization" => authorization = value.to_string(),
                    _ => {}
                }
            }
            let mut body = vec![0; length];
            reader.read_exact(&mut body).unwrap();
            let body = String::from_utf8(body).unwrap();
            let answer = answer(&mut api.lock().unwrap(), &method, &target, &authorization, &body);
            let text = answer.to_string();
            write!(stream, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{text}", text.len())
                .unwrap();
        }
    });
    address
}

fn answer(api: &mut Api, method: &str, target: &str, authorization: &str, body: &str) -> Value {
    api.requests.push((method.into(), target.into(), authorization.into(), body.into()));
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let first_page = query.split('&').any(|pair| pair == "page=1");
    let page = |items: &[Value]| if first_page { json!(items) } else { json!([]) };
    match (method, path) {
        ("GET", "/repos/octo/app/pulls/7/files") => page(&api.files),
        ("GET", "/repos/octo/app/pulls/7/comments") => page(&api.comments),
        ("GET", "/repos/octo/app/pulls/7/reviews") => page(&api.reviews),
        ("POST", "/repos/octo/app/pulls/7/reviews") => {
            let review: Value = serde_json::from_str(body).unwrap();
            api.comments.extend(review["comments"].as_array().unwrap().iter().cloned());
            api.reviews.push(json!({ "body": review["body"] }));
            json!({ "id": api.reviews.len() })
        }
        _ => json!({ "message": "Not Found" }),
    }
}

/// A checkout of a pull request: three Dockerfiles it changes and the event GitHub would write, in a directory that
/// is removed when the test ends.
fn checkout(name: &str) -> tempfile::TempDir {
    let scratch = tempfile::Builder::new().prefix(&format!("dockopt-review-{name}-")).tempdir().unwrap();
    let dir = scratch.path();
    let write = |path: &str, text: &str| {
        std::fs::create_dir_all(dir.join(path).parent().unwrap()).unwrap();
        std::fs::write(dir.join(path), text).unwrap();
    };
    write(
        "api/Dockerfile",
        "FROM debian:12.6\nRUN apt-get update\nRUN apt-get install -y --no-install-recommends curl\nUSER nobody\n",
    );
    write("worker/Dockerfile", "FROM debian:12.6\nRUN apt-get update && apt-get install -y curl \\\n && rm -rf /var/lib/apt/lists/*\nUSER nobody\n");
    write("legacy/Dockerfile", "FROM python:3.12\nRUN pip install flask\n");
    write("README.md", "# app\n");
    write("event.json", &json!({"pull_request": {"number": 7, "head": {"sha": "abc123"}}}).to_string());
    scratch
}

fn review(dir: &Path, api: &str) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_dockopt"))
        .arg("review")
        .current_dir(dir)
        .env("GITHUB_TOKEN", "t0ken")
        .env("GITHUB_REPOSITORY", "octo/app")
        .env("GITHUB_API_URL", api)
        .env("GITHUB_EVENT_PATH", dir.join("event.json"))
        .output()
        .unwrap()
}

fn file(name: &str, patch: &str) -> Value {
    json!({ "filename": name, "status": "modified", "patch": patch })
}

#[test]
fn one_review_with_suggestions_and_nothing_twice() {
    let api = Arc::new(Mutex::new(Api::default()));
    let address = serve(api.clone());
    let scratch = checkout("full");
    let dir = scratch.path();
    api.lock().unwrap().files = vec![
        file("api/Dockerfile", "@@ -1,3 +1,4 @@\n FROM debian:12.6\n RUN apt-get update\n+RUN apt-get install -y --no-install-recommends curl\n USER nobody"),
        file("worker/Dockerfile", "@@ -1,0 +1,4 @@\n+FROM debian:12.6"),
        // Only line 1 is in the diff: the pip fix on line 2 cannot be a suggestion there.
        file("legacy/Dockerfile", "@@ -1 +1 @@\n-FROM python:3.11\n+FROM python:3.12"),
        file("README.md", "@@ -1 +1 @@\n-#\n+# app"),
        json!({ "filename": "old/Dockerfile", "status": "removed" }),
    ];
    let out = review(dir, &address);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));

    let recorded = api.lock().unwrap();
    assert!(recorded.requests.iter().all(|r| r.2 == "Bearer t0ken"), "every request carries the workflow's token");
    let posts: Vec<&(String, String, String, String)> = recorded.requests.iter().filter(|r| r.0 == "POST").collect();
    assert_eq!(posts.len(), 1, "one review");
    let posted: Value = serde_json::from_str(&posts[0].3).unwrap();
    assert_eq!((posted["event"].as_str(), posted["commit_id"].as_str()), (Some("COMMENT"), Some("abc123")));
    let comments = posted["comments"].as_array().unwrap();

    // The merge and the cleanup replace exactly lines 2-3 of api/Dockerfile.
    let merge = comments.iter().find(|c| c["path"] == "api/Dockerfile").expect("a suggestion on api/Dockerfile");
    assert_eq!((merge["start_line"].as_u64(), merge["line"].as_u64()), (Some(2), Some(3)));
    assert_eq!((merge["side"].as_str(), merge["start_side"].as_str()), (Some("RIGHT"), Some("RIGHT")));
    let body = merge["body"].as_str().unwrap();
    assert!(
        body.contains(
            "```suggestion\nRUN apt-get update \\\n && apt-get install -y --no-install-recommends curl \\\n && rm -rf /var/lib/apt/lists/*\n```"
        ),
        "{body}"
    );
    assert!(body.contains("safe fix (DO101, DO201)"), "{body}");

    // The unsafe fix is a plain comment that says so.
    let unsafe_fix = comments.iter().find(|c| c["path"] == "worker/Dockerfile").expect("a comment on worker");
    let body = unsafe_fix["body"].as_str().unwrap();
    assert!(body.contains("DO202") && body.contains("unsafe fix") && !body.contains("```suggestion"), "{body}");
    assert_eq!(unsafe_fix["line"], 2);

    // The pip fix outside the diff is in the review's body, as a diff.
    let review_body = posted["body"].as_str().unwrap();
    assert!(review_body.contains("`legacy/Dockerfile` lines 2-2, outside the lines this pull request changes"));
    assert!(review_body.contains("```diff\n-RUN pip install flask\n+RUN pip install --no-cache-dir flask\n```"));
    assert!(!comments.iter().any(|c| c["path"] == "README.md" || c["path"] == "old/Dockerfile"));

    // Advice is annotated, not commented.
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("::notice file=legacy/Dockerfile,line=1"), "{stdout}");
    assert!(!comments.iter().any(|c| c["body"].as_str().unwrap().contains("DO301")));
    drop(recorded);

    // A second run finds every marker posted and posts nothing.
    let again = review(dir, &address);
    assert_eq!(again.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&again.stderr).contains("nothing new to post"));
    assert_eq!(api.lock().unwrap().requests.iter().filter(|r| r.0 == "POST").count(), 1, "no duplicates");
}

#[test]
fn nothing_is_posted_when_no_dockerfile_changes() {
    let api = Arc::new(Mutex::new(Api::default()));
    let address = serve(api.clone());
    let scratch = checkout("none");
    let dir = scratch.path();
    api.lock().unwrap().files = vec![file("README.md", "@@ -1 +1 @@\n-#\n+# app")];
    let out = review(dir, &address);
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stderr).contains("changes no Dockerfile"));
    assert!(api.lock().unwrap().requests.iter().all(|r| r.0 == "GET"));
}

#[test]
fn the_action_runs_this_command_with_the_workflows_token() {
    let action = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("action.yml")).unwrap();
    assert!(action.contains("using: composite"), "a composite action");
    assert!(action.contains("dockopt/bin/dockopt\" review"), "it runs `dockopt review`");
    assert!(action.contains("GITHUB_TOKEN: ${{ inputs.token }}") && action.contains("default: ${{ github.token }}"));
}
