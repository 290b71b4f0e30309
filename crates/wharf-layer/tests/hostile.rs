//! The hostile-layer corpus: tars built here that try to escape the target,
//! exhaust resources or confuse the reader. Each must fail with a clear error
//! (or, where noted, succeed harmlessly) and leave everything outside the
//! target exactly as it was.
#![cfg(target_os = "linux")]

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use wharf_layer::linux::apply::{apply_layer, ApplyOptions, DevicePolicy};
use wharf_layer::tarfmt::{EntryKind, TarEntry, TarWriter};
use wharf_layer::Error;

/// Builds a tar from entries; file data is the entry name repeated to the size.
fn tar_of(entries: &[TarEntry]) -> Vec<u8> {
    let mut w = TarWriter::new(Vec::new());
    for e in entries {
        match e.kind {
            EntryKind::File { size } => {
                let data = vec![b'p'; usize::try_from(size).unwrap()];
                w.append(e, Some(&mut &data[..])).unwrap();
            }
            _ => w.append(e, None).unwrap(),
        }
    }
    w.finish().unwrap()
}

fn file(name: &str) -> TarEntry {
    TarEntry::new(name, EntryKind::File { size: 6 })
}
fn dir(name: &str) -> TarEntry {
    TarEntry::new(name, EntryKind::Dir)
}
fn symlink(name: &str, target: &str) -> TarEntry {
    TarEntry::new(
        name,
        EntryKind::Symlink {
            target: target.into(),
        },
    )
}
fn hardlink(name: &str, target: &str) -> TarEntry {
    TarEntry::new(
        name,
        EntryKind::Hardlink {
            target: target.into(),
        },
    )
}
fn with_pax(mut e: TarEntry, k: &str, v: &[u8]) -> TarEntry {
    e.pax.push((k.into(), v.to_vec()));
    e
}

/// Everything in the sandbox except the target: path → (type, size, mode, content).
fn snapshot(root: &Path) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, String>) {
        for e in fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.file_name().is_some_and(|n| n == "target") && p.parent() == Some(root) {
                continue;
            }
            let md = fs::symlink_metadata(&p).unwrap();
            let content = if md.is_file() {
                fs::read(&p).unwrap()
            } else {
                Vec::new()
            };
            out.insert(
                p.strip_prefix(root).unwrap().display().to_string(),
                format!("{:o} {} {} {:?}", md.mode(), md.len(), md.mtime(), content),
            );
            if md.is_dir() {
                walk(root, &p, out);
            }
        }
    }
    walk(root, root, &mut out);
    out
}

const ABS_PROBE: &str = "/tmp/wharf-hostile-probe-should-not-exist";

enum Expect {
    Hostile,
    Malformed,
    TooLarge,
    Io,
    /// Succeeds without touching anything outside; the closure checks the target.
    Harmless(fn(&Path)),
}

fn run(name: &str, data: Vec<u8>, opts: ApplyOptions, expect: Expect) {
    run_on(name, None, data, opts, expect)
}

/// Like `run`, after applying the (trusted) `lower` layer onto the target first.
fn run_on(name: &str, lower: Option<Vec<u8>>, data: Vec<u8>, opts: ApplyOptions, expect: Expect) {
    let sandbox = tempfile::tempdir().unwrap();
    let root = sandbox.path();
    fs::create_dir(root.join("target")).unwrap();
    fs::create_dir(root.join("outside")).unwrap();
    fs::write(root.join("outside/sentinel"), b"original").unwrap();
    let _ = fs::remove_file(ABS_PROBE);
    if let Some(lower) = lower {
        apply_layer(
            std::io::Cursor::new(lower),
            "lower",
            &root.join("target"),
            &d(),
        )
        .unwrap();
    }
    let before = snapshot(root);
    let result = apply_layer(
        std::io::Cursor::new(data),
        name,
        &root.join("target"),
        &opts,
    );
    assert_eq!(
        before,
        snapshot(root),
        "{name}: something outside the target changed"
    );
    assert!(
        !Path::new(ABS_PROBE).exists(),
        "{name}: wrote to an absolute host path"
    );
    match (expect, result) {
        (Expect::Hostile, Err(Error::HostileEntry { .. })) => {}
        (Expect::Malformed, Err(Error::MalformedTar { .. })) => {}
        (Expect::TooLarge, Err(Error::TooLarge { .. })) => {}
        (Expect::Io, Err(Error::Io { .. })) => {}
        (Expect::Harmless(check), Ok(_)) => check(&root.join("target")),
        (_, r) => panic!("{name}: unexpected outcome {r:?}"),
    }
}

