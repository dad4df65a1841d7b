//! LogisticRegression, and its regression counterpart (L2-penalized least squares, i.e.
//! ridge regression with `alpha = 1/C`).
//!
//! The objective is scikit-learn's (`solver="lbfgs"`): `C · Σ wᵢ·loss(xᵢ) + ½‖w‖²` with the
//! intercept unpenalized, the binary logistic loss for two classes and the multinomial one
//! for more, and `wᵢ` the balanced class weight when `class-weight=balanced`. It is minimized
//! with argmin's L-BFGS. linfa-logistic minimizes the same loss but takes no sample or class
//! weights, which `class-weight=balanced` needs. The solver works on standardized columns
//! (with the penalty rescaled so the optimum is the same), which lets it converge on raw,
//! badly scaled data where scikit-learn stops at `max_iter` with a ConvergenceWarning.
//!
//! | name | default | range | meaning |
//! |---|---|---|---|
//! | `penalty` | `l2` | `l2`, `None` | L2 penalty on the coefficients, or none |
//! | `C` | `1.0` | > 0 | inverse penalty strength |
//! | `class-weight` | `None` | `balanced`, `None` | weight classes by n / (k · nᶜ); ignored for regression |
//! | `max-iter` | `100` | ≥ 1 | L-BFGS iterations at most |

use std::cell::RefCell;

use argmin::core::{CostFunction, Executor, Gradient};
use argmin::solver::linesearch::MoreThuenteLineSearch;
use argmin::solver::quasinewton::LBFGS;
use ndarray::linalg::general_mat_mul;
use ndarray::{Array2, ArrayView2, Axis, Slice};
use serde::{Deserialize, Serialize};

use super::{
    balanced_weights, check_spreads, parse_class_weight, Algorithm, Estimator, Fitted, ParamGuard,
    Predictor, TrainTarget,
};
use crate::error::{MlError, Result};
use crate::hyperparams::{is_none, HyperParams};

const FAMILY: Algorithm = Algorithm::LogisticRegression;
/// Gradient-norm tolerance of the solver (on the averaged, standardized objective).
const TOLERANCE: f64 = 1e-6;
/// L-BFGS history length (scipy's default, which scikit-learn uses).
const HISTORY: usize = 10;

/// LogisticRegression hyperparameters as parsed, unchecked: [`ParamGuard::check`] makes
/// them a [`LinearValidParams`].
#[derive(Debug, Clone, PartialEq)]
pub struct LinearParams {
    /// `penalty`: `l2` (true) or `None` (false: no penalty, whatever `C` says).
    pub penalize: bool,
    /// `C`: inverse penalty strength, a positive finite number.
    pub c: f64,
    /// `class-weight=balanced`: classes weighted inversely to their frequency.
    pub balanced: bool,
    /// `max-iter`: solver iterations at most, at least 1.
    pub max_iter: u64,
}

impl Default for LinearParams {
    fn default() -> Self {
        LinearParams {
            penalize: true,
            c: 1.0,
            balanced: false,
            max_iter: 100,
        }
    }
}

impl LinearParams {
    /// Parses the family's hyperparameters; absent ones take scikit-learn's defaults.
    pub fn from_hyperparams(hp: &HyperParams) -> Result<LinearParams> {
        let d = LinearParams::default();
        let penalize = match hp.get("penalty").map(str::trim) {
            None | Some("l2") => true,
            Some(v) if is_none(v) => false,
            Some(v) => {
                return Err(MlError::hp(
                    "penalty",
                    format!("`{v}` is not supported (expected `l2` or `None`)"),
                ))
            }
        };
        Ok(LinearParams {
            penalize,
            c: hp.parse::<f64>("C")?.unwrap_or(d.c),
            max_iter: hp.parse::<u64>("max-iter")?.unwrap_or(d.max_iter),
            balanced: parse_class_weight(hp)?,
        })
    }
}

/// Checked LogisticRegression hyperparameters; only [`ParamGuard::check`] makes them.
#[derive(Debug, Clone, PartialEq)]
pub struct LinearValidParams {
    inverse_c: f64,
    balanced: bool,
    max_iter: u64,
}

impl LinearValidParams {
    /// Penalty weight `1/C`, or 0 with `penalty=None` (least squares on a numeric target).
    pub fn inverse_c(&self) -> f64 {
        self.inverse_c
    }

