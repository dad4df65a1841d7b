//! XGBoost and LightGBM in the default, pure-Rust build: histogram gradient boosting by
//! forust-ml, configured with each library's own hyperparameter names and defaults.
//!
//! The family names keep their meaning in the tuning step (a boosted family with XGBoost's or
//! LightGBM's knobs); the engine is forust-ml, an XGBoost-style booster (second-order
//! gradients, L1/L2 leaf penalties, `gamma`, minimum hessian per leaf, row and column
//! sampling, depth-wise or leaf-wise growth, GOSS). The payload is tagged `GradientBoosting`,
//! so an artifact never claims to be a file the Python libraries read.
//!
//! - Binary: one log-loss booster. Multiclass: one log-loss booster per class (one against
//!   the rest), probabilities normalized to sum to 1 — forust-ml has no softmax objective.
//!   Regression: squared loss. The starting score is fitted from the data (as XGBoost ≥ 2).
//! - Values the engine does not have fail the job at once with the reason:
//!   XGBoost `booster=gblinear`, LightGBM `boosting-type=dart`. XGBoost's `dart` with its
//!   default `rate_drop=0` drops no tree, so it is the same model as `gbtree` and runs as one.
//! - LightGBM grows leaf-wise (`num-leaves`); its `subsample` only acts with a bagging
//!   frequency, which the original never sets, so — as in LightGBM — it changes nothing;
//!   `min-child-samples` has no forust-ml counterpart and is accepted and ignored.
//!
//! XGBoost:
//!
//! | name | default | range | meaning |
//! |---|---|---|---|
//! | `booster` | `gbtree` | `gbtree`, `dart` (`gblinear`: not in this engine) | base learner |
//! | `n-estimators` | `100` | ≥ 1 | boosting rounds |
//! | `learning-rate` | `0.3` | > 0 | shrinkage |
//! | `max-depth` | `6` | ≥ 1 | depth limit |
//! | `min-child-weight` | `1` | ≥ 0 | hessian a leaf needs |
//! | `subsample` | `1` | (0, 1] | rows sampled per tree |
//! | `colsample-bytree` | `1` | (0, 1] | columns sampled per tree |
//! | `gamma` | `0` | ≥ 0 | loss reduction a split needs |
//! | `reg-alpha` | `0` | ≥ 0 | L1 penalty on leaf values |
//! | `reg-lambda` | `1` | ≥ 0 | L2 penalty on leaf values |
//!
//! LightGBM:
//!
//! | name | default | range | meaning |
//! |---|---|---|---|
//! | `boosting-type` | `gbdt` | `gbdt`, `goss` (`dart`: not in this engine) | boosting |
//! | `n-estimators` | `100` | ≥ 1 | boosting rounds |
//! | `learning-rate` | `0.1` | > 0 | shrinkage |
//! | `num-leaves` | `31` | ≥ 2 | leaves per tree (leaf-wise growth) |
//! | `max-depth` | `-1` (none) | ≥ 1, or ≤ 0 for none | depth limit |
//! | `min-child-weight` | `0.001` | ≥ 0 | hessian a leaf needs |
//! | `min-child-samples` | `20` | ≥ 1 | accepted, no effect in this engine |
//! | `subsample` | `1` | (0, 1] | accepted, no effect without a bagging frequency (as LightGBM) |
//! | `colsample-bytree` | `1` | (0, 1] | columns sampled per tree |
//! | `min-split-gain` | `0` | ≥ 0 | loss reduction a split needs |
//! | `reg-alpha` | `0` | ≥ 0 | L1 penalty on leaf values |
//! | `reg-lambda` | `0` | ≥ 0 | L2 penalty on leaf values |

use forust_ml::gradientbooster::GrowPolicy;
use forust_ml::objective::ObjectiveType;
use forust_ml::sampler::SampleMethod;
use forust_ml::{GradientBooster, Matrix};
use ndarray::ArrayView2;
use serde::{Deserialize, Serialize};

