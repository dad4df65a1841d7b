//! The Terraform configuration, parsed with a real HCL parser and checked as data: structure,
//! provider pinning, variables, least-privilege policies, the pipeline definition template.

mod common;

use common::*;
use mmp_infra_check::config::{attribute, nested};
use mmp_infra_check::expr::{call, object_keys, text, traversal_path};
use mmp_infra_check::iam;
use mmp_infra_check::template;

#[test]
fn every_file_parses_and_each_concern_has_its_file() {
    let config = config();
    let names: Vec<&str> = config.files.iter().map(|f| f.name.as_str()).collect();
    for concern in [
        "versions",
        "variables",
        "storage",
        "images",
        "pipeline",
        "endpoint",
        "functions",
        "events",
        "iam",
        "outputs",
    ] {
        assert!(
            names.contains(&format!("{concern}.tf").as_str()),
            "infra/{concern}.tf is missing; files: {names:?}"
        );
    }
}

#[test]
fn only_the_aws_provider_is_used_and_its_version_is_pinned() {
    let config = config();
    let (_, terraform) = config.blocks("terraform").next().expect("terraform block");
    let providers = nested(terraform, "required_providers")
        .next()
        .expect("required_providers");
    let names: Vec<&str> = providers.body().attributes().map(|a| a.key()).collect();
    assert_eq!(names, ["aws"], "only the aws provider may be required");
    let aws = providers
        .body()
        .attributes()
        .next()
        .map(|a| a.expr())
        .unwrap();
    let source = mmp_infra_check::expr::object_get(aws, "source").and_then(text);
    let version = mmp_infra_check::expr::object_get(aws, "version").and_then(text);
    assert_eq!(source, Some("hashicorp/aws"));
    let version = version.expect("the aws provider's version is pinned");
    assert!(
        version.starts_with("~> 6."),
        "pin the aws provider to a major line: {version}"
    );

    for (kind, name, _) in config.resources() {
        assert!(
            kind.starts_with("aws_") || kind == "terraform_data",
            "resource {kind}.{name} needs a provider other than aws"
        );
    }
    for (kind, name, _) in config.data_sources() {
        assert!(
            kind.starts_with("aws_"),
            "data {kind}.{name} needs a provider other than aws"
        );
    }
}

#[test]
fn every_variable_has_a_description_a_type_and_validates_scalars() {
    let config = config();
    let mut count = 0;
    for (file, block) in config.blocks("variable") {
        count += 1;
        let name = block.labels().first().map(|l| l.as_str()).unwrap_or("?");
        let description = attribute(block, "description").and_then(text);
        assert!(
            description.is_some_and(|d| d.len() > 10),
            "{file}: variable {name} needs a description"
        );
        let ty = attribute(block, "type")
            .map(mmp_infra_check::expr::source)
            .unwrap_or_else(|| panic!("{file}: variable {name} needs a type"));
        if ty == "string" || ty == "number" {
            let free_text = ["function_log_level"];
            assert!(
                nested(block, "validation").next().is_some() || free_text.contains(&name),
                "{file}: variable {name} ({ty}) needs a validation block"
            );
        }
    }
    assert!(count >= 10, "only {count} variables found");
}

#[test]
fn no_policy_grants_wildcard_actions_or_star_resources_that_could_be_narrowed() {
    let config = config();
    let mut documents = 0;
    for (kind, name, block) in config.data_sources() {
        if kind != "aws_iam_policy_document" {
            continue;
        }
        documents += 1;
        let statements = iam::statements(block).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(!statements.is_empty(), "policy {name} has no statement");
        let problems: Vec<String> = statements.iter().flat_map(iam::breadth_problems).collect();
        assert!(problems.is_empty(), "policy {name}: {problems:#?}");
        for s in &statements {
            assert!(
                s.sid.is_some(),
                "policy {name}: every statement says its purpose in a sid"
            );
        }
    }
    assert!(documents >= 8, "only {documents} policy documents found");
}

