//! XGBoost's own model file (JSON, as `Booster.save_model("….json")` writes it), read into a
//! [`TreeEnsemble`]; with the `native-boosting` feature, fitting by the real XGBoost library.
//!
//! The artifact's payload is that file byte for byte, so `xgboost.Booster(model_file=…)` in
//! Python loads it and predicts what this crate predicts. Read: `gbtree`, `dart` (its tree
//! weights) and `gblinear` boosters; objectives `binary:logistic`, `multi:softprob`,
//! `multi:softmax` (probabilities are served) and `reg:squarederror`. Anything else (other
//! objectives, categorical splits, vector leaves) is refused with the reason.

use serde::Deserialize;

use super::tree_ensemble::{
    Comparison, Linear, Link, Missing, Split, Tree, TreeEnsemble, MAX_GROUPS,
};
use crate::error::{MlError, Result};

/// The payload's file name in the artifact.
pub const PAYLOAD_FILE: &str = "xgboost-model.json";

#[derive(Deserialize)]
struct ModelFile {
    learner: Learner,
}

#[derive(Deserialize)]
struct Learner {
    learner_model_param: ModelParam,
    objective: Objective,
    gradient_booster: Booster,
}

#[derive(Deserialize)]
struct ModelParam {
    base_score: String,
    num_class: String,
    num_feature: String,
}

#[derive(Deserialize)]
struct Objective {
    name: String,
}

#[derive(Deserialize)]
#[serde(tag = "name", rename_all = "lowercase")]
enum Booster {
    Gbtree {
        model: GbtreeModel,
    },
    Dart {
        gbtree: Box<GbtreeBooster>,
        weight_drop: Vec<f64>,
    },
    Gblinear {
        model: LinearModel,
    },
}

#[derive(Deserialize)]
struct GbtreeBooster {
    model: GbtreeModel,
}

#[derive(Deserialize)]
struct GbtreeModel {
    trees: Vec<JsonTree>,
    tree_info: Vec<usize>,
}

#[derive(Deserialize)]
struct LinearModel {
    weights: Vec<f64>,
}

#[derive(Deserialize)]
struct JsonTree {
    left_children: Vec<i64>,
    right_children: Vec<i64>,
    split_indices: Vec<u32>,
    split_conditions: Vec<f64>,
    default_left: Vec<serde_json::Value>,
    #[serde(default)]
    split_type: Vec<u8>,
}

fn bad(message: impl std::fmt::Display) -> MlError {
    MlError::Artifact(format!("{PAYLOAD_FILE}: {message}"))
}

fn number(field: &str, text: &str) -> Result<f64> {
    text.trim()
        .parse::<f64>()
        .map_err(|_| bad(format_args!("{field} `{text}` is not a number")))
}

fn count(field: &str, text: &str) -> Result<usize> {
    text.trim()
        .parse::<usize>()
        .map_err(|_| bad(format_args!("{field} `{text}` is not a whole number")))
}

