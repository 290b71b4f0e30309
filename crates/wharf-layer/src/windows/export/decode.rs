//! Export folder → Windows layer tar ([`export_folder_to_layer`]).
//!
//! Walks the folder the way hcsshim's `legacyLayerReader` does (names sorted,
//! a directory before its children, a directory's tombstones right after it,
//! `Hives` after `Files`), decodes each file's attribute word and backup
//! streams, and writes every entry through [`WindowsLayerWriter`], which
//! enforces the importer's rules. File data is copied straight from the
//! folder's files (seek + bounded copy), never loaded whole.

use super::backup::{self, StreamInfo};
use super::{ea, hostile, is_wcidirs, parse_stream_name, reparse, tombstones, WCIDIRS_SUFFIX};
use crate::error::{Error, Result};
use crate::windows::meta::{Timestamp, WinMeta, FILE_ATTRIBUTE_DIRECTORY};
use crate::windows::names::fold_case;
use crate::windows::writer::WindowsLayerWriter;
use std::collections::HashMap;
use std::fs::{File, Metadata};
use std::io::{self, BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// The Recycle Bin folder under `Files/`, which export decoding skips.
const RECYCLE_BIN: &str = "$Recycle.Bin";

/// Opens a folder file for reading. On Windows with
/// `FILE_FLAG_BACKUP_SEMANTICS`, as hcsshim's layer readers open them:
/// needed to open directories at all, and, with the backup privilege the
/// export already holds, files whose security descriptor denies reading.
fn open_folder_file(path: &Path) -> io::Result<File> {
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(windows)]
    {
        use std::os::windows::fs::OpenOptionsExt;
        // FILE_FLAG_BACKUP_SEMANTICS
        options.custom_flags(0x0200_0000);
    }
    options.open(path)
}

/// Largest security descriptor stream accepted (two 64 KiB ACLs and SIDs).
const MAX_SD_LEN: u64 = 256 * 1024;
/// Largest EA stream accepted (NTFS limits a file's EAs to 64 KiB).
const MAX_EA_LEN: u64 = 64 * 1024;

/// What [`export_folder_to_layer`] wrote.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ExportSummary {
    /// Regular files (not counting hardlinks and alternate streams).
    pub files: u64,
    /// Directories under `Files/` found in the folder.
    pub directories: u64,
    /// Symbolic links (files and directories).
    pub symlinks: u64,
    /// Junctions.
    pub junctions: u64,
    /// Hardlink entries (second and later names of a file).
    pub hardlinks: u64,
    /// Alternate data streams.
    pub alternate_streams: u64,
    /// Whiteouts written from `tombstones.txt`.
    pub whiteouts: u64,
    /// Registry hive deltas.
    pub hives: u64,
    /// Bytes of file, stream and hive data written.
    pub data_bytes: u64,
    /// Streams the layer format has no place for (`BACKUP_LINK`,
    /// `BACKUP_PROPERTY_DATA`, `BACKUP_OBJECT_ID`, `BACKUP_TXFS_DATA`), skipped
    /// as go-winio's `backuptar` skips them.
    pub skipped_streams: u64,
}

/// Decodes the export folder `folder` (what `HcsExportLayer` / `ExportLayer`
/// writes) into `writer`, which must be freshly created. Call
/// [`WindowsLayerWriter::finish`] afterwards.
///
/// Errors name the folder file involved: a missing or malformed
/// `tombstones.txt`, a file whose backup streams are truncated, run past the
/// end of the file or have unknown ids, a directory without its
/// `.$wcidirs$` file, reparse points other than symlinks and junctions, links
/// or special files inside the folder itself, a `UtilityVM` folder (base
/// layers only), and every rule the writer enforces.
pub fn export_folder_to_layer<W: Write>(
    folder: &Path,
    writer: &mut WindowsLayerWriter<'_, W>,
) -> Result<ExportSummary> {
    export_folder_to_layer_with(folder, writer, &HostFileIdentity)
}