use super::boosting_params::{
    at_least, learning_rate, non_negative, positive_fraction, LgbmHyperParams, XgbHyperParams,
};
use super::{Algorithm, Estimator, Fitted, Predictor, TrainTarget};
use crate::error::{MlError, Result};

/// Which library's names, defaults and growth the parameter set follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavor {
    /// XGBoost's names and defaults, depth-wise growth.
    XGBoost,
    /// LightGBM's names and defaults, leaf-wise growth.
    LightGBM,
}

/// Checked XGBoost or LightGBM hyperparameters, in forust-ml's terms; only
/// [`ParamGuard::check`](super::ParamGuard::check) (of [`XgbHyperParams`] or
/// [`LgbmHyperParams`]) makes them.
#[derive(Debug, Clone, PartialEq)]
pub struct BoostParams {
    flavor: Flavor,
    n_estimators: usize,
    learning_rate: f64,
    /// `None`: unlimited.
    max_depth: Option<usize>,
    /// `None`: unlimited (depth-wise growth); `Some`: leaf-wise growth.
    max_leaves: Option<usize>,
    min_child_weight: f64,
    subsample: f64,
    colsample_bytree: f64,
    min_split_gain: f64,
    reg_alpha: f64,
    reg_lambda: f64,
    goss: bool,
}

// With `native-boosting` the libraries fit XGBoost and LightGBM; this engine's tests still run.
#[cfg_attr(feature = "native-boosting", allow(dead_code))]
impl BoostParams {
    /// Checks XGBoost's hyperparameters for this engine.
    pub(super) fn xgboost(hp: XgbHyperParams) -> Result<BoostParams> {
        match hp.booster.as_deref() {
            None | Some("gbtree") | Some("dart") => {}
            Some("gblinear") => {
                return Err(MlError::hp(
                    "booster",
                    "`gblinear` is not available in the pure-Rust boosting engine of this build (use `gbtree` or `dart`)",
                ))
            }
            Some(v) => {
                return Err(MlError::hp(
                    "booster",
                    format!("`{v}` is not `gbtree`, `gblinear` or `dart`"),
                ))
            }
        }
        Ok(BoostParams {
            flavor: Flavor::XGBoost,
            n_estimators: at_least("n-estimators", hp.n_estimators, 1)?.unwrap_or(100),
            learning_rate: learning_rate(hp.learning_rate)?.unwrap_or(0.3),
            max_depth: Some(at_least("max-depth", hp.max_depth, 1)?.unwrap_or(6)),
            max_leaves: None,
            min_child_weight: non_negative("min-child-weight", hp.min_child_weight)?.unwrap_or(1.0),
            subsample: positive_fraction("subsample", hp.subsample)?.unwrap_or(1.0),
            colsample_bytree: positive_fraction("colsample-bytree", hp.colsample_bytree)?
                .unwrap_or(1.0),
            min_split_gain: non_negative("gamma", hp.gamma)?.unwrap_or(0.0),
            reg_alpha: non_negative("reg-alpha", hp.reg_alpha)?.unwrap_or(0.0),
            reg_lambda: non_negative("reg-lambda", hp.reg_lambda)?.unwrap_or(1.0),
            goss: false,
        })
    }

