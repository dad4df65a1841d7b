//! The model families and the one trait they share.
//!
//! A family parses its hyperparameters (strings) into an unchecked parameter set, which
//! becomes a checked one only through [`ParamGuard::check`] (as linfa's `ParamGuard` does);
//! [`from_hyperparams`] does both. Only the checked set is an [`Estimator`], so no unchecked
//! value reaches `fit`; it fits a [`Fitted`] model. A
//! fitted model predicts one row at a time into a caller-owned buffer ([`Predictor`]), so
//! serving a one-row request allocates nothing.
//!
//! Adding a family (part 2: NeuralNet, XGBoost, LightGBM): a module with its parameter set
//! implementing [`Estimator`] and its fitted model implementing [`Predictor`], a
//! [`Fitted`] variant, and an arm in [`from_hyperparams`].

mod bins;
pub mod boosting;
pub mod boosting_params;
mod forust_legacy;
mod gbdt;
mod gblinear;
pub mod lightgbm;
pub mod linear;
pub mod naive_bayes;
pub mod neural_net;
pub mod random_forest;
pub mod tree_ensemble;
pub mod xgboost;

use ndarray::{ArrayView2, ArrayViewMut2};
use serde::{Deserialize, Serialize};

use crate::error::{MlError, Result};
use crate::hyperparams::HyperParams;
use crate::target::Task;

pub use mmp_pipeline::algorithm::Algorithm;

/// The payload's file name for every model but those fitted by the XGBoost or LightGBM
/// library (which keep their own files, [`xgboost::PAYLOAD_FILE`] and
/// [`lightgbm::PAYLOAD_FILE`]).
pub const PAYLOAD_FILE: &str = "model.json";

/// What a model is fitted to.
#[derive(Debug, Clone, Copy)]
pub enum TrainTarget<'a> {
    /// Class codes `0..n_classes`.
    Classes {
        /// Each row's class.
        codes: &'a [usize],
        /// How many classes there are (2 is binary).
        n_classes: usize,
    },
    /// A regression target, one value per row.
    Values(&'a [f64]),
}

impl TrainTarget<'_> {
    /// The task this target implies.
    pub fn task(&self) -> Task {
        match self {
            TrainTarget::Classes { n_classes: 2, .. } => Task::Binary,
            TrainTarget::Classes { .. } => Task::Multiclass,
            TrainTarget::Values(_) => Task::Regression,
        }
    }
}

/// Fails, naming `family`, unless `y` holds a target for each of `n` rows.
pub(crate) fn check_targets(family: Algorithm, n: usize, y: &TrainTarget<'_>) -> Result<()> {
    let targets = match y {
        TrainTarget::Classes { codes, .. } => codes.len(),
        TrainTarget::Values(values) => values.len(),
    };
    if targets == n {
        return Ok(());
    }
    Err(MlError::Fit {
        family,
        message: format!("{targets} targets for {n} rows"),
    })
}

/// Fails, naming `family`, unless every one of `rows` is a row of `x`.
pub(crate) fn check_rows(family: Algorithm, x: &ArrayView2<f64>, rows: &[usize]) -> Result<()> {
    match rows.iter().find(|&&r| r >= x.nrows()) {
        None => Ok(()),
        Some(bad) => Err(MlError::Fit {
            family,
            message: format!("row {bad} is not below {}", x.nrows()),
        }),
    }
}

/// Fails, naming the first model column, where a column's spread (standard deviation or
/// variance, one per column) is not finite: its values are beyond about 1e154, and a family
/// that standardizes or fits Gaussians would otherwise drop the column or fit garbage silently.
pub(crate) fn check_spreads(
    family: Algorithm,
    spreads: impl IntoIterator<Item = f64>,
) -> Result<()> {
    match spreads.into_iter().position(|s| !s.is_finite()) {
        None => Ok(()),
        Some(column) => Err(MlError::TooLarge {
            family,
            column,
            why: "their variance overflows a 64-bit float (rescale the column, or use a \
                  tree-based family, which only compares values)",
        }),
    }
}

