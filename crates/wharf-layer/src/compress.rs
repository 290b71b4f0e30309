//! Layer compression: the codecs Wharf writes (none, gzip, zstd), their OCI media
//! types, and a decompressing reader that recognises the format from magic bytes
//! (a registry's media type is only a hint) and enforces a size cap against
//! decompression bombs.
//!
//! zstd is built on non-Windows targets only: `zstd-sys` compiles C in its build
//! script and the Windows type-check of this workspace has no MSVC. On Windows,
//! choosing or reading zstd returns [`Error::Unsupported`].

use crate::error::{Error, Result};
use std::io::{self, BufRead, BufReader, Read};

/// How a layer blob is compressed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Compression {
    /// A plain tar.
    None,
    /// gzip, written by the parallel block compressor (see [`crate::pgzip`]).
    Gzip {
        /// deflate level 0–9 (6 is `gzip`'s default, 1 is fastest).
        level: u32,
        /// Worker threads; `0` means one per available core. The output does
        /// not depend on this number.
        threads: usize,
    },
    /// zstd (not available when built for Windows, see the module docs).
    Zstd {
        /// zstd level 1–19 (3 is zstd's default).
        level: i32,
        /// Worker threads; `0` means one per available core. Any value ≥ 1
        /// gives the same output.
        threads: usize,
    },
}

impl Default for Compression {
    fn default() -> Self {
        Compression::Gzip {
            level: 6,
            threads: 0,
        }
    }
}

pub use wharf_oci::media_types::{MEDIA_TYPE_TAR, MEDIA_TYPE_TAR_GZIP, MEDIA_TYPE_TAR_ZSTD};

impl Compression {
    /// The OCI media type of layers written with this compression.
    pub fn media_type(&self) -> &'static str {
        match self {
            Compression::None => MEDIA_TYPE_TAR,
            Compression::Gzip { .. } => MEDIA_TYPE_TAR_GZIP,
            Compression::Zstd { .. } => MEDIA_TYPE_TAR_ZSTD,
        }
    }

    /// The format family, without settings.
    pub fn format(&self) -> Format {
        match self {
            Compression::None => Format::Tar,
            Compression::Gzip { .. } => Format::Gzip,
            Compression::Zstd { .. } => Format::Zstd,
        }
    }
}

/// A compression format as recognised from the first bytes of a blob.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// No compression.
    Tar,
    /// gzip (`1f 8b`).
    Gzip,
    /// zstd (`28 b5 2f fd`).
    Zstd,
    /// bzip2 (`BZh`), read only (archives for `ADD`, old layers).
    Bzip2,
    /// xz (`fd 37 7a 58 5a 00`), read only.
    Xz,
}

impl Format {
    /// Recognises a format from the first bytes of a blob or archive, the
    /// magic numbers Docker checks. Anything else is treated as a plain
    /// tar; the tar reader then rejects it if it is not one.
    pub fn detect(head: &[u8]) -> Format {
        if head.starts_with(&[0x1f, 0x8b]) {
            Format::Gzip
        } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
            Format::Zstd
        } else if head.starts_with(b"BZh") {
            Format::Bzip2
        } else if head.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0x00]) {
            Format::Xz
        } else {
            Format::Tar
        }
    }
}

/// A reader of the decompressed stream of `input`, compressed as `format`.
pub fn decoder(
    format: Format,
    input: impl BufRead + Send + 'static,
) -> io::Result<Box<dyn Read + Send>> {
    Ok(match format {
        Format::Tar => Box::new(input),
        Format::Gzip => Box::new(flate2::bufread::MultiGzDecoder::new(input)),
        Format::Bzip2 => Box::new(bzip2::bufread::MultiBzDecoder::new(input)),
        Format::Xz => Box::new(lzma_rust2::XzReader::new(input, true)),
        Format::Zstd => zstd_decoder(input)?,
    })
}

#[cfg(not(windows))]
fn zstd_decoder(input: impl BufRead + Send + 'static) -> io::Result<Box<dyn Read + Send>> {
    Ok(Box::new(zstd::stream::read::Decoder::with_buffer(input)?))
}

/// zstd is not built for Windows targets (its C code needs MSVC).
#[cfg(windows)]
fn zstd_decoder(_input: impl BufRead + Send + 'static) -> io::Result<Box<dyn Read + Send>> {
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        "zstd-compressed data cannot be read by this Windows build (it has no zstd codec); use gzip",
    ))
}

pub(crate) fn resolve_threads(threads: usize) -> usize {
    if threads == 0 {
        std::thread::available_parallelism().map_or(1, usize::from)
    } else {
        threads
    }
}

/// A reader that fails once more than `cap` bytes have come through.
pub struct CappedReader<R> {
    inner: R,
    remaining: u64,
    cap: u64,
    layer: String,
}

