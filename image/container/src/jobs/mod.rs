//! The three jobs. Each takes the ML root and its arguments and returns what went wrong as
//! an error the binary writes to `output/failure`.

pub mod evaluate;
pub mod preprocess;
pub mod train;

use std::path::Path;

use anyhow::Context;

/// Reads a boolean argument the way the original's scripts get them (`True`/`False`).
pub fn parse_bool(v: &str) -> anyhow::Result<bool> {
    match v.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" => Ok(true),
        "false" | "0" | "no" => Ok(false),
        other => anyhow::bail!("`{other}` is not True or False"),
    }
}

pub(crate) fn write_json(path: &Path, value: &serde_json::Value) -> anyhow::Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("creating {}", parent.display()))?;
    }
    let text = serde_json::to_string_pretty(value)?;
    std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))
}
