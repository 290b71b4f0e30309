//! `ADD <git repository>`: BuildKit's forms (`https://host/repo.git`,
//! `git@host:repo.git`, `git://host/repo`, each with an optional
//! `#ref[:subdir]`), checked out with the `git` command into a temporary
//! directory, whose tree then becomes the layer like any COPY source.
//!
//! The `git` command does the work because no maintained Rust crate
//! speaks every transport git users rely on (smart HTTP with credential
//! helpers, SSH with agents, the git protocol) without C dependencies.

use std::path::{Path, PathBuf};
use std::process::Command;

/// A git source as ADD names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GitSource {
    /// What `git clone` is given.
    pub remote: String,
    /// Branch, tag or commit; the default branch when `None`.
    pub reference: Option<String>,
    /// Directory of the repository to copy (`""` for all of it).
    pub subdir: String,
}

impl GitSource {
    /// Splits `remote#ref:subdir`.
    pub fn parse(src: &str) -> GitSource {
        let (remote, fragment) = match src.split_once('#') {
            Some((r, f)) => (r.to_string(), Some(f)),
            None => (src.to_string(), None),
        };
        let (reference, subdir) = match fragment {
            None => (None, String::new()),
            Some(f) => match f.split_once(':') {
                Some((r, d)) => (Some(r.to_string()), d.trim_matches('/').to_string()),
                None => (Some(f.to_string()), String::new()),
            },
        };
        GitSource {
            remote,
            reference: reference.filter(|r| !r.is_empty()),
            subdir,
        }
    }

    /// Checks the source out into `dir` (which must not exist); returns the
    /// commit checked out. `.git` is removed unless `keep_git_dir`.
    pub fn checkout(&self, dir: &Path, keep_git_dir: bool) -> Result<String, String> {
        let run = |args: &[&str], cwd: Option<&Path>| -> Result<String, String> {
            let mut cmd = Command::new("git");
            cmd.args(args).env("GIT_TERMINAL_PROMPT", "0");
            if let Some(c) = cwd {
                cmd.current_dir(c);
            }
            let out = cmd
                .output()
                .map_err(|e| format!("cannot run git ({e}); install git to ADD repositories"))?;
            if !out.status.success() {
                return Err(format!(
                    "git {} failed: {}",
                    args.first().unwrap_or(&""),
                    String::from_utf8_lossy(&out.stderr).trim()
                ));
            }
            Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
        };
        let target = dir.to_string_lossy().to_string();
        let is_commit = self
            .reference
            .as_deref()
            .is_some_and(|r| r.len() >= 7 && r.bytes().all(|b| b.is_ascii_hexdigit()));
        match (&self.reference, is_commit) {
            (Some(r), false) => {
                run(
                    &[
                        "clone",
                        "--quiet",
                        "--depth",
                        "1",
                        "--branch",
                        r,
                        &self.remote,
                        &target,
                    ],
                    None,
                )?;
            }
            (Some(r), true) => {
                run(&["clone", "--quiet", &self.remote, &target], None)?;
                run(&["checkout", "--quiet", r], Some(dir))?;
            }
            (None, _) => {
                run(
                    &["clone", "--quiet", "--depth", "1", &self.remote, &target],
                    None,
                )?;
            }
        }
        let commit = run(&["rev-parse", "HEAD"], Some(dir))?;
        if !keep_git_dir {
            std::fs::remove_dir_all(dir.join(".git"))
                .map_err(|e| format!("removing .git from the checkout: {e}"))?;
        }
        Ok(commit)
    }

    /// The directory of the checkout to copy. The subdirectory is the
    /// repository's: a `..` or a symlink leading out of the checkout is
    /// refused (a Dockerfile must not reach the build host's files).
    pub fn root_in(&self, checkout: &Path) -> Result<PathBuf, String> {
        if self.subdir.is_empty() {
            return Ok(checkout.to_path_buf());
        }
        if self.subdir.split('/').any(|c| c == "..") {
            return Err(format!(
                "the subdirectory {:?} climbs out of the repository",
                self.subdir
            ));
        }
        let inside = checkout.join(&self.subdir);
        let (Ok(real), Ok(top)) = (inside.canonicalize(), checkout.canonicalize()) else {
            return Err(format!("the repository has no directory {:?}", self.subdir));
        };
        if !real.starts_with(&top) {
            return Err(format!(
                "the subdirectory {:?} is a link out of the repository",
                self.subdir
            ));
        }
        if !real.is_dir() {
            return Err(format!("the repository has no directory {:?}", self.subdir));
        }
        Ok(real)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subdirectories_stay_inside_the_checkout() {
        let d = tempfile::tempdir().unwrap();
        let checkout = d.path().join("checkout");
        std::fs::create_dir_all(checkout.join("docs")).unwrap();
        std::fs::create_dir_all(d.path().join("outside")).unwrap();
        #[cfg(unix)]
        std::os::unix::fs::symlink(d.path().join("outside"), checkout.join("link")).unwrap();
        let root =
            |f: &str| GitSource::parse(&format!("https://h/r.git#main:{f}")).root_in(&checkout);
        assert!(root("docs").unwrap().ends_with("docs"));
        assert!(root("../outside").unwrap_err().contains("climbs out"));
        assert!(root("docs/../../outside")
            .unwrap_err()
            .contains("climbs out"));
        #[cfg(unix)]
        assert!(root("link").unwrap_err().contains("link out"));
        assert!(root("missing").unwrap_err().contains("no directory"));
    }

    #[test]
    fn fragments() {
        let g = GitSource::parse("https://h/r.git#v1.2:docs/");
        assert_eq!(g.remote, "https://h/r.git");
        assert_eq!(g.reference.as_deref(), Some("v1.2"));
        assert_eq!(g.subdir, "docs");
        let g = GitSource::parse("git@h:r.git");
        assert_eq!((g.reference, g.subdir.as_str()), (None, ""));
    }
}
