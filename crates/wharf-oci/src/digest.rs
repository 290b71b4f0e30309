//! Content digests: the one `Digest` type of the workspace, validated when
//! it is made, and the hashers that make digests while data streams past.
//!
//! Written here rather than taken from `oci-spec` so that a digest is
//! checked once (algorithm known, hex of the right length, lowercase) and
//! every other crate can rely on `hex()` being a safe file name.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest as _, Sha256, Sha384, Sha512};
use std::fmt;
use std::io::{self, Write};
use std::str::FromStr;

/// The digest algorithms Wharf reads; everything it writes is SHA-256.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DigestAlgorithm {
    /// SHA-256.
    Sha256,
    /// SHA-384 (accepted in `ADD --checksum`).
    Sha384,
    /// SHA-512.
    Sha512,
}

impl DigestAlgorithm {
    /// The algorithm's name in a digest string (`sha256`).
    pub fn name(self) -> &'static str {
        match self {
            DigestAlgorithm::Sha256 => "sha256",
            DigestAlgorithm::Sha384 => "sha384",
            DigestAlgorithm::Sha512 => "sha512",
        }
    }

    /// Hex digits of a digest of this algorithm.
    pub fn hex_len(self) -> usize {
        match self {
            DigestAlgorithm::Sha256 => 64,
            DigestAlgorithm::Sha384 => 96,
            DigestAlgorithm::Sha512 => 128,
        }
    }

    /// The algorithm named `name`, if Wharf knows it.
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "sha256" => Some(DigestAlgorithm::Sha256),
            "sha384" => Some(DigestAlgorithm::Sha384),
            "sha512" => Some(DigestAlgorithm::Sha512),
            _ => None,
        }
    }
}

/// An OCI content digest (`sha256:<64 lowercase hex>` or
/// `sha512:<128 lowercase hex>`).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Digest {
    // The full text, kept so `as_str` needs no allocation.
    text: String,
    algorithm: DigestAlgorithm,
}

/// Why a string is not a digest.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid digest {input:?}: {reason}; expected sha256:<64 lowercase hex digits>")]
pub struct DigestError {
    /// The string as given.
    pub input: String,
    /// What was wrong with it.
    pub reason: &'static str,
}

impl Digest {
    /// Parses `algorithm:hex`.
    pub fn parse(input: &str) -> Result<Self, DigestError> {
        let err = |reason| DigestError {
            input: input.to_string(),
            reason,
        };
        let (alg, hex) = input.split_once(':').ok_or_else(|| err("no ':'"))?;
        let algorithm = DigestAlgorithm::from_name(alg).ok_or_else(|| err("unknown algorithm"))?;
        Self::check_hex(algorithm, hex).map_err(err)?;
        Ok(Digest {
            text: input.to_string(),
            algorithm,
        })
    }

    /// Makes a digest from an algorithm and its hex text (a blob's file
    /// name in an OCI layout, say).
    pub fn from_hex(algorithm: DigestAlgorithm, hex: &str) -> Result<Self, DigestError> {
        let text = format!("{}:{hex}", algorithm.name());
        Self::check_hex(algorithm, hex).map_err(|reason| DigestError {
            input: text.clone(),
            reason,
        })?;
        Ok(Digest { text, algorithm })
    }

    /// A SHA-256 digest from its hex text.
    pub fn sha256_hex(hex: &str) -> Result<Self, DigestError> {
        Self::from_hex(DigestAlgorithm::Sha256, hex)
    }

    fn check_hex(algorithm: DigestAlgorithm, hex: &str) -> Result<(), &'static str> {
        if hex.len() != algorithm.hex_len() {
            return Err("wrong length");
        }
        if !hex
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        {
            return Err("not lowercase hex");
        }
        Ok(())
    }

    /// The SHA-256 digest of a byte slice (documents and small files;
    /// layers are hashed while they stream, through [`Hasher`]).
    pub fn of_bytes(data: &[u8]) -> Self {
        let mut h = Hasher::sha256();
        h.update(data);
        h.finish()
    }

    /// The full `algorithm:hex` text.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The hex part only: a safe file name on every OS.
    pub fn hex(&self) -> &str {
        &self.text[self.algorithm.name().len() + 1..]
    }

    /// The algorithm.
    pub fn algorithm(&self) -> DigestAlgorithm {
        self.algorithm
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Digest({})", self.text)
    }
}

impl AsRef<str> for Digest {
    fn as_ref(&self) -> &str {
        &self.text
    }
}

impl FromStr for Digest {
    type Err = DigestError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Digest::parse(s)
    }
}

impl TryFrom<&str> for Digest {
    type Error = DigestError;
    fn try_from(s: &str) -> Result<Self, Self::Error> {
        Digest::parse(s)
    }
}

impl TryFrom<String> for Digest {
    type Error = DigestError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Digest::parse(&s)
    }
}

impl Serialize for Digest {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.text)
    }
}

