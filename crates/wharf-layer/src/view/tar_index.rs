//! Building a [`StageView`] from layer tars: each layer is read once, in
//! order, its whiteouts are applied to what the layers below left, and its
//! entries are recorded with the offset of their data.
//!
//! Compressed layers are decompressed once into a spool directory so that
//! file contents can later be read by seeking, never by decompressing a layer
//! again per file; plain tar layers are read in place.

use super::{LayerOs, Location, StageView, ViewEntry, ViewKind, ViewOptions};
use crate::compress::{decompress, unwrap_io, Format};
use crate::error::{Error, Result};
use crate::linux::names::clean_components;
use crate::linux::{OPAQUE_MARKER, WHITEOUT_PREFIX};
use crate::windows::meta::WinMeta;
use crate::windows::names::fold_case;
use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::io::{self, BufRead, BufReader};
use std::path::{Path, PathBuf};

/// A layer entry before merging.
struct Pending {
    key: String,
    entry: ViewEntry,
    /// For hardlinks: the view key of the target, to decide later whether the
    /// link can stay a link.
    link_key: Option<String>,
    /// A hardlink to a file of a lower layer (not valid OCI, but produced by
    /// some tools): its content is taken from the view when merging.
    from_below: bool,
}

impl StageView {
    /// Indexes a chain of layer blobs (gzip, zstd or plain; base first).
    /// Compressed layers are decompressed into `spool_dir` (which must exist
    /// and outlive the view).
    pub fn from_layers(
        os: LayerOs,
        layers: &[PathBuf],
        spool_dir: &Path,
        opts: &ViewOptions,
    ) -> Result<Self> {
        let mut view = StageView {
            os,
            entries: BTreeMap::new(),
            layer_tars: Vec::new(),
            case_collisions: Vec::new(),
        };
        let mut link_keys: HashMap<String, String> = HashMap::new();
        for (i, blob) in layers.iter().enumerate() {
            let name = blob.display().to_string();
            let (pending, whiteouts, opaques) = if opts.contents {
                let tar_path = spool_tar(blob, spool_dir, i, opts)?;
                view.layer_tars.push(tar_path.clone());
                let f = File::open(&tar_path).map_err(|e| Error::io("opening", &tar_path, e))?;
                index_layer(os, BufReader::new(f), i, &name, opts)?
            } else {
                // Entries only: read once through the decompressor.
                view.layer_tars.push(PathBuf::new());
                let f = File::open(blob).map_err(|e| Error::io("opening layer", blob, e))?;
                index_layer(
                    os,
                    decompress(f, opts.max_uncompressed_bytes, &name)?,
                    i,
                    &name,
                    opts,
                )?
            };
            for dir in opaques {
                remove_below(&mut view.entries, &dir);
            }
            for w in whiteouts {
                view.entries.remove(&w);
                remove_below(&mut view.entries, &w);
            }
            let mut seen_in_layer: HashMap<String, String> = HashMap::new();
            for mut p in pending {
                if p.from_below {
                    let target = p.link_key.as_ref().and_then(|k| view.entries.get(k));
                    let Some(t) = target.filter(|t| matches!(t.kind, ViewKind::File { .. })) else {
                        return Err(Error::MalformedTar {
                            layer: blob.display().to_string(),
                            reason: format!(
                                "hardlink {:?} points to a file that no layer has",
                                p.entry.path
                            ),
                        });
                    };
                    p.entry.kind = t.kind.clone();
                    p.entry.location = t.location.clone();
                }
                if let Some(prev) = seen_in_layer.insert(p.key.clone(), p.entry.path.clone()) {
                    if prev != p.entry.path {
                        view.case_collisions.push((prev, p.entry.path.clone()));
                    }
                }
                if !matches!(p.entry.kind, ViewKind::Dir) {
                    remove_below(&mut view.entries, &p.key);
                }
                add_implied_parents(&mut view.entries, os, &p.key, &p.entry.path);
                // A directory entry over an existing directory keeps its contents.
                match p.link_key {
                    Some(l) => link_keys.insert(p.key.clone(), l),
                    None => link_keys.remove(&p.key),
                };
                view.entries.insert(p.key, p.entry);
            }
        }
        // A hardlink stays a link only if its target is still in the view and
        // is the same content; otherwise it is a plain copy.
        for (key, target) in link_keys {
            let target_entry = view
                .entries
                .get(&target)
                .map(|t| (t.path.clone(), t.location.clone()));
            if let (Some((tpath, tloc)), Some(e)) = (target_entry, view.entries.get_mut(&key)) {
                if e.location == tloc {
                    e.hardlink_to = Some(tpath);
                }
            }
        }
        Ok(view)
    }
}

