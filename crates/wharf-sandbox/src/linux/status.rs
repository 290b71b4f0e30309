//! The status pipe protocol between the sandbox children and the caller: fixed-size
//! records, so a child can write one with a single write(2) and no allocation.

/// A preparation op failed (`index` = op, `errno`).
pub(crate) const TAG_SETUP: u32 = 1;
/// The root overlay mount failed (`index` = op, `errno`); may trigger the copy fallback.
pub(crate) const TAG_OVERLAY: u32 = 2;
/// execve failed in PID 2 (`errno`).
pub(crate) const TAG_EXEC: u32 = 3;
/// PID 2 ended (`value` = raw wait status).
pub(crate) const TAG_EXIT: u32 = 4;
/// PID 1 could not clone PID 2 (`errno`).
pub(crate) const TAG_CLONE: u32 = 5;

/// Size of one encoded record.
pub(crate) const RECORD_LEN: usize = 16;

/// One message from a child.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Record {
    pub tag: u32,
    pub index: u32,
    pub errno: i32,
    pub value: i32,
}

impl Record {
    pub fn encode(self) -> [u8; RECORD_LEN] {
        let mut out = [0u8; RECORD_LEN];
        out[0..4].copy_from_slice(&self.tag.to_ne_bytes());
        out[4..8].copy_from_slice(&self.index.to_ne_bytes());
        out[8..12].copy_from_slice(&self.errno.to_ne_bytes());
        out[12..16].copy_from_slice(&self.value.to_ne_bytes());
        out
    }

    /// Decodes every whole record in `bytes`; a trailing partial record is ignored.
    pub fn decode_all(bytes: &[u8]) -> Vec<Record> {
        bytes
            .chunks_exact(RECORD_LEN)
            .map(|c| {
                let word = |i: usize| [c[i], c[i + 1], c[i + 2], c[i + 3]];
                Record {
                    tag: u32::from_ne_bytes(word(0)),
                    index: u32::from_ne_bytes(word(4)),
                    errno: i32::from_ne_bytes(word(8)),
                    value: i32::from_ne_bytes(word(12)),
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_and_partial_tail_is_dropped() {
        let a = Record {
            tag: TAG_EXEC,
            index: 7,
            errno: 2,
            value: -1,
        };
        let b = Record {
            tag: TAG_EXIT,
            index: 0,
            errno: 0,
            value: 0x0100,
        };
        let mut bytes = a.encode().to_vec();
        bytes.extend_from_slice(&b.encode());
        bytes.extend_from_slice(&[1, 2, 3]);
        assert_eq!(Record::decode_all(&bytes), vec![a, b]);
    }
}
