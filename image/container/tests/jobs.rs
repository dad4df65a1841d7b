//! Every contract path, driven through the built binary in temporary ML roots.
#![allow(clippy::unwrap_used)] // test helpers too: a failure is the test failing

mod common;

use common::{preprocess, Root, DATASETS};
use mmp_pipeline::contract::{METRIC_REGEX, ORIGINAL_METRIC_REGEX};
use mmp_pipeline::memory::{SplitShape, SPLIT_SHAPE_FILE};
use regex::Regex;

use mmp_ml::estimators::Algorithm;

fn trial_hyperparameters<'a>(
    algorithm: &'a str,
    target: &'a str,
    scorer: &'a str,
) -> Vec<(&'a str, &'a str)> {
    let mut hp = vec![
        ("algorithm", algorithm),
        ("target", target),
        ("train-file", "dataset.csv"),
        ("cross-validation", "True"),
        ("cv-scorer", scorer),
        ("cv-folds", "5"),
        ("random-state", "42"),
    ];
    match algorithm {
        "RandomForest" | "XGBoost" | "LightGBM" => hp.push(("n-estimators", "50")),
        // Fewer epochs keep the debug-build test quick; the score stays far above 0.9.
        "NeuralNet" => hp.push(("max-iter", "50")),
        _ => {}
    }
    hp
}

#[test]
fn preprocess_is_deterministic_and_stratified() {
    let (a, b, c) = (Root::new(), Root::new(), Root::new());
    preprocess(&a, "breast-cancer", "CLASS");
    preprocess(&b, "breast-cancer", "CLASS");
    assert_eq!(
        a.read("processing/train/dataset.csv"),
        b.read("processing/train/dataset.csv")
    );
    assert_eq!(
        a.read("processing/test/dataset.csv"),
        b.read("processing/test/dataset.csv")
    );
    let test = a.read("processing/test/dataset.csv");
    assert_eq!(
        test.lines().count(),
        1 + 114,
        "header + ceil(0.2 × 569) rows"
    );
    // 357 of 569 rows are class 1: a stratified test split of 114 keeps 72 of them.
    let ones = test.lines().skip(1).filter(|l| l.ends_with(",1")).count();
    assert_eq!(ones, 72);
    c.write(
        "processing/input/data/dataset.csv",
        std::fs::read(common::dataset("breast-cancer")).unwrap(),
    );
    c.ok(&[
        "preprocess",
        "--target",
        "CLASS",
        "--test-size",
        "0.2",
        "--stratify",
        "False",
        "--random-state",
        "7",
        "--file-name",
        "dataset.csv",
    ]);
    assert_ne!(
        a.read("processing/test/dataset.csv"),
        c.read("processing/test/dataset.csv")
    );
}

#[test]
fn preprocess_writes_the_train_splits_rows_and_classes_beside_it() {
    for (dataset, target, classes) in [
        ("breast-cancer", "CLASS", 2),
        ("wine", "CLASS", 3),
        ("diabetes", "progression", 0),
    ] {
        let root = Root::new();
        preprocess(&root, dataset, target);
        let rows = root.read("processing/train/dataset.csv").lines().count() as u64 - 1;
        let written = root.read(&format!("processing/train/{SPLIT_SHAPE_FILE}"));
        let shape: SplitShape = serde_json::from_str(&written).unwrap();
        assert_eq!(shape, SplitShape { rows, classes }, "{dataset}");
        if dataset == "breast-cancer" {
            // In the train channel beside the split, a job not told the file's name still
            // finds its one data file.
            root.write(&format!("input/data/train/{SPLIT_SHAPE_FILE}"), written);
            let mut hp = trial_hyperparameters("NaiveBayes", target, "roc_auc");
            hp.retain(|(name, _)| *name != "train-file");
            root.hyperparameters(&hp, false);
            assert!(root.ok(&["train"]).contains("mmp-val-score"));
        }
    }
}

