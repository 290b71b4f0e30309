//! The Win32 BackupRead/BackupWrite stream format: a sequence of
//! `WIN32_STREAM_ID` headers (`dwStreamId`, `dwStreamAttributes`, `Size` as a
//! little-endian u64, `dwStreamNameSize`, then the UTF-16 name) each followed by
//! `Size` bytes of data. A `BACKUP_SPARSE_BLOCK` stream starts its data with
//! the block's u64 offset in the file.
//!
//! Layouts and stream ids are from the Win32 documentation of
//! `WIN32_STREAM_ID` and from go-winio's `backup.go`. The reader here works on
//! a file of the export folder whose length is known: it scans headers and
//! records where each stream's data lies, so data is later copied straight
//! from the file and never held in memory.

use std::io::{self, Read, Seek, SeekFrom, Write};

/// `BACKUP_DATA`: the file's unnamed data stream.
pub const BACKUP_DATA: u32 = 1;
/// `BACKUP_EA_DATA`: extended attributes (`FILE_FULL_EA_INFORMATION` list).
pub const BACKUP_EA_DATA: u32 = 2;
/// `BACKUP_SECURITY_DATA`: a self-relative security descriptor.
pub const BACKUP_SECURITY_DATA: u32 = 3;
/// `BACKUP_ALTERNATE_DATA`: a named data stream (`:name:$DATA`).
pub const BACKUP_ALTERNATE_DATA: u32 = 4;
/// `BACKUP_LINK`: hard link information.
pub const BACKUP_LINK: u32 = 5;
/// `BACKUP_PROPERTY_DATA`: property data.
pub const BACKUP_PROPERTY_DATA: u32 = 6;
/// `BACKUP_OBJECT_ID`: the NTFS object id.
pub const BACKUP_OBJECT_ID: u32 = 7;
/// `BACKUP_REPARSE_DATA`: a `REPARSE_DATA_BUFFER`.
pub const BACKUP_REPARSE_DATA: u32 = 8;
/// `BACKUP_SPARSE_BLOCK`: one allocated range of a sparse file.
pub const BACKUP_SPARSE_BLOCK: u32 = 9;
/// `BACKUP_TXFS_DATA`: transactional NTFS data.
pub const BACKUP_TXFS_DATA: u32 = 10;

/// `STREAM_SPARSE_ATTRIBUTE`: the data stream is followed by sparse blocks.
pub const STREAM_SPARSE_ATTRIBUTE: u32 = 8;

/// Size of a `WIN32_STREAM_ID` without its name.
pub const HEADER_LEN: u64 = 20;

/// Longest stream name accepted, in bytes of UTF-16 (NTFS names are at most
/// 255 UTF-16 units; `:` + name + `:$DATA` stays far below this).
const MAX_NAME_BYTES: u32 = 1024;

/// One stream found in a backup stream sequence.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StreamInfo {
    /// `dwStreamId`.
    pub id: u32,
    /// `dwStreamAttributes`.
    pub attributes: u32,
    /// The stream name (alternate data streams only), e.g. `:Zone.Identifier:$DATA`.
    pub name: String,
    /// For `BACKUP_SPARSE_BLOCK`, the offset of the block in the file.
    pub sparse_offset: u64,
    /// Where the stream's data starts in the scanned file.
    pub data_pos: u64,
    /// Length of the data (for sparse blocks, without the 8-byte offset).
    pub data_len: u64,
}

/// Why a backup stream sequence cannot be read. Turned into a typed crate
/// error naming the file by the caller.
#[derive(Debug)]
pub enum ScanError {
    /// Reading the file failed.
    Io(io::Error),
    /// The bytes do not form a valid stream sequence.
    Malformed(String),
}

impl From<io::Error> for ScanError {
    fn from(e: io::Error) -> Self {
        ScanError::Io(e)
    }
}

/// Scans the stream headers of `file` from its current position up to `end`
/// (the file length), checking every size against the bytes that remain.
pub fn scan_streams<R: Read + Seek>(file: &mut R, end: u64) -> Result<Vec<StreamInfo>, ScanError> {
    let mut out = Vec::new();
    let mut pos = file.stream_position()?;
    while pos < end {
        if end - pos < HEADER_LEN {
            return Err(ScanError::Malformed(format!(
                "truncated stream header at byte {pos}: {} bytes left, a header needs {HEADER_LEN}",
                end - pos
            )));
        }
        let mut h = [0u8; HEADER_LEN as usize];
        file.read_exact(&mut h)?;
        let id = u32::from_le_bytes([h[0], h[1], h[2], h[3]]);
        let attributes = u32::from_le_bytes([h[4], h[5], h[6], h[7]]);
        let mut size_bytes = [0u8; 8];
        size_bytes.copy_from_slice(&h[8..16]);
        let size = u64::from_le_bytes(size_bytes);
        let name_size = u32::from_le_bytes([h[16], h[17], h[18], h[19]]);
        pos += HEADER_LEN;
        if !(BACKUP_DATA..=BACKUP_TXFS_DATA).contains(&id) {
            return Err(ScanError::Malformed(format!(
                "unknown stream id {id} at byte {}",
                pos - HEADER_LEN
            )));
        }
        if name_size % 2 != 0 || name_size > MAX_NAME_BYTES || u64::from(name_size) > end - pos {
            return Err(ScanError::Malformed(format!(
                "stream name size {name_size} at byte {} is odd, too long or past the end of the file",
                pos - HEADER_LEN
            )));
        }
        let mut name_raw = vec![0u8; name_size as usize];
        file.read_exact(&mut name_raw)?;
        pos += u64::from(name_size);
        let units: Vec<u16> = name_raw
            .chunks_exact(2)
            .map(|c| u16::from_le_bytes([c[0], c[1]]))
            .collect();
        let name = String::from_utf16(&units).map_err(|_| {
            ScanError::Malformed(format!("stream name at byte {pos} is not valid UTF-16"))
        })?;
        if size > end - pos {
            return Err(ScanError::Malformed(format!(
                "stream {id} at byte {} claims {size} bytes but only {} remain in the file",
                pos - HEADER_LEN - u64::from(name_size),
                end - pos
            )));
        }
        let mut sparse_offset = 0;
        let mut data_pos = pos;
        let mut data_len = size;
        if id == BACKUP_SPARSE_BLOCK {
            if size < 8 {
                return Err(ScanError::Malformed(format!(
                    "sparse block at byte {pos} is {size} bytes, shorter than its 8-byte offset"
                )));
            }
            let mut off = [0u8; 8];
            file.read_exact(&mut off)?;
            sparse_offset = u64::from_le_bytes(off);
            data_pos += 8;
            data_len -= 8;
        }
        pos += size;
        file.seek(SeekFrom::Start(pos))?;
        out.push(StreamInfo {
            id,
            attributes,
            name,
            sparse_offset,
            data_pos,
            data_len,
        });
    }
    Ok(out)
}

