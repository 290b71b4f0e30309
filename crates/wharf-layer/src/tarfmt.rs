//! A minimal, deterministic tar writer: ustar headers plus PAX extended headers.
//!
//! The `tar` crate's `Builder` writes GNU long-name records for long paths and
//! refuses some names; layers need PAX (the Windows importer reads its records,
//! and PAX is what the OCI spec recommends), byte-identical output, and, for the
//! hostile-layer tests, the ability to write any name verbatim. So headers are
//! laid out here, reusing `tar::Header` for the field encodings.
//!
//! Names and link targets are written exactly as given: validating them is the
//! job of the layer writers above this module.

use std::io::{self, Read, Write};

/// The kind of a tar entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EntryKind {
    /// A regular file of the given size; its data follows.
    File {
        /// Size in bytes.
        size: u64,
    },
    /// A directory.
    Dir,
    /// A symbolic link to `target`.
    Symlink {
        /// Link target as stored.
        target: String,
    },
    /// A hard link to an earlier entry named `target`.
    Hardlink {
        /// Name of the earlier entry.
        target: String,
    },
    /// A character device.
    CharDevice {
        /// Device major number.
        major: u32,
        /// Device minor number.
        minor: u32,
    },
    /// A block device.
    BlockDevice {
        /// Device major number.
        major: u32,
        /// Device minor number.
        minor: u32,
    },
    /// A named pipe.
    Fifo,
}

/// Everything about one entry except its data.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TarEntry {
    /// Entry name, written verbatim (PAX `path` when it does not fit ustar).
    pub path: String,
    /// What the entry is.
    pub kind: EntryKind,
    /// Permission bits (and setuid/setgid/sticky).
    pub mode: u32,
    /// Owner user id.
    pub uid: u64,
    /// Owner group id.
    pub gid: u64,
    /// Modification time, seconds since the epoch.
    pub mtime: u64,
    /// Extra PAX records, written in this order (e.g. `SCHILY.xattr.*`, `MSWINDOWS.*`).
    pub pax: Vec<(String, Vec<u8>)>,
}

impl TarEntry {
    /// A new entry with mode 0644/0755 (by kind), owner 0:0 and mtime 0.
    pub fn new(path: impl Into<String>, kind: EntryKind) -> Self {
        let mode = if matches!(kind, EntryKind::Dir) {
            0o755
        } else {
            0o644
        };
        TarEntry {
            path: path.into(),
            kind,
            mode,
            uid: 0,
            gid: 0,
            mtime: 0,
            pax: Vec::new(),
        }
    }
}

/// Largest value of an 11-digit octal field (sizes); 7-digit fields (ids) hold 0o7777777.
const MAX_OCTAL_11: u64 = 0o77_777_777_777;
const MAX_OCTAL_7: u64 = 0o7_777_777;

/// Writes tar entries to `W`. Call [`TarWriter::finish`] to write the end-of-archive marker.
pub struct TarWriter<W: Write> {
    inner: W,
}

impl<W: Write> TarWriter<W> {
    /// Wraps `inner`.
    pub fn new(inner: W) -> Self {
        TarWriter { inner }
    }

    /// Mutable access to the inner writer.
    pub fn get_mut(&mut self) -> &mut W {
        &mut self.inner
    }

