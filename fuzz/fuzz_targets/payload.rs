//! Prediction payloads (`mmp_serve::payload::parse`): the first byte picks the format (even:
//! CSV, odd: JSON), the rest is the request body.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mmp_serve::payload::{parse, Format};
use mmp_serve::port::Cell;

fuzz_target!(|data: &[u8]| {
    let Some((&selector, body)) = data.split_first() else {
        return;
    };
    let format = if selector % 2 == 0 {
        Format::Csv
    } else {
        Format::Json
    };
    let Ok(rows) = parse(format, body) else {
        return;
    };
    assert!(!rows.rows.is_empty(), "an accepted payload has rows");
    let width = rows.columns.as_ref().map_or(rows.rows[0].len(), Vec::len);
    for (r, row) in rows.rows.iter().enumerate() {
        assert_eq!(row.len(), width, "row {r} is as wide as the others");
        for cell in row {
            match cell {
                Cell::Missing => {}
                Cell::Number(n) => assert!(n.is_finite(), "non-finite number {n} accepted"),
                // Text is what did not read as a number, trimmed and non-empty.
                Cell::Text(t) => assert!(
                    !t.is_empty() && t.trim() == t && t.parse::<f64>().is_err(),
                    "text cell {t:?}"
                ),
            }
        }
    }
    let body = body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body);
    match format {
        // Every record the csv crate reads (blank lines skipped, as csv-core does) is a row,
        // and the same fields sent as JSON arrays of strings are the same rows.
        Format::Csv => {
            let records: Vec<csv::StringRecord> = csv::ReaderBuilder::new()
                .has_headers(false)
                .flexible(true)
                .from_reader(body)
                .records()
                .filter_map(Result::ok)
                .collect();
            assert_eq!(records.len(), rows.rows.len(), "CSV row count");
            let arrays: Vec<Vec<&str>> = records.iter().map(|r| r.iter().collect()).collect();
            let json = match serde_json::to_vec(&arrays) {
                Ok(json) => json,
                Err(error) => panic!("fields as JSON: {error}"),
            };
            match parse(Format::Json, &json) {
                Ok(same) => assert_eq!(same.rows, rows.rows, "the rows as JSON differ"),
                Err(error) => panic!("the rows as JSON are refused: {error}"),
            }
        }
        // One row per element of the (enveloped) array, or one row for a flat array.
        Format::Json => {
            let Ok(value) = serde_json::from_slice::<serde_json::Value>(body) else {
                // Only numbers out of f64's range fail here, and those are refused.
                return;
            };
            let items = match value.get("instances") {
                Some(inner) if value.is_object() => inner,
                _ => &value,
            };
            let Some(items) = items.as_array() else {
                panic!("a payload that is not an array was accepted");
            };
            let expected = match items.first() {
                Some(serde_json::Value::Array(_) | serde_json::Value::Object(_)) => items.len(),
                _ => 1,
            };
            assert_eq!(expected, rows.rows.len(), "JSON row count");
        }
    }
});