#[test]
fn trials_print_metric_lines_and_record_themselves() {
    let ours = Regex::new(METRIC_REGEX).unwrap();
    let original = Regex::new(ORIGINAL_METRIC_REGEX).unwrap();
    for (dataset, target, _) in DATASETS {
        let root = Root::new();
        preprocess(&root, dataset, target);
        let scorer = if dataset == "diabetes" {
            "neg_mean_squared_error"
        } else {
            "roc_auc"
        };
        for (i, family) in Algorithm::ALL
            .map(Algorithm::as_str)
            .into_iter()
            .enumerate()
        {
            if dataset == "diabetes" && family == "NaiveBayes" {
                continue;
            }
            // Alternate the SDK's quoted form and the plain form.
            root.hyperparameters(&trial_hyperparameters(family, target, scorer), i % 2 == 0);
            let stdout = root.ok(&["train"]);
            // One line per fold, each the running mean; the last (the objective the tuner
            // reads) is the mean of all five.
            let values: Vec<f64> = stdout
                .lines()
                .filter_map(|l| ours.captures(l))
                .map(|c| c[1].parse().unwrap())
                .collect();
            assert_eq!(values.len(), 5, "{stdout}");
            let score = *values.last().unwrap();
            let trial = root.json("model/trial.json");
            let folds: Vec<f64> = trial["cv_fold_scores"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_f64().unwrap())
                .collect();
            let (lo, hi) = folds
                .iter()
                .fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), &f| {
                    (l.min(f), h.max(f))
                });
            assert!(
                values.iter().all(|v| (lo - 1e-9..=hi + 1e-9).contains(v)),
                "{values:?}"
            );
            assert_eq!(
                stdout.lines().filter(|l| original.is_match(l)).count(),
                usize::from(score >= 0.0),
                "the original's line once, at the end"
            );
            assert_eq!(trial["algorithm"], family);
            assert_eq!(trial["hyperparameters"]["target"], target, "unquoted");
            assert_eq!(trial["cv_fold_scores"].as_array().unwrap().len(), 5);
            assert!((trial["cv_score"].as_f64().unwrap() - score).abs() < 1e-9);
            if dataset == "diabetes" {
                assert!(score < 0.0, "negated MSE");
                assert!(!stdout.lines().any(|l| original.is_match(l)), "{stdout}");
            } else {
                assert!(score > 0.9, "{dataset} {family}: {score}");
                let theirs: f64 = stdout
                    .lines()
                    .find_map(|l| original.captures(l))
                    .map(|c| c[1].parse().unwrap())
                    .unwrap();
                assert!((theirs - score).abs() < 1e-9);
            }
        }
    }
}

#[test]
fn n_epochs_sets_the_folds_and_each_fold_prints_its_running_mean() {
    let ours = Regex::new(METRIC_REGEX).unwrap();
    let root = Root::new();
    preprocess(&root, "breast-cancer", "CLASS");
    let mut hp = trial_hyperparameters("NaiveBayes", "CLASS", "roc_auc");
    hp.retain(|(k, _)| *k != "cv-folds");
    hp.push(("n-epochs", "3"));
    root.hyperparameters(&hp, true);
    let stdout = root.ok(&["train"]);
    let values: Vec<f64> = stdout
        .lines()
        .filter_map(|l| ours.captures(l))
        .map(|c| c[1].parse().unwrap())
        .collect();
    assert_eq!(values.len(), 3, "{stdout}");
    let trial = root.json("model/trial.json");
    assert_eq!(trial["cv_folds"], 3);
    assert_eq!(trial["cv_fold_scores"].as_array().unwrap().len(), 3);
    let mean = trial["cv_score"].as_f64().unwrap();
    assert_eq!(
        stdout.lines().rfind(|l| ours.is_match(l)).unwrap(),
        mmp_pipeline::contract::metric_line(mean),
        "the last line is the final mean, printed exactly as before"
    );
    // The same value under both names is fine; different values are refused.
    hp.push(("cv-folds", "3"));
    root.hyperparameters(&hp, false);
    root.ok(&["train"]);
    let last = hp.len() - 1;
    hp[last] = ("cv-folds", "4");
    root.hyperparameters(&hp, false);
    let reason = root.fails(&["train"]);
    assert!(
        reason.contains("n-epochs=3") && reason.contains("cv-folds=4"),
        "{reason}"
    );
}

