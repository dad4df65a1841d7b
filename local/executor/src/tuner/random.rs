//! SageMaker's Random strategy: definitions take turns, each trial's values drawn from a
//! generator seeded by `RandomSeed` in the order the definition lists its ranges. A draw that
//! repeats an earlier trial of the same definition is drawn again while configurations not
//! yet tried remain, so a small space is covered instead of tried twice (a finite space is
//! listed whole once draws keep repeating). All trials are drawn up front, so they do not
//! depend on which one finishes first.

use std::collections::BTreeSet;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::space::{all_configurations, sample, space_size, Configuration, Space};

/// Draws before falling back to listing a finite space's untried configurations.
const REDRAWS: usize = 64;
/// The largest space listed whole to find an untried configuration.
const MAX_LISTED: u64 = 100_000;

/// `count` trials over `spaces`, in order.
pub(crate) fn plan(spaces: &[Space], count: usize, seed: u64) -> Vec<Configuration> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut tried: Vec<BTreeSet<Vec<String>>> = spaces.iter().map(|_| BTreeSet::new()).collect();
    if spaces.is_empty() {
        return Vec::new();
    }
    (0..count)
        .map(|i| {
            let definition = i % spaces.len();
            let values = fresh_values(&spaces[definition], &tried[definition], &mut rng);
            tried[definition].insert(values.clone());
            Configuration { definition, values }
        })
        .collect()
}

/// One configuration of `space` not in `tried`, if one remains; else any draw.
pub(crate) fn fresh_values(
    space: &Space,
    tried: &BTreeSet<Vec<String>>,
    rng: &mut ChaCha8Rng,
) -> Vec<String> {
    let draw = |rng: &mut ChaCha8Rng| -> Vec<String> {
        space.iter().map(|(_, r)| sample(r, rng)).collect()
    };
    let first = draw(rng);
    if !tried.contains(&first) {
        return first;
    }
    let size = space_size(space);
    if size.is_some_and(|n| tried.len() as u64 >= n) {
        return first; // every configuration was tried
    }
    for _ in 0..REDRAWS {
        let values = draw(rng);
        if !tried.contains(&values) {
            return values;
        }
    }
    match size {
        Some(n) if n <= MAX_LISTED => {
            let untried: Vec<Vec<String>> = all_configurations(space)
                .into_iter()
                .filter(|v| !tried.contains(v))
                .collect();
            if untried.is_empty() {
                first
            } else {
                untried[rng.gen_range(0..untried.len())].clone()
            }
        }
        _ => first,
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::tuner::Range;

    pub(crate) fn spaces() -> Vec<Space> {
        vec![
            vec![(
                "c".into(),
                Range::Categorical(vec!["x".into(), "y".into(), "z".into()]),
            )],
            vec![
                (
                    "n".into(),
                    Range::Integer {
                        min: 2,
                        max: 11,
                        log: false,
                    },
                ),
                (
                    "l".into(),
                    Range::Integer {
                        min: 1,
                        max: 1000,
                        log: true,
                    },
                ),
                (
                    "f".into(),
                    Range::Continuous {
                        min: 0.1,
                        max: 0.2,
                        log: false,
                    },
                ),
            ],
        ]
    }

    #[test]
    fn plans_are_deterministic_round_robin_and_in_range() {
        let a = plan(&spaces(), 40, 42);
        assert_eq!(a, plan(&spaces(), 40, 42));
        assert_ne!(a, plan(&spaces(), 40, 43));
        assert_eq!(a.iter().filter(|t| t.definition == 0).count(), 20);
        for t in &a {
            let v = &t.values;
            if t.definition == 0 {
                assert!(["x", "y", "z"].contains(&v[0].as_str()));
            } else {
                let n: i64 = v[0].parse().unwrap();
                let l: i64 = v[1].parse().unwrap();
                let f: f64 = v[2].parse().unwrap();
                assert!(
                    (2..=11).contains(&n) && (1..=1000).contains(&l) && (0.1..=0.2).contains(&f)
                );
            }
        }
        // Every value of a small range shows up over enough draws.
        let seen: BTreeSet<&str> = a
            .iter()
            .filter(|t| t.definition == 0)
            .map(|t| t.values[0].as_str())
            .collect();
        assert_eq!(seen.len(), 3);
    }

    #[test]
    fn random_never_repeats_a_configuration_while_untried_ones_remain() {
        let small: Vec<Space> = vec![vec![
            (
                "c".into(),
                Range::Categorical(vec!["x".into(), "y".into(), "z".into()]),
            ),
            (
                "k".into(),
                Range::Integer {
                    min: 1,
                    max: 3,
                    log: false,
                },
            ),
        ]];
        assert_eq!(space_size(&small[0]), Some(9));
        for seed in 0..20 {
            let trials = plan(&small, 12, seed);
            let first_nine: BTreeSet<_> = trials[..9].iter().collect();
            assert_eq!(first_nine.len(), 9, "seed {seed}: {trials:?}");
            assert_eq!(trials, plan(&small, 12, seed), "still seeded");
        }
        assert_eq!(space_size(&spaces()[1]), None, "continuous: unbounded");
        assert_eq!(all_configurations(&small[0]).len(), 9);
    }
}
