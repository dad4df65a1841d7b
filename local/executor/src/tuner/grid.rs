//! SageMaker's Grid strategy: every combination of the ranges' values, each integer value a
//! grid point; a continuous range has no grid and is refused.
//!
//! Order: definitions take turns (skipping those run out), and within one definition the
//! configurations go in a stride order, index k·s mod N with s coprime to N and close to N/φ,
//! so that a grid cut short by the trial budget still spans every parameter's values instead
//! of varying only the last one. (Among a few such strides, the one whose prefix shows every
//! parameter's values soonest: k·s mod N decoded in mixed radix leaves a middle parameter
//! stuck when s is near a simple fraction modulo its suffix of the radices.) The index is decoded in mixed radix, so only the
//! configurations asked for are built; a definition with more than `MAX_GRID` is refused.

use super::space::{space_size, Configuration, Range, Space};

/// The most configurations one definition's grid may have: indices are decoded, never
/// listed, so the bound is only what u128 products of indices keep exact.
pub(crate) const MAX_GRID: u64 = 1_000_000_000_000;
/// The most values one integer range may list (each is kept as its string).
pub(crate) const MAX_AXIS: u64 = 100_000;

/// One definition's grid: each range's values, and the stride over its indices.
struct Axes {
    values: Vec<Vec<String>>,
    size: u64,
    stride: u64,
}

impl Axes {
    fn new(space: &Space, name: &str) -> Result<Axes, String> {
        let mut values = Vec::with_capacity(space.len());
        let mut size: u64 = 1;
        for (parameter, range) in space {
            let count = match range {
                Range::Categorical(v) if v.is_empty() => {
                    return Err(format!(
                        "Grid search: definition {name}, CategoricalParameterRange {parameter} \
                         has no values"
                    ))
                }
                Range::Categorical(v) => v.len() as u64,
                Range::Integer { min, max, .. } if min > max => {
                    return Err(format!(
                        "Grid search: definition {name}, IntegerParameterRange {parameter} has \
                         bounds {min}..{max}"
                    ))
                }
                Range::Integer { min, max, .. } => {
                    let count = max.abs_diff(*min).saturating_add(1);
                    if count > MAX_AXIS {
                        return Err(format!(
                            "Grid search: definition {name}, IntegerParameterRange {parameter} \
                             has {count} values, more than {MAX_AXIS}"
                        ));
                    }
                    count
                }
                Range::Continuous { .. } => {
                    return Err(format!(
                        "Grid search needs every range to be a list of values: definition \
                         {name}, ContinuousParameterRange {parameter} is continuous"
                    ))
                }
            };
            size = size.saturating_mul(count);
            if size > MAX_GRID {
                let total = space_size(space)
                    .map_or_else(|| "more than 2^64".to_string(), |n| n.to_string());
                return Err(format!(
                    "Grid search: definition {name} has {total} configurations, more than \
                     {MAX_GRID}"
                ));
            }
            values.push(match range {
                Range::Categorical(v) => v.clone(),
                // Materialise each integer axis (at most MAX_AXIS values).
                Range::Integer { min, max, .. } => (*min..=*max).map(|v| v.to_string()).collect(),
                Range::Continuous { .. } => Vec::new(),
            });
        }
        let radices: Vec<u64> = values.iter().map(|v| v.len() as u64).collect();
        Ok(Axes {
            stride: stride(&radices),
            values,
            size,
        })
    }

    /// The `k`-th configuration in visiting order (k < size).
    fn at(&self, k: u64) -> Vec<String> {
        // k·s < MAX_GRID² fits in u128.
        let mut index = ((k % self.size) as u128 * self.stride as u128 % self.size as u128) as u64;
        let mut out = vec![String::new(); self.values.len()];
        // Mixed radix, the last range the least significant digit.
        for (slot, axis) in out.iter_mut().zip(&self.values).rev() {
            let radix = axis.len() as u64;
            *slot = axis[(index % radix) as usize].clone();
            index /= radix;
        }
        out
    }
}

fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// The stride over a grid of these radices (the last the least significant): coprime to
/// their product N, so k·s mod N visits every index once. Candidates: the coprimes nearest
/// N/φ, and one built digit by digit to be nearest M/φ modulo every suffix product M of the
/// radices (so lower parameters cycle too, not only the first). Kept: the one whose prefix
/// shows every parameter's every value soonest, the nearest N/φ on a tie.
fn stride(radices: &[u64]) -> u64 {
    let n: u64 = radices.iter().product();
    if n <= 2 {
        return 1;
    }
    // One range: every coprime stride shows its values in exactly n steps.
    let single = radices.iter().filter(|&&r| r > 1).count() <= 1;
    let phi = (1.0 + 5f64.sqrt()) / 2.0;
    let target = n as f64 / phi;
    let below = target.floor() as u64;
    let mut candidates: Vec<u64> = (0..n)
        .flat_map(|d| [below.checked_sub(d), below.checked_add(d + 1)])
        .flatten()
        .filter(|&s| s >= 1 && s < n && gcd(s, n) == 1)
        .take(6)
        .collect();
    let far = |s: u64| (s as f64 - target).abs();
    if single {
        return candidates
            .into_iter()
            .min_by(|&a, &b| far(a).total_cmp(&far(b)))
            .unwrap_or(1);
    }
    let (mut s, mut m) = (0u64, 1u64);
    for &r in radices.iter().rev() {
        let next = m * r;
        let goal = next as f64 / phi;
        let t = (0..r)
            .filter(|&t| gcd(s + m * t, next) == 1)
            .min_by(|&a, &b| {
                let da = ((s + m * a) as f64 - goal).abs();
                let db = ((s + m * b) as f64 - goal).abs();
                da.total_cmp(&db)
            });
        match t {
            Some(t) => s += m * t,
            None => break,
        }
        m = next;
    }
    if m == n && gcd(s, n) == 1 {
        candidates.push(s);
    }
    let cap = n.min(16 * radices.iter().sum::<u64>());
    candidates
        .into_iter()
        .map(|s| (cover_time(radices, s, cap), s))
        .min_by(|&(ta, a), &(tb, b)| ta.cmp(&tb).then(far(a).total_cmp(&far(b))))
        .map_or(1, |(_, s)| s)
}

/// How many steps of stride `s` show every value of every digit (`cap` if not by then).
fn cover_time(radices: &[u64], s: u64, cap: u64) -> u64 {
    let n: u64 = radices.iter().product();
    let mut seen: Vec<Vec<bool>> = radices.iter().map(|&r| vec![false; r as usize]).collect();
    let mut missing: u64 = radices.iter().sum();
    for k in 0..cap {
        let mut index = (k as u128 * s as u128 % n as u128) as u64;
        for (digits, &r) in seen.iter_mut().zip(radices).rev() {
            let d = (index % r) as usize;
            index /= r;
            if !digits[d] {
                digits[d] = true;
                missing -= 1;
            }
        }
        if missing == 0 {
            return k + 1;
        }
    }
    cap
}

