//! The fit as a whole, and the pieces it is made of.

use ndarray::Array2;

use super::super::bins::Binning;
use super::binned::{Binned, Sums};
use super::dart::Dropout;
use super::grower::{stable_partition, Grower};
use super::objective::GRADIENT_ROWS;
use super::split::{maximum, MIN_GAIN};
use super::*;

fn config() -> Config {
    Config {
        rounds: 20,
        learning_rate: 0.3,
        max_depth: Some(3),
        max_leaves: None,
        min_child_weight: 1.0,
        min_child_samples: 1,
        subsample: 1.0,
        colsample_bytree: 1.0,
        min_split_gain: 0.0,
        prune_after: true,
        reg_alpha: 0.0,
        reg_lambda: 1.0,
        goss: false,
        softmax_hessian: SoftmaxHessian::XGBoost,
        dart: None,
        binning: Binning::EqualCounts,
        ties: Ties::XGBoost,
    }
}

/// 200 rows of two features, a wave in the first and a slope in the second.
fn wave() -> (Array2<f64>, Vec<f64>) {
    let x = Array2::from_shape_fn((200, 2), |(i, j)| ((i * (j + 1) * 37) % 200) as f64);
    let y = (0..200)
        .map(|i| (x[[i, 0]] / 20.0).sin() * 5.0 + x[[i, 1]] / 50.0)
        .collect();
    (x, y)
}

/// Each feature's cells, summed row by row with no histogram code, against `histogram`'s,
/// over every row and over a subset; with and without column sampling.
fn assert_histograms_sum_their_rows(x: &Array2<f64>, blocks: bool) {
    let data = Binned::of(x.view(), None, Binning::EqualCounts);
    assert_eq!(data.blocks, blocks, "layout");
    for colsample in [1.0, 0.5] {
        let config = Config {
            colsample_bytree: colsample,
            ..config()
        };
        let mut grower = Grower::new(&data, &config, 7);
        grower.grads = (0..x.nrows())
            .map(|r| Gh {
                g: (r as f64 * 0.37).sin(),
                h: 1.0 + (r % 3) as f64,
            })
            .collect();
        let all: Vec<u32> = (0..x.nrows() as u32).collect();
        let some: Vec<u32> = all.iter().copied().filter(|r| r % 3 != 1).collect();
        for rows in [&all, &some] {
            let hist = grower.histogram(rows, None);
            let mut split = data.empty_histogram();
            grower.fill_parts(rows, &grower.features, &mut split, 0, 3);
            assert_eq!(split, hist, "in three pieces on the pool");
            for &f in &grower.features {
                let mut expected = vec![Sums::default(); data.columns[f].bins()];
                for &r in rows.iter() {
                    expected[usize::from(data.code(r, f))].add(grower.grads[r as usize]);
                }
                let cells = data.cells(&hist, f);
                // The same additions in the same order, however the pool split the
                // features: equal to the bit.
                for (bin, (c, e)) in cells.iter().zip(&expected).enumerate() {
                    assert_eq!(c, e, "feature {f} bin {bin}");
                }
            }
        }
    }
}

#[test]
fn both_histogram_layouts_sum_their_rows() {
    // Many distinct values per feature: a block of 256 cells each.
    // 15,000 × 5 cells: every row's histogram is built in pieces of features on the pool,
    // the subset's in one piece.
    let n = 15_000;
    let wide = Array2::from_shape_fn((n, 5), |(r, f)| ((r * (f + 7)) % 1_009) as f64);
    assert_histograms_sum_their_rows(&wide, true);
    // Mostly two-valued features: the cells packed.
    let narrow = Array2::from_shape_fn((n, 6), |(r, f)| {
        if f == 0 {
            (r % 997) as f64
        } else {
            ((r >> f) & 1) as f64
        }
    });
    assert_histograms_sum_their_rows(&narrow, false);
}

#[test]
fn the_fit_is_the_same_to_the_bit_on_any_number_of_threads() {
    // Nodes large enough to be built in pieces, as many as the pool has threads or more;
    // with a thread to spare, each depth-wise level's leaves also split side by side.
    let n = 100_000;
    let x = Array2::from_shape_fn((n, 6), |(r, f)| ((r * (2 * f + 7)) % (301 + f)) as f64);
    let codes: Vec<usize> = (0..n)
        .map(|r| usize::from((x[[r, 0]] * 0.01).sin() + x[[r, 3]] / 300.0 > 0.6))
        .collect();
    let c = Config {
        rounds: 5,
        max_depth: Some(4),
        ..config()
    };
    let on = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        pool.install(|| {
            fit(
                x.view(),
                Target::Classes {
                    codes: &codes,
                    classes: 2,
                },
                &c,
                3,
            )
        })
    };
    let one = on(1);
    assert_eq!(on(2), one);
    assert_eq!(on(3), one);
}

