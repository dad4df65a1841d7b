//! Cross-validation scorers, by scikit-learn's scorer names (the original's list, plus `r2`,
//! `neg_mean_squared_error` and `neg_mean_absolute_error`). Larger is always better: the
//! error scorers are negated, as scikit-learn negates them.
//!
//! On a multiclass target, `roc_auc` is the macro one-vs-rest AUC (same as `roc_auc_ovr`) and
//! `average_precision` the macro one-vs-rest average precision, so the pipeline's default
//! scorer works for every classification dataset; `f1`, `precision`, `recall` and `jaccard`
//! score the positive class only and so are refused there (use an averaged variant). On a
//! binary target the `_ovr`/`_ovo` AUCs equal `roc_auc`, and `top_k_accuracy` (k = 2) is 1.

use ndarray::ArrayView2;

use crate::error::{MlError, Result};
use crate::metrics::{self, Average};
use crate::target::Task;

/// k of `top_k_accuracy` (scikit-learn's default).
pub const TOP_K: usize = 2;

/// A scikit-learn scorer: what cross-validation maximizes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scorer {
    /// `accuracy`: share of rows classified right.
    Accuracy,
    /// `balanced_accuracy`: mean recall over classes.
    BalancedAccuracy,
    /// `top_k_accuracy`: the true class among the [`TOP_K`] most probable.
    TopKAccuracy,
    /// `average_precision`: area under the precision-recall curve (binary).
    AveragePrecision,
    /// `f1`, `f1_micro`, `f1_macro`, `f1_weighted`.
    F1(Average),
    /// `precision` of the positive class (binary).
    Precision,
    /// `recall` of the positive class (binary).
    Recall,
    /// `jaccard` of the positive class (binary).
    Jaccard,
    /// `roc_auc`: binary ROC AUC.
    RocAuc,
    /// `roc_auc_ovr[_weighted]`: one class against the rest, averaged.
    RocAucOvr {
        /// Classes weighted by their support (`_weighted`).
        weighted: bool,
    },
    /// `roc_auc_ovo[_weighted]`: every pair of classes, averaged.
    RocAucOvo {
        /// Pairs weighted by their classes' prevalence (`_weighted`).
        weighted: bool,
    },
    /// `r2`: coefficient of determination.
    R2,
    /// `neg_mean_squared_error`, negated so that larger is better.
    NegMeanSquaredError,
    /// `neg_mean_absolute_error`, negated so that larger is better.
    NegMeanAbsoluteError,
}

/// What a model predicted for the scored rows.
#[derive(Debug, Clone, Copy)]
pub enum Scored<'a> {
    /// A classifier's rows.
    Classes {
        /// The true class codes.
        truth: &'a [usize],
        /// Per row, every class's probability.
        proba: ArrayView2<'a, f64>,
    },
    /// A regressor's rows.
    Values {
        /// The true values.
        truth: &'a [f64],
        /// The predicted values.
        predicted: &'a [f64],
    },
}

impl Scorer {
    /// Reads scikit-learn's scorer name.
    pub fn parse(name: &str) -> Result<Scorer> {
        Ok(match name.trim() {
            "accuracy" => Scorer::Accuracy,
            "balanced_accuracy" => Scorer::BalancedAccuracy,
            "top_k_accuracy" => Scorer::TopKAccuracy,
            "average_precision" => Scorer::AveragePrecision,
            "f1" => Scorer::F1(Average::Binary),
            "f1_micro" => Scorer::F1(Average::Micro),
            "f1_macro" => Scorer::F1(Average::Macro),
            "f1_weighted" => Scorer::F1(Average::Weighted),
            "precision" => Scorer::Precision,
            "recall" => Scorer::Recall,
            "jaccard" => Scorer::Jaccard,
            "roc_auc" => Scorer::RocAuc,
            "roc_auc_ovr" => Scorer::RocAucOvr { weighted: false },
            "roc_auc_ovr_weighted" => Scorer::RocAucOvr { weighted: true },
            "roc_auc_ovo" => Scorer::RocAucOvo { weighted: false },
            "roc_auc_ovo_weighted" => Scorer::RocAucOvo { weighted: true },
            "r2" => Scorer::R2,
            "neg_mean_squared_error" => Scorer::NegMeanSquaredError,
            "neg_mean_absolute_error" => Scorer::NegMeanAbsoluteError,
            other => return Err(MlError::UnknownScorer(other.to_string())),
        })
    }

    fn is_regression(self) -> bool {
        matches!(
            self,
            Scorer::R2 | Scorer::NegMeanSquaredError | Scorer::NegMeanAbsoluteError
        )
    }