    /// Writes one entry. For [`EntryKind::File`], exactly `size` bytes are read
    /// from `data`; a shorter source is an error (the file changed underneath).
    pub fn append(&mut self, entry: &TarEntry, data: Option<&mut dyn Read>) -> io::Result<()> {
        let mut records: Vec<(String, Vec<u8>)> = Vec::new();
        if needs_pax_name(&entry.path, 100) {
            records.push(("path".into(), entry.path.as_bytes().to_vec()));
        }
        let link = match &entry.kind {
            EntryKind::Symlink { target } | EntryKind::Hardlink { target } => Some(target),
            _ => None,
        };
        if let Some(l) = link {
            if needs_pax_name(l, 100) {
                records.push(("linkpath".into(), l.as_bytes().to_vec()));
            }
        }
        let size = match entry.kind {
            EntryKind::File { size } => size,
            _ => 0,
        };
        if size > MAX_OCTAL_11 {
            records.push(("size".into(), size.to_string().into_bytes()));
        }
        if entry.uid > MAX_OCTAL_7 {
            records.push(("uid".into(), entry.uid.to_string().into_bytes()));
        }
        if entry.gid > MAX_OCTAL_7 {
            records.push(("gid".into(), entry.gid.to_string().into_bytes()));
        }
        records.extend(entry.pax.iter().cloned());
        if !records.is_empty() {
            self.write_pax_header(entry, &records)?;
        }

        let mut h = tar::Header::new_ustar();
        set_name_field(
            &mut h.as_ustar_mut().expect("ustar header").name,
            &entry.path,
        );
        h.set_mode(entry.mode & 0o7777);
        h.set_uid(entry.uid.min(MAX_OCTAL_7));
        h.set_gid(entry.gid.min(MAX_OCTAL_7));
        h.set_mtime(entry.mtime.min(MAX_OCTAL_11));
        h.set_size(if size > MAX_OCTAL_11 { 0 } else { size });
        let (ty, dev) = match &entry.kind {
            EntryKind::File { .. } => (tar::EntryType::Regular, None),
            EntryKind::Dir => (tar::EntryType::Directory, None),
            EntryKind::Symlink { .. } => (tar::EntryType::Symlink, None),
            EntryKind::Hardlink { .. } => (tar::EntryType::Link, None),
            EntryKind::CharDevice { major, minor } => {
                (tar::EntryType::Char, Some((*major, *minor)))
            }
            EntryKind::BlockDevice { major, minor } => {
                (tar::EntryType::Block, Some((*major, *minor)))
            }
            EntryKind::Fifo => (tar::EntryType::Fifo, None),
        };
        h.set_entry_type(ty);
        if let Some(l) = link {
            set_name_field(&mut h.as_ustar_mut().expect("ustar header").linkname, l);
        }
        if let Some((major, minor)) = dev {
            h.set_device_major(major)?;
            h.set_device_minor(minor)?;
        }
        h.set_cksum();
        self.inner.write_all(h.as_bytes())?;
        if let EntryKind::File { size } = entry.kind {
            let data = data.ok_or_else(|| {
                io::Error::new(io::ErrorKind::InvalidInput, "file entry without data")
            })?;
            let copied = io::copy(&mut data.take(size), &mut self.inner)?;
            if copied != size {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    format!(
                        "{}: expected {size} bytes, source gave {copied} (did the file change?)",
                        entry.path
                    ),
                ));
            }
            self.pad(size)?;
        }
        Ok(())
    }

    fn write_pax_header(
        &mut self,
        entry: &TarEntry,
        records: &[(String, Vec<u8>)],
    ) -> io::Result<()> {
        let mut body = Vec::new();
        for (k, v) in records {
            body.extend_from_slice(&pax_record(k, v));
        }
        let mut h = tar::Header::new_ustar();
        // The name of a PAX header is informational only; keep it short and ASCII.
        let base = entry
            .path
            .rsplit('/')
            .find(|s| !s.is_empty())
            .unwrap_or("entry");
        let ascii: String = base
            .chars()
            .filter(|c| c.is_ascii_graphic())
            .take(80)
            .collect();
        set_name_field(
            &mut h.as_ustar_mut().expect("ustar header").name,
            &format!("PaxHeaders/{ascii}"),
        );
        h.set_mode(0o644);
        h.set_mtime(entry.mtime.min(MAX_OCTAL_11));
        h.set_size(body.len() as u64);
        h.set_entry_type(tar::EntryType::XHeader);
        h.set_cksum();
        self.inner.write_all(h.as_bytes())?;
        self.inner.write_all(&body)?;
        self.pad(body.len() as u64)
    }

    fn pad(&mut self, size: u64) -> io::Result<()> {
        let rem = (size % 512) as usize;
        if rem != 0 {
            self.inner.write_all(&[0u8; 512][..512 - rem])?;
        }
        Ok(())
    }

    /// Writes the two zero blocks that end an archive and returns the inner writer.
    pub fn finish(mut self) -> io::Result<W> {
        self.inner.write_all(&[0u8; 1024])?;
        self.inner.flush()?;
        Ok(self.inner)
    }
}

