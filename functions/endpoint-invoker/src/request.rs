//! The POST body: `{"model": "...", "data": "<csv rows>"}` or `"data": [[...], ...]`, checked
//! and turned into CSV rows for the endpoint.

use serde::Deserialize;
use serde_json::Value;

/// A checked prediction request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PredictRequest {
    /// A dataset name or a model package group name.
    pub model: String,
    /// CSV rows without a header, newline-terminated.
    pub csv: String,
    /// How many rows `csv` holds.
    pub rows: usize,
}

/// What is wrong with a request body (the 400 message).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    #[error("request body is not valid JSON: {0}")]
    /// The body is not JSON.
    NotJson(String),
    #[error("request body: {0}")]
    /// The JSON is not `{"model", "data"}`.
    Shape(String),
    #[error("`model` must not be empty")]
    /// `model` is empty.
    EmptyModel,
    #[error("`data` has a quoted field that is never closed")]
    /// A CSV quote is never closed.
    Unterminated,
    #[error("`data` has no rows")]
    /// `data` holds no rows.
    NoRows,
    #[error("`data` row {row}: {reason}")]
    /// A row cannot be turned into CSV.
    BadRow {
        /// The row (1-based).
        row: usize,
        /// What is wrong with it.
        reason: String,
    },
    #[error("`data` row {row} has {found} fields; row 1 has {expected}")]
    /// Rows of different widths.
    Ragged {
        /// The first row that differs (1-based).
        row: usize,
        /// Its number of fields.
        found: usize,
        /// The first row's number of fields.
        expected: usize,
    },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Body {
    model: String,
    data: Value,
}

/// Parses and checks a POST body.
pub fn parse_request(body: &[u8]) -> Result<PredictRequest, RequestError> {
    let value: Value =
        serde_json::from_slice(body).map_err(|error| RequestError::NotJson(error.to_string()))?;
    if !value.is_object() {
        return Err(RequestError::Shape(
            "must be a JSON object with `model` and `data`".into(),
        ));
    }
    let body: Body =
        serde_json::from_value(value).map_err(|error| RequestError::Shape(error.to_string()))?;
    if body.model.trim().is_empty() {
        return Err(RequestError::EmptyModel);
    }
    let (csv, rows) = match &body.data {
        Value::String(text) => csv_rows(text)?,
        Value::Array(rows) => json_rows(rows)?,
        _ => {
            return Err(RequestError::Shape(
                "`data` must be a CSV string or an array of rows".into(),
            ))
        }
    };
    Ok(PredictRequest {
        model: body.model,
        csv,
        rows,
    })
}

/// Checks CSV text: parseable, no empty rows, every row as wide as the first.
fn csv_rows(text: &str) -> Result<(String, usize), RequestError> {
    // Escaped quotes are doubled, so an odd count means a quoted field never closes (the csv
    // reader would silently take the rest of the text as that field).
    if text.matches('"').count() % 2 == 1 {
        return Err(RequestError::Unterminated);
    }
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes());
    let mut expected = None;
    let mut rows = 0;
    for (index, record) in reader.records().enumerate() {
        let row = index + 1;
        let record = record.map_err(|error| RequestError::BadRow {
            row,
            reason: error.to_string(),
        })?;
        if record.iter().all(|field| field.trim().is_empty()) {
            return Err(RequestError::BadRow {
                row,
                reason: "is empty".into(),
            });
        }
        match expected {
            None => expected = Some(record.len()),
            Some(expected) if expected != record.len() => {
                return Err(RequestError::Ragged {
                    row,
                    found: record.len(),
                    expected,
                })
            }
            Some(_) => {}
        }
        rows += 1;
    }
    if rows == 0 {
        return Err(RequestError::NoRows);
    }
    let mut csv = text.trim_end_matches(['\n', '\r']).to_string();
    csv.push('\n');
    Ok((csv, rows))
}

