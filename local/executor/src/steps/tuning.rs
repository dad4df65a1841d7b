//! The Tuning step: SageMaker's Random strategy over one or more training job definitions.
//! Every trial's definition and hyperparameters are drawn up front from a generator seeded by
//! `RandomSeed`, so the trials do not depend on which one finishes first; then up to
//! min(`MaxParallelTrainingJobs`, the executor's bound) run at once.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{json, Value};

use super::training::{
    channels, metric_definitions, output_path, run_training_job, TrainingResult, TrainingSpec,
};
use super::{bad_arguments, resolved_arguments};
use crate::definition::StepDef;
use crate::error::StepError;
use crate::execution::{Run, StepEnd};
use crate::expr::{string_map, text};

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

fn number(v: Option<&Value>, what: &str) -> Result<i64, String> {
    let v = v.ok_or_else(|| format!("{what} is missing"))?;
    v.as_i64()
        .or_else(|| text(v).trim().parse().ok())
        .ok_or_else(|| format!("{what} is not an integer: {v}"))
}

fn float(v: Option<&Value>, what: &str) -> Result<f64, String> {
    let v = v.ok_or_else(|| format!("{what} is missing"))?;
    v.as_f64()
        .or_else(|| text(v).trim().parse().ok())
        .ok_or_else(|| format!("{what} is not a number: {v}"))
}

fn parse_ranges(v: &Value, definition: &str) -> Result<Vec<(String, Range)>, String> {
    let mut out = Vec::new();
    let list = |key: &str| {
        v.get(key)
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default()
    };
    let name_of = |r: &Value| {
        r.get("Name")
            .and_then(Value::as_str)
            .map(str::to_string)
            .ok_or_else(|| format!("definition {definition}: a range has no Name"))
    };
    let log_scale = |r: &Value| r.get("ScalingType").and_then(Value::as_str) == Some("Logarithmic");
    for r in list("CategoricalParameterRanges") {
        let name = name_of(&r)?;
        let values: Vec<String> = r
            .get("Values")
            .and_then(Value::as_array)
            .map(|a| a.iter().map(text).collect())
            .unwrap_or_default();
        if values.is_empty() {
            return Err(format!(
                "definition {definition}: range {name} has no Values"
            ));
        }
        out.push((name, Range::Categorical(values)));
    }
    for r in list("IntegerParameterRanges") {
        let name = name_of(&r)?;
        let what = |k: &str| format!("definition {definition}: range {name}: {k}");
        let (min, max) = (
            number(r.get("MinValue"), &what("MinValue"))?,
            number(r.get("MaxValue"), &what("MaxValue"))?,
        );
        let log = log_scale(&r);
        if min > max || (log && min <= 0) {
            return Err(what(&format!("bad bounds {min}..{max}")));
        }
        out.push((name, Range::Integer { min, max, log }));
    }
    for r in list("ContinuousParameterRanges") {
        let name = name_of(&r)?;
        let what = |k: &str| format!("definition {definition}: range {name}: {k}");
        let (min, max) = (
            float(r.get("MinValue"), &what("MinValue"))?,
            float(r.get("MaxValue"), &what("MaxValue"))?,
        );
        let log = log_scale(&r);
        if min > max || (log && min <= 0.0) {
            return Err(what(&format!("bad bounds {min}..{max}")));
        }
        out.push((name, Range::Continuous { min, max, log }));
    }
    Ok(out)
}

fn parse_definition(v: &Value, index: usize) -> Result<Definition, String> {
    let name = v
        .get("DefinitionName")
        .map(text)
        .unwrap_or_else(|| format!("definition-{index}"));
    let objective = v
        .get("TuningObjective")
        .ok_or_else(|| format!("definition {name}: TuningObjective is missing"))?;
    let metric = objective
        .get("MetricName")
        .and_then(Value::as_str)
        .ok_or_else(|| format!("definition {name}: TuningObjective.MetricName is missing"))?;
    let maximize = match objective.get("Type").and_then(Value::as_str) {
        Some("Maximize") => true,
        Some("Minimize") => false,
        other => {
            return Err(format!(
            "definition {name}: TuningObjective.Type {other:?} is neither Maximize nor Minimize"
        ))
        }
    };
    let metric_definitions =
        metric_definitions(v).map_err(|e| format!("definition {name}: {e}"))?;
    if !metric_definitions.iter().any(|(n, _)| n == metric) {
        return Err(format!(
            "definition {name}: no MetricDefinition for the objective metric {metric}"
        ));
    }
    Ok(Definition {
        ranges: parse_ranges(v.get("HyperParameterRanges").unwrap_or(&Value::Null), &name)?,
        static_hyperparameters: string_map(
            v.get("StaticHyperParameters").unwrap_or(&Value::Null),
            &format!("definition {name}: StaticHyperParameters"),
        )?,
        maximize,
        objective: metric.to_string(),
        metric_definitions,
        channels: channels(v).map_err(|e| format!("definition {name}: {e}"))?,
        output_path: output_path(v).map_err(|e| format!("definition {name}: {e}"))?,
        max_runtime: v
            .pointer("/StoppingCondition/MaxRuntimeInSeconds")
            .and_then(Value::as_u64)
            .map(std::time::Duration::from_secs),
        name,
    })
}

