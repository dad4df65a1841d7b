//! Classification and regression metrics, defined as scikit-learn defines them.
//!
//! Classification inputs are class codes (`0..k`) and a row-major probability matrix whose
//! column `c` is the probability of class `c`; for a binary task class 1 is the positive one.

use ndarray::ArrayView2;

/// Index of the largest probability of each row (the first one on ties, like `argmax`).
pub fn argmax_rows(proba: ArrayView2<f64>) -> Vec<usize> {
    proba
        .rows()
        .into_iter()
        .map(|row| {
            let mut best = 0;
            for (j, &p) in row.iter().enumerate() {
                if p > row[best] {
                    best = j;
                }
            }
            best
        })
        .collect()
}

/// Share of rows predicted right.
pub fn accuracy(truth: &[usize], predicted: &[usize]) -> f64 {
    let hits = truth.iter().zip(predicted).filter(|(a, b)| a == b).count();
    hits as f64 / truth.len().max(1) as f64
}

/// `matrix[true][predicted]` counts.
pub fn confusion(truth: &[usize], predicted: &[usize], k: usize) -> Vec<Vec<usize>> {
    let mut m = vec![vec![0; k]; k];
    for (&t, &p) in truth.iter().zip(predicted) {
        m[t][p] += 1;
    }
    m
}

/// Per-class precision, recall, F-beta and support (0 where undefined, as scikit-learn's
/// `zero_division="warn"` yields).
#[derive(Debug, Clone, PartialEq)]
pub struct PerClass {
    /// Per class: true positives over predicted.
    pub precision: Vec<f64>,
    /// Per class: true positives over support.
    pub recall: Vec<f64>,
    /// Per class: rows truly of the class.
    pub support: Vec<usize>,
    /// Per class: rows predicted as the class.
    pub predicted: Vec<usize>,
    /// Per class: rows of the class predicted as it.
    pub true_positives: Vec<usize>,
}

/// Counts and ratios per class for `k` classes.
pub fn per_class(truth: &[usize], predicted: &[usize], k: usize) -> PerClass {
    let m = confusion(truth, predicted, k);
    let tp: Vec<usize> = (0..k).map(|c| m[c][c]).collect();
    let support: Vec<usize> = m.iter().map(|row| row.iter().sum()).collect();
    let pred: Vec<usize> = (0..k).map(|c| m.iter().map(|row| row[c]).sum()).collect();
    PerClass {
        precision: (0..k).map(|c| ratio(tp[c], pred[c])).collect(),
        recall: (0..k).map(|c| ratio(tp[c], support[c])).collect(),
        support,
        predicted: pred,
        true_positives: tp,
    }
}

fn ratio(a: usize, b: usize) -> f64 {
    if b == 0 {
        0.0
    } else {
        a as f64 / b as f64
    }
}

/// The weighted harmonic mean of precision and recall (0 when both are 0).
pub fn f_beta(precision: f64, recall: f64, beta: f64) -> f64 {
    let b2 = beta * beta;
    let denom = b2 * precision + recall;
    if denom == 0.0 {
        0.0
    } else {
        (1.0 + b2) * precision * recall / denom
    }
}

/// How per-class values are combined.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Average {
    /// Class 1 only (binary tasks).
    Binary,
    /// From the counts pooled over classes.
    Micro,
    /// The unweighted mean over classes.
    Macro,
    /// Weighted by each class's support.
    Weighted,
}

fn combine(values: &[f64], pc: &PerClass, average: Average) -> f64 {
    match average {
        Average::Binary => values.get(1).copied().unwrap_or(0.0),
        Average::Macro => values.iter().sum::<f64>() / values.len().max(1) as f64,
        Average::Weighted => {
            let total: usize = pc.support.iter().sum();
            values
                .iter()
                .zip(&pc.support)
                .map(|(v, &s)| v * s as f64)
                .sum::<f64>()
                / total.max(1) as f64
        }
        Average::Micro => unreachable!("micro averages are computed from totals"),
    }
}

/// scikit-learn's `precision_score`.
pub fn precision(pc: &PerClass, average: Average) -> f64 {
    match average {
        Average::Micro => ratio(pc.true_positives.iter().sum(), pc.predicted.iter().sum()),
        _ => combine(&pc.precision, pc, average),
    }
}

