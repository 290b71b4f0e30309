//! Streaming digest computation for the algorithms the store accepts.

use crate::StoreError;
use oci_spec::image::{Digest, DigestAlgorithm};
use sha2::{Digest as _, Sha256, Sha512};

/// An incremental hasher for one digest algorithm.
#[derive(Clone)]
pub enum Hasher {
    /// SHA-256, the algorithm for everything Wharf writes.
    Sha256(Sha256),
    /// SHA-512, accepted when reading.
    Sha512(Sha512),
}

impl Hasher {
    /// A SHA-256 hasher.
    pub fn sha256() -> Self {
        Hasher::Sha256(Sha256::new())
    }

    /// A hasher for the algorithm of `digest`.
    pub fn for_digest(digest: &Digest) -> Result<Self, StoreError> {
        match digest.algorithm() {
            DigestAlgorithm::Sha256 => Ok(Hasher::Sha256(Sha256::new())),
            DigestAlgorithm::Sha512 => Ok(Hasher::Sha512(Sha512::new())),
            _ => Err(StoreError::UnsupportedDigest {
                digest: digest.to_string(),
            }),
        }
    }

    /// Feeds bytes.
    pub fn update(&mut self, data: &[u8]) {
        match self {
            Hasher::Sha256(h) => h.update(data),
            Hasher::Sha512(h) => h.update(data),
        }
    }

    /// The digest of everything fed so far.
    pub fn finish(self) -> Digest {
        let (alg, hex) = match self {
            Hasher::Sha256(h) => ("sha256", hex(&h.finalize())),
            Hasher::Sha512(h) => ("sha512", hex(&h.finalize())),
        };
        // A lowercase hex string of the right length always parses.
        Digest::try_from(format!("{alg}:{hex}")).expect("well-formed digest")
    }
}

/// The SHA-256 digest of a byte slice.
pub fn sha256_of(data: &[u8]) -> Digest {
    let mut h = Hasher::sha256();
    h.update(data);
    h.finish()
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_of_empty_is_the_well_known_value() {
        assert_eq!(
            sha256_of(b"").to_string(),
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn refuses_unknown_algorithms() {
        let d = Digest::try_from("md5:abc").expect("syntactically valid");
        assert!(matches!(
            Hasher::for_digest(&d),
            Err(StoreError::UnsupportedDigest { .. })
        ));
    }
}
