//! How much memory an `mmp-container` job needs, from the bytes of its inputs: one formula that
//! the local executor admits jobs by (so jobs run at once only as far as memory allows) and
//! that docs/benchmarks.md checks against measured peaks.
//!
//! The formula is `BASE + factor · input bytes`, with a factor per command:
//! - `preprocess` streams its CSV, holding a few bytes per row: factor 1/8.
//! - `train` (a tuning trial or the refit) holds the encoded rows `x` as f64s and each fold's
//!   copy of them while two folds fit side by side: about 4.8 × `x` (docs/benchmarks.md, "A
//!   trial's memory"). `x` is 0.8 × the CSV for numeric columns and 2.2 × on the 1,000,000-row
//!   dataset's one-hot categories, so: factor 12.
//! - `evaluate` scores each record as it reads it, holding the model (an input) and a few
//!   bytes a row: factor 1.
//! - anything else (`serve`): factor 12.
//!
//! The factors are upper bounds for the datasets measured there; one of many more categories
//! one-hot encoded needs more. Within a job, the train job also fits no more folds at once than
//! the memory left holds (`mmp_ml::cv::cross_val_score_within`).
//!
//! A train job also holds, for each fit, a few values per row and class of a target of more
//! than two classes ([`row_output_bytes`]): with 500 classes that is 100 times its rows. The
//! inputs' size cannot show it, so the preprocess job writes the train split's rows and classes
//! beside it ([`SplitShape`], in [`SPLIT_SHAPE_FILE`]) and [`train_estimate`] adds
//! `fits · rows · outputs · row_output_bytes`, a fit per fold of a trial (each may hold its
//! memory at once) or one for the refit.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::algorithm::Algorithm;
use crate::contract::{
    CMD_EVALUATE, CMD_PREPROCESS, CMD_TRAIN, DEFAULT_CV_FOLDS, HP_ALGORITHM, HP_CROSS_VALIDATION,
    HP_CV_FOLDS, HP_EPOCHS,
};

/// What any job takes before its data: the binary, its thread stacks and allocator arenas.
pub const BASE_BYTES: u64 = 48 << 20;

/// The memory a job of `command` (its first argument) needs with `input_bytes` of input.
pub fn job_estimate(command: &str, input_bytes: u64) -> u64 {
    let scaled = match command {
        CMD_PREPROCESS => input_bytes / 8,
        CMD_TRAIN => input_bytes.saturating_mul(12),
        CMD_EVALUATE => input_bytes,
        _ => input_bytes.saturating_mul(12),
    };
    BASE_BYTES.saturating_add(scaled)
}

/// The file beside the train split (in its folder and so in the train channel) holding its
/// [`SplitShape`] as JSON. Hidden, so a channel's one data file is still found without a name.
pub const SPLIT_SHAPE_FILE: &str = ".shape.json";

/// The train split as the preprocess job counted it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SplitShape {
    /// Data rows.
    pub rows: u64,
    /// The target's classes; 0 for a regression target.
    pub classes: u64,
}

impl SplitShape {
    /// What a model of this target predicts per row: a value per class beyond two, else one.
    pub fn outputs(&self) -> u64 {
        if self.classes > 2 {
            self.classes
        } else {
            1
        }
    }
}

/// What a fit of `algorithm` holds per row for each output, beyond the rows themselves. Every
/// family predicts its held-out rows' probabilities (8 bytes each). A booster also holds a
/// round's gradients (16) and the margins (8) of every row and class, each tree's update of its
/// rows' margins (8, held for a round's trees together) and the held-out margins (8): measured
/// on a 500-class trial, 43 bytes a row and class for XGBoost's objective and 53 for LightGBM's
/// (docs/benchmarks.md). The network holds a batch's outputs and their gradients, and an
/// epoch's probabilities of the rows it scores: 16 bytes a row and class, measured the same way.
pub const fn row_output_bytes(algorithm: Algorithm) -> u64 {
    match algorithm {
        Algorithm::XGBoost | Algorithm::LightGBM => 56,
        Algorithm::NeuralNet => 16,
        Algorithm::RandomForest | Algorithm::LogisticRegression | Algorithm::NaiveBayes => 8,
    }
}

/// A train job's fits, as its hyperparameters and the split's shape tell them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TrainFits {
    /// The family; `None` when the hyperparameters do not name one (a refit taking it from the
    /// best trial), and the estimate takes the family that holds the most.
    pub algorithm: Option<Algorithm>,
    /// Fits that may hold their memory at once: a trial's folds, or 1 for the refit.
    pub fits: u64,
    /// The train split.
    pub shape: SplitShape,
}

