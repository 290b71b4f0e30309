//! Which names NTFS (and the Windows importer) can hold, and Windows path
//! helpers shared by the writer, the views and the cross-OS transforms.

/// Why a single path component cannot be an NTFS name, or `None` when it can.
pub fn ntfs_name_problem(name: &str) -> Option<String> {
    if name.is_empty() {
        return Some("empty name".into());
    }
    // NTFS holds at most 255 UTF-16 code units per name.
    let units = name.encode_utf16().count();
    if units > 255 {
        return Some(format!(
            "is {units} UTF-16 units long; NTFS holds at most 255"
        ));
    }
    if let Some(c) = name
        .chars()
        .find(|c| matches!(c, '<' | '>' | ':' | '"' | '\\' | '|' | '?' | '*' | '/'))
    {
        return Some(format!("contains {c:?}"));
    }
    if name.chars().any(|c| (c as u32) < 0x20) {
        return Some("contains a control character".into());
    }
    if name.ends_with('.') || name.ends_with(' ') {
        return Some("ends with a dot or a space".into());
    }
    let stem = name.split('.').next().unwrap_or(name).trim_end_matches(' ');
    let upper = stem.to_ascii_uppercase();
    let reserved = matches!(upper.as_str(), "CON" | "PRN" | "AUX" | "NUL")
        || ((upper.starts_with("COM") || upper.starts_with("LPT"))
            && upper.len() == 4
            && upper.as_bytes()[3].is_ascii_digit()
            && upper.as_bytes()[3] != b'0');
    if reserved {
        return Some(format!("{stem:?} is a reserved device name"));
    }
    None
}

/// The first problem of any component of a `/`-separated relative path.
pub fn ntfs_path_problem(path: &str) -> Option<String> {
    path.split('/')
        .find_map(|c| ntfs_name_problem(c).map(|p| format!("component {c:?} {p}")))
}

/// Lower-cases a path the way case-insensitive comparisons in a Windows stage
/// need (simple Unicode lowercase; NTFS's upcase table differs only in rare
/// scripts).
pub fn fold_case(path: &str) -> String {
    path.to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_forbidden_and_reserved_names() {
        for bad in [
            "a:b", "x|y", "q?", "star*", "trail.", "trail ", "CON", "con.txt", "Lpt1", "COM9.log",
            "nul", "tab\t",
        ] {
            assert!(ntfs_name_problem(bad).is_some(), "{bad}");
        }
        for good in [
            "CONSOLE", "com0", "COM10", "lpt", "file.txt", ".hidden", "ünï", "a b",
        ] {
            assert_eq!(ntfs_name_problem(good), None, "{good}");
        }
        assert!(ntfs_path_problem("var/lib/dpkg/info/libc6:amd64.list").is_some());
        assert_eq!(ntfs_name_problem(&"n".repeat(255)), None);
        assert!(ntfs_name_problem(&"n".repeat(256)).is_some());
        // 200 two-byte characters: 400 bytes but 200 UTF-16 units.
        assert_eq!(ntfs_name_problem(&"é".repeat(200)), None);
        assert!(ntfs_path_problem("usr/bin/ls").is_none());
    }
}