/// A family's checked hyperparameters: fits a model to encoded rows.
pub trait Estimator: std::fmt::Debug + Send + Sync {
    /// The family these parameters belong to.
    fn family(&self) -> Algorithm;
    /// Fails early for a task the family cannot do.
    fn supports(&self, task: Task) -> Result<()> {
        let _ = task;
        Ok(())
    }
    /// Fits on the rows of `x` (`seed` drives any randomness).
    fn fit(&self, x: ArrayView2<f64>, y: TrainTarget<'_>, seed: u64) -> Result<Fitted>;
    /// A fit on the rows `rows` of `x` (`y` gives their targets, in that order) taken a step
    /// at a time, for a family whose fit has such steps; `None` where it has not. The model is
    /// the one [`Estimator::fit`] fits on those rows.
    fn stepwise<'a>(
        &'a self,
        x: ArrayView2<'a, f64>,
        rows: &'a [usize],
        y: TrainTarget<'a>,
        seed: u64,
    ) -> Option<Result<Box<dyn Stepwise + 'a>>> {
        let _ = (x, rows, y, seed);
        None
    }
    /// The least memory a fit on `features` columns with `outputs` outputs (classes; 1 for a
    /// binary or regression target) must hold for what its hyperparameters ask, whatever the
    /// rows: the trees or weights that a count or size sets. A job refuses a request beyond
    /// its memory before allocating any of it. `None`: no hyperparameter sizes the model.
    fn least_bytes(&self, features: usize, outputs: usize) -> Option<LeastBytes> {
        let _ = (features, outputs);
        None
    }
}

/// A floor on a fit's memory ([`Estimator::least_bytes`]) and the hyperparameter it follows from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LeastBytes {
    /// The hyperparameter that sets the size.
    pub hyperparameter: &'static str,
    /// What those bytes hold, e.g. "the forest's trees".
    pub holds: &'static str,
    /// The floor itself.
    pub bytes: u64,
}

/// A floor on one tree's memory, a single leaf: its node and the collection holding it.
pub(crate) const LEAST_TREE_BYTES: u64 = 64;

/// A boosted model's floor: a tree a round, and a tree per class a round for more than two
/// (one logistic margin for two). Either engine, mmp-gbdt or the library, holds them all.
pub(crate) fn boosted_trees_floor(rounds: usize, outputs: usize) -> LeastBytes {
    let per_round = if outputs > 2 { outputs } else { 1 };
    LeastBytes {
        hyperparameter: "n-estimators",
        holds: "the rounds' trees",
        bytes: (rounds as u64)
            .saturating_mul(per_round as u64)
            .saturating_mul(LEAST_TREE_BYTES),
    }
}

/// A fit taken a step at a time (a boosting round), so that cross-validation can take its
/// folds' steps in turn and keep every thread busy until the last fold is fitted.
pub trait Stepwise: Send {
    /// Takes the next step; false once the fit is complete.
    fn step(&mut self) -> bool;
    /// The fitted model (after the steps not yet taken).
    fn finish(self: Box<Self>) -> Result<Fitted>;
}

/// An unchecked parameter set: its fields are public and may hold anything; [`check`]
/// validates them into the family's checked set, whose fields are private.
///
/// [`check`]: ParamGuard::check
pub trait ParamGuard {
    /// The checked set, the only one that fits.
    type Checked: Estimator + 'static;
    /// Validates every value, naming the first hyperparameter that is out of range.
    fn check(self) -> Result<Self::Checked>;
}

/// Checks `params` and boxes the checked set.
fn checked(params: impl ParamGuard) -> Result<Box<dyn Estimator>> {
    Ok(Box::new(params.check()?))
}

/// A fitted model's prediction of encoded rows.
pub trait Predictor {
    /// Writes class probabilities (classification, `out.len()` = number of classes) or the
    /// predicted value (regression, `out.len()` = 1).
    fn predict_row(&self, x: &[f64], out: &mut [f64]);

    /// [`Predictor::predict_row`] for each row of `x` into the same row of `out`; a model may
    /// walk many rows at once, with the same results.
    fn predict_rows(&self, x: ArrayView2<f64>, out: ArrayViewMut2<f64>) {
        predict_each(self, x, out);
    }
}