impl TrainFits {
    /// Read loosely from `hyperparameters` (values as the job gets them, some JSON-quoted):
    /// only for an estimate, so a value the job would refuse counts as its default.
    pub fn new(hyperparameters: &BTreeMap<String, String>, shape: SplitShape) -> Self {
        let get = |name: &str| {
            hyperparameters
                .get(name)
                .map(|v| v.trim().trim_matches('"').trim())
        };
        let cross_validation =
            get(HP_CROSS_VALIDATION).is_some_and(|v| v.eq_ignore_ascii_case("true") || v == "1");
        let folds = [HP_EPOCHS, HP_CV_FOLDS]
            .into_iter()
            .find_map(|name| get(name)?.parse::<u64>().ok())
            .unwrap_or(DEFAULT_CV_FOLDS as u64);
        Self {
            algorithm: get(HP_ALGORITHM).and_then(|v| v.parse().ok()),
            fits: if cross_validation { folds } else { 1 },
            shape,
        }
    }
}

/// The memory a train job needs with `input_bytes` of input and `fits`: [`job_estimate`] and
/// what its fits hold per row and output.
pub fn train_estimate(input_bytes: u64, fits: &TrainFits) -> u64 {
    let per_output = fits.algorithm.map_or(
        Algorithm::ALL
            .into_iter()
            .map(row_output_bytes)
            .fold(0, u64::max),
        row_output_bytes,
    );
    let outputs = fits
        .fits
        .saturating_mul(fits.shape.rows)
        .saturating_mul(fits.shape.outputs())
        .saturating_mul(per_output);
    job_estimate(CMD_TRAIN, input_bytes).saturating_add(outputs)
}

/// The memory Linux reports available (`MemAvailable` of `/proc/meminfo`), `None` elsewhere.
pub fn machine_available() -> Option<u64> {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|info| mem_available(&info))
}

fn mem_available(meminfo: &str) -> Option<u64> {
    let line = meminfo.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    kib.checked_mul(1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_mem_available() {
        let info = "MemTotal:       16000000 kB\nMemAvailable:    8000000 kB\n";
        assert_eq!(mem_available(info), Some(8_000_000 * 1024));
        assert_eq!(mem_available("MemTotal: 1 kB\n"), None);
        assert_eq!(mem_available("MemAvailable: lots\n"), None);
    }

    #[test]
    fn streaming_preprocess_needs_far_less_than_training() {
        let gib = 1u64 << 30;
        assert_eq!(job_estimate(CMD_PREPROCESS, gib), BASE_BYTES + gib / 8);
        assert_eq!(job_estimate(CMD_TRAIN, gib), BASE_BYTES + 12 * gib);
        assert_eq!(job_estimate(CMD_EVALUATE, gib), BASE_BYTES + gib);
        assert_eq!(job_estimate(CMD_TRAIN, 0), BASE_BYTES);
        assert_eq!(job_estimate(CMD_TRAIN, u64::MAX), u64::MAX);
    }

    fn hyperparameters(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn a_train_estimate_counts_each_fits_rows_and_classes() {
        let trial = hyperparameters(&[("algorithm", "\"XGBoost\""), ("cross-validation", "true")]);
        let shape = |classes| SplitShape {
            rows: 16_000,
            classes,
        };
        let input = 3 << 20;
        let many = TrainFits::new(&trial, shape(500));
        assert_eq!(many.algorithm, Some(Algorithm::XGBoost));
        assert_eq!(many.fits, DEFAULT_CV_FOLDS as u64);
        // 5 folds × 16,000 rows × 500 classes × 56 bytes: 2.2 GB beside the rows' 84 MiB.
        let expected = job_estimate(CMD_TRAIN, input) + 5 * 16_000 * 500 * 56;
        assert_eq!(train_estimate(input, &many), expected);
        // Two classes or a number are one output a row.
        let two = train_estimate(input, &TrainFits::new(&trial, shape(2)));
        assert_eq!(two, job_estimate(CMD_TRAIN, input) + 5 * 16_000 * 56);
        assert_eq!(
            train_estimate(input, &TrainFits::new(&trial, shape(0))),
            two
        );
        // The folds the trial names; the refit's one fit; a smaller family.
        let three = hyperparameters(&[
            ("algorithm", "XGBoost"),
            ("cross-validation", "True"),
            ("cv-folds", "3"),
        ]);
        assert_eq!(TrainFits::new(&three, shape(500)).fits, 3);
        let refit = hyperparameters(&[("algorithm", "LogisticRegression")]);
        let fits = TrainFits::new(&refit, shape(500));
        assert_eq!(fits.fits, 1);
        assert_eq!(
            train_estimate(input, &fits),
            job_estimate(CMD_TRAIN, input) + 16_000 * 500 * 8
        );
        // A refit that takes its family from the best trial counts the family holding most.
        let unnamed = TrainFits::new(&BTreeMap::new(), shape(500));
        assert_eq!(unnamed.algorithm, None);
        assert_eq!(
            train_estimate(input, &unnamed),
            job_estimate(CMD_TRAIN, input) + 16_000 * 500 * 56
        );
        let huge = SplitShape {
            rows: u64::MAX,
            classes: u64::MAX,
        };
        assert_eq!(
            train_estimate(input, &TrainFits::new(&trial, huge)),
            u64::MAX
        );
    }
}
