//! How much memory an `mmp-container` job needs, from the bytes of its inputs: one formula that
//! the local executor admits jobs by (so jobs run at once only as far as memory allows) and
//! that docs/benchmarks.md checks against measured peaks.
//!
//! The formula is `BASE + factor · input bytes`, with a factor per command:
//! - `preprocess` streams its CSV, holding a few bytes per row: factor 1/8.
//! - `train` (a tuning trial or the refit) holds the encoded rows as f64s (about as many bytes
//!   as their CSV text), the reading's buffers, and each fold's copy of its rows while the folds
//!   fit side by side: factor 8.
//! - `evaluate` reads the test split whole and predicts it: factor 6.
//! - anything else (`serve`): factor 8.
//!
//! The factors are upper bounds measured on the 100,000-row synthetic trial and the
//! 1,000,000-row dataset (docs/benchmarks.md, "Memory of a job"); a dataset of long text cells
//! needs less, one of many categories one-hot encoded more.

use crate::contract::{CMD_EVALUATE, CMD_PREPROCESS, CMD_TRAIN};

/// What any job takes before its data: the binary, its thread stacks and allocator arenas.
pub const BASE_BYTES: u64 = 48 << 20;

/// The memory a job of `command` (its first argument) needs with `input_bytes` of input.
pub fn job_estimate(command: &str, input_bytes: u64) -> u64 {
    let scaled = match command {
        CMD_PREPROCESS => input_bytes / 8,
        CMD_TRAIN => input_bytes.saturating_mul(8),
        CMD_EVALUATE => input_bytes.saturating_mul(6),
        _ => input_bytes.saturating_mul(8),
    };
    BASE_BYTES.saturating_add(scaled)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streaming_preprocess_needs_far_less_than_training() {
        let gib = 1u64 << 30;
        assert_eq!(job_estimate(CMD_PREPROCESS, gib), BASE_BYTES + gib / 8);
        assert_eq!(job_estimate(CMD_TRAIN, gib), BASE_BYTES + 8 * gib);
        assert_eq!(job_estimate(CMD_TRAIN, 0), BASE_BYTES);
        assert_eq!(job_estimate(CMD_TRAIN, u64::MAX), u64::MAX);
    }
}