/// [`export_folder_to_layer`] with the way files with several names are
/// recognised supplied by the caller (see [`FileIdentity`]).
pub fn export_folder_to_layer_with<W: Write>(
    folder: &Path,
    writer: &mut WindowsLayerWriter<'_, W>,
    identity: &dyn FileIdentity,
) -> Result<ExportSummary> {
    let mut decoder = Decoder {
        writer,
        summary: ExportSummary::default(),
        links: HashMap::new(),
        identity,
    };
    let files_dir = folder.join("Files");
    let hives_dir = folder.join("Hives");
    check_top_level(folder)?;
    let tomb_path = folder.join("tombstones.txt");
    let tomb_file =
        open_folder_file(&tomb_path).map_err(|e| Error::io("opening", &tomb_path, e))?;
    let deleted = tombstones::parse(BufReader::new(tomb_file))
        .map_err(|reason| hostile(&tomb_path, reason))?;
    let mut by_parent: HashMap<String, Vec<String>> = HashMap::new();
    for path in deleted {
        let parent = path.rsplit_once('/').map_or("", |(d, _)| d);
        by_parent.entry(fold_case(parent)).or_default().push(path);
    }
    if is_dir(&files_dir)? {
        decoder.walk_files(&files_dir, &mut by_parent)?;
    }
    // Tombstones whose directory is not in the folder: the writer declares
    // their ancestors with the base's metadata.
    let mut rest: Vec<String> = by_parent.into_values().flatten().collect();
    rest.sort();
    for path in rest {
        decoder.writer.add_whiteout(&path)?;
        decoder.summary.whiteouts += 1;
    }
    if is_dir(&hives_dir)? {
        decoder.hives(&hives_dir)?;
    }
    Ok(decoder.summary)
}

fn is_dir(path: &Path) -> Result<bool> {
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.is_dir() => Ok(true),
        Ok(_) => Err(hostile(path, "expected a directory")),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(Error::io("inspecting", path, e)),
    }
}

/// The folder holds `tombstones.txt`, `Files`, `Hives` and nothing else but
/// the `.$wcidirs$` files hcsshim's import writer leaves beside `Files` and `Hives`.
fn check_top_level(folder: &Path) -> Result<()> {
    for name in sorted_names(folder)? {
        match name.as_str() {
            "tombstones.txt" | "Files" | "Hives" => {}
            "Files.$wcidirs$" | "Hives.$wcidirs$" => {}
            "UtilityVM" => {
                return Err(Error::Unsupported(format!(
                    "{}: a UtilityVM folder belongs to base layers, which are not decoded from \
                     export folders; export a container layer instead",
                    folder.join(name).display()
                )))
            }
            _ => {
                return Err(hostile(
                    &folder.join(&name),
                    "unexpected entry at the top of an export folder (expected tombstones.txt, \
                     Files and Hives)",
                ))
            }
        }
    }
    Ok(())
}

/// Entry names of `dir`, sorted bytewise; a name that is not UTF-8 is an error.
fn sorted_names(dir: &Path) -> Result<Vec<String>> {
    let rd = std::fs::read_dir(dir).map_err(|e| Error::io("listing", dir, e))?;
    let mut names = Vec::new();
    for e in rd {
        let e = e.map_err(|e| Error::io("listing", dir, e))?;
        let name = e
            .file_name()
            .into_string()
            .map_err(|raw| hostile(&dir.join(raw), "file name is not valid Unicode"))?;
        names.push(name);
    }
    names.sort();
    Ok(names)
}

/// Recognises the names of one file in the folder: files that share a key
/// are hard links of one another. The first name met in the walk is written
/// as a file, the others as tar hardlinks to it.
pub trait FileIdentity {
    /// A key shared by all names of the file at `path` (for instance its
    /// volume and file id), or `None` when the file has a single name.
    fn link_key(&self, path: &Path, meta: &Metadata) -> io::Result<Option<(u64, u64)>>;
}