#[test]
fn refit_from_the_best_trial_then_evaluate_every_task() {
    for (dataset, target, register) in DATASETS {
        let root = Root::new();
        preprocess(&root, dataset, target);
        let scorer = if dataset == "diabetes" {
            "r2"
        } else {
            "roc_auc"
        };
        // A different winning family per task, so the refit and evaluate paths see several.
        let (family, tuned, value) = match dataset {
            "breast-cancer" => ("RandomForest", "n-estimators", "50"),
            "wine" => ("NeuralNet", "max-iter", "50"),
            _ => ("LightGBM", "n-estimators", "50"),
        };
        root.hyperparameters(&trial_hyperparameters(family, target, scorer), true);
        root.ok(&["train"]);
        // SageMaker archives the trial's model/ folder; the refit gets it in the `best` channel.
        root.archive_model_to("input/data/best/model.tar.gz");
        std::fs::remove_dir_all(root.path("model")).unwrap();
        root.hyperparameters(
            &[
                ("target", target),
                ("cross-validation", "False"),
                ("random-state", "42"),
            ],
            false,
        );
        root.ok(&["train"]);
        let manifest = root.json("model/manifest.json");
        assert_eq!(
            manifest["family"], family,
            "algorithm taken from the best trial"
        );
        assert_eq!(manifest["hyperparameters"][tuned], value);
        assert_eq!(manifest["format_version"], 1);
        root.archive_model_to("processing/model/model.tar.gz");
        root.ok(&[
            "evaluate",
            "--target",
            target,
            "--file-name",
            "dataset.csv",
            "--register-metric",
            register,
        ]);
        let report = root.json("processing/evaluation/evaluation.json");
        let (section, key) = match dataset {
            "breast-cancer" => ("binary_classification_metrics", "auc"),
            "wine" => ("multiclass_classification_metrics", "weighted_f1"),
            _ => ("regression_metrics", "r2"),
        };
        let metrics = &report[section];
        assert_eq!(report["register_metric"], metrics[key], "{dataset}");
        assert_eq!(
            report["algorithm"], manifest["family"],
            "the report names the family"
        );
        assert_eq!(metrics[key]["standard_deviation"], "NaN");
        let value = metrics[key]["value"].as_f64().unwrap();
        match dataset {
            "breast-cancer" => {
                assert!(value > 0.95);
                for k in ["accuracy", "precision", "recall", "f1", "auc"] {
                    assert!(metrics[k]["value"].is_number(), "{k}");
                }
                let cm = &metrics["confusion_matrix"];
                let total: u64 = ["0", "1"]
                    .iter()
                    .flat_map(|a| ["0", "1"].map(|p| cm[a][p].as_u64().unwrap()))
                    .sum();
                assert_eq!(total, 114);
                let roc = &metrics["receiver_operating_characteristic_curve"];
                assert_eq!(roc["false_positive_rates"][0], 0.0);
                let pr = &metrics["precision_recall_curve"];
                assert_eq!(pr["precisions"].as_array().unwrap().last().unwrap(), 1.0);
            }
            "wine" => {
                assert!(value > 0.9);
                assert!(
                    metrics["confusion_matrix"]["class_0"]["class_0"]
                        .as_u64()
                        .unwrap()
                        > 0
                );
                for k in [
                    "accuracy",
                    "weighted_recall",
                    "weighted_precision",
                    "weighted_f0_5",
                    "weighted_f2",
                    "accuracy_best_constant_classifier",
                    "weighted_f1_best_constant_classifier",
                    "auc",
                ] {
                    assert!(metrics[k]["value"].is_number(), "{k}");
                }
            }
            _ => {
                assert!(value > 0.2 && value < 0.8, "diabetes r2 {value}");
                let mse = metrics["mse"]["value"].as_f64().unwrap();
                assert!((metrics["rmse"]["value"].as_f64().unwrap() - mse.sqrt()).abs() < 1e-9);
            }
        }
    }
}