#[test]
fn the_pipeline_definition_template_gets_exactly_its_placeholders() {
    let config = config();
    let definition = resource_attr(
        &config,
        "aws_sagemaker_pipeline",
        "this",
        "pipeline_definition",
    );
    let args = call(definition, "templatefile").expect("pipeline_definition = templatefile(...)");
    let path = args
        .first()
        .and_then(text)
        .expect("a literal template path");
    assert_eq!(path, "${path.module}/pipeline-definition.json");
    let vars = args
        .get(1)
        .and_then(object_keys)
        .expect("template variables as an object");

    let text = read("infra/pipeline-definition.json");
    let placeholders = template::placeholders(&text)
        .unwrap_or_else(|e| panic!("infra/pipeline-definition.json: {e}"));
    let mut vars_sorted = vars.clone();
    vars_sorted.sort();
    assert_eq!(
        vars_sorted, placeholders,
        "templatefile variables vs the file's ${{...}}"
    );
    for expected in ["bucket", "image_uri", "pipeline_name", "role_arn"] {
        assert!(
            placeholders.iter().any(|p| p == expected),
            "${{{expected}}} is not used"
        );
    }

    let rendered = template::render(
        &text,
        &[
            (
                "image_uri",
                "123456789012.dkr.ecr.us-east-1.amazonaws.com/mmp-container@sha256:00",
            ),
            (
                "role_arn",
                "arn:aws:iam::123456789012:role/mmp-sagemaker-pipeline",
            ),
            ("bucket", "mmp-123456789012-us-east-1"),
            ("pipeline_name", "mmp"),
        ],
    );
    let json: serde_json::Value = serde_json::from_str(&rendered)
        .unwrap_or_else(|e| panic!("the rendered pipeline definition is not JSON: {e}"));
    assert!(
        json["Steps"].as_array().is_some_and(|s| !s.is_empty()),
        "no Steps"
    );
}

/// The API call the pipeline service makes (with the pipeline's role) for each step type.
fn action_for_step_type(step_type: &str) -> Option<&'static str> {
    match step_type {
        "Processing" => Some("sagemaker:CreateProcessingJob"),
        "Training" => Some("sagemaker:CreateTrainingJob"),
        "Tuning" => Some("sagemaker:CreateHyperParameterTuningJob"),
        "RegisterModel" => Some("sagemaker:CreateModelPackage"),
        "Model" => Some("sagemaker:CreateModel"),
        "Transform" => Some("sagemaker:CreateTransformJob"),
        "Lambda" => Some("lambda:InvokeFunction"),
        _ => None,
    }
}

/// Every step of a definition, with the steps nested in conditions.
fn all_steps(steps: &[serde_json::Value]) -> Vec<&serde_json::Value> {
    let mut out = Vec::new();
    for step in steps {
        out.push(step);
        for branch in ["IfSteps", "ElseSteps"] {
            if let Some(nested) = step["Arguments"][branch].as_array() {
                out.extend(all_steps(nested));
            }
        }
    }
    out
}

fn definition_json() -> serde_json::Value {
    // Placeholders sit inside JSON strings, so the template itself is JSON.
    serde_json::from_str(&read("infra/pipeline-definition.json"))
        .unwrap_or_else(|e| panic!("infra/pipeline-definition.json is not JSON: {e}"))
}

