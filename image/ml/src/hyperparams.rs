//! SageMaker hyperparameters: a JSON object whose values are strings. The SageMaker SDK
//! JSON-quotes some of them (`"\"CLASS\""`), the console does not; both forms read the same.
//! Numbers and booleans written bare (as a local runner might) are accepted too.

use std::collections::BTreeMap;
use std::str::FromStr;

use crate::error::{MlError, Result};

/// Hyperparameters by name, unquoted.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct HyperParams {
    values: BTreeMap<String, String>,
}

impl HyperParams {
    /// Reads SageMaker's `hyperparameters.json`: an object of strings (quoted or not), numbers or booleans.
    pub fn from_json(text: &str) -> Result<HyperParams> {
        let raw: serde_json::Map<String, serde_json::Value> = serde_json::from_str(text)
            .map_err(|e| MlError::HyperparameterFile(format!("not a JSON object: {e}")))?;
        let mut values = BTreeMap::new();
        for (name, value) in raw {
            let text = match value {
                serde_json::Value::String(s) => unquote(&s),
                serde_json::Value::Number(n) => n.to_string(),
                serde_json::Value::Bool(b) => b.to_string(),
                other => {
                    return Err(MlError::hp(
                        &name,
                        format!("expected a string, found {other}"),
                    ))
                }
            };
            values.insert(name, text);
        }
        Ok(HyperParams { values })
    }

    /// `(name, value)` pairs, unquoted as SageMaker's values are.
    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> HyperParams {
        HyperParams {
            values: pairs
                .into_iter()
                .map(|(k, v)| (k.to_string(), unquote(v)))
                .collect(),
        }
    }

    /// The value as given, `None` when absent.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.values.get(name).map(String::as_str)
    }

    /// Every `(name, value)`, by name.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.values.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// A copy, as recorded in `trial.json` and the manifest.
    pub fn to_map(&self) -> BTreeMap<String, String> {
        self.values.clone()
    }

    /// The value parsed as `T`, `None` when absent.
    pub fn parse<T: FromStr>(&self, name: &str) -> Result<Option<T>> {
        match self.get(name) {
            None => Ok(None),
            Some(v) => v.trim().parse::<T>().map(Some).map_err(|_| {
                MlError::hp(
                    name,
                    format!("`{v}` is not a valid {}", short_type_name::<T>()),
                )
            }),
        }
    }

    /// `true`/`false` in any case (Python's `True`), also `1`/`0`.
    pub fn flag(&self, name: &str) -> Result<Option<bool>> {
        match self.get(name).map(|v| v.trim().to_ascii_lowercase()) {
            None => Ok(None),
            Some(v) if v == "true" || v == "1" => Ok(Some(true)),
            Some(v) if v == "false" || v == "0" => Ok(Some(false)),
            Some(v) => Err(MlError::hp(name, format!("`{v}` is not true or false"))),
        }
    }

    /// Like [`HyperParams::parse`], but Python's `None` (also `null`, empty) reads as
    /// "explicitly none": `Ok(Some(None))`.
    pub fn parse_or_none<T: FromStr>(&self, name: &str) -> Result<Option<Option<T>>> {
        match self.get(name) {
            Some(v) if is_none(v) => Ok(Some(None)),
            _ => Ok(self.parse(name)?.map(Some)),
        }
    }
}

/// Python's `None` as a hyperparameter value.
pub fn is_none(v: &str) -> bool {
    matches!(v.trim(), "None" | "none" | "null" | "")
}

/// `"\"CLASS\""` → `CLASS`; anything else unchanged.
fn unquote(v: &str) -> String {
    let t = v.trim();
    if t.len() >= 2 && t.starts_with('"') && t.ends_with('"') {
        if let Ok(inner) = serde_json::from_str::<String>(t) {
            return inner;
        }
    }
    v.to_string()
}

fn short_type_name<T>() -> &'static str {
    let full = std::any::type_name::<T>();
    match full {
        "f64" | "f32" => "number",
        "usize" | "u64" | "u32" | "u16" => "non-negative whole number",
        "i64" | "i32" => "whole number",
        _ => full.rsplit("::").next().unwrap_or(full),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoted_and_unquoted_values_read_the_same() {
        let hp = HyperParams::from_json(
            r#"{"target": "\"CLASS\"", "cv-folds": "5", "C": "\"0.5\"", "cross-validation": "True",
                "max-depth": "None", "random-state": 42, "flag": true}"#,
        )
        .unwrap();
        assert_eq!(hp.get("target"), Some("CLASS"));
        assert_eq!(hp.parse::<usize>("cv-folds").unwrap(), Some(5));
        assert_eq!(hp.parse::<f64>("C").unwrap(), Some(0.5));
        assert_eq!(hp.flag("cross-validation").unwrap(), Some(true));
        assert_eq!(hp.flag("flag").unwrap(), Some(true));
        assert_eq!(hp.parse::<u64>("random-state").unwrap(), Some(42));
        assert_eq!(hp.parse_or_none::<usize>("max-depth").unwrap(), Some(None));
        assert_eq!(hp.parse::<f64>("missing").unwrap(), None);
    }

    #[test]
    fn bad_values_name_the_hyperparameter() {
        let hp = HyperParams::from_pairs([("C", "abc"), ("cross-validation", "maybe")]);
        assert_eq!(
            hp.parse::<f64>("C").unwrap_err().to_string(),
            "hyperparameter `C`: `abc` is not a valid number"
        );
        assert_eq!(
            hp.flag("cross-validation").unwrap_err().to_string(),
            "hyperparameter `cross-validation`: `maybe` is not true or false"
        );
        assert!(HyperParams::from_json("[1]").is_err());
        assert!(HyperParams::from_json(r#"{"a": [1]}"#).is_err());
    }
}
