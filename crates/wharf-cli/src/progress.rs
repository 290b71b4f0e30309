//! Build output on the terminal. `--progress auto` draws a live view on a
//! terminal (a spinner per running step, a bar per blob transfer) and
//! falls back to plain lines otherwise; `plain` prints one line per
//! finished step; `json` prints one JSON object per line for tools.

use crate::args::Progress;
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::json;
use std::collections::HashMap;
use std::io::{IsTerminal, Write};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use wharf_build::BuildEvent;
use wharf_registry::{Direction, ProgressSink};

/// The live view's state, shared with the registry client's threads.
struct Live {
    multi: MultiProgress,
    /// A spinner per running step (stages run at the same time).
    steps: Mutex<HashMap<StepKey, ProgressBar>>,
    transfers: Mutex<HashMap<String, ProgressBar>>,
}

/// A step of a build: (platform, stage, line).
type StepKey = (String, String, usize);

/// Prints build events to stderr in the chosen style.
pub struct Reporter {
    style: Progress,
    /// Numbers given so far: each step gets the next when it starts.
    numbered: usize,
    /// The numbers of running steps.
    running: HashMap<StepKey, usize>,
    live: Option<Arc<Live>>,
}

fn key(platform: &str, stage: &str, line: usize) -> StepKey {
    (platform.to_string(), stage.to_string(), line)
}

fn step_label(platform: &str, stage: &str, line: usize, text: &str) -> String {
    let first = text.lines().next().unwrap_or("");
    format!("[{platform} {stage}] line {line}: {first}")
}

impl Reporter {
    pub fn new(style: Progress) -> Self {
        let live = (style == Progress::Auto && std::io::stderr().is_terminal()).then(|| {
            Arc::new(Live {
                multi: MultiProgress::with_draw_target(ProgressDrawTarget::stderr()),
                steps: Mutex::new(HashMap::new()),
                transfers: Mutex::new(HashMap::new()),
            })
        });
        Reporter {
            style,
            numbered: 0,
            running: HashMap::new(),
            live,
        }
    }

    pub fn json(&self) -> bool {
        self.style == Progress::Json
    }

    /// A sink for the registry client's transfer progress (live view only).
    pub fn transfer_sink(&self) -> Option<ProgressSink> {
        let live = self.live.clone()?;
        Some(ProgressSink::new(move |p| {
            let Ok(mut bars) = live.transfers.lock() else {
                return;
            };
            let key = p.digest.to_string();
            let bar = bars.entry(key.clone()).or_insert_with(|| {
                let bar = live.multi.add(ProgressBar::new(p.total));
                bar.set_style(
                    ProgressStyle::with_template(
                        "{prefix} {bar:30} {bytes}/{total_bytes} {bytes_per_sec}",
                    )
                    .unwrap_or_else(|_| ProgressStyle::default_bar()),
                );
                let arrow = match p.direction {
                    Direction::Download => "pull",
                    Direction::Upload => "push",
                };
                bar.set_prefix(format!("{arrow} {}", &key[..key.len().min(19)]));
                bar
            });
            bar.set_length(p.total.max(p.done));
            bar.set_position(p.done);
            if p.total > 0 && p.done >= p.total {
                bar.finish_and_clear();
            }
        }))
    }

    fn line(&self, text: String) {
        match &self.live {
            Some(live) => {
                let _ = live.multi.println(text);
            }
            None => {
                let _ = writeln!(std::io::stderr().lock(), "{text}");
            }
        }
    }

    pub fn event(&mut self, e: &BuildEvent) {
        if self.style == Progress::Quiet {
            return;
        }
        if self.json() {
            let v = serde_json::to_string(e).unwrap_or_default();
            let _ = writeln!(std::io::stderr().lock(), "{v}");
            return;
        }
        match e {
            BuildEvent::StepStarted {
                platform,
                stage,
                line,
                text,
            } => {
                self.numbered += 1;
                let number = self.numbered;
                self.running.insert(key(platform, stage, *line), number);
                if let Some(live) = &self.live {
                    let bar = live.multi.add(ProgressBar::new_spinner());
                    bar.set_style(
                        ProgressStyle::with_template("{spinner} #{prefix} {msg} {elapsed}")
                            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
                    );
                    bar.set_prefix(number.to_string());
                    bar.set_message(step_label(platform, stage, *line, text));
                    bar.enable_steady_tick(Duration::from_millis(120));
                    if let Ok(mut steps) = live.steps.lock() {
                        steps.insert(key(platform, stage, *line), bar);
                    }
                }
            }
            BuildEvent::Step {
                platform,
                stage,
                line,
                text,
                cached,
            } => {
                let k = key(platform, stage, *line);
                let number = self.running.remove(&k).unwrap_or_else(|| {
                    self.numbered += 1;
                    self.numbered
                });
                let label = step_label(platform, stage, *line, text);
                let suffix = if *cached { "  CACHED" } else { "" };
                let bar = self
                    .live
                    .as_ref()
                    .and_then(|l| l.steps.lock().ok().and_then(|mut s| s.remove(&k)));
                match bar {
                    Some(bar) => {
                        let took = bar.elapsed();
                        bar.finish_and_clear();
                        self.line(format!(
                            "#{number} {label}{suffix}  {:.1}s",
                            took.as_secs_f64()
                        ));
                    }
                    None => self.line(format!("#{number} {label}{suffix}")),
                }
            }
            BuildEvent::LayerProgress {
                platform,
                stage,
                line,
                bytes,
            } => {
                let k = key(platform, stage, *line);
                let number = self.running.get(&k).copied().unwrap_or(0);
                if let Some(bar) = self
                    .live
                    .as_ref()
                    .and_then(|l| l.steps.lock().ok())
                    .and_then(|s| s.get(&k).cloned())
                {
                    bar.set_prefix(format!(
                        "{number} ({} packed)",
                        indicatif::HumanBytes(*bytes)
                    ));
                }
            }
            BuildEvent::RunOutput {
                platform,
                stage,
                line,
                text,
                ..
            } => {
                let number = self.running.get(&key(platform, stage, *line)).copied();
                match number {
                    Some(n) => self.line(format!("#{n} | {text}")),
                    None => self.line(format!("[{platform} {stage}] line {line} | {text}")),
                }
            }
            BuildEvent::Note { message } => self.line(format!("note: {message}")),
            BuildEvent::Warning { message, .. } => self.line(format!("warning: {message}")),
        }
    }

    /// The closing line: the image digest and where it went.
    pub fn done(&self, digest: &str, destinations: &[String]) {
        if self.style == Progress::Quiet {
            return;
        }
        if self.json() {
            let v = json!({"event": "done", "digest": digest, "outputs": destinations});
            let _ = writeln!(std::io::stderr().lock(), "{v}");
        } else {
            self.line(format!("built {digest} -> {}", destinations.join(", ")));
        }
    }
}
