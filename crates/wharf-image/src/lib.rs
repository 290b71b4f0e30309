//! How planned instructions change an image: the configuration
//! ([`wharf_oci::ImageConfig`], OCI plus Docker's fields) as each
//! instruction leaves it, with the history line it writes
//! ([`ConfigBuilder`]), and what the planner needs to know of a base
//! image ([`base_image`]).

pub mod apply;
mod base;

pub use apply::{ApplyError, ConfigBuilder};
pub use base::base_image;