    /// Checks LightGBM's hyperparameters for this engine.
    pub(super) fn lightgbm(hp: LgbmHyperParams) -> Result<BoostParams> {
        let goss = match hp.boosting_type.as_deref() {
            None | Some("gbdt") => false,
            Some("goss") => true,
            Some("dart") => {
                return Err(MlError::hp(
                    "boosting-type",
                    "`dart` is not available in the pure-Rust boosting engine of this build (use `gbdt` or `goss`)",
                ))
            }
            Some(v) => {
                return Err(MlError::hp(
                    "boosting-type",
                    format!("`{v}` is not `gbdt`, `dart` or `goss`"),
                ))
            }
        };
        // LightGBM reads max_depth ≤ 0 as "no limit".
        let max_depth = match hp.max_depth {
            None => None,
            Some(d) if d <= 0 => None,
            Some(d) => Some(d as usize),
        };
        at_least("min-child-samples", hp.min_child_samples, 1)?;
        positive_fraction("subsample", hp.subsample)?;
        Ok(BoostParams {
            flavor: Flavor::LightGBM,
            n_estimators: at_least("n-estimators", hp.n_estimators, 1)?.unwrap_or(100),
            learning_rate: learning_rate(hp.learning_rate)?.unwrap_or(0.1),
            max_depth,
            max_leaves: Some(at_least("num-leaves", hp.num_leaves, 2)?.unwrap_or(31)),
            min_child_weight: non_negative("min-child-weight", hp.min_child_weight)?
                .unwrap_or(1e-3),
            subsample: 1.0,
            colsample_bytree: positive_fraction("colsample-bytree", hp.colsample_bytree)?
                .unwrap_or(1.0),
            min_split_gain: non_negative("min-split-gain", hp.min_split_gain)?.unwrap_or(0.0),
            reg_alpha: non_negative("reg-alpha", hp.reg_alpha)?.unwrap_or(0.0),
            reg_lambda: non_negative("reg-lambda", hp.reg_lambda)?.unwrap_or(0.0),
            goss,
        })
    }

    fn booster(&self, objective: ObjectiveType, seed: u64) -> Result<GradientBooster> {
        let mut b = GradientBooster::default()
            .set_objective_type(objective)
            .set_iterations(self.n_estimators)
            .set_learning_rate(self.learning_rate as f32)
            .set_max_depth(self.max_depth.unwrap_or(usize::MAX))
            .set_max_leaves(self.max_leaves.unwrap_or(usize::MAX))
            .set_l1(self.reg_alpha as f32)
            .set_l2(self.reg_lambda as f32)
            .set_gamma(self.min_split_gain as f32)
            .set_min_leaf_weight(self.min_child_weight as f32)
            .set_initialize_base_score(true)
            .set_subsample(self.subsample as f32)
            .set_colsample_bytree(self.colsample_bytree)
            .set_seed(seed);
        if self.max_leaves.is_some() {
            b.grow_policy = GrowPolicy::LossGuide;
        }
        if self.goss {
            b = b.set_sample_method(SampleMethod::Goss);
        } else if self.subsample < 1.0 {
            b = b.set_sample_method(SampleMethod::Random);
        }
        Ok(b)
    }

    fn algorithm(&self) -> Algorithm {
        match self.flavor {
            Flavor::XGBoost => Algorithm::XGBoost,
            Flavor::LightGBM => Algorithm::LightGBM,
        }
    }

    fn fit_one(
        &self,
        data: &Matrix<f64>,
        y: &[f64],
        objective: ObjectiveType,
        seed: u64,
    ) -> Result<GradientBooster> {
        let mut booster = self.booster(objective, seed)?;
        booster
            .fit_unweighted(data, y, None)
            .map_err(|e| MlError::Fit {
                family: self.algorithm(),
                message: e.to_string(),
            })?;
        Ok(booster)
    }
}

impl Estimator for BoostParams {
    fn family(&self) -> Algorithm {
        self.algorithm()
    }

    fn fit(&self, x: ArrayView2<f64>, y: TrainTarget<'_>, seed: u64) -> Result<Fitted> {
        // forust-ml reads features column by column.
        let columns: Vec<f64> = x.t().iter().copied().collect();
        let data = Matrix::new(&columns, x.nrows(), x.ncols());
        let (output, boosters) = match y {
            TrainTarget::Classes {
                codes,
                n_classes: 2,
            } => {
                let y: Vec<f64> = codes.iter().map(|&c| c as f64).collect();
                (
                    BoostOutput::Binary,
                    vec![self.fit_one(&data, &y, ObjectiveType::LogLoss, seed)?],
                )
            }
            TrainTarget::Classes { codes, n_classes } => {
                let boosters = (0..n_classes)
                    .map(|class| {
                        let y: Vec<f64> = codes.iter().map(|&c| f64::from(c == class)).collect();
                        self.fit_one(&data, &y, ObjectiveType::LogLoss, seed)
                    })
                    .collect::<Result<_>>()?;
                (BoostOutput::OneVsRest, boosters)
            }
            TrainTarget::Values(v) => (
                BoostOutput::Regression,
                vec![self.fit_one(&data, v, ObjectiveType::SquaredLoss, seed)?],
            ),
        };
        Ok(Fitted::GradientBoosting(Boosted {
            engine: ENGINE.to_string(),
            output,
            boosters: boosters.into_iter().map(Booster).collect(),
        }))
    }
}

