//! NeuralNet: a multilayer perceptron trained as scikit-learn's `MLPClassifier` /
//! `MLPRegressor` train one with their defaults (`solver="adam"`).
//!
//! - Inputs are standardized with the training rows' means and standard deviations, learned at
//!   fit time and stored with the model (an MLP on raw, badly scaled columns such as breast
//!   cancer's areas barely trains; the original fed scikit-learn's MLP unscaled data).
//! - A regression target is standardized as well, as scikit-learn's `TransformedTargetRegressor`
//!   with a `StandardScaler` does; the fitted output layer's weights and bias then take the
//!   scale back, so the model predicts in the target's units. On raw targets far from 0 (the
//!   diabetes sample's 25 to 346) the default network had not come close in 200 epochs: 5-fold
//!   CV R² −1.03 in scikit-learn without the target scaled, 0.456 with it, and 0.456 here.
//! - Weights and biases start Glorot-uniform (bound √(6/(fan_in+fan_out)), √(2/…) for
//!   `logistic`), drawn from the job's seed.
//! - Output: one logistic unit (binary), softmax (multiclass) or identity (regression); loss
//!   log-loss, cross-entropy or half squared error, plus `alpha`·½‖W‖² per batch row.
//! - Adam (β₁ 0.9, β₂ 0.999, ε 1e-8, bias-corrected step), mini-batches of min(200, n) rows
//!   reshuffled every epoch; stops after `max-iter` epochs, or when the epoch loss has not
//!   improved by 1e-4 for more than 10 epochs.
//!
//! The matrix products are ndarray's (matrixmultiply); see docs/container.md for why this is
//! not on candle.
//!
//! | name | default | range | meaning |
//! |---|---|---|---|
//! | `hidden-layer-sizes` | `100` | comma-separated sizes ≥ 1, e.g. `50,50` | hidden layers |
//! | `activation` | `relu` | `relu`, `logistic`, `tanh`, `identity` | hidden activation |
//! | `learning-rate-init` | `0.001` | > 0 | Adam's step size |
//! | `alpha` | `0.0001` | ≥ 0 | L2 penalty on the weights |
//! | `max-iter` | `200` | ≥ 1 | epochs at most |

use ndarray::linalg::general_mat_mul;
use ndarray::{Array1, Array2, ArrayView1, ArrayView2, ArrayViewMut2, Axis, Slice};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use super::linear::softmax_in_place;
use super::{
    check_rows, check_spreads, check_targets, Algorithm, Estimator, Fitted, LeastBytes, ParamGuard,
    Predictor, Stepwise, TrainTarget,
};
use crate::error::{MlError, Result};
use crate::hyperparams::HyperParams;

const FAMILY: Algorithm = Algorithm::NeuralNet;
const BATCH_SIZE: usize = 200;
const TOL: f64 = 1e-4;
const N_ITER_NO_CHANGE: usize = 10;
const BETA1: f64 = 0.9;
const BETA2: f64 = 0.999;
const EPSILON: f64 = 1e-8;

/// The hidden layers' activation, as scikit-learn names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Activation {
    /// max(0, z).
    Relu,
    /// 1 / (1 + e^−z).
    Logistic,
    /// tanh(z).
    Tanh,
    /// z itself.
    Identity,
}

impl Activation {
    fn parse(v: &str) -> Result<Activation> {
        match v.trim() {
            "relu" => Ok(Activation::Relu),
            "logistic" => Ok(Activation::Logistic),
            "tanh" => Ok(Activation::Tanh),
            "identity" => Ok(Activation::Identity),
            other => Err(MlError::hp(
                "activation",
                format!("`{other}` is not `relu`, `logistic`, `tanh` or `identity`"),
            )),
        }
    }

    fn apply(self, z: f64) -> f64 {
        match self {
            Activation::Relu => z.max(0.0),
            Activation::Logistic => logistic(z),
            Activation::Tanh => z.tanh(),
            Activation::Identity => z,
        }
    }

    /// The derivative written in terms of the activation's output `a`.
    fn derivative_from_output(self, a: f64) -> f64 {
        match self {
            Activation::Relu => {
                if a > 0.0 {
                    1.0
                } else {
                    0.0
                }
            }
            Activation::Logistic => a * (1.0 - a),
            Activation::Tanh => 1.0 - a * a,
            Activation::Identity => 1.0,
        }
    }
}

fn logistic(z: f64) -> f64 {
    1.0 / (1.0 + (-z).exp())
}

/// NeuralNet hyperparameters as parsed, unchecked: [`ParamGuard::check`] makes them an
/// [`MlpValidParams`].
#[derive(Debug, Clone, PartialEq)]
pub struct MlpParams {
    /// `hidden-layer-sizes`: units per hidden layer (parsing refuses an empty list or a 0).
    pub hidden_layer_sizes: Vec<usize>,
    /// `activation`: the hidden layers' activation.
    pub activation: Activation,
    /// `learning-rate-init`: Adam's step size, a finite number > 0.
    pub learning_rate_init: f64,
    /// `alpha`: L2 penalty on the weights, a finite number ≥ 0.
    pub alpha: f64,
    /// `max-iter`: epochs at most, at least 1.
    pub max_iter: usize,
}

/// Checked NeuralNet hyperparameters; only [`ParamGuard::check`] makes them.
#[derive(Debug, Clone, PartialEq)]
pub struct MlpValidParams {
    hidden_layer_sizes: Vec<usize>,
    activation: Activation,
    learning_rate_init: f64,
    alpha: f64,
    max_iter: usize,
}

impl MlpValidParams {
    /// Units per hidden layer.
    pub fn hidden_layer_sizes(&self) -> &[usize] {
        &self.hidden_layer_sizes
    }

    /// The hidden layers' activation.
    pub fn activation(&self) -> Activation {
        self.activation
    }

    /// Adam's step size.
    pub fn learning_rate_init(&self) -> f64 {
        self.learning_rate_init
    }

    /// L2 penalty on the weights.
    pub fn alpha(&self) -> f64 {
        self.alpha
    }

    /// Epochs at most.
    pub fn max_iter(&self) -> usize {
        self.max_iter
    }
}

impl ParamGuard for MlpParams {
    type Checked = MlpValidParams;

