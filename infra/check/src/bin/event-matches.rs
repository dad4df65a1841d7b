//! `event-matches PATTERN EVENT`: whether the project's EventBridge pattern matcher (the one
//! the local bus routes with) matches the event, both JSON files. Prints `true` or `false`;
//! exits 2 naming the problem when a file cannot be read or parsed.

use std::process::ExitCode;

use mmp_common::pattern::Pattern;

fn read(path: &str) -> Result<String, String> {
    std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))
}

fn run(args: &[String]) -> Result<bool, String> {
    let [pattern, event] = args else {
        return Err("usage: event-matches PATTERN.json EVENT.json".to_owned());
    };
    let parsed = Pattern::from_json(&read(pattern)?).map_err(|e| format!("{pattern}: {e}"))?;
    let event: serde_json::Value =
        serde_json::from_str(&read(event)?).map_err(|e| format!("{event}: {e}"))?;
    Ok(parsed.matches(&event))
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(matched) => {
            println!("{matched}");
            ExitCode::SUCCESS
        }
        Err(problem) => {
            eprintln!("event-matches: {problem}");
            ExitCode::from(2)
        }
    }
}
