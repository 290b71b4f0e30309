//! Validation of entry names read from untrusted layers: one place decides which
//! names are acceptable, so apply, views and transforms agree.

use crate::error::{Error, Result};

/// Splits a tar entry name into clean components.
///
/// Leading `./` and `.` components and repeated slashes are dropped (common in
/// real layers); absolute names and `..` components are refused because a
/// layer that uses them is trying to reach outside its root. An empty result
/// means the root directory itself.
pub fn clean_components(raw: &[u8]) -> Result<Vec<Vec<u8>>> {
    let shown = || String::from_utf8_lossy(raw).into_owned();
    if raw.first() == Some(&b'/') {
        return Err(Error::hostile(
            shown(),
            "absolute entry names are not allowed in a layer",
        ));
    }
    if raw.contains(&0) {
        return Err(Error::hostile(shown(), "entry name contains a NUL byte"));
    }
    let mut out = Vec::new();
    for comp in raw.split(|b| *b == b'/') {
        match comp {
            b"" | b"." => {}
            b".." => {
                return Err(Error::hostile(
                    shown(),
                    "'..' components would leave the layer root",
                ))
            }
            c => out.push(c.to_vec()),
        }
    }
    Ok(out)
}

/// Joins components back into a relative name with `/`.
pub fn join(components: &[Vec<u8>]) -> Vec<u8> {
    components.join(&b'/')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_and_cleans_ordinary_names() {
        assert_eq!(
            clean_components(b"./usr//bin/").unwrap(),
            vec![b"usr".to_vec(), b"bin".to_vec()]
        );
        assert!(clean_components(b"./").unwrap().is_empty());
        assert_eq!(join(&clean_components(b"a/./b").unwrap()), b"a/b");
    }

    #[test]
    fn refuses_escapes() {
        for bad in [&b"../x"[..], b"a/../../x", b"/etc/passwd", b"a/..", b"a\0b"] {
            let err = clean_components(bad).unwrap_err();
            assert!(matches!(err, Error::HostileEntry { .. }), "{err}");
        }
    }
}
