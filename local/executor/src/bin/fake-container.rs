//! A stand-in for `mmp-container` for the executor's tests: it honours the job contract
//! (paths, arguments, hyperparameters, metric line, failure file) without learning anything.
//! Behaviour the tests choose comes from the environment:
//! `FAKE_FAIL_ALGORITHMS` (comma-separated: their trials fail), `FAKE_REGISTER_METRIC`
//! (the evaluation's register_metric value, default 0.9), `FAKE_SLEEP_MS` (each training job
//! sleeps), `FAKE_PARALLEL_DIR` (training jobs record how many of them run at once),
//! `FAKE_EPOCH_MS` (a trial given `n-epochs` or `cv-folds` = k prints k metric lines, rising to
//! its score, this long apart, as mmp-container prints one per fold), `FAKE_CLASSES` (the
//! classes the train split's shape names, instead of the target's distinct values).

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use mmp_pipeline::contract as c;
use mmp_pipeline::memory::{SplitShape, SPLIT_SHAPE_FILE};

fn main() -> ExitCode {
    let root =
        PathBuf::from(std::env::var(c::ML_ROOT_ENV).unwrap_or_else(|_| c::DEFAULT_ML_ROOT.into()));
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some(c::CMD_PREPROCESS) => preprocess(&root, &args[1..]),
        Some(c::CMD_TRAIN) => train(&root),
        Some(c::CMD_EVALUATE) => evaluate(&root, &args[1..]),
        other => Err(format!("unknown command {other:?}")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(reason) => {
            eprintln!("error: {reason}");
            let failure = root.join(c::FAILURE_FILE);
            if let Some(dir) = failure.parent() {
                let _ = fs::create_dir_all(dir);
            }
            let _ = fs::write(failure, &reason);
            ExitCode::FAILURE
        }
    }
}

fn flag<'a>(args: &'a [String], name: &str) -> Result<&'a str, String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .map(String::as_str)
        .ok_or_else(|| format!("missing argument {name}"))
}

fn write(path: &Path, content: &str) -> Result<(), String> {
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir).map_err(|e| e.to_string())?;
    }
    fs::write(path, content).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

