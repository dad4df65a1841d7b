//! What a user does to the system: upload a dataset, approve or reject a model version, read
//! the routing table. The CLI and the console both call these, so a click and a command make
//! the same writes and the same events fire.

use mmp_common::naming::{self, NameError};
use mmp_common::routing::{RoutingError, RoutingTable};

use crate::registry::{ModelPackage, RegistryError};
use crate::store::{Condition, StoreError};
use crate::system::System;

#[derive(Debug, thiserror::Error)]
pub enum ActionError {
    #[error(transparent)]
    Name(#[from] NameError),
    #[error("{0}")]
    BadInput(String),
    #[error("{0}")]
    NotFound(String),
    #[error(transparent)]
    Registry(#[from] RegistryError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Routing(#[from] RoutingError),
}

/// Stores `csv` as `datasets/<dataset>/<file_name>` (an upload, which starts an execution),
/// after `settings` as the dataset's `pipeline.json` when given. Returns the URIs written.
pub fn upload_dataset(
    system: &System,
    dataset: &str,
    file_name: &str,
    csv: &[u8],
    settings: Option<&[u8]>,
) -> Result<Vec<String>, ActionError> {
    let key = format!("{}{dataset}/{file_name}", naming::DATASETS_PREFIX);
    naming::parse_dataset_key(&key)?;
    // Refused here rather than by the trigger, so the one who uploads sees why.
    naming::group_name(&system.pipeline_name, dataset)?;
    if csv.is_empty() {
        return Err(ActionError::BadInput(format!("{file_name} is empty")));
    }
    let mut written = Vec::new();
    if let Some(settings) = settings {
        let settings_key = naming::dataset_settings_key(dataset);
        system.store.put(&settings_key, settings, Condition::None)?;
        written.push(system.store.uri_of(&settings_key));
    }
    system.store.put(&key, csv, Condition::None)?;
    written.push(system.store.uri_of(&key));
    Ok(written)
}

/// The model package group a dataset or group name stands for.
pub fn group_of(system: &System, name: &str) -> Result<String, ActionError> {
    if system.registry.group_exists(name)? {
        return Ok(name.to_string());
    }
    let group = naming::group_name(&system.pipeline_name, name)?;
    if system.registry.group_exists(&group)? {
        Ok(group)
    } else {
        Err(ActionError::NotFound(format!(
            "no model package group {name} or {group}: has the dataset's pipeline registered a model?"
        )))
    }
}

/// Sets the approval status of version `version` (default: the newest) of a dataset's or
/// group's models; the registry emits the state-change event the deployer acts on.
pub fn set_approval(
    system: &System,
    name: &str,
    version: Option<i64>,
    status: &str,
) -> Result<ModelPackage, ActionError> {
    let group = group_of(system, name)?;
    let version = match version {
        Some(v) => v,
        None => system
            .registry
            .list(&group, None)?
            .first()
            .map(|p| p.version)
            .ok_or_else(|| ActionError::NotFound(format!("group {group} has no versions")))?,
    };
    Ok(system.registry.set_approval(&group, version, status)?)
}

/// The endpoint's routing table (empty before the first deployment).
pub fn routing_table(system: &System) -> Result<RoutingTable, ActionError> {
    match system.store.get(naming::DEFAULT_ROUTING_KEY) {
        Ok(o) => Ok(RoutingTable::from_slice(
            naming::DEFAULT_ROUTING_KEY,
            &o.body,
        )?),
        Err(StoreError::NotFound(_)) => Ok(RoutingTable::new()),
        Err(e) => Err(e.into()),
    }
}
