//! A fitted model with everything needed to use it on raw rows, and its artifact.
//!
//! The artifact is a folder (what a training job writes to `model/`, and what SageMaker
//! archives as `model.tar.gz` and the multi-model server unpacks) holding:
//!
//! - `manifest.json`: `format_version` (currently [`FORMAT_VERSION`]), `family`, `task`,
//!   `target`, `features` (name and encoding of every input column, in order), `classes`
//!   (labels as they appeared in the data, in the model's class order; absent for
//!   regression), `hyperparameters`, `payload` (the payload's file name);
//! - the payload: `model.json`, the family's fitted parameters (tagged with `family`), or
//!   for XGBoost and LightGBM fitted by the real libraries, the library's own model file
//!   (`xgboost-model.json`, `lightgbm-model.txt`) that the Python packages load as it is.
//!
//! A manifest with another format version is refused with a clear error.
//!
//! [`Model::load`] reads a folder that may come from anyone who can publish an archive, so it
//! reads only regular files directly inside it (a symbolic link, even to a file inside, a
//! folder, a FIFO or a device is refused without being opened or followed), at most
//! [`MAX_MANIFEST_BYTES`] of `manifest.json` and [`MAX_PAYLOAD_BYTES`] of the payload, and its
//! errors name files by their name in the folder, never by a path of the machine, and never
//! repeat what a refused file holds.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;

use ndarray::{Array2, ArrayView2};
use serde::{Deserialize, Serialize};

use crate::error::{MlError, Result};
use crate::estimators::linear::LinearParams;
use crate::estimators::{
    boosting, lightgbm, xgboost, Algorithm, Estimator, Fitted, ParamGuard, TrainTarget,
};
use crate::hyperparams::HyperParams;
use crate::schema::{Encoding, Fitting, Schema, Value};
use crate::table::{find_column, Records, Table};
use crate::target::{read_target, Target, TargetValues, Task};

/// The artifact format this build writes and reads.
pub const FORMAT_VERSION: u32 = 1;
/// The manifest's file name in the artifact.
pub const MANIFEST_FILE: &str = "manifest.json";
/// The payload of every model but those the boosting libraries fitted (kept with the
/// payloads, which name it without depending on this module).
pub use crate::estimators::PAYLOAD_FILE;
/// The largest `manifest.json` [`Model::load`] reads (a manifest lists the features; this is
/// room for hundreds of thousands).
pub const MAX_MANIFEST_BYTES: u64 = 16 << 20;
/// The largest payload [`Model::load`] reads (1 GiB: it is held in memory while parsed).
pub const MAX_PAYLOAD_BYTES: u64 = 1 << 30;

/// What a model is, beside its payload: `manifest.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// [`FORMAT_VERSION`] when written.
    pub format_version: u32,
    /// The family the pipeline tuned.
    pub family: Algorithm,
    /// The task it predicts.
    pub task: Task,
    /// The target column it was trained to predict.
    pub target: String,
    /// The input columns and their encoding (flattened into the manifest).
    #[serde(flatten)]
    pub schema: Schema,
    /// The classes in output order; absent for regression.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub classes: Option<Vec<String>>,
    /// The hyperparameters it was fitted with.
    #[serde(default)]
    pub hyperparameters: BTreeMap<String, String>,
    /// The payload's file name in the artifact.
    pub payload: String,
}

/// Predictions for many rows.
#[derive(Debug, Clone, PartialEq)]
pub enum Predictions {
    /// One row of class probabilities per input row, columns in `classes` order.
    Proba(Array2<f64>),
    /// One predicted value per input row.
    Values(Vec<f64>),
}

/// Training data read from a table: encoded features and the target.
#[derive(Debug, Clone)]
pub struct TrainingData {
    /// The task, given or detected.
    pub task: Task,
    /// The target column.
    pub target_name: String,
    /// The encoding learned from the table.
    pub schema: Schema,
    /// Encoded rows, one model column per encoded value.
    pub x: Array2<f64>,
    /// The target, encoded.
    pub target: Target,
}

impl TrainingData {
    /// Learns the encoding from `table` and encodes it; `task` is detected unless given.
    pub fn from_table(table: &Table, target: &str, task: Option<Task>) -> Result<TrainingData> {
        let column = table.column(target)?;
        let (task, target_values) = read_target(TargetValues::from_table(table, column)?, task)?;
        let (schema, x) = Schema::fit_encode(table, column)?;
        Ok(TrainingData {
            task,
            target_name: target.to_string(),
            schema,
            x,
            target: target_values,
        })
    }

