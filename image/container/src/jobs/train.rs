//! The training job: a tuning trial (`cross-validation=true`: k-fold CV, metric line,
//! `model/trial.json`) or the refit (`cross-validation=false`: fit on every row and write
//! the model artifact to `model/`, taking algorithm and hyperparameters from the best
//! trial's archive in the `best` channel when there is one).

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

use anyhow::Context;
use mmp_ml::cv::{cross_val_score_within, fold_bytes};
use mmp_ml::error::MlError;
use mmp_ml::estimators::{from_hyperparams, Algorithm, Estimator};
use mmp_ml::hyperparams::HyperParams;
use mmp_ml::index::MAX_RECORD_BYTES;
use mmp_ml::model::{read_archive, Model, TrainingData};
use mmp_ml::scorer::Scorer;
use mmp_ml::target::{Target, Task};
use mmp_pipeline::contract::{
    metric_line, BEST_TRIAL_CHANNEL, CHANNELS_DIR, DEFAULT_CV_FOLDS, HP_ALGORITHM,
    HP_CROSS_VALIDATION, HP_CV_FOLDS, HP_CV_SCORER, HP_EPOCHS, HP_RANDOM_STATE, HP_TARGET, HP_TASK,
    HP_TRAIN_FILE, HYPERPARAMETERS_FILE, MODEL_ARCHIVE, MODEL_DIR, ORIGINAL_METRIC_PREFIX,
    TRAIN_CHANNEL,
};
use mmp_pipeline::parameters::DEFAULT_TARGET_COLUMN;
use serde_json::json;

use crate::paths::{data_file, MlRoot};

/// The file every trial (and the refit) writes into `model/`: algorithm and hyperparameters.
pub const TRIAL_FILE: &str = "trial.json";
/// `random-state` when not given (the pipeline's default RandomState).
pub const DEFAULT_RANDOM_STATE: u64 = 42;
/// Hyperparameters that describe the job rather than the family: a refit keeps its own.
const STATIC: [&str; 9] = [
    HP_ALGORITHM,
    HP_TARGET,
    HP_TRAIN_FILE,
    HP_CROSS_VALIDATION,
    HP_CV_SCORER,
    HP_CV_FOLDS,
    HP_EPOCHS,
    HP_RANDOM_STATE,
    HP_TASK,
];

/// What the job did.
#[derive(Debug, Clone, PartialEq)]
pub enum TrainOutcome {
    /// A tuning trial: cross-validated, `trial.json` written, no model.
    Trial {
        /// The family tried.
        algorithm: Algorithm,
        /// The mean cross-validation score the tuner reads from the metric line.
        score: f64,
    },
    /// A refit: fitted on the whole train split, model artifact written.
    Refit {
        /// The family fitted (the best trial's, when a `best` channel was given).
        algorithm: Algorithm,
        /// The task the target was read as.
        task: Task,
    },
}

/// The lines a trial's final score is read from: the `mmp-val-score` line (matched by
/// `METRIC_REGEX`), and the original's line when the score is not negative (its regex
/// `Cross-Validation Score: ([0-9.]+).*$` cannot match a minus sign).
///
/// A trial prints an `mmp-val-score` line as each fold is scored: the mean of the folds
/// scored so far, one intermediate objective value (Hyperband's resource is a fold). The
/// last, after every fold, is the final mean, so the last match of `METRIC_REGEX` is the
/// objective as before; the original's line follows it once.
pub fn metric_lines(score: f64) -> Vec<String> {
    let mut lines = vec![metric_line(score)];
    lines.extend(original_metric_line(score));
    lines
}

/// The original's metric line, for a score its regex can read.
pub fn original_metric_line(score: f64) -> Option<String> {
    (score >= 0.0).then(|| format!("{ORIGINAL_METRIC_PREFIX}{score:.10}"))
}

