//! Stages as a graph: independent stages run at the same time (a RUN in
//! each meets the other's at a barrier), `with_jobs(1)` runs them one
//! after another, the image is the same bytes either way, and the first
//! failure is the one reported while its siblings stop.

mod common;

use common::*;
use std::fs;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;
use wharf_build::*;
use wharf_oci::Platform;

/// Two independent build stages and a final stage that reads both.
const DOCKERFILE: &str = "\
FROM scratch AS a
RUN make a
FROM scratch AS b
RUN make b
FROM scratch
COPY --from=a /made /from-a
COPY --from=b /made /from-b
";

/// "Runs" a command by writing its text to `/made`; `fail` names a
/// command that fails. When `meet` is set, each run waits (up to a few
/// seconds) until `meet` runs are inside at once, and records whether
/// they met.
struct MeetingExecutor {
    meet: usize,
    inside: Mutex<usize>,
    arrived: Condvar,
    met: AtomicUsize,
    fail: Option<&'static str>,
}

impl MeetingExecutor {
    fn new(meet: usize, fail: Option<&'static str>) -> Self {
        MeetingExecutor {
            meet,
            inside: Mutex::new(0),
            arrived: Condvar::new(),
            met: AtomicUsize::new(0),
            fail,
        }
    }
}

impl wharf_run::RunExecutor for MeetingExecutor {
    fn supports(&self, _: &Platform) -> bool {
        true
    }

    fn lower_form(&self) -> wharf_run::LowerForm {
        wharf_run::LowerForm::SnapshotTrusted
    }

    fn prepare_lower(&self, layer: &wharf_run::LowerLayer<'_>) -> Result<(), wharf_run::RunError> {
        fs::create_dir_all(layer.dest).map_err(|e| wharf_run::RunError::Sandbox(e.to_string()))
    }

    fn run(
        &self,
        spec: &wharf_run::RunSpec<'_>,
    ) -> Result<wharf_run::RunChange, wharf_run::RunError> {
        let text = format!("{:?}", spec.command);
        if self.meet > 1 {
            let mut inside = self.inside.lock().unwrap();
            *inside += 1;
            self.arrived.notify_all();
            let (inside, timeout) = self
                .arrived
                .wait_timeout_while(inside, Duration::from_secs(5), |n| *n < self.meet)
                .unwrap();
            if !timeout.timed_out() && *inside >= self.meet {
                self.met.fetch_add(1, Ordering::SeqCst);
            }
        }
        if self.fail.is_some_and(|f| text.contains(f)) {
            return Err(wharf_run::RunError::Failed(
                "exit code 2: make: *** no rule".into(),
            ));
        }
        let upper = spec.scratch.join("upper");
        fs::create_dir(&upper).unwrap();
        fs::write(upper.join("made"), text).unwrap();
        Ok(wharf_run::RunChange::Upper(upper))
    }

    fn cancel_all(&self) {}
}

fn build(
    store: &wharf_store::Store,
    context: &std::path::Path,
    executor: Arc<MeetingExecutor>,
    jobs: usize,
) -> (Result<BuildOutput, BuildError>, Vec<BuildEvent>) {
    let mut events = Vec::new();
    let out = Builder::new(config(store, true))
        .with_run_executor(executor)
        .with_jobs(jobs)
        .build(&request(context, DOCKERFILE), &NoRegistry, &mut |e| {
            events.push(e)
        });
    (out, events)
}

#[test]
fn independent_stages_run_at_the_same_time_and_give_the_same_image() {
    let f = fixture();
    let together = Arc::new(MeetingExecutor::new(2, None));
    let (parallel, events) = build(&f.store, &f.context, together.clone(), 2);
    let parallel = parallel.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        together.met.load(Ordering::SeqCst),
        2,
        "both RUNs were inside the executor at once"
    );
    // Every started step finished, each once.
    let started = events
        .iter()
        .filter(|e| matches!(e, BuildEvent::StepStarted { .. }))
        .count();
    let finished = events
        .iter()
        .filter(|e| matches!(e, BuildEvent::Step { .. }))
        .count();
    assert_eq!((started, finished), (4, 4));

    // One job: one stage after another, the same bytes.
    let f2 = fixture();
    let alone = Arc::new(MeetingExecutor::new(1, None));
    let (serial, _) = build(&f2.store, &f2.context, alone, 1);
    let serial = serial.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        parallel.images[0].manifest.digest,
        serial.images[0].manifest.digest
    );
}

#[test]
fn the_first_failure_is_reported_and_later_stages_do_not_start() {
    let f = fixture();
    let executor = Arc::new(MeetingExecutor::new(2, Some("make b")));
    let (out, events) = build(&f.store, &f.context, executor, 2);
    let err = out.expect_err("stage b fails").to_string();
    assert!(err.contains(":4:"), "the failing line is named: {err}");
    assert!(err.contains("exit code 2"), "{err}");
    // The final stage, which needs both, never started.
    let copies_started = events
        .iter()
        .filter(|e| matches!(e, BuildEvent::StepStarted { text, .. } if text.starts_with("COPY")))
        .count();
    assert_eq!(copies_started, 0);
}