    /// Whether classes are weighted inversely to their frequency.
    pub fn balanced(&self) -> bool {
        self.balanced
    }

    /// Solver iterations at most.
    pub fn max_iter(&self) -> u64 {
        self.max_iter
    }
}

impl ParamGuard for LinearParams {
    type Checked = LinearValidParams;

    fn check(self) -> Result<LinearValidParams> {
        let c = self.c;
        if !(c > 0.0 && c.is_finite()) {
            return Err(MlError::hp("C", format!("{c} must be a positive number")));
        }
        // An infinite penalty left the solver's line search searching for ever. Without a
        // penalty C is unused, as in scikit-learn.
        if self.penalize && !(1.0 / c).is_finite() {
            return Err(MlError::hp(
                "C",
                format!("{c:e} is too small: the penalty 1/C overflows"),
            ));
        }
        if self.max_iter == 0 {
            return Err(MlError::hp("max-iter", "must be at least 1"));
        }
        Ok(LinearValidParams {
            inverse_c: if self.penalize { 1.0 / c } else { 0.0 },
            balanced: self.balanced,
            max_iter: self.max_iter,
        })
    }
}

/// Which loss, and so how outputs read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Link {
    /// One score; P(class 1) = sigmoid(score).
    Logistic,
    /// One score per class; probabilities = softmax(scores).
    Softmax,
    /// One score, the predicted value.
    Identity,
}

/// A fitted linear model in the original feature space: `scores = W·x + b`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LinearModel {
    /// How scores become outputs.
    pub link: Link,
    /// Encoded columns a row has.
    pub n_features: usize,
    /// Row-major, one row of `n_features` per score.
    pub weights: Vec<f64>,
    /// One per score.
    pub intercepts: Vec<f64>,
    /// Solver iterations used (diagnostic).
    pub iterations: u64,
}

impl LinearModel {
    /// Checks a read payload, so that predicting cannot index out of range: one intercept
    /// per score and `n_features` weights per score.
    pub(crate) fn validate(&self) -> std::result::Result<(), String> {
        let scores = self.intercepts.len();
        let fits = match self.link {
            Link::Identity | Link::Logistic => scores == 1,
            Link::Softmax => (2..=super::tree_ensemble::MAX_GROUPS).contains(&scores),
        };
        if !fits {
            return Err(format!(
                "a {:?} link cannot have {scores} intercepts",
                self.link
            ));
        }
        if scores.checked_mul(self.n_features) != Some(self.weights.len()) {
            return Err(format!(
                "{} weights for {scores} scores of {} features",
                self.weights.len(),
                self.n_features
            ));
        }
        Ok(())
    }

    /// Values written per row: classes (2 for one logistic score), or 1.
    pub(crate) fn n_outputs(&self) -> usize {
        match self.link {
            Link::Logistic => 2,
            Link::Identity => 1,
            Link::Softmax => self.intercepts.len(),
        }
    }

    /// Checks that the model takes `width` columns.
    pub(crate) fn check_width(&self, width: usize) -> std::result::Result<(), String> {
        if self.n_features == width {
            Ok(())
        } else {
            Err(format!(
                "the model takes {} columns but rows have {width}",
                self.n_features
            ))
        }
    }
}

impl Predictor for LinearModel {
    fn predict_row(&self, x: &[f64], out: &mut [f64]) {
        let p = self.n_features;
        let score = |k: usize| -> f64 {
            let w = &self.weights[k * p..(k + 1) * p];
            self.intercepts[k] + w.iter().zip(x).map(|(a, b)| a * b).sum::<f64>()
        };
        match self.link {
            Link::Identity => out[0] = score(0),
            Link::Logistic => {
                let p1 = sigmoid(score(0));
                out[0] = 1.0 - p1;
                out[1] = p1;
            }
            Link::Softmax => {
                for (k, o) in out.iter_mut().enumerate() {
                    *o = score(k);
                }
                softmax_in_place(out);
            }
        }
    }
}

impl Estimator for LinearValidParams {
    fn family(&self) -> Algorithm {
        FAMILY
    }