/// The folds of a trial: `n-epochs` (the name Hyperband infers MaxResource from), else
/// `cv-folds`, else [`DEFAULT_CV_FOLDS`]; both given and different is an error. At least 2,
/// and the fold code bounds it by the rows, as it bounds `cv-folds`.
pub fn cv_folds(hp: &HyperParams) -> anyhow::Result<usize> {
    let epochs = hp.parse::<usize>(HP_EPOCHS)?;
    let folds = hp.parse::<usize>(HP_CV_FOLDS)?;
    let (name, k) = match (epochs, folds) {
        (Some(e), Some(f)) if e != f => anyhow::bail!(
            "hyperparameters {HP_EPOCHS}={e} and {HP_CV_FOLDS}={f} disagree: both name the \
             trial's folds; give one, or the same value"
        ),
        (Some(k), _) => (HP_EPOCHS, k),
        (None, Some(k)) => (HP_CV_FOLDS, k),
        (None, None) => return Ok(DEFAULT_CV_FOLDS),
    };
    if k < 2 {
        anyhow::bail!("hyperparameter `{name}`: the folds must be at least 2, got {k}");
    }
    Ok(k)
}

/// Fails, naming the hyperparameter, when what it asks the model to hold is more than `memory`
/// (the job's, when known): such a fit could only end in an allocation failure, an abort with
/// no reason given.
fn refuse_beyond_memory(
    estimator: &dyn Estimator,
    data: &TrainingData,
    hp: &HyperParams,
    memory: Option<u64>,
) -> anyhow::Result<()> {
    let outputs = match &data.target {
        Target::Classes { labels, .. } => labels.len(),
        Target::Values(_) => 1,
    };
    let (Some(memory), Some(least)) = (memory, estimator.least_bytes(data.x.ncols(), outputs))
    else {
        return Ok(());
    };
    if least.bytes > memory {
        anyhow::bail!(
            "hyperparameter `{}`: `{}` asks for more than this job's memory: {} need at least {} MiB, and {} MiB are available",
            least.hyperparameter,
            hp.get(least.hyperparameter).unwrap_or_default().trim(),
            least.holds,
            least.bytes / (1 << 20),
            memory / (1 << 20),
        );
    }
    Ok(())
}

/// A fit's error, with a model column named as the input column it encodes.
fn naming_columns(e: MlError, data: &TrainingData) -> anyhow::Error {
    match e {
        MlError::TooLarge {
            family,
            column,
            why,
        } => anyhow::anyhow!(
            "fitting {family}: column `{}`: its values are too large: {why}",
            data.schema
                .column_name(column)
                .unwrap_or_else(|| format!("model column {column}")),
        ),
        e => e.into(),
    }
}

