//! The builder's API: [`Builder::new`] with a [`BuildConfig`], then
//! [`Builder::build`] with a [`BuildRequest`], giving [`BuildOutput`]
//! (one [`BuiltImage`] per platform, and an index when there are several),
//! with [`BuildEvent`]s reported as steps run.
//!
//! A build plans once from the Dockerfile alone to learn its base images,
//! resolves them through a [`BaseResolver`] (manifest and configuration
//! only: base layers are referenced, not downloaded), plans again with
//! what the bases declare, and runs each target's stages in plan order.
//!
//! What runs today: FROM (image, stage, scratch), COPY and ADD of local
//! files and here-documents, ADD extracting local tar archives, ADD of
//! http(s) URLs (verified with `--checksum`), COPY --from another stage or
//! an image in either OS direction (their layers are downloaded only
//! then), ADD of git repositories (through the `git` command), and every
//! configuration instruction. RUN needs an executor and is refused with
//! its line.

use crate::context::BuildContext;
use crate::emit::{emit_image, emit_index, BuiltImage};
use crate::layer_store::{LayerRef, LayerStore, LayerStoreError};
use crate::run_seam::{RunExecutor, SecretSource};
use crate::stage_exec::{StageExec, StageResult};
use std::collections::{BTreeMap, HashMap};
use wharf_frontend::ast::BuildFile;
use wharf_frontend::plan::{
    plan, Base, BaseImage, KnownBaseImages, NoBaseImages, Plan, PlanOptions,
};
use wharf_frontend::FrontendError;
use wharf_image::ImageConfig;
use wharf_layer::Compression;
use wharf_platform::Platform;
use wharf_store::oci::Descriptor;
use wharf_store::{Digest, Store, StoreError};

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
    /// The image manifest's digest (identifies the base in cache keys).
    pub manifest_digest: Digest,
    pub config: ImageConfig,
    /// Its layers, with media types and `urls` as the registry gave them.
    pub layers: Vec<LayerRef>,
    /// Explanation of a non-obvious platform choice.
    pub note: Option<String>,
}

/// Resolves base image references (a registry client, or a test double).
pub trait BaseResolver {
    /// The image `reference` names for `platform`; the error says why not.
    fn resolve(&self, reference: &str, platform: &Platform) -> Result<ResolvedBase, String>;

    /// Downloads `url` into the store (for `ADD <url>`), verified against
    /// `checksum` (`sha256:...`) when given; returns its digest.
    fn download(&self, url: &str, checksum: Option<&str>, store: &Store) -> Result<Digest, String> {
        let _ = (checksum, store);
        Err(format!(
            "this build has no network access to download {url}"
        ))
    }

    /// Puts the `layers` of the image `reference` that the store lacks into
    /// it (COPY --from reads them). The default can only report what is
    /// missing.
    fn fetch_layers(
        &self,
        reference: &str,
        layers: &[LayerRef],
        store: &Store,
    ) -> Result<(), String> {
        match layers
            .iter()
            .find(|l| store.blob_size(&l.descriptor.digest) != Some(l.descriptor.size))
        {
            Some(l) => Err(format!(
                "layer {} of {reference} is not in the store and this build cannot download it",
                l.descriptor.digest
            )),
            None => Ok(()),
        }
    }
}

/// A resolver that knows no image: builds from `scratch` and stages only.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoRegistry;

impl BaseResolver for NoRegistry {
    fn resolve(&self, reference: &str, _: &Platform) -> Result<ResolvedBase, String> {
        Err(format!(
            "cannot resolve {reference}: this build has no registry access"
        ))
    }
}

