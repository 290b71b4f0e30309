//! Tar archives extracted into a layer (Dockerfile `ADD` of a local
//! archive): recognised by content, not by name (plain tar, gzip, bzip2,
//! xz, zstd, through [`crate::compress`], as Docker does), and written
//! under a destination directory of the new layer.
//!
//! Archives come from the user's context but are often third-party
//! downloads, so extraction is defensive: names are cleaned by the layer
//! name rules ([`crate::linux::names`]) except that absolute names are
//! taken relative to the destination (as Docker does) while `..` is
//! refused, hardlinks must point inside the archive, devices are skipped,
//! and the decompressed size is capped.
//!
//! The shape of the tree is decided here, once, for Linux and Windows
//! layers alike ([`Shape`]), so that ADD never writes a layer that the
//! layer engine's own unpacker refuses later: an entry below a symlink or
//! below a file, and a hard link to anything but a regular file earlier in
//! the archive, are refused (a symlink loop only matters to an entry below
//! it, which is refused). PAX records are checked by [`crate::pax`].

use crate::compress::{decoder, CappedReader, Format};
use crate::linux::names::{clean_components, join as join_components};
use crate::{tarfmt, LinuxLayerWriter, TarEntry, Timestamp, WinMeta, WindowsLayerWriter};
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::Path;

/// Largest decompressed archive extracted (a bomb guard).
pub const MAX_EXTRACTED_BYTES: u64 = 64 << 30;

/// An archive that cannot be extracted.
#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    /// Reading or decompressing the archive failed.
    #[error("{archive}: {source}")]
    Io {
        /// The archive's path.
        archive: String,
        /// The failure.
        #[source]
        source: io::Error,
    },
    /// An entry is refused (a name that climbs out of the destination).
    #[error("{archive}: entry {entry:?} {reason}")]
    BadEntry {
        /// The archive's path.
        archive: String,
        /// The entry's name as written.
        entry: String,
        /// Why it is refused.
        reason: String,
    },
    /// Writing the layer failed.
    #[error("{archive}: {source}")]
    Layer {
        /// The archive's path.
        archive: String,
        /// The layer engine's error.
        #[source]
        source: crate::Error,
    },
}

/// Whether `path` holds a tar archive (possibly compressed); `None` for
/// anything else, which ADD copies as a file.
pub fn detect(path: &Path) -> io::Result<Option<Format>> {
    let mut f = BufReader::new(File::open(path)?);
    let format = Format::detect(f.fill_buf()?);
    // The (decompressed) start must be a tar header: "ustar" at 257.
    let mut block = vec![0u8; 512];
    let mut n = 0;
    {
        let mut r = match decoder(format, f) {
            Ok(r) => r,
            Err(_) => return Ok(None),
        };
        while n < 512 {
            match r.read(&mut block[n..]) {
                Ok(0) => break,
                Ok(k) => n += k,
                Err(_) => return Ok(None),
            }
        }
    }
    let is_tar = n == 512 && &block[257..262] == b"ustar";
    Ok(is_tar.then_some(format))
}

/// A cleaned relative name, or why not: the layer name rules, with an
/// absolute name taken relative to the destination.
fn clean_name(raw: &str) -> Result<String, &'static str> {
    let relative = raw.trim_start_matches('/');
    if relative.split('/').any(|c| c == "..") {
        return Err("climbs out of the destination with '..'");
    }
    let parts = clean_components(relative.as_bytes()).map_err(|_| "is not a valid name")?;
    Ok(String::from_utf8_lossy(&join_components(&parts)).into_owned())
}

fn join(dir: &str, name: &str) -> String {
    let dir = dir.trim_matches('/');
    match (dir.is_empty(), name.is_empty()) {
        (true, _) => name.to_string(),
        (false, true) => dir.to_string(),
        (false, false) => format!("{dir}/{name}"),
    }
}

