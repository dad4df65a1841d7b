//! NaiveBayes: Gaussian naive Bayes, fitted by linfa-bayes.
//!
//! linfa-bayes fits the class priors, means and variances exactly as scikit-learn's
//! `GaussianNB` (variances smoothed by `var_smoothing × the largest feature variance`). Its
//! probability normalization exponentiates the joint log-likelihoods without shifting them
//! first, which underflows to NaN for rows far from every class; so this module keeps the fitted
//! statistics and predicts with a log-sum-exp softmax, with the constant terms precomputed.
//!
//! There is no regression counterpart: a regression job with `algorithm=NaiveBayes` fails with
//! a clear reason.
//!
//! | name | default | range | meaning |
//! |---|---|---|---|
//! | `var_smoothing` | `1e-9` | ≥ 0 | share of the largest feature variance added to every variance |

use std::collections::HashMap;

use linfa::traits::Fit;
use linfa::DatasetBase;
use linfa_bayes::GaussianNb;
use ndarray::{Array1, ArrayView2};
use serde::{Deserialize, Serialize};

use super::linear::exp_normalize_in_place;
use super::{check_spreads, Algorithm, Estimator, Fitted, ParamGuard, Predictor, TrainTarget};
use crate::error::{MlError, Result};
use crate::hyperparams::HyperParams;
use crate::target::Task;

const FAMILY: Algorithm = Algorithm::NaiveBayes;

/// NaiveBayes hyperparameters as parsed, unchecked: [`ParamGuard::check`] makes them a
/// [`NaiveBayesValidParams`].
#[derive(Debug, Clone, PartialEq)]
pub struct NaiveBayesParams {
    /// `var_smoothing`: the share of the largest feature variance added to every variance
    /// for stability, a finite number ≥ 0.
    pub var_smoothing: f64,
}

impl Default for NaiveBayesParams {
    fn default() -> Self {
        NaiveBayesParams {
            var_smoothing: 1e-9,
        }
    }
}

impl NaiveBayesParams {
    /// Parses the family's hyperparameters; absent ones take scikit-learn's defaults.
    pub fn from_hyperparams(hp: &HyperParams) -> Result<NaiveBayesParams> {
        let d = NaiveBayesParams::default();
        Ok(NaiveBayesParams {
            var_smoothing: hp.parse::<f64>("var_smoothing")?.unwrap_or(d.var_smoothing),
        })
    }
}

/// Checked NaiveBayes hyperparameters; only [`ParamGuard::check`] makes them.
#[derive(Debug, Clone, PartialEq)]
pub struct NaiveBayesValidParams {
    var_smoothing: f64,
}

impl NaiveBayesValidParams {
    /// The share of the largest feature variance added to every variance.
    pub fn var_smoothing(&self) -> f64 {
        self.var_smoothing
    }
}

impl ParamGuard for NaiveBayesParams {
    type Checked = NaiveBayesValidParams;

    fn check(self) -> Result<NaiveBayesValidParams> {
        let var_smoothing = self.var_smoothing;
        if !(var_smoothing >= 0.0 && var_smoothing.is_finite()) {
            return Err(MlError::hp(
                "var_smoothing",
                format!("{var_smoothing} must be a number ≥ 0"),
            ));
        }
        Ok(NaiveBayesValidParams { var_smoothing })
    }
}

/// Per class: the log prior plus the normalizing constant, the means, and 1/variance.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GaussianNbModel {
    /// `ln prior − ½ Σ ln(2π σ²)` per class.
    pub constants: Vec<f64>,
    /// Row-major `n_classes × n_features`.
    pub means: Vec<f64>,
    /// Row-major `n_classes × n_features`: 1 / (variance + smoothing).
    pub inverse_variances: Vec<f64>,
    /// Encoded columns a row has.
    pub n_features: usize,
}

impl GaussianNbModel {
    /// Checks a read payload, so that predicting cannot index out of range: one constant
    /// per class and `n_features` means and inverse variances per class.
    pub(crate) fn validate(&self) -> std::result::Result<(), String> {
        let classes = self.constants.len();
        if !(1..=super::tree_ensemble::MAX_GROUPS).contains(&classes) {
            return Err(format!("{classes} classes"));
        }
        let expected = classes.checked_mul(self.n_features);
        if expected != Some(self.means.len()) || expected != Some(self.inverse_variances.len()) {
            return Err(format!(
                "{} means and {} inverse variances for {classes} classes of {} features",
                self.means.len(),
                self.inverse_variances.len(),
                self.n_features
            ));
        }
        Ok(())
    }