    /// Fails, before any fitting, when the scorer does not apply to `task`.
    pub fn check(self, name: &str, task: Task) -> Result<()> {
        let refuse = |hint: &str| {
            Err(MlError::NotApplicable {
                name: name.to_string(),
                task: task.name().to_string(),
                hint: hint.to_string(),
            })
        };
        match task {
            Task::Regression if !self.is_regression() => {
                refuse(" (regression scorers: r2, neg_mean_squared_error, neg_mean_absolute_error)")
            }
            Task::Binary | Task::Multiclass if self.is_regression() => {
                refuse(" (it is a regression scorer)")
            }
            Task::Multiclass
                if matches!(
                    self,
                    Scorer::F1(Average::Binary) | Scorer::Precision | Scorer::Recall | Scorer::Jaccard
                ) =>
            {
                refuse(": it scores the positive class of a binary target; use f1_macro, f1_weighted, f1_micro, balanced_accuracy or roc_auc_ovr")
            }
            _ => Ok(()),
        }
    }

    /// The score; `None` when it is undefined on these rows (e.g. AUC with one class present).
    pub fn score(self, scored: Scored<'_>) -> Option<f64> {
        match scored {
            Scored::Values { truth, predicted } => match self {
                Scorer::R2 => Some(metrics::r2(truth, predicted)),
                Scorer::NegMeanSquaredError => Some(-metrics::mean_squared_error(truth, predicted)),
                Scorer::NegMeanAbsoluteError => {
                    Some(-metrics::mean_absolute_error(truth, predicted))
                }
                _ => None,
            },
            Scored::Classes { truth, proba } => {
                let k = proba.ncols();
                let predicted = metrics::argmax_rows(proba);
                let pc = || metrics::per_class(truth, &predicted, k);
                let positive = || -> (Vec<bool>, Vec<f64>) {
                    (
                        truth.iter().map(|&t| t == 1).collect(),
                        proba.column(1).to_vec(),
                    )
                };
                match self {
                    Scorer::Accuracy => Some(metrics::accuracy(truth, &predicted)),
                    Scorer::BalancedAccuracy => Some(metrics::recall(&pc(), Average::Macro)),
                    Scorer::TopKAccuracy => Some(metrics::top_k_accuracy(truth, proba, TOP_K)),
                    Scorer::F1(average) => Some(metrics::fbeta_score(&pc(), average, 1.0)),
                    Scorer::Precision => Some(metrics::precision(&pc(), Average::Binary)),
                    Scorer::Recall => Some(metrics::recall(&pc(), Average::Binary)),
                    Scorer::Jaccard => Some(metrics::jaccard_binary(&pc())),
                    Scorer::AveragePrecision if k == 2 => {
                        let (p, s) = positive();
                        metrics::average_precision(&p, &s)
                    }
                    Scorer::AveragePrecision => metrics::average_precision_ovr(truth, proba),
                    Scorer::RocAuc | Scorer::RocAucOvr { .. } | Scorer::RocAucOvo { .. }
                        if k == 2 =>
                    {
                        let (p, s) = positive();
                        metrics::roc_auc(&p, &s)
                    }
                    Scorer::RocAuc => metrics::roc_auc_ovr(truth, proba, false),
                    Scorer::RocAucOvr { weighted } => metrics::roc_auc_ovr(truth, proba, weighted),
                    Scorer::RocAucOvo { weighted } => metrics::roc_auc_ovo(truth, proba, weighted),
                    Scorer::R2 | Scorer::NegMeanSquaredError | Scorer::NegMeanAbsoluteError => None,
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mmp_pipeline::parameters::CV_SCORERS;
    use ndarray::array;

    #[test]
    fn every_pipeline_scorer_parses() {
        for name in CV_SCORERS {
            Scorer::parse(name).unwrap();
        }
        assert_eq!(
            Scorer::parse("auc").unwrap_err().to_string(),
            "unknown scorer `auc`"
        );
    }

    #[test]
    fn scorers_that_do_not_apply_are_refused() {
        let s = Scorer::parse("f1").unwrap();
        assert!(s.check("f1", Task::Binary).is_ok());
        let err = s.check("f1", Task::Multiclass).unwrap_err().to_string();
        assert!(
            err.starts_with("scorer or metric `f1` does not apply to a multiclass task"),
            "{err}"
        );
        assert!(Scorer::R2.check("r2", Task::Binary).is_err());
        assert!(Scorer::RocAuc.check("roc_auc", Task::Regression).is_err());
        assert!(Scorer::RocAuc.check("roc_auc", Task::Multiclass).is_ok());
    }

    #[test]
    fn error_scorers_are_negated() {
        let scored = Scored::Values {
            truth: &[1.0, 2.0],
            predicted: &[2.0, 4.0],
        };
        assert_eq!(Scorer::NegMeanSquaredError.score(scored), Some(-2.5));
        assert_eq!(Scorer::NegMeanAbsoluteError.score(scored), Some(-1.5));
    }

    #[test]
    fn roc_auc_on_multiclass_is_macro_one_vs_rest() {
        let proba = array![
            [0.8, 0.1, 0.1],
            [0.2, 0.7, 0.1],
            [0.1, 0.2, 0.7],
            [0.3, 0.4, 0.3]
        ];
        let scored = Scored::Classes {
            truth: &[0, 1, 2, 2],
            proba: proba.view(),
        };
        assert_eq!(
            Scorer::RocAuc.score(scored),
            Scorer::RocAucOvr { weighted: false }.score(scored)
        );
    }
}