/// scikit-learn's `recall_score`.
pub fn recall(pc: &PerClass, average: Average) -> f64 {
    match average {
        Average::Micro => ratio(pc.true_positives.iter().sum(), pc.support.iter().sum()),
        _ => combine(&pc.recall, pc, average),
    }
}

/// scikit-learn's `fbeta_score`.
pub fn fbeta_score(pc: &PerClass, average: Average, beta: f64) -> f64 {
    match average {
        Average::Micro => f_beta(
            precision(pc, Average::Micro),
            recall(pc, Average::Micro),
            beta,
        ),
        _ => {
            let f: Vec<f64> = pc
                .precision
                .iter()
                .zip(&pc.recall)
                .map(|(&p, &r)| f_beta(p, r, beta))
                .collect();
            combine(&f, pc, average)
        }
    }
}

/// Jaccard index of class 1 (binary tasks): tp / (tp + fp + fn).
pub fn jaccard_binary(pc: &PerClass) -> f64 {
    let tp = pc.true_positives[1];
    ratio(tp, pc.support[1] + pc.predicted[1] - tp)
}

/// Share of rows whose true class is among the `k` most probable ones.
pub fn top_k_accuracy(truth: &[usize], proba: ArrayView2<f64>, k: usize) -> f64 {
    let hits = truth
        .iter()
        .zip(proba.rows())
        .filter(|(&t, row)| {
            let above = row
                .iter()
                .enumerate()
                .filter(|&(j, &p)| p > row[t] || (p == row[t] && j < t))
                .count();
            above < k
        })
        .count();
    hits as f64 / truth.len().max(1) as f64
}

/// Area under the ROC curve of `scores` for `positive` rows (ties count one half), or `None`
/// when only one kind of row is present.
pub fn roc_auc(positive: &[bool], scores: &[f64]) -> Option<f64> {
    let n_pos = positive.iter().filter(|&&p| p).count();
    let n_neg = positive.len() - n_pos;
    if n_pos == 0 || n_neg == 0 {
        return None;
    }
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]));
    // Sum of the (average, 1-based) ranks of the positives: Mann–Whitney U.
    let mut rank_sum = 0.0;
    let mut i = 0;
    while i < order.len() {
        let mut j = i;
        while j + 1 < order.len() && scores[order[j + 1]] == scores[order[i]] {
            j += 1;
        }
        let avg_rank = (i + j) as f64 / 2.0 + 1.0;
        for &r in &order[i..=j] {
            if positive[r] {
                rank_sum += avg_rank;
            }
        }
        i = j + 1;
    }
    let u = rank_sum - (n_pos * (n_pos + 1)) as f64 / 2.0;
    Some(u / (n_pos as f64 * n_neg as f64))
}

/// Average precision (scikit-learn's step-wise sum, no interpolation).
pub fn average_precision(positive: &[bool], scores: &[f64]) -> Option<f64> {
    let curve = ThresholdCounts::new(positive, scores)?;
    let total_pos = curve.total_pos as f64;
    let mut ap = 0.0;
    let mut prev_recall = 0.0;
    for (&tp, &fp) in curve.tps.iter().zip(&curve.fps) {
        let recall = tp as f64 / total_pos;
        let precision = ratio(tp, tp + fp);
        ap += (recall - prev_recall) * precision;
        prev_recall = recall;
    }
    Some(ap)
}

/// True and false positives when predicting positive at each distinct score, from the
/// highest threshold down.
pub struct ThresholdCounts {
    /// The distinct scores, highest first.
    pub thresholds: Vec<f64>,
    /// Positives scored at or above each threshold.
    pub tps: Vec<usize>,
    /// Negatives scored at or above each threshold.
    pub fps: Vec<usize>,
    /// Positives in all.
    pub total_pos: usize,
    /// Negatives in all.
    pub total_neg: usize,
}

