//! XGBoost's linear booster (`booster=gblinear`) in the default, pure-Rust build: a bias and one
//! weight per feature (and per class for softmax), updated each round by one pass of
//! coordinate descent, as XGBoost's `shotgun` updater does with one thread (the same updates as
//! `coord_descent`, the features in cyclic order).
//!
//! Each round, from the margins of the model so far:
//! - the bias moves by `η · (−G/H)` (sums over all rows), and the gradients follow it;
//! - each feature `f` in turn, with `G_f = Σ g·x_f` and `H_f = Σ h·x_f²` over the current
//!   gradients, moves by `η` times the elastic-net Newton step of XGBoost's `CoordinateDelta`
//!   (L1 `α·n`, L2 `λ·n`: XGBoost scales both penalties by the summed row weights); then the
//!   gradients follow it.
//!
//! Missing values add nothing (XGBoost's sparse columns skip them). Every group starts from the
//! first group's starting margin, as XGBoost's linear booster does (for softmax a common shift,
//! which changes no probability). The model is a [`TreeEnsemble`] with no trees and a
//! [`Linear`] part, what XGBoost's own `gblinear` files are read into.

use ndarray::ArrayView2;

use super::gbdt::{Gh, Objective, SoftmaxHessian, Target};
use super::tree_ensemble::{Linear, TreeEnsemble};

/// XGBoost's `gblinear` parameters.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct LinearConfig {
    /// Boosting rounds.
    pub rounds: usize,
    /// `eta` (XGBoost's default for gblinear: 0.5).
    pub learning_rate: f64,
    /// L1 penalty per row (`alpha`).
    pub reg_alpha: f64,
    /// L2 penalty per row (`lambda`).
    pub reg_lambda: f64,
}

/// A feature's `Σ h·x²` below which its weight does not move (XGBoost's).
const MIN_FEATURE_HESSIAN: f64 = 1e-5;

/// Fits the linear booster; `x` is row-major `rows × features`. The caller has checked that
/// there are rows and features, and that every code is below `classes`.
pub(super) fn fit(x: ArrayView2<f64>, target: Target<'_>, config: &LinearConfig) -> TreeEnsemble {
    let (n, p) = x.dim();
    let objective = Objective::of(target, SoftmaxHessian::XGBoost);
    let groups = objective.groups();
    let start = objective.base_margin()[0];
    let columns: Vec<Vec<f64>> = x
        .columns()
        .into_iter()
        .map(|c| {
            c.iter()
                .map(|&v| if v.is_nan() { 0.0 } else { v })
                .collect()
        })
        .collect();
    let (alpha, lambda) = (config.reg_alpha * n as f64, config.reg_lambda * n as f64);
    let eta = config.learning_rate;
    // weights[f * groups + group], then the bias of each group: XGBoost's layout.
    let mut weights = vec![0.0; (p + 1) * groups];
    let mut margins = vec![0.0; n * groups];
    let mut grads = vec![Gh::default(); n * groups];
    for _ in 0..config.rounds {
        // The margins of the model so far, as XGBoost predicts them each round.
        let bias = &weights[p * groups..];
        for m in margins.chunks_exact_mut(groups) {
            m.iter_mut().zip(bias).for_each(|(m, b)| *m = start + b);
        }
        for (f, column) in columns.iter().enumerate() {
            let w = &weights[f * groups..(f + 1) * groups];
            for (m, &v) in margins.chunks_exact_mut(groups).zip(column) {
                m.iter_mut().zip(w).for_each(|(m, w)| *m += v * w);
            }
        }
        objective.gradients(&margins, &mut grads);
        for group in 0..groups {
            let (g, h) = grads
                .iter()
                .skip(group)
                .step_by(groups)
                .fold((0.0, 0.0), |(g, h), gh| (g + gh.g, h + gh.h));
            let step = eta * (-g / h);
            weights[p * groups + group] += step;
            follow(&mut grads, groups, group, None, step);
        }
        for (f, column) in columns.iter().enumerate() {
            for group in 0..groups {
                let (g, h) = grads
                    .iter()
                    .skip(group)
                    .step_by(groups)
                    .zip(column)
                    .fold((0.0, 0.0), |(g, h), (gh, &v)| {
                        (g + gh.g * v, h + gh.h * v * v)
                    });
                let w = &mut weights[f * groups + group];
                let step = eta * coordinate_delta(g, h, *w, alpha, lambda);
                if step == 0.0 {
                    continue;
                }
                *w += step;
                follow(&mut grads, groups, group, Some(column), step);
            }
        }
    }
    TreeEnsemble::linear(p, vec![start; groups], Linear { weights }, objective.link())
}

/// Moves `group`'s gradients by a weight's change `step` (`h · x · step`; the bias's `x` is 1):
/// the loss is taken as quadratic around the round's margins.
fn follow(grads: &mut [Gh], groups: usize, group: usize, column: Option<&[f64]>, step: f64) {
    let rows = grads.iter_mut().skip(group).step_by(groups);
    match column {
        None => rows.for_each(|gh| gh.g += gh.h * step),
        Some(column) => rows
            .zip(column)
            .for_each(|(gh, &v)| gh.g += gh.h * v * step),
    }
}

