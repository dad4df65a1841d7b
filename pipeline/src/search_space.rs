//! The algorithms that compete in the tuning step and their hyperparameter search spaces,
//! exactly as the original defines them (names as the training scripts take them).

use crate::algorithm::Algorithm;

/// One hyperparameter's range, in SageMaker's three kinds.
#[derive(Debug, Clone, PartialEq)]
pub enum Range {
    /// A fixed set of values (SageMaker allows at most 30).
    Categorical(Vec<String>),
    /// Every integer from `min` to `max`, both included.
    Integer {
        /// The smallest value.
        min: i64,
        /// The largest value.
        max: i64,
    },
}

/// A named hyperparameter range.
#[derive(Debug, Clone, PartialEq)]
pub struct Param {
    /// The hyperparameter as the training job reads it.
    pub name: &'static str,
    /// The values the tuner may draw.
    pub range: Range,
}

/// `numpy.logspace(log10(start), log10(stop), n)` as strings, the way the original builds sets.
pub fn logspace(start: f64, stop: f64, n: usize) -> Vec<String> {
    let (a, b) = (start.log10(), stop.log10());
    (0..n)
        .map(|i| {
            let t = if n == 1 {
                0.0
            } else {
                i as f64 / (n - 1) as f64
            };
            fmt(10f64.powf(a + (b - a) * t))
        })
        .collect()
}

/// `numpy.linspace(start, stop, n)` as strings.
pub fn linspace(start: f64, stop: f64, n: usize) -> Vec<String> {
    (0..n)
        .map(|i| {
            let t = if n == 1 {
                0.0
            } else {
                i as f64 / (n - 1) as f64
            };
            fmt(start + (stop - start) * t)
        })
        .collect()
}

/// Shortest string that reads back as the same f64, with 12 significant digits at most so
/// that powers of ten print as `0.001`, not `0.0010000000000000002`.
fn fmt(x: f64) -> String {
    let rounded: f64 = format!("{x:.12e}").parse().unwrap_or(x);
    format!("{rounded}")
}

fn cat(name: &'static str, values: &[&str]) -> Param {
    Param {
        name,
        range: Range::Categorical(values.iter().map(|v| v.to_string()).collect()),
    }
}

fn cat_owned(name: &'static str, values: Vec<String>) -> Param {
    Param {
        name,
        range: Range::Categorical(values),
    }
}

fn int(name: &'static str, min: i64, max: i64) -> Param {
    Param {
        name,
        range: Range::Integer { min, max },
    }
}

/// The search space of `algorithm`.
pub fn search_space(algorithm: Algorithm) -> Vec<Param> {
    match algorithm {
        Algorithm::RandomForest => vec![
            cat(
                "n-estimators",
                &[
                    "50", "100", "150", "200", "250", "300", "350", "400", "450", "500",
                ],
            ),
            cat("criterion", &["gini", "entropy"]),
            cat("max-depth", &["5", "10", "15", "20"]),
            int("min-samples-split", 2, 11),
            int("min-samples-leaf", 1, 11),
            cat("max-features", &["sqrt", "log2", "None"]),
            cat("class-weight", &["balanced", "None"]),
        ],
        Algorithm::NeuralNet => vec![
            cat("hidden-layer-sizes", &["50", "100", "50,50"]),
            cat("activation", &["logistic", "relu"]),
            cat_owned("learning-rate-init", logspace(1e-3, 1e-1, 5)),
            cat_owned("alpha", logspace(1e-5, 1e3, 5)),
            cat("max-iter", &["100", "200", "500", "1000"]),
        ],
        Algorithm::LogisticRegression => vec![
            cat("penalty", &["l2", "None"]),
            cat_owned("C", logspace(1e-3, 1e3, 30)),
            cat("class-weight", &["balanced", "None"]),
            cat("max-iter", &["50", "100", "200", "500"]),
        ],
        Algorithm::NaiveBayes => vec![cat_owned("var_smoothing", logspace(1e-10, 1.0, 30))],
        Algorithm::XGBoost => vec![
            cat("booster", &["gbtree", "gblinear", "dart"]),
            cat("n-estimators", &["50", "100", "150", "200"]),
            cat_owned("learning-rate", logspace(1e-3, 1e-1, 5)),
            int("max-depth", 3, 7),
            int("min-child-weight", 1, 10),
            cat_owned("subsample", linspace(0.6, 1.0, 5)),
            cat_owned("colsample-bytree", linspace(0.5, 1.0, 5)),
            cat("gamma", &["0", "0.1", "0.5"]),
            cat("reg-alpha", &["0", "0.01", "0.1", "1"]),
            cat("reg-lambda", &["0.01", "0.1", "1"]),
        ],
        Algorithm::LightGBM => vec![
            cat("boosting-type", &["gbdt", "dart", "goss"]),
            int("num-leaves", 10, 101),
            int("max-depth", 3, 7),
            cat_owned("learning-rate", logspace(1e-3, 1e-1, 5)),
            cat("n-estimators", &["50", "100", "150", "200"]),
            cat_owned("subsample", linspace(0.5, 1.0, 5)),
            cat_owned("colsample-bytree", linspace(0.5, 1.0, 5)),
            cat("reg-alpha", &["0", "0.1", "0.5"]),
            cat("reg-lambda", &["0", "0.1", "0.5"]),
            cat("min-split-gain", &["0", "0.1", "0.5"]),
            int("min-child-weight", 1, 10),
            int("min-child-samples", 5, 21),
        ],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logspace_matches_numpy() {
        assert_eq!(
            logspace(1e-3, 1e-1, 5),
            [
                "0.001",
                "0.003162277660168",
                "0.01",
                "0.03162277660168",
                "0.1"
            ]
        );
        assert_eq!(
            linspace(0.5, 1.0, 5),
            ["0.5", "0.625", "0.75", "0.875", "1"]
        );
    }

    #[test]
    fn every_algorithm_has_a_space_within_sagemaker_limits() {
        for alg in Algorithm::ALL {
            for p in search_space(alg) {
                if let Range::Categorical(v) = &p.range {
                    assert!(!v.is_empty() && v.len() <= 30, "{alg}.{}", p.name);
                }
            }
        }
    }
}
