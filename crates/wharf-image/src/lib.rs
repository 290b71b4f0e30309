//! Images as data: the typed configuration document ([`ImageConfig`],
//! OCI plus Docker's fields) and how planned instructions change it
//! ([`ConfigBuilder`]), including the history each leaves.

pub mod apply;
pub mod config;

pub use apply::{ApplyError, ConfigBuilder};
pub use config::{ContainerConfig, HealthConfig, History, ImageConfig, RootFs};
