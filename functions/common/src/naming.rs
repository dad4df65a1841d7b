//! Naming rules: dataset names, model package groups, bucket keys and multi-model artifacts.
//! Every key the functions read or write is made here, from the defaults below or from
//! configuration (the `config` module, which depends on this one and never the reverse).

/// Uploads live under this prefix: `datasets/<dataset>/<file>.csv`.
pub const DATASETS_PREFIX: &str = "datasets/";
/// Only objects with this suffix start an execution.
pub const DATASET_SUFFIX: &str = ".csv";
/// Per-dataset settings: `datasets/<dataset>/pipeline.json`.
pub const DATASET_SETTINGS_FILE: &str = "pipeline.json";
/// Default key of the routing table.
pub const DEFAULT_ROUTING_KEY: &str = "endpoint/routing.json";
/// Default multi-model prefix (the endpoint model's ModelDataUrl).
pub const DEFAULT_MODELS_PREFIX: &str = "endpoint/models/";
/// Default prefix of the metrics reporter's output.
pub const DEFAULT_REPORTS_PREFIX: &str = "reports/";
/// The reporter's cross-dataset file, under the reports prefix.
pub const LEADERBOARD_FILE: &str = "leaderboard.json";
/// Default prefix of the trigger's idempotency claims: `<prefix><token>.json`.
pub const DEFAULT_TRIGGER_CLAIMS_PREFIX: &str = "triggers/";
/// Default prefix of the trigger's pinned uploads, outside `datasets/` so that writing one
/// starts nothing: `<prefix><dataset>/<etag>/<file>`.
pub const DEFAULT_PINNED_DATASETS_PREFIX: &str = "pinned-datasets/";
/// Longest file name kept in a pinned key (the URI is model metadata: at most 256 characters).
pub const MAX_PINNED_FILE_LEN: usize = 64;
/// Model package group names: SageMaker allows at most 63 characters.
pub const MAX_GROUP_NAME_LEN: usize = 63;

/// Why a name or key was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    #[error("key `{0}` is not under `{DATASETS_PREFIX}`")]
    /// The key is outside `datasets/`.
    NotADatasetKey(String),
    #[error("key `{0}` does not end in `{DATASET_SUFFIX}`")]
    /// The key does not end in `.csv`.
    NotACsv(String),
    #[error("key `{0}` is not of the form `{DATASETS_PREFIX}<dataset>/<file>{DATASET_SUFFIX}` (one folder level)")]
    /// The key is not `datasets/<dataset>/<file>.csv`.
    BadDatasetKeyShape(String),
    #[error(
        "dataset name `{0}` is invalid: use letters, digits and hyphens, starting and ending with a letter or digit"
    )]
    /// The dataset name breaks the naming rules.
    BadDatasetName(String),
    #[error("model package group `{group}` would be {len} characters; SageMaker allows {MAX_GROUP_NAME_LEN}")]
    /// `<pipeline>-<dataset>` is longer than SageMaker allows.
    GroupNameTooLong {
        /// The group name.
        group: String,
        /// Its length in characters.
        len: usize,
    },
}

/// A dataset name: letters, digits and hyphens, starting and ending with a letter or digit
/// (what SageMaker allows inside a model package group name).
pub fn validate_dataset_name(name: &str) -> Result<(), NameError> {
    let bytes = name.as_bytes();
    let valid = !bytes.is_empty()
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || *b == b'-')
        && bytes.first().is_some_and(u8::is_ascii_alphanumeric)
        && bytes.last().is_some_and(u8::is_ascii_alphanumeric);
    if valid {
        Ok(())
    } else {
        Err(NameError::BadDatasetName(name.to_string()))
    }
}

/// An upload, parsed from its key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatasetUpload {
    /// The dataset (the folder under `datasets/`).
    pub dataset: String,
    /// The file name, e.g. `diabetes.csv`.
    pub file: String,
}

