//! Randomised property tests (fixed seeds, so failures reproduce): many
//! generated inputs per rule instead of a few hand-picked ones.
#![cfg(target_os = "linux")]

mod common;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use wharf_layer::pgzip::ParallelGzipWriter;
use wharf_layer::transform::paths::linux_target_to_windows;
use wharf_layer::{
    apply_layer_file, ApplyOptions, Compression, LayerBlobWriter, LinuxLayerOptions,
    LinuxLayerWriter, NoBase, WindowsLayerOptions, WindowsLayerWriter,
};

/// xorshift64*: small, deterministic, good enough to vary inputs.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn name(&mut self) -> String {
        const ALPHABET: &[&str] = &["a", "A", "b", "Z", "_", "-", ".", "é", "文", "0"];
        let len = 1 + self.below(12) as usize;
        let mut s: String = (0..len)
            .map(|_| ALPHABET[self.below(ALPHABET.len() as u64) as usize])
            .collect();
        if self.below(10) == 0 {
            s.push_str(&"long".repeat(30));
        }
        // Now and then a name NTFS cannot hold, for the cross-OS properties.
        match self.below(25) {
            0 => s.push(':'),
            1 => s = "CON".into(),
            2 => s.push(' '),
            _ => {}
        }
        if s == "." || s == ".." || s.starts_with(".wh.") || s.ends_with('.') {
            s.push('x');
        }
        s
    }
}

#[test]
fn parallel_gzip_round_trips_and_ignores_thread_count() {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    for _ in 0..24 {
        let len = rng.below(600_000) as usize;
        let data: Vec<u8> = (0..len)
            .map(|i| {
                if rng.below(4) == 0 {
                    rng.next() as u8
                } else {
                    (i % 7) as u8
                }
            })
            .collect();
        let block = 32 * 1024 + rng.below(200_000) as usize;
        let level = rng.below(10) as u32;
        let compress = |threads| {
            let mut w = ParallelGzipWriter::new(Vec::new(), level, threads, block);
            let mut rest = &data[..];
            let mut r = Rng(len as u64 + 1);
            while !rest.is_empty() {
                let n = (1 + r.below(70_000) as usize).min(rest.len());
                w.write_all(&rest[..n]).unwrap();
                rest = &rest[n..];
            }
            w.finish().unwrap()
        };
        let one = compress(1);
        let three = compress(3);
        assert!(
            one == three,
            "len {len} block {block} level {level}: output depends on threads"
        );
        let mut back = Vec::new();
        flate2::read::GzDecoder::new(&one[..])
            .read_to_end(&mut back)
            .unwrap();
        assert!(
            back == data,
            "len {len} block {block} level {level}: round trip differs"
        );
    }
}

fn random_tree(rng: &mut Rng, root: &Path) {
    let mut dirs = vec![root.to_path_buf()];
    let mut files = Vec::new();
    for _ in 0..60 {
        let parent = dirs[rng.below(dirs.len() as u64) as usize].clone();
        let p = parent.join(rng.name());
        if p.symlink_metadata().is_ok() {
            continue;
        }
        match rng.below(6) {
            0 | 1 => {
                std::fs::create_dir(&p).unwrap();
                dirs.push(p);
            }
            2 | 3 => {
                let size = rng.below(5000) as usize;
                let data: Vec<u8> = (0..size).map(|_| rng.next() as u8).collect();
                std::fs::write(&p, data).unwrap();
                files.push(p);
            }
            4 if !files.is_empty() => {
                let target = &files[rng.below(files.len() as u64) as usize];
                std::fs::hard_link(target, &p).unwrap();
            }
            _ => std::os::unix::fs::symlink(format!("../{}", rng.name()), &p).unwrap(),
        }
    }
}

fn describe(root: &Path) -> BTreeMap<String, (String, u64)> {
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).unwrap() {
            let p = e.unwrap().path();
            let md = p.symlink_metadata().unwrap();
            let rel = p.strip_prefix(root).unwrap().display().to_string();
            let desc = if md.is_dir() {
                stack.push(p.clone());
                format!("dir {:o}", md.mode())
            } else if md.file_type().is_symlink() {
                format!("link {}", std::fs::read_link(&p).unwrap().display())
            } else {
                format!("file {:o} {:?}", md.mode(), std::fs::read(&p).unwrap())
            };
            out.insert(rel, (desc, md.nlink()));
        }
    }
    out
}

