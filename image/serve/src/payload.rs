//! Request payloads → [`Rows`]: headerless CSV (the original's format) and JSON (rows as
//! arrays, or records naming their columns).

use serde_json::Value;

use crate::port::{Cell, InputError, Rows};

/// The two payload formats, for requests and responses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Csv,
    Json,
}

impl Format {
    pub const CSV: &'static str = "text/csv";
    pub const JSON: &'static str = "application/json";

    pub fn mime(self) -> &'static str {
        match self {
            Format::Csv => Self::CSV,
            Format::Json => Self::JSON,
        }
    }

    /// The format a media type (parameters such as `charset` ignored) names.
    pub fn from_media_type(media_type: &str) -> Option<Self> {
        let essence = media_type.split(';').next().unwrap_or("").trim();
        if essence.eq_ignore_ascii_case(Self::CSV) {
            Some(Format::Csv)
        } else if essence.eq_ignore_ascii_case(Self::JSON) {
            Some(Format::Json)
        } else {
            None
        }
    }

    /// The response format an `Accept` header asks for: its first listed type we can
    /// write; `*/*` or no header means `fallback` (the request's own format).
    pub fn from_accept(accept: Option<&str>, fallback: Format) -> Option<Self> {
        let Some(accept) = accept.filter(|a| !a.trim().is_empty()) else {
            return Some(fallback);
        };
        accept.split(',').find_map(|item| {
            let essence = item.split(';').next().unwrap_or("").trim();
            match essence {
                "*/*" => Some(fallback),
                "text/*" => Some(Format::Csv),
                "application/*" => Some(Format::Json),
                _ => Self::from_media_type(essence),
            }
        })
    }
}

/// Parses a request body in `format`.
pub fn parse(format: Format, body: &[u8]) -> Result<Rows, InputError> {
    let rows = match format {
        Format::Csv => parse_csv(body)?,
        Format::Json => parse_json(body)?,
    };
    if rows.rows.is_empty() {
        return Err(whole("the payload holds no rows"));
    }
    Ok(rows)
}

fn whole(message: impl Into<String>) -> InputError {
    InputError {
        row: None,
        column: None,
        message: message.into(),
    }
}

fn at(row: usize, column: Option<String>, message: impl Into<String>) -> InputError {
    InputError {
        row: Some(row),
        column,
        message: message.into(),
    }
}

/// A field as the training data's CSV reader would see it: empty is missing, numbers are
/// numbers (NaN counts as missing), anything else is text.
fn cell(field: &str) -> Cell {
    let field = field.trim();
    if field.is_empty() {
        return Cell::Missing;
    }
    match field.parse::<f64>() {
        Ok(n) if n.is_nan() => Cell::Missing,
        Ok(n) => Cell::Number(n),
        Err(_) => Cell::Text(field.to_owned()),
    }
}

fn parse_csv(body: &[u8]) -> Result<Rows, InputError> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .buffer_capacity(body.len().clamp(64, 64 * 1024))
        .from_reader(body);
    let mut record = csv::ByteRecord::new();
    let mut rows: Vec<Vec<Cell>> = Vec::new();
    loop {
        let row = rows.len();
        match reader.read_byte_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(err) => return Err(at(row, None, format!("unreadable CSV: {err}"))),
        }
        let mut cells = Vec::with_capacity(record.len());
        for (column, field) in record.iter().enumerate() {
            let text = std::str::from_utf8(field).map_err(|_| {
                at(
                    row,
                    Some(column.to_string()),
                    "the field is not valid UTF-8",
                )
            })?;
            cells.push(cell(text));
        }
        push_row(&mut rows, cells)?;
    }
    Ok(Rows {
        columns: None,
        rows,
    })
}

/// Appends a row, refusing one whose width differs from row 0's.
fn push_row(rows: &mut Vec<Vec<Cell>>, cells: Vec<Cell>) -> Result<(), InputError> {
    let row = rows.len();
    if let Some(first) = rows.first() {
        if first.len() != cells.len() {
            let message = format!(
                "row {row} has {} values but row 0 has {}",
                cells.len(),
                first.len()
            );
            return Err(at(row, None, message));
        }
    }
    rows.push(cells);
    Ok(())
}

