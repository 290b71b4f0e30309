//! Pushing: the [`PushTarget`] trait a builder pushes through, its registry
//! implementation [`RemoteRepository`], and [`push_image`], which pushes a
//! tagged image of the store (manifest or index) blob by blob.
//!
//! Per blob: HEAD first; then a cross-repository mount when the image came
//! from another repository of the same registry; then an upload, streamed
//! from the store in one PUT, or in PATCH chunks above
//! `ClientOptions::upload_chunk_size`. Foreign layers are skipped by default
//! (their descriptor and `urls` stay in the manifest).

use crate::auth::Scope;
use crate::client::{Body, RegistryClient, Request};
use crate::error::RegistryError;
use crate::progress::ProgressSink;
use crate::pull::ANNOTATION_SOURCE;
use bytes::Bytes;
use futures_util::StreamExt;
use reqwest::header::{HeaderMap, HeaderValue, CONTENT_TYPE};
use reqwest::{Method, Response, StatusCode, Url};
use std::future::Future;
use wharf_oci::Digest;
use wharf_oci::Reference;
use wharf_oci::{
    is_foreign_layer, manifest_kind, Descriptor, ImageIndex, ImageManifest, ManifestKind,
};
use wharf_store::Store;

/// Where a built image goes, blob by blob. The registry client implements
/// it ([`RemoteRepository`]); a builder can push through any implementation.
pub trait PushTarget {
    /// Whether the target already has the blob.
    fn blob_exists(
        &self,
        digest: &Digest,
    ) -> impl Future<Output = Result<bool, RegistryError>> + Send;
    /// Mounts the blob from another repository of the same registry;
    /// `false` when the registry declined.
    fn mount_blob(
        &self,
        digest: &Digest,
        from_repository: &str,
    ) -> impl Future<Output = Result<bool, RegistryError>> + Send;
    /// Uploads a blob of the store.
    fn upload_blob(
        &self,
        store: &Store,
        descriptor: &Descriptor,
    ) -> impl Future<Output = Result<(), RegistryError>> + Send;
    /// Puts a manifest or index under a tag or digest; returns its digest.
    fn put_manifest(
        &self,
        tag_or_digest: &str,
        media_type: &str,
        bytes: Bytes,
    ) -> impl Future<Output = Result<Digest, RegistryError>> + Send;
}

/// One repository of a registry, as a push target.
#[derive(Debug, Clone)]
pub struct RemoteRepository {
    client: RegistryClient,
    reference: Reference,
}

/// Options for [`push_image`].
#[derive(Debug, Clone, Default)]
pub struct PushOptions {
    /// Upload foreign (non-distributable) layers too, instead of skipping
    /// them. Their descriptors (media type, `urls`) stay as they are, so the
    /// registry must still accept the URLs.
    pub push_foreign_layers: bool,
    /// Where the image's blobs came from; defaults to the reference the
    /// image was pulled from (the store tag's source annotation). Blobs the
    /// target lacks are mounted from it when it is on the same registry.
    pub mount_from: Option<Reference>,
    /// Blobs neither in the store nor mountable (e.g. the base layers of a
    /// Windows image that was only resolved) are downloaded from
    /// `mount_from` with this client into the store, then uploaded: a copy
    /// between registries. Without it such blobs are an error.
    pub fetch_missing_with: Option<RegistryClient>,
    /// Blobs that came from elsewhere than `mount_from` (layers a build
    /// took from a registry build cache): mounted or fetched from their
    /// own repository.
    pub blob_sources: std::collections::HashMap<Digest, Reference>,
}

/// What a push did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PushReport {
    /// Digest of the top-level manifest or index.
    pub digest: Option<Digest>,
    /// Blobs uploaded.
    pub uploaded: usize,
    /// Blobs mounted from another repository.
    pub mounted: usize,
    /// Blobs the registry already had.
    pub existing: usize,
    /// Foreign layers left out.
    pub skipped_foreign: usize,
    /// Blobs downloaded from the source first (see
    /// [`PushOptions::fetch_missing_with`]).
    pub fetched: usize,
}

