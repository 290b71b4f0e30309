//! Windows layer tar → layer folder, the inverse of
//! [`super::export_folder_to_layer`], in two flavours:
//!
//! - [`layer_to_import_folder`]: a complete export folder (with
//!   `tombstones.txt` and hard links inside the folder), what `ExportLayer`
//!   writes; the round-trip tests use it.
//! - [`layer_to_staging_folder`]: the folder handed to `ImportLayer` on a
//!   Windows host, the way hcsshim's `internal/wclayer/importlayer.go` stages
//!   it (since its commit 731a68d7e): no `tombstones.txt` and no hard links,
//!   because `ImportLayer` must not follow them into the platform's files;
//!   the caller deletes the removed paths and creates the links in the
//!   imported folder afterwards, from [`ImportSummary`]. `UtilityVM/` is
//!   staged like `Files/`.
//!
//! The folder is written the way hcsshim's legacy layer writer lays it out:
//! a directory plus a `<dir>.$wcidirs$` file for each directory (`Files` and
//! `Hives` included), the attribute word and backup streams (security
//! descriptor, EAs, reparse data, data, then alternate streams: the order
//! go-winio's `backuptar` writes) in each `Files\...` file, plain files under
//! `Hives\`.
//!
//! Entries are streamed from the tar into the folder; the tar is trusted for
//! nothing: names must be clean relative paths under `Files/` or `Hives/`,
//! every parent must be declared earlier, the folder must be new or empty.

use super::backup::{self, write_header, write_stream};
use super::{ea, reparse, tombstones, WCIDIRS_SUFFIX};
use crate::error::{Error, Result};
use crate::linux::WHITEOUT_PREFIX;
use crate::windows::meta::{
    Timestamp, WinMeta, FILE_ATTRIBUTE_DIRECTORY, FILE_ATTRIBUTE_REPARSE_POINT, PAX_FILEATTR,
    PAX_RAWSD,
};
use crate::windows::names::{fold_case, ntfs_name_problem};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use std::collections::{HashMap, HashSet};
use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

/// What [`layer_to_import_folder`] wrote.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ImportSummary {
    /// Regular files under `Files/`.
    pub files: u64,
    /// Directories under `Files/`.
    pub directories: u64,
    /// Symbolic links.
    pub symlinks: u64,
    /// Junctions.
    pub junctions: u64,
    /// Alternate data streams.
    pub alternate_streams: u64,
    /// Registry hive deltas.
    pub hives: u64,
    /// Bytes of file, stream and hive data written.
    pub data_bytes: u64,
    /// Container paths (`/`-separated, relative to `C:\`) the layer deletes;
    /// also written to `tombstones.txt`.
    pub removals: Vec<String>,
    /// Hard links as (`Files/...` path, `Files/...` target), in tar order.
    /// In an export folder those whose target is in this layer are also hard
    /// links in the folder; a staging folder holds none of them.
    pub links: Vec<(String, String)>,
}

/// Which folder [`Encoder`] writes.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Flavour {
    /// A complete export folder.
    Export,
    /// A staging folder for `ImportLayer`.
    Staging,
}

/// Writes the Windows layer tar read from `layer` as a layer folder at
/// `folder` (created if missing; it must be empty).
///
/// Errors name the tar entry involved: names outside `Files/` and `Hives/`
/// or not clean, parents not declared earlier, names differing only in
/// case, opaque whiteouts, alternate streams not directly after their file,
/// malformed PAX records, entry types Windows has no use for, and
/// `UtilityVM/` (base layers only).
pub fn layer_to_import_folder(layer: impl Read, folder: &Path) -> Result<ImportSummary> {
    let summary = encode(layer, folder, Flavour::Export)?;
    let tomb = folder.join("tombstones.txt");
    let mut out = BufWriter::new(File::create(&tomb).map_err(|e| Error::io("creating", &tomb, e))?);
    tombstones::write(&mut out, &summary.removals)
        .and_then(|()| out.flush())
        .map_err(|e| Error::io("writing", &tomb, e))?;
    Ok(summary)
}

/// Writes the Windows layer tar read from `layer` as the staging folder
/// `ImportLayer` takes (created if missing; it must be empty): like
/// [`layer_to_import_folder`] but without `tombstones.txt` and hard links,
/// and with `UtilityVM/` accepted. The returned removals and links are for
/// the caller to apply to the imported folder.
pub fn layer_to_staging_folder(layer: impl Read, folder: &Path) -> Result<ImportSummary> {
    encode(layer, folder, Flavour::Staging)
}

