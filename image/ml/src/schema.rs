//! Feature encoding learned at fit time and stored with the model: numeric columns are imputed
//! with their mean, text (categorical) columns are one-hot encoded and imputed with their most
//! frequent category. A category never seen in training encodes as all zeros.

use std::collections::HashMap;

use csv::StringRecord;
use ndarray::Array2;
use serde::{Deserialize, Serialize};

use crate::error::{MlError, Result};
use crate::table::{find_column, Table};

/// Whether a cell reads as no value: empty, one of pandas' default `na_values` (the original
/// read its data with pandas), or any spelling of NaN that a float parser takes (`NAN`, `+nan`).
/// A NaN read as a number would reach a model: the column's mean would be NaN too.
pub fn is_missing(v: &str) -> bool {
    // No marker ends in a digit, and almost every cell is a number that does: one comparison
    // settles those before the list is searched (searched first, it cost 5 ms a million cells).
    match v.as_bytes().last() {
        None => return true,
        Some(b'0'..=b'9') => return false,
        Some(_) => {}
    }
    matches!(
        v,
        "#N/A"
            | "#N/A N/A"
            | "#NA"
            | "-1.#IND"
            | "-1.#QNAN"
            | "1.#IND"
            | "1.#QNAN"
            | "<NA>"
            | "N/A"
            | "n/a"
            | "NA"
            | "NULL"
            | "null"
            | "None"
    ) || v.len() <= 4
        && v.strip_prefix(['+', '-'])
            .unwrap_or(v)
            .eq_ignore_ascii_case("nan")
}

/// How one input column becomes model columns.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Encoding {
    /// One model column; a missing value becomes `fill` (the training mean).
    Numeric {
        /// The training mean.
        fill: f64,
    },
    /// One model column per category (sorted); a missing value becomes category `fill`
    /// (the most frequent one in training).
    Categorical {
        /// The categories seen in training, sorted; one model column each.
        categories: Vec<String>,
        /// Index of the most frequent category.
        fill: usize,
    },
}

/// One input column and its encoding.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Feature {
    /// The column's name in the header.
    pub name: String,
    /// How it becomes model columns.
    #[serde(flatten)]
    pub encoding: Encoding,
}

impl Feature {
    /// Its model columns.
    fn width(&self) -> usize {
        match &self.encoding {
            Encoding::Numeric { .. } => 1,
            Encoding::Categorical { categories, .. } => categories.len(),
        }
    }
}

/// One input value, from a CSV cell or a serving request.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Value<'a> {
    /// No value: the encoding's fill.
    Missing,
    /// A number.
    Number(f64),
    /// Any other text: a category, or an error for a numeric feature.
    Text(&'a str),
}

/// The feature columns in input order and how each is encoded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Schema {
    /// One per input column, in order.
    pub features: Vec<Feature>,
}

impl Schema {
    /// Learns the encoding of every column of `table` except `target`.
    pub fn fit(table: &Table, target: usize) -> Result<Schema> {
        Ok(Self::fit_encode(table, target)?.0)
    }

    /// [`Schema::fit`] and [`Schema::encode_table`] of the same table in one reading: each
    /// numeric cell is parsed once, not once to fit and again to encode.
    pub fn fit_encode(table: &Table, target: usize) -> Result<(Schema, Array2<f64>)> {
        let mut fitting = Fitting::new(&table.header, target, table.len());
        for (record, &row) in table.records.iter().zip(&table.rows) {
            fitting.push(row, record);
        }
        for (row, record) in table.records.iter().take(fitting.again()).enumerate() {
            // The same records again: nothing can differ.
            fitting.push_again(row, record);
        }
        fitting.finish(&table.source, &table.header, u64::MAX)
    }

    /// Number of model columns.
    pub fn width(&self) -> usize {
        self.features.iter().map(Feature::width).sum()
    }

    /// What model column `j` encodes, for messages: a numeric column's name, or
    /// `name=category` for a category's column; `None` past [`Schema::width`].
    pub fn column_name(&self, j: usize) -> Option<String> {
        let mut first = 0;
        for f in &self.features {
            if j < first + f.width() {
                return Some(match &f.encoding {
                    Encoding::Numeric { .. } => f.name.clone(),
                    Encoding::Categorical { categories, .. } => {
                        format!("{}={}", f.name, categories.get(j - first)?)
                    }
                });
            }
            first += f.width();
        }
        None
    }

