//! The Tuning step: runs a tuning job's trials over one or more training job definitions, up
//! to min(`MaxParallelTrainingJobs`, the executor's bound) at once. Which trials, and when a
//! running one is stopped, is the `tuner`'s business: Random, Grid and Hyperband plan their
//! configurations up front, Bayesian suggests each from the results before it. The completion
//! criteria end the search early; TrainingJobEarlyStoppingType `Auto` (or Hyperband) stops
//! trials on their intermediate objective values.

use std::collections::BTreeMap;
use std::sync::{Condvar, Mutex};

use serde_json::{json, Value};

use super::arguments::{
    self, CompletionCriteria, Lenient, ObjectiveType, ParameterRanges, Text, TrainingJobDefinition,
    TuningStep,
};
use super::training::{
    channels, metric_definitions, run_training_job, texts, TrainingResult, TrainingSpec,
};
use super::{bad_arguments, resolved_arguments};
use crate::definition::StepDef;
use crate::error::StepError;
use crate::execution::{Run, StepEnd};
use crate::tuner::bayesian::{Bayesian, Observation};
use crate::tuner::completion::{Completion, Criteria};
use crate::tuner::hyperband::Hyperband;
use crate::tuner::median::MedianRule;
use crate::tuner::{grid, random, Configuration, Range, Space};

/// A training job definition of the tuning job, resolved.
pub(crate) struct Definition {
    pub name: String,
    pub ranges: Space,
    pub static_hyperparameters: BTreeMap<String, String>,
    pub maximize: bool,
    pub objective: String,
    pub metric_definitions: Vec<(String, regex::Regex)>,
    pub channels: Vec<(String, String)>,
    pub output_path: String,
    pub max_runtime: Option<std::time::Duration>,
}

/// One planned trial.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Trial {
    pub definition: usize,
    pub hyperparameters: BTreeMap<String, String>,
}

impl Trial {
    /// The definition's static hyperparameters with the configuration's values over them.
    fn new(definitions: &[Definition], configuration: Configuration) -> Trial {
        let d = &definitions[configuration.definition];
        let mut hyperparameters = d.static_hyperparameters.clone();
        for ((name, _), value) in d.ranges.iter().zip(configuration.values) {
            hyperparameters.insert(name.clone(), value);
        }
        Trial {
            definition: configuration.definition,
            hyperparameters,
        }
    }
}

/// The definition's ranges, in the order it lists them (categorical, integer, continuous),
/// with their bounds checked.
fn ranges(r: &ParameterRanges, definition: &str) -> Result<Space, String> {
    let mut out = Vec::new();
    for c in &r.categorical_parameter_ranges {
        if c.values.is_empty() {
            return Err(format!(
                "definition {definition}: range {} has no Values",
                c.name
            ));
        }
        let values = c.values.iter().map(|Text(v)| v.clone()).collect();
        out.push((c.name.clone(), Range::Categorical(values)));
    }
    let bad_bounds = |name: &str, min: &dyn std::fmt::Display, max: &dyn std::fmt::Display| {
        format!("definition {definition}: range {name}: bad bounds {min}..{max}")
    };
    for n in &r.integer_parameter_ranges {
        let (Lenient(min), Lenient(max), log) = (n.min_value, n.max_value, n.logarithmic());
        if min > max || (log && min <= 0) {
            return Err(bad_bounds(&n.name, &min, &max));
        }
        out.push((n.name.clone(), Range::Integer { min, max, log }));
    }
    for n in &r.continuous_parameter_ranges {
        let (Lenient(min), Lenient(max), log) = (n.min_value, n.max_value, n.logarithmic());
        if min > max || (log && min <= 0.0) {
            return Err(bad_bounds(&n.name, &min, &max));
        }
        out.push((n.name.clone(), Range::Continuous { min, max, log }));
    }
    Ok(out)
}

