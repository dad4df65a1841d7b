//! A CSV file's records located rather than held: one reading checks every record as
//! [`Table::from_reader`](crate::table::Table::from_reader) does and keeps only where each
//! starts and the target's values; subsets are then written by reading each record again at
//! its offset. Memory is a few bytes a row, whatever the file's width.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use csv_core::ReadRecordResult;

use crate::error::{MlError, Result};
use crate::table::{csv_error, find_column, Records};
use crate::target::TargetValues;

/// The most one record may take, with the blank lines before it: far more than any table
/// row, and a bound on what a gigantic field or a row of endless commas can make us allocate.
pub const MAX_RECORD_BYTES: u64 = 16 << 20;

/// Where each record of a CSV file starts.
#[derive(Debug)]
pub struct RecordIndex {
    path: PathBuf,
    file: File,
    header: Vec<String>,
    /// The byte each record's reading starts at, then the byte past the last record.
    starts: Vec<u64>,
}

impl RecordIndex {
    /// Reads the CSV at `path` once, checking it as
    /// [`Table::read`](crate::table::Table::read) does, and gathers column `target`'s values.
    /// Errors come in the order `Table::read`, `Table::column` and
    /// [`read_target`](crate::target::read_target) would give them.
    pub fn read(
        path: &Path,
        target: &str,
        max_record_bytes: u64,
    ) -> Result<(RecordIndex, TargetValues)> {
        let file = File::open(path).map_err(|e| MlError::io(path, e))?;
        let reader = file.try_clone().map_err(|e| MlError::io(path, e))?;
        let mut records = Records::new(path, reader, Some(max_record_bytes))?;
        let source = path.display().to_string();
        // A missing column is reported once the whole file has been checked, as it is when the
        // file is read into a table first.
        let column = find_column(&source, &records.header, target);
        let mut values = TargetValues::new(source, target);
        let mut starts = Vec::new();
        while let Some((row, record)) = records.next_record()? {
            starts.push(record.position().map_or(0, |p| p.byte()));
            if let Ok(c) = column {
                values.push(row, record.get(c).unwrap_or(""))?;
            }
        }
        if starts.is_empty() {
            return Err(MlError::NoRows { path: path.into() });
        }
        starts.push(records.byte());
        column?;
        let header = std::mem::take(&mut records.header);
        let index = RecordIndex {
            path: path.to_path_buf(),
            file,
            header,
            starts,
        };
        Ok((index, values))
    }

    /// Data rows.
    pub fn len(&self) -> usize {
        self.starts.len() - 1
    }

    /// No data rows (never so for an index that was read).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The column names, trimmed.
    pub fn header(&self) -> &[String] {
        &self.header
    }

    /// Writes the header and the records at `indices`, in that order, as
    /// [`Table::write_subset`](crate::table::Table::write_subset) writes them.
    pub fn write_subset(&self, path: &Path, indices: &[usize]) -> Result<()> {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| MlError::io(parent, e))?;
        }
        let mut out = csv::WriterBuilder::new()
            .buffer_capacity(1 << 16)
            .from_path(path)
            .map_err(|e| csv_error(path, e, &[]))?;
        out.write_record(&self.header)
            .map_err(|e| csv_error(path, e, &[]))?;
        let mut file = &self.file;
        let mut parser = OneRecord::new(self.header.len());
        for &i in indices {
            let (Some(&start), Some(&end)) = (self.starts.get(i), self.starts.get(i + 1)) else {
                return Err(MlError::Split(format!(
                    "row index {i} is past the {} rows of {}",
                    self.len(),
                    self.path.display()
                )));
            };
            let bytes = parser.input(end - start);
            file.seek(SeekFrom::Start(start))
                .and_then(|_| file.read_exact(bytes))
                .map_err(|e| MlError::io(&self.path, e))?;
            let fields = parser.parse().ok_or_else(|| MlError::Changed {
                path: self.path.clone(),
                byte: start,
            })?;
            out.write_record(fields)
                .map_err(|e| csv_error(path, e, &[]))?;
        }
        out.flush().map_err(|e| MlError::io(path, e))
    }
}

/// Parses one record from the bytes the first reading found it in, reusing its buffers.
struct OneRecord {
    parser: csv_core::Reader,
    width: usize,
    /// A newline, then the record's bytes. The newline is a blank line the parser skips, and
    /// keeps it from taking a record that begins with a byte-order mark for the file's start
    /// and dropping the mark, which only the file's first bytes may be.
    input: Vec<u8>,
    output: Vec<u8>,
    ends: Vec<usize>,
}

impl OneRecord {
    fn new(width: usize) -> OneRecord {
        OneRecord {
            // The csv crate's defaults, which the first reading used.
            parser: csv_core::Reader::new(),
            width,
            input: vec![b'\n'],
            output: Vec::new(),
            ends: vec![0; width + 1],
        }
    }

    /// The buffer to read the record's `len` bytes into.
    fn input(&mut self, len: u64) -> &mut [u8] {
        // `len` was bounded when the index was read.
        let len = usize::try_from(len).unwrap_or(usize::MAX);
        self.input.resize(1 + len, 0);
        &mut self.input[1..]
    }

