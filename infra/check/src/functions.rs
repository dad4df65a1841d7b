//! What the configuration gives each Lambda function: its environment, its policies, the
//! artifact it deploys, and the event rules that invoke it. The functions are declared once,
//! as `local.functions` (name → settings), and every per-function resource iterates over it.

use crate::config::{attribute, nested, Config};
use crate::expr::{call, object_get, object_keys, text, traversal_path};
use crate::iam::{self, Statement};
use hcl::Expression;

/// Why the configuration could not be read the way these checks expect it.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum Error {
    #[error("{0} is not defined")]
    Missing(String),
    #[error("{what} is not of the expected shape: {found}")]
    Shape { what: String, found: String },
    #[error(transparent)]
    Policy(#[from] iam::Error),
}

fn missing(what: impl Into<String>) -> Error {
    Error::Missing(what.into())
}

fn shape(what: impl Into<String>, expr: &Expression) -> Error {
    Error::Shape {
        what: what.into(),
        found: expr.to_string(),
    }
}

/// The names of the functions (`local.functions`' keys).
pub fn names(config: &Config) -> Result<Vec<String>, Error> {
    let functions = config
        .local("functions")
        .ok_or_else(|| missing("local.functions"))?;
    object_keys(functions).ok_or_else(|| shape("local.functions", functions))
}

/// The environment variable names `aws_lambda_function.function["<name>"]` gets: the keys of
/// `environment.variables`, which may merge `each.value.<field>` with object literals.
pub fn environment(config: &Config, name: &str) -> Result<Vec<String>, Error> {
    let mut keys: Vec<String> = environment_values(config, name)?
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    keys.sort();
    keys.dedup();
    Ok(keys)
}

/// Each environment variable of the function with the expression that sets it, in the order
/// written (a later `merge` argument overrides an earlier one, as in Terraform).
pub fn environment_values<'a>(
    config: &'a Config,
    name: &str,
) -> Result<Vec<(String, &'a Expression)>, Error> {
    let function = config
        .resource("aws_lambda_function", "function")
        .ok_or_else(|| missing("aws_lambda_function.function"))?;
    let environment = nested(function, "environment")
        .next()
        .ok_or_else(|| missing("aws_lambda_function.function.environment"))?;
    let variables = attribute(environment, "variables")
        .ok_or_else(|| missing("aws_lambda_function.function.environment.variables"))?;
    entries_resolved(config, name, variables)
}

fn entries_resolved<'a>(
    config: &'a Config,
    name: &str,
    expr: &'a Expression,
) -> Result<Vec<(String, &'a Expression)>, Error> {
    if let Some(keys) = object_keys(expr) {
        return Ok(keys
            .into_iter()
            .filter_map(|k| object_get(expr, &k).map(|v| (k, v)))
            .collect());
    }
    if let Some(args) = call(expr, "merge") {
        let mut entries = Vec::new();
        for arg in args {
            entries.extend(entries_resolved(config, name, arg)?);
        }
        return Ok(entries);
    }
    match traversal_path(expr).as_deref() {
        Some([each, value, field]) if each == "each" && value == "value" => {
            let entry = entry(config, name)?;
            let resolved = object_get(entry, field)
                .ok_or_else(|| missing(format!("local.functions[\"{name}\"].{field}")))?;
            entries_resolved(config, name, resolved)
        }
        _ => Err(shape("environment variables", expr)),
    }
}

/// `local.functions["<name>"]`.
pub fn entry<'a>(config: &'a Config, name: &str) -> Result<&'a Expression, Error> {
    config
        .local("functions")
        .and_then(|f| object_get(f, name))
        .ok_or_else(|| missing(format!("local.functions[\"{name}\"]")))
}

/// The statements of the policy document `local.function_policies["<name>"]` refers to:
/// the API calls the function's code makes.
pub fn access_policy(config: &Config, name: &str) -> Result<Vec<Statement>, Error> {
    let what = format!("local.function_policies[\"{name}\"]");
    let reference = config
        .local("function_policies")
        .and_then(|p| object_get(p, name))
        .ok_or_else(|| missing(what.clone()))?;
    match traversal_path(reference).as_deref() {
        Some([data, kind, document, json])
            if data == "data" && kind == "aws_iam_policy_document" && json == "json" =>
        {
            let block = config
                .data("aws_iam_policy_document", document)
                .ok_or_else(|| missing(format!("data.aws_iam_policy_document.{document}")))?;
            Ok(iam::statements(block)?)
        }
        _ => Err(shape(what, reference)),
    }
}

/// The statements every function's role gets for the Lambda runtime itself (log group,
/// dead-letter queue), as written for all functions.
pub fn runtime_policy(config: &Config) -> Result<Vec<Statement>, Error> {
    let block = config
        .data("aws_iam_policy_document", "function_runtime")
        .ok_or_else(|| missing("data.aws_iam_policy_document.function_runtime"))?;
    Ok(iam::statements(block)?)
}