/// Reads an XGBoost JSON model file.
pub fn read(bytes: &[u8]) -> Result<TreeEnsemble> {
    let file: ModelFile = serde_json::from_slice(bytes).map_err(bad)?;
    let learner = file.learner;
    let param = learner.learner_model_param;
    let n_features = count("num_feature", &param.num_feature)?;
    let num_class = count("num_class", &param.num_class)?;
    if num_class > MAX_GROUPS {
        return Err(bad(format_args!(
            "num_class {num_class} is more than {MAX_GROUPS}"
        )));
    }
    let objective = learner.objective.name.as_str();
    let (groups, link) = match objective {
        "binary:logistic" => (1, Link::Sigmoid { scale: 1.0 }),
        "multi:softprob" | "multi:softmax" if num_class >= 2 => (num_class, Link::Softmax),
        "reg:squarederror" | "reg:linear" => (1, Link::Identity),
        other => return Err(bad(format_args!("objective `{other}` is not supported"))),
    };
    // base_score: "5E-1" (before 3.1) or "[5E-1]" / "[a,b,c]" (a value per output).
    let scores = param
        .base_score
        .trim()
        .trim_start_matches('[')
        .trim_end_matches(']')
        .split(',')
        .map(|s| number("base_score", s))
        .collect::<Result<Vec<f64>>>()?;
    let mut base_margin = match scores.as_slice() {
        [one] => vec![*one; groups],
        many if many.len() == groups => many.to_vec(),
        many => {
            return Err(bad(format_args!(
                "{} base scores for {groups} outputs",
                many.len()
            )))
        }
    };
    if objective == "binary:logistic" {
        // Stored as a probability; the trees add to its log-odds.
        for b in &mut base_margin {
            if !(*b > 0.0 && *b < 1.0) {
                return Err(bad(format_args!("base_score {b} is not a probability")));
            }
            *b = (*b / (1.0 - *b)).ln();
        }
    }
    let (trees, linear) = match learner.gradient_booster {
        Booster::Gbtree { model } => (trees(model, None)?, None),
        Booster::Dart {
            gbtree,
            weight_drop,
        } => (trees(gbtree.model, Some(&weight_drop))?, None),
        Booster::Gblinear { model } => (
            {
                // XGBoost's linear booster starts every output from the first base score.
                let first = base_margin[0];
                base_margin.iter_mut().for_each(|b| *b = first);
                Vec::new()
            },
            Some(Linear {
                weights: model.weights,
            }),
        ),
    };
    let ensemble = TreeEnsemble {
        n_features,
        groups,
        base_margin,
        comparison: Comparison::LessF32,
        trees,
        linear,
        average: false,
        link,
    };
    ensemble.validate().map_err(bad)?;
    Ok(ensemble)
}

fn trees(model: GbtreeModel, weights: Option<&[f64]>) -> Result<Vec<Tree>> {
    if model.tree_info.len() != model.trees.len() {
        return Err(bad("tree_info and trees differ in length"));
    }
    if weights.is_some_and(|w| w.len() != model.trees.len()) {
        return Err(bad("weight_drop and trees differ in length"));
    }
    model
        .trees
        .into_iter()
        .zip(model.tree_info)
        .enumerate()
        .map(|(t, (tree, group))| {
            let mut tree = convert(t, tree)?;
            tree.group = group;
            tree.weight = weights.map_or(1.0, |w| w[t]);
            Ok(tree)
        })
        .collect()
}

/// XGBoost keeps splits and leaves in one node array (a leaf's value in `split_conditions`);
/// this renumbers the splits in depth-first order, so every child comes after its parent.
fn convert(t: usize, tree: JsonTree) -> Result<Tree> {
    let n = tree.left_children.len();
    let same = [
        tree.right_children.len(),
        tree.split_indices.len(),
        tree.split_conditions.len(),
        tree.default_left.len(),
    ];
    if n == 0 || same.iter().any(|&len| len != n) {
        return Err(bad(format_args!("tree {t}: node arrays differ in length")));
    }
    if tree.split_type.iter().any(|&s| s != 0) {
        return Err(bad(format_args!(
            "tree {t}: categorical splits are not supported"
        )));
    }
    let mut out = Tree {
        group: 0,
        weight: 1.0,
        splits: Vec::new(),
        leaves: Vec::new(),
    };
    // Walk from the root, giving each node its new number as it is reached.
    let mut seen = vec![false; n];
    let mut stack = vec![(0usize, None::<(usize, bool)>)];
    while let Some((node, parent)) = stack.pop() {
        if std::mem::replace(&mut seen[node], true) {
            return Err(bad(format_args!("tree {t}: node {node} is reached twice")));
        }
        let child = if tree.left_children[node] < 0 {
            out.leaves.push(tree.split_conditions[node]);
            !(out.leaves.len() as i32 - 1)
        } else {
            let index = out.splits.len() as i32;
            let default_left = match &tree.default_left[node] {
                serde_json::Value::Bool(b) => *b,
                serde_json::Value::Number(n) => n.as_u64() != Some(0),
                _ => return Err(bad(format_args!("tree {t}: default_left is not 0 or 1"))),
            };
            out.splits.push(Split {
                feature: tree.split_indices[node],
                threshold: f64::from(tree.split_conditions[node] as f32),
                left: 0,
                right: 0,
                default_left,
                missing: Missing::NaN,
            });
            for (side, next) in [
                (false, tree.right_children[node]),
                (true, tree.left_children[node]),
            ] {
                let next = usize::try_from(next)
                    .ok()
                    .filter(|&c| c < n)
                    .ok_or_else(|| bad(format_args!("tree {t}: child {next} out of range")))?;
                stack.push((next, Some((index as usize, side))));
            }
            index
        };
        if let Some((parent, left)) = parent {
            let split = &mut out.splits[parent];
            if left {
                split.left = child;
            } else {
                split.right = child;
            }
        }
    }
    Ok(out)
}

