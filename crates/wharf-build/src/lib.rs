//! Executes a build plan: [`Builder`] runs the stages of each target,
//! writes one layer per COPY/ADD in the stage's OS format, accumulates the
//! image configuration, and stores the images (see [`builder`] for what
//! runs today).
//!
//! Parts: the build context ([`context`]: confined path resolution,
//! `.dockerignore`-aware walks), COPY rules ([`copy_plan`]; every source kind
//! behind one trait in `copy_source`), layer emission ([`copy_layer`],
//! [`layer_store`]), `--chown`/`--chmod`
//! ([`users`]), cache keys ([`cache_key`]) and image emission ([`emit`]).
//!
//! An embedding program builds like this (here from `scratch`, so no
//! registry is needed; pass a [`RegistryResolver`] for base images):
//!
//! ```
//! use std::collections::BTreeMap;
//! use wharf_build::{BuildConfig, BuildContext, BuildEvent, BuildRequest, Builder, NoRegistry};
//!
//! let dir = tempfile::tempdir()?;
//! std::fs::write(dir.path().join("hello.txt"), "hello\n")?;
//! let dockerfile = "FROM scratch\nCOPY hello.txt /\nCMD [\"/hello.txt\"]\n";
//! let store = wharf_store::Store::open(dir.path().join("store"))?;
//! let builder = Builder::new(BuildConfig {
//!     store: store.clone(),
//!     compression: wharf_layer::Compression::Gzip { level: 6, threads: 0 },
//!     source_date_epoch: Some(0),
//!     no_cache: false,
//! });
//! let request = BuildRequest {
//!     file: wharf_frontend::dockerfile::parse("Dockerfile", dockerfile)?,
//!     source_text: dockerfile.to_string(),
//!     context: BuildContext::new(dir.path(), None),
//!     options: wharf_frontend::plan::PlanOptions::for_host(),
//!     labels: BTreeMap::new(),
//! };
//! let mut steps = 0;
//! let output = builder.build(&request, &NoRegistry, &mut |event| {
//!     if let BuildEvent::Step { .. } = event {
//!         steps += 1;
//!     }
//! })?;
//! let image = &output.images[0];
//! assert_eq!(steps, 2);
//! assert_eq!(image.layers.len(), 1);
//! assert_eq!(image.config.config.cmd.as_deref(), Some(&["/hello.txt".to_string()][..]));
//! // The manifest, config and layer are in the store, ready to tag, push or export.
//! assert!(image.layers_present(&store));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod annotations;
mod api;
pub mod attest;
mod bases;
pub mod build_cache;
pub mod builder;
pub mod cache_key;
mod clock;
pub mod context;
pub mod copy_layer;
pub mod copy_plan;
mod copy_source;
mod copy_step;
pub mod deliver;
pub mod emit;
pub mod git_source;
pub mod layer_store;
pub mod layout_images;
pub mod registry_resolver;
pub mod remote_context;
pub mod run_command;
#[cfg(target_os = "linux")]
mod run_mounts;
mod run_spec;
mod run_step;
pub mod secrets;
#[cfg(target_os = "linux")]
mod ssh_forward;
mod stage_exec;
mod stage_graph;
pub mod users;
pub mod wasm_artifact;
mod windows_dirs;
mod workdir_step;

pub use annotations::{Annotation, AnnotationError, AnnotationTarget, Annotations};
pub use api::{
    BaseResolver, BuildConfig, BuildError, BuildEvent, BuildOutput, BuildRequest, NoRegistry,
    ResolveError, ResolvedBase, StepWarning,
};
pub use attest::{AttestOptionError, AttestOptions, ProvenanceMode};
pub use builder::Builder;
pub use context::{BuildContext, ContextEntry, ContextError, EntryKind};
pub use copy_plan::{plan_copy, CopyEntry, CopyError, CopyRequest};
pub use deliver::{Delivery, DeliveryError};
pub use emit::BuiltImage;
pub use layer_store::RunRecord;
pub use registry_resolver::RegistryResolver;
pub use secrets::SecretSource;
