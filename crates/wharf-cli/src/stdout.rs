//! The command's results on standard output. A reader that goes away (`wharf
//! images | head -1`) ends the command quietly with success, as `ripgrep` and
//! other tools do, instead of a panic from `println!`.

use std::fmt::Display;
use std::io::{self, Write};

/// Standard output was closed by its reader: nothing more to say.
#[derive(Debug)]
pub struct StdoutClosed;

impl std::fmt::Display for StdoutClosed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("standard output was closed")
    }
}

impl std::error::Error for StdoutClosed {}

/// Writes `text` and a newline to standard output.
pub fn line(text: impl Display) -> anyhow::Result<()> {
    let mut out = io::stdout().lock();
    match writeln!(out, "{text}").and_then(|()| out.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Err(StdoutClosed.into()),
        Err(e) => Err(anyhow::Error::new(e).context("writing to standard output")),
    }
}