#[cfg(feature = "native-boosting")]
pub use native::XgbParams;

#[cfg(feature = "native-boosting")]
mod native {
    use ndarray::ArrayView2;

    use super::super::boosting_params::{
        at_least, learning_rate, non_negative, positive_fraction, XgbHyperParams,
    };
    use super::super::{
        boosted_trees_floor, Algorithm, Estimator, Fitted, LeastBytes, LibraryModel, TrainTarget,
    };
    use crate::error::{MlError, Result};

    /// Checked XGBoost hyperparameters, as XGBoost's own parameters; only
    /// [`ParamGuard::check`](crate::estimators::ParamGuard::check) of an
    /// [`XgbHyperParams`] makes them.
    #[derive(Debug, Clone, PartialEq)]
    pub struct XgbParams {
        rounds: usize,
        /// `(XGBoost name, value)`, only those given (XGBoost's defaults otherwise).
        params: Vec<(&'static str, String)>,
    }

    impl XgbParams {
        /// Boosting rounds.
        pub fn rounds(&self) -> usize {
            self.rounds
        }

        /// `(XGBoost name, value)`, only those given (XGBoost's defaults otherwise).
        pub fn params(&self) -> &[(&'static str, String)] {
            &self.params
        }

        /// Checks the hyperparameters for the library.
        pub(in crate::estimators) fn check(hp: XgbHyperParams) -> Result<XgbParams> {
            let booster = match hp.booster.as_deref() {
                None => "gbtree",
                Some(b @ ("gbtree" | "gblinear" | "dart")) => b,
                Some(v) => {
                    return Err(MlError::hp(
                        "booster",
                        format!("`{v}` is not `gbtree`, `gblinear` or `dart`"),
                    ))
                }
            };
            let mut params = vec![("booster", booster.to_string())];
            let mut put = |name: &'static str, value: Option<String>| {
                if let Some(v) = value {
                    params.push((name, v));
                }
            };
            // The xgb crate creates every booster with gbtree's parameters set, `eta` 0.3 and
            // `lambda` 1 among them, which gblinear would take too: its own defaults (0.5 and
            // 0) are given when no value is.
            let linear = booster == "gblinear";
            let lr = learning_rate(hp.learning_rate)?.or(linear.then_some(0.5));
            put("eta", lr.map(|v| v.to_string()));
            put(
                "alpha",
                non_negative("reg-alpha", hp.reg_alpha)?.map(|v| v.to_string()),
            );
            put(
                "lambda",
                non_negative("reg-lambda", hp.reg_lambda)?
                    .or(linear.then_some(0.0))
                    .map(|v| v.to_string()),
            );
            // Tree parameters mean nothing to gblinear (XGBoost would warn about each).
            let depth = at_least("max-depth", hp.max_depth, 1)?;
            let child = non_negative("min-child-weight", hp.min_child_weight)?;
            let subsample = positive_fraction("subsample", hp.subsample)?;
            let colsample = positive_fraction("colsample-bytree", hp.colsample_bytree)?;
            let gamma = non_negative("gamma", hp.gamma)?;
            if !linear {
                put("tree_method", Some("hist".into()));
                put("max_depth", depth.map(|v| v.to_string()));
                put("min_child_weight", child.map(|v| v.to_string()));
                put("subsample", subsample.map(|v| v.to_string()));
                put("colsample_bytree", colsample.map(|v| v.to_string()));
                put("gamma", gamma.map(|v| v.to_string()));
            }
            Ok(XgbParams {
                rounds: at_least("n-estimators", hp.n_estimators, 1)?.unwrap_or(100),
                params,
            })
        }
    }

