//! Pipeline expressions: `{"Get": ...}`, `Std:Join`, `Std:JsonGet`, resolved against an
//! execution's parameters, its own properties and the properties of the steps that ran.

use std::collections::BTreeSet;

use serde_json::{Number, Value};

/// Where `Get` looks things up.
pub(crate) trait Scope {
    fn parameter(&self, name: &str) -> Option<Value>;
    /// `Execution.<property>`
    fn execution(&self, property: &str) -> Option<Value>;
    /// The properties of a step that succeeded, `None` if it has not (yet).
    fn step_properties(&self, step: &str) -> Option<Value>;
}

/// Why an expression could not be resolved; the step that holds it fails with this.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ExprError(pub String);

impl std::fmt::Display for ExprError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

fn fail<T>(msg: impl Into<String>) -> Result<T, ExprError> {
    Err(ExprError(msg.into()))
}

/// A copy of `value` with every expression in it replaced by its value.
pub(crate) fn resolve(value: &Value, scope: &dyn Scope) -> Result<Value, ExprError> {
    match value {
        Value::Array(items) => items.iter().map(|v| resolve(v, scope)).collect(),
        Value::Object(map) => {
            if map.len() == 1 {
                if let Some((key, arg)) = map.iter().next() {
                    if key == "Get" {
                        return get(arg, scope);
                    }
                    if key == "Std:Join" {
                        return join(arg, scope);
                    }
                    if key == "Std:JsonGet" {
                        return json_get(arg, scope);
                    }
                    if key.starts_with("Std:") {
                        return fail(format!(
                            "unsupported pipeline function {key} (supported: Get, Std:Join, Std:JsonGet)"
                        ));
                    }
                }
            }
            map.iter()
                .map(|(k, v)| Ok((k.clone(), resolve(v, scope)?)))
                .collect::<Result<serde_json::Map<_, _>, _>>()
                .map(Value::Object)
        }
        other => Ok(other.clone()),
    }
}

/// The names of the steps `value`'s `Get` expressions refer to.
pub(crate) fn step_references(value: &Value) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    collect_references(value, &mut found);
    found
}

fn collect_references(value: &Value, found: &mut BTreeSet<String>) {
    match value {
        Value::Array(items) => items.iter().for_each(|v| collect_references(v, found)),
        Value::Object(map) => {
            if let Some(Value::String(path)) = map.get("Get") {
                if let Some(rest) = path.strip_prefix("Steps.") {
                    let end = rest.find(['.', '[']).unwrap_or(rest.len());
                    found.insert(rest[..end].to_string());
                }
            }
            map.values().for_each(|v| collect_references(v, found));
        }
        _ => {}
    }
}

fn get(arg: &Value, scope: &dyn Scope) -> Result<Value, ExprError> {
    let Some(path) = arg.as_str() else {
        return fail(format!("Get takes a string, not {arg}"));
    };
    if let Some(name) = path.strip_prefix("Parameters.") {
        return scope.parameter(name).map_or_else(
            || fail(format!("Get {path}: the pipeline has no parameter {name}")),
            Ok,
        );
    }
    if let Some(property) = path.strip_prefix("Execution.") {
        return scope.execution(property).map_or_else(
            || fail(format!("Get {path}: unknown execution property {property}")),
            Ok,
        );
    }
    if let Some(rest) = path.strip_prefix("Steps.") {
        let end = rest.find(['.', '[']).unwrap_or(rest.len());
        let (step, tail) = rest.split_at(end);
        let segments = parse_path(tail.strip_prefix('.').unwrap_or(tail))
            .map_err(|e| ExprError(format!("Get {path}: {e}")))?;
        if matches!(segments.first(), Some(Segment::Key(k)) if k == "PropertyFiles") {
            return fail(format!(
                "Get {path}: a property file can only be read with Std:JsonGet"
            ));
        }
        let Some(properties) = scope.step_properties(step) else {
            return fail(format!(
                "Get {path}: step {step} has not succeeded, so it has no properties"
            ));
        };
        return lookup(&properties, &segments).cloned().map_or_else(
            || {
                fail(format!(
                    "Get {path}: step {step} has no property {}",
                    tail.trim_start_matches('.')
                ))
            },
            Ok,
        );
    }
    fail(format!(
        "Get {path}: unknown reference (supported: Parameters.*, Execution.*, Steps.*)"
    ))
}