fn encode(layer: impl Read, folder: &Path, flavour: Flavour) -> Result<ImportSummary> {
    prepare_folder(folder)?;
    let mut enc = Encoder {
        flavour,
        folder: folder.to_path_buf(),
        summary: ImportSummary::default(),
        dirs: HashSet::new(),
        files: HashMap::new(),
        seen: HashSet::new(),
        open: None,
    };
    let mut archive = tar::Archive::new(layer);
    let entries = archive
        .entries()
        .map_err(|e| Error::io("reading layer tar", folder, e))?;
    for entry in entries {
        let mut entry = entry.map_err(|e| Error::io("reading layer tar", folder, e))?;
        enc.entry(&mut entry)?;
    }
    enc.close_open()?;
    Ok(enc.summary)
}

fn prepare_folder(folder: &Path) -> Result<()> {
    match std::fs::read_dir(folder) {
        Ok(mut rd) => {
            if rd.next().is_some() {
                return Err(Error::Unsupported(format!(
                    "{}: the layer folder must be empty; choose a new directory",
                    folder.display()
                )));
            }
            Ok(())
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            std::fs::create_dir_all(folder).map_err(|e| Error::io("creating", folder, e))
        }
        Err(e) => Err(Error::io("listing", folder, e)),
    }
}

/// The folder file of the last file or directory, kept open so that its
/// alternate streams (the next entries) can be appended, then given its times.
struct OpenFile {
    /// `Files/...` name of the owning entry.
    entry: String,
    out: BufWriter<File>,
    path: PathBuf,
    meta: WinMeta,
}

struct Encoder {
    flavour: Flavour,
    folder: PathBuf,
    summary: ImportSummary,
    /// Case-folded tar names of declared directories under `Files` and
    /// `UtilityVM` (`files` is `Files` itself).
    dirs: HashSet<String>,
    /// Case-folded tar name → folder path of regular files, for hard links.
    files: HashMap<String, PathBuf>,
    /// Case-folded tar names written, to refuse case duplicates.
    seen: HashSet<String>,
    open: Option<OpenFile>,
}

/// A checked tar name: its top-level area and the components below it.
struct Name {
    full: String,
    top: &'static str,
    rest: Vec<String>,
}

/// A Windows layer entry's name as UTF-8 without its trailing `/`, and its
/// components; refused unless relative, `/`-separated, without NUL and
/// clean (no `.`, `..` or empty components). Both the folder encoder and
/// the base layer plan read names through it.
pub(super) fn clean_name(raw: &[u8]) -> Result<(String, Vec<String>)> {
    let text = std::str::from_utf8(raw)
        .map_err(|_| Error::hostile(String::from_utf8_lossy(raw), "name is not UTF-8"))?;
    let full = text.trim_end_matches('/').to_string();
    let bad = |why: &str| Error::hostile(full.clone(), why.to_string());
    if full.starts_with('/') || full.contains('\\') || full.contains('\0') {
        return Err(bad(
            "names must be relative, with '/' separators and no NUL",
        ));
    }
    let comps: Vec<String> = full.split('/').map(str::to_string).collect();
    if comps.iter().any(|c| c.is_empty() || c == "." || c == "..") {
        return Err(bad(
            "names must be clean (no '.', '..' or empty components)",
        ));
    }
    Ok((full, comps))
}

fn parse_name(raw: &[u8], flavour: Flavour) -> Result<Name> {
    let (full, comps) = clean_name(raw)?;
    let bad = |why: &str| Error::hostile(full.clone(), why.to_string());
    let top = match comps[0].as_str() {
        "Files" => "Files",
        "Hives" => "Hives",
        "UtilityVM" if flavour == Flavour::Staging => "UtilityVM",
        "UtilityVM" => {
            return Err(Error::Unsupported(format!(
                "{full}: an export folder has no UtilityVM; it belongs to layers imported for Hyper-V isolation"
            )))
        }
        _ => return Err(bad("outside Files/ and Hives/")),
    };
    Ok(Name {
        top,
        rest: comps[1..].to_vec(),
        full,
    })
}