impl ThresholdCounts {
    /// The counts; `None` without a positive row.
    pub fn new(positive: &[bool], scores: &[f64]) -> Option<Self> {
        let total_pos = positive.iter().filter(|&&p| p).count();
        let total_neg = positive.len() - total_pos;
        if total_pos == 0 {
            return None;
        }
        let mut order: Vec<usize> = (0..scores.len()).collect();
        order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
        let (mut thresholds, mut tps, mut fps) = (Vec::new(), Vec::new(), Vec::new());
        let (mut tp, mut fp) = (0, 0);
        for (idx, &r) in order.iter().enumerate() {
            if positive[r] {
                tp += 1;
            } else {
                fp += 1;
            }
            let last_of_tie = order
                .get(idx + 1)
                .is_none_or(|&next| scores[next] != scores[r]);
            if last_of_tie {
                thresholds.push(scores[r]);
                tps.push(tp);
                fps.push(fp);
            }
        }
        Some(ThresholdCounts {
            thresholds,
            tps,
            fps,
            total_pos,
            total_neg,
        })
    }
}

/// Mean over classes of one-vs-rest AUC; weighted by class support when `weighted`.
pub fn roc_auc_ovr(truth: &[usize], proba: ArrayView2<f64>, weighted: bool) -> Option<f64> {
    let k = proba.ncols();
    let mut sum = 0.0;
    let mut weight_sum = 0.0;
    for c in 0..k {
        let positive: Vec<bool> = truth.iter().map(|&t| t == c).collect();
        let scores: Vec<f64> = proba.column(c).to_vec();
        let w = if weighted {
            positive.iter().filter(|&&p| p).count() as f64
        } else {
            1.0
        };
        sum += w * roc_auc(&positive, &scores)?;
        weight_sum += w;
    }
    Some(sum / weight_sum)
}

/// Hand & Till's one-vs-one AUC: the mean over class pairs of the two directed AUCs;
/// weighted by the pair's share of rows when `weighted`.
pub fn roc_auc_ovo(truth: &[usize], proba: ArrayView2<f64>, weighted: bool) -> Option<f64> {
    let k = proba.ncols();
    let (mut sum, mut weight_sum) = (0.0, 0.0);
    for a in 0..k {
        for b in a + 1..k {
            let rows: Vec<usize> = (0..truth.len())
                .filter(|&i| truth[i] == a || truth[i] == b)
                .collect();
            let is_a: Vec<bool> = rows.iter().map(|&i| truth[i] == a).collect();
            let is_b: Vec<bool> = is_a.iter().map(|&x| !x).collect();
            let pa: Vec<f64> = rows.iter().map(|&i| proba[[i, a]]).collect();
            let pb: Vec<f64> = rows.iter().map(|&i| proba[[i, b]]).collect();
            let pair = (roc_auc(&is_a, &pa)? + roc_auc(&is_b, &pb)?) / 2.0;
            let w = if weighted { rows.len() as f64 } else { 1.0 };
            sum += w * pair;
            weight_sum += w;
        }
    }
    Some(sum / weight_sum)
}

/// Macro mean over classes of one-vs-rest average precision.
pub fn average_precision_ovr(truth: &[usize], proba: ArrayView2<f64>) -> Option<f64> {
    let k = proba.ncols();
    let mut sum = 0.0;
    for c in 0..k {
        let positive: Vec<bool> = truth.iter().map(|&t| t == c).collect();
        sum += average_precision(&positive, &proba.column(c).to_vec())?;
    }
    Some(sum / k as f64)
}

/// scikit-learn's `r2_score`.
pub fn r2(truth: &[f64], predicted: &[f64]) -> f64 {
    let mean = truth.iter().sum::<f64>() / truth.len().max(1) as f64;
    let ss_res: f64 = truth
        .iter()
        .zip(predicted)
        .map(|(t, p)| (t - p).powi(2))
        .sum();
    let ss_tot: f64 = truth.iter().map(|t| (t - mean).powi(2)).sum();
    if ss_tot == 0.0 {
        // scikit-learn: 1 for a perfect fit of a constant target, else 0.
        return if ss_res == 0.0 { 1.0 } else { 0.0 };
    }
    1.0 - ss_res / ss_tot
}

/// Mean of the squared errors.
pub fn mean_squared_error(truth: &[f64], predicted: &[f64]) -> f64 {
    truth
        .iter()
        .zip(predicted)
        .map(|(t, p)| (t - p).powi(2))
        .sum::<f64>()
        / truth.len().max(1) as f64
}