    /// [`TrainingData::from_table`] of the CSV at `path`, without holding its records: one
    /// reading checks each record as [`Table::read`] does, gathers the target's values and
    /// keeps one cell per feature ([`Schema::fit_encode`]'s rules), which then become the
    /// encoded rows in place. The first records are read once more only if a column turns out
    /// to be text after holding numbers (their text is needed as categories). Errors are those
    /// of `Table::read` and `from_table`, in the same order, except that a record longer than
    /// `max_record_bytes` is refused instead of read, and encoded rows that would take more than
    /// `available` bytes (half of it where one-hot encoding at least doubles the cells) are
    /// refused before they are made ([`MlError::RowsBeyondMemory`], [`MlError::TooWide`]).
    pub fn read(
        path: &Path,
        target: &str,
        task: Option<Task>,
        max_record_bytes: u64,
        available: u64,
    ) -> Result<TrainingData> {
        let open = || {
            let file = std::fs::File::open(path).map_err(|e| MlError::io(path, e))?;
            Records::new(path, file, Some(max_record_bytes))
        };
        let mut records = open()?;
        let source = path.display().to_string();
        // A missing column is reported once the whole file has been checked, as it is when the
        // file is read into a table first.
        let column = find_column(&source, &records.header, target);
        let mut values = TargetValues::new(source.as_str(), target);
        // Without the target column nothing is fitted (the error comes after the reading).
        let mut fitting = Fitting::new(&records.header, *column.as_ref().unwrap_or(&0), 0);
        let mut rows = 0usize;
        // The cells grow with the records, whose count is not known before: a grown buffer's
        // pages are resident only once written, so the spare capacity costs no memory.
        while let Some((row, record)) = records.next_record()? {
            rows += 1;
            if let Ok(c) = column {
                values.push(row, record.get(c).unwrap_or(""))?;
                fitting.push(row, record);
            }
        }
        if rows == 0 {
            return Err(MlError::NoRows { path: path.into() });
        }
        column?;
        let (task, target_values) = read_target(values, task)?;
        let again = fitting.again();
        if again > 0 {
            let mut records = open()?;
            for row in 0..again {
                let record = records.next_record()?.map(|(_, record)| record);
                let byte = record.and_then(|r| r.position()).map_or(0, |p| p.byte());
                if !record.is_some_and(|r| fitting.push_again(row, r)) {
                    return Err(MlError::Changed {
                        path: path.into(),
                        byte,
                    });
                }
            }
        }
        let (schema, x) = fitting.finish(&source, &records.header, available)?;
        Ok(TrainingData {
            task,
            target_name: target.to_string(),
            schema,
            x,
            target: target_values,
        })
    }

    /// The target as estimators take it.
    pub fn train_target(&self) -> TrainTarget<'_> {
        match &self.target {
            Target::Classes { labels, codes } => TrainTarget::Classes {
                codes,
                n_classes: labels.len(),
            },
            Target::Values(v) => TrainTarget::Values(v),
        }
    }

    /// The classes, `None` for regression.
    pub fn classes(&self) -> Option<&[String]> {
        match &self.target {
            Target::Classes { labels, .. } => Some(labels),
            Target::Values(_) => None,
        }
    }
}

/// A fitted model, ready to predict.
#[derive(Debug, Clone, PartialEq)]
pub struct Model {
    /// Its manifest.
    pub manifest: Manifest,
    /// Its fitted estimator.
    pub fitted: Fitted,
    width: usize,
}

impl Model {
    /// Fits `estimator` on all of `data`.
    pub fn fit(
        estimator: &dyn Estimator,
        data: &TrainingData,
        hyperparameters: BTreeMap<String, String>,
        seed: u64,
    ) -> Result<Model> {
        estimator.supports(data.task)?;
        let fitted = estimator.fit(data.x.view(), data.train_target(), seed)?;
        Ok(Model {
            manifest: Manifest {
                format_version: FORMAT_VERSION,
                family: estimator.family(),
                task: data.task,
                target: data.target_name.clone(),
                schema: data.schema.clone(),
                classes: data.classes().map(<[String]>::to_vec),
                hyperparameters,
                payload: fitted.payload_file().to_string(),
            },
            width: data.schema.width(),
            fitted,
        })
    }

    /// The task it predicts.
    pub fn task(&self) -> Task {
        self.manifest.task
    }

