//! Test support shared by Wharf's crates (a dev-dependency only):
//! [`registry`] starts the CNCF distribution registry (`docker-registry`)
//! on a free loopback port, with no auth, htpasswd or token auth;
//! [`http`] is a tiny HTTP server whose answers (and faults) tests choose;
//! [`images`] builds synthetic Linux and Windows images into a store;
//! [`busybox`] a real, runnable busybox base image.

pub mod busybox;
pub mod http;
pub mod images;
pub mod registry;
pub mod rpm;
