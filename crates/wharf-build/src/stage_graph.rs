//! Runs the stages of every target as one graph: a stage starts once the
//! stages it reads (its base, `COPY --from`, `RUN --mount from=`) are
//! built, up to `jobs` at a time, each on a scoped thread. Events reach
//! the caller's sink on the calling thread as they happen. The first
//! failure stops the build: no stage starts after it, running stages stop
//! before their next step, and it is the error reported. Images do not
//! depend on the order stages ran in: a stage's result depends only on
//! its inputs.

use crate::api::{BuildError, BuildEvent};
use crate::stage_exec::StageResult;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use wharf_frontend::plan::{StagePlan, TargetPlan};

/// Runs one stage of a target: `(target index, stage, finished stages
/// of that target, stop flag, events)`.
pub(crate) type RunStage<'a> = dyn Fn(
        usize,
        &StagePlan,
        &HashMap<usize, StageResult>,
        &AtomicBool,
        &mut dyn FnMut(BuildEvent),
    ) -> Result<StageResult, BuildError>
    + Sync
    + 'a;

enum Message {
    Event(BuildEvent),
    Done {
        target: usize,
        stage: usize,
        result: Box<Result<StageResult, BuildError>>,
    },
}

/// Where each stage of the graph is.
#[derive(Clone, Copy, PartialEq, Eq)]
enum State {
    Waiting,
    Running,
    Built,
}

/// Runs every stage of `targets` (planned from the build file `file`);
/// returns each target's stage results by stage index.
pub(crate) fn run_stages(
    file: &str,
    targets: &[TargetPlan],
    jobs: usize,
    run_stage: &RunStage<'_>,
    events: &mut dyn FnMut(BuildEvent),
) -> Result<Vec<HashMap<usize, StageResult>>, BuildError> {
    let mut results: Vec<HashMap<usize, StageResult>> = vec![HashMap::new(); targets.len()];
    let mut states: Vec<Vec<State>> = targets
        .iter()
        .map(|t| vec![State::Waiting; t.stages.len()])
        .collect();
    let stop = AtomicBool::new(false);
    let mut first_error: Option<BuildError> = None;
    let (tx, rx) = mpsc::channel::<Message>();
    std::thread::scope(|scope| {
        let mut running = 0usize;
        loop {
            // Start what is ready, in plan order (with one job, the build
            // runs exactly in plan order).
            while first_error.is_none() && running < jobs.max(1) {
                let Some((t, s)) = next_ready(targets, &states, &results) else {
                    break;
                };
                states[t][s] = State::Running;
                running += 1;
                let stage = &targets[t].stages[s];
                let done = results[t].clone();
                let tx = tx.clone();
                let stop = &stop;
                scope.spawn(move || {
                    let events_tx = tx.clone();
                    let mut forward = |e: BuildEvent| {
                        let _ = events_tx.send(Message::Event(e));
                    };
                    let result = run_stage(t, stage, &done, stop, &mut forward);
                    let _ = tx.send(Message::Done {
                        target: t,
                        stage: s,
                        result: Box::new(result),
                    });
                });
            }
            if running == 0 {
                break;
            }
            let Ok(message) = rx.recv() else { break };
            match message {
                Message::Event(e) => events(e),
                Message::Done {
                    target,
                    stage,
                    result,
                } => {
                    running -= 1;
                    match *result {
                        Ok(r) => {
                            states[target][stage] = State::Built;
                            results[target].insert(targets[target].stages[stage].index, r);
                        }
                        Err(e) => {
                            stop.store(true, Ordering::SeqCst);
                            // A stage stopped because of the first failure
                            // reports `Stopped`: the first error stands.
                            if first_error.is_none() {
                                first_error = Some(e);
                            }
                        }
                    }
                }
            }
        }
        // Events sent after the last stage finished.
        while let Ok(Message::Event(e)) = rx.try_recv() {
            events(e);
        }
    });
    if let Some(e) = first_error {
        return Err(e);
    }
    // A stage whose dependencies never got built (not in its target).
    for (t, target) in targets.iter().enumerate() {
        if let Some(s) = target
            .stages
            .iter()
            .zip(&states[t])
            .find_map(|(s, st)| (*st == State::Waiting).then_some(s))
        {
            return Err(BuildError::Step {
                file: file.to_string(),
                line: s.line,
                message: format!(
                    "stage {} reads stages {:?} that the plan does not build",
                    s.display_name(),
                    s.depends_on
                ),
            });
        }
    }
    Ok(results)
}

/// The first waiting stage, in plan order, whose dependencies are built.
fn next_ready(
    targets: &[TargetPlan],
    states: &[Vec<State>],
    results: &[HashMap<usize, StageResult>],
) -> Option<(usize, usize)> {
    for (t, target) in targets.iter().enumerate() {
        for (s, stage) in target.stages.iter().enumerate() {
            if states[t][s] == State::Waiting
                && stage.depends_on.iter().all(|d| results[t].contains_key(d))
            {
                return Some((t, s));
            }
        }
    }
    None
}