/// The identity of this host's files: device and inode of files with more
/// than one link on Unix; on Windows the volume serial number and file
/// index of `GetFileInformationByHandle` (the file opened with backup
/// semantics) for files with more than one link, which the standard
/// library does not expose on stable Rust (`windows_file_identity`,
/// type-checked only).
#[derive(Clone, Copy, Debug, Default)]
pub struct HostFileIdentity;

impl FileIdentity for HostFileIdentity {
    #[cfg(unix)]
    fn link_key(&self, _path: &Path, meta: &Metadata) -> io::Result<Option<(u64, u64)>> {
        use std::os::unix::fs::MetadataExt;
        Ok((meta.nlink() > 1).then(|| (meta.dev(), meta.ino())))
    }

    #[cfg(windows)]
    fn link_key(&self, path: &Path, _meta: &Metadata) -> io::Result<Option<(u64, u64)>> {
        let file = open_folder_file(path)?;
        super::windows_file_identity::link_key(&file)
    }

    #[cfg(not(any(unix, windows)))]
    fn link_key(&self, _path: &Path, _meta: &Metadata) -> io::Result<Option<(u64, u64)>> {
        Ok(None)
    }
}

/// Creation and last-write time of a folder file. Windows export folders
/// carry the entry's times on their files (hcsshim reads them with
/// `GetFileBasicInfo`). Other hosts cannot set a creation time, so the last
/// write time stands in for it there, keeping the output deterministic.
fn times(meta: &Metadata, path: &Path) -> Result<(Timestamp, Timestamp)> {
    let modified = meta
        .modified()
        .map_err(|e| Error::io("reading the modification time of", path, e))?;
    // Windows' resolution, whatever the host's file system keeps.
    let mtime = to_timestamp(modified).at_filetime_resolution();
    #[cfg(windows)]
    let creation = meta
        .created()
        .map(|t| to_timestamp(t).at_filetime_resolution())
        .unwrap_or(mtime);
    #[cfg(not(windows))]
    let creation = mtime;
    Ok((creation, mtime))
}

fn to_timestamp(t: std::time::SystemTime) -> Timestamp {
    match t.duration_since(std::time::UNIX_EPOCH) {
        Ok(d) => Timestamp {
            secs: d.as_secs(),
            nanos: d.subsec_nanos(),
        },
        Err(_) => Timestamp::default(),
    }
}

/// A minimal sanity check of a self-relative security descriptor, so that a
/// garbage stream is reported here rather than by Windows at import.
fn check_security_descriptor(sd: &[u8]) -> std::result::Result<(), String> {
    if sd.len() < 20 {
        return Err(format!(
            "security descriptor of {} bytes is shorter than its header",
            sd.len()
        ));
    }
    if sd[0] != 1 {
        return Err(format!("security descriptor revision {} is not 1", sd[0]));
    }
    if u16::from_le_bytes([sd[2], sd[3]]) & 0x8000 == 0 {
        return Err("security descriptor is not self-relative".into());
    }
    for at in [4usize, 8, 12, 16] {
        let off = u32::from_le_bytes([sd[at], sd[at + 1], sd[at + 2], sd[at + 3]]) as usize;
        if off != 0 && (off < 20 || off + 8 > sd.len()) {
            return Err(format!(
                "security descriptor offset {off} lies outside its {} bytes",
                sd.len()
            ));
        }
    }
    Ok(())
}

/// Everything read from one folder file before its entry is written.
struct Decoded {
    meta: WinMeta,
    reparse: Option<reparse::ReparsePoint>,
    data: Option<Content>,
    streams: Vec<(String, StreamInfo)>,
}

/// Where a file's content lies in its folder file.
enum Content {
    /// One contiguous range.
    Plain { pos: u64, len: u64 },
    /// Allocated ranges of a sparse file and its total size.
    Sparse { blocks: Vec<StreamInfo>, size: u64 },
}

impl Content {
    fn size(&self) -> u64 {
        match self {
            Content::Plain { len, .. } => *len,
            Content::Sparse { size, .. } => *size,
        }
    }
}

