//! XGBoost's and LightGBM's hyperparameters as parsed, unchecked, and the range checks both
//! engines share. The pure-Rust engine ([`super::boosting`]) and the libraries
//! (feature `native-boosting`) each check them into their own parameter set; this build's
//! [`ParamGuard::check`] picks the engine it fits with.

use super::ParamGuard;
use crate::error::{MlError, Result};
use crate::hyperparams::HyperParams;

/// XGBoost hyperparameters under the original's names, unchecked; `None`: not given, the
/// engine's default (see [`super::boosting`] for names, defaults and ranges).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct XgbHyperParams {
    /// `booster`: `gbtree`, `gblinear` or `dart`.
    pub booster: Option<String>,
    /// `n-estimators`: boosting rounds.
    pub n_estimators: Option<usize>,
    /// `learning-rate`: shrinkage.
    pub learning_rate: Option<f64>,
    /// `max-depth`: depth limit.
    pub max_depth: Option<usize>,
    /// `min-child-weight`: hessian a leaf needs.
    pub min_child_weight: Option<f64>,
    /// `subsample`: share of rows sampled per tree.
    pub subsample: Option<f64>,
    /// `colsample-bytree`: share of columns sampled per tree.
    pub colsample_bytree: Option<f64>,
    /// `gamma`: loss reduction a split needs.
    pub gamma: Option<f64>,
    /// `reg-alpha`: L1 penalty on leaf values.
    pub reg_alpha: Option<f64>,
    /// `reg-lambda`: L2 penalty on leaf values.
    pub reg_lambda: Option<f64>,
}

impl XgbHyperParams {
    /// Parses the family's hyperparameters (numbers only; ranges are [`ParamGuard::check`]'s).
    pub fn from_hyperparams(hp: &HyperParams) -> Result<XgbHyperParams> {
        Ok(XgbHyperParams {
            booster: hp.get("booster").map(|v| v.trim().to_string()),
            n_estimators: hp.parse("n-estimators")?,
            learning_rate: hp.parse("learning-rate")?,
            max_depth: hp.parse("max-depth")?,
            min_child_weight: hp.parse("min-child-weight")?,
            subsample: hp.parse("subsample")?,
            colsample_bytree: hp.parse("colsample-bytree")?,
            gamma: hp.parse("gamma")?,
            reg_alpha: hp.parse("reg-alpha")?,
            reg_lambda: hp.parse("reg-lambda")?,
        })
    }
}

/// LightGBM hyperparameters under the original's names, unchecked; `None`: not given, the
/// engine's default (see [`super::boosting`] for names, defaults and ranges).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LgbmHyperParams {
    /// `boosting-type`: `gbdt`, `dart`, `goss` (or `rf` for the library).
    pub boosting_type: Option<String>,
    /// `n-estimators`: boosting rounds.
    pub n_estimators: Option<usize>,
    /// `learning-rate`: shrinkage.
    pub learning_rate: Option<f64>,
    /// `num-leaves`: leaves per tree.
    pub num_leaves: Option<usize>,
    /// `max-depth`: depth limit; ≤ 0 means none, as in LightGBM.
    pub max_depth: Option<i64>,
    /// `min-child-weight`: hessian a leaf needs.
    pub min_child_weight: Option<f64>,
    /// `min-child-samples`: rows a leaf needs.
    pub min_child_samples: Option<usize>,
    /// `subsample`: the bagging fraction.
    pub subsample: Option<f64>,
    /// `colsample-bytree`: share of columns sampled per tree.
    pub colsample_bytree: Option<f64>,
    /// `min-split-gain`: loss reduction a split needs.
    pub min_split_gain: Option<f64>,
    /// `reg-alpha`: L1 penalty on leaf values.
    pub reg_alpha: Option<f64>,
    /// `reg-lambda`: L2 penalty on leaf values.
    pub reg_lambda: Option<f64>,
}

