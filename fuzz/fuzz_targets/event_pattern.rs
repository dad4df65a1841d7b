//! EventBridge patterns (`mmp_common::pattern`): the input is a pattern document and an event,
//! split at the first NUL byte (JSON text never holds a raw one).
#![no_main]

use libfuzzer_sys::fuzz_target;
use mmp_common::pattern::Pattern;
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let mut parts = data.splitn(2, |&b| b == 0);
    let (Some(pattern), Some(event)) = (parts.next(), parts.next()) else {
        return;
    };
    let Ok(text) = std::str::from_utf8(pattern) else {
        return;
    };
    let Ok(pattern) = Pattern::from_json(text) else {
        return;
    };
    let mut named = Vec::new();
    if let Ok(document) = serde_json::from_str::<Value>(text) {
        keys(&document, &mut named);
    }
    let Ok(mut event) = serde_json::from_slice::<Value>(event) else {
        return;
    };
    let matched = pattern.matches(&event);
    // A top-level field the pattern does not name does not change the outcome.
    let mut unnamed = String::from("fuzz-unnamed");
    while named.contains(&unnamed) {
        unnamed.push('_');
    }
    if let Value::Object(fields) = &mut event {
        if fields.contains_key(&unnamed) {
            return;
        }
        fields.insert(unnamed, Value::Bool(true));
        assert_eq!(
            matched,
            pattern.matches(&event),
            "an unrelated field changed the match"
        );
    }
});

/// Every object key anywhere in `value`.
fn keys(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(fields) => {
            for (key, child) in fields {
                out.push(key.clone());
                keys(child, out);
            }
        }
        Value::Array(items) => items.iter().for_each(|item| keys(item, out)),
        _ => {}
    }
}
