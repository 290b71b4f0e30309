//! Downloading blobs into the store: streamed through the store's
//! digest-verifying writer, resumed with HTTP `Range` after a dropped
//! connection, restarted when the server ignores the range. Foreign
//! (non-distributable) layers are tried at the registry first, then at
//! each of their `urls`.
//!
//! Hashing, writing and the final fsync of each download run on a
//! blocking thread of its own ([`DiskSide`]), fed through a bounded
//! channel: the task that reads the network never waits for the disk or
//! the hash, so on a runtime with one thread (`wharf pull`) the downloads
//! still use every core, and one blob's fsync does not stall the others.

use crate::auth::{url_host_port, Scope};
use crate::client::{RegistryClient, Request};
use crate::error::RegistryError;
use crate::progress::{Direction, Progress, ProgressSink};
use bytes::Bytes;
use futures_util::StreamExt;
use reqwest::header::{HeaderMap, HeaderValue, CONTENT_RANGE, RANGE};
use reqwest::{Method, Response, StatusCode, Url};
use std::io::Write;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use wharf_oci::Reference;
use wharf_oci::{is_foreign_layer, Descriptor, Digest};

use wharf_store::{BlobWriter, CommittedBlob, Expected, Store, StoreError};

enum Source<'a> {
    /// A blob of a repository, by digest.
    Registry(&'a Reference, &'a Digest),
    Url(Url),
}

/// Why one download attempt stopped.
enum AttemptError {
    /// Worth another attempt (dropped connection, 5xx...).
    Transient(String),
    /// Final.
    Fatal(RegistryError),
}

impl RegistryClient {
    /// Makes sure the blob `descriptor` is in the store, downloading it from
    /// `reference`'s repository (and, for foreign layers, its `urls`).
    /// Content is verified against the descriptor's digest and size; nothing
    /// unverified ever becomes visible in the store.
    pub async fn fetch_blob(
        &self,
        reference: &Reference,
        descriptor: &Descriptor,
        store: &Store,
    ) -> Result<CommittedBlob, RegistryError> {
        if store.blob_size(&descriptor.digest) == Some(descriptor.size) {
            return Ok(CommittedBlob {
                digest: descriptor.digest.clone(),
                size: descriptor.size,
            });
        }
        let expected = || {
            Some(Expected {
                digest: descriptor.digest.clone(),
                size: Some(descriptor.size),
            })
        };
        let registry_result = self
            .download(
                Source::Registry(reference, &descriptor.digest),
                expected(),
                store,
            )
            .await;
        let urls = descriptor.urls.clone().unwrap_or_default();
        if !is_foreign_layer(&descriptor.media_type) || urls.is_empty() {
            return registry_result;
        }
        let mut tried = Vec::new();
        match registry_result {
            Ok(c) => return Ok(c),
            Err(e) => tried.push(format!("registry: {e}")),
        }
        for u in &urls {
            let url = match self.checked_url(u) {
                Ok(url) => url,
                Err(reason) => {
                    tried.push(format!("{u}: {reason}"));
                    continue;
                }
            };
            match self.download(Source::Url(url), expected(), store).await {
                Ok(c) => return Ok(c),
                Err(e) => tried.push(format!("{u}: {e}")),
            }
        }
        Err(RegistryError::ForeignLayerUnavailable {
            digest: descriptor.digest.to_string(),
            reference: reference.to_string(),
            tried: tried.join("; "),
        })
    }

    /// Downloads `url` (http or https) into the store, verified against
    /// `expected` when given (`ADD --checksum`). Plain HTTP only for
    /// loopback and `--insecure-registry` hosts, as for registries.
    pub async fn fetch_url(
        &self,
        url: &str,
        expected: Option<Digest>,
        store: &Store,
    ) -> Result<CommittedBlob, RegistryError> {
        let parsed = self
            .checked_url(url)
            .map_err(|reason| RegistryError::BadResponse {
                what: "download".into(),
                url: url.to_string(),
                reason,
            })?;
        let expected = expected.map(|digest| Expected { digest, size: None });
        self.download(Source::Url(parsed), expected, store).await
    }

    /// An http(s) URL this client may fetch, or why not.
    fn checked_url(&self, u: &str) -> Result<Url, String> {
        match Url::parse(u) {
            Ok(url) if url.scheme() == "https" => Ok(url),
            Ok(url) if url.scheme() == "http" => {
                if self.inner.auth.allows_http(&url_host_port(&url)) {
                    Ok(url)
                } else {
                    Err("plain HTTP is only used for loopback and --insecure-registry hosts".into())
                }
            }
            _ => Err("not an http(s) URL".into()),
        }
    }