pub(super) fn records<R: Read>(
    entry: &mut tar::Entry<'_, R>,
    name: &str,
) -> Result<Vec<(String, Vec<u8>)>> {
    let mut out = Vec::new();
    let exts = entry
        .pax_extensions()
        .map_err(|e| Error::hostile(name, format!("unreadable PAX records: {e}")))?;
    if let Some(exts) = exts {
        for x in exts {
            let x = x.map_err(|e| Error::hostile(name, format!("unreadable PAX record: {e}")))?;
            let key = x
                .key()
                .map_err(|_| Error::hostile(name, "PAX key is not UTF-8"))?;
            out.push((key.to_string(), x.value_bytes().to_vec()));
        }
    }
    Ok(out)
}

/// Windows metadata from PAX records, refusing malformed values rather than
/// silently replacing them with defaults.
pub(super) fn meta_of(
    recs: &[(String, Vec<u8>)],
    is_dir: bool,
    mtime: u64,
    name: &str,
) -> Result<WinMeta> {
    for (k, v) in recs {
        let text = String::from_utf8_lossy(v);
        let ok = match k.as_str() {
            PAX_FILEATTR => text.trim().parse::<u32>().is_ok(),
            PAX_RAWSD => STANDARD.decode(text.trim()).is_ok(),
            _ => true,
        };
        if !ok {
            return Err(Error::hostile(
                name,
                format!("malformed PAX record {k}={text:?}"),
            ));
        }
    }
    let mut meta = WinMeta::from_pax(recs, is_dir, mtime);
    if !recs
        .iter()
        .any(|(k, _)| k == super::super::meta::PAX_CREATIONTIME)
    {
        meta.creation_time = Timestamp::from_secs(mtime);
    }
    Ok(meta)
}

impl Encoder {
    fn entry<R: Read>(&mut self, entry: &mut tar::Entry<'_, R>) -> Result<()> {
        let raw = entry.path_bytes().into_owned();
        crate::pax::check_entry(entry)
            .map_err(|reason| Error::hostile(String::from_utf8_lossy(&raw), reason))?;
        let name = parse_name(&raw, self.flavour)?;
        let kind = entry.header().entry_type();
        let mtime = entry.header().mtime().unwrap_or(0);
        let recs = records(entry, &name.full)?;
        let leaf = name.rest.last().cloned().unwrap_or_default();

        // Alternate data stream of the file or directory just written.
        if name.top != "Hives"
            && kind.is_file()
            && leaf.contains(':')
            && !leaf.starts_with(WHITEOUT_PREFIX)
        {
            return self.alternate_stream(entry, &name);
        }
        self.close_open()?;
        if !self.seen.insert(fold_case(&name.full)) {
            return Err(Error::hostile(
                &name.full,
                "written twice (names are case-insensitive on Windows)",
            ));
        }
        if name.rest.is_empty() {
            if !kind.is_dir() {
                return Err(Error::hostile(
                    &name.full,
                    "Files and Hives must be directories",
                ));
            }
            return self.top_dir(&name, &recs, mtime);
        }
        if name.top == "Hives" {
            return self.hive(entry, &name, mtime);
        }
        let whiteout = leaf.strip_prefix(WHITEOUT_PREFIX);
        let checked = if whiteout.is_some() {
            &name.rest[..name.rest.len() - 1]
        } else {
            &name.rest[..]
        };
        for c in checked {
            if let Some(p) = ntfs_name_problem(c) {
                return Err(Error::NtfsName {
                    path: name.full.clone(),
                    reason: format!("component {c:?} {p}"),
                });
            }
            if c.ends_with(WCIDIRS_SUFFIX) {
                return Err(Error::hostile(
                    &name.full,
                    format!(
                        "names ending in {WCIDIRS_SUFFIX} are reserved by the layer folder format"
                    ),
                ));
            }
        }
        if let Some(deleted) = whiteout {
            return self.whiteout(&name, deleted);
        }
        let parent = name.full.rsplit_once('/').map_or("", |(d, _)| d);
        if !self.dirs.contains(&fold_case(parent)) {
            return Err(Error::hostile(
                &name.full,
                "its parent directory was not declared earlier in the layer",
            ));
        }
        let fs_path = self.fs_path(&name);
        if kind.is_dir() {
            let meta = meta_of(&recs, true, mtime, &name.full)?;
            self.dir(&name, &fs_path, meta, None)
        } else if kind.is_symlink() {
            self.symlink(entry, &name, &fs_path, &recs, mtime)
        } else if kind.is_hard_link() {
            self.hardlink(entry, &name, &fs_path)
        } else if kind.is_file() {
            let meta = meta_of(&recs, false, mtime, &name.full)?;
            self.file(entry, &name, &fs_path, meta)
        } else {
            Err(Error::hostile(
                &name.full,
                format!("entry type {:?} has no meaning in a Windows layer", kind),
            ))
        }
    }