/// Parses `datasets/<dataset>/<file>.csv`.
pub fn parse_dataset_key(key: &str) -> Result<DatasetUpload, NameError> {
    let rest = key
        .strip_prefix(DATASETS_PREFIX)
        .ok_or_else(|| NameError::NotADatasetKey(key.to_string()))?;
    if !key.ends_with(DATASET_SUFFIX) {
        return Err(NameError::NotACsv(key.to_string()));
    }
    let (dataset, file) = rest
        .split_once('/')
        .ok_or_else(|| NameError::BadDatasetKeyShape(key.to_string()))?;
    if file.contains('/') || file.len() <= DATASET_SUFFIX.len() {
        return Err(NameError::BadDatasetKeyShape(key.to_string()));
    }
    validate_dataset_name(dataset)?;
    Ok(DatasetUpload {
        dataset: dataset.to_string(),
        file: file.to_string(),
    })
}

/// `datasets/<dataset>/pipeline.json`.
pub fn dataset_settings_key(dataset: &str) -> String {
    format!("{DATASETS_PREFIX}{dataset}/{DATASET_SETTINGS_FILE}")
}

/// The model package group of a dataset: `<pipeline>-<dataset>`.
pub fn group_name(pipeline: &str, dataset: &str) -> Result<String, NameError> {
    validate_dataset_name(dataset)?;
    let group = format!("{pipeline}-{dataset}");
    if group.len() > MAX_GROUP_NAME_LEN {
        return Err(NameError::GroupNameTooLong {
            len: group.len(),
            group,
        });
    }
    Ok(group)
}

/// The dataset of a group of this pipeline, or `None` if the group belongs to something else.
pub fn dataset_of_group(pipeline: &str, group: &str) -> Option<String> {
    let dataset = group.strip_prefix(pipeline)?.strip_prefix('-')?;
    validate_dataset_name(dataset).ok()?;
    Some(dataset.to_string())
}

/// Characters of the execution's idempotency token its display name keeps.
const DISPLAY_TOKEN_LEN: usize = 12;

/// The display name the trigger gives an execution: `<dataset>-<first 12 of its token>`, so
/// that a list of executions (SageMaker's lists no parameters) says which dataset each ran.
pub fn execution_display_name(dataset: &str, token: &str) -> String {
    let cut = token
        .char_indices()
        .nth(DISPLAY_TOKEN_LEN)
        .map_or(token.len(), |(i, _)| i);
    format!("{dataset}-{}", &token[..cut])
}

/// The dataset an [`execution_display_name`] names, or `None` for another display name.
pub fn dataset_of_display_name(display_name: &str) -> Option<String> {
    let (dataset, _token) = display_name.rsplit_once('-')?;
    validate_dataset_name(dataset).ok()?;
    Some(dataset.to_string())
}

/// The multi-model artifact of a group's version: `<group>-v<version>.tar.gz`. Deterministic,
/// so that a replayed deployment writes the same object and the name says what it holds.
pub fn artifact_name(group: &str, version: u32) -> String {
    format!("{group}-v{version}.tar.gz")
}

/// The group and version an artifact name was made from.
pub fn parse_artifact_name(name: &str) -> Option<(String, u32)> {
    let stem = name.strip_suffix(".tar.gz")?;
    let (group, version) = stem.rsplit_once("-v")?;
    if group.is_empty() || version.is_empty() || !version.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((group.to_string(), version.parse().ok()?))
}

/// The immutable copy of one upload: `<prefix><dataset>/<etag>/<file>`, the ETag unquoted. The
/// file name keeps only letters, digits, `.`, `_` and `-` (others become `-`) and at most
/// [`MAX_PINNED_FILE_LEN`] characters, so that the URI is valid model package metadata.
pub fn pinned_dataset_key(prefix: &str, dataset: &str, etag: &str, file: &str) -> String {
    let mut safe: String = file
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '-'
            }
        })
        .collect();
    if safe.len() > MAX_PINNED_FILE_LEN {
        // Keep the end: the `.csv` suffix is what says what it is.
        safe = safe.split_off(safe.len() - MAX_PINNED_FILE_LEN);
    }
    format!("{prefix}{dataset}/{}/{safe}", etag.trim_matches('"'))
}

/// `<reports prefix><dataset>.json`.
pub fn dataset_report_key(reports_prefix: &str, dataset: &str) -> String {
    format!("{reports_prefix}{dataset}.json")
}

