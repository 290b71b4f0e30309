//! Wharf's OCI distribution client.
//!
//! - [`Reference`]: image references with Docker's normalisation.
//! - [`RegistryClient`]: TLS by default (plain HTTP only for loopback and
//!   `--insecure-registry` hosts), anonymous / Basic / Bearer-token auth
//!   with credentials from Docker's `config.json`, retries with backoff.
//! - Pull: [`RegistryClient::resolve`] (manifest + config for a platform,
//!   what a build needs from a base), [`RegistryClient::pull`] (plus layers,
//!   concurrently, then tagged in the store), [`RegistryClient::fetch_blob`].
//! - Push: the [`PushTarget`] trait, its registry implementation
//!   [`RemoteRepository`], and [`push_image`].
//!
//! TLS: rustls on every target but Windows, where the system TLS (schannel,
//! through native-tls) is used because rustls' crypto providers compile C
//! that the Windows type-check cannot build. The Windows build is
//! type-checked on Linux only; no Windows host has run it.

pub mod auth;
mod blob;
mod body;
mod client;
mod error;
mod manifest;
mod progress;
mod pull;
mod push;
mod retry;

pub use auth::{CredentialStore, Credentials, Secret};
pub use client::{ClientOptions, RegistryClient};
pub use error::RegistryError;
pub use manifest::{FetchedManifest, ResolvedImage, MAX_MANIFEST_SIZE};
pub use progress::{Direction, Progress, ProgressSink};
pub use pull::{PulledImage, ANNOTATION_SOURCE};
pub use push::{push_image, push_manifest, PushOptions, PushReport, PushTarget, RemoteRepository};
pub use retry::RetryPolicy;
