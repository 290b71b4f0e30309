//! `REPARSE_DATA_BUFFER` of symbolic links (`IO_REPARSE_TAG_SYMLINK`) and
//! junctions (`IO_REPARSE_TAG_MOUNT_POINT`), as a `BACKUP_REPARSE_DATA` stream
//! carries it.
//!
//! Layout (Win32 documentation of `REPARSE_DATA_BUFFER`, and go-winio's
//! `reparse.go`): tag u32, data length u16, reserved u16, then substitute-name
//! offset/length and print-name offset/length (u16 each, in bytes, relative to
//! the path buffer), then for symlinks a u32 of flags (1 = relative), then the
//! UTF-16 path buffer. The layer tar keeps the print name (what the user
//! wrote: `..\lib\x`, `C:\data`), as go-winio's `backuptar` does.

/// `IO_REPARSE_TAG_MOUNT_POINT` (junction).
pub const TAG_MOUNT_POINT: u32 = 0xA000_0003;
/// `IO_REPARSE_TAG_SYMLINK`.
pub const TAG_SYMLINK: u32 = 0xA000_000C;
/// `SYMLINK_FLAG_RELATIVE`.
const SYMLINK_FLAG_RELATIVE: u32 = 1;
/// `MAXIMUM_REPARSE_DATA_BUFFER_SIZE`: larger reparse streams are refused.
pub const MAX_REPARSE_LEN: u64 = 16 * 1024;

/// A decoded symlink or junction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReparsePoint {
    /// The Windows target path (`..\x`, `C:\x`, `\\server\share`).
    pub target: String,
    /// A junction rather than a symbolic link.
    pub mount_point: bool,
}

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes([*b.get(at)?, *b.get(at + 1)?]))
}

fn utf16_at(buf: &[u8], offset: u16, len: u16) -> Result<String, String> {
    let (start, len) = (usize::from(offset), usize::from(len));
    if len % 2 != 0 {
        return Err(format!("odd UTF-16 name length {len}"));
    }
    let bytes = buf
        .get(start..start + len)
        .ok_or_else(|| format!("name at {start}+{len} lies outside the reparse buffer"))?;
    let units: Vec<u16> = bytes
        .chunks_exact(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]))
        .collect();
    String::from_utf16(&units).map_err(|_| "name is not valid UTF-16".to_string())
}

/// Turns an NT substitute name (`\??\C:\x`, `\??\UNC\srv\s`) into a Win32 path.
fn win32_from_nt(name: &str) -> String {
    match name.strip_prefix(r"\??\") {
        Some(rest) => match rest.strip_prefix(r"UNC\") {
            Some(unc) => format!(r"\\{unc}"),
            None => rest.to_string(),
        },
        None => name.to_string(),
    }
}

/// Decodes a reparse buffer; other reparse tags are refused with their value.
pub fn decode(buf: &[u8]) -> Result<ReparsePoint, String> {
    if buf.len() < 16 {
        return Err(format!(
            "reparse buffer of {} bytes is shorter than its header",
            buf.len()
        ));
    }
    let tag = u32::from_le_bytes([buf[0], buf[1], buf[2], buf[3]]);
    let mount_point = match tag {
        TAG_MOUNT_POINT => true,
        TAG_SYMLINK => false,
        other => {
            return Err(format!(
                "reparse tag {other:#010x} is neither a symbolic link nor a junction; \
                 such reparse points cannot be stored in a layer"
            ))
        }
    };
    let field = |at| u16_at(buf, at).ok_or_else(|| "reparse header truncated".to_string());
    let (sub_off, sub_len) = (field(8)?, field(10)?);
    let (print_off, print_len) = (field(12)?, field(14)?);
    let path_start = if mount_point { 16 } else { 20 };
    let paths = buf
        .get(path_start..)
        .ok_or_else(|| "reparse buffer ends before its path buffer".to_string())?;
    let print = utf16_at(paths, print_off, print_len)?;
    // Some tools write junctions with an empty print name: fall back to the
    // substitute name, translated from NT to Win32 form.
    let target = if print.is_empty() {
        win32_from_nt(&utf16_at(paths, sub_off, sub_len)?)
    } else {
        print
    };
    if target.is_empty() || target.contains('\0') {
        return Err("link target is empty or contains NUL".into());
    }
    Ok(ReparsePoint {
        target,
        mount_point,
    })
}

/// True for the targets docs/windows-layer-format.md calls absolute: drive-rooted,
/// `\\?\`, `\\`.
pub fn is_absolute_target(target: &str) -> bool {
    let b = target.as_bytes();
    target.starts_with(r"\\") || (b.len() >= 2 && b[0].is_ascii_alphabetic() && b[1] == b':')
}