impl LgbmHyperParams {
    /// Parses the family's hyperparameters (numbers only; ranges are [`ParamGuard::check`]'s).
    pub fn from_hyperparams(hp: &HyperParams) -> Result<LgbmHyperParams> {
        Ok(LgbmHyperParams {
            boosting_type: hp.get("boosting-type").map(|v| v.trim().to_string()),
            n_estimators: hp.parse("n-estimators")?,
            learning_rate: hp.parse("learning-rate")?,
            num_leaves: hp.parse("num-leaves")?,
            max_depth: hp.parse("max-depth")?,
            min_child_weight: hp.parse("min-child-weight")?,
            min_child_samples: hp.parse("min-child-samples")?,
            subsample: hp.parse("subsample")?,
            colsample_bytree: hp.parse("colsample-bytree")?,
            min_split_gain: hp.parse("min-split-gain")?,
            reg_alpha: hp.parse("reg-alpha")?,
            reg_lambda: hp.parse("reg-lambda")?,
        })
    }
}

/// A share in (0, 1].
pub(super) fn positive_fraction(name: &str, value: Option<f64>) -> Result<Option<f64>> {
    match value {
        Some(v) if !(v > 0.0 && v <= 1.0) => {
            Err(MlError::hp(name, format!("{v} must be in (0, 1]")))
        }
        other => Ok(other),
    }
}

/// A finite number ≥ 0.
pub(super) fn non_negative(name: &str, value: Option<f64>) -> Result<Option<f64>> {
    match value {
        Some(v) if !(v >= 0.0 && v.is_finite()) => {
            Err(MlError::hp(name, format!("{v} must be a number ≥ 0")))
        }
        other => Ok(other),
    }
}

/// `learning-rate`, which must be a finite number > 0.
pub(super) fn learning_rate(value: Option<f64>) -> Result<Option<f64>> {
    match value {
        Some(lr) if !(lr > 0.0 && lr.is_finite()) => {
            Err(MlError::hp("learning-rate", format!("{lr} must be > 0")))
        }
        other => Ok(other),
    }
}

/// A count of at least `min`.
pub(super) fn at_least(name: &str, value: Option<usize>, min: usize) -> Result<Option<usize>> {
    match value {
        Some(v) if v < min => Err(MlError::hp(name, format!("{v} must be at least {min}"))),
        other => Ok(other),
    }
}

impl ParamGuard for XgbHyperParams {
    #[cfg(not(feature = "native-boosting"))]
    type Checked = super::boosting::BoostParams;
    #[cfg(feature = "native-boosting")]
    type Checked = super::xgboost::XgbParams;

    fn check(self) -> Result<Self::Checked> {
        #[cfg(not(feature = "native-boosting"))]
        return super::boosting::BoostParams::xgboost(self);
        #[cfg(feature = "native-boosting")]
        return super::xgboost::XgbParams::check(self);
    }
}

impl ParamGuard for LgbmHyperParams {
    #[cfg(not(feature = "native-boosting"))]
    type Checked = super::boosting::BoostParams;
    #[cfg(feature = "native-boosting")]
    type Checked = super::lightgbm::LgbmParams;

    fn check(self) -> Result<Self::Checked> {
        #[cfg(not(feature = "native-boosting"))]
        return super::boosting::BoostParams::lightgbm(self);
        #[cfg(feature = "native-boosting")]
        return super::lightgbm::LgbmParams::check(self);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Parsing takes any number; only the check refuses one out of range, in either engine.
    #[test]
    fn parsed_values_out_of_range_are_refused_by_the_check() {
        let hp = HyperParams::from_pairs([("n-estimators", "0"), ("max-depth", "-1")]);
        let lgbm = LgbmHyperParams::from_hyperparams(&hp).unwrap();
        assert_eq!((lgbm.n_estimators, lgbm.max_depth), (Some(0), Some(-1)));
        assert_eq!(
            lgbm.check().unwrap_err().to_string(),
            "hyperparameter `n-estimators`: 0 must be at least 1"
        );
        let hp = HyperParams::from_pairs([("learning-rate", "0")]);
        let xgb = XgbHyperParams::from_hyperparams(&hp).unwrap();
        assert_eq!(
            xgb.check().unwrap_err().to_string(),
            "hyperparameter `learning-rate`: 0 must be > 0"
        );
        assert!(XgbHyperParams::default().check().is_ok());
        assert!(LgbmHyperParams::default().check().is_ok());
    }
}
