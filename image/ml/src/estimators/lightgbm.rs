//! LightGBM's own model file (the text format of `Booster.save_model`), read into a
//! [`TreeEnsemble`]; with the `native-boosting` feature, fitting by the real LightGBM library.
//!
//! The artifact's payload is that file byte for byte, so `lightgbm.Booster(model_file=…)` in
//! Python loads it and predicts what this crate predicts. Read: numerical splits with every
//! missing-value mode, objectives `binary`, `multiclass`, `multiclassova` and the regression
//! ones with an identity link, random-forest averaging. Categorical splits and linear trees
//! are refused with the reason (this project encodes categories itself, so it never fits them).

use std::collections::HashMap;

use super::tree_ensemble::{Comparison, Link, Missing, Split, Tree, TreeEnsemble, MAX_GROUPS};
use crate::error::{MlError, Result};

/// The payload's file name in the artifact.
pub const PAYLOAD_FILE: &str = "lightgbm-model.txt";

fn bad(message: impl std::fmt::Display) -> MlError {
    MlError::Artifact(format!("{PAYLOAD_FILE}: {message}"))
}

/// `key=value` lines of one section; a bare word (`average_output`) maps to "".
fn section(lines: &[&str]) -> HashMap<String, String> {
    lines
        .iter()
        .map(|l| match l.split_once('=') {
            Some((k, v)) => (k.trim().to_string(), v.trim().to_string()),
            None => (l.trim().to_string(), String::new()),
        })
        .collect()
}

fn list<T: std::str::FromStr>(
    fields: &HashMap<String, String>,
    tree: usize,
    key: &str,
    len: usize,
) -> Result<Vec<T>> {
    let Some(text) = fields.get(key) else {
        return if len == 0 {
            Ok(Vec::new())
        } else {
            Err(bad(format_args!("tree {tree}: no `{key}`")))
        };
    };
    let values = text
        .split_whitespace()
        .map(|v| {
            v.parse::<T>().map_err(|_| {
                bad(format_args!(
                    "tree {tree}: `{key}` value `{v}` is not a number"
                ))
            })
        })
        .collect::<Result<Vec<T>>>()?;
    if values.len() != len {
        return Err(bad(format_args!(
            "tree {tree}: `{key}` has {} values, expected {len}",
            values.len()
        )));
    }
    Ok(values)
}

fn header_number(fields: &HashMap<String, String>, key: &str) -> Result<usize> {
    fields
        .get(key)
        .ok_or_else(|| bad(format_args!("no `{key}` in the header")))?
        .parse()
        .map_err(|_| bad(format_args!("`{key}` is not a whole number")))
}

