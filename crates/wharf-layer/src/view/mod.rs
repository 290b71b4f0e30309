//! Read-only merged views of a stage's files (docs/cross-os.md, "Reading a stage's files").
//!
//! A [`StageView`] is what `COPY --from`, `RUN --mount=from=` and the cross-OS
//! transforms read. It has two backings:
//! - an index over the layer tars themselves ([`StageView::from_layers`]):
//!   whiteouts applied, hardlinks resolved, no host filesystem involved, so
//!   names the host could not hold survive;
//! - an unpacked snapshot directory ([`StageView::from_snapshot`]), when the
//!   stage ran `RUN` on this host.
//!
//! In a Windows view, paths are container paths without the `Files/` prefix,
//! `Hives/` and `UtilityVM/` are left out, lookups are case-insensitive, and
//! names that differ only in case within one layer are reported.

mod mkdir;
#[cfg(unix)]
mod snapshot;
mod tar_index;

pub use mkdir::MkdirError;

use crate::error::{Error, Result};
use crate::windows::meta::WinMeta;
use crate::windows::names::fold_case;
use crate::windows::writer::WindowsBase;
use std::collections::BTreeMap;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::PathBuf;

/// The operating system whose layer format a view reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LayerOs {
    /// Linux layers: names as they are, `.wh.` whiteouts, case-sensitive.
    Linux,
    /// Windows layers: `Files/` prefix, PAX metadata, case-insensitive.
    Windows,
}

/// What an entry of a view is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ViewKind {
    /// A regular file (hardlinks resolve to this, with their target's content).
    File {
        /// Size in bytes.
        size: u64,
    },
    /// A directory.
    Dir,
    /// A symbolic link, target as stored (Windows: backslashes).
    Symlink {
        /// The link target.
        target: String,
    },
    /// A character device.
    CharDevice {
        /// Major number.
        major: u32,
        /// Minor number.
        minor: u32,
    },
    /// A block device.
    BlockDevice {
        /// Major number.
        major: u32,
        /// Minor number.
        minor: u32,
    },
    /// A named pipe.
    Fifo,
}

/// Where an entry's content lives.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Location {
    /// In layer `layer`'s (uncompressed) tar, data starting at `offset`.
    Tar { layer: usize, offset: u64 },
    /// A file of the snapshot directory.
    #[cfg_attr(not(unix), allow(dead_code))]
    Snapshot(PathBuf),
    /// No content (directories, links, devices).
    None,
}

/// One entry of a merged view.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ViewEntry {
    /// Path in the stage, relative, `/`-separated, in the case it was written.
    pub path: String,
    /// Type and type-specific data.
    pub kind: ViewKind,
    /// Unix permission bits.
    pub mode: u32,
    /// Owner user id.
    pub uid: u64,
    /// Owner group id.
    pub gid: u64,
    /// Modification time, seconds since the epoch.
    pub mtime: u64,
    /// Extended attributes (Linux).
    pub xattrs: Vec<(String, Vec<u8>)>,
    /// Windows metadata (Windows views).
    pub windows: Option<WinMeta>,
    /// Another path of this view that is the same file (a hardlink whose
    /// target is in the view); `None` for a file that stands alone or whose
    /// link target was dropped (it is then a copy of the target's content).
    pub hardlink_to: Option<String>,
    location: Location,
}

/// A read-only merged view of a stage's file tree.
pub struct StageView {
    os: LayerOs,
    /// Keys: the path (Linux) or its case-folded form (Windows).
    entries: BTreeMap<String, ViewEntry>,
    /// Uncompressed tar of each layer, for reading contents.
    layer_tars: Vec<PathBuf>,
    case_collisions: Vec<(String, String)>,
}

/// Limits for indexing layers, and whether file contents stay readable.
#[derive(Clone, Debug)]
pub struct ViewOptions {
    /// Cap on each layer's decompressed size. Default 64 GiB.
    pub max_uncompressed_bytes: u64,
    /// Whether [`StageView::open`] can read files (compressed layers are
    /// then decompressed into the spool directory). Without it the layers
    /// are read once for their entries and nothing is spooled: for callers
    /// that only look at the tree. Default true.
    pub contents: bool,
}

impl Default for ViewOptions {
    fn default() -> Self {
        ViewOptions {
            max_uncompressed_bytes: 64 << 30,
            contents: true,
        }
    }
}