struct Decoder<'a, 'b, W: Write> {
    writer: &'a mut WindowsLayerWriter<'b, W>,
    summary: ExportSummary,
    /// First container path written for each multiply-linked file.
    links: HashMap<(u64, u64), String>,
    identity: &'a dyn FileIdentity,
}

/// A folder entry under `Files/` waiting to be written, and its container path.
struct Pending(PathBuf, String);

impl<W: Write> Decoder<'_, '_, W> {
    fn emit_tombstones(
        &mut self,
        dir: &str,
        by_parent: &mut HashMap<String, Vec<String>>,
    ) -> Result<()> {
        if let Some(mut paths) = by_parent.remove(&fold_case(dir)) {
            paths.sort();
            for p in paths {
                self.writer.add_whiteout(&p)?;
                self.summary.whiteouts += 1;
            }
        }
        Ok(())
    }

    /// Pre-order walk of `Files`, children sorted, explicit stack (folders can be deep).
    fn walk_files(
        &mut self,
        files_dir: &Path,
        by_parent: &mut HashMap<String, Vec<String>>,
    ) -> Result<()> {
        self.emit_tombstones("", by_parent)?;
        let mut stack = Vec::new();
        push_children(&mut stack, files_dir, "")?;
        while let Some(Pending(fs_path, container)) = stack.pop() {
            let lmeta = std::fs::symlink_metadata(&fs_path)
                .map_err(|e| Error::io("inspecting", &fs_path, e))?;
            // Never part of a layer; hcsshim's layer readers skip it too.
            if lmeta.is_dir() && container.eq_ignore_ascii_case(RECYCLE_BIN) {
                continue;
            }
            if lmeta.is_dir() {
                let mut side = fs_path.clone().into_os_string();
                side.push(WCIDIRS_SUFFIX);
                let side = PathBuf::from(side);
                let decoded = self.read_folder_file(&side, true)?;
                if let Some(point) = decoded.reparse {
                    if !sorted_names(&fs_path)?.is_empty() {
                        return Err(hostile(
                            &fs_path,
                            "a directory reparse point cannot have children in the folder",
                        ));
                    }
                    self.write_link(&container, point, true, decoded.meta)?;
                    continue;
                }
                if decoded.data.is_some() {
                    return Err(hostile(&side, "a directory cannot have a data stream"));
                }
                self.writer
                    .add_dir(&container, Some(decoded.meta.clone()))?;
                self.summary.directories += 1;
                self.write_streams(&side, &container, &decoded)?;
                self.emit_tombstones(&container, by_parent)?;
                push_children(&mut stack, &fs_path, &container)?;
            } else if lmeta.is_file() {
                self.file(&fs_path, &container, &lmeta)?;
            } else {
                return Err(hostile(
                    &fs_path,
                    "export folders hold only files and directories (found a link or special file)",
                ));
            }
        }
        Ok(())
    }

    fn file(&mut self, fs_path: &Path, container: &str, lmeta: &Metadata) -> Result<()> {
        let decoded = self.read_folder_file(fs_path, false)?;
        if decoded.meta.attributes & FILE_ATTRIBUTE_DIRECTORY != 0 {
            return Err(hostile(
                fs_path,
                "the attribute word says directory, but directories are described by \
                 <name>.$wcidirs$ files beside a directory",
            ));
        }
        if let Some(point) = decoded.reparse {
            return self.write_link(container, point, false, decoded.meta);
        }
        let key = self
            .identity
            .link_key(fs_path, lmeta)
            .map_err(|e| Error::io("identifying", fs_path, e))?;
        if let Some(key) = key {
            if let Some(first) = self.links.get(&key) {
                let first = first.clone();
                self.writer
                    .add_hardlink(container, &first, Some(decoded.meta))?;
                self.summary.hardlinks += 1;
                return Ok(());
            }
            self.links.insert(key, container.to_string());
        }
        let mut f = open_folder_file(fs_path).map_err(|e| Error::io("opening", fs_path, e))?;
        let size = decoded.data.as_ref().map_or(0, Content::size);
        let result = match &decoded.data {
            None => {
                self.writer
                    .add_file(container, 0, Some(decoded.meta.clone()), &mut io::empty())
            }
            Some(Content::Plain { pos, len }) => {
                f.seek(SeekFrom::Start(*pos))
                    .map_err(|e| Error::io("seeking in", fs_path, e))?;
                let mut r = BufReader::with_capacity(64 * 1024, (&f).take(*len));
                self.writer
                    .add_file(container, *len, Some(decoded.meta.clone()), &mut r)
            }
            Some(Content::Sparse { blocks, size }) => {
                let mut r = SparseReader::new(&mut f, blocks, *size);
                self.writer
                    .add_file(container, *size, Some(decoded.meta.clone()), &mut r)
            }
        };
        result?;
        self.summary.files += 1;
        self.summary.data_bytes += size;
        self.write_streams(fs_path, container, &decoded)
    }

