//! The target column: task detection and class labels, kept exactly as they appear in the data.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::error::{MlError, Result};
use crate::schema::is_missing;
use crate::table::Table;

/// What kind of prediction the model makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Task {
    /// Two classes.
    Binary,
    /// Three or more classes.
    Multiclass,
    /// A number.
    Regression,
}

impl Task {
    /// `binary`, `multiclass` or `regression`, in any case.
    pub fn parse(s: &str) -> Result<Task> {
        match s.trim().to_ascii_lowercase().as_str() {
            "binary" => Ok(Task::Binary),
            "multiclass" => Ok(Task::Multiclass),
            "regression" => Ok(Task::Regression),
            _ => Err(MlError::UnknownTask(s.to_string())),
        }
    }

    /// The name [`Task::parse`] reads.
    pub fn name(self) -> &'static str {
        match self {
            Task::Binary => "binary",
            Task::Multiclass => "multiclass",
            Task::Regression => "regression",
        }
    }

    /// Binary or multiclass.
    pub fn is_classification(self) -> bool {
        self != Task::Regression
    }
}

/// A numeric target with at most this many distinct whole-number values is taken for class
/// labels when the task is not given (e.g. 0..9 digits); anything else numeric is regression.
pub const MAX_AUTO_INTEGER_CLASSES: usize = 20;

/// The target column, encoded.
#[derive(Debug, Clone, PartialEq)]
pub enum Target {
    /// Class codes index into `labels` (sorted numerically when every label is a number,
    /// else as text; for a binary task `labels[1]` is the positive class, as in scikit-learn).
    Classes {
        /// The classes, as in the data.
        labels: Vec<String>,
        /// Each row's class, an index into `labels`.
        codes: Vec<usize>,
    },
    /// A regression target, one value per row.
    Values(Vec<f64>),
}

impl Target {
    /// Rows.
    pub fn len(&self) -> usize {
        match self {
            Target::Classes { codes, .. } => codes.len(),
            Target::Values(v) => v.len(),
        }
    }

    /// No rows.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Class codes, or `None` for a regression target.
    pub fn codes(&self) -> Option<&[usize]> {
        match self {
            Target::Classes { codes, .. } => Some(codes),
            Target::Values(_) => None,
        }
    }
}

/// The target column's values, gathered one row at a time: each distinct value is kept once and
/// each row only as its index, so a file can be read without holding its rows.
#[derive(Debug, Clone)]
pub struct TargetValues {
    source_name: String,
    column: String,
    ids: HashMap<Box<str>, u32>,
    rows: Vec<u32>,
    first_missing: Option<u64>,
    first_non_numeric: Option<(u64, String)>,
}

impl TargetValues {
    /// No values yet, of column `column` of the data `source_name` names in errors.
    pub fn new(source_name: impl Into<String>, column: impl Into<String>) -> TargetValues {
        TargetValues {
            source_name: source_name.into(),
            column: column.into(),
            ids: HashMap::new(),
            rows: Vec::new(),
            first_missing: None,
            first_non_numeric: None,
        }
    }

    /// The target column of `table`.
    pub fn from_table(table: &Table, column: usize) -> Result<TargetValues> {
        let mut values = TargetValues::new(table.source.clone(), table.header[column].clone());
        for (record, &row) in table.records.iter().zip(&table.rows) {
            values.push(row, record.get(column).unwrap_or(""))?;
        }
        Ok(values)
    }

    /// Adds the value of the next row, which starts on file row `row` (header = 1).
    pub fn push(&mut self, row: u64, value: &str) -> Result<()> {
        let v = value.trim();
        if is_missing(v) {
            // Only the first is reported; [`read_target`] fails on it.
            self.first_missing.get_or_insert(row);
            return Ok(());
        }
        let id = match self.ids.get(v) {
            Some(&id) => id,
            None => {
                let id = u32::try_from(self.ids.len()).map_err(|_| self.too_many())?;
                if self.first_non_numeric.is_none() && v.parse::<f64>().is_err() {
                    self.first_non_numeric = Some((row, v.to_string()));
                }
                self.ids.insert(v.into(), id);
                id
            }
        };
        if self.rows.len() >= u32::MAX as usize {
            return Err(self.too_many());
        }
        self.rows.push(id);
        Ok(())
    }

    /// Rows pushed with a value.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// No row pushed with a value.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    fn too_many(&self) -> MlError {
        MlError::TooManyRows {
            source_name: self.source_name.clone(),
            max: u64::from(u32::MAX),
        }
    }
}

