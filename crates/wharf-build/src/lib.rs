//! Executes a build plan: [`Builder`] runs the stages of each target,
//! writes one layer per COPY/ADD in the stage's OS format, accumulates the
//! image configuration, and stores the images (see [`builder`] for what
//! runs today).
//!
//! Parts: the build context ([`context`]: confined path resolution,
//! `.dockerignore`-aware walks), COPY rules ([`copy_plan`], [`copy_from`]),
//! layer emission ([`copy_layer`], [`layer_store`]), `--chown`/`--chmod`
//! ([`ownership`]), cache keys ([`cache_key`]) and image emission ([`emit`]).

pub mod builder;
pub mod cache_key;
pub mod context;
pub mod copy_from;
pub mod copy_layer;
pub mod copy_plan;
pub mod emit;
pub mod layer_store;
pub mod ownership;
pub mod registry_resolver;
mod stage_exec;

pub use builder::{
    BaseResolver, BuildConfig, BuildError, BuildEvent, BuildOutput, BuildRequest, Builder,
    NoRegistry, ResolvedBase,
};
pub use context::{BuildContext, ContextEntry, ContextError, EntryKind};
pub use copy_plan::{plan_copy, CopyEntry, CopyError, CopyRequest};
pub use emit::BuiltImage;
pub use layer_store::LayerRef;
pub use registry_resolver::RegistryResolver;
