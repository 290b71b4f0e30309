//! Helpers of the BuildKit conformance test.

pub mod dump;