/// What each name of the archive is so far, to refuse entries the
/// unpacker would refuse (see the module documentation).
#[derive(Default)]
struct Shape {
    kinds: std::collections::HashMap<String, ShapeKind>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum ShapeKind {
    Dir,
    File,
    Symlink,
}

impl Shape {
    /// Why `name` cannot be written after the entries seen so far.
    fn problem(&self, name: &str, item: &Item) -> Option<String> {
        let mut end = 0;
        while let Some(i) = name[end..].find('/') {
            end += i;
            match self.kinds.get(&name[..end]) {
                Some(ShapeKind::Symlink) => {
                    return Some(format!("is below the symlink {:?}", &name[..end]))
                }
                Some(ShapeKind::File) => {
                    return Some(format!("is below the file {:?}", &name[..end]))
                }
                _ => {}
            }
            end += 1;
        }
        match item {
            Item::Hardlink(target) if self.kinds.get(target) != Some(&ShapeKind::File) => {
                Some(format!(
                    "is a hard link to {target:?}, which is not a regular file earlier in the archive"
                ))
            }
            _ => None,
        }
    }

    fn record(&mut self, name: &str, item: &Item) {
        let kind = match item {
            Item::Dir => ShapeKind::Dir,
            Item::File(_) | Item::Hardlink(_) => ShapeKind::File,
            Item::Symlink(_) => ShapeKind::Symlink,
            Item::Skip => return,
        };
        self.kinds.insert(name.to_string(), kind);
    }
}

/// One entry of the archive, cleaned, with its data reader.
enum Item {
    Dir,
    File(u64),
    Symlink(String),
    Hardlink(String),
    Skip,
}

fn for_each_entry(
    archive_path: &Path,
    format: Format,
    mut f: impl FnMut(&str, Item, u32, u64, &mut dyn Read) -> Result<(), ArchiveError>,
) -> Result<(), ArchiveError> {
    let shown = archive_path.display().to_string();
    let io_err = |source: io::Error| ArchiveError::Io {
        archive: shown.clone(),
        source,
    };
    let file = File::open(archive_path).map_err(io_err)?;
    let raw = decoder(format, BufReader::with_capacity(1 << 20, file)).map_err(io_err)?;
    let capped = CappedReader::new(raw, MAX_EXTRACTED_BYTES, shown.clone());
    let mut a = tar::Archive::new(capped);
    let mut shape = Shape::default();
    for entry in a.entries().map_err(io_err)? {
        let mut entry = entry.map_err(io_err)?;
        let raw_name = String::from_utf8_lossy(&entry.path_bytes()).to_string();
        crate::pax::check_entry(&mut entry).map_err(|reason| ArchiveError::BadEntry {
            archive: shown.clone(),
            entry: raw_name.clone(),
            reason,
        })?;
        let name = clean_name(&raw_name).map_err(|reason| ArchiveError::BadEntry {
            archive: shown.clone(),
            entry: raw_name.clone(),
            reason: reason.into(),
        })?;
        let header = entry.header();
        let mode = header.mode().unwrap_or(0o644) & 0o7777;
        let mtime = header.mtime().unwrap_or(0);
        let kind = header.entry_type();
        let link_name = || {
            entry
                .link_name_bytes()
                .map(|b| String::from_utf8_lossy(&b).to_string())
                .unwrap_or_default()
        };
        let item = if kind.is_dir() {
            Item::Dir
        } else if kind.is_file() || kind == tar::EntryType::Continuous {
            // The size the tar reader reads (PAX `size` over ustar).
            Item::File(entry.size())
        } else if kind.is_symlink() {
            Item::Symlink(link_name())
        } else if kind.is_hard_link() {
            let target = clean_name(&link_name()).map_err(|reason| ArchiveError::BadEntry {
                archive: shown.clone(),
                entry: raw_name.clone(),
                reason: format!("is a hardlink that {reason}"),
            })?;
            Item::Hardlink(target)
        } else {
            Item::Skip
        };
        if name.is_empty() {
            continue;
        }
        if let Some(reason) = shape.problem(&name, &item) {
            return Err(ArchiveError::BadEntry {
                archive: shown.clone(),
                entry: raw_name,
                reason,
            });
        }
        shape.record(&name, &item);
        f(&name, item, mode, mtime, &mut entry)?;
    }
    Ok(())
}

/// Wraps a layer engine error with the archive's path.
fn layer_error(archive: &Path) -> impl Fn(crate::Error) -> ArchiveError + '_ {
    move |source| ArchiveError::Layer {
        archive: archive.display().to_string(),
        source,
    }
}

