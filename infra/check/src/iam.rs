//! IAM policy documents written as `data "aws_iam_policy_document"` blocks, read as data.

use crate::config::{attribute, nested};
use crate::expr::{text, text_list, text_or_source_list};
use hcl::Block;

/// Actions that have no resource type in the Service Authorization Reference: they can only be
/// granted on `"*"`. Every other action must name its resources.
pub const ACTIONS_WITHOUT_RESOURCE_TYPES: &[&str] =
    &["ecr:GetAuthorizationToken", "cloudwatch:PutMetricData"];

/// One statement, with its actions and resources as written (`${...}` kept).
#[derive(Debug, Clone, PartialEq)]
pub struct Statement {
    pub sid: Option<String>,
    /// `true` unless `effect = "Deny"`.
    pub allow: bool,
    pub actions: Vec<String>,
    pub not_actions: Vec<String>,
    pub resources: Vec<String>,
    pub not_resources: Vec<String>,
    /// `(test, variable)` of each condition block.
    pub conditions: Vec<(String, String)>,
    /// The `type` of each principals block: a resource or trust policy names its principals,
    /// an identity policy does not.
    pub principal_types: Vec<String>,
}

/// Why a policy document could not be read as data.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum Error {
    #[error("statement {sid}: `{field}` is not a list of strings (write the list literally)")]
    NotAList { sid: String, field: &'static str },
    #[error("statement {sid}: `{field}` is not a string")]
    NotAString { sid: String, field: &'static str },
}

/// The statements of a policy document block: plain `statement` blocks and the `content` of
/// `dynamic "statement"` blocks.
pub fn statements(document: &Block) -> Result<Vec<Statement>, Error> {
    let plain = nested(document, "statement");
    let dynamic = nested(document, "dynamic")
        .filter(|d| {
            d.labels()
                .first()
                .is_some_and(|l| l.as_str() == "statement")
        })
        .flat_map(|d| nested(d, "content"));
    plain.chain(dynamic).map(statement).collect()
}

fn statement(block: &Block) -> Result<Statement, Error> {
    let sid = match attribute(block, "sid") {
        None => None,
        Some(e) => Some(
            text(e)
                .ok_or(Error::NotAString {
                    sid: "?".into(),
                    field: "sid",
                })?
                .to_owned(),
        ),
    };
    let label = sid.clone().unwrap_or_else(|| "(no sid)".into());
    // Actions must be literal; resources may be references (`aws_x.y.arn`), kept as source.
    let list = |field: &'static str| -> Result<Vec<String>, Error> {
        let read = if field.ends_with("resources") {
            text_or_source_list
        } else {
            text_list
        };
        match attribute(block, field) {
            None => Ok(Vec::new()),
            Some(e) => read(e).ok_or_else(|| Error::NotAList {
                sid: label.clone(),
                field,
            }),
        }
    };
    let allow = match attribute(block, "effect") {
        None => true,
        Some(e) => {
            text(e).ok_or_else(|| Error::NotAString {
                sid: label.clone(),
                field: "effect",
            })? != "Deny"
        }
    };
    let conditions = nested(block, "condition")
        .map(|c| {
            let get = |field: &'static str| {
                attribute(c, field)
                    .and_then(text)
                    .map(str::to_owned)
                    .ok_or_else(|| Error::NotAString {
                        sid: label.clone(),
                        field,
                    })
            };
            Ok((get("test")?, get("variable")?))
        })
        .collect::<Result<_, Error>>()?;
    let principal_types = nested(block, "principals")
        .map(|p| {
            attribute(p, "type")
                .and_then(text)
                .map(str::to_owned)
                .ok_or_else(|| Error::NotAString {
                    sid: label.clone(),
                    field: "type",
                })
        })
        .collect::<Result<_, Error>>()?;
    Ok(Statement {
        sid,
        principal_types,
        allow,
        actions: list("actions")?,
        not_actions: list("not_actions")?,
        resources: list("resources")?,
        not_resources: list("not_resources")?,
        conditions,
    })
}

/// Whether an action names more than one API call (`*`, `s3:*`, `s3:Get*`, `s3:?etObject`).
pub fn is_wildcard_action(action: &str) -> bool {
    action.contains('*') || action.contains('?')
}

/// The actions a set of statements allows, sorted and without repeats.
pub fn allowed_actions(statements: &[Statement]) -> Vec<String> {
    let mut actions: Vec<String> = statements
        .iter()
        .filter(|s| s.allow)
        .flat_map(|s| s.actions.iter().cloned())
        .collect();
    actions.sort();
    actions.dedup();
    actions
}