    /// What was fitted, by scikit-learn's class name (the boosting libraries' scikit-learn
    /// API for XGBoost and LightGBM). The family name the pipeline definition tunes
    /// (`manifest.family`) covers a classifier and its regression counterpart: the
    /// `LogisticRegression` family fits `Ridge` (or `LinearRegression` with `penalty=None`)
    /// on a numeric target. XGBoost and LightGBM fitted by the pure-Rust booster say so.
    pub fn estimator(&self) -> String {
        let regression = self.task() == Task::Regression;
        let name = match (self.manifest.family, regression) {
            (Algorithm::LogisticRegression, false) => "LogisticRegression",
            (Algorithm::LogisticRegression, true) => {
                let hp = HyperParams::from_pairs(
                    self.manifest
                        .hyperparameters
                        .iter()
                        .map(|(k, v)| (k.as_str(), v.as_str())),
                );
                // Parsed as the family parsed them when it fitted this model.
                match LinearParams::from_hyperparams(&hp).and_then(ParamGuard::check) {
                    Ok(p) if p.inverse_c() == 0.0 => "LinearRegression",
                    _ => "Ridge",
                }
            }
            (Algorithm::NaiveBayes, _) => "GaussianNB",
            (Algorithm::RandomForest, false) => "RandomForestClassifier",
            (Algorithm::RandomForest, true) => "RandomForestRegressor",
            (Algorithm::NeuralNet, false) => "MLPClassifier",
            (Algorithm::NeuralNet, true) => "MLPRegressor",
            (Algorithm::XGBoost, false) => "XGBClassifier",
            (Algorithm::XGBoost, true) => "XGBRegressor",
            (Algorithm::LightGBM, false) => "LGBMClassifier",
            (Algorithm::LightGBM, true) => "LGBMRegressor",
        };
        match self.fitted {
            Fitted::GradientBoosting(_) => format!("{name} ({})", boosting::ENGINE_NAME),
            _ => name.to_string(),
        }
    }

    /// The input columns and their encoding.
    pub fn schema(&self) -> &Schema {
        &self.manifest.schema
    }

    /// The classes in output order, `None` for regression.
    pub fn classes(&self) -> Option<&[String]> {
        self.manifest.classes.as_deref()
    }

    /// Number of model columns an encoded row has.
    pub fn width(&self) -> usize {
        self.width
    }

    /// Number of values [`Model::predict_encoded_row`] writes: classes, or 1.
    pub fn n_outputs(&self) -> usize {
        self.classes().map_or(1, <[String]>::len)
    }

    /// Predicts one encoded row into `out` (length [`Model::n_outputs`]).
    #[inline]
    pub fn predict_encoded_row(&self, x: &[f64], out: &mut [f64]) {
        self.fitted.predictor().predict_row(x, out);
    }

    /// Encodes one raw row (`value(i)` is input column i) into `scratch` and predicts it.
    pub fn predict_row<'a>(
        &self,
        value: impl FnMut(usize) -> Value<'a>,
        scratch: &mut [f64],
        out: &mut [f64],
    ) -> std::result::Result<(), (usize, String)> {
        self.schema().encode_row(value, scratch)?;
        self.predict_encoded_row(scratch, out);
        Ok(())
    }

    /// Predicts encoded rows.
    pub fn predict_encoded(&self, x: ArrayView2<f64>) -> Predictions {
        let k = self.n_outputs();
        let mut out = Array2::zeros((x.nrows(), k));
        let mut scratch = vec![0.0; x.ncols()];
        for (row, mut o) in x.rows().into_iter().zip(out.rows_mut()) {
            let input: &[f64] = match row.as_slice() {
                Some(s) => s,
                None => {
                    scratch
                        .iter_mut()
                        .zip(row.iter())
                        .for_each(|(d, s)| *d = *s);
                    &scratch
                }
            };
            match o.as_slice_mut() {
                Some(dst) => self.predict_encoded_row(input, dst),
                None => unreachable!("rows of a fresh array are contiguous"),
            }
        }
        if self.manifest.task == Task::Regression {
            Predictions::Values(out.into_raw_vec_and_offset().0)
        } else {
            Predictions::Proba(out)
        }
    }

    /// Encodes and predicts the rows of a table (feature columns found by name).
    pub fn predict_table(&self, table: &Table) -> Result<Predictions> {
        let x = self.schema().encode_table(table)?;
        Ok(self.predict_encoded(x.view()))
    }

    /// Writes `manifest.json` and the payload into `dir`.
    pub fn save(&self, dir: &Path) -> Result<()> {
        std::fs::create_dir_all(dir).map_err(|e| MlError::io(dir, e))?;
        write_json(&dir.join(MANIFEST_FILE), &self.manifest)?;
        let path = dir.join(&self.manifest.payload);
        std::fs::write(&path, self.fitted.payload()?).map_err(|e| MlError::io(path, e))
    }

    /// Loads from an unpacked artifact folder.
    pub fn load(dir: &Path) -> Result<Model> {
        let manifest = read_model_file(dir, MANIFEST_FILE, MAX_MANIFEST_BYTES)?;
        let manifest = parse_manifest(&manifest)?;
        let payload = read_model_file(dir, &manifest.payload, MAX_PAYLOAD_BYTES)?;
        Self::from_parts(manifest, &payload)
    }

    /// Loads from a `model.tar.gz`.
    pub fn load_archive(path: &Path) -> Result<Model> {
        let files = read_archive(path)?;
        let get = |name: &str| {
            files.get(name).ok_or_else(|| {
                MlError::Artifact(format!("{}: no {name} in the archive", path.display()))
            })
        };
        let manifest = parse_manifest(get(MANIFEST_FILE)?)?;
        let payload = get(&manifest.payload)?;
        Self::from_parts(manifest, payload)
    }

    fn from_parts(manifest: Manifest, payload: &[u8]) -> Result<Model> {
        let fitted = Fitted::from_payload(&manifest.payload, payload)?;
        let family = fitted.tag();
        if !fitted.fits_family(manifest.family) {
            return Err(MlError::Artifact(format!(
                "the manifest says {} but the payload holds a {family} model",
                manifest.family
            )));
        }
        check_schema(&manifest.schema)?;
        // The payload was checked on its own when read; here against the manifest's schema,
        // so that no split or weight reads past an encoded row.
        fitted.check_width(manifest.schema.width())?;
        let expected = manifest.classes.as_ref().map_or(1, Vec::len);
        if let Some(found) = fitted.n_outputs().filter(|&n| n != expected) {
            return Err(MlError::Artifact(format!(
                "{} predicts {found} values per row but the manifest expects {expected}",
                manifest.payload
            )));
        }
        Ok(Model {
            width: manifest.schema.width(),
            manifest,
            fitted,
        })
    }
}

