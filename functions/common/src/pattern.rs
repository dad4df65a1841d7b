//! EventBridge event patterns, the subset the rules in `events/patterns/` use: exact values,
//! `prefix`, `suffix`, `anything-but` (a value, a list, or a prefix) and `exists`. The local
//! bus routes with it and the tests prove every sample event matches its rule.
//!
//! Semantics as EventBridge's: every field named in the pattern must match (AND); a field's
//! list of matchers matches if any does (OR); an array in the event matches if any element
//! does; a missing field matches only `{"exists": false}`.

use serde_json::Value;

/// The placeholder rule files use for the pipeline's name (filled by Terraform's
/// `templatefile` and by [`Pattern::from_rule_file`]).
pub const PIPELINE_NAME_PLACEHOLDER: &str = "${pipeline_name}";

/// A pattern that uses something this matcher does not know.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PatternError {
    #[error("pattern field `{path}`: {reason}")]
    /// The pattern at `path` is not one the matcher understands (`reason`).
    Invalid {
        /// Where in the pattern (dotted field path).
        path: String,
        /// What is wrong there.
        reason: String,
    },
}

#[derive(Debug, Clone, PartialEq)]
enum Matcher {
    Exact(Value),
    Prefix(String),
    Suffix(String),
    AnythingBut(Vec<Value>),
    AnythingButPrefix(String),
    Exists(bool),
}

#[derive(Debug, Clone, PartialEq)]
enum Node {
    Leaf(Vec<Matcher>),
    Object(Vec<(String, Node)>),
}

/// A parsed pattern.
#[derive(Debug, Clone, PartialEq)]
pub struct Pattern {
    root: Vec<(String, Node)>,
}

impl Pattern {
    /// Parses a pattern document (a JSON object).
    pub fn parse(pattern: &Value) -> Result<Pattern, PatternError> {
        match parse_node("", pattern)? {
            Node::Object(root) => Ok(Pattern { root }),
            Node::Leaf(_) => Err(invalid("", "a pattern must be a JSON object")),
        }
    }

    /// Parses a rule file of `events/patterns/`, filling the placeholder for the pipeline's
    /// name as Terraform's `templatefile` does.
    pub fn from_rule_file(text: &str, pipeline_name: &str) -> Result<Pattern, PatternError> {
        Pattern::from_json(&text.replace(PIPELINE_NAME_PLACEHOLDER, pipeline_name))
    }

    /// Parses a pattern from JSON text.
    pub fn from_json(text: &str) -> Result<Pattern, PatternError> {
        let value: Value =
            serde_json::from_str(text).map_err(|error| invalid("", &error.to_string()))?;
        Pattern::parse(&value)
    }

    /// Whether `event` matches the pattern.
    pub fn matches(&self, event: &Value) -> bool {
        object_matches(&self.root, event)
    }
}

fn invalid(path: &str, reason: &str) -> PatternError {
    PatternError::Invalid {
        path: path.to_string(),
        reason: reason.to_string(),
    }
}

fn parse_node(path: &str, value: &Value) -> Result<Node, PatternError> {
    match value {
        Value::Object(fields) => {
            let mut children = Vec::with_capacity(fields.len());
            for (name, child) in fields {
                let child_path = if path.is_empty() {
                    name.clone()
                } else {
                    format!("{path}.{name}")
                };
                children.push((name.clone(), parse_node(&child_path, child)?));
            }
            Ok(Node::Object(children))
        }
        Value::Array(items) => items
            .iter()
            .map(|item| parse_matcher(path, item))
            .collect::<Result<_, _>>()
            .map(Node::Leaf),
        _ => Err(invalid(
            path,
            "a field's pattern must be an array of matchers or an object",
        )),
    }
}

fn parse_matcher(path: &str, item: &Value) -> Result<Matcher, PatternError> {
    let Value::Object(operator) = item else {
        return Ok(Matcher::Exact(item.clone()));
    };
    let mut entries = operator.iter();
    let (Some((name, argument)), None) = (entries.next(), entries.next()) else {
        return Err(invalid(
            path,
            "a matcher object must have exactly one operator",
        ));
    };
    match (name.as_str(), argument) {
        ("prefix", Value::String(prefix)) => Ok(Matcher::Prefix(prefix.clone())),
        ("suffix", Value::String(suffix)) => Ok(Matcher::Suffix(suffix.clone())),
        ("exists", Value::Bool(exists)) => Ok(Matcher::Exists(*exists)),
        ("anything-but", Value::Array(values)) if values.iter().all(is_scalar) => {
            Ok(Matcher::AnythingBut(values.clone()))
        }
        ("anything-but", Value::Object(inner)) => match inner.get("prefix") {
            Some(Value::String(prefix)) if inner.len() == 1 => {
                Ok(Matcher::AnythingButPrefix(prefix.clone()))
            }
            _ => Err(invalid(
                path,
                "anything-but takes a value, a list of values or {\"prefix\": ...}",
            )),
        },
        ("anything-but", value) if is_scalar(value) => {
            Ok(Matcher::AnythingBut(vec![value.clone()]))
        }
        (other, _) => Err(invalid(
            path,
            &format!("unsupported matcher `{other}` (or wrong argument type)"),
        )),
    }
}