fn definition(d: TrainingJobDefinition, index: usize) -> Result<Definition, String> {
    let name = d
        .definition_name
        .map(|Text(n)| n)
        .unwrap_or_else(|| format!("definition-{index}"));
    let metric = d.tuning_objective.metric_name;
    let in_definition = |e: String| format!("definition {name}: {e}");
    let metric_definitions = metric_definitions(&d.job).map_err(in_definition)?;
    if !metric_definitions.iter().any(|(n, _)| *n == metric) {
        return Err(format!(
            "definition {name}: no MetricDefinition for the objective metric {metric}"
        ));
    }
    Ok(Definition {
        ranges: ranges(&d.hyper_parameter_ranges, &name)?,
        static_hyperparameters: texts(d.static_hyper_parameters),
        maximize: d.tuning_objective.kind == ObjectiveType::Maximize,
        objective: metric,
        metric_definitions,
        channels: channels(&d.job).map_err(in_definition)?,
        output_path: d.job.output_data_config.s3_output_path,
        max_runtime: d.job.stopping_condition.max_runtime(),
        name,
    })
}

/// How this tuning job chooses its trials.
enum Chooser {
    /// Drawn or listed up front (Random, Grid, Hyperband): they do not depend on results.
    Planned(Vec<Configuration>),
    /// Each suggested from the results before it.
    Bayesian(Bayesian),
}

/// What stops a running trial early.
enum EarlyStop {
    Off,
    /// TrainingJobEarlyStoppingType `Auto`.
    Median(MedianRule),
    /// The Hyperband strategy's own rule.
    Hyperband(Hyperband),
}

/// The trials' shared record while the step runs.
struct Progress {
    next: usize,
    assigned: Vec<Configuration>,
    results: Vec<Option<Result<TrainingResult, StepEnd>>>,
    completion: Option<Completion>,
}

/// A finished trial's objective, higher is better; `None` unless it completed with one.
fn signed_score(result: &Option<Result<TrainingResult, StepEnd>>, d: &Definition) -> Option<f64> {
    match result {
        Some(Ok(r)) if !r.early_stopped => r.objective.map(|v| sign(d) * v),
        _ => None,
    }
}

fn sign(d: &Definition) -> f64 {
    if d.maximize {
        1.0
    } else {
        -1.0
    }
}

/// A Bayesian suggestion for trial `i` is made once every trial up to `i - lag` has finished,
/// and from exactly those, the trials after them pending. `lag` is the definition's
/// MaxParallelTrainingJobs, not how many this machine runs at once: the same definition and
/// seed give the same trials on any machine, however the trials are timed, and a machine that
/// runs fewer at once rarely waits for a straggler.
fn bayesian_inputs(
    progress: &Progress,
    definitions: &[Definition],
    i: usize,
    lag: usize,
) -> Option<(Vec<Observation>, Vec<Configuration>)> {
    let known = (i + 1).saturating_sub(lag); // trials 0..known must have finished
    if progress.results[..known].iter().any(Option::is_none) {
        return None;
    }
    // A failed trial is an observation too, the worst: its configuration is not worth
    // repeating nearby. An early-stopped one counts with its last (intermediate) value.
    let observed = (0..known)
        .filter_map(|j| {
            let c = &progress.assigned[j];
            let d = &definitions[c.definition];
            let score = match &progress.results[j] {
                Some(Ok(r)) => r.objective.map_or(f64::NEG_INFINITY, |v| sign(d) * v),
                Some(Err(StepEnd::Failed(_))) => f64::NEG_INFINITY,
                _ => return None,
            };
            Some(Observation {
                configuration: c.clone(),
                score,
            })
        })
        .collect();
    Some((observed, progress.assigned[known..i].to_vec()))
}