/// A categorical feature's `fill` (the category a missing value takes) must be one of its
/// categories: encoding a row indexes the categories with it.
fn check_schema(schema: &Schema) -> Result<()> {
    for feature in &schema.features {
        if let Encoding::Categorical { categories, fill } = &feature.encoding {
            if *fill >= categories.len() {
                return Err(MlError::Artifact(format!(
                    "{MANIFEST_FILE}: feature `{}` fills missing values with category {fill} \
                     of {}",
                    feature.name,
                    categories.len()
                )));
            }
        }
    }
    Ok(())
}

fn parse_manifest(bytes: &[u8]) -> Result<Manifest> {
    let value: serde_json::Value = serde_json::from_slice(bytes)
        .map_err(|e| MlError::Artifact(format!("{MANIFEST_FILE} is not JSON: {e}")))?;
    let version = value
        .get("format_version")
        .and_then(serde_json::Value::as_u64);
    match version {
        Some(v) if v == u64::from(FORMAT_VERSION) => {}
        Some(v) => {
            return Err(MlError::UnsupportedFormat {
                found: u32::try_from(v).unwrap_or(u32::MAX),
                supported: FORMAT_VERSION,
            })
        }
        None => {
            return Err(MlError::Artifact(format!(
                "{MANIFEST_FILE} has no format_version"
            )))
        }
    }
    let manifest: Manifest = serde_json::from_value(value)
        .map_err(|e| MlError::Artifact(format!("{MANIFEST_FILE}: {e}")))?;
    // A payload name is one of the known files, never a path out of the artifact.
    let known = [PAYLOAD_FILE, xgboost::PAYLOAD_FILE, lightgbm::PAYLOAD_FILE];
    if !known.contains(&manifest.payload.as_str()) {
        return Err(MlError::Artifact(format!(
            "{MANIFEST_FILE}: payload `{}` is not one of {}",
            manifest.payload,
            known.join(", ")
        )));
    }
    Ok(manifest)
}

