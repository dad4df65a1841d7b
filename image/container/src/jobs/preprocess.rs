//! The preprocess job: the uploaded CSV → `train/` and `test/` splits.

use anyhow::Context;
use mmp_ml::error::MlError;
use mmp_ml::index::{RecordIndex, MAX_RECORD_BYTES};
use mmp_ml::split::train_test_split;
use mmp_ml::target::{read_target, Target, Task};
use mmp_pipeline::contract::{PROCESSING_INPUT_DATA, PROCESSING_TEST, PROCESSING_TRAIN};
use mmp_pipeline::memory::{SplitShape, SPLIT_SHAPE_FILE};

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
///
/// The file is streamed, not held: one reading checks it and keeps each record's offset and
/// the target's values, the split is drawn from those, and each split is written by reading its
/// records again at their offsets. The splits are those a table read whole would give.
pub fn run(root: &MlRoot, args: &PreprocessArgs) -> anyhow::Result<PreprocessSummary> {
    let input = data_file(&root.path(PROCESSING_INPUT_DATA), Some(&args.file_name))
        .map_err(anyhow::Error::msg)?;
    let (index, target) = RecordIndex::read(&input, &args.target, MAX_RECORD_BYTES)?;
    let (task, target) = read_target(target, args.task)?;
    // Stratifying needs classes; a regression target is split without it.
    let stratified = args.stratify && task.is_classification();
    if args.stratify && !stratified {
        tracing::warn!("the target is continuous (regression): splitting without stratification");
    }
    let codes = if stratified { target.codes() } else { None };
    let split = train_test_split(index.len(), codes, args.test_size, args.random_state).map_err(
        |e| match (e, &target) {
            (MlError::SingleRowClass { class }, Target::Classes { labels, .. }) => anyhow::anyhow!(
                "{}: cannot stratify on `{}`: class `{}` has only 1 row, and every class needs \
                 at least 2 (add rows of that class, or split without stratifying)",
                input.display(),
                args.target,
                labels.get(class).map_or("?", String::as_str),
            ),
            (e, _) => e.into(),
        },
    )?;
    index.write_subset(
        &root.path(PROCESSING_TRAIN).join(&args.file_name),
        &split.train,
    )?;
    index.write_subset(
        &root.path(PROCESSING_TEST).join(&args.file_name),
        &split.test,
    )?;
    // The local executor's estimate of a train job's memory counts the classes (see
    // `mmp_pipeline::memory`); the split's size alone does not show them.
    let shape = SplitShape {
        rows: split.train.len() as u64,
        classes: match &target {
            Target::Classes { labels, .. } => labels.len() as u64,
            Target::Values(_) => 0,
        },
    };
    let shape_file = root.path(PROCESSING_TRAIN).join(SPLIT_SHAPE_FILE);
    std::fs::write(&shape_file, serde_json::to_vec(&shape)?)
        .with_context(|| format!("cannot write {}", shape_file.display()))?;
    Ok(PreprocessSummary {
        task,
        train_rows: split.train.len(),
        test_rows: split.test.len(),
        stratified,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // a failure is the test failing

    use std::path::Path;

    use mmp_ml::table::Table;
    use mmp_ml::target::TargetValues;

    use super::*;

    /// What the job wrote before it streamed: the whole table read, split and written.
    fn table_path(input: &Path, args: &PreprocessArgs, out: &Path) -> (Vec<u8>, Vec<u8>) {
        let table = Table::read(input).unwrap();
        let column = table.column(&args.target).unwrap();
        let values = TargetValues::from_table(&table, column).unwrap();
        let (task, target) = read_target(values, args.task).unwrap();
        let codes = if args.stratify && task.is_classification() {
            target.codes()
        } else {
            None
        };
        let split =
            train_test_split(table.len(), codes, args.test_size, args.random_state).unwrap();
        let (train, test) = (out.join("train.csv"), out.join("test.csv"));
        table.write_subset(&train, &split.train).unwrap();
        table.write_subset(&test, &split.test).unwrap();
        (std::fs::read(train).unwrap(), std::fs::read(test).unwrap())
    }

    /// A CSV with what trips readers up: a byte-order mark, CRLF endings, quoted fields holding
    /// commas, quotes and line breaks, missing cells, blank lines and no final line break.
    fn tricky_csv(rows: usize) -> Vec<u8> {
        let mut text = String::from("\u{feff}id, note ,num,cat,CLASS\r\n");
        for i in 0..rows {
            let note = match i % 6 {
                0 => "\"a, b\"".to_string(),
                1 => "\"two\r\nlines\"".to_string(),
                2 => "\"say \"\"hi\"\"\"".to_string(),
                3 => String::new(),
                4 => "\"\"".to_string(),
                _ => format!("plain{i}"),
            };
            let num = if i % 7 == 0 {
                "NA".to_string()
            } else {
                format!("{}.5", i % 13)
            };
            let cat = ["red", "", "\"gr,een\"", "blue"][i % 4];
            let class = ["x", "y", "z"][(i * 7 + i / 5) % 3];
            text.push_str(&format!("{i},{note},{num},{cat},{class}\r\n"));
            if i % 50 == 49 {
                text.push_str("\r\n");
            }
        }
        text.truncate(text.len() - 2);
        text.into_bytes()
    }

    #[test]
    fn writes_the_splits_the_whole_table_gave() {
        let dir = tempfile::tempdir().unwrap();
        let root = MlRoot::new(dir.path());
        let input = root.path(PROCESSING_INPUT_DATA).join("data.csv");
        std::fs::create_dir_all(input.parent().unwrap()).unwrap();
        std::fs::write(&input, tricky_csv(300)).unwrap();
        for (stratify, seed) in [(true, 42), (false, 7)] {
            let args = PreprocessArgs {
                target: "CLASS".into(),
                test_size: 0.25,
                stratify,
                random_state: seed,
                file_name: "data.csv".into(),
                task: None,
            };
            let summary = run(&root, &args).unwrap();
            assert_eq!(
                (
                    summary.task,
                    summary.stratified,
                    summary.train_rows,
                    summary.test_rows
                ),
                (Task::Multiclass, stratify, 225, 75)
            );
            let old = tempfile::tempdir().unwrap();
            let (train, test) = table_path(&input, &args, old.path());
            for (new, old) in [(PROCESSING_TRAIN, train), (PROCESSING_TEST, test)] {
                let new_path = root.path(new).join("data.csv");
                let new_table = Table::read(&new_path).unwrap();
                let old_table = Table::from_reader(Path::new("old"), &old[..]).unwrap();
                assert_eq!(new_table.header, old_table.header);
                assert_eq!(
                    new_table.records, old_table.records,
                    "{new}, stratify {stratify}"
                );
                assert_eq!(std::fs::read(&new_path).unwrap(), old, "byte for byte");
            }
        }
        let train = Table::read(&root.path(PROCESSING_TRAIN).join("data.csv")).unwrap();
        assert_eq!(train.header, ["id", "note", "num", "cat", "CLASS"]);
        assert!(
            train
                .records
                .iter()
                .any(|r| r.get(1) == Some("two\r\nlines")),
            "a quoted line break survives"
        );
    }
}
