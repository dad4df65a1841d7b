//! The algorithm families that compete in the tuning step, as one type.
//!
//! Their names are those of the original's training scripts: the pipeline definition's
//! tuning definitions, the `algorithm` hyperparameter and a model manifest's `family` all
//! spell them, so [`Algorithm::as_str`] and serde use exactly those strings.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// One family of the search (a classifier and, on a numeric target, its regression
/// counterpart).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Algorithm {
    /// scikit-learn's random forest.
    RandomForest,
    /// scikit-learn's multi-layer perceptron.
    NeuralNet,
    /// Logistic regression; Ridge or least squares on a numeric target.
    LogisticRegression,
    /// Gaussian naive Bayes.
    NaiveBayes,
    /// Gradient-boosted trees, XGBoost's parameters.
    XGBoost,
    /// Gradient-boosted trees, LightGBM's parameters.
    LightGBM,
}

impl Algorithm {
    /// Every family, in the order the original lists them (the definition's order).
    pub const ALL: [Algorithm; 6] = [
        Algorithm::RandomForest,
        Algorithm::NeuralNet,
        Algorithm::LogisticRegression,
        Algorithm::NaiveBayes,
        Algorithm::XGBoost,
        Algorithm::LightGBM,
    ];

    /// The family's name as the definition and the training scripts spell it.
    pub const fn as_str(self) -> &'static str {
        match self {
            Algorithm::RandomForest => "RandomForest",
            Algorithm::NeuralNet => "NeuralNet",
            Algorithm::LogisticRegression => "LogisticRegression",
            Algorithm::NaiveBayes => "NaiveBayes",
            Algorithm::XGBoost => "XGBoost",
            Algorithm::LightGBM => "LightGBM",
        }
    }

    /// The known names, comma-separated, for messages.
    pub fn known() -> String {
        Algorithm::ALL.map(Algorithm::as_str).join(", ")
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A name that is not one of [`Algorithm::ALL`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown algorithm `{name}` (known: {known})", known = Algorithm::known())]
pub struct UnknownAlgorithm {
    /// The name as given.
    pub name: String,
}

impl FromStr for Algorithm {
    type Err = UnknownAlgorithm;

    fn from_str(name: &str) -> Result<Algorithm, UnknownAlgorithm> {
        Algorithm::ALL
            .into_iter()
            .find(|a| a.as_str() == name)
            .ok_or_else(|| UnknownAlgorithm {
                name: name.to_string(),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_through_strings_and_serde() {
        for algorithm in Algorithm::ALL {
            assert_eq!(algorithm.as_str().parse::<Algorithm>(), Ok(algorithm));
            assert_eq!(algorithm.to_string(), algorithm.as_str());
            let json = serde_json::to_string(&algorithm).unwrap();
            assert_eq!(json, format!("\"{}\"", algorithm.as_str()));
            assert_eq!(serde_json::from_str::<Algorithm>(&json).unwrap(), algorithm);
        }
        assert!(serde_json::from_str::<Algorithm>("\"GradientBoosting\"").is_err());
    }

    #[test]
    fn an_unknown_name_lists_the_known_ones() {
        assert_eq!(
            "randomforest".parse::<Algorithm>().unwrap_err().to_string(),
            "unknown algorithm `randomforest` (known: RandomForest, NeuralNet, \
             LogisticRegression, NaiveBayes, XGBoost, LightGBM)"
        );
    }
}