fn criteria(config: Option<&CompletionCriteria>) -> Result<Criteria, String> {
    let Some(c) = config else {
        return Ok(Criteria::default());
    };
    let max_not_improving = match c
        .best_objective_not_improving
        .as_ref()
        .and_then(|b| b.max_number_of_training_jobs_not_improving)
    {
        Some(Lenient(n)) if n < 3 => {
            return Err(format!(
                "MaxNumberOfTrainingJobsNotImproving ({n}) must be at least 3"
            ))
        }
        Some(Lenient(n)) => Some(usize::try_from(n).unwrap_or(usize::MAX)),
        None => None,
    };
    let complete_on_convergence = match c
        .convergence_detected
        .as_ref()
        .and_then(|d| d.complete_on_convergence.as_deref())
    {
        None | Some("Disabled") => false,
        Some("Enabled") => true,
        Some(other) => {
            return Err(format!(
                "CompleteOnConvergence {other} is not Disabled or Enabled"
            ))
        }
    };
    Ok(Criteria {
        target: c.target_objective_metric_value.map(|Lenient(v)| v),
        max_not_improving,
        complete_on_convergence,
    })
}

pub(crate) fn tuning_step(run: &Run, step: &StepDef) -> Result<Value, StepEnd> {
    let args = resolved_arguments(run, step)?;
    let bad = bad_arguments;
    let parsed: TuningStep = arguments::parse(&args).map_err(bad)?;
    let warm_start = parsed.warm_start_config.is_some();
    let config = parsed.hyper_parameter_tuning_job_config;
    let strategy = config.strategy.as_deref().unwrap_or("Random");
    let Lenient(max_jobs) = config.resource_limits.max_number_of_training_jobs;
    let Lenient(max_parallel) = config.resource_limits.max_parallel_training_jobs;
    if max_jobs < 1 || max_parallel < 1 {
        return Err(bad(format!(
            "MaxNumberOfTrainingJobs ({max_jobs}) and MaxParallelTrainingJobs ({max_parallel}) must be at least 1"
        )));
    }
    // SageMaker draws a seed when none is given; a fixed one keeps local runs reproducible.
    let seed = config.random_seed.map_or(0, |Lenient(s)| s) as u64;
    let listed = match (
        parsed.training_job_definitions,
        parsed.training_job_definition,
    ) {
        (Some(list), _) => list,
        (None, Some(single)) => vec![single],
        (None, None) => return Err(bad("TrainingJobDefinitions is missing".into())),
    };
    let definitions = listed
        .into_iter()
        .enumerate()
        .map(|(i, d)| definition(d, i))
        .collect::<Result<Vec<_>, _>>()
        .map_err(bad)?;
    if definitions.is_empty() {
        return Err(bad("TrainingJobDefinitions is empty".into()));
    }
    let early_stopping = config
        .training_job_early_stopping_type
        .as_deref()
        .unwrap_or("Off");
    if definitions.len() > 1 && (warm_start || early_stopping == "Auto") {
        let which = if warm_start {
            "WarmStartConfig"
        } else {
            "TrainingJobEarlyStoppingType Auto"
        };
        return Err(bad(format!(
            "{which} needs a tuning job over one algorithm, as SageMaker offers warm start and early stopping only then; this one has {} training job definitions",
            definitions.len()
        )));
    }
    if warm_start {
        return Err(bad(
            "WarmStartConfig is not supported locally: no parent tuning jobs are kept to start from"
                .into(),
        ));
    }
    let criteria = criteria(config.tuning_job_completion_criteria.as_ref()).map_err(bad)?;
    let mut count = usize::try_from(max_jobs).unwrap_or(usize::MAX);
    let spaces: Vec<Space> = definitions.iter().map(|d| d.ranges.clone()).collect();
    if config.strategy_config.is_some() && strategy != "Hyperband" {
        return Err(bad(format!(
            "StrategyConfig is only for the Hyperband strategy, not {strategy}"
        )));
    }
    let mut early_stop = match early_stopping {
        "Off" => EarlyStop::Off,
        "Auto" => EarlyStop::Median(MedianRule::default()),
        other => {
            return Err(bad(format!(
                "TrainingJobEarlyStoppingType {other} is not Off or Auto"
            )))
        }
    };
    let chooser = match strategy {
        "Random" => Chooser::Planned(random::plan(&spaces, count, seed)),
        "Bayesian" => Chooser::Bayesian(Bayesian::new(spaces.clone(), seed)),
        "Grid" => {
            let names: Vec<String> = definitions.iter().map(|d| d.name.clone()).collect();
            let (grid, size) = grid::grid(&spaces, &names, count).map_err(bad)?;
            if size > count as u64 {
                tracing::warn!(
                    step = %step.name,
                    grid = size,
                    max_jobs = count,
                    "the grid has more configurations than MaxNumberOfTrainingJobs: it is cut short"
                );
            }
            count = grid.len();
            Chooser::Planned(grid)
        }
        "Hyperband" => {
            if !matches!(early_stop, EarlyStop::Off) {
                return Err(bad(
                    "TrainingJobEarlyStoppingType must be Off with the Hyperband strategy, which stops trials itself"
                        .into(),
                ));
            }
            let hyperband = config
                .strategy_config
                .as_ref()
                .and_then(|c| c.hyperband_strategy_config.as_ref());
            let statics: Vec<&BTreeMap<String, String>> = definitions
                .iter()
                .map(|d| &d.static_hyperparameters)
                .collect();
            early_stop = EarlyStop::Hyperband(
                Hyperband::new(
                    hyperband.and_then(|h| h.min_resource).map(|Lenient(v)| v),
                    hyperband.and_then(|h| h.max_resource).map(|Lenient(v)| v),
                    &statics,
                )
                .map_err(bad)?,
            );
            Chooser::Planned(random::plan(&spaces, count, seed))
        }
        other => {
            return Err(bad(format!(
                "tuning strategy {other} is not one of Bayesian, Random, Hyperband, Grid"
            )))
        }
    };
    let lag = usize::try_from(max_parallel).unwrap_or(usize::MAX);
    let workers = lag.min(run.inner.max_parallel()).min(count);

    let progress = Mutex::new(Progress {
        next: 0,
        assigned: Vec::new(),
        results: (0..count).map(|_| None).collect(),
        completion: None,
    });
    let finished = Condvar::new();
    let lock = || progress.lock().unwrap_or_else(|p| p.into_inner());
    // The next trial to run and its configuration, once it may start; None: no more trials.
    let take = || -> Option<(usize, Configuration)> {
        let mut p = lock();
        loop {
            if run.stopped() || p.completion.is_some() || p.next >= count {
                return None;
            }
            let i = p.next;
            let chosen = match &chooser {
                Chooser::Planned(plan) => Some(plan[i].clone()),
                Chooser::Bayesian(b) => bayesian_inputs(&p, &definitions, i, lag)
                    .map(|(observed, pending)| b.suggest(i, &observed, &pending)),
            };
            if let Some(c) = chosen {
                p.next += 1;
                p.assigned.push(c.clone());
                return Some((i, c));
            }
            // Wait for the trial the suggestion needs (or a stop request).
            p = finished
                .wait_timeout(p, std::time::Duration::from_millis(100))
                .map(|(g, _)| g)
                .unwrap_or_else(|e| e.into_inner().0);
        }
    };
    // `workers` tasks on the executor's pool take trials in turn; this step's own worker runs
    // trials too while it waits, so the pool's size holds.
    run.inner.workers.scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|_| {
                while let Some((i, configuration)) = take() {
                    let d = &definitions[configuration.definition];
                    let trial = Trial::new(&definitions, configuration);
                    let sign = sign(d);
                    let stop_rule = |values: &[f64]| -> bool {
                        let signed: Vec<f64> = values.iter().map(|v| sign * v).collect();
                        match &early_stop {
                            EarlyStop::Off => false,
                            EarlyStop::Median(rule) => !rule.keep(&signed),
                            EarlyStop::Hyperband(rule) => match signed.last() {
                                Some(&last) => !rule.keep(i, signed.len() as u32, last),
                                None => false,
                            },
                        }
                    };
                    let result = run_training_job(
                        run,
                        TrainingSpec {
                            step: &step.name,
                            job_name: run.job_name(&step.name, Some(i + 1)),
                            definition_name: Some(&d.name),
                            hyperparameters: trial.hyperparameters,
                            channels: d.channels.clone(),
                            output_path: d.output_path.clone(),
                            metric_definitions: &d.metric_definitions,
                            objective_metric: Some(&d.objective),
                            max_runtime: d.max_runtime,
                            early_stop: match early_stop {
                                EarlyStop::Off => None,
                                _ => Some(&stop_rule),
                            },
                        },
                    );
                    if let (EarlyStop::Median(rule), Ok(r)) = (&early_stop, &result) {
                        if !r.early_stopped {
                            rule.finished(r.objective_values.iter().map(|v| sign * v).collect());
                        }
                    }
                    let mut p = lock();
                    p.results[i] = Some(result);
                    // Judged on the trials finished in order, so timing cannot change it.
                    let scores: Vec<Option<f64>> = p
                        .results
                        .iter()
                        .zip(&p.assigned)
                        .take_while(|(r, _)| r.is_some())
                        .map(|(r, c)| signed_score(r, &definitions[c.definition]))
                        .collect();
                    if p.completion.is_none() {
                        p.completion = criteria.check(&scores, count);
                    }
                    finished.notify_all();
                }
            });
        }
    });
    if run.stopped() {
        return Err(StepEnd::Stopped);
    }
    let progress = progress.into_inner().unwrap_or_else(|p| p.into_inner());
    let trials: Vec<Trial> = progress
        .assigned
        .into_iter()
        .map(|c| Trial::new(&definitions, c))
        .collect();
    let mut props = best_trial(&trials, &definitions, progress.results)?;
    if let Some(completion) = progress.completion {
        props["TuningJobCompletionDetails"] = completion_details(&completion);
    }
    let name = run.job_name(&step.name, None);
    props["HyperParameterTuningJobArn"] = json!(run.arn("hyper-parameter-tuning-job", &name));
    props["HyperParameterTuningJobName"] = json!(name);
    Ok(props)
}

