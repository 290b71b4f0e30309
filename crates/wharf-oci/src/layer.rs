//! A layer of an image as the image refers to it: the manifest's
//! descriptor of the (possibly compressed) blob and the configuration's
//! diff_id of the uncompressed tar, and the OCI chain ids of a stack.

use crate::{Descriptor, Digest, Hasher};
use serde::{Deserialize, Serialize};

/// One layer: its blob descriptor and its diff_id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LayerRef {
    /// The blob as the manifest lists it (media type, digest, size, urls).
    pub descriptor: Descriptor,
    /// Digest of the uncompressed tar (`rootfs.diff_ids`).
    pub diff_id: Digest,
}

/// The chain ids of a layer stack, base first, as the image spec defines
/// them: the first is the base's diff_id, each next one the SHA-256 of
/// `"<parent chain id> <diff_id>"`. A chain id names a layer together with
/// everything under it (an unpacked or imported layer depends on its parents).
pub fn chain_ids<'a>(diff_ids: impl IntoIterator<Item = &'a Digest>) -> Vec<Digest> {
    let mut out: Vec<Digest> = Vec::new();
    for diff_id in diff_ids {
        let id = match out.last() {
            None => diff_id.clone(),
            Some(parent) => {
                let mut h = Hasher::sha256();
                h.update(parent.as_str().as_bytes());
                h.update(b" ");
                h.update(diff_id.as_str().as_bytes());
                h.finish()
            }
        };
        out.push(id);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chain_ids_follow_the_image_spec() {
        let a = Digest::of_bytes(b"a");
        let b = Digest::of_bytes(b"b");
        let ids = chain_ids([&a, &b]);
        assert_eq!(ids[0], a);
        assert_eq!(
            ids[1],
            Digest::of_bytes(format!("{a} {b}").as_bytes()),
            "ChainID(L0|L1) = Digest(ChainID(L0) + \" \" + DiffID(L1))"
        );
        assert!(chain_ids([]).is_empty());
    }
}
