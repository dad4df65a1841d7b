//! Reading a SageMaker Pipeline definition: its parameters and its steps (condition branches
//! flattened), with each step's dependencies from `DependsOn` and from the `Steps.<name>`
//! references in its arguments. Checked once, when an execution starts.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value};

use crate::error::ExecutorError;
use crate::expr::{format_number, step_references};

/// A parameter's declared type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ParameterType {
    String,
    Integer,
    Float,
    Boolean,
}

#[derive(Debug, Clone)]
pub(crate) struct ParameterDef {
    pub name: String,
    pub kind: ParameterType,
    pub default: Option<Value>,
    pub enum_values: Option<Vec<String>>,
}

/// The step types this executor runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StepType {
    Processing,
    Training,
    Tuning,
    Condition,
    Fail,
    RegisterModel,
}

impl StepType {
    fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "Processing" => Self::Processing,
            "Training" => Self::Training,
            "Tuning" => Self::Tuning,
            "Condition" => Self::Condition,
            "Fail" => Self::Fail,
            "RegisterModel" => Self::RegisterModel,
            _ => return None,
        })
    }

    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Processing => "Processing",
            Self::Training => "Training",
            Self::Tuning => "Tuning",
            Self::Condition => "Condition",
            Self::Fail => "Fail",
            Self::RegisterModel => "RegisterModel",
        }
    }
}

/// A processing step's `PropertyFiles` entry.
#[derive(Debug, Clone)]
pub(crate) struct PropertyFileDef {
    pub name: String,
    pub output_name: String,
    pub file_path: String,
}

/// Which branch of which condition step a nested step belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Gate {
    pub condition: String,
    pub when: bool,
}

#[derive(Debug, Clone)]
pub(crate) struct StepDef {
    pub name: String,
    pub kind: StepType,
    /// For condition steps, without `IfSteps`/`ElseSteps` (those are steps of their own).
    pub arguments: Value,
    pub property_files: Vec<PropertyFileDef>,
    /// Explicit `DependsOn`, referenced steps and, for branch steps, the condition step.
    pub depends_on: BTreeSet<String>,
    pub gate: Option<Gate>,
}

#[derive(Debug, Clone)]
pub(crate) struct Pipeline {
    pub parameters: Vec<ParameterDef>,
    pub steps: Vec<StepDef>,
}

/// The steps of a definition in definition order, each with the steps it waits for, for
/// drawing the step graph.
pub fn step_graph(definition: &str) -> Result<Vec<crate::model::StepNode>, ExecutorError> {
    Ok(Pipeline::parse(definition)?
        .steps
        .into_iter()
        .map(|s| crate::model::StepNode {
            name: s.name,
            step_type: s.kind.as_str().to_string(),
            depends_on: s.depends_on.into_iter().collect(),
            branch_of: s.gate.map(|g| (g.condition, g.when)),
        })
        .collect())
}

fn bad(msg: impl Into<String>) -> ExecutorError {
    ExecutorError::Definition(msg.into())
}

impl Pipeline {
    pub fn parse(definition: &str) -> Result<Self, ExecutorError> {
        let root: Value =
            serde_json::from_str(definition).map_err(|e| bad(format!("not JSON: {e}")))?;
        let root = root
            .as_object()
            .ok_or_else(|| bad("the definition is not a JSON object"))?;
        let parameters = match root.get("Parameters") {
            None => Vec::new(),
            Some(Value::Array(items)) => items
                .iter()
                .map(parse_parameter)
                .collect::<Result<_, _>>()?,
            Some(_) => return Err(bad("Parameters is not a list")),
        };
        let mut steps = Vec::new();
        let top = root
            .get("Steps")
            .and_then(Value::as_array)
            .ok_or_else(|| bad("Steps is missing or not a list"))?;
        for step in top {
            parse_step(step, None, &mut steps)?;
        }
        let pipeline = Self { parameters, steps };
        pipeline.check_graph()?;
        Ok(pipeline)
    }

    #[cfg(test)]
    pub fn step(&self, name: &str) -> Option<&StepDef> {
        self.steps.iter().find(|s| s.name == name)
    }