/// The engine named in the payload.
const ENGINE: &str = "forust-ml 0.8";

/// What the boosters' outputs mean.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BoostOutput {
    /// One booster: the positive class's log-odds.
    Binary,
    /// One booster per class, each its class against the rest; normalized to sum to 1.
    OneVsRest,
    /// One booster: the value.
    Regression,
}

/// One forust-ml booster, stored as forust-ml serializes it.
#[derive(Serialize, Deserialize)]
#[serde(transparent)]
pub struct Booster(GradientBooster);

impl Booster {
    fn raw(&self, x: &[f64]) -> f64 {
        let data = Matrix::new(x, 1, x.len());
        self.0
            .predict(&data, false)
            .first()
            .copied()
            .unwrap_or(f64::NAN)
    }

    fn to_value(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or(serde_json::Value::Null)
    }
}

impl std::fmt::Debug for Booster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Booster({} trees)", self.0.trees.len())
    }
}

impl Clone for Booster {
    fn clone(&self) -> Self {
        // forust-ml's booster is not Clone; its JSON round trip is exact.
        match serde_json::from_value(self.to_value()) {
            Ok(b) => Booster(b),
            Err(_) => Booster(GradientBooster::default()),
        }
    }
}

impl PartialEq for Booster {
    fn eq(&self, other: &Self) -> bool {
        self.to_value() == other.to_value()
    }
}

/// A fitted boosted model: one booster, or one per class.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Boosted {
    /// The engine that fitted it (forust-ml and its version).
    pub engine: String,
    /// What the boosters' outputs mean.
    pub output: BoostOutput,
    /// One per output.
    pub boosters: Vec<Booster>,
}

impl Boosted {
    /// Tree nodes over all boosters (a node is about ten numbers).
    /// Checks a read payload, so that predicting can neither panic nor loop: one booster
    /// per output kind, and in every tree each child (left, right, missing) is a later node.
    pub(crate) fn validate(&self) -> std::result::Result<(), String> {
        let boosters = self.boosters.len();
        let fits = match self.output {
            BoostOutput::Binary | BoostOutput::Regression => boosters == 1,
            BoostOutput::OneVsRest => (2..=super::tree_ensemble::MAX_GROUPS).contains(&boosters),
        };
        if !fits {
            return Err(format!("{boosters} boosters for {:?} output", self.output));
        }
        for (b, booster) in self.boosters.iter().enumerate() {
            let trees = &booster.0.trees;
            if let Some(n) = booster.0.prediction_iteration.filter(|&n| n > trees.len()) {
                return Err(format!(
                    "booster {b} predicts with {n} trees but has {}",
                    trees.len()
                ));
            }
            for (t, tree) in trees.iter().enumerate() {
                let n = tree.nodes.len();
                if n == 0 {
                    return Err(format!("booster {b}, tree {t} has no nodes"));
                }
                for (i, node) in tree.nodes.iter().enumerate() {
                    if node.is_leaf {
                        continue;
                    }
                    for child in [node.left_child, node.right_child, node.missing_node] {
                        if child <= i || child >= n {
                            return Err(format!(
                                "booster {b}, tree {t}, node {i}: child {child} is not a later \
                                 node of the {n} (out of range, or a cycle)"
                            ));
                        }
                    }
                }
            }
        }
        Ok(())
    }

    /// Values written per row: classes (2 for binary), or 1.
    pub(crate) fn n_outputs(&self) -> usize {
        match self.output {
            BoostOutput::Binary => 2,
            BoostOutput::Regression => 1,
            BoostOutput::OneVsRest => self.boosters.len(),
        }
    }

