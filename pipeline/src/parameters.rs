//! Names of the pipeline's parameters, the steps and the property file: what the trigger
//! passes, what the executor resolves and what the reporter reads back.

/// The dataset the upload belongs to: names the model package group and the routing key.
pub const DATASET_NAME: &str = "DatasetName";
/// S3 URI of the uploaded CSV object (the original loaded fixed datasets instead).
pub const INPUT_DATA_URI: &str = "InputDataUri";
/// ETag (unquoted) of the upload `InputDataUri` pins; lineage, recorded on the model version.
pub const INPUT_DATA_ETAG: &str = "InputDataETag";
/// S3 version id of that upload; `null` (S3's own word) when the bucket keeps no versions.
pub const INPUT_DATA_VERSION_ID: &str = "InputDataVersionId";
/// Name of the target column (the original hard-coded `CLASS`).
pub const TARGET_COLUMN: &str = "TargetColumn";
/// `True`/`False`: keep each class's share in both splits.
pub const STRATIFY_SPLIT: &str = "StratifySplit";
/// Share of the rows held out for evaluation.
pub const TEST_SET_SIZE: &str = "TestSetSize";
/// Seeds the split and every fit, so an execution can be repeated.
pub const RANDOM_STATE: &str = "RandomState";
/// The scikit-learn scorer the trials maximize (one of [`CV_SCORERS`]).
pub const CROSS_VALIDATION_SCORER: &str = "CrossValidationScorer";
/// Trials the tuning step runs in all.
pub const MAX_TUNING_JOBS: &str = "MaxTuningJobs";
/// Trials the tuning step runs at once.
pub const MAX_TUNING_PARALLEL_JOBS: &str = "MaxTuningParallelJobs";
/// How the tuning step chooses trials: one of [`TUNING_STRATEGIES`].
pub const TUNING_STRATEGY: &str = "TuningStrategy";
/// The tuning step ends once a trial's objective reaches this value (completion criteria).
pub const TUNING_TARGET_OBJECTIVE: &str = "TuningTargetObjective";
/// The tuning step ends after this many trials in a row fail to improve on the best.
pub const TUNING_MAX_TRIALS_NOT_IMPROVING: &str = "TuningMaxTrialsNotImproving";
/// `Enabled`: the tuning step ends when the search has converged (`Disabled` by default).
pub const TUNING_COMPLETE_ON_CONVERGENCE: &str = "TuningCompleteOnConvergence";
/// The test metric the condition step checks (one of [`REGISTRATION_METRICS`]).
pub const METRIC_FOR_REGISTRATION_THRESHOLD: &str = "MetricForRegistrationThreshold";
/// Spelled as the original spells it, so that existing callers keep working.
pub const MIN_THRESHOLD_FOR_REGISTER_METRIC: &str = "MinThesholdForRegisterMetric";
/// The status a registered version starts with (`PendingManualApproval` or `Approved`).
pub const REGISTER_MODEL_APPROVAL_STATUS: &str = "RegisterModelApprovalStatus";
/// Instance type of the preprocess processing job.
pub const PREPROCESSING_INSTANCE: &str = "PreprocessingInstance";
/// Instance type of every trial and of the refit.
pub const TRAINING_INSTANCE: &str = "TrainingInstance";
/// Instance type of the evaluate processing job.
pub const EVALUATION_INSTANCE: &str = "EvaluationInstance";

/// [`TARGET_COLUMN`]'s default, the original's target.
pub const DEFAULT_TARGET_COLUMN: &str = "CLASS";

/// The original's scorers, then the regression scorers this project adds.
pub const CV_SCORERS: [&str; 19] = [
    "accuracy",
    "balanced_accuracy",
    "top_k_accuracy",
    "average_precision",
    "f1",
    "f1_micro",
    "f1_macro",
    "f1_weighted",
    "precision",
    "recall",
    "jaccard",
    "roc_auc",
    "roc_auc_ovr",
    "roc_auc_ovo",
    "roc_auc_ovr_weighted",
    "roc_auc_ovo_weighted",
    "r2",
    "neg_mean_squared_error",
    "neg_mean_absolute_error",
];

/// SageMaker's tuning strategies, the default first.
pub const TUNING_STRATEGIES: [&str; 4] = ["Random", "Bayesian", "Hyperband", "Grid"];
/// [`TUNING_TARGET_OBJECTIVE`]'s default: no scorer of [`CV_SCORERS`] exceeds 1, so it never
/// ends a tuning step (a definition cannot leave the criterion out per execution, only set it
/// out of reach).
pub const NO_TARGET_OBJECTIVE: f64 = 1e9;
/// [`TUNING_MAX_TRIALS_NOT_IMPROVING`]'s default: more trials than a tuning job may run
/// (SageMaker's MaxNumberOfTrainingJobs is at most 10,000 or so), so it never ends one.
pub const NO_MAX_TRIALS_NOT_IMPROVING: u32 = 1_000_000;

/// Metrics the registration condition may check: the original's five, then `r2` for regression.
pub const REGISTRATION_METRICS: [&str; 6] = ["accuracy", "precision", "recall", "f1", "auc", "r2"];

// --- Steps ---
/// Splits the upload into train and test.
pub const STEP_PREPROCESS: &str = "PreprocessData";
/// Cross-validated hyperparameter search over every family.
pub const STEP_TUNING: &str = "TuningWithCrossValidation";
/// Fits the best trial on the whole train split.
pub const STEP_REFIT: &str = "RefitBestModel";
/// Scores the refit model on the test split (`evaluation.json`).
pub const STEP_EVALUATE: &str = "EvaluateBestModel";
/// Compares the registration metric with its threshold.
pub const STEP_CONDITION: &str = "CheckRegistrationMetric";
/// Registers the model version when the condition holds.
pub const STEP_REGISTER: &str = "RegisterBestModel";
/// Fails the execution when the condition does not hold.
pub const STEP_FAIL: &str = "RegistrationMetricTooLow";
/// The evaluate step's property file, read by the condition.
pub const EVALUATION_PROPERTY_FILE: &str = "EvaluationReport";
