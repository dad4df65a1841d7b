//! The model registry: model package groups and their versions, with approval status,
//! metrics and artifact, kept in SQLite. Approval changes are reported to a listener, which
//! turns them into "SageMaker Model Package State Change" events.

use std::sync::{Arc, Mutex};

use mmp_common::ports::ApprovalStatus;
use rusqlite::{params, Connection, OptionalExtension};
use serde_json::Value;

use crate::db::now_ms;

/// The approval status spelled `text` as SageMaker spells it (and as the registry's rows and
/// the console's API carry it).
pub fn parse_status(text: &str) -> Result<ApprovalStatus, RegistryError> {
    text.parse()
        .map_err(|_| RegistryError::BadStatus(text.to_string()))
}

#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("model package group {0} does not exist")]
    NoSuchGroup(String),
    #[error("model package {0} version {1} does not exist")]
    NoSuchVersion(String, i64),
    #[error("{0:?} is not an approval status (Approved, Rejected, PendingManualApproval)")]
    BadStatus(String),
    #[error("model package request: {0}")]
    BadRequest(String),
    #[error("registry database: {0}")]
    Db(#[from] rusqlite::Error),
}

/// One model package version.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ModelPackage {
    pub group: String,
    pub version: i64,
    pub arn: String,
    pub approval_status: ApprovalStatus,
    pub description: Option<String>,
    pub model_data_url: String,
    pub metrics_url: Option<String>,
    pub metadata: Value,
    pub created_ms: i64,
    pub modified_ms: i64,
}

/// Called after an approval status changes (or a version is created), with the version
/// as it now is and its status before.
pub type Listener = Arc<dyn Fn(&ModelPackage, Option<ApprovalStatus>) + Send + Sync>;

pub struct Registry {
    conn: Mutex<Connection>,
    region: String,
    account: String,
    listener: Option<Listener>,
}

impl Registry {
    pub fn new(conn: Connection, region: &str, account: &str) -> Self {
        Self {
            conn: Mutex::new(conn),
            region: region.to_string(),
            account: account.to_string(),
            listener: None,
        }
    }

    pub fn with_listener(mut self, listener: Listener) -> Self {
        self.listener = Some(listener);
        self
    }

    fn conn(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn package_arn(&self, group: &str, version: i64) -> String {
        format!(
            "arn:aws:sagemaker:{}:{}:model-package/{group}/{version}",
            self.region, self.account
        )
    }

    /// Registers a new version from CreateModelPackage's input (as the RegisterModel step
    /// resolves it); creates the group on first use, as the SageMaker SDK's step does.
    pub fn create_package(&self, input: &Value) -> Result<ModelPackage, RegistryError> {
        let field = |name: &str| {
            input.get(name).and_then(Value::as_str).ok_or_else(|| {
                RegistryError::BadRequest(format!("{name} is missing or not a string"))
            })
        };
        let group = field("ModelPackageGroupName")?;
        let status = match input.get("ModelApprovalStatus").and_then(Value::as_str) {
            Some(text) => parse_status(text)?,
            None => ApprovalStatus::PendingManualApproval,
        };
        let model_data_url = input
            .pointer("/InferenceSpecification/Containers/0/ModelDataUrl")
            .and_then(Value::as_str)
            .ok_or_else(|| {
                RegistryError::BadRequest(
                    "InferenceSpecification.Containers[0].ModelDataUrl is missing".into(),
                )
            })?;
        let metrics_url = input
            .pointer("/ModelMetrics/ModelQuality/Statistics/S3Uri")
            .and_then(Value::as_str);
        let description = input.get("ModelPackageDescription").and_then(Value::as_str);
        let metadata = input
            .get("CustomerMetadataProperties")
            .cloned()
            .unwrap_or_else(|| Value::Object(Default::default()));
        let now = now_ms();
        let version = {
            let mut conn = self.conn();
            let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            tx.execute(
                "INSERT OR IGNORE INTO model_package_groups (name, created_ms) VALUES (?1, ?2)",
                params![group, now],
            )?;
            let version: i64 = tx.query_row(
                "SELECT COALESCE(MAX(version), 0) + 1 FROM model_packages WHERE group_name = ?1",
                params![group],
                |r| r.get(0),
            )?;
            tx.execute(
                "INSERT INTO model_packages (group_name, version, approval_status, description,
                     model_data_url, metrics_url, metadata, created_ms, modified_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8)",
                params![
                    group,
                    version,
                    status.as_str(),
                    description,
                    model_data_url,
                    metrics_url,
                    metadata.to_string(),
                    now
                ],
            )?;
            tx.commit()?;
            version
        };
        let package = self.describe(group, version)?;
        if let Some(listen) = &self.listener {
            listen(&package, None);
        }
        Ok(package)
    }