fn run_abs(name: &str, build: impl Fn(&str) -> Vec<TarEntry>, expect: Expect) {
    let sandbox = tempfile::tempdir().unwrap();
    let root = sandbox.path();
    fs::create_dir(root.join("target")).unwrap();
    fs::create_dir(root.join("outside")).unwrap();
    fs::write(root.join("outside/sentinel"), b"original").unwrap();
    let before = snapshot(root);
    let data = tar_of(&build(&root.join("outside").display().to_string()));
    let result = apply_layer(
        std::io::Cursor::new(data),
        name,
        &root.join("target"),
        &ApplyOptions::default(),
    );
    assert_eq!(
        before,
        snapshot(root),
        "{name}: something outside the target changed"
    );
    match (expect, result) {
        (Expect::Hostile, Err(Error::HostileEntry { .. })) => {}
        (Expect::Io, Err(Error::Io { .. })) => {}
        (Expect::Harmless(check), Ok(_)) => check(&root.join("target")),
        (_, r) => panic!("{name}: unexpected outcome {r:?}"),
    }
}

fn t(entries: &[TarEntry]) -> Vec<u8> {
    tar_of(entries)
}

fn d() -> ApplyOptions {
    ApplyOptions::default()
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

#[test]
fn path_escapes() {
    run("01 dotdot", t(&[file("../escape")]), d(), Expect::Hostile);
    run(
        "02 nested dotdot",
        t(&[dir("a"), file("a/../../escape")]),
        d(),
        Expect::Hostile,
    );
    run("03 absolute", t(&[file(ABS_PROBE)]), d(), Expect::Hostile);
    run(
        "04 absolute dir",
        t(&[dir("/tmp/wharf-hostile-dir")]),
        d(),
        Expect::Hostile,
    );
    run(
        "05 dotdot whiteout",
        t(&[file("../.wh.sentinel")]),
        d(),
        Expect::Hostile,
    );
    run(
        "06 dotdot in pax path",
        t(&[with_pax(file("innocent"), "path", b"../outside/sentinel")]),
        d(),
        Expect::Hostile,
    );
    run(
        "07 absolute pax path",
        t(&[with_pax(file("innocent"), "path", ABS_PROBE.as_bytes())]),
        d(),
        Expect::Hostile,
    );
    run(
        "08 NUL in pax path",
        t(&[with_pax(file("innocent"), "path", b"a\0/../../x")]),
        d(),
        Expect::Hostile,
    );
    run(
        "09 dotdot hardlink name",
        t(&[file("ok"), hardlink("../h", "ok")]),
        d(),
        Expect::Hostile,
    );
    run("10 file as root", t(&[file("./")]), d(), Expect::Hostile);
    run(
        "11 nameless whiteout",
        t(&[file(".wh.")]),
        d(),
        Expect::Hostile,
    );
}

#[test]
fn symlink_escapes() {
    run(
        "12 relative symlink write-through",
        t(&[symlink("l", "../outside"), file("l/pwned")]),
        d(),
        Expect::Hostile,
    );
    run(
        "13 root symlink write-through",
        t(&[
            symlink("l", "/"),
            file("l/tmp/wharf-hostile-probe-should-not-exist"),
        ]),
        d(),
        Expect::Hostile,
    );
    run_abs(
        "14 absolute symlink write-through",
        |o| vec![symlink("l", o), file("l/pwned")],
        Expect::Hostile,
    );
    run(
        "15 symlink chain",
        t(&[
            symlink("a", "b"),
            symlink("b", "../outside"),
            file("a/pwned"),
        ]),
        d(),
        Expect::Hostile,
    );
    run(
        "16 symlink loop",
        t(&[symlink("a", "b"), symlink("b", "a"), file("a/x")]),
        d(),
        Expect::Hostile,
    );
    run(
        "17 dir replaced by symlink mid-archive",
        t(&[
            dir("d"),
            file("d/x"),
            symlink("d", "../outside"),
            file("d/pwned"),
        ]),
        d(),
        Expect::Hostile,
    );
    run(
        "18 whiteout through symlink",
        t(&[symlink("l", "../outside"), file("l/.wh.sentinel")]),
        d(),
        Expect::Hostile,
    );
    run(
        "19 opaque through symlink",
        t(&[symlink("l", "../outside"), file("l/.wh..wh..opq")]),
        d(),
        Expect::Hostile,
    );
    run(
        "20 deep symlink in parent",
        t(&[
            dir("a"),
            dir("a/b"),
            symlink("a/b/c", "../../../outside"),
            file("a/b/c/pwned"),
        ]),
        d(),
        Expect::Hostile,
    );
    run(
        "21 symlink then overwrite is harmless",
        t(&[symlink("l", "../outside/sentinel"), file("l")]),
        d(),
        Expect::Harmless(|t| {
            assert!(fs::symlink_metadata(t.join("l")).unwrap().is_file());
            assert_eq!(fs::read(t.join("l")).unwrap(), b"pppppp");
        }),
    );
    run_abs(
        "22 absolute symlink as leaf is only a link",
        |o| vec![symlink("l", &format!("{o}/sentinel"))],
        Expect::Harmless(|t| {
            assert!(fs::symlink_metadata(t.join("l"))
                .unwrap()
                .file_type()
                .is_symlink())
        }),
    );
}

#[test]
fn hardlink_escapes() {
    run(
        "23 hardlink to dotdot",
        t(&[hardlink("h", "../outside/sentinel")]),
        d(),
        Expect::Hostile,
    );
    run_abs(
        "24 hardlink to absolute",
        |o| vec![hardlink("h", &format!("{o}/sentinel"))],
        Expect::Hostile,
    );
    run(
        "25 hardlink through symlink",
        t(&[symlink("l", "../outside"), hardlink("h", "l/sentinel")]),
        d(),
        Expect::Hostile,
    );
    run(
        "26 hardlink pax linkpath disagrees",
        t(&[
            file("ok"),
            with_pax(hardlink("h", "ok"), "linkpath", b"../outside/sentinel"),
        ]),
        d(),
        Expect::Hostile,
    );
    run(
        "27 hardlink to directory",
        t(&[dir("d"), hardlink("h", "d")]),
        d(),
        Expect::Hostile,
    );
    run(
        "28 hardlink to missing target",
        t(&[hardlink("h", "nope")]),
        d(),
        Expect::Io,
    );
    run(
        "29 hardlink to symlink links the symlink itself",
        t(&[symlink("l", "../outside/sentinel"), hardlink("h", "l")]),
        d(),
        Expect::Harmless(|t| {
            assert!(fs::symlink_metadata(t.join("h"))
                .unwrap()
                .file_type()
                .is_symlink())
        }),
    );
}

#[test]
fn resource_exhaustion() {
    let small = ApplyOptions {
        max_uncompressed_bytes: 1 << 20,
        ..d()
    };
    let mut huge = file("huge");
    huge.kind = EntryKind::File { size: 0 };
    run(
        "30 pax size disagrees with ustar",
        t(&[with_pax(huge, "size", b"99999999999999")]),
        small.clone(),
        Expect::Hostile,
    );
    // Each file is under the cap; together they are not.
    let parts: Vec<TarEntry> = (0..16)
        .map(|i| TarEntry::new(format!("part{i}"), EntryKind::File { size: 512 << 10 }))
        .collect();
    let bomb = gzip(&t(&parts));
    assert!(bomb.len() < 64 << 10, "the bomb should be small compressed");
    run("31 gzip bomb", bomb, small.clone(), Expect::TooLarge);
    let many: Vec<TarEntry> = (0..50).map(|i| dir(&format!("d{i}"))).collect();
    run(
        "32 too many entries",
        t(&many),
        ApplyOptions {
            max_entries: 10,
            ..d()
        },
        Expect::Malformed,
    );
    let mut absurd = tar::Header::new_ustar();
    absurd.set_path("absurd").unwrap();
    absurd.set_size(0o7_777_777_777);
    absurd.set_entry_type(tar::EntryType::Regular);
    absurd.set_cksum();
    let mut raw = absurd.as_bytes().to_vec();
    raw.extend_from_slice(&[0u8; 1024]);
    run("33 absurd ustar size", raw, small.clone(), Expect::Hostile);
    #[cfg(not(windows))]
    {
        let bomb = zstd::encode_all(&t(&parts)[..], 19).unwrap();
        run("34 zstd bomb", bomb, small, Expect::TooLarge);
    }
}

#[test]
fn malformed_and_devices() {
    let mut truncated = t(&[TarEntry::new("f", EntryKind::File { size: 4000 })]);
    truncated.truncate(512 + 100);
    run("35 truncated data", truncated, d(), Expect::Malformed);
    let mut garbage = vec![0x41u8; 512];
    garbage.extend_from_slice(&[0u8; 1024]);
    run("36 garbage header", garbage, d(), Expect::Malformed);
    run(
        "37 parent is a file",
        t(&[file("f"), file("f/x")]),
        d(),
        Expect::Hostile,
    );
    let dev = TarEntry::new("dev/sda", EntryKind::BlockDevice { major: 8, minor: 0 });
    run(
        "38 device rejected by policy",
        t(std::slice::from_ref(&dev)),
        ApplyOptions {
            devices: DevicePolicy::Reject,
            ..d()
        },
        Expect::Hostile,
    );
    run(
        "39 device skipped by policy",
        t(&[dev]),
        ApplyOptions {
            devices: DevicePolicy::Skip,
            ..d()
        },
        Expect::Harmless(|t| assert!(!t.join("dev/sda").exists())),
    );
    let mut gnu = tar::Header::new_gnu();
    gnu.as_gnu_mut().unwrap().name[..13].copy_from_slice(b"././@LongLink");
    gnu.set_entry_type(tar::EntryType::GNULongName);
    let long = b"../gnu-escape\0";
    gnu.set_size(long.len() as u64);
    gnu.set_cksum();
    let mut raw = gnu.as_bytes().to_vec();
    raw.extend_from_slice(long);
    raw.resize(1024, 0);
    raw.extend_from_slice(&t(&[file("short")]));
    run("40 GNU long name with dotdot", raw, d(), Expect::Hostile);
}

#[test]
fn lower_layers_cannot_be_used_as_stepping_stones() {
    run_on(
        "41 write through a symlink planted by a lower layer",
        Some(t(&[symlink("etc", "../outside")])),
        t(&[file("etc/passwd")]),
        d(),
        Expect::Hostile,
    );
    run_on(
        "42 whiteout through a lower layer's absolute symlink",
        Some(t(&[symlink("etc", "/tmp")])),
        t(&[file("etc/.wh.wharf-hostile-probe-should-not-exist")]),
        d(),
        Expect::Hostile,
    );
    run_on(
        "43 hardlink to a file through a lower layer's symlink",
        Some(t(&[symlink("up", "..")])),
        t(&[hardlink("h", "up/outside/sentinel")]),
        d(),
        Expect::Hostile,
    );
    run(
        "44 symlink replaced by a directory mid-archive stays inside",
        t(&[symlink("l", "../outside"), dir("l"), file("l/x")]),
        d(),
        Expect::Harmless(|t| {
            assert!(fs::symlink_metadata(t.join("l")).unwrap().is_dir());
            assert_eq!(fs::read(t.join("l/x")).unwrap(), b"pppppp");
        }),
    );
    run_on(
        "45 opaque marker under a lower layer's symlink",
        Some(t(&[symlink("o", "../outside")])),
        t(&[file("o/.wh..wh..opq")]),
        d(),
        Expect::Hostile,
    );
}

#[test]
fn corpus_is_at_least_thirty_cases() {
    // Keeps the count honest when cases are edited: numbered cases above run 01..=40.
    let src = include_str!("hostile.rs");
    // Case names start with a two-digit number: count distinct ones.
    let mut numbers: Vec<&str> = src
        .match_indices('"')
        .filter_map(|(i, _)| src.get(i + 1..i + 4))
        .filter(|s| s.as_bytes()[..2].iter().all(u8::is_ascii_digit) && s.ends_with(' '))
        .collect();
    numbers.sort_unstable();
    numbers.dedup();
    let cases = numbers.len();
    assert!(cases >= 30, "only {cases} hostile cases");
}