/// Reads the target column, detecting the task unless `task` is given.
pub fn read_target(values: TargetValues, task: Option<Task>) -> Result<(Task, Target)> {
    let TargetValues {
        source_name,
        column: name,
        ids,
        rows,
        first_missing,
        first_non_numeric,
    } = values;
    if let Some(row) = first_missing {
        return Err(MlError::MissingTarget {
            source_name,
            row: row as usize,
            column: name,
        });
    }
    // The distinct values, by id: every question below is asked of them, not of each row.
    let mut distinct: Vec<&str> = vec![""; ids.len()];
    for (v, &id) in &ids {
        distinct[id as usize] = v;
    }
    let numbers: Option<Vec<f64>> = distinct.iter().map(|v| v.parse::<f64>().ok()).collect();
    let task = match task {
        Some(t) => t,
        None => detect(&distinct, numbers.as_deref()),
    };
    if task == Task::Regression {
        let Some(numbers) = numbers else {
            let (row, value) = first_non_numeric.unwrap_or_default();
            return Err(MlError::NonNumericTarget {
                source_name,
                row: row as usize,
                column: name,
                value,
            });
        };
        let values = rows.iter().map(|&id| numbers[id as usize]).collect();
        return Ok((task, Target::Values(values)));
    }
    let labels = sorted_labels(&distinct);
    if labels.len() < 2 {
        return Err(MlError::OneClass {
            source_name,
            column: name,
            class: labels.first().cloned().unwrap_or_default(),
        });
    }
    if task == Task::Binary && labels.len() != 2 {
        return Err(MlError::TaskMismatch {
            source_name,
            column: name,
            message: format!(
                "task is binary but the target has {} classes ({})",
                labels.len(),
                crate::error::listing(&labels)
            ),
        });
    }
    let code_of_id = encode_labels(&distinct, &labels);
    let codes = rows.iter().map(|&id| code_of_id[id as usize]).collect();
    let task = if labels.len() == 2 {
        Task::Binary
    } else {
        Task::Multiclass
    };
    Ok((task, Target::Classes { labels, codes }))
}

fn detect(raw: &[&str], numbers: Option<&[f64]>) -> Task {
    let distinct = sorted_labels(raw).len();
    match numbers {
        None => {
            if distinct <= 2 {
                Task::Binary
            } else {
                Task::Multiclass
            }
        }
        Some(_) if distinct <= 2 => Task::Binary,
        Some(values)
            if distinct <= MAX_AUTO_INTEGER_CLASSES && values.iter().all(|v| v.fract() == 0.0) =>
        {
            Task::Multiclass
        }
        Some(_) => Task::Regression,
    }
}

/// Distinct labels, numerically sorted when all are numbers, else sorted as text.
pub fn sorted_labels(raw: &[&str]) -> Vec<String> {
    let mut distinct: Vec<&str> = raw.to_vec();
    distinct.sort_unstable();
    distinct.dedup();
    let numeric: Option<Vec<f64>> = distinct.iter().map(|v| v.parse::<f64>().ok()).collect();
    if let Some(nums) = numeric {
        let mut pairs: Vec<(f64, &str)> = nums.into_iter().zip(distinct).collect();
        pairs.sort_by(|a, b| a.0.total_cmp(&b.0));
        pairs.into_iter().map(|(_, s)| s.to_string()).collect()
    } else {
        distinct.into_iter().map(str::to_string).collect()
    }
}

fn encode_labels(raw: &[&str], labels: &[String]) -> Vec<usize> {
    let index: HashMap<&str, usize> = labels
        .iter()
        .enumerate()
        .map(|(i, l)| (l.as_str(), i))
        .collect();
    raw.iter().map(|v| index[v]).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn target(text: &str, task: Option<Task>) -> Result<(Task, Target)> {
        let t = Table::from_reader(Path::new("d.csv"), text.as_bytes()).unwrap();
        read_target(TargetValues::from_table(&t, t.column("y").unwrap())?, task)
    }

    #[test]
    fn detects_tasks_and_keeps_labels() {
        let (task, t) = target("x,y\n1,1\n2,0\n3,1\n", None).unwrap();
        assert_eq!(task, Task::Binary);
        assert_eq!(
            t,
            Target::Classes {
                labels: vec!["0".into(), "1".into()],
                codes: vec![1, 0, 1]
            }
        );
        let (task, t) = target("x,y\n1,b\n2,a\n3,c\n", None).unwrap();
        assert_eq!(task, Task::Multiclass);
        assert_eq!(t.codes().unwrap(), [1, 0, 2]);
        let (task, _) = target("x,y\n1,10\n2,2\n3,9\n", None).unwrap();
        assert_eq!(task, Task::Multiclass, "numeric labels sort numerically");
        let (task, t) = target("x,y\n1,1.5\n2,2.25\n3,9\n", None).unwrap();
        assert_eq!(task, Task::Regression);
        assert_eq!(t, Target::Values(vec![1.5, 2.25, 9.0]));
        let (task, _) = target("x,y\n1,1\n2,0\n3,1\n", Some(Task::Regression)).unwrap();
        assert_eq!(task, Task::Regression);
    }

    #[test]
    fn names_bad_targets() {
        let msg = |r: Result<(Task, Target)>| r.unwrap_err().to_string();
        assert_eq!(
            msg(target("x,y\n1,a\n2,a\n", None)),
            "d.csv: target column `y` has only one class (a); classification needs two or more"
        );
        assert_eq!(
            msg(target("x,y\n1,2\n2,high\n", Some(Task::Regression))),
            "d.csv: row 3, column `y`: regression target `high` is not a number"
        );
        assert_eq!(
            msg(target("x,y\n1,2\n2,\n", None)),
            "d.csv: row 3, column `y`: the target is missing"
        );
    }
}