fn only_csv(dir: &Path) -> Result<PathBuf, String> {
    let csvs: Vec<PathBuf> = fs::read_dir(dir)
        .map_err(|e| format!("cannot read {}: {e}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "csv"))
        .collect();
    match csvs.as_slice() {
        [one] => Ok(one.clone()),
        _ => Err(format!(
            "expected exactly one CSV in {}, found {}",
            dir.display(),
            csvs.len()
        )),
    }
}

fn preprocess(root: &Path, args: &[String]) -> Result<(), String> {
    let target = flag(args, c::ARG_TARGET)?;
    let test_size: f64 = flag(args, c::ARG_TEST_SIZE)?
        .parse()
        .map_err(|_| "bad --test-size")?;
    let file_name = flag(args, c::ARG_FILE_NAME)?;
    let input = only_csv(&root.join(c::PROCESSING_INPUT_DATA))?;
    let text =
        fs::read_to_string(&input).map_err(|e| format!("cannot read {}: {e}", input.display()))?;
    let mut lines = text.lines().filter(|l| !l.trim().is_empty());
    let header = lines.next().ok_or("the CSV is empty")?;
    if !header.split(',').any(|h| h.trim() == target) {
        return Err(format!(
            "target column {target} is not in the CSV header ({header})"
        ));
    }
    let rows: Vec<&str> = lines.collect();
    if rows.len() < 4 {
        return Err(format!(
            "the CSV has {} data rows; at least 4 are needed",
            rows.len()
        ));
    }
    let n_test = ((rows.len() as f64 * test_size).round() as usize).clamp(1, rows.len() - 1);
    let (train, test) = rows.split_at(rows.len() - n_test);
    let body = |part: &[&str]| format!("{header}\n{}\n", part.join("\n"));
    write(
        &root.join(c::PROCESSING_TRAIN).join(file_name),
        &body(train),
    )?;
    write(&root.join(c::PROCESSING_TEST).join(file_name), &body(test))?;
    let column = header
        .split(',')
        .position(|h| h.trim() == target)
        .ok_or("no target column")?;
    let distinct: std::collections::BTreeSet<&str> = train
        .iter()
        .filter_map(|row| row.split(',').nth(column))
        .collect();
    let classes = match std::env::var("FAKE_CLASSES") {
        Ok(v) => v.parse().map_err(|_| "bad FAKE_CLASSES")?,
        Err(_) => distinct.len() as u64,
    };
    let shape = SplitShape {
        rows: train.len() as u64,
        classes,
    };
    let shape = serde_json::to_string(&shape).map_err(|e| e.to_string())?;
    write(
        &root.join(c::PROCESSING_TRAIN).join(SPLIT_SHAPE_FILE),
        &shape,
    )?;
    println!(
        "split {} rows into {} train and {} test",
        rows.len(),
        train.len(),
        test.len()
    );
    Ok(())
}

/// A deterministic pseudo-score in [0, 1) from the hyperparameters (FNV-1a).
fn score(h: &BTreeMap<String, String>) -> f64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for (k, v) in h {
        for b in k.bytes().chain(v.bytes()) {
            hash ^= u64::from(b);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
    }
    (hash % 10_000) as f64 / 10_000.0
}

fn unquote(v: &str) -> String {
    serde_json::from_str::<String>(v).unwrap_or_else(|_| v.to_string())
}

fn train(root: &Path) -> Result<(), String> {
    let raw = fs::read_to_string(root.join(c::HYPERPARAMETERS_FILE))
        .map_err(|e| format!("no hyperparameters: {e}"))?;
    let h: BTreeMap<String, String> =
        serde_json::from_str(&raw).map_err(|e| format!("bad hyperparameters: {e}"))?;
    let h: BTreeMap<String, String> = h.into_iter().map(|(k, v)| (k, unquote(&v))).collect();
    let get = |k: &str| {
        h.get(k)
            .cloned()
            .ok_or_else(|| format!("hyperparameter {k} is missing"))
    };
    let algorithm = get(c::HP_ALGORITHM)?;
    let train_file = root
        .join(c::CHANNELS_DIR)
        .join(c::TRAIN_CHANNEL)
        .join(get(c::HP_TRAIN_FILE)?);
    if !train_file.is_file() {
        return Err(format!("train file {} is missing", train_file.display()));
    }
    let parallel = std::env::var("FAKE_PARALLEL_DIR").ok().map(PathBuf::from);
    let marker = parallel
        .as_ref()
        .map(|d| d.join(format!("running-{}", std::process::id())));
    if let Some(m) = &marker {
        write(m, "")?;
    }
    if let Some(ms) = std::env::var("FAKE_SLEEP_MS")
        .ok()
        .and_then(|s| s.parse().ok())
    {
        std::thread::sleep(Duration::from_millis(ms));
    }
    if let (Some(dir), Some(m)) = (&parallel, &marker) {
        let running = fs::read_dir(dir)
            .map_err(|e| e.to_string())?
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().starts_with("running-"))
            .count();
        write(
            &dir.join(format!("seen-{}", std::process::id())),
            &running.to_string(),
        )?;
        let _ = fs::remove_file(m);
    }
    let failing = std::env::var("FAKE_FAIL_ALGORITHMS").unwrap_or_default();
    if failing.split(',').any(|a| a == algorithm) {
        return Err(format!("{algorithm} cannot fit this data"));
    }
    let model = root.join(c::MODEL_DIR);
    if get(c::HP_CROSS_VALIDATION)? == "true" {
        let s = score(&h);
        let k: u32 = [c::HP_EPOCHS, c::HP_CV_FOLDS]
            .iter()
            .find_map(|name| h.get(*name))
            .map_or(Ok(1), |v| v.trim().parse())
            .map_err(|_| "bad n-epochs or cv-folds".to_string())?;
        let pause = std::env::var("FAKE_EPOCH_MS")
            .ok()
            .and_then(|s| s.parse().ok())
            .map(Duration::from_millis);
        for i in 1..=k.max(1) {
            if let (Some(p), true) = (pause, i > 1) {
                std::thread::sleep(p);
            }
            let value = if i >= k {
                s
            } else {
                s * f64::from(i) / f64::from(k)
            };
            println!("{}", c::metric_line(value));
        }
        write(
            &model.join("trial.json"),
            &serde_json::json!({"algorithm": algorithm, "hyperparameters": h}).to_string(),
        )
    } else {
        let best = root
            .join(c::CHANNELS_DIR)
            .join(c::BEST_TRIAL_CHANNEL)
            .join(c::MODEL_ARCHIVE);
        let bytes = fs::read(&best)
            .map_err(|e| format!("no best trial archive {}: {e}", best.display()))?;
        if bytes.get(..2) != Some(&[0x1f, 0x8b]) {
            return Err("the best trial archive is not gzip".into());
        }
        write(
            &model.join("model.json"),
            &serde_json::json!({"algorithm": algorithm}).to_string(),
        )
    }
}

fn evaluate(root: &Path, args: &[String]) -> Result<(), String> {
    let file_name = flag(args, c::ARG_FILE_NAME)?;
    let metric = flag(args, c::ARG_REGISTER_METRIC)?;
    let archive = root.join(c::PROCESSING_MODEL).join(c::MODEL_ARCHIVE);
    if !archive.is_file() {
        return Err(format!("model archive {} is missing", archive.display()));
    }
    let test = root.join(c::PROCESSING_TEST).join(file_name);
    if !test.is_file() {
        return Err(format!("test split {} is missing", test.display()));
    }
    let value: f64 = std::env::var("FAKE_REGISTER_METRIC")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.9);
    let entry = serde_json::json!({"value": value, "standard_deviation": "NaN"});
    let report = serde_json::json!({
        "binary_classification_metrics": { metric: entry },
        "register_metric": entry,
    });
    write(
        &root.join(c::PROCESSING_EVALUATION).join(c::EVALUATION_FILE),
        &report.to_string(),
    )
}
