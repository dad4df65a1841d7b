//! The port contract: generic async checks that any implementation of the ports must pass.
//! The AWS adapters run them against moto; the local runtime runs them against its adapters.
//! Each function panics with a message naming the broken rule.
//!
//! Not covered here: [`PipelineRunner::execution_steps`] (moto does not implement it) and the
//! endpoint (its answers depend on the model served).
//!
//! moto 5.2, which the AWS adapters run on, implements ListModelPackageGroups (NameContains,
//! paging) and UpdateModelPackage, but not all of ListPipelineExecutions: it ignores SortBy,
//! SortOrder and MaxResults (every execution, oldest first, in one page). So
//! [`execution_history`] holds the adapter's own sort and cut on such an answer, not
//! SageMaker's server-side order and paging.

use futures_util::future::join_all;

use crate::ports::{
    ApprovalStatus, ExecutionHistory, ObjectStore, ObjectUri, Parameter, PipelineRunner,
    PutCondition, SourceVersion, StartExecution,
};
use crate::registry_admin::{ModelRegistryAdmin, NewModelVersion};
use crate::PortError;

fn ok<T>(result: Result<T, PortError>, what: &str) -> T {
    match result {
        Ok(value) => value,
        Err(error) => panic!("{what}: unexpected error {error:?}"),
    }
}

fn expect_err<T: std::fmt::Debug>(result: Result<T, PortError>, what: &str) -> PortError {
    match result {
        Ok(value) => panic!("{what}: expected an error, got {value:?}"),
        Err(error) => error,
    }
}