#[test]
fn values_too_large_to_square_fail_by_column_where_a_family_squares_them() {
    let root = Root::new();
    let mut csv = String::from("a,big,CLASS\n");
    for i in 0..40 {
        let class = i % 2;
        csv += &format!(
            "{}.5,{}e300,{class}\n",
            i % 7 + class,
            i % 5 + 3 * class + 1
        );
    }
    root.write("input/data/train/dataset.csv", csv);
    for alg in ["NaiveBayes", "LogisticRegression", "NeuralNet"] {
        root.hyperparameters(&trial_hyperparameters(alg, "CLASS", "roc_auc"), true);
        let reason = root.fails(&["train"]);
        assert!(
            reason.starts_with(&format!(
                "fitting {alg}: column `big`: its values are too large: their variance overflows"
            )),
            "{reason}"
        );
    }
    // A tree family only compares values: it fits them.
    root.hyperparameters(
        &trial_hyperparameters("RandomForest", "CLASS", "roc_auc"),
        true,
    );
    root.ok(&["train"]);
    // XGBoost itself holds values as f32, past whose range they become infinite; mmp-gbdt bins
    // them in f64 as they are.
    root.hyperparameters(&trial_hyperparameters("XGBoost", "CLASS", "roc_auc"), true);
    if cfg!(feature = "native-boosting") {
        let reason = root.fails(&["train"]);
        assert!(
            reason.starts_with(
                "fitting XGBoost: column `big`: its values are too large: XGBoost holds values \
                 as 32-bit floats"
            ),
            "{reason}"
        );
    } else {
        root.ok(&["train"]);
    }

    // Ordinary values, but a smoothing that overflows with the largest variance.
    preprocess(&root, "breast-cancer", "CLASS");
    let mut hp = trial_hyperparameters("NaiveBayes", "CLASS", "roc_auc");
    hp.push(("var_smoothing", "1e308"));
    root.hyperparameters(&hp, true);
    let reason = root.fails(&["train"]);
    assert!(
        reason.starts_with("hyperparameter `var_smoothing`: 1e308 is too large"),
        "{reason}"
    );
}

#[test]
fn a_column_of_identifiers_wider_than_the_memory_is_refused_by_name() {
    // 150,000 distinct ids one-hot encoded: 150,000 rows of 150,001 model columns, 180 GB.
    // The job read them and died allocating; now it names the column before allocating.
    let root = Root::new();
    let mut csv = String::from("id,x,CLASS\n");
    for i in 0..150_000 {
        csv += &format!("u{i},{},{}\n", i % 7, i % 2);
    }
    root.write("input/data/train/dataset.csv", csv);
    root.hyperparameters(
        &trial_hyperparameters("RandomForest", "CLASS", "roc_auc"),
        true,
    );
    let reason = root.fails(&["train"]);
    let (sizes, rest) = reason
        .split_once(" MiB, more than half of the ")
        .unwrap_or_else(|| panic!("{reason}"));
    assert!(
        sizes.ends_with(
            "dataset.csv: one-hot encoding makes 150001 model columns (column `id` alone has \
             150000 distinct values), and 150000 rows of them take 171663"
        ) && rest.ends_with(
            " MiB this job has (fitting needs the other half): drop identifier-like columns, or \
             give the job more memory"
        ),
        "{reason}"
    );
}