/// Reads a LightGBM text model file.
pub fn read(text: &str) -> Result<TreeEnsemble> {
    let lines: Vec<&str> = text.lines().collect();
    let tree_starts: Vec<usize> = lines
        .iter()
        .enumerate()
        .filter(|(_, l)| l.starts_with("Tree="))
        .map(|(i, _)| i)
        .collect();
    let header_end = tree_starts.first().copied().unwrap_or(lines.len());
    let header = section(&lines[..header_end]);
    if !header.contains_key("version") {
        return Err(bad("not a LightGBM text model (no `version` line)"));
    }
    let num_class = header_number(&header, "num_class")?;
    let per_iteration = header_number(&header, "num_tree_per_iteration")?;
    let n_features = header_number(&header, "max_feature_idx")?
        .checked_add(1)
        .ok_or_else(|| bad("`max_feature_idx` is out of range"))?;
    if num_class > MAX_GROUPS {
        return Err(bad(format_args!(
            "num_class {num_class} is more than {MAX_GROUPS}"
        )));
    }
    let objective = header.get("objective").map(String::as_str).unwrap_or("");
    let mut words = objective.split_whitespace();
    let name = words.next().unwrap_or("");
    let sigmoid = words
        .find_map(|w| w.strip_prefix("sigmoid:"))
        .map(|s| {
            s.parse::<f64>()
                .map_err(|_| bad(format_args!("objective `{objective}`: bad sigmoid")))
        })
        .transpose()?
        .unwrap_or(1.0);
    let link = match name {
        "binary" => Link::Sigmoid { scale: sigmoid },
        "multiclass" | "softmax" => Link::Softmax,
        "multiclassova" | "ova" | "ovr" | "multiclass_ova" => Link::SigmoidEach { scale: sigmoid },
        "regression" | "regression_l2" | "l2" | "mean_squared_error" | "mse" | "regression_l1"
        | "l1" | "huber" | "fair" | "quantile" | "mape" => Link::Identity,
        other => return Err(bad(format_args!("objective `{other}` is not supported"))),
    };
    let groups = match link {
        Link::Softmax | Link::SigmoidEach { .. } => num_class,
        _ => 1,
    };
    if per_iteration != groups {
        return Err(bad(format_args!(
            "{per_iteration} trees per iteration for {groups} outputs"
        )));
    }

    let mut trees = Vec::with_capacity(tree_starts.len());
    for (t, &start) in tree_starts.iter().enumerate() {
        let end = lines[start..]
            .iter()
            .position(|l| l.trim().is_empty())
            .map_or(lines.len(), |p| start + p);
        let fields = section(&lines[start + 1..end]);
        trees.push(read_tree(t, &fields, t % groups)?);
    }
    let ensemble = TreeEnsemble {
        n_features,
        groups,
        base_margin: vec![0.0; groups],
        comparison: Comparison::LessOrEqual,
        trees,
        linear: None,
        average: header.contains_key("average_output"),
        link,
    };
    ensemble.validate().map_err(bad)?;
    Ok(ensemble)
}

fn read_tree(t: usize, fields: &HashMap<String, String>, group: usize) -> Result<Tree> {
    let num_leaves: usize = fields
        .get("num_leaves")
        .and_then(|v| v.parse().ok())
        .filter(|&n| n >= 1)
        .ok_or_else(|| bad(format_args!("tree {t}: no valid `num_leaves`")))?;
    if fields.get("is_linear").is_some_and(|v| v != "0") {
        return Err(bad(format_args!(
            "tree {t}: linear trees are not supported"
        )));
    }
    // Leaf values are stored with the shrinkage (and the starting score) applied.
    let leaves: Vec<f64> = list(fields, t, "leaf_value", num_leaves)?;
    let n = num_leaves - 1;
    let features: Vec<u32> = list(fields, t, "split_feature", n)?;
    let thresholds: Vec<f64> = list(fields, t, "threshold", n)?;
    let decisions: Vec<u8> = list(fields, t, "decision_type", n)?;
    let lefts: Vec<i32> = list(fields, t, "left_child", n)?;
    let rights: Vec<i32> = list(fields, t, "right_child", n)?;
    let mut splits = Vec::with_capacity(n);
    for i in 0..n {
        let decision = decisions[i];
        if decision & 1 != 0 {
            return Err(bad(format_args!(
                "tree {t}: categorical splits are not supported"
            )));
        }
        let missing = match (decision >> 2) & 3 {
            0 => Missing::NoneZeroFill,
            1 => Missing::Zero,
            2 => Missing::NaN,
            other => return Err(bad(format_args!("tree {t}: missing type {other}"))),
        };
        splits.push(Split {
            feature: features[i],
            threshold: thresholds[i],
            left: lefts[i],
            right: rights[i],
            default_left: decision & 2 != 0,
            missing,
        });
    }
    Ok(Tree {
        group,
        weight: 1.0,
        splits,
        leaves,
    })
}

#[cfg(feature = "native-boosting")]
pub use native::LgbmParams;

#[cfg(feature = "native-boosting")]
mod native {
    use ndarray::ArrayView2;
    use serde_json::{json, Map, Value};

    use super::super::boosting_params::{
        at_least, learning_rate, non_negative, positive_fraction, LgbmHyperParams,
    };
    use super::super::{
        boosted_trees_floor, Algorithm, Estimator, Fitted, LeastBytes, LibraryModel, TrainTarget,
    };
    use crate::error::{MlError, Result};