    fn check(self) -> Result<MlpValidParams> {
        let learning_rate_init = self.learning_rate_init;
        if !(learning_rate_init > 0.0 && learning_rate_init.is_finite()) {
            return Err(MlError::hp(
                "learning-rate-init",
                format!("{learning_rate_init} must be a number > 0"),
            ));
        }
        let alpha = self.alpha;
        if !(alpha >= 0.0 && alpha.is_finite()) {
            return Err(MlError::hp(
                "alpha",
                format!("{alpha} must be a number ≥ 0"),
            ));
        }
        if self.max_iter == 0 {
            return Err(MlError::hp("max-iter", "must be at least 1"));
        }
        Ok(MlpValidParams {
            hidden_layer_sizes: self.hidden_layer_sizes,
            activation: self.activation,
            learning_rate_init,
            alpha,
            max_iter: self.max_iter,
        })
    }
}

impl Default for MlpParams {
    fn default() -> Self {
        MlpParams {
            hidden_layer_sizes: vec![100],
            activation: Activation::Relu,
            learning_rate_init: 1e-3,
            alpha: 1e-4,
            max_iter: 200,
        }
    }
}

impl MlpParams {
    /// Parses the family's hyperparameters; absent ones take scikit-learn's defaults.
    pub fn from_hyperparams(hp: &HyperParams) -> Result<MlpParams> {
        let d = MlpParams::default();
        let hidden_layer_sizes = match hp.get("hidden-layer-sizes") {
            None => d.hidden_layer_sizes,
            Some(v) => parse_sizes(v)?,
        };
        let activation = match hp.get("activation") {
            None => d.activation,
            Some(v) => Activation::parse(v)?,
        };
        let learning_rate_init = hp
            .parse::<f64>("learning-rate-init")?
            .unwrap_or(d.learning_rate_init);
        let alpha = hp.parse::<f64>("alpha")?.unwrap_or(d.alpha);
        let max_iter = hp.parse::<usize>("max-iter")?.unwrap_or(d.max_iter);
        Ok(MlpParams {
            hidden_layer_sizes,
            activation,
            learning_rate_init,
            alpha,
            max_iter,
        })
    }
}

/// `100`, `50,50`, `(50, 50)` or `[50, 50]` → sizes.
fn parse_sizes(v: &str) -> Result<Vec<usize>> {
    let inner = v
        .trim()
        .trim_start_matches(['(', '['])
        .trim_end_matches([')', ']']);
    let sizes: Vec<usize> = inner
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| s.parse::<usize>().ok().filter(|&n| n >= 1))
        .collect::<Option<_>>()
        .ok_or_else(|| {
            MlError::hp(
                "hidden-layer-sizes",
                format!("`{v}` is not a comma-separated list of layer sizes ≥ 1"),
            )
        })?;
    if sizes.is_empty() {
        return Err(MlError::hp(
            "hidden-layer-sizes",
            format!("`{v}` names no hidden layer"),
        ));
    }
    Ok(sizes)
}

/// The output layer's function, which the task decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Output {
    /// One logistic unit: P(second class).
    Logistic,
    /// One unit per class: probabilities by softmax (multiclass).
    Softmax,
    /// One linear unit: the value (regression).
    Identity,
}

/// One dense layer: `weights` row-major `n_in × n_out`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Layer {
    /// Inputs.
    pub n_in: usize,
    /// Units.
    pub n_out: usize,
    /// `n_in × n_out`, row-major.
    pub weights: Vec<f64>,
    /// One per unit.
    pub biases: Vec<f64>,
}

/// A fitted perceptron with its input standardization.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Mlp {
    /// Per input column: subtracted, then divided by `scales`.
    pub means: Vec<f64>,
    /// Per input column: the standard deviation (1 where the column is constant).
    pub scales: Vec<f64>,
    /// The hidden layers' activation.
    pub activation: Activation,
    /// The output layer's function.
    pub output: Output,
    /// Hidden layers, then the output layer.
    pub layers: Vec<Layer>,
}

impl Mlp {
    /// Checks a read payload, so that predicting cannot index out of range: the scaling
    /// vectors match the first layer, every layer's matrix is `n_in × n_out` and feeds the
    /// next, and the output layer fits the output kind.
    pub(crate) fn validate(&self) -> std::result::Result<(), String> {
        let Some(first) = self.layers.first() else {
            return Err("no layers".to_owned());
        };
        if self.means.len() != first.n_in || self.scales.len() != first.n_in {
            return Err(format!(
                "{} means and {} scales for a first layer of {} inputs",
                self.means.len(),
                self.scales.len(),
                first.n_in
            ));
        }
        for (i, layer) in self.layers.iter().enumerate() {
            if layer.n_in == 0 || layer.n_out == 0 {
                return Err(format!("layer {i} is {} × {}", layer.n_in, layer.n_out));
            }
            if layer.n_in.checked_mul(layer.n_out) != Some(layer.weights.len()) {
                return Err(format!(
                    "layer {i}: {} weights for {} × {}",
                    layer.weights.len(),
                    layer.n_in,
                    layer.n_out
                ));
            }
            if layer.biases.len() != layer.n_out {
                return Err(format!(
                    "layer {i}: {} biases for {} outputs",
                    layer.biases.len(),
                    layer.n_out
                ));
            }
            if let Some(next) = self.layers.get(i + 1) {
                if next.n_in != layer.n_out {
                    return Err(format!(
                        "layer {i} has {} outputs but layer {} takes {} inputs",
                        layer.n_out,
                        i + 1,
                        next.n_in
                    ));
                }
            }
        }
        let last = self.layers.last().map_or(0, |l| l.n_out);
        let fits = match self.output {
            Output::Logistic | Output::Identity => last == 1,
            Output::Softmax => (2..=super::tree_ensemble::MAX_GROUPS).contains(&last),
        };
        if !fits {
            return Err(format!(
                "a {:?} output cannot come from {last} units",
                self.output
            ));
        }
        Ok(())
    }

    /// Values written per row: classes (2 for one logistic unit), or 1.
    pub(crate) fn n_outputs(&self) -> usize {
        match self.output {
            Output::Logistic => 2,
            Output::Identity => 1,
            Output::Softmax => self.layers.last().map_or(0, |l| l.n_out),
        }
    }

    /// Checks that the network takes `width` columns.
    pub(crate) fn check_width(&self, width: usize) -> std::result::Result<(), String> {
        if self.means.len() == width {
            Ok(())
        } else {
            Err(format!(
                "the network takes {} columns but rows have {width}",
                self.means.len()
            ))
        }
    }
}