    /// Encodes one row into `out` (length [`Schema::width`]); `value(i)` is feature i's value.
    /// On error returns the index of the offending feature and what is wrong with it.
    pub fn encode_row<'a>(
        &self,
        mut value: impl FnMut(usize) -> Value<'a>,
        out: &mut [f64],
    ) -> std::result::Result<(), (usize, String)> {
        let mut at = 0;
        for (i, feature) in self.features.iter().enumerate() {
            match &feature.encoding {
                Encoding::Numeric { fill } => {
                    out[at] = match value(i) {
                        Value::Missing => *fill,
                        Value::Number(x) if x.is_nan() => *fill,
                        Value::Number(x) => x,
                        Value::Text(t) => {
                            let t = t.trim();
                            if is_missing(t) {
                                *fill
                            } else {
                                match t.parse::<f64>() {
                                    Ok(x) if x.is_finite() => x,
                                    Ok(_) => {
                                        return Err((i, format!("`{t}` is not a finite number")))
                                    }
                                    Err(_) => return Err((i, format!("`{t}` is not a number"))),
                                }
                            }
                        }
                    };
                    at += 1;
                }
                Encoding::Categorical { categories, fill } => {
                    let slots = &mut out[at..at + categories.len()];
                    slots.fill(0.0);
                    let hit = match value(i) {
                        Value::Missing => Some(*fill),
                        Value::Number(x) if x.is_nan() => Some(*fill),
                        Value::Number(x) => find(categories, &x.to_string()),
                        Value::Text(t) if is_missing(t.trim()) => Some(*fill),
                        Value::Text(t) => find(categories, t.trim()),
                    };
                    if let Some(k) = hit {
                        slots[k] = 1.0;
                    }
                    at += categories.len();
                }
            }
        }
        Ok(())
    }

    /// Encodes the feature columns of `table` (found by name, so column order may differ).
    pub fn encode_table(&self, table: &Table) -> Result<Array2<f64>> {
        let columns: Vec<usize> = self
            .features
            .iter()
            .map(|f| table.column(&f.name))
            .collect::<Result<_>>()?;
        let width = self.width();
        let mut x = Array2::zeros((table.len(), width));
        for (r, (record, mut out)) in table.records.iter().zip(x.rows_mut()).enumerate() {
            let Some(out) = out.as_slice_mut() else {
                unreachable!("rows of a standard-layout array are contiguous")
            };
            self.encode_row(|i| Value::Text(record.get(columns[i]).unwrap_or("")), out)
                .map_err(|(i, message)| MlError::BadCell {
                    source_name: table.source.clone(),
                    row: table.rows[r] as usize,
                    column: self.features[i].name.clone(),
                    message,
                })?;
        }
        Ok(x)
    }
}

fn find(categories: &[String], v: &str) -> Option<usize> {
    categories.binary_search_by(|c| c.as_str().cmp(v)).ok()
}

/// Marks a missing cell among those [`Fitting`] holds: a NaN no parse gives (parsing gives
/// only the canonical NaN), so a cell that reads as a NaN stays one, as it always has.
const MISSING_CELL: u64 = 0x7ff8_0000_0000_0bad;

/// A schema learned and the rows encoded in one reading of the records, which need not be
/// held: [`Schema::fit_encode`] feeds it a table's records, `model`'s `TrainingData::read` a
/// file's as they are read. The rules are those of [`Schema::encode_row`]: a numeric column's fill is the
/// mean of its values, summed in row order; a column is text once one of its values is not a
/// number, one-hot over its sorted categories, and filled with the most frequent one.
///
/// Each row keeps one cell per feature (its number, or its category's id while the categories
/// are still being found); [`Fitting::finish`] widens these cells in place into the encoded
/// rows, so the memory is that of the encoded matrix and a few bytes a category.
pub(crate) struct Fitting {
    /// The header index of each feature (every column but the target).
    columns: Vec<usize>,
    fits: Vec<ColumnFit>,
    /// Row-major, one cell per feature: a number, a category id, or [`MISSING_CELL`].
    cells: Vec<f64>,
    target: usize,
}

/// What one column has shown so far.
enum ColumnFit {
    /// Every value a number so far; the first that is not finite, with its file row.
    Numeric {
        sum: f64,
        count: usize,
        infinite: Option<(u64, Box<str>)>,
    },
    /// A value that is not a number was seen: categories by id, in order of appearance.
    Text {
        ids: HashMap<Box<str>, usize>,
        counts: Vec<usize>,
        /// Rows before the first text value, when some held numbers: their cells are numbers,
        /// not category ids, and must be read again ([`Fitting::push_again`]).
        again: usize,
    },
}