/// The object store contract, using only keys under `prefix` (which must end in `/` and be
/// empty when called).
pub async fn object_store<S: ObjectStore + ?Sized>(store: &S, prefix: &str) {
    let key = format!("{prefix}doc.json");

    // Missing objects.
    let error = expect_err(store.get(&key).await, "get of a missing key");
    assert!(
        error.is_not_found(),
        "get of a missing key must be NotFound, got {error:?}"
    );
    let error = expect_err(store.head(&key).await, "head of a missing key");
    assert!(
        error.is_not_found(),
        "head of a missing key must be NotFound, got {error:?}"
    );

    // Unconditional put, then get and head agree on the ETag.
    let etag1 = ok(
        store.put(&key, b"one".to_vec(), PutCondition::None).await,
        "put",
    );
    let object = ok(store.get(&key).await, "get after put");
    assert_eq!(object.body, b"one", "get returns what was put");
    assert_eq!(object.etag, etag1, "get's ETag equals put's");
    let meta = ok(store.head(&key).await, "head after put");
    assert_eq!(
        (meta.key.as_str(), meta.etag.as_str(), meta.size),
        (key.as_str(), etag1.as_str(), 3)
    );

    // If-None-Match: * fails on an existing key and leaves it alone.
    let error = expect_err(
        store
            .put(&key, b"other".to_vec(), PutCondition::IfAbsent)
            .await,
        "IfAbsent on existing",
    );
    assert!(
        error.is_precondition_failed(),
        "IfAbsent on an existing key must be PreconditionFailed, got {error:?}"
    );
    assert_eq!(
        ok(store.get(&key).await, "get").body,
        b"one",
        "a failed IfAbsent must not write"
    );
    let fresh = format!("{prefix}fresh");
    ok(
        store
            .put(&fresh, b"new".to_vec(), PutCondition::IfAbsent)
            .await,
        "IfAbsent on a new key",
    );

    // If-Match: the current ETag wins, a stale one fails.
    let etag2 = ok(
        store
            .put(&key, b"two".to_vec(), PutCondition::IfMatch(etag1.clone()))
            .await,
        "IfMatch current",
    );
    assert_ne!(etag1, etag2, "a different body gets a different ETag");
    let error = expect_err(
        store
            .put(
                &key,
                b"three".to_vec(),
                PutCondition::IfMatch(etag1.clone()),
            )
            .await,
        "stale",
    );
    assert!(
        error.is_precondition_failed(),
        "a stale IfMatch must be PreconditionFailed, got {error:?}"
    );
    assert_eq!(
        ok(store.get(&key).await, "get").body,
        b"two",
        "a failed IfMatch must not write"
    );

    // List: only the prefix, sorted, every page.
    for name in ["list/b", "list/a", "list/c/d", "listing"] {
        ok(
            store
                .put(
                    &format!("{prefix}{name}"),
                    name.as_bytes().to_vec(),
                    PutCondition::None,
                )
                .await,
            "put",
        );
    }
    let listed: Vec<String> = ok(store.list(&format!("{prefix}list/")).await, "list")
        .into_iter()
        .map(|meta| meta.key)
        .collect();
    let expected: Vec<String> = ["list/a", "list/b", "list/c/d"]
        .iter()
        .map(|name| format!("{prefix}{name}"))
        .collect();
    assert_eq!(
        listed, expected,
        "list returns exactly the keys under the prefix, sorted"
    );
    let all = ok(store.list(prefix).await, "list all");
    assert_eq!(all.len(), 6, "list of the whole prefix: {all:?}");
    assert!(
        all.windows(2).all(|pair| pair[0].key < pair[1].key),
        "list is sorted by key"
    );
    assert!(ok(store.list(&format!("{prefix}nothing/")).await, "list empty").is_empty());

    // Copy within the store's bucket.
    let source = ObjectUri {
        bucket: store.bucket().to_string(),
        key: key.clone(),
    };
    let copy_key = format!("{prefix}copy/doc.json");
    let copy_etag = ok(store.copy(&source, &copy_key).await, "copy");
    let copied = ok(store.get(&copy_key).await, "get copy");
    assert_eq!(copied.body, b"two", "the copy has the source's bytes");
    assert_eq!(copied.etag, copy_etag, "copy returns the copy's ETag");
    let missing = ObjectUri {
        bucket: store.bucket().to_string(),
        key: format!("{prefix}missing"),
    };
    let error = expect_err(
        store.copy(&missing, &copy_key).await,
        "copy of a missing source",
    );
    assert!(
        error.is_not_found(),
        "copy of a missing source must be NotFound, got {error:?}"
    );

    // A copy of one version: exact while the source has that ETag (quoted or not), refused
    // once it was overwritten, NotFound for a missing source.
    let version = SourceVersion {
        etag: copied.etag.trim_matches('"').to_string(),
        version_id: None,
    };
    let pinned_key = format!("{prefix}pinned/doc.json");
    let pinned_etag = ok(
        store.copy_version(&source, &version, &pinned_key).await,
        "copy_version of the current version",
    );
    assert_eq!(
        ok(store.get(&pinned_key).await, "get pinned").body,
        b"two",
        "copy_version copies the source's bytes"
    );
    assert_eq!(pinned_etag.trim_matches('"'), version.etag);
    ok(
        store.put(&key, b"four".to_vec(), PutCondition::None).await,
        "overwrite the source",
    );
    let overwritten_key = format!("{prefix}pinned/overwritten.json");
    let error = expect_err(
        store
            .copy_version(&source, &version, &overwritten_key)
            .await,
        "copy_version of an overwritten source",
    );
    assert!(
        error.is_precondition_failed(),
        "copy_version of an overwritten source must be PreconditionFailed, got {error:?}"
    );
    assert!(
        expect_err(store.get(&overwritten_key).await, "get refused copy").is_not_found(),
        "a refused copy_version writes nothing"
    );
    let error = expect_err(
        store
            .copy_version(&missing, &version, &overwritten_key)
            .await,
        "copy_version of a missing source",
    );
    assert!(
        error.is_not_found(),
        "copy_version of a missing source must be NotFound, got {error:?}"
    );

    // Delete, twice.
    ok(store.delete(&key).await, "delete");
    assert!(
        expect_err(store.get(&key).await, "get deleted").is_not_found(),
        "a deleted key is gone"
    );
    ok(store.delete(&key).await, "delete of a missing key succeeds");

    concurrent_creates(store, &format!("{prefix}race/create")).await;
    concurrent_increments(store, &format!("{prefix}race/counter")).await;
}

/// Eight simultaneous `IfAbsent` puts of one key: exactly one wins.
async fn concurrent_creates<S: ObjectStore + ?Sized>(store: &S, key: &str) {
    let attempts = (0..8).map(|n| {
        store.put(
            key,
            format!("writer {n}").into_bytes(),
            PutCondition::IfAbsent,
        )
    });
    let outcomes = join_all(attempts).await;
    let winners = outcomes.iter().filter(|outcome| outcome.is_ok()).count();
    assert_eq!(
        winners, 1,
        "exactly one concurrent IfAbsent put wins: {outcomes:?}"
    );
    for outcome in outcomes.iter().filter_map(|outcome| outcome.as_ref().err()) {
        assert!(
            outcome.is_precondition_failed(),
            "the losers get PreconditionFailed, got {outcome:?}"
        );
    }
}

