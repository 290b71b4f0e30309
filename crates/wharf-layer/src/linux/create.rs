//! Filesystem sources for [`LinuxLayerWriter`]: a whole directory tree, or an
//! overlayfs upper directory (whose 0/0 character devices are whiteouts and
//! whose `trusted.overlay.opaque=y` directories are opaque).
//!
//! Entries are emitted depth-first with siblings sorted by their byte names,
//! so a directory always precedes its contents and output is deterministic.
//! Files with several links become one file entry plus hardlink entries.

use super::writer::LinuxLayerWriter;
use crate::error::{Error, Result};
use crate::tarfmt::{EntryKind, TarEntry};
use std::collections::HashMap;
use std::ffi::OsString;
use std::fs::{self, File, Metadata};
use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt};
use std::path::Path;

/// How the source tree encodes deletions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum SourceKind {
    /// A plain tree: everything in it is content.
    Plain,
    /// An overlayfs upper directory.
    OverlayUpper,
}

const OVERLAY_XATTR_PREFIXES: [&str; 2] = ["trusted.overlay.", "user.overlay."];

impl<W: Write> LinuxLayerWriter<W> {
    /// Adds every entry below `root` (not `root` itself), with names relative to it.
    pub fn add_dir_tree(&mut self, root: &Path) -> Result<()> {
        let mut links = HashMap::new();
        walk(self, root, "", SourceKind::Plain, &mut links)
    }

    /// Adds the contents of an overlayfs upper directory as a layer: 0/0
    /// character devices become `.wh.` whiteouts, opaque directories get a
    /// `.wh..wh..opq` marker, overlay's own xattrs are left out.
    pub fn add_overlay_upper(&mut self, upper: &Path) -> Result<()> {
        let mut links = HashMap::new();
        walk(self, upper, "", SourceKind::OverlayUpper, &mut links)
    }
}

pub(crate) fn sorted_children(dir: &Path) -> Result<Vec<OsString>> {
    let mut names = Vec::new();
    for e in fs::read_dir(dir).map_err(|e| Error::io("listing", dir, e))? {
        names.push(e.map_err(|e| Error::io("listing", dir, e))?.file_name());
    }
    names.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
    Ok(names)
}

fn walk<W: Write>(
    w: &mut LinuxLayerWriter<W>,
    dir: &Path,
    rel: &str,
    kind: SourceKind,
    links: &mut HashMap<(u64, u64), String>,
) -> Result<()> {
    for name in sorted_children(dir)? {
        let abs = dir.join(&name);
        let path = child_path(rel, &name, &abs)?;
        if emit_entry(w, &abs, &path, kind == SourceKind::OverlayUpper, links)? {
            walk(w, &abs, &path, kind, links)?;
        }
    }
    Ok(())
}

/// `rel/name` as a UTF-8 layer path.
pub(crate) fn child_path(rel: &str, name: &OsString, abs: &Path) -> Result<String> {
    let name_str = name.to_str().ok_or_else(|| {
        Error::Unsupported(format!(
            "{}: file names that are not UTF-8 cannot be written to a layer; rename it",
            abs.display()
        ))
    })?;
    Ok(if rel.is_empty() {
        name_str.to_string()
    } else {
        format!("{rel}/{name_str}")
    })
}

