//! The directories of a stack of Windows layers and their metadata, read
//! from the tar headers only (no file content is kept or spooled): what a
//! new layer needs to re-declare a directory the layers below already hold
//! (`C:\Windows\System32`) with its own security descriptor and attributes
//! instead of the defaults, through [`WindowsBase`].
//!
//! Later layers win; a whiteout `Files/<dir>/.wh.<name>` removes `<name>`
//! and everything below it. Paths are container paths without `Files/`,
//! compared case-insensitively as Windows does.

use crate::compress::{decompress, unwrap_io};
use crate::error::{Error, Result};
use crate::linux::names::clean_components;
use crate::linux::WHITEOUT_PREFIX;
use crate::windows::meta::WinMeta;
use crate::windows::names::fold_case;
use crate::windows::writer::WindowsBase;
use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::path::Path;

/// Directory metadata and child names of a stack of Windows layers.
#[derive(Debug, Default, Clone)]
pub struct WindowsDirIndex {
    /// Folded path → metadata of each directory.
    dirs: BTreeMap<String, WinMeta>,
    /// Folded directory path → its children's names as written.
    children: BTreeMap<String, BTreeSet<String>>,
}

impl WindowsDirIndex {
    /// Reads the layer blobs `layers` (bottom first; compressed or not),
    /// each decompressed up to `cap` bytes.
    pub fn from_layers(layers: &[&Path], cap: u64) -> Result<Self> {
        let mut index = WindowsDirIndex::default();
        for blob in layers {
            let f = File::open(blob).map_err(|e| Error::io("opening layer", blob, e))?;
            let name = blob.display().to_string();
            index.add_layer(decompress(f, cap, &name)?, &name)?;
        }
        Ok(index)
    }

    /// Applies one layer's tar (uncompressed) on top.
    pub fn add_layer(&mut self, tar: impl std::io::Read, name: &str) -> Result<()> {
        let malformed = |e: std::io::Error| match unwrap_io(e, "reading", name) {
            Error::Io { source, .. } => Error::MalformedTar {
                layer: name.to_string(),
                reason: source.to_string(),
            },
            other => other,
        };
        let mut archive = tar::Archive::new(tar);
        for entry in archive.entries().map_err(malformed)? {
            let mut entry = entry.map_err(malformed)?;
            let comps = clean_components(&entry.path_bytes())?;
            let names: Vec<String> = comps
                .iter()
                .map(|c| String::from_utf8_lossy(c).into_owned())
                .collect();
            let Some((top, rest)) = names.split_first() else {
                continue;
            };
            if top != "Files" || rest.is_empty() {
                continue;
            }
            let (leaf, parent) = rest.split_last().expect("not empty");
            let parent_key = fold_case(&parent.join("/"));
            if let Some(victim) = leaf.strip_prefix(WHITEOUT_PREFIX) {
                let victim_key = join(&parent_key, &fold_case(victim));
                self.remove(&parent_key, &victim_key);
                continue;
            }
            let key = fold_case(&rest.join("/"));
            self.children
                .entry(parent_key)
                .or_default()
                .insert(leaf.clone());
            if entry.header().entry_type().is_dir() {
                let mut pax = Vec::new();
                if let Some(records) = entry.pax_extensions().map_err(malformed)? {
                    for r in records {
                        let r = r.map_err(malformed)?;
                        if let Ok(k) = r.key() {
                            pax.push((k.to_string(), r.value_bytes().to_vec()));
                        }
                    }
                }
                let mtime = entry.header().mtime().unwrap_or(0);
                self.dirs.insert(key, WinMeta::from_pax(&pax, true, mtime));
            } else {
                // A file replaces a directory of that name.
                self.remove_below(&key);
                self.dirs.remove(&key);
            }
        }
        Ok(())
    }

    /// Removes `key` (a child of `parent_key`) and everything below it.
    fn remove(&mut self, parent_key: &str, key: &str) {
        if let Some(names) = self.children.get_mut(parent_key) {
            names.retain(|n| join(parent_key, &fold_case(n)) != key);
        }
        self.dirs.remove(key);
        self.remove_below(key);
    }

    fn remove_below(&mut self, key: &str) {
        let prefix = format!("{key}/");
        self.dirs.retain(|k, _| !k.starts_with(&prefix));
        self.children
            .retain(|k, _| k != key && !k.starts_with(&prefix));
    }
}

fn join(parent: &str, leaf: &str) -> String {
    if parent.is_empty() {
        leaf.to_string()
    } else {
        format!("{parent}/{leaf}")
    }
}

impl WindowsBase for WindowsDirIndex {
    fn dir_meta(&self, path: &str) -> Option<WinMeta> {
        self.dirs.get(&fold_case(path.trim_matches('/'))).cloned()
    }

    fn children(&self, path: &str) -> Vec<String> {
        self.children
            .get(&fold_case(path.trim_matches('/')))
            .map(|names| names.iter().cloned().collect())
            .unwrap_or_default()
    }