impl RegistryClient {
    /// The repository of `reference` as a push target.
    pub fn repository(&self, reference: &Reference) -> RemoteRepository {
        RemoteRepository {
            client: self.clone(),
            reference: reference.clone(),
        }
    }
}

impl RemoteRepository {
    /// The reference this target pushes to.
    pub fn reference(&self) -> &Reference {
        &self.reference
    }

    fn scope(&self) -> Scope {
        Scope::push(self.reference.repository())
    }

    async fn start_upload(
        &self,
        mount: Option<(&Digest, &str)>,
    ) -> Result<Response, RegistryError> {
        let mut url = self.client.url(&self.reference, "blobs/uploads/")?;
        let mut scope = self.scope();
        if let Some((digest, from)) = mount {
            url.query_pairs_mut()
                .append_pair("mount", digest.as_ref())
                .append_pair("from", from);
            scope = scope.and_pull(from);
        }
        let resp = self
            .client
            .send(Request {
                reference: &self.reference,
                scope,
                method: Method::POST,
                url,
                headers: HeaderMap::new(),
                body: Some(Body::Bytes(Bytes::new())),
                retry: true,
            })
            .await?;
        Ok(resp)
    }

    async fn upload_once(
        &self,
        path: &std::path::Path,
        descriptor: &Descriptor,
    ) -> Result<(), RegistryError> {
        let what = format!("blob {}", descriptor.digest);
        let resp = self.start_upload(None).await?;
        if resp.status() != StatusCode::ACCEPTED {
            return Err(self
                .client
                .status_error(resp, &self.reference, "push", &what)
                .await);
        }
        let mut location = self.client.location(resp.url(), &resp)?;
        let chunk = self.client.options().upload_chunk_size.max(1);
        let mut offset = 0u64;
        let policy = self.client.options().retry.clone();
        let mut chunk_failures = 0u32;
        if descriptor.size > chunk {
            while offset < descriptor.size {
                let len = chunk.min(descriptor.size - offset);
                match self
                    .patch(path, &location, offset, len, descriptor, &what)
                    .await
                {
                    Ok(next) => {
                        location = next;
                        offset += len;
                        chunk_failures = 0;
                    }
                    Err(e) if is_transient(&e) && chunk_failures + 1 < policy.max_attempts => {
                        chunk_failures += 1;
                        tokio::time::sleep(policy.delay(chunk_failures, None)).await;
                        // Continue where the registry says the session stands;
                        // when it cannot say, the caller starts over.
                        let (next, received) =
                            self.upload_status(&location).await.map_err(|_| e)?;
                        if received > descriptor.size {
                            return Err(RegistryError::BadResponse {
                                what: "upload status".into(),
                                url: location.to_string(),
                                reason: format!(
                                    "the registry claims {received} bytes of a {}-byte blob",
                                    descriptor.size
                                ),
                            });
                        }
                        location = next;
                        offset = received;
                    }
                    Err(e) => return Err(e),
                }
            }
        }
        location
            .query_pairs_mut()
            .append_pair("digest", descriptor.digest.as_ref());
        let body = Body::File {
            path: path.to_path_buf(),
            offset,
            len: descriptor.size - offset,
            progress: self.progress(descriptor),
        };
        let resp = self
            .send_upload(Method::PUT, location, octet_stream(), body)
            .await?;
        if resp.status() != StatusCode::CREATED {
            return Err(self
                .client
                .status_error(resp, &self.reference, "push", &what)
                .await);
        }
        Ok(())
    }

    fn progress(&self, descriptor: &Descriptor) -> Option<(ProgressSink, Digest, u64)> {
        self.client
            .options()
            .progress
            .clone()
            .map(|sink| (sink, descriptor.digest.clone(), descriptor.size))
    }