/// The bytes of `name`, a regular file directly in `dir` of at most `cap` bytes. Errors name
/// the file, not its path.
fn read_model_file(dir: &Path, name: &str, cap: u64) -> Result<Vec<u8>> {
    let path = dir.join(name);
    let cannot = |e: std::io::Error| {
        if e.kind() == std::io::ErrorKind::NotFound {
            MlError::Artifact(format!("no {name} in the model folder"))
        } else {
            // An io::Error from std::fs carries the OS reason, not the path.
            MlError::Artifact(format!("cannot read {name}: {e}"))
        }
    };
    let not_regular = || MlError::Artifact(format!("{name} is not a regular file"));
    let too_large = || MlError::Artifact(format!("{name} exceeds {cap} bytes"));
    // symlink_metadata does not follow a link: a link is refused before anything is opened
    // (opening a FIFO would block, reading /dev/zero would never end).
    let before = std::fs::symlink_metadata(&path).map_err(cannot)?;
    if !before.file_type().is_file() {
        return Err(not_regular());
    }
    if before.len() > cap {
        return Err(too_large());
    }
    let file = std::fs::File::open(&path).map_err(cannot)?;
    let opened = file.metadata().map_err(cannot)?;
    // Swapped for something else between the look and the open: refuse that too.
    if !opened.is_file() || !same_file(&before, &opened) {
        return Err(not_regular());
    }
    let mut bytes = Vec::with_capacity(usize::try_from(opened.len().min(cap)).unwrap_or(0));
    // One byte past the cap tells a file that grew after the look from one that fits.
    file.take(cap.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(cannot)?;
    if bytes.len() as u64 > cap {
        return Err(too_large());
    }
    Ok(bytes)
}

#[cfg(unix)]
fn same_file(a: &std::fs::Metadata, b: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::MetadataExt;
    (a.dev(), a.ino()) == (b.dev(), b.ino())
}

#[cfg(not(unix))]
fn same_file(_: &std::fs::Metadata, _: &std::fs::Metadata) -> bool {
    true
}

pub(crate) fn write_json(path: &Path, value: &impl Serialize) -> Result<()> {
    let bytes = serde_json::to_vec(value)
        .map_err(|e| MlError::Artifact(format!("{}: {e}", path.display())))?;
    std::fs::write(path, bytes).map_err(|e| MlError::io(path, e))
}

/// Every regular file of a `.tar.gz`, by its path inside the archive (without `./`).
pub fn read_archive(path: &Path) -> Result<BTreeMap<String, Vec<u8>>> {
    let file = std::fs::File::open(path).map_err(|e| MlError::io(path, e))?;
    let bad = |e: std::io::Error| {
        MlError::Artifact(format!("{}: not a readable .tar.gz: {e}", path.display()))
    };
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(file));
    let mut files = BTreeMap::new();
    for entry in archive.entries().map_err(bad)? {
        let mut entry = entry.map_err(bad)?;
        if !entry.header().entry_type().is_file() {
            continue;
        }
        let name = entry.path().map_err(bad)?.to_string_lossy().to_string();
        let name = name.trim_start_matches("./").to_string();
        let mut bytes = Vec::new();
        entry.read_to_end(&mut bytes).map_err(bad)?;
        files.insert(name, bytes);
    }
    Ok(files)
}