    async fn download(
        &self,
        source: Source<'_>,
        expected: Option<Expected>,
        store: &Store,
    ) -> Result<CommittedBlob, RegistryError> {
        let mut writer = DiskSide::start(store.blob_writer(expected)?);
        let policy = self.inner.options.retry.clone();
        let mut failures = 0u32;
        let outcome = loop {
            match self.attempt(&source, &mut writer).await {
                Ok(()) => break Ok(()),
                Err(AttemptError::Fatal(e)) => break Err(e),
                Err(AttemptError::Transient(reason)) => {
                    failures += 1;
                    if failures >= policy.max_attempts.max(1) {
                        break Err(RegistryError::RetriesExhausted {
                            method: "GET".into(),
                            url: source_name(&source),
                            attempts: failures,
                            last: reason,
                        });
                    }
                    tokio::time::sleep(policy.delay(failures, None)).await;
                }
            }
        };
        match outcome {
            Ok(()) => writer.commit().await,
            // Waiting for the disk side also removes the temporary file
            // before the error is returned; its own failure, when it
            // stopped first, says more than "the writer stopped".
            Err(e) => Err(writer.failure().await.unwrap_or(e)),
        }
    }

    /// One GET, resuming at what was sent to the disk side.
    async fn attempt(
        &self,
        source: &Source<'_>,
        writer: &mut DiskSide,
    ) -> Result<(), AttemptError> {
        let offset = writer.sent;
        let mut headers = HeaderMap::new();
        if offset > 0 {
            if let Ok(v) = HeaderValue::from_str(&format!("bytes={offset}-")) {
                headers.insert(RANGE, v);
            }
        }
        let resp = match source {
            Source::Registry(reference, digest) => {
                let url = self
                    .url(reference, &format!("blobs/{digest}"))
                    .map_err(AttemptError::Fatal)?;
                let resp = self
                    .send(Request {
                        reference,
                        scope: Scope::pull(reference.repository()),
                        method: Method::GET,
                        url,
                        headers,
                        body: None,
                        retry: true,
                    })
                    .await
                    // `send` has already retried transient failures of the
                    // request itself; this loop only resumes broken bodies.
                    .map_err(AttemptError::Fatal)?;
                if !matches!(resp.status(), StatusCode::OK | StatusCode::PARTIAL_CONTENT) {
                    let what = format!("blob {digest}");
                    return Err(AttemptError::Fatal(
                        self.status_error(resp, reference, "pull", &what).await,
                    ));
                }
                resp
            }
            Source::Url(url) => {
                let resp = self
                    .inner
                    .http
                    .get(url.clone())
                    .headers(headers)
                    .send()
                    .await
                    .map_err(|e| AttemptError::Transient(e.without_url().to_string()))?;
                let status = resp.status();
                if status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS {
                    return Err(AttemptError::Transient(format!("HTTP {}", status.as_u16())));
                }
                if !matches!(status, StatusCode::OK | StatusCode::PARTIAL_CONTENT) {
                    return Err(AttemptError::Fatal(RegistryError::Status {
                        method: "GET".into(),
                        url: url.to_string(),
                        status: status.as_u16(),
                        codes: String::new(),
                    }));
                }
                resp
            }
        };
        if offset > 0 && !resumes_at(&resp, offset) {
            // The server sent the whole blob (or another range): start over.
            writer.reset().await?;
        }
        stream_into(resp, writer, self.options().progress.as_ref()).await
    }
}

fn resumes_at(resp: &Response, offset: u64) -> bool {
    resp.status() == StatusCode::PARTIAL_CONTENT
        && resp
            .headers()
            .get(CONTENT_RANGE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("bytes "))
            .and_then(|v| v.split('-').next())
            .and_then(|start| start.parse::<u64>().ok())
            == Some(offset)
}

async fn stream_into(
    resp: Response,
    writer: &mut DiskSide,
    progress: Option<&ProgressSink>,
) -> Result<(), AttemptError> {
    let mut body = resp.bytes_stream();
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|e| {
            AttemptError::Transient(format!("connection dropped: {}", e.without_url()))
        })?;
        if let Some(Expected {
            size: Some(size),
            digest,
        }) = &writer.expected
        {
            if writer.sent + chunk.len() as u64 > *size {
                // Longer than the descriptor says: the source is wrong, not flaky.
                return Err(AttemptError::Fatal(RegistryError::Store(
                    StoreError::SizeMismatch {
                        digest: digest.to_string(),
                        expected: *size,
                        actual: writer.sent + chunk.len() as u64,
                    },
                )));
            }
        }
        writer.send(chunk).await?;
        if let (Some(sink), Some(expected)) = (progress, &writer.expected) {
            sink.report(&Progress {
                direction: Direction::Download,
                digest: expected.digest.clone(),
                done: writer.sent,
                total: expected.size.unwrap_or(0),
            });
        }
    }
    let expected = writer.expected.as_ref().and_then(|x| x.size).unwrap_or(0);
    if writer.sent < expected {
        // A body that ended early (truncated without an error) is resumed.
        return Err(AttemptError::Transient(format!(
            "body ended after {} of {expected} bytes",
            writer.sent
        )));
    }
    Ok(())
}

