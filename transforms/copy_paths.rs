//! Writing the paths of a COPY that a fix adds so that BuildKit reads back the same paths.

/// `paths`, the sources and then the destination of a COPY, written after its keyword and flags: apart, or as a
/// JSON array when a path holds a blank, since BuildKit splits the shell form at every blank (`WORKDIR /my app` is
/// one directory). An error for a path with what BuildKit reads in either form: a quote, an escape character
/// (`\` or `` ` ``), a `$`, a control character, or, in a source, a wildcard.
pub(super) fn copy_paths(paths: &[&str]) -> Result<String, String> {
    let last = paths.len().saturating_sub(1);
    for (k, path) in paths.iter().enumerate() {
        let read = |c: char| {
            matches!(c, '"' | '\'' | '\\' | '`' | '$')
                || (c.is_control() && c != '\t')
                || (c.is_whitespace() && !c.is_ascii())
                || (k < last && matches!(c, '*' | '?' | '['))
        };
        if let Some(c) = path.chars().find(|&c| read(c)) {
            return Err(format!("COPY cannot name {path:?} as it is: BuildKit would read the {c:?} in it"));
        }
    }
    Ok(if paths.iter().any(|p| p.contains([' ', '\t'])) {
        let strings: Vec<String> = paths.iter().map(|p| serde_json::Value::from(*p).to_string()).collect();
        format!("[{}]", strings.join(", "))
    } else {
        paths.join(" ")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_written_apart_or_as_an_array_as_buildkit_reads_them() {
        assert_eq!(copy_paths(&["requirements.txt", "/app/"]).unwrap(), "requirements.txt /app/");
        assert_eq!(copy_paths(&["/srv/my app", "/srv/my app"]).unwrap(), r#"["/srv/my app", "/srv/my app"]"#);
        assert_eq!(copy_paths(&["a", "/srv/x\ty/"]).unwrap(), r#"["a", "/srv/x\ty/"]"#);
        assert_eq!(copy_paths(&["/srv/café(1)", "/srv/[x]*"]).unwrap(), "/srv/café(1) /srv/[x]*");
        for path in ["/a$b", "/a\"b", "/a'b", "/a\\b", "/a`b", "/a*", "/a?", "/a[b]", "/a\u{a0}b", "/a\u{7}b"] {
            assert!(copy_paths(&[path, "/d/"]).is_err(), "{path:?}");
        }
        assert!(copy_paths(&["a", "/d$x/"]).is_err());
    }
}