    /// Checked LightGBM hyperparameters, as LightGBM's own parameters (the mapping
    /// scikit-learn's `LGBMModel` makes); only
    /// [`ParamGuard::check`](crate::estimators::ParamGuard::check) of an
    /// [`LgbmHyperParams`] makes them.
    #[derive(Debug, Clone, PartialEq)]
    pub struct LgbmParams {
        /// Only those given (LightGBM's defaults otherwise).
        params: Map<String, Value>,
    }

    impl LgbmParams {
        /// LightGBM's parameters, only those given (LightGBM's defaults otherwise).
        pub fn params(&self) -> &Map<String, Value> {
            &self.params
        }

        /// Checks the hyperparameters for the library.
        pub(in crate::estimators) fn check(hp: LgbmHyperParams) -> Result<LgbmParams> {
            let mut params = Map::new();
            match hp.boosting_type.as_deref() {
                None => {}
                Some(b @ ("gbdt" | "dart" | "goss" | "rf")) => {
                    params.insert("boosting".into(), json!(b));
                }
                Some(v) => {
                    return Err(MlError::hp(
                        "boosting-type",
                        format!("`{v}` is not `gbdt`, `dart`, `goss` or `rf`"),
                    ))
                }
            }
            let mut put = |name: &str, value: Option<Value>| {
                if let Some(v) = value {
                    params.insert(name.into(), v);
                }
            };
            put(
                "num_iterations",
                at_least("n-estimators", hp.n_estimators, 1)?.map(|v| json!(v)),
            );
            let lr = learning_rate(hp.learning_rate)?;
            put("learning_rate", lr.map(|v| json!(v)));
            put(
                "num_leaves",
                at_least("num-leaves", hp.num_leaves, 2)?.map(|v| json!(v)),
            );
            // LightGBM reads max_depth ≤ 0 as "no limit".
            put("max_depth", hp.max_depth.map(|v| json!(v)));
            put(
                "min_sum_hessian_in_leaf",
                non_negative("min-child-weight", hp.min_child_weight)?.map(|v| json!(v)),
            );
            put(
                "min_data_in_leaf",
                at_least("min-child-samples", hp.min_child_samples, 1)?.map(|v| json!(v)),
            );
            // As in scikit-learn's wrapper: `subsample` is the bagging fraction, which only
            // acts with a bagging frequency (`subsample_freq`, 0 unless set).
            put(
                "bagging_fraction",
                positive_fraction("subsample", hp.subsample)?.map(|v| json!(v)),
            );
            put(
                "feature_fraction",
                positive_fraction("colsample-bytree", hp.colsample_bytree)?.map(|v| json!(v)),
            );
            put(
                "min_gain_to_split",
                non_negative("min-split-gain", hp.min_split_gain)?.map(|v| json!(v)),
            );
            put(
                "lambda_l1",
                non_negative("reg-alpha", hp.reg_alpha)?.map(|v| json!(v)),
            );
            put(
                "lambda_l2",
                non_negative("reg-lambda", hp.reg_lambda)?.map(|v| json!(v)),
            );
            Ok(LgbmParams { params })
        }
    }

    fn fit_error(e: impl std::fmt::Display) -> MlError {
        MlError::Fit {
            family: Algorithm::LightGBM,
            message: e.to_string(),
        }
    }

    impl Estimator for LgbmParams {
        fn family(&self) -> Algorithm {
            Algorithm::LightGBM
        }

        fn least_bytes(&self, _features: usize, outputs: usize) -> Option<LeastBytes> {
            // LightGBM's default is 100 rounds; a value here was checked to be a whole number.
            let rounds = self
                .params
                .get("num_iterations")
                .and_then(Value::as_u64)
                .map_or(100, |r| usize::try_from(r).unwrap_or(usize::MAX));
            Some(boosted_trees_floor(rounds, outputs))
        }