    /// Every step name unique, every dependency a step, no cycle.
    fn check_graph(&self) -> Result<(), ExecutorError> {
        let mut names = BTreeSet::new();
        for s in &self.steps {
            if !names.insert(s.name.as_str()) {
                return Err(bad(format!("two steps are named {}", s.name)));
            }
        }
        for s in &self.steps {
            for d in &s.depends_on {
                if !names.contains(d.as_str()) {
                    return Err(bad(format!(
                        "step {} depends on or refers to step {d}, which the definition does not have",
                        s.name
                    )));
                }
                if d == &s.name {
                    return Err(bad(format!("step {} depends on itself", s.name)));
                }
            }
        }
        // Kahn's algorithm: whatever is left once no step can be removed is in a cycle.
        let mut remaining: BTreeMap<&str, BTreeSet<&str>> = self
            .steps
            .iter()
            .map(|s| {
                (
                    s.name.as_str(),
                    s.depends_on.iter().map(String::as_str).collect(),
                )
            })
            .collect();
        loop {
            let free: Vec<&str> = remaining
                .iter()
                .filter(|(_, deps)| deps.is_empty())
                .map(|(n, _)| *n)
                .collect();
            if free.is_empty() {
                break;
            }
            for n in free {
                remaining.remove(n);
                for deps in remaining.values_mut() {
                    deps.remove(n);
                }
            }
        }
        if remaining.is_empty() {
            Ok(())
        } else {
            let cycle: Vec<&str> = remaining.keys().copied().collect();
            Err(bad(format!(
                "steps {} depend on each other in a cycle",
                cycle.join(", ")
            )))
        }
    }

    /// Checks the caller's values against the declared parameters and fills in defaults.
    /// Returns the typed values (what `Parameters.X` resolves to) and their string forms.
    pub fn bind_parameters(
        &self,
        given: &BTreeMap<String, String>,
    ) -> Result<BTreeMap<String, Value>, ExecutorError> {
        for name in given.keys() {
            if !self.parameters.iter().any(|p| &p.name == name) {
                let known: Vec<&str> = self.parameters.iter().map(|p| p.name.as_str()).collect();
                return Err(ExecutorError::parameter(
                    name,
                    format!(
                        "the pipeline has no such parameter (it has {})",
                        known.join(", ")
                    ),
                ));
            }
        }
        let mut bound = BTreeMap::new();
        for p in &self.parameters {
            let value = match (given.get(&p.name), &p.default) {
                (Some(text), _) => typed_value(p, text)?,
                (None, Some(default)) => default.clone(),
                (None, None) => {
                    return Err(ExecutorError::parameter(
                        &p.name,
                        "required (it has no default value) but not given",
                    ))
                }
            };
            bound.insert(p.name.clone(), value);
        }
        Ok(bound)
    }
}

/// The string form of a bound parameter value, as an execution lists it.
pub(crate) fn parameter_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Number(n) => format_number(n),
        other => other.to_string(),
    }
}

fn typed_value(p: &ParameterDef, text: &str) -> Result<Value, ExecutorError> {
    let value = match p.kind {
        ParameterType::String => Value::String(text.to_string()),
        ParameterType::Integer => {
            let n: i64 = text.trim().parse().map_err(|_| {
                ExecutorError::parameter(&p.name, format!("{text:?} is not an Integer"))
            })?;
            Value::from(n)
        }
        ParameterType::Float => {
            let x: f64 = text
                .trim()
                .parse()
                .ok()
                .filter(|x: &f64| x.is_finite())
                .ok_or_else(|| {
                    ExecutorError::parameter(&p.name, format!("{text:?} is not a Float"))
                })?;
            Value::from(x)
        }
        ParameterType::Boolean => match text.trim().to_ascii_lowercase().as_str() {
            "true" => Value::Bool(true),
            "false" => Value::Bool(false),
            _ => {
                return Err(ExecutorError::parameter(
                    &p.name,
                    format!("{text:?} is not a Boolean (true or false)"),
                ))
            }
        },
    };
    if let Some(allowed) = &p.enum_values {
        let shown = parameter_text(&value);
        if !allowed.iter().any(|a| a == &shown || a == text) {
            return Err(ExecutorError::parameter(
                &p.name,
                format!("{text:?} is not one of {}", allowed.join(", ")),
            ));
        }
    }
    Ok(value)
}