/// Eight concurrent read-modify-write loops with `IfMatch`: no increment is lost.
async fn concurrent_increments<S: ObjectStore + ?Sized>(store: &S, key: &str) {
    ok(
        store.put(key, b"0".to_vec(), PutCondition::IfAbsent).await,
        "create counter",
    );
    let increment = || async {
        loop {
            let object = ok(store.get(key).await, "read counter");
            let value: u32 = String::from_utf8_lossy(&object.body)
                .parse()
                .unwrap_or(u32::MAX);
            let next = (value + 1).to_string().into_bytes();
            match store
                .put(key, next, PutCondition::IfMatch(object.etag))
                .await
            {
                Ok(_) => return,
                Err(error) if error.is_precondition_failed() => continue,
                Err(error) => panic!("increment: unexpected error {error:?}"),
            }
        }
    };
    join_all((0..8).map(|_| increment())).await;
    let body = ok(store.get(key).await, "read counter").body;
    assert_eq!(body, b"8", "eight IfMatch increments leave 8");
}

/// The registry contract. `group` must not exist yet; `model_data_url` and `evaluation_uri`
/// are stored as given.
pub async fn model_registry<R: ModelRegistryAdmin + ?Sized>(
    registry: &R,
    group: &str,
    image_uri: &str,
) {
    assert!(
        ok(
            registry.list_versions(group, None).await,
            "list of an unknown group"
        )
        .is_empty(),
        "an unknown group has no versions"
    );
    ok(registry.ensure_group(group).await, "ensure_group");
    ok(
        registry.ensure_group(group).await,
        "ensure_group is idempotent",
    );

    let statuses = [
        ApprovalStatus::Approved,
        ApprovalStatus::PendingManualApproval,
        ApprovalStatus::Approved,
        ApprovalStatus::Rejected,
    ];
    let mut arns = Vec::new();
    for (index, status) in statuses.iter().enumerate() {
        let version = NewModelVersion {
            group: group.to_string(),
            model_data_url: format!("s3://contract-models/{group}/{index}/model.tar.gz"),
            evaluation_uri: Some(format!(
                "s3://contract-models/{group}/{index}/evaluation.json"
            )),
            status: *status,
            image_uri: image_uri.to_string(),
            metadata: [
                ("algorithm".to_string(), "RandomForest".to_string()),
                ("index".to_string(), index.to_string()),
            ]
            .into(),
        };
        let summary = ok(
            registry.register_version(&version).await,
            "register_version",
        );
        assert_eq!(
            summary.version as usize,
            index + 1,
            "versions are numbered 1, 2, 3… in order"
        );
        assert_eq!(summary.status, *status);
        assert_eq!(summary.group, group);
        arns.push(summary.arn);
    }

    let versions = |status| async move {
        ok(registry.list_versions(group, status).await, "list_versions")
            .into_iter()
            .map(|summary| summary.version)
            .collect::<Vec<_>>()
    };
    assert_eq!(
        versions(None).await,
        vec![4, 3, 2, 1],
        "all versions, newest first"
    );
    assert_eq!(
        versions(Some(ApprovalStatus::Approved)).await,
        vec![3, 1],
        "Approved versions, newest first"
    );
    assert_eq!(versions(Some(ApprovalStatus::Rejected)).await, vec![4]);

    let described = ok(
        registry.describe_version(&arns[2]).await,
        "describe_version",
    );
    assert_eq!(described.summary.version, 3);
    assert_eq!(described.summary.status, ApprovalStatus::Approved);
    assert_eq!(
        described.model_data_url,
        format!("s3://contract-models/{group}/2/model.tar.gz")
    );
    assert_eq!(
        described.evaluation_uri,
        Some(format!("s3://contract-models/{group}/2/evaluation.json"))
    );
    assert_eq!(
        described.metadata,
        [
            ("algorithm".to_string(), "RandomForest".to_string()),
            ("index".to_string(), "2".to_string()),
        ]
        .into(),
        "CustomerMetadataProperties come back as registered"
    );

    // Rejecting the newest Approved version rolls back to the previous one; approving an
    // older pending version makes it the newest Approved one.
    ok(
        registry
            .set_status(&arns[2], ApprovalStatus::Rejected)
            .await,
        "reject v3",
    );
    assert_eq!(versions(Some(ApprovalStatus::Approved)).await, vec![1]);
    ok(
        registry
            .set_status(&arns[1], ApprovalStatus::Approved)
            .await,
        "approve v2",
    );
    assert_eq!(versions(Some(ApprovalStatus::Approved)).await, vec![2, 1]);
    ok(
        registry
            .set_status(&arns[0], ApprovalStatus::Rejected)
            .await,
        "reject v1",
    );
    ok(
        registry
            .set_status(&arns[1], ApprovalStatus::Rejected)
            .await,
        "reject v2",
    );
    assert!(
        versions(Some(ApprovalStatus::Approved)).await.is_empty(),
        "no Approved version left"
    );

    let unknown = arns[0].replace(group, &format!("{group}-unknown"));
    let error = expect_err(
        registry.describe_version(&unknown).await,
        "describe of an unknown version",
    );
    assert!(
        error.is_not_found(),
        "describe of an unknown version must be NotFound, got {error:?}"
    );
}

