//! Bench command: the serving port's latency for a one-row request, per family, on a model
//! fitted to the breast-cancer sample (RandomForest: 100 trees), loaded as the server loads it.
//!
//! Run: cargo run --release -p mmp-container --example predict_latency [-- ROUNDS]

use std::path::Path;
use std::time::Instant;

use mmp_container::MmpModelLoader;
use mmp_ml::estimators::{from_hyperparams, Algorithm};
use mmp_ml::hyperparams::HyperParams;
use mmp_ml::model::{Model, TrainingData};
use mmp_ml::table::Table;
use mmp_serve::port::{Cell, ModelLoader, Rows};

fn main() -> anyhow::Result<()> {
    let rounds: usize = std::env::args()
        .nth(1)
        .map(|v| v.parse())
        .transpose()?
        .unwrap_or(200_000);
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../datasets/breast-cancer/breast-cancer.csv");
    let table = Table::read(&path)?;
    let data = TrainingData::from_table(&table, "CLASS", None)?;
    let target = table.column("CLASS")?;
    let row: Vec<Cell> = table.records[0]
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != target)
        .map(|(_, v)| v.parse().map(Cell::Number))
        .collect::<Result<_, _>>()?;
    let request = Rows {
        columns: None,
        rows: vec![row],
    };
    println!("| family | one-row predict (mean of {rounds}) | load |");
    println!("|---|---|---|");
    for family in Algorithm::ALL {
        let estimator = from_hyperparams(family, &HyperParams::default())?;
        let model = Model::fit(estimator.as_ref(), &data, Default::default(), 42)?;
        let dir = tempfile::tempdir()?;
        model.save(dir.path())?;
        let started = Instant::now();
        let served = MmpModelLoader.load(dir.path())?;
        let load = started.elapsed();
        let mut sink = 0usize;
        let started = Instant::now();
        for _ in 0..rounds {
            sink += served.predict(std::hint::black_box(&request))?.len();
        }
        let per = started.elapsed().as_secs_f64() / rounds as f64;
        assert_eq!(sink, rounds);
        println!(
            "| {family} | {:.2} µs | {:.2} ms |",
            per * 1e6,
            load.as_secs_f64() * 1e3
        );
    }
    Ok(())
}
