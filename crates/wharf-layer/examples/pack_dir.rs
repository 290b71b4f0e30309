//! Packs a directory into a layer blob and prints its digests, size and
//! throughput. Used by `benches/pack_layer.sh` and by `bench/bench.py`,
//! whose Windows COPY case compares a build with packing the same layer
//! alone.
//!
//! Usage: pack_dir DIR OUT [gzip[:LEVEL] | zstd[:LEVEL] | none] [THREADS] [linux | windows:DEST]
//!
//! `windows:DEST` writes a Windows layer (the `Files/` tree, PAX security
//! descriptors and attributes, parents as the layer needs them) with the
//! directory's contents under `DEST` (e.g. `windows:app`), with the default
//! metadata a COPY gives its entries.

#[cfg(not(unix))]
fn main() {
    eprintln!("pack_dir reads directory trees with Unix metadata: run it on a Unix host");
    std::process::exit(2);
}

#[cfg(unix)]
fn main() -> Result<(), Box<dyn std::error::Error>> {
    use std::time::Instant;
    use wharf_layer::{Compression, LayerBlobWriter, LinuxLayerOptions, LinuxLayerWriter};

    let args: Vec<String> = std::env::args().collect();
    if args.len() < 3 {
        eprintln!("usage: pack_dir DIR OUT [gzip[:LEVEL]|zstd[:LEVEL]|none] [THREADS]");
        std::process::exit(2);
    }
    let threads: usize = args.get(4).map(|t| t.parse()).transpose()?.unwrap_or(0);
    let spec = args.get(3).map(String::as_str).unwrap_or("gzip:6");
    let (codec, level) = spec.split_once(':').unwrap_or((spec, ""));
    let compression = match codec {
        "gzip" => Compression::Gzip {
            level: if level.is_empty() { 6 } else { level.parse()? },
            threads,
        },
        "zstd" => Compression::Zstd {
            level: if level.is_empty() { 3 } else { level.parse()? },
            threads,
        },
        "none" => Compression::None,
        other => return Err(format!("unknown compression {other}").into()),
    };
    let format = args.get(5).map(String::as_str).unwrap_or("linux");
    let start = Instant::now();
    let blob = LayerBlobWriter::create(&args[2], compression)?;
    let blob = match format.split_once(':') {
        None if format == "linux" => {
            let mut w = LinuxLayerWriter::new(blob, LinuxLayerOptions::default());
            w.add_dir_tree(args[1].as_ref())?;
            w.finish()?.finish()?
        }
        Some(("windows", dest)) => {
            use wharf_layer::{NoBase, Timestamp, WindowsLayerOptions, WindowsLayerWriter};
            let opts = WindowsLayerOptions {
                timestamp: Timestamp::from_secs(0),
                base_layer: false,
            };
            let mut w = WindowsLayerWriter::new(blob, &NoBase, opts)?;
            windows_tree(&mut w, args[1].as_ref(), dest.trim_matches('/'))?;
            w.finish()?.finish()?
        }
        _ => return Err(format!("unknown layer format {format}: linux or windows:DEST").into()),
    };
    let secs = start.elapsed().as_secs_f64();
    println!(
        "compression={spec} uncompressed_bytes={} blob_bytes={} seconds={secs:.3} mb_per_s={:.1} digest={} diff_id={}",
        blob.uncompressed_size,
        blob.size,
        blob.uncompressed_size as f64 / 1e6 / secs,
        blob.digest,
        blob.diff_id
    );
    Ok(())
}

/// `dir`'s entries under `dest` in a Windows layer, sorted by name, with
/// the metadata a COPY gives context files (default descriptors, the
/// files' modification times).
#[cfg(unix)]
fn windows_tree<W: std::io::Write>(
    w: &mut wharf_layer::WindowsLayerWriter<'_, W>,
    dir: &std::path::Path,
    dest: &str,
) -> Result<(), Box<dyn std::error::Error>> {
    use std::os::unix::fs::MetadataExt;
    use wharf_layer::{Timestamp, WinMeta};
    let meta = std::fs::symlink_metadata(dir)?;
    let time = Timestamp::from_secs(meta.mtime().max(0) as u64);
    w.add_dir(dest, Some(WinMeta::default_dir(time)))?;
    let mut entries: Vec<_> = std::fs::read_dir(dir)?.collect::<Result<_, _>>()?;
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let path = e.path();
        let name = format!("{dest}/{}", e.file_name().to_string_lossy());
        let meta = std::fs::symlink_metadata(&path)?;
        let time = Timestamp::from_secs(meta.mtime().max(0) as u64);
        if meta.is_dir() {
            windows_tree(w, &path, &name)?;
        } else if meta.file_type().is_symlink() {
            // An absolute Unix target as a COPY writes it: on drive C:.
            let target = std::fs::read_link(&path)?.to_string_lossy().to_string();
            let target = match target.starts_with('/') {
                true => format!("C:{}", target.replace('/', "\\")),
                false => target,
            };
            let to_dir = std::fs::metadata(&path)
                .map(|m| m.is_dir())
                .unwrap_or(false);
            let m = match to_dir {
                true => WinMeta::default_dir(time),
                false => WinMeta::default_file(time),
            };
            w.add_symlink(&name, &target, to_dir, Some(m))?;
        } else if meta.is_file() {
            let mut f = std::fs::File::open(&path)?;
            w.add_file(&name, meta.len(), Some(WinMeta::default_file(time)), &mut f)?;
        }
    }
    Ok(())
}
