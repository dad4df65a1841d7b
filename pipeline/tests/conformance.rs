//! The definition against the SageMaker API model: the conformance checker that ships beside
//! the project (`../shared/conformance/`, present in CI) must report no problem.

use std::path::Path;
use std::process::Command;

use mmp_pipeline::definition::{render, Placeholders};

#[test]
fn the_rendered_definition_passes_the_sagemaker_conformance_check() {
    let checker = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/conformance/check_pipeline_definition.py");
    if !checker.is_file() {
        eprintln!("skip: {} is not beside the project", checker.display());
        return;
    }
    let rendered = render(&Placeholders {
        image_uri: "123456789012.dkr.ecr.us-east-1.amazonaws.com/mmp:latest",
        role_arn: "arn:aws:iam::123456789012:role/mmp-sagemaker",
        bucket: "mmp-artifacts",
        pipeline_name: "mmp",
    });
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("definition.json");
    std::fs::write(&file, rendered).unwrap();
    let out = Command::new("python3")
        .arg(&checker)
        .arg(&file)
        .output()
        .expect("python3 runs (the checker needs botocore: .ci/pip/conformance.txt)");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "conformance check failed:\n{stdout}{stderr}"
    );
    assert!(stdout.contains("0 problems"), "{stdout}");
}