    /// Sends one chunk; returns the session's next location.
    async fn patch(
        &self,
        path: &std::path::Path,
        location: &Url,
        offset: u64,
        len: u64,
        descriptor: &Descriptor,
        what: &str,
    ) -> Result<Url, RegistryError> {
        let mut headers = octet_stream();
        let range = format!("{}-{}", offset, offset + len - 1);
        headers.insert(
            reqwest::header::CONTENT_RANGE,
            HeaderValue::from_str(&range).map_err(|e| RegistryError::Internal(e.to_string()))?,
        );
        let body = Body::File {
            path: path.to_path_buf(),
            offset,
            len,
            progress: self.progress(descriptor),
        };
        let resp = self
            .send_upload(Method::PATCH, location.clone(), headers, body)
            .await?;
        if resp.status() != StatusCode::ACCEPTED {
            return Err(self
                .client
                .status_error(resp, &self.reference, "push", what)
                .await);
        }
        self.client.location(location, &resp)
    }

    /// Asks how much of an upload session the registry holds: `(next
    /// location, bytes received)`, from the `Range: 0-<last>` header.
    async fn upload_status(&self, location: &Url) -> Result<(Url, u64), RegistryError> {
        let resp = self
            .send_upload_request(Method::GET, location.clone(), HeaderMap::new(), None)
            .await?;
        let bad = |reason: &str| RegistryError::BadResponse {
            what: "upload status".into(),
            url: location.to_string(),
            reason: reason.to_string(),
        };
        if resp.status() != StatusCode::NO_CONTENT {
            return Err(bad(&format!("HTTP {}", resp.status().as_u16())));
        }
        let last: u64 = resp
            .headers()
            .get(reqwest::header::RANGE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("0-"))
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| bad("no Range header"))?;
        // "0-0" is what the distribution registry says for an empty session
        // too; resending the first byte is harmless, skipping it is not.
        let received = if last == 0 { 0 } else { last + 1 };
        Ok((self.client.location(location, &resp)?, received))
    }

    async fn send_upload(
        &self,
        method: Method,
        url: Url,
        headers: HeaderMap,
        body: Body,
    ) -> Result<Response, RegistryError> {
        self.send_upload_request(method, url, headers, Some(body))
            .await
    }

    async fn send_upload_request(
        &self,
        method: Method,
        url: Url,
        headers: HeaderMap,
        body: Option<Body>,
    ) -> Result<Response, RegistryError> {
        self.client
            .send(Request {
                reference: &self.reference,
                scope: self.scope(),
                method,
                url,
                headers,
                body,
                // A failed request leaves the session in an unknown state;
                // the caller asks for the status or starts over instead.
                retry: false,
            })
            .await
    }
}

/// Failures worth a fresh upload session.
fn is_transient(e: &RegistryError) -> bool {
    match e {
        RegistryError::Transport { .. } | RegistryError::RetriesExhausted { .. } => true,
        RegistryError::Status { status, .. } => *status >= 500,
        _ => false,
    }
}

fn octet_stream() -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    h
}

impl PushTarget for RemoteRepository {
    async fn blob_exists(&self, digest: &Digest) -> Result<bool, RegistryError> {
        let url = self
            .client
            .url(&self.reference, &format!("blobs/{digest}"))?;
        let resp = self
            .client
            .send(Request {
                reference: &self.reference,
                scope: self.scope(),
                method: Method::HEAD,
                url,
                headers: HeaderMap::new(),
                body: None,
                retry: true,
            })
            .await?;
        match resp.status() {
            StatusCode::OK => Ok(true),
            StatusCode::NOT_FOUND => Ok(false),
            _ => Err(self
                .client
                .status_error(resp, &self.reference, "push", &format!("blob {digest}"))
                .await),
        }
    }

    async fn mount_blob(
        &self,
        digest: &Digest,
        from_repository: &str,
    ) -> Result<bool, RegistryError> {
        let resp = self.start_upload(Some((digest, from_repository))).await?;
        match resp.status() {
            StatusCode::CREATED => Ok(true),
            // The registry opened an ordinary upload session instead; it
            // expires on its own.
            StatusCode::ACCEPTED => Ok(false),
            _ => Err(self
                .client
                .status_error(resp, &self.reference, "push", &format!("blob {digest}"))
                .await),
        }
    }