impl ColumnFit {
    /// Takes a present (trimmed, not missing) value of record `row` (file row `file_row`);
    /// returns its cell.
    fn push(&mut self, v: &str, row: usize, file_row: u64) -> f64 {
        if let ColumnFit::Numeric {
            sum,
            count,
            infinite,
        } = self
        {
            match v.parse::<f64>() {
                Ok(x) => {
                    if !x.is_finite() && infinite.is_none() {
                        *infinite = Some((file_row, v.into()));
                    }
                    *sum += x;
                    *count += 1;
                    return x;
                }
                Err(_) => {
                    let again = if *count > 0 { row } else { 0 };
                    *self = ColumnFit::Text {
                        ids: HashMap::new(),
                        counts: Vec::new(),
                        again,
                    };
                }
            }
        }
        self.category(v)
    }

    /// Counts category `v` and returns its id as a cell.
    fn category(&mut self, v: &str) -> f64 {
        let ColumnFit::Text { ids, counts, .. } = self else {
            unreachable!("only a text column has categories")
        };
        let id = match ids.get(v) {
            Some(&id) => id,
            None => {
                ids.insert(v.into(), counts.len());
                counts.push(0);
                counts.len() - 1
            }
        };
        counts[id] += 1;
        id as f64
    }
}

impl Fitting {
    /// Fits every column of `header` but `target`; `rows` is how many records to make room for.
    pub(crate) fn new(header: &[String], target: usize, rows: usize) -> Fitting {
        let columns: Vec<usize> = (0..header.len()).filter(|&c| c != target).collect();
        Fitting {
            fits: columns
                .iter()
                .map(|_| ColumnFit::Numeric {
                    sum: 0.0,
                    count: 0,
                    infinite: None,
                })
                .collect(),
            cells: Vec::with_capacity(rows.saturating_mul(columns.len())),
            columns,
            target,
        }
    }

    /// Takes the next record, which starts on file row `file_row` (header = 1).
    pub(crate) fn push(&mut self, file_row: u64, record: &StringRecord) {
        let row = self
            .cells
            .len()
            .checked_div(self.columns.len())
            .unwrap_or(0);
        for (&c, fit) in self.columns.iter().zip(&mut self.fits) {
            let v = record.get(c).unwrap_or("").trim();
            let cell = if is_missing(v) {
                f64::from_bits(MISSING_CELL)
            } else {
                fit.push(v, row, file_row)
            };
            self.cells.push(cell);
        }
    }

    /// How many of the first records must be passed again to [`Fitting::push_again`], in
    /// order: those before a column's first text value, when it had numbers before it.
    pub(crate) fn again(&self) -> usize {
        self.fits
            .iter()
            .map(|f| match f {
                ColumnFit::Text { again, .. } => *again,
                ColumnFit::Numeric { .. } => 0,
            })
            .max()
            .unwrap_or(0)
    }

    /// Takes record `row` again, counting as categories the numbers of columns that later
    /// proved to be text. `false` if the record is not what [`Fitting::push`] was given.
    pub(crate) fn push_again(&mut self, row: usize, record: &StringRecord) -> bool {
        let width = self.columns.len();
        for (j, (&c, fit)) in self.columns.iter().zip(&mut self.fits).enumerate() {
            if !matches!(fit, ColumnFit::Text { again, .. } if *again > row) {
                continue;
            }
            let v = record.get(c).unwrap_or("").trim();
            let Some(cell) = self.cells.get_mut(row * width + j) else {
                return false;
            };
            if is_missing(v) {
                if cell.to_bits() != MISSING_CELL {
                    return false;
                }
            } else {
                match v.parse::<f64>() {
                    Ok(x) if x.to_bits() == cell.to_bits() => *cell = fit.category(v),
                    _ => return false,
                }
            }
        }
        true
    }

