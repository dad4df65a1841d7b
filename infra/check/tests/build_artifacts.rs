//! Every artifact Terraform deploys is one the build scripts produce: the container image
//! (scripts/build-and-push-image.sh from image/Dockerfile) and the four function zips
//! (scripts/build-functions.sh, cargo lambda).

mod common;

use common::*;
use mmp_infra_check::config::{attribute, nested};
use mmp_infra_check::expr::{call, object_keys, text, text_list, traversal_path};
use mmp_pipeline::contract::CONTAINER_BINARY;

/// The MMP_* variables a shell script reads (`${MMP_X}` or `${MMP_X:-...}`).
fn script_variables(script: &str) -> Vec<String> {
    let mut names: Vec<String> = script
        .match_indices("${MMP_")
        .map(|(at, _)| {
            script[at + 2..]
                .chars()
                .take_while(|c| c.is_ascii_uppercase() || *c == '_')
                .collect()
        })
        .collect();
    names.sort();
    names.dedup();
    names
}

#[test]
fn terraform_builds_the_image_with_the_script_and_passes_what_it_reads() {
    let config = config();
    let image = config
        .resource("terraform_data", "image")
        .expect("terraform_data.image builds the image");
    let exec = nested(image, "provisioner")
        .find(|p| {
            p.labels()
                .first()
                .is_some_and(|l| l.as_str() == "local-exec")
        })
        .expect("a local-exec provisioner");
    assert_eq!(
        attribute(exec, "command").and_then(text),
        Some("bash scripts/build-and-push-image.sh")
    );
    assert_eq!(
        attribute(exec, "working_dir").and_then(traversal_path),
        Some(vec!["local".into(), "repo_root".into()]),
        "the script runs from the repository root"
    );
    let passed = attribute(exec, "environment")
        .and_then(object_keys)
        .expect("environment object");

    let script = read("scripts/build-and-push-image.sh");
    for name in script_variables(&script) {
        assert!(
            passed.contains(&name),
            "the script reads {name} but Terraform does not pass it (passes {passed:?})"
        );
    }
    for name in passed.iter().filter(|n| n.starts_with("MMP_")) {
        assert!(
            script.contains(&format!("${{{name}")),
            "Terraform passes {name}, which the script never reads"
        );
    }
    assert!(
        passed.iter().any(|n| n == "AWS_REGION"),
        "the push goes to the deployment's region"
    );
}

#[test]
fn the_script_builds_image_dockerfile_whose_entrypoint_is_the_container_binary() {
    let script = read("scripts/build-and-push-image.sh");
    assert!(
        script.contains("--file image/Dockerfile"),
        "builds image/Dockerfile"
    );
    assert!(script.contains("docker push"), "pushes what it built");

    let dockerfile = read("image/Dockerfile");
    let entrypoint = dockerfile
        .lines()
        .rfind(|l| l.trim_start().starts_with("ENTRYPOINT"))
        .expect("image/Dockerfile has an ENTRYPOINT");
    assert!(
        entrypoint.contains(&format!("\"{CONTAINER_BINARY}\"")),
        "SageMaker runs the image with `train` and `serve` as arguments, so the entrypoint must \
         be {CONTAINER_BINARY}: {entrypoint}"
    );

    // The image tag changes when the sources the Dockerfile builds change.
    let config = config();
    let sources = mmp_infra_check::expr::source(
        config
            .local("image_source_files")
            .expect("local.image_source_files"),
    );
    for pattern in ["image/**", "pipeline/**", "Cargo.{toml,lock}"] {
        assert!(
            sources.contains(pattern),
            "the image tag ignores {pattern}: {sources}"
        );
    }
}

/// `"${path.module}/../target/lambda/${each.key}/bootstrap.zip"` for function `name`, as a
/// path from the repository root.
fn zip_path(template: &str, name: &str) -> String {
    template
        .replace("${path.module}/../", "")
        .replace("${each.key}", name)
}

#[test]
fn each_function_deploys_the_arm64_zip_cargo_lambda_builds_from_its_crate() {
    let config = config();
    let function = config
        .resource("aws_lambda_function", "function")
        .expect("aws_lambda_function.function");
    assert_eq!(
        attribute(function, "runtime").and_then(text),
        Some("provided.al2023")
    );
    assert_eq!(
        attribute(function, "handler").and_then(text),
        Some("bootstrap")
    );
    assert_eq!(
        attribute(function, "architectures").and_then(text_list),
        Some(vec!["arm64".to_owned()])
    );
    let filename = attribute(function, "filename")
        .and_then(text)
        .expect("filename");
    let hashed = attribute(function, "source_code_hash")
        .and_then(|e| call(e, "filebase64sha256"))
        .and_then(|args| args.first())
        .and_then(text)
        .expect("source_code_hash = filebase64sha256(<the zip>)");
    assert_eq!(filename, hashed, "the hash is of the deployed file");

    let names = local_keys(&config, "functions");
    assert_eq!(names.len(), 4, "{names:?}");
    let script = read("scripts/build-functions.sh");
    assert!(
        script.contains("--arm64"),
        "build-functions.sh builds for arm64"
    );
    assert!(
        script.contains("--output-format zip"),
        "build-functions.sh makes zips"
    );
    for name in &names {
        assert_eq!(
            zip_path(filename, name),
            format!("target/lambda/{name}/bootstrap.zip"),
            "cargo lambda writes target/lambda/<binary>/bootstrap.zip"
        );
        let manifest: toml::Table = read(&format!("functions/{name}/Cargo.toml"))
            .parse()
            .unwrap_or_else(|e| panic!("functions/{name}/Cargo.toml: {e}"));
        let bins = manifest
            .get("bin")
            .and_then(|b| b.as_array())
            .unwrap_or_else(|| panic!("functions/{name} declares no [[bin]]"));
        assert!(
            bins.iter()
                .any(|b| b.get("name").and_then(|n| n.as_str()) == Some(name)),
            "functions/{name} must build a binary named {name}"
        );
    }
    // The script builds exactly the functions Terraform deploys, into the paths it deploys.
    let mut built: Vec<String> = script
        .lines()
        .find_map(|l| l.trim().strip_prefix("FUNCTIONS=("))
        .and_then(|rest| rest.strip_suffix(')'))
        .expect("build-functions.sh lists its functions as FUNCTIONS=(...)")
        .split_whitespace()
        .map(String::from)
        .collect();
    built.sort();
    let mut deployed = names.clone();
    deployed.sort();
    assert_eq!(
        built, deployed,
        "built by build-functions.sh vs deployed by Terraform"
    );
    assert!(
        script.contains("target/lambda/$function/bootstrap.zip"),
        "build-functions.sh checks each target/lambda/<function>/bootstrap.zip"
    );
}
