//! The Tuning step: SageMaker's Random strategy over one or more training job definitions.
//! Every trial's definition and hyperparameters are drawn up front from a generator seeded by
//! `RandomSeed`, so the trials do not depend on which one finishes first, and no configuration
//! is drawn twice while untried ones remain; then up to
//! min(`MaxParallelTrainingJobs`, the executor's bound) run at once.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
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

/// One hyperparameter's range.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Range {
    Categorical(Vec<String>),
    Integer { min: i64, max: i64, log: bool },
    Continuous { min: f64, max: f64, log: bool },
}

/// A training job definition of the tuning job, resolved.
pub(crate) struct Definition {
    pub name: String,
    pub ranges: Vec<(String, Range)>,
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

/// The definition's ranges, in the order it lists them (categorical, integer, continuous),
/// with their bounds checked.
fn ranges(r: &ParameterRanges, definition: &str) -> Result<Vec<(String, Range)>, String> {
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

fn sample(range: &Range, rng: &mut ChaCha8Rng) -> String {
    match range {
        Range::Categorical(values) => values[rng.gen_range(0..values.len())].clone(),
        Range::Integer {
            min,
            max,
            log: false,
        } => rng.gen_range(*min..=*max).to_string(),
        Range::Integer {
            min,
            max,
            log: true,
        } => {
            let x = rng
                .gen_range((*min as f64).ln()..=(*max as f64 + 1.0).ln())
                .exp();
            (x.floor() as i64).clamp(*min, *max).to_string()
        }
        Range::Continuous {
            min,
            max,
            log: false,
        } => format!("{}", rng.gen_range(*min..=*max)),
        Range::Continuous {
            min,
            max,
            log: true,
        } => {
            format!(
                "{}",
                rng.gen_range(min.ln()..=max.ln()).exp().clamp(*min, *max)
            )
        }
    }
}

/// The trials, in order: definitions take turns, each trial's values drawn from the seeded
/// generator in the order the definition lists its ranges. A draw that repeats an earlier
/// trial of the same definition is drawn again while configurations not yet tried remain, so a
/// small space is covered instead of tried twice (a finite space is enumerated once draws keep
/// repeating).
pub(crate) fn plan(definitions: &[Definition], count: usize, seed: u64) -> Vec<Trial> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut tried: Vec<std::collections::BTreeSet<Vec<String>>> =
        definitions.iter().map(|_| Default::default()).collect();
    (0..count)
        .map(|i| {
            let index = i % definitions.len().max(1);
            let mut hyperparameters = BTreeMap::new();
            if let Some(d) = definitions.get(index) {
                hyperparameters = d.static_hyperparameters.clone();
                let values = fresh_values(d, &tried[index], &mut rng);
                for ((name, _), value) in d.ranges.iter().zip(&values) {
                    hyperparameters.insert(name.clone(), value.clone());
                }
                tried[index].insert(values);
            }
            Trial {
                definition: index,
                hyperparameters,
            }
        })
        .collect()
}

/// Draws before falling back to listing a finite space's untried configurations.
const REDRAWS: usize = 64;
/// The largest space listed whole to find an untried configuration.
const MAX_LISTED: u64 = 100_000;

/// One configuration of `d`'s ranges not in `tried`, if one remains; else any draw.
fn fresh_values(
    d: &Definition,
    tried: &std::collections::BTreeSet<Vec<String>>,
    rng: &mut ChaCha8Rng,
) -> Vec<String> {
    let draw = |rng: &mut ChaCha8Rng| -> Vec<String> {
        d.ranges.iter().map(|(_, r)| sample(r, rng)).collect()
    };
    let first = draw(rng);
    if !tried.contains(&first) {
        return first;
    }
    let size = space_size(&d.ranges);
    if size.is_some_and(|n| tried.len() as u64 >= n) {
        return first; // every configuration was tried
    }
    for _ in 0..REDRAWS {
        let values = draw(rng);
        if !tried.contains(&values) {
            return values;
        }
    }
    match size {
        Some(n) if n <= MAX_LISTED => {
            let untried: Vec<Vec<String>> = all_configurations(&d.ranges)
                .into_iter()
                .filter(|v| !tried.contains(v))
                .collect();
            if untried.is_empty() {
                first
            } else {
                untried[rng.gen_range(0..untried.len())].clone()
            }
        }
        _ => first,
    }
}

/// How many distinct configurations the ranges have; `None` with a continuous one (or too many
/// to count).
fn space_size(ranges: &[(String, Range)]) -> Option<u64> {
    ranges.iter().try_fold(1u64, |n, (_, r)| {
        let values = match r {
            Range::Categorical(v) => v.len() as u64,
            Range::Integer { min, max, .. } => max.abs_diff(*min).checked_add(1)?,
            Range::Continuous { .. } => return None,
        };
        n.checked_mul(values)
    })
}

/// Every configuration of finite ranges, as `sample` would write each value.
fn all_configurations(ranges: &[(String, Range)]) -> Vec<Vec<String>> {
    let mut all = vec![Vec::new()];
    for (_, range) in ranges {
        let values: Vec<String> = match range {
            Range::Categorical(v) => v.clone(),
            Range::Integer { min, max, .. } => (*min..=*max).map(|v| v.to_string()).collect(),
            Range::Continuous { .. } => return Vec::new(),
        };
        all = all
            .into_iter()
            .flat_map(|prefix| {
                values.iter().map(move |v| {
                    let mut next = prefix.clone();
                    next.push(v.clone());
                    next
                })
            })
            .collect();
    }
    all
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
    let trials = plan(&definitions, count, seed as u64);
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
    fn plans_are_deterministic_round_robin_and_in_range() {
        let a = plan(&defs(), 40, 42);
        assert_eq!(a, plan(&defs(), 40, 42));
        assert_ne!(a, plan(&defs(), 40, 43));
        assert_eq!(a.iter().filter(|t| t.definition == 0).count(), 20);
        for t in &a {
            let h = &t.hyperparameters;
            if t.definition == 0 {
                assert_eq!(h["algorithm"], "A");
                assert!(["x", "y", "z"].contains(&h["c"].as_str()));
            } else {
                let n: i64 = h["n"].parse().unwrap();
                let l: i64 = h["l"].parse().unwrap();
                let f: f64 = h["f"].parse().unwrap();
                assert!(
                    (2..=11).contains(&n) && (1..=1000).contains(&l) && (0.1..=0.2).contains(&f)
                );
            }
        }
        // Every value of a small range shows up over enough draws.
        let seen: std::collections::BTreeSet<&str> = a
            .iter()
            .filter(|t| t.definition == 0)
            .map(|t| t.hyperparameters["c"].as_str())
            .collect();
        assert_eq!(seen.len(), 3);
    }

    #[test]
    fn random_never_repeats_a_configuration_while_untried_ones_remain() {
        let small = vec![definition(
            "S",
            vec![
                (
                    "c".into(),
                    Range::Categorical(vec!["x".into(), "y".into(), "z".into()]),
                ),
                (
                    "k".into(),
                    Range::Integer {
                        min: 1,
                        max: 3,
                        log: false,
                    },
                ),
            ],
        )];
        assert_eq!(space_size(&small[0].ranges), Some(9));
        for seed in 0..20 {
            let trials = plan(&small, 12, seed);
            let configs: Vec<(String, String)> = trials
                .iter()
                .map(|t| {
                    (
                        t.hyperparameters["c"].clone(),
                        t.hyperparameters["k"].clone(),
                    )
                })
                .collect();
            let first_nine: std::collections::BTreeSet<_> = configs[..9].iter().collect();
            assert_eq!(first_nine.len(), 9, "seed {seed}: {configs:?}");
            assert_eq!(trials, plan(&small, 12, seed), "still seeded");
        }
        assert_eq!(space_size(&defs()[1].ranges), None, "continuous: unbounded");
        assert_eq!(all_configurations(&small[0].ranges).len(), 9);
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
        let trials = plan(&d, 3, 1);
        let ok = |name: &str, v: f64| {
            Some(Ok(TrainingResult {
                job_name: name.into(),
                artifact_uri: format!("s3://b/{name}"),
                metrics: vec![],
                objective: Some(v),
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