/// An EventBridge rule: the pattern file it deploys and the function it targets.
#[derive(Debug, Clone, PartialEq)]
pub struct EventRule {
    /// Key of `local.event_rules`, also the pattern file's stem.
    pub name: String,
    /// Path of the pattern file as written, `${each.key}` filled in.
    pub pattern_path: String,
    /// The function it invokes.
    pub function: String,
}

/// The rules of `aws_cloudwatch_event_rule.rule` (one per `local.event_rules` entry).
pub fn event_rules(config: &Config) -> Result<Vec<EventRule>, Error> {
    let rule = config
        .resource("aws_cloudwatch_event_rule", "rule")
        .ok_or_else(|| missing("aws_cloudwatch_event_rule.rule"))?;
    let pattern = attribute(rule, "event_pattern")
        .ok_or_else(|| missing("aws_cloudwatch_event_rule.rule.event_pattern"))?;
    let path = call(pattern, "templatefile")
        .or_else(|| call(pattern, "file"))
        .and_then(|args| args.first())
        .and_then(text)
        .ok_or_else(|| {
            shape(
                "event_pattern (file or templatefile of a literal path)",
                pattern,
            )
        })?;
    let rules = config
        .local("event_rules")
        .ok_or_else(|| missing("local.event_rules"))?;
    let names = object_keys(rules).ok_or_else(|| shape("local.event_rules", rules))?;
    names
        .into_iter()
        .map(|name| {
            let function = object_get(rules, &name)
                .and_then(|r| object_get(r, "function"))
                .and_then(text)
                .ok_or_else(|| missing(format!("local.event_rules[\"{name}\"].function")))?
                .to_owned();
            Ok(EventRule {
                pattern_path: path.replace("${each.key}", &name),
                name,
                function,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(src: &str) -> Config {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("main.tf"), src).unwrap();
        Config::load(dir.path()).unwrap()
    }

    const FUNCTIONS: &str = r#"
locals {
  functions = {
    "trigger" = {
      environment = { MMP_BUCKET = aws_s3_bucket.data.id, MMP_PIPELINE_NAME = "p" }
    }
    "invoker" = {
      environment = { MMP_ENDPOINT_NAME = "e" }
    }
  }
  function_policies = {
    "trigger" = data.aws_iam_policy_document.trigger.json
    "invoker" = local.somewhere_else
  }
}
resource "aws_lambda_function" "function" {
  for_each = local.functions
  environment {
    variables = merge(each.value.environment, { RUST_LOG = var.log })
  }
}
data "aws_iam_policy_document" "trigger" {
  statement {
    sid       = "Start"
    actions   = ["sagemaker:StartPipelineExecution"]
    resources = [aws_sagemaker_pipeline.this.arn]
  }
}
"#;

    #[test]
    fn resolves_each_functions_environment_through_merge_and_each_value() {
        let config = config(FUNCTIONS);
        assert_eq!(names(&config).unwrap(), ["trigger", "invoker"]);
        assert_eq!(
            environment(&config, "trigger").unwrap(),
            ["MMP_BUCKET", "MMP_PIPELINE_NAME", "RUST_LOG"]
        );
        assert_eq!(
            environment(&config, "invoker").unwrap(),
            ["MMP_ENDPOINT_NAME", "RUST_LOG"]
        );
        let values = environment_values(&config, "trigger").unwrap();
        let bucket = values.iter().find(|(k, _)| k == "MMP_BUCKET").unwrap().1;
        assert_eq!(
            traversal_path(bucket),
            Some(["aws_s3_bucket", "data", "id"].map(String::from).to_vec())
        );
        assert_eq!(
            environment(&config, "nope"),
            Err(Error::Missing("local.functions[\"nope\"]".into()))
        );
    }

    #[test]
    fn follows_a_function_to_its_policy_document() {
        let config = config(FUNCTIONS);
        let statements = access_policy(&config, "trigger").unwrap();
        assert_eq!(statements[0].actions, ["sagemaker:StartPipelineExecution"]);
        let err = access_policy(&config, "invoker").unwrap_err();
        assert!(matches!(err, Error::Shape { .. }), "{err}");
    }

    #[test]
    fn reads_event_rules_with_their_pattern_file_and_target() {
        let config = config(
            r#"
locals {
  event_rules = {
    "model-package-state-change" = { function = "model-deployer" }
  }
}
resource "aws_cloudwatch_event_rule" "rule" {
  for_each      = local.event_rules
  event_pattern = templatefile("${path.module}/../events/patterns/${each.key}.json", local.vars)
}
"#,
        );
        assert_eq!(
            event_rules(&config).unwrap(),
            [EventRule {
                name: "model-package-state-change".into(),
                pattern_path: "${path.module}/../events/patterns/model-package-state-change.json"
                    .into(),
                function: "model-deployer".into(),
            }]
        );
    }
}