/// Progress of a build, for a progress view or a JSON event stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BuildEvent {
    /// A step (instruction) begins.
    StepStarted {
        platform: String,
        stage: String,
        line: usize,
        text: String,
    },
    /// Bytes of file data packed so far into the layer of the step at `line`.
    LayerProgress { line: usize, bytes: u64 },
    /// A step (instruction) finished.
    Step {
        platform: String,
        stage: String,
        line: usize,
        text: String,
        cached: bool,
    },
    /// A line a RUN command wrote (the step at `line`).
    RunOutput {
        line: usize,
        stderr: bool,
        text: String,
    },
    /// Something worth telling (platform choices, skipped names).
    Note(String),
    /// A problem that did not stop the build.
    Warning(String),
}

/// The result: one image per target platform, and an index over them when
/// there are several.
#[derive(Debug, Clone)]
pub struct BuildOutput {
    pub plan: Plan,
    pub images: Vec<BuiltImage>,
    pub index: Option<Descriptor>,
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
    #[error("{file}:{line}: FROM {reference}: {message}")]
    Resolve {
        file: String,
        line: usize,
        reference: String,
        message: String,
    },
    #[error("{file}:{line}: {message}")]
    Step {
        file: String,
        line: usize,
        message: String,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Layer(#[from] LayerStoreError),
}

/// Builds images. See the module docs.
pub struct Builder {
    config: BuildConfig,
    run_executor: Option<std::sync::Arc<dyn RunExecutor>>,
    secrets: BTreeMap<String, SecretSource>,
}

impl Builder {
    pub fn new(config: BuildConfig) -> Self {
        Builder {
            config,
            run_executor: None,
            secrets: BTreeMap::new(),
        }
    }

    /// Secrets by id, for `RUN --mount=type=secret,id=...`.
    pub fn with_secrets(mut self, secrets: BTreeMap<String, SecretSource>) -> Self {
        self.secrets = secrets;
        self
    }

    /// Runs RUN instructions through `executor` (for the platforms it
    /// supports); without one, RUN is refused.
    pub fn with_run_executor(mut self, executor: std::sync::Arc<dyn RunExecutor>) -> Self {
        self.run_executor = Some(executor);
        self
    }

    /// Runs a build.
    pub fn build(
        &self,
        req: &BuildRequest,
        resolver: &dyn BaseResolver,
        events: &mut dyn FnMut(BuildEvent),
    ) -> Result<BuildOutput, BuildError> {
        // Blobs this build reads or writes must survive a concurrent prune.
        let _lease = self.config.store.lease()?;
        let first = plan(&req.file, &req.source_text, &req.options, &NoBaseImages)?;
        let mut known = KnownBaseImages::default();
        let mut resolved: HashMap<(String, String), ResolvedBase> = HashMap::new();
        for (reference, platform) in first.base_images() {
            let line = first_line_of(&first, &reference);
            let base =
                resolver
                    .resolve(&reference, &platform)
                    .map_err(|message| BuildError::Resolve {
                        file: req.file.path.clone(),
                        line,
                        reference: reference.clone(),
                        message,
                    })?;
            if let Some(n) = &base.note {
                events(BuildEvent::Note(format!("{reference}: {n}")));
            }
            let info: BaseImage = base.config.as_base_image();
            known
                .0
                .insert((reference.clone(), platform.to_string()), info);
            resolved.insert((reference, platform.to_string()), base);
        }
        let requested: HashMap<(usize, usize), String> = first
            .targets
            .iter()
            .enumerate()
            .flat_map(|(t, target)| {
                target
                    .stages
                    .iter()
                    .map(move |s| ((t, s.index), s.platform.to_string()))
            })
            .collect();
        let plan = plan(&req.file, &req.source_text, &req.options, &known)?;
        for w in &plan.warnings {
            events(BuildEvent::Warning(match w.line {
                Some(l) => format!("{}:{l}: {}", plan.file, w.message),
                None => format!("{}: {}", plan.file, w.message),
            }));
        }

        let layers = LayerStore::new(self.config.store.clone(), self.config.compression);
        let unexported_layers = layers.for_unexported_stages();
        let mut images = Vec::new();
        for (t_index, target) in plan.targets.iter().enumerate() {
            // The output stage and the stages it is built FROM: their
            // layers are the image's.
            let mut exported = std::collections::HashSet::new();
            let mut next = Some(target.output_stage);
            while let Some(i) = next.filter(|i| exported.insert(*i)) {
                next = target
                    .stages
                    .iter()
                    .find(|s| s.index == i)
                    .and_then(|s| match s.base {
                        Base::Stage { index, .. } => Some(index),
                        _ => None,
                    });
            }
            let mut results: HashMap<usize, StageResult> = HashMap::new();
            for stage in &target.stages {
                let base = match &stage.base {
                    Base::Image { reference, .. } => {
                        // The platform the base was resolved for is the
                        // one the first plan asked (the second plan refines
                        // it with the base's own os.version).
                        let asked = requested
                            .get(&(t_index, stage.index))
                            .cloned()
                            .unwrap_or_else(|| stage.platform.to_string());
                        let found = resolved.get(&(reference.clone(), asked)).cloned();
                        Some(found.ok_or_else(|| BuildError::Resolve {
                            file: req.file.path.clone(),
                            line: stage.line,
                            reference: reference.clone(),
                            message: "the base image was not resolved".into(),
                        })?)
                    }
                    _ => None,
                };
                let lookup_image = |reference: &str| {
                    let asked = requested
                        .get(&(t_index, stage.index))
                        .cloned()
                        .unwrap_or_else(|| stage.platform.to_string());
                    resolved.get(&(reference.to_string(), asked)).cloned()
                };
                let exec = StageExec {
                    file: &req.file.path,
                    run_executor: self.run_executor.as_deref(),
                    secrets: &self.secrets,
                    resolver,
                    lookup_image: &lookup_image,
                    context: &req.context,
                    layers: if exported.contains(&stage.index) {
                        &layers
                    } else {
                        &unexported_layers
                    },
                    config: &self.config,
                    target_platform: &target.platform,
                };
                let result = exec.run(stage, base.as_ref(), &results, events)?;
                results.insert(stage.index, result);
            }
            let out = results
                .remove(&target.output_stage)
                .ok_or_else(|| BuildError::Step {
                    file: req.file.path.clone(),
                    line: 0,
                    message: "the output stage was not built".into(),
                })?;
            let mut config = out.config;
            for (k, v) in &req.labels {
                config.config.labels.insert(k.clone(), v.clone());
            }
            config.created = Some(rfc3339(self.config.source_date_epoch.unwrap_or_else(now)));
            let platform = config.platform();
            let mut image = emit_image(&self.config.store, &platform, config, out.layers)?;
            image.base_reference = root_base(target, target.output_stage);
            images.push(image);
        }
        let index = if images.len() > 1 {
            Some(emit_index(&self.config.store, &images)?)
        } else {
            None
        };
        Ok(BuildOutput {
            plan,
            images,
            index,
        })
    }
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// The image reference a stage is ultimately based on (through stages).
fn root_base(target: &wharf_frontend::plan::TargetPlan, mut index: usize) -> Option<String> {
    loop {
        let stage = target.stages.iter().find(|s| s.index == index)?;
        match &stage.base {
            Base::Image { reference, .. } => return Some(reference.clone()),
            Base::Stage { index: i, .. } => index = *i,
            Base::Scratch => return None,
        }
    }
}

fn first_line_of(plan: &Plan, reference: &str) -> usize {
    plan.targets
        .iter()
        .flat_map(|t| &t.stages)
        .find(|s| matches!(&s.base, Base::Image { reference: r, .. } if r == reference))
        .map(|s| s.line)
        .unwrap_or(0)
}

/// `YYYY-MM-DDTHH:MM:SSZ` for seconds since the epoch (UTC, proleptic
/// Gregorian calendar; days-from-civil inverted).
pub fn rfc3339(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::rfc3339;

    #[test]
    fn rfc3339_dates() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_700_000_000), "2023-11-14T22:13:20Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
    }
}
