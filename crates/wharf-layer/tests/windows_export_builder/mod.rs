//! Test-side builder of SYNTHETIC Windows export folders (no Windows host is
//! available): attribute words, `WIN32_STREAM_ID` headers, reparse buffers and
//! EA records laid out by hand from the Win32 documentation, independently of
//! the crate's own encoder; plus helpers to decode a folder and read a tar.
#![allow(dead_code)]

use crate::common::assert_valid_windows_layer;
use base64::Engine;
use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use wharf_layer::windows::meta::Timestamp;
use wharf_layer::windows::sddl::sddl_to_binary;
use wharf_layer::{
    export_folder_to_layer, ExportSummary, NoBase, WindowsLayerOptions, WindowsLayerWriter,
};

pub const DATA: u32 = 1;
pub const EA: u32 = 2;
pub const SECURITY: u32 = 3;
pub const ALTERNATE: u32 = 4;
pub const LINK: u32 = 5;
pub const OBJECT_ID: u32 = 7;
pub const REPARSE: u32 = 8;
pub const SPARSE_BLOCK: u32 = 9;

/// One `WIN32_STREAM_ID` header plus data, laid out by hand.
pub fn stream(id: u32, attributes: u32, name: &str, data: &[u8]) -> Vec<u8> {
    let name16: Vec<u8> = name.encode_utf16().flat_map(u16::to_le_bytes).collect();
    let mut out = Vec::new();
    out.extend_from_slice(&id.to_le_bytes());
    out.extend_from_slice(&attributes.to_le_bytes());
    out.extend_from_slice(&(data.len() as u64).to_le_bytes());
    out.extend_from_slice(&(name16.len() as u32).to_le_bytes());
    out.extend_from_slice(&name16);
    out.extend_from_slice(data);
    out
}

pub fn sparse_block(offset: u64, data: &[u8]) -> Vec<u8> {
    let mut d = offset.to_le_bytes().to_vec();
    d.extend_from_slice(data);
    stream(SPARSE_BLOCK, 0, "", &d)
}

pub fn utf16z(s: &str) -> Vec<u8> {
    s.encode_utf16()
        .chain([0])
        .flat_map(u16::to_le_bytes)
        .collect()
}

/// A `REPARSE_DATA_BUFFER` for a symlink (`flags` 1 = relative) or junction.
pub fn reparse_buffer(print: &str, substitute: &str, junction: bool, flags: u32) -> Vec<u8> {
    let sub = utf16z(substitute);
    let pr = utf16z(print);
    let mut body = Vec::new();
    for v in [0, sub.len() - 2, sub.len(), pr.len() - 2] {
        body.extend_from_slice(&(v as u16).to_le_bytes());
    }
    if !junction {
        body.extend_from_slice(&flags.to_le_bytes());
    }
    body.extend_from_slice(&sub);
    body.extend_from_slice(&pr);
    let tag: u32 = if junction { 0xA000_0003 } else { 0xA000_000C };
    let mut out = tag.to_le_bytes().to_vec();
    out.extend_from_slice(&(body.len() as u16).to_le_bytes());
    out.extend_from_slice(&[0, 0]);
    out.extend_from_slice(&body);
    out
}

/// One `FILE_FULL_EA_INFORMATION` record list.
pub fn ea_buffer(eas: &[(&str, &[u8])]) -> Vec<u8> {
    let mut out = Vec::new();
    for (i, (name, value)) in eas.iter().enumerate() {
        let len = 8 + name.len() + 1 + value.len();
        let padded = (len + 3) & !3;
        let next = if i + 1 == eas.len() { 0 } else { padded as u32 };
        out.extend_from_slice(&next.to_le_bytes());
        out.push(0);
        out.push(name.len() as u8);
        out.extend_from_slice(&(value.len() as u16).to_le_bytes());
        out.extend_from_slice(name.as_bytes());
        out.push(0);
        out.extend_from_slice(value);
        if next != 0 {
            out.resize(out.len() + padded - len, 0);
        }
    }
    out
}

pub fn sd(sddl: &str) -> Vec<u8> {
    sddl_to_binary(sddl).unwrap()
}

pub struct Folder {
    _tmp: tempfile::TempDir,
    pub root: PathBuf,
}