/// `<reports prefix>leaderboard.json`.
pub fn leaderboard_key(reports_prefix: &str) -> String {
    format!("{reports_prefix}{LEADERBOARD_FILE}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_display_name_gives_back_its_dataset() {
        let name = execution_display_name("credit-risk", "0123456789abcdef0123");
        assert_eq!(name, "credit-risk-0123456789ab");
        assert_eq!(
            dataset_of_display_name(&name).as_deref(),
            Some("credit-risk")
        );
        assert_eq!(dataset_of_display_name("nodash"), None);
        assert_eq!(dataset_of_display_name("Bad_Name-0123"), None);
    }

    #[test]
    fn dataset_keys_parse() {
        assert_eq!(
            parse_dataset_key("datasets/diabetes/diabetes.csv").unwrap(),
            DatasetUpload {
                dataset: "diabetes".into(),
                file: "diabetes.csv".into()
            }
        );
        assert_eq!(
            parse_dataset_key("uploads/x/y.csv"),
            Err(NameError::NotADatasetKey("uploads/x/y.csv".into()))
        );
        assert_eq!(
            parse_dataset_key("datasets/x/y.json"),
            Err(NameError::NotACsv("datasets/x/y.json".into()))
        );
        assert_eq!(
            parse_dataset_key("datasets/x.csv"),
            Err(NameError::BadDatasetKeyShape("datasets/x.csv".into()))
        );
        assert_eq!(
            parse_dataset_key("datasets/x/sub/y.csv"),
            Err(NameError::BadDatasetKeyShape("datasets/x/sub/y.csv".into()))
        );
        assert_eq!(
            parse_dataset_key("datasets/x/.csv"),
            Err(NameError::BadDatasetKeyShape("datasets/x/.csv".into()))
        );
        assert_eq!(
            parse_dataset_key("datasets/my_data/y.csv"),
            Err(NameError::BadDatasetName("my_data".into()))
        );
        assert_eq!(
            parse_dataset_key("datasets/-x/y.csv"),
            Err(NameError::BadDatasetName("-x".into()))
        );
    }

    #[test]
    fn group_names_round_trip() {
        assert_eq!(
            group_name("mmp", "breast-cancer").unwrap(),
            "mmp-breast-cancer"
        );
        assert_eq!(
            dataset_of_group("mmp", "mmp-breast-cancer").as_deref(),
            Some("breast-cancer")
        );
        assert_eq!(dataset_of_group("mmp", "other-breast-cancer"), None);
        assert_eq!(dataset_of_group("mmp", "mmpx-wine"), None);
        let long = "d".repeat(60);
        assert!(matches!(
            group_name("mmp", &long),
            Err(NameError::GroupNameTooLong { len: 64, .. })
        ));
    }

    #[test]
    fn pinned_keys_name_dataset_etag_and_a_safe_file() {
        assert_eq!(
            pinned_dataset_key("pinned-datasets/", "wine", "\"abc-2\"", "wine.csv"),
            "pinned-datasets/wine/abc-2/wine.csv"
        );
        assert_eq!(
            pinned_dataset_key("p/", "wine", "e", "my data (1).csv"),
            "p/wine/e/my-data--1-.csv"
        );
        let long = format!("{}.csv", "x".repeat(100));
        let key = pinned_dataset_key("p/", "wine", "e", &long);
        assert!(key.ends_with(".csv") && key.len() == "p/wine/e/".len() + MAX_PINNED_FILE_LEN);
        assert!(!key.starts_with(DATASETS_PREFIX));
    }

    #[test]
    fn artifact_names_round_trip() {
        let name = artifact_name("mmp-breast-cancer", 12);
        assert_eq!(name, "mmp-breast-cancer-v12.tar.gz");
        assert_eq!(
            parse_artifact_name(&name),
            Some(("mmp-breast-cancer".into(), 12))
        );
        assert_eq!(parse_artifact_name("mmp-wine-vx.tar.gz"), None);
        assert_eq!(parse_artifact_name("mmp-wine-v3.zip"), None);
    }
}
