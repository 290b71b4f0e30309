//! Path lookup in the merged view of the lower layers, done by the caller before the
//! sandbox starts.
//!
//! Mount points must be created in the merged tree before mounting, and removed from the
//! upper directory afterwards if the sandbox created them. Looking them up here, with
//! overlayfs semantics (whiteouts, opaque directories) and symlinks followed *inside* the
//! container root, tells which components exist and gives a symlink-free path, so the
//! child never follows a symlink out of the root while mounting.

use std::ffi::{OsStr, OsString};
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

/// Longest chain of symlinks followed before giving up (Linux's own limit).
const MAX_SYMLINKS: usize = 40;

/// The type of an entry in the merged view.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Dir,
    File,
    Other,
}

/// A container path resolved against the lowers.
#[derive(Debug, Clone)]
pub(crate) struct Resolved {
    /// Symlink-free components from the container root.
    pub components: Vec<OsString>,
    /// How many leading components exist in the merged view.
    pub existing: usize,
}

impl Resolved {
    /// The resolved path relative to the root (no leading slash).
    pub fn rel(&self) -> PathBuf {
        self.components.iter().collect()
    }

    /// Relative paths of the components that do not exist yet, shallowest first.
    pub fn missing(&self) -> Vec<PathBuf> {
        (self.existing..self.components.len())
            .map(|n| self.components[..=n].iter().collect())
            .collect()
    }

    /// Relative paths of the existing ancestors (not the root, not the entry itself).
    pub fn existing_dirs(&self) -> Vec<PathBuf> {
        let end = self.existing.min(self.components.len().saturating_sub(1));
        (0..end)
            .map(|n| self.components[..=n].iter().collect())
            .collect()
    }
}

/// The merged view of a stack of lower directories (top first).
pub(crate) struct Union<'a> {
    lowers: &'a [PathBuf],
}

fn is_whiteout(md: &fs::Metadata) -> bool {
    md.file_type().is_char_device() && md.rdev() == 0
}

fn is_opaque(path: &Path) -> bool {
    ["trusted.overlay.opaque", "user.overlay.opaque"]
        .iter()
        .any(|name| xattr_is_y(path, name))
}

/// True when the extended attribute `name` of `path` (not followed) is `y`.
pub(crate) fn xattr_is_y(path: &Path, name: &str) -> bool {
    let (Ok(p), Ok(n)) = (
        std::ffi::CString::new(path.as_os_str().as_bytes()),
        std::ffi::CString::new(name),
    ) else {
        return false;
    };
    let mut buf = [0u8; 4];
    // SAFETY: both strings are NUL-terminated and buf is a valid buffer of its length.
    let len =
        unsafe { libc::lgetxattr(p.as_ptr(), n.as_ptr(), buf.as_mut_ptr().cast(), buf.len()) };
    len == 1 && buf[0] == b'y'
}

impl<'a> Union<'a> {
    pub fn new(lowers: &'a [PathBuf]) -> Self {
        Union { lowers }
    }

    /// Looks up one entry by symlink-free relative components, honouring whiteouts and
    /// opaque directories. Returns the kind and every layer path that contributes (for
    /// a directory, all merged copies; otherwise the single visible one).
    pub(crate) fn entry(&self, components: &[OsString]) -> Option<(Kind, Vec<PathBuf>)> {
        let mut active: Vec<PathBuf> = self.lowers.to_vec();
        let mut kind = Kind::Dir;
        for name in components {
            if kind != Kind::Dir {
                return None;
            }
            let mut next = Vec::new();
            let mut next_kind = None;
            for dir in &active {
                let p = dir.join(name);
                let Ok(md) = fs::symlink_metadata(&p) else {
                    continue;
                };
                if is_whiteout(&md) {
                    break;
                }
                if md.is_dir() {
                    if next_kind.is_none() {
                        next_kind = Some(Kind::Dir);
                    } else if next_kind != Some(Kind::Dir) {
                        break;
                    }
                    let opaque = is_opaque(&p);
                    next.push(p);
                    if opaque {
                        break;
                    }
                } else {
                    if next_kind.is_none() {
                        next_kind = Some(if md.file_type().is_file() {
                            Kind::File
                        } else {
                            Kind::Other
                        });
                        next.push(p);
                    }
                    break;
                }
            }
            kind = next_kind?;
            active = next;
        }
        Some((kind, active))
    }