fn join(arg: &Value, scope: &dyn Scope) -> Result<Value, ExprError> {
    let on = match arg.get("On") {
        None | Some(Value::Null) => String::new(),
        Some(v) => text(&resolve(v, scope)?),
    };
    let Some(values) = arg.get("Values").and_then(Value::as_array) else {
        return fail("Std:Join needs a Values list");
    };
    let parts = values
        .iter()
        .map(|v| resolve(v, scope).map(|r| text(&r)))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Value::String(parts.join(&on)))
}

fn json_get(arg: &Value, scope: &dyn Scope) -> Result<Value, ExprError> {
    let Some(path) = arg.get("Path").and_then(Value::as_str) else {
        return fail("Std:JsonGet needs a Path string");
    };
    let reference = match arg.get("PropertyFile") {
        Some(Value::Object(m)) => m.get("Get").and_then(Value::as_str).unwrap_or_default(),
        _ => "",
    };
    let Some(rest) = reference.strip_prefix("Steps.") else {
        return fail(format!(
            "Std:JsonGet {path}: PropertyFile must be {{\"Get\": \"Steps.<step>.PropertyFiles.<name>\"}}"
        ));
    };
    let Some((step, file)) = rest.split_once(".PropertyFiles.") else {
        return fail(format!(
            "Std:JsonGet {path}: {reference} does not name a property file"
        ));
    };
    let Some(properties) = scope.step_properties(step) else {
        return fail(format!(
            "Std:JsonGet {path}: step {step} has not succeeded, so property file {file} is not available"
        ));
    };
    let Some(content) = properties.get("PropertyFiles").and_then(|p| p.get(file)) else {
        return fail(format!(
            "Std:JsonGet {path}: step {step} has no property file {file}"
        ));
    };
    let segments = parse_path(path).map_err(|e| ExprError(format!("Std:JsonGet {path}: {e}")))?;
    lookup(content, &segments).cloned().map_or_else(
        || {
            fail(format!(
                "Std:JsonGet: property file {file} of step {step} has nothing at {path}"
            ))
        },
        Ok,
    )
}

/// One step of a property path: `.name`, `['name']` or `[3]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Segment {
    Key(String),
    Index(usize),
}

/// Parses `a.b['c'][0].d` (a leading `$.` is allowed, as in JSONPath).
pub(crate) fn parse_path(path: &str) -> Result<Vec<Segment>, String> {
    let path = path.strip_prefix("$.").unwrap_or(path);
    let mut segments = Vec::new();
    let mut rest = path;
    while !rest.is_empty() {
        if let Some(inner) = rest.strip_prefix('[') {
            let close = inner
                .find(']')
                .ok_or_else(|| format!("unclosed [ in {path}"))?;
            let key = &inner[..close];
            let quoted = key
                .strip_prefix('\'')
                .and_then(|k| k.strip_suffix('\''))
                .or_else(|| key.strip_prefix('"').and_then(|k| k.strip_suffix('"')));
            segments.push(match quoted {
                Some(k) => Segment::Key(k.to_string()),
                None => Segment::Index(
                    key.parse()
                        .map_err(|_| format!("[{key}] is neither an index nor a quoted name"))?,
                ),
            });
            rest = &inner[close + 1..];
        } else {
            let rest_trimmed = rest.strip_prefix('.').unwrap_or(rest);
            let end = rest_trimmed.find(['.', '[']).unwrap_or(rest_trimmed.len());
            if end == 0 {
                return Err(format!("empty name in {path}"));
            }
            segments.push(Segment::Key(rest_trimmed[..end].to_string()));
            rest = &rest_trimmed[end..];
        }
    }
    Ok(segments)
}

fn lookup<'v>(mut value: &'v Value, segments: &[Segment]) -> Option<&'v Value> {
    for segment in segments {
        value = match (segment, value) {
            (Segment::Key(k), Value::Object(m)) => m.get(k)?,
            (Segment::Index(i), Value::Array(items)) => items.get(*i)?,
            _ => return None,
        };
    }
    Some(value)
}

/// How a resolved value reads inside a string: strings as they are, numbers as Python prints
/// them (`0.2`, `42`, `1.0`), booleans and null as JSON, lists and objects as JSON text.
pub(crate) fn text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Number(n) => format_number(n),
        other => other.to_string(),
    }
}