#[test]
fn the_pipeline_role_can_run_every_step_of_the_definition_and_pass_only_itself() {
    let config = config();
    let statements = policy(&config, "sagemaker_pipeline");
    let actions = iam::allowed_actions(&statements);

    let definition = definition_json();
    let steps = all_steps(definition["Steps"].as_array().expect("Steps"));
    let types: Vec<&str> = steps.iter().filter_map(|s| s["Type"].as_str()).collect();
    for expected in ["Processing", "Tuning", "Training", "RegisterModel"] {
        assert!(
            types.contains(&expected),
            "no {expected} step found in {types:?}"
        );
    }
    for step in steps {
        let step_type = step["Type"].as_str().unwrap_or("?");
        if let Some(action) = action_for_step_type(step_type) {
            assert!(
                actions.iter().any(|a| a == action),
                "step {} ({step_type}) needs {action} on the pipeline role",
                step["Name"]
            );
        }
    }

    if definition.get("PipelineExperimentConfig").is_some() {
        for action in ["sagemaker:CreateExperiment", "sagemaker:CreateTrial"] {
            assert!(
                actions.iter().any(|a| a == action),
                "PipelineExperimentConfig needs {action} on the pipeline role"
            );
        }
    }

    let pass = statements
        .iter()
        .find(|s| s.actions.iter().any(|a| a == "iam:PassRole"))
        .expect("the pipeline passes its role to its jobs");
    assert_eq!(pass.resources, ["aws_iam_role.sagemaker_pipeline.arn"]);
    assert!(
        pass.conditions
            .iter()
            .any(|(_, v)| v == "iam:PassedToService"),
        "PassRole is limited to SageMaker"
    );
}

/// Collects every S3 location the definition builds in the bucket, as its parts from the bucket
/// on (`["${bucket}", "pipelines", ...]`); parts known only at run time read `<runtime>`.
fn bucket_paths(value: &serde_json::Value, out: &mut Vec<Vec<String>>) {
    match value {
        serde_json::Value::Object(map) => {
            if let Some(parts) = map.get("Std:Join").and_then(|j| j["Values"].as_array()) {
                if parts.get(1).and_then(|p| p.as_str()) == Some("${bucket}") {
                    out.push(
                        parts
                            .iter()
                            .skip(1)
                            .map(|p| p.as_str().map_or_else(|| "<runtime>".into(), String::from))
                            .collect(),
                    );
                    return;
                }
            }
            map.values().for_each(|v| bucket_paths(v, out));
        }
        serde_json::Value::Array(items) => items.iter().for_each(|v| bucket_paths(v, out)),
        serde_json::Value::String(s) if s.contains("${bucket}") => {
            let from_bucket = s.split_once("s3://").map_or(s.as_str(), |(_, rest)| rest);
            out.push(from_bucket.split('/').map(String::from).collect());
        }
        _ => {}
    }
}

#[test]
fn every_bucket_path_of_the_definition_is_inside_the_job_data_grant() {
    let mut paths = Vec::new();
    bucket_paths(&definition_json(), &mut paths);
    assert!(paths.len() >= 5, "only {} bucket paths found", paths.len());
    for path in &paths {
        let head: Vec<&str> = path.iter().take(3).map(String::as_str).collect();
        assert_eq!(
            head,
            ["${bucket}", "pipelines", "${pipeline_name}"],
            "a job path outside pipelines/<pipeline>/: {path:?}"
        );
    }

    let config = config();
    assert_eq!(
        config.local("prefix_pipeline_runs").and_then(text),
        Some("${local.prefix_pipelines}${local.pipeline_name}/")
    );
    let statements = policy(&config, "sagemaker_pipeline");
    let job_data = statements
        .iter()
        .find(|s| s.actions.iter().any(|a| a == "s3:PutObject"))
        .expect("the pipeline role writes job data");
    assert_eq!(
        job_data.resources,
        ["${local.bucket_arn}/${local.prefix_pipeline_runs}*"]
    );
    // Uploads are read (the input URI is a pipeline parameter), never written.
    let on_datasets: Vec<&String> = statements
        .iter()
        .filter(|s| s.resources.iter().any(|r| r.contains("prefix_datasets")))
        .flat_map(|s| &s.actions)
        .collect();
    assert!(
        on_datasets
            .iter()
            .all(|a| *a == "s3:GetObject" || *a == "s3:ListBucket" || *a == "s3:GetBucketLocation"),
        "the pipeline role may only read datasets/: {on_datasets:?}"
    );
}

