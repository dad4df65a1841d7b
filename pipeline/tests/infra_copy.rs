//! The definition Terraform deploys is the one this crate generates.

use std::path::Path;

#[test]
fn infra_copy_equals_the_generated_definition() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../infra/pipeline-definition.json");
    let on_disk = std::fs::read_to_string(&path).expect("infra/pipeline-definition.json exists");
    assert!(
        on_disk == mmp_pipeline::definition::template(),
        "infra/pipeline-definition.json is stale; regenerate it with \
         `cargo run -p mmp -- pipeline definition > infra/pipeline-definition.json`"
    );
}

#[test]
fn rendering_fills_every_placeholder() {
    let rendered = mmp_pipeline::definition::render(&mmp_pipeline::definition::Placeholders {
        image_uri: "img",
        role_arn: "arn:aws:iam::000000000000:role/r",
        bucket: "bucket",
        pipeline_name: "mmp",
    });
    assert!(!rendered.contains("${"), "a placeholder is left");
    let json: serde_json::Value = serde_json::from_str(&rendered).unwrap();
    let group = &json["Steps"][4]["Arguments"]["IfSteps"][0]["Arguments"]["ModelPackageGroupName"];
    assert_eq!(group["Std:Join"]["Values"][0], "mmp");
}