/// Writes one `WIN32_STREAM_ID` header; its `size` bytes of data must follow.
/// For `BACKUP_SPARSE_BLOCK` pass the block length: the 8-byte offset is
/// written here and counted in the header's size.
pub fn write_header<W: Write>(
    out: &mut W,
    id: u32,
    attributes: u32,
    size: u64,
    name: &str,
    sparse_offset: Option<u64>,
) -> io::Result<()> {
    let units: Vec<u16> = name.encode_utf16().collect();
    let name_bytes = u32::try_from(units.len() * 2)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "stream name too long"))?;
    let stored = size + if sparse_offset.is_some() { 8 } else { 0 };
    out.write_all(&id.to_le_bytes())?;
    out.write_all(&attributes.to_le_bytes())?;
    out.write_all(&stored.to_le_bytes())?;
    out.write_all(&name_bytes.to_le_bytes())?;
    for u in units {
        out.write_all(&u.to_le_bytes())?;
    }
    if let Some(off) = sparse_offset {
        out.write_all(&off.to_le_bytes())?;
    }
    Ok(())
}

/// Writes a whole small stream (security descriptor, EAs, reparse data).
pub fn write_stream<W: Write>(out: &mut W, id: u32, data: &[u8]) -> io::Result<()> {
    write_header(out, id, 0, data.len() as u64, "", None)?;
    out.write_all(data)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    fn scan(bytes: &[u8]) -> Result<Vec<StreamInfo>, ScanError> {
        let mut c = Cursor::new(bytes);
        scan_streams(&mut c, bytes.len() as u64)
    }

    #[test]
    fn written_headers_scan_back() {
        let mut b = Vec::new();
        write_stream(&mut b, BACKUP_SECURITY_DATA, b"sd").unwrap();
        write_header(&mut b, BACKUP_DATA, 0, 3, "", None).unwrap();
        b.extend_from_slice(b"abc");
        write_header(&mut b, BACKUP_ALTERNATE_DATA, 0, 1, ":s:$DATA", None).unwrap();
        b.push(b'x');
        write_header(&mut b, BACKUP_SPARSE_BLOCK, 0, 2, "", Some(4096)).unwrap();
        b.extend_from_slice(b"yz");
        let s = scan(&b).unwrap();
        assert_eq!(s.len(), 4);
        assert_eq!((s[0].id, s[0].data_pos, s[0].data_len), (3, 20, 2));
        assert_eq!((s[1].id, s[1].data_pos, s[1].data_len), (1, 42, 3));
        assert_eq!(s[2].name, ":s:$DATA");
        assert_eq!(&b[s[2].data_pos as usize..][..1], b"x");
        assert_eq!((s[3].sparse_offset, s[3].data_len), (4096, 2));
        assert_eq!(&b[s[3].data_pos as usize..][..2], b"yz");
    }

    #[test]
    fn malformed_sequences_are_refused() {
        let mut b = Vec::new();
        write_header(&mut b, BACKUP_DATA, 0, 100, "", None).unwrap();
        b.extend_from_slice(b"short");
        assert!(matches!(scan(&b), Err(ScanError::Malformed(m)) if m.contains("remain")));
        assert!(matches!(scan(&b[..10]), Err(ScanError::Malformed(m)) if m.contains("truncated")));
        let mut u = Vec::new();
        write_stream(&mut u, 77, b"").unwrap();
        assert!(matches!(scan(&u), Err(ScanError::Malformed(m)) if m.contains("unknown")));
        let mut odd = Vec::new();
        write_header(&mut odd, BACKUP_ALTERNATE_DATA, 0, 0, "", None).unwrap();
        odd[16] = 3;
        odd.extend_from_slice(&[0, 0, 0]);
        assert!(matches!(scan(&odd), Err(ScanError::Malformed(m)) if m.contains("odd")));
        let mut sp = Vec::new();
        write_header(&mut sp, BACKUP_SPARSE_BLOCK, 0, 0, "", None).unwrap();
        assert!(matches!(scan(&sp), Err(ScanError::Malformed(m)) if m.contains("sparse")));
    }
}
