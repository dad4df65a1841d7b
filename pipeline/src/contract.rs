//! The job contract between the pipeline definition and `mmp-container`.
//!
//! Paths are relative to the ML root: `/opt/ml` on SageMaker, or whatever the
//! [`ML_ROOT_ENV`] variable names (the local executor gives each job its own folder).

/// Environment variable that re-roots every `/opt/ml` path.
pub const ML_ROOT_ENV: &str = "MMP_ML_ROOT";
/// SageMaker's ML root.
pub const DEFAULT_ML_ROOT: &str = "/opt/ml";

// --- Processing jobs (preprocess, evaluate) ---
/// Where the preprocess job finds the uploaded dataset (the one CSV object of the input URI).
pub const PROCESSING_INPUT_DATA: &str = "processing/input/data";
/// Preprocess output: the train split; also the evaluate job never reads it.
pub const PROCESSING_TRAIN: &str = "processing/train";
/// Preprocess output and evaluate input: the test split.
pub const PROCESSING_TEST: &str = "processing/test";
/// Evaluate input: the refit job's `model.tar.gz`.
pub const PROCESSING_MODEL: &str = "processing/model";
/// Evaluate output folder, holding [`EVALUATION_FILE`].
pub const PROCESSING_EVALUATION: &str = "processing/evaluation";
/// The evaluation report's file name (also the PropertyFile's FilePath).
pub const EVALUATION_FILE: &str = "evaluation.json";
/// The model archive SageMaker makes of a training job's `model/` folder.
pub const MODEL_ARCHIVE: &str = "model.tar.gz";

// --- Training jobs (tuning trials and the refit) ---
/// Hyperparameters, every value a string (some JSON-quoted by the SageMaker SDK).
pub const HYPERPARAMETERS_FILE: &str = "input/config/hyperparameters.json";
/// Parent folder of the input channels: `input/data/<channel>/`.
pub const CHANNELS_DIR: &str = "input/data";
/// Channel holding the train split.
pub const TRAIN_CHANNEL: &str = "train";
/// Refit only: channel holding the best trial's `model.tar.gz`.
pub const BEST_TRIAL_CHANNEL: &str = "best";
/// Folder whose contents SageMaker archives as `model.tar.gz`.
pub const MODEL_DIR: &str = "model";
/// A failed job writes its reason here and exits non-zero.
pub const FAILURE_FILE: &str = "output/failure";
/// A processing job's exit message (DescribeProcessingJob's ExitMessage: its first 1 KB).
pub const PROCESSING_MESSAGE_FILE: &str = "output/message";

// --- Static hyperparameters (names as the original's training scripts take them) ---
/// The family to fit ([`crate::algorithm::Algorithm`]).
pub const HP_ALGORITHM: &str = "algorithm";
/// The column to predict.
pub const HP_TARGET: &str = "target";
/// The train split's file name in the train channel.
pub const HP_TRAIN_FILE: &str = "train-file";
/// `true`: a tuning trial (cross-validate, no model); `false`: the refit.
pub const HP_CROSS_VALIDATION: &str = "cross-validation";
/// The scorer a trial cross-validates with.
pub const HP_CV_SCORER: &str = "cv-scorer";
/// Folds of a trial's cross-validation.
pub const HP_CV_FOLDS: &str = "cv-folds";
/// A trial's CV folds under the name SageMaker's Hyperband infers its MaxResource from
/// (`epochs`, `numepochs`, `n-epochs`, `n_epochs`, `num_epochs`): each fold's running mean is
/// one intermediate objective value, so a fold is one epoch of resource. Same meaning as
/// [`HP_CV_FOLDS`]; a job given both with different values fails.
pub const HP_EPOCHS: &str = "n-epochs";
/// A trial's folds when neither [`HP_EPOCHS`] nor [`HP_CV_FOLDS`] is given.
pub const DEFAULT_CV_FOLDS: usize = 5;
/// Seeds every fit.
pub const HP_RANDOM_STATE: &str = "random-state";
/// Optional: `binary`, `multiclass` or `regression`; detected from the target when absent.
pub const HP_TASK: &str = "task";

// --- Tuning metric ---
/// The objective metric's name, maximized by the tuner.
pub const METRIC_NAME: &str = "val_score";
/// The original's metric line prefix; printed only for scores >= 0, since its regex
/// `Cross-Validation Score: ([0-9.]+).*$` cannot match a negative number.
pub const ORIGINAL_METRIC_PREFIX: &str = "Cross-Validation Score: ";
/// The original's regex, kept for reference and for tests.
pub const ORIGINAL_METRIC_REGEX: &str = "Cross-Validation Score: ([0-9.]+).*$";
/// Prefix of the metric line every trial prints, whatever the sign of its score.
pub const METRIC_PREFIX: &str = "mmp-val-score: ";
/// The regex the tuning definition uses: matches every score the container prints
/// (negative, fractional, or in exponent form).
pub const METRIC_REGEX: &str = r"mmp-val-score: (-?[0-9]+(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?)";

/// The metric line for `score`, formatted so that [`METRIC_REGEX`] captures it exactly.
pub fn metric_line(score: f64) -> String {
    format!("{METRIC_PREFIX}{score:.10}")
}

// --- Processing job arguments ---
/// The target column (preprocess, evaluate).
pub const ARG_TARGET: &str = "--target";
/// Share of rows held out (preprocess).
pub const ARG_TEST_SIZE: &str = "--test-size";
/// `True`/`False`: stratified split (preprocess).
pub const ARG_STRATIFY: &str = "--stratify";
/// Seeds the split (preprocess).
pub const ARG_RANDOM_STATE: &str = "--random-state";
/// The CSV to read, and the name the splits are written under.
pub const ARG_FILE_NAME: &str = "--file-name";
/// The metric evaluate reports for the registration condition.
pub const ARG_REGISTER_METRIC: &str = "--register-metric";
/// Optional on preprocess and train: the task, when detection from the target is not wanted.
pub const ARG_TASK: &str = "--task";

/// Sub-commands of `mmp-container`: SageMaker runs the image with `train` or `serve`;
/// processing jobs name their sub-command in ContainerEntrypoint.
pub const CMD_PREPROCESS: &str = "preprocess";
/// A trial or the refit (a training job).
pub const CMD_TRAIN: &str = "train";
/// Writes `evaluation.json` (a processing job).
pub const CMD_EVALUATE: &str = "evaluate";
/// Serves models (an endpoint).
pub const CMD_SERVE: &str = "serve";
/// Name of the container binary, as ContainerEntrypoint spells it.
pub const CONTAINER_BINARY: &str = "mmp-container";
