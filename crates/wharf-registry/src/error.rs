//! The registry client's error type. Messages name the registry, repository
//! or blob involved and say what to do; they never contain credentials or
//! tokens (URLs carry none: authentication travels in headers only).

use std::path::PathBuf;
use wharf_oci::ReferenceError;
use wharf_store::StoreError;

/// Everything that can go wrong talking to a registry.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// The image reference does not parse.
    #[error(transparent)]
    Reference(#[from] ReferenceError),
    /// Credentials could not be looked up.
    #[error(transparent)]
    Credentials(#[from] CredentialError),
    /// The local store failed (including a digest or size mismatch of
    /// downloaded content, which is then discarded).
    #[error(transparent)]
    Store(#[from] StoreError),
    /// 401: no or wrong credentials.
    #[error("{registry} refused {action} access to {repository} (401 unauthorized){hint}")]
    Unauthorized {
        /// The registry host.
        registry: String,
        /// The repository.
        repository: String,
        /// `pull` or `push`.
        action: &'static str,
        /// What to do about it.
        hint: String,
    },
    /// 403: authenticated but not allowed.
    #[error("{registry} denied {action} access to {repository} (403 forbidden): the account has no {action} permission on this repository; ask its owner for access or push to a repository you own")]
    Denied {
        /// The registry host.
        registry: String,
        /// The repository.
        repository: String,
        /// `pull` or `push`.
        action: &'static str,
    },
    /// 404 for a manifest or blob.
    #[error(
        "{what} not found in {registry}/{repository} (404): check the name, tag or digest{hint}"
    )]
    NotFound {
        /// What was asked for, e.g. "manifest latest".
        what: String,
        /// The registry host.
        registry: String,
        /// The repository.
        repository: String,
        /// Extra advice.
        hint: String,
    },
    /// 413: the registry (or a proxy in front of it) limits request size.
    #[error("{registry}/{repository} refused {what} as too large (413): the registry or a proxy in front of it limits upload size; raise the limit or use a smaller chunk size")]
    TooLarge {
        /// The registry host.
        registry: String,
        /// The repository.
        repository: String,
        /// What was being uploaded.
        what: String,
    },
    /// A server error that retrying will not fix, or other unexpected status.
    #[error("{method} {url} failed with HTTP {status}{codes}")]
    Status {
        /// HTTP method.
        method: String,
        /// The URL (never contains credentials).
        url: String,
        /// HTTP status code.
        status: u16,
        /// Registry error codes and messages from the body, formatted.
        codes: String,
    },
    /// The registry rejected a manifest because it references blobs it does
    /// not have, or (CNCF distribution) foreign-layer URLs it does not allow.
    #[error("{registry}/{repository} rejected manifest {what} with MANIFEST_BLOB_UNKNOWN{detail}: a referenced blob is missing, or the manifest has foreign-layer urls the registry does not allow; push the missing blobs, or allow the URLs in the registry's configuration (CNCF registry: validation.manifests.urls.allow)")]
    ManifestBlobUnknown {
        /// The registry host.
        registry: String,
        /// The repository.
        repository: String,
        /// Tag or digest being put.
        what: String,
        /// The registry's message.
        detail: String,
    },
    /// The request kept failing with transient errors.
    #[error("{method} {url} still failing after {attempts} attempts: {last}")]
    RetriesExhausted {
        /// HTTP method.
        method: String,
        /// The URL.
        url: String,
        /// How many attempts were made.
        attempts: u32,
        /// The last failure.
        last: String,
    },
    /// A connection-level failure.
    #[error("{method} {url}: {reason}")]
    Transport {
        /// HTTP method.
        method: String,
        /// The URL.
        url: String,
        /// The underlying error, without URL.
        reason: String,
    },
    /// A manifest of a kind Wharf does not read.
    #[error("{reference} has manifest media type {media_type:?}, which Wharf does not support (supported: OCI image manifest/index, Docker schema 2 manifest/manifest list)")]
    UnsupportedMediaType {
        /// The reference.
        reference: String,
        /// The media type the registry sent.
        media_type: String,
    },
    /// A manifest or token response is malformed.
    #[error("{what} from {url} is malformed: {reason}")]
    BadResponse {
        /// What was expected, e.g. "image manifest".
        what: String,
        /// Where it came from.
        url: String,
        /// Why it was refused.
        reason: String,
    },
    /// No index entry matches the wanted platform.
    #[error("{reference}: {source}")]
    NoMatchingPlatform {
        /// The reference.
        reference: String,
        /// The matcher's explanation (lists what the index offers).
        #[source]
        source: wharf_oci::NoMatchingPlatform,
    },
    /// Plain HTTP was required but not allowed.
    #[error("refusing plain HTTP to {host} for {what}: only loopback hosts and registries given with --insecure-registry may use HTTP")]
    InsecureRefused {
        /// The host.
        host: String,
        /// What the URL was for (token realm, foreign layer URL).
        what: String,
    },
    /// The registry offered no authentication scheme Wharf speaks.
    #[error("{registry} asked for authentication Wharf does not support ({header}); supported: Basic and Bearer")]
    UnsupportedAuth {
        /// The registry host.
        registry: String,
        /// The challenge header (contains no secrets).
        header: String,
    },
    /// A foreign layer could be fetched neither from the registry nor its URLs.
    #[error("foreign layer {digest} of {reference} could not be fetched: {tried}")]
    ForeignLayerUnavailable {
        /// The layer digest.
        digest: String,
        /// The image.
        reference: String,
        /// What was tried and how each failed.
        tried: String,
    },
    /// A blob to push is neither in the store nor mountable.
    #[error("cannot push {reference}: blob {digest} is not in the local store and could not be mounted from {mount_from}; pull the image with its layers first (wharf pull)")]
    BlobUnavailableForPush {
        /// The target.
        reference: String,
        /// The blob.
        digest: String,
        /// The repository a mount was attempted from, or "nowhere".
        mount_from: String,
    },
    /// A task failed unexpectedly (panicked or was cancelled).
    #[error("internal error: {0}")]
    Internal(String),
}

/// Why credentials could not be looked up.
#[derive(Debug, thiserror::Error)]
pub enum CredentialError {
    /// The Docker config file exists but cannot be read or parsed.
    #[error("cannot read Docker config {path}: {reason}; fix or remove the file")]
    BadConfig {
        /// The config file.
        path: PathBuf,
        /// What is wrong (never contains secrets).
        reason: String,
    },
    /// A credential helper failed.
    #[error("credential helper docker-credential-{helper} failed for {server}: {reason}")]
    Helper {
        /// Helper name (`desktop`, `ecr-login`, ...).
        helper: String,
        /// The server asked about.
        server: String,
        /// What went wrong (never contains secrets).
        reason: String,
    },
}