impl ViewOptions {
    /// The default limits, without file contents.
    pub fn tree_only() -> Self {
        ViewOptions {
            contents: false,
            ..ViewOptions::default()
        }
    }
}

impl StageView {
    /// The OS whose format this view reads.
    pub fn os(&self) -> LayerOs {
        self.os
    }

    fn key(&self, path: &str) -> String {
        let trimmed = path.trim_matches('/');
        match self.os {
            LayerOs::Linux => trimmed.to_string(),
            LayerOs::Windows => fold_case(trimmed),
        }
    }

    /// The entry at `path` (relative or absolute; case-insensitive in Windows views).
    pub fn entry(&self, path: &str) -> Option<&ViewEntry> {
        self.entries.get(&self.key(path))
    }

    /// Every entry, each directory before its contents.
    pub fn entries(&self) -> impl Iterator<Item = &ViewEntry> {
        self.entries.values()
    }

    /// `path` itself (unless it is the root) and everything below it, in order.
    pub fn subtree(&self, path: &str) -> Vec<&ViewEntry> {
        let key = self.key(path);
        if key.is_empty() {
            return self.entries.values().collect();
        }
        let mut out: Vec<&ViewEntry> = self.entries.get(&key).into_iter().collect();
        out.extend(
            self.entries
                .range(format!("{key}/")..format!("{key}0"))
                .map(|(_, e)| e),
        );
        out
    }

    /// Names of the direct children of directory `path`.
    pub fn children(&self, path: &str) -> Vec<String> {
        let key = self.key(path);
        let prefix = if key.is_empty() {
            String::new()
        } else {
            format!("{key}/")
        };
        let range = if key.is_empty() {
            self.entries.range(String::new()..)
        } else {
            self.entries.range(prefix.clone()..format!("{key}0"))
        };
        range
            .filter(|(k, _)| !k[prefix.len()..].contains('/'))
            .filter_map(|(_, e)| e.path.rsplit('/').next().map(str::to_string))
            .collect()
    }

    /// Pairs of names that differ only in case (Windows views; they cannot
    /// both exist on NTFS, the later one won).
    pub fn case_collisions(&self) -> &[(String, String)] {
        &self.case_collisions
    }

    /// The text of the regular file at `path`, at most `limit` bytes of
    /// it; `None` when there is none or it is not UTF-8.
    pub fn read_text(&self, path: &str, limit: u64) -> Option<String> {
        let entry = self.entry(path)?;
        let mut text = String::new();
        self.open(entry)
            .ok()?
            .take(limit)
            .read_to_string(&mut text)
            .ok()?;
        Some(text)
    }

    /// Opens the content of a regular file entry.
    pub fn open(&self, entry: &ViewEntry) -> Result<Box<dyn Read + Send>> {
        let ViewKind::File { size } = entry.kind else {
            return Err(Error::Unsupported(format!(
                "{:?} is not a regular file",
                entry.path
            )));
        };
        match &entry.location {
            Location::Tar { layer, offset } => {
                let path = self.layer_tars.get(*layer).ok_or_else(|| Error::NotFound {
                    path: entry.path.clone(),
                })?;
                if path.as_os_str().is_empty() {
                    return Err(Error::Unsupported(format!(
                        "{:?}: this view of the layers was made without file contents",
                        entry.path
                    )));
                }
                let mut f = File::open(path).map_err(|e| Error::io("opening layer", path, e))?;
                f.seek(SeekFrom::Start(*offset))
                    .map_err(|e| Error::io("seeking in layer", path, e))?;
                Ok(Box::new(f.take(size)))
            }
            Location::Snapshot(p) => {
                let f = File::open(p).map_err(|e| Error::io("opening", p, e))?;
                Ok(Box::new(f.take(size)))
            }
            Location::None => Err(Error::NotFound {
                path: entry.path.clone(),
            }),
        }
    }
}

impl WindowsBase for StageView {
    fn dir_meta(&self, path: &str) -> Option<WinMeta> {
        // The root (`Files` itself) is not an entry of the view.
        let e = self.entry(path).filter(|_| !path.is_empty())?;
        match e.kind {
            ViewKind::Dir => e.windows.clone(),
            _ => None,
        }
    }

    fn children(&self, path: &str) -> Vec<String> {
        StageView::children(self, path)
    }

    fn spelling(&self, path: &str) -> Option<String> {
        self.entry(path)
            .filter(|_| !path.is_empty())
            .map(|e| e.path.clone())
    }
}