impl Predictor for Mlp {
    fn predict_row(&self, x: &[f64], out: &mut [f64]) {
        let mut current: Vec<f64> = x
            .iter()
            .zip(&self.means)
            .zip(&self.scales)
            .map(|((v, m), s)| (v - m) / s)
            .collect();
        let last = self.layers.len() - 1;
        for (i, layer) in self.layers.iter().enumerate() {
            let mut next = layer.biases.clone();
            for (r, &a) in current.iter().enumerate() {
                let row = &layer.weights[r * layer.n_out..(r + 1) * layer.n_out];
                for (n, w) in next.iter_mut().zip(row) {
                    *n += a * w;
                }
            }
            if i < last {
                for n in next.iter_mut() {
                    *n = self.activation.apply(*n);
                }
            }
            current = next;
        }
        match self.output {
            Output::Logistic => {
                let p = logistic(current[0]);
                out[0] = 1.0 - p;
                out[1] = p;
            }
            Output::Softmax => {
                out.copy_from_slice(&current);
                softmax_in_place(out);
            }
            Output::Identity => out[0] = current[0],
        }
    }
}

/// Column means and scales from the columns' standard deviations `stds` (a constant column
/// keeps scale 1, as StandardScaler).
fn standardization(x: ArrayView2<f64>, stds: Array1<f64>) -> (Array1<f64>, Array1<f64>) {
    let means = x
        .mean_axis(Axis(0))
        .unwrap_or_else(|| Array1::zeros(x.ncols()));
    let scales = stds.mapv(|s| if s > 1e-12 && s.is_finite() { s } else { 1.0 });
    (means, scales)
}

/// Training state of one layer: parameters and Adam's moments.
struct TrainLayer {
    w: Array2<f64>,
    b: Array1<f64>,
    mw: Array2<f64>,
    vw: Array2<f64>,
    mb: Array1<f64>,
    vb: Array1<f64>,
}

impl TrainLayer {
    fn glorot(n_in: usize, n_out: usize, activation: Activation, rng: &mut ChaCha8Rng) -> Self {
        let factor = if activation == Activation::Logistic {
            2.0
        } else {
            6.0
        };
        let bound = (factor / (n_in + n_out) as f64).sqrt();
        let w = Array2::from_shape_simple_fn((n_in, n_out), || rng.gen_range(-bound..bound));
        let b = Array1::from_shape_simple_fn(n_out, || rng.gen_range(-bound..bound));
        TrainLayer {
            mw: Array2::zeros((n_in, n_out)),
            vw: Array2::zeros((n_in, n_out)),
            mb: Array1::zeros(n_out),
            vb: Array1::zeros(n_out),
            w,
            b,
        }
    }

    fn adam_step(&mut self, gw: &Array2<f64>, gb: &Array1<f64>, step: f64) {
        adam(&mut self.w, &mut self.mw, &mut self.vw, gw, step);
        adam(&mut self.b, &mut self.mb, &mut self.vb, gb, step);
    }
}

fn adam<D: ndarray::Dimension>(
    p: &mut ndarray::Array<f64, D>,
    m: &mut ndarray::Array<f64, D>,
    v: &mut ndarray::Array<f64, D>,
    g: &ndarray::Array<f64, D>,
    step: f64,
) {
    ndarray::Zip::from(p)
        .and(m)
        .and(v)
        .and(g)
        .for_each(|p, m, v, &g| {
            *m = BETA1 * *m + (1.0 - BETA1) * g;
            *v = BETA2 * *v + (1.0 - BETA2) * g * g;
            *p -= step * *m / (v.sqrt() + EPSILON);
        });
}

impl Estimator for MlpValidParams {
    fn family(&self) -> Algorithm {
        FAMILY
    }

    fn fit(&self, x: ArrayView2<f64>, y: TrainTarget<'_>, seed: u64) -> Result<Fitted> {
        let mut fit = Training::start(self, x, y, seed)?;
        while fit.epoch() {}
        Ok(fit.finish())
    }

    fn stepwise<'a>(
        &'a self,
        x: ArrayView2<'a, f64>,
        rows: &'a [usize],
        y: TrainTarget<'a>,
        seed: u64,
    ) -> Option<Result<Box<dyn Stepwise + 'a>>> {
        if let Err(e) = check_rows(FAMILY, &x, rows) {
            return Some(Err(e));
        }
        Some(Ok(Box::new(Epochs {
            params: self,
            x,
            rows,
            y,
            seed,
            training: None,
        })))
    }

    fn least_bytes(&self, features: usize, outputs: usize) -> Option<LeastBytes> {
        // Each weight and bias is held four times while training: itself, its gradient and
        // Adam's two moments.
        let mut sizes = vec![features as u64];
        sizes.extend(self.hidden_layer_sizes.iter().map(|&s| s as u64));
        sizes.push(if outputs > 2 { outputs as u64 } else { 1 });
        let weights = sizes.windows(2).fold(0u64, |sum, w| {
            sum.saturating_add(w[0].saturating_add(1).saturating_mul(w[1]))
        });
        Some(LeastBytes {
            hyperparameter: "hidden-layer-sizes",
            holds: "the network's weights, their gradients and Adam's moments",
            bytes: weights.saturating_mul(4 * std::mem::size_of::<f64>() as u64),
        })
    }
}

/// A fit taken an epoch a step, the first step standardizing a copy of its rows.
struct Epochs<'a> {
    params: &'a MlpValidParams,
    x: ArrayView2<'a, f64>,
    rows: &'a [usize],
    y: TrainTarget<'a>,
    seed: u64,
    training: Option<Training<'a>>,
}

impl<'a> Epochs<'a> {
    fn start(&self) -> Result<Training<'a>> {
        let x = self.x.select(Axis(0), self.rows);
        Training::start(self.params, x.view(), self.y, self.seed)
    }
}

impl Stepwise for Epochs<'_> {
    fn step(&mut self) -> bool {
        match &mut self.training {
            Some(training) => training.epoch(),
            None => match self.start() {
                Ok(training) => {
                    self.training = Some(training);
                    true
                }
                // `finish` reports it.
                Err(_) => false,
            },
        }
    }

    fn finish(mut self: Box<Self>) -> Result<Fitted> {
        let mut training = match self.training.take() {
            Some(training) => training,
            None => self.start()?,
        };
        while training.epoch() {}
        Ok(training.finish())
    }
}

