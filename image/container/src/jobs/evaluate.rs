//! The evaluate job: the refit's `model.tar.gz` and the test split → `evaluation.json`.

use anyhow::Context;
use mmp_ml::evaluation::{evaluate_file, RegisterMetric};
use mmp_ml::index::MAX_RECORD_BYTES;
use mmp_ml::model::{Model, MANIFEST_FILE};
use mmp_pipeline::contract::{
    EVALUATION_FILE, MODEL_ARCHIVE, PROCESSING_EVALUATION, PROCESSING_MODEL, PROCESSING_TEST,
};

use crate::paths::{data_file, MlRoot};

/// The evaluate step's arguments, as the pipeline definition passes them.
#[derive(Debug, Clone)]
pub struct EvaluateArgs {
    /// The target column; must be the one the model was trained on (checked).
    pub target: Option<String>,
    /// The test split's file name in the test channel.
    pub file_name: String,
    /// The metric the register step's condition compares with its threshold (`auc`, `r2`…).
    pub register_metric: String,
}

/// Writes the report and returns it.
pub fn run(root: &MlRoot, args: &EvaluateArgs) -> anyhow::Result<serde_json::Value> {
    let register = RegisterMetric::parse(&args.register_metric)?;
    let model_dir = root.path(PROCESSING_MODEL);
    let archive = model_dir.join(MODEL_ARCHIVE);
    let model = if archive.is_file() {
        Model::load_archive(&archive)?
    } else if model_dir.join(MANIFEST_FILE).is_file() {
        Model::load(&model_dir)?
    } else {
        anyhow::bail!("{}: no {MODEL_ARCHIVE} to evaluate", model_dir.display());
    };
    if let Some(target) = &args.target {
        anyhow::ensure!(
            *target == model.manifest.target,
            "--target is `{target}` but the model was trained to predict `{}`",
            model.manifest.target
        );
    }
    let test_file = data_file(&root.path(PROCESSING_TEST), Some(&args.file_name))
        .map_err(anyhow::Error::msg)?;
    // Streamed: each record is predicted as it is read, none held (docs/container.md).
    let mut report = evaluate_file(&model, &test_file, register, MAX_RECORD_BYTES)?;
    // Which family won, for the metrics reporter's per-algorithm quality metrics.
    report["algorithm"] = serde_json::Value::String(model.manifest.family.to_string());
    // What was fitted: the family's regression counterpart on a numeric target (the
    // LogisticRegression family fits Ridge), which is what people reading the report expect.
    report["estimator"] = serde_json::Value::String(model.estimator());
    let out = root.path(PROCESSING_EVALUATION).join(EVALUATION_FILE);
    super::write_json(&out, &report).context("writing the evaluation report")?;
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use mmp_ml::estimators::{from_hyperparams, Algorithm};
    use mmp_ml::hyperparams::HyperParams;
    use mmp_ml::model::TrainingData;
    use mmp_ml::table::Table;

    /// A regression won by the LogisticRegression family: the report keeps the family the
    /// definition tuned and says that ridge regression was fitted.
    #[test]
    fn the_report_names_the_family_and_the_estimator_fitted() {
        let dir = tempfile::tempdir().unwrap();
        let root = MlRoot::new(dir.path());
        let csv = "a,b,y\n1,2,3.5\n2,1,4.0\n3,5,9.1\n4,4,7.7\n5,2,8.0\n6,1,6.2\n7,3,9.9\n";
        let test_dir = root.path(PROCESSING_TEST);
        std::fs::create_dir_all(&test_dir).unwrap();
        std::fs::write(test_dir.join("data.csv"), csv).unwrap();
        let table = Table::read(&test_dir.join("data.csv")).unwrap();
        let data = TrainingData::from_table(&table, "y", None).unwrap();
        let hp = HyperParams::from_pairs([("C", "1.0")]);
        let estimator = from_hyperparams(Algorithm::LogisticRegression, &hp).unwrap();
        let model = Model::fit(estimator.as_ref(), &data, hp.to_map(), 1).unwrap();
        model.save(&root.path(PROCESSING_MODEL)).unwrap();

        let args = EvaluateArgs {
            target: Some("y".into()),
            file_name: "data.csv".into(),
            register_metric: "r2".into(),
        };
        let report = run(&root, &args).unwrap();
        assert_eq!(report["algorithm"], "LogisticRegression");
        assert_eq!(report["estimator"], "Ridge");
        let written: serde_json::Value = serde_json::from_slice(
            &std::fs::read(root.path(PROCESSING_EVALUATION).join(EVALUATION_FILE)).unwrap(),
        )
        .unwrap();
        assert_eq!(written["estimator"], "Ridge");
    }
}