    async fn upload_blob(
        &self,
        store: &Store,
        descriptor: &Descriptor,
    ) -> Result<(), RegistryError> {
        if store.blob_size(&descriptor.digest) != Some(descriptor.size) {
            return Err(RegistryError::BlobUnavailableForPush {
                reference: self.reference.to_string(),
                digest: descriptor.digest.to_string(),
                mount_from: "nowhere".into(),
            });
        }
        // Get a token first, so that a large body is not streamed only to
        // be answered with 401.
        self.client
            .inner
            .auth
            .ensure_token(
                &self.client.inner.http,
                self.reference.registry(),
                &self.scope(),
            )
            .await?;
        let path = store.blob_path(&descriptor.digest);
        let policy = self.client.options().retry.clone();
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self.upload_once(&path, descriptor).await {
                Ok(()) => return Ok(()),
                Err(e) if attempt < policy.max_attempts && is_transient(&e) => {
                    // The session is in an unknown state: start a new one.
                    tokio::time::sleep(policy.delay(attempt, None)).await;
                }
                Err(e) => return Err(e),
            }
        }
    }

    async fn put_manifest(
        &self,
        tag_or_digest: &str,
        media_type: &str,
        bytes: Bytes,
    ) -> Result<Digest, RegistryError> {
        let url = self
            .client
            .url(&self.reference, &format!("manifests/{tag_or_digest}"))?;
        let mut headers = HeaderMap::new();
        headers.insert(
            CONTENT_TYPE,
            HeaderValue::from_str(media_type).map_err(|_| RegistryError::BadResponse {
                what: "manifest media type".into(),
                url: url.to_string(),
                reason: format!("{media_type:?} is not a valid header value"),
            })?,
        );
        let digest = wharf_oci::Digest::of_bytes(&bytes);
        let resp = self
            .client
            .send(Request {
                reference: &self.reference,
                scope: self.scope(),
                method: Method::PUT,
                url,
                headers,
                body: Some(Body::Bytes(bytes)),
                retry: true,
            })
            .await?;
        if resp.status() != StatusCode::CREATED {
            return Err(self
                .client
                .status_error(
                    resp,
                    &self.reference,
                    "push",
                    &format!("manifest {tag_or_digest}"),
                )
                .await);
        }
        Ok(digest)
    }
}

/// Pushes the store image named `source` to `target` (its tag, or
/// `latest`). Indexes are pushed with every platform manifest present in
/// the store; each manifest is put by digest, the top level by tag.
pub async fn push_image<T: PushTarget + Sync>(
    target: &T,
    target_ref: &Reference,
    store: &Store,
    source: &str,
    options: &PushOptions,
) -> Result<PushReport, RegistryError> {
    // Blobs fetched for the push must survive a concurrent collection.
    let _lease = store.lease()?;
    let top = store.resolve(source)?;
    push_manifest(target, target_ref, store, &top, options).await
}