    fn fit(&self, x: ArrayView2<f64>, y: TrainTarget<'_>, _seed: u64) -> Result<Fitted> {
        let scaled = Standardized::new(x)?;
        let (link, targets, sample_weights, y_scale) = match y {
            TrainTarget::Classes { codes, n_classes } => {
                let weights = if self.balanced {
                    let per_class = balanced_weights(codes, n_classes);
                    codes.iter().map(|&c| per_class[c]).collect()
                } else {
                    vec![1.0; codes.len()]
                };
                let link = if n_classes == 2 {
                    Link::Logistic
                } else {
                    Link::Softmax
                };
                let t = codes.iter().map(|&c| c as f64).collect();
                (link, t, weights, (0.0, 1.0))
            }
            TrainTarget::Values(v) => {
                let mean = v.iter().sum::<f64>() / v.len().max(1) as f64;
                let sd = (v.iter().map(|a| (a - mean).powi(2)).sum::<f64>()
                    / v.len().max(1) as f64)
                    .sqrt();
                let sd = if sd > 0.0 { sd } else { 1.0 };
                let t = v.iter().map(|a| (a - mean) / sd).collect();
                (Link::Identity, t, vec![1.0; v.len()], (mean, sd))
            }
        };
        let n_scores = match (link, y) {
            (Link::Softmax, TrainTarget::Classes { n_classes, .. }) => n_classes,
            _ => 1,
        };
        let problem = Problem {
            z: &scaled.z,
            penalty: scaled
                .scale
                .iter()
                .map(|s| self.inverse_c / (s * s))
                .collect(),
            targets,
            sum_weights: sample_weights.iter().sum(),
            sample_weights,
            link,
            n_scores,
            cache: RefCell::new(None),
        };
        let p = scaled.z.ncols();
        let solver = LBFGS::new(MoreThuenteLineSearch::new(), HISTORY)
            .with_tolerance_grad(TOLERANCE)
            .and_then(|s| s.with_tolerance_cost(0.0))
            .map_err(fit_error)?;
        let init = vec![0.0; n_scores * (p + 1)];
        let mut result = Executor::new(problem, solver)
            .configure(|state| state.param(init).max_iters(self.max_iter))
            .run()
            .map_err(fit_error)?;
        let iterations = result.state.iter;
        let params = result
            .state
            .take_best_param()
            .ok_or_else(|| fit_error("the solver returned no parameters"))?;
        Ok(Fitted::LogisticRegression(
            scaled.unscale(&params, link, n_scores, y_scale, iterations),
        ))
    }
}

fn fit_error(e: impl std::fmt::Display) -> MlError {
    MlError::Fit {
        family: FAMILY,
        message: e.to_string(),
    }
}

/// Columns standardized to mean 0 and standard deviation 1 (constant columns left at scale 1).
struct Standardized {
    z: Array2<f64>,
    mean: Vec<f64>,
    scale: Vec<f64>,
}

impl Standardized {
    /// Fails where a column's spread overflows (its scale would turn it into zeros).
    fn new(x: ArrayView2<f64>) -> Result<Self> {
        let n = x.nrows().max(1) as f64;
        let mean: Vec<f64> = x.columns().into_iter().map(|c| c.sum() / n).collect();
        let scale: Vec<f64> = x
            .columns()
            .into_iter()
            .zip(&mean)
            .map(|(c, m)| (c.iter().map(|v| (v - m).powi(2)).sum::<f64>() / n).sqrt())
            .collect();
        check_spreads(FAMILY, scale.iter().copied())?;
        let scale: Vec<f64> = scale
            .into_iter()
            .map(|sd| if sd > 1e-12 { sd } else { 1.0 })
            .collect();
        let mut z = x.to_owned();
        for mut row in z.rows_mut() {
            for ((v, m), s) in row.iter_mut().zip(&mean).zip(&scale) {
                *v = (*v - m) / s;
            }
        }
        Ok(Standardized { z, mean, scale })
    }