impl<'de> Deserialize<'de> for Digest {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Digest::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// An incremental hasher for one digest algorithm.
#[derive(Clone)]
pub enum Hasher {
    /// SHA-256, the algorithm of everything Wharf writes.
    Sha256(Sha256),
    /// SHA-384, for `ADD --checksum`.
    Sha384(Sha384),
    /// SHA-512, accepted when reading.
    Sha512(Sha512),
}

impl Hasher {
    /// A SHA-256 hasher.
    pub fn sha256() -> Self {
        Hasher::Sha256(Sha256::new())
    }

    /// A hasher for the algorithm of `digest` (to verify it).
    pub fn for_digest(digest: &Digest) -> Self {
        match digest.algorithm() {
            DigestAlgorithm::Sha256 => Hasher::Sha256(Sha256::new()),
            DigestAlgorithm::Sha384 => Hasher::Sha384(Sha384::new()),
            DigestAlgorithm::Sha512 => Hasher::Sha512(Sha512::new()),
        }
    }

    /// Feeds bytes.
    pub fn update(&mut self, data: &[u8]) {
        match self {
            Hasher::Sha256(h) => h.update(data),
            Hasher::Sha384(h) => h.update(data),
            Hasher::Sha512(h) => h.update(data),
        }
    }

    /// The digest of everything fed so far.
    pub fn finish(self) -> Digest {
        let (algorithm, bytes) = match self {
            Hasher::Sha256(h) => (DigestAlgorithm::Sha256, h.finalize().to_vec()),
            Hasher::Sha384(h) => (DigestAlgorithm::Sha384, h.finalize().to_vec()),
            Hasher::Sha512(h) => (DigestAlgorithm::Sha512, h.finalize().to_vec()),
        };
        let mut text = String::with_capacity(algorithm.name().len() + 1 + bytes.len() * 2);
        text.push_str(algorithm.name());
        text.push(':');
        for b in bytes {
            text.push(char::from(b"0123456789abcdef"[usize::from(b >> 4)]));
            text.push(char::from(b"0123456789abcdef"[usize::from(b & 15)]));
        }
        Digest { text, algorithm }
    }
}

/// A writer that hashes (SHA-256) and counts everything written through
/// it, so that a layer is digested in the same pass that writes it.
pub struct HashingWriter<W> {
    inner: W,
    hasher: Hasher,
    count: u64,
}

impl<W: Write> HashingWriter<W> {
    /// Wraps `inner`.
    pub fn new(inner: W) -> Self {
        HashingWriter {
            inner,
            hasher: Hasher::sha256(),
            count: 0,
        }
    }

    /// Bytes written so far.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// Returns the inner writer, the digest and the byte count.
    pub fn finish(self) -> (W, Digest, u64) {
        (self.inner, self.hasher.finish(), self.count)
    }
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.count += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_digest_matches_known_value() {
        assert_eq!(
            Digest::of_bytes(b"").as_str(),
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn hashing_writer_counts_and_hashes() {
        let mut w = HashingWriter::new(Vec::new());
        w.write_all(b"abc").unwrap();
        let (inner, d, n) = w.finish();
        assert_eq!(inner, b"abc");
        assert_eq!(n, 3);
        assert_eq!(d, Digest::of_bytes(b"abc"));
        assert_eq!(
            d.hex(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(d.algorithm(), DigestAlgorithm::Sha256);
    }

    #[test]
    fn parse_rejects_malformed() {
        for bad in [
            "sha256:abc",
            "md5:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        ] {
            assert!(Digest::parse(bad).is_err(), "{bad}");
        }
        let upper = format!("sha256:{}", "A".repeat(64));
        assert!(Digest::parse(&upper).is_err());
        let ok = Digest::of_bytes(b"x");
        assert_eq!(Digest::parse(ok.as_str()), Ok(ok.clone()));
        assert_eq!(Digest::sha256_hex(ok.hex()), Ok(ok));
    }

    #[test]
    fn sha512_round_trips() {
        let mut h = Hasher::sha256();
        h.update(b"x");
        let d = h.finish();
        let mut h =
            Hasher::for_digest(&Digest::parse(&format!("sha512:{}", "0".repeat(128))).unwrap());
        h.update(b"x");
        let d512 = h.finish();
        assert_eq!(d512.algorithm(), DigestAlgorithm::Sha512);
        assert_eq!(d512.hex().len(), 128);
        assert_ne!(d.hex(), d512.hex());
        assert_eq!(Digest::parse(d512.as_str()), Ok(d512));
    }

    #[test]
    fn serde_validates() {
        let d = Digest::of_bytes(b"y");
        let json = serde_json::to_string(&d).unwrap();
        assert_eq!(serde_json::from_str::<Digest>(&json).unwrap(), d);
        assert!(serde_json::from_str::<Digest>("\"sha256:zz\"").is_err());
    }
}
