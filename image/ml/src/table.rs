//! Reading and writing CSV files with a header row, with errors that name file, row and column.
//!
//! Rows are numbered as a text editor shows them: the header is row 1, the first data row is
//! row 2 (a quoted field spanning lines counts from where its record starts).

use std::io::Read;
use std::path::Path;

use csv::{ReaderBuilder, StringRecord};

use crate::error::{MlError, Result};

/// A CSV file held in memory: its header and its records, each with the row it started on.
#[derive(Debug, Clone)]
pub struct Table {
    /// How errors name this table (usually the file path).
    pub source: String,
    /// The column names, in file order.
    pub header: Vec<String>,
    /// The data rows, as read.
    pub records: Vec<StringRecord>,
    /// File row (1-based, header = 1) of each record.
    pub rows: Vec<u64>,
}

impl Table {
    /// Reads a CSV file.
    pub fn read(path: &Path) -> Result<Table> {
        let file = std::fs::File::open(path).map_err(|e| MlError::io(path, e))?;
        Self::from_reader(path, std::io::BufReader::with_capacity(1 << 16, file))
    }

    /// Reads CSV text from any reader; `path` only names it in errors.
    pub fn from_reader(path: &Path, reader: impl Read) -> Result<Table> {
        let mut csv = ReaderBuilder::new()
            .has_headers(true)
            .flexible(false)
            .from_reader(reader);
        let header: Vec<String> = csv
            .headers()
            .map_err(|e| csv_error(path, e, &[]))?
            .iter()
            .map(|h| h.trim().to_string())
            .collect();
        if header.is_empty() || (header.len() == 1 && header[0].is_empty()) {
            return Err(MlError::EmptyFile { path: path.into() });
        }
        let mut records = Vec::new();
        let mut rows = Vec::new();
        let mut record = StringRecord::new();
        loop {
            match csv.read_record(&mut record) {
                Ok(false) => break,
                Ok(true) => {
                    rows.push(record.position().map_or(0, |p| p.line()));
                    records.push(record.clone());
                }
                Err(e) => return Err(csv_error(path, e, &header)),
            }
        }
        if records.is_empty() {
            return Err(MlError::NoRows { path: path.into() });
        }
        Ok(Table {
            source: path.display().to_string(),
            header,
            records,
            rows,
        })
    }

    /// Index of the column called `name`, or an error listing the columns there are.
    pub fn column(&self, name: &str) -> Result<usize> {
        let mut found = self.header.iter().enumerate().filter(|(_, h)| *h == name);
        match (found.next(), found.next()) {
            (Some((i, _)), None) => Ok(i),
            (Some(_), Some(_)) => Err(MlError::DuplicateColumn {
                source_name: self.source.clone(),
                column: name.to_string(),
            }),
            _ => Err(MlError::NoSuchColumn {
                source_name: self.source.clone(),
                column: name.to_string(),
                available: self.header.join(", "),
            }),
        }
    }

    /// Data rows.
    pub fn len(&self) -> usize {
        self.records.len()
    }

    /// No data rows.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// Writes the header and the records at `indices`, in that order.
    pub fn write_subset(&self, path: &Path, indices: &[usize]) -> Result<()> {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| MlError::io(parent, e))?;
        }
        let mut out = csv::Writer::from_path(path).map_err(|e| csv_error(path, e, &[]))?;
        out.write_record(&self.header)
            .map_err(|e| csv_error(path, e, &[]))?;
        for &i in indices {
            out.write_record(&self.records[i])
                .map_err(|e| csv_error(path, e, &[]))?;
        }
        out.flush().map_err(|e| MlError::io(path, e))
    }
}

/// Maps a csv error to ours; `header` names the column of a bad field once it is known.
fn csv_error(path: &Path, e: csv::Error, header: &[String]) -> MlError {
    match e.into_kind() {
        csv::ErrorKind::Io(source) => MlError::io(path, source),
        csv::ErrorKind::Utf8 { pos, err } => MlError::NotUtf8 {
            path: path.into(),
            row: pos.as_ref().map_or(0, |p| p.line()),
            column: header
                .get(err.field())
                .map_or_else(String::new, |name| format!(", column `{name}`")),
            byte: pos.as_ref().map_or(0, |p| p.byte()),
        },
        csv::ErrorKind::UnequalLengths {
            pos,
            expected_len,
            len,
        } => MlError::Ragged {
            path: path.into(),
            row: pos.as_ref().map_or(0, |p| p.line()),
            found: len,
            expected: expected_len,
        },
        other => MlError::Csv {
            path: path.into(),
            message: format!("{other:?}"),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &[u8]) -> Result<Table> {
        Table::from_reader(Path::new("data.csv"), text)
    }

    #[test]
    fn reads_header_rows_and_row_numbers() {
        let t = read(b"a,b,CLASS\n1,2,x\n3,4,y\n").unwrap();
        assert_eq!(t.header, ["a", "b", "CLASS"]);
        assert_eq!(t.len(), 2);
        assert_eq!(t.rows, [2, 3]);
        assert_eq!(t.column("CLASS").unwrap(), 2);
    }

    #[test]
    fn names_the_problem() {
        let msg = |r: Result<Table>| r.unwrap_err().to_string();
        assert_eq!(
            msg(read(b"")),
            "data.csv: the file is empty (a header row is required)"
        );
        assert_eq!(
            msg(read(b"a,b\n")),
            "data.csv: the file has a header row but no data rows"
        );
        assert_eq!(
            msg(read(b"a,b\n1,2\n3,4,5\n")),
            "data.csv: row 3: has 3 fields, the header has 2"
        );
        assert_eq!(
            msg(read(b"a,b\n1,2\n3,\xff\n")),
            "data.csv: row 3, column `b`: not valid UTF-8 (the record starts at byte 8)"
        );
        let t = read(b"a,b\n1,2\n").unwrap();
        assert_eq!(
            t.column("CLASS").unwrap_err().to_string(),
            "data.csv: no column named `CLASS` (columns: a, b)"
        );
    }
}