impl Folder {
    pub fn new() -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("export");
        std::fs::create_dir_all(root.join("Files")).unwrap();
        std::fs::create_dir_all(root.join("Hives")).unwrap();
        let f = Folder { _tmp: tmp, root };
        f.tombstones(&[]);
        f
    }

    pub fn tombstones(&self, lines: &[&str]) {
        let mut t = "\u{feff}Version 1.0\r\n".to_string();
        for l in lines {
            t.push_str(l);
            t.push_str("\r\n");
        }
        std::fs::write(self.root.join("tombstones.txt"), t).unwrap();
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.root.join("Files").join(rel)
    }

    /// `Files/<rel>`: attribute word then the given streams.
    pub fn file(&self, rel: &str, attr: u32, streams: &[Vec<u8>]) -> PathBuf {
        let mut b = attr.to_le_bytes().to_vec();
        for s in streams {
            b.extend_from_slice(s);
        }
        let p = self.path(rel);
        std::fs::write(&p, b).unwrap();
        set_mtime(&p, 1_600_000_000);
        p
    }

    /// `Files/<rel>/` and its `<rel>.$wcidirs$`.
    pub fn dir(&self, rel: &str, attr: u32, streams: &[Vec<u8>]) {
        std::fs::create_dir(self.path(rel)).unwrap();
        self.file(&format!("{rel}.$wcidirs$"), attr, streams);
    }

    pub fn hive(&self, name: &str, data: &[u8]) {
        let p = self.root.join("Hives").join(name);
        std::fs::write(&p, data).unwrap();
        set_mtime(&p, 1_600_000_000);
    }
}

pub fn set_mtime(p: &Path, secs: u64) {
    let t = std::time::UNIX_EPOCH + std::time::Duration::from_secs(secs);
    std::fs::File::options()
        .write(true)
        .open(p)
        .unwrap()
        .set_modified(t)
        .unwrap();
}

pub fn opts() -> WindowsLayerOptions {
    WindowsLayerOptions {
        timestamp: Timestamp::from_secs(1_700_000_000),
        base_layer: false,
    }
}

pub fn decode(folder: &Path) -> wharf_layer::Result<(Vec<u8>, ExportSummary)> {
    let mut w = WindowsLayerWriter::new(Vec::new(), &NoBase, opts())?;
    let summary = export_folder_to_layer(folder, &mut w)?;
    Ok((w.finish()?, summary))
}

/// Decodes, writes the tar to disk and runs the independent checker on it.
pub fn decode_checked(folder: &Path) -> (Vec<Seen>, ExportSummary) {
    let (tar, summary) = decode(folder).unwrap();
    let path = folder.with_extension("tar");
    std::fs::write(&path, &tar).unwrap();
    assert_valid_windows_layer(&path);
    (read_tar(&tar), summary)
}

/// One entry: name, type byte, link name, PAX records, content.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Seen {
    pub name: String,
    pub ty: u8,
    pub link: String,
    pub pax: BTreeMap<String, String>,
    pub data: Vec<u8>,
}

pub fn read_tar(bytes: &[u8]) -> Vec<Seen> {
    let mut ar = tar::Archive::new(bytes);
    let mut out = Vec::new();
    for e in ar.entries().unwrap() {
        let mut e = e.unwrap();
        let name = String::from_utf8(e.path_bytes().into_owned()).unwrap();
        let ty = e.header().entry_type().as_byte();
        let link = e
            .link_name_bytes()
            .map(|l| String::from_utf8(l.into_owned()).unwrap())
            .unwrap_or_default();
        let mut pax = BTreeMap::new();
        if let Some(x) = e.pax_extensions().unwrap() {
            for r in x {
                let r = r.unwrap();
                pax.insert(r.key().unwrap().to_string(), r.value().unwrap().to_string());
            }
        }
        let mut data = Vec::new();
        e.read_to_end(&mut data).unwrap();
        out.push(Seen {
            name,
            ty,
            link,
            pax,
            data,
        });
    }
    out
}

pub fn find<'a>(es: &'a [Seen], name: &str) -> &'a Seen {
    es.iter()
        .find(|e| e.name == name)
        .unwrap_or_else(|| panic!("no entry {name}"))
}

pub fn b64(b: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(b)
}