    /// Checks that every split reads a column of a `width`-column row.
    pub(crate) fn check_width(&self, width: usize) -> std::result::Result<(), String> {
        for (b, booster) in self.boosters.iter().enumerate() {
            for (t, tree) in booster.0.trees.iter().enumerate() {
                for (i, node) in tree.nodes.iter().enumerate() {
                    if !node.is_leaf && node.split_feature >= width {
                        return Err(format!(
                            "booster {b}, tree {t}, node {i} splits on column {} of {width}",
                            node.split_feature
                        ));
                    }
                }
            }
        }
        Ok(())
    }

    /// Tree nodes over all boosters (a node is about ten numbers).
    pub fn node_count(&self) -> usize {
        self.boosters
            .iter()
            .flat_map(|b| &b.0.trees)
            .map(|t| t.nodes.len())
            .sum()
    }
}

fn logistic(z: f64) -> f64 {
    1.0 / (1.0 + (-z).exp())
}

impl Predictor for Boosted {
    fn predict_row(&self, x: &[f64], out: &mut [f64]) {
        match self.output {
            BoostOutput::Binary => {
                let p = self
                    .boosters
                    .first()
                    .map_or(f64::NAN, |b| logistic(b.raw(x)));
                out[0] = 1.0 - p;
                out[1] = p;
            }
            BoostOutput::OneVsRest => {
                for (o, b) in out.iter_mut().zip(&self.boosters) {
                    *o = logistic(b.raw(x));
                }
                let total: f64 = out.iter().sum();
                if total > 0.0 {
                    out.iter_mut().for_each(|o| *o /= total);
                }
            }
            BoostOutput::Regression => {
                out[0] = self.boosters.first().map_or(f64::NAN, |b| b.raw(x));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hyperparams::HyperParams;

    fn xgboost(hp: &HyperParams) -> Result<BoostParams> {
        BoostParams::xgboost(XgbHyperParams::from_hyperparams(hp)?)
    }

    fn lightgbm(hp: &HyperParams) -> Result<BoostParams> {
        BoostParams::lightgbm(LgbmHyperParams::from_hyperparams(hp)?)
    }

    #[test]
    fn defaults_are_each_librarys_own() {
        let x = xgboost(&HyperParams::default()).unwrap();
        assert_eq!(
            (x.n_estimators, x.learning_rate, x.max_depth, x.reg_lambda),
            (100, 0.3, Some(6), 1.0)
        );
        let l = lightgbm(&HyperParams::default()).unwrap();
        assert_eq!(
            (l.learning_rate, l.max_leaves, l.max_depth, l.reg_lambda),
            (0.1, Some(31), None, 0.0)
        );
        let l = lightgbm(&HyperParams::from_pairs([
            ("boosting-type", "goss"),
            ("max-depth", "5"),
            ("num-leaves", "50"),
            ("min-split-gain", "0.5"),
        ]))
        .unwrap();
        assert!(l.goss);
        assert_eq!(
            (l.max_depth, l.max_leaves, l.min_split_gain),
            (Some(5), Some(50), 0.5)
        );
    }

    #[test]
    fn values_the_engine_lacks_fail_with_the_reason() {
        let err = xgboost(&HyperParams::from_pairs([("booster", "gblinear")]))
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("hyperparameter `booster`: `gblinear` is not available"),
            "{err}"
        );
        let err = lightgbm(&HyperParams::from_pairs([("boosting-type", "dart")]))
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("hyperparameter `boosting-type`: `dart` is not available"),
            "{err}"
        );
        assert_eq!(
            xgboost(&HyperParams::from_pairs([("subsample", "1.5")]))
                .unwrap_err()
                .to_string(),
            "hyperparameter `subsample`: 1.5 must be in (0, 1]"
        );
    }

    #[test]
    fn separates_classes_and_fits_values() {
        let x = ndarray::Array2::from_shape_fn((120, 2), |(i, j)| (i * (j + 1)) as f64 % 17.0);
        let codes: Vec<usize> = (0..120).map(|i| usize::from(x[[i, 0]] > 8.0)).collect();
        let p = xgboost(&HyperParams::default()).unwrap();
        let fitted = p
            .fit(
                x.view(),
                TrainTarget::Classes {
                    codes: &codes,
                    n_classes: 2,
                },
                3,
            )
            .unwrap();
        let mut out = [0.0; 2];
        fitted.predictor().predict_row(&[16.0, 3.0], &mut out);
        assert!(out[1] > 0.9, "{out:?}");
        fitted.predictor().predict_row(&[1.0, 3.0], &mut out);
        assert!(out[0] > 0.9, "{out:?}");
        let y: Vec<f64> = (0..120).map(|i| 2.0 * x[[i, 0]]).collect();
        let fitted = p.fit(x.view(), TrainTarget::Values(&y), 3).unwrap();
        let mut v = [0.0];
        fitted.predictor().predict_row(&[10.0, 0.0], &mut v);
        assert!((v[0] - 20.0).abs() < 1.0, "{v:?}");
    }

    /// A fitted binary model's payload as JSON, to be tampered with.
    fn binary_payload() -> serde_json::Value {
        let x = ndarray::Array2::from_shape_fn((60, 2), |(i, j)| (i * (j + 1)) as f64 % 13.0);
        let codes: Vec<usize> = (0..60).map(|i| usize::from(x[[i, 0]] > 6.0)).collect();
        let mut p = xgboost(&HyperParams::default()).unwrap();
        p.n_estimators = 3;
        let fitted = p
            .fit(
                x.view(),
                TrainTarget::Classes {
                    codes: &codes,
                    n_classes: 2,
                },
                3,
            )
            .unwrap();
        serde_json::from_slice(&fitted.payload().unwrap()).unwrap()
    }

    fn reload(payload: &serde_json::Value) -> std::result::Result<Fitted, String> {
        let bytes = serde_json::to_vec(payload).unwrap();
        Fitted::from_payload("model.json", &bytes).map_err(|e| e.to_string())
    }

    #[test]
    fn cyclic_or_out_of_range_trees_and_booster_counts_are_refused_at_load() {
        let payload = binary_payload();
        let fitted = reload(&payload).unwrap();
        assert_eq!(fitted.n_outputs(), Some(2));
        assert!(fitted.check_width(2).is_ok());
        let node = "/boosters/0/trees/0/nodes/0";
        assert_eq!(
            payload.pointer(&format!("{node}/is_leaf")),
            Some(&serde_json::Value::Bool(false)),
            "the first tree splits at its root"
        );

        // The root's left child is the root: every row going left would loop forever.
        let mut cyclic = payload.clone();
        *cyclic.pointer_mut(&format!("{node}/left_child")).unwrap() = 0.into();
        let err = reload(&cyclic).unwrap_err();
        assert!(err.contains("tree 0, node 0: child 0"), "{err}");
        assert!(err.contains("malformed GradientBoosting model"), "{err}");
        let mut far = payload.clone();
        *far.pointer_mut(&format!("{node}/missing_node")).unwrap() = 9999.into();
        assert!(reload(&far).unwrap_err().contains("child 9999"));
        let mut iterations = payload.clone();
        *iterations
            .pointer_mut("/boosters/0/prediction_iteration")
            .unwrap() = 50.into();
        assert!(reload(&iterations)
            .unwrap_err()
            .contains("predicts with 50 trees but has 3"));
        let mut wide = payload.clone();
        *wide.pointer_mut(&format!("{node}/split_feature")).unwrap() = 5.into();
        let fitted = reload(&wide).unwrap();
        assert!(fitted
            .check_width(2)
            .unwrap_err()
            .to_string()
            .contains("splits on column 5 of 2"));

        // One-vs-rest needs a booster per class; binary exactly one.
        let mut two = payload.clone();
        let booster = two["boosters"][0].clone();
        two["boosters"].as_array_mut().unwrap().push(booster);
        assert!(reload(&two)
            .unwrap_err()
            .contains("2 boosters for Binary output"));
    }
}
