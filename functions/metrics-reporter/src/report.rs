//! The reports: `<prefix><dataset>.json` (latest execution and a short history) and
//! `<prefix>leaderboard.json` (per dataset, the best registered model by its registration
//! metric). Both are read-modify-write with `If-Match`/`If-None-Match: *`, retried on a lost race.

use std::collections::BTreeMap;

use mmp_common::emf::now_ms;
use mmp_common::naming;
use mmp_common::ports::{ExecutionStatus, ObjectStore, PutCondition};
use mmp_common::PortError;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::ReportError;

/// Executions kept in a dataset report's history.
pub const HISTORY_LEN: usize = 20;
const MAX_ATTEMPTS: u32 = 20;

/// Model quality from `evaluation.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Quality {
    /// The report's `algorithm` field if it has one, else `unknown`.
    pub algorithm: String,
    /// Every `{"value": number}` metric of the report's `*_metrics` section.
    pub metrics: BTreeMap<String, f64>,
    /// The registration metric's value, which ranks the leaderboard.
    pub register_metric: Option<f64>,
}

impl Quality {
    /// Reads an `evaluation.json`.
    pub fn from_report(bytes: &[u8]) -> Result<Quality, String> {
        let report: Value = serde_json::from_slice(bytes).map_err(|error| error.to_string())?;
        let sections = report.as_object().ok_or("not a JSON object")?;
        let mut metrics = BTreeMap::new();
        for (section, content) in sections
            .iter()
            .filter(|(name, _)| name.ends_with("_metrics"))
        {
            let Some(entries) = content.as_object() else {
                continue;
            };
            for (name, metric) in entries {
                if let Some(value) = metric.get("value").and_then(Value::as_f64) {
                    metrics.insert(name.clone(), value);
                }
            }
            tracing::debug!(section, "read evaluation section");
        }
        if metrics.is_empty() {
            return Err("no `*_metrics` section with numeric values".into());
        }
        Ok(Quality {
            algorithm: report
                .get("algorithm")
                .and_then(Value::as_str)
                .unwrap_or("unknown")
                .to_string(),
            register_metric: report
                .get("register_metric")
                .and_then(|m| m.get("value"))
                .and_then(Value::as_f64),
            metrics,
        })
    }
}

/// One finished execution, as reported.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExecutionRecord {
    /// The execution reported.
    pub execution_arn: String,
    /// Its dataset.
    pub dataset: String,
    /// Its terminal status.
    pub status: ExecutionStatus,
    /// Why it failed, if it did.
    pub failure_reason: Option<String>,
    /// When it started, milliseconds since the Unix epoch.
    pub started_at_ms: Option<i64>,
    /// When it ended, milliseconds since the Unix epoch.
    pub ended_at_ms: Option<i64>,
    /// How long it ran.
    pub duration_seconds: Option<f64>,
    /// The steps that failed.
    pub failed_steps: Vec<String>,
    /// The version it registered, if any.
    pub model_package_arn: Option<String>,
    /// That version's number.
    pub model_version: Option<u32>,
    /// That version's evaluation, if readable.
    pub quality: Option<Quality>,
}

/// `<prefix><dataset>.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DatasetReport {
    /// The dataset reported.
    pub dataset: String,
    /// The execution that started last among those reported.
    pub latest: ExecutionRecord,
    /// Newest first, one entry per execution.
    pub history: Vec<ExecutionRecord>,
    /// When the report was last written, milliseconds since the Unix epoch.
    pub updated_at_ms: i64,
}

/// `<prefix>leaderboard.json`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Leaderboard {
    /// Per dataset, the registered execution with the highest registration metric.
    pub datasets: BTreeMap<String, ExecutionRecord>,
    /// When the board was last written, milliseconds since the Unix epoch.
    pub updated_at_ms: i64,
}

