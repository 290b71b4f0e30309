//! Copy-based fallback (placeholder while being written).
use crate::{ExitStatus, SandboxError, SandboxSpec, Stream};
pub(crate) fn run(
    _spec: &SandboxSpec,
    _output: &mut dyn FnMut(Stream, &[u8]),
) -> Result<ExitStatus, SandboxError> {
    Err(SandboxError::invalid("copy"))
}
