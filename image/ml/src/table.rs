//! Reading and writing CSV files with a header row, with errors that name file, row and column.
//!
//! Rows are numbered as a text editor shows them: the header is row 1, the first data row is
//! row 2 (a quoted field spanning lines counts from where its record starts).

use std::io::Read;
use std::path::{Path, PathBuf};

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
        let mut csv = Records::new(path, reader, None)?;
        let mut records = Vec::new();
        let mut rows = Vec::new();
        while let Some(record) = csv.next_record()? {
            rows.push(record_row(record));
            records.push(record.clone());
        }
        if records.is_empty() {
            return Err(MlError::NoRows { path: path.into() });
        }
        Ok(Table {
            source: path.display().to_string(),
            header: csv.header,
            records,
            rows,
        })
    }

    /// Index of the column called `name`, or an error listing the columns there are.
    pub fn column(&self, name: &str) -> Result<usize> {
        find_column(&self.source, &self.header, name)
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

/// Index of the column called `name` in `header`; `source` names the data in errors.
pub(crate) fn find_column(source: &str, header: &[String], name: &str) -> Result<usize> {
    let mut found = header.iter().enumerate().filter(|(_, h)| *h == name);
    match (found.next(), found.next()) {
        (Some((i, _)), None) => Ok(i),
        (Some(_), Some(_)) => Err(MlError::DuplicateColumn {
            source_name: source.to_string(),
            column: name.to_string(),
        }),
        _ => Err(MlError::NoSuchColumn {
            source_name: source.to_string(),
            column: name.to_string(),
            available: header.join(", "),
        }),
    }
}

/// The file row a record started on (header = 1).
pub(crate) fn record_row(record: &StringRecord) -> u64 {
    record.position().map_or(0, |p| p.line())
}

/// A CSV file read one record at a time, checked as [`Table::from_reader`] checks it: a
/// header row, every record as wide as the header, UTF-8.
pub(crate) struct Records<R: Read> {
    path: PathBuf,
    csv: csv::Reader<Bounded<R>>,
    /// The column names, trimmed.
    pub(crate) header: Vec<String>,
    record: StringRecord,
    max_record_bytes: Option<u64>,
}

/// How far the csv reader reads ahead of what it has parsed: its own buffer.
const CSV_BUFFER: usize = 1 << 16;

impl<R: Read> Records<R> {
    /// Reads the header. With `max_record_bytes`, a record longer than about that (the blank
    /// lines before it included) is an error instead of a buffer grown to its size.
    pub(crate) fn new(path: &Path, reader: R, max_record_bytes: Option<u64>) -> Result<Self> {
        let bounded = Bounded {
            inner: reader,
            delivered: 0,
            until: u64::MAX,
        };
        let mut records = Records {
            path: path.to_path_buf(),
            csv: ReaderBuilder::new()
                .has_headers(true)
                .flexible(false)
                .buffer_capacity(CSV_BUFFER)
                .from_reader(bounded),
            header: Vec::new(),
            record: StringRecord::new(),
            max_record_bytes,
        };
        records.allow_one_record(0);
        let header: Vec<String> = match records.csv.headers() {
            Ok(h) => h.iter().map(|h| h.trim().to_string()).collect(),
            Err(e) => return Err(records.error(e, 1)),
        };
        if header.is_empty() || (header.len() == 1 && header[0].is_empty()) {
            return Err(MlError::EmptyFile { path: path.into() });
        }
        records.header = header;
        Ok(records)
    }

    /// The next record (its `position()` holds its row and starting byte), or `None` at the
    /// end.
    pub(crate) fn next_record(&mut self) -> Result<Option<&StringRecord>> {
        let start = self.csv.position().clone();
        self.allow_one_record(start.byte());
        match self.csv.read_record(&mut self.record) {
            Ok(true) => Ok(Some(&self.record)),
            Ok(false) => Ok(None),
            Err(e) => Err(self.error(e, start.line())),
        }
    }

    /// The byte just past the last record read.
    pub(crate) fn byte(&self) -> u64 {
        self.csv.position().byte()
    }

    /// Lets the reader deliver one record from `start` on, plus what its buffer reads ahead.
    fn allow_one_record(&mut self, start: u64) {
        if let Some(max) = self.max_record_bytes {
            self.csv.get_mut().until = start.saturating_add(max).saturating_add(CSV_BUFFER as u64);
        }
    }

    fn error(&self, e: csv::Error, row: u64) -> MlError {
        match (self.max_record_bytes, self.csv.get_ref().over_limit()) {
            (Some(limit), true) => MlError::RecordTooLong {
                path: self.path.clone(),
                row,
                limit,
            },
            _ => csv_error(&self.path, e, &self.header),
        }
    }
}

/// A reader that refuses to deliver past `until`: what bounds the memory a single record
/// (a gigantic field, a row of endless commas) can make the csv reader allocate.
struct Bounded<R> {
    inner: R,
    delivered: u64,
    until: u64,
}

impl<R> Bounded<R> {
    fn over_limit(&self) -> bool {
        self.delivered >= self.until
    }
}

impl<R: Read> Read for Bounded<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let room = self.until.saturating_sub(self.delivered);
        if room == 0 {
            return Err(std::io::Error::other("record too long"));
        }
        let take = buf.len().min(usize::try_from(room).unwrap_or(usize::MAX));
        let n = self.inner.read(&mut buf[..take])?;
        self.delivered += n as u64;
        Ok(n)
    }
}

/// Maps a csv error to ours; `header` names the column of a bad field once it is known.
pub(crate) fn csv_error(path: &Path, e: csv::Error, header: &[String]) -> MlError {
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