#[test]
fn the_function_url_uses_iam_auth_unless_opened_on_purpose() {
    let config = config();
    let (_, variable) = config
        .blocks("variable")
        .find(|(_, b)| {
            b.labels()
                .first()
                .is_some_and(|l| l.as_str() == "function_url_auth_type")
        })
        .expect("variable function_url_auth_type");
    assert_eq!(
        attribute(variable, "default").and_then(text),
        Some("AWS_IAM")
    );
    let auth = resource_attr(
        &config,
        "aws_lambda_function_url",
        "invoker",
        "authorization_type",
    );
    assert_eq!(
        traversal_path(auth),
        Some(vec!["var".into(), "function_url_auth_type".into()])
    );
    for public in ["invoker_public_url", "invoker_public_invoke"] {
        let count = resource_attr(&config, "aws_lambda_permission", public, "count");
        let count = mmp_infra_check::expr::source(count);
        assert!(
            count.contains("var.function_url_auth_type == \"NONE\""),
            "{public} must exist only when the URL is opened: count = {count}"
        );
    }
    let url = config
        .resource("aws_lambda_function_url", "invoker")
        .unwrap();
    assert!(
        nested(url, "cors").next().is_some(),
        "the Function URL sets CORS"
    );
}

#[test]
fn uploads_start_the_trigger_with_the_filter_file_of_the_local_store() {
    let config = config();
    let notification = config
        .resource("aws_s3_bucket_notification", "datasets")
        .expect("bucket notification");
    let target = nested(notification, "lambda_function")
        .next()
        .expect("lambda_function");
    for (attr, field) in [
        ("events", "events"),
        ("filter_prefix", "filter_prefix"),
        ("filter_suffix", "filter_suffix"),
    ] {
        assert_eq!(
            attribute(target, attr).and_then(traversal_path),
            Some(vec!["local".into(), "dataset_upload".into(), field.into()]),
            "{attr} comes from the filter file"
        );
    }
    let upload = config
        .local("dataset_upload")
        .expect("local.dataset_upload");
    let args = call(upload, "jsondecode")
        .and_then(|a| a.first())
        .and_then(|f| call(f, "file"))
        .and_then(|a| a.first())
        .and_then(text)
        .expect("local.dataset_upload = jsondecode(file(<path>))");
    let path = resolve_path(&config, args);
    assert!(
        path.ends_with("events/patterns/dataset-object-created.json"),
        "{path:?}"
    );
    let filter: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path:?}: {e}")),
    )
    .unwrap_or_else(|e| panic!("{path:?}: {e}"));
    assert_eq!(
        filter["filter_prefix"],
        config.local("prefix_datasets").and_then(text).unwrap()
    );
    assert_eq!(filter["filter_suffix"], ".csv");
    let function = attribute(target, "lambda_function_arn").and_then(traversal_path);
    assert_eq!(
        function,
        Some(
            ["aws_lambda_function", "function", "pipeline-trigger", "arn"]
                .map(String::from)
                .to_vec()
        )
    );
}

#[test]
fn the_bucket_layout_matches_the_architecture() {
    let config = config();
    let expect = [
        ("prefix_datasets", "datasets/"),
        ("prefix_pipelines", "pipelines/"),
        ("prefix_endpoint_model", "endpoint/models/"),
        ("key_routing_table", "endpoint/routing.json"),
        ("prefix_reports", "reports/"),
    ];
    let architecture = read("docs/architecture.md");
    for (local, value) in expect {
        assert_eq!(
            config.local(local).and_then(text),
            Some(value),
            "local.{local}"
        );
        assert!(
            architecture.contains(&format!("`{value}")),
            "docs/architecture.md does not name {value}"
        );
    }
}

#[test]
fn the_outputs_name_the_url_the_bucket_the_pipeline_and_the_endpoint() {
    let config = config();
    let outputs: Vec<&str> = config
        .blocks("output")
        .filter_map(|(_, b)| b.labels().first().map(|l| l.as_str()))
        .collect();
    for expected in ["function_url", "bucket", "pipeline_name", "endpoint_name"] {
        assert!(
            outputs.contains(&expected),
            "output {expected} is missing: {outputs:?}"
        );
    }
    for (file, block) in config.blocks("output") {
        assert!(
            attribute(block, "description").and_then(text).is_some(),
            "{file}: every output says what it is"
        );
    }
}