    fn fit_error(e: impl std::fmt::Display) -> MlError {
        MlError::Fit {
            family: Algorithm::XGBoost,
            message: e.to_string(),
        }
    }

    /// The starting margin XGBoost (3.1 and later) estimates when none is given: the mean
    /// target, or for multiclass the log class priors centered on zero. Given explicitly
    /// because the `xgb` crate always sets `base_score` (to 0.5) when it creates a booster.
    fn base_score(y: TrainTarget<'_>) -> String {
        match y {
            TrainTarget::Values(v) => (v.iter().sum::<f64>() / v.len().max(1) as f64).to_string(),
            TrainTarget::Classes { codes, n_classes } => {
                let mut counts = vec![0usize; n_classes];
                codes.iter().for_each(|&c| counts[c] += 1);
                let n = codes.len().max(1) as f64;
                if n_classes == 2 {
                    return (counts[1] as f64 / n).to_string();
                }
                if counts.contains(&0) {
                    return "0.5".into();
                }
                let logs: Vec<f64> = counts.iter().map(|&c| (c as f64 / n).ln()).collect();
                let mean = logs.iter().sum::<f64>() / n_classes as f64;
                let centered: Vec<String> = logs.iter().map(|l| (l - mean).to_string()).collect();
                format!("[{}]", centered.join(","))
            }
        }
    }

    impl Estimator for XgbParams {
        fn family(&self) -> Algorithm {
            Algorithm::XGBoost
        }

        fn least_bytes(&self, _features: usize, outputs: usize) -> Option<LeastBytes> {
            // gblinear holds one set of weights however many rounds.
            let linear = self.params.contains(&("booster", "gblinear".to_string()));
            (!linear).then(|| boosted_trees_floor(self.rounds, outputs))
        }

        fn fit(&self, x: ArrayView2<f64>, y: TrainTarget<'_>, seed: u64) -> Result<Fitted> {
            let rows = x.nrows();
            let data: Vec<f32> = x.iter().map(|&v| v as f32).collect();
            // Past f32's range a value becomes infinite, which XGBoost refuses with a stack trace.
            if let Some(at) = data.iter().position(|v| v.is_infinite()) {
                return Err(MlError::TooLarge {
                    family: Algorithm::XGBoost,
                    column: at % x.ncols().max(1),
                    why: "XGBoost holds values as 32-bit floats, which end near 3.4e38 \
                          (rescale the column)",
                });
            }
            let mut matrix = xgb::DMatrix::from_dense(&data, rows).map_err(fit_error)?;
            let (labels, objective): (Vec<f32>, Vec<(&str, String)>) = match y {
                TrainTarget::Values(v) => (
                    v.iter().map(|&v| v as f32).collect(),
                    vec![("objective", "reg:squarederror".into())],
                ),
                TrainTarget::Classes { codes, n_classes } => (
                    codes.iter().map(|&c| c as f32).collect(),
                    if n_classes == 2 {
                        vec![("objective", "binary:logistic".into())]
                    } else {
                        vec![
                            ("objective", "multi:softprob".into()),
                            ("num_class", n_classes.to_string()),
                        ]
                    },
                ),
            };
            matrix.set_labels(&labels).map_err(fit_error)?;
            let mut booster = xgb::Booster::new_with_cached_dmats(
                &xgb::parameters::BoosterParameters::default(),
                &[&matrix],
            )
            .map_err(fit_error)?;
            let fixed = [
                ("verbosity", "0".to_string()),
                // The trial fits its folds side by side, one core each.
                ("nthread", "1".to_string()),
                ("seed", (seed % (1 << 31)).to_string()),
                ("base_score", base_score(y)),
            ];
            for (name, value) in objective.iter().chain(&fixed).chain(&self.params) {
                booster.set_param(name, value).map_err(fit_error)?;
            }
            for round in 0..self.rounds {
                booster.update(&matrix, round as i32).map_err(fit_error)?;
            }
            let file = booster.save_buffer(false).map_err(fit_error)?;
            Ok(Fitted::XGBoost(LibraryModel::xgboost(file)?))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A two-tree binary model as XGBoost 3.2 writes it (trimmed to the fields read).
    const BINARY: &str = r#"{"learner":{
        "learner_model_param":{"base_score":"[2.5E-1]","num_class":"0","num_feature":"2"},
        "objective":{"name":"binary:logistic"},
        "gradient_booster":{"name":"gbtree","model":{"tree_info":[0,0],"trees":[
          {"left_children":[1,-1,-1],"right_children":[2,-1,-1],"split_indices":[1,0,0],
           "split_conditions":[0.5,-1.0,1.0],"default_left":[1,0,0],"split_type":[0,0,0]},
          {"left_children":[-1],"right_children":[-1],"split_indices":[0],
           "split_conditions":[0.25],"default_left":[0],"split_type":[0]}]}}}}"#;

