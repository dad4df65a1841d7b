//! Fits tiny models of every family with `mmp-ml` (default build), saves them as the training
//! job does, and writes them as seeds: `model_readers` inputs (selector 2, `manifest.json`, NUL,
//! payload) and `model_archive` inputs (the `model.tar.gz` `write_archive` makes, raw and as
//! the tar stream inside it).
//!
//! Usage: mmp-fuzz-seeds CORPUS_DIR (the folder holding one folder per target).

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use mmp_ml::estimators::from_hyperparams;
use mmp_ml::hyperparams::HyperParams;
use mmp_ml::model::{write_archive, Model, TrainingData, MANIFEST_FILE};
use mmp_ml::table::Table;

type Error = Box<dyn std::error::Error>;

/// 24 rows: two numbers, a category and three targets (binary, three classes, a value).
fn table() -> Result<Table, Error> {
    let mut csv = String::from("x1,x2,colour,binary,three,value\n");
    for i in 0..24u32 {
        let x1 = f64::from(i) / 4.0;
        let x2 = f64::from((i * 7) % 5) - 2.0;
        let colour = ["red", "green", "blue"][(i % 3) as usize];
        let binary = if x1 + x2 > 2.0 { "yes" } else { "no" };
        let three = ["a", "b", "c"][((i / 3) % 3) as usize];
        // A missing cell, so the seeds carry a fill value that was used.
        let x2 = if i == 5 {
            String::new()
        } else {
            x2.to_string()
        };
        csv.push_str(&format!(
            "{x1},{x2},{colour},{binary},{three},{}\n",
            x1 * 1.5 - 0.5
        ));
    }
    Ok(Table::from_reader(Path::new("seeds.csv"), csv.as_bytes())?)
}

fn main() -> Result<(), Error> {
    let corpus = PathBuf::from(
        std::env::args()
            .nth(1)
            .ok_or("usage: mmp-fuzz-seeds CORPUS_DIR")?,
    );
    let readers = corpus.join("model_readers");
    let archives = corpus.join("model_archive");
    std::fs::create_dir_all(&readers)?;
    std::fs::create_dir_all(&archives)?;
    let table = table()?;
    let small: &[(&str, &[(&str, &str)])] = &[
        ("LogisticRegression", &[]),
        ("NaiveBayes", &[]),
        ("RandomForest", &[("n-estimators", "2"), ("max-depth", "2")]),
        (
            "NeuralNet",
            &[("hidden-layer-sizes", "3"), ("max-iter", "5")],
        ),
        ("XGBoost", &[("n-estimators", "2"), ("max-depth", "2")]),
        ("LightGBM", &[("n-estimators", "2"), ("num-leaves", "3")]),
    ];
    for (family, hp) in small {
        for target in ["binary", "three", "value"] {
            let Ok(data) = TrainingData::from_table(&table, target, None) else {
                continue;
            };
            let hp = HyperParams::from_pairs(hp.iter().copied());
            let estimator = from_hyperparams(family.parse()?, &hp)?;
            if estimator.supports(data.task).is_err() {
                continue;
            }
            let model = Model::fit(estimator.as_ref(), &data, BTreeMap::new(), 7)?;
            let dir = tempfile::tempdir()?;
            let folder = dir.path().join("model");
            model.save(&folder)?;
            let name = format!("{family}-{target}");
            let mut seed = vec![2u8];
            seed.extend(std::fs::read(folder.join(MANIFEST_FILE))?);
            seed.push(0);
            seed.extend(std::fs::read(folder.join(&model.manifest.payload))?);
            std::fs::write(readers.join(&name), seed)?;
            // One archive per family is enough for the unpacker.
            if target == "binary" || (target == "three" && *family == "NaiveBayes") {
                let gz = dir.path().join("model.tar.gz");
                write_archive(&folder, &gz)?;
                let gz = std::fs::read(gz)?;
                let mut tar = Vec::new();
                flate2::read::GzDecoder::new(gz.as_slice()).read_to_end(&mut tar)?;
                std::fs::write(
                    archives.join(format!("{name}.tar")),
                    [&[0u8][..], &tar].concat(),
                )?;
                std::fs::write(
                    archives.join(format!("{name}.tar.gz")),
                    [&[1u8][..], &gz].concat(),
                )?;
            }
        }
    }
    Ok(())
}
