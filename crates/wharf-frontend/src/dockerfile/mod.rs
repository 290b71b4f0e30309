//! The Dockerfile front end: the whole current syntax of BuildKit's
//! Dockerfile frontend, parsed into [`crate::ast`] with exact positions.
//!
//! We write the parser ourselves. `parse-dockerfile` and similar crates
//! parse the raw syntax well, but hand back flags as untyped strings and
//! errors without the positions, quotes and suggestions Wharf promises;
//! every instruction's flags and arguments would have had to be parsed
//! again on top. Expansion and semantics are ours in any case.
//!
//! Layers of the parser, bottom up: [`lines`] (directives, continuations,
//! heredoc bodies), [`words`] (word splitting, JSON form), [`flags`],
//! [`mount`] and [`instructions`] (one typed instruction per keyword).

mod flags;
mod instructions;
mod lines;
mod mount;
pub(crate) mod words;

use crate::ast::BuildFile;
use crate::error::FrontendError;

/// Parses a Dockerfile. `file` is the name used in messages.
pub fn parse(file: &str, source: &str) -> Result<BuildFile, FrontendError> {
    let split = lines::split(file, source)?;
    let ctx = instructions::Ctx {
        file,
        source,
        escape: split.directives.escape,
    };
    let mut warnings = split.warnings;
    let mut parsed = Vec::with_capacity(split.lines.len());
    for line in &split.lines {
        parsed.push(ctx.instruction(line, &mut warnings)?);
    }
    Ok(BuildFile {
        path: file.to_string(),
        directives: split.directives,
        instructions: parsed,
        warnings,
    })
}
