//! The routing table: dataset → the deployed model version and its multi-model artifact.
//! Kept as one JSON object in the store and only ever replaced by conditional writes
//! ([`save`] with the ETag [`load`] returned), so concurrent writers never lose an update.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::ports::{ObjectStore, PutCondition};
use crate::PortError;

/// The table's format version, written into every table.
pub const SCHEMA_VERSION: u32 = 1;

/// Where one dataset's requests go.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Route {
    /// Model package group, `<pipeline>-<dataset>`.
    pub group: String,
    /// The deployed version's number in its group.
    pub version: u32,
    /// The deployed version's model package ARN.
    pub model_package_arn: String,
    /// The artifact name in the multi-model prefix (InvokeEndpoint's `TargetModel`).
    pub target_model: String,
}

/// Every deployed dataset, by dataset name.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoutingTable {
    /// The table's format version ([`SCHEMA_VERSION`]).
    pub schema: u32,
    /// Every deployed dataset's route.
    pub routes: BTreeMap<String, Route>,
}

/// A stored table that cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RoutingError {
    #[error("routing table `{key}` is not valid JSON of the expected shape: {reason}")]
    /// The stored bytes are not a table.
    Malformed {
        /// The table's key.
        key: String,
        /// The JSON error.
        reason: String,
    },
    #[error("routing table `{key}` has schema {found}; this build reads schema {SCHEMA_VERSION}")]
    /// The table was written by a build with another schema.
    UnknownSchema {
        /// The table's key.
        key: String,
        /// The schema it has.
        found: u32,
    },
    #[error(transparent)]
    /// The store failed.
    Port(#[from] PortError),
}

impl RoutingTable {
    /// An empty table of the current schema.
    pub fn new() -> Self {
        RoutingTable {
            schema: SCHEMA_VERSION,
            routes: BTreeMap::new(),
        }
    }

    /// Parses a stored table; `key` is only for the error message.
    pub fn from_slice(key: &str, bytes: &[u8]) -> Result<Self, RoutingError> {
        let table: RoutingTable =
            serde_json::from_slice(bytes).map_err(|error| RoutingError::Malformed {
                key: key.to_string(),
                reason: error.to_string(),
            })?;
        if table.schema != SCHEMA_VERSION {
            return Err(RoutingError::UnknownSchema {
                key: key.to_string(),
                found: table.schema,
            });
        }
        Ok(table)
    }

    /// The table as stored (pretty JSON).
    pub fn to_vec(&self) -> Vec<u8> {
        // A BTreeMap of plain fields always serializes.
        serde_json::to_vec_pretty(self).unwrap_or_default()
    }

    /// The route for `model`, which may be a dataset name or a model package group name.
    pub fn resolve(&self, model: &str) -> Option<(&str, &Route)> {
        if let Some((dataset, route)) = self.routes.get_key_value(model) {
            return Some((dataset.as_str(), route));
        }
        self.routes
            .iter()
            .find(|(_, route)| route.group == model)
            .map(|(dataset, route)| (dataset.as_str(), route))
    }

    /// Whether a route serves this version of this group.
    pub fn serves(&self, group: &str, version: i64) -> bool {
        self.routes
            .values()
            .any(|route| route.group == group && i64::from(route.version) == version)
    }

    /// Whether any route points at this artifact.
    pub fn references(&self, target_model: &str) -> bool {
        self.routes
            .values()
            .any(|route| route.target_model == target_model)
    }
}

/// The stored table and its ETag; an absent table is empty with no ETag.
pub async fn load<S: ObjectStore + ?Sized>(
    store: &S,
    key: &str,
) -> Result<(RoutingTable, Option<String>), RoutingError> {
    match store.get(key).await {
        Ok(object) => Ok((
            RoutingTable::from_slice(key, &object.body)?,
            Some(object.etag),
        )),
        Err(PortError::NotFound(_)) => Ok((RoutingTable::new(), None)),
        Err(error) => Err(error.into()),
    }
}

/// Writes the table only if it is still the version read (`etag`), or still absent (`None`).
/// A lost race is `PortError::PreconditionFailed`: load again and redo the change.
pub async fn save<S: ObjectStore + ?Sized>(
    store: &S,
    key: &str,
    table: &RoutingTable,
    etag: Option<&str>,
) -> Result<String, PortError> {
    let condition = match etag {
        Some(etag) => PutCondition::IfMatch(etag.to_string()),
        None => PutCondition::IfAbsent,
    };
    store.put(key, table.to_vec(), condition).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route(group: &str, version: u32) -> Route {
        Route {
            group: group.into(),
            version,
            model_package_arn: format!(
                "arn:aws:sagemaker:us-east-1:1:model-package/{group}/{version}"
            ),
            target_model: crate::naming::artifact_name(group, version),
        }
    }

    #[test]
    fn resolves_by_dataset_or_group() {
        let mut table = RoutingTable::new();
        table.routes.insert("wine".into(), route("mmp-wine", 2));
        assert_eq!(
            table.resolve("wine").map(|(d, r)| (d, r.version)),
            Some(("wine", 2))
        );
        assert_eq!(table.resolve("mmp-wine").map(|(d, _)| d), Some("wine"));
        assert!(table.resolve("mmp-diabetes").is_none());
        assert!(table.references("mmp-wine-v2.tar.gz"));
        assert!(!table.references("mmp-wine-v1.tar.gz"));
        assert!(table.serves("mmp-wine", 2));
        assert!(!table.serves("mmp-wine", 1));
        assert!(!table.serves("mmp-diabetes", 2));
    }

    #[test]
    fn round_trips_and_rejects_bad_tables() {
        let mut table = RoutingTable::new();
        table.routes.insert("wine".into(), route("mmp-wine", 2));
        assert_eq!(
            RoutingTable::from_slice("k", &table.to_vec()).unwrap(),
            table
        );
        let error =
            RoutingTable::from_slice("endpoint/routing.json", b"{\"schema\":1}").unwrap_err();
        assert!(
            error.to_string().contains("endpoint/routing.json"),
            "{error}"
        );
        assert_eq!(
            RoutingTable::from_slice("k", b"{\"schema\":9,\"routes\":{}}"),
            Err(RoutingError::UnknownSchema {
                key: "k".into(),
                found: 9
            })
        );
    }
}