fn needs_pax_name(name: &str, field: usize) -> bool {
    name.len() > field || !name.is_ascii()
}

fn set_name_field(field: &mut [u8], value: &str) {
    field.fill(0);
    let bytes = value.as_bytes();
    let n = bytes.len().min(field.len());
    field[..n].copy_from_slice(&bytes[..n]);
}

/// One PAX record, `"<len> <key>=<value>\n"`, where `<len>` counts itself.
pub fn pax_record(key: &str, value: &[u8]) -> Vec<u8> {
    let rest = key.len() + value.len() + 3; // space, '=', newline
    let mut len = rest + 1;
    while len != rest + len.to_string().len() {
        len = rest + len.to_string().len();
    }
    let mut out = Vec::with_capacity(len);
    out.extend_from_slice(len.to_string().as_bytes());
    out.push(b' ');
    out.extend_from_slice(key.as_bytes());
    out.push(b'=');
    out.extend_from_slice(value);
    out.push(b'\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pax_record_length_counts_itself() {
        for (k, vlen) in [
            ("path", 1usize),
            ("path", 90),
            ("path", 95),
            ("x", 994),
            ("k", 5000),
        ] {
            let v = vec![b'a'; vlen];
            let r = pax_record(k, &v);
            let text = String::from_utf8(r.clone()).unwrap();
            let (len, _) = text.split_once(' ').unwrap();
            assert_eq!(len.parse::<usize>().unwrap(), r.len(), "{k} {vlen}");
        }
    }

    #[test]
    fn long_names_and_xattrs_round_trip_through_tar_crate() {
        let long = format!("{}/file.txt", "d".repeat(150));
        let mut w = TarWriter::new(Vec::new());
        let mut e = TarEntry::new(long.clone(), EntryKind::File { size: 5 });
        e.pax.push(("SCHILY.xattr.user.k".into(), b"v".to_vec()));
        w.append(&e, Some(&mut &b"hello"[..])).unwrap();
        let link = TarEntry::new(
            "l",
            EntryKind::Symlink {
                target: "ü/".repeat(60),
            },
        );
        w.append(&link, None).unwrap();
        let bytes = w.finish().unwrap();
        assert_eq!(bytes.len() % 512, 0);
        let mut a = tar::Archive::new(&bytes[..]);
        let mut it = a.entries().unwrap();
        let mut first = it.next().unwrap().unwrap();
        assert_eq!(first.path().unwrap().to_str().unwrap(), long);
        let ext: Vec<_> = first
            .pax_extensions()
            .unwrap()
            .unwrap()
            .map(|r| r.unwrap().key().unwrap().to_string())
            .collect();
        assert!(ext.contains(&"SCHILY.xattr.user.k".to_string()));
        let mut s = String::new();
        first.read_to_string(&mut s).unwrap();
        assert_eq!(s, "hello");
        let second = it.next().unwrap().unwrap();
        assert_eq!(
            second.link_name().unwrap().unwrap().to_str().unwrap(),
            "ü/".repeat(60)
        );
    }

    #[test]
    fn short_source_is_an_error() {
        let mut w = TarWriter::new(Vec::new());
        let e = TarEntry::new("f", EntryKind::File { size: 10 });
        let err = w.append(&e, Some(&mut &b"abc"[..])).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
    }
}