#[test]
fn random_trees_round_trip_deterministically() {
    let mut rng = Rng(42);
    for round in 0..6 {
        let tmp = tempfile::tempdir().unwrap();
        let src = tmp.path().join("src");
        std::fs::create_dir(&src).unwrap();
        random_tree(&mut rng, &src);
        let pack = |name: &str| {
            let blob = LayerBlobWriter::create(
                tmp.path().join(name),
                Compression::Gzip {
                    level: 1,
                    threads: 2,
                },
            )
            .unwrap();
            let mut w = LinuxLayerWriter::new(blob, LinuxLayerOptions::default());
            w.add_dir_tree(&src).unwrap();
            w.finish().unwrap().finish().unwrap()
        };
        let a = pack("a");
        let b = pack("b");
        assert_eq!(a.digest, b.digest, "round {round}: not deterministic");
        let dst = tmp.path().join("dst");
        std::fs::create_dir(&dst).unwrap();
        apply_layer_file(&a.path, &dst, &ApplyOptions::default()).unwrap();
        assert_eq!(
            describe(&src),
            describe(&dst),
            "round {round}: tree changed"
        );
    }
}

#[test]
fn random_windows_layers_pass_the_independent_checker() {
    let mut rng = Rng(7);
    for round in 0..5 {
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("w.tar");
        let blob = LayerBlobWriter::create(&out, Compression::None).unwrap();
        let mut w = WindowsLayerWriter::new(blob, &NoBase, WindowsLayerOptions::default()).unwrap();
        let mut files: Vec<String> = Vec::new();
        for _ in 0..40 {
            let depth = 1 + rng.below(4);
            let path: Vec<String> = (0..depth).map(|_| rng.name()).collect();
            let path = path.join("/");
            // Requests that break a rule are refused by the writer; the rest must be valid.
            let _ = match rng.below(5) {
                0 => w.add_dir(&path, None),
                1 | 2 => w
                    .add_file(&path, 3, None, &mut &b"abc"[..])
                    .inspect(|_| files.push(path.clone())),
                3 if !files.is_empty() => {
                    let t = files[rng.below(files.len() as u64) as usize].clone();
                    w.add_hardlink(&path, &t, None)
                }
                _ => w.add_whiteout(&path),
            };
        }
        w.finish().unwrap().finish().unwrap();
        if let Err(report) = common::check_windows_layer(&out) {
            panic!("round {round}: checker rejected:\n{report}");
        }
    }
}

#[test]
fn random_linux_trees_convert_to_valid_windows_layers() {
    let mut rng = Rng(2024);
    let mut total_skipped = 0;
    for round in 0..6 {
        let tmp = tempfile::tempdir().unwrap();
        let src = tmp.path().join("src");
        std::fs::create_dir(&src).unwrap();
        random_tree(&mut rng, &src);
        let view = wharf_layer::StageView::from_snapshot(&src).unwrap();
        let out = tmp.path().join("w.tar");
        let blob = LayerBlobWriter::create(&out, Compression::None).unwrap();
        let mut w = WindowsLayerWriter::new(blob, &NoBase, WindowsLayerOptions::default()).unwrap();
        let report = wharf_layer::linux_to_windows(&view, &mut w, &Default::default()).unwrap();
        w.finish().unwrap().finish().unwrap();
        if let Err(r) = common::check_windows_layer(&out) {
            panic!("round {round}: checker rejected:\n{r}");
        }
        // Everything is accounted for: written, skipped, or below a skipped directory.
        let skipped: Vec<&str> = report.skipped.iter().map(|s| s.path.as_str()).collect();
        let covered = view.entries().filter(|e| {
            skipped
                .iter()
                .any(|s| e.path == *s || e.path.starts_with(&format!("{s}/")))
        });
        assert_eq!(
            covered.count() as u64 + report.written,
            view.entries().count() as u64,
            "round {round}: entries lost"
        );
        total_skipped += report.skipped.len();
    }
    assert!(
        total_skipped > 0,
        "the generator should produce names NTFS cannot hold"
    );
}

#[test]
fn rewritten_absolute_links_resolve_to_their_target() {
    let mut rng = Rng(99);
    for _ in 0..500 {
        let link: Vec<String> = (0..1 + rng.below(5))
            .map(|_| format!("d{}", rng.below(3)))
            .collect();
        let target: Vec<String> = (0..rng.below(5))
            .map(|_| format!("d{}", rng.below(3)))
            .collect();
        let link = link.join("/");
        let abs = format!("/{}", target.join("/"));
        let win = linux_target_to_windows(&link, &abs);
        // Resolve the Windows relative path from the link's directory.
        let mut parts: Vec<&str> = link.split('/').collect();
        parts.pop();
        for c in win.split('\\') {
            match c {
                ".." => assert!(
                    parts.pop().is_some(),
                    "{link} -> {abs}: {win} climbs above the root"
                ),
                "." => {}
                c => parts.push(c),
            }
        }
        assert_eq!(
            parts.join("/"),
            target.join("/"),
            "{link} -> {abs} became {win}"
        );
    }
}