    /// Resolves an absolute container path, following symlinks inside the root.
    pub fn resolve(&self, path: &str) -> Resolved {
        let mut todo: Vec<OsString> = split(path).into_iter().rev().collect();
        let mut done: Vec<OsString> = Vec::new();
        let mut links = 0;
        let mut missing_from: Option<usize> = None;
        while let Some(name) = todo.pop() {
            if name == ".." {
                done.pop();
                if missing_from.is_some_and(|m| m >= done.len()) {
                    missing_from = None;
                }
                continue;
            }
            done.push(name);
            if missing_from.is_some() {
                continue;
            }
            match self.entry(&done) {
                None => missing_from = Some(done.len() - 1),
                Some((Kind::Other, layers)) if links < MAX_SYMLINKS => {
                    // A symlink (or a special file, which read_link refuses): follow it
                    // inside the root; an absolute target restarts from the root.
                    if let Ok(target) = fs::read_link(&layers[0]) {
                        links += 1;
                        done.pop();
                        if target.is_absolute() {
                            done.clear();
                        }
                        for c in split_os(target.as_os_str()).into_iter().rev() {
                            todo.push(c);
                        }
                    }
                }
                Some(_) => {}
            }
        }
        Resolved {
            existing: missing_from.unwrap_or(done.len()),
            components: done,
        }
    }

    /// Metadata (mode, uid, gid) of the visible copy of a relative path, not followed.
    pub fn metadata(&self, rel: &Path) -> Option<fs::Metadata> {
        let components: Vec<OsString> = rel.iter().map(OsStr::to_os_string).collect();
        let (_, layers) = self.entry(&components)?;
        fs::symlink_metadata(layers.first()?).ok()
    }
}

/// Splits an absolute or relative path into its normal components (`.` and empty ones
/// dropped, `..` kept for the resolver).
fn split(path: &str) -> Vec<OsString> {
    split_os(OsStr::new(path))
}

fn split_os(path: &OsStr) -> Vec<OsString> {
    path.as_bytes()
        .split(|b| *b == b'/')
        .filter(|c| !c.is_empty() && *c != b".")
        .map(|c| OsStr::from_bytes(c).to_os_string())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn names(r: &Resolved) -> (String, usize) {
        (r.rel().display().to_string(), r.existing)
    }

    #[test]
    fn resolves_symlinks_inside_the_root_and_honours_whiteouts_and_opaque_dirs() {
        let dir = tempfile::tempdir().unwrap();
        let (top, base) = (dir.path().join("top"), dir.path().join("base"));
        fs::create_dir_all(base.join("etc/old")).unwrap();
        fs::write(base.join("etc/old/f"), "").unwrap();
        fs::write(base.join("etc/hosts"), "").unwrap();
        fs::create_dir_all(base.join("run")).unwrap();
        fs::create_dir_all(base.join("var")).unwrap();
        symlink("../run", base.join("var/run")).unwrap();
        // An absolute symlink must stay inside the root, never reach the host's /etc.
        symlink("/etc", base.join("abs")).unwrap();
        fs::create_dir_all(top.join("etc/old")).unwrap();
        fs::write(top.join("etc/new"), "").unwrap();
        let status = std::process::Command::new("mknod")
            .arg(top.join("etc/hosts"))
            .args(["c", "0", "0"])
            .status()
            .unwrap();
        assert!(status.success());
        let lowers = vec![top.clone(), base.clone()];
        let u = Union::new(&lowers);
        assert_eq!(names(&u.resolve("/var/run/x/y")), ("run/x/y".into(), 1));
        assert_eq!(names(&u.resolve("/abs/new")), ("etc/new".into(), 2));
        // The whiteout in the top layer hides the base's /etc/hosts.
        assert_eq!(names(&u.resolve("/etc/hosts")), ("etc/hosts".into(), 1));
        // Without the opaque marker, the base's etc/old/f shows through.
        assert_eq!(names(&u.resolve("/etc/old/f")), ("etc/old/f".into(), 3));
        assert_eq!(
            names(&u.resolve("/missing/../etc/./new")),
            ("etc/new".into(), 2)
        );
        assert_eq!(names(&u.resolve("/../../etc")), ("etc".into(), 1));
        let r = u.resolve("/a/b");
        assert_eq!(r.missing(), [PathBuf::from("a"), PathBuf::from("a/b")]);
        assert!(r.existing_dirs().is_empty());
        let r = u.resolve("/etc/x/y");
        assert_eq!(r.existing_dirs(), [PathBuf::from("etc")]);
    }

    #[test]
    fn symlink_loops_end() {
        let dir = tempfile::tempdir().unwrap();
        symlink("b", dir.path().join("a")).unwrap();
        symlink("a", dir.path().join("b")).unwrap();
        let lowers = vec![dir.path().to_path_buf()];
        let r = Union::new(&lowers).resolve("/a/x");
        assert!(r.existing < r.components.len());
    }
}
