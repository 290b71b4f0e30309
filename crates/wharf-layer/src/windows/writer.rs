//! [`WindowsLayerWriter`]: the one writer of Windows layer tars.
//!
//! It enforces the importer's rules (docs/windows-layer-format.md) by construction: `Hives`
//! and `Files` are written first; a missing ancestor directory is declared
//! before its first descendant, with the base's metadata when the base has
//! that directory; every entry carries `fileattr`, `rawsd` and a nine-digit
//! `creationtime`; hardlink targets get the `Files/` prefix; symlink targets
//! are Windows paths; an opaque directory becomes one whiteout per child the
//! base had. Paths given to the writer are container paths relative to `C:\`
//! with `/` separators (`app/x.exe`); comparisons are case-insensitive.
//! Registry hive deltas go under `Hives/`, and alternate data streams are
//! `<file>:<stream>` entries right after their file, as go-winio's `backuptar`
//! reads them back.

use super::meta::{Timestamp, WinMeta, FILE_ATTRIBUTE_DIRECTORY, FILE_ATTRIBUTE_REPARSE_POINT};
use super::names::{fold_case, ntfs_name_problem, ntfs_path_problem};
use crate::error::{Error, Result};
use crate::linux::WHITEOUT_PREFIX;
use crate::tarfmt::{EntryKind, TarEntry, TarWriter};
use std::collections::{HashMap, HashSet};
use std::io::{Read, Write};

/// What the layer below looks like, so the writer can reuse directory metadata
/// and expand opaque directories. Implemented by [`crate::StageView`].
pub trait WindowsBase {
    /// Metadata of directory `path` (container path, case-insensitive) if the base has it.
    fn dir_meta(&self, path: &str) -> Option<WinMeta>;
    /// `path` as the base spells it, if the base has it (NTFS keeps the
    /// first spelling of a name; a layer must not add a second).
    fn spelling(&self, _path: &str) -> Option<String> {
        None
    }
    /// Names of the children of directory `path` in the base.
    fn children(&self, path: &str) -> Vec<String>;
}

/// An empty base (a layer on `scratch`, or when the base is unknown).
#[derive(Clone, Copy, Debug, Default)]
pub struct NoBase;

impl WindowsBase for NoBase {
    fn dir_meta(&self, _path: &str) -> Option<WinMeta> {
        None
    }
    fn children(&self, _path: &str) -> Vec<String> {
        Vec::new()
    }
}

/// Options of a Windows layer.
#[derive(Clone, Debug, Default)]
pub struct WindowsLayerOptions {
    /// Creation and modification time of entries the writer makes up
    /// (`Hives`, `Files`, ancestors not in the base).
    pub timestamp: Timestamp,
    /// The layer is a base layer: whiteouts are refused.
    pub base_layer: bool,
}

/// Writes a Windows layer tar to any `Write` (typically a [`crate::LayerBlobWriter`]).
pub struct WindowsLayerWriter<'b, W: Write> {
    tar: TarWriter<W>,
    base: &'b dyn WindowsBase,
    opts: WindowsLayerOptions,
    /// Case-folded container paths of directories written (root is ""),
    /// with the spelling written.
    dirs: HashMap<String, String>,
    /// Case-folded path → written path of every regular file, for hardlinks.
    files: HashMap<String, String>,
    /// Case-folded paths of every entry, to refuse duplicates.
    written: HashSet<String>,
    /// Case-folded names of the hive files written under `Hives/`.
    hives: HashSet<String>,
    /// Name of the last entry written: alternate streams must follow their file.
    last_name: String,
}

impl<'b, W: Write> WindowsLayerWriter<'b, W> {
    /// Starts a layer on top of `base` and writes the `Hives` and `Files` entries.
    pub fn new(inner: W, base: &'b dyn WindowsBase, opts: WindowsLayerOptions) -> Result<Self> {
        let mut w = WindowsLayerWriter {
            tar: TarWriter::new(inner),
            base,
            opts,
            dirs: HashMap::new(),
            files: HashMap::new(),
            written: HashSet::new(),
            hives: HashSet::new(),
            last_name: String::new(),
        };
        let meta = WinMeta::default_dir(w.opts.timestamp);
        w.raw_dir("Hives", &meta)?;
        w.raw_dir("Files", &base.dir_meta("").unwrap_or(meta))?;
        w.dirs.insert(String::new(), String::new());
        Ok(w)
    }

