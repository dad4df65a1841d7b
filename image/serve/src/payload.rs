//! Request payloads → [`Rows`]: headerless CSV (the original's format) and JSON (rows as
//! arrays, or records naming their columns).

use std::cell::RefCell;

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
    // Spreadsheet exports often start with a UTF-8 byte-order mark; it is not data.
    let body = body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body);
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
/// numbers (NaN counts as missing), anything else is text. A number that is not finite
/// (`inf`, `-Infinity`, `1e400`, which overflows to infinity) is refused: no model was trained
/// on one, and predicting from it gives a confident label with no probabilities.
fn cell(row: usize, column: impl FnOnce() -> String, field: &str) -> Result<Cell, InputError> {
    let field = field.trim();
    if field.is_empty() {
        return Ok(Cell::Missing);
    }
    match field.parse::<f64>() {
        Ok(n) if n.is_nan() => Ok(Cell::Missing),
        Ok(n) => number(row, column, n),
        Err(_) => Ok(Cell::Text(field.to_owned())),
    }
}

fn number(row: usize, column: impl FnOnce() -> String, n: f64) -> Result<Cell, InputError> {
    if n.is_finite() {
        Ok(Cell::Number(n))
    } else {
        Err(at(
            row,
            Some(column()),
            format!("{n} is not a finite number"),
        ))
    }
}

/// A CSV reader and its buffers, kept per worker thread: building csv-core's parser
/// tables costs more than parsing a one-row payload.
struct CsvScratch {
    reader: csv_core::Reader,
    fields: Vec<u8>,
    ends: Vec<usize>,
}

thread_local! {
    static CSV_SCRATCH: RefCell<CsvScratch> = RefCell::new(CsvScratch {
        reader: csv_core::Reader::new(),
        fields: Vec::new(),
        ends: Vec::new(),
    });
}

fn parse_csv(body: &[u8]) -> Result<Rows, InputError> {
    CSV_SCRATCH.with(|scratch| match scratch.try_borrow_mut() {
        Ok(mut scratch) => scratch.parse(body),
        // Only reachable if parsing re-entered itself on this thread; stay correct anyway.
        Err(_) => CsvScratch {
            reader: csv_core::Reader::new(),
            fields: Vec::new(),
            ends: Vec::new(),
        }
        .parse(body),
    })
}

impl CsvScratch {
    fn parse(&mut self, body: &[u8]) -> Result<Rows, InputError> {
        use csv_core::ReadRecordResult;
        self.reader.reset();
        // Unquoting only shrinks a field, so the body's length always suffices.
        self.fields.resize(body.len().max(1), 0);
        if self.ends.len() < 64 {
            self.ends.resize(64, 0);
        }
        let mut rows: Vec<Vec<Cell>> = Vec::new();
        let (mut input, mut written, mut ended) = (body, 0, 0);
        loop {
            let (result, read, out, ends) = self.reader.read_record(
                input,
                &mut self.fields[written..],
                &mut self.ends[ended..],
            );
            input = &input[read..];
            written += out;
            ended += ends;
            match result {
                // An empty input slice tells the reader the body is over.
                ReadRecordResult::InputEmpty => {}
                ReadRecordResult::OutputFull => {
                    let len = self.fields.len();
                    self.fields.resize(len * 2, 0);
                }
                ReadRecordResult::OutputEndsFull => {
                    let len = self.ends.len();
                    self.ends.resize(len * 2, 0);
                }
                ReadRecordResult::Record => {
                    let row = rows.len();
                    let cells = self.record(row, written, ended)?;
                    push_row(&mut rows, cells)?;
                    (written, ended) = (0, 0);
                }
                ReadRecordResult::End => break,
            }
        }
        Ok(Rows {
            columns: None,
            rows,
        })
    }