/// Archives the files of `dir` (top level, as SageMaker does) into a `.tar.gz` at `path`.
pub fn write_archive(dir: &Path, path: &Path) -> Result<()> {
    let file = std::fs::File::create(path).map_err(|e| MlError::io(path, e))?;
    let mut builder = tar::Builder::new(flate2::write::GzEncoder::new(
        file,
        flate2::Compression::default(),
    ));
    builder
        .append_dir_all(".", dir)
        .map_err(|e| MlError::io(dir, e))?;
    builder
        .into_inner()
        .and_then(|gz| gz.finish())
        .map_err(|e| MlError::io(path, e))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::estimators::from_hyperparams;

    /// The schema as fitting a table learned it before it streamed, rule by rule: a column
    /// whose present values all parse is numeric, filled with their mean in row order; any
    /// other is categorical, filled with its most frequent category (the first on a tie).
    fn reference_schema(table: &Table, target: usize) -> Schema {
        let mut features = Vec::new();
        for (c, name) in table
            .header
            .iter()
            .enumerate()
            .filter(|&(c, _)| c != target)
        {
            let present: Vec<&str> = table
                .records
                .iter()
                .map(|r| r.get(c).unwrap().trim())
                .filter(|v| !crate::schema::is_missing(v))
                .collect();
            let numbers: Option<Vec<f64>> = present.iter().map(|v| v.parse().ok()).collect();
            let encoding = match numbers {
                Some(n) => Encoding::Numeric {
                    fill: n.iter().sum::<f64>() / n.len() as f64,
                },
                None => {
                    let mut counts = BTreeMap::<&str, usize>::new();
                    for v in present {
                        *counts.entry(v).or_default() += 1;
                    }
                    let most = counts.values().max().unwrap();
                    Encoding::Categorical {
                        fill: counts.values().position(|n| n == most).unwrap(),
                        categories: counts.keys().map(|k| k.to_string()).collect(),
                    }
                }
            };
            features.push(crate::schema::Feature {
                name: name.clone(),
                encoding,
            });
        }
        Schema { features }
    }

    fn bits(x: &Array2<f64>) -> Vec<u64> {
        x.iter().map(|v| v.to_bits()).collect()
    }

    /// Reads `path` both ways and checks they agree with each other and with the reference.
    fn same_both_ways(path: &Path, target: &str, task: Option<Task>) -> TrainingData {
        let table = Table::read(path).unwrap();
        let old = TrainingData::from_table(&table, target, task).unwrap();
        let new = TrainingData::read(path, target, task, crate::index::MAX_RECORD_BYTES, u64::MAX)
            .unwrap();
        let what = path.display();
        // Compared as printed: a fill can be NaN (a `NAN` cell is a number), never equal to itself.
        let printed = |s: &Schema| format!("{s:?}");
        assert_eq!(printed(&new.schema), printed(&old.schema), "{what}");
        assert_eq!(bits(&new.x), bits(&old.x), "{what}");
        assert_eq!(new.x.dim(), old.x.dim(), "{what}");
        assert_eq!((new.task, &new.target), (old.task, &old.target), "{what}");
        assert_eq!(new.target_name, old.target_name);
        let reference = reference_schema(&table, table.column(target).unwrap());
        assert_eq!(printed(&new.schema), printed(&reference), "{what}");
        // Encoding a table finds columns by name: only a header without repeats encodes.
        let names: std::collections::BTreeSet<_> = table.header.iter().collect();
        if names.len() == table.header.len() {
            let x = reference.encode_table(&table).unwrap();
            assert_eq!(bits(&x), bits(&new.x), "{what}");
        }
        new
    }

    #[test]
    fn a_file_read_streamed_trains_on_what_its_table_gives() {
        let datasets = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../datasets");
        for (file, target) in [
            ("breast-cancer/breast-cancer.csv", "CLASS"),
            ("diabetes/diabetes.csv", "progression"),
            ("wine/wine.csv", "CLASS"),
        ] {
            same_both_ways(&datasets.join(file), target, None);
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tricky.csv");
        // A byte-order mark, CRLF, quoted commas, quotes and line breaks, padded and missing
        // cells, NaN spelled `NAN` (missing, as `NA` is), blank lines, no final line break; columns
        // that turn out to be text after numbers (`late`, `later`), or start as text (`early`).
        let mut text = String::from("\u{feff}id, n ,cat,late,early,later,CLASS\r\n");
        for i in 0..300 {
            let n = match i % 9 {
                0 => "NA".to_string(),
                1 => " 2.5 ".to_string(),
                2 => String::new(),
                3 => "NAN".to_string(),
                _ => format!("{}.25", i % 17),
            };
            let cat = [
                "red",
                "",
                "\"gr,een\"",
                " blue ",
                "\"say \"\"hi\"\"\"",
                "\"two\r\nlines\"",
            ][i % 6];
            let late = if i == 250 {
                "x".to_string()
            } else {
                format!("{}", i % 4)
            };
            let early = if i == 0 {
                "text".to_string()
            } else {
                format!("{}", i % 3)
            };
            let later = match i {
                299 => "last".to_string(),
                _ if i % 5 == 0 => "null".to_string(),
                _ => format!("{}.0", i % 2),
            };
            let class = ["a", "b", "c"][(i * 7 + i / 5) % 3];
            text.push_str(&format!("{i},{n},{cat},{late},{early},{later},{class}\r\n"));
            if i % 50 == 49 {
                text.push_str("\r\n");
            }
        }
        text.truncate(text.len() - 2);
        std::fs::write(&path, &text).unwrap();
        let data = same_both_ways(&path, "CLASS", None);
        let kinds: Vec<_> = data
            .schema
            .features
            .iter()
            .map(|f| match &f.encoding {
                Encoding::Numeric { .. } => "numeric".to_string(),
                Encoding::Categorical { categories, .. } => categories.join("|"),
            })
            .collect();
        assert_eq!(
            kinds,
            [
                "numeric",
                "numeric",
                "blue|gr,een|red|say \"hi\"|two\r\nlines",
                "0|1|2|3|x",
                "0|1|2|text",
                "0.0|1.0|last"
            ]
        );
        assert!(
            data.x.column(1).iter().all(|v| v.is_finite()),
            "NAN is missing, imputed with the column's mean"
        );
        same_both_ways(&path, "late", Some(Task::Multiclass));
    }

    /// A column of identifiers one-hot encoded makes rows as wide as they are many: refused
    /// by size before the rows are made, naming the column, where the job died allocating.
    #[test]
    fn rows_wider_than_the_memory_are_refused_before_they_are_made() {
        let dir = tempfile::tempdir().unwrap();
        // 1,000 rows of a first column (`id` or `a`), a number and the target; read with
        // `available` bytes.
        let read = |name: &str, first: &dyn Fn(usize) -> String, available: u64| {
            let p = dir.path().join(name);
            let mut csv = String::from("id,x,y\n");
            for i in 0..1000 {
                csv += &format!("{},{i}.5,{}\n", first(i), i % 2);
            }
            std::fs::write(&p, csv).unwrap();
            TrainingData::read(&p, "y", None, crate::index::MAX_RECORD_BYTES, available)
        };
        let ids = |i: usize| format!("user{i}");
        // 1,000 rows × (1,000 categories + 1 number) × 8 bytes: 7.6 MiB; twice that available.
        let bytes = 1000 * 1001 * 8;
        let err = read("ids.csv", &ids, 2 * bytes - 2)
            .unwrap_err()
            .to_string();
        assert!(
            err.ends_with(
                "ids.csv: one-hot encoding makes 1001 model columns (column `id` alone has 1000 \
                 distinct values), and 1000 rows of them take 8 MiB, more than half of the 15 \
                 MiB this job has (fitting needs the other half): drop identifier-like columns, \
                 or give the job more memory"
            ),
            "{err}"
        );
        assert_eq!(
            read("ids.csv", &ids, 2 * bytes).unwrap().x.dim(),
            (1000, 1001)
        );
        // Numbers only: the rows may take all the memory, not half.
        let numbers = |i: usize| i.to_string();
        let bytes = 1000 * 2 * 8;
        assert_eq!(read("n.csv", &numbers, bytes).unwrap().x.dim(), (1000, 2));
        let err = read("n.csv", &numbers, bytes - 1).unwrap_err().to_string();
        assert!(
            err.ends_with(
                "n.csv: 1000 rows of 2 model columns take 1 MiB, more than the 0 MiB this job \
                 has: give the job more memory, or train on fewer rows"
            ),
            "{err}"
        );
    }

    #[test]
    fn a_file_read_streamed_fails_as_its_table_does() {
        let dir = tempfile::tempdir().unwrap();
        let cases: [(&[u8], &str); 14] = [
            (b"", "the file is empty"),
            (b"a,y\n", "no data rows"),
            (b"a,y\n1,0\n3,1,5\n", "row 3: has 3 fields"),
            (b"a,y\n1,0\n3,\xff\n", "not valid UTF-8"),
            (b"a,b\n1,0\n", "no column named `y`"),
            (b"a,b\n1,0\n3\n", "row 3: has 1 fields"),
            (
                b"a,y\n1,0\n2,\n",
                "row 3, column `y`: the target is missing",
            ),
            (b"a,y\n1,0\n2,0\n", "has only one class"),
            (b"a,y\nNA,0\n,1\n", "column `a` has no values at all"),
            (b"y\n0\n1\n", "no feature columns"),
            (
                b"a,b,a,y\nx,1,2,0\nz,3,4,1\n",
                "column `a` appears more than once",
            ),
            (b"a,y\n1,0\nx,1\n2,high\n", "regression target `high`"),
            (
                b"a,y\n1,0\n2,1\n3,2\n",
                "task is binary but the target has 3 classes",
            ),
            (
                b"a,y\n1,0\n\n-inf,1\ninf,0\n",
                "row 4, column `a`: `-inf` is not a finite number",
            ),
        ];
        for (i, (text, expected)) in cases.into_iter().enumerate() {
            let p = dir.path().join("data.csv");
            std::fs::write(&p, text).unwrap();
            let task = match i {
                11 => Some(Task::Regression),
                12 => Some(Task::Binary),
                _ => None,
            };
            let old = Table::read(&p).and_then(|t| TrainingData::from_table(&t, "y", task));
            let new = TrainingData::read(&p, "y", task, crate::index::MAX_RECORD_BYTES, u64::MAX);
            let (old, new) = (old.unwrap_err().to_string(), new.unwrap_err().to_string());
            let text = String::from_utf8_lossy(text);
            assert_eq!(new, old, "{text}");
            assert!(new.contains(expected), "{text}: {new}");
        }
        // Duplicate numeric names were never refused; a duplicate text column was (above).
        let p = dir.path().join("data.csv");
        std::fs::write(&p, b"a,a,y\n1,2,0\n3,4,1\n").unwrap();
        same_both_ways(&p, "y", None);
    }

    fn fitted(family: &str, task: Task, pairs: &[(&str, &str)]) -> Model {
        let csv = match task {
            Task::Regression => "a,b,y\n1,2,3.5\n2,1,4.0\n3,5,9.1\n4,4,7.7\n5,2,8.0\n6,1,6.2\n",
            _ => "a,b,y\n1,2,0\n2,1,0\n3,5,1\n4,4,1\n5,2,0\n6,1,1\n",
        };
        let table = Table::from_reader(Path::new("t.csv"), csv.as_bytes()).unwrap();
        let data = TrainingData::from_table(&table, "y", Some(task)).unwrap();
        let hp = HyperParams::from_pairs(pairs.iter().copied());
        let family = family.parse().unwrap();
        let estimator = from_hyperparams(family, &hp).unwrap();
        Model::fit(estimator.as_ref(), &data, hp.to_map(), 1).unwrap()
    }

    /// Saves `model`, lets `edit` change its manifest's JSON, and loads it again.
    fn reload_with(model: &Model, edit: impl FnOnce(&mut serde_json::Value)) -> Result<Model> {
        let dir = tempfile::tempdir().unwrap();
        model.save(dir.path()).unwrap();
        let path = dir.path().join(MANIFEST_FILE);
        let mut manifest: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        edit(&mut manifest);
        std::fs::write(&path, serde_json::to_vec(&manifest).unwrap()).unwrap();
        Model::load(dir.path())
    }

    // Found by fuzz/fuzz_targets/model_readers.rs: it loaded, then encoding a row with that
    // column missing indexed past the categories and panicked on every prediction.
    #[test]
    fn a_categorical_fill_outside_its_categories_is_refused_at_load() {
        let model = fitted("LogisticRegression", Task::Binary, &[]);
        assert!(reload_with(&model, |_| {}).is_ok());
        let error = reload_with(&model, |m| {
            m["features"][1] = serde_json::json!(
                {"name": "b", "kind": "categorical", "categories": ["x", "y", "z"], "fill": 5});
            m["features"].as_array_mut().unwrap().truncate(2);
        })
        .unwrap_err()
        .to_string();
        assert!(
            error.contains("feature `b`") && error.contains("category 5 of 3"),
            "{error}"
        );
    }

    // Found by fuzz/fuzz_targets/model_readers.rs: a payload fitted on more columns than the
    // manifest's schema encodes loaded, then read past every row and panicked.
    #[test]
    fn a_payload_wider_than_the_manifest_schema_is_refused_at_load() {
        let cases: [(&str, &[(&str, &str)]); 3] = [
            ("LogisticRegression", &[]),
            ("NeuralNet", &[("max-iter", "5")]),
            ("NaiveBayes", &[]),
        ];
        for (family, pairs) in cases {
            let model = fitted(family, Task::Binary, pairs);
            assert!(reload_with(&model, |_| {}).is_ok(), "{family}");
            let error = reload_with(&model, |m| {
                m["features"].as_array_mut().unwrap().truncate(1);
            })
            .err()
            .unwrap_or_else(|| panic!("{family} loaded with a schema one column short"));
            let error = error.to_string();
            assert!(error.contains("but rows have 1"), "{family}: {error}");
        }
    }

    #[test]
    fn the_estimator_names_what_was_fitted_not_only_the_family() {
        let linear = |task, pairs: &[(&str, &str)]| fitted("LogisticRegression", task, pairs);
        assert_eq!(linear(Task::Binary, &[]).estimator(), "LogisticRegression");
        let ridge = linear(Task::Regression, &[("C", "0.5")]);
        assert_eq!(ridge.manifest.family.as_str(), "LogisticRegression");
        assert_eq!(ridge.estimator(), "Ridge");
        assert_eq!(
            linear(Task::Regression, &[("penalty", "\"None\"")]).estimator(),
            "LinearRegression"
        );
        let forest = |task| fitted("RandomForest", task, &[("n-estimators", "3")]).estimator();
        assert_eq!(forest(Task::Binary), "RandomForestClassifier");
        assert_eq!(forest(Task::Regression), "RandomForestRegressor");
        assert_eq!(
            fitted("NaiveBayes", Task::Binary, &[]).estimator(),
            "GaussianNB"
        );
        let net = |task| fitted("NeuralNet", task, &[("max-iter", "5")]).estimator();
        assert_eq!(net(Task::Regression), "MLPRegressor");
        let boosted = fitted("XGBoost", Task::Regression, &[("n-estimators", "3")]);
        let expected = match boosted.fitted {
            Fitted::GradientBoosting(_) => "XGBRegressor (mmp-gbdt)",
            _ => "XGBRegressor",
        };
        assert_eq!(boosted.estimator(), expected);
    }
}
