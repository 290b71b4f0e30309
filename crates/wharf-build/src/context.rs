//! The build context on disk: paths resolved as if the context directory
//! were the root of the file system, so that no symlink, `..` or absolute
//! path ever leads out of it, and a walk that honours `.dockerignore`.
//!
//! Resolution is done component by component with `symlink_metadata` and
//! `read_link` (BuildKit's "root path" rule): a symlink to `/etc/passwd`
//! inside the context means `<context>/etc/passwd`, and `../../x` stops at
//! the context root. The context is the user's own directory, not hostile
//! input, so this guards against mistakes (and against reading outside the
//! context on a shared machine), not against a racing attacker.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use wharf_frontend::dockerignore::DockerIgnore;

/// At most this many symlinks are followed in one resolution (as Linux).
const MAX_SYMLINKS: usize = 40;

/// Problems with paths in the build context.
#[derive(Debug, thiserror::Error)]
pub enum ContextError {
    /// The path does not exist, or `.dockerignore` excludes it.
    #[error("{path}: not found in the build context {context} (or excluded by .dockerignore)")]
    NotFound { path: String, context: String },
    /// A symlink chain that never ends.
    #[error("{path}: too many levels of symbolic links in the build context {context}")]
    SymlinkLoop { path: String, context: String },
    /// Reading the context failed.
    #[error("{path}: cannot read it in the build context: {source}")]
    Io {
        path: String,
        #[source]
        source: io::Error,
    },
}

/// What a context entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryKind {
    File,
    Dir,
    Symlink,
    /// Sockets, FIFOs, devices: skipped by COPY, as Docker does.
    Other,
}

/// One path of the context, relative to its root with `/` separators.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContextEntry {
    pub rel: String,
    pub kind: EntryKind,
}

/// A build context directory and its ignore rules.
#[derive(Debug, Clone)]
pub struct BuildContext {
    root: PathBuf,
    ignore: Option<DockerIgnore>,
}

fn kind_of(meta: &fs::Metadata) -> EntryKind {
    let t = meta.file_type();
    if t.is_symlink() {
        EntryKind::Symlink
    } else if t.is_dir() {
        EntryKind::Dir
    } else if t.is_file() {
        EntryKind::File
    } else {
        EntryKind::Other
    }
}

/// Splits a context-relative path into clean components: `.` dropped,
/// `..` clamped at the root, leading `/` ignored.
fn clean_components(rel: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for part in rel.split(['/', '\\']) {
        match part {
            "" | "." => {}
            ".." => {
                out.pop();
            }
            p => out.push(p.to_string()),
        }
    }
    out
}

impl BuildContext {
    /// A context rooted at `root`.
    pub fn new(root: impl Into<PathBuf>, ignore: Option<DockerIgnore>) -> Self {
        BuildContext {
            root: root.into(),
            ignore,
        }
    }

    /// The context directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn io_err(rel: &str, source: io::Error) -> ContextError {
        ContextError::Io {
            path: rel.to_string(),
            source,
        }
    }

    fn not_found(&self, rel: &str) -> ContextError {
        ContextError::NotFound {
            path: rel.to_string(),
            context: self.root.display().to_string(),
        }
    }

    /// Whether a `.dockerignore` applies (else every file is visible).
    pub fn has_ignore_rules(&self) -> bool {
        self.ignore.is_some()
    }

    /// Whether `.dockerignore` excludes a clean relative path.
    pub fn is_ignored(&self, rel: &str) -> bool {
        self.ignore.as_ref().is_some_and(|i| i.is_excluded(rel))
    }

    /// Resolves `rel` inside the context. Symlinks in intermediate
    /// components are always followed (confined to the context); the last
    /// component is followed only when `follow_last` is set. Returns the
    /// clean relative path that was reached.
    pub fn resolve(&self, rel: &str, follow_last: bool) -> Result<String, ContextError> {
        let mut pending: Vec<String> = clean_components(rel);
        pending.reverse();
        let mut done: Vec<String> = Vec::new();
        let mut hops = 0;
        while let Some(part) = pending.pop() {
            if part == ".." {
                done.pop();
                continue;
            }
            let candidate = self.root.join(done.iter().collect::<PathBuf>()).join(&part);
            let meta = match fs::symlink_metadata(&candidate) {
                Ok(m) => m,
                Err(e) if e.kind() == io::ErrorKind::NotFound => return Err(self.not_found(rel)),
                Err(e) => return Err(Self::io_err(rel, e)),
            };
            let is_last = pending.is_empty();
            if meta.file_type().is_symlink() && (!is_last || follow_last) {
                hops += 1;
                if hops > MAX_SYMLINKS {
                    return Err(ContextError::SymlinkLoop {
                        path: rel.to_string(),
                        context: self.root.display().to_string(),
                    });
                }
                let target = fs::read_link(&candidate).map_err(|e| Self::io_err(rel, e))?;
                let target = target.to_string_lossy().to_string();
                if target.starts_with('/') {
                    done.clear();
                }
                // Push the target's components (keeping `..`, handled above).
                let mut parts: Vec<String> = target
                    .split('/')
                    .filter(|p| !p.is_empty() && *p != ".")
                    .map(str::to_string)
                    .collect();
                parts.reverse();
                pending.extend(parts);
                continue;
            }
            done.push(part);
        }
        Ok(done.join("/"))
    }

    /// The kind of a clean relative path (not following a final symlink).
    pub fn kind(&self, rel: &str) -> Result<EntryKind, ContextError> {
        let path = self.root.join(rel);
        match fs::symlink_metadata(&path) {
            Ok(m) => Ok(kind_of(&m)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Err(self.not_found(rel)),
            Err(e) => Err(Self::io_err(rel, e)),
        }
    }

    /// Host path of a clean relative path.
    pub fn host_path(&self, rel: &str) -> PathBuf {
        if rel.is_empty() {
            self.root.clone()
        } else {
            self.root.join(rel)
        }
    }

    /// Every entry under the clean relative directory `dir` (not `dir`
    /// itself), sorted by path, skipping what `.dockerignore` excludes and
    /// what `exclude` says to skip; symlinks are listed, not followed.
    pub fn walk(
        &self,
        dir: &str,
        exclude: &dyn Fn(&str) -> bool,
    ) -> Result<Vec<ContextEntry>, ContextError> {
        let mut out = Vec::new();
        self.walk_into(dir, exclude, &mut out)?;
        Ok(out)
    }

    fn walk_into(
        &self,
        dir: &str,
        exclude: &dyn Fn(&str) -> bool,
        out: &mut Vec<ContextEntry>,
    ) -> Result<(), ContextError> {
        let host = self.host_path(dir);
        let mut names: Vec<String> = Vec::new();
        for entry in fs::read_dir(&host).map_err(|e| Self::io_err(dir, e))? {
            let entry = entry.map_err(|e| Self::io_err(dir, e))?;
            names.push(entry.file_name().to_string_lossy().to_string());
        }
        names.sort();
        for name in names {
            let rel = if dir.is_empty() {
                name.clone()
            } else {
                format!("{dir}/{name}")
            };
            let meta =
                fs::symlink_metadata(self.host_path(&rel)).map_err(|e| Self::io_err(&rel, e))?;
            let kind = kind_of(&meta);
            let by_ignore = self.is_ignored(&rel);
            let by_exclude = exclude(&rel);
            let ignored = by_ignore || by_exclude;
            if kind == EntryKind::Dir {
                // A `!` line in .dockerignore may re-include something
                // below an ignored directory; an exclusion has no `!`.
                let descend = !by_exclude
                    && (!by_ignore || self.ignore.as_ref().is_some_and(|i| i.must_descend(&rel)));
                if !ignored {
                    out.push(ContextEntry {
                        rel: rel.clone(),
                        kind,
                    });
                }
                if descend {
                    self.walk_into(&rel, exclude, out)?;
                }
            } else if !ignored {
                out.push(ContextEntry { rel, kind });
            }
        }
        Ok(())
    }
}

