//! How much memory an `mmp-container` job needs, from the bytes of its inputs: one formula that
//! the local executor admits jobs by (so jobs run at once only as far as memory allows) and
//! that docs/benchmarks.md checks against measured peaks.
//!
//! The formula is `BASE + factor · input bytes`, with a factor per command:
//! - `preprocess` streams its CSV, holding a few bytes per row: factor 1/8.
//! - `train` (a tuning trial or the refit) holds the encoded rows `x` as f64s and each fold's
//!   copy of them while two folds fit side by side: about 4.8 × `x` (docs/benchmarks.md, "A
//!   trial's memory"). `x` is 0.8 × the CSV for numeric columns and 2.2 × on the 1,000,000-row
//!   dataset's one-hot categories, so: factor 12.
//! - `evaluate` scores each record as it reads it, holding the model (an input) and a few
//!   bytes a row: factor 1.
//! - anything else (`serve`): factor 12.
//!
//! The factors are upper bounds for the datasets measured there; one of many more categories
//! one-hot encoded needs more. Within a job, the train job also fits no more folds at once than
//! the memory left holds (`mmp_ml::cv::cross_val_score_within`).

use crate::contract::{CMD_EVALUATE, CMD_PREPROCESS, CMD_TRAIN};

/// What any job takes before its data: the binary, its thread stacks and allocator arenas.
pub const BASE_BYTES: u64 = 48 << 20;

/// The memory a job of `command` (its first argument) needs with `input_bytes` of input.
pub fn job_estimate(command: &str, input_bytes: u64) -> u64 {
    let scaled = match command {
        CMD_PREPROCESS => input_bytes / 8,
        CMD_TRAIN => input_bytes.saturating_mul(12),
        CMD_EVALUATE => input_bytes,
        _ => input_bytes.saturating_mul(12),
    };
    BASE_BYTES.saturating_add(scaled)
}

/// The memory Linux reports available (`MemAvailable` of `/proc/meminfo`), `None` elsewhere.
pub fn machine_available() -> Option<u64> {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|info| mem_available(&info))
}

fn mem_available(meminfo: &str) -> Option<u64> {
    let line = meminfo.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    kib.checked_mul(1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_mem_available() {
        let info = "MemTotal:       16000000 kB\nMemAvailable:    8000000 kB\n";
        assert_eq!(mem_available(info), Some(8_000_000 * 1024));
        assert_eq!(mem_available("MemTotal: 1 kB\n"), None);
        assert_eq!(mem_available("MemAvailable: lots\n"), None);
    }

    #[test]
    fn streaming_preprocess_needs_far_less_than_training() {
        let gib = 1u64 << 30;
        assert_eq!(job_estimate(CMD_PREPROCESS, gib), BASE_BYTES + gib / 8);
        assert_eq!(job_estimate(CMD_TRAIN, gib), BASE_BYTES + 12 * gib);
        assert_eq!(job_estimate(CMD_EVALUATE, gib), BASE_BYTES + gib);
        assert_eq!(job_estimate(CMD_TRAIN, 0), BASE_BYTES);
        assert_eq!(job_estimate(CMD_TRAIN, u64::MAX), u64::MAX);
    }
}