/// The operator's registry contract: listing groups by prefix and changing a version's status.
/// No group whose name starts with `prefix` or with `x{prefix}` may exist yet; `prefix` must be
/// made of what group names are made of (letters, digits, `-`).
pub async fn model_registry_operator<R: ModelRegistryAdmin + ?Sized>(
    registry: &R,
    prefix: &str,
    image_uri: &str,
) {
    // (a) Exactly the groups whose name starts with the prefix, sorted by name, whatever order
    // they were created in. `x{prefix}-c` contains the prefix without starting with it.
    let names = |suffixes: &[&str]| -> Vec<String> {
        suffixes
            .iter()
            .map(|suffix| format!("{prefix}{suffix}"))
            .collect()
    };
    for group in names(&["-b", "-a-2", "-a"])
        .into_iter()
        .chain([format!("x{prefix}-c")])
    {
        ok(registry.ensure_group(&group).await, "ensure_group");
    }
    assert_eq!(
        ok(registry.list_groups(prefix).await, "list_groups"),
        names(&["-a", "-a-2", "-b"]),
        "list_groups returns exactly the groups starting with the prefix, sorted by name"
    );
    assert_eq!(
        ok(
            registry.list_groups(&format!("{prefix}-a")).await,
            "list_groups of a longer prefix"
        ),
        names(&["-a", "-a-2"]),
    );
    assert_eq!(
        ok(
            registry.list_groups(&format!("{prefix}-a-2")).await,
            "list_groups of a whole name"
        ),
        names(&["-a-2"]),
        "a prefix that is a whole name lists that group"
    );
    for unknown in [format!("{prefix}-z"), format!("{prefix}_")] {
        assert!(
            ok(
                registry.list_groups(&unknown).await,
                "list_groups of an unknown prefix"
            )
            .is_empty(),
            "no group starts with {unknown:?}"
        );
    }
    let everything = ok(registry.list_groups("").await, "list_groups of everything");
    for group in names(&["-a", "-a-2", "-b"])
        .into_iter()
        .chain([format!("x{prefix}-c")])
    {
        assert!(
            everything.contains(&group),
            "the empty prefix lists every group: {group} is missing from {everything:?}"
        );
    }
    assert!(
        everything.windows(2).all(|pair| pair[0] < pair[1]),
        "list_groups is sorted by name: {everything:?}"
    );

    // (b) Approving, then rejecting, shows through list_versions and describe_version.
    let group = format!("{prefix}-a");
    let registered = ok(
        registry
            .register_version(&NewModelVersion {
                group: group.clone(),
                model_data_url: format!("s3://contract-models/{group}/model.tar.gz"),
                evaluation_uri: None,
                status: ApprovalStatus::PendingManualApproval,
                image_uri: image_uri.to_string(),
                metadata: Default::default(),
            })
            .await,
        "register_version",
    );
    let status_seen = |status: ApprovalStatus| {
        let (group, arn) = (group.clone(), registered.arn.clone());
        async move {
            let described = ok(registry.describe_version(&arn).await, "describe_version");
            assert_eq!(
                described.summary.status, status,
                "describe_version shows the status set"
            );
            let listed = ok(
                registry.list_versions(&group, Some(status)).await,
                "list_versions",
            );
            assert_eq!(
                listed.iter().map(|v| v.arn.as_str()).collect::<Vec<_>>(),
                [arn.as_str()],
                "list_versions with the status set lists the version"
            );
        }
    };
    for status in [ApprovalStatus::Approved, ApprovalStatus::Rejected] {
        ok(
            registry.set_status(&registered.arn, status).await,
            "set_status",
        );
        status_seen(status).await;
    }
    assert!(
        ok(
            registry
                .list_versions(&group, Some(ApprovalStatus::Approved))
                .await,
            "list_versions"
        )
        .is_empty(),
        "a rejected version is no longer listed as Approved"
    );

    let unknown = format!("{}9", registered.arn);
    let error = expect_err(
        registry
            .set_status(&unknown, ApprovalStatus::Approved)
            .await,
        "set_status of an unknown version",
    );
    assert!(
        error.is_not_found(),
        "set_status of an unknown version must be NotFound, got {error:?}"
    );
    let unknown_group = registered.arn.replace(&group, &format!("{group}-unknown"));
    let error = expect_err(
        registry
            .set_status(&unknown_group, ApprovalStatus::Approved)
            .await,
        "set_status of a version of an unknown group",
    );
    assert!(
        error.is_not_found(),
        "set_status of a version of an unknown group must be NotFound, got {error:?}"
    );
    status_seen(ApprovalStatus::Rejected).await;
}

