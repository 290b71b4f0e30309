//! Wharf's front end: everything from a Dockerfile or ZImagefile (as text)
//! to a validated, fully expanded build plan. It does no I/O: callers read
//! files and pass their contents in, and pass in what the host can run.
//!
//! - [`dockerfile`] parses the Dockerfile syntax into the [`ast`].
//! - [`zimagefile`] parses the YAML alternative into the same [`ast`].
//! - [`expand`] is the one variable expander (`$V`, `${V:-w}`, ...).
//! - [`plan`] resolves stages, ARG scoping, platforms and expansion into a
//!   [`plan::Plan`], the only thing the builder consumes.
//! - [`dockerignore`] implements Docker's `.dockerignore` matching.

pub mod ast;
pub mod chmod;
pub mod dockerfile;
pub mod dockerignore;
pub mod duration;
pub mod error;
pub mod expand;
pub mod plan;
pub mod sources;
mod suggest;
pub mod zimagefile;

pub use error::FrontendError;
