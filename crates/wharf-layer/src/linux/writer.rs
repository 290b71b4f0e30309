//! [`LinuxLayerWriter`]: the one writer of Linux layer tars. Portable (it is also
//! used on Windows hosts by the Windows → Linux transform); the filesystem
//! sources that feed it live in [`super::create`] and [`super::changes`].

use super::{OPAQUE_MARKER, WHITEOUT_PREFIX};
use crate::error::{Error, Result};
use crate::tarfmt::{EntryKind, TarEntry, TarWriter};
use std::io::{Read, Write};

/// How Linux layers are normalised for reproducible output.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LinuxLayerOptions {
    /// Clamp every mtime to at most this value (`SOURCE_DATE_EPOCH`).
    pub source_date_epoch: Option<u64>,
    /// Record every entry with this `(uid, gid)` instead of the source's.
    pub owner: Option<(u64, u64)>,
    /// Leave extended attributes out.
    pub skip_xattrs: bool,
}

impl LinuxLayerOptions {
    /// Options with `source_date_epoch` taken from the `SOURCE_DATE_EPOCH`
    /// environment variable when it is set to a number.
    pub fn from_env() -> Self {
        LinuxLayerOptions {
            source_date_epoch: std::env::var("SOURCE_DATE_EPOCH")
                .ok()
                .and_then(|v| v.trim().parse().ok()),
            ..Default::default()
        }
    }
}

/// Writes a Linux layer tar (PAX where needed) to any `Write`, typically a
/// [`crate::LayerBlobWriter`]. Callers add entries parents-first; the
/// directory sources in this crate add them sorted, so output is deterministic.
pub struct LinuxLayerWriter<W: Write> {
    tar: TarWriter<W>,
    opts: LinuxLayerOptions,
    entries: u64,
}

impl<W: Write> LinuxLayerWriter<W> {
    /// Starts a layer written to `inner`.
    pub fn new(inner: W, opts: LinuxLayerOptions) -> Self {
        LinuxLayerWriter {
            tar: TarWriter::new(inner),
            opts,
            entries: 0,
        }
    }

    /// The normalisation options in force.
    pub fn options(&self) -> &LinuxLayerOptions {
        &self.opts
    }

    /// Entries written so far.
    pub fn entry_count(&self) -> u64 {
        self.entries
    }

    /// Adds one entry (`path` relative, `/`-separated, no leading `./`). File
    /// entries need `data` yielding exactly the declared size.
    pub fn append(&mut self, mut entry: TarEntry, data: Option<&mut dyn Read>) -> Result<()> {
        if entry.path.is_empty()
            || entry.path.starts_with('/')
            || entry.path.split('/').any(|c| c == "..")
        {
            return Err(Error::hostile(
                entry.path,
                "Linux layer entries must be relative names without '..'",
            ));
        }
        if let Some(epoch) = self.opts.source_date_epoch {
            entry.mtime = entry.mtime.min(epoch);
        }
        if let Some((uid, gid)) = self.opts.owner {
            entry.uid = uid;
            entry.gid = gid;
        }
        if self.opts.skip_xattrs {
            entry.pax.retain(|(k, _)| !k.starts_with("SCHILY.xattr."));
        }
        let path = entry.path.clone();
        self.tar
            .append(&entry, data)
            .map_err(|e| Error::io("writing layer entry", path, e))?;
        self.entries += 1;
        Ok(())
    }

    /// Adds a whiteout deleting `path` (relative) from the layers below.
    pub fn add_whiteout(&mut self, path: &str, mtime: u64) -> Result<()> {
        let (dir, name) = match path.rsplit_once('/') {
            Some((d, n)) => (format!("{d}/"), n),
            None => (String::new(), path),
        };
        let mut e = TarEntry::new(
            format!("{dir}{WHITEOUT_PREFIX}{name}"),
            EntryKind::File { size: 0 },
        );
        e.mtime = mtime;
        e.mode = 0;
        self.append(e, Some(&mut std::io::empty()))
    }

    /// Marks directory `dir` (relative) opaque: lower layers' contents are hidden.
    pub fn add_opaque_marker(&mut self, dir: &str, mtime: u64) -> Result<()> {
        let path = if dir.is_empty() {
            OPAQUE_MARKER.to_string()
        } else {
            format!("{dir}/{OPAQUE_MARKER}")
        };
        let mut e = TarEntry::new(path, EntryKind::File { size: 0 });
        e.mtime = mtime;
        e.mode = 0;
        self.append(e, Some(&mut std::io::empty()))
    }

    /// Ends the archive and returns the inner writer.
    pub fn finish(self) -> Result<W> {
        self.tar
            .finish()
            .map_err(|e| Error::io("finishing", "layer tar", e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clamps_mtime_and_normalises_owner() {
        let opts = LinuxLayerOptions {
            source_date_epoch: Some(1000),
            owner: Some((0, 0)),
            skip_xattrs: true,
        };
        let mut w = LinuxLayerWriter::new(Vec::new(), opts);
        let mut e = TarEntry::new("f", EntryKind::File { size: 1 });
        e.mtime = 5000;
        e.uid = 1234;
        e.pax.push(("SCHILY.xattr.user.a".into(), b"1".to_vec()));
        w.append(e, Some(&mut &b"x"[..])).unwrap();
        w.add_whiteout("dir/gone", 7).unwrap();
        w.add_opaque_marker("dir", 7).unwrap();
        let bytes = w.finish().unwrap();
        let mut a = tar::Archive::new(&bytes[..]);
        let mut names = Vec::new();
        for e in a.entries().unwrap() {
            let mut e = e.unwrap();
            names.push(e.path().unwrap().to_string_lossy().into_owned());
            if names.len() == 1 {
                assert_eq!(e.header().mtime().unwrap(), 1000);
                assert_eq!(e.header().uid().unwrap(), 0);
                assert!(e.pax_extensions().unwrap().is_none());
            }
        }
        assert_eq!(names, ["f", "dir/.wh.gone", "dir/.wh..wh..opq"]);
    }

    #[test]
    fn refuses_escaping_names() {
        let mut w = LinuxLayerWriter::new(Vec::new(), LinuxLayerOptions::default());
        assert!(w
            .append(TarEntry::new("../x", EntryKind::Dir), None)
            .is_err());
        assert!(w.append(TarEntry::new("/x", EntryKind::Dir), None).is_err());
    }
}