    fn write_link(
        &mut self,
        container: &str,
        point: reparse::ReparsePoint,
        is_dir: bool,
        mut meta: WinMeta,
    ) -> Result<()> {
        meta.mountpoint = point.mount_point;
        self.writer
            .add_symlink(container, &point.target, is_dir, Some(meta))?;
        if point.mount_point {
            self.summary.junctions += 1;
        } else {
            self.summary.symlinks += 1;
        }
        Ok(())
    }

    /// Writes the alternate data streams of the entry just written.
    fn write_streams(&mut self, fs_path: &Path, container: &str, decoded: &Decoded) -> Result<()> {
        if decoded.streams.is_empty() {
            return Ok(());
        }
        let f = open_folder_file(fs_path).map_err(|e| Error::io("opening", fs_path, e))?;
        for (name, s) in &decoded.streams {
            (&f).seek(SeekFrom::Start(s.data_pos))
                .map_err(|e| Error::io("seeking in", fs_path, e))?;
            let mut r = BufReader::with_capacity(64 * 1024, (&f).take(s.data_len));
            self.writer.add_alternate_stream(
                container,
                name,
                s.data_len,
                Some(decoded.meta.clone()),
                &mut r,
            )?;
            self.summary.alternate_streams += 1;
            self.summary.data_bytes += s.data_len;
        }
        Ok(())
    }