/// Runs a trial or a refit, as the `cross-validation` hyperparameter says.
pub fn run(root: &MlRoot) -> anyhow::Result<TrainOutcome> {
    let hp_path = root.path(HYPERPARAMETERS_FILE);
    let text = std::fs::read_to_string(&hp_path)
        .with_context(|| format!("reading hyperparameters {}", hp_path.display()))?;
    let own = HyperParams::from_json(&text)?;
    let cross_validation = own.flag(HP_CROSS_VALIDATION)?.unwrap_or(false);
    let channels = root.path(CHANNELS_DIR);
    let best = channels.join(BEST_TRIAL_CHANNEL);
    let hp = if !cross_validation && best.is_dir() {
        merge_best_trial(&own, &best)?
    } else {
        own
    };
    let algorithm = hp
        .get(HP_ALGORITHM)
        .context("hyperparameter `algorithm` is required")?
        .trim()
        .parse::<Algorithm>()?;
    // Parse the family's hyperparameters before reading any data: a bad value fails fast.
    let estimator = from_hyperparams(algorithm, &hp)?;
    let target = hp.get(HP_TARGET).unwrap_or(DEFAULT_TARGET_COLUMN).trim();
    let task = hp.get(HP_TASK).map(Task::parse).transpose()?;
    let seed = hp
        .parse::<u64>(HP_RANDOM_STATE)?
        .unwrap_or(DEFAULT_RANDOM_STATE);
    let train_file = data_file(&channels.join(TRAIN_CHANNEL), hp.get(HP_TRAIN_FILE))
        .map_err(anyhow::Error::msg)?;
    let memory = crate::memory::available();
    // Streamed: the records are never held, only the encoded rows (docs/container.md), and
    // those only if the memory holds them.
    let data = TrainingData::read(
        &train_file,
        target,
        task,
        MAX_RECORD_BYTES,
        memory.unwrap_or(u64::MAX),
    )?;
    estimator.supports(data.task)?;
    refuse_beyond_memory(estimator.as_ref(), &data, &hp, memory)?;
    if data.task == Task::Regression {
        // The tuner draws these for every dataset; they only mean something for classifiers.
        for name in ["class-weight", "criterion"] {
            if let Some(value) = hp.get(name) {
                tracing::info!(name, value, "does not apply to regression; ignored");
            }
        }
    }
    let model_dir = root.path(MODEL_DIR);
    std::fs::create_dir_all(&model_dir)
        .with_context(|| format!("creating {}", model_dir.display()))?;
    tracing::info!(
        %algorithm,
        task = data.task.name(),
        rows = data.x.nrows(),
        features = data.schema.features.len(),
        cross_validation,
        "training"
    );
    if cross_validation {
        let scorer_name = hp
            .get(HP_CV_SCORER)
            .map(str::trim)
            .unwrap_or(match data.task {
                Task::Regression => "r2",
                _ => "roc_auc",
            });
        let scorer = Scorer::parse(scorer_name)?;
        scorer.check(scorer_name, data.task)?;
        let k = cv_folds(&hp)?;
        // Folds fit side by side only as far as the memory left allows.
        let memory = memory.unwrap_or(u64::MAX);
        let per_fold = fold_bytes(&data, estimator.as_ref());
        if per_fold > memory {
            tracing::warn!(
                fold_bytes = per_fold,
                available = memory,
                "one fold needs more memory than is available: use an instance type with more \
                 memory, or fewer rows"
            );
        }
        // One line per fold as it is scored, flushed so that a tuner watching the log sees
        // it while the other folds fit.
        let print_fold = |_scored: usize, running_mean: f64| {
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "{}", metric_line(running_mean));
            let _ = out.flush();
        };
        let scores = cross_val_score_within(
            estimator.as_ref(),
            &data,
            scorer,
            k,
            seed,
            memory,
            &print_fold,
        )
        .map_err(|e| naming_columns(e, &data))?;
        if let Some(line) = original_metric_line(scores.mean) {
            println!("{line}");
        }
        let trial = json!({
            "algorithm": algorithm,
            "hyperparameters": hp.to_map(),
            "task": data.task,
            "cv_scorer": scorer_name,
            "cv_folds": k,
            "cv_fold_scores": scores.folds,
            "cv_score": scores.mean,
        });
        super::write_json(&model_dir.join(TRIAL_FILE), &trial)?;
        return Ok(TrainOutcome::Trial {
            algorithm,
            score: scores.mean,
        });
    }
    let model = Model::fit(estimator.as_ref(), &data, hp.to_map(), seed)
        .map_err(|e| naming_columns(e, &data))?;
    model.save(&model_dir)?;
    let trial =
        json!({ "algorithm": algorithm, "hyperparameters": hp.to_map(), "task": data.task });
    super::write_json(&model_dir.join(TRIAL_FILE), &trial)?;
    Ok(TrainOutcome::Refit {
        algorithm,
        task: data.task,
    })
}

