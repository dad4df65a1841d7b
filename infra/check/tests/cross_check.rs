//! The cross-checks between the Terraform and the code it deploys: every environment variable
//! a function reads is set by Terraform (and nothing else is), every role grants exactly the
//! API calls the function's adapters make, and the bucket layout Terraform grants on is the
//! one the code uses.

mod common;

use common::*;
use mmp_common::pattern::Pattern;
use mmp_common::{config as env, events, naming};
use mmp_infra_check::expr::{text, traversal_path};
use mmp_infra_check::{functions, iam};

/// A function crate and what it declares about itself.
struct Function {
    name: &'static str,
    env_vars: &'static [&'static str],
    iam_actions: &'static [&'static str],
}

/// The function crates, with what they declare.
const FUNCTIONS: [Function; 4] = [
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
    Function {
        name: "metrics-reporter",
        env_vars: metrics_reporter::ENV_VARS,
        iam_actions: metrics_reporter::IAM_ACTIONS,
    },
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
    assert_eq!(deployed, sorted(FUNCTIONS.iter().map(|f| f.name)));
    for name in FUNCTIONS.iter().map(|f| f.name) {
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
    for f in &FUNCTIONS {
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
    for f in &FUNCTIONS {
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
    // Uploads: the grants on datasets/ and the trigger's parsing of keys (the notification's
    // filter file itself is checked against the naming rule by mmp-common's tests).
    assert_eq!(local("prefix_datasets"), naming::DATASETS_PREFIX);
    let filter: serde_json::Value =
        serde_json::from_str(&read("events/patterns/dataset-object-created.json"))
            .unwrap_or_else(|e| panic!("dataset-object-created.json: {e}"));
    assert_eq!(filter["filter_prefix"], naming::DATASETS_PREFIX);
    assert_eq!(filter["filter_suffix"], naming::DATASET_SUFFIX);

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
    for f in &FUNCTIONS {
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

/// The sample events of `events/samples/` that EventBridge delivers (they have a detail-type).
fn eventbridge_samples() -> Vec<(String, serde_json::Value)> {
    let dir = repo_root().join("events/samples");
    let mut samples: Vec<(String, serde_json::Value)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{dir:?}: {e}"))
        .map(|entry| entry.unwrap_or_else(|e| panic!("{e}")).path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .map(|p| {
            let text = std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{p:?}: {e}"));
            let value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{p:?}: {e}"));
            (
                p.file_name()
                    .unwrap_or_default()
                    .to_string_lossy()
                    .into_owned(),
                value,
            )
        })
        .filter(|(_, v): &(String, serde_json::Value)| v.get("detail-type").is_some())
        .collect();
    samples.sort_by(|a, b| a.0.cmp(&b.0));
    samples
}

#[test]
fn the_rules_deploy_the_local_bus_patterns_and_route_each_sample_to_its_handler() {
    let config = config();
    let rules = functions::event_rules(&config).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(rules.len(), 2, "{rules:?}");

    // The handler that parses each kind of event.
    let handler_of = |detail_type: &str| match detail_type {
        t if t == events::MODEL_PACKAGE_STATE_CHANGE => Some("model-deployer"),
        t if t == events::PIPELINE_EXECUTION_STATUS_CHANGE => Some("metrics-reporter"),
        _ => None,
    };

    let mut deployed = Vec::new();
    for rule in &rules {
        let path = resolve_path(&config, &rule.pattern_path);
        assert!(
            path.ends_with(format!("events/patterns/{}.json", rule.name)),
            "rule {} deploys {path:?}, not the local bus's pattern file",
            rule.name
        );
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
        // Filled as Terraform's templatefile fills it; the samples belong to the pipeline `mmp`.
        let pattern =
            Pattern::from_rule_file(&text, "mmp").unwrap_or_else(|e| panic!("{path:?}: {e}"));
        deployed.push((rule, pattern));
    }

    let samples = eventbridge_samples();
    assert!(
        samples.len() >= 4,
        "only {} EventBridge samples",
        samples.len()
    );
    for (name, sample) in &samples {
        let detail_type = sample["detail-type"].as_str().unwrap_or("?");
        let targets: Vec<&str> = deployed
            .iter()
            .filter(|(_, p)| p.matches(sample))
            .map(|(r, _)| r.function.as_str())
            .collect();
        assert!(targets.len() <= 1, "{name} is delivered twice: {targets:?}");
        if let Some(target) = targets.first() {
            assert_eq!(
                Some(*target),
                handler_of(detail_type),
                "{name} ({detail_type}) reaches {target}, which does not handle it"
            );
        }
    }
    for (rule, pattern) in &deployed {
        assert!(
            samples.iter().any(|(_, s)| pattern.matches(s)),
            "rule {} matches no sample event",
            rule.name
        );
        assert!(
            samples.iter().any(|(_, s)| !pattern.matches(s)
                && handler_of(s["detail-type"].as_str().unwrap_or(""))
                    == Some(rule.function.as_str())),
            "rule {} lets every sample of its kind through (no filtering is shown)",
            rule.name
        );
    }
}