    #[test]
    fn reads_and_predicts_a_binary_model() {
        let m = read(BINARY.as_bytes()).unwrap();
        let mut out = [0.0; 2];
        // XGBoost (and so this reader) sums in f32.
        let base = (0.25f64 / 0.75).ln();
        m.predict_row(&[0.0, 0.4], &mut out);
        let p = 1.0 / (1.0 + (-(base - 1.0 + 0.25)).exp());
        assert!((out[1] - p).abs() < 1e-6 && (out[0] + out[1] - 1.0).abs() < 1e-12);
        m.predict_row(&[0.0, f64::NAN], &mut out);
        assert!((out[1] - p).abs() < 1e-6, "NaN goes left by default_left");
        m.predict_row(&[0.0, 0.5], &mut out);
        let p = 1.0 / (1.0 + (-(base + 1.0 + 0.25)).exp());
        assert!((out[1] - p).abs() < 1e-6, "0.5 < 0.5 is false: right");
    }

    #[test]
    fn refuses_what_it_cannot_predict() {
        let other = BINARY.replace("binary:logistic", "count:poisson");
        assert!(read(other.as_bytes())
            .unwrap_err()
            .to_string()
            .contains("objective `count:poisson` is not supported"));
        let cat = BINARY.replace("\"split_type\":[0,0,0]", "\"split_type\":[1,0,0]");
        assert!(read(cat.as_bytes())
            .unwrap_err()
            .to_string()
            .contains("categorical"));
        let cycle = BINARY.replace("\"left_children\":[1,-1,-1]", "\"left_children\":[0,-1,-1]");
        assert!(read(cycle.as_bytes()).is_err());
        let huge = BINARY
            .replace("binary:logistic", "multi:softprob")
            .replace("\"num_class\":\"0\"", "\"num_class\":\"100000000000\"");
        assert!(read(huge.as_bytes())
            .unwrap_err()
            .to_string()
            .contains("num_class 100000000000 is more than 65536"));
        let far = BINARY.replace("\"split_indices\":[1,0,0]", "\"split_indices\":[7,0,0]");
        assert!(read(far.as_bytes())
            .unwrap_err()
            .to_string()
            .contains("feature 7"));
    }

    #[test]
    fn trees_reading_more_columns_than_the_schema_are_refused_at_load() {
        let fitted = super::super::Fitted::from_payload(PAYLOAD_FILE, BINARY.as_bytes()).unwrap();
        assert_eq!(fitted.n_outputs(), Some(2));
        assert!(fitted.check_width(2).is_ok());
        let err = fitted.check_width(1).unwrap_err().to_string();
        assert!(
            err.contains("the trees read 2 columns but rows have 1"),
            "{err}"
        );
        let cycle = BINARY.replace(
            "\"right_children\":[2,-1,-1]",
            "\"right_children\":[0,-1,-1]",
        );
        let err = super::super::Fitted::from_payload(PAYLOAD_FILE, cycle.as_bytes())
            .unwrap_err()
            .to_string();
        assert!(err.contains("tree 0: node 0 is reached twice"), "{err}");
    }
}