/// Writes the entry for one filesystem object; returns true when it is a
/// directory whose contents the caller should walk.
pub(crate) fn emit_entry<W: Write>(
    w: &mut LinuxLayerWriter<W>,
    abs: &Path,
    path: &str,
    overlay: bool,
    links: &mut HashMap<(u64, u64), String>,
) -> Result<bool> {
    let md = fs::symlink_metadata(abs).map_err(|e| Error::io("reading metadata of", abs, e))?;
    let ft = md.file_type();
    if overlay && ft.is_char_device() && md.rdev() == 0 {
        w.add_whiteout(path, mtime_of(&md))?;
        return Ok(false);
    }
    let xattrs = if w.options().skip_xattrs {
        Vec::new()
    } else {
        read_xattrs(abs)?
    };
    let opaque = overlay
        && ft.is_dir()
        && xattrs
            .iter()
            .any(|(k, v)| k.ends_with("overlay.opaque") && v.as_slice() == b"y");
    if overlay
        && xattrs
            .iter()
            .any(|(k, _)| k.ends_with("overlay.redirect") || k.ends_with("overlay.metacopy"))
    {
        return Err(Error::Unsupported(format!(
            "{}: overlayfs redirect/metacopy entries cannot be turned into a layer; \
             mount the overlay with redirect_dir=off,metacopy=off",
            abs.display()
        )));
    }
    let mut entry = TarEntry::new(path.to_string(), EntryKind::Dir);
    entry.mode = md.mode() & 0o7777;
    entry.uid = u64::from(md.uid());
    entry.gid = u64::from(md.gid());
    entry.mtime = mtime_of(&md);
    entry.pax = xattrs
        .into_iter()
        .filter(|(k, _)| !OVERLAY_XATTR_PREFIXES.iter().any(|p| k.starts_with(p)))
        .map(|(k, v)| (format!("SCHILY.xattr.{k}"), v))
        .collect();
    if ft.is_dir() {
        w.append(entry, None)?;
        if opaque {
            w.add_opaque_marker(path, mtime_of(&md))?;
        }
        return Ok(true);
    }
    if ft.is_file() {
        if md.nlink() > 1 {
            if let Some(first) = links.get(&(md.dev(), md.ino())) {
                entry.kind = EntryKind::Hardlink {
                    target: first.clone(),
                };
                w.append(entry, None)?;
                return Ok(false);
            }
            links.insert((md.dev(), md.ino()), path.to_string());
        }
        entry.kind = EntryKind::File { size: md.len() };
        let mut f = File::options()
            .read(true)
            .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32)
            .open(abs)
            .map_err(|e| Error::io("opening", abs, e))?;
        w.append(entry, Some(&mut f))?;
    } else if ft.is_symlink() {
        let target = fs::read_link(abs).map_err(|e| Error::io("reading link", abs, e))?;
        let target = target.to_str().ok_or_else(|| {
            Error::Unsupported(format!("{}: symlink target is not UTF-8", abs.display()))
        })?;
        entry.kind = EntryKind::Symlink {
            target: target.to_string(),
        };
        entry.pax.clear();
        w.append(entry, None)?;
    } else if ft.is_char_device() || ft.is_block_device() {
        let (major, minor) = split_dev(md.rdev());
        entry.kind = if ft.is_char_device() {
            EntryKind::CharDevice { major, minor }
        } else {
            EntryKind::BlockDevice { major, minor }
        };
        w.append(entry, None)?;
    } else if ft.is_fifo() {
        entry.kind = EntryKind::Fifo;
        w.append(entry, None)?;
    }
    // Sockets cannot be stored in a tar and mean nothing in an image: skipped.
    Ok(false)
}

fn mtime_of(md: &Metadata) -> u64 {
    u64::try_from(md.mtime()).unwrap_or(0)
}

fn split_dev(dev: u64) -> (u32, u32) {
    (rustix::fs::major(dev), rustix::fs::minor(dev))
}

/// Extended attributes of `path` (not following symlinks), sorted by name.
#[cfg(any(target_os = "linux", target_os = "android"))]
pub(crate) fn read_xattrs(path: &Path) -> Result<Vec<(String, Vec<u8>)>> {
    use rustix::io::Errno;
    let size = match rustix::fs::llistxattr_query(path) {
        Ok(n) => n,
        Err(Errno::NOTSUP) => return Ok(Vec::new()),
        Err(e) => return Err(Error::io("listing xattrs of", path, e.into())),
    };
    if size == 0 {
        return Ok(Vec::new());
    }
    let mut list = vec![0u8; size];
    let n = rustix::fs::llistxattr(path, &mut list[..])
        .map_err(|e| Error::io("listing xattrs of", path, e.into()))?;
    let mut out = Vec::new();
    for name in list[..n].split(|b| *b == 0).filter(|s| !s.is_empty()) {
        let Ok(name) = std::str::from_utf8(name) else {
            continue;
        };
        let len = match rustix::fs::lgetxattr_query(path, name) {
            Ok(len) => len,
            Err(Errno::NODATA) => continue,
            Err(e) => return Err(Error::io("reading xattr of", path, e.into())),
        };
        let mut value = vec![0u8; len];
        let got = rustix::fs::lgetxattr(path, name, &mut value[..])
            .map_err(|e| Error::io("reading xattr of", path, e.into()))?;
        value.truncate(got);
        out.push((name.to_string(), value));
    }
    out.sort();
    Ok(out)
}

/// Extended attributes are read on Linux only.
#[cfg(not(any(target_os = "linux", target_os = "android")))]
pub(crate) fn read_xattrs(_path: &Path) -> Result<Vec<(String, Vec<u8>)>> {
    Ok(Vec::new())
}