    fn fs_path(&self, name: &Name) -> PathBuf {
        let mut p = self.folder.join(name.top);
        for c in &name.rest {
            p.push(c);
        }
        p
    }

    fn top_dir(&mut self, name: &Name, recs: &[(String, Vec<u8>)], mtime: u64) -> Result<()> {
        let meta = meta_of(recs, true, mtime, &name.full)?;
        let dir = self.folder.join(name.top);
        std::fs::create_dir(&dir).map_err(|e| Error::io("creating", &dir, e))?;
        let side = self.folder.join(format!("{}{WCIDIRS_SUFFIX}", name.top));
        self.start_file(&name.full, &side, meta, None)?;
        if name.top != "Hives" {
            self.dirs.insert(fold_case(&name.full));
        }
        Ok(())
    }

    fn hive<R: Read>(
        &mut self,
        entry: &mut tar::Entry<'_, R>,
        name: &Name,
        mtime: u64,
    ) -> Result<()> {
        if name.rest.len() != 1 || !entry.header().entry_type().is_file() {
            return Err(Error::hostile(
                &name.full,
                "Hives holds only hive files, directly",
            ));
        }
        if let Some(p) = ntfs_name_problem(&name.rest[0]) {
            return Err(Error::NtfsName {
                path: name.full.clone(),
                reason: p,
            });
        }
        if !self.folder.join("Hives").is_dir() {
            return Err(Error::hostile(
                &name.full,
                "the Hives directory was not declared first",
            ));
        }
        let path = self.fs_path(name);
        let f = create_new(&path)?;
        let mut out = BufWriter::with_capacity(64 * 1024, f);
        let n = io::copy(entry, &mut out)
            .and_then(|n| out.flush().map(|()| n))
            .map_err(|e| Error::io("writing", &path, e))?;
        let meta = WinMeta::default_file(Timestamp::from_secs(mtime));
        set_times(out.get_ref(), &meta, &path)?;
        self.summary.hives += 1;
        self.summary.data_bytes += n;
        Ok(())
    }

    fn whiteout(&mut self, name: &Name, deleted: &str) -> Result<()> {
        if name.top != "Files" {
            return Err(Error::Unsupported(format!(
                "{}: only files under Files/ can be deleted by a layer Wharf imports",
                name.full
            )));
        }
        if deleted.starts_with(WHITEOUT_PREFIX) {
            return Err(Error::hostile(
                &name.full,
                "opaque whiteouts are not understood by the Windows importer",
            ));
        }
        if let Some(p) = ntfs_name_problem(deleted) {
            return Err(Error::NtfsName {
                path: name.full.clone(),
                reason: p,
            });
        }
        let mut comps = name.rest.clone();
        let last = comps.len() - 1;
        comps[last] = deleted.to_string();
        self.summary.removals.push(comps.join("/"));
        Ok(())
    }

    fn dir(
        &mut self,
        name: &Name,
        fs_path: &Path,
        meta: WinMeta,
        link: Option<reparse::ReparsePoint>,
    ) -> Result<()> {
        std::fs::create_dir(fs_path).map_err(|e| Error::io("creating", fs_path, e))?;
        let mut side = fs_path.as_os_str().to_owned();
        side.push(WCIDIRS_SUFFIX);
        let is_link = link.is_some();
        self.start_file(&name.full, Path::new(&side), meta, link)?;
        if !is_link {
            self.dirs.insert(fold_case(&name.full));
            self.summary.directories += 1;
        }
        Ok(())
    }