/// A fit's state between epochs.
struct Training<'p> {
    params: &'p MlpValidParams,
    means: Array1<f64>,
    scales: Array1<f64>,
    /// The rows standardized.
    xs: Array2<f64>,
    targets: Array2<f64>,
    output: Output,
    /// A regression target's mean and scale, which the last layer takes back at the end.
    target_scaling: Option<(f64, f64)>,
    layers: Vec<TrainLayer>,
    work: Workspace,
    order: Vec<usize>,
    rng: ChaCha8Rng,
    batch: usize,
    /// Adam's step count.
    t: i32,
    best_loss: f64,
    no_improvement: usize,
    epochs: usize,
    done: bool,
}

impl<'p> Training<'p> {
    fn start(
        params: &'p MlpValidParams,
        x: ArrayView2<f64>,
        y: TrainTarget<'_>,
        seed: u64,
    ) -> Result<Training<'p>> {
        let n = x.nrows();
        check_targets(FAMILY, n, &y)?;
        let stds = x.std_axis(Axis(0), 0.0);
        check_spreads(FAMILY, stds.iter().copied())?;
        let (means, scales) = standardization(x, stds);
        let xs = (&x - &means) / &scales;
        let (output, mut targets) = encode_targets(y, n);
        // A regression target is standardized too, and the last layer un-scales it at the end.
        let target_scaling = (output == Output::Identity).then(|| {
            let (mean, scale) = standardization(targets.view(), targets.std_axis(Axis(0), 0.0));
            targets = (&targets - &mean) / &scale;
            (mean[0], scale[0])
        });
        let mut sizes = vec![x.ncols()];
        sizes.extend(&params.hidden_layer_sizes);
        sizes.push(targets.ncols());

        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let layers: Vec<TrainLayer> = sizes
            .windows(2)
            .map(|w| TrainLayer::glorot(w[0], w[1], params.activation, &mut rng))
            .collect();
        let batch = BATCH_SIZE.min(n).max(1);
        Ok(Training {
            params,
            means,
            scales,
            xs,
            targets,
            output,
            target_scaling,
            layers,
            work: Workspace::new(&sizes, batch),
            order: (0..n).collect(),
            rng,
            batch,
            t: 0,
            best_loss: f64::INFINITY,
            no_improvement: 0,
            epochs: 0,
            done: false,
        })
    }

    /// One epoch, unless the fit has ended; false once it has (`max_iter` epochs, a loss
    /// that is not finite, or no improvement by `TOL` for more than `N_ITER_NO_CHANGE`).
    fn epoch(&mut self) -> bool {
        if self.done || self.epochs >= self.params.max_iter {
            self.done = true;
            return false;
        }
        self.epochs += 1;
        let n = self.order.len();
        self.order.shuffle(&mut self.rng);
        let mut epoch_loss = 0.0;
        for chunk in self.order.chunks(self.batch) {
            self.work.gather(&self.xs, &self.targets, chunk);
            self.t += 1;
            let (rate, t) = (self.params.learning_rate_init, self.t);
            let step = rate * (1.0 - BETA2.powi(t)).sqrt() / (1.0 - BETA1.powi(t));
            let loss = self.params.train_batch(
                &mut self.layers,
                &mut self.work,
                chunk.len(),
                self.output,
                step,
            );
            epoch_loss += loss * chunk.len() as f64;
        }
        epoch_loss /= n as f64;
        if !epoch_loss.is_finite() {
            self.done = true;
            return false;
        }
        if epoch_loss > self.best_loss - TOL {
            self.no_improvement += 1;
        } else {
            self.no_improvement = 0;
        }
        self.best_loss = self.best_loss.min(epoch_loss);
        if self.no_improvement > N_ITER_NO_CHANGE || self.epochs >= self.params.max_iter {
            self.done = true;
        }
        !self.done
    }

    fn finish(self) -> Fitted {
        let mut layers = self.layers;
        if let (Some((mean, scale)), Some(last)) = (self.target_scaling, layers.last_mut()) {
            // y = scale · (W a + b) + mean = (scale · W) a + (scale · b + mean).
            last.w *= scale;
            last.b.mapv_inplace(|b| scale * b + mean);
        }
        Fitted::NeuralNet(Mlp {
            means: self.means.to_vec(),
            scales: self.scales.to_vec(),
            activation: self.params.activation,
            output: self.output,
            layers: layers
                .into_iter()
                .map(|l| Layer {
                    n_in: l.w.nrows(),
                    n_out: l.w.ncols(),
                    weights: l.w.iter().copied().collect(),
                    biases: l.b.to_vec(),
                })
                .collect(),
        })
    }
}

/// The output layer and the targets it fits: a 0/1 column (binary), one-hot rows
/// (multiclass) or the values (regression).
fn encode_targets(y: TrainTarget<'_>, n: usize) -> (Output, Array2<f64>) {
    match y {
        TrainTarget::Classes {
            codes,
            n_classes: 2,
        } => (
            Output::Logistic,
            Array2::from_shape_fn((n, 1), |(i, _)| codes[i] as f64),
        ),
        TrainTarget::Classes { codes, n_classes } => (
            Output::Softmax,
            Array2::from_shape_fn((n, n_classes), |(i, c)| f64::from(codes[i] == c)),
        ),
        TrainTarget::Values(v) => (
            Output::Identity,
            Array2::from_shape_fn((n, 1), |(i, _)| v[i]),
        ),
    }
}

/// One batch's buffers, allocated once per fit for the largest batch: a smaller (last) batch
/// uses their first rows. Row-major, so those rows are one contiguous block.
struct Workspace {
    /// `activations[0]`: the batch's inputs; `activations[i + 1]`: layer i's outputs.
    activations: Vec<Array2<f64>>,
    targets: Array2<f64>,
    /// `deltas[i]`: the loss's gradient with respect to layer i's pre-activation.
    deltas: Vec<Array2<f64>>,
    weight_gradients: Vec<Array2<f64>>,
    bias_gradients: Vec<Array1<f64>>,
}

