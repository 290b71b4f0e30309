//! A *base* Windows layer tar → the ordered file operations that write it as
//! a base layer folder ([`plan_base_layer`]). `ImportLayer` needs parents, so
//! a base layer is written file by file, the way hcsshim's
//! `internal/wclayer/baselayerwriter.go` does, and then processed
//! (`ProcessBaseImage`, by the caller, which owns the HCS calls).
//!
//! The operations go to a [`BaseLayerSink`], in this order per tar entry:
//! - [`BaseLayerSink::create`]: create the file or directory relative to
//!   the folder (the Windows sink: without following reparse points, with
//!   `WRITE_DAC | WRITE_OWNER | ACCESS_SYSTEM_SECURITY`, `FILE_CREATE`), then
//!   give it its [`BasicInfo`] (`SetFileInformationByHandle`);
//! - [`BaseLayerSink::write`], any number of times: the `BackupWrite` stream
//!   sequence (security descriptor, EAs, reparse data, data, then the
//!   alternate streams that follow the entry in the tar): the same bytes the
//!   layer folder encoder puts after a folder file's attribute word;
//! - [`BaseLayerSink::end_file`];
//! - or [`BaseLayerSink::link`] for a hard link.
//!
//! After the last entry, [`BaseLayerSink::set_directory_info`] for every
//! directory, children before parents (creating a child changed its
//! parent's times). [`BaseLayerPlan::has_utility_vm`] says whether the
//! caller must also process `UtilityVM` (hcsshim does when `UtilityVM/Files`
//! exists; it matters for Hyper-V isolation only).
//!
//! The tar is trusted for nothing: names must be clean, relative, under
//! `Files/`, `Hives/` or `UtilityVM/`, their parents declared earlier and
//! not reparse points (so the sink never has to follow a link this layer
//! created), no two names may differ only in case; whiteouts are refused
//! (a base layer deletes nothing), and hard links must point backwards (to
//! a file written earlier) and stay under `Files/` or `UtilityVM/Files/`.
//!
//! Basic information follows go-winio's `backuptar.FileInfoFromHeader`:
//! attributes from `MSWINDOWS.fileattr`, else `FILE_ATTRIBUTE_DIRECTORY`
//! (16) for a directory and 0 for anything else; creation time from
//! `LIBARCHIVE.creationtime`, else the modification time; the security
//! descriptor only when the entry carries one. Access and change times are
//! 0 ("leave as is") unless the entry has PAX `atime`/`ctime`.

use super::backup::{self, write_header};
use super::encode::{meta_of, records, write_metadata_streams};
use super::reparse::ReparsePoint;
use crate::error::{Error, Result};
use crate::linux::WHITEOUT_PREFIX;
use crate::windows::meta::{
    Timestamp, WinMeta, FILE_ATTRIBUTE_DIRECTORY, PAX_CREATIONTIME, PAX_FILEATTR, PAX_RAWSD, PAX_SD,
};
use crate::windows::names::{fold_case, ntfs_name_problem};
use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::path::Path;

/// `FILE_BASIC_INFO`: times in 100 ns intervals since 1601-01-01 UTC
/// (0 leaves a time unchanged), and the Win32 attributes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BasicInfo {
    /// `CreationTime`.
    pub creation_time: i64,
    /// `LastAccessTime`.
    pub last_access_time: i64,
    /// `LastWriteTime`.
    pub last_write_time: i64,
    /// `ChangeTime`.
    pub change_time: i64,
    /// `FileAttributes`.
    pub attributes: u32,
}

/// Seconds between 1601-01-01 and 1970-01-01.
const FILETIME_UNIX_OFFSET: i64 = 11_644_473_600;

/// A Unix time as a `FILETIME` count (100 ns since 1601).
pub fn filetime(t: Timestamp) -> i64 {
    let secs = i64::try_from(t.secs).unwrap_or(i64::MAX / 10_000_000 - FILETIME_UNIX_OFFSET);
    (secs + FILETIME_UNIX_OFFSET) * 10_000_000 + i64::from(t.nanos / 100)
}

