//! Hand-crafted tars whose PAX records and ustar header disagree, run
//! through every tar reader of the layer engine: layer apply (snapshots),
//! the stage view's tar index, ADD's archive extraction into Linux and
//! Windows layers, and the Windows import-folder encoder. Each case is
//! either honoured the same way by every reader (the file gets the PAX
//! size, name or link) or refused by every reader; never read one way by
//! one reader and another way by another.
#![cfg(target_os = "linux")]

use std::collections::BTreeMap;
use std::io::Read;
use wharf_layer::archive::{extract_linux, extract_windows};
use wharf_layer::tarfmt::pax_record;
use wharf_layer::{
    apply_layer, layer_to_import_folder, ApplyOptions, Error, Format, LayerOs, LinuxLayerWriter,
    NoBase, StageView, ViewKind, ViewOptions, WindowsLayerWriter,
};

const BLOCK: usize = 512;

fn pad(out: &mut Vec<u8>) {
    out.resize(out.len().div_ceil(BLOCK) * BLOCK, 0);
}

/// A header block; `name` and `link` written verbatim.
fn header(name: &str, kind: tar::EntryType, size: u64, link: &str, mtime: u64) -> Vec<u8> {
    let mut h = tar::Header::new_ustar();
    let ustar = h.as_ustar_mut().unwrap();
    ustar.name[..name.len()].copy_from_slice(name.as_bytes());
    ustar.linkname[..link.len()].copy_from_slice(link.as_bytes());
    h.set_mode(0o644);
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(mtime);
    h.set_size(size);
    h.set_entry_type(kind);
    h.set_cksum();
    h.as_bytes().to_vec()
}

/// One entry: a header, then `data` padded to a block.
fn entry(out: &mut Vec<u8>, head: Vec<u8>, data: &[u8]) {
    out.extend_from_slice(&head);
    out.extend_from_slice(data);
    pad(out);
}

fn records(pairs: &[(&str, &str)]) -> Vec<u8> {
    pairs
        .iter()
        .flat_map(|(k, v)| pax_record(k, v.as_bytes()))
        .collect()
}

/// An extended header (`x`, or `g` when `global`) holding `body`.
fn pax(out: &mut Vec<u8>, body: &[u8], global: bool) {
    let kind = if global {
        tar::EntryType::XGlobalHeader
    } else {
        tar::EntryType::XHeader
    };
    entry(
        out,
        header("PaxHeaders/x", kind, body.len() as u64, "", 0),
        body,
    );
}

fn file(out: &mut Vec<u8>, name: &str, size_field: u64, data: &[u8]) {
    entry(
        out,
        header(name, tar::EntryType::Regular, size_field, "", 1_700_000_000),
        data,
    );
}

fn end(mut out: Vec<u8>) -> Vec<u8> {
    out.extend_from_slice(&[0u8; 2 * BLOCK]);
    out
}

