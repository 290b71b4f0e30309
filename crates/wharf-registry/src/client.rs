//! The HTTP side of the registry client: base URLs (TLS unless the registry
//! is loopback or named insecure), authentication on 401, and retries with
//! backoff for transient failures.

use crate::auth::{Authenticator, CredentialStore, Scope};
use crate::body::read_limited;
use crate::error::RegistryError;
use crate::progress::{Direction, Progress, ProgressSink};
use crate::retry::{parse_retry_after, RetryPolicy};
use bytes::Bytes;
use futures_util::StreamExt;
use reqwest::header::{HeaderMap, HeaderValue, WWW_AUTHENTICATE};
use reqwest::{Method, Response, StatusCode, Url};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use wharf_oci::Digest;
use wharf_oci::Reference;

/// Error bodies are small; only this much is read.
const MAX_ERROR_BODY: usize = 64 * 1024;

/// How the client behaves.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// Registries (`host[:port]`) reached over plain HTTP, like Docker's
    /// `--insecure-registry`. Loopback registries always are.
    pub insecure_registries: Vec<String>,
    /// Where credentials come from.
    pub credentials: CredentialStore,
    /// Retry limits and backoff.
    pub retry: RetryPolicy,
    /// Layers downloaded at the same time.
    pub max_concurrent_downloads: usize,
    /// Blobs larger than this are uploaded in PATCH chunks of this size;
    /// smaller ones in one streamed PUT.
    pub upload_chunk_size: u64,
    /// Connection timeout.
    pub connect_timeout: Duration,
    /// Timeout for a read to make progress.
    pub read_timeout: Duration,
    /// Receives progress of blob downloads and uploads.
    pub progress: Option<ProgressSink>,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            insecure_registries: Vec::new(),
            credentials: CredentialStore::docker_default(),
            retry: RetryPolicy::default(),
            max_concurrent_downloads: 3,
            upload_chunk_size: 64 * 1024 * 1024,
            connect_timeout: Duration::from_secs(30),
            read_timeout: Duration::from_secs(120),
            progress: None,
        }
    }
}

/// A request body that can be produced again for a retry.
#[derive(Debug, Clone)]
pub(crate) enum Body {
    /// Small in-memory content (manifests).
    Bytes(Bytes),
    /// A byte range of a file, streamed; progress reported as part of the
    /// blob `digest` of size `total`.
    File {
        path: PathBuf,
        offset: u64,
        len: u64,
        progress: Option<(ProgressSink, Digest, u64)>,
    },
}

impl Body {
    async fn to_reqwest(&self) -> Result<(reqwest::Body, u64), std::io::Error> {
        match self {
            Body::Bytes(b) => Ok((reqwest::Body::from(b.clone()), b.len() as u64)),
            Body::File {
                path,
                offset,
                len,
                progress,
            } => {
                let stream = file_chunks(path, *offset, *len).await?;
                let mut done = *offset;
                let progress = progress.clone();
                let stream = stream.inspect(move |chunk| {
                    if let (Some((sink, digest, total)), Ok(bytes)) = (&progress, chunk) {
                        done += bytes.len() as u64;
                        sink.report(&Progress {
                            direction: Direction::Upload,
                            digest: digest.clone(),
                            done,
                            total: *total,
                        });
                    }
                });
                Ok((reqwest::Body::wrap_stream(stream), *len))
            }
        }
    }
}

/// Chunks read from a file for an upload.
const UPLOAD_READ_CHUNK: usize = 512 << 10;

/// Chunks read ahead of the connection, per upload.
const UPLOAD_CHUNKS_AHEAD: usize = 2;