/// Read-modify-write of one JSON document with conditional writes.
async fn update_json<S, T, F>(store: &S, key: &str, mut change: F) -> Result<(), ReportError>
where
    S: ObjectStore + ?Sized,
    T: Serialize + for<'de> Deserialize<'de>,
    F: FnMut(Option<T>) -> Option<T>,
{
    for _ in 0..MAX_ATTEMPTS {
        let (current, condition) = match store.get(key).await {
            Ok(object) => match serde_json::from_slice::<T>(&object.body) {
                Ok(value) => (Some(value), PutCondition::IfMatch(object.etag)),
                Err(error) => {
                    tracing::warn!(key, %error, "replacing an unreadable report");
                    (None, PutCondition::IfMatch(object.etag))
                }
            },
            Err(PortError::NotFound(_)) => (None, PutCondition::IfAbsent),
            Err(error) => return Err(error.into()),
        };
        let Some(next) = change(current) else {
            return Ok(());
        };
        let body = serde_json::to_vec_pretty(&next)
            .map_err(|error| PortError::Other(error.to_string()))?;
        match store.put(key, body, condition).await {
            Ok(_) => return Ok(()),
            Err(PortError::PreconditionFailed(_) | PortError::NotFound(_)) => continue,
            Err(error) => return Err(error.into()),
        }
    }
    Err(ReportError::Contention(key.to_string()))
}

fn newer(a: &ExecutionRecord, b: &ExecutionRecord) -> bool {
    (a.started_at_ms, &a.execution_arn) > (b.started_at_ms, &b.execution_arn)
}

/// Adds the execution to its dataset's report (replacing an earlier record of it).
pub async fn write_dataset_report<S: ObjectStore + ?Sized>(
    store: &S,
    prefix: &str,
    record: &ExecutionRecord,
) -> Result<(), ReportError> {
    let key = naming::dataset_report_key(prefix, &record.dataset);
    update_json(store, &key, |current: Option<DatasetReport>| {
        let mut history = current.map(|report| report.history).unwrap_or_default();
        history.retain(|existing| existing.execution_arn != record.execution_arn);
        history.push(record.clone());
        history.sort_by(|a, b| {
            if newer(a, b) {
                std::cmp::Ordering::Less
            } else {
                std::cmp::Ordering::Greater
            }
        });
        history.truncate(HISTORY_LEN);
        let latest = history.first().cloned().unwrap_or_else(|| record.clone());
        Some(DatasetReport {
            dataset: record.dataset.clone(),
            latest,
            history,
            updated_at_ms: now_ms(),
        })
    })
    .await
}

/// Puts the execution on the leaderboard if it registered a model that beats the dataset's entry.
pub async fn write_leaderboard<S: ObjectStore + ?Sized>(
    store: &S,
    prefix: &str,
    record: &ExecutionRecord,
) -> Result<(), ReportError> {
    let Some(score) = record.quality.as_ref().and_then(|q| q.register_metric) else {
        return Ok(());
    };
    if record.model_package_arn.is_none() {
        return Ok(());
    }
    update_json(
        store,
        &naming::leaderboard_key(prefix),
        |current: Option<Leaderboard>| {
            let mut board = current.unwrap_or_default();
            let best = board.datasets.get(&record.dataset);
            let beats = match best
                .and_then(|b| b.quality.as_ref())
                .and_then(|q| q.register_metric)
            {
                Some(existing) => {
                    score > existing
                        || best.is_some_and(|b| b.execution_arn == record.execution_arn)
                }
                None => true,
            };
            if !beats {
                return None;
            }
            board
                .datasets
                .insert(record.dataset.clone(), record.clone());
            board.updated_at_ms = now_ms();
            Some(board)
        },
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quality_reads_every_metric_section() {
        let quality = Quality::from_report(
            br#"{"regression_metrics": {"r2": {"value": 0.5, "standard_deviation": "NaN"},
                 "mse": {"value": 2900.0, "standard_deviation": "NaN"}},
                 "register_metric": {"value": 0.5, "standard_deviation": "NaN"}}"#,
        )
        .unwrap();
        assert_eq!(quality.algorithm, "unknown");
        assert_eq!(
            quality.metrics,
            BTreeMap::from([("mse".to_string(), 2900.0), ("r2".to_string(), 0.5)])
        );
        assert_eq!(quality.register_metric, Some(0.5));
        assert!(Quality::from_report(b"{}").is_err());
        assert!(Quality::from_report(b"[").is_err());
    }
}