    /// The record's fields, or `None` unless the input holds exactly one record of the width
    /// the header has (the file changed since the index was read).
    fn parse(&mut self) -> Option<impl Iterator<Item = &[u8]>> {
        self.parser.reset();
        // Unquoting only shrinks a record, so the output never outgrows the input.
        if self.output.len() < self.input.len() {
            self.output.resize(self.input.len(), 0);
        }
        let mut input = &self.input[..];
        let (mut out, mut ends) = (0, 0);
        loop {
            let (result, read, wrote, ended) =
                self.parser
                    .read_record(input, &mut self.output[out..], &mut self.ends[ends..]);
            input = &input[read..];
            out += wrote;
            ends += ended;
            match result {
                // All input is taken; the next call, with none, tells the parser it has ended.
                ReadRecordResult::InputEmpty => {}
                ReadRecordResult::Record => break,
                // More fields than the header, or no record: not what was indexed.
                ReadRecordResult::OutputEndsFull
                | ReadRecordResult::OutputFull
                | ReadRecordResult::End => return None,
            }
        }
        // Only the record's terminator may follow it.
        if ends != self.width || input.iter().any(|&b| b != b'\r' && b != b'\n') {
            return None;
        }
        let (output, ends) = (&self.output, &self.ends[..ends]);
        Some((0..ends.len()).map(move |k| {
            let from = if k == 0 { 0 } else { ends[k - 1] };
            &output[from..ends[k]]
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::Table;
    use crate::target::read_target;

    fn file(dir: &tempfile::TempDir, bytes: &[u8]) -> PathBuf {
        let p = dir.path().join("data.csv");
        std::fs::write(&p, bytes).unwrap();
        p
    }

    #[test]
    fn writes_what_the_table_writes() {
        let dir = tempfile::tempdir().unwrap();
        let text: &[u8] = b"\xef\xbb\xbf a ,b,y\r\n\"1,5\",\"two\r\nlines\",x\r\n\r\n\xef\xbb\xbfq,,y\r\n\"\"\"q\"\"\",NA,x\r\n3,4,y";
        let p = file(&dir, text);
        let table = Table::read(&p).unwrap();
        let (index, values) = RecordIndex::read(&p, "y", MAX_RECORD_BYTES).unwrap();
        assert_eq!(index.header(), ["a", "b", "y"]);
        assert_eq!(index.len(), table.len());
        assert_eq!(
            read_target(values, None).unwrap(),
            read_target(TargetValues::from_table(&table, 2).unwrap(), None).unwrap()
        );
        let order = [3, 0, 2, 1, 0];
        let (old, new) = (dir.path().join("old.csv"), dir.path().join("new.csv"));
        table.write_subset(&old, &order).unwrap();
        index.write_subset(&new, &order).unwrap();
        assert_eq!(std::fs::read(&new).unwrap(), std::fs::read(&old).unwrap());
        let again = Table::read(&new).unwrap();
        assert_eq!(
            again.records[3].get(0),
            Some("\u{feff}q"),
            "a mark inside is data"
        );
        assert!(index.write_subset(&new, &[4]).is_err(), "past the rows");
    }

    #[test]
    fn reports_what_the_table_reports() {
        let dir = tempfile::tempdir().unwrap();
        let cases: [&[u8]; 6] = [
            b"",
            b"a,y\n",
            b"a,y\n1,2\n3,4,5\n",
            b"a,y\n1,2\n3,\xff\n",
            b"a,b\n1,2\n",
            b"a,y\n1,\n2,3\n",
        ];
        for text in cases {
            let p = file(&dir, text);
            let old = Table::read(&p).and_then(|t| {
                let c = t.column("y")?;
                read_target(TargetValues::from_table(&t, c)?, None)
            });
            let new = RecordIndex::read(&p, "y", MAX_RECORD_BYTES)
                .and_then(|(_, values)| read_target(values, None));
            assert_eq!(
                new.unwrap_err().to_string(),
                old.unwrap_err().to_string(),
                "{}",
                String::from_utf8_lossy(text)
            );
        }
        // A missing column waits for the rest of the file to be checked.
        let p = file(&dir, b"a,b\n1,2\n3\n");
        let e = RecordIndex::read(&p, "y", MAX_RECORD_BYTES).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!("{}: row 3: has 1 fields, the header has 2", p.display())
        );
    }

    #[test]
    fn a_record_past_the_limit_is_an_error_not_an_allocation() {
        let dir = tempfile::tempdir().unwrap();
        let limit = 1 << 10;
        let mut text = b"a,y\n1,2\n\"".to_vec();
        text.extend(std::iter::repeat_n(b'x', 1 << 20));
        text.extend(b"\",3\n");
        let p = file(&dir, &text);
        let e = RecordIndex::read(&p, "y", limit).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!(
                "{}: row 3: the record is longer than 1024 bytes, the most one record may take (blank lines before it included)",
                p.display()
            )
        );
        // A ragged row of endless commas is stopped the same way.
        let mut text = b"a,y\n1,2\n".to_vec();
        text.extend(std::iter::repeat_n(b',', 1 << 20));
        let p = file(&dir, &text);
        assert!(matches!(
            RecordIndex::read(&p, "y", limit),
            Err(MlError::RecordTooLong { row: 3, .. })
        ));
        // The header too.
        let p = file(&dir, &vec![b'h'; 1 << 20]);
        assert!(matches!(
            RecordIndex::read(&p, "y", limit),
            Err(MlError::RecordTooLong { row: 1, .. })
        ));
    }

    #[test]
    fn a_file_changed_under_the_index_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let p = file(&dir, b"a,y\n1,2\n3,4\n");
        let (index, _) = RecordIndex::read(&p, "y", MAX_RECORD_BYTES).unwrap();
        std::fs::write(&p, b"a,y\n1,2,3\n4\n").unwrap();
        let e = index
            .write_subset(&dir.path().join("out.csv"), &[0])
            .unwrap_err();
        assert!(matches!(e, MlError::Changed { byte: 4, .. }), "{e}");
    }
}
