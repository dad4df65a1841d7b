//! One execution: the scheduler that starts every step whose dependencies succeeded (several
//! at once when independent), follows condition branches, and ends the execution.

use std::collections::BTreeMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{mpsc, Arc};

use serde_json::Value;

use crate::definition::StepDef;
use crate::error::StepError;
use crate::execution::{Run, StepEnd};
use crate::model::{ExecutionStatus, StepStatus};
use crate::steps;

#[derive(Debug, Clone, PartialEq)]
enum State {
    Pending,
    Running,
    Succeeded { outcome: Option<bool> },
    Failed,
    Skipped,
}

/// Runs the execution to its end and records how it ended.
pub(crate) fn execute(run: Arc<Run>) {
    let (status, reason) = match catch_unwind(AssertUnwindSafe(|| schedule(&run))) {
        Ok(end) => end,
        Err(_) => (
            ExecutionStatus::Failed,
            Some("internal error: the executor panicked while running this execution".into()),
        ),
    };
    run.inner.finish(&run.info.id, status, reason.as_deref());
}

fn schedule(run: &Run) -> (ExecutionStatus, Option<String>) {
    let steps = &run.pipeline.steps;
    // A retried execution starts with the steps that succeeded before already done.
    let kept = run.lock_properties().clone();
    let mut state: BTreeMap<&str, State> = steps
        .iter()
        .map(|s| {
            let state = match kept.get(&s.name) {
                Some(props) => State::Succeeded {
                    outcome: props.get("Outcome").and_then(Value::as_bool),
                },
                None => State::Pending,
            };
            (s.name.as_str(), state)
        })
        .collect();
    let mut failure: Option<String> = None;
    let mut stopped = false;
    let (tx, rx) = mpsc::channel::<(String, StepEnd)>();
    // Steps are tasks on the executor's worker pool; this thread only schedules (it waits
    // for their ends, it never runs one).
    run.inner.workers.in_place_scope(|scope| {
        let mut running = 0usize;
        loop {
            if run.stopped() {
                stopped = true;
            }
            if failure.is_none() && !stopped {
                skip_unreachable(steps, &mut state);
                for step in steps {
                    if state[step.name.as_str()] == State::Pending && ready(step, &state) {
                        state.insert(&step.name, State::Running);
                        running += 1;
                        let tx = tx.clone();
                        scope.spawn(move |_| {
                            // Whatever happens, the scheduler must hear back, or it waits forever.
                            let end = catch_unwind(AssertUnwindSafe(|| run_recorded(run, step)))
                                .unwrap_or_else(|_| StepEnd::Failed(StepError::Panicked));
                            let _ = tx.send((step.name.clone(), end));
                        });
                    }
                }
            }
            if running == 0 {
                break;
            }
            let Ok((name, end)) = rx.recv() else { break };
            running -= 1;
            let new_state = match end {
                StepEnd::Succeeded(props) => State::Succeeded {
                    outcome: props.get("Outcome").and_then(Value::as_bool),
                },
                StepEnd::Failed(StepError::FailStep(message)) => {
                    failure.get_or_insert(message);
                    State::Failed
                }
                StepEnd::Failed(error) => {
                    failure.get_or_insert(format!("Step {name} failed: {error}"));
                    State::Failed
                }
                StepEnd::Stopped => {
                    stopped = true;
                    State::Failed
                }
            };
            if let Some(s) = steps.iter().find(|s| s.name == name) {
                state.insert(&s.name, new_state);
            }
        }
    });
    match (failure, stopped) {
        (Some(reason), _) => (ExecutionStatus::Failed, Some(reason)),
        (None, true) => (ExecutionStatus::Stopped, None),
        (None, false) => (ExecutionStatus::Succeeded, None),
    }
}

/// All dependencies succeeded (a branch step's condition also chose its branch).
fn ready(step: &StepDef, state: &BTreeMap<&str, State>) -> bool {
    let branch_taken = step.gate.as_ref().is_none_or(|g| {
        matches!(state.get(g.condition.as_str()),
            Some(State::Succeeded { outcome: Some(o) }) if *o == g.when)
    });
    branch_taken
        && step
            .depends_on
            .iter()
            .all(|d| matches!(state.get(d.as_str()), Some(State::Succeeded { .. })))
}

/// Marks as skipped the steps of branches not taken and every step depending on a skipped one.
fn skip_unreachable<'a>(steps: &'a [StepDef], state: &mut BTreeMap<&'a str, State>) {
    loop {
        let mut changed = false;
        for step in steps {
            if state[step.name.as_str()] != State::Pending {
                continue;
            }
            let branch_not_taken = step.gate.as_ref().is_some_and(|g| {
                matches!(state.get(g.condition.as_str()),
                    Some(State::Succeeded { outcome: Some(o) }) if *o != g.when)
            });
            let after_skipped = step
                .depends_on
                .iter()
                .any(|d| state.get(d.as_str()) == Some(&State::Skipped));
            if branch_not_taken || after_skipped {
                state.insert(&step.name, State::Skipped);
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
}

/// Runs one step with its state recorded before and after.
fn run_recorded(run: &Run, step: &StepDef) -> StepEnd {
    let db = &run.inner.db;
    let (id, kind) = (&run.info.id, step.kind.as_str());
    if let Err(e) = db.start_step(id, &step.name, kind) {
        return StepEnd::Failed(e.into());
    }
    tracing::info!(execution = %id, step = %step.name, "step started");
    tell_hooks(run, &step.name);
    let end = catch_unwind(AssertUnwindSafe(|| steps::run_step(run, step)))
        .unwrap_or_else(|_| StepEnd::Failed(StepError::Panicked));
    let recorded = match &end {
        StepEnd::Succeeded(props) => {
            run.lock_properties()
                .insert(step.name.clone(), props.clone());
            db.end_step(id, &step.name, StepStatus::Succeeded, None, Some(props))
        }
        StepEnd::Failed(error) => db.end_step(
            id,
            &step.name,
            StepStatus::Failed,
            Some(&error.to_string()),
            None,
        ),
        StepEnd::Stopped => db.end_step(id, &step.name, StepStatus::Stopped, None, None),
    };
    tracing::info!(execution = %id, step = %step.name, succeeded = matches!(end, StepEnd::Succeeded(_)), "step ended");
    tell_hooks(run, &step.name);
    match recorded {
        Ok(()) => end,
        Err(e) => StepEnd::Failed(StepError::Record(e)),
    }
}

/// Tells the hooks the step's state as recorded.
fn tell_hooks(run: &Run, step: &str) {
    match run.inner.db.steps(&run.info.id) {
        Ok(steps) => {
            if let Some(info) = steps.into_iter().find(|s| s.name == step) {
                run.inner.hooks.step_status_changed(&run.info, &info);
            }
        }
        Err(e) => {
            tracing::error!(execution = %run.info.id, step, error = %e, "cannot read the step back")
        }
    }
}
