//! Condition step conditions, evaluated over resolved values.

use std::cmp::Ordering;

use serde_json::Value;

use crate::expr::text;

/// All of `conditions` (already resolved) hold.
pub(crate) fn all_hold(conditions: &Value) -> Result<bool, String> {
    let list = match conditions {
        Value::Array(items) => items,
        Value::Null => return Ok(true),
        other => return Err(format!("Conditions is not a list: {other}")),
    };
    for c in list {
        if !holds(c)? {
            return Ok(false);
        }
    }
    Ok(true)
}

fn holds(c: &Value) -> Result<bool, String> {
    let kind = c
        .get("Type")
        .and_then(Value::as_str)
        .ok_or_else(|| format!("a condition has no Type: {c}"))?;
    let side = |k: &str| {
        c.get(k)
            .ok_or_else(|| format!("condition {kind} has no {k}"))
    };
    let ordering = || compare(side("LeftValue")?, side("RightValue")?);
    Ok(match kind {
        "Equals" => ordering()? == Ordering::Equal,
        "GreaterThan" => ordering()? == Ordering::Greater,
        "GreaterThanOrEqualTo" => ordering()? != Ordering::Less,
        "LessThan" => ordering()? == Ordering::Less,
        "LessThanOrEqualTo" => ordering()? != Ordering::Greater,
        "In" => {
            let query = side("QueryValue")?;
            let values = side("Values")?
                .as_array()
                .ok_or("condition In: Values is not a list")?;
            let mut found = false;
            for v in values {
                if compare(query, v)? == Ordering::Equal {
                    found = true;
                    break;
                }
            }
            found
        }
        "Not" => !holds(side("Condition")?)?,
        "Or" => {
            let list = side("Conditions")?
                .as_array()
                .ok_or("condition Or: Conditions is not a list")?;
            let mut any = false;
            for inner in list {
                if holds(inner)? {
                    any = true;
                    break;
                }
            }
            any
        }
        other => return Err(format!("unsupported condition type {other}")),
    })
}

/// Numbers compare as numbers (a numeric string counts as a number when the other side is
/// one, since property files often hold numbers as text); anything else compares as text.
fn compare(left: &Value, right: &Value) -> Result<Ordering, String> {
    let number = |v: &Value| match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse::<f64>().ok(),
        _ => None,
    };
    let either_number = left.is_number() || right.is_number();
    match (number(left), number(right)) {
        (Some(a), Some(b)) if either_number || (left.is_string() && right.is_string()) => a
            .partial_cmp(&b)
            .ok_or_else(|| format!("cannot compare {left} with {right}")),
        _ if either_number => Err(format!(
            "cannot compare {left} with {right}: not both numbers"
        )),
        _ => Ok(text(left).cmp(&text(right))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn cond(kind: &str, l: Value, r: Value) -> Value {
        json!([{"Type": kind, "LeftValue": l, "RightValue": r}])
    }

    #[test]
    fn compares_numbers() {
        assert!(all_hold(&cond("GreaterThanOrEqualTo", json!(0.7), json!(0.7))).unwrap());
        assert!(!all_hold(&cond("GreaterThanOrEqualTo", json!(0.69), json!(0.7))).unwrap());
        assert!(all_hold(&cond("GreaterThan", json!("10"), json!(9))).unwrap());
        assert!(all_hold(&cond("LessThan", json!(1), json!(2.5))).unwrap());
        assert!(all_hold(&cond("Equals", json!(2), json!(2.0))).unwrap());
        assert!(all_hold(&cond("LessThanOrEqualTo", json!("a"), json!("b"))).unwrap());
        assert!(all_hold(&cond("GreaterThan", json!("abc"), json!(1))).is_err());
    }

    #[test]
    fn combines_conditions() {
        let c = json!([{"Type": "Not", "Condition": {"Type": "In", "QueryValue": "x", "Values": ["a", "x"]}}]);
        assert!(!all_hold(&c).unwrap());
        let c = json!([{"Type": "Or", "Conditions": [
            {"Type": "Equals", "LeftValue": 1, "RightValue": 2},
            {"Type": "Equals", "LeftValue": "a", "RightValue": "a"}]}]);
        assert!(all_hold(&c).unwrap());
        let two = json!([{"Type": "Equals", "LeftValue": 1, "RightValue": 1},
                         {"Type": "Equals", "LeftValue": 1, "RightValue": 2}]);
        assert!(!all_hold(&two).unwrap());
        assert!(all_hold(&json!([{"Type": "Between"}]))
            .unwrap_err()
            .contains("Between"));
    }
}