fn parse_json(body: &[u8]) -> Result<Rows, InputError> {
    let value: Value = serde_json::from_slice(body).map_err(|err| {
        whole(format!(
            "invalid JSON at line {} column {}: {err}",
            err.line(),
            err.column()
        ))
    })?;
    // `{"instances": [...]}` is the SageMaker/TensorFlow Serving envelope; accept it too.
    let value = match value {
        Value::Object(mut map) if map.contains_key("instances") => {
            map.remove("instances").unwrap_or(Value::Null)
        }
        other => other,
    };
    let Value::Array(items) = value else {
        return Err(whole(
            "expected a JSON array of rows (arrays or objects), or {\"instances\": [...]}",
        ));
    };
    match items.first() {
        None => Ok(Rows::default()),
        Some(Value::Object(_)) => json_records(items),
        Some(Value::Array(_)) => json_arrays(items),
        // A flat array of values is one row.
        Some(_) => Ok(Rows {
            columns: None,
            rows: vec![json_row(0, items)?],
        }),
    }
}

fn json_cell(
    row: usize,
    column: impl FnOnce() -> String,
    value: Value,
) -> Result<Cell, InputError> {
    match value {
        Value::Null => Ok(Cell::Missing),
        Value::Number(n) => Ok(n.as_f64().map_or(Cell::Missing, Cell::Number)),
        // Strings go through the CSV rules so "3.5" means what it means in the training data.
        Value::String(s) => Ok(cell(&s)),
        Value::Bool(b) => Ok(Cell::Text(if b { "True" } else { "False" }.to_owned())),
        Value::Array(_) | Value::Object(_) => Err(at(
            row,
            Some(column()),
            "a cell must be a number, a string, a boolean or null",
        )),
    }
}

fn json_row(row: usize, values: Vec<Value>) -> Result<Vec<Cell>, InputError> {
    values
        .into_iter()
        .enumerate()
        .map(|(column, value)| json_cell(row, || column.to_string(), value))
        .collect()
}

fn json_arrays(items: Vec<Value>) -> Result<Rows, InputError> {
    let mut rows: Vec<Vec<Cell>> = Vec::with_capacity(items.len());
    for (row, item) in items.into_iter().enumerate() {
        let Value::Array(values) = item else {
            return Err(at(row, None, "expected an array like row 0"));
        };
        let cells = json_row(row, values)?;
        push_row(&mut rows, cells)?;
    }
    Ok(Rows {
        columns: None,
        rows,
    })
}