    /// Maps standardized-space parameters back to weights on the raw features.
    fn unscale(
        &self,
        params: &[f64],
        link: Link,
        n_scores: usize,
        (y_mean, y_sd): (f64, f64),
        iterations: u64,
    ) -> LinearModel {
        let p = self.mean.len();
        let mut weights = Vec::with_capacity(n_scores * p);
        let mut intercepts = Vec::with_capacity(n_scores);
        for k in 0..n_scores {
            let block = &params[k * (p + 1)..(k + 1) * (p + 1)];
            let mut b = block[p];
            for ((v, scale), mean) in block[..p].iter().zip(&self.scale).zip(&self.mean) {
                let w = v / scale;
                b -= w * mean;
                weights.push(w * y_sd);
            }
            intercepts.push(b * y_sd + y_mean);
        }
        LinearModel {
            link,
            n_features: p,
            weights,
            intercepts,
            iterations,
        }
    }
}

/// The last evaluation: parameters, cost, gradient (argmin asks for cost and gradient of the
/// same point separately).
type Evaluated = (Vec<f64>, f64, Vec<f64>);

/// The averaged, weighted objective in standardized space.
struct Problem<'a> {
    z: &'a Array2<f64>,
    /// Per-column penalty weight `(1/C) / scale²`, so that the penalty is `½(1/C)‖w_raw‖²`.
    penalty: Vec<f64>,
    /// Class code (classification) or standardized value (regression).
    targets: Vec<f64>,
    sample_weights: Vec<f64>,
    sum_weights: f64,
    link: Link,
    n_scores: usize,
    cache: RefCell<Option<Evaluated>>,
}

impl Problem<'_> {
    fn evaluate(&self, params: &[f64]) -> (f64, Vec<f64>) {
        if let Some((p, cost, grad)) = self.cache.borrow().as_ref() {
            if p == params {
                return (*cost, grad.clone());
            }
        }
        let p = self.z.ncols();
        let stride = p + 1;
        let mut grad = vec![0.0; params.len()];
        let mut loss = if self.link == Link::Softmax {
            self.softmax_sums(params, &mut grad)
        } else {
            self.row_sums(params, &mut grad)
        };
        let norm = 1.0 / self.sum_weights;
        loss *= norm;
        for v in grad.iter_mut() {
            *v *= norm;
        }
        for k in 0..self.n_scores {
            for j in 0..p {
                let wj = params[k * stride + j];
                loss += 0.5 * norm * self.penalty[j] * wj * wj;
                grad[k * stride + j] += norm * self.penalty[j] * wj;
            }
        }
        *self.cache.borrow_mut() = Some((params.to_vec(), loss, grad.clone()));
        (loss, grad)
    }

    /// The weighted loss summed over the rows, its gradient added to `grad`: one row at a
    /// time (a binary or numeric target scores once a row; a softmax takes
    /// [`Problem::softmax_sums`], which this checks in the tests).
    fn row_sums(&self, params: &[f64], grad: &mut [f64]) -> f64 {
        let p = self.z.ncols();
        let stride = p + 1;
        let mut loss = 0.0;
        let mut scores = vec![0.0; self.n_scores];
        let mut dscore = vec![0.0; self.n_scores];
        for ((row, &t), &w) in self
            .z
            .rows()
            .into_iter()
            .zip(&self.targets)
            .zip(&self.sample_weights)
        {
            let Some(row) = row.to_slice() else {
                unreachable!("standardized rows are contiguous")
            };
            for (k, s) in scores.iter_mut().enumerate() {
                let block = &params[k * stride..(k + 1) * stride];
                *s = block[p] + block[..p].iter().zip(row).map(|(a, b)| a * b).sum::<f64>();
            }
            match self.link {
                Link::Logistic => {
                    let sign = if t > 0.5 { 1.0 } else { -1.0 };
                    let m = sign * scores[0];
                    loss += w * softplus(-m);
                    dscore[0] = w * -sign * sigmoid(-m);
                }
                Link::Softmax => {
                    dscore.copy_from_slice(&scores);
                    loss += w * softmax_gradient(&mut dscore, t as usize);
                    dscore.iter_mut().for_each(|d| *d *= w);
                }
                Link::Identity => {
                    let r = scores[0] - t;
                    loss += w * 0.5 * r * r;
                    dscore[0] = w * r;
                }
            }
            for (k, &d) in dscore.iter().enumerate() {
                let g = &mut grad[k * stride..(k + 1) * stride];
                for (gj, &zj) in g[..p].iter_mut().zip(row) {
                    *gj += d * zj;
                }
                g[p] += d;
            }
        }
        loss
    }

    /// [`Problem::row_sums`] for a softmax over `n_scores` classes, [`SOFTMAX_BLOCK`] rows at
    /// a time: their scores and the gradient's share are matrix products, and each score's
    /// exponential is taken once, for the loss and the probabilities together, as
    /// scikit-learn's multinomial loss does. With 500 classes the row at a time spent two
    /// thirds of a fit in dot products too short to vectorize and a third in exponentials.
    fn softmax_sums(&self, params: &[f64], grad: &mut [f64]) -> f64 {
        let (n, p, k) = (self.z.nrows(), self.z.ncols(), self.n_scores);
        let Ok(all) = ArrayView2::from_shape((k, p + 1), params) else {
            unreachable!("a softmax has (features + 1) parameters per class")
        };
        let weights = all.slice_axis(Axis(1), Slice::from(..p));
        let intercepts = all.column(p);
        let mut weight_grad = Array2::<f64>::zeros((k, p));
        let mut intercept_grad = vec![0.0; k];
        let mut block = Array2::<f64>::zeros((SOFTMAX_BLOCK.min(n), k));
        let mut loss = 0.0;
        for start in (0..n).step_by(SOFTMAX_BLOCK) {
            let end = (start + SOFTMAX_BLOCK).min(n);
            let z = self.z.slice_axis(Axis(0), Slice::from(start..end));
            let mut d = block.slice_axis_mut(Axis(0), Slice::from(..end - start));
            general_mat_mul(1.0, &z, &weights.t(), 0.0, &mut d);
            for (i, mut row) in d.rows_mut().into_iter().enumerate() {
                let (class, w) = (
                    self.targets[start + i] as usize,
                    self.sample_weights[start + i],
                );
                row += &intercepts;
                let Some(row) = row.as_slice_mut() else {
                    unreachable!("a block's rows are contiguous")
                };
                loss += w * softmax_gradient(row, class);
                for (g, d) in intercept_grad.iter_mut().zip(row.iter_mut()) {
                    *d *= w;
                    *g += *d;
                }
            }
            general_mat_mul(1.0, &d.t(), &z, 1.0, &mut weight_grad);
        }
        for ((g, wg), ig) in grad
            .chunks_exact_mut(p + 1)
            .zip(weight_grad.rows())
            .zip(&intercept_grad)
        {
            for (a, b) in g.iter_mut().zip(wg) {
                *a += b;
            }
            g[p] += ig;
        }
        loss
    }
}