#[test]
fn split_search_chooses_what_a_scan_bin_by_bin_chooses() {
    let n = 2_000;
    // Features of 50 to 256 bins: four searched side by side, then two with lanes left over.
    let x = Array2::from_shape_fn((n, 6), |(r, f)| ((r * (3 * f + 5)) % (50 + 97 * f)) as f64);
    let data = Binned::of(x.view(), None, Binning::EqualCounts);
    // Without the rows whose first feature lies in 10..20, a run of its bins holds none of
    // the node's rows: the tie rules choose among equal splits there.
    let rows: Vec<u32> = (0..n as u32)
        .filter(|&r| r % 5 != 2 && !(10.0..20.0).contains(&x[[r as usize, 0]]))
        .collect();
    // alpha 0 takes the branch-free score; alpha > 0 the soft threshold; min-child limits
    // leave some bins out.
    let limits = [
        (0.0, 1.0, 1.0, 0),
        (0.5, 1.0, 1.0, 0),
        (0.0, 0.0, 20.0, 0),
        (0.3, 0.0, 1e-3, 40),
    ];
    let cases = limits
        .iter()
        .flat_map(|&l| [(l, Ties::XGBoost), (l, Ties::LightGBM)]);
    for ((alpha, lambda, min_child_weight, min_child_samples), ties) in cases {
        let config = Config {
            reg_alpha: alpha,
            reg_lambda: lambda,
            min_child_weight,
            min_child_samples,
            ties,
            ..config()
        };
        let mut grower = Grower::new(&data, &config, 3);
        grower.grads = (0..n)
            .map(|r| Gh {
                g: ((r as f64) * 0.71).sin() + if r % 7 == 0 { 1.5 } else { 0.0 },
                h: 0.25 + 0.01 * (r % 11) as f64,
            })
            .collect();
        let hist = grower.histogram(&rows, None);
        let mut total = Sums::default();
        for &r in &rows {
            total.add(grower.grads[r as usize]);
        }
        let found = grower.best_split(&hist, total, rows.len());
        let first = data.cells(&hist, 0);
        assert!(first[..first.len() / 2].iter().any(|c| c.h == 0.0));
        // The scan, as each library makes it: XGBoost's from the lowest bin with gains as
        // `f32`, LightGBM's from the highest; a strictly larger gain wins, and of a run of
        // bins without rows only the lowest (XGBoost) or highest (LightGBM) is a split.
        let min_h = if min_child_samples > 0 {
            let rows_per_hessian = rows.len() as f64 / total.h;
            ((min_child_samples as f64 - 0.5) / rows_per_hessian).max(min_child_weight)
        } else {
            min_child_weight
        };
        let parent = grower.score(total);
        let mut expected: Option<(usize, usize, f64)> = None;
        for f in 0..data.features {
            let cells = data.cells(&hist, f);
            let mut lefts = Vec::new();
            let mut left = Sums::default();
            for cell in cells {
                left.add(Gh {
                    g: cell.g,
                    h: cell.h,
                });
                lefts.push(left);
            }
            let bins: Vec<usize> = match ties {
                Ties::XGBoost => (0..cells.len() - 1).collect(),
                Ties::LightGBM => (0..cells.len() - 1).rev().collect(),
            };
            let mut feature_best: Option<(usize, usize, f64)> = None;
            for bin in bins {
                let left = lefts[bin];
                let right = total.minus(left);
                let occupied = match ties {
                    Ties::XGBoost => cells[bin].h,
                    Ties::LightGBM => cells[bin + 1].h,
                };
                if occupied == 0.0 || left.h < min_h || right.h < min_h {
                    continue;
                }
                let mut gain = grower.score(left) + grower.score(right) - parent;
                if ties == Ties::XGBoost {
                    gain = f64::from(gain as f32);
                }
                if gain > MIN_GAIN && feature_best.is_none_or(|(_, _, g)| gain > g) {
                    feature_best = Some((f, bin, gain));
                }
            }
            if let Some(b) = feature_best {
                if expected.is_none_or(|(_, _, g)| b.2 > g) {
                    expected = Some(b);
                }
            }
        }
        let found = found.map(|c| (c.feature, usize::from(c.bin), c.gain));
        assert_eq!(
            found, expected,
            "alpha {alpha}, lambda {lambda}, min_h {min_h}, {ties:?}"
        );
        assert!(expected.is_some(), "this data has a split");
    }
}

