//! A 256 MiB file goes from a synthetic export folder into a layer tar and
//! back into a layer folder without ever being held in memory. Alone in its
//! own test binary so that the process's peak resident size (`VmHWM`) only
//! reflects this test.

mod common;

use common::assert_valid_windows_layer;
use std::fs::File;
use std::io::{BufWriter, Read, Seek, SeekFrom, Write};
use wharf_layer::windows::meta::Timestamp;
use wharf_layer::{
    export_folder_to_layer, layer_to_import_folder, NoBase, WindowsLayerOptions, WindowsLayerWriter,
};

const SIZE: u64 = 256 << 20;
const STRIDE: u64 = 16 << 20;

fn marker(offset: u64) -> [u8; 16] {
    let mut m = *b"WHARF-M-\0\0\0\0\0\0\0\0";
    m[8..].copy_from_slice(&offset.to_le_bytes());
    m
}

/// Peak resident set of this process in KiB (Linux `/proc`).
fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Checks that `data` is zeros except for a marker every `STRIDE` bytes,
/// reading it in small chunks (slice comparisons: memcmp, fast in debug builds).
fn check_content(mut data: impl Read) -> u64 {
    let zeros = vec![0u8; 1 << 16];
    let mut buf = vec![0u8; 1 << 16];
    let mut pos = 0u64;
    loop {
        let n = data.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        let mut i = 0usize;
        while i < n {
            let at = pos + i as u64;
            let within = at % STRIDE;
            let len = if within < 16 {
                let len = (16 - within as usize).min(n - i);
                let m = marker(at - within);
                assert_eq!(
                    &buf[i..i + len],
                    &m[within as usize..within as usize + len],
                    "marker at {at}"
                );
                len
            } else {
                let len = ((STRIDE - within) as usize).min(n - i);
                assert!(
                    buf[i..i + len] == zeros[..len],
                    "non-zero byte in {at}..{}",
                    at + len as u64
                );
                len
            };
            i += len;
        }
        pos += n as u64;
    }
    pos
}

#[test]
fn a_256_mib_file_is_streamed_both_ways() {
    let tmp = tempfile::tempdir().unwrap();
    let folder = tmp.path().join("export");
    std::fs::create_dir_all(folder.join("Files")).unwrap();
    std::fs::write(folder.join("tombstones.txt"), "\u{feff}Version 1.0\r\n").unwrap();

    // Attribute word, one BACKUP_DATA header, then the data: a hole (no disk
    // blocks, never in memory) with a marker every 16 MiB.
    let big = folder.join("Files/big.bin");
    let mut f = File::create(&big).unwrap();
    f.write_all(&32u32.to_le_bytes()).unwrap();
    f.write_all(&1u32.to_le_bytes()).unwrap();
    f.write_all(&0u32.to_le_bytes()).unwrap();
    f.write_all(&SIZE.to_le_bytes()).unwrap();
    f.write_all(&0u32.to_le_bytes()).unwrap();
    let data_start = 24;
    f.set_len(data_start + SIZE).unwrap();
    for off in (0..SIZE).step_by(STRIDE as usize) {
        f.seek(SeekFrom::Start(data_start + off)).unwrap();
        f.write_all(&marker(off)).unwrap();
    }
    drop(f);

    let before = peak_rss_kib();
    let tar_path = tmp.path().join("layer.tar");
    let out = BufWriter::new(File::create(&tar_path).unwrap());
    let opts = WindowsLayerOptions {
        timestamp: Timestamp::from_secs(1_700_000_000),
        base_layer: false,
    };
    let mut w = WindowsLayerWriter::new(out, &NoBase, opts).unwrap();
    let summary = export_folder_to_layer(&folder, &mut w).unwrap();
    w.finish().unwrap().flush().unwrap();
    assert_eq!((summary.files, summary.data_bytes), (1, SIZE));

    let import = tmp.path().join("import");
    let back = layer_to_import_folder(File::open(&tar_path).unwrap(), &import).unwrap();
    assert_eq!(back.data_bytes, SIZE);
    let after = peak_rss_kib();
    if let (Some(b), Some(a)) = (before, after) {
        eprintln!("peak RSS before {b} KiB, after decoding and encoding 256 MiB {a} KiB");
        // A copy of the file would add 256 MiB; buffers are 64 KiB.
        assert!(
            a.saturating_sub(b) < 32 * 1024,
            "peak RSS grew by {} KiB",
            a - b
        );
    }

    assert_valid_windows_layer(&tar_path);
    let mut ar = tar::Archive::new(File::open(&tar_path).unwrap());
    let entry = ar
        .entries()
        .unwrap()
        .map(|e| e.unwrap())
        .find(|e| e.path_bytes().as_ref() == b"Files/big.bin")
        .expect("big.bin in the layer");
    assert_eq!(check_content(entry), SIZE);

    // The import folder's file: attribute word, security stream, data stream.
    let mut g = File::open(import.join("Files/big.bin")).unwrap();
    let len = g.metadata().unwrap().len();
    let mut head = [0u8; 24];
    g.read_exact(&mut head).unwrap();
    assert_eq!(&head[..4], &32u32.to_le_bytes());
    assert_eq!(&head[4..8], &3u32.to_le_bytes(), "security stream first");
    let sd_len = u64::from_le_bytes(head[12..20].try_into().unwrap());
    g.seek(SeekFrom::Start(4 + 20 + sd_len)).unwrap();
    let mut data_hdr = [0u8; 20];
    g.read_exact(&mut data_hdr).unwrap();
    assert_eq!(&data_hdr[..4], &1u32.to_le_bytes());
    assert_eq!(
        u64::from_le_bytes(data_hdr[8..16].try_into().unwrap()),
        SIZE
    );
    assert_eq!(len, 4 + 20 + sd_len + 20 + SIZE);
    assert_eq!(check_content(g.take(SIZE)), SIZE);
}