/// Extracts `archive` under `dest_dir` (relative, `/`-separated) into a
/// Linux layer; returns how many entries it wrote (devices and fifos are
/// skipped).
pub fn extract_linux<W: std::io::Write>(
    archive: &Path,
    format: Format,
    dest_dir: &str,
    owner: Option<(u64, u64)>,
    w: &mut LinuxLayerWriter<W>,
) -> Result<u64, ArchiveError> {
    let layer_err = layer_error(archive);
    let mut written = 0u64;
    for_each_entry(archive, format, |name, item, mode, mtime, data| {
        let path = join(dest_dir, name);
        let kind = match item {
            Item::Dir => tarfmt::EntryKind::Dir,
            Item::File(size) => tarfmt::EntryKind::File { size },
            Item::Symlink(target) => tarfmt::EntryKind::Symlink { target },
            Item::Hardlink(target) => tarfmt::EntryKind::Hardlink {
                target: join(dest_dir, &target),
            },
            Item::Skip => return Ok(()),
        };
        let is_dir = matches!(kind, tarfmt::EntryKind::Dir);
        let mut t = TarEntry::new(if is_dir { format!("{path}/") } else { path }, kind);
        t.mode = mode;
        t.mtime = mtime;
        if let Some((uid, gid)) = owner {
            t.uid = uid;
            t.gid = gid;
        }
        let has_data = matches!(t.kind, tarfmt::EntryKind::File { .. });
        written += 1;
        w.append(t, if has_data { Some(data) } else { None })
            .map_err(&layer_err)
    })?;
    Ok(written)
}