/// What is too broad in one allowing statement: wildcard actions, `not_actions`/`not_resources`
/// (which grant everything else), and `"*"` resources for actions that have resource types.
pub fn breadth_problems(statement: &Statement) -> Vec<String> {
    if !statement.allow {
        return Vec::new();
    }
    let sid = statement.sid.as_deref().unwrap_or("(no sid)");
    let mut problems = Vec::new();
    for action in &statement.actions {
        if is_wildcard_action(action) {
            problems.push(format!("{sid}: wildcard action {action}"));
        }
    }
    if !statement.not_actions.is_empty() {
        problems.push(format!("{sid}: not_actions allows every other action"));
    }
    if !statement.not_resources.is_empty() {
        problems.push(format!("{sid}: not_resources allows every other resource"));
    }
    if statement.resources.iter().any(|r| r == "*") {
        for action in &statement.actions {
            if !ACTIONS_WITHOUT_RESOURCE_TYPES.contains(&action.as_str()) {
                problems.push(format!(
                    "{sid}: {action} is granted on \"*\" but can be narrowed to its resources"
                ));
            }
        }
    }
    // A trust policy (sts:AssumeRole with principals) has no resources; anything else must.
    if statement.resources.is_empty() && statement.principal_types.is_empty() {
        problems.push(format!("{sid}: no resources"));
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    fn document(src: &str) -> Block {
        let body = hcl::parse(&format!(
            "data \"aws_iam_policy_document\" \"d\" {{\n{src}\n}}\n"
        ))
        .unwrap();
        body.blocks().next().unwrap().clone()
    }

    #[test]
    fn reads_plain_and_dynamic_statements() {
        let doc = document(
            r#"
  statement {
    sid       = "Read"
    actions   = ["s3:GetObject"]
    resources = ["${local.bucket_arn}/datasets/*"]
    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = ["a"]
    }
  }
  statement {
    effect    = "Deny"
    actions   = ["s3:*"]
    resources = ["*"]
  }
  dynamic "statement" {
    for_each = local.x ? [1] : []
    content {
      actions   = ["sqs:SendMessage"]
      resources = [statement.value]
    }
  }
"#,
        );
        let s = statements(&doc).unwrap();
        assert_eq!(s.len(), 3);
        assert_eq!(s[0].sid.as_deref(), Some("Read"));
        assert_eq!(s[0].resources, ["${local.bucket_arn}/datasets/*"]);
        assert_eq!(s[0].conditions, [("StringLike".into(), "s3:prefix".into())]);
        assert_eq!(s[2].resources, ["statement.value"]);
        assert!(!s[1].allow);
        assert_eq!(
            allowed_actions(&s),
            ["s3:GetObject".to_owned(), "sqs:SendMessage".to_owned()]
        );
    }

    #[test]
    fn a_computed_action_list_is_an_error_naming_the_statement() {
        let doc = document(
            "statement {\n sid = \"X\"\n actions = local.actions\n resources = [\"a\"]\n}",
        );
        assert_eq!(
            statements(&doc),
            Err(Error::NotAList {
                sid: "X".into(),
                field: "actions"
            })
        );
    }

    #[test]
    fn flags_wildcards_and_star_resources_that_could_be_narrowed() {
        let broad = Statement {
            sid: Some("Broad".into()),
            allow: true,
            actions: vec![
                "s3:Get*".into(),
                "sagemaker:InvokeEndpoint".into(),
                "ecr:GetAuthorizationToken".into(),
            ],
            not_actions: vec![],
            resources: vec!["*".into()],
            not_resources: vec![],
            conditions: vec![],
            principal_types: vec![],
        };
        let problems = breadth_problems(&broad);
        assert_eq!(problems.len(), 3, "{problems:?}");
        assert!(problems[0].contains("wildcard action s3:Get*"));
        assert!(problems
            .iter()
            .any(|p| p.contains("sagemaker:InvokeEndpoint")));
        assert!(!problems.iter().any(|p| p.contains("GetAuthorizationToken")));

        let token_only = Statement {
            actions: vec!["ecr:GetAuthorizationToken".into()],
            ..broad.clone()
        };
        assert!(breadth_problems(&token_only).is_empty());

        let deny = Statement {
            allow: false,
            ..broad
        };
        assert!(breadth_problems(&deny).is_empty());
    }
}