pub(crate) fn format_number(n: &Number) -> String {
    if n.is_i64() || n.is_u64() {
        return n.to_string();
    }
    match n.as_f64() {
        Some(x) if x.is_finite() && x.fract() == 0.0 && x.abs() < 1e16 => format!("{x:.1}"),
        Some(x) => format!("{x}"),
        None => n.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    struct TestScope;

    impl Scope for TestScope {
        fn parameter(&self, name: &str) -> Option<Value> {
            match name {
                "Size" => Some(json!(0.2)),
                "Seed" => Some(json!(42)),
                "Threshold" => Some(json!(1.0)),
                "Metric" => Some(json!("auc")),
                _ => None,
            }
        }
        fn execution(&self, property: &str) -> Option<Value> {
            (property == "PipelineExecutionId").then(|| json!("abc123"))
        }
        fn step_properties(&self, step: &str) -> Option<Value> {
            (step == "Eval").then(|| {
                json!({
                    "ProcessingOutputConfig": {"Outputs": {"evaluation": {"S3Output": {"S3Uri": "s3://b/e"}}}},
                    "PropertyFiles": {"Report": {"register_metric": {"value": 0.93}, "list": [1, {"x": "y"}]}}
                })
            })
        }
    }

    fn r(v: Value) -> Result<Value, ExprError> {
        resolve(&v, &TestScope)
    }

    #[test]
    fn resolves_parameters_joins_and_nesting() {
        let v = r(json!({"Args": ["--size", {"Std:Join": {"On": "", "Values": [{"Get": "Parameters.Size"}]}},
                                  {"Get": "Parameters.Seed"}],
                         "Uri": {"Std:Join": {"On": "/", "Values": ["s3:/", "b", {"Get": "Execution.PipelineExecutionId"}]}},
                         "Msg": {"Std:Join": {"On": " ", "Values": [{"Get": "Parameters.Metric"}, "below", {"Get": "Parameters.Threshold"}]}}}))
        .unwrap();
        assert_eq!(v["Args"], json!(["--size", "0.2", 42]));
        assert_eq!(v["Uri"], json!("s3://b/abc123"));
        assert_eq!(v["Msg"], json!("auc below 1.0"));
    }

    #[test]
    fn resolves_step_properties_and_property_files() {
        let uri = r(
            json!({"Get": "Steps.Eval.ProcessingOutputConfig.Outputs['evaluation'].S3Output.S3Uri"}),
        );
        assert_eq!(uri.unwrap(), json!("s3://b/e"));
        let pf = json!({"Get": "Steps.Eval.PropertyFiles.Report"});
        assert_eq!(
            r(json!({"Std:JsonGet": {"PropertyFile": pf, "Path": "register_metric.value"}}))
                .unwrap(),
            json!(0.93)
        );
        assert_eq!(
            r(json!({"Std:JsonGet": {"PropertyFile": pf, "Path": "list[1].x"}})).unwrap(),
            json!("y")
        );
        let missing = r(json!({"Std:JsonGet": {"PropertyFile": pf, "Path": "nope.value"}}));
        assert!(missing.unwrap_err().0.contains("nothing at nope.value"));
    }

    #[test]
    fn explains_what_cannot_be_resolved() {
        let e = |v: Value| r(v).unwrap_err().0;
        assert!(e(json!({"Get": "Parameters.Nope"})).contains("no parameter Nope"));
        assert!(
            e(json!({"Get": "Steps.Train.ModelArtifacts.S3ModelArtifacts"}))
                .contains("step Train has not succeeded")
        );
        assert!(e(json!({"Get": "Steps.Eval.Nope"})).contains("has no property Nope"));
        assert!(e(json!({"Get": "Steps.Eval.PropertyFiles.Report"})).contains("Std:JsonGet"));
        assert!(e(json!({"Get": "Foo.Bar"})).contains("unknown reference"));
        assert!(e(json!({"Std:Concat": []})).contains("unsupported pipeline function Std:Concat"));
        assert!(e(json!({"Get": "Execution.Nope"})).contains("unknown execution property"));
    }

    #[test]
    fn finds_step_references() {
        let refs = step_references(
            &json!({"a": [{"Get": "Steps.A.X"}, {"Get": "Steps.B['x']"}],
            "b": {"Std:JsonGet": {"PropertyFile": {"Get": "Steps.C.PropertyFiles.R"}, "Path": "x"}},
            "c": {"Get": "Parameters.Steps"}}),
        );
        assert_eq!(refs.into_iter().collect::<Vec<_>>(), ["A", "B", "C"]);
    }

    #[test]
    fn parses_paths() {
        assert_eq!(
            parse_path("$.a['b c'][2].d").unwrap(),
            [
                Segment::Key("a".into()),
                Segment::Key("b c".into()),
                Segment::Index(2),
                Segment::Key("d".into())
            ]
        );
        assert!(parse_path("a[x]").is_err());
        assert!(parse_path("a..b").is_err());
    }
}
