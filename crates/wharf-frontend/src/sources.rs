//! What kind of source an ADD names: a remote URL, a git repository, or
//! (anything else) a path in the build context. The planner uses it to
//! check flags; the builder to fetch.

/// Whether a source is an http(s) URL.
pub fn is_url(src: &str) -> bool {
    src.starts_with("http://") || src.starts_with("https://")
}

/// Whether a source is a git repository, in BuildKit's forms:
/// `git@host:repo`, `git://...`, `ssh://...`, or an http(s) URL whose path
/// ends in `.git` (each optionally followed by `#ref[:subdir]`).
pub fn is_git(src: &str) -> bool {
    src.starts_with("git@")
        || src.starts_with("git://")
        || src.starts_with("ssh://")
        || (is_url(src)
            && src
                .split(['#', '?'])
                .next()
                .is_some_and(|u| u.ends_with(".git")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds() {
        assert!(is_url("https://example.com/a.tar.gz"));
        assert!(!is_url("src/app"));
        assert!(is_git("https://github.com/moby/buildkit.git#v0.12.0"));
        assert!(is_git("git@github.com:moby/buildkit.git"));
        assert!(is_git("git://127.0.0.1:9418/repo"));
        assert!(is_git("ssh://git@host/repo"));
        assert!(!is_git("https://example.com/a.tar.gz"));
    }
}