/// Records: the columns are the first record's keys; later records may leave some out
/// (missing) but may not bring new ones.
fn json_records(items: Vec<Value>) -> Result<Rows, InputError> {
    let columns: Vec<String> = match items.first() {
        Some(Value::Object(first)) => first.keys().cloned().collect(),
        _ => Vec::new(),
    };
    let mut rows = Vec::with_capacity(items.len());
    for (row, item) in items.into_iter().enumerate() {
        let Value::Object(mut record) = item else {
            return Err(at(row, None, "expected an object like row 0"));
        };
        let mut cells = Vec::with_capacity(columns.len());
        for column in &columns {
            let value = record.remove(column).unwrap_or(Value::Null);
            cells.push(json_cell(row, || column.clone(), value)?);
        }
        if let Some(extra) = record.keys().next() {
            return Err(at(
                row,
                Some(extra.clone()),
                format!("column \"{extra}\" is not in row 0"),
            ));
        }
        rows.push(cells);
    }
    Ok(Rows {
        columns: Some(columns),
        rows,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(x: f64) -> Cell {
        Cell::Number(x)
    }

    #[test]
    fn csv_rows_without_header() {
        let rows = parse(Format::Csv, b"1.5,2,abc\n-3e2, ,\"x,y\"\r\n\n").unwrap();
        assert_eq!(rows.columns, None);
        assert_eq!(
            rows.rows,
            vec![
                vec![n(1.5), n(2.0), Cell::Text("abc".into())],
                vec![n(-300.0), Cell::Missing, Cell::Text("x,y".into())],
            ]
        );
    }

    #[test]
    fn csv_nan_is_missing() {
        let rows = parse(Format::Csv, b"nan,NaN,1").unwrap();
        assert_eq!(rows.rows, vec![vec![Cell::Missing, Cell::Missing, n(1.0)]]);
    }

    #[test]
    fn csv_ragged_rows_name_the_row() {
        let err = parse(Format::Csv, b"1,2,3\n4,5,6\n7,8\n").unwrap_err();
        assert_eq!(err.row, Some(2));
        assert!(err.message.contains("2 values"), "{}", err.message);
    }

    #[test]
    fn csv_invalid_utf8_names_row_and_column() {
        let err = parse(Format::Csv, b"1,2\n3,\xff\xfe\n").unwrap_err();
        assert_eq!((err.row, err.column.as_deref()), (Some(1), Some("1")));
    }

    #[test]
    fn empty_payloads_are_refused() {
        for (format, body) in [
            (Format::Csv, &b""[..]),
            (Format::Csv, b"\n\n"),
            (Format::Json, b"[]"),
        ] {
            let err = parse(format, body).unwrap_err();
            assert!(err.message.contains("no rows"), "{format:?} {body:?}");
        }
    }

    #[test]
    fn json_arrays_records_and_envelope() {
        let arrays = parse(Format::Json, br#"[[1, null, "b"], [2.5, "7", true]]"#).unwrap();
        assert_eq!(
            arrays.rows,
            vec![
                vec![n(1.0), Cell::Missing, Cell::Text("b".into())],
                vec![n(2.5), n(7.0), Cell::Text("True".into())],
            ]
        );
        let flat = parse(Format::Json, b"[1, 2]").unwrap();
        assert_eq!(flat.rows, vec![vec![n(1.0), n(2.0)]]);
        let envelope = parse(Format::Json, br#"{"instances": [[1, 2]]}"#).unwrap();
        assert_eq!(envelope.rows, flat.rows);
        let records = parse(Format::Json, br#"[{"a": 1, "b": "x"}, {"b": "y"}]"#).unwrap();
        assert_eq!(records.columns, Some(vec!["a".into(), "b".into()]));
        assert_eq!(
            records.rows,
            vec![
                vec![n(1.0), Cell::Text("x".into())],
                vec![Cell::Missing, Cell::Text("y".into())],
            ]
        );
    }

    #[test]
    fn json_errors_name_row_and_column() {
        let err = parse(Format::Json, br#"[{"a": 1}, {"a": 2, "z": 3}]"#).unwrap_err();
        assert_eq!((err.row, err.column.as_deref()), (Some(1), Some("z")));
        let err = parse(Format::Json, br#"[[1, 2], [3, [4]]]"#).unwrap_err();
        assert_eq!((err.row, err.column.as_deref()), (Some(1), Some("1")));
        let err = parse(Format::Json, br#"[[1, 2], [3]]"#).unwrap_err();
        assert_eq!(err.row, Some(1));
        let err = parse(Format::Json, br#"[{"a": {}}]"#).unwrap_err();
        assert_eq!((err.row, err.column.as_deref()), (Some(0), Some("a")));
        let err = parse(Format::Json, b"[[1,").unwrap_err();
        assert!(
            err.message.contains("invalid JSON at line 1"),
            "{}",
            err.message
        );
        let err = parse(Format::Json, br#"{"rows": []}"#).unwrap_err();
        assert!(
            err.message.contains("expected a JSON array"),
            "{}",
            err.message
        );
    }

    #[test]
    fn media_types_and_accept() {
        assert_eq!(
            Format::from_media_type("text/csv; charset=utf-8"),
            Some(Format::Csv)
        );
        assert_eq!(
            Format::from_media_type("Application/JSON"),
            Some(Format::Json)
        );
        assert_eq!(Format::from_media_type("text/plain"), None);
        assert_eq!(Format::from_accept(None, Format::Json), Some(Format::Json));
        assert_eq!(
            Format::from_accept(Some("*/*"), Format::Csv),
            Some(Format::Csv)
        );
        assert_eq!(
            Format::from_accept(Some("text/html, application/json;q=0.9"), Format::Csv),
            Some(Format::Json)
        );
        assert_eq!(Format::from_accept(Some("image/png"), Format::Csv), None);
    }
}