fn sample(range: &Range, rng: &mut ChaCha8Rng) -> String {
    match range {
        Range::Categorical(values) => values[rng.random_range(0..values.len())].clone(),
        Range::Integer {
            min,
            max,
            log: false,
        } => rng.random_range(*min..=*max).to_string(),
        Range::Integer {
            min,
            max,
            log: true,
        } => {
            let x = rng
                .random_range((*min as f64).ln()..=(*max as f64 + 1.0).ln())
                .exp();
            (x.floor() as i64).clamp(*min, *max).to_string()
        }
        Range::Continuous {
            min,
            max,
            log: false,
        } => format!("{}", rng.random_range(*min..=*max)),
        Range::Continuous {
            min,
            max,
            log: true,
        } => {
            format!(
                "{}",
                rng.random_range(min.ln()..=max.ln())
                    .exp()
                    .clamp(*min, *max)
            )
        }
    }
}

/// The trials, in order: definitions take turns, each trial's values drawn from the seeded
/// generator in the order the definition lists its ranges.
pub(crate) fn plan(definitions: &[Definition], count: usize, seed: u64) -> Vec<Trial> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..count)
        .map(|i| {
            let index = i % definitions.len().max(1);
            let mut hyperparameters = BTreeMap::new();
            if let Some(d) = definitions.get(index) {
                hyperparameters = d.static_hyperparameters.clone();
                for (name, range) in &d.ranges {
                    hyperparameters.insert(name.clone(), sample(range, &mut rng));
                }
            }
            Trial {
                definition: index,
                hyperparameters,
            }
        })
        .collect()
}

pub(crate) fn tuning_step(run: &Run, step: &StepDef) -> Result<Value, StepEnd> {
    let args = resolved_arguments(run, step)?;
    let bad = bad_arguments;
    let config = args
        .get("HyperParameterTuningJobConfig")
        .ok_or_else(|| bad("HyperParameterTuningJobConfig is missing".into()))?;
    let strategy = config
        .get("Strategy")
        .and_then(Value::as_str)
        .unwrap_or("Random");
    if strategy != "Random" {
        return Err(bad(format!(
            "tuning strategy {strategy} is not supported locally (only Random)"
        )));
    }
    let limits = config.get("ResourceLimits");
    let max_jobs = number(
        limits.and_then(|l| l.get("MaxNumberOfTrainingJobs")),
        "MaxNumberOfTrainingJobs",
    )
    .map_err(bad)?;
    let max_parallel = number(
        limits.and_then(|l| l.get("MaxParallelTrainingJobs")),
        "MaxParallelTrainingJobs",
    )
    .map_err(bad)?;
    if max_jobs < 1 || max_parallel < 1 {
        return Err(bad(format!(
            "MaxNumberOfTrainingJobs ({max_jobs}) and MaxParallelTrainingJobs ({max_parallel}) must be at least 1"
        )));
    }
    // SageMaker draws a seed when none is given; a fixed one keeps local runs reproducible.
    let seed = match config.get("RandomSeed") {
        None | Some(Value::Null) => 0,
        v => number(v, "RandomSeed").map_err(bad)?,
    };
    let raw_definitions: Vec<Value> = match (
        args.get("TrainingJobDefinitions"),
        args.get("TrainingJobDefinition"),
    ) {
        (Some(Value::Array(list)), _) => list.clone(),
        (_, Some(single)) => vec![single.clone()],
        _ => return Err(bad("TrainingJobDefinitions is missing".into())),
    };
    let definitions = raw_definitions
        .iter()
        .enumerate()
        .map(|(i, d)| parse_definition(d, i))
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
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| loop {
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
    fn parses_the_generated_ranges() {
        let v = json!({"CategoricalParameterRanges": [{"Name": "a", "Values": ["1", "2"]}],
            "IntegerParameterRanges": [{"Name": "b", "MinValue": "2", "MaxValue": "11", "ScalingType": "Auto"}],
            "ContinuousParameterRanges": []});
        let r = parse_ranges(&v, "D").unwrap();
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
        assert!(parse_ranges(&bad, "D").unwrap_err().contains("range b"));
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