/// The best trial's algorithm and family hyperparameters, with this job's own static ones
/// (target, file, seed...) on top.
fn merge_best_trial(own: &HyperParams, channel: &Path) -> anyhow::Result<HyperParams> {
    let archive = channel.join(MODEL_ARCHIVE);
    let trial_bytes = if archive.is_file() {
        read_archive(&archive)?
            .remove(TRIAL_FILE)
            .with_context(|| {
                format!(
                    "{}: no {TRIAL_FILE} in the best trial's archive",
                    archive.display()
                )
            })?
    } else {
        let unpacked = channel.join(TRIAL_FILE);
        std::fs::read(&unpacked).with_context(|| {
            format!(
                "{}: the best-trial channel holds neither {MODEL_ARCHIVE} nor {TRIAL_FILE}",
                channel.display()
            )
        })?
    };
    let trial: serde_json::Value =
        serde_json::from_slice(&trial_bytes).context("the best trial's trial.json is not JSON")?;
    let algorithm = trial["algorithm"]
        .as_str()
        .context("the best trial's trial.json names no algorithm")?;
    let mut merged: BTreeMap<String, String> = BTreeMap::new();
    if let Some(map) = trial["hyperparameters"].as_object() {
        for (k, v) in map {
            if let Some(s) = v.as_str() {
                merged.insert(k.clone(), s.to_string());
            }
        }
    }
    for (k, v) in own.iter() {
        if STATIC.contains(&k) || !merged.contains_key(k) {
            merged.insert(k.to_string(), v.to_string());
        }
    }
    merged.insert(HP_ALGORITHM.to_string(), algorithm.to_string());
    merged.insert(HP_CROSS_VALIDATION.to_string(), "false".to_string());
    tracing::info!(algorithm, "refitting the best trial");
    Ok(HyperParams::from_pairs(
        merged.iter().map(|(k, v)| (k.as_str(), v.as_str())),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use mmp_pipeline::contract::{METRIC_REGEX, ORIGINAL_METRIC_REGEX};
    use regex::Regex;

    fn captured(regex: &Regex, lines: &[String]) -> Option<f64> {
        lines
            .iter()
            .find_map(|l| regex.captures(l))
            .map(|c| c[1].parse().unwrap())
    }

    #[test]
    fn n_epochs_names_the_folds_and_must_agree_with_cv_folds() {
        let folds =
            |pairs: &[(&str, &str)]| cv_folds(&HyperParams::from_pairs(pairs.iter().copied()));
        assert_eq!(folds(&[]).unwrap(), DEFAULT_CV_FOLDS);
        assert_eq!(folds(&[("cv-folds", "4")]).unwrap(), 4);
        assert_eq!(folds(&[("n-epochs", "7")]).unwrap(), 7);
        assert_eq!(folds(&[("n-epochs", "3"), ("cv-folds", "3")]).unwrap(), 3);
        let e = folds(&[("n-epochs", "3"), ("cv-folds", "5")])
            .unwrap_err()
            .to_string();
        assert!(e.contains("n-epochs=3") && e.contains("cv-folds=5"), "{e}");
        assert!(folds(&[("n-epochs", "many")]).is_err());
        let e = folds(&[("n-epochs", "1")]).unwrap_err().to_string();
        assert!(e.contains("`n-epochs`") && e.contains("at least 2"), "{e}");
    }

    #[test]
    fn every_score_gets_a_line_the_tuner_reads_exactly() {
        let ours = Regex::new(METRIC_REGEX).unwrap();
        let original = Regex::new(ORIGINAL_METRIC_REGEX).unwrap();
        for score in [
            0.987_654_321_0,
            0.0,
            1.0,
            12.25,
            -0.5,
            -3_254.123_456_789,
            -1e-12,
        ] {
            let lines = metric_lines(score);
            let read = captured(&ours, &lines).unwrap();
            assert!((read - score).abs() < 1e-9, "{lines:?}");
            match captured(&original, &lines) {
                Some(v) => {
                    assert!(score >= 0.0);
                    assert!((v - score).abs() < 1e-9, "{lines:?}");
                }
                None => assert!(score < 0.0, "{lines:?}"),
            }
        }
        // The original's regex misreads a negative score as positive; that is why no
        // original line is printed for one.
        let misread = captured(&original, &["Cross-Validation Score: -0.5".to_string()]);
        assert_eq!(
            misread, None,
            "[0-9.]+ cannot start at a minus sign right after the prefix"
        );
    }
}