/// The elastic-net Newton step of one weight `w` (XGBoost's `CoordinateDelta`): the step `d`
/// to the minimum of `G·d + ½H·d² + ½λ(w + d)² + α|w + d|`. The L1 term's slope is taken on
/// the side the unpenalized step heads for; where that would overshoot zero back to `w`'s
/// side, the minimum is at zero (`d = −w`).
fn coordinate_delta(g: f64, h: f64, w: f64, alpha: f64, lambda: f64) -> f64 {
    if h < MIN_FEATURE_HESSIAN {
        return 0.0;
    }
    let g = g + lambda * w;
    let h = h + lambda;
    if w - g / h >= 0.0 {
        (-(g + alpha) / h).max(-w)
    } else {
        (-(g - alpha) / h).min(-w)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array2;

    fn config(rounds: usize) -> LinearConfig {
        LinearConfig {
            rounds,
            learning_rate: 0.5,
            reg_alpha: 0.0,
            reg_lambda: 0.0,
        }
    }

    #[test]
    fn the_step_is_newtons_with_the_penalties_and_stops_at_zero() {
        // No penalty: −G/H.
        assert_eq!(coordinate_delta(4.0, 2.0, 0.0, 0.0, 0.0), -2.0);
        // L2: −(G + λw)/(H + λ).
        assert_eq!(coordinate_delta(4.0, 2.0, 1.0, 0.0, 2.0), -1.5);
        // L1 shrinks the step by α/H ...
        assert_eq!(coordinate_delta(-4.0, 2.0, 0.0, 1.0, 0.0), 1.5);
        assert_eq!(coordinate_delta(4.0, 2.0, 0.0, 1.0, 0.0), -1.5);
        // ... holds a weight at 0 while |G| ≤ α ...
        assert_eq!(coordinate_delta(0.5, 2.0, 0.0, 1.0, 0.0), 0.0);
        // ... crosses zero when the minimum is beyond it ...
        assert_eq!(coordinate_delta(10.0, 2.0, 1.0, 1.0, 0.0), -4.5);
        // ... and stops at zero when the L1 slope holds it there.
        assert_eq!(coordinate_delta(2.5, 1.0, 1.0, 2.0, 0.0), -1.0);
        assert_eq!(coordinate_delta(-2.5, 1.0, -1.0, 2.0, 0.0), 1.0);
        assert_eq!(coordinate_delta(1.0, 1e-6, 0.0, 0.0, 0.0), 0.0);
    }

    #[test]
    fn one_round_moves_the_bias_then_each_weight() {
        // y = 1 + 2x on x = 0, 1, 2, 3; mean 4 is the start.
        let x = Array2::from_shape_fn((4, 1), |(i, _)| i as f64);
        let y: Vec<f64> = (0..4).map(|i| 1.0 + 2.0 * i as f64).collect();
        let model = fit(x.view(), Target::Values(&y), &config(1));
        assert_eq!(model.base_margin, vec![4.0]);
        assert!(model.trees.is_empty());
        let weights = &model.linear.as_ref().unwrap().weights;
        // The bias: the mean residual is 0, so no step. The weight: G = Σ(4 − y)·x = −10,
        // H = Σx² = 14, so 0.5 · 10/14.
        assert_eq!(weights[1], 0.0);
        assert!(
            (weights[0] - 0.5 * 10.0 / 14.0).abs() < 1e-12,
            "{weights:?}"
        );
        assert!(model.validate().is_ok());
    }

    #[test]
    fn converges_to_least_squares_and_separates_classes() {
        let x = Array2::from_shape_fn((200, 2), |(i, j)| ((i * (j + 3) * 37) % 101) as f64 / 10.0);
        let y: Vec<f64> = (0..200)
            .map(|i| 3.0 - 2.0 * x[[i, 0]] + 0.5 * x[[i, 1]])
            .collect();
        let model = fit(x.view(), Target::Values(&y), &config(200));
        let w = &model.linear.as_ref().unwrap().weights;
        assert!(
            (w[0] + 2.0).abs() < 1e-3 && (w[1] - 0.5).abs() < 1e-3,
            "{w:?}"
        );
        assert!((model.predict(&[1.0, 2.0])[0] - 2.0).abs() < 1e-3);
        // A missing value adds nothing: the weight times 0.
        let missing = model.predict(&[f64::NAN, 2.0])[0];
        assert!((missing - model.predict(&[0.0, 2.0])[0]).abs() < 1e-9);

        // Three classes by x0 + x1 thresholds; and a penalized binary fit.
        let codes: Vec<usize> = (0..200)
            .map(|i| {
                let s = x[[i, 0]] + x[[i, 1]];
                usize::from(s > 7.0) + usize::from(s > 13.0)
            })
            .collect();
        let model = fit(
            x.view(),
            Target::Classes {
                codes: &codes,
                classes: 3,
            },
            &config(100),
        );
        assert_eq!((model.groups, model.base_margin.len()), (3, 3));
        assert!(model.validate().is_ok());
        let right = (0..200)
            .filter(|&i| {
                let p = model.predict(&x.row(i).to_vec());
                (0..3).max_by(|&a, &b| p[a].total_cmp(&p[b])) == Some(codes[i])
            })
            .count();
        assert!(right >= 170, "{right} of 200");
        let binary: Vec<usize> = codes.iter().map(|&c| usize::from(c > 0)).collect();
        let target = Target::Classes {
            codes: &binary,
            classes: 2,
        };
        let free = fit(x.view(), target, &config(50));
        let penalized = fit(
            x.view(),
            target,
            &LinearConfig {
                reg_alpha: 0.05,
                reg_lambda: 1.0,
                ..config(50)
            },
        );
        let norm = |m: &TreeEnsemble| {
            let w = &m.linear.as_ref().unwrap().weights;
            w[0].abs() + w[1].abs()
        };
        assert!(
            norm(&penalized) < 0.5 * norm(&free),
            "{free:?} {penalized:?}"
        );
        assert!(free.predict(&[9.0, 9.0])[1] > 0.9);
        assert!(free.predict(&[0.5, 0.5])[0] > 0.9);
    }
}