/// Where the planner sends its operations. Paths are relative to the layer
/// folder, `/`-separated (`Files/Windows/System32`).
pub trait BaseLayerSink {
    /// Creates a file or directory (it must not exist) and sets its basic
    /// information.
    fn create(&mut self, path: &str, directory: bool, info: &BasicInfo) -> io::Result<()>;
    /// Appends backup stream bytes for the file last created.
    fn write(&mut self, bytes: &[u8]) -> io::Result<()>;
    /// Ends the file last created (completes its `BackupWrite` and closes it).
    fn end_file(&mut self) -> io::Result<()>;
    /// Creates `path` as a hard link to `target`, written earlier.
    fn link(&mut self, path: &str, target: &str) -> io::Result<()>;
    /// Sets a directory's basic information again, after its children.
    fn set_directory_info(&mut self, path: &str, info: &BasicInfo) -> io::Result<()>;
}

/// One operation, as [`BaseOp::record`] lists them (for tests and logs).
#[derive(Clone, Debug, PartialEq, Eq)]
#[allow(missing_docs)] // The fields are the sink methods' arguments.
pub enum BaseOp {
    /// [`BaseLayerSink::create`].
    Create {
        path: String,
        directory: bool,
        info: BasicInfo,
    },
    /// Every [`BaseLayerSink::write`] of one file, joined.
    Streams(Vec<u8>),
    /// [`BaseLayerSink::end_file`].
    EndFile,
    /// [`BaseLayerSink::link`].
    Link { path: String, target: String },
    /// [`BaseLayerSink::set_directory_info`].
    DirectoryInfo { path: String, info: BasicInfo },
}

/// A sink that records the operations.
#[derive(Debug, Default)]
pub struct RecordingSink {
    /// The operations, in order.
    pub ops: Vec<BaseOp>,
}

impl BaseLayerSink for RecordingSink {
    fn create(&mut self, path: &str, directory: bool, info: &BasicInfo) -> io::Result<()> {
        self.ops.push(BaseOp::Create {
            path: path.to_owned(),
            directory,
            info: *info,
        });
        Ok(())
    }
    fn write(&mut self, bytes: &[u8]) -> io::Result<()> {
        match self.ops.last_mut() {
            Some(BaseOp::Streams(all)) => all.extend_from_slice(bytes),
            _ => self.ops.push(BaseOp::Streams(bytes.to_vec())),
        }
        Ok(())
    }
    fn end_file(&mut self) -> io::Result<()> {
        self.ops.push(BaseOp::EndFile);
        Ok(())
    }
    fn link(&mut self, path: &str, target: &str) -> io::Result<()> {
        self.ops.push(BaseOp::Link {
            path: path.to_owned(),
            target: target.to_owned(),
        });
        Ok(())
    }
    fn set_directory_info(&mut self, path: &str, info: &BasicInfo) -> io::Result<()> {
        self.ops.push(BaseOp::DirectoryInfo {
            path: path.to_owned(),
            info: *info,
        });
        Ok(())
    }
}

impl BaseOp {
    /// The operations [`plan_base_layer`] makes for `layer`.
    pub fn record(layer: impl Read) -> Result<(Vec<BaseOp>, BaseLayerPlan)> {
        let mut sink = RecordingSink::default();
        let plan = plan_base_layer(layer, &mut sink)?;
        Ok((sink.ops, plan))
    }
}

/// What [`plan_base_layer`] wrote.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BaseLayerPlan {
    /// Files and directories created (links not counted).
    pub entries: u64,
    /// Hard links created.
    pub links: u64,
    /// Bytes of backup streams written.
    pub stream_bytes: u64,
    /// `UtilityVM/Files` exists: the caller processes `UtilityVM` too.
    pub has_utility_vm: bool,
}