    /// The cells of the record whose fields fill `fields[..written]`, split at `ends[..ended]`.
    fn record(&self, row: usize, written: usize, ended: usize) -> Result<Vec<Cell>, InputError> {
        let fields = &self.fields[..written];
        let mut start = 0;
        self.ends[..ended]
            .iter()
            .enumerate()
            .map(|(column, &end)| {
                let field = &fields[start..end];
                start = end;
                let text = std::str::from_utf8(field).map_err(|_| {
                    at(
                        row,
                        Some(column.to_string()),
                        "the field is not valid UTF-8",
                    )
                })?;
                cell(row, || column.to_string(), text)
            })
            .collect()
    }
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

/// How many numbers too large for an `f64` are located (to name their row and column) before
/// the payload is refused as a whole.
const OUT_OF_RANGE_RETRIES: usize = 8;

fn parse_json(body: &[u8]) -> Result<Rows, InputError> {
    let mut quoted: Option<Vec<u8>> = None;
    let mut retries = 0;
    let value: Value = loop {
        let text = quoted.as_deref().unwrap_or(body);
        match serde_json::from_slice(text) {
            Ok(value) => break value,
            Err(err) => {
                // serde_json refuses `1e400` outright; quoted, it reaches the cell rules, which
                // refuse it naming its row and column.
                let requoted = (retries < OUT_OF_RANGE_RETRIES)
                    .then(|| quote_out_of_range(text, &err))
                    .flatten();
                match requoted {
                    Some(next) => {
                        quoted = Some(next);
                        retries += 1;
                    }
                    None => {
                        return Err(whole(format!(
                            "invalid JSON at line {} column {}: {err}",
                            err.line(),
                            err.column()
                        )))
                    }
                }
            }
        }
    };
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

/// `text` with the number serde_json found out of range (`err`) put in quotes, or `None`
/// when `err` is another error.
fn quote_out_of_range(text: &[u8], err: &serde_json::Error) -> Option<Vec<u8>> {
    if !err.is_syntax() || !err.to_string().starts_with("number out of range") {
        return None;
    }
    // serde_json's line is 1-based, its column the 1-based byte of the error in that line.
    let line_start = if err.line() <= 1 {
        0
    } else {
        text.iter()
            .enumerate()
            .filter(|(_, &b)| b == b'\n')
            .nth(err.line() - 2)?
            .0
            + 1
    };
    let is_number_byte =
        |b: &u8| b.is_ascii_digit() || matches!(b, b'-' | b'+' | b'.' | b'e' | b'E');
    let at = (line_start + err.column()).min(text.len());
    let start = text[..at]
        .iter()
        .rposition(|b| !is_number_byte(b))
        .map_or(0, |i| i + 1);
    let end = at + text[at..].iter().take_while(|b| is_number_byte(b)).count();
    if start >= end {
        return None;
    }
    let mut quoted = Vec::with_capacity(text.len() + 2);
    quoted.extend_from_slice(&text[..start]);
    quoted.push(b'"');
    quoted.extend_from_slice(&text[start..end]);
    quoted.push(b'"');
    quoted.extend_from_slice(&text[end..]);
    Some(quoted)
}

fn json_cell(
    row: usize,
    column: impl FnOnce() -> String,
    value: Value,
) -> Result<Cell, InputError> {
    match value {
        Value::Null => Ok(Cell::Missing),
        Value::Number(n) => match n.as_f64() {
            Some(n) => number(row, column, n),
            None => Ok(Cell::Missing),
        },
        // Strings go through the CSV rules so "3.5" means what it means in the training data.
        Value::String(s) => cell(row, column, &s),
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
    fn csv_reader_is_reset_between_payloads() {
        // An unterminated quote must not leak into the next payload on this thread.
        let first = parse(Format::Csv, b"1,\"open").unwrap();
        assert_eq!(first.rows, vec![vec![n(1.0), Cell::Text("open".into())]]);
        let wide: String = (0..200).map(|i| format!("{i},")).collect::<String>() + "x\n";
        let second = parse(Format::Csv, format!("{wide}{wide}").as_bytes()).unwrap();
        assert_eq!(second.rows.len(), 2);
        assert_eq!(second.rows[1].len(), 201);
        assert_eq!(second.rows[1][199], n(199.0));
    }

    #[test]
    fn a_byte_order_mark_is_not_data() {
        let csv = parse(Format::Csv, b"\xEF\xBB\xBF1,2").unwrap();
        assert_eq!(csv.rows, vec![vec![n(1.0), n(2.0)]]);
        let json = parse(Format::Json, b"\xEF\xBB\xBF[[1, 2]]").unwrap();
        assert_eq!(json.rows, csv.rows);
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