/// [`Predictor::predict_row`] row by row.
pub(crate) fn predict_each<P: Predictor + ?Sized>(
    predictor: &P,
    x: ArrayView2<f64>,
    mut out: ArrayViewMut2<f64>,
) {
    for (row, mut o) in x.rows().into_iter().zip(out.rows_mut()) {
        if let (Some(r), Some(o)) = (row.as_slice(), o.as_slice_mut()) {
            predictor.predict_row(r, o);
        }
    }
}

/// Every fitted model this build knows, as stored in the artifact's payload.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "family")]
pub enum Fitted {
    /// A linear model (logistic, softmax or least squares).
    LogisticRegression(linear::LinearModel),
    /// Gaussian naive Bayes.
    NaiveBayes(naive_bayes::GaussianNbModel),
    /// A random forest.
    RandomForest(random_forest::Forest),
    /// A multi-layer perceptron.
    NeuralNet(neural_net::Mlp),
    /// XGBoost or LightGBM fitted by the pure-Rust engine (see [`boosting`]).
    GradientBoosting(boosting::Boosted),
    /// Fitted by the XGBoost library; stored as XGBoost's own file, not in `model.json`.
    #[serde(skip)]
    XGBoost(LibraryModel),
    /// Fitted by the LightGBM library; stored as LightGBM's own file, not in `model.json`.
    #[serde(skip)]
    LightGBM(LibraryModel),
}

/// A model fitted by XGBoost or LightGBM: the library's own model file (the artifact's
/// payload, which the Python library loads) and the trees read from it, which predict.
#[derive(Debug, Clone, PartialEq)]
pub struct LibraryModel {
    /// `None` once released for serving ([`Fitted::release_library_file`]).
    file: Option<Vec<u8>>,
    ensemble: tree_ensemble::TreeEnsemble,
}

impl LibraryModel {
    /// Reads an XGBoost JSON model file.
    pub fn xgboost(file: Vec<u8>) -> Result<LibraryModel> {
        let ensemble = xgboost::read(&file)?;
        Ok(LibraryModel {
            file: Some(file),
            ensemble,
        })
    }

    /// Reads a LightGBM text model file.
    pub fn lightgbm(file: Vec<u8>) -> Result<LibraryModel> {
        let text = std::str::from_utf8(&file).map_err(|e| {
            MlError::Artifact(format!("{}: not UTF-8 text: {e}", lightgbm::PAYLOAD_FILE))
        })?;
        let ensemble = lightgbm::read(text)?;
        Ok(LibraryModel {
            file: Some(file),
            ensemble,
        })
    }

    /// The library's model file, as written; `None` once released for serving.
    pub fn file(&self) -> Option<&[u8]> {
        self.file.as_deref()
    }

    /// The trees read from the library's file, which predict.
    pub fn ensemble(&self) -> &tree_ensemble::TreeEnsemble {
        &self.ensemble
    }
}

impl Predictor for LibraryModel {
    fn predict_row(&self, x: &[f64], out: &mut [f64]) {
        self.ensemble.predict_row(x, out);
    }
}

impl Fitted {
    /// The model as a [`Predictor`].
    pub fn predictor(&self) -> &dyn Predictor {
        match self {
            Fitted::LogisticRegression(m) => m,
            Fitted::NaiveBayes(m) => m,
            Fitted::RandomForest(m) => m,
            Fitted::NeuralNet(m) => m,
            Fitted::GradientBoosting(m) => m,
            Fitted::XGBoost(m) | Fitted::LightGBM(m) => m,
        }
    }