/// Turns JSON rows into CSV: numbers as written, strings quoted where needed, null empty.
fn json_rows(rows: &[Value]) -> Result<(String, usize), RequestError> {
    if rows.is_empty() {
        return Err(RequestError::NoRows);
    }
    let mut writer = csv::WriterBuilder::new()
        .has_headers(false)
        .from_writer(Vec::new());
    let mut expected = None;
    for (index, row) in rows.iter().enumerate() {
        let row_number = index + 1;
        let Value::Array(fields) = row else {
            return Err(RequestError::BadRow {
                row: row_number,
                reason: "is not an array of values".into(),
            });
        };
        if fields.is_empty() {
            return Err(RequestError::BadRow {
                row: row_number,
                reason: "is empty".into(),
            });
        }
        match expected {
            None => expected = Some(fields.len()),
            Some(expected) if expected != fields.len() => {
                return Err(RequestError::Ragged {
                    row: row_number,
                    found: fields.len(),
                    expected,
                })
            }
            Some(_) => {}
        }
        let mut cells = Vec::with_capacity(fields.len());
        for (column, field) in fields.iter().enumerate() {
            cells.push(match field {
                Value::Number(number) => number.to_string(),
                Value::String(text) => text.clone(),
                Value::Bool(flag) => flag.to_string(),
                Value::Null => String::new(),
                Value::Array(_) | Value::Object(_) => {
                    return Err(RequestError::BadRow {
                        row: row_number,
                        reason: format!(
                            "column {} is not a number, string, boolean or null",
                            column + 1
                        ),
                    })
                }
            });
        }
        writer
            .write_record(&cells)
            .map_err(|error| RequestError::BadRow {
                row: row_number,
                reason: error.to_string(),
            })?;
    }
    let bytes = writer
        .into_inner()
        .map_err(|error| RequestError::Shape(error.to_string()))?;
    Ok((String::from_utf8_lossy(&bytes).into_owned(), rows.len()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(body: &str) -> Result<PredictRequest, RequestError> {
        parse_request(body.as_bytes())
    }

    #[test]
    fn original_body_and_json_rows_become_the_same_csv() {
        let original = parse(r#"{"model": "wine", "data": "1.5,2,3\n4,5,6"}"#).unwrap();
        assert_eq!(
            original,
            PredictRequest {
                model: "wine".into(),
                csv: "1.5,2,3\n4,5,6\n".into(),
                rows: 2
            }
        );
        let rows = parse(r#"{"model": "wine", "data": [[1.5, 2, 3], [4, 5, 6]]}"#).unwrap();
        assert_eq!(rows, original);
        let mixed = parse(r#"{"model": "m", "data": [["a,b", null, true]]}"#).unwrap();
        assert_eq!(mixed.csv, "\"a,b\",,true\n");
    }

    #[test]
    fn bad_bodies_name_the_problem() {
        let message = |body: &str| parse(body).unwrap_err().to_string();
        assert!(message("{").starts_with("request body is not valid JSON"));
        assert_eq!(
            message("[1]"),
            "request body: must be a JSON object with `model` and `data`"
        );
        assert!(message(r#"{"data": "1"}"#).contains("missing field `model`"));
        assert!(message(r#"{"model": "m"}"#).contains("missing field `data`"));
        assert!(
            message(r#"{"model": "m", "data": "1", "extra": 1}"#).contains("unknown field `extra`")
        );
        assert_eq!(
            message(r#"{"model": " ", "data": "1"}"#),
            "`model` must not be empty"
        );
        assert_eq!(
            message(r#"{"model": "m", "data": ""}"#),
            "`data` has no rows"
        );
        assert_eq!(
            message(r#"{"model": "m", "data": []}"#),
            "`data` has no rows"
        );
        assert_eq!(
            message(r#"{"model": "m", "data": 5}"#),
            "request body: `data` must be a CSV string or an array of rows"
        );
        assert_eq!(
            message(r#"{"model": "m", "data": "1,2\n3"}"#),
            "`data` row 2 has 1 fields; row 1 has 2"
        );
        assert_eq!(
            message(r#"{"model": "m", "data": [[1, 2], [3]]}"#),
            "`data` row 2 has 1 fields; row 1 has 2"
        );
        assert_eq!(
            message(r#"{"model": "m", "data": [[1], 2]}"#),
            "`data` row 2: is not an array of values"
        );
        assert_eq!(
            message(r#"{"model": "m", "data": [[1, [2]]]}"#),
            "`data` row 1: column 2 is not a number, string, boolean or null"
        );
        assert_eq!(
            message(r#"{"model": "m", "data": [[]]}"#),
            "`data` row 1: is empty"
        );
        assert_eq!(
            message(r#"{"model": "m", "data": "1,2\n,\n"}"#),
            "`data` row 2: is empty"
        );
        assert_eq!(
            message(r#"{"model": "m", "data": "\"a,1\n"}"#),
            "`data` has a quoted field that is never closed"
        );
    }
}