    /// Reads the attribute word and scans the backup streams of a folder file.
    fn read_folder_file(&mut self, path: &Path, is_dir: bool) -> Result<Decoded> {
        let lmeta = match std::fs::symlink_metadata(path) {
            Ok(m) => m,
            Err(e) if e.kind() == io::ErrorKind::NotFound && is_dir => {
                return Err(hostile(
                    path,
                    "missing: every directory of an export folder has a <name>.$wcidirs$ file \
                     beside it holding its attributes and security descriptor",
                ))
            }
            Err(e) => return Err(Error::io("inspecting", path, e)),
        };
        if !lmeta.is_file() {
            return Err(hostile(path, "expected a regular file"));
        }
        let (creation_time, mtime) = times(&lmeta, path)?;
        let mut f = open_folder_file(path).map_err(|e| Error::io("opening", path, e))?;
        let end = lmeta.len();
        if end < 4 {
            return Err(hostile(
                path,
                format!("{end} bytes: shorter than the 4-byte attribute word every export file starts with"),
            ));
        }
        let mut word = [0u8; 4];
        f.read_exact(&mut word)
            .map_err(|e| Error::io("reading", path, e))?;
        let streams =
            backup::scan_streams(&mut BufReader::new(&mut f), end).map_err(|e| match e {
                backup::ScanError::Io(e) => Error::io("reading", path, e),
                backup::ScanError::Malformed(m) => hostile(path, m),
            })?;
        let mut meta = if is_dir {
            WinMeta::default_dir(creation_time)
        } else {
            WinMeta::default_file(creation_time)
        };
        meta.attributes = u32::from_le_bytes(word);
        meta.mtime = mtime.secs;
        meta.mtime_nanos = mtime.nanos;
        let mut decoded = Decoded {
            meta,
            reparse: None,
            data: None,
            streams: Vec::new(),
        };
        let mut sparse: Option<Vec<StreamInfo>> = None;
        for s in streams {
            if s.id != backup::BACKUP_SPARSE_BLOCK {
                if let Some(blocks) = sparse.take() {
                    decoded.data = Some(sparse_content(blocks).map_err(|m| hostile(path, m))?);
                }
            }
            match s.id {
                backup::BACKUP_SECURITY_DATA => {
                    let sd = read_small(&mut f, &s, MAX_SD_LEN, path, "security descriptor")?;
                    check_security_descriptor(&sd).map_err(|m| hostile(path, m))?;
                    decoded.meta.security_descriptor = sd;
                }
                backup::BACKUP_EA_DATA => {
                    let raw = read_small(&mut f, &s, MAX_EA_LEN, path, "extended attributes")?;
                    decoded.meta.extended_attributes =
                        ea::decode(&raw).map_err(|m| hostile(path, m))?;
                }
                backup::BACKUP_REPARSE_DATA => {
                    let raw =
                        read_small(&mut f, &s, reparse::MAX_REPARSE_LEN, path, "reparse data")?;
                    let point = reparse::decode(&raw).map_err(|m| {
                        if m.starts_with("reparse tag") {
                            Error::Unsupported(format!("{}: {m}", path.display()))
                        } else {
                            hostile(path, m)
                        }
                    })?;
                    decoded.reparse = Some(point);
                }
                backup::BACKUP_DATA => {
                    if decoded.data.is_some() || sparse.is_some() {
                        return Err(hostile(path, "more than one data stream"));
                    }
                    if s.attributes & backup::STREAM_SPARSE_ATTRIBUTE != 0 && s.data_len == 0 {
                        sparse = Some(Vec::new());
                    } else {
                        decoded.data = Some(Content::Plain {
                            pos: s.data_pos,
                            len: s.data_len,
                        });
                    }
                }
                backup::BACKUP_SPARSE_BLOCK => match sparse.as_mut() {
                    Some(blocks) => blocks.push(s),
                    None => {
                        return Err(hostile(
                            path,
                            "sparse block without a preceding sparse data stream",
                        ))
                    }
                },
                backup::BACKUP_ALTERNATE_DATA => {
                    if s.attributes & backup::STREAM_SPARSE_ATTRIBUTE != 0 {
                        return Err(Error::Unsupported(format!(
                            "{}: sparse alternate data stream {:?} (the layer format needs its size up front)",
                            path.display(),
                            s.name
                        )));
                    }
                    let name = parse_stream_name(&s.name).map_err(|m| hostile(path, m))?;
                    decoded.streams.push((name, s));
                }
                _ => self.summary.skipped_streams += 1,
            }
        }
        if let Some(blocks) = sparse.take() {
            decoded.data = Some(sparse_content(blocks).map_err(|m| hostile(path, m))?);
        }
        if decoded.reparse.is_some() && decoded.data.as_ref().is_some_and(|d| d.size() > 0) {
            return Err(hostile(path, "a reparse point cannot also hold file data"));
        }
        Ok(decoded)
    }

    fn hives(&mut self, dir: &Path) -> Result<()> {
        for name in sorted_names(dir)? {
            let path = dir.join(&name);
            let lmeta =
                std::fs::symlink_metadata(&path).map_err(|e| Error::io("inspecting", &path, e))?;
            if !lmeta.is_file() {
                return Err(hostile(&path, "Hives holds only registry hive files"));
            }
            // Hive deltas are plain files; hcsshim gives them their write time as creation time.
            let modified = lmeta
                .modified()
                .map(to_timestamp)
                .map_err(|e| Error::io("reading the modification time of", &path, e))?;
            let meta = WinMeta::default_file(modified);
            let f = open_folder_file(&path).map_err(|e| Error::io("opening", &path, e))?;
            let mut r = BufReader::with_capacity(64 * 1024, f);
            self.writer
                .add_hive(&name, lmeta.len(), Some(meta), &mut r)?;
            self.summary.hives += 1;
            self.summary.data_bytes += lmeta.len();
        }
        Ok(())
    }
}

