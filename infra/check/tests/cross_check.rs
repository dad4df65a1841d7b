//! The cross-checks between the Terraform and the code it deploys: every environment variable
//! a function reads is set by Terraform (and nothing else is), every role grants exactly the
//! API calls the function's adapters make, and the bucket layout Terraform grants on is the
//! one the code uses.

mod common;

use common::*;
use mmp_common::{config as env, naming};
use mmp_infra_check::expr::{text, traversal_path};
use mmp_infra_check::{functions, iam};

/// A function crate and what it declares about itself.
struct Function {
    name: &'static str,
    env_vars: &'static [&'static str],
    iam_actions: &'static [&'static str],
}

/// The function crates that declare ENV_VARS and IAM_ACTIONS.
const DECLARED: [Function; 3] = [
    Function {
        name: "pipeline-trigger",
        env_vars: pipeline_trigger::ENV_VARS,
        iam_actions: pipeline_trigger::IAM_ACTIONS,
    },
    Function {
        name: "model-deployer",
        env_vars: model_deployer::ENV_VARS,
        iam_actions: model_deployer::IAM_ACTIONS,
    },
    Function {
        name: "endpoint-invoker",
        env_vars: endpoint_invoker::ENV_VARS,
        iam_actions: endpoint_invoker::IAM_ACTIONS,
    },
];

/// The crates Terraform deploys, whether or not they declare their needs yet.
const ALL: [&str; 4] = [
    "pipeline-trigger",
    "model-deployer",
    "endpoint-invoker",
    "metrics-reporter",
];

/// Variables the Lambda runtime sets itself; Terraform may not (and need not) set them.
fn set_by_lambda(name: &str) -> bool {
    name.starts_with("AWS_") || name.starts_with("LAMBDA_") || name == "_HANDLER" || name == "TZ"
}

fn sorted<S: Into<String>>(items: impl IntoIterator<Item = S>) -> Vec<String> {
    let mut v: Vec<String> = items.into_iter().map(Into::into).collect();
    v.sort();
    v.dedup();
    v
}

#[test]
fn terraform_deploys_exactly_the_four_function_crates() {
    let config = config();
    let deployed = sorted(functions::names(&config).unwrap_or_else(|e| panic!("{e}")));
    assert_eq!(deployed, sorted(ALL));
    for name in ALL {
        assert!(
            repo_root()
                .join("functions")
                .join(name)
                .join("Cargo.toml")
                .is_file(),
            "functions/{name} is not a crate"
        );
    }
}

#[test]
fn each_function_gets_exactly_the_environment_it_reads() {
    let config = config();
    for f in &DECLARED {
        let set = functions::environment(&config, f.name).unwrap_or_else(|e| panic!("{e}"));
        let read = sorted(f.env_vars.iter().copied().filter(|n| !set_by_lambda(n)));
        let unset: Vec<&String> = read.iter().filter(|n| !set.contains(n)).collect();
        assert!(
            unset.is_empty(),
            "{} reads {unset:?}, which Terraform does not set",
            f.name
        );
        let unread: Vec<&String> = set.iter().filter(|n| !read.contains(n)).collect();
        assert!(
            unread.is_empty(),
            "Terraform sets {unread:?} for {}, which never reads it",
            f.name
        );
    }
}

#[test]
fn each_role_grants_exactly_the_calls_its_adapters_make() {
    let config = config();
    for f in &DECLARED {
        for action in f.iam_actions {
            assert!(
                !iam::is_wildcard_action(action),
                "{}: IAM_ACTIONS holds a wildcard {action}",
                f.name
            );
        }
        let statements =
            functions::access_policy(&config, f.name).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            iam::allowed_actions(&statements),
            sorted(f.iam_actions.iter().copied()),
            "{}: the role's access policy vs the crate's IAM_ACTIONS",
            f.name
        );
    }
    // What every role gets besides: writing its own log streams and, when invoked
    // asynchronously, sending failed events to the dead-letter queue. Nothing else.
    let runtime = functions::runtime_policy(&config).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        iam::allowed_actions(&runtime),
        [
            "logs:CreateLogStream",
            "logs:PutLogEvents",
            "sqs:SendMessage"
        ]
    );
}

