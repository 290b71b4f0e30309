//! Executes a build plan. Today: the build context (confined path
//! resolution, `.dockerignore`-aware walks) and what a COPY from it
//! copies where ([`plan_copy`]).

pub mod cache_key;
pub mod context;
pub mod copy_layer;
pub mod copy_plan;
pub mod ownership;

pub use context::{BuildContext, ContextEntry, ContextError, EntryKind};
pub use copy_plan::{plan_copy, CopyEntry, CopyError, CopyRequest};