/// Adds the parents of `key` that no layer listed, as unpacking creates
/// them (root-owned 0755 directories): a layer need not list the parents
/// of its entries (Wharf's COPY layers do not).
fn add_implied_parents(map: &mut BTreeMap<String, ViewEntry>, os: LayerOs, key: &str, path: &str) {
    let keys: Vec<usize> = key.match_indices('/').map(|(i, _)| i).collect();
    let paths: Vec<usize> = path.match_indices('/').map(|(i, _)| i).collect();
    for (k, p) in keys.into_iter().zip(paths) {
        let parent = &key[..k];
        if map.contains_key(parent) {
            continue;
        }
        map.insert(
            parent.to_string(),
            ViewEntry {
                path: path[..p].to_string(),
                kind: ViewKind::Dir,
                mode: 0o755,
                uid: 0,
                gid: 0,
                mtime: 0,
                xattrs: Vec::new(),
                windows: (os == LayerOs::Windows).then(|| WinMeta::default_dir(Default::default())),
                hardlink_to: None,
                location: Location::None,
            },
        );
    }
}

fn remove_below(map: &mut BTreeMap<String, ViewEntry>, key: &str) {
    let doomed: Vec<String> = if key.is_empty() {
        map.keys().cloned().collect()
    } else {
        map.range(format!("{key}/")..format!("{key}0"))
            .map(|(k, _)| k.clone())
            .collect()
    };
    for k in doomed {
        map.remove(&k);
    }
}

/// Returns the path of an uncompressed tar for `blob`, decompressing into the
/// spool directory when needed.
fn spool_tar(blob: &Path, spool: &Path, index: usize, opts: &ViewOptions) -> Result<PathBuf> {
    let f = File::open(blob).map_err(|e| Error::io("opening layer", blob, e))?;
    let mut r = BufReader::new(f);
    let head = r
        .fill_buf()
        .map_err(|e| Error::io("reading layer", blob, e))?;
    if Format::detect(head) == Format::Tar {
        return Ok(blob.to_path_buf());
    }
    let name = blob.display().to_string();
    let mut dec = decompress(r, opts.max_uncompressed_bytes, &name)?;
    let out = spool.join(format!("layer-{index}.tar"));
    let mut file = File::create(&out).map_err(|e| Error::io("creating", &out, e))?;
    io::copy(&mut dec, &mut file).map_err(|e| unwrap_io(e, "decompressing", &name))?;
    Ok(out)
}

type Indexed = (Vec<Pending>, Vec<String>, Vec<String>);

