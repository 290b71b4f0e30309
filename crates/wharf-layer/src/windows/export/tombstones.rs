//! `tombstones.txt` of an export folder: the entries the layer deletes from
//! the layers below. The format (hcsshim `internal/wclayer/legacy.go`,
//! `readTombstones`): a UTF-8 byte-order mark and `Version 1.0` on the first
//! line, then one `\path\relative\to\Files` per line, CRLF line ends.

use super::super::names::ntfs_name_problem;
use std::io::{self, BufRead, Read, Write};

/// The mandatory first line, byte-order mark included.
pub const HEADER: &str = "\u{feff}Version 1.0";

/// Longest line accepted: NTFS paths stay below 32 767 UTF-16 units.
const MAX_LINE: u64 = 128 * 1024;

/// Reads the tombstones as container paths relative to `C:\` with `/`
/// separators (`Windows/Temp/x.log`). Errors are messages for the caller to
/// attach to the file name.
pub fn parse<R: BufRead>(mut input: R) -> Result<Vec<String>, String> {
    let mut lines = Vec::new();
    let mut number = 0usize;
    loop {
        let mut raw = Vec::new();
        let n = input
            .by_ref()
            .take(MAX_LINE + 1)
            .read_until(b'\n', &mut raw)
            .map_err(|e| format!("reading: {e}"))?;
        if n == 0 {
            break;
        }
        number += 1;
        if raw.len() as u64 > MAX_LINE {
            return Err(format!("line {number} is longer than {MAX_LINE} bytes"));
        }
        let text = std::str::from_utf8(&raw)
            .map_err(|_| format!("line {number} is not UTF-8"))?
            .trim_end_matches('\n')
            .trim_end_matches('\r');
        if number == 1 {
            if text != HEADER {
                return Err(format!(
                    "first line is {text:?}, expected a byte-order mark and \"Version 1.0\""
                ));
            }
            continue;
        }
        if text.is_empty() {
            continue;
        }
        lines.push(to_container_path(text).map_err(|e| format!("line {number} {text:?}: {e}"))?);
    }
    if number == 0 {
        return Err("empty file, expected a byte-order mark and \"Version 1.0\"".into());
    }
    Ok(lines)
}

fn to_container_path(line: &str) -> Result<String, String> {
    let rest = line
        .strip_prefix('\\')
        .ok_or("a tombstone must start with '\\'")?;
    let mut comps = Vec::new();
    for c in rest.split('\\') {
        if c == "." || c == ".." {
            return Err("'.' and '..' are not allowed".into());
        }
        if let Some(p) = ntfs_name_problem(c) {
            return Err(format!("component {c:?}: {p}"));
        }
        comps.push(c);
    }
    Ok(comps.join("/"))
}

/// Writes the file: header, then one `\path` per deleted container path.
pub fn write<W: Write>(out: &mut W, paths: &[String]) -> io::Result<()> {
    out.write_all(HEADER.as_bytes())?;
    out.write_all(b"\r\n")?;
    for p in paths {
        out.write_all(b"\\")?;
        out.write_all(p.replace('/', "\\").as_bytes())?;
        out.write_all(b"\r\n")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let paths = vec!["a/b.txt".to_string(), "Ünï/dir".to_string()];
        let mut b = Vec::new();
        write(&mut b, &paths).unwrap();
        assert!(b.starts_with(b"\xef\xbb\xbfVersion 1.0\r\n\\a\\b.txt\r\n"));
        assert_eq!(parse(&b[..]).unwrap(), paths);
    }

    #[test]
    fn hostile_lines_are_refused() {
        for bad in [
            &b"Version 1.0\r\n"[..],
            b"",
            b"\xef\xbb\xbfVersion 2.0\r\n",
            b"\xef\xbb\xbfVersion 1.0\r\n\\a\\..\\b\r\n",
            b"\xef\xbb\xbfVersion 1.0\r\nno-slash\r\n",
            b"\xef\xbb\xbfVersion 1.0\r\n\\C:\\x\r\n",
            b"\xef\xbb\xbfVersion 1.0\r\n\\a\0b\r\n",
            b"\xef\xbb\xbfVersion 1.0\r\n\\a\\\\b\r\n",
            b"\xef\xbb\xbfVersion 1.0\r\n\\a/b\r\n",
            b"\xef\xbb\xbfVersion 1.0\r\n\\\xff\r\n",
        ] {
            assert!(parse(bad).is_err(), "{:?}", String::from_utf8_lossy(bad));
        }
        let long = format!("\u{feff}Version 1.0\r\n\\{}\r\n", "a".repeat(200_000));
        assert!(parse(long.as_bytes()).unwrap_err().contains("longer"));
    }
}