#[test]
fn equal_splits_over_empty_bins_go_where_each_library_puts_them() {
    // One feature, values 0..30, a bin each; the node holds only 0..10 (gradient +1) and
    // 20..30 (−1), so every split from value 9 to value 19 parts its rows alike.
    let x = Array2::from_shape_fn((30, 1), |(r, _)| r as f64);
    let data = Binned::of(x.view(), None, Binning::EqualCounts);
    let rows: Vec<u32> = (0..30).filter(|r| !(10..20).contains(r)).collect();
    for (ties, bin, threshold) in [(Ties::XGBoost, 9, 9.5), (Ties::LightGBM, 19, 19.5)] {
        let config = Config {
            ties,
            min_child_weight: 0.0,
            ..config()
        };
        let mut grower = Grower::new(&data, &config, 3);
        grower.grads = (0..30)
            .map(|r| Gh {
                g: if r < 15 { 1.0 } else { -1.0 },
                h: 1.0,
            })
            .collect();
        let hist = grower.histogram(&rows, None);
        let mut total = Sums::default();
        rows.iter()
            .for_each(|&r| total.add(grower.grads[r as usize]));
        let best = grower.best_split(&hist, total, rows.len()).unwrap();
        assert_eq!(usize::from(best.bin), bin, "{ties:?}");
        assert_eq!(data.columns[0].edges[bin], threshold);
    }
}

#[test]
fn stable_partition_keeps_both_sides_in_order() {
    let mut rows = vec![1, 2, 3, 4, 5, 6, 7];
    let mut scratch = Vec::new();
    let kept = stable_partition(&mut rows, &mut scratch, |r| r % 3 == 0);
    assert_eq!((kept, &rows), (2, &vec![3, 6, 1, 2, 4, 5, 7]));
    // The scratch is longer than the next node's rows and holds the last one's.
    let kept = stable_partition(&mut rows[2..5], &mut scratch, |r| r != 2);
    assert_eq!((kept, rows), (2, vec![3, 6, 1, 4, 2, 5, 7]));
    // Across blocks: the sides of 200 rows, each in order.
    let mut rows: Vec<u32> = (0..200).rev().collect();
    let keep = |r: u32| r % 7 < 3;
    let (left, right): (Vec<u32>, Vec<u32>) = rows.iter().partition(|&&r| keep(r));
    let kept = stable_partition(&mut rows, &mut scratch, keep);
    assert_eq!(
        (kept, &rows[..kept], &rows[kept..]),
        (left.len(), &left[..], &right[..])
    );
}

#[test]
fn maximum_is_the_largest_value_at_any_length() {
    let values = [
        0.5,
        f64::NEG_INFINITY,
        -3.0,
        7.25,
        7.0,
        -0.0,
        2.0,
        7.25,
        1.0,
    ];
    for n in 0..=values.len() {
        let expected = values[..n]
            .iter()
            .copied()
            .fold(f64::NEG_INFINITY, f64::max);
        assert_eq!(maximum(&values[..n]), expected, "first {n}");
    }
}

#[test]
fn gradients_in_pieces_are_each_rows_own() {
    // More rows than a piece, and not a multiple of one; classes for softmax.
    let n = 2 * GRADIENT_ROWS + 123;
    let codes: Vec<usize> = (0..n).map(|r| (r * 7) % 3).collect();
    let binary: Vec<usize> = codes.iter().map(|&c| c % 2).collect();
    let values: Vec<f64> = (0..n).map(|r| (r as f64 * 0.3).sin() * 10.0).collect();
    let objectives = [
        Objective::Logistic(&binary),
        Objective::Softmax {
            codes: &codes,
            classes: 3,
            hessian_factor: 2.0,
            centred: true,
        },
        Objective::Squared(&values),
    ];
    for objective in objectives {
        let groups = objective.groups();
        let margins: Vec<f64> = (0..n * groups).map(|i| (i as f64 * 0.11).cos()).collect();
        let mut pieces = vec![Gh::default(); n * groups];
        objective.gradients(&margins, &mut pieces);
        let mut whole = vec![Gh::default(); n * groups];
        objective.gradients_from(0, &margins, &mut whole);
        assert_eq!(pieces, whole, "{groups} groups");
    }
}