/// Writes the base layer tar read from `layer` through `sink`, in the
/// order of the module documentation. Errors name the tar entry.
pub fn plan_base_layer(layer: impl Read, sink: &mut impl BaseLayerSink) -> Result<BaseLayerPlan> {
    let mut planner = Planner {
        sink,
        plan: BaseLayerPlan::default(),
        kinds: HashMap::new(),
        directories: Vec::new(),
        open: None,
    };
    let mut archive = tar::Archive::new(layer);
    let entries = archive
        .entries()
        .map_err(|e| Error::io("reading layer tar", Path::new("base layer"), e))?;
    for entry in entries {
        let mut entry =
            entry.map_err(|e| Error::io("reading layer tar", Path::new("base layer"), e))?;
        planner.entry(&mut entry)?;
    }
    planner.end_open()?;
    for (path, info) in planner.directories.iter().rev() {
        planner
            .sink
            .set_directory_info(path, info)
            .map_err(|e| Error::io("setting the times of", Path::new(path), e))?;
    }
    Ok(planner.plan)
}

/// What a written name is, for parents and link targets.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Directory,
    File,
    /// A symbolic link or junction: never a parent.
    Reparse,
}

struct Planner<'s, S> {
    sink: &'s mut S,
    plan: BaseLayerPlan,
    /// Case-folded names written so far.
    kinds: HashMap<String, Kind>,
    /// Directories in tar order, with their basic information.
    directories: Vec<(String, BasicInfo)>,
    /// The entry whose streams are being written (its alternate streams may follow).
    open: Option<String>,
}

/// Bytes handed to the sink at once (at most).
const STREAM_BUFFER: usize = 1 << 20;

/// Writes to the sink as a byte stream, counting.
struct SinkWriter<'a, S> {
    sink: &'a mut S,
    written: &'a mut u64,
}

impl<S: BaseLayerSink> Write for SinkWriter<'_, S> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.sink.write(buf)?;
        *self.written += buf.len() as u64;
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// A clean `/`-separated name under one of the three areas.
fn check_name(raw: &[u8]) -> Result<String> {
    let (full, comps) = super::encode::clean_name(raw)?;
    let bad = |why: &str| Error::hostile(full.clone(), why.to_string());
    if !matches!(comps[0].as_str(), "Files" | "Hives" | "UtilityVM") {
        return Err(bad("a base layer holds only Files/, Hives/ and UtilityVM/"));
    }
    Ok(full)
}

/// The entry's metadata (for its streams) and basic information, with
/// go-winio's defaults (see the module documentation).
fn metadata(
    recs: &[(String, Vec<u8>)],
    is_dir: bool,
    header_mtime: u64,
    name: &str,
) -> Result<(WinMeta, BasicInfo)> {
    let pax_time = |key: &str| {
        recs.iter()
            .find(|(k, _)| k == key)
            .and_then(|(_, v)| Timestamp::parse_pax(String::from_utf8_lossy(v).trim()))
    };
    let mtime = pax_time("mtime").unwrap_or(Timestamp::from_secs(header_mtime));
    let mut meta = meta_of(recs, is_dir, header_mtime, name)?;
    let has = |key: &str| recs.iter().any(|(k, _)| k == key);
    if !has(PAX_FILEATTR) {
        meta.attributes = if is_dir { FILE_ATTRIBUTE_DIRECTORY } else { 0 };
    }
    if !has(PAX_RAWSD) && !has(PAX_SD) {
        meta.security_descriptor.clear();
    }
    let info = BasicInfo {
        creation_time: filetime(pax_time(PAX_CREATIONTIME).unwrap_or(mtime)),
        last_access_time: pax_time("atime").map_or(0, filetime),
        last_write_time: filetime(mtime),
        change_time: pax_time("ctime").map_or(0, filetime),
        attributes: meta.attributes,
    };
    Ok((meta, info))
}

