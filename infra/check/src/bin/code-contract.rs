//! Prints what each function crate declares about itself, as JSON, for the checks of the
//! Terraform as it renders (`terraform test`, the emulator apply):
//! `{"functions": {"<crate>": {"env_vars": [...], "iam_actions": [...]}}}`.

use serde_json::{json, Map, Value};

fn main() {
    let crates: [(&str, &[&str], &[&str]); 4] = [
        (
            "pipeline-trigger",
            pipeline_trigger::ENV_VARS,
            pipeline_trigger::IAM_ACTIONS,
        ),
        (
            "model-deployer",
            model_deployer::ENV_VARS,
            model_deployer::IAM_ACTIONS,
        ),
        (
            "endpoint-invoker",
            endpoint_invoker::ENV_VARS,
            endpoint_invoker::IAM_ACTIONS,
        ),
        (
            "metrics-reporter",
            metrics_reporter::ENV_VARS,
            metrics_reporter::IAM_ACTIONS,
        ),
    ];
    let functions: Map<String, Value> = crates
        .iter()
        .map(|(name, env_vars, iam_actions)| {
            (
                (*name).to_owned(),
                json!({"env_vars": env_vars, "iam_actions": iam_actions}),
            )
        })
        .collect();
    println!("{:#}", json!({ "functions": functions }));
}
