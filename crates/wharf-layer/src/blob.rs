//! Writing a layer blob to disk in one streaming pass: the uncompressed tar is
//! hashed for the diff_id on its way into the compressor, and the compressed
//! bytes are hashed for the blob digest on their way to the file.

use crate::compress::{resolve_threads, Compression};
use crate::error::{Error, Result};
use crate::pgzip::{ParallelGzipWriter, DEFAULT_BLOCK_SIZE};
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use wharf_oci::{Digest, HashingWriter, WritebackFile};

/// A layer blob staged on disk, with everything a manifest and config need.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LayerBlob {
    /// Where the blob was written.
    pub path: PathBuf,
    /// Digest of the blob as stored (compressed): the manifest's layer digest.
    pub digest: Digest,
    /// Digest of the uncompressed tar: the config's `rootfs.diff_ids` entry.
    pub diff_id: Digest,
    /// Size of the blob in bytes (compressed).
    pub size: u64,
    /// Size of the uncompressed tar in bytes.
    pub uncompressed_size: u64,
    /// OCI media type matching the compression.
    pub media_type: String,
}

type FileSink = HashingWriter<BufWriter<WritebackFile>>;

enum Encoder {
    Plain(FileSink),
    Gzip(ParallelGzipWriter<FileSink>),
    #[cfg(not(windows))]
    Zstd(zstd::stream::write::Encoder<'static, FileSink>),
}

/// A `Write` that takes an uncompressed layer tar and produces a [`LayerBlob`].
///
/// Feed it with a tar writer (for instance [`crate::LinuxLayerWriter`]) and call
/// [`LayerBlobWriter::finish`]. A writer dropped without `finish` leaves a
/// partial file behind: stage blobs in a temporary location and move them into
/// the store only once finished.
pub struct LayerBlobWriter {
    path: PathBuf,
    compression: Compression,
    uncompressed: HashingWriter<Encoder>,
}

impl LayerBlobWriter {
    /// Creates (truncates) the blob file at `path`.
    pub fn create(path: impl AsRef<Path>, compression: Compression) -> Result<Self> {
        let path = path.as_ref().to_path_buf();
        let file = File::create(&path).map_err(|e| Error::io("creating", &path, e))?;
        let sink = HashingWriter::new(BufWriter::with_capacity(1 << 20, WritebackFile::new(file)));
        let encoder = match compression {
            Compression::None => Encoder::Plain(sink),
            Compression::Gzip { level, threads } => Encoder::Gzip(ParallelGzipWriter::new(
                sink,
                level,
                resolve_threads(threads),
                DEFAULT_BLOCK_SIZE,
            )),
            #[cfg(not(windows))]
            Compression::Zstd { level, threads } => {
                let mut enc = zstd::stream::write::Encoder::new(sink, level)
                    .map_err(|e| Error::io("starting zstd compression of", &path, e))?;
                let workers = u32::try_from(resolve_threads(threads)).unwrap_or(1);
                enc.multithread(workers)
                    .map_err(|e| Error::io("enabling zstd threads for", &path, e))?;
                Encoder::Zstd(enc)
            }
            #[cfg(windows)]
            Compression::Zstd { .. } => {
                return Err(Error::Unsupported(
                    "zstd layers cannot be written by this Windows build; choose gzip".into(),
                ))
            }
        };
        Ok(LayerBlobWriter {
            path,
            compression,
            uncompressed: HashingWriter::new(encoder),
        })
    }

    /// Uncompressed bytes written so far.
    pub fn uncompressed_size(&self) -> u64 {
        self.uncompressed.count()
    }

    /// Completes compression, flushes the file and returns the blob's description.
    pub fn finish(self) -> Result<LayerBlob> {
        let path = self.path;
        let (encoder, diff_id, uncompressed_size) = self.uncompressed.finish();
        let sink = match encoder {
            Encoder::Plain(s) => s,
            Encoder::Gzip(g) => g.finish().map_err(|e| Error::io("compressing", &path, e))?,
            #[cfg(not(windows))]
            Encoder::Zstd(z) => z.finish().map_err(|e| Error::io("compressing", &path, e))?,
        };
        let (buffered, digest, size) = sink.finish();
        let file = buffered
            .into_inner()
            .map_err(|e| Error::io("writing", &path, e.into_error()))?;
        file.get_ref()
            .sync_all()
            .map_err(|e| Error::io("syncing", &path, e))?;
        Ok(LayerBlob {
            path,
            digest,
            diff_id,
            size,
            uncompressed_size,
            media_type: self.compression.media_type().to_string(),
        })
    }
}

impl Write for Encoder {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Encoder::Plain(w) => w.write(buf),
            Encoder::Gzip(w) => w.write(buf),
            #[cfg(not(windows))]
            Encoder::Zstd(w) => w.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Encoder::Plain(w) => w.flush(),
            Encoder::Gzip(w) => w.flush(),
            #[cfg(not(windows))]
            Encoder::Zstd(w) => w.flush(),
        }
    }
}

impl Write for LayerBlobWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.uncompressed.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.uncompressed.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compress::decompress;
    use std::io::Read;

    fn payload() -> Vec<u8> {
        (0..2_000_000u32)
            .map(|i| (i % 251) as u8 ^ (i / 4096) as u8)
            .collect()
    }

    fn round_trip(compression: Compression) -> LayerBlob {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("blob");
        let data = payload();
        let mut w = LayerBlobWriter::create(&path, compression).unwrap();
        for c in data.chunks(10_000) {
            w.write_all(c).unwrap();
        }
        let blob = w.finish().unwrap();
        let stored = std::fs::read(&path).unwrap();
        assert_eq!(blob.size, stored.len() as u64);
        assert_eq!(blob.digest, Digest::of_bytes(&stored));
        assert_eq!(blob.diff_id, Digest::of_bytes(&data));
        assert_eq!(blob.uncompressed_size, data.len() as u64);
        let mut back = Vec::new();
        decompress(io::Cursor::new(stored), u64::MAX, "blob")
            .unwrap()
            .read_to_end(&mut back)
            .unwrap();
        assert_eq!(back, data);
        blob
    }

    #[test]
    fn plain_blob_digest_equals_diff_id() {
        let b = round_trip(Compression::None);
        assert_eq!(b.digest, b.diff_id);
        assert_eq!(b.media_type, crate::compress::MEDIA_TYPE_TAR);
    }

    #[test]
    fn gzip_blob_digests_differ_and_round_trip() {
        let b = round_trip(Compression::Gzip {
            level: 6,
            threads: 2,
        });
        assert_ne!(b.digest, b.diff_id);
        assert!(b.size < b.uncompressed_size);
        assert_eq!(b.media_type, crate::compress::MEDIA_TYPE_TAR_GZIP);
    }

    #[cfg(not(windows))]
    #[test]
    fn zstd_blob_is_deterministic_across_thread_counts() {
        let a = round_trip(Compression::Zstd {
            level: 3,
            threads: 1,
        });
        let b = round_trip(Compression::Zstd {
            level: 3,
            threads: 2,
        });
        assert_eq!(a.digest, b.digest);
        assert_eq!(a.media_type, crate::compress::MEDIA_TYPE_TAR_ZSTD);
    }
}