    fn spelling(&self, path: &str) -> Option<String> {
        let mut parent = String::new();
        let mut spelled: Vec<&str> = Vec::new();
        for name in path.split('/').filter(|c| !c.is_empty()) {
            let folded = fold_case(name);
            let found = self
                .children
                .get(&parent)?
                .iter()
                .find(|n| fold_case(n) == folded)?;
            spelled.push(found);
            parent = join(&parent, &folded);
        }
        (!spelled.is_empty()).then(|| spelled.join("/"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::windows::meta::Timestamp;
    use crate::windows::sddl::sddl_to_binary;
    use crate::windows::writer::{NoBase, WindowsLayerOptions, WindowsLayerWriter};

    fn layer(
        build: impl FnOnce(&mut WindowsLayerWriter<'_, Vec<u8>>),
        base_layer: bool,
    ) -> Vec<u8> {
        let options = WindowsLayerOptions {
            timestamp: Timestamp::from_secs(1_700_000_000),
            base_layer,
        };
        let mut w = WindowsLayerWriter::new(Vec::new(), &NoBase, options).unwrap();
        build(&mut w);
        w.finish().unwrap()
    }

    #[test]
    fn base_directories_keep_their_metadata_and_whiteouts_remove_them() {
        let system_sd =
            sddl_to_binary("O:SYG:SYD:P(A;OICI;FA;;;SY)(A;OICI;0x1200a9;;;BU)").unwrap();
        let mut windows = WinMeta::default_dir(Timestamp::from_secs(5));
        windows.security_descriptor = system_sd.clone();
        windows.attributes = 16 | 2048;
        let base = layer(
            |w| {
                w.add_dir("Windows", Some(windows.clone())).unwrap();
                w.add_dir("Windows/System32", Some(windows.clone()))
                    .unwrap();
                w.add_file("Windows/System32/cmd.exe", 1, None, &mut &b"x"[..])
                    .unwrap();
                w.add_dir("Temp", None).unwrap();
            },
            true,
        );
        let upper = layer(
            |w| {
                w.add_whiteout("Temp").unwrap();
            },
            false,
        );
        let mut index = WindowsDirIndex::default();
        index.add_layer(&base[..], "base").unwrap();
        let meta = index
            .dir_meta("windows/SYSTEM32")
            .expect("declared by the base");
        assert_eq!(meta.security_descriptor, system_sd);
        assert_eq!(meta.attributes, 16 | 2048);
        assert_eq!(index.children("Windows/System32"), ["cmd.exe"]);
        assert_eq!(
            index.spelling("WINDOWS/system32/CMD.EXE").as_deref(),
            Some("Windows/System32/cmd.exe")
        );
        assert_eq!(index.spelling("Windows/Fonts"), None);
        assert!(index.dir_meta("Temp").is_some());
        index.add_layer(&upper[..], "upper").unwrap();
        assert!(index.dir_meta("Temp").is_none());
        assert!(!index.children("").iter().any(|n| n == "Temp"));
        assert!(index.dir_meta("app").is_none());
    }

    /// A layer written over the index re-declares the base's directory
    /// with the base's descriptor, not the default.
    #[test]
    fn a_new_layer_reuses_the_base_descriptor() {
        let system_sd = sddl_to_binary("O:SYG:SYD:P(A;OICI;FA;;;SY)").unwrap();
        let mut windows = WinMeta::default_dir(Timestamp::from_secs(5));
        windows.security_descriptor = system_sd.clone();
        let base = layer(
            |w| {
                w.add_dir("Windows", Some(windows.clone())).unwrap();
            },
            true,
        );
        let mut index = WindowsDirIndex::default();
        index.add_layer(&base[..], "base").unwrap();
        let options = WindowsLayerOptions {
            timestamp: Timestamp::from_secs(1_700_000_000),
            base_layer: false,
        };
        let mut w = WindowsLayerWriter::new(Vec::new(), &index, options).unwrap();
        w.add_file("Windows/new.dll", 1, None, &mut &b"y"[..])
            .unwrap();
        let tar = w.finish().unwrap();
        let mut archive = tar::Archive::new(&tar[..]);
        let mut found = false;
        for e in archive.entries().unwrap() {
            let mut e = e.unwrap();
            if e.path_bytes().as_ref() == b"Files/Windows" {
                let pax: Vec<(String, Vec<u8>)> = e
                    .pax_extensions()
                    .unwrap()
                    .unwrap()
                    .map(|r| {
                        let r = r.unwrap();
                        (r.key().unwrap().to_string(), r.value_bytes().to_vec())
                    })
                    .collect();
                let meta = WinMeta::from_pax(&pax, true, 0);
                assert_eq!(meta.security_descriptor, system_sd);
                found = true;
            }
        }
        assert!(found);
    }
}