/// Pushes the manifest or index `top` of the store (its blobs and, for an
/// index, every manifest it lists) to `target`, the top level under
/// `target_ref`'s tag. The caller holds a store lease.
pub async fn push_manifest<T: PushTarget + Sync>(
    target: &T,
    target_ref: &Reference,
    store: &Store,
    top: &Descriptor,
    options: &PushOptions,
) -> Result<PushReport, RegistryError> {
    let source = top.digest.to_string();
    let mount_from = options.mount_from.clone().or_else(|| {
        top.annotations
            .as_ref()
            .and_then(|a| a.get(ANNOTATION_SOURCE))
            .and_then(|s| Reference::parse(s).ok())
    });
    let ctx = BlobContext {
        target_ref,
        store,
        mount_from: mount_from.as_ref(),
        sources: &options.blob_sources,
        client: options.fetch_missing_with.as_ref(),
    };
    let mut report = PushReport::default();
    let manifests: Vec<Descriptor> = match manifest_kind(&top.media_type) {
        Some(ManifestKind::Image) => vec![top.clone()],
        Some(ManifestKind::Index) => {
            let index: ImageIndex = store.read_json(&top.digest, "image index")?;
            index.manifests
        }
        None => {
            return Err(RegistryError::UnsupportedMediaType {
                reference: source.to_string(),
                media_type: top.media_type.clone(),
            })
        }
    };
    let is_index = manifest_kind(&top.media_type) == Some(ManifestKind::Index);
    for m in &manifests {
        let manifest: ImageManifest = store.read_json(&m.digest, "image manifest")?;
        let mut blobs = vec![manifest.config.clone()];
        blobs.extend(manifest.layers.iter().cloned());
        let mut wanted = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for blob in &blobs {
            if is_foreign_layer(&blob.media_type) && !options.push_foreign_layers {
                report.skipped_foreign += 1;
            } else if seen.insert(&blob.digest) {
                // A blob listed twice (two identical layers) goes up once.
                wanted.push(blob);
            }
        }
        // Several blobs at once, as Docker and skopeo push: one upload
        // rarely fills the link or the registry's disk.
        let mut pushes = futures_util::stream::iter(
            wanted.into_iter().map(|blob| push_blob(target, &ctx, blob)),
        )
        .buffer_unordered(PUSH_CONCURRENCY);
        while let Some(outcome) = pushes.next().await {
            match outcome? {
                BlobOutcome::Existing => report.existing += 1,
                BlobOutcome::Mounted => report.mounted += 1,
                BlobOutcome::Uploaded { fetched } => {
                    report.uploaded += 1;
                    report.fetched += usize::from(fetched);
                }
            }
        }
        let bytes = Bytes::from(store.read_document(&m.digest, "image manifest")?);
        let reference = if is_index {
            m.digest.to_string()
        } else {
            target_ref.manifest_ref()
        };
        let digest = target
            .put_manifest(&reference, &m.media_type, bytes)
            .await?;
        if !is_index {
            report.digest = Some(digest);
        }
    }
    if is_index {
        let bytes = Bytes::from(store.read_document(&top.digest, "image index")?);
        report.digest = Some(
            target
                .put_manifest(&target_ref.manifest_ref(), &top.media_type, bytes)
                .await?,
        );
    }
    Ok(report)
}

/// What [`push_blob`] needs besides the blob.
struct BlobContext<'a> {
    target_ref: &'a Reference,
    store: &'a Store,
    /// Where the image's blobs came from, unless `sources` names a blob.
    mount_from: Option<&'a Reference>,
    sources: &'a std::collections::HashMap<Digest, Reference>,
    /// Client to download missing blobs from their source with.
    client: Option<&'a RegistryClient>,
}

impl BlobContext<'_> {
    fn source_of(&self, digest: &Digest) -> Option<&Reference> {
        self.sources.get(digest).or(self.mount_from)
    }

    /// A repository of the target's registry to mount `digest` from.
    fn mount_repo(&self, digest: &Digest) -> Option<&str> {
        self.source_of(digest)
            .filter(|m| {
                m.registry() == self.target_ref.registry()
                    && m.repository() != self.target_ref.repository()
            })
            .map(|m| m.repository())
    }
}

async fn push_blob<T: PushTarget + Sync>(
    target: &T,
    ctx: &BlobContext<'_>,
    blob: &Descriptor,
) -> Result<BlobOutcome, RegistryError> {
    if target.blob_exists(&blob.digest).await? {
        return Ok(BlobOutcome::Existing);
    }
    if let Some(from) = ctx.mount_repo(&blob.digest) {
        if target.mount_blob(&blob.digest, from).await? {
            return Ok(BlobOutcome::Mounted);
        }
    }
    let mut fetched = false;
    if ctx.store.blob_size(&blob.digest) != Some(blob.size) {
        let (Some(client), Some(source)) = (ctx.client, ctx.source_of(&blob.digest)) else {
            return Err(RegistryError::BlobUnavailableForPush {
                reference: ctx.target_ref.to_string(),
                digest: blob.digest.to_string(),
                mount_from: ctx
                    .mount_repo(&blob.digest)
                    .unwrap_or("nowhere")
                    .to_string(),
            });
        };
        client.fetch_blob(source, blob, ctx.store).await?;
        fetched = true;
    }
    target.upload_blob(ctx.store, blob).await?;
    Ok(BlobOutcome::Uploaded { fetched })
}

/// What happened to one blob of a push.
enum BlobOutcome {
    Existing,
    Mounted,
    Uploaded { fetched: bool },
}

/// Blobs pushed at the same time.
const PUSH_CONCURRENCY: usize = 4;