/// The local a function's environment variable is set from, e.g. `prefix_endpoint_model`.
fn env_local(config: &mmp_infra_check::Config, function: &str, var: &str) -> Option<String> {
    let values = functions::environment_values(config, function).unwrap_or_else(|e| panic!("{e}"));
    let (_, expr) = values.into_iter().rev().find(|(k, _)| k == var)?;
    match traversal_path(expr).as_deref() {
        Some([local, name]) if local == "local" => Some(name.clone()),
        _ => panic!("{function}: {var} is not set from a local"),
    }
}

#[test]
fn the_keys_terraform_grants_on_are_the_keys_the_code_uses() {
    let config = config();
    let local = |name: &str| {
        config
            .local(name)
            .and_then(text)
            .unwrap_or_else(|| panic!("local.{name} is not a literal"))
            .to_owned()
    };
    // Uploads: the notification filter and the trigger's parsing of keys.
    assert_eq!(local("prefix_datasets"), naming::DATASETS_PREFIX);
    let notification = config
        .resource("aws_s3_bucket_notification", "datasets")
        .expect("bucket notification");
    let filter = mmp_infra_check::config::nested(notification, "lambda_function")
        .next()
        .expect("lambda_function");
    assert_eq!(
        mmp_infra_check::config::attribute(filter, "filter_suffix").and_then(text),
        Some(naming::DATASET_SUFFIX)
    );

    // Every prefix or key a function is told is the local its role's grants are built from,
    // and that local is the code's own default, so the local runtime and AWS agree.
    let cases = [
        (
            env::ENV_TRIGGER_CLAIMS_PREFIX,
            "prefix_trigger_claims",
            naming::DEFAULT_TRIGGER_CLAIMS_PREFIX,
        ),
        (
            env::ENV_MODELS_PREFIX,
            "prefix_endpoint_model",
            naming::DEFAULT_MODELS_PREFIX,
        ),
        (
            env::ENV_ROUTING_KEY,
            "key_routing_table",
            naming::DEFAULT_ROUTING_KEY,
        ),
        (
            env::ENV_REPORTS_PREFIX,
            "prefix_reports",
            naming::DEFAULT_REPORTS_PREFIX,
        ),
    ];
    let mut checked = 0;
    for f in &DECLARED {
        for (var, local_name, default) in cases {
            if !f.env_vars.contains(&var) {
                continue;
            }
            checked += 1;
            assert_eq!(
                env_local(&config, f.name, var).as_deref(),
                Some(local_name),
                "{}: {var} must come from local.{local_name}",
                f.name
            );
            assert_eq!(
                local(local_name),
                default,
                "local.{local_name} vs the code's default"
            );
        }
    }
    assert!(checked >= 3, "only {checked} prefixes checked");

    // Which function reads or writes under which key (docs/architecture.md's data flow): its
    // role must grant there. (A function may be told a key it only names, e.g. the invoker
    // the multi-model prefix its TargetModel is relative to.)
    let touches = [
        ("pipeline-trigger", "prefix_datasets"),
        ("pipeline-trigger", "prefix_trigger_claims"),
        ("model-deployer", "prefix_pipeline_runs"),
        ("model-deployer", "prefix_endpoint_model"),
        ("model-deployer", "key_routing_table"),
        ("endpoint-invoker", "key_routing_table"),
        ("metrics-reporter", "prefix_pipeline_runs"),
        ("metrics-reporter", "prefix_reports"),
    ];
    for (function, local_name) in touches {
        if !DECLARED.iter().any(|f| f.name == function) {
            continue;
        }
        let grants = functions::access_policy(&config, function).unwrap_or_else(|e| panic!("{e}"));
        assert!(
            grants
                .iter()
                .flat_map(|s| &s.resources)
                .any(|r| r.contains(&format!("${{local.{local_name}}}"))),
            "{function}: no grant on local.{local_name}"
        );
    }
}