impl CostFunction for Problem<'_> {
    type Param = Vec<f64>;
    type Output = f64;
    fn cost(&self, params: &Vec<f64>) -> Result<f64, argmin::core::Error> {
        Ok(self.evaluate(params).0)
    }
}

impl Gradient for Problem<'_> {
    type Param = Vec<f64>;
    type Gradient = Vec<f64>;
    fn gradient(&self, params: &Vec<f64>) -> Result<Vec<f64>, argmin::core::Error> {
        Ok(self.evaluate(params).1)
    }
}

pub(crate) fn sigmoid(t: f64) -> f64 {
    if t >= 0.0 {
        1.0 / (1.0 + (-t).exp())
    } else {
        let e = t.exp();
        e / (1.0 + e)
    }
}

fn softplus(t: f64) -> f64 {
    t.max(0.0) + (-t.abs()).exp().ln_1p()
}

/// Rows a softmax evaluation multiplies at once ([`Problem::softmax_sums`]).
const SOFTMAX_BLOCK: usize = 256;

/// A row's softmax loss `log Σ exp(scores) − scores[class]`, with `scores` replaced by the
/// loss's gradient in them: the probabilities less 1 at `class`. Each exponential is taken once.
fn softmax_gradient(scores: &mut [f64], class: usize) -> f64 {
    let max = scores.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let own = scores.get(class).copied().unwrap_or(f64::NAN);
    if !max.is_finite() {
        // No probability to take: the loss says so, and the gradient moves nothing.
        scores.fill(0.0);
        return max - own;
    }
    let mut sum = 0.0;
    for s in scores.iter_mut() {
        *s = (*s - max).exp();
        sum += *s;
    }
    for s in scores.iter_mut() {
        *s /= sum;
    }
    if let Some(s) = scores.get_mut(class) {
        *s -= 1.0;
    }
    max + sum.ln() - own
}