/// Encodes a symlink or junction to `target` (a Windows path with backslashes).
pub fn encode(point: &ReparsePoint) -> Result<Vec<u8>, String> {
    let target = &point.target;
    let relative = !is_absolute_target(target);
    let nt = if let Some(rest) = target.strip_prefix(r"\\?\") {
        format!(r"\??\{rest}")
    } else if let Some(rest) = target.strip_prefix(r"\\") {
        format!(r"\??\UNC\{rest}")
    } else if relative {
        target.clone()
    } else {
        format!(r"\??\{target}")
    };
    // Both names are stored NUL-terminated, the lengths exclude the NUL.
    let sub: Vec<u16> = nt.encode_utf16().chain([0]).collect();
    let print: Vec<u16> = target.encode_utf16().chain([0]).collect();
    let too_long = || format!("link target of {} characters is too long", target.len());
    let sub_bytes = u16::try_from(sub.len() * 2).map_err(|_| too_long())?;
    let print_bytes = u16::try_from(print.len() * 2).map_err(|_| too_long())?;
    let flags_len = if point.mount_point { 0 } else { 4 };
    let data_len = 8 + flags_len + usize::from(sub_bytes) + usize::from(print_bytes);
    let data_len_u16 = u16::try_from(data_len).map_err(|_| too_long())?;
    let tag = if point.mount_point {
        TAG_MOUNT_POINT
    } else {
        TAG_SYMLINK
    };
    let mut out = Vec::with_capacity(8 + data_len);
    out.extend_from_slice(&tag.to_le_bytes());
    out.extend_from_slice(&data_len_u16.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    for v in [0, sub_bytes - 2, sub_bytes, print_bytes - 2] {
        out.extend_from_slice(&v.to_le_bytes());
    }
    if !point.mount_point {
        let flags = if relative { SYMLINK_FLAG_RELATIVE } else { 0 };
        out.extend_from_slice(&flags.to_le_bytes());
    }
    for u in sub.into_iter().chain(print) {
        out.extend_from_slice(&u.to_le_bytes());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn symlinks_and_junctions_round_trip() {
        for (target, mp) in [
            (r"..\lib\x.dll", false),
            (r"C:\data", false),
            (r"\\server\share\f", false),
            (r"\\?\C:\long", false),
            (r"C:\Program Files\Ünï", true),
        ] {
            let p = ReparsePoint {
                target: target.into(),
                mount_point: mp,
            };
            let b = encode(&p).unwrap();
            assert_eq!(decode(&b).unwrap(), p, "{target}");
        }
    }

    #[test]
    fn encoding_matches_the_documented_layout() {
        let b = encode(&ReparsePoint {
            target: r"C:\d".into(),
            mount_point: false,
        })
        .unwrap();
        assert_eq!(&b[0..4], &TAG_SYMLINK.to_le_bytes());
        assert_eq!(usize::from(u16::from_le_bytes([b[4], b[5]])), b.len() - 8);
        // Absolute: flags 0, substitute name `\??\C:\d` first in the buffer.
        assert_eq!(&b[16..20], &[0, 0, 0, 0]);
        let sub: Vec<u16> = r"\??\C:\d".encode_utf16().collect();
        let first: Vec<u16> = b[20..20 + sub.len() * 2]
            .chunks(2)
            .map(|c| u16::from_le_bytes([c[0], c[1]]))
            .collect();
        assert_eq!(first, sub);
        let rel = encode(&ReparsePoint {
            target: r"a\b".into(),
            mount_point: false,
        })
        .unwrap();
        assert_eq!(&rel[16..20], &[1, 0, 0, 0]);
    }

    #[test]
    fn empty_print_name_falls_back_to_substitute_name() {
        let sub: Vec<u8> = r"\??\C:\t"
            .encode_utf16()
            .flat_map(u16::to_le_bytes)
            .collect();
        let mut b = TAG_MOUNT_POINT.to_le_bytes().to_vec();
        b.extend_from_slice(&((8 + sub.len()) as u16).to_le_bytes());
        b.extend_from_slice(&[0, 0]);
        for v in [0u16, sub.len() as u16, sub.len() as u16, 0] {
            b.extend_from_slice(&v.to_le_bytes());
        }
        b.extend_from_slice(&sub);
        let p = decode(&b).unwrap();
        assert_eq!(p.target, r"C:\t");
        assert!(p.mount_point);
    }

    #[test]
    fn hostile_buffers_are_refused() {
        assert!(decode(&[0; 4]).is_err());
        let mut other = 0x8000_0018u32.to_le_bytes().to_vec();
        other.extend_from_slice(&[0; 16]);
        assert!(decode(&other).unwrap_err().contains("0x80000018"));
        let mut b = encode(&ReparsePoint {
            target: "x".into(),
            mount_point: false,
        })
        .unwrap();
        b[14] = 200; // print name length past the buffer
        assert!(decode(&b).is_err());
        assert!(is_absolute_target(r"c:\x") && !is_absolute_target(r"\x"));
    }
}
