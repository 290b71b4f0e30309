//! Progress of blob transfers, for front ends that draw progress bars. The
//! registry client only reports numbers; it never writes to a terminal.

use std::fmt;
use std::sync::Arc;
use wharf_oci::Digest;

/// Which way a blob moves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Downloaded into the store.
    Download,
    /// Uploaded to a registry.
    Upload,
}

/// One progress report: `done` of `total` bytes of a blob. Sent after each
/// network chunk, so receivers should be cheap (or throttle).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Progress {
    /// Download or upload.
    pub direction: Direction,
    /// The blob.
    pub digest: Digest,
    /// Bytes transferred so far (it can go down when a transfer restarts).
    pub done: u64,
    /// Size of the blob.
    pub total: u64,
}

/// Receives [`Progress`] reports; set in `ClientOptions::progress`.
#[derive(Clone)]
pub struct ProgressSink(Arc<dyn Fn(&Progress) + Send + Sync>);

impl ProgressSink {
    /// Wraps a callback.
    pub fn new(f: impl Fn(&Progress) + Send + Sync + 'static) -> Self {
        ProgressSink(Arc::new(f))
    }

    pub(crate) fn report(&self, progress: &Progress) {
        (self.0)(progress)
    }
}

impl fmt::Debug for ProgressSink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ProgressSink")
    }
}