#[test]
fn one_round_stump_has_newtons_leaf_values() {
    // y = 0 for x < 5, 10 otherwise: one split, leaves −G/(H+λ)·η around the mean 5.
    let x = Array2::from_shape_fn((10, 1), |(i, _)| i as f64);
    let y: Vec<f64> = (0..10).map(|i| if i < 5 { 0.0 } else { 10.0 }).collect();
    let c = Config {
        rounds: 1,
        max_depth: Some(1),
        ..config()
    };
    let model = fit(x.view(), Target::Values(&y), &c, 1);
    assert_eq!(model.base_margin, vec![5.0]);
    assert_eq!(model.trees.len(), 1);
    let tree = &model.trees[0];
    assert_eq!(tree.splits.len(), 1);
    assert_eq!(tree.splits[0].threshold, 4.5);
    // Left: G = 5·(5 − 0) = 25, H = 5 → −25/6·0.3.
    assert!(
        (tree.leaves[0] + 25.0 / 6.0 * 0.3).abs() < 1e-12,
        "{tree:?}"
    );
    assert!(
        (tree.leaves[1] - 25.0 / 6.0 * 0.3).abs() < 1e-12,
        "{tree:?}"
    );
    assert!(model.validate().is_ok());
}

#[test]
fn learns_classes_and_values_and_is_seeded() {
    let x = Array2::from_shape_fn((300, 3), |(i, j)| ((i * (j + 3) * 7919) % 101) as f64);
    let codes: Vec<usize> = (0..300)
        .map(|i| usize::from(x[[i, 0]] + x[[i, 1]] > 100.0) + usize::from(x[[i, 2]] > 70.0))
        .collect();
    for (leafwise, softmax) in [
        (false, SoftmaxHessian::XGBoost),
        (true, SoftmaxHessian::LightGBM),
    ] {
        let c = Config {
            rounds: 60,
            max_leaves: leafwise.then_some(8),
            max_depth: if leafwise { None } else { Some(4) },
            subsample: 0.8,
            colsample_bytree: 0.67,
            softmax_hessian: softmax,
            ..config()
        };
        let model = fit(
            x.view(),
            Target::Classes {
                codes: &codes,
                classes: 3,
            },
            &c,
            7,
        );
        assert!(model.validate().is_ok());
        assert_eq!((model.groups, model.trees.len()), (3, 180));
        let right = (0..300)
            .filter(|&i| {
                let p = model.predict(&x.row(i).to_vec());
                let best = (0..3).max_by(|&a, &b| p[a].total_cmp(&p[b])).unwrap();
                best == codes[i]
            })
            .count();
        assert!(right >= 285, "{right} of 300 (leaf-wise {leafwise})");
        if leafwise {
            assert!(model.trees.iter().all(|t| t.leaves.len() <= 8));
        }
        assert_eq!(
            model,
            fit(
                x.view(),
                Target::Classes {
                    codes: &codes,
                    classes: 3
                },
                &c,
                7
            ),
            "the same seed fits the same model"
        );
    }
    let binary: Vec<usize> = codes.iter().map(|&c| usize::from(c > 0)).collect();
    let c = Config {
        goss: true,
        ..config()
    };
    let model = fit(
        x.view(),
        Target::Classes {
            codes: &binary,
            classes: 2,
        },
        &c,
        3,
    );
    let right = (0..300)
        .filter(|&i| (model.predict(&x.row(i).to_vec())[1] > 0.5) == (binary[i] == 1))
        .count();
    assert!(right >= 285, "{right} of 300 (GOSS)");
}

