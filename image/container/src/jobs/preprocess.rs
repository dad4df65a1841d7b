//! The preprocess job: the uploaded CSV → `train/` and `test/` splits.

use mmp_ml::split::train_test_split;
use mmp_ml::table::Table;
use mmp_ml::target::{read_target, TargetValues, Task};
use mmp_pipeline::contract::{PROCESSING_INPUT_DATA, PROCESSING_TEST, PROCESSING_TRAIN};

use crate::paths::{data_file, MlRoot};

/// The original's arguments.
#[derive(Debug, Clone)]
pub struct PreprocessArgs {
    /// The column to predict; stratification and task detection read it.
    pub target: String,
    /// Share of the rows held out as the test split, in (0, 1).
    pub test_size: f64,
    /// Keep each class's share in both splits (classification only).
    pub stratify: bool,
    /// Seeds the shuffle, so a re-run writes the same splits.
    pub random_state: u64,
    /// The CSV to read from the input channel, and the name both splits are written under.
    pub file_name: String,
    /// Forces the task; `None` detects it from the target's values.
    pub task: Option<Task>,
}

/// What the job wrote, for the log.
#[derive(Debug, Clone, PartialEq)]
pub struct PreprocessSummary {
    /// The task the target was read as.
    pub task: Task,
    /// Data rows written to the train split.
    pub train_rows: usize,
    /// Data rows written to the test split.
    pub test_rows: usize,
    /// Whether the split was stratified (asked for, and the task is classification).
    pub stratified: bool,
}

/// Reads the uploaded CSV and writes its seeded train and test splits.
pub fn run(root: &MlRoot, args: &PreprocessArgs) -> anyhow::Result<PreprocessSummary> {
    let input = data_file(&root.path(PROCESSING_INPUT_DATA), Some(&args.file_name))
        .map_err(anyhow::Error::msg)?;
    let table = Table::read(&input)?;
    let column = table.column(&args.target)?;
    let (task, target) = read_target(TargetValues::from_table(&table, column)?, args.task)?;
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