    /// Values written per row: one per class.
    pub(crate) fn n_outputs(&self) -> usize {
        self.constants.len()
    }

    /// Checks that the model takes `width` columns.
    pub(crate) fn check_width(&self, width: usize) -> std::result::Result<(), String> {
        if self.n_features == width {
            Ok(())
        } else {
            Err(format!(
                "the model takes {} columns but rows have {width}",
                self.n_features
            ))
        }
    }
}

impl Predictor for GaussianNbModel {
    fn predict_row(&self, x: &[f64], out: &mut [f64]) {
        let p = self.n_features;
        for (c, o) in out.iter_mut().enumerate() {
            let means = &self.means[c * p..(c + 1) * p];
            let inv = &self.inverse_variances[c * p..(c + 1) * p];
            let quad: f64 = x
                .iter()
                .zip(means)
                .zip(inv)
                .map(|((v, m), i)| (v - m) * (v - m) * i)
                .sum();
            *o = self.constants[c] - 0.5 * quad;
        }
        exp_normalize_in_place(out);
    }
}

/// linfa-bayes' serialized model, read back for its fitted statistics.
#[derive(Deserialize)]
struct LinfaModel {
    class_info: HashMap<String, LinfaClass>,
}

#[derive(Deserialize)]
struct LinfaClass {
    prior: f64,
    theta: Array1<f64>,
    sigma: Array1<f64>,
}

impl Estimator for NaiveBayesValidParams {
    fn family(&self) -> Algorithm {
        FAMILY
    }

    fn supports(&self, task: Task) -> Result<()> {
        if task == Task::Regression {
            return Err(MlError::NotApplicable {
                name: "NaiveBayes".into(),
                task: task.name().into(),
                hint: ": Gaussian naive Bayes is a classifier and has no regression counterpart"
                    .into(),
            });
        }
        Ok(())
    }

    fn fit(&self, x: ArrayView2<f64>, y: TrainTarget<'_>, _seed: u64) -> Result<Fitted> {
        self.supports(y.task())?;
        let TrainTarget::Classes { codes, n_classes } = y else {
            unreachable!("supports() rejected regression")
        };
        // linfa adds var_smoothing × the largest variance to every one: both must be finite.
        let variances = column_variances(x);
        check_spreads(FAMILY, variances.iter().copied())?;
        let largest = variances.iter().copied().fold(0.0, f64::max);
        if !(largest + self.var_smoothing * largest).is_finite() {
            return Err(MlError::hp(
                "var_smoothing",
                format!(
                    "{:e} is too large: times the largest feature variance ({largest:e}) it overflows",
                    self.var_smoothing
                ),
            ));
        }
        let dataset = DatasetBase::new(x, Array1::from_iter(codes.iter().copied()));
        let fitted: GaussianNb<f64, usize> = GaussianNb::params()
            .var_smoothing(self.var_smoothing)
            .fit(&dataset)
            .map_err(fit_error)?;
        let stats: LinfaModel = serde_json::to_value(&fitted)
            .and_then(serde_json::from_value)
            .map_err(fit_error)?;
        let p = x.ncols();
        let mut model = GaussianNbModel {
            constants: vec![f64::NEG_INFINITY; n_classes],
            means: vec![0.0; n_classes * p],
            inverse_variances: vec![1.0; n_classes * p],
            n_features: p,
        };
        for (label, info) in stats.class_info {
            let c: usize = label.parse().map_err(fit_error)?;
            let log_norm: f64 = info
                .sigma
                .iter()
                .map(|s| (2.0 * std::f64::consts::PI * s).ln())
                .sum();
            model.constants[c] = info.prior.ln() - 0.5 * log_norm;
            model.means[c * p..(c + 1) * p].copy_from_slice(
                info.theta
                    .as_slice()
                    .ok_or_else(|| fit_error("non-contiguous means"))?,
            );
            for (dst, s) in model.inverse_variances[c * p..(c + 1) * p]
                .iter_mut()
                .zip(&info.sigma)
            {
                *dst = 1.0 / s;
            }
        }
        Ok(Fitted::NaiveBayes(model))
    }
}