    fn symlink<R: Read>(
        &mut self,
        entry: &mut tar::Entry<'_, R>,
        name: &Name,
        fs_path: &Path,
        recs: &[(String, Vec<u8>)],
        mtime: u64,
    ) -> Result<()> {
        let target = entry
            .link_name_bytes()
            .map(|b| String::from_utf8(b.into_owned()))
            .transpose()
            .map_err(|_| Error::hostile(&name.full, "link target is not UTF-8"))?
            .unwrap_or_default();
        if target.is_empty() || target.contains('\0') {
            return Err(Error::hostile(&name.full, "empty link target or NUL in it"));
        }
        let probe = meta_of(recs, false, mtime, &name.full)?;
        let is_dir = probe.attributes & FILE_ATTRIBUTE_DIRECTORY != 0;
        let mut meta = meta_of(recs, is_dir, mtime, &name.full)?;
        meta.attributes |= FILE_ATTRIBUTE_REPARSE_POINT;
        let point = reparse::ReparsePoint {
            target: target.replace('/', "\\"),
            mount_point: meta.mountpoint,
        };
        if point.mount_point {
            self.summary.junctions += 1;
        } else {
            self.summary.symlinks += 1;
        }
        if is_dir {
            self.dir(name, fs_path, meta, Some(point))
        } else {
            self.start_file(&name.full, fs_path, meta, Some(point))
        }
    }

    fn hardlink<R: Read>(
        &mut self,
        entry: &mut tar::Entry<'_, R>,
        name: &Name,
        fs_path: &Path,
    ) -> Result<()> {
        let target = entry
            .link_name_bytes()
            .map(|b| String::from_utf8(b.into_owned()))
            .transpose()
            .map_err(|_| Error::hostile(&name.full, "link target is not UTF-8"))?
            .unwrap_or_default();
        let tname = parse_name(target.as_bytes(), self.flavour).map_err(|_| {
            Error::hostile(
                &name.full,
                format!("hardlink target {target:?} is not a clean Files/ path"),
            )
        })?;
        if tname.top != name.top || tname.top == "Hives" || tname.rest.is_empty() {
            return Err(Error::hostile(
                &name.full,
                format!("hardlink target {target:?} is not under {}/", name.top),
            ));
        }
        if self.flavour == Flavour::Export {
            if let Some(src) = self.files.get(&fold_case(&tname.full)) {
                std::fs::hard_link(src, fs_path).map_err(|e| Error::io("linking", fs_path, e))?;
            }
        }
        self.summary.links.push((name.full.clone(), tname.full));
        Ok(())
    }

    fn file<R: Read>(
        &mut self,
        entry: &mut tar::Entry<'_, R>,
        name: &Name,
        fs_path: &Path,
        mut meta: WinMeta,
    ) -> Result<()> {
        meta.attributes &= !(FILE_ATTRIBUTE_DIRECTORY | FILE_ATTRIBUTE_REPARSE_POINT);
        let size = entry.size();
        self.start_file(&name.full, fs_path, meta, None)?;
        let open = self
            .open
            .as_mut()
            .ok_or_else(|| Error::Unsupported("no open folder file".into()))?;
        write_header(&mut open.out, backup::BACKUP_DATA, 0, size, "", None)
            .map_err(|e| Error::io("writing", fs_path, e))?;
        let n = io::copy(entry, &mut open.out).map_err(|e| Error::io("writing", fs_path, e))?;
        if n != size {
            return Err(Error::hostile(
                &name.full,
                format!("entry holds {n} bytes, its header says {size}"),
            ));
        }
        self.files
            .insert(fold_case(&name.full), fs_path.to_path_buf());
        self.summary.files += 1;
        self.summary.data_bytes += n;
        Ok(())
    }

    /// Creates a folder file and writes its attribute word, security
    /// descriptor, EAs and reparse data; it stays open for data and streams.
    fn start_file(
        &mut self,
        entry: &str,
        path: &Path,
        meta: WinMeta,
        link: Option<reparse::ReparsePoint>,
    ) -> Result<()> {
        let f = create_new(path)?;
        let mut out = BufWriter::with_capacity(64 * 1024, f);
        out.write_all(&meta.attributes.to_le_bytes())
            .map_err(|e| Error::io("writing", path, e))?;
        write_metadata_streams(&mut out, &meta, link.as_ref(), entry, path)?;
        self.open = Some(OpenFile {
            entry: entry.to_string(),
            out,
            path: path.to_path_buf(),
            meta,
        });
        Ok(())
    }

