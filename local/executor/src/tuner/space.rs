//! A tuning job's search space: one list of named ranges per training job definition.

use rand::Rng;
use rand_chacha::ChaCha8Rng;

/// One hyperparameter's range.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Range {
    Categorical(Vec<String>),
    Integer { min: i64, max: i64, log: bool },
    Continuous { min: f64, max: f64, log: bool },
}

/// One training job definition's ranges, in the order the definition lists them.
pub(crate) type Space = Vec<(String, Range)>;

/// A trial's choice: which definition, and one value per range of its space, in order, as
/// the hyperparameter strings the job receives.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Configuration {
    pub definition: usize,
    pub values: Vec<String>,
}

/// One value drawn uniformly (on the log scale where the range says so).
pub(crate) fn sample(range: &Range, rng: &mut ChaCha8Rng) -> String {
    match range {
        Range::Categorical(values) => values[rng.gen_range(0..values.len())].clone(),
        Range::Integer {
            min,
            max,
            log: false,
        } => rng.gen_range(*min..=*max).to_string(),
        Range::Integer {
            min,
            max,
            log: true,
        } => {
            let x = rng
                .gen_range((*min as f64).ln()..=(*max as f64 + 1.0).ln())
                .exp();
            (x.floor() as i64).clamp(*min, *max).to_string()
        }
        Range::Continuous {
            min,
            max,
            log: false,
        } => format!("{}", rng.gen_range(*min..=*max)),
        Range::Continuous {
            min,
            max,
            log: true,
        } => {
            format!(
                "{}",
                rng.gen_range(min.ln()..=max.ln()).exp().clamp(*min, *max)
            )
        }
    }
}

/// How many distinct configurations the ranges have; `None` with a continuous one (or too many
/// to count).
pub(crate) fn space_size(ranges: &[(String, Range)]) -> Option<u64> {
    ranges.iter().try_fold(1u64, |n, (_, r)| {
        let values = match r {
            Range::Categorical(v) => v.len() as u64,
            Range::Integer { min, max, .. } => max.abs_diff(*min).checked_add(1)?,
            Range::Continuous { .. } => return None,
        };
        n.checked_mul(values)
    })
}

/// Every configuration of finite ranges, as `sample` would write each value.
pub(crate) fn all_configurations(ranges: &[(String, Range)]) -> Vec<Vec<String>> {
    let mut all = vec![Vec::new()];
    for (_, range) in ranges {
        let values: Vec<String> = match range {
            Range::Categorical(v) => v.clone(),
            Range::Integer { min, max, .. } => (*min..=*max).map(|v| v.to_string()).collect(),
            Range::Continuous { .. } => return Vec::new(),
        };
        all = all
            .into_iter()
            .flat_map(|prefix| {
                values.iter().map(move |v| {
                    let mut next = prefix.clone();
                    next.push(v.clone());
                    next
                })
            })
            .collect();
    }
    all
}