impl Workspace {
    /// `sizes`: the input width, each layer's width, then the output width.
    fn new(sizes: &[usize], batch: usize) -> Workspace {
        let outputs = sizes.last().copied().unwrap_or(0);
        Workspace {
            activations: sizes.iter().map(|&w| Array2::zeros((batch, w))).collect(),
            targets: Array2::zeros((batch, outputs)),
            deltas: sizes[1..]
                .iter()
                .map(|&w| Array2::zeros((batch, w)))
                .collect(),
            weight_gradients: sizes
                .windows(2)
                .map(|w| Array2::zeros((w[0], w[1])))
                .collect(),
            bias_gradients: sizes[1..].iter().map(|&w| Array1::zeros(w)).collect(),
        }
    }

    /// Copies the rows `chunk` of the inputs and targets to the first rows of the buffers.
    fn gather(&mut self, xs: &Array2<f64>, targets: &Array2<f64>, chunk: &[usize]) {
        for (to, from) in [(&mut self.activations[0], xs), (&mut self.targets, targets)] {
            for (mut to, &i) in to.rows_mut().into_iter().zip(chunk) {
                match (to.as_slice_mut(), from.row(i).to_slice()) {
                    (Some(to), Some(from)) => to.copy_from_slice(from),
                    _ => to.assign(&from.row(i)),
                }
            }
        }
    }
}

/// The first `rows` rows of a buffer.
fn top(buffer: &mut Array2<f64>, rows: usize) -> ArrayViewMut2<'_, f64> {
    buffer.slice_axis_mut(Axis(0), Slice::from(..rows))
}

impl MlpValidParams {
    /// One forward and backward pass over the batch in the first `rows` rows of `work`, and
    /// an Adam step; returns the batch's loss. The arithmetic is that of plain ndarray
    /// expressions (`x.dot(&w) + &b`, `mean_axis`, ...), into reused buffers, without a
    /// batch's allocations. Only the order of a sum can differ (ndarray may sum a one-column
    /// array's rows in another order): a fit can differ in the last bits, not more.
    fn train_batch(
        &self,
        layers: &mut [TrainLayer],
        work: &mut Workspace,
        rows: usize,
        output: Output,
        step: f64,
    ) -> f64 {
        let last = layers.len() - 1;
        for (i, layer) in layers.iter().enumerate() {
            let (inputs, outputs) = work.activations.split_at_mut(i + 1);
            let mut z = top(&mut outputs[0], rows);
            product(
                inputs[i].slice_axis(Axis(0), Slice::from(..rows)),
                layer.w.view(),
                &mut z,
            );
            // `x.dot(&w) + &b`, then the activation, in one pass over the product. One loop
            // per activation (not a match per value), so that each vectorizes.
            let b = layer.b.view();
            if i < last {
                match self.activation {
                    Activation::Relu => add_bias_then(&mut z, b, |v| Activation::Relu.apply(v)),
                    Activation::Logistic => add_bias_then(&mut z, b, logistic),
                    Activation::Tanh => add_bias_then(&mut z, b, f64::tanh),
                    Activation::Identity => add_bias_then(&mut z, b, |v| v),
                }
            } else {
                match output {
                    Output::Logistic => add_bias_then(&mut z, b, logistic),
                    Output::Softmax => {
                        add_bias_then(&mut z, b, |v| v);
                        for mut row in z.rows_mut() {
                            if let Some(s) = row.as_slice_mut() {
                                softmax_in_place(s);
                            }
                        }
                    }
                    Output::Identity => add_bias_then(&mut z, b, |v| v),
                }
            }
        }
        let n = rows as f64;
        let out = work.activations[last + 1].slice_axis(Axis(0), Slice::from(..rows));
        let targets = work.targets.slice_axis(Axis(0), Slice::from(..rows));
        let mut loss = data_loss(out, targets, output);
        let squared: f64 = layers
            .iter()
            .map(|l| l.w.iter().map(|w| w * w).sum::<f64>())
            .sum();
        loss += 0.5 * self.alpha * squared / n;

        // For each output/loss pair used here the gradient with respect to the output
        // layer's pre-activation is (prediction − target).
        ndarray::Zip::from(top(&mut work.deltas[last], rows))
            .and(out)
            .and(targets)
            .for_each(|d, &p, &t| *d = p - t);
        // Whether the bias gradient of the layer at hand already holds its delta's column sums
        // (the pass that made the delta summed it).
        let mut summed = false;
        for i in (0..layers.len()).rev() {
            let (before, from_here) = work.deltas.split_at_mut(i);
            let delta = from_here[0].slice_axis(Axis(0), Slice::from(..rows));
            let gw = &mut work.weight_gradients[i];
            let (gb_below, gb_here) = work.bias_gradients.split_at_mut(i);
            let gb = &mut gb_here[0];
            // mean_axis(Axis(0)): the rows summed in order, then divided.
            if !summed {
                column_sums(delta, gb);
            }
            let inputs = work.activations[i].slice_axis(Axis(0), Slice::from(..rows));
            let below = (i > 0).then(|| (top(&mut before[i - 1], rows), &mut gb_below[i - 1]));
            let w = layers[i].w.view();
            summed = match self.activation {
                Activation::Relu => backward(inputs, delta, w, gw, below, |a| {
                    Activation::Relu.derivative_from_output(a)
                }),
                Activation::Logistic => backward(inputs, delta, w, gw, below, |a| {
                    Activation::Logistic.derivative_from_output(a)
                }),
                Activation::Tanh => backward(inputs, delta, w, gw, below, |a| {
                    Activation::Tanh.derivative_from_output(a)
                }),
                Activation::Identity => backward(inputs, delta, w, gw, below, |_| 1.0),
            };
            ndarray::Zip::from(&mut *gw)
                .and(&layers[i].w)
                .for_each(|g, &w| *g = (*g + w * self.alpha) / n);
            gb.mapv_inplace(|v| v / n);
            layers[i].adam_step(gw, gb, step);
        }
        loss
    }
}

/// `z = f(z + b)`, `b` added to every row of the product `z`: `x.dot(&w) + &b` and the
/// activation `f` in one pass.
fn add_bias_then(z: &mut ArrayViewMut2<f64>, b: ArrayView1<f64>, f: impl Fn(f64) -> f64) {
    for mut row in z.rows_mut() {
        match (row.as_slice_mut(), b.as_slice()) {
            (Some(row), Some(b)) => row.iter_mut().zip(b).for_each(|(v, &b)| *v = f(*v + b)),
            _ => ndarray::Zip::from(&mut row)
                .and(&b)
                .for_each(|v, &b| *v = f(*v + b)),
        }
    }
}