fn parse_parameter(v: &Value) -> Result<ParameterDef, ExecutorError> {
    let name = v
        .get("Name")
        .and_then(Value::as_str)
        .ok_or_else(|| bad("a parameter has no Name"))?
        .to_string();
    let kind = match v.get("Type").and_then(Value::as_str).unwrap_or("String") {
        "String" => ParameterType::String,
        "Integer" => ParameterType::Integer,
        "Float" => ParameterType::Float,
        "Boolean" => ParameterType::Boolean,
        other => return Err(bad(format!("parameter {name} has unknown Type {other}"))),
    };
    let enum_values = match v.get("EnumValues") {
        None | Some(Value::Null) => None,
        Some(Value::Array(items)) => Some(items.iter().map(parameter_text).collect()),
        Some(_) => return Err(bad(format!("parameter {name}: EnumValues is not a list"))),
    };
    let mut def = ParameterDef {
        name,
        kind,
        default: None,
        enum_values,
    };
    def.default = match v.get("DefaultValue") {
        None | Some(Value::Null) => None,
        Some(d) => Some(
            typed_value(&def, &parameter_text(d))
                .map_err(|e| bad(format!("default value: {e}")))?,
        ),
    };
    Ok(def)
}

fn parse_step(v: &Value, gate: Option<Gate>, out: &mut Vec<StepDef>) -> Result<(), ExecutorError> {
    let obj = v
        .as_object()
        .ok_or_else(|| bad("a step is not an object"))?;
    let name = obj
        .get("Name")
        .and_then(Value::as_str)
        .ok_or_else(|| bad("a step has no Name"))?
        .to_string();
    let type_name = obj
        .get("Type")
        .and_then(Value::as_str)
        .ok_or_else(|| bad(format!("step {name} has no Type")))?;
    let kind = StepType::parse(type_name).ok_or_else(|| {
        bad(format!(
            "step {name} has Type {type_name}, which the local executor does not run"
        ))
    })?;
    let mut arguments = obj
        .get("Arguments")
        .cloned()
        .unwrap_or(Value::Object(Map::new()));
    let mut branches = Vec::new();
    if kind == StepType::Condition {
        if let Some(args) = arguments.as_object_mut() {
            for (key, when) in [("IfSteps", true), ("ElseSteps", false)] {
                if let Some(steps) = args.remove(key) {
                    branches.push((steps, when));
                }
            }
        }
    }
    let mut depends_on: BTreeSet<String> = match obj.get("DependsOn") {
        None | Some(Value::Null) => BTreeSet::new(),
        Some(Value::Array(items)) => items
            .iter()
            .map(|d| {
                d.as_str()
                    .map(str::to_string)
                    .ok_or_else(|| bad(format!("step {name}: DependsOn holds a non-string")))
            })
            .collect::<Result<_, _>>()?,
        Some(_) => return Err(bad(format!("step {name}: DependsOn is not a list"))),
    };
    depends_on.extend(step_references(&arguments));
    if let Some(g) = &gate {
        depends_on.insert(g.condition.clone());
    }
    let property_files = match obj.get("PropertyFiles") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items
            .iter()
            .map(|pf| parse_property_file(&name, pf))
            .collect::<Result<_, _>>()?,
        Some(_) => return Err(bad(format!("step {name}: PropertyFiles is not a list"))),
    };
    out.push(StepDef {
        name: name.clone(),
        kind,
        arguments,
        property_files,
        depends_on,
        gate,
    });
    for (steps, when) in branches {
        let list = steps
            .as_array()
            .ok_or_else(|| bad(format!("step {name}: IfSteps/ElseSteps is not a list")))?;
        for nested in list {
            let g = Gate {
                condition: name.clone(),
                when,
            };
            parse_step(nested, Some(g), out)?;
        }
    }
    Ok(())
}

