//! Features binned once per fit, for the split searches over histograms that the forest and
//! the booster make: at most 256 bins of one byte each, one per distinct value when there are
//! that few. Beyond that, three rules ([`Binning`]): bins of equal row counts with edges midway
//! between values (the forest's), XGBoost's own cuts, or LightGBM's own bins. Each keeps a
//! value in one bin, so a split on codes is a split on values.

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

/// Where a feature with more distinct values than bins puts its bins' edges.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Binning {
    /// Equal row counts per bin, edges midway between two values ([`Bins::of`]).
    EqualCounts,
    /// XGBoost's `hist` cuts, from its quantile summary ([`Bins::xgboost`]).
    XGBoost,
    /// LightGBM's bins, at least 3 rows each and zero in a bin of its own
    /// ([`Bins::lightgbm`]).
    LightGBM,
}

impl Bins {
    /// Every column of `x` binned over the rows `rows` (`None`: every row), in that order,
    /// side by side when a thread of the pool is idle (as for the last fold of a
    /// cross-validation, which fits alone).
    pub(super) fn columns(
        x: ArrayView2<f64>,
        rows: Option<&[usize]>,
        binning: Binning,
    ) -> Vec<Bins> {
        (0..x.ncols())
            .into_par_iter()
            .map(|f| {
                let column = x.column(f);
                let values: Vec<f64> = match rows {
                    Some(rows) => rows.iter().map(|&r| column[r]).collect(),
                    None => column.to_vec(),
                };
                match binning {
                    Binning::EqualCounts => Bins::of(&values),
                    Binning::XGBoost => Bins::xgboost(&values),
                    Binning::LightGBM => Bins::lightgbm(&values),
                }
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
        Bins::by_edges(values, edges)
    }

    /// XGBoost's bins (`tree_method=hist`, `max_bin=256`), so that the booster named XGBoost
    /// splits where XGBoost does. XGBoost bins a value as `f32`, into bin `b` when
    /// `cut[b - 1] <= value < cut[b]`. Its cuts come from a weighted quantile summary of the
    /// column: each distinct value with the ranks below and through it, pruned to 257 entries by
    /// rank (`WQSummary::SetPrune`), whose values after the first are the cuts. Here the summary
    /// is exact; XGBoost's is too up to a few thousand rows, and approximates it beyond. NaN
    /// takes bin 0, the left side, where the trees send missing values.
    pub(super) fn xgboost(values: &[f64]) -> Bins {
        let (sorted, rows) = sorted_f32_rows(values);
        let summary = Summary::of(&sorted);
        let kept = summary.prune(MAX_BINS + 1);
        let mut cuts: Vec<f32> = Vec::with_capacity(MAX_BINS);
        for &i in kept.iter().take(MAX_BINS).skip(1) {
            let value = summary.value(i);
            if cuts.last().is_none_or(|&last| value > last) {
                cuts.push(value);
            }
        }
        // A value's code is how many cuts are at most it (NaN: none).
        let codes = codes_along(values.len(), &sorted, &rows, &cuts, |c, v| c <= v);
        let edges = cuts.iter().map(|&c| below_f32_cut(c)).collect();
        Bins { codes, edges }
    }

    /// LightGBM's bins (`max_bin=255`, `min_data_in_bin=3`, `BinMapper::FindBin`), so that the
    /// booster named LightGBM splits where LightGBM does. Values within 1e-35 of zero are zero,
    /// and zero gets a bin of its own between the negative and the positive values' bins, even
    /// where no row is zero. Each side's distinct values are grouped greedily: a value each when
    /// few (closing a bin once it holds 3 rows), else bins of about equal row counts, a value
    /// holding more than its share alone. An edge is just above the midpoint between the bins.
    /// LightGBM builds the bins from a sample of 200,000 rows; this from every row. NaN takes
    /// bin 0, the left side, where the trees send missing values.
    pub(super) fn lightgbm(values: &[f64]) -> Bins {
        let (sorted, rows) = sorted_f64_rows(values);
        let finite = sorted.len();
        let nonzero: Vec<f64> = sorted
            .iter()
            .copied()
            .filter(|v| v.abs() > LIGHTGBM_ZERO)
            .collect();
        let zeros = finite - nonzero.len();
        let (distinct, counts) = lightgbm_distinct(&nonzero, zeros);
        let mut edges = lightgbm_bounds(&distinct, &counts, finite);
        // The last bound is infinity: the top bin has no edge above it.
        edges.pop();
        // A value's code is how many edges are below it (NaN: none).
        let codes = codes_along(values.len(), &sorted, &rows, &edges, |e, v| e < v);
        Bins { codes, edges }
    }

    /// Each value's bin under `edges`: the first whose edge is not below it (NaN: bin 0, as
    /// no edge is below it).
    fn by_edges(values: &[f64], edges: Vec<f64>) -> Bins {
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

/// XGBoost's quantile summary of a column, exact: each distinct value with the weight of the
/// values below it (`rmin`), through it (`rmax`), and its own. Weights are row counts, so
/// entry `i` is the run of equal values `sorted[starts[i]..starts[i + 1]]`.
struct Summary<'a> {
    sorted: &'a [f32],
    starts: Vec<usize>,
}

impl<'a> Summary<'a> {
    fn of(sorted: &'a [f32]) -> Summary<'a> {
        let mut starts = Vec::with_capacity(sorted.len() + 1);
        // `!=`, as XGBoost merges with `==`: -0.0 and 0.0 are one value.
        starts.extend((0..sorted.len()).filter(|&i| i == 0 || sorted[i] != sorted[i - 1]));
        starts.push(sorted.len());
        Summary { sorted, starts }
    }

    fn len(&self) -> usize {
        self.starts.len() - 1
    }

    fn value(&self, i: usize) -> f32 {
        self.sorted[self.starts[i]]
    }

    /// The ranks as XGBoost keeps them, in `f32` (exact below 2^24 rows).
    fn rmin(&self, i: usize) -> f32 {
        self.starts[i] as f32
    }

    fn rmax(&self, i: usize) -> f32 {
        self.starts[i + 1] as f32
    }

    fn weight(&self, i: usize) -> f32 {
        self.rmax(i) - self.rmin(i)
    }

    /// The entries kept when the summary is cut down to at most `size`, spread evenly by
    /// rank: XGBoost's `WQSummary::SetPrune`, step for step, in its `f32` arithmetic.
    fn prune(&self, size: usize) -> Vec<usize> {
        let len = self.len();
        if len <= size {
            return (0..len).collect();
        }
        let begin = self.rmax(0);
        let range = self.rmin(len - 1) - begin;
        let n = size - 1;
        let mut kept = vec![0];
        let mut i = 1;
        for k in 1..n {
            let dx2 = 2.0 * ((k as f32 * range) / n as f32 + begin);
            while i < len - 1 && dx2 >= self.rmax(i + 1) + self.rmin(i + 1) {
                i += 1;
            }
            if i == len - 1 {
                break;
            }
            let next_min = self.rmin(i) + self.weight(i);
            let prev_max = self.rmax(i + 1) - self.weight(i + 1);
            let take = if dx2 < next_min + prev_max { i } else { i + 1 };
            if kept.last() != Some(&take) {
                kept.push(take);
            }
        }
        if kept.last() != Some(&(len - 1)) {
            kept.push(len - 1);
        }
        kept
    }
}

/// LightGBM's zero: values this close to it are zero (`kZeroThreshold`).
const LIGHTGBM_ZERO: f64 = 1e-35;
/// LightGBM's `max_bin`.
const LIGHTGBM_MAX_BIN: usize = 255;
/// LightGBM's `min_data_in_bin`.
const LIGHTGBM_MIN_DATA_IN_BIN: usize = 3;

/// Whether LightGBM takes `b` (not below `a`) for the same value as `a`: at most one step of
/// `f64` above it (`CheckDoubleEqualOrdered`).
fn lightgbm_same(a: f64, b: f64) -> bool {
    b <= a.next_up()
}

/// LightGBM's distinct values of a column and their row counts, from its sorted non-zero
/// values and its count of zeros: values one `f64` step apart are one (the larger kept), and
/// zero sits between the negative and the positive values.
fn lightgbm_distinct(sorted: &[f64], zeros: usize) -> (Vec<f64>, Vec<usize>) {
    let Some(&first) = sorted.first() else {
        return (vec![0.0], vec![zeros]);
    };
    let mut distinct = Vec::with_capacity(sorted.len() + 1);
    let mut counts = Vec::with_capacity(sorted.len() + 1);
    if first > 0.0 && zeros > 0 {
        distinct.push(0.0);
        counts.push(zeros);
    }
    // The run of values taken as one: its largest value and its length.
    let (mut value, mut count) = (first, 1);
    for &next in &sorted[1..] {
        if lightgbm_same(value, next) {
            value = next;
            count += 1;
            continue;
        }
        distinct.push(value);
        counts.push(count);
        if value < 0.0 && next > 0.0 {
            distinct.push(0.0);
            counts.push(zeros);
        }
        (value, count) = (next, 1);
    }
    distinct.push(value);
    counts.push(count);
    if value < 0.0 && zeros > 0 {
        distinct.push(0.0);
        counts.push(zeros);
    }
    (distinct, counts)
}

/// LightGBM's bins' upper bounds, the last infinity (`FindBinWithZeroAsOneBin`): the negative
/// values' bins (their share of the bins, at least one), the zero's, the positive values'.
fn lightgbm_bounds(distinct: &[f64], counts: &[usize], total: usize) -> Vec<f64> {
    let max_bin = LIGHTGBM_MAX_BIN;
    let (mut left_rows, mut zero_rows, mut right_rows) = (0, 0, 0);
    for (&v, &c) in distinct.iter().zip(counts) {
        if v <= -LIGHTGBM_ZERO {
            left_rows += c;
        } else if v > LIGHTGBM_ZERO {
            right_rows += c;
        } else {
            zero_rows += c;
        }
    }
    let left = distinct
        .iter()
        .position(|&v| v > -LIGHTGBM_ZERO)
        .unwrap_or(distinct.len());
    let mut bounds = Vec::new();
    if left > 0 && max_bin > 1 {
        let share = left_rows as f64 / (total - zero_rows) as f64 * (max_bin - 1) as f64;
        let left_bins = (share as usize).max(1);
        bounds = lightgbm_greedy(&distinct[..left], &counts[..left], left_bins, left_rows);
        if let Some(last) = bounds.last_mut() {
            *last = -LIGHTGBM_ZERO;
        }
    }
    let right = (left..distinct.len()).find(|&i| distinct[i] > LIGHTGBM_ZERO);
    let right_bins = (max_bin - 1).saturating_sub(bounds.len());
    match right {
        Some(start) if right_bins > 0 => {
            let rest =
                lightgbm_greedy(&distinct[start..], &counts[start..], right_bins, right_rows);
            bounds.push(LIGHTGBM_ZERO);
            bounds.extend(rest);
        }
        _ => bounds.push(f64::INFINITY),
    }
    bounds
}

/// LightGBM's `GreedyFindBin`: upper bounds of at most `max_bin` bins over `distinct` values
/// (`counts` rows each, `total` in all), the last infinity.
fn lightgbm_greedy(distinct: &[f64], counts: &[usize], max_bin: usize, total: usize) -> Vec<f64> {
    let n = distinct.len();
    let min_data = LIGHTGBM_MIN_DATA_IN_BIN;
    let mut bounds: Vec<f64> = Vec::new();
    let push = |bounds: &mut Vec<f64>, value: f64| {
        if bounds
            .last()
            .is_none_or(|&last| !lightgbm_same(last, value))
        {
            bounds.push(value);
            true
        } else {
            false
        }
    };
    if n <= max_bin {
        let mut in_bin = 0;
        for i in 0..n.saturating_sub(1) {
            in_bin += counts[i];
            if in_bin >= min_data
                && push(
                    &mut bounds,
                    ((distinct[i] + distinct[i + 1]) / 2.0).next_up(),
                )
            {
                in_bin = 0;
            }
        }
    } else {
        let max_bin = max_bin.min(total / min_data).max(1);
        let mut mean_size = total as f64 / max_bin as f64;
        let (mut rest_bins, mut rest_rows) = (max_bin as f64, total as f64);
        let big: Vec<bool> = counts.iter().map(|&c| c as f64 >= mean_size).collect();
        for (&c, _) in counts.iter().zip(&big).filter(|(_, &b)| b) {
            rest_bins -= 1.0;
            rest_rows -= c as f64;
        }
        mean_size = rest_rows / rest_bins;
        // Each bin's smallest and largest value.
        let mut lowers = vec![distinct[0]];
        let mut uppers = Vec::new();
        if big.iter().any(|&b| b) {
            let mut in_bin = 0.0;
            for i in 0..n - 1 {
                if !big[i] {
                    rest_rows -= counts[i] as f64;
                }
                in_bin += counts[i] as f64;
                if big[i]
                    || in_bin >= mean_size
                    || (big[i + 1] && in_bin >= (mean_size * 0.5).max(1.0))
                {
                    uppers.push(distinct[i]);
                    lowers.push(distinct[i + 1]);
                    if uppers.len() >= max_bin - 1 {
                        break;
                    }
                    in_bin = 0.0;
                    if !big[i] {
                        rest_bins -= 1.0;
                        mean_size = rest_rows / rest_bins;
                    }
                }
            }
        } else {
            // No value holds more than its share (as in a column of distinct values): a bin
            // ends at the first value that brings it to the mean size, found by a search over
            // the counts' running sums rather than value by value, the same bins.
            let mut sums = Vec::with_capacity(n + 1);
            sums.push(0usize);
            for &c in counts {
                sums.push(sums[sums.len() - 1] + c);
            }
            let mut start = 0;
            loop {
                let before = sums[start];
                let tail = &sums[start + 1..n];
                let k = tail.partition_point(|&s| ((s - before) as f64) < mean_size);
                if k == tail.len() {
                    break;
                }
                let i = start + k;
                uppers.push(distinct[i]);
                lowers.push(distinct[i + 1]);
                if uppers.len() >= max_bin - 1 {
                    break;
                }
                rest_rows = (total - sums[i + 1]) as f64;
                rest_bins -= 1.0;
                mean_size = rest_rows / rest_bins;
                start = i + 1;
            }
        }
        for (upper, lower) in uppers.iter().zip(&lowers[1..]) {
            push(&mut bounds, ((upper + lower) / 2.0).next_up());
        }
    }
    bounds.push(f64::INFINITY);
    bounds
}

/// The largest `f64` whose `f32` rounding is below `cut`: `value <= below_f32_cut(cut)`
/// exactly when `(value as f32) < cut`, so that XGBoost's split keeps this crate's
/// `value <= threshold` trees.
fn below_f32_cut(cut: f32) -> f64 {
    let lower = cut.next_down();
    // Past f32's largest value, the boundary where rounding overflows stands in for infinity.
    let widen = |v: f32| {
        if v.is_infinite() {
            2f64.powi(128).copysign(f64::from(v))
        } else {
            f64::from(v)
        }
    };
    // Exact in f64: two f32 values and their mean need at most 25 significant bits.
    let mid = (widen(lower) + widen(cut)) / 2.0;
    // A value exactly midway rounds to the neighbour whose last mantissa bit is 0.
    if lower.to_bits() & 1 == 0 {
        mid
    } else {
        mid.next_down()
    }
}

/// The values that are not NaN, as `f32`, in `f32::total_cmp`'s order, and the index in
/// `values` of each.
fn sorted_f32_rows(values: &[f64]) -> (Vec<f32>, Vec<u32>) {
    let unkey = |k: u32| {
        let bits = k ^ (1 << 31);
        f32::from_bits(bits ^ ((((bits as i32) >> 31) as u32) >> 1))
    };
    f32_order(values)
        .into_iter()
        .map(|p| (unkey((p >> 32) as u32), p as u32))
        .unzip()
}

/// The values that are not NaN in `f64::total_cmp`'s order, and the index in `values` of
/// each: in their `f32` order, each run of values equal as `f32` then sorted as `f64`.
fn sorted_f64_rows(values: &[f64]) -> (Vec<f64>, Vec<u32>) {
    let order = f32_order(values);
    let mut rows: Vec<u32> = order.iter().map(|&p| p as u32).collect();
    let mut start = 0;
    for run in order.chunk_by(|a, b| a >> 32 == b >> 32) {
        if run.len() > 1 {
            rows[start..start + run.len()]
                .sort_unstable_by(|&a, &b| values[a as usize].total_cmp(&values[b as usize]));
        }
        start += run.len();
    }
    let sorted = rows.iter().map(|&r| values[r as usize]).collect();
    (sorted, rows)
}

/// The indices of the values that are not NaN, each in the low half of a `u64` whose high half
/// orders as the value as `f32` does (`f32::total_cmp`), radix-sorted by that key: a quarter
/// of the time a comparison sort of the values takes.
fn f32_order(values: &[f64]) -> Vec<u64> {
    // Negative values' magnitude bits flipped, then the sign bit: an unsigned key.
    let key = |bits: u32| bits ^ ((((bits as i32) >> 31) as u32) >> 1) ^ (1 << 31);
    let mut pairs: Vec<u64> = values
        .iter()
        .enumerate()
        .filter(|(_, v)| !v.is_nan())
        .map(|(row, &v)| u64::from(key((v as f32).to_bits())) << 32 | row as u64)
        .collect();
    radsort::sort_by_key(&mut pairs, |&p| (p >> 32) as u32);
    pairs
}

/// Each of `len` values' code: how many `bounds` are `below` it. Along the values sorted
/// (`sorted[i]` is value `rows[i]`), that count only grows, so one pass finds them all; a
/// value not among them (NaN) keeps 0.
fn codes_along<T: Copy>(
    len: usize,
    sorted: &[T],
    rows: &[u32],
    bounds: &[T],
    below: impl Fn(T, T) -> bool,
) -> Vec<u8> {
    let mut codes = vec![0u8; len];
    let mut code = 0;
    for (&v, &row) in sorted.iter().zip(rows) {
        while bounds.get(code).is_some_and(|&b| below(b, v)) {
            code += 1;
        }
        codes[row as usize] = u8::try_from(code).unwrap_or(u8::MAX);
    }
    codes
}

/// `values` in `f64::total_cmp`'s order, sorted as integers: each value's bits mapped to an
/// `i64` that orders the same way, which a radix sort takes in two thirds of the time a
/// comparison sort of the floats does.
fn sorted_total(values: &[f64]) -> Vec<f64> {
    // Negative values' magnitude bits are flipped, so that more negative sorts lower.
    let key = |bits: i64| bits ^ (((bits >> 63) as u64) >> 1) as i64;
    let mut keys: Vec<i64> = values.iter().map(|v| key(v.to_bits() as i64)).collect();
    radsort::sort(&mut keys);
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

    /// Values one `f32` holds several of (neighbours in `f64`, beyond `f32`'s range, near
    /// zero) still come out in `f64`'s order, each with its own index, and NaN is left out.
    #[test]
    fn sorted_rows_order_values_an_f32_cannot_tell_apart() {
        let one = 1.0f64;
        let values = [
            one.next_up(),
            1e300,
            f64::NAN,
            -1e-310,
            one,
            -1e300,
            0.0,
            1e301,
            one.next_up().next_up(),
            -0.0,
            1e-310,
            -f64::NAN,
            -2.0,
        ];
        let mut expected: Vec<(f64, u32)> = values
            .iter()
            .zip(0..)
            .filter(|(v, _)| !v.is_nan())
            .map(|(&v, i)| (v, i))
            .collect();
        expected.sort_by(|a, b| a.0.total_cmp(&b.0));
        let (sorted, rows) = sorted_f64_rows(&values);
        let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        let wanted: Vec<f64> = expected.iter().map(|e| e.0).collect();
        assert_eq!(bits(&sorted), bits(&wanted));
        assert_eq!(rows, expected.iter().map(|e| e.1).collect::<Vec<_>>());
        // As f32: the same order, the neighbours of 1 one value.
        let (sorted32, rows32) = sorted_f32_rows(&values);
        assert_eq!(sorted32.len(), wanted.len());
        assert!(sorted32.windows(2).all(|w| w[0].total_cmp(&w[1]).is_le()));
        for (&v, &row) in sorted32.iter().zip(&rows32) {
            assert_eq!(v.to_bits(), (values[row as usize] as f32).to_bits());
        }
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

    #[test]
    fn below_f32_cut_is_the_f32_comparison_in_f64() {
        let cuts = [
            27.2f32,
            4.6052,
            -3.25,
            0.0,
            -0.0,
            1e-40,
            f32::MIN_POSITIVE,
            f32::MAX,
            f32::INFINITY,
            -f32::MAX,
            16_777_217.0,
        ];
        for cut in cuts {
            let t = below_f32_cut(cut);
            let lower = f64::from(cut.next_down());
            let step = if cut.is_finite() {
                (f64::from(cut) - lower).max(f64::MIN_POSITIVE)
            } else {
                1e300
            };
            // Values around both f32 neighbours and the rounding boundary between them.
            let mut probes = vec![t, t.next_up(), t.next_down(), lower, f64::from(cut)];
            for k in -8..=8 {
                probes.push(lower + step * f64::from(k) / 4.0);
            }
            for v in probes.into_iter().filter(|v| !v.is_nan()) {
                assert_eq!(
                    v <= t,
                    (v as f32) < cut,
                    "value {v:e}, cut {cut:e}, threshold {t:e}"
                );
            }
        }
    }

    #[test]
    fn xgboost_bins_few_values_one_each_and_many_by_rank() {
        // Few distinct values: a bin each, split where `f32` says the next value starts.
        let values = [3.0, 1.0, 2.0, 3.0, 1.0, 10.0, f64::NAN];
        let bins = Bins::xgboost(&values);
        assert_eq!(bins.codes, vec![2, 0, 1, 2, 0, 3, 0]);
        assert_eq!(bins.bins(), 4);
        assert_consistent(&values[..6], &bins);
        assert!(bins.edges[0] < 2.0 && bins.edges[0] > 1.999_999);
        assert_eq!(Bins::xgboost(&[4.0; 5]).bins(), 1);
        // 1,000 distinct values, each once: 256 bins, each cut a value, about 1000/256 apart.
        let values: Vec<f64> = (0..1000)
            .map(|i| f64::from((i * 7919) % 1000) * 0.5)
            .collect();
        let bins = Bins::xgboost(&values);
        assert_eq!(bins.bins(), MAX_BINS);
        assert_consistent(&values, &bins);
        let mut count = vec![0usize; MAX_BINS];
        bins.codes.iter().for_each(|&c| count[usize::from(c)] += 1);
        // Ranks are pruned evenly, the first and last bins hold what lies beyond the cuts.
        assert!(
            count[1..MAX_BINS - 1].iter().all(|&c| (3..=5).contains(&c)),
            "{count:?}"
        );
        // A heavy value is never split; its bin takes only the few values up to the first cut.
        let tied: Vec<f64> = (0..5000)
            .map(|i| if i % 2 == 0 { 0.0 } else { f64::from(i) })
            .collect();
        let bins = Bins::xgboost(&tied);
        assert_consistent(&tied, &bins);
        let heavy = bins.codes.iter().filter(|&&c| c == bins.codes[0]).count();
        assert!(
            (2500..2520).contains(&heavy),
            "{heavy} rows share the heavy value's bin"
        );
    }

    #[test]
    fn lightgbm_bins_hold_three_rows_and_zero_alone() {
        let up = |v: f64| v.next_up();
        // A bin closes once it holds 3 rows; the zero bin comes first when no value is below.
        let values = [1.0, 1.0, 1.0, 2.0, 2.0, 2.0, 3.0, 3.0, 3.0, 4.0];
        let bins = Bins::lightgbm(&values);
        assert_eq!(bins.edges, vec![LIGHTGBM_ZERO, up(1.5), up(2.5), up(3.5)]);
        assert_eq!(bins.codes, vec![1, 1, 1, 2, 2, 2, 3, 3, 3, 4]);
        // Values seen once or twice share a bin until it holds 3.
        let values = [1.0, 2.0, 3.0, 3.0, 3.0, 4.0, 4.0, 4.0];
        let bins = Bins::lightgbm(&values);
        assert_eq!(bins.edges, vec![LIGHTGBM_ZERO, up(3.5)]);
        assert_eq!(bins.codes, vec![1, 1, 1, 1, 1, 2, 2, 2]);
        // Negative values, zeros (and values within 1e-35 of it), positive values.
        let values = [
            -2.0,
            -2.0,
            -2.0,
            0.0,
            0.0,
            -0.0,
            1e-40,
            5.0,
            5.0,
            5.0,
            f64::NAN,
        ];
        let bins = Bins::lightgbm(&values);
        assert_eq!(bins.edges, vec![-LIGHTGBM_ZERO, LIGHTGBM_ZERO]);
        assert_eq!(bins.codes, vec![0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 0]);
        assert_eq!(Bins::lightgbm(&[4.0; 5]).bins(), 2);
        // Many distinct values: about equal counts, never fewer than 3 rows a bin.
        let values: Vec<f64> = (0..1000)
            .map(|i| f64::from((i * 7919) % 1000) + 1.0)
            .collect();
        let bins = Bins::lightgbm(&values);
        assert_consistent(&values, &bins);
        assert!(
            bins.bins() <= LIGHTGBM_MAX_BIN && bins.bins() > 200,
            "{} bins",
            bins.bins()
        );
        let mut count = vec![0usize; bins.bins()];
        bins.codes.iter().for_each(|&c| count[usize::from(c)] += 1);
        assert!(
            count[1..].iter().all(|&c| (3..=6).contains(&c)),
            "{count:?}"
        );
    }

    #[test]
    fn lightgbm_greedy_bins_by_running_sums_are_the_bins_value_by_value() {
        // LightGBM's loop, value by value, where no value holds a bin's share by itself.
        let by_value = |distinct: &[f64], counts: &[usize], max_bin: usize, total: usize| {
            let max_bin = max_bin.min(total / LIGHTGBM_MIN_DATA_IN_BIN).max(1);
            let mut mean_size = total as f64 / max_bin as f64;
            let (mut rest_bins, mut rest_rows) = (max_bin as f64, total as f64);
            let mut bounds: Vec<f64> = Vec::new();
            let mut in_bin = 0.0;
            for i in 0..distinct.len() - 1 {
                rest_rows -= counts[i] as f64;
                in_bin += counts[i] as f64;
                if in_bin >= mean_size {
                    let bound = ((distinct[i] + distinct[i + 1]) / 2.0).next_up();
                    if bounds.last().is_none_or(|&b| !lightgbm_same(b, bound)) {
                        bounds.push(bound);
                    }
                    if bounds.len() >= max_bin - 1 {
                        break;
                    }
                    in_bin = 0.0;
                    rest_bins -= 1.0;
                    mean_size = rest_rows / rest_bins;
                }
            }
            bounds.push(f64::INFINITY);
            bounds
        };
        let mut seed = 7u64;
        for n in [300, 1_000, 5_000] {
            let distinct: Vec<f64> = (0..n).map(|i| f64::from(i) * 0.37 + 1.0).collect();
            let counts: Vec<usize> = (0..n)
                .map(|_| {
                    seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
                    1 + (seed >> 63) as usize
                })
                .collect();
            let total = counts.iter().sum();
            for max_bin in [254, 100] {
                assert_eq!(
                    lightgbm_greedy(&distinct, &counts, max_bin, total),
                    by_value(&distinct, &counts, max_bin, total),
                    "{n} values, {max_bin} bins"
                );
            }
        }
    }

    #[test]
    fn every_rule_bins_infinities_and_empty_columns() {
        let values = [f64::NEG_INFINITY, -1.0, 0.0, 2.5, f64::INFINITY, 2.5, -1.0];
        // A bin each where every value may have one; LightGBM's hold 3 rows, so the
        // infinities share the bins of their neighbours, and zero keeps its own.
        for bins in [Bins::of(&values), Bins::xgboost(&values)] {
            assert_consistent(&values, &bins);
            assert!(bins.codes[4] > bins.codes[3] && bins.codes[0] < bins.codes[1]);
        }
        let bins = Bins::lightgbm(&values);
        assert_consistent(&values, &bins);
        assert_eq!(bins.codes, vec![0, 0, 1, 2, 2, 2, 0]);
        for bins in [Bins::of(&[]), Bins::xgboost(&[]), Bins::lightgbm(&[])] {
            assert!(bins.codes.is_empty() && bins.bins() >= 1);
        }
    }

    #[test]
    fn every_rule_keeps_codes_and_edges_agreeing_on_awkward_values() {
        use rand::{Rng, SeedableRng};
        // Values a column may hold that sit at the rules' own limits: f32's range and its
        // rounding, LightGBM's zero (1e-35), signed zeros, subnormals, and many repeats.
        let awkward = [
            0.0,
            -0.0,
            1e-36,
            -1e-36,
            1e-320,
            f64::from(f32::MAX),
            f64::from(f32::MAX) * 1.000_000_1,
            -1e300,
            1e300,
            1.0,
            1.000_000_01,
            f64::from(1.1f32),
            1.1,
        ];
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(5);
        for case in 0..60 {
            let n = [5, 40, 300, 3000][case % 4];
            let values: Vec<f64> = (0..n)
                .map(|_| match rng.gen_range(0..4) {
                    0 => awkward[rng.gen_range(0..awkward.len())],
                    1 => f64::from(rng.gen_range(-5i32..5)),
                    2 => rng.gen_range(-1e6..1e6),
                    _ => rng.gen_range(-1.0..1.0) * 1e-30,
                })
                .collect();
            for bins in [
                Bins::of(&values),
                Bins::xgboost(&values),
                Bins::lightgbm(&values),
            ] {
                assert_consistent(&values, &bins);
            }
        }
    }
}