/// What every reader must make of a case: these files with this content,
/// or a refusal.
type Expected = Option<Vec<(&'static str, Vec<u8>)>>;

/// The cases, built with names under `p` (`""` for Linux readers,
/// `"Files/"` for the Windows encoder).
fn cases(p: &str) -> Vec<(&'static str, Vec<u8>, Expected)> {
    let n = |s: &str| format!("{p}{s}");
    let mut out = Vec::new();

    let mut t = Vec::new();
    pax(&mut t, &records(&[("size", "600")]), false);
    file(&mut t, &n("f"), 0, &[b'a'; 600]);
    out.push((
        "PAX size larger than the ustar size",
        end(t),
        Some(vec![("f", vec![b'a'; 600])]),
    ));

    // The ustar size covers a header a PAX reader sees as the next entry.
    let mut t = Vec::new();
    pax(&mut t, &records(&[("size", "0")]), false);
    let mut hidden = Vec::new();
    file(&mut hidden, &n("hidden"), 5, b"hello");
    file(&mut t, &n("f"), hidden.len() as u64, &hidden);
    out.push((
        "PAX size smaller than the ustar size",
        end(t),
        Some(vec![("f", Vec::new()), ("hidden", b"hello".to_vec())]),
    ));

    for (name, value) in [
        ("PAX size not a number", "6x0"),
        ("PAX size negative", "-1"),
        ("PAX size with a sign", "+600"),
        ("PAX size beyond 64 bits", "99999999999999999999999"),
        ("PAX size empty", ""),
    ] {
        let mut t = Vec::new();
        pax(&mut t, &records(&[("size", value)]), false);
        file(&mut t, &n("f"), 6, b"ustar!");
        out.push((name, end(t), None));
    }

    let mut t = Vec::new();
    pax(&mut t, &records(&[("size", "6"), ("size", "0")]), false);
    file(&mut t, &n("f"), 6, b"ustar!");
    out.push(("PAX size given twice", end(t), None));

    // A record whose length is wrong: a lenient reader skips the rest.
    let mut t = Vec::new();
    let mut body = b"99 junk=1\n".to_vec();
    body.extend(records(&[("size", "0")]));
    pax(&mut t, &body, false);
    file(&mut t, &n("f"), 6, b"ustar!");
    out.push(("malformed PAX record before size", end(t), None));

    for key in ["uid", "gid"] {
        let mut t = Vec::new();
        pax(&mut t, &records(&[(key, "root")]), false);
        file(&mut t, &n("f"), 6, b"ustar!");
        out.push((
            if key == "uid" {
                "PAX uid not a number"
            } else {
                "PAX gid not a number"
            },
            end(t),
            None,
        ));
    }

    let mut t = Vec::new();
    pax(&mut t, &records(&[("path", &n("pax-name"))]), false);
    file(&mut t, &n("ustar-name"), 3, b"pax");
    out.push((
        "PAX path differs from the ustar name",
        end(t),
        Some(vec![("pax-name", b"pax".to_vec())]),
    ));

    let mut t = Vec::new();
    let long = n("gnu-name\0");
    entry(
        &mut t,
        header(
            "././@LongLink",
            tar::EntryType::GNULongName,
            long.len() as u64,
            "",
            0,
        ),
        long.as_bytes(),
    );
    pax(&mut t, &records(&[("path", &n("pax-name"))]), false);
    file(&mut t, &n("ustar-name"), 3, b"pax");
    out.push(("PAX path differs from a GNU long name", end(t), None));

    let mut t = Vec::new();
    file(&mut t, &n("a"), 3, b"AAA");
    file(&mut t, &n("b"), 3, b"BBB");
    pax(&mut t, &records(&[("linkpath", &n("a"))]), false);
    entry(
        &mut t,
        header(&n("l"), tar::EntryType::Link, 0, &n("b"), 1_700_000_000),
        &[],
    );
    out.push((
        "PAX linkpath differs from the ustar link name",
        end(t),
        Some(vec![
            ("a", b"AAA".to_vec()),
            ("b", b"BBB".to_vec()),
            ("l", b"AAA".to_vec()),
        ]),
    ));

    let mut t = Vec::new();
    pax(&mut t, &records(&[("mtime", "1600000000.5")]), false);
    file(&mut t, &n("f"), 3, b"old");
    out.push((
        "PAX mtime seconds differ from the ustar mtime",
        end(t),
        None,
    ));

    let mut t = Vec::new();
    pax(
        &mut t,
        &records(&[("mtime", "1700000000.123456789")]),
        false,
    );
    file(&mut t, &n("f"), 3, b"new");
    out.push((
        "PAX mtime with a fraction of the ustar second",
        end(t),
        Some(vec![("f", b"new".to_vec())]),
    ));

    for (name, key, value) in [
        ("global PAX header sets size", "size", "0"),
        ("global PAX header sets path", "path", "elsewhere"),
        ("global PAX header sets uid", "uid", "0"),
    ] {
        let mut t = Vec::new();
        pax(&mut t, &records(&[(key, value)]), true);
        file(&mut t, &n("f"), 6, b"ustar!");
        out.push((name, end(t), None));
    }

    // What `git archive` writes: a global header with the commit id.
    let mut t = Vec::new();
    pax(
        &mut t,
        &records(&[("comment", "4f1e2d3c4b5a69788796a5b4c3d2e1f00a1b2c3d")]),
        true,
    );
    file(&mut t, &n("f"), 3, b"git");
    out.push((
        "global PAX header with a comment only",
        end(t),
        Some(vec![("f", b"git".to_vec())]),
    ));
    out
}

/// Regular files of a tar (decompressed) by name, `prefix` stripped.
fn tar_files(bytes: &[u8], prefix: &str) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut a = tar::Archive::new(bytes);
    let mut links = Vec::new();
    for e in a.entries().unwrap() {
        let mut e = e.unwrap();
        let name = e.path().unwrap().to_string_lossy().into_owned();
        let Some(name) = name.strip_prefix(prefix) else {
            continue;
        };
        let name = name.to_string();
        let kind = e.header().entry_type();
        if kind.is_file() {
            let mut data = Vec::new();
            e.read_to_end(&mut data).unwrap();
            out.insert(name, data);
        } else if kind.is_hard_link() {
            let target = e
                .link_name()
                .unwrap()
                .unwrap()
                .to_string_lossy()
                .into_owned();
            links.push((name, target.strip_prefix(prefix).unwrap().to_string()));
        }
    }
    for (name, target) in links {
        let data = out[&target].clone();
        out.insert(name, data);
    }
    out
}

fn expected_map(files: &[(&str, Vec<u8>)]) -> BTreeMap<String, Vec<u8>> {
    files
        .iter()
        .map(|(n, d)| (n.to_string(), d.clone()))
        .collect()
}