fn parse_property_file(step: &str, v: &Value) -> Result<PropertyFileDef, ExecutorError> {
    let field = |k: &str| {
        v.get(k)
            .and_then(Value::as_str)
            .map(str::to_string)
            .ok_or_else(|| bad(format!("step {step}: a PropertyFiles entry has no {k}")))
    };
    Ok(PropertyFileDef {
        name: field("PropertyFileName")?,
        output_name: field("OutputName")?,
        file_path: field("FilePath")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pipeline(steps: Value) -> Result<Pipeline, ExecutorError> {
        Pipeline::parse(
            &json!({"Version": "2020-12-01", "Parameters": [
            {"Name": "N", "Type": "Integer", "DefaultValue": 3},
            {"Name": "X", "Type": "Float", "DefaultValue": 0.5},
            {"Name": "S", "Type": "String"},
            {"Name": "E", "Type": "String", "DefaultValue": "a", "EnumValues": ["a", "b"]},
            {"Name": "B", "Type": "Boolean", "DefaultValue": false},
        ], "Steps": steps})
            .to_string(),
        )
    }

    fn given(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn binds_defaults_and_checks_types() {
        let p = pipeline(json!([])).unwrap();
        let bound = p
            .bind_parameters(&given(&[("S", "x"), ("N", "7")]))
            .unwrap();
        assert_eq!(bound["N"], json!(7));
        assert_eq!(bound["X"], json!(0.5));
        assert_eq!(bound["E"], json!("a"));
        assert_eq!(bound["B"], json!(false));

        let err = |g: &[(&str, &str)]| p.bind_parameters(&given(g)).unwrap_err().to_string();
        assert!(err(&[]).contains("parameter S: required"), "{}", err(&[]));
        assert!(err(&[("S", "x"), ("Nope", "1")]).contains("parameter Nope"));
        assert!(err(&[("S", "x"), ("N", "1.5")]).contains("parameter N: \"1.5\" is not an Integer"));
        assert!(err(&[("S", "x"), ("X", "abc")]).contains("parameter X"));
        assert!(err(&[("S", "x"), ("E", "c")]).contains("parameter E: \"c\" is not one of a, b"));
        assert!(err(&[("S", "x"), ("B", "yes")]).contains("parameter B"));
    }

    #[test]
    fn finds_dependencies_from_references_and_branches() {
        let p = pipeline(json!([
            {"Name": "A", "Type": "Processing", "Arguments": {}},
            {"Name": "B", "Type": "Training", "Arguments": {
                "X": {"Get": "Steps.A.ProcessingOutputConfig.Outputs['x'].S3Output.S3Uri"}}},
            {"Name": "C", "Type": "Condition", "DependsOn": ["B"], "Arguments": {
                "Conditions": [],
                "IfSteps": [{"Name": "D", "Type": "Fail", "Arguments": {}}],
                "ElseSteps": [{"Name": "E", "Type": "Fail", "Arguments": {}}]}},
        ]))
        .unwrap();
        let deps = |n: &str| {
            p.step(n)
                .unwrap()
                .depends_on
                .iter()
                .cloned()
                .collect::<Vec<_>>()
        };
        assert_eq!(deps("B"), ["A"]);
        assert_eq!(deps("C"), ["B"]);
        assert_eq!(deps("D"), ["C"]);
        assert_eq!(
            p.step("E").unwrap().gate,
            Some(Gate {
                condition: "C".into(),
                when: false
            })
        );
        assert!(p.step("C").unwrap().arguments.get("IfSteps").is_none());
    }

    #[test]
    fn the_step_graph_lists_every_step_with_its_dependencies_and_branch() {
        let definition = json!({"Steps": [
            {"Name": "A", "Type": "Processing", "Arguments": {}},
            {"Name": "C", "Type": "Condition", "DependsOn": ["A"], "Arguments": {
                "Conditions": [],
                "IfSteps": [{"Name": "D", "Type": "RegisterModel", "Arguments": {}}],
                "ElseSteps": [{"Name": "E", "Type": "Fail", "Arguments": {}}]}},
        ]});
        let graph = step_graph(&definition.to_string()).unwrap();
        let names: Vec<_> = graph.iter().map(|n| n.name.as_str()).collect();
        assert_eq!(names, ["A", "C", "D", "E"]);
        assert_eq!(graph[1].depends_on, ["A"]);
        assert_eq!(graph[2].step_type, "RegisterModel");
        assert_eq!(graph[2].branch_of, Some(("C".to_string(), true)));
        assert_eq!(graph[3].branch_of, Some(("C".to_string(), false)));
        assert!(step_graph(r#"{"Steps": [{"Name": "A", "Type": "Nope"}]}"#).is_err());
    }

    #[test]
    fn rejects_bad_graphs() {
        let e = pipeline(json!([{"Name": "A", "Type": "Processing", "DependsOn": ["Z"]}]))
            .unwrap_err()
            .to_string();
        assert!(e.contains("step A depends on or refers to step Z"), "{e}");
        let e = pipeline(json!([
            {"Name": "A", "Type": "Processing", "DependsOn": ["B"]},
            {"Name": "B", "Type": "Processing", "DependsOn": ["A"]},
        ]))
        .unwrap_err()
        .to_string();
        assert!(e.contains("cycle"), "{e}");
        let e = pipeline(json!([{"Name": "A", "Type": "EMR"}]))
            .unwrap_err()
            .to_string();
        assert!(e.contains("Type EMR"), "{e}");
    }
}
