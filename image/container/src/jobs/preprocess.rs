//! The preprocess job: the uploaded CSV → `train/` and `test/` splits.

use mmp_ml::split::train_test_split;
use mmp_ml::table::Table;
use mmp_ml::target::{read_target, Task};
use mmp_pipeline::contract::{PROCESSING_INPUT_DATA, PROCESSING_TEST, PROCESSING_TRAIN};

use crate::paths::{data_file, MlRoot};

/// The original's arguments.
#[derive(Debug, Clone)]
pub struct PreprocessArgs {
    pub target: String,
    pub test_size: f64,
    pub stratify: bool,
    pub random_state: u64,
    pub file_name: String,
    pub task: Option<Task>,
}

/// What the job wrote, for the log.
#[derive(Debug, Clone, PartialEq)]
pub struct PreprocessSummary {
    pub task: Task,
    pub train_rows: usize,
    pub test_rows: usize,
    pub stratified: bool,
}

pub fn run(root: &MlRoot, args: &PreprocessArgs) -> anyhow::Result<PreprocessSummary> {
    let input = data_file(&root.path(PROCESSING_INPUT_DATA), Some(&args.file_name))
        .map_err(anyhow::Error::msg)?;
    let table = Table::read(&input)?;
    let column = table.column(&args.target)?;
    let (task, target) = read_target(&table, column, args.task)?;
    // Stratifying needs classes; a regression target is split without it.
    let stratified = args.stratify && task.is_classification();
    if args.stratify && !stratified {
        tracing::warn!("the target is continuous (regression): splitting without stratification");
    }
    let codes = if stratified { target.codes() } else { None };
    let split = train_test_split(table.len(), codes, args.test_size, args.random_state)?;
    table.write_subset(
        &root.path(PROCESSING_TRAIN).join(&args.file_name),
        &split.train,
    )?;
    table.write_subset(
        &root.path(PROCESSING_TEST).join(&args.file_name),
        &split.test,
    )?;
    Ok(PreprocessSummary {
        task,
        train_rows: split.train.len(),
        test_rows: split.test.len(),
        stratified,
    })
}