/// Each column's variance, reading `x` row by row (as it lies in memory) in two passes: the
/// means, then the squared deviations.
fn column_variances(x: ArrayView2<f64>) -> Vec<f64> {
    let n = x.nrows().max(1) as f64;
    let mut means = vec![0.0; x.ncols()];
    for row in x.rows() {
        means.iter_mut().zip(row).for_each(|(m, v)| *m += v);
    }
    means.iter_mut().for_each(|m| *m /= n);
    let mut variances = vec![0.0; x.ncols()];
    for row in x.rows() {
        for ((s, v), m) in variances.iter_mut().zip(row).zip(&means) {
            *s += (v - m) * (v - m);
        }
    }
    variances.iter_mut().for_each(|s| *s /= n);
    variances
}

fn fit_error(e: impl std::fmt::Display) -> MlError {
    MlError::Fit {
        family: FAMILY,
        message: e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn predicts_the_nearer_class_with_finite_probabilities() {
        let x = array![
            [1.0, 2.0],
            [2.0, 1.0],
            [1.5, 2.5],
            [6.0, 7.0],
            [7.0, 6.0],
            [6.5, 8.0]
        ];
        let codes = [0, 0, 0, 1, 1, 1];
        let fitted = NaiveBayesParams::default()
            .check()
            .unwrap()
            .fit(
                x.view(),
                TrainTarget::Classes {
                    codes: &codes,
                    n_classes: 2,
                },
                0,
            )
            .unwrap();
        let mut out = [0.0; 2];
        fitted.predictor().predict_row(&[1.5, 2.0], &mut out);
        assert!(out[0] > 0.999 && (out[0] + out[1] - 1.0).abs() < 1e-12);
        // Far from both classes the probabilities are still finite and sum to one.
        fitted.predictor().predict_row(&[1e6, -1e6], &mut out);
        assert!(out.iter().all(|p| p.is_finite()));
        assert!((out[0] + out[1] - 1.0).abs() < 1e-12);
    }

    #[test]
    fn regression_is_refused_and_bad_smoothing_named() {
        let err = NaiveBayesParams::default()
            .check()
            .unwrap()
            .fit(
                array![[1.0], [2.0]].view(),
                TrainTarget::Values(&[1.0, 2.0]),
                0,
            )
            .unwrap_err();
        assert!(
            err.to_string().contains("has no regression counterpart"),
            "{err}"
        );
        let err =
            NaiveBayesParams::from_hyperparams(&HyperParams::from_pairs([("var_smoothing", "-1")]))
                .and_then(ParamGuard::check)
                .unwrap_err();
        assert_eq!(
            err.to_string(),
            "hyperparameter `var_smoothing`: -1 must be a number ≥ 0"
        );
    }

    fn reload(model: &GaussianNbModel) -> std::result::Result<Fitted, String> {
        let bytes = Fitted::NaiveBayes(model.clone()).payload().unwrap();
        Fitted::from_payload("model.json", &bytes).map_err(|e| e.to_string())
    }

    #[test]
    fn statistics_not_matching_the_class_count_are_refused_at_load() {
        let model = GaussianNbModel {
            constants: vec![0.0; 2],
            means: vec![0.0; 6],
            inverse_variances: vec![1.0; 6],
            n_features: 3,
        };
        let fitted = reload(&model).unwrap();
        assert_eq!(fitted.n_outputs(), Some(2));
        assert!(fitted.check_width(3).is_ok());
        assert!(fitted.check_width(2).is_err());

        // Three classes' constants over two classes' statistics.
        let mut classes = model.clone();
        classes.constants.push(0.0);
        let err = reload(&classes).unwrap_err();
        assert!(
            err.contains("6 means and 6 inverse variances for 3 classes of 3 features"),
            "{err}"
        );
        assert!(err.contains("malformed NaiveBayes model"), "{err}");
        let mut none = model.clone();
        none.constants.clear();
        assert!(reload(&none).unwrap_err().contains("0 classes"));
    }
}
