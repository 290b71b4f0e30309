//! What crosses the builder's boundary: the build's settings
//! ([`BuildConfig`]) and request ([`BuildRequest`]), the base images a
//! [`BaseResolver`] finds, the [`BuildEvent`]s a build reports (serialisable,
//! for a JSON event stream), its [`BuildOutput`] and its [`BuildError`]s.

use crate::context::BuildContext;
use crate::emit::BuiltImage;
use crate::layer_store::LayerStoreError;
use serde::Serialize;
use std::collections::BTreeMap;
use wharf_frontend::ast::BuildFile;
use wharf_frontend::plan::{Plan, PlanOptions};
use wharf_frontend::FrontendError;
use wharf_layer::Compression;
use wharf_oci::{Descriptor, Digest, ImageConfig, LayerRef, Platform, Reference};
use wharf_store::{Store, StoreError};

/// How the builder works, independent of what it builds.
#[derive(Debug, Clone)]
pub struct BuildConfig {
    /// Where blobs, images and the instruction cache live.
    pub store: Store,
    /// Compression of new layers.
    pub compression: Compression,
    /// `SOURCE_DATE_EPOCH`: image `created`, history times and an upper
    /// bound of file times, for reproducible images.
    pub source_date_epoch: Option<u64>,
    /// Ignore the instruction cache (it is still written).
    pub no_cache: bool,
}

impl BuildConfig {
    /// The build's one clock: `SOURCE_DATE_EPOCH` when set, else now
    /// (seconds since the epoch), for `created`, history and file times.
    pub fn time(&self) -> u64 {
        self.source_date_epoch.unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0)
        })
    }
}

/// What to build.
#[derive(Debug, Clone)]
pub struct BuildRequest {
    /// The parsed build file and its text (for error quotes).
    pub file: BuildFile,
    pub source_text: String,
    pub context: BuildContext,
    /// Build args, target, platforms, host capabilities.
    pub options: PlanOptions,
    /// `--label`s for the final image.
    pub labels: BTreeMap<String, String>,
}

/// A base image as its registry describes it.
#[derive(Debug, Clone)]
pub struct ResolvedBase {
    /// The image, as the build file named it (parsed).
    pub reference: Reference,
    /// The image manifest's digest (identifies the base in cache keys).
    pub manifest_digest: Digest,
    pub config: ImageConfig,
    /// Its layers, with media types and `urls` as the registry gave them.
    pub layers: Vec<LayerRef>,
    /// Explanation of a non-obvious platform choice.
    pub note: Option<String>,
}

impl ResolvedBase {
    /// The base `reference` names, from its manifest's layers and its
    /// configuration's diff_ids (which must pair up: else the image is
    /// damaged, and `source` says where it came from).
    pub fn from_parts(
        reference: Reference,
        manifest_digest: Digest,
        manifest_layers: &[Descriptor],
        config: ImageConfig,
        note: Option<String>,
        source: &str,
    ) -> Result<Self, ResolveError> {
        if config.rootfs.diff_ids.len() != manifest_layers.len() {
            return Err(ResolveError::Unavailable(format!(
                "{source}: the manifest lists {} layers but the configuration {} diff_ids; the image is damaged",
                manifest_layers.len(),
                config.rootfs.diff_ids.len()
            )));
        }
        let layers = manifest_layers
            .iter()
            .zip(&config.rootfs.diff_ids)
            .map(|(d, diff)| LayerRef {
                descriptor: d.clone(),
                diff_id: diff.clone(),
            })
            .collect();
        Ok(ResolvedBase {
            reference,
            manifest_digest,
            config,
            layers,
            note,
        })
    }
}

/// Why a base image, its layers or a download could not be had.
#[derive(Debug, thiserror::Error)]
pub enum ResolveError {
    /// The registry refused or failed.
    #[error(transparent)]
    Registry(Box<wharf_registry::RegistryError>),
    /// The store could not hold or read what arrived.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The image is not usable as it is (damaged, or not reachable from
    /// this build); the message says why and what to do.
    #[error("{0}")]
    Unavailable(String),
}

