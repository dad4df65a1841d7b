//! Cold loads and resident memory, measured through the HTTP contract:
//! for each of `--count` names, `POST /models` (the artifact folder on disk) then the first
//! `POST /models/{name}/invoke`; the time from the load request to the first answer is one
//! cold load. The server's resident memory (`/proc/<pid>/status`, VmRSS) is read before and
//! after, so the growth per model can be reported.
//!
//! `load_client --base http://127.0.0.1:8080 --artifact DIR --row "1,2,3" --count 1000 --pid PID`

use std::time::{Duration, Instant};

struct Args {
    base: String,
    artifact: String,
    row: String,
    count: usize,
    pid: Option<u32>,
    prefix: String,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        base: "http://127.0.0.1:8080".into(),
        artifact: String::new(),
        row: String::new(),
        count: 1000,
        pid: None,
        prefix: "cold".into(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().ok_or(format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--base" => args.base = value,
            "--artifact" => args.artifact = value,
            "--row" => args.row = value,
            "--count" => args.count = value.parse().map_err(|e| format!("--count: {e}"))?,
            "--pid" => args.pid = Some(value.parse().map_err(|e| format!("--pid: {e}"))?),
            "--prefix" => args.prefix = value,
            other => return Err(format!("unknown flag {other}")),
        }
    }
    if args.artifact.is_empty() || args.row.is_empty() {
        return Err("--artifact and --row are required".into());
    }
    Ok(args)
}

fn rss_bytes(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = parse_args()?;
    let client = reqwest::Client::new();
    let rss_before = args.pid.and_then(rss_bytes);
    let mut cold = Vec::with_capacity(args.count);
    for i in 0..args.count {
        let name = format!("{}-{i}", args.prefix);
        let started = Instant::now();
        let load = client
            .post(format!("{}/models", args.base))
            .json(&serde_json::json!({"model_name": name, "url": args.artifact}))
            .send()
            .await?;
        if !load.status().is_success() {
            return Err(format!("load {name}: {} {}", load.status(), load.text().await?).into());
        }
        let answer = client
            .post(format!("{}/models/{name}/invoke", args.base))
            .header("content-type", "text/csv")
            .body(args.row.clone())
            .send()
            .await?;
        let status = answer.status();
        let body = answer.text().await?;
        cold.push(started.elapsed());
        if !status.is_success() {
            return Err(format!("invoke {name}: {status} {body}").into());
        }
    }
    cold.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "cold load (load + first prediction), {} models: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        args.count,
        ms(percentile(&cold, 0.5)),
        ms(percentile(&cold, 0.99)),
        ms(percentile(&cold, 1.0)),
    );
    if let (Some(pid), Some(before)) = (args.pid, rss_before) {
        let after = rss_bytes(pid).ok_or("cannot read the server's VmRSS")?;
        let mib = |b: u64| b as f64 / (1024.0 * 1024.0);
        println!(
            "resident memory: {:.1} MiB before, {:.1} MiB with {} models loaded, {:.1} KiB per model",
            mib(before),
            mib(after),
            args.count,
            after.saturating_sub(before) as f64 / 1024.0 / args.count as f64,
        );
    }
    Ok(())
}