/// `len` bytes of `path` from `offset` as a stream of chunks, read ahead
/// on a blocking thread: one copy out of the page cache into each chunk
/// (tokio's file type copies twice and hops to a blocking thread for every
/// read), and the connection never waits for the disk while chunks are
/// ready. The thread stops when the stream is dropped.
async fn file_chunks(
    path: &std::path::Path,
    offset: u64,
    len: u64,
) -> Result<impl futures_util::Stream<Item = std::io::Result<Bytes>>, std::io::Error> {
    use std::io::{Read, Seek};
    // Every error names the blob file: the request's own error names only
    // the URL.
    let named = {
        let path = path.to_path_buf();
        move |e: std::io::Error| std::io::Error::new(e.kind(), format!("{}: {e}", path.display()))
    };
    let path = path.to_path_buf();
    let mut file = tokio::task::spawn_blocking(move || {
        let mut f = std::fs::File::open(path)?;
        f.seek(std::io::SeekFrom::Start(offset))?;
        Ok::<_, std::io::Error>(f)
    })
    .await
    .map_err(std::io::Error::other)?
    .map_err(&named)?;
    let (tx, rx) = tokio::sync::mpsc::channel::<std::io::Result<Bytes>>(UPLOAD_CHUNKS_AHEAD);
    tokio::task::spawn_blocking(move || {
        let mut left = len;
        while left > 0 {
            let want = left.min(UPLOAD_READ_CHUNK as u64) as usize;
            // `read_to_end` fills the spare capacity without zeroing it first.
            let mut buf = Vec::with_capacity(want);
            let chunk = match (&mut file).take(want as u64).read_to_end(&mut buf) {
                Ok(0) => Err(named(std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    format!("the file ends {left} bytes before the upload does"),
                ))),
                Ok(n) => {
                    left -= n as u64;
                    Ok(Bytes::from(buf))
                }
                Err(e) => Err(named(e)),
            };
            let failed = chunk.is_err();
            if tx.blocking_send(chunk).is_err() || failed {
                return;
            }
        }
    });
    Ok(futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|chunk| (chunk, rx))
    }))
}

/// One request to a registry.
pub(crate) struct Request<'a> {
    pub reference: &'a Reference,
    pub scope: Scope,
    pub method: Method,
    pub url: Url,
    pub headers: HeaderMap,
    pub body: Option<Body>,
    /// Retry transient failures here (false for uploads into a session,
    /// which are retried as a whole by the caller).
    pub retry: bool,
}

/// A client for OCI distribution registries. Cheap to clone; clones share
/// connections and cached tokens.
#[derive(Clone, Debug)]
pub struct RegistryClient {
    pub(crate) inner: Arc<Inner>,
}

#[derive(Debug)]
pub(crate) struct Inner {
    pub http: reqwest::Client,
    pub auth: Authenticator,
    pub options: ClientOptions,
}

