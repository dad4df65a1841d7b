//! The Tuning step: SageMaker's Random strategy over one or more training job definitions.
//! Every trial's definition and hyperparameters are drawn up front from a generator seeded by
//! `RandomSeed`, so the trials do not depend on which one finishes first, and no configuration
//! is drawn twice while untried ones remain; then up to
//! min(`MaxParallelTrainingJobs`, the executor's bound) run at once.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use serde_json::{json, Value};

use super::arguments::{
    self, Lenient, ObjectiveType, ParameterRanges, Text, TrainingJobDefinition, TuningStep,
};
use super::training::{
    channels, metric_definitions, run_training_job, texts, TrainingResult, TrainingSpec,
};
use super::{bad_arguments, resolved_arguments};
use crate::definition::StepDef;
use crate::error::StepError;
use crate::execution::{Run, StepEnd};
use crate::tuner::{random, Configuration, Range, Space};

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

pub(crate) fn tuning_step(run: &Run, step: &StepDef) -> Result<Value, StepEnd> {
    let args = resolved_arguments(run, step)?;
    let bad = bad_arguments;
    let parsed: TuningStep = arguments::parse(&args).map_err(bad)?;
    let config = parsed.hyper_parameter_tuning_job_config;
    let strategy = config.strategy.as_deref().unwrap_or("Random");
    if strategy != "Random" {
        return Err(bad(format!(
            "tuning strategy {strategy} is not supported locally (only Random)"
        )));
    }
    let Lenient(max_jobs) = config.resource_limits.max_number_of_training_jobs;
    let Lenient(max_parallel) = config.resource_limits.max_parallel_training_jobs;
    if max_jobs < 1 || max_parallel < 1 {
        return Err(bad(format!(
            "MaxNumberOfTrainingJobs ({max_jobs}) and MaxParallelTrainingJobs ({max_parallel}) must be at least 1"
        )));
    }
    // SageMaker draws a seed when none is given; a fixed one keeps local runs reproducible.
    let seed = config.random_seed.map_or(0, |Lenient(s)| s);
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
    let count = usize::try_from(max_jobs).unwrap_or(usize::MAX);
    let spaces: Vec<Space> = definitions.iter().map(|d| d.ranges.clone()).collect();
    let trials: Vec<Trial> = random::plan(&spaces, count, seed as u64)
        .into_iter()
        .map(|c| Trial::new(&definitions, c))
        .collect();
    let workers = usize::try_from(max_parallel)
        .unwrap_or(usize::MAX)
        .min(run.inner.max_parallel())
        .min(trials.len());

    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<Result<TrainingResult, StepEnd>>>> =
        Mutex::new((0..trials.len()).map(|_| None).collect());
    // `workers` tasks on the executor's pool take trials in turn; this step's own worker runs
    // trials too while it waits, so the pool's size holds.
    run.inner.workers.scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|_| loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                if i >= trials.len() || run.stopped() {
                    break;
                }
                let trial = &trials[i];
                let d = &definitions[trial.definition];
                let result = run_training_job(
                    run,
                    TrainingSpec {
                        step: &step.name,
                        job_name: run.job_name(&step.name, Some(i + 1)),
                        definition_name: Some(&d.name),
                        hyperparameters: trial.hyperparameters.clone(),
                        channels: d.channels.clone(),
                        output_path: d.output_path.clone(),
                        metric_definitions: &d.metric_definitions,
                        objective_metric: Some(&d.objective),
                        max_runtime: d.max_runtime,
                        early_stop: None,
                    },
                );
                let mut all = results.lock().unwrap_or_else(|p| p.into_inner());
                all[i] = Some(result);
            });
        }
    });
    if run.stopped() {
        return Err(StepEnd::Stopped);
    }
    let results = results.into_inner().unwrap_or_else(|p| p.into_inner());
    let mut props = best_trial(&trials, &definitions, results)?;
    let name = run.job_name(&step.name, None);
    props["HyperParameterTuningJobArn"] = json!(run.arn("hyper-parameter-tuning-job", &name));
    props["HyperParameterTuningJobName"] = json!(name);
    Ok(props)
}

fn best_trial(
    trials: &[Trial],
    definitions: &[Definition],
    results: Vec<Option<Result<TrainingResult, StepEnd>>>,
) -> Result<Value, StepEnd> {
    let mut best: Option<(usize, TrainingResult, f64)> = None;
    let (mut completed, mut failed) = (0, 0);
    let mut reasons = Vec::new();
    for (i, result) in results.into_iter().enumerate() {
        let Some(trial) = trials.get(i) else { continue };
        let d = &definitions[trial.definition];
        match result {
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
        "TrainingJobStatusCounters": {"Completed": completed, "Failed": failed},
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
        vec![
            definition(
                "A",
                vec![(
                    "c".into(),
                    Range::Categorical(vec!["x".into(), "y".into(), "z".into()]),
                )],
            ),
            definition(
                "B",
                vec![
                    (
                        "n".into(),
                        Range::Integer {
                            min: 2,
                            max: 11,
                            log: false,
                        },
                    ),
                    (
                        "l".into(),
                        Range::Integer {
                            min: 1,
                            max: 1000,
                            log: true,
                        },
                    ),
                    (
                        "f".into(),
                        Range::Continuous {
                            min: 0.1,
                            max: 0.2,
                            log: false,
                        },
                    ),
                ],
            ),
        ]
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
