//! Reading and writing CSV files with a header row, with errors that name file, row and column.
//!
//! Rows are numbered as a text editor shows them: the header is row 1, the first data row is
//! row 2 (a quoted field spanning lines counts from where its record starts).

use std::collections::VecDeque;
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
        while let Some((row, record)) = csv.next_record()? {
            rows.push(row);
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
            available: crate::error::listing(header),
        }),
    }
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
            rows: Rows::default(),
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
            Err(e) => {
                let begins = records.csv.get_mut().rows.starting_from(0);
                return Err(records.error(e, begins));
            }
        };
        if header.is_empty() || (header.len() == 1 && header[0].is_empty()) {
            return Err(MlError::EmptyFile { path: path.into() });
        }
        records.header = header;
        Ok(records)
    }

    /// The next record and the file row it starts on (its `position()` holds its starting
    /// byte), or `None` at the end.
    pub(crate) fn next_record(&mut self) -> Result<Option<(u64, &StringRecord)>> {
        let start = self.csv.position().byte();
        self.allow_one_record(start);
        match self.csv.read_record(&mut self.record) {
            Ok(true) => {
                let (_, row) = self.csv.get_mut().rows.starting_from(start);
                Ok(Some((row, &self.record)))
            }
            Ok(false) => Ok(None),
            Err(e) => {
                let begins = self.csv.get_mut().rows.starting_from(start);
                Err(self.error(e, begins))
            }
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

    /// `e`, met reading the record that starts at `(byte, row)`.
    fn error(&self, e: csv::Error, (byte, row): (u64, u64)) -> MlError {
        match (self.max_record_bytes, self.csv.get_ref().over_limit()) {
            (Some(limit), true) => MlError::RecordTooLong {
                path: self.path.clone(),
                row,
                limit,
            },
            _ => {
                let mut err = csv_error(&self.path, e, &self.header);
                // The csv crate's own row lags behind CRLF line ends and blank lines.
                match &mut err {
                    MlError::Ragged { row: r, .. } => *r = row,
                    MlError::NotUtf8 {
                        row: r, byte: b, ..
                    } => (*r, *b) = (row, byte),
                    _ => {}
                }
                err
            }
        }
    }
}

/// A reader that refuses to deliver past `until`: what bounds the memory a single record
/// (a gigantic field, a row of endless commas) can make the csv reader allocate. It notes
/// where the lines it delivers start ([`Rows`]).
struct Bounded<R> {
    inner: R,
    delivered: u64,
    until: u64,
    rows: Rows,
}

/// The file rows of the lines delivered so far that hold more than a line break, by starting
/// byte. The csv crate's own count is behind where a record starts after `\r\n` (it has
/// consumed only the `\r`; BurntSushi/rust-csv#395) or after blank lines, so a Windows file's
/// errors named the row above the bad one.
#[derive(Debug)]
struct Rows {
    /// Line breaks (`\n`) delivered.
    breaks: u64,
    /// Whether the next byte delivered starts a line.
    at_line_start: bool,
    /// `(byte, row)` of each such line start not yet passed by a record.
    starts: VecDeque<(u64, u64)>,
}

impl Default for Rows {
    fn default() -> Rows {
        Rows {
            breaks: 0,
            at_line_start: true,
            starts: VecDeque::new(),
        }
    }
}

impl Rows {
    /// Notes the line starts in `chunk`, delivered from byte `base` on. Between line starts
    /// the scan jumps from one `\n` to the next.
    fn scan(&mut self, chunk: &[u8], base: u64) {
        let mut i = 0;
        while i < chunk.len() {
            if self.at_line_start {
                match chunk[i] {
                    b'\n' => self.breaks += 1,
                    b'\r' => {}
                    _ => {
                        self.starts.push_back((base + i as u64, self.breaks + 1));
                        self.at_line_start = false;
                    }
                }
                i += 1;
            } else {
                match memchr::memchr(b'\n', &chunk[i..]) {
                    Some(k) => {
                        self.breaks += 1;
                        self.at_line_start = true;
                        i += k + 1;
                    }
                    None => break,
                }
            }
        }
    }

    /// The byte and row of the first line that holds more than a line break from byte `byte`
    /// on: where
    /// the record the csv reader started reading at `byte` begins. Earlier starts are dropped,
    /// so the queue holds only what the reader has read ahead.
    fn starting_from(&mut self, byte: u64) -> (u64, u64) {
        while self.starts.front().is_some_and(|&(at, _)| at < byte) {
            self.starts.pop_front();
        }
        self.starts
            .front()
            .copied()
            .unwrap_or((byte, self.breaks + 1))
    }
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
        self.rows.scan(&buf[..n], self.delivered);
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
    fn rows_are_the_lines_an_editor_shows_whatever_the_line_ends() {
        // The csv crate's own count lags one behind after `\r\n`, and behind blank lines.
        let crlf = read(b"a,b,CLASS\r\n1,2,x\r\n3,4,y\r\n").unwrap();
        assert_eq!(crlf.rows, [2, 3]);
        let blank = read(b"a,b\n\n1,2\n\n\r\n\n3,4\n").unwrap();
        assert_eq!(blank.rows, [3, 7]);
        let quoted = read(b"a,b\r\n\"x\r\ny\",1\r\n2,3\r\n").unwrap();
        assert_eq!(quoted.rows, [2, 4]);
        let msg = |r: Result<Table>| r.unwrap_err().to_string();
        assert_eq!(
            msg(read(b"a,b\r\n1,2\r\n3,4,5\r\n")),
            "data.csv: row 3: has 3 fields, the header has 2"
        );
        assert_eq!(
            msg(read(b"a,b\r\n1,2\r\n3,\xff\r\n")),
            "data.csv: row 3, column `b`: not valid UTF-8 (the record starts at byte 10)"
        );
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