    /// The base this layer is written on.
    pub fn base(&self) -> &'b dyn WindowsBase {
        self.base
    }

    /// `path` with each component spelled as this layer or the base
    /// already spells it: NTFS names are case-insensitive and keep their
    /// first spelling, so `APP/BIN/x` over an existing `app/bin` is
    /// written `app/bin/x`, never as a second directory.
    pub fn canonical(&self, path: &str) -> String {
        // A path the layer refuses stays as given, for the refusal to name.
        if self.check_path(path).is_err() {
            return path.to_string();
        }
        let mut out = String::new();
        for comp in path.split('/') {
            let candidate = if out.is_empty() {
                comp.to_string()
            } else {
                format!("{out}/{comp}")
            };
            out = match self.dirs.get(&fold_case(&candidate)) {
                Some(spelled) => spelled.clone(),
                None => self.base.spelling(&candidate).unwrap_or(candidate),
            };
        }
        out
    }

    fn check_path(&self, path: &str) -> Result<()> {
        if path.is_empty() || path.starts_with('/') || path.contains('\\') {
            return Err(Error::WindowsLayer {
                path: path.into(),
                reason: "paths must be relative to C:\\ with '/' separators".into(),
            });
        }
        if path
            .split('/')
            .any(|c| c == "." || c == ".." || c.is_empty())
        {
            return Err(Error::WindowsLayer {
                path: path.into(),
                reason: "paths must be clean (no '.', '..' or empty components)".into(),
            });
        }
        if let Some(p) = ntfs_path_problem(path) {
            return Err(Error::NtfsName {
                path: path.into(),
                reason: p,
            });
        }
        if self.written.contains(&fold_case(path)) {
            return Err(Error::WindowsLayer {
                path: path.into(),
                reason: "written twice (names are case-insensitive on Windows)".into(),
            });
        }
        Ok(())
    }

    fn raw_dir(&mut self, name: &str, meta: &WinMeta) -> Result<()> {
        let mut m = meta.clone();
        m.attributes |= FILE_ATTRIBUTE_DIRECTORY;
        let mut e = TarEntry::new(name, EntryKind::Dir);
        e.mtime = m.mtime;
        e.pax = m.pax_records();
        self.write(e, None)
    }

    fn write(&mut self, entry: TarEntry, data: Option<&mut dyn Read>) -> Result<()> {
        let name = entry.path.clone();
        self.tar
            .append(&entry, data)
            .map_err(|e| Error::io("writing Windows layer entry", name.clone(), e))?;
        self.last_name = name;
        Ok(())
    }

    /// Declares every missing ancestor of `path`, outermost first.
    fn ensure_ancestors(&mut self, path: &str) -> Result<()> {
        let mut prefix = String::new();
        let comps: Vec<&str> = path.split('/').collect();
        for c in &comps[..comps.len() - 1] {
            if !prefix.is_empty() {
                prefix.push('/');
            }
            prefix.push_str(c);
            let key = fold_case(&prefix);
            if self.dirs.contains_key(&key) {
                continue;
            }
            if self.written.contains(&key) {
                return Err(Error::WindowsLayer {
                    path: path.into(),
                    reason: format!("its parent {prefix:?} was written as a non-directory"),
                });
            }
            let meta = self
                .base
                .dir_meta(&prefix)
                .unwrap_or_else(|| WinMeta::default_dir(self.opts.timestamp));
            self.raw_dir(&format!("Files/{prefix}"), &meta)?;
            self.dirs.insert(key.clone(), prefix.clone());
            self.written.insert(key);
        }
        Ok(())
    }

    fn begin(&mut self, path: &str) -> Result<()> {
        self.check_path(path)?;
        self.ensure_ancestors(path)
    }

    /// Whether directory `path` is in the layer already (added or declared as
    /// an ancestor).
    pub fn has_dir(&self, path: &str) -> bool {
        self.dirs.contains_key(&fold_case(path))
    }

    /// Adds directory `path`. Without `meta`, the base's metadata is reused when
    /// the base has the directory, else defaults.
    pub fn add_dir(&mut self, path: &str, meta: Option<WinMeta>) -> Result<()> {
        let canonical = self.canonical(path);
        let path = canonical.as_str();
        self.begin(path)?;
        let meta = meta
            .or_else(|| self.base.dir_meta(path))
            .unwrap_or_else(|| WinMeta::default_dir(self.opts.timestamp));
        self.raw_dir(&format!("Files/{path}"), &meta)?;
        let key = fold_case(path);
        self.dirs.insert(key.clone(), path.to_string());
        self.written.insert(key);
        Ok(())
    }

    /// Adds a regular file of `size` bytes read from `data`.
    pub fn add_file(
        &mut self,
        path: &str,
        size: u64,
        meta: Option<WinMeta>,
        data: &mut dyn Read,
    ) -> Result<()> {
        let canonical = self.canonical(path);
        let path = canonical.as_str();
        self.begin(path)?;
        let mut m = meta.unwrap_or_else(|| WinMeta::default_file(self.opts.timestamp));
        m.attributes &= !(FILE_ATTRIBUTE_DIRECTORY | FILE_ATTRIBUTE_REPARSE_POINT);
        if m.attributes == 0 {
            m.attributes = super::meta::FILE_ATTRIBUTE_ARCHIVE;
        }
        let mut e = TarEntry::new(format!("Files/{path}"), EntryKind::File { size });
        e.mtime = m.mtime;
        e.pax = m.pax_records();
        self.write(e, Some(data))?;
        let key = fold_case(path);
        self.files.insert(key.clone(), path.to_string());
        self.written.insert(key);
        Ok(())
    }

    /// Adds a symbolic link. `target` is a Windows path (`..\lib\x` or `C:\x`);
    /// forward slashes are turned into backslashes. `is_dir` makes it a
    /// directory symlink.
    pub fn add_symlink(
        &mut self,
        path: &str,
        target: &str,
        is_dir: bool,
        meta: Option<WinMeta>,
    ) -> Result<()> {
        let canonical = self.canonical(path);
        let path = canonical.as_str();
        self.begin(path)?;
        let mut m = meta.unwrap_or_else(|| {
            if is_dir {
                WinMeta::default_dir(self.opts.timestamp)
            } else {
                WinMeta::default_file(self.opts.timestamp)
            }
        });
        m.attributes |= FILE_ATTRIBUTE_REPARSE_POINT;
        if is_dir {
            m.attributes |= FILE_ATTRIBUTE_DIRECTORY;
        }
        let mut e = TarEntry::new(
            format!("Files/{path}"),
            EntryKind::Symlink {
                target: target.replace('/', "\\"),
            },
        );
        e.mode = 0o777;
        e.mtime = m.mtime;
        e.pax = m.pax_records();
        self.write(e, None)?;
        self.written.insert(fold_case(path));
        Ok(())
    }

    /// Adds a hardlink to a file written earlier in this layer.
    pub fn add_hardlink(&mut self, path: &str, target: &str, meta: Option<WinMeta>) -> Result<()> {
        let canonical = self.canonical(path);
        let path = canonical.as_str();
        let Some(actual) = self.files.get(&fold_case(target)).cloned() else {
            return Err(Error::WindowsLayer {
                path: path.into(),
                reason: format!(
                    "hardlink target {target:?} is not a file written earlier in this layer"
                ),
            });
        };
        self.begin(path)?;
        let m = meta.unwrap_or_else(|| WinMeta::default_file(self.opts.timestamp));
        let mut e = TarEntry::new(
            format!("Files/{path}"),
            EntryKind::Hardlink {
                target: format!("Files/{actual}"),
            },
        );
        e.mtime = m.mtime;
        e.pax = m.pax_records();
        self.write(e, None)?;
        self.written.insert(fold_case(path));
        Ok(())
    }

    /// Deletes `path` of the base.
    pub fn add_whiteout(&mut self, path: &str) -> Result<()> {
        let canonical = self.canonical(path);
        let path = canonical.as_str();
        if self.opts.base_layer {
            return Err(Error::WindowsLayer {
                path: path.into(),
                reason: "base layers may not contain whiteouts".into(),
            });
        }
        self.check_path(path)?;
        self.ensure_ancestors(path)?;
        let (dir, name) = path.rsplit_once('/').map_or(("", path), |(d, n)| (d, n));
        let wh = if dir.is_empty() {
            format!("Files/{WHITEOUT_PREFIX}{name}")
        } else {
            format!("Files/{dir}/{WHITEOUT_PREFIX}{name}")
        };
        let m = WinMeta::default_file(self.opts.timestamp);
        let mut e = TarEntry::new(wh, EntryKind::File { size: 0 });
        e.mtime = m.mtime;
        e.pax = m.pax_records();
        self.write(e, Some(&mut std::io::empty()))
    }

    /// Hides everything the base has in directory `path`: the importer does not
    /// understand opaque markers, so one whiteout per base child is written.
    /// Returns how many whiteouts were written.
    pub fn add_opaque_dir(&mut self, path: &str) -> Result<usize> {
        let canonical = self.canonical(path);
        let path = canonical.as_str();
        let children = self.base.children(path);
        for c in &children {
            let child = if path.is_empty() {
                c.clone()
            } else {
                format!("{path}/{c}")
            };
            self.add_whiteout(&child)?;
        }
        Ok(children.len())
    }

    /// Adds registry hive delta `name` (`System_Delta`, ...) as `Hives/<name>`.
    pub fn add_hive(
        &mut self,
        name: &str,
        size: u64,
        meta: Option<WinMeta>,
        data: &mut dyn Read,
    ) -> Result<()> {
        let path = format!("Hives/{name}");
        if name.contains('/') {
            return Err(Error::WindowsLayer {
                path,
                reason: "a hive is one file directly under Hives/".into(),
            });
        }
        if let Some(p) = ntfs_name_problem(name) {
            return Err(Error::NtfsName { path, reason: p });
        }
        if !self.hives.insert(fold_case(name)) {
            return Err(Error::WindowsLayer {
                path,
                reason: "written twice (names are case-insensitive on Windows)".into(),
            });
        }
        let mut m = meta.unwrap_or_else(|| WinMeta::default_file(self.opts.timestamp));
        m.attributes &= !(FILE_ATTRIBUTE_DIRECTORY | FILE_ATTRIBUTE_REPARSE_POINT);
        if m.attributes == 0 {
            m.attributes = super::meta::FILE_ATTRIBUTE_ARCHIVE;
        }
        let mut e = TarEntry::new(path, EntryKind::File { size });
        e.mtime = m.mtime;
        e.pax = m.pax_records();
        self.write(e, Some(data))
    }

    /// Adds alternate data stream `stream` of `path`, a file or directory that
    /// must be the entry written just before (or one of its other streams):
    /// the importer only attaches streams that directly follow their file.
    /// The entry carries `meta` (normally the file's) so every entry has the
    /// Windows records; the importer reads only the stream's data.
    pub fn add_alternate_stream(
        &mut self,
        path: &str,
        stream: &str,
        size: u64,
        meta: Option<WinMeta>,
        data: &mut dyn Read,
    ) -> Result<()> {
        let canonical = self.canonical(path);
        let path = canonical.as_str();
        let full = format!("{path}:{stream}");
        if let Some(p) = ntfs_name_problem(stream) {
            return Err(Error::NtfsName {
                path: full,
                reason: format!("stream name {p}"),
            });
        }
        let owner = format!("Files/{path}");
        let follows = self.last_name == owner
            || self
                .last_name
                .strip_prefix(&owner)
                .is_some_and(|rest| rest.starts_with(':'));
        let key = fold_case(path);
        if !follows || !(self.files.contains_key(&key) || self.dirs.contains_key(&key)) {
            return Err(Error::WindowsLayer {
                path: full,
                reason: "an alternate data stream must directly follow its file or directory"
                    .into(),
            });
        }
        if !self.written.insert(fold_case(&full)) {
            return Err(Error::WindowsLayer {
                path: full,
                reason: "written twice (names are case-insensitive on Windows)".into(),
            });
        }
        let mut m = meta.unwrap_or_else(|| WinMeta::default_file(self.opts.timestamp));
        m.attributes &= !(FILE_ATTRIBUTE_DIRECTORY | FILE_ATTRIBUTE_REPARSE_POINT);
        if m.attributes == 0 {
            m.attributes = super::meta::FILE_ATTRIBUTE_ARCHIVE;
        }
        m.mountpoint = false;
        let mut e = TarEntry::new(format!("Files/{full}"), EntryKind::File { size });
        e.mtime = m.mtime;
        e.pax = m.pax_records();
        self.write(e, Some(data))
    }

    /// Ends the archive and returns the inner writer.
    pub fn finish(self) -> Result<W> {
        self.tar
            .finish()
            .map_err(|e| Error::io("finishing", "Windows layer tar", e))
    }
}
