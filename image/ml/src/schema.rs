//! Feature encoding learned at fit time and stored with the model: numeric columns are imputed
//! with their mean, text (categorical) columns are one-hot encoded and imputed with their most
//! frequent category. A category never seen in training encodes as all zeros.

use ndarray::Array2;
use serde::{Deserialize, Serialize};

use crate::error::{MlError, Result};
use crate::table::Table;

/// Cell texts read as "no value" (besides the empty string), as pandas reads them by default.
pub const MISSING_TOKENS: [&str; 7] = ["NA", "N/A", "NaN", "nan", "null", "NULL", "None"];

/// Whether a cell reads as no value (empty, or one of [`MISSING_TOKENS`]).
pub fn is_missing(v: &str) -> bool {
    v.is_empty() || MISSING_TOKENS.contains(&v)
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
        Ok(Self::fit_columns(table, target)?.0)
    }

    /// [`Schema::fit`] and [`Schema::encode_table`] of the same table in one reading: each
    /// numeric cell is parsed once, not once to fit and again to encode.
    pub fn fit_encode(table: &Table, target: usize) -> Result<(Schema, Array2<f64>)> {
        let (schema, parsed) = Self::fit_columns(table, target)?;
        let mut x = Array2::zeros((table.len(), schema.width()));
        let mut at = 0;
        for (feature, values) in schema.features.iter().zip(parsed) {
            match &feature.encoding {
                // `fit_columns` keeps every numeric feature's cells.
                Encoding::Numeric { fill } => {
                    let cells = values.into_iter().flatten();
                    for (cell, value) in x.column_mut(at).iter_mut().zip(cells) {
                        *cell = value.unwrap_or(*fill);
                    }
                    at += 1;
                }
                Encoding::Categorical { categories, fill } => {
                    let index = table.column(&feature.name)?;
                    for (r, record) in table.records.iter().enumerate() {
                        let v = record.get(index).unwrap_or("").trim();
                        let hit = if is_missing(v) {
                            Some(*fill)
                        } else {
                            find(categories, v)
                        };
                        if let Some(k) = hit {
                            x[[r, at + k]] = 1.0;
                        }
                    }
                    at += categories.len();
                }
            }
        }
        Ok((schema, x))
    }

    /// The features, and each numeric one's parsed cells.
    fn fit_columns(table: &Table, target: usize) -> Result<(Schema, Vec<ParsedCells>)> {
        let mut features = Vec::with_capacity(table.header.len().saturating_sub(1));
        let mut parsed = Vec::with_capacity(features.capacity());
        for (col, name) in table.header.iter().enumerate() {
            if col == target {
                continue;
            }
            let (encoding, values) = fit_column(table, col)?;
            features.push(Feature {
                name: name.clone(),
                encoding,
            });
            parsed.push(values);
        }
        if features.is_empty() {
            return Err(MlError::NoFeatures {
                source_name: table.source.clone(),
                target: table.header[target].clone(),
            });
        }
        Ok((Schema { features }, parsed))
    }

    /// Number of model columns.
    pub fn width(&self) -> usize {
        self.features
            .iter()
            .map(|f| match &f.encoding {
                Encoding::Numeric { .. } => 1,
                Encoding::Categorical { categories, .. } => categories.len(),
            })
            .sum()
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
                                t.parse::<f64>()
                                    .map_err(|_| (i, format!("`{t}` is not a number")))?
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

/// A numeric column's cells as parsed (`None`: missing); `None` for a categorical column.
type ParsedCells = Option<Vec<Option<f64>>>;

/// A column's encoding and, for a numeric one, its parsed cells.
fn fit_column(table: &Table, col: usize) -> Result<(Encoding, ParsedCells)> {
    let mut sum = 0.0;
    let mut count = 0usize;
    let mut values = Vec::with_capacity(table.len());
    for record in &table.records {
        let v = record.get(col).unwrap_or("").trim();
        if is_missing(v) {
            values.push(None);
            continue;
        }
        match v.parse::<f64>() {
            Ok(x) => {
                sum += x;
                count += 1;
                values.push(Some(x));
            }
            Err(_) => {
                values = Vec::new();
                break;
            }
        }
    }
    let numeric = values.len() == table.len();
    if numeric {
        if count == 0 {
            return Err(MlError::EmptyFeature {
                source_name: table.source.clone(),
                column: table.header[col].clone(),
            });
        }
        return Ok((
            Encoding::Numeric {
                fill: sum / count as f64,
            },
            Some(values),
        ));
    }
    let mut counts: std::collections::BTreeMap<&str, usize> = Default::default();
    for record in &table.records {
        let v = record.get(col).unwrap_or("").trim();
        if !is_missing(v) {
            *counts.entry(v).or_default() += 1;
        }
    }
    // Most frequent; ties go to the first in sorted order (scikit-learn's SimpleImputer rule).
    let (fill, _) =
        counts.values().enumerate().fold(
            (0, 0),
            |best, (i, &n)| if n > best.1 { (i, n) } else { best },
        );
    Ok((
        Encoding::Categorical {
            categories: counts.keys().map(|k| k.to_string()).collect(),
            fill,
        },
        None,
    ))
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