/// Extracts `archive` under `dest_dir` into a Windows layer (symlink
/// targets with `\`; the owner, if given, in every descriptor).
pub fn extract_windows<W: std::io::Write>(
    archive: &Path,
    format: Format,
    dest_dir: &str,
    owner_sid: Option<&str>,
    w: &mut WindowsLayerWriter<'_, W>,
) -> Result<(), ArchiveError> {
    let layer_err = layer_error(archive);
    for_each_entry(archive, format, |name, item, mode, mtime, data| {
        let path = join(dest_dir, name);
        let time = Timestamp::from_secs(mtime);
        if let Some(problem) = crate::windows::names::ntfs_path_problem(&path) {
            return Err(ArchiveError::BadEntry {
                archive: archive.display().to_string(),
                entry: name.to_string(),
                reason: format!("cannot be held by NTFS: {problem}"),
            });
        }
        let owned = |mut m: WinMeta| -> Result<WinMeta, ArchiveError> {
            if let Some(sid) = owner_sid {
                m.security_descriptor =
                    crate::windows::sddl::with_owner(&m.security_descriptor, sid)
                        .map_err(&layer_err)?;
            }
            Ok(m)
        };
        match item {
            Item::Dir => w.add_dir(&path, Some(owned(WinMeta::default_dir(time))?)),
            Item::File(size) => {
                let mut m = owned(WinMeta::default_file(time))?;
                if mode & 0o222 == 0 {
                    m.attributes |= 1; // FILE_ATTRIBUTE_READONLY
                }
                w.add_file(&path, size, Some(m), data)
            }
            Item::Symlink(target) => w.add_symlink(
                &path,
                &target,
                false,
                Some(owned(WinMeta::default_file(time))?),
            ),
            Item::Hardlink(target) => w.add_hardlink(&path, &join(dest_dir, &target), None),
            Item::Skip => Ok(()),
        }
        .map_err(&layer_err)
    })?;
    // The destination exists even when every entry was skipped (devices,
    // fifos): the importer never creates a folder nobody declared.
    let dest = dest_dir.trim_matches('/');
    if !dest.is_empty() && !w.has_dir(dest) {
        w.add_dir(dest, None).map_err(&layer_err)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn tar_bytes(entries: &[(&str, &[u8])]) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        for (name, data) in entries {
            let mut h = tar::Header::new_gnu();
            h.set_size(data.len() as u64);
            h.set_mode(0o644);
            h.set_cksum();
            b.append_data(&mut h, name, *data).unwrap();
        }
        b.into_inner().unwrap()
    }

    /// A tar with names written verbatim (the tar crate's builder refuses
    /// absolute and climbing names, which is what these tests need).
    fn raw_tar(entries: &[(&str, &[u8])]) -> Vec<u8> {
        let mut out = Vec::new();
        for (name, data) in entries {
            let mut h = tar::Header::new_ustar();
            h.as_mut_bytes()[..name.len()].copy_from_slice(name.as_bytes());
            h.set_size(data.len() as u64);
            h.set_mode(0o644);
            h.set_entry_type(tar::EntryType::Regular);
            h.set_cksum();
            out.extend_from_slice(h.as_bytes());
            out.extend_from_slice(data);
            out.resize(out.len().div_ceil(512) * 512, 0);
        }
        out.extend_from_slice(&[0u8; 1024]);
        out
    }

    fn write(dir: &Path, name: &str, bytes: &[u8]) -> std::path::PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, bytes).unwrap();
        p
    }

    #[test]
    fn detects_by_content() {
        let d = tempfile::tempdir().unwrap();
        let tar = tar_bytes(&[("a.txt", b"a")]);
        let plain = write(d.path(), "x.bin", &tar);
        assert_eq!(detect(&plain).unwrap(), Some(Format::Tar));
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&tar).unwrap();
        let gz = write(d.path(), "x.tgz", &gz.finish().unwrap());
        assert_eq!(detect(&gz).unwrap(), Some(Format::Gzip));
        let mut bz = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::fast());
        bz.write_all(&tar).unwrap();
        let bz = write(d.path(), "x.tar.bz2", &bz.finish().unwrap());
        assert_eq!(detect(&bz).unwrap(), Some(Format::Bzip2));
        let not_tar = write(
            d.path(),
            "notes.tar.gz",
            b"just text, named like an archive",
        );
        assert_eq!(detect(&not_tar).unwrap(), None);
        let mut gz_text = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz_text.write_all(&[b'x'; 2000]).unwrap();
        let gz_text = write(d.path(), "y.gz", &gz_text.finish().unwrap());
        assert_eq!(
            detect(&gz_text).unwrap(),
            None,
            "a gzip that is not a tar is copied"
        );
    }

    #[test]
    fn extracts_and_refuses_climbing_names() {
        let d = tempfile::tempdir().unwrap();
        let good = write(
            d.path(),
            "good.tar",
            &raw_tar(&[("./bin/tool", b"#!/bin/sh\n"), ("/etc/conf", b"c")]),
        );
        let mut w = LinuxLayerWriter::new(Vec::new(), Default::default());
        extract_linux(&good, Format::Tar, "opt/pkg", None, &mut w).unwrap();
        let out = w.finish().unwrap();
        let mut a = tar::Archive::new(out.as_slice());
        let names: Vec<String> = a
            .entries()
            .unwrap()
            .map(|e| e.unwrap().path().unwrap().to_string_lossy().to_string())
            .collect();
        assert_eq!(names, vec!["opt/pkg/bin/tool", "opt/pkg/etc/conf"]);

        let bytes = raw_tar(&[("ok", b"1"), ("a/../../escape", b"x")]);
        let bad = write(d.path(), "bad.tar", &bytes);
        let mut w = LinuxLayerWriter::new(Vec::new(), Default::default());
        let e = extract_linux(&bad, Format::Tar, "dst", None, &mut w).unwrap_err();
        assert!(e.to_string().contains("climbs out"), "{e}");
    }

    /// A tar of (name, kind, data or link target) entries, names verbatim.
    fn shaped_tar(entries: &[(&str, tar::EntryType, &str)]) -> Vec<u8> {
        let mut out = Vec::new();
        for (name, kind, text) in entries {
            let mut h = tar::Header::new_ustar();
            h.as_mut_bytes()[..name.len()].copy_from_slice(name.as_bytes());
            h.set_mode(0o644);
            h.set_mtime(1_700_000_000);
            h.set_entry_type(*kind);
            let data: &[u8] = if *kind == tar::EntryType::Regular {
                text.as_bytes()
            } else {
                if !text.is_empty() {
                    h.set_link_name(text).unwrap();
                }
                b""
            };
            h.set_size(data.len() as u64);
            h.set_cksum();
            out.extend_from_slice(h.as_bytes());
            out.extend_from_slice(data);
            out.resize(out.len().div_ceil(512) * 512, 0);
        }
        out.extend_from_slice(&[0u8; 1024]);
        out
    }

    fn add_linux(path: &Path) -> Result<Vec<u8>, ArchiveError> {
        let mut w = LinuxLayerWriter::new(Vec::new(), Default::default());
        extract_linux(path, Format::Tar, "dst", None, &mut w)?;
        Ok(w.finish().unwrap())
    }

    fn add_windows(path: &Path) -> Result<Vec<u8>, ArchiveError> {
        let base = crate::NoBase;
        let mut w = WindowsLayerWriter::new(Vec::new(), &base, Default::default()).unwrap();
        extract_windows(path, Format::Tar, "dst", None, &mut w)?;
        Ok(w.finish().unwrap())
    }

    #[test]
    fn shapes_the_unpacker_refuses_are_refused_for_both_oses() {
        use tar::EntryType::{Directory, Link, Regular, Symlink};
        let d = tempfile::tempdir().unwrap();
        for (case, entries, reason) in [
            (
                "file below a symlink",
                vec![("l", Symlink, "x"), ("l/f", Regular, "f")],
                "below the symlink",
            ),
            (
                "file below a file",
                vec![("f", Regular, "f"), ("f/x", Regular, "x")],
                "below the file",
            ),
            (
                "file below a symlink loop",
                vec![
                    ("a", Symlink, "b"),
                    ("b", Symlink, "a"),
                    ("a/x", Regular, "x"),
                ],
                "below the symlink",
            ),
            (
                "hard link to a path not in the archive",
                vec![("h", Link, "missing")],
                "not a regular file earlier",
            ),
            (
                "hard link to a directory",
                vec![("d", Directory, ""), ("h", Link, "d")],
                "not a regular file earlier",
            ),
        ] {
            let path = write(d.path(), "case.tar", &shaped_tar(&entries));
            for (os, result) in [("linux", add_linux(&path)), ("windows", add_windows(&path))] {
                let e = result
                    .err()
                    .unwrap_or_else(|| panic!("{case}: {os} accepted it"));
                assert!(e.to_string().contains(reason), "{case}: {os}: {e}");
            }
        }
    }

    /// What ADD accepts, the unpacker applies: a directory below a
    /// directory, a loop nobody walks through, a hard link to an earlier file.
    /// (A name given twice is the Windows writer's to refuse; a Linux layer
    /// keeps the last, as the unpacker does.)
    #[cfg(target_os = "linux")]
    #[test]
    fn accepted_shapes_apply_cleanly() {
        use tar::EntryType::{Directory, Link, Regular, Symlink};
        let d = tempfile::tempdir().unwrap();
        let entries = [
            ("l", Directory, ""),
            ("l/f", Regular, "f"),
            ("a", Symlink, "b"),
            ("b", Symlink, "a"),
            ("orig", Regular, "data"),
            ("h", Link, "orig"),
        ];
        let path = write(d.path(), "ok.tar", &shaped_tar(&entries));
        let layer = add_linux(&path).unwrap();
        let target = d.path().join("root");
        std::fs::create_dir(&target).unwrap();
        crate::apply_layer(
            std::io::Cursor::new(layer),
            "add",
            &target,
            &Default::default(),
        )
        .unwrap();
        assert_eq!(std::fs::read(target.join("dst/h")).unwrap(), b"data");
        assert_eq!(std::fs::read(target.join("dst/l/f")).unwrap(), b"f");
        assert!(add_windows(&path).is_ok());
    }

    #[test]
    fn windows_add_refuses_names_ntfs_cannot_hold_and_keeps_an_emptied_destination() {
        let d = tempfile::tempdir().unwrap();
        let long = "n".repeat(300);
        let path = write(
            d.path(),
            "long.tar",
            &tar_bytes(&[("ok", b"1"), (long.as_str(), b"x")]),
        );
        let Err(e) = add_windows(&path) else {
            panic!("a 300-byte name was accepted")
        };
        let e = e.to_string();
        assert!(e.contains(&long) && e.contains("255"), "{e}");
        assert!(
            add_linux(&path).is_ok(),
            "Linux names may be 255 bytes of ASCII and more"
        );

        let fifo = shaped_tar(&[("pipe", tar::EntryType::Fifo, "")]);
        let path = write(d.path(), "fifo.tar", &fifo);
        let layer = add_windows(&path).unwrap();
        let mut a = tar::Archive::new(layer.as_slice());
        let names: Vec<String> = a
            .entries()
            .unwrap()
            .map(|e| e.unwrap().path().unwrap().to_string_lossy().into_owned())
            .collect();
        assert!(names.iter().any(|n| n == "Files/dst"), "{names:?}");
        assert!(!names.iter().any(|n| n.contains("pipe")), "{names:?}");
    }
}