    pub fn describe(&self, group: &str, version: i64) -> Result<ModelPackage, RegistryError> {
        self.conn()
            .query_row(
                &format!("{SELECT} WHERE group_name = ?1 AND version = ?2"),
                params![group, version],
                |r| self.row(r),
            )
            .optional()?
            .ok_or_else(|| RegistryError::NoSuchVersion(group.to_string(), version))
    }

    /// A group's versions, newest first, optionally only those with `status`.
    pub fn list(
        &self,
        group: &str,
        status: Option<ApprovalStatus>,
    ) -> Result<Vec<ModelPackage>, RegistryError> {
        let status = status.map(ApprovalStatus::as_str);
        let conn = self.conn();
        let mut stmt = conn.prepare(&format!(
            "{SELECT} WHERE group_name = ?1 AND (?2 IS NULL OR approval_status = ?2) ORDER BY version DESC"
        ))?;
        let rows = stmt.query_map(params![group, status], |r| self.row(r))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    pub fn groups(&self) -> Result<Vec<String>, RegistryError> {
        let conn = self.conn();
        let mut stmt = conn.prepare("SELECT name FROM model_package_groups ORDER BY name")?;
        let rows = stmt.query_map([], |r| r.get(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// CreateModelPackageGroup, idempotent.
    pub fn ensure_group(&self, group: &str) -> Result<(), RegistryError> {
        self.conn().execute(
            "INSERT OR IGNORE INTO model_package_groups (name, created_ms) VALUES (?1, ?2)",
            params![group, now_ms()],
        )?;
        Ok(())
    }

    pub fn group_exists(&self, group: &str) -> Result<bool, RegistryError> {
        Ok(self
            .conn()
            .query_row(
                "SELECT 1 FROM model_package_groups WHERE name = ?1",
                params![group],
                |_| Ok(()),
            )
            .optional()?
            .is_some())
    }

    /// UpdateModelPackage's approval: sets the status and reports the change.
    pub fn set_approval(
        &self,
        group: &str,
        version: i64,
        status: ApprovalStatus,
    ) -> Result<ModelPackage, RegistryError> {
        let previous = {
            let mut conn = self.conn();
            let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            let previous = tx
                .query_row(
                    "SELECT approval_status FROM model_packages WHERE group_name = ?1 AND version = ?2",
                    params![group, version],
                    |r| status_column(r, 0),
                )
                .optional()?;
            let Some(previous) = previous else {
                return Err(RegistryError::NoSuchVersion(group.to_string(), version));
            };
            tx.execute(
                "UPDATE model_packages SET approval_status = ?3, modified_ms = ?4
                 WHERE group_name = ?1 AND version = ?2",
                params![group, version, status.as_str(), now_ms()],
            )?;
            tx.commit()?;
            previous
        };
        let package = self.describe(group, version)?;
        if let Some(listen) = &self.listener {
            listen(&package, Some(previous));
        }
        Ok(package)
    }

    fn row(&self, r: &rusqlite::Row<'_>) -> rusqlite::Result<ModelPackage> {
        let group: String = r.get(0)?;
        let version: i64 = r.get(1)?;
        let metadata: String = r.get(6)?;
        Ok(ModelPackage {
            arn: self.package_arn(&group, version),
            group,
            version,
            approval_status: status_column(r, 2)?,
            description: r.get(3)?,
            model_data_url: r.get(4)?,
            metrics_url: r.get(5)?,
            metadata: serde_json::from_str(&metadata).unwrap_or(Value::Null),
            created_ms: r.get(7)?,
            modified_ms: r.get(8)?,
        })
    }
}

const SELECT: &str = "SELECT group_name, version, approval_status, description, model_data_url,
    metrics_url, metadata, created_ms, modified_ms FROM model_packages";

/// A row's approval status, stored as its SageMaker spelling (so databases written before
/// the status was typed read as they were written).
fn status_column(r: &rusqlite::Row<'_>, index: usize) -> rusqlite::Result<ApprovalStatus> {
    let text: String = r.get(index)?;
    parse_status(&text).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(index, rusqlite::types::Type::Text, Box::new(e))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn registry() -> (tempfile::TempDir, Registry) {
        let dir = tempfile::tempdir().unwrap();
        let conn = crate::db::open(&dir.path().join("db")).unwrap();
        (dir, Registry::new(conn, "us-east-1", "000000000000"))
    }

    const APPROVED: ApprovalStatus = ApprovalStatus::Approved;
    const PENDING: ApprovalStatus = ApprovalStatus::PendingManualApproval;

    fn input(group: &str, status: ApprovalStatus) -> Value {
        json!({
            "ModelPackageGroupName": group,
            "ModelApprovalStatus": status.as_str(),
            "InferenceSpecification": {"Containers": [{"Image": "i", "ModelDataUrl": "s3://b/m.tar.gz"}]},
            "ModelMetrics": {"ModelQuality": {"Statistics": {"S3Uri": "s3://b/e.json"}}},
            "CustomerMetadataProperties": {"algorithm": "RandomForest"},
        })
    }

    #[test]
    fn versions_count_up_per_group_and_list_newest_first() {
        let (_d, r) = registry();
        r.create_package(&input("mmp-a", PENDING)).unwrap();
        r.create_package(&input("mmp-a", APPROVED)).unwrap();
        let b = r.create_package(&input("mmp-b", PENDING)).unwrap();
        assert_eq!(b.version, 1);
        assert_eq!(
            b.arn,
            "arn:aws:sagemaker:us-east-1:000000000000:model-package/mmp-b/1"
        );
        let versions: Vec<i64> = r
            .list("mmp-a", None)
            .unwrap()
            .iter()
            .map(|p| p.version)
            .collect();
        assert_eq!(versions, [2, 1]);
        let approved = r.list("mmp-a", Some(APPROVED)).unwrap();
        assert_eq!((approved.len(), approved[0].version), (1, 2));
        assert_eq!(approved[0].metadata["algorithm"], "RandomForest");
        assert_eq!(r.groups().unwrap(), ["mmp-a", "mmp-b"]);
    }

    #[test]
    fn approval_changes_are_reported_with_the_previous_status() {
        let (_d, r) = registry();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let sink = seen.clone();
        let r = r.with_listener(Arc::new(
            move |p: &ModelPackage, prev: Option<ApprovalStatus>| {
                sink.lock().unwrap().push((p.approval_status, prev));
            },
        ));
        r.create_package(&input("mmp-a", PENDING)).unwrap();
        r.set_approval("mmp-a", 1, APPROVED).unwrap();
        assert!(matches!(
            r.set_approval("mmp-a", 9, APPROVED),
            Err(RegistryError::NoSuchVersion(..))
        ));
        assert!(matches!(
            parse_status("Maybe"),
            Err(RegistryError::BadStatus(_))
        ));
        let seen = seen.lock().unwrap();
        assert_eq!(seen[1], (APPROVED, Some(PENDING)));
    }

    #[test]
    fn statuses_are_stored_as_sagemaker_spells_them_and_unknown_ones_are_refused() {
        let (_d, r) = registry();
        r.create_package(&input("mmp-a", PENDING)).unwrap();
        r.set_approval("mmp-a", 1, ApprovalStatus::Rejected)
            .unwrap();
        let stored: String = r
            .conn()
            .query_row("SELECT approval_status FROM model_packages", [], |row| {
                row.get(0)
            })
            .unwrap();
        assert_eq!(stored, "Rejected");
        let mut maybe = input("mmp-a", PENDING);
        maybe["ModelApprovalStatus"] = json!("Maybe");
        assert!(matches!(
            r.create_package(&maybe),
            Err(RegistryError::BadStatus(s)) if s == "Maybe"
        ));
        r.conn()
            .execute("UPDATE model_packages SET approval_status = 'Maybe'", [])
            .unwrap();
        assert!(matches!(r.describe("mmp-a", 1), Err(RegistryError::Db(_))));
    }

    #[test]
    fn a_request_without_an_artifact_is_refused_by_name() {
        let (_d, r) = registry();
        let err = r
            .create_package(&json!({"ModelPackageGroupName": "g"}))
            .unwrap_err();
        assert!(err.to_string().contains("ModelDataUrl"), "{err}");
    }
}
