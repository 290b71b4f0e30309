//! Container paths per OS: resolving WORKDIR (and other in-image paths)
//! against the current directory. Linux paths are POSIX; Windows paths
//! live on the container's only drive, `C:` (`C:\app\x` ≡ `/app/x`);
//! other drives and UNC paths cannot exist in a container and are errors.

/// Joins `path` onto `cwd` (both POSIX) and cleans `.`, `..` and `//`.
pub fn resolve_linux_path(cwd: &str, path: &str) -> String {
    let joined = if path.starts_with('/') {
        path.to_string()
    } else {
        format!("{}/{}", cwd.trim_end_matches('/'), path)
    };
    let mut parts: Vec<&str> = Vec::new();
    for p in joined.split('/') {
        match p {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            p => parts.push(p),
        }
    }
    format!("/{}", parts.join("/"))
}

/// Resolves a Windows container path against `cwd` (itself `C:\...`),
/// giving `C:\...` with backslashes. Forward slashes are accepted.
pub fn resolve_windows_path(cwd: &str, path: &str) -> Result<String, String> {
    let p = path.replace('/', "\\");
    if p.starts_with("\\\\") {
        return Err(format!(
            "{path} is a UNC or device path; container paths live on C:"
        ));
    }
    let bytes = p.as_bytes();
    let rest: String = if bytes.len() >= 2 && bytes[1] == b':' && bytes[0].is_ascii_alphabetic() {
        if !bytes[0].eq_ignore_ascii_case(&b'c') {
            return Err(format!(
                "{path} is on drive {}:, but a Windows container has only C:",
                (bytes[0] as char).to_ascii_uppercase()
            ));
        }
        let after = &p[2..];
        if after.starts_with('\\') {
            after.to_string()
        } else {
            format!("{}\\{}", strip_drive(cwd), after)
        }
    } else if p.starts_with('\\') {
        p.clone()
    } else {
        format!("{}\\{}", strip_drive(cwd), p)
    };
    let mut parts: Vec<&str> = Vec::new();
    for seg in rest.split('\\') {
        match seg {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            s => parts.push(s),
        }
    }
    Ok(format!("C:\\{}", parts.join("\\")))
}

/// A path as [`resolve_windows_path`] gives it (`C:\\a\\b`) in POSIX form
/// (`/a/b`; `C:\\` is `/`): the form the Windows layer format's `Files/`
/// tree and the COPY planner use.
pub fn windows_path_as_posix(resolved: &str) -> String {
    let rest = resolved.get(2..).unwrap_or("").replace('\\', "/");
    format!("/{}", rest.trim_matches('/'))
}

fn strip_drive(cwd: &str) -> String {
    let c = cwd.replace('/', "\\");
    if c.len() >= 2 && c.as_bytes()[1] == b':' {
        c[2..].to_string()
    } else {
        c
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn linux() {
        assert_eq!(resolve_linux_path("/", "app"), "/app");
        assert_eq!(resolve_linux_path("/app", "src/../bin/"), "/app/bin");
        assert_eq!(resolve_linux_path("/app", "/x//y/."), "/x/y");
        assert_eq!(resolve_linux_path("/a", "../../.."), "/");
    }

    #[test]
    fn windows() {
        assert_eq!(resolve_windows_path("C:\\", "C:\\app").unwrap(), "C:\\app");
        assert_eq!(
            resolve_windows_path("C:\\", "c:/app/x").unwrap(),
            "C:\\app\\x"
        );
        assert_eq!(
            resolve_windows_path("C:\\app", "bin").unwrap(),
            "C:\\app\\bin"
        );
        assert_eq!(
            resolve_windows_path("C:\\app", "/tools").unwrap(),
            "C:\\tools"
        );
        assert_eq!(resolve_windows_path("C:\\app", "..\\..").unwrap(), "C:\\");
        assert_eq!(
            resolve_windows_path("C:\\app", "C:sub").unwrap(),
            "C:\\app\\sub"
        );
        assert_eq!(windows_path_as_posix("C:\\"), "/");
        assert_eq!(windows_path_as_posix("C:\\app\\bin"), "/app/bin");
        assert!(resolve_windows_path("C:\\", "D:\\data")
            .unwrap_err()
            .contains("drive D:"));
        assert!(resolve_windows_path("C:\\", "\\\\server\\share")
            .unwrap_err()
            .contains("UNC"));
    }
}
