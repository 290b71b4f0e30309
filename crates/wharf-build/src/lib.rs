//! Executes a build plan. Today: the build context (confined path
//! resolution, `.dockerignore`-aware walks).

pub mod context;

pub use context::{BuildContext, ContextEntry, ContextError, EntryKind};
