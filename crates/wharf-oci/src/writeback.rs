//! Blob files that start going to disk while they are written.
//!
//! Every blob a store commits is fsynced before it is renamed into place.
//! Left alone, the kernel writes nothing of a fresh file back for up to
//! half a minute, so that fsync waits for the whole file: 0.25 s for each
//! of three 270 MB layers finishing together in a pull measured here, with
//! nothing else left to do. [`WritebackFile`] asks the kernel to start
//! writing each few MiB back as soon as they are written
//! (`sync_file_range(SYNC_FILE_RANGE_WRITE)`, which neither waits nor
//! makes anything durable), so the fsync at the end finds little left.
//! Where that call does not exist, it is a plain file.

use std::fs::File;
use std::io::{self, Seek, Write};

/// Written bytes between two writeback requests.
const WRITEBACK_STEP: u64 = 8 << 20;

/// A file written from its start, sequentially, whose written pages are
/// handed to writeback every [`WRITEBACK_STEP`] bytes.
#[derive(Debug)]
pub struct WritebackFile {
    file: File,
    /// Bytes written.
    written: u64,
    /// Bytes already handed to writeback.
    handed: u64,
}

impl WritebackFile {
    /// Wraps `file`, empty and positioned at its start.
    pub fn new(file: File) -> WritebackFile {
        WritebackFile {
            file,
            written: 0,
            handed: 0,
        }
    }

    /// The file.
    pub fn get_ref(&self) -> &File {
        &self.file
    }

    /// The file, for the final fsync.
    pub fn into_inner(self) -> File {
        self.file
    }

    /// Empties the file to write it again from the start.
    pub fn truncate(&mut self) -> io::Result<()> {
        self.file.set_len(0)?;
        self.file.rewind()?;
        self.written = 0;
        self.handed = 0;
        Ok(())
    }
}

impl Write for WritebackFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.file.write(buf)?;
        self.written += n as u64;
        if self.written - self.handed >= WRITEBACK_STEP {
            start_writeback(&self.file, self.handed, self.written - self.handed);
            self.handed = self.written;
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

#[cfg(target_os = "linux")]
fn start_writeback(file: &File, offset: u64, len: u64) {
    use std::os::fd::AsRawFd;
    let (Ok(offset), Ok(len)) = (i64::try_from(offset), i64::try_from(len)) else {
        return;
    };
    // SAFETY: a system call on a descriptor `file` keeps open for the
    // duration of the call; no memory is passed. Its result is only a
    // hint taken: errors show at the fsync that follows.
    let _ = unsafe {
        libc::sync_file_range(file.as_raw_fd(), offset, len, libc::SYNC_FILE_RANGE_WRITE)
    };
}

#[cfg(not(target_os = "linux"))]
fn start_writeback(_file: &File, _offset: u64, _len: u64) {}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    #[test]
    fn content_is_what_was_written_across_writeback_steps() {
        let dir = std::env::temp_dir().join(format!("wharf-writeback-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("blob");
        let mut w = WritebackFile::new(File::create(&path).unwrap());
        w.write_all(b"discarded").unwrap();
        w.truncate().unwrap();
        let chunk: Vec<u8> = (0..1_000_003u32).map(|i| (i % 253) as u8).collect();
        for _ in 0..20 {
            w.write_all(&chunk).unwrap();
        }
        assert!(w.handed > 0 && w.handed <= w.written, "{w:?}");
        assert_eq!(w.written, 20 * chunk.len() as u64);
        w.into_inner().sync_all().unwrap();
        let mut back = Vec::new();
        File::open(&path).unwrap().read_to_end(&mut back).unwrap();
        assert_eq!(back.len(), 20 * chunk.len());
        assert!(back.chunks(chunk.len()).all(|c| c == chunk.as_slice()));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