    fn alternate_stream<R: Read>(
        &mut self,
        entry: &mut tar::Entry<'_, R>,
        name: &Name,
    ) -> Result<()> {
        let (owner, stream) = name
            .full
            .rsplit_once(':')
            .ok_or_else(|| Error::hostile(&name.full, "not an alternate stream name"))?;
        let follows = self.open.as_ref().is_some_and(|o| o.entry == owner);
        if !follows
            || stream.contains(':')
            || owner.rsplit('/').next().is_some_and(|l| l.contains(':'))
        {
            return Err(Error::hostile(
                &name.full,
                "an alternate data stream must directly follow its file or directory",
            ));
        }
        if let Some(p) = ntfs_name_problem(stream) {
            return Err(Error::NtfsName {
                path: name.full.clone(),
                reason: format!("stream name {p}"),
            });
        }
        if !self.seen.insert(fold_case(&name.full)) {
            return Err(Error::hostile(
                &name.full,
                "written twice (names are case-insensitive on Windows)",
            ));
        }
        let size = entry.size();
        let open = self
            .open
            .as_mut()
            .ok_or_else(|| Error::Unsupported("no open folder file".into()))?;
        let path = open.path.clone();
        write_header(
            &mut open.out,
            backup::BACKUP_ALTERNATE_DATA,
            0,
            size,
            &format!(":{stream}:$DATA"),
            None,
        )
        .map_err(|e| Error::io("writing", &path, e))?;
        let n = io::copy(entry, &mut open.out).map_err(|e| Error::io("writing", &path, e))?;
        if n != size {
            return Err(Error::hostile(
                &name.full,
                format!("entry holds {n} bytes, its header says {size}"),
            ));
        }
        self.summary.alternate_streams += 1;
        self.summary.data_bytes += n;
        Ok(())
    }

    /// Flushes the open folder file and gives it the entry's times.
    fn close_open(&mut self) -> Result<()> {
        if let Some(mut open) = self.open.take() {
            open.out
                .flush()
                .map_err(|e| Error::io("writing", &open.path, e))?;
            set_times(open.out.get_ref(), &open.meta, &open.path)?;
        }
        Ok(())
    }
}

/// The backup streams that precede a file's data, in go-winio's order:
/// security descriptor, extended attributes, reparse data. Shared with the
/// base-layer planner so that both write the same bytes.
pub(super) fn write_metadata_streams(
    out: &mut impl Write,
    meta: &WinMeta,
    link: Option<&reparse::ReparsePoint>,
    entry: &str,
    path: &Path,
) -> Result<()> {
    let io_err = |e| Error::io("writing", path, e);
    if !meta.security_descriptor.is_empty() {
        write_stream(out, backup::BACKUP_SECURITY_DATA, &meta.security_descriptor)
            .map_err(io_err)?;
    }
    if !meta.extended_attributes.is_empty() {
        let raw = ea::encode(&meta.extended_attributes).map_err(|m| Error::hostile(entry, m))?;
        write_stream(out, backup::BACKUP_EA_DATA, &raw).map_err(io_err)?;
    }
    if let Some(point) = link {
        let raw = reparse::encode(point).map_err(|m| Error::hostile(entry, m))?;
        write_stream(out, backup::BACKUP_REPARSE_DATA, &raw).map_err(io_err)?;
    }
    Ok(())
}

fn create_new(path: &Path) -> Result<File> {
    OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(|e| Error::io("creating", path, e))
}

/// The folder file carries the entry's times (hcsshim sets them with
/// `SetFileBasicInfo`). Only Windows can set a creation time.
fn set_times(f: &File, meta: &WinMeta, path: &Path) -> Result<()> {
    let at = |secs: u64, nanos: u32| std::time::UNIX_EPOCH + std::time::Duration::new(secs, nanos);
    #[allow(unused_mut)]
    let mut times = std::fs::FileTimes::new()
        .set_modified(at(meta.mtime, 0))
        .set_accessed(at(meta.mtime, 0));
    #[cfg(windows)]
    {
        use std::os::windows::fs::FileTimesExt;
        times = times.set_created(at(meta.creation_time.secs, meta.creation_time.nanos));
    }
    f.set_times(times)
        .map_err(|e| Error::io("setting the times of", path, e))
}