// The tests build symlinks with the Unix API.
#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn tree() -> tempfile::TempDir {
        let d = tempfile::tempdir().unwrap();
        let r = d.path();
        fs::create_dir_all(r.join("src/lib")).unwrap();
        fs::create_dir_all(r.join("etc")).unwrap();
        fs::write(r.join("src/main.rs"), "fn main(){}").unwrap();
        fs::write(r.join("src/lib/a.rs"), "").unwrap();
        fs::write(r.join("etc/passwd"), "inside").unwrap();
        fs::write(r.join("debug.log"), "").unwrap();
        fs::write(r.join("keep.log"), "").unwrap();
        symlink("/etc/passwd", r.join("abs-link")).unwrap();
        symlink("../../../../etc", r.join("src/up-link")).unwrap();
        symlink("loop2", r.join("loop1")).unwrap();
        symlink("loop1", r.join("loop2")).unwrap();
        d
    }

    #[test]
    fn symlinks_never_leave_the_context() {
        let d = tree();
        let c = BuildContext::new(d.path(), None);
        assert_eq!(c.resolve("abs-link", true).unwrap(), "etc/passwd");
        assert_eq!(c.resolve("abs-link", false).unwrap(), "abs-link");
        assert_eq!(c.resolve("src/up-link/passwd", true).unwrap(), "etc/passwd");
        assert_eq!(
            c.resolve("../../src/./lib/../main.rs", true).unwrap(),
            "src/main.rs"
        );
        assert_eq!(c.resolve("/", true).unwrap(), "");
        assert!(matches!(
            c.resolve("nope", true),
            Err(ContextError::NotFound { .. })
        ));
        assert!(matches!(
            c.resolve("loop1", true),
            Err(ContextError::SymlinkLoop { .. })
        ));
        let e = c.resolve("missing/x", true).unwrap_err().to_string();
        assert!(
            e.contains("missing/x") && e.contains("not found in the build context"),
            "{e}"
        );
    }

    #[test]
    fn walk_honours_dockerignore_and_reincludes() {
        let d = tree();
        let ignore =
            DockerIgnore::parse(".dockerignore", "*.log\n!keep.log\nsrc\n!src/lib/a.rs\n").unwrap();
        let c = BuildContext::new(d.path(), Some(ignore));
        let rels: Vec<String> = c
            .walk("", &|_| false)
            .unwrap()
            .into_iter()
            .map(|e| e.rel)
            .collect();
        assert_eq!(
            rels,
            vec![
                "abs-link",
                "etc",
                "etc/passwd",
                "keep.log",
                "loop1",
                "loop2",
                "src/lib/a.rs"
            ]
        );
        let rels: Vec<String> = c
            .walk("", &|p| p.starts_with("etc"))
            .unwrap()
            .into_iter()
            .map(|e| e.rel)
            .collect();
        assert!(!rels.iter().any(|r| r.starts_with("etc")));
        assert!(c.is_ignored("debug.log"));
    }
}