#[test]
fn failures_write_a_clear_reason_and_exit_non_zero() {
    let root = Root::new();
    preprocess(&root, "breast-cancer", "CLASS");
    let trial = |alg: &'static str| trial_hyperparameters(alg, "CLASS", "roc_auc");
    let mut hp = trial("XGBoost");
    hp.push(("booster", "gbforest"));
    root.hyperparameters(&hp, true);
    assert_eq!(
        root.fails(&["train"]),
        "hyperparameter `booster`: `gbforest` is not `gbtree`, `gblinear` or `dart`"
    );
    let mut hp = trial("NeuralNet");
    hp.push(("hidden-layer-sizes", "50,,x"));
    root.hyperparameters(&hp, true);
    assert_eq!(
        root.fails(&["train"]),
        "hyperparameter `hidden-layer-sizes`: `50,,x` is not a comma-separated list of layer sizes ≥ 1"
    );
    // Sizes no memory holds: refused by name before anything is allocated, where the fit
    // would abort on a failed allocation (or panic on a capacity overflow) with no reason.
    for (alg, name, value) in [
        ("RandomForest", "n-estimators", "1000000000000000000"),
        ("XGBoost", "n-estimators", "1000000000000000000"),
        ("LightGBM", "n-estimators", "1000000000000000000"),
        ("NeuralNet", "hidden-layer-sizes", "1000000000,1000000000"),
    ] {
        let mut hp = trial(alg);
        hp.push((name, value));
        root.hyperparameters(&hp, true);
        let reason = root.fails(&["train"]);
        assert!(
            reason.starts_with(&format!(
                "hyperparameter `{name}`: `{value}` asks for more than this job's memory: "
            )) && reason.ends_with(" MiB are available"),
            "{alg}: {reason}"
        );
    }
    let mut hp = trial("LogisticRegression");
    hp.push(("C", "lots"));
    root.hyperparameters(&hp, true);
    assert_eq!(
        root.fails(&["train"]),
        "hyperparameter `C`: `lots` is not a valid number"
    );
    let mut hp = trial("LogisticRegression");
    hp[1] = ("target", "Label");
    root.hyperparameters(&hp, false);
    assert!(root
        .fails(&["train"])
        .contains("no column named `Label` (columns: mean radius,"));
    let mut hp = trial("LogisticRegression");
    hp[4] = ("cv-scorer", "r2");
    root.hyperparameters(&hp, false);
    assert!(root
        .fails(&["train"])
        .starts_with("scorer or metric `r2` does not apply to a binary task"));
    let mut hp = trial("NaiveBayes");
    hp.push(("task", "regression"));
    hp[4] = ("cv-scorer", "r2");
    root.hyperparameters(&hp, false);
    assert!(root
        .fails(&["train"])
        .contains("has no regression counterpart"));

    // Bad data files, each with its message naming file, row and column.
    let cases: [(&[u8], &str); 7] = [
        (b"", "the file is empty (a header row is required)"),
        (
            b"a,b,CLASS\n1,2,0\n3,4\n",
            "row 3: has 2 fields, the header has 3",
        ),
        (
            b"a,b,CLASS\n1,2,0\n3,4,0\n",
            "target column `CLASS` has only one class (0); classification needs two or more",
        ),
        (
            b"a,b,CLASS\n1,2,0\n3,\xff,1\n",
            "row 3, column `b`: not valid UTF-8",
        ),
        (
            b"a,b,CLASS\n1,2,0\n3,x,1\n5,6,\n",
            "row 4, column `CLASS`: the target is missing",
        ),
        // Windows line ends and a blank line: still the row an editor shows.
        (
            b"a,b,CLASS\r\n1,2,0\r\n\r\n3,x,1\r\n5,6,\r\n",
            "row 5, column `CLASS`: the target is missing",
        ),
        (b"a,b\n1,2\n", "no column named `CLASS` (columns: a, b)"),
    ];
    root.hyperparameters(&trial("LogisticRegression"), false);
    for (bytes, expected) in cases {
        root.write("input/data/train/dataset.csv", bytes);
        let reason = root.fails(&["train"]);
        assert!(
            reason.contains("dataset.csv") && reason.contains(expected),
            "{reason:?} lacks {expected:?}"
        );
    }
    root.write(
        "input/data/train/dataset.csv",
        b"a,b,y\n1,2,3.5\n3,4,high\n",
    );
    let mut hp = trial("LogisticRegression");
    hp[1] = ("target", "y");
    hp[4] = ("cv-scorer", "r2");
    hp.push(("task", "regression"));
    root.hyperparameters(&hp, false);
    assert!(root
        .fails(&["train"])
        .ends_with("dataset.csv: row 3, column `y`: regression target `high` is not a number"));

    // Preprocess: no such target, and a bad --stratify.
    let args = [
        "preprocess",
        "--target",
        "Label",
        "--file-name",
        "dataset.csv",
    ];
    assert!(root.fails(&args).contains("no column named `Label`"));
    let args = [
        "preprocess",
        "--target",
        "CLASS",
        "--stratify",
        "maybe",
        "--file-name",
        "dataset.csv",
    ];
    assert!(root.fails(&args).starts_with("--stratify"));
    // Processing jobs also leave the reason as their exit message.
    assert!(root.read("output/message").starts_with("--stratify"));
    // A class of one row cannot be stratified: named by its label.
    root.write(
        "processing/input/data/dataset.csv",
        "a,CLASS\n1,x\n2,y\n3,x\n4,y\n5,rare\n",
    );
    let args = ["preprocess", "--target", "CLASS", "--stratify", "True"];
    let reason = root.fails(&[&args[..], &["--file-name", "dataset.csv"]].concat());
    assert!(
        reason.ends_with(
            "cannot stratify on `CLASS`: class `rare` has only 1 row, and every class needs at \
             least 2 (add rows of that class, or split without stratifying)"
        ),
        "{reason}"
    );
}