impl From<wharf_registry::RegistryError> for ResolveError {
    fn from(e: wharf_registry::RegistryError) -> Self {
        ResolveError::Registry(Box::new(e))
    }
}

/// Resolves base image references (a registry client, or a test double).
pub trait BaseResolver: Sync {
    /// The image `reference` names for `platform`.
    fn resolve(
        &self,
        reference: &Reference,
        platform: &Platform,
    ) -> Result<ResolvedBase, ResolveError>;

    /// Downloads `url` into the store (for `ADD <url>`), verified against
    /// `checksum` when given; returns its digest.
    fn download(
        &self,
        url: &str,
        checksum: Option<&Digest>,
        store: &Store,
    ) -> Result<Digest, ResolveError> {
        let _ = (checksum, store);
        Err(ResolveError::Unavailable(format!(
            "this build has no network access to download {url}"
        )))
    }

    /// Puts the `layers` of the image `reference` that the store lacks into
    /// it (COPY --from reads them). The default can only report what is
    /// missing.
    fn fetch_layers(
        &self,
        reference: &Reference,
        layers: &[LayerRef],
        store: &Store,
    ) -> Result<(), ResolveError> {
        match layers
            .iter()
            .find(|l| store.blob_size(&l.descriptor.digest) != Some(l.descriptor.size))
        {
            Some(l) => Err(ResolveError::Unavailable(format!(
                "layer {} of {} is not in the store and this build cannot download it",
                l.descriptor.digest,
                reference.familiar()
            ))),
            None => Ok(()),
        }
    }
}

/// A resolver that knows no image: builds from `scratch` and stages only.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoRegistry;

impl BaseResolver for NoRegistry {
    fn resolve(&self, reference: &Reference, _: &Platform) -> Result<ResolvedBase, ResolveError> {
        Err(ResolveError::Unavailable(format!(
            "cannot resolve {}: this build has no registry access",
            reference.familiar()
        )))
    }
}

/// Progress of a build, for a progress view or a JSON event stream: it
/// serialises as one object per event, its kind in `event`
/// (`step-started`, `step`, `layer-progress`, `run-output`, `note`,
/// `warning`), a step's text as `instruction`, a RUN line's stream as
/// `stream` (`stdout` or `stderr`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "event", rename_all = "kebab-case")]
pub enum BuildEvent {
    /// A step (instruction) begins.
    StepStarted {
        platform: String,
        stage: String,
        line: usize,
        #[serde(rename = "instruction")]
        text: String,
    },
    /// Bytes of file data packed so far into the layer of the step at
    /// `line` of `stage` (built for `platform`).
    LayerProgress {
        platform: String,
        stage: String,
        line: usize,
        bytes: u64,
    },
    /// A step (instruction) finished.
    Step {
        platform: String,
        stage: String,
        line: usize,
        #[serde(rename = "instruction")]
        text: String,
        cached: bool,
    },
    /// A line a RUN command wrote (the step at `line` of `stage`, built
    /// for `platform`; stages run at the same time).
    RunOutput {
        platform: String,
        stage: String,
        line: usize,
        #[serde(rename = "stream", serialize_with = "stream_name")]
        stderr: bool,
        text: String,
    },
    /// Something worth telling (platform choices, skipped names).
    Note { message: String },
    /// A problem that did not stop the build; `names` lists every path
    /// it concerns when the message only summarises them.
    Warning {
        message: String,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        names: Vec<String>,
    },
}

/// What a step warns of: a message and the paths it concerns. Kept with
/// the step's cache record, so a cached step tells it again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct StepWarning {
    pub message: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub names: Vec<String>,
}

/// How many names a warning shows before it only counts them.
const NAMES_SHOWN: usize = 5;

