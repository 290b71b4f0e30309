//! Build output on the terminal. `--progress auto` draws a live view on a
//! terminal and falls back to plain lines otherwise; `plain` prints one
//! line per finished step; `json` prints one JSON object per line for
//! tools.
//!
//! Steps are numbered as they start: instructions, base image
//! resolutions (events from the builder) and blob transfers (pulls and
//! pushes, from the registry client, with bytes). The live view folds as
//! BuildKit's does: a running step has a spinner and the last lines of its
//! output beneath it; a finished step collapses to one line with its time,
//! its output gone (a failure's last lines are in the error).

use crate::args::Progress;
use indicatif::{HumanBytes, MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::json;
use std::collections::{HashMap, VecDeque};
use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use wharf_build::BuildEvent;
use wharf_registry::{Direction, ProgressSink};

/// How many output lines a running step shows in the live view.
const TAIL_LINES: usize = 5;

/// A running step of the live view.
struct RunningStep {
    number: usize,
    bar: ProgressBar,
    /// The last lines of its output, drawn beneath it.
    tail: Option<ProgressBar>,
    lines: VecDeque<String>,
}

/// A blob transfer shown as a step.
struct Transfer {
    number: usize,
    started: Instant,
    bar: Option<ProgressBar>,
}

/// What the reporter shares with the registry client's threads.
struct Shared {
    /// The live view, on terminals.
    multi: Option<MultiProgress>,
    /// Numbers given so far: each step gets the next when it starts.
    numbered: AtomicUsize,
    steps: Mutex<HashMap<StepKey, RunningStep>>,
    transfers: Mutex<HashMap<String, Transfer>>,
}

impl Shared {
    fn next_number(&self) -> usize {
        self.numbered.fetch_add(1, Ordering::SeqCst) + 1
    }

    fn line(&self, text: String) {
        match &self.multi {
            Some(multi) => {
                let _ = multi.println(text);
            }
            None => {
                let _ = writeln!(std::io::stderr().lock(), "{text}");
            }
        }
    }

    /// One report of the registry client: a transfer starts, moves or ends.
    fn transfer(&self, p: &wharf_registry::Progress) {
        let Ok(mut transfers) = self.transfers.lock() else {
            return;
        };
        let digest = p.digest.to_string();
        let arrow = match p.direction {
            Direction::Download => "pull",
            Direction::Upload => "push",
        };
        let label = format!("{arrow} {}", &digest[..digest.len().min(19)]);
        let t = transfers.entry(digest.clone()).or_insert_with(|| {
            let number = self.next_number();
            let bar = self.multi.as_ref().map(|multi| {
                let bar = multi.add(ProgressBar::new(p.total));
                bar.set_style(
                    ProgressStyle::with_template(
                        "#{prefix} {bar:30} {bytes}/{total_bytes} {bytes_per_sec}",
                    )
                    .unwrap_or_else(|_| ProgressStyle::default_bar()),
                );
                bar.set_prefix(format!("{number} {label}"));
                bar
            });
            Transfer {
                number,
                started: Instant::now(),
                bar,
            }
        });
        if let Some(bar) = &t.bar {
            bar.set_length(p.total.max(p.done));
            bar.set_position(p.done);
        }
        if p.total > 0 && p.done >= p.total {
            if let Some(t) = transfers.remove(&digest) {
                if let Some(bar) = &t.bar {
                    bar.finish_and_clear();
                }
                self.line(format!(
                    "#{} {label} {}  {:.1}s",
                    t.number,
                    HumanBytes(p.total),
                    t.started.elapsed().as_secs_f64()
                ));
            }
        }
    }
}

/// A step of a build: (platform, stage, line).
type StepKey = (String, String, usize);

/// Prints build events to stderr in the chosen style.
pub struct Reporter {
    style: Progress,
    /// The numbers of running steps (plain style).
    running: HashMap<StepKey, usize>,
    shared: Arc<Shared>,
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
        let live = style == Progress::Auto && std::io::stderr().is_terminal();
        Self::with_target(style, live.then(ProgressDrawTarget::stderr))
    }

    /// A reporter drawing its live view on `target` (none: plain lines).
    fn with_target(style: Progress, target: Option<ProgressDrawTarget>) -> Self {
        Reporter {
            style,
            running: HashMap::new(),
            shared: Arc::new(Shared {
                multi: target.map(MultiProgress::with_draw_target),
                numbered: AtomicUsize::new(0),
                steps: Mutex::new(HashMap::new()),
                transfers: Mutex::new(HashMap::new()),
            }),
        }
    }

    pub fn json(&self) -> bool {
        self.style == Progress::Json
    }

    /// A sink for the registry client's transfer progress: each blob
    /// pulled or pushed is a step with bytes (live view and plain lines).
    pub fn transfer_sink(&self) -> Option<ProgressSink> {
        if matches!(self.style, Progress::Json | Progress::Quiet) {
            return None;
        }
        let shared = self.shared.clone();
        Some(ProgressSink::new(move |p| shared.transfer(p)))
    }

    fn line(&self, text: String) {
        self.shared.line(text)
    }

    fn live(&self) -> Option<&MultiProgress> {
        self.shared.multi.as_ref()
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
            } => self.step_started(
                key(platform, stage, *line),
                step_label(platform, stage, *line, text),
            ),
            BuildEvent::Step {
                platform,
                stage,
                line,
                text,
                cached,
            } => {
                let label = step_label(platform, stage, *line, text);
                self.step_done(key(platform, stage, *line), &label, *cached);
            }
            BuildEvent::LayerProgress {
                platform,
                stage,
                line,
                bytes,
            } => {
                let k = key(platform, stage, *line);
                if let Some(step) = self
                    .shared
                    .steps
                    .lock()
                    .ok()
                    .as_ref()
                    .and_then(|s| s.get(&k))
                {
                    step.bar
                        .set_prefix(format!("{} ({} packed)", step.number, HumanBytes(*bytes)));
                }
            }
            BuildEvent::RunOutput {
                platform,
                stage,
                line,
                text,
                ..
            } => self.run_output(key(platform, stage, *line), text),
            BuildEvent::Note { message } => self.line(format!("note: {message}")),
            BuildEvent::Warning { message, .. } => self.line(format!("warning: {message}")),
        }
    }

    fn step_started(&mut self, k: StepKey, label: String) {
        let number = self.shared.next_number();
        self.running.insert(k.clone(), number);
        if let Some(multi) = self.live() {
            let bar = multi.add(ProgressBar::new_spinner());
            bar.set_style(
                ProgressStyle::with_template("{spinner} #{prefix} {msg} {elapsed}")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            );
            bar.set_prefix(number.to_string());
            bar.set_message(label);
            bar.enable_steady_tick(Duration::from_millis(120));
            if let Ok(mut steps) = self.shared.steps.lock() {
                steps.insert(
                    k,
                    RunningStep {
                        number,
                        bar,
                        tail: None,
                        lines: VecDeque::new(),
                    },
                );
            }
        }
    }

    /// A finished step folds to one line; its output goes with it.
    fn step_done(&mut self, k: StepKey, label: &str, cached: bool) {
        let number = self
            .running
            .remove(&k)
            .unwrap_or_else(|| self.shared.next_number());
        let suffix = if cached { "  CACHED" } else { "" };
        let step = self.shared.steps.lock().ok().and_then(|mut s| s.remove(&k));
        match step {
            Some(step) => {
                let took = step.bar.elapsed();
                if let Some(tail) = &step.tail {
                    tail.finish_and_clear();
                }
                step.bar.finish_and_clear();
                self.line(format!(
                    "#{number} {label}{suffix}  {:.1}s",
                    took.as_secs_f64()
                ));
            }
            None => self.line(format!("#{number} {label}{suffix}")),
        }
    }

    /// Live: the line joins the running step's tail. Plain: printed.
    fn run_output(&mut self, k: StepKey, text: &str) {
        let number = self.running.get(&k).copied();
        if let (Some(multi), Ok(mut steps)) = (self.live(), self.shared.steps.lock()) {
            if let Some(step) = steps.get_mut(&k) {
                if step.lines.len() == TAIL_LINES {
                    step.lines.pop_front();
                }
                step.lines.push_back(format!("#{} | {text}", step.number));
                let tail = step.tail.get_or_insert_with(|| {
                    let tail = multi.insert_after(&step.bar, ProgressBar::new_spinner());
                    tail.set_style(
                        ProgressStyle::with_template("{msg}")
                            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
                    );
                    tail
                });
                tail.set_message(step.lines.iter().cloned().collect::<Vec<_>>().join("\n"));
                return;
            }
        }
        let (platform, stage, line) = &k;
        match number {
            Some(n) => self.line(format!("#{n} | {text}")),
            None => self.line(format!("[{platform} {stage}] line {line} | {text}")),
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

#[cfg(test)]
mod tests {
    use super::*;
    use indicatif::{InMemoryTerm, TermLike};

    fn started(line: usize, text: &str) -> BuildEvent {
        BuildEvent::StepStarted {
            platform: "linux/amd64".into(),
            stage: "build".into(),
            line,
            text: text.into(),
        }
    }

    fn finished(line: usize, text: &str) -> BuildEvent {
        BuildEvent::Step {
            platform: "linux/amd64".into(),
            stage: "build".into(),
            line,
            text: text.into(),
            cached: false,
        }
    }

    fn output(line: usize, text: &str) -> BuildEvent {
        BuildEvent::RunOutput {
            platform: "linux/amd64".into(),
            stage: "build".into(),
            line,
            stderr: false,
            text: text.into(),
        }
    }

    fn screen(term: &InMemoryTerm) -> String {
        // The live view draws at most every few milliseconds.
        std::thread::sleep(Duration::from_millis(150));
        term.contents()
    }

    #[test]
    fn a_finished_step_folds_to_one_line_without_its_output() {
        let term = InMemoryTerm::new(30, 120);
        let target = ProgressDrawTarget::term_like(Box::new(term.clone()));
        let mut r = Reporter::with_target(Progress::Auto, Some(target));
        r.event(&started(2, "RUN make"));
        for i in 0..8 {
            r.event(&output(2, &format!("compiling part {i}")));
        }
        let running = screen(&term);
        assert!(running.contains("#1 | compiling part 7"), "{running}");
        assert!(
            !running.contains("compiling part 2"),
            "only the last {TAIL_LINES} lines: {running}"
        );
        r.event(&finished(2, "RUN make"));
        let done = screen(&term);
        assert!(
            done.contains("#1 [linux/amd64 build] line 2: RUN make"),
            "{done}"
        );
        assert!(
            !done.contains("compiling part"),
            "the output folded away: {done}"
        );
        assert_eq!(term.width(), 120);
    }

    #[test]
    fn transfers_are_numbered_steps_with_bytes() {
        let term = InMemoryTerm::new(30, 120);
        let target = ProgressDrawTarget::term_like(Box::new(term.clone()));
        let mut r = Reporter::with_target(Progress::Auto, Some(target));
        r.event(&started(1, "FROM base"));
        assert!(r.transfer_sink().is_some());
        let digest = wharf_oci::Digest::of_bytes(b"layer");
        let report = |done| wharf_registry::Progress {
            direction: Direction::Download,
            digest: digest.clone(),
            done,
            total: 2048,
        };
        r.shared.transfer(&report(1024));
        let moving = screen(&term);
        assert!(
            moving.contains(&format!("#2 pull {}", &digest.to_string()[..19])),
            "{moving}"
        );
        assert!(moving.contains("1.00 KiB/2.00 KiB"), "{moving}");
        r.shared.transfer(&report(2048));
        let done = screen(&term);
        assert!(done.contains("2.00 KiB  "), "{done}");
        assert!(!done.contains("1.00 KiB/2.00 KiB"), "{done}");
    }
}