/// What the network side asks of the disk side.
enum DiskOp {
    Write(Bytes),
    /// Start over: the server ignored a range request.
    Reset,
}

/// Chunks of one download in flight to its writer thread: at most this
/// many, which bounds the memory of a download whose disk is slower than
/// its network (hyper's chunks grow to about 400 KiB on a fast link; 64
/// of them made a pull of three layers at a time peak at 75 MiB).
const CHUNKS_IN_FLIGHT: usize = 8;

/// The disk half of one download: a [`BlobWriter`] on a blocking thread,
/// fed in order through a bounded channel. Everything sent is written
/// unless the writer fails, so [`DiskSide::sent`] is the offset to resume
/// from.
struct DiskSide {
    /// The writer's temporary file.
    tmp_path: std::path::PathBuf,
    /// Committed, or failed and cleaned up: nothing left for `drop`.
    settled: bool,
    ops: Option<mpsc::Sender<DiskOp>>,
    thread: Option<JoinHandle<Result<BlobWriter, StoreError>>>,
    expected: Option<Expected>,
    sent: u64,
}

impl DiskSide {
    fn start(mut writer: BlobWriter) -> DiskSide {
        let expected = writer.expected().cloned();
        let tmp_path = writer.path().to_path_buf();
        let (tx, mut rx) = mpsc::channel::<DiskOp>(CHUNKS_IN_FLIGHT);
        let thread = tokio::task::spawn_blocking(move || {
            while let Some(op) = rx.blocking_recv() {
                match op {
                    DiskOp::Write(chunk) => {
                        writer.write_all(&chunk).map_err(|source| StoreError::Io {
                            action: "writing blob",
                            path: writer.path().to_path_buf(),
                            source,
                        })?
                    }
                    DiskOp::Reset => writer.reset()?,
                }
            }
            Ok(writer)
        });
        DiskSide {
            tmp_path,
            settled: false,
            ops: Some(tx),
            thread: Some(thread),
            expected,
            sent: 0,
        }
    }

    async fn send(&mut self, chunk: Bytes) -> Result<(), AttemptError> {
        let n = chunk.len() as u64;
        self.op(DiskOp::Write(chunk)).await?;
        self.sent += n;
        Ok(())
    }

    async fn reset(&mut self) -> Result<(), AttemptError> {
        self.op(DiskOp::Reset).await?;
        self.sent = 0;
        Ok(())
    }

    async fn op(&mut self, op: DiskOp) -> Result<(), AttemptError> {
        let closed =
            || AttemptError::Fatal(RegistryError::Internal("the blob's writer stopped".into()));
        let tx = self.ops.as_ref().ok_or_else(closed)?;
        tx.send(op).await.map_err(|_| closed())
    }

    /// Waits for the writer thread to write everything sent, then
    /// verifies, syncs and moves the blob into place on a blocking thread.
    async fn commit(mut self) -> Result<CommittedBlob, RegistryError> {
        let writer = self.finish().await?;
        let done = tokio::task::spawn_blocking(move || writer.commit())
            .await
            .map_err(|e| RegistryError::Internal(format!("blob writer thread: {e}")));
        self.settled = true;
        Ok(done??)
    }

    /// Why the writer thread stopped, if it did so with an error; the
    /// temporary file is gone when this returns.
    async fn failure(mut self) -> Option<RegistryError> {
        let failure = self.finish().await.err();
        self.settled = true;
        failure
    }

    async fn finish(&mut self) -> Result<BlobWriter, RegistryError> {
        self.ops = None;
        let thread = self
            .thread
            .take()
            .ok_or_else(|| RegistryError::Internal("blob writer finished twice".into()))?;
        let writer = thread
            .await
            .map_err(|e| RegistryError::Internal(format!("blob writer thread: {e}")))?;
        Ok(writer?)
    }
}

impl Drop for DiskSide {
    /// A download dropped midway (a sibling failed, the caller gave up)
    /// leaves no file behind once it is gone: its thread, still writing
    /// what is queued or committing, would remove it only later. A
    /// commit that renames the file first has stored a verified blob.
    fn drop(&mut self) {
        if !self.settled {
            self.ops = None;
            let _ = std::fs::remove_file(&self.tmp_path);
        }
    }
}

fn source_name(source: &Source<'_>) -> String {
    match source {
        Source::Registry(r, digest) => {
            format!("{}/{} blob {digest}", r.registry(), r.repository())
        }
        Source::Url(u) => u.to_string(),
    }
}