impl<R: Read> CappedReader<R> {
    /// Wraps `inner`; `layer` names the layer in the error.
    pub fn new(inner: R, cap: u64, layer: impl Into<String>) -> Self {
        CappedReader {
            inner,
            remaining: cap,
            cap,
            layer: layer.into(),
        }
    }

    /// Bytes still allowed.
    pub fn remaining(&self) -> u64 {
        self.remaining
    }
}

impl<R: Read> Read for CappedReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.remaining == 0 {
            // Allow a clean end of stream exactly at the cap; anything more is a bomb.
            let mut probe = [0u8; 1];
            return match self.inner.read(&mut probe)? {
                0 => Ok(0),
                _ => Err(io::Error::other(Error::TooLarge {
                    layer: self.layer.clone(),
                    cap: self.cap,
                })),
            };
        }
        let max = buf
            .len()
            .min(usize::try_from(self.remaining).unwrap_or(usize::MAX));
        let n = self.inner.read(&mut buf[..max])?;
        self.remaining -= n as u64;
        Ok(n)
    }
}

/// Opens a (possibly compressed) layer stream for reading as a tar, detecting
/// the format from its magic bytes, and caps the decompressed size at `cap`.
/// `layer` names the layer in errors.
pub fn decompress(
    input: impl Read + Send + 'static,
    cap: u64,
    layer: &str,
) -> Result<CappedReader<Box<dyn Read + Send>>> {
    let mut buffered = BufReader::with_capacity(256 * 1024, input);
    let head = buffered
        .fill_buf()
        .map_err(|e| Error::io("reading", layer, e))?;
    let format = Format::detect(head);
    let reader = decoder(format, buffered).map_err(|e| match e.kind() {
        io::ErrorKind::Unsupported => Error::Unsupported(format!("layer {layer}: {e}")),
        _ => Error::io("starting decompression of", layer, e),
    })?;
    Ok(CappedReader::new(reader, cap, layer))
}

/// Turns an I/O error that carries one of this crate's errors (from
/// [`CappedReader`]) back into it; otherwise wraps it with the action and path.
pub fn unwrap_io(e: io::Error, action: &'static str, path: &str) -> Error {
    if !e.get_ref().is_some_and(|inner| inner.is::<Error>()) {
        return Error::io(action, path, e);
    }
    let kind = e.kind();
    match e.into_inner().map(|inner| inner.downcast::<Error>()) {
        Some(Ok(ours)) => *ours,
        Some(Err(other)) => Error::io(action, path, io::Error::new(kind, other)),
        None => Error::io(action, path, io::Error::from(kind)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn detects_formats_from_magic() {
        assert_eq!(Format::detect(&[0x1f, 0x8b, 8]), Format::Gzip);
        assert_eq!(Format::detect(&[0x28, 0xb5, 0x2f, 0xfd, 0]), Format::Zstd);
        assert_eq!(Format::detect(b"etc/\0\0\0"), Format::Tar);
        assert_eq!(Format::detect(b""), Format::Tar);
    }

    #[test]
    fn decompresses_gzip_regardless_of_claimed_type() {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        enc.write_all(b"hello layer").unwrap();
        let gz = enc.finish().unwrap();
        let mut out = String::new();
        decompress(io::Cursor::new(gz), 1 << 20, "test")
            .unwrap()
            .read_to_string(&mut out)
            .unwrap();
        assert_eq!(out, "hello layer");
    }

    #[cfg(not(windows))]
    #[test]
    fn decompresses_zstd() {
        let z = zstd::encode_all(&b"zstd layer"[..], 3).unwrap();
        let mut out = String::new();
        decompress(io::Cursor::new(z), 1 << 20, "test")
            .unwrap()
            .read_to_string(&mut out)
            .unwrap();
        assert_eq!(out, "zstd layer");
    }

    #[test]
    fn cap_stops_a_bomb() {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        enc.write_all(&vec![0u8; 10_000_000]).unwrap();
        let gz = enc.finish().unwrap();
        assert!(gz.len() < 100_000);
        let mut r = decompress(io::Cursor::new(gz), 1_000_000, "bomb.tar.gz").unwrap();
        let err = io::copy(&mut r, &mut io::sink()).unwrap_err();
        let err = unwrap_io(err, "reading", "bomb.tar.gz");
        assert!(
            matches!(err, Error::TooLarge { cap: 1_000_000, .. }),
            "{err}"
        );
    }

    #[test]
    fn cap_allows_exact_size() {
        let mut r = decompress(io::Cursor::new(vec![7u8; 1000]), 1000, "exact").unwrap();
        assert_eq!(io::copy(&mut r, &mut io::sink()).unwrap(), 1000);
    }
}