/// Queues the children of `dir` (skipping `.$wcidirs$` files) so that they pop in sorted order.
fn push_children(stack: &mut Vec<Pending>, dir: &Path, container: &str) -> Result<()> {
    let names = sorted_names(dir)?;
    for name in names.into_iter().rev() {
        if is_wcidirs(&name) {
            continue;
        }
        let child = if container.is_empty() {
            name.clone()
        } else {
            format!("{container}/{name}")
        };
        stack.push(Pending(dir.join(&name), child));
    }
    Ok(())
}

fn read_small(f: &mut File, s: &StreamInfo, cap: u64, path: &Path, what: &str) -> Result<Vec<u8>> {
    if s.data_len > cap {
        return Err(hostile(
            path,
            format!(
                "{what} stream of {} bytes exceeds the {cap}-byte limit",
                s.data_len
            ),
        ));
    }
    f.seek(SeekFrom::Start(s.data_pos))
        .map_err(|e| Error::io("seeking in", path, e))?;
    let mut buf = vec![0u8; s.data_len as usize];
    f.read_exact(&mut buf)
        .map_err(|e| Error::io("reading", path, e))?;
    Ok(buf)
}

/// Checks the blocks of a sparse file (ascending, not overlapping, an optional
/// empty block at the end giving the file size) and returns its content plan.
fn sparse_content(blocks: Vec<StreamInfo>) -> std::result::Result<Content, String> {
    let mut end = 0u64;
    let mut size = None;
    for (i, b) in blocks.iter().enumerate() {
        if b.sparse_offset < end {
            return Err(format!(
                "sparse block at offset {} overlaps or precedes the previous one (ending at {end})",
                b.sparse_offset
            ));
        }
        if b.data_len == 0 {
            if i + 1 != blocks.len() {
                return Err("an empty sparse block (end of file marker) is not the last".into());
            }
            size = Some(b.sparse_offset);
        } else {
            end = b
                .sparse_offset
                .checked_add(b.data_len)
                .ok_or("sparse block offset overflows")?;
        }
    }
    let blocks: Vec<StreamInfo> = blocks.into_iter().filter(|b| b.data_len > 0).collect();
    Ok(Content::Sparse {
        blocks,
        size: size.unwrap_or(end),
    })
}

/// Reads a sparse file's content: zeros between blocks, block data from the folder file.
struct SparseReader<'f> {
    file: &'f mut File,
    /// Blocks not yet fully read, ascending.
    blocks: &'f [StreamInfo],
    pos: u64,
    size: u64,
}

impl<'f> SparseReader<'f> {
    fn new(file: &'f mut File, blocks: &'f [StreamInfo], size: u64) -> Self {
        SparseReader {
            file,
            blocks,
            pos: 0,
            size,
        }
    }
}

impl Read for SparseReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.pos >= self.size || buf.is_empty() {
            return Ok(0);
        }
        let left = self.size - self.pos;
        let Some(b) = self.blocks.first() else {
            let n = (buf.len() as u64).min(left) as usize;
            buf[..n].fill(0);
            self.pos += n as u64;
            return Ok(n);
        };
        if self.pos < b.sparse_offset {
            let n = (buf.len() as u64).min(b.sparse_offset - self.pos).min(left) as usize;
            buf[..n].fill(0);
            self.pos += n as u64;
            return Ok(n);
        }
        let within = self.pos - b.sparse_offset;
        let n = (buf.len() as u64).min(b.data_len - within).min(left) as usize;
        self.file.seek(SeekFrom::Start(b.data_pos + within))?;
        let got = self.file.read(&mut buf[..n])?;
        if got == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "sparse block data ends early",
            ));
        }
        self.pos += got as u64;
        if self.pos - b.sparse_offset >= b.data_len {
            self.blocks = &self.blocks[1..];
        }
        Ok(got)
    }
}