/// Replaces log-probabilities with probabilities as `exp(a − log Σ exp)`, the way scikit-learn's
/// naive Bayes normalizes its joint log-likelihoods.
pub(crate) fn exp_normalize_in_place(v: &mut [f64]) {
    let lse = log_sum_exp(v);
    for a in v.iter_mut() {
        *a = (*a - lse).exp();
    }
}

pub(crate) fn log_sum_exp(v: &[f64]) -> f64 {
    let max = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if !max.is_finite() {
        return max;
    }
    max + v.iter().map(|a| (a - max).exp()).sum::<f64>().ln()
}

/// Replaces log-scores with probabilities, stably: each exponential taken once, then divided
/// by their sum, as scikit-learn's softmax does (its logistic regression and network).
pub(crate) fn softmax_in_place(v: &mut [f64]) {
    let max = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if !max.is_finite() {
        // No probabilities to take: NaN where a score is infinite, as `exp(a − max)` gives.
        v.iter_mut().for_each(|a| *a = (*a - max).exp());
        return;
    }
    let mut sum = 0.0;
    for a in v.iter_mut() {
        *a = (*a - max).exp();
        sum += *a;
    }
    v.iter_mut().for_each(|a| *a /= sum);
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn a_softmax_by_blocks_sums_what_the_row_at_a_time_sums() {
        // More rows than a block, uneven weights, 7 classes; a simple generator keeps it exact.
        let (n, p, k) = (SOFTMAX_BLOCK * 2 + 37, 4, 7);
        let mut state = 12345u64;
        let mut next = || {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (state >> 11) as f64 / (1u64 << 53) as f64 - 0.5
        };
        let z = Array2::from_shape_fn((n, p), |_| 3.0 * next());
        let targets: Vec<f64> = (0..n).map(|i| ((i * 5 + i / 3) % k) as f64).collect();
        let sample_weights: Vec<f64> = (0..n).map(|_| 1.0 + next()).collect();
        let problem = Problem {
            z: &z,
            penalty: vec![0.1; p],
            targets,
            sum_weights: sample_weights.iter().sum(),
            sample_weights,
            link: Link::Softmax,
            n_scores: k,
            cache: RefCell::new(None),
        };
        let params: Vec<f64> = (0..k * (p + 1)).map(|_| 2.0 * next()).collect();
        let (mut by_rows, mut by_blocks) = (vec![0.0; params.len()], vec![0.0; params.len()]);
        let row_loss = problem.row_sums(&params, &mut by_rows);
        let block_loss = problem.softmax_sums(&params, &mut by_blocks);
        assert!(
            (row_loss - block_loss).abs() <= 1e-12 * row_loss.abs(),
            "{row_loss} {block_loss}"
        );
        for (a, b) in by_rows.iter().zip(&by_blocks) {
            assert!((a - b).abs() <= 1e-9 * (1.0 + a.abs()), "{a} {b}");
        }
        // And the gradient is the loss's: central differences agree.
        let (loss, grad) = problem.evaluate(&params);
        for j in [0, p, p + 1, k * (p + 1) - 1] {
            let h = 1e-6;
            let mut up = params.clone();
            up[j] += h;
            let mut down = params.clone();
            down[j] -= h;
            let slope = (problem.evaluate(&up).0 - problem.evaluate(&down).0) / (2.0 * h);
            assert!(
                (slope - grad[j]).abs() < 1e-6,
                "parameter {j}: {slope} {}",
                grad[j]
            );
        }
        assert!(loss.is_finite());
    }

    #[test]
    fn parses_and_checks_hyperparameters() {
        let hp = HyperParams::from_pairs([
            ("penalty", "None"),
            ("C", "0.5"),
            ("class-weight", "balanced"),
            ("max-iter", "50"),
        ]);
        let p = LinearParams::from_hyperparams(&hp)
            .unwrap()
            .check()
            .unwrap();
        assert_eq!(
            p,
            LinearValidParams {
                inverse_c: 0.0,
                balanced: true,
                max_iter: 50
            }
        );
        assert_eq!(
            LinearParams::from_hyperparams(&HyperParams::default()).unwrap(),
            LinearParams::default()
        );
        for (name, value) in [
            ("penalty", "l1"),
            ("C", "-1"),
            ("C", "1e-320"),
            ("max-iter", "0"),
            ("class-weight", "x"),
        ] {
            let err = LinearParams::from_hyperparams(&HyperParams::from_pairs([(name, value)]))
                .and_then(ParamGuard::check)
                .unwrap_err()
                .to_string();
            assert!(
                err.starts_with(&format!("hyperparameter `{name}`")),
                "{err}"
            );
        }
        let unpenalized = HyperParams::from_pairs([("penalty", "None"), ("C", "1e-320")]);
        let p = LinearParams::from_hyperparams(&unpenalized)
            .and_then(ParamGuard::check)
            .unwrap();
        assert_eq!(p.inverse_c, 0.0);
    }

    #[test]
    fn ridge_counterpart_matches_the_closed_form() {
        // y = 1 + 2x exactly; with C large the fit recovers it.
        let x = array![[0.0], [1.0], [2.0], [3.0]];
        let y = [1.0, 3.0, 5.0, 7.0];
        let params = LinearValidParams {
            inverse_c: 1e-9,
            ..LinearParams::default().check().unwrap()
        };
        let Fitted::LogisticRegression(m) =
            params.fit(x.view(), TrainTarget::Values(&y), 0).unwrap()
        else {
            panic!("wrong family")
        };
        assert!((m.weights[0] - 2.0).abs() < 1e-6 && (m.intercepts[0] - 1.0).abs() < 1e-6);
        // With alpha = 1/C = 5: w = Sxy / (Sxx + alpha) = 10 / (5 + 5) = 1, b = ȳ - w·x̄ = 2.5.
        let params = LinearValidParams {
            inverse_c: 5.0,
            ..LinearParams::default().check().unwrap()
        };
        let Fitted::LogisticRegression(m) =
            params.fit(x.view(), TrainTarget::Values(&y), 0).unwrap()
        else {
            panic!("wrong family")
        };
        assert!((m.weights[0] - 1.0).abs() < 1e-6, "{m:?}");
        assert!((m.intercepts[0] - 2.5).abs() < 1e-6, "{m:?}");
    }

    #[test]
    fn separates_classes_and_probabilities_sum_to_one() {
        let x = array![
            [0.0, 1.0],
            [1.0, 0.0],
            [4.0, 5.0],
            [5.0, 4.0],
            [9.0, 9.0],
            [8.0, 9.5]
        ];
        let codes = [0, 0, 1, 1, 2, 2];
        let fitted = LinearParams::default()
            .check()
            .unwrap()
            .fit(
                x.view(),
                TrainTarget::Classes {
                    codes: &codes,
                    n_classes: 3,
                },
                0,
            )
            .unwrap();
        let mut out = [0.0; 3];
        for (row, &c) in x.rows().into_iter().zip(&codes) {
            fitted
                .predictor()
                .predict_row(row.as_slice().unwrap(), &mut out);
            assert!((out.iter().sum::<f64>() - 1.0).abs() < 1e-12);
            let best = (0..3).max_by(|&a, &b| out[a].total_cmp(&out[b])).unwrap();
            assert_eq!(best, c);
        }
    }

    fn reload(model: &LinearModel) -> std::result::Result<Fitted, String> {
        let bytes = Fitted::LogisticRegression(model.clone()).payload().unwrap();
        Fitted::from_payload("model.json", &bytes).map_err(|e| e.to_string())
    }

    #[test]
    fn weights_not_matching_scores_and_features_are_refused_at_load() {
        let model = LinearModel {
            link: Link::Softmax,
            n_features: 2,
            weights: vec![0.5; 6],
            intercepts: vec![0.0; 3],
            iterations: 1,
        };
        let fitted = reload(&model).unwrap();
        assert_eq!(fitted.n_outputs(), Some(3));
        assert!(fitted.check_width(2).is_ok());
        assert!(fitted.check_width(3).is_err());

        let mut short = model.clone();
        short.weights.truncate(5);
        let err = reload(&short).unwrap_err();
        assert!(
            err.contains("5 weights for 3 scores of 2 features"),
            "{err}"
        );
        assert!(err.contains("malformed LogisticRegression model"), "{err}");
        let mut logistic = model.clone();
        logistic.link = Link::Logistic;
        assert!(reload(&logistic)
            .unwrap_err()
            .contains("Logistic link cannot have 3 intercepts"));
    }
}