    /// The name the payload is tagged with: its family's, or `GradientBoosting` for the
    /// pure-Rust booster, which stands in for XGBoost and LightGBM.
    pub fn tag(&self) -> &'static str {
        match self {
            Fitted::LogisticRegression(_) => "LogisticRegression",
            Fitted::NaiveBayes(_) => "NaiveBayes",
            Fitted::RandomForest(_) => "RandomForest",
            Fitted::NeuralNet(_) => "NeuralNet",
            Fitted::GradientBoosting(_) => "GradientBoosting",
            Fitted::XGBoost(_) => "XGBoost",
            Fitted::LightGBM(_) => "LightGBM",
        }
    }

    /// The payload's file name in the artifact: the library's own file for XGBoost and
    /// LightGBM fitted by the libraries, `model.json` for every other model.
    pub fn payload_file(&self) -> &'static str {
        match self {
            Fitted::XGBoost(_) => xgboost::PAYLOAD_FILE,
            Fitted::LightGBM(_) => lightgbm::PAYLOAD_FILE,
            _ => PAYLOAD_FILE,
        }
    }

    /// The payload's bytes.
    pub fn payload(&self) -> Result<Vec<u8>> {
        match self {
            Fitted::XGBoost(m) | Fitted::LightGBM(m) => m.file.clone().ok_or_else(|| {
                MlError::Artifact(
                    "the library's model file was released when the model was loaded for \
                     serving, so it cannot be saved again"
                        .into(),
                )
            }),
            other => serde_json::to_vec(other)
                .map_err(|e| MlError::Artifact(format!("{PAYLOAD_FILE}: {e}"))),
        }
    }

    /// Drops what only saving needs: an XGBoost or LightGBM model's own file (LightGBM's text
    /// is about ten times the size of its trees), for a server holding many models.
    pub fn release_library_file(&mut self) {
        if let Fitted::XGBoost(m) | Fitted::LightGBM(m) = self {
            m.file = None;
        }
    }

    /// Reads a payload by its file name (see [`Fitted::payload_file`]).
    pub fn from_payload(file_name: &str, bytes: &[u8]) -> Result<Fitted> {
        match file_name {
            xgboost::PAYLOAD_FILE => Ok(Fitted::XGBoost(LibraryModel::xgboost(bytes.to_vec())?)),
            lightgbm::PAYLOAD_FILE => Ok(Fitted::LightGBM(LibraryModel::lightgbm(bytes.to_vec())?)),
            _ => {
                let fitted: Fitted = serde_json::from_slice(bytes)
                    .map_err(|e| MlError::Artifact(format!("{file_name}: {e}")))?;
                fitted.validate().map_err(|e| {
                    MlError::Artifact(format!(
                        "{file_name}: malformed {} model: {e}",
                        fitted.tag()
                    ))
                })?;
                Ok(fitted)
            }
        }
    }

    /// Checks the payload's structure (index ranges, array lengths, acyclic trees), so that
    /// a crafted payload is refused at load instead of panicking or looping on every
    /// prediction. The library readers check their trees themselves.
    fn validate(&self) -> std::result::Result<(), String> {
        match self {
            Fitted::LogisticRegression(m) => m.validate(),
            Fitted::NaiveBayes(m) => m.validate(),
            Fitted::RandomForest(m) => m.validate(),
            Fitted::NeuralNet(m) => m.validate(),
            Fitted::GradientBoosting(m) => m.validate(),
            Fitted::XGBoost(m) | Fitted::LightGBM(m) => m.ensemble.validate(),
        }
    }

    /// Number of values the model predicts per row (classes, or 1), as its payload says;
    /// loading checks it against the manifest's classes.
    pub fn n_outputs(&self) -> Option<usize> {
        Some(match self {
            Fitted::LogisticRegression(m) => m.n_outputs(),
            Fitted::NaiveBayes(m) => m.n_outputs(),
            Fitted::RandomForest(m) => m.n_outputs,
            Fitted::NeuralNet(m) => m.n_outputs(),
            Fitted::GradientBoosting(m) => m.n_outputs(),
            Fitted::XGBoost(m) | Fitted::LightGBM(m) => m.ensemble.n_outputs(),
        })
    }

    /// Checks that the payload reads rows of `width` encoded columns (the manifest schema's
    /// width): a model that reads past a row would panic on every prediction.
    pub fn check_width(&self, width: usize) -> Result<()> {
        let checked = match self {
            Fitted::LogisticRegression(m) => m.check_width(width),
            Fitted::NaiveBayes(m) => m.check_width(width),
            Fitted::RandomForest(m) => m.check_width(width),
            Fitted::NeuralNet(m) => m.check_width(width),
            Fitted::GradientBoosting(m) => m.check_width(width),
            // Their splits read a missing column as missing, but more features than the
            // schema has means the payload belongs to another model.
            Fitted::XGBoost(m) | Fitted::LightGBM(m) => {
                let n = m.ensemble.n_features;
                if n <= width {
                    Ok(())
                } else {
                    Err(format!("the trees read {n} columns but rows have {width}"))
                }
            }
        };
        checked.map_err(|e| {
            MlError::Artifact(format!(
                "{}: malformed {} model: {e}",
                self.payload_file(),
                self.tag()
            ))
        })
    }

    /// Whether this payload can be the model of a manifest naming `family`: its own name, or
    /// for the pure-Rust booster, the XGBoost or LightGBM it stands in for.
    pub fn fits_family(&self, family: Algorithm) -> bool {
        match self {
            Fitted::LogisticRegression(_) => family == Algorithm::LogisticRegression,
            Fitted::NaiveBayes(_) => family == Algorithm::NaiveBayes,
            Fitted::RandomForest(_) => family == Algorithm::RandomForest,
            Fitted::NeuralNet(_) => family == Algorithm::NeuralNet,
            Fitted::GradientBoosting(_) => {
                matches!(family, Algorithm::XGBoost | Algorithm::LightGBM)
            }
            Fitted::XGBoost(_) => family == Algorithm::XGBoost,
            Fitted::LightGBM(_) => family == Algorithm::LightGBM,
        }
    }
}

