//! The losses boosting fits: each row's gradient and hessian, the starting margin and the link.

use rayon::prelude::*;

use super::super::tree_ensemble::Link;
use super::{SoftmaxHessian, Target};

/// Smallest hessian a row contributes, so a saturated probability still weighs something.
const MIN_HESSIAN: f64 = 1e-16;

/// Rows of gradients computed as one piece of work on the pool.
pub(super) const GRADIENT_ROWS: usize = 8192;

/// A row's gradient and hessian.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct Gh {
    pub g: f64,
    pub h: f64,
}

/// The loss: its gradients, starting margin and link.
pub(crate) enum Objective<'a> {
    Logistic(&'a [usize]),
    Softmax {
        codes: &'a [usize],
        classes: usize,
        hessian_factor: f64,
        /// Whether the starting margins, the classes' log shares, are centred and rounded to
        /// `f32` (XGBoost 3's intercept) or not (LightGBM's).
        centred: bool,
    },
    Squared(&'a [f64]),
}

impl<'a> Objective<'a> {
    pub(crate) fn of(target: Target<'a>, softmax: SoftmaxHessian) -> Objective<'a> {
        match target {
            Target::Classes { codes, classes } if classes <= 2 => Objective::Logistic(codes),
            Target::Classes { codes, classes } => Objective::Softmax {
                codes,
                classes,
                hessian_factor: match softmax {
                    SoftmaxHessian::XGBoost => 2.0,
                    SoftmaxHessian::LightGBM => classes as f64 / (classes as f64 - 1.0),
                },
                centred: softmax == SoftmaxHessian::XGBoost,
            },
            Target::Values(values) => Objective::Squared(values),
        }
    }

    /// Margins per row: classes for softmax, else 1.
    pub(crate) fn groups(&self) -> usize {
        match self {
            Objective::Softmax { classes, .. } => *classes,
            _ => 1,
        }
    }

    /// The margin before any tree: the log-odds of the positive share, the mean value, or for
    /// softmax the classes' log shares (centred for XGBoost).
    pub(crate) fn base_margin(&self) -> Vec<f64> {
        match self {
            Objective::Logistic(codes) => {
                let share = codes.iter().filter(|&&c| c == 1).count() as f64 / codes.len() as f64;
                let share = share.clamp(1e-6, 1.0 - 1e-6);
                vec![(share / (1.0 - share)).ln()]
            }
            Objective::Softmax {
                codes,
                classes,
                centred,
                ..
            } => {
                // Each class's log share (LightGBM's floor for an absent class).
                let mut counts = vec![0usize; *classes];
                codes.iter().for_each(|&c| counts[c] += 1);
                let logs: Vec<f64> = counts
                    .iter()
                    .map(|&k| (k as f64 / codes.len() as f64).max(1e-15).ln())
                    .collect();
                if !centred {
                    return logs;
                }
                // XGBoost's intercept: less their mean, in f32.
                let mean = logs.iter().sum::<f64>() / logs.len() as f64;
                logs.iter().map(|l| f64::from((l - mean) as f32)).collect()
            }
            Objective::Squared(values) => {
                vec![values.iter().sum::<f64>() / values.len() as f64]
            }
        }
    }

    pub(crate) fn link(&self) -> Link {
        match self {
            Objective::Logistic(_) => Link::Sigmoid { scale: 1.0 },
            Objective::Softmax { .. } => Link::Softmax,
            Objective::Squared(_) => Link::Identity,
        }
    }

    /// Each row's and group's gradient at `margins` (both `row * groups + group`), in pieces of
    /// rows on the pool: a fit alone (a refit, or a cross-validation's last fold) computes
    /// them on every thread, and each row's values do not depend on the pieces.
    pub(crate) fn gradients(&self, margins: &[f64], out: &mut [Gh]) {
        let piece = GRADIENT_ROWS * self.groups();
        out.par_chunks_mut(piece)
            .zip(margins.par_chunks(piece))
            .enumerate()
            .for_each(|(i, (out, margins))| self.gradients_from(i * GRADIENT_ROWS, margins, out));
    }

    /// [`Objective::gradients`] of the rows from `first` on.
    pub(crate) fn gradients_from(&self, first: usize, margins: &[f64], out: &mut [Gh]) {
        match self {
            Objective::Logistic(codes) => {
                for ((o, &m), &c) in out.iter_mut().zip(margins).zip(&codes[first..]) {
                    let p = 1.0 / (1.0 + (-m).exp());
                    *o = Gh {
                        g: p - f64::from(u8::from(c == 1)),
                        h: (p * (1.0 - p)).max(MIN_HESSIAN),
                    };
                }
            }
            Objective::Softmax {
                codes,
                classes,
                hessian_factor,
                ..
            } => {
                let k = *classes;
                for ((o, m), &c) in out
                    .chunks_exact_mut(k)
                    .zip(margins.chunks_exact(k))
                    .zip(&codes[first..])
                {
                    let max = m.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                    let sum: f64 = m.iter().map(|v| (v - max).exp()).sum();
                    for (class, (o, v)) in o.iter_mut().zip(m).enumerate() {
                        let p = (v - max).exp() / sum;
                        *o = Gh {
                            g: p - f64::from(u8::from(class == c)),
                            h: (hessian_factor * p * (1.0 - p)).max(MIN_HESSIAN),
                        };
                    }
                }
            }
            Objective::Squared(values) => {
                for ((o, &m), &y) in out.iter_mut().zip(margins).zip(&values[first..]) {
                    *o = Gh { g: m - y, h: 1.0 };
                }
            }
        }
    }
}