#[test]
fn the_endpoint_serves_the_multi_model_prefix_its_role_alone_can_read() {
    let config = config();
    let model = config
        .resource("aws_sagemaker_model", "multi_model")
        .expect("model");
    let container = nested(model, "primary_container")
        .next()
        .expect("primary_container");
    assert_eq!(
        attribute(container, "mode").and_then(text),
        Some("MultiModel")
    );
    assert_eq!(
        attribute(container, "model_data_url").and_then(traversal_path),
        Some(vec!["local".into(), "multi_model_uri".into()])
    );
    let uri = config
        .local("multi_model_uri")
        .and_then(text)
        .expect("local.multi_model_uri");
    assert!(uri.ends_with("/${local.prefix_endpoint_model}"), "{uri}");

    let statements = policy(&config, "sagemaker_endpoint");
    let reads: Vec<&iam::Statement> = statements
        .iter()
        .filter(|s| s.actions.iter().any(|a| a == "s3:GetObject"))
        .collect();
    assert_eq!(reads.len(), 1);
    assert_eq!(
        reads[0].resources,
        ["${local.bucket_arn}/${local.prefix_endpoint_model}*"]
    );
    let s3_writes = iam::allowed_actions(&statements)
        .into_iter()
        .filter(|a| a.starts_with("s3:") && !a.starts_with("s3:Get") && !a.starts_with("s3:List"))
        .count();
    assert_eq!(s3_writes, 0, "the endpoint never writes to the bucket");
}

#[test]
fn autoscaling_tracks_invocations_per_instance_and_cpu() {
    let config = config();
    let target = config
        .resource("aws_appautoscaling_target", "endpoint")
        .expect("target");
    assert_eq!(
        attribute(target, "scalable_dimension").and_then(text),
        Some("sagemaker:variant:DesiredInstanceCount")
    );
    let tracking = |name: &str| {
        let policy = config
            .resource("aws_appautoscaling_policy", name)
            .unwrap_or_else(|| panic!("aws_appautoscaling_policy.{name}"));
        assert_eq!(
            attribute(policy, "policy_type").and_then(text),
            Some("TargetTrackingScaling")
        );
        let resource = attribute(policy, "resource_id").and_then(traversal_path);
        assert_eq!(
            resource,
            Some(
                ["aws_appautoscaling_target", "endpoint", "resource_id"]
                    .map(String::from)
                    .to_vec()
            )
        );
        nested(policy, "target_tracking_scaling_policy_configuration")
            .next()
            .map(|c| mmp_infra_check::expr::source(&hcl::Expression::from(c.body().clone())))
            .unwrap_or_default()
    };
    assert!(tracking("invocations").contains("SageMakerVariantInvocationsPerInstance"));
    assert!(tracking("cpu").contains("CPUUtilization"));
}

#[test]
fn events_are_retried_and_dead_lettered() {
    let config = config();
    let target = config
        .resource("aws_cloudwatch_event_target", "rule")
        .expect("event target");
    let retry = nested(target, "retry_policy").next().expect("retry_policy");
    assert!(attribute(retry, "maximum_retry_attempts").is_some());
    assert!(attribute(retry, "maximum_event_age_in_seconds").is_some());
    let dlq = nested(target, "dead_letter_config")
        .next()
        .expect("dead_letter_config");
    assert_eq!(
        attribute(dlq, "arn").and_then(traversal_path),
        Some(
            ["aws_sqs_queue", "dead_letter", "arn"]
                .map(String::from)
                .to_vec()
        )
    );
    // The queue accepts EventBridge's undelivered events only from this project's rules.
    let queue_policy = policy(&config, "dead_letter");
    let allow = queue_policy
        .iter()
        .find(|s| s.allow)
        .expect("an allow statement");
    assert_eq!(allow.principal_types, ["Service"]);
    assert!(allow.conditions.iter().any(|(_, v)| v == "aws:SourceArn"));
}