/// `sums = Σ rows of a`, the rows added in order.
fn column_sums(a: ArrayView2<f64>, sums: &mut Array1<f64>) {
    sums.fill(0.0);
    for row in a.rows() {
        match (sums.as_slice_mut(), row.as_slice()) {
            (Some(sums), Some(row)) => sums.iter_mut().zip(row).for_each(|(s, &v)| *s += v),
            _ => *sums += &row,
        }
    }
}

/// A layer's backward pass: `gw = inputsᵀ · delta` and, below the first layer, the delta of
/// the layer beneath, `back = (delta · wᵀ) ∘ f'(inputs)`. A one-column `delta` (the output of
/// a network with one output) takes one pass over the inputs' rows for both, which also sums
/// `back`'s columns into the layer beneath's bias gradient; each value is computed as the
/// separate products and sums compute it. Wider layers use the general product. Returns
/// whether it summed `back`'s columns.
fn backward(
    inputs: ArrayView2<f64>,
    delta: ArrayView2<f64>,
    w: ArrayView2<f64>,
    gw: &mut Array2<f64>,
    mut below: Option<(ArrayViewMut2<f64>, &mut Array1<f64>)>,
    derivative: impl Fn(f64) -> f64,
) -> bool {
    let width = inputs.ncols();
    if delta.ncols() == 1 && width > 0 {
        let below_slices = match below.as_mut() {
            Some((back, sums)) => back.as_slice_mut().zip(sums.as_slice_mut()).map(Some),
            None => Some(None),
        };
        if let (Some(a), Some(gw), Some(w), Some(below)) = (
            inputs.as_slice(),
            gw.as_slice_mut(),
            w.as_slice(),
            below_slices,
        ) {
            gw.fill(0.0);
            let a_rows = a.chunks_exact(width).zip(delta.column(0));
            let Some((back, sums)) = below else {
                for (a, &d) in a_rows {
                    gw.iter_mut().zip(a).for_each(|(g, &a)| *g += d * a);
                }
                return false;
            };
            sums.fill(0.0);
            for ((a, &d), back) in a_rows.zip(back.chunks_exact_mut(width)) {
                let cells = gw.iter_mut().zip(a).zip(w).zip(back).zip(sums.iter_mut());
                for ((((g, &a), &w), b), s) in cells {
                    *g += d * a;
                    *b = d * w * derivative(a);
                    *s += *b;
                }
            }
            return true;
        }
    }
    product(inputs.t(), delta, &mut gw.view_mut());
    if let Some((mut back, _)) = below {
        product(delta, w.t(), &mut back);
        ndarray::Zip::from(&mut back)
            .and(&inputs)
            .for_each(|d, &a| *d *= derivative(a));
    }
    false
}

/// `c = a · b`. A one-column `b` or a one-column `a` (the output layer of a network with one
/// output) is a vector loop: matrixmultiply would pack whole matrices for a product that
/// small, and fill only a quarter of its kernel.
fn product(a: ArrayView2<f64>, b: ArrayView2<f64>, c: &mut ArrayViewMut2<f64>) {
    if b.ncols() == 1 && a.is_standard_layout() {
        let b = b.column(0);
        for (row, c) in a.rows().into_iter().zip(c.column_mut(0)) {
            *c = row.dot(&b);
        }
    } else if b.ncols() == 1 && a.t().is_standard_layout() {
        // `a` is the transpose of a row-major matrix: add up its columns (aᵀ's rows).
        let mut c = c.column_mut(0);
        c.fill(0.0);
        for (column, &w) in a.t().rows().into_iter().zip(b.column(0)) {
            c.scaled_add(w, &column);
        }
    } else if a.ncols() == 1 {
        let b = b.row(0);
        for (mut row, &v) in c.rows_mut().into_iter().zip(a.column(0)) {
            ndarray::Zip::from(&mut row)
                .and(&b)
                .for_each(|c, &b| *c = v * b);
        }
    } else {
        general_mat_mul(1.0, &a, &b, 0.0, c);
    }
}