/// Parses the family's own hyperparameters into its checked parameter set.
pub fn from_hyperparams(algorithm: Algorithm, hp: &HyperParams) -> Result<Box<dyn Estimator>> {
    match algorithm {
        Algorithm::LogisticRegression => checked(linear::LinearParams::from_hyperparams(hp)?),
        Algorithm::NaiveBayes => checked(naive_bayes::NaiveBayesParams::from_hyperparams(hp)?),
        Algorithm::RandomForest => checked(random_forest::ForestParams::from_hyperparams(hp)?),
        Algorithm::NeuralNet => checked(neural_net::MlpParams::from_hyperparams(hp)?),
        Algorithm::XGBoost => checked(boosting_params::XgbHyperParams::from_hyperparams(hp)?),
        Algorithm::LightGBM => checked(boosting_params::LgbmHyperParams::from_hyperparams(hp)?),
    }
}

/// Balanced class weights, as scikit-learn's `class_weight="balanced"`: n / (k · n_c).
pub(crate) fn balanced_weights(codes: &[usize], n_classes: usize) -> Vec<f64> {
    let mut counts = vec![0usize; n_classes];
    for &c in codes {
        counts[c] += 1;
    }
    let n = codes.len() as f64;
    counts
        .iter()
        .map(|&c| {
            if c == 0 {
                0.0
            } else {
                n / (n_classes as f64 * c as f64)
            }
        })
        .collect()
}

/// `class-weight`: `balanced` or `None`.
pub(crate) fn parse_class_weight(hp: &HyperParams) -> Result<bool> {
    match hp.get("class-weight").map(str::trim) {
        None => Ok(false),
        Some(v) if crate::hyperparams::is_none(v) => Ok(false),
        Some("balanced") => Ok(true),
        Some(v) => Err(MlError::hp(
            "class-weight",
            format!("`{v}` is not `balanced` or `None`"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_family_parses_and_unknown_ones_fail_clearly() {
        let hp = HyperParams::default();
        assert!(MlError::from("Nope".parse::<Algorithm>().unwrap_err())
            .to_string()
            .starts_with("unknown algorithm `Nope` (known: RandomForest, NeuralNet"));
        for name in Algorithm::ALL {
            assert_eq!(from_hyperparams(name, &hp).unwrap().family(), name);
        }
    }

    #[test]
    fn balanced_weights_like_scikit_learn() {
        assert_eq!(balanced_weights(&[0, 0, 0, 1], 2), [4.0 / 6.0, 2.0]);
    }
}