impl RegistryClient {
    /// A client with these options.
    pub fn new(options: ClientOptions) -> Result<Self, RegistryError> {
        let http = reqwest::Client::builder()
            .user_agent(concat!("wharf/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(options.connect_timeout)
            .read_timeout(options.read_timeout)
            .build()
            .map_err(|e| RegistryError::Internal(format!("HTTP client setup: {e}")))?;
        let insecure = Arc::new(options.insecure_registries.clone());
        Ok(RegistryClient {
            inner: Arc::new(Inner {
                http,
                auth: Authenticator::new(options.credentials.clone(), insecure),
                options,
            }),
        })
    }

    /// The options in use.
    pub fn options(&self) -> &ClientOptions {
        &self.inner.options
    }

    /// `http(s)://<api host>/v2/<repository>/<path>`.
    pub(crate) fn url(&self, reference: &Reference, path: &str) -> Result<Url, RegistryError> {
        let host = reference.api_host();
        let scheme = if self.inner.auth.allows_http(reference.registry()) {
            "http"
        } else {
            "https"
        };
        let s = format!("{scheme}://{host}/v2/{}/{path}", reference.repository());
        Url::parse(&s).map_err(|e| RegistryError::Internal(format!("building URL {s}: {e}")))
    }

    /// Resolves a `Location` header (absolute or relative) against `base`.
    pub(crate) fn location(&self, base: &Url, resp: &Response) -> Result<Url, RegistryError> {
        let loc = resp
            .headers()
            .get(reqwest::header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| RegistryError::BadResponse {
                what: "upload session".into(),
                url: base.to_string(),
                reason: "the response has no Location header".into(),
            })?;
        base.join(loc).map_err(|e| RegistryError::BadResponse {
            what: "upload session".into(),
            url: base.to_string(),
            reason: format!("bad Location {loc:?}: {e}"),
        })
    }

    /// Sends a request, answering auth challenges and retrying transient
    /// failures. Returns the response for any status that is not retried;
    /// 5xx/429 that persist become errors here.
    pub(crate) async fn send(&self, req: Request<'_>) -> Result<Response, RegistryError> {
        let policy = &self.inner.options.retry;
        let max_attempts = if req.retry {
            policy.max_attempts.max(1)
        } else {
            1
        };
        let registry = req.reference.registry();
        let mut attempt = 0u32;
        let mut auth_answered = false;
        loop {
            attempt += 1;
            let mut builder = self
                .inner
                .http
                .request(req.method.clone(), req.url.clone())
                .headers(req.headers.clone());
            if let Some(h) = self.inner.auth.header(registry, &req.scope) {
                let mut v = HeaderValue::from_str(&h).map_err(|_| {
                    RegistryError::Internal("credentials contain invalid header characters".into())
                })?;
                v.set_sensitive(true);
                builder = builder.header(reqwest::header::AUTHORIZATION, v);
            }
            if let Some(body) = &req.body {
                let (b, len) = body
                    .to_reqwest()
                    .await
                    .map_err(|e| RegistryError::Transport {
                        method: req.method.to_string(),
                        url: req.url.to_string(),
                        reason: format!("reading the content to upload: {e}"),
                    })?;
                builder = builder.header(reqwest::header::CONTENT_LENGTH, len).body(b);
            }
            let failure = match builder.send().await {
                Err(e) => format!("connection failed: {}", e.without_url()),
                Ok(resp) => {
                    let status = resp.status();
                    if status == StatusCode::UNAUTHORIZED {
                        let challenge = resp
                            .headers()
                            .get(WWW_AUTHENTICATE)
                            .and_then(|v| v.to_str().ok())
                            .map(str::to_string);
                        self.inner
                            .auth
                            .answer(
                                &self.inner.http,
                                registry,
                                req.reference.repository(),
                                &req.scope,
                                challenge.as_deref(),
                                auth_answered,
                            )
                            .await?;
                        auth_answered = true;
                        attempt -= 1; // an auth round trip is not a failure
                        continue;
                    }
                    let transient =
                        status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error();
                    if !transient {
                        return Ok(resp);
                    }
                    let retry_after = resp
                        .headers()
                        .get(reqwest::header::RETRY_AFTER)
                        .and_then(|v| v.to_str().ok())
                        .and_then(parse_retry_after);
                    let method = req.method.to_string();
                    let url = req.url.to_string();
                    let body = read_limited(resp, MAX_ERROR_BODY, &method, &url)
                        .await
                        .unwrap_or_default();
                    let codes = format_error_codes(&body);
                    // docs/registry.md: the CNCF registry answers a manifest
                    // with disallowed foreign URLs with 500 MANIFEST_BLOB_UNKNOWN.
                    // Retrying cannot help.
                    if codes.contains("MANIFEST_BLOB_UNKNOWN") {
                        return Err(RegistryError::ManifestBlobUnknown {
                            registry: registry.to_string(),
                            repository: req.reference.repository().to_string(),
                            what: req.url.path().rsplit('/').next().unwrap_or("").to_string(),
                            detail: codes,
                        });
                    }
                    if attempt >= max_attempts {
                        return Err(RegistryError::RetriesExhausted {
                            method,
                            url,
                            attempts: attempt,
                            last: format!("HTTP {}{codes}", status.as_u16()),
                        });
                    }
                    tokio::time::sleep(policy.delay(attempt, retry_after)).await;
                    continue;
                }
            };
            if attempt >= max_attempts {
                return Err(if max_attempts == 1 {
                    RegistryError::Transport {
                        method: req.method.to_string(),
                        url: req.url.to_string(),
                        reason: failure,
                    }
                } else {
                    RegistryError::RetriesExhausted {
                        method: req.method.to_string(),
                        url: req.url.to_string(),
                        attempts: attempt,
                        last: failure,
                    }
                });
            }
            tokio::time::sleep(policy.delay(attempt, None)).await;
        }
    }

    /// Turns an unexpected status into the matching typed error.
    pub(crate) async fn status_error(
        &self,
        resp: Response,
        reference: &Reference,
        action: &'static str,
        what: &str,
    ) -> RegistryError {
        let status = resp.status();
        let url = resp.url().to_string();
        let registry = reference.registry().to_string();
        let repository = reference.repository().to_string();
        match status {
            StatusCode::FORBIDDEN => RegistryError::Denied {
                registry,
                repository,
                action,
            },
            StatusCode::NOT_FOUND => RegistryError::NotFound {
                what: what.to_string(),
                registry,
                repository,
                hint: if action == "push" {
                    "; the repository may not exist and this registry may not create repositories on push: create it first".into()
                } else {
                    String::new()
                },
            },
            StatusCode::PAYLOAD_TOO_LARGE => RegistryError::TooLarge {
                registry,
                repository,
                what: what.to_string(),
            },
            StatusCode::UNAUTHORIZED => RegistryError::Unauthorized {
                registry: registry.clone(),
                repository,
                action,
                hint: format!("; run `docker login {registry}` or pass credentials"),
            },
            _ => {
                let body = read_limited(resp, MAX_ERROR_BODY, action, &url)
                    .await
                    .unwrap_or_default();
                RegistryError::Status {
                    method: action.to_string(),
                    url,
                    status: status.as_u16(),
                    codes: format_error_codes(&body),
                }
            }
        }
    }
}

/// `: CODE: message; CODE2: message2` from a distribution error body, or "".
pub(crate) fn format_error_codes(body: &[u8]) -> String {
    #[derive(serde::Deserialize)]
    struct Errors {
        #[serde(default)]
        errors: Vec<ErrorEntry>,
    }
    #[derive(serde::Deserialize)]
    struct ErrorEntry {
        #[serde(default)]
        code: String,
        #[serde(default)]
        message: String,
    }
    match serde_json::from_slice::<Errors>(body) {
        Ok(e) if !e.errors.is_empty() => {
            let parts: Vec<String> = e
                .errors
                .iter()
                .map(|x| format!("{}: {}", x.code, x.message))
                .collect();
            format!(": {}", parts.join("; "))
        }
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn collect(path: &std::path::Path, offset: u64, len: u64) -> Vec<std::io::Result<Bytes>> {
        file_chunks(path, offset, len)
            .await
            .expect("open")
            .collect()
            .await
    }

    #[tokio::test]
    async fn upload_chunks_are_the_range_in_order() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("blob");
        let data: Vec<u8> = (0..3 * UPLOAD_READ_CHUNK + 12_345)
            .map(|i| (i % 251) as u8)
            .collect();
        std::fs::write(&path, &data).expect("write");
        let offset = 1000u64;
        let len = data.len() as u64 - offset - 7;
        let chunks = collect(&path, offset, len).await;
        assert!(chunks.len() >= 4, "{} chunks", chunks.len());
        let got: Vec<u8> = chunks
            .into_iter()
            .flat_map(|c| c.expect("chunk").to_vec())
            .collect();
        assert_eq!(got, data[offset as usize..(offset + len) as usize]);
    }

    #[tokio::test]
    async fn a_missing_file_is_named() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("gone");
        let err = file_chunks(&path, 0, 10).await.err().expect("no file");
        assert_eq!(err.kind(), std::io::ErrorKind::NotFound);
        assert!(
            err.to_string().contains(&path.display().to_string()),
            "{err}"
        );
    }

    #[tokio::test]
    async fn a_file_shorter_than_the_upload_ends_in_an_error() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("blob");
        std::fs::write(&path, vec![7u8; 5000]).expect("write");
        let chunks = collect(&path, 0, 9000).await;
        let err = chunks
            .last()
            .expect("chunks")
            .as_ref()
            .expect_err("short file");
        assert_eq!(err.kind(), std::io::ErrorKind::UnexpectedEof);
        assert!(err.to_string().contains("4000 bytes"), "{err}");
        assert!(
            err.to_string().contains(&path.display().to_string()),
            "{err}"
        );
        let read: usize = chunks
            .iter()
            .filter_map(|c| c.as_ref().ok())
            .map(Bytes::len)
            .sum();
        assert_eq!(read, 5000);
    }
}