/// Mean loss of a batch: log-loss (binary), cross-entropy (multiclass), half squared error.
fn data_loss(out: ArrayView2<f64>, y: ArrayView2<f64>, output: Output) -> f64 {
    let rows = out.nrows() as f64;
    let clip = |p: f64| p.clamp(1e-15, 1.0 - 1e-15);
    let total: f64 = match output {
        Output::Logistic => ndarray::Zip::from(&out).and(&y).fold(0.0, |s, &p, &t| {
            s - (t * clip(p).ln() + (1.0 - t) * (1.0 - clip(p)).ln())
        }),
        // A zero target adds nothing (`0 × ln p` is a zero): only the row's own class takes a
        // logarithm, and the sum is the same to the bit.
        Output::Softmax => ndarray::Zip::from(&out).and(&y).fold(0.0, |s, &p, &t| {
            if t == 0.0 {
                s
            } else {
                s - t * clip(p).ln()
            }
        }),
        Output::Identity => {
            ndarray::Zip::from(&out)
                .and(&y)
                .fold(0.0, |s, &p, &t| s + (p - t) * (p - t))
                / 2.0
        }
    };
    total / rows
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn hyperparameters_parse_like_the_original_search_space() {
        let hp = HyperParams::from_pairs([
            ("hidden-layer-sizes", "50,50"),
            ("activation", "logistic"),
            ("learning-rate-init", "0.01"),
            ("alpha", "1000"),
            ("max-iter", "500"),
        ]);
        let p = MlpParams::from_hyperparams(&hp).unwrap();
        assert_eq!(p.hidden_layer_sizes, [50, 50]);
        assert_eq!(p.activation, Activation::Logistic);
        assert_eq!(p.max_iter, 500);
        assert_eq!(
            MlpParams::from_hyperparams(&HyperParams::default()).unwrap(),
            MlpParams::default()
        );
        assert_eq!(
            parse_sizes("(50, 50)").unwrap(),
            parse_sizes("50,50").unwrap()
        );
        for (name, value, message) in [
            (
                "hidden-layer-sizes",
                "50,x",
                "hyperparameter `hidden-layer-sizes`: `50,x` is not a comma-separated list of layer sizes ≥ 1",
            ),
            (
                "activation",
                "softplus",
                "hyperparameter `activation`: `softplus` is not `relu`, `logistic`, `tanh` or `identity`",
            ),
            ("alpha", "-1", "hyperparameter `alpha`: -1 must be a number ≥ 0"),
            ("max-iter", "0", "hyperparameter `max-iter`: must be at least 1"),
        ] {
            let err = MlpParams::from_hyperparams(&HyperParams::from_pairs([(name, value)]))
                .and_then(ParamGuard::check)
                .unwrap_err();
            assert_eq!(err.to_string(), message);
        }
    }

    #[test]
    fn products_with_one_column_equal_the_general_product() {
        let a = Array2::from_shape_fn((7, 5), |(i, j)| ((i * 5 + j) as f64 * 0.37).sin());
        let column = Array2::from_shape_fn((5, 1), |(i, _)| 0.5 - i as f64 * 0.3);
        let row = Array2::from_shape_fn((1, 4), |(_, j)| 1.0 + j as f64);
        let tall = Array2::from_shape_fn((7, 1), |(i, _)| i as f64 - 3.0);
        let general = |a: ArrayView2<f64>, b: ArrayView2<f64>| {
            let mut c = Array2::zeros((a.nrows(), b.ncols()));
            general_mat_mul(1.0, &a, &b, 0.0, &mut c);
            c
        };
        // (row-major a) · column, (transposed a) · column, column · row.
        let cases = [
            (a.view(), column.view()),
            (a.t(), tall.view()),
            (tall.view(), row.view()),
        ];
        for (x, y) in cases {
            let mut c = Array2::from_elem((x.nrows(), y.ncols()), f64::NAN);
            product(x, y, &mut c.view_mut());
            let expected = general(x, y);
            assert!(
                c.iter().zip(&expected).all(|(c, e)| (c - e).abs() < 1e-12),
                "{c} against {expected}"
            );
        }
    }

    #[test]
    fn fused_passes_equal_the_separate_products() {
        let a = Array2::from_shape_fn((7, 5), |(i, j)| ((i * 5 + j) as f64 * 0.37).sin());
        let relu = |v: f64| Activation::Relu.apply(v);
        // The bias and the activation after a product: to the bit, `f(x.dot(&w) + &b)`.
        let b = ndarray::arr1(&[0.25, -1.0, 3.0, 0.5, -0.125]);
        let mut z = a.clone();
        add_bias_then(&mut z.view_mut(), b.view(), relu);
        assert_eq!(z, (&a + &b).mapv(relu));
        let mut sums = Array1::from_elem(5, f64::NAN);
        column_sums(a.view(), &mut sums);
        assert_eq!(sums, a.sum_axis(Axis(0)));
        // A one-column delta's backward pass: to the bit, the two products and the derivative.
        let delta = Array2::from_shape_fn((7, 1), |(i, _)| i as f64 * 0.3 - 1.0);
        let w = Array2::from_shape_fn((5, 1), |(i, _)| 0.5 - i as f64 * 0.2);
        let derivative = |v: f64| Activation::Logistic.derivative_from_output(v);
        let (mut gw, mut back) = (Array2::from_elem((5, 1), f64::NAN), Array2::zeros((7, 5)));
        let mut sums = Array1::from_elem(5, f64::NAN);
        let below = Some((back.view_mut(), &mut sums));
        assert!(backward(
            a.view(),
            delta.view(),
            w.view(),
            &mut gw,
            below,
            derivative
        ));
        let (mut gw_apart, mut back_apart) = (Array2::zeros((5, 1)), Array2::zeros((7, 5)));
        product(a.t(), delta.view(), &mut gw_apart.view_mut());
        product(delta.view(), w.t(), &mut back_apart.view_mut());
        back_apart.zip_mut_with(&a, |d, &a| *d *= derivative(a));
        let sums_apart = back_apart.sum_axis(Axis(0));
        assert_eq!((gw, back, sums), (gw_apart, back_apart, sums_apart));
        // A wider delta takes the general products.
        let delta = Array2::from_shape_fn((7, 2), |(i, j)| (i + j) as f64 * 0.1);
        let w = Array2::from_shape_fn((5, 2), |(i, j)| (i * j) as f64 * 0.1 - 0.2);
        let mut gw = Array2::from_elem((5, 2), f64::NAN);
        assert!(!backward(
            a.view(),
            delta.view(),
            w.view(),
            &mut gw,
            None,
            derivative
        ));
        let mut expected = Array2::zeros((5, 2));
        general_mat_mul(1.0, &a.t(), &delta, 0.0, &mut expected);
        assert!(gw.iter().zip(&expected).all(|(g, e)| (g - e).abs() < 1e-12));
    }

    #[test]
    fn learns_xor_which_no_linear_model_can() {
        let x = array![[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]];
        let x = ndarray::concatenate(Axis(0), &[x.view(); 25]).unwrap();
        let codes: Vec<usize> = (0..100).map(|i| [0, 1, 1, 0][i % 4]).collect();
        let params = MlpParams {
            learning_rate_init: 0.01,
            max_iter: 500,
            ..MlpParams::default()
        }
        .check()
        .unwrap();
        let Fitted::NeuralNet(m) = params
            .fit(
                x.view(),
                TrainTarget::Classes {
                    codes: &codes,
                    n_classes: 2,
                },
                7,
            )
            .unwrap()
        else {
            panic!("not an MLP")
        };
        let mut out = [0.0; 2];
        for (row, &c) in x.rows().into_iter().zip(&codes).take(4) {
            m.predict_row(row.as_slice().unwrap(), &mut out);
            assert!(out[c] > 0.9, "row {row} → {out:?}, want class {c}");
        }
    }

    /// A fit taken an epoch a step on some rows of a matrix is the fit on a copy of those
    /// rows, to the bit, whether it stops early or runs every epoch; bad rows and targets are
    /// refused.
    #[test]
    fn a_stepwise_fit_on_rows_is_the_fit_on_their_copy() {
        let x = Array2::from_shape_fn((120, 3), |(i, j)| {
            ((i * (j + 2) * 5) % 17) as f64 - j as f64
        });
        let rows: Vec<usize> = (0..120).filter(|i| i % 4 != 1).rev().collect();
        let copy = x.select(Axis(0), &rows);
        let codes: Vec<usize> = rows
            .iter()
            .map(|&r| usize::from(x[[r, 0]] > x[[r, 1]]))
            .collect();
        let values: Vec<f64> = rows.iter().map(|&r| 2.0 * x[[r, 2]] + 40.0).collect();
        let classes = TrainTarget::Classes {
            codes: &codes,
            n_classes: 2,
        };
        for (max_iter, y) in [(30, classes), (400, TrainTarget::Values(&values))] {
            let params = MlpParams {
                hidden_layer_sizes: vec![6],
                learning_rate_init: 0.01,
                max_iter,
                ..MlpParams::default()
            }
            .check()
            .unwrap();
            let mut fit = params.stepwise(x.view(), &rows, y, 3).unwrap().unwrap();
            let mut steps = 1;
            while fit.step() {
                steps += 1;
            }
            // Standardizing, then one step an epoch: all of them, or fewer when the loss
            // stops improving.
            if max_iter == 30 {
                assert_eq!(steps, 1 + 30);
            } else {
                assert!(steps < 1 + 400, "{steps} steps");
            }
            assert_eq!(
                fit.finish().unwrap(),
                params.fit(copy.view(), y, 3).unwrap()
            );
        }
        let params = MlpParams::default().check().unwrap();
        let short = params.fit(x.view(), classes, 3).unwrap_err().to_string();
        assert!(short.contains("90 targets for 120 rows"), "{short}");
        let err = params
            .stepwise(x.view(), &[4, 120], classes, 3)
            .unwrap()
            .err()
            .unwrap();
        assert!(
            err.to_string().contains("row 120 is not below 120"),
            "{err}"
        );
        let mismatched = params
            .stepwise(x.view(), &rows[..5], classes, 3)
            .unwrap()
            .unwrap();
        let err = mismatched.finish().unwrap_err().to_string();
        assert!(err.contains("90 targets for 5 rows"), "{err}");
    }

    #[test]
    fn regression_fits_a_line_on_raw_scale() {
        let x = Array2::from_shape_fn((200, 1), |(i, _)| i as f64 * 10.0);
        let y: Vec<f64> = (0..200).map(|i| 3.0 * i as f64 + 5.0).collect();
        let params = MlpParams {
            learning_rate_init: 0.01,
            max_iter: 1000,
            activation: Activation::Identity,
            ..MlpParams::default()
        }
        .check()
        .unwrap();
        let fitted = params.fit(x.view(), TrainTarget::Values(&y), 1).unwrap();
        let mut out = [0.0];
        fitted.predictor().predict_row(&[1000.0], &mut out);
        assert!((out[0] - 305.0).abs() < 5.0, "predicted {}", out[0]);
    }

    #[test]
    fn default_network_fits_a_target_far_from_zero() {
        // y around 5,000: with the target unscaled, 200 epochs of Adam at 0.001 leave the
        // output near where it started (R² far below 0).
        let x = Array2::from_shape_fn((400, 1), |(i, _)| i as f64 / 400.0 * 6.0 - 3.0);
        let y: Vec<f64> = x
            .iter()
            .map(|&v| 5000.0 + 300.0 * v + 100.0 * v.sin())
            .collect();
        let params = MlpParams::default().check().unwrap();
        let fitted = params.fit(x.view(), TrainTarget::Values(&y), 1).unwrap();
        let mean = y.iter().sum::<f64>() / y.len() as f64;
        let (mut residual, mut total) = (0.0, 0.0);
        let mut out = [0.0];
        for (row, &target) in x.rows().into_iter().zip(&y) {
            fitted
                .predictor()
                .predict_row(row.as_slice().unwrap(), &mut out);
            residual += (out[0] - target).powi(2);
            total += (target - mean).powi(2);
        }
        let r2 = 1.0 - residual / total;
        assert!(r2 > 0.95, "R² {r2}");
    }

    fn reload(mlp: &Mlp) -> std::result::Result<Fitted, String> {
        let bytes = Fitted::NeuralNet(mlp.clone()).payload().unwrap();
        Fitted::from_payload("model.json", &bytes).map_err(|e| e.to_string())
    }

    /// 2 inputs → 3 hidden → 3 softmax outputs.
    fn network() -> Mlp {
        Mlp {
            means: vec![0.0; 2],
            scales: vec![1.0; 2],
            activation: Activation::Relu,
            output: Output::Softmax,
            layers: vec![
                Layer {
                    n_in: 2,
                    n_out: 3,
                    weights: vec![0.1; 6],
                    biases: vec![0.0; 3],
                },
                Layer {
                    n_in: 3,
                    n_out: 3,
                    weights: vec![0.2; 9],
                    biases: vec![0.0; 3],
                },
            ],
        }
    }

    #[test]
    fn matrices_not_matching_their_layer_sizes_are_refused_at_load() {
        let fitted = reload(&network()).unwrap();
        assert_eq!(fitted.n_outputs(), Some(3));
        assert!(fitted.check_width(2).is_ok());
        assert!(fitted
            .check_width(5)
            .unwrap_err()
            .to_string()
            .contains("takes 2 columns but rows have 5"));

        let mut short = network();
        short.layers[1].weights.truncate(4);
        let err = reload(&short).unwrap_err();
        assert!(err.contains("layer 1: 4 weights for 3 × 3"), "{err}");
        assert!(err.contains("malformed NeuralNet model"), "{err}");
        let mut unchained = network();
        unchained.layers[1].n_in = 2;
        unchained.layers[1].weights = vec![0.2; 6];
        assert!(reload(&unchained)
            .unwrap_err()
            .contains("layer 0 has 3 outputs but layer 1 takes 2 inputs"));
        let mut biases = network();
        biases.layers[0].biases.push(1.0);
        assert!(reload(&biases)
            .unwrap_err()
            .contains("4 biases for 3 outputs"));
        let mut scaling = network();
        scaling.means.push(0.0);
        assert!(reload(&scaling).unwrap_err().contains("3 means"));
        let mut none = network();
        none.layers.clear();
        assert!(reload(&none).unwrap_err().contains("no layers"));
    }

    #[test]
    fn an_output_layer_not_fitting_the_output_kind_is_refused_at_load() {
        let mut logistic = network();
        logistic.output = Output::Logistic;
        assert!(reload(&logistic)
            .unwrap_err()
            .contains("Logistic output cannot come from 3 units"));
        let mut one_class = network();
        one_class.layers[1].n_out = 1;
        one_class.layers[1].weights = vec![0.2; 3];
        one_class.layers[1].biases = vec![0.0];
        assert!(reload(&one_class)
            .unwrap_err()
            .contains("Softmax output cannot come from 1 units"));
    }
}