fn is_scalar(value: &Value) -> bool {
    !matches!(value, Value::Array(_) | Value::Object(_))
}

fn object_matches(fields: &[(String, Node)], event: &Value) -> bool {
    fields.iter().all(|(name, node)| {
        let value = event.get(name);
        match node {
            Node::Object(children) => value.is_some_and(|value| object_matches(children, value)),
            Node::Leaf(matchers) => matchers.iter().any(|matcher| leaf_matches(matcher, value)),
        }
    })
}

fn leaf_matches(matcher: &Matcher, value: Option<&Value>) -> bool {
    match (matcher, value) {
        (Matcher::Exists(expected), value) => value.is_some() == *expected,
        (_, None) => false,
        (matcher, Some(Value::Array(items))) => {
            items.iter().any(|item| scalar_matches(matcher, item))
        }
        (matcher, Some(value)) => scalar_matches(matcher, value),
    }
}

fn scalar_matches(matcher: &Matcher, value: &Value) -> bool {
    match matcher {
        Matcher::Exact(expected) => expected == value,
        Matcher::Prefix(prefix) => value
            .as_str()
            .is_some_and(|text| text.starts_with(prefix.as_str())),
        Matcher::Suffix(suffix) => value
            .as_str()
            .is_some_and(|text| text.ends_with(suffix.as_str())),
        Matcher::AnythingBut(excluded) => !excluded.contains(value),
        Matcher::AnythingButPrefix(prefix) => value
            .as_str()
            .is_some_and(|text| !text.starts_with(prefix.as_str())),
        Matcher::Exists(_) => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn exact_prefix_and_anything_but() {
        let pattern = Pattern::parse(&json!({
            "source": ["aws.sagemaker"],
            "detail": {
                "ModelPackageGroupName": [{"prefix": "mmp-"}],
                "ModelApprovalStatus": [{"anything-but": "PendingManualApproval"}]
            }
        }))
        .unwrap();
        let event = |group: &str, status: &str| json!({"source": "aws.sagemaker", "detail": {"ModelPackageGroupName": group, "ModelApprovalStatus": status}});
        assert!(pattern.matches(&event("mmp-wine", "Approved")));
        assert!(pattern.matches(&event("mmp-wine", "Rejected")));
        assert!(!pattern.matches(&event("mmp-wine", "PendingManualApproval")));
        assert!(!pattern.matches(&event("other-wine", "Approved")));
        assert!(!pattern.matches(&json!({"source": "aws.s3", "detail": {}})));
        // A missing field does not match anything-but.
        assert!(!pattern.matches(
            &json!({"source": "aws.sagemaker", "detail": {"ModelPackageGroupName": "mmp-x"}})
        ));
    }

    #[test]
    fn arrays_exists_suffix_and_lists() {
        let pattern = Pattern::parse(&json!({
            "resources": [{"suffix": "/mmp"}],
            "status": ["Succeeded", "Failed"],
            "gone": [{"exists": false}],
            "kind": [{"anything-but": ["a", "b"]}, {"anything-but": {"prefix": "x"}}]
        }))
        .unwrap();
        let event =
            json!({"resources": ["arn:1", "arn:pipeline/mmp"], "status": "Failed", "kind": "c"});
        assert!(pattern.matches(&event));
        let mut gone = event.clone();
        gone["gone"] = json!(1);
        assert!(!pattern.matches(&gone));
        let mut stopped = event.clone();
        stopped["status"] = json!("Stopped");
        assert!(!pattern.matches(&stopped));
    }

    #[test]
    fn unsupported_operators_are_named() {
        let error = Pattern::parse(&json!({"detail": {"n": [{"numeric": [">", 1]}]}})).unwrap_err();
        assert!(error.to_string().contains("detail.n"), "{error}");
        assert!(error.to_string().contains("numeric"), "{error}");
        assert!(Pattern::parse(&json!({"a": "b"})).is_err());
    }
}
