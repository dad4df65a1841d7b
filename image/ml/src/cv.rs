//! k-fold cross-validation of an estimator, as scikit-learn's `cross_val_score` does it:
//! stratified folds for classification, plain folds for regression (see [`crate::folds`]),
//! the same seed for every fold's fit, and the mean of the fold scores.

use ndarray::{Array2, Axis};

use crate::error::{MlError, Result};
use crate::estimators::{Estimator, TrainTarget};
use crate::folds::{folds, Fold};
use crate::model::TrainingData;
use crate::scorer::{Scored, Scorer};
use crate::target::Target;

#[derive(Debug, Clone, PartialEq)]
pub struct CvScores {
    pub folds: Vec<f64>,
    pub mean: f64,
}

/// Folds are fitted side by side on all cores (each fold is independent and seeded alike, so
/// the scores do not depend on the thread count).
pub fn cross_val_score(
    estimator: &dyn Estimator,
    data: &TrainingData,
    scorer: Scorer,
    k: usize,
    seed: u64,
) -> Result<CvScores> {
    estimator.supports(data.task)?;
    let codes = data.target.codes();
    let all = folds(data.x.nrows(), codes, k)?;
    let results: Vec<Result<Option<f64>>> = std::thread::scope(|scope| {
        let handles: Vec<_> = all
            .iter()
            .map(|fold| scope.spawn(move || fold_score(estimator, data, scorer, fold, seed)))
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(MlError::Folds("a fold's fit panicked".to_string())))
            })
            .collect()
    });
    let mut scores = Vec::with_capacity(k);
    for (i, result) in results.into_iter().enumerate() {
        let score = result?.ok_or_else(|| {
            MlError::Folds(format!(
                "the score is undefined on fold {} (only one class among its rows?)",
                i + 1
            ))
        })?;
        scores.push(score);
    }
    let mean = scores.iter().sum::<f64>() / scores.len() as f64;
    Ok(CvScores {
        folds: scores,
        mean,
    })
}

/// Fits on a fold's training rows and scores its test rows (`None`: undefined score).
fn fold_score(
    estimator: &dyn Estimator,
    data: &TrainingData,
    scorer: Scorer,
    fold: &Fold,
    seed: u64,
) -> Result<Option<f64>> {
    let x_train = data.x.select(Axis(0), &fold.train);
    let x_test = data.x.select(Axis(0), &fold.test);
    Ok(match &data.target {
        Target::Classes { labels, codes } => {
            let train: Vec<usize> = fold.train.iter().map(|&r| codes[r]).collect();
            let truth: Vec<usize> = fold.test.iter().map(|&r| codes[r]).collect();
            let fitted = estimator.fit(
                x_train.view(),
                TrainTarget::Classes {
                    codes: &train,
                    n_classes: labels.len(),
                },
                seed,
            )?;
            let mut proba = Array2::zeros((x_test.nrows(), labels.len()));
            for (row, mut out) in x_test.rows().into_iter().zip(proba.rows_mut()) {
                if let (Some(r), Some(o)) = (row.as_slice(), out.as_slice_mut()) {
                    fitted.predictor().predict_row(r, o);
                }
            }
            scorer.score(Scored::Classes {
                truth: &truth,
                proba: proba.view(),
            })
        }
        Target::Values(values) => {
            let train: Vec<f64> = fold.train.iter().map(|&r| values[r]).collect();
            let truth: Vec<f64> = fold.test.iter().map(|&r| values[r]).collect();
            let fitted = estimator.fit(x_train.view(), TrainTarget::Values(&train), seed)?;
            let mut predicted = vec![0.0; x_test.nrows()];
            for (row, out) in x_test.rows().into_iter().zip(predicted.iter_mut()) {
                if let Some(r) = row.as_slice() {
                    fitted.predictor().predict_row(r, std::slice::from_mut(out));
                }
            }
            scorer.score(Scored::Values {
                truth: &truth,
                predicted: &predicted,
            })
        }
    })
}
