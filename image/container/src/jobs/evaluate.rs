//! The evaluate job: the refit's `model.tar.gz` and the test split → `evaluation.json`.

use anyhow::Context;
use mmp_ml::evaluation::{evaluate, RegisterMetric};
use mmp_ml::model::{Model, MANIFEST_FILE};
use mmp_ml::table::Table;
use mmp_pipeline::contract::{
    EVALUATION_FILE, MODEL_ARCHIVE, PROCESSING_EVALUATION, PROCESSING_MODEL, PROCESSING_TEST,
};

use crate::paths::{data_file, MlRoot};

#[derive(Debug, Clone)]
pub struct EvaluateArgs {
    /// The target column; must be the one the model was trained on (checked).
    pub target: Option<String>,
    pub file_name: String,
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
    let table = Table::read(&test_file)?;
    let mut report = evaluate(&model, &table, register)?;
    // Which family won, for the metrics reporter's per-algorithm quality metrics.
    report["algorithm"] = serde_json::Value::String(model.manifest.family.clone());
    let out = root.path(PROCESSING_EVALUATION).join(EVALUATION_FILE);
    super::write_json(&out, &report).context("writing the evaluation report")?;
    Ok(report)
}
