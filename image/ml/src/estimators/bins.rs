//! Features binned once per fit, for the split searches over histograms that the forest and
//! the booster make: at most 256 bins of one byte each, one per distinct value when there are
//! that few, else bins of equal row counts. A bin never splits one value, and the edge between
//! two bins is a value midway between them, so a split on codes is a split on values.

use ndarray::ArrayView2;
use rayon::prelude::*;

/// Values closer than this are one value (scikit-learn's FEATURE_THRESHOLD).
const FEATURE_THRESHOLD: f64 = 1e-7;

/// One feature binned: a code per row, and the threshold between each bin and the next.
pub(super) struct Bins {
    /// The row's bin: `value <= edges[b]` exactly when `code <= b`.
    pub(super) codes: Vec<u8>,
    /// Between bin `b` and `b + 1`: midway between the largest value in `b` and the smallest
    /// in `b + 1`. One fewer than the bins.
    pub(super) edges: Vec<f64>,
}

/// The most bins a feature gets: the codes are bytes.
pub(super) const MAX_BINS: usize = 256;

impl Bins {
    /// Every column of `x` binned over the rows `rows` (`None`: every row), in that order,
    /// side by side when a thread of the pool is idle (as for the last fold of a
    /// cross-validation, which fits alone).
    pub(super) fn columns(x: ArrayView2<f64>, rows: Option<&[usize]>) -> Vec<Bins> {
        (0..x.ncols())
            .into_par_iter()
            .map(|f| {
                let column = x.column(f);
                let values: Vec<f64> = match rows {
                    Some(rows) => rows.iter().map(|&r| column[r]).collect(),
                    None => column.to_vec(),
                };
                Bins::of(&values)
            })
            .collect()
    }

    pub(super) fn of(values: &[f64]) -> Bins {
        let sorted = sorted_total(values);
        // The distinct values (within FEATURE_THRESHOLD, as the exact search treats them).
        let mut distinct: Vec<f64> = Vec::new();
        for &v in &sorted {
            if distinct
                .last()
                .is_none_or(|&last| v > last + FEATURE_THRESHOLD)
            {
                distinct.push(v);
            }
        }
        // Each bin's largest value: every distinct value when there are few, else the value at
        // each 1/256th of the rows (so bins hold equal shares of them).
        let uppers: Vec<f64> = if distinct.len() <= MAX_BINS {
            distinct.clone()
        } else {
            let n = sorted.len();
            let mut uppers: Vec<f64> = (1..MAX_BINS)
                .map(|i| sorted[i * n / MAX_BINS - 1])
                .collect();
            uppers.dedup_by(|b, a| *b <= *a + FEATURE_THRESHOLD);
            uppers
        };
        let mut edges = Vec::with_capacity(uppers.len());
        for &upper in &uppers {
            // The smallest distinct value above this bin's largest.
            let at = distinct.partition_point(|&d| d <= upper + FEATURE_THRESHOLD);
            let Some(&next) = distinct.get(at) else {
                break; // the last bin
            };
            let mut edge = upper / 2.0 + next / 2.0;
            if edge >= next || !edge.is_finite() {
                edge = upper;
            }
            edges.push(edge);
        }
        let codes = values
            .iter()
            .map(|&v| u8::try_from(edges.partition_point(|&e| e < v)).unwrap_or(u8::MAX))
            .collect();
        Bins { codes, edges }
    }

    /// How many bins there are.
    pub(super) fn bins(&self) -> usize {
        self.edges.len() + 1
    }
}

/// `values` in `f64::total_cmp`'s order, sorted as integers: each value's bits mapped to an
/// `i64` that orders the same way, which sorts faster than comparing floats.
fn sorted_total(values: &[f64]) -> Vec<f64> {
    // Negative values' magnitude bits are flipped, so that more negative sorts lower.
    let key = |bits: i64| bits ^ (((bits >> 63) as u64) >> 1) as i64;
    let mut keys: Vec<i64> = values.iter().map(|v| key(v.to_bits() as i64)).collect();
    keys.sort_unstable();
    // The mapping is its own inverse.
    keys.into_iter()
        .map(|k| f64::from_bits(key(k) as u64))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every code agrees with the edges: `value <= edges[b]` exactly when `code <= b`.
    fn assert_consistent(values: &[f64], bins: &Bins) {
        assert!(bins.bins() <= MAX_BINS);
        assert!(
            bins.edges.windows(2).all(|w| w[0] < w[1]),
            "{:?}",
            bins.edges
        );
        for (&v, &code) in values.iter().zip(&bins.codes) {
            let b = usize::from(code);
            assert!(b < bins.bins());
            if b < bins.edges.len() {
                assert!(v <= bins.edges[b], "{v} in bin {b} above {}", bins.edges[b]);
            }
            if b > 0 {
                assert!(
                    v > bins.edges[b - 1],
                    "{v} in bin {b} not above {}",
                    bins.edges[b - 1]
                );
            }
        }
    }

    #[test]
    fn sorts_as_total_cmp_does() {
        let values = [
            2.5,
            -0.0,
            f64::NAN,
            -1e300,
            0.0,
            f64::NEG_INFINITY,
            -f64::NAN,
            1e-310,
            -2.5,
            f64::INFINITY,
        ];
        let mut expected = values.to_vec();
        expected.sort_unstable_by(f64::total_cmp);
        let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&sorted_total(&values)), bits(&expected));
    }

    #[test]
    fn few_distinct_values_get_a_bin_each_split_midway() {
        let values = [3.0, 1.0, 2.0, 3.0, 1.0, 10.0];
        let bins = Bins::of(&values);
        assert_eq!(bins.edges, vec![1.5, 2.5, 6.5]);
        assert_eq!(bins.codes, vec![2, 0, 1, 2, 0, 3]);
        assert_consistent(&values, &bins);
        let constant = Bins::of(&[4.0; 5]);
        assert_eq!((constant.bins(), constant.codes), (1, vec![0; 5]));
    }

    #[test]
    fn many_distinct_values_get_256_bins_of_equal_shares() {
        let values: Vec<f64> = (0..10_000)
            .map(|i| ((i * 7919) % 10_000) as f64 / 3.0)
            .collect();
        let bins = Bins::of(&values);
        assert_eq!(bins.bins(), MAX_BINS);
        assert_consistent(&values, &bins);
        let mut count = vec![0usize; MAX_BINS];
        for &c in &bins.codes {
            count[usize::from(c)] += 1;
        }
        let (least, most) = (count.iter().min().unwrap(), count.iter().max().unwrap());
        assert!(*least >= 38 && *most <= 40, "{least}..{most} rows per bin");
        // Heavy ties: the bins never split one value.
        let tied: Vec<f64> = (0..5_000)
            .map(|i| if i % 2 == 0 { 0.0 } else { i as f64 })
            .collect();
        let bins = Bins::of(&tied);
        assert_consistent(&tied, &bins);
        assert!(bins.codes.iter().filter(|&&c| c == 0).count() >= 2_500);
    }
}
