//! Symlink target conversion between Linux and Windows path conventions.

/// Normalises `/`-separated components lexically (`.` dropped, `..` pops,
/// clamped at the root, as the kernel does for absolute paths).
fn normalise(comps: &[&str]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for c in comps {
        match *c {
            "" | "." => {}
            ".." => {
                out.pop();
            }
            c => out.push(c.to_string()),
        }
    }
    out
}

/// Turns a Linux symlink target into a Windows one for a link at `link_path`
/// (relative to the stage root). Relative targets stay relative; absolute ones
/// become relative to the link's own directory, so they keep working wherever
/// the tree is mounted (`etc/os-release` → `/usr/lib/os-release` gives
/// `..\usr\lib\os-release`). Separators become backslashes.
pub fn linux_target_to_windows(link_path: &str, target: &str) -> String {
    if !target.starts_with('/') {
        return target.replace('/', "\\");
    }
    let link_dir: Vec<&str> = link_path.split('/').filter(|c| !c.is_empty()).collect();
    let link_dir = normalise(&link_dir[..link_dir.len().saturating_sub(1)]);
    let target: Vec<&str> = target.split('/').collect();
    let target = normalise(&target);
    let common = link_dir
        .iter()
        .zip(&target)
        .take_while(|(a, b)| a == b)
        .count();
    let mut parts: Vec<String> = vec!["..".to_string(); link_dir.len() - common];
    parts.extend(target[common..].iter().cloned());
    if parts.is_empty() {
        ".".to_string()
    } else {
        parts.join("\\")
    }
}

/// Turns a Windows symlink target into a Linux one. `C:\x\y` becomes `/x/y`;
/// relative targets keep their meaning with `/`; other drives, `\\?\` and UNC
/// targets have no Linux meaning and give `None`.
pub fn windows_target_to_linux(target: &str) -> Option<String> {
    let t = target.replace('\\', "/");
    if t.starts_with("//") {
        return None;
    }
    let b = t.as_bytes();
    if b.len() >= 2 && b[1] == b':' && b[0].is_ascii_alphabetic() {
        if !b[0].eq_ignore_ascii_case(&b'C') {
            return None;
        }
        let rest = t[2..].trim_start_matches('/');
        return Some(format!("/{rest}"));
    }
    if t.starts_with('/') {
        // Rooted on the current drive: C: in a container.
        return Some(t);
    }
    Some(t)
}

/// Resolves `target` (Linux, as stored in a link at `link_path`) to a path
/// relative to the stage root, or `None` if it leaves the root.
pub fn resolve_linux_target(link_path: &str, target: &str) -> Vec<String> {
    let mut comps: Vec<&str> = Vec::new();
    if !target.starts_with('/') {
        let dir: Vec<&str> = link_path.split('/').collect();
        comps.extend(&dir[..dir.len().saturating_sub(1)]);
    }
    comps.extend(target.split('/'));
    normalise(&comps)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absolute_linux_targets_become_relative() {
        assert_eq!(
            linux_target_to_windows("etc/os-release", "/usr/lib/os-release"),
            "..\\usr\\lib\\os-release"
        );
        assert_eq!(linux_target_to_windows("usr/lib/x", "/usr/lib/y"), "y");
        assert_eq!(linux_target_to_windows("a/b/c", "/a/x/../d"), "..\\d");
        assert_eq!(linux_target_to_windows("bin", "/usr/bin"), "usr\\bin");
        assert_eq!(linux_target_to_windows("a/root", "/"), "..");
        assert_eq!(linux_target_to_windows("a/rel", "../b/c"), "..\\b\\c");
    }

    #[test]
    fn windows_targets_map_to_linux() {
        assert_eq!(
            windows_target_to_linux("C:\\app\\x").as_deref(),
            Some("/app/x")
        );
        assert_eq!(windows_target_to_linux("c:/app").as_deref(), Some("/app"));
        assert_eq!(
            windows_target_to_linux("..\\lib\\x").as_deref(),
            Some("../lib/x")
        );
        assert_eq!(windows_target_to_linux("D:\\x"), None);
        assert_eq!(windows_target_to_linux("\\\\server\\share"), None);
        assert_eq!(windows_target_to_linux("\\\\?\\C:\\x"), None);
    }

    #[test]
    fn resolves_targets_within_root() {
        assert_eq!(
            resolve_linux_target("etc/os-release", "../usr/lib/os-release"),
            ["usr", "lib", "os-release"]
        );
        assert_eq!(resolve_linux_target("a/b", "/../../x"), ["x"]);
    }
}