impl StepWarning {
    /// The warning of the step at `file:line`: its message and up to a
    /// few names; every name is in the event's `names`.
    pub fn event(&self, file: &str, line: usize) -> BuildEvent {
        let mut message = format!("{file}:{line}: {}", self.message);
        if !self.names.is_empty() {
            message.push_str(": ");
            message.push_str(&self.names[..self.names.len().min(NAMES_SHOWN)].join(", "));
            if self.names.len() > NAMES_SHOWN {
                message.push_str(&format!(
                    " and {} more (--progress json lists them all)",
                    self.names.len() - NAMES_SHOWN
                ));
            }
        }
        BuildEvent::Warning {
            message,
            names: self.names.clone(),
        }
    }
}

impl BuildEvent {
    /// A note.
    pub fn note(message: impl Into<String>) -> Self {
        BuildEvent::Note {
            message: message.into(),
        }
    }

    /// A warning.
    pub fn warning(message: impl Into<String>) -> Self {
        BuildEvent::Warning {
            message: message.into(),
            names: Vec::new(),
        }
    }
}

fn stream_name<S: serde::Serializer>(stderr: &bool, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(if *stderr { "stderr" } else { "stdout" })
}

/// The result: one image per target platform, and an index over them when
/// there are several or the build attaches attestations (which the index
/// then also lists).
///
/// It holds the build's store lease: until the output (and every clone) is
/// dropped, `prune` waits, so the blobs the build wrote survive until they
/// are tagged or exported. Drop it once delivered.
#[derive(Debug, Clone)]
pub struct BuildOutput {
    pub plan: Plan,
    pub images: Vec<BuiltImage>,
    pub index: Option<Descriptor>,
    /// Every instruction cache record the build hit or wrote (what
    /// `--cache-to` exports).
    pub cache_records: Vec<crate::build_cache::CacheEntry>,
    /// The shared caches the build read, which hold layers the store may
    /// lack.
    pub imported_cache: Option<std::sync::Arc<crate::build_cache::ImportedCache>>,
    pub(crate) _lease: std::sync::Arc<wharf_store::StoreLease>,
}

impl BuildOutput {
    /// The descriptor to tag or push: the index, or the single manifest.
    pub fn root(&self) -> Option<&Descriptor> {
        self.index
            .as_ref()
            .or_else(|| self.images.first().map(|i| &i.manifest))
    }
}

/// Why a build stopped.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error(transparent)]
    Plan(#[from] FrontendError),
    #[error(transparent)]
    Annotation(#[from] crate::annotations::AnnotationError),
    /// A stage stopped because another stage of the build failed (that
    /// failure is the one reported).
    #[error("the build stopped after another stage failed")]
    Stopped,
    /// A base image (of a `FROM`, a `COPY --from` or a `RUN --mount
    /// from=`) could not be resolved; `used_as` is how that line names it.
    #[error("{file}:{line}: {used_as}: {message}")]
    Resolve {
        file: String,
        line: usize,
        used_as: String,
        message: String,
    },
    #[error("{file}:{line}: {message}")]
    Step {
        file: String,
        line: usize,
        message: String,
    },
    /// An attestation could not be computed.
    #[error("{file}: attestations: {message}")]
    Attest { file: String, message: String },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Layer(#[from] LayerStoreError),
}

#[cfg(test)]
mod tests {
    use super::BuildEvent;

    #[test]
    fn events_serialise_as_the_json_stream_documents_them() {
        let e = BuildEvent::RunOutput {
            platform: "linux/amd64".into(),
            stage: "build".into(),
            line: 3,
            stderr: true,
            text: "oops".into(),
        };
        let v = serde_json::to_value(&e).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"event": "run-output", "platform": "linux/amd64", "stage": "build", "line": 3, "stream": "stderr", "text": "oops"})
        );
        let v = serde_json::to_value(BuildEvent::Step {
            platform: "linux/amd64".into(),
            stage: "build".into(),
            line: 2,
            text: "COPY a /".into(),
            cached: true,
        })
        .unwrap();
        assert_eq!(v["event"], "step");
        assert_eq!(v["instruction"], "COPY a /");
        assert_eq!(v["cached"], true);
        let v = serde_json::to_value(BuildEvent::warning("w")).unwrap();
        assert_eq!(v, serde_json::json!({"event": "warning", "message": "w"}));
    }
}
