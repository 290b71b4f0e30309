//! External runtime (placeholder while being written).
use crate::{ExitStatus, SandboxError, SandboxSpec, Stream};
use std::path::Path;
pub(crate) fn run(
    _spec: &SandboxSpec,
    _p: &Path,
    _output: &mut dyn FnMut(Stream, &[u8]),
) -> Result<ExitStatus, SandboxError> {
    Err(SandboxError::invalid("oci"))
}
pub(crate) fn kill(_p: &Path, _id: &str) {}
