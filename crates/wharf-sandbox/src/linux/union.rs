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

/// An entry found in the merged view.
#[derive(Debug, Clone)]
pub(crate) struct Found {
    pub kind: Kind,
    /// Host path of the visible (topmost) copy.
    pub host: PathBuf,
}

/// A container path resolved against the lowers.
#[derive(Debug, Clone)]
pub(crate) struct Resolved {
    /// Symlink-free components from the container root.
    pub components: Vec<OsString>,
    /// How many leading components exist in the merged view.
    pub existing: usize,
    /// The final entry when it exists.
    pub found: Option<Found>,
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
    fn entry(&self, components: &[OsString]) -> Option<(Kind, Vec<PathBuf>)> {
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
        let mut last: Option<Found> = Some(Found {
            kind: Kind::Dir,
            host: self.lowers.first().cloned().unwrap_or_default(),
        });
        while let Some(name) = todo.pop() {
            if name == ".." {
                done.pop();
                if missing_from.is_some_and(|m| m > done.len()) {
                    missing_from = None;
                }
                last = self.found(&done);
                continue;
            }
            done.push(name);
            if missing_from.is_some() {
                last = None;
                continue;
            }
            match self.entry(&done) {
                None => {
                    missing_from = Some(done.len() - 1);
                    last = None;
                }
                Some((Kind::Other, layers)) if links < MAX_SYMLINKS => {
                    let host = layers[0].clone();
                    match fs::read_link(&host) {
                        Ok(target) => {
                            links += 1;
                            done.pop();
                            if target.is_absolute() {
                                done.clear();
                            }
                            for c in split_os(target.as_os_str()).into_iter().rev() {
                                todo.push(c);
                            }
                            last = self.found(&done);
                        }
                        Err(_) => {
                            last = Some(Found {
                                kind: Kind::Other,
                                host,
                            })
                        }
                    }
                }
                Some((kind, layers)) => {
                    last = Some(Found {
                        kind,
                        host: layers[0].clone(),
                    })
                }
            }
        }
        Resolved {
            existing: missing_from.unwrap_or(done.len()),
            components: done,
            found: if missing_from.is_some() { None } else { last },
        }
    }

    fn found(&self, components: &[OsString]) -> Option<Found> {
        self.entry(components).map(|(kind, layers)| Found {
            kind,
            host: layers[0].clone(),
        })
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
