//! Build output on the terminal: plain lines, or one JSON object per line
//! for tools (`--progress json`). `auto` is plain for now: a live view
//! with bars is the natural next step.

use crate::args::Progress;
use serde_json::json;
use std::io::Write;
use wharf_build::BuildEvent;

/// Prints build events to stderr in the chosen style.
pub struct Reporter {
    style: Progress,
    step: usize,
}

impl Reporter {
    pub fn new(style: Progress) -> Self {
        Reporter { style, step: 0 }
    }

    pub fn json(&self) -> bool {
        self.style == Progress::Json
    }

    pub fn event(&mut self, e: &BuildEvent) {
        let mut err = std::io::stderr().lock();
        match (self.style, e) {
            (
                Progress::Json,
                BuildEvent::Step {
                    platform,
                    stage,
                    line,
                    text,
                    cached,
                },
            ) => {
                let _ = writeln!(
                    err,
                    "{}",
                    json!({"event": "step", "platform": platform, "stage": stage, "line": line, "instruction": text, "cached": cached})
                );
            }
            (Progress::Json, BuildEvent::Note(m)) => {
                let _ = writeln!(err, "{}", json!({"event": "note", "message": m}));
            }
            (Progress::Json, BuildEvent::Warning(m)) => {
                let _ = writeln!(err, "{}", json!({"event": "warning", "message": m}));
            }
            (
                _,
                BuildEvent::Step {
                    platform,
                    stage,
                    line,
                    text,
                    cached,
                },
            ) => {
                self.step += 1;
                let first = text.lines().next().unwrap_or("");
                let _ = writeln!(
                    err,
                    "#{} [{platform} {stage}] line {line}: {first}{}",
                    self.step,
                    if *cached { "  CACHED" } else { "" }
                );
            }
            (_, BuildEvent::Note(m)) => {
                let _ = writeln!(err, "note: {m}");
            }
            (_, BuildEvent::Warning(m)) => {
                let _ = writeln!(err, "warning: {m}");
            }
        }
    }

    /// The closing line: the image digest and where it went.
    pub fn done(&self, digest: &str, destinations: &[String]) {
        let mut err = std::io::stderr().lock();
        if self.json() {
            let _ = writeln!(
                err,
                "{}",
                json!({"event": "done", "digest": digest, "outputs": destinations})
            );
        } else {
            let _ = writeln!(err, "built {digest} -> {}", destinations.join(", "));
        }
    }
}