    /// The schema, and the rows encoded by it. Errors are those of fitting a table, in the
    /// same order; `source` names the data in them.
    pub(crate) fn finish(
        self,
        source: &str,
        header: &[String],
        available: u64,
    ) -> Result<(Schema, Array2<f64>)> {
        let Fitting {
            columns,
            fits,
            mut cells,
            target,
        } = self;
        let mut features = Vec::with_capacity(columns.len());
        // For a text feature, each category id's index among the sorted categories.
        let mut positions = Vec::with_capacity(columns.len());
        for (&c, fit) in columns.iter().zip(fits) {
            let name = header[c].clone();
            let (encoding, position) = match fit {
                ColumnFit::Numeric { count: 0, .. } => {
                    return Err(MlError::EmptyFeature {
                        source_name: source.to_string(),
                        column: name,
                    })
                }
                // Only finite numbers can be fitted, and served (a prediction refuses them):
                // scikit-learn refuses them too, where the original read them.
                ColumnFit::Numeric {
                    infinite: Some((row, value)),
                    ..
                } => {
                    return Err(MlError::BadCell {
                        source_name: source.to_string(),
                        row: usize::try_from(row).unwrap_or(usize::MAX),
                        column: name,
                        message: format!(
                            "`{value}` is not a finite number (leave a missing value empty)"
                        ),
                    })
                }
                ColumnFit::Numeric { sum, count, .. } => (
                    Encoding::Numeric {
                        fill: sum / count as f64,
                    },
                    Vec::new(),
                ),
                ColumnFit::Text { ids, counts, .. } => {
                    let mut sorted: Vec<(Box<str>, usize)> = ids.into_iter().collect();
                    sorted.sort_unstable_by(|a, b| a.0.cmp(&b.0));
                    let mut position = vec![0; sorted.len()];
                    for (k, (_, id)) in sorted.iter().enumerate() {
                        position[*id] = k;
                    }
                    // Most frequent; ties go to the first in sorted order (scikit-learn's
                    // SimpleImputer rule).
                    let (fill, _) = sorted
                        .iter()
                        .enumerate()
                        .fold((0, 0), |best, (k, (_, id))| {
                            if counts[*id] > best.1 {
                                (k, counts[*id])
                            } else {
                                best
                            }
                        });
                    let categories = sorted.into_iter().map(|(v, _)| v.into_string()).collect();
                    (Encoding::Categorical { categories, fill }, position)
                }
            };
            features.push(Feature { name, encoding });
            positions.push(position);
        }
        if features.is_empty() {
            return Err(MlError::NoFeatures {
                source_name: source.to_string(),
                target: header[target].clone(),
            });
        }
        // Encoding a table found each text column by name, so a name the header repeats was
        // refused there; it still is.
        for feature in &features {
            if let Encoding::Categorical { .. } = feature.encoding {
                find_column(source, header, &feature.name)?;
            }
        }
        let schema = Schema { features };
        let (held, width) = (columns.len(), schema.width());
        let rows = cells.len() / held;
        // One-hot columns are dense: a column of identifiers (a category a row) would make the
        // rows square, and the job would die allocating them or fitting beside them (the
        // folds of a linear model or a network copy the rows they fit). Where the encoding at
        // least doubles the cells, the rows may take half the memory; else all of it.
        let bytes = (rows as u64)
            .saturating_mul(width as u64)
            .saturating_mul(std::mem::size_of::<f64>() as u64);
        let one_hot = width >= 2 * held;
        if !one_hot && bytes > available {
            return Err(MlError::RowsBeyondMemory {
                source_name: source.to_string(),
                width,
                rows,
                bytes,
                available,
            });
        }
        if one_hot && bytes > available / 2 {
            let widest = schema.features.iter().max_by_key(|f| f.width());
            return Err(MlError::TooWide {
                source_name: source.to_string(),
                column: widest.map(|f| f.name.clone()).unwrap_or_default(),
                categories: widest.map_or(0, Feature::width),
                width,
                rows,
                bytes,
                available,
            });
        }
        // Widened in place from the last row back: row r's encoding never reaches the cells of
        // an earlier row, which end at r × held ≤ r × width.
        cells.reserve_exact(rows * width - cells.len());
        cells.resize(rows * width, 0.0);
        let mut row = vec![0.0; held];
        for r in (0..rows).rev() {
            row.copy_from_slice(&cells[r * held..(r + 1) * held]);
            let out = &mut cells[r * width..(r + 1) * width];
            let mut at = 0;
            for ((feature, position), &cell) in schema.features.iter().zip(&positions).zip(&row) {
                let missing = cell.to_bits() == MISSING_CELL;
                match &feature.encoding {
                    Encoding::Numeric { fill } => {
                        out[at] = if missing { *fill } else { cell };
                        at += 1;
                    }
                    Encoding::Categorical { categories, fill } => {
                        let slots = &mut out[at..at + categories.len()];
                        slots.fill(0.0);
                        slots[if missing {
                            *fill
                        } else {
                            position[cell as usize]
                        }] = 1.0;
                        at += categories.len();
                    }
                }
            }
        }
        let Ok(x) = Array2::from_shape_vec((rows, width), cells) else {
            unreachable!("rows × width cells")
        };
        Ok((schema, x))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn encodes_numbers_categories_and_missing_values() {
        let t = Table::from_reader(
            Path::new("d.csv"),
            &b"n,c,y\n1,red,a\n,blue,b\n3,red,a\n5,,b\n"[..],
        )
        .unwrap();
        let s = Schema::fit(&t, 2).unwrap();
        assert_eq!(s.features[0].encoding, Encoding::Numeric { fill: 3.0 });
        assert_eq!(
            s.features[1].encoding,
            Encoding::Categorical {
                categories: vec!["blue".into(), "red".into()],
                fill: 1
            }
        );
        let x = s.encode_table(&t).unwrap();
        assert_eq!(
            x.as_slice().unwrap(),
            [1., 0., 1., 3., 1., 0., 3., 0., 1., 5., 0., 1.]
        );
        let (once, encoded) = Schema::fit_encode(&t, 2).unwrap();
        assert_eq!(
            (once, encoded),
            (s.clone(), x),
            "one reading gives the same"
        );
        let mut out = [9.0; 3];
        s.encode_row(|i| [Value::Number(2.0), Value::Text("green")][i], &mut out)
            .unwrap();
        assert_eq!(out, [2., 0., 0.], "unknown category encodes as zeros");
        let err = s
            .encode_row(|i| [Value::Text("x"), Value::Missing][i], &mut out)
            .unwrap_err();
        assert_eq!(err, (0, "`x` is not a number".to_string()));
        let names: Vec<Option<String>> = (0..4).map(|j| s.column_name(j)).collect();
        let expected = [Some("n"), Some("c=blue"), Some("c=red"), None];
        assert_eq!(names, expected.map(|n| n.map(String::from)));
    }

    /// pandas' missing values, and every NaN a float parser reads, are missing: the column's
    /// mean is taken over its numbers and fills them. Read as NaN numbers, they made the mean
    /// NaN, and some families fitted NaN.
    #[test]
    fn every_spelling_of_nan_and_pandas_missing_values_are_missing() {
        let missing = [
            "NAN", "-nan", "+NaN", "Nan", "-NaN", "#N/A", "n/a", "<NA>", "1.#QNAN", "-1.#IND",
        ];
        let mut csv = String::from("n,y\n");
        for m in missing {
            csv.push_str(&format!("{m},a\n"));
        }
        csv.push_str("2,b\n4,a\n");
        let t = Table::from_reader(Path::new("d.csv"), csv.as_bytes()).unwrap();
        let (s, x) = Schema::fit_encode(&t, 1).unwrap();
        assert_eq!(s.features[0].encoding, Encoding::Numeric { fill: 3.0 });
        assert!(x.iter().all(|v| v.is_finite()), "{x:?}");
        for text in ["nanny", "-na", "inf", "1.5"] {
            assert!(!is_missing(text), "{text}");
        }
    }

    /// An infinite number cannot be fitted (the mean that imputes the column is infinite, or
    /// NaN) nor served: it is refused by row and column, in training and in encoding alike. A
    /// text column may hold `inf` as one of its categories.
    #[test]
    fn an_infinite_number_is_refused_by_row_and_column() {
        let t = Table::from_reader(
            Path::new("d.csv"),
            &b"n,c,y\n1,red,a\n2,inf,b\n-Infinity,blue,a\n"[..],
        )
        .unwrap();
        assert_eq!(
            Schema::fit(&t, 2).unwrap_err().to_string(),
            "d.csv: row 4, column `n`: `-Infinity` is not a finite number (leave a missing value \
             empty)"
        );
        let t = Table::from_reader(Path::new("d.csv"), &b"n,c,y\n1,red,a\n3,inf,b\n"[..]).unwrap();
        let s = Schema::fit(&t, 2).unwrap();
        let mut out = [0.0; 3];
        s.encode_row(|i| [Value::Text("2"), Value::Text("inf")][i], &mut out)
            .unwrap();
        assert_eq!(out, [2.0, 1.0, 0.0]);
        let err = s
            .encode_row(|i| [Value::Text("1e400"), Value::Text("red")][i], &mut out)
            .unwrap_err();
        assert_eq!(err, (0, "`1e400` is not a finite number".to_string()));
    }

    #[test]
    fn a_column_without_values_is_an_error() {
        let t = Table::from_reader(Path::new("d.csv"), &b"n,y\n,a\nNA,b\n"[..]).unwrap();
        assert_eq!(
            Schema::fit(&t, 1).unwrap_err().to_string(),
            "d.csv: column `n` has no values at all, so nothing can be learned or imputed"
        );
    }
}