/// The execution history contract. `pipeline` must exist, accept the parameters
/// `DatasetName` and `InputDataUri`, and have no executions yet.
///
/// An unknown pipeline is `NotFound`, as SageMaker answers ListPipelineExecutions for one
/// (ResourceNotFound), not an empty list. Executions are started some milliseconds apart:
/// SageMaker's start times are milliseconds, and executions started within one have no order
/// every executor keeps.
pub async fn execution_history<P: ExecutionHistory + ?Sized>(runner: &P, pipeline: &str) {
    use mmp_pipeline::parameters::{DATASET_NAME, INPUT_DATA_URI};

    assert!(
        ok(
            runner.list_executions(pipeline, 10).await,
            "list_executions of a pipeline without executions"
        )
        .is_empty(),
        "a pipeline without executions lists none"
    );

    let mut started = Vec::new();
    for n in 1..=3 {
        let request = StartExecution {
            pipeline_name: pipeline.to_string(),
            client_request_token: format!("contract-history-token-{n}"),
            display_name: Some(format!("history-{n}")),
            description: Some("contract test".to_string()),
            parameters: vec![
                Parameter::new(DATASET_NAME, format!("history{n}")),
                Parameter::new(
                    INPUT_DATA_URI,
                    format!("s3://contract-bucket/datasets/history{n}/data.csv"),
                ),
            ],
        };
        started.push(ok(
            runner.start_execution(&request).await,
            "start_execution",
        ));
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let newest_first: Vec<String> = started.iter().rev().cloned().collect();

    let listed = ok(
        runner.list_executions(pipeline, 10).await,
        "list_executions",
    );
    assert_eq!(
        listed.iter().map(|e| e.arn.clone()).collect::<Vec<_>>(),
        newest_first,
        "list_executions returns every execution, newest first"
    );
    for (summary, n) in listed.iter().zip([3, 2, 1]) {
        assert_eq!(
            summary.display_name.as_deref(),
            Some(format!("history-{n}").as_str()),
            "an execution is listed with its display name"
        );
    }
    let starts: Vec<Option<i64>> = listed.iter().map(|e| e.started_at_ms).collect();
    assert!(
        starts.iter().all(Option::is_some) && starts.windows(2).all(|pair| pair[0] >= pair[1]),
        "every execution has a start time, newest first: {starts:?}"
    );

    for limit in [2, 1] {
        let listed = ok(
            runner.list_executions(pipeline, limit).await,
            "list_executions with a limit",
        );
        assert_eq!(
            listed.into_iter().map(|e| e.arn).collect::<Vec<_>>(),
            newest_first[..limit].to_vec(),
            "list_executions with limit {limit} returns the {limit} newest"
        );
    }
    assert!(
        ok(
            runner.list_executions(pipeline, 0).await,
            "list_executions with limit 0"
        )
        .is_empty(),
        "limit 0 lists nothing"
    );

    for limit in [10, 0] {
        let error = expect_err(
            runner
                .list_executions(&format!("{pipeline}-unknown"), limit)
                .await,
            "list_executions of an unknown pipeline",
        );
        assert!(
            error.is_not_found(),
            "list_executions of an unknown pipeline must be NotFound (limit {limit}), got {error:?}"
        );
    }
}

/// The pipeline executor contract. `pipeline` must exist and accept the parameters
/// `DatasetName` and `InputDataUri`.
pub async fn pipeline_runner<P: PipelineRunner + ?Sized>(runner: &P, pipeline: &str) {
    use mmp_pipeline::parameters::{DATASET_NAME, INPUT_DATA_URI};

    let parameters = vec![
        Parameter::new(DATASET_NAME, "contract"),
        Parameter::new(
            INPUT_DATA_URI,
            "s3://contract-bucket/datasets/contract/data.csv",
        ),
    ];
    let request = StartExecution {
        pipeline_name: pipeline.to_string(),
        client_request_token: "contract-token-1".to_string(),
        display_name: Some("contract-1".to_string()),
        description: Some("contract test".to_string()),
        parameters: parameters.clone(),
    };
    let arn = ok(runner.start_execution(&request).await, "start_execution");
    assert!(
        arn.contains(pipeline),
        "the execution ARN names its pipeline: {arn}"
    );

    let described = ok(runner.describe_execution(&arn).await, "describe_execution");
    assert_eq!(described.arn, arn);
    assert!(
        ["Executing", "Stopping", "Stopped", "Failed", "Succeeded"]
            .contains(&described.status.as_str()),
        "execution status is one of SageMaker's: {}",
        described.status
    );

    let actual = ok(
        runner.execution_parameters(&arn).await,
        "execution_parameters",
    );
    for expected in &parameters {
        assert!(
            actual.contains(expected),
            "the execution runs with {expected:?}; it has {actual:?}"
        );
    }

    let unknown = arn.replace(pipeline, &format!("{pipeline}-unknown"));
    let error = expect_err(
        runner.describe_execution(&unknown).await,
        "describe of an unknown execution",
    );
    assert!(
        error.is_not_found(),
        "describe of an unknown execution must be NotFound, got {error:?}"
    );

    let missing = StartExecution {
        pipeline_name: format!("{pipeline}-unknown"),
        ..request
    };
    let error = expect_err(
        runner.start_execution(&missing).await,
        "start of an unknown pipeline",
    );
    assert!(
        error.is_not_found(),
        "start of an unknown pipeline must be NotFound, got {error:?}"
    );
}

/// An environment for [`config_reads_exactly`]: the lookup of a fixed set of variables.
pub type TestEnv = crate::config::Env<Box<dyn Fn(&str) -> Option<String>>>;

fn test_env(values: &[(&'static str, &str)]) -> TestEnv {
    let values: Vec<(String, String)> = values
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    crate::config::Env::new(Box::new(move |name: &str| {
        values
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    }))
}

/// The configuration contract of a function: with `required` set, `read` succeeds and reads
/// exactly `env_vars` (the function's `ENV_VARS`, which Terraform must set); with nothing set it
/// fails naming the first required variable. Returns what `read` parsed.
pub fn config_reads_exactly<T>(
    read: impl Fn(&TestEnv) -> Result<T, crate::config::ConfigError>,
    required: &[(&'static str, &str)],
    env_vars: &[&str],
) -> T {
    let env = test_env(required);
    let parsed = match read(&env) {
        Ok(parsed) => parsed,
        Err(error) => panic!("configuration with {required:?}: {error}"),
    };
    let mut expected = env_vars.to_vec();
    expected.sort_unstable();
    assert_eq!(
        env.names_read(),
        expected,
        "the variables read are ENV_VARS"
    );
    let missing = match read(&test_env(&[])) {
        Ok(_) => panic!("a configuration with nothing set must fail"),
        Err(error) => error,
    };
    if let Some((first, _)) = required.first() {
        assert_eq!(
            missing.to_string(),
            format!("environment variable {first} is not set")
        );
    }
    parsed
}
