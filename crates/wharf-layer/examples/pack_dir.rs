//! Packs a directory into a Linux layer blob and prints its digests, size and
//! throughput. Used by `benches/pack_layer.sh`.
//!
//! Usage: pack_dir DIR OUT [gzip[:LEVEL] | zstd[:LEVEL] | none] [THREADS]

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
    let start = Instant::now();
    let blob = LayerBlobWriter::create(&args[2], compression)?;
    let mut w = LinuxLayerWriter::new(blob, LinuxLayerOptions::default());
    w.add_dir_tree(args[1].as_ref())?;
    let blob = w.finish()?.finish()?;
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
