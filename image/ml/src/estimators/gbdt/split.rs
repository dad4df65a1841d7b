//! The search for a leaf's best split over its histogram, and the gain and leaf value it uses.

use super::super::bins::MAX_BINS;
use super::binned::Sums;
use super::grower::Grower;
use super::Ties;

/// Gain below which a split is noise (XGBoost's `kRtEps`).
pub(super) const MIN_GAIN: f64 = 1e-6;

/// The best split found for a leaf.
#[derive(Debug, Clone, Copy)]
pub(super) struct Candidate {
    pub(super) feature: usize,
    /// Rows whose code is at most this go left.
    pub(super) bin: u8,
    pub(super) gain: f64,
    pub(super) left: Sums,
}

impl Grower<'_> {
    pub(super) fn score(&self, s: Sums) -> f64 {
        let g = soft_threshold(s.g, self.config.reg_alpha);
        let denominator = s.h + self.config.reg_lambda;
        if denominator <= 0.0 {
            0.0
        } else {
            g * g / denominator
        }
    }

    pub(super) fn leaf_value(&self, s: Sums) -> f64 {
        let denominator = s.h + self.config.reg_lambda;
        if denominator <= 0.0 {
            0.0
        } else {
            -soft_threshold(s.g, self.config.reg_alpha) / denominator * self.config.learning_rate
        }
    }

    pub(super) fn best_split(&self, hist: &[Sums], total: Sums, rows: usize) -> Option<Candidate> {
        let config = self.config;
        let parent = self.score(total);
        // Below MIN_GAIN a gain is rounding: a node whose rows all have one gradient (a pure
        // node of a first tree) gains nothing by splitting, whatever its sums' last bits say.
        let needed = if config.prune_after {
            MIN_GAIN
        } else {
            config.min_split_gain.max(MIN_GAIN)
        };
        // A side's rows, estimated from its hessian (exact when every row weighs the same).
        // A side keeps `min-child-samples` rows when round(h · rows / H) reaches it, that is
        // when h ≥ (rows − ½) · H / rows: one comparison per bin, like the hessian's own limit.
        let min_h = if config.min_child_samples > 0 {
            let rows_per_hessian = rows as f64 / total.h;
            ((config.min_child_samples as f64 - 0.5) / rows_per_hessian)
                .max(config.min_child_weight)
        } else {
            config.min_child_weight
        };
        // Without an L1 penalty, and with no side's denominator zero, a side's score is
        // plainly G²/(H + λ): the same value without the branches.
        let lambda = config.reg_lambda;
        let plain = config.reg_alpha == 0.0 && (lambda > 0.0 || min_h > 0.0);
        let mut best: Option<Candidate> = None;
        // Per bin: the left side's sums when it takes this bin and those below, then the
        // split's gain. Two passes without branches, so that the divisions vectorize.
        let mut left_g = [[0.0; MAX_BINS]; LANES];
        let mut left_h = [[0.0; MAX_BINS]; LANES];
        let mut gains = [0.0; MAX_BINS];
        for group in self.features.chunks(LANES) {
            let cells: [&[Sums]; LANES] = std::array::from_fn(|j| {
                group
                    .get(j)
                    .map_or(&NO_CELLS[..], |&f| self.data.cells(hist, f))
            });
            // The last bin cannot split: nothing would go right.
            let splits = cells.map(|c| c.len().saturating_sub(1));
            // The features' running sums side by side: each is a chain of additions that wait
            // on each other, and several chains keep the adder busy where one leaves it idle.
            // Each sum still adds its own bins in order, so it is the same to the bit.
            let common = splits.iter().copied().min().unwrap_or(0);
            let mut left = [Sums::default(); LANES];
            for i in 0..common {
                for j in 0..LANES {
                    left[j].g += cells[j][i].g;
                    left[j].h += cells[j][i].h;
                    left_g[j][i] = left[j].g;
                    left_h[j][i] = left[j].h;
                }
            }
            for (j, &f) in group.iter().enumerate() {
                let splits = splits[j];
                for (i, cell) in cells[j].iter().enumerate().take(splits).skip(common) {
                    left[j].g += cell.g;
                    left[j].h += cell.h;
                    left_g[j][i] = left[j].g;
                    left_h[j][i] = left[j].h;
                }
                // Only the bins whose both sides reach `min_h` can split, and they are a run:
                // the left side's hessian only grows from bin to bin. A node of little hessian
                // (a class's tree of many classes) allows a few bins of its 256.
                let (lo, hi) = allowed_bins(&left_h[j][..splits], total.h, min_h);
                let gains = &mut gains[lo..hi];
                let (left_g, left_h) = (&left_g[j][lo..hi], &left_h[j][lo..hi]);
                // Of a run of bins that hold none of the node's rows, every split parts the
                // rows alike. Only one is a candidate: the lowest for XGBoost (it keeps the
                // first of equal gains from the bottom), the highest for LightGBM (it keeps
                // the first from the top). The cell that must hold rows is the bin's own, or
                // the next one's.
                let cells = match config.ties {
                    Ties::XGBoost => &cells[j][lo..hi],
                    Ties::LightGBM => &cells[j][lo + 1..=hi],
                };
                if plain {
                    let score = |s: Sums| s.g * s.g / (s.h + lambda);
                    split_gains(gains, left_g, left_h, cells, total, min_h, parent, score);
                } else {
                    let score = |s: Sums| self.score(s);
                    split_gains(gains, left_g, left_h, cells, total, min_h, parent, score);
                }
                // The feature's best gain first (a vectorized maximum), its bin only if it
                // wins.
                let mut top = maximum(gains);
                if config.ties == Ties::XGBoost {
                    top = f64::from(top as f32);
                }
                if !(top > needed && best.is_none_or(|b| top > b.gain)) {
                    continue;
                }
                let found = match config.ties {
                    Ties::XGBoost => gains.iter().position(|&g| f64::from(g as f32) == top),
                    Ties::LightGBM => gains.iter().rposition(|&g| g == top),
                };
                if let Some(at) = found {
                    let bin = lo + at;
                    best = Some(Candidate {
                        feature: f,
                        bin: u8::try_from(bin).unwrap_or(u8::MAX),
                        gain: top,
                        left: Sums {
                            g: left_g[at],
                            h: left_h[at],
                        },
                    });
                }
            }
        }
        best
    }
}

