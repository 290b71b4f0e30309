//! PAX records checked against the ustar header of the entry they describe,
//! for every tar reader of the project (layer apply, stage views, ADD of an
//! archive, the Windows export encoder).
//!
//! Two tar readers that disagree on an entry's size read two different
//! archives from the same bytes (the TARmageddon class, GHSA-3cv2-h65g-fgmm):
//! what one reader sees as file data another sees as headers. The `tar` crate
//! honours PAX `size`, `path`, `linkpath`, `uid` and `gid`, but silently
//! falls back to the ustar field when a record does not parse, and ignores
//! global (`g`) headers and PAX `mtime`. So each disagreement is decided
//! here, once:
//!
//! | disagreement | decision |
//! |---|---|
//! | PAX `size` ≠ ustar size | honoured (the `tar` crate reads PAX `size` bytes) |
//! | PAX `size`/`uid`/`gid` not a decimal number | refused |
//! | a key given twice in one header | refused |
//! | a malformed record (bad length, no `=`) | refused |
//! | PAX `path`/`linkpath` ≠ the name the reader uses (a GNU long name won) | refused |
//! | PAX `mtime` whole seconds ≠ ustar mtime | refused; fractions are dropped |
//! | a global header setting `size`, `path`, `linkpath`, `uid`, `gid` or `mtime` | refused (not applied by any reader here) |

use std::io::Read;

/// Keys whose meaning the readers depend on.
const CHECKED: [&str; 6] = ["size", "path", "linkpath", "uid", "gid", "mtime"];

/// Checks the PAX records of `entry` (a global header's own records too);
/// `Err` holds why the entry is refused, for the caller's typed error.
pub fn check_entry<R: Read>(entry: &mut tar::Entry<'_, R>) -> Result<(), String> {
    let is_global = entry.header().entry_type() == tar::EntryType::XGlobalHeader;
    let records = records(entry)?;
    if is_global {
        if let Some((key, _)) = records.iter().find(|(k, _)| CHECKED.contains(&k.as_str())) {
            return Err(format!(
                "a global PAX header sets {key:?} for every following entry; \
                 tar readers disagree on applying it, so it is refused"
            ));
        }
        return Ok(());
    }
    for (key, value) in &records {
        match key.as_str() {
            "size" => {
                let size = decimal(key, value)?;
                if size != entry.size() {
                    return Err(format!(
                        "PAX size {size} is not the {} bytes read",
                        entry.size()
                    ));
                }
            }
            "uid" | "gid" => {
                let id = decimal(key, value)?;
                let header = entry.header();
                let used = if key == "uid" {
                    header.uid()
                } else {
                    header.gid()
                };
                if used.ok() != Some(id) {
                    return Err(format!("PAX {key} {id} disagrees with the header"));
                }
            }
            "path" if entry.path_bytes().as_ref() != value.as_slice() => {
                return Err("its PAX path and its GNU long name disagree".into());
            }
            "linkpath" if entry.link_name_bytes().as_deref() != Some(value.as_slice()) => {
                return Err("its PAX linkpath and its GNU long link name disagree".into());
            }
            "mtime" => {
                let text = std::str::from_utf8(value).map_err(|_| not_a_number(key, value))?;
                let whole = text.split_once('.').map_or(text, |(w, _)| w);
                let seconds = decimal(key, whole.as_bytes())?;
                let ustar = entry.header().mtime().ok();
                if ustar != Some(seconds) {
                    return Err(format!(
                        "PAX mtime {text} disagrees with the ustar mtime {}",
                        ustar.map_or_else(|| "(unreadable)".into(), |m| m.to_string())
                    ));
                }
            }
            _ => {}
        }
    }
    Ok(())
}

/// The entry's PAX records as (key, value) pairs; a malformed record or a
/// checked key given twice is refused.
fn records<R: Read>(entry: &mut tar::Entry<'_, R>) -> Result<Vec<(String, Vec<u8>)>, String> {
    let Some(exts) = entry
        .pax_extensions()
        .map_err(|e| format!("its PAX header cannot be read: {e}"))?
    else {
        return Ok(Vec::new());
    };
    let mut out: Vec<(String, Vec<u8>)> = Vec::new();
    for ext in exts {
        let ext = ext.map_err(|e| format!("it has a malformed PAX record: {e}"))?;
        let key = ext
            .key()
            .map_err(|_| "it has a PAX record whose key is not UTF-8".to_string())?
            .to_string();
        if CHECKED.contains(&key.as_str()) && out.iter().any(|(k, _)| *k == key) {
            return Err(format!("its PAX header gives {key:?} twice"));
        }
        out.push((key, ext.value_bytes().to_vec()));
    }
    Ok(out)
}

/// A plain decimal number (digits only, as POSIX writes it).
fn decimal(key: &str, value: &[u8]) -> Result<u64, String> {
    if value.is_empty() || !value.iter().all(u8::is_ascii_digit) {
        return Err(not_a_number(key, value));
    }
    std::str::from_utf8(value)
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| not_a_number(key, value))
}

fn not_a_number(key: &str, value: &[u8]) -> String {
    format!(
        "its PAX {key} {:?} is not a decimal number",
        String::from_utf8_lossy(value)
    )
}
