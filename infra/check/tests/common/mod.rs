//! Shared by the integration tests: where things are, and the configuration loaded once.
#![allow(dead_code)]

use mmp_infra_check::config::attribute;
use mmp_infra_check::expr::{object_get, object_keys};
use mmp_infra_check::iam::{self, Statement};
use mmp_infra_check::Config;
use std::path::{Path, PathBuf};

/// The repository's root folder.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The Terraform configuration folder.
pub fn infra_dir() -> PathBuf {
    repo_root().join("infra")
}

pub fn config() -> Config {
    match Config::load(&infra_dir()) {
        Ok(c) => c,
        Err(e) => panic!("{e}"),
    }
}

pub fn read(relative: &str) -> String {
    let path = repo_root().join(relative);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {relative}: {e}"))
}

/// The keys of `local.<name>`, an object literal.
pub fn local_keys(config: &Config, name: &str) -> Vec<String> {
    let local = config
        .local(name)
        .unwrap_or_else(|| panic!("local.{name} is not defined"));
    object_keys(local).unwrap_or_else(|| panic!("local.{name} is not an object literal"))
}

/// `local.<name>["<key>"].<field>`.
pub fn local_entry_field<'a>(
    config: &'a Config,
    name: &str,
    key: &str,
    field: &str,
) -> &'a hcl::Expression {
    config
        .local(name)
        .and_then(|l| object_get(l, key))
        .and_then(|e| object_get(e, field))
        .unwrap_or_else(|| panic!("local.{name}[\"{key}\"].{field} is not defined"))
}

/// The statements of `data "aws_iam_policy_document" "<name>"`.
pub fn policy(config: &Config, name: &str) -> Vec<Statement> {
    let block = config
        .data("aws_iam_policy_document", name)
        .unwrap_or_else(|| panic!("data.aws_iam_policy_document.{name} is not defined"));
    iam::statements(block).unwrap_or_else(|e| panic!("policy {name}: {e}"))
}

/// An attribute of a resource, or a panic naming what is missing.
pub fn resource_attr<'a>(
    config: &'a Config,
    kind: &str,
    name: &str,
    key: &str,
) -> &'a hcl::Expression {
    let block = config
        .resource(kind, name)
        .unwrap_or_else(|| panic!("resource {kind}.{name} is not defined"));
    attribute(block, key).unwrap_or_else(|| panic!("{kind}.{name} has no `{key}`"))
}

/// A path as Terraform writes it (`${path.module}/..`, `${local.x}` of literal locals), as a
/// real path.
pub fn resolve_path(config: &Config, template: &str) -> PathBuf {
    let mut path = template.to_owned();
    // Locals may refer to other locals: substitute until none is left.
    for _ in 0..8 {
        let Some(start) = path.find("${local.") else {
            break;
        };
        let end = path[start..]
            .find('}')
            .map(|e| start + e)
            .unwrap_or_else(|| panic!("unterminated interpolation in {template}"));
        let name = &path[start + 8..end];
        let value = config
            .local(name)
            .and_then(mmp_infra_check::expr::text)
            .unwrap_or_else(|| panic!("local.{name} in {template} is not a literal"));
        path = format!("{}{}{}", &path[..start], value, &path[end + 1..]);
    }
    let path = path.replace("${path.module}", &infra_dir().to_string_lossy());
    assert!(!path.contains("${"), "cannot resolve {template}");
    PathBuf::from(path)
}