/// Features whose best splits are searched side by side.
const LANES: usize = 4;
/// The cells of a lane no feature takes.
const NO_CELLS: [Sums; MAX_BINS] = [Sums { g: 0.0, h: 0.0 }; MAX_BINS];

/// The largest of `values` (`NEG_INFINITY` if none), kept in four lanes so that the
/// comparisons vectorize rather than wait on each other.
pub(super) fn maximum(values: &[f64]) -> f64 {
    let mut lanes = [f64::NEG_INFINITY; 4];
    let (chunks, rest) = values.as_chunks::<4>();
    for chunk in chunks {
        for (lane, &v) in lanes.iter_mut().zip(chunk) {
            if v > *lane {
                *lane = v;
            }
        }
    }
    lanes
        .iter()
        .chain(rest)
        .fold(f64::NEG_INFINITY, |top, &v| if v > top { v } else { top })
}

/// The bins `lo..hi` whose splits leave both sides at least `min_h` of hessian, from the left
/// sides' running sums `left_h` and the node's `total`: exactly the bins [`split_gains`] allows
/// by hessian, since `left_h` never falls and `total − left_h` never rises (sums of hessians,
/// which are not negative, rounded either way). All of them if `total` is not a number.
fn allowed_bins(left_h: &[f64], total: f64, min_h: f64) -> (usize, usize) {
    if !total.is_finite() {
        return (0, left_h.len());
    }
    let lo = left_h.partition_point(|&h| h < min_h);
    let hi = left_h.partition_point(|&h| total - h >= min_h);
    (lo, hi.max(lo))
}

/// Each split's gain (`NEG_INFINITY` where it is not allowed): the left side takes a bin and
/// those below it, whose sums are `left_g` and `left_h`.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn split_gains(
    gains: &mut [f64],
    left_g: &[f64],
    left_h: &[f64],
    cells: &[Sums],
    total: Sums,
    min_h: f64,
    parent: f64,
    score: impl Fn(Sums) -> f64,
) {
    for (((gain, &g), &h), cell) in gains.iter_mut().zip(left_g).zip(left_h).zip(cells) {
        let left = Sums { g, h };
        let right = total.minus(left);
        // An empty cell: the same split as another bin's (see the caller).
        let allowed = cell.h != 0.0 && left.h >= min_h && right.h >= min_h;
        let value = score(left) + score(right) - parent;
        *gain = if allowed { value } else { f64::NEG_INFINITY };
    }
}

fn soft_threshold(g: f64, alpha: f64) -> f64 {
    if g > alpha {
        g - alpha
    } else if g < -alpha {
        g + alpha
    } else {
        0.0
    }
}