// Long: one pass over an untrusted layer's entries that classifies each
// (whiteout, opaque marker, hard link, file) and records it; the cases
// share the cleaned name and the hostile-entry checks in one loop.
fn index_layer(
    os: LayerOs,
    tar: impl io::Read,
    layer: usize,
    name: &str,
    opts: &ViewOptions,
) -> Result<Indexed> {
    let mut archive = tar::Archive::new(tar);
    let mut pending = Vec::new();
    let mut whiteouts = Vec::new();
    let mut opaques = Vec::new();
    // Every regular file of this layer by full tar name, including ones outside
    // the view (UtilityVM/), so hardlinks to them still find their content.
    let mut files: HashMap<String, (u64, u64, Option<String>)> = HashMap::new();
    // A decompressor's own errors (the size cap) come through as they are.
    let malformed = |e: io::Error| match unwrap_io(e, "reading", name) {
        Error::Io { source, .. } => Error::MalformedTar {
            layer: name.to_string(),
            reason: source.to_string(),
        },
        other => other,
    };
    for entry in archive.entries().map_err(malformed)? {
        let mut entry = entry.map_err(malformed)?;
        let raw = entry.path_bytes().into_owned();
        crate::pax::check_entry(&mut entry)
            .map_err(|reason| Error::hostile(String::from_utf8_lossy(&raw), reason))?;
        let comps = clean_components(&raw)?;
        let full: Vec<String> = comps
            .iter()
            .map(|c| String::from_utf8_lossy(c).into_owned())
            .collect();
        let full_name = full.join("/");
        let header = entry.header().clone();
        let ty = header.entry_type();
        let size = entry.size();
        if size > opts.max_uncompressed_bytes {
            return Err(Error::hostile(full_name, "declares a size beyond the cap"));
        }
        let offset = entry.raw_file_position();
        let mut pax = Vec::new();
        if let Some(exts) = entry.pax_extensions().map_err(malformed)? {
            for x in exts {
                let x = x.map_err(malformed)?;
                if let Ok(k) = x.key() {
                    pax.push((k.to_string(), x.value_bytes().to_vec()));
                }
            }
        }
        // The view path: Windows keeps only Files/.
        let view_path = match os {
            LayerOs::Linux => full_name.clone(),
            LayerOs::Windows => match full.split_first() {
                Some((top, rest)) if top == "Files" => rest.join("/"),
                _ => {
                    if ty.is_file() {
                        files.insert(fold_case(&full_name), (offset, size, None));
                    }
                    continue;
                }
            },
        };
        if view_path.is_empty() {
            continue;
        }
        let key = match os {
            LayerOs::Linux => view_path.clone(),
            LayerOs::Windows => fold_case(&view_path),
        };
        let (dir_key, leaf) = match key.rsplit_once('/') {
            Some((d, l)) => (d.to_string(), l.to_string()),
            None => (String::new(), key.clone()),
        };
        if leaf == OPAQUE_MARKER.to_lowercase() || leaf == OPAQUE_MARKER {
            opaques.push(dir_key);
            continue;
        }
        if let Some(victim) = leaf.strip_prefix(WHITEOUT_PREFIX) {
            whiteouts.push(if dir_key.is_empty() {
                victim.to_string()
            } else {
                format!("{dir_key}/{victim}")
            });
            continue;
        }
        let mtime = header.mtime().unwrap_or(0);
        let mut e = ViewEntry {
            path: view_path.clone(),
            kind: ViewKind::Dir,
            mode: header.mode().unwrap_or(0o644),
            uid: header.uid().unwrap_or(0),
            gid: header.gid().unwrap_or(0),
            mtime,
            xattrs: pax
                .iter()
                .filter_map(|(k, v)| {
                    k.strip_prefix("SCHILY.xattr.")
                        .map(|n| (n.to_string(), v.clone()))
                })
                .collect(),
            windows: (os == LayerOs::Windows).then(|| WinMeta::from_pax(&pax, ty.is_dir(), mtime)),
            hardlink_to: None,
            location: Location::None,
        };
        let mut link_key = None;
        match ty {
            tar::EntryType::Directory => {}
            tar::EntryType::Regular | tar::EntryType::Continuous => {
                e.kind = ViewKind::File { size };
                e.location = Location::Tar { layer, offset };
                files.insert(
                    fold_or_not(os, &full_name),
                    (offset, size, Some(key.clone())),
                );
            }
            tar::EntryType::Symlink => {
                let target = entry
                    .link_name_bytes()
                    .map(|t| String::from_utf8_lossy(&t).into_owned())
                    .unwrap_or_default();
                e.kind = ViewKind::Symlink { target };
            }
            tar::EntryType::Link => {
                let target = entry
                    .link_name_bytes()
                    .map(|t| t.into_owned())
                    .unwrap_or_default();
                let tcomps = clean_components(&target)?;
                let tname = tcomps
                    .iter()
                    .map(|c| String::from_utf8_lossy(c).into_owned())
                    .collect::<Vec<_>>()
                    .join("/");
                let Some((toff, tsize, tkey)) = files.get(&fold_or_not(os, &tname)).cloned() else {
                    let target_key = match os {
                        LayerOs::Linux => tname.clone(),
                        LayerOs::Windows => match tname.strip_prefix("Files/") {
                            Some(t) => fold_case(t),
                            None => {
                                return Err(Error::MalformedTar {
                                    layer: name.to_string(),
                                    reason: format!("hardlink {full_name:?} points to {tname:?}, which no layer has"),
                                })
                            }
                        },
                    };
                    pending.push(Pending {
                        key,
                        entry: e,
                        link_key: Some(target_key),
                        from_below: true,
                    });
                    continue;
                };
                e.kind = ViewKind::File { size: tsize };
                e.location = Location::Tar {
                    layer,
                    offset: toff,
                };
                link_key = tkey;
                files.insert(
                    fold_or_not(os, &full_name),
                    (toff, tsize, Some(key.clone())),
                );
            }
            tar::EntryType::Char | tar::EntryType::Block => {
                let major = header.device_major().ok().flatten().unwrap_or(0);
                let minor = header.device_minor().ok().flatten().unwrap_or(0);
                e.kind = if ty == tar::EntryType::Char {
                    ViewKind::CharDevice { major, minor }
                } else {
                    ViewKind::BlockDevice { major, minor }
                };
            }
            tar::EntryType::Fifo => e.kind = ViewKind::Fifo,
            _ => continue,
        }
        pending.push(Pending {
            key,
            entry: e,
            link_key,
            from_below: false,
        });
    }
    Ok((pending, whiteouts, opaques))
}

fn fold_or_not(os: LayerOs, name: &str) -> String {
    match os {
        LayerOs::Linux => name.to_string(),
        LayerOs::Windows => fold_case(name),
    }
}