/// DescribeHyperParameterTuningJob's TuningJobCompletionDetails, plus why it ended early.
fn completion_details(completion: &Completion) -> Value {
    match completion {
        Completion::TargetReached => json!({"Reason": "TargetObjectiveMetricValue reached"}),
        Completion::NotImproving(n) => json!({
            "Reason": "BestObjectiveNotImproving",
            "NumberOfTrainingJobsObjectiveNotImproving": n,
        }),
        Completion::Converged => json!({"Reason": "ConvergenceDetected"}),
    }
}

fn best_trial(
    trials: &[Trial],
    definitions: &[Definition],
    results: Vec<Option<Result<TrainingResult, StepEnd>>>,
) -> Result<Value, StepEnd> {
    let mut best: Option<(usize, TrainingResult, f64)> = None;
    let (mut completed, mut failed, mut stopped) = (0, 0, 0);
    let mut reasons = Vec::new();
    for (i, result) in results.into_iter().enumerate() {
        let Some(trial) = trials.get(i) else { continue };
        let d = &definitions[trial.definition];
        match result {
            Some(Ok(r)) if r.early_stopped => stopped += 1,
            Some(Ok(r)) => {
                completed += 1;
                let Some(value) = r.objective else { continue };
                let better = match &best {
                    None => true,
                    Some((_, _, b)) => {
                        if d.maximize {
                            value > *b
                        } else {
                            value < *b
                        }
                    }
                };
                if better {
                    best = Some((i, r, value));
                }
            }
            Some(Err(StepEnd::Failed(error))) => {
                failed += 1;
                reasons.push(error.to_string());
            }
            Some(Err(_)) => failed += 1,
            None => {}
        }
    }
    let Some((index, result, value)) = best else {
        reasons.truncate(3);
        return Err(StepEnd::Failed(StepError::AllTrialsFailed {
            failed,
            reasons,
        }));
    };
    let trial = &trials[index];
    let d = &definitions[trial.definition];
    let tuned: BTreeMap<&String, &String> = trial
        .hyperparameters
        .iter()
        .filter(|(k, _)| d.ranges.iter().any(|(n, _)| n == *k))
        .collect();
    Ok(json!({
        "BestTrainingJob": {
            "TrainingJobName": result.job_name,
            "TrainingJobDefinitionName": d.name,
            "TrainingJobStatus": "Completed",
            "TunedHyperParameters": tuned,
            "FinalHyperParameterTuningJobObjectiveMetric": {
                "Type": if d.maximize { "Maximize" } else { "Minimize" },
                "MetricName": d.objective,
                "Value": value,
            },
            "ModelArtifacts": {"S3ModelArtifacts": result.artifact_uri},
        },
        "TrainingJobStatusCounters": {"Completed": completed, "Failed": failed, "Stopped": stopped},
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn definition(name: &str, ranges: Vec<(String, Range)>) -> Definition {
        Definition {
            name: name.into(),
            ranges,
            static_hyperparameters: BTreeMap::from([("algorithm".into(), name.into())]),
            maximize: true,
            objective: "val_score".into(),
            metric_definitions: vec![],
            channels: vec![],
            output_path: "s3://b/o".into(),
            max_runtime: None,
        }
    }

    fn defs() -> Vec<Definition> {
        ["A", "B"]
            .into_iter()
            .zip(crate::tuner::random::tests::spaces())
            .map(|(name, space)| definition(name, space))
            .collect()
    }

    #[test]
    fn parses_the_generated_ranges() {
        let v = json!({"CategoricalParameterRanges": [{"Name": "a", "Values": ["1", "2"]}],
            "IntegerParameterRanges": [{"Name": "b", "MinValue": "2", "MaxValue": "11", "ScalingType": "Auto"}],
            "ContinuousParameterRanges": []});
        let parsed = |v: &Value| arguments::parse::<ParameterRanges>(v).unwrap();
        let r = ranges(&parsed(&v), "D").unwrap();
        assert_eq!(
            r[1],
            (
                "b".to_string(),
                Range::Integer {
                    min: 2,
                    max: 11,
                    log: false
                }
            )
        );
        let bad =
            json!({"IntegerParameterRanges": [{"Name": "b", "MinValue": "5", "MaxValue": "1"}]});
        assert!(ranges(&parsed(&bad), "D").unwrap_err().contains("range b"));
    }

    #[test]
    fn picks_the_best_and_explains_when_all_fail() {
        let d = defs();
        let spaces: Vec<Space> = d.iter().map(|d| d.ranges.clone()).collect();
        let trials: Vec<Trial> = random::plan(&spaces, 3, 1)
            .into_iter()
            .map(|c| Trial::new(&d, c))
            .collect();
        let ok = |name: &str, v: f64| {
            Some(Ok(TrainingResult {
                job_name: name.into(),
                artifact_uri: format!("s3://b/{name}"),
                metrics: vec![],
                objective: Some(v),
                objective_values: vec![v],
                early_stopped: false,
            }))
        };
        let props = best_trial(
            &trials,
            &d,
            vec![
                ok("t1", 0.5),
                Some(Err(StepEnd::Failed(StepError::Arguments("boom".into())))),
                ok("t3", 0.9),
            ],
        )
        .unwrap();
        assert_eq!(props["BestTrainingJob"]["TrainingJobName"], "t3");
        assert_eq!(props["BestTrainingJob"]["TrainingJobDefinitionName"], "A");
        assert_eq!(
            props["BestTrainingJob"]["FinalHyperParameterTuningJobObjectiveMetric"]["Value"],
            0.9
        );
        assert_eq!(props["TrainingJobStatusCounters"]["Failed"], 1);
        match best_trial(
            &trials,
            &d,
            vec![
                Some(Err(StepEnd::Failed(StepError::Arguments("bad csv".into())))),
                None,
                None,
            ],
        ) {
            Err(StepEnd::Failed(error)) => {
                let r = error.to_string();
                assert!(
                    r.contains("all 1 training jobs") && r.contains("bad csv"),
                    "{r}"
                )
            }
            other => panic!("{other:?}"),
        }
    }
}