/// The first `limit` configurations of the grid, in the order trials run, and the full grid's
/// size; `names[i]` names definition i in errors.
pub(crate) fn grid(
    spaces: &[Space],
    names: &[String],
    limit: usize,
) -> Result<(Vec<Configuration>, u64), String> {
    let axes: Vec<Axes> = spaces
        .iter()
        .enumerate()
        .map(|(i, space)| {
            let name = names.get(i).map_or_else(|| i.to_string(), |n| n.clone());
            Axes::new(space, &name)
        })
        .collect::<Result<_, _>>()?;
    let total: u64 = axes.iter().map(|a| a.size).sum();
    let wanted = (limit as u64).min(total) as usize;
    let mut out = Vec::with_capacity(wanted);
    let mut round: u64 = 0;
    while out.len() < wanted {
        for (definition, a) in axes.iter().enumerate() {
            if round < a.size && out.len() < wanted {
                out.push(Configuration {
                    definition,
                    values: a.at(round),
                });
            }
        }
        round += 1;
    }
    Ok((out, total))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    fn cube() -> Space {
        vec![
            ("a".into(), Range::Categorical(strings(&["x", "y", "z"]))),
            (
                "b".into(),
                Range::Integer {
                    min: 1,
                    max: 3,
                    log: false,
                },
            ),
            (
                "c".into(),
                Range::Categorical(strings(&["0.001", "0.01", "None"])),
            ),
        ]
    }

    #[test]
    fn a_cut_short_grid_spans_every_parameter_and_the_whole_grid_is_each_configuration_once() {
        let names = vec!["d".to_string()];
        let (first, size) = grid(&[cube()], &names, 9).unwrap();
        assert_eq!(size, 27);
        assert_eq!(first.len(), 9);
        for p in 0..3 {
            let seen: BTreeSet<&str> = first.iter().map(|c| c.values[p].as_str()).collect();
            assert_eq!(seen.len(), 3, "parameter {p}: {first:?}");
        }
        let (all, _) = grid(&[cube()], &names, 1000).unwrap();
        assert_eq!(all.len(), 27);
        assert_eq!(all[..9], first[..], "a prefix of the same order");
        let distinct: BTreeSet<&Vec<String>> = all.iter().map(|c| &c.values).collect();
        assert_eq!(distinct.len(), 27);
        assert_eq!(all, grid(&[cube()], &names, 1000).unwrap().0, "no seed");
    }

    #[test]
    fn definitions_take_turns_until_each_runs_out() {
        let small: Space = vec![("k".into(), Range::Categorical(strings(&["p", "q"])))];
        let names = strings(&["big", "small"]);
        let (trials, size) = grid(&[cube(), small], &names, 100).unwrap();
        assert_eq!(size, 29);
        let order: Vec<usize> = trials.iter().map(|c| c.definition).collect();
        assert_eq!(order[..6], [0, 1, 0, 1, 0, 0]);
        assert_eq!(order.iter().filter(|&&d| d == 1).count(), 2);
        assert_eq!(trials[1].values, ["p"]);
        assert_eq!(trials[3].values, ["q"]);
    }

    #[test]
    fn continuous_ranges_and_oversized_grids_are_refused_by_name() {
        let mut with_real = cube();
        with_real.push((
            "eta".into(),
            Range::Continuous {
                min: 0.1,
                max: 0.2,
                log: false,
            },
        ));
        let names = strings(&["RandomForest", "XGBoost"]);
        let err = grid(&[cube(), with_real], &names, 10).unwrap_err();
        assert_eq!(
            err,
            "Grid search needs every range to be a list of values: definition XGBoost, \
             ContinuousParameterRange eta is continuous"
        );
        let huge: Space = (0..5)
            .map(|i| {
                (
                    format!("n{i}"),
                    Range::Integer {
                        min: 1,
                        max: 1000,
                        log: false,
                    },
                )
            })
            .collect();
        let err = grid(&[huge], &names, 10).unwrap_err();
        assert!(
            err.contains(
                "RandomForest has 1000000000000000 configurations, more than 1000000000000"
            ),
            "{err}"
        );
        let wide: Space = vec![(
            "n".into(),
            Range::Integer {
                min: i64::MIN,
                max: i64::MAX,
                log: false,
            },
        )];
        assert!(grid(&[wide], &names, 10)
            .unwrap_err()
            .contains("IntegerParameterRange n has 18446744073709551615 values, more than 100000"));
    }

    #[test]
    fn a_large_grid_costs_only_what_is_asked() {
        // The size of the RandomForest space in pipeline/src/search_space.rs.
        let forest: Space = vec![
            (
                "c".into(),
                Range::Categorical((0..8).map(|i| i.to_string()).collect()),
            ),
            (
                "d".into(),
                Range::Categorical((0..6).map(|i| i.to_string()).collect()),
            ),
            (
                "n".into(),
                Range::Integer {
                    min: 2,
                    max: 11,
                    log: false,
                },
            ),
            (
                "m".into(),
                Range::Categorical((0..110).map(|i| i.to_string()).collect()),
            ),
        ];
        let (first, size) = grid(&[forest], &["rf".to_string()], 60).unwrap();
        assert_eq!(size, 52_800);
        assert_eq!(first.len(), 60);
        for (p, values) in [(0, 8), (1, 6), (2, 10)] {
            let seen: BTreeSet<&str> = first.iter().map(|c| c.values[p].as_str()).collect();
            assert_eq!(seen.len(), values, "parameter {p}");
        }
        assert_eq!(grid(&[], &[], 10).unwrap(), (Vec::new(), 0));
        assert_eq!(stride(&[27]), 17, "one range: the coprime nearest 27/φ");
        assert_eq!(stride(&[1]), 1);
        assert_eq!(
            stride(&[1, 10, 1]),
            7,
            "one range that varies: nearest 10/φ = 6.18"
        );
        assert_eq!(stride(&[1_000_000]), 618_033, "nearest coprime to 618,034");
        assert_eq!(gcd(stride(&[8, 6, 10, 110]), 52_800), 1);
    }
}