/// Mean of the absolute errors.
pub fn mean_absolute_error(truth: &[f64], predicted: &[f64]) -> f64 {
    truth
        .iter()
        .zip(predicted)
        .map(|(t, p)| (t - p).abs())
        .sum::<f64>()
        / truth.len().max(1) as f64
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    // Expected values computed with scikit-learn 1.5.2.
    #[test]
    fn binary_metrics_match_scikit_learn() {
        let truth = [0, 0, 1, 1, 1, 0];
        let scores = [0.1, 0.4, 0.35, 0.8, 0.4, 0.2];
        let positive: Vec<bool> = truth.iter().map(|&t| t == 1).collect();
        // roc_auc_score -> 0.8333333333, average_precision_score -> 0.8055555556
        assert!((roc_auc(&positive, &scores).unwrap() - 0.833_333_333_3).abs() < 1e-9);
        assert!((average_precision(&positive, &scores).unwrap() - 0.805_555_555_6).abs() < 1e-9);
        let predicted = [0, 1, 0, 1, 1, 0];
        let pc = per_class(&truth, &predicted, 2);
        assert_eq!(precision(&pc, Average::Binary), 2.0 / 3.0);
        assert_eq!(recall(&pc, Average::Binary), 2.0 / 3.0);
        assert!((fbeta_score(&pc, Average::Binary, 1.0) - 2.0 / 3.0).abs() < 1e-12);
        assert_eq!(jaccard_binary(&pc), 0.5);
        assert!(roc_auc(&[true, true], &[0.1, 0.2]).is_none());
    }

    #[test]
    fn multiclass_metrics_match_scikit_learn() {
        let truth = [0, 1, 2, 2, 1, 0, 2];
        let proba = array![
            [0.7, 0.2, 0.1],
            [0.3, 0.4, 0.3],
            [0.2, 0.2, 0.6],
            [0.1, 0.6, 0.3],
            [0.5, 0.3, 0.2],
            [0.6, 0.1, 0.3],
            [0.2, 0.3, 0.5]
        ];
        let p = proba.view();
        // roc_auc_score(multi_class="ovr") -> 0.8888888889; weighted -> 0.8928571429
        // multi_class="ovo" -> 0.9027777778; ovo weighted -> 0.8958333333
        assert!((roc_auc_ovr(&truth, p, false).unwrap() - 0.888_888_888_9).abs() < 1e-9);
        assert!((roc_auc_ovr(&truth, p, true).unwrap() - 0.892_857_142_9).abs() < 1e-9);
        assert!((roc_auc_ovo(&truth, p, false).unwrap() - 0.902_777_777_8).abs() < 1e-9);
        assert!((roc_auc_ovo(&truth, p, true).unwrap() - 0.895_833_333_3).abs() < 1e-9);
        let predicted = argmax_rows(p);
        assert_eq!(predicted, [0, 1, 2, 1, 0, 0, 2]);
        let pc = per_class(&truth, &predicted, 3);
        // f1_score(average=...) macro 0.7, weighted 0.7142857143, micro 0.7142857143
        assert!((fbeta_score(&pc, Average::Macro, 1.0) - 0.7).abs() < 1e-9);
        assert!((fbeta_score(&pc, Average::Weighted, 1.0) - 0.714_285_714_3).abs() < 1e-9);
        assert!((fbeta_score(&pc, Average::Micro, 1.0) - 0.714_285_714_3).abs() < 1e-9);
        // top_k_accuracy_score(k=2) -> 1.0 ; k=1 equals accuracy
        assert_eq!(top_k_accuracy(&truth, p, 2), 1.0);
        assert_eq!(top_k_accuracy(&truth, p, 1), accuracy(&truth, &predicted));
        // average_precision_score (macro one-vs-rest) -> 0.7888888889
        assert!((average_precision_ovr(&truth, p).unwrap() - 0.788_888_888_9).abs() < 1e-9);
    }

    #[test]
    fn regression_metrics() {
        let t = [3.0, -0.5, 2.0, 7.0];
        let p = [2.5, 0.0, 2.0, 8.0];
        assert!((r2(&t, &p) - 0.948_608_137_0).abs() < 1e-9);
        assert_eq!(mean_squared_error(&t, &p), 0.375);
        assert_eq!(mean_absolute_error(&t, &p), 0.5);
    }
}