#[test]
fn dropped_rounds_and_the_new_one_share_their_weight() {
    // Every earlier round dropped, every time: the rounds end up weighing the same.
    let always = Dart {
        drop_rate: 1.0,
        max_drop: None,
        skip_drop: 0.0,
        ..Dart::default()
    };
    let mut d = Dropout::new(always, 7);
    assert!(d.drop(0, 0.1).is_empty());
    assert_eq!(d.add_round(), 1.0);
    assert_eq!(d.drop(1, 0.1), vec![0]);
    assert_eq!(d.add_round(), 0.5);
    assert_eq!(d.normalize(0), 0.5);
    assert_eq!(d.drop(2, 0.1), vec![0, 1]);
    assert!((d.add_round() - 1.0 / 3.0).abs() < 1e-15);
    d.normalize(0);
    d.normalize(1);
    for f in &d.factors {
        assert!((f - 1.0 / 3.0).abs() < 1e-15, "{:?}", d.factors);
    }
    // LightGBM's tree weights follow: the shrinkage each round was added with, scaled.
    assert!((d.sum_weight - 0.1).abs() < 1e-15, "{}", d.sum_weight);
    // `max_drop` caps how many drop; XGBoost's mode scales by 1/(k + η) and k/(k + η).
    let mut d = Dropout::new(
        Dart {
            max_drop: Some(1),
            xgboost_dart_mode: true,
            ..always
        },
        7,
    );
    for round in 0..3 {
        let dropped = d.drop(round, 0.5);
        assert!(dropped.len() <= 1);
        d.add_round();
        dropped.iter().for_each(|&r| {
            d.normalize(r);
        });
    }
    assert!((d.factors[2] - 1.0 / 1.5).abs() < 1e-15, "{:?}", d.factors);
    assert!(
        (d.factors[0] - 1.0 / 1.5 / 1.5).abs() < 1e-15,
        "{:?}",
        d.factors
    );
}

#[test]
fn dart_without_drops_is_gbdt_and_its_drops_are_seeded() {
    let (x, y) = wave();
    let rows: Vec<Vec<f64>> = (0..200).map(|i| x.row(i).to_vec()).collect();
    let plain = fit(x.view(), Target::Values(&y), &config(), 1);
    let dart = |dart: Dart, seed| {
        let c = Config {
            dart: Some(dart),
            ..config()
        };
        fit(x.view(), Target::Values(&y), &c, seed)
    };
    // Skipping every drop: gbdt's trees, the starting margin moved into the first one.
    let never = dart(
        Dart {
            skip_drop: 1.0,
            ..Dart::default()
        },
        1,
    );
    assert_eq!(never.base_margin, vec![0.0]);
    for row in &rows {
        let (a, b) = (plain.predict(row)[0], never.predict(row)[0]);
        assert!((a - b).abs() < 1e-9, "{a} vs {b}");
    }
    for mode in [
        Dart::default(),
        Dart {
            uniform_drop: true,
            ..Dart::default()
        },
        Dart {
            xgboost_dart_mode: true,
            ..Dart::default()
        },
    ] {
        let model = dart(mode, 1);
        assert!(model.validate().is_ok());
        assert_eq!(model, dart(mode, 1), "the same seed drops the same rounds");
        assert_ne!(model, dart(mode, 2), "{mode:?}");
        assert_ne!(model.trees, plain.trees, "{mode:?}");
        // Still a fit: R² well above 0.
        let mean = y.iter().sum::<f64>() / 200.0;
        let (mut residual, mut total) = (0.0, 0.0);
        for (row, &target) in rows.iter().zip(&y) {
            residual += (model.predict(row)[0] - target).powi(2);
            total += (target - mean).powi(2);
        }
        assert!(residual < 0.2 * total, "{mode:?}: {residual} of {total}");
    }
}

#[test]
fn limits_hold_leaves_rows_and_gamma() {
    let (x, y) = wave();
    let leafwise = Config {
        rounds: 5,
        max_depth: None,
        max_leaves: Some(5),
        min_child_samples: 20,
        ..config()
    };
    let model = fit(x.view(), Target::Values(&y), &leafwise, 1);
    for tree in &model.trees {
        assert_eq!(tree.leaves.len(), 5, "{tree:?}");
    }
    // Every leaf of the first tree holds at least 20 of the rows.
    let mut counts = std::collections::HashMap::new();
    for i in 0..200 {
        let tree = &model.trees[0];
        let mut node = 0i32;
        while node >= 0 {
            let s = &tree.splits[node as usize];
            node = if x[[i, s.feature as usize]] <= s.threshold {
                s.left
            } else {
                s.right
            };
        }
        *counts.entry(node).or_insert(0) += 1;
    }
    assert!(counts.values().all(|&c| c >= 20), "{counts:?}");
    // A gamma above every gain prunes each tree to one leaf.
    let pruned = Config {
        min_split_gain: 1e12,
        ..config()
    };
    let model = fit(x.view(), Target::Values(&y), &pruned, 1);
    assert!(model
        .trees
        .iter()
        .all(|t| t.splits.is_empty() && t.leaves.len() == 1));
    let unpruned = fit(x.view(), Target::Values(&y), &config(), 1);
    assert!(unpruned
        .trees
        .iter()
        .all(|t| t.leaves.len() <= 8 && t.leaves.len() > 1));
}