#[test]
fn evaluate_refuses_what_does_not_apply_and_unknown_formats() {
    let root = Root::new();
    preprocess(&root, "breast-cancer", "CLASS");
    root.hyperparameters(
        &[
            ("algorithm", "NaiveBayes"),
            ("target", "CLASS"),
            ("cross-validation", "false"),
        ],
        true,
    );
    root.ok(&["train"]);
    root.archive_model_to("processing/model/model.tar.gz");
    let evaluate = |metric: &str| {
        vec![
            "evaluate".to_string(),
            "--target".into(),
            "CLASS".into(),
            "--file-name".into(),
            "dataset.csv".into(),
            "--register-metric".into(),
            metric.into(),
        ]
    };
    let args = evaluate("r2");
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    assert!(root
        .fails(&args)
        .starts_with("scorer or metric `r2` does not apply to a binary task"));
    let args = evaluate("auc");
    let mut args: Vec<&str> = args.iter().map(String::as_str).collect();
    args[2] = "Other";
    assert!(root
        .fails(&args)
        .contains("the model was trained to predict `CLASS`"));
    // A manifest from a future format.
    let manifest = root
        .read("model/manifest.json")
        .replace("\"format_version\":1", "\"format_version\":2");
    root.write("model/manifest.json", manifest);
    root.archive_model_to("processing/model/model.tar.gz");
    let args = evaluate("auc");
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    assert_eq!(
        root.fails(&args),
        "model artifact: format version 2 is not supported by this build (it reads version 1)"
    );
}

/// What a job writes to stderr is what SageMaker sends to CloudWatch (and `mmp` keeps under
/// `jobs/`): colour escapes are for terminals only.
#[test]
fn logs_to_a_pipe_carry_no_colour_escapes() {
    let root = Root::new();
    let out = root.run(&["train"]);
    assert!(!out.status.success(), "train without hyperparameters fails");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("ERROR"),
        "the failure is logged: {stderr:?}"
    );
    assert!(!stderr.contains("\x1b["), "colour escapes in {stderr:?}");
    // Its CPU time, last, for scripts/bench/executor_share.py.
    let cpu = stderr
        .lines()
        .filter_map(|line| line.strip_prefix("mmp-cpu-seconds: "))
        .next_back()
        .unwrap_or_else(|| panic!("no CPU time in {stderr:?}"));
    assert!(cpu.parse::<f64>().unwrap() >= 0.0, "{cpu}");
    // And its peak memory: more than nothing, less than a gigabyte for a failed start.
    let peak = stderr
        .lines()
        .find_map(|line| line.strip_prefix("mmp-peak-memory-mib: "))
        .unwrap_or_else(|| panic!("no peak memory in {stderr:?}"));
    let peak: f64 = peak.parse().unwrap();
    assert!(peak > 0.5 && peak < 1024.0, "{peak}");
}
