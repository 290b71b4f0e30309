//! Replacing a file by renaming a finished temporary file over it, the way
//! `index.json`, cache records and exported layouts are updated.
//!
//! On Windows that rename fails (`ERROR_ACCESS_DENIED`,
//! `ERROR_SHARING_VIOLATION`) while another handle holds the target open
//! without `FILE_SHARE_DELETE`, which is how Rust's std and most programs
//! open files: another `wharf` reading `index.json`, a virus scanner, the
//! search indexer. Such holders are brief, so the rename is retried for
//! about two seconds, for those two errors only (Go's `cmd/go` does the
//! same). Elsewhere a rename never fails that way and the first error is
//! final. Wine enforces the rule too (`ERROR_ACCESS_DENIED`), so the test
//! below that holds the target open while replacing it shows, under Wine,
//! both the failure of a plain rename and the retry's success.

use std::io;
use std::path::Path;
use std::time::Duration;

/// Waits between attempts: about two seconds in all.
const DELAYS_MS: [u64; 8] = [10, 20, 40, 80, 160, 320, 640, 800];

/// Renames `from` over `to`, retrying while Windows reports the target in
/// use.
pub fn replace_file(from: &Path, to: &Path) -> io::Result<()> {
    retry(
        || std::fs::rename(from, to),
        is_in_use,
        &DELAYS_MS,
        std::thread::sleep,
    )
}

/// Whether `e` says another handle holds the file (Windows only).
fn is_in_use(e: &io::Error) -> bool {
    // ERROR_ACCESS_DENIED, ERROR_SHARING_VIOLATION
    cfg!(windows) && matches!(e.raw_os_error(), Some(5 | 32))
}

/// Runs `op`, and again after each delay while it fails with an error
/// `transient` accepts; the last error otherwise.
fn retry(
    mut op: impl FnMut() -> io::Result<()>,
    transient: impl Fn(&io::Error) -> bool,
    delays_ms: &[u64],
    mut sleep: impl FnMut(Duration),
) -> io::Result<()> {
    let mut delays = delays_ms.iter();
    loop {
        match op() {
            Ok(()) => return Ok(()),
            Err(e) if transient(&e) => match delays.next() {
                Some(ms) => sleep(Duration::from_millis(*ms)),
                None => return Err(e),
            },
            Err(e) => return Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn busy() -> io::Error {
        io::Error::from_raw_os_error(32)
    }

    #[test]
    fn retries_while_the_target_is_in_use_then_succeeds() {
        let mut failures = 2;
        let mut slept = Vec::new();
        let result = retry(
            || {
                if failures > 0 {
                    failures -= 1;
                    Err(busy())
                } else {
                    Ok(())
                }
            },
            |e| e.raw_os_error() == Some(32),
            &DELAYS_MS,
            |d| slept.push(d.as_millis()),
        );
        assert!(result.is_ok());
        assert_eq!(slept, [10, 20]);
    }

    #[test]
    fn other_errors_and_exhausted_retries_are_returned() {
        let mut calls = 0;
        let result = retry(
            || {
                calls += 1;
                Err(io::Error::from(io::ErrorKind::NotFound))
            },
            |e| e.raw_os_error() == Some(32),
            &DELAYS_MS,
            |_| {},
        );
        assert_eq!(result.unwrap_err().kind(), io::ErrorKind::NotFound);
        assert_eq!(calls, 1);
        let mut calls = 0;
        let result = retry(
            || {
                calls += 1;
                Err(busy())
            },
            |e| e.raw_os_error() == Some(32),
            &[1, 1, 1],
            |_| {},
        );
        assert_eq!(result.unwrap_err().raw_os_error(), Some(32));
        assert_eq!(calls, 4);
    }

    #[test]
    fn replaces_a_file_that_a_reader_holds_open_for_a_moment() {
        let dir = tempfile::tempdir().unwrap();
        let (from, to) = (dir.path().join("new"), dir.path().join("index.json"));
        std::fs::write(&to, "old").unwrap();
        std::fs::write(&from, "new").unwrap();
        let reader = std::fs::File::open(&to).unwrap();
        if cfg!(windows) {
            // The rule the retry is for (Wine enforces it as Windows does).
            let plain = std::fs::rename(&from, &to).unwrap_err();
            assert_eq!(plain.raw_os_error(), Some(5), "{plain}");
        }
        let holder = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(100));
            drop(reader);
        });
        replace_file(&from, &to).unwrap();
        holder.join().unwrap();
        assert_eq!(std::fs::read_to_string(&to).unwrap(), "new");
    }
}