        fn fit(&self, x: ArrayView2<f64>, y: TrainTarget<'_>, seed: u64) -> Result<Fitted> {
            let data: Vec<f64> = x.iter().copied().collect();
            let (labels, objective): (Vec<f32>, Value) = match y {
                TrainTarget::Values(v) => (
                    v.iter().map(|&v| v as f32).collect(),
                    json!({"objective": "regression"}),
                ),
                TrainTarget::Classes { codes, n_classes } => (
                    codes.iter().map(|&c| c as f32).collect(),
                    if n_classes == 2 {
                        json!({"objective": "binary"})
                    } else {
                        json!({"objective": "multiclass", "num_class": n_classes})
                    },
                ),
            };
            let dataset = lightgbm3::Dataset::from_slice(&data, &labels, x.ncols() as i32, true)
                .map_err(fit_error)?;
            let mut params = match objective {
                Value::Object(map) => map,
                _ => Map::new(),
            };
            params.insert("verbosity".into(), json!(-1));
            // The trial fits its folds side by side, one core each.
            params.insert("num_threads".into(), json!(1));
            params.insert("seed".into(), json!(seed % (1 << 31)));
            params.extend(self.params.clone());
            let booster =
                lightgbm3::Booster::train(dataset, &Value::Object(params)).map_err(fit_error)?;
            let text = booster.save_string().map_err(fit_error)?;
            Ok(Fitted::LightGBM(LibraryModel::lightgbm(text.into_bytes())?))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A binary model as LightGBM 4.7 writes it (one split tree, one single-leaf tree).
    const BINARY: &str = "tree\nversion=v4\nnum_class=1\nnum_tree_per_iteration=1\nlabel_index=0\n\
max_feature_idx=1\nobjective=binary sigmoid:2\nfeature_names=a b\n\n\
Tree=0\nnum_leaves=3\nnum_cat=0\nsplit_feature=0 1\nthreshold=0.5 1.5\ndecision_type=2 8\n\
left_child=-1 -2\nright_child=1 -3\nleaf_value=-1 0.5 2\nis_linear=0\nshrinkage=1\n\n\n\
Tree=1\nnum_leaves=1\nnum_cat=0\nleaf_value=0.25\nis_linear=0\nshrinkage=1\n\n\nend of trees\n";

    fn p1(m: &TreeEnsemble, x: [f64; 2]) -> f64 {
        let mut out = [0.0; 2];
        m.predict_row(&x, &mut out);
        out[1]
    }

    fn sigmoid2(z: f64) -> f64 {
        1.0 / (1.0 + (-2.0 * z).exp())
    }

    #[test]
    fn reads_and_predicts_a_binary_model() {
        let m = read(BINARY).unwrap();
        assert!(
            (p1(&m, [0.5, 9.0]) - sigmoid2(-1.0 + 0.25)).abs() < 1e-12,
            "0.5 <= 0.5: left"
        );
        assert!((p1(&m, [0.6, 1.0]) - sigmoid2(0.5 + 0.25)).abs() < 1e-12);
        assert!((p1(&m, [0.6, 2.0]) - sigmoid2(2.0 + 0.25)).abs() < 1e-12);
        // decision_type 8: missing type NaN, default right.
        assert!((p1(&m, [0.6, f64::NAN]) - sigmoid2(2.0 + 0.25)).abs() < 1e-12);
        // decision_type 2: missing type None, NaN read as 0, so left.
        assert!((p1(&m, [f64::NAN, 2.0]) - sigmoid2(-1.0 + 0.25)).abs() < 1e-12);
    }

    #[test]
    fn refuses_what_it_cannot_predict() {
        let e = |text: String| read(&text).unwrap_err().to_string();
        assert!(e(BINARY.replace("binary sigmoid:2", "poisson")).contains("objective `poisson`"));
        assert!(e(BINARY.replace("decision_type=2 8", "decision_type=3 8")).contains("categorical"));
        assert!(
            e(BINARY.replace("leaf_value=-1 0.5 2", "leaf_value=-1 0.5"))
                .contains("`leaf_value` has 2 values, expected 3")
        );
        assert!(e(BINARY.replace("right_child=1 -3", "right_child=0 -3")).contains("out of range"));
        assert!(e("hello".into()).contains("not a LightGBM text model"));
        let huge = BINARY
            .replace("num_class=1", "num_class=100000000000")
            .replace("binary sigmoid:2", "multiclass");
        assert!(e(huge).contains("num_class 100000000000 is more than 65536"));
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
    }
}