/// The reparse point of a symlink entry (a junction when `mount_point`).
fn reparse_point<R: Read>(
    entry: &tar::Entry<'_, R>,
    name: &str,
    mount_point: bool,
) -> Result<ReparsePoint> {
    let target = entry
        .link_name_bytes()
        .map(|b| String::from_utf8(b.into_owned()))
        .transpose()
        .map_err(|_| Error::hostile(name, "link target is not UTF-8"))?
        .unwrap_or_default();
    if target.is_empty() || target.contains('\0') {
        return Err(Error::hostile(name, "empty link target or NUL in it"));
    }
    Ok(ReparsePoint {
        target: target.replace('/', "\\"),
        mount_point,
    })
}

/// Whether a link may live at, or point to, `name`.
fn linkable(name: &str) -> bool {
    name.starts_with("Files/") || name.starts_with("UtilityVM/Files/")
}

impl<S: BaseLayerSink> Planner<'_, S> {
    fn entry<R: Read>(&mut self, entry: &mut tar::Entry<'_, R>) -> Result<()> {
        let raw = entry.path_bytes().into_owned();
        let name = check_name(&raw)?;
        let kind = entry.header().entry_type();
        let (parent, leaf) = match name.rsplit_once('/') {
            Some((p, l)) => (Some(p), l),
            None => (None, name.as_str()),
        };
        if leaf.starts_with(WHITEOUT_PREFIX) {
            return Err(Error::hostile(
                &name,
                "a base layer cannot delete anything (whiteouts are refused)",
            ));
        }
        if kind.is_file() && leaf.contains(':') {
            return self.alternate_stream(entry, &name);
        }
        self.end_open()?;
        if let Some(p) = ntfs_name_problem(leaf) {
            return Err(Error::NtfsName {
                path: name.clone(),
                reason: p,
            });
        }
        if let Some(parent) = parent {
            match self.kinds.get(&fold_case(parent)) {
                Some(Kind::Directory) => {}
                Some(_) => {
                    return Err(Error::hostile(
                        &name,
                        "its parent is a file or a reparse point",
                    ))
                }
                None => {
                    return Err(Error::hostile(
                        &name,
                        "its parent directory was not declared earlier in the layer",
                    ))
                }
            }
        }
        let folded = fold_case(&name);
        if self.kinds.contains_key(&folded) {
            return Err(Error::hostile(
                &name,
                "written twice (names are case-insensitive on Windows)",
            ));
        }
        if kind.is_hard_link() {
            return self.link(entry, &name, folded);
        }
        let is_dir = kind.is_dir();
        if !(is_dir || kind.is_file() || kind.is_symlink()) {
            return Err(Error::hostile(
                &name,
                format!("entry type {kind:?} has no meaning in a Windows layer"),
            ));
        }
        let recs = records(entry, &name)?;
        let header_mtime = entry.header().mtime().unwrap_or(0);
        let (meta, info) = metadata(&recs, is_dir, header_mtime, &name)?;
        // The directory flag decides what is created, as hcsshim's writer
        // decides by FILE_ATTRIBUTE_DIRECTORY.
        let directory = info.attributes & FILE_ATTRIBUTE_DIRECTORY != 0;
        if is_dir && !directory {
            return Err(Error::hostile(
                &name,
                "a directory entry without FILE_ATTRIBUTE_DIRECTORY",
            ));
        }
        let link = if kind.is_symlink() {
            Some(reparse_point(entry, &name, meta.mountpoint)?)
        } else {
            None
        };
        self.sink
            .create(&name, directory, &info)
            .map_err(|e| Error::io("creating", Path::new(&name), e))?;
        self.plan.entries += 1;
        if name == "UtilityVM/Files" {
            self.plan.has_utility_vm = true;
        }
        let recorded = if link.is_some() {
            Kind::Reparse
        } else if directory {
            Kind::Directory
        } else {
            Kind::File
        };
        self.kinds.insert(folded, recorded);
        if directory {
            self.directories.push((name.clone(), info));
        }
        self.open = Some(name.clone());
        // Buffered: each write is a BackupWrite call on Windows.
        let mut out = io::BufWriter::with_capacity(
            STREAM_BUFFER,
            SinkWriter {
                sink: &mut *self.sink,
                written: &mut self.plan.stream_bytes,
            },
        );
        let path = Path::new(&name);
        write_metadata_streams(&mut out, &meta, link.as_ref(), &name, path)?;
        if kind.is_file() {
            let size = entry.size();
            write_header(&mut out, backup::BACKUP_DATA, 0, size, "", None)
                .map_err(|e| Error::io("writing", path, e))?;
            let n = io::copy(entry, &mut out).map_err(|e| Error::io("writing", path, e))?;
            if n != size {
                return Err(Error::hostile(
                    &name,
                    format!("entry holds {n} bytes, its header says {size}"),
                ));
            }
        }
        out.flush().map_err(|e| Error::io("writing", path, e))
    }

    fn link<R: Read>(
        &mut self,
        entry: &mut tar::Entry<'_, R>,
        name: &str,
        folded: String,
    ) -> Result<()> {
        let target = entry
            .link_name_bytes()
            .map(|b| String::from_utf8(b.into_owned()))
            .transpose()
            .map_err(|_| Error::hostile(name, "link target is not UTF-8"))?
            .unwrap_or_default();
        let target = check_name(target.trim_end_matches('/').as_bytes()).map_err(|_| {
            Error::hostile(name, format!("hard link target {target:?} is not clean"))
        })?;
        if !linkable(name) || !linkable(&target) {
            return Err(Error::hostile(
                name,
                "hard links must stay under Files/ or UtilityVM/Files/",
            ));
        }
        match self.kinds.get(&fold_case(&target)) {
            Some(Kind::File) | Some(Kind::Reparse) => {}
            Some(Kind::Directory) => {
                return Err(Error::hostile(
                    name,
                    "a hard link cannot point to a directory",
                ))
            }
            None => {
                return Err(Error::hostile(
                    name,
                    format!("hard link target {target:?} is not written earlier in the layer"),
                ))
            }
        }
        self.sink
            .link(name, &target)
            .map_err(|e| Error::io("linking", Path::new(name), e))?;
        self.kinds.insert(folded, Kind::File);
        self.plan.links += 1;
        Ok(())
    }

    fn alternate_stream<R: Read>(
        &mut self,
        entry: &mut tar::Entry<'_, R>,
        name: &str,
    ) -> Result<()> {
        let (owner, stream) = name
            .rsplit_once(':')
            .ok_or_else(|| Error::hostile(name, "not an alternate stream name"))?;
        if self.open.as_deref() != Some(owner) || owner.contains(':') {
            return Err(Error::hostile(
                name,
                "an alternate data stream must directly follow its file or directory",
            ));
        }
        if let Some(p) = ntfs_name_problem(stream) {
            return Err(Error::NtfsName {
                path: name.to_owned(),
                reason: format!("stream name {p}"),
            });
        }
        if self.kinds.insert(fold_case(name), Kind::File).is_some() {
            return Err(Error::hostile(
                name,
                "written twice (names are case-insensitive on Windows)",
            ));
        }
        let size = entry.size();
        let path = Path::new(name);
        let mut out = io::BufWriter::with_capacity(
            STREAM_BUFFER,
            SinkWriter {
                sink: &mut *self.sink,
                written: &mut self.plan.stream_bytes,
            },
        );
        write_header(
            &mut out,
            backup::BACKUP_ALTERNATE_DATA,
            0,
            size,
            &format!(":{stream}:$DATA"),
            None,
        )
        .map_err(|e| Error::io("writing", path, e))?;
        let n = io::copy(entry, &mut out).map_err(|e| Error::io("writing", path, e))?;
        if n != size {
            return Err(Error::hostile(
                name,
                format!("entry holds {n} bytes, its header says {size}"),
            ));
        }
        out.flush().map_err(|e| Error::io("writing", path, e))
    }

    fn end_open(&mut self) -> Result<()> {
        if let Some(name) = self.open.take() {
            self.sink
                .end_file()
                .map_err(|e| Error::io("writing", Path::new(&name), e))?;
        }
        Ok(())
    }
}