/// Layer apply: the snapshot's regular files.
fn via_apply(bytes: &[u8]) -> Result<BTreeMap<String, Vec<u8>>, String> {
    let d = tempfile::tempdir().unwrap();
    let result = apply_layer(
        std::io::Cursor::new(bytes.to_vec()),
        "case",
        d.path(),
        &ApplyOptions::default(),
    );
    match result {
        Ok(_) => {
            let mut out = BTreeMap::new();
            for e in std::fs::read_dir(d.path()).unwrap() {
                let e = e.unwrap();
                if e.file_type().unwrap().is_file() {
                    out.insert(
                        e.file_name().to_string_lossy().into_owned(),
                        std::fs::read(e.path()).unwrap(),
                    );
                }
            }
            Ok(out)
        }
        Err(e @ Error::HostileEntry { .. }) => Err(e.to_string()),
        Err(e) => panic!("refused, but not as a hostile entry: {e}"),
    }
}

/// The stage view's tar index: the view's files, read through the view.
fn via_view(bytes: &[u8]) -> Result<BTreeMap<String, Vec<u8>>, String> {
    let d = tempfile::tempdir().unwrap();
    let layer = d.path().join("layer.tar");
    std::fs::write(&layer, bytes).unwrap();
    let view = StageView::from_layers(LayerOs::Linux, &[layer], d.path(), &ViewOptions::default())
        .map_err(|e| e.to_string())?;
    let mut out = BTreeMap::new();
    for e in view.entries() {
        if matches!(e.kind, ViewKind::File { .. }) {
            let mut data = Vec::new();
            view.open(e).unwrap().read_to_end(&mut data).unwrap();
            out.insert(e.path.clone(), data);
        }
    }
    Ok(out)
}

fn archive_file(bytes: &[u8]) -> (tempfile::TempDir, std::path::PathBuf) {
    let d = tempfile::tempdir().unwrap();
    let path = d.path().join("case.tar");
    std::fs::write(&path, bytes).unwrap();
    (d, path)
}

/// ADD of the archive into a Linux layer under `dst/`.
fn via_add_linux(bytes: &[u8]) -> Result<BTreeMap<String, Vec<u8>>, String> {
    let (_d, path) = archive_file(bytes);
    let mut w = LinuxLayerWriter::new(Vec::new(), Default::default());
    extract_linux(&path, Format::Tar, "dst", None, &mut w).map_err(|e| e.to_string())?;
    Ok(tar_files(&w.finish().unwrap(), "dst/"))
}

/// ADD of the archive into a Windows layer under `Files/dst/`.
fn via_add_windows(bytes: &[u8]) -> Result<BTreeMap<String, Vec<u8>>, String> {
    let (_d, path) = archive_file(bytes);
    let base = NoBase;
    let mut w = WindowsLayerWriter::new(Vec::new(), &base, Default::default()).unwrap();
    extract_windows(&path, Format::Tar, "dst", None, &mut w).map_err(|e| e.to_string())?;
    Ok(tar_files(&w.finish().unwrap(), "Files/dst/"))
}

#[test]
fn every_reader_honours_or_refuses_each_disagreement_alike() {
    let cases = cases("");
    assert!(cases.len() >= 20, "{} cases", cases.len());
    type Reader = fn(&[u8]) -> Result<BTreeMap<String, Vec<u8>>, String>;
    let readers: [(&str, Reader); 4] = [
        ("layer apply", via_apply),
        ("stage view", via_view),
        ("ADD into a Linux layer", via_add_linux),
        ("ADD into a Windows layer", via_add_windows),
    ];
    for (name, bytes, expected) in &cases {
        for (reader, read) in &readers {
            match (read(bytes), expected) {
                (Ok(files), Some(want)) => {
                    assert_eq!(files, expected_map(want), "{name}: {reader}")
                }
                (Err(_), None) => {}
                (Ok(files), None) => {
                    panic!("{name}: {reader} read it as {files:?} instead of refusing it")
                }
                (Err(e), Some(_)) => panic!("{name}: {reader} refused it: {e}"),
            }
        }
    }
}

#[test]
fn the_windows_import_encoder_refuses_the_same_cases() {
    for (name, bytes, expected) in cases("Files/") {
        if expected.is_some() {
            continue; // honoured cases need a whole Windows layer; the view covers reading
        }
        let d = tempfile::tempdir().unwrap();
        let folder = d.path().join("import");
        let err = layer_to_import_folder(&bytes[..], &folder)
            .err()
            .unwrap_or_else(|| panic!("{name}: the encoder accepted it"));
        assert!(
            matches!(err, Error::HostileEntry { .. }),
            "{name}: refused, but not as a hostile entry: {err}"
        );
    }
}
