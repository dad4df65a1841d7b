//! Growing one tree: the rows it samples, its histograms, and its leaves' splits.

use std::sync::atomic::{AtomicUsize, Ordering};

use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

use super::super::bins::MAX_BINS;
use super::binned::{Binned, Histogram, Sums};
use super::grown::{Grown, Node};
use super::split::Candidate;
use super::{Config, Gh};

/// GOSS keeps the rows with this share of the largest gradients...
const GOSS_TOP: f64 = 0.2;
/// ...and samples this share of the rest (LightGBM's `top_rate` and `other_rate`).
const GOSS_OTHER: f64 = 0.1;

/// A node with at least this many row × feature cells builds its histogram in parallel.
const PARALLEL_CELLS: usize = 1 << 16;
/// Trees being grown at this moment in this process, whose threads are busy.
static GROWING: AtomicUsize = AtomicUsize::new(0);

/// Counts a tree in [`GROWING`] while it lives.
struct Growing;

impl Growing {
    fn start() -> Growing {
        GROWING.fetch_add(1, Ordering::Relaxed);
        Growing
    }
}

impl Drop for Growing {
    fn drop(&mut self) {
        GROWING.fetch_sub(1, Ordering::Relaxed);
    }
}

/// A leaf's split, for [`attach`].
struct LeafSplit {
    children: [Node; 2],
    /// Per child that may split further: its histogram and best split.
    next: [Option<(Histogram, Candidate)>; 2],
    /// Histograms no leaf needs any more.
    spare: [Option<Histogram>; 2],
}

/// A leaf waiting to split: its node index, histogram and best split.
type OpenLeaf = (usize, Histogram, Candidate);

/// Records leaf `id`'s split: its children take the next node indices, and those that may
/// split further join `open`.
fn attach(
    nodes: &mut Vec<Node>,
    open: &mut Vec<OpenLeaf>,
    spare: &mut Vec<Histogram>,
    id: usize,
    best: Candidate,
    split: LeafSplit,
) {
    let left = nodes.len();
    nodes[id].split = Some((best, left, left + 1));
    nodes.extend(split.children);
    for (child, next) in split.next.into_iter().enumerate() {
        if let Some((hist, best)) = next {
            open.push((left + child, hist, best));
        }
    }
    spare.extend(split.spare.into_iter().flatten());
}

/// The open leaves of the shallowest depth, taken out of `open`, in the order of their rows.
fn take_level(open: &mut Vec<OpenLeaf>, nodes: &[Node]) -> Vec<OpenLeaf> {
    let Some(depth) = open.iter().map(|o| nodes[o.0].depth).min() else {
        return Vec::new();
    };
    let (mut level, rest): (Vec<OpenLeaf>, Vec<OpenLeaf>) =
        open.drain(..).partition(|o| nodes[o.0].depth == depth);
    *open = rest;
    level.sort_by_key(|o| nodes[o.0].start);
    level
}

/// Threads of the pool no tree is growing on at this moment.
fn idle_threads() -> usize {
    rayon::current_num_threads().saturating_sub(GROWING.load(Ordering::Relaxed))
}

pub(super) struct Grower<'a> {
    pub(super) data: &'a Binned,
    pub(super) config: &'a Config,
    rng: ChaCha8Rng,
    /// The features this tree may split on, ascending.
    pub(super) features: Vec<usize>,
    /// The gradients this tree is grown from (GOSS scales some of them up).
    pub(super) grads: Vec<Gh>,
}

impl<'a> Grower<'a> {
    pub(super) fn new(data: &'a Binned, config: &'a Config, seed: u64) -> Grower<'a> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let p = data.columns.len();
        let mut features: Vec<usize> = (0..p).collect();
        if config.colsample_bytree < 1.0 {
            let keep = ((p as f64 * config.colsample_bytree).round() as usize).clamp(1, p);
            features.shuffle(&mut rng);
            features.truncate(keep);
            features.sort_unstable();
        }
        Grower {
            data,
            config,
            rng,
            features,
            grads: Vec::new(),
        }
    }

    /// The rows this tree grows from, ascending, and the gradients it reads.
    pub(super) fn sample_rows(&mut self, grads: Vec<Gh>, round: usize) -> Vec<u32> {
        let n = grads.len();
        self.grads = grads;
        let config = self.config;
        // LightGBM starts sampling only after 1 / learning-rate rounds.
        if config.goss && (round as f64) >= (1.0 / config.learning_rate).floor() {
            let top = (n as f64 * GOSS_TOP) as usize;
            let other = (n as f64 * GOSS_OTHER) as usize;
            if top + other < n {
                let mut order: Vec<u32> = (0..n as u32).collect();
                let grads = &self.grads;
                let size = |r: &u32| {
                    let gh = grads[*r as usize];
                    (gh.g * gh.h).abs()
                };
                order.select_nth_unstable_by(top, |a, b| size(b).total_cmp(&size(a)));
                let (kept, rest) = order.split_at_mut(top);
                let mut rows = kept.to_vec();
                let (sampled, _) = rest.partial_shuffle(&mut self.rng, other);
                let amplify = (1.0 - GOSS_TOP) / GOSS_OTHER;
                for &r in sampled.iter() {
                    let gh = &mut self.grads[r as usize];
                    gh.g *= amplify;
                    gh.h *= amplify;
                    rows.push(r);
                }
                rows.sort_unstable();
                return rows;
            }
        }
        if config.subsample < 1.0 {
            let rows: Vec<u32> = (0..n as u32)
                .filter(|_| self.rng.gen::<f64>() < config.subsample)
                .collect();
            if !rows.is_empty() {
                return rows;
            }
        }
        (0..n as u32).collect()
    }

    pub(super) fn grow(&mut self, mut rows: Vec<u32>) -> Grown {
        let _growing = Growing::start();
        let all_rows = rows.len() == self.grads.len();
        let mut root = Sums::default();
        for &r in &rows {
            root.add(self.grads[r as usize]);
        }
        let mut nodes = vec![Node {
            sums: root,
            depth: 0,
            start: 0,
            end: rows.len(),
            split: None,
        }];
        let mut scratch: Vec<u32> = Vec::with_capacity(rows.len());
        // Leaves that may still split: node index, its histogram and its best split.
        let mut open: Vec<OpenLeaf> = Vec::new();
        // Histograms no leaf needs any more, reused rather than allocated again.
        let mut spare: Vec<Histogram> = Vec::new();
        if self.may_split(&nodes[0]) {
            let hist = self.histogram(&rows[..], None);
            if let Some(best) = self.best_split(&hist, root, rows.len()) {
                open.push((0, hist, best));
            }
        }
        let mut leaves = 1;
        while !open.is_empty() {
            if self.config.max_leaves.is_some_and(|max| leaves >= max) {
                break;
            }
            // Depth-wise, with a thread no other tree is growing on: a level's leaves split
            // side by side (the last fold of a cross-validation would otherwise leave a core
            // idle). They take the node indices the one-by-one order gives them, and each
            // leaf's work is the same, so the tree is the same to the bit.
            if self.config.max_leaves.is_none() && idle_threads() > 0 {
                let level = take_level(&mut open, &nodes);
                if level.len() > 1 {
                    leaves += level.len();
                    let mut tasks = Vec::with_capacity(level.len());
                    let mut rest: &mut [u32] = &mut rows;
                    let mut offset = 0;
                    for (id, hist, best) in level {
                        let node = nodes[id].clone();
                        // A level's leaves hold disjoint ranges of rows, taken in order.
                        let (_, tail) = std::mem::take(&mut rest).split_at_mut(node.start - offset);
                        let (mine, tail) = tail.split_at_mut(node.end - node.start);
                        rest = tail;
                        offset = node.end;
                        tasks.push((id, node, hist, best, mine, spare.pop()));
                    }
                    let mut splits: Vec<(usize, Candidate, LeafSplit)> = tasks
                        .into_par_iter()
                        .map(|(id, node, hist, best, rows, reuse)| {
                            let split =
                                self.split_leaf(&node, best, hist, rows, &mut Vec::new(), reuse);
                            (id, best, split)
                        })
                        .collect();
                    // Children are numbered in the order one-by-one splitting takes the leaves.
                    splits.sort_by_key(|(id, _, _)| *id);
                    for (id, best, split) in splits {
                        attach(&mut nodes, &mut open, &mut spare, id, best, split);
                    }
                    continue;
                }
                open.extend(level);
            }
            // Best-first: the largest gain; depth-wise: the shallowest, oldest leaf.
            let pick = if self.config.max_leaves.is_some() {
                (0..open.len())
                    .max_by(|&a, &b| open[a].2.gain.total_cmp(&open[b].2.gain).then(b.cmp(&a)))
                    .unwrap_or(0)
            } else {
                (0..open.len())
                    .min_by_key(|&i| (nodes[open[i].0].depth, open[i].0))
                    .unwrap_or(0)
            };
            let (id, parent_hist, best) = open.swap_remove(pick);
            let node = nodes[id].clone();
            let reuse = spare.pop();
            let split = self.split_leaf(
                &node,
                best,
                parent_hist,
                &mut rows[node.start..node.end],
                &mut scratch,
                reuse,
            );
            leaves += 1;
            attach(&mut nodes, &mut open, &mut spare, id, best, split);
        }
        let mut grown = Grown {
            values: nodes
                .iter()
                .map(|node| self.leaf_value(node.sums))
                .collect(),
            nodes,
            rows,
            all_rows,
        };
        if self.config.prune_after && self.config.min_split_gain > 0.0 {
            grown.prune(0, self.config.min_split_gain);
        }
        grown
    }

    /// Splits leaf `node` (its `rows`, partitioned in place) by `best`: its two children,
    /// and for each that may split further its histogram (the smaller child's from its rows,
    /// into `reuse` when given; the larger's by subtraction from `parent_hist`) and best split.
    fn split_leaf(
        &self,
        node: &Node,
        best: Candidate,
        parent_hist: Histogram,
        rows: &mut [u32],
        scratch: &mut Vec<u32>,
        reuse: Option<Histogram>,
    ) -> LeafSplit {
        let data = self.data;
        let feature = &data.by_feature[best.feature * data.rows..][..data.rows];
        let mid = stable_partition(rows, scratch, |r| feature[r as usize] <= best.bin);
        let children = [
            Node {
                sums: best.left,
                depth: node.depth + 1,
                start: node.start,
                end: node.start + mid,
                split: None,
            },
            Node {
                sums: node.sums.minus(best.left),
                depth: node.depth + 1,
                start: node.start + mid,
                end: node.end,
                split: None,
            },
        ];
        let splittable = [self.may_split(&children[0]), self.may_split(&children[1])];
        if splittable == [false, false] {
            return LeafSplit {
                children,
                next: [None, None],
                spare: [Some(parent_hist), reuse],
            };
        }
        // The smaller child's histogram from its rows; the larger's by subtraction.
        let small = usize::from(rows.len() - mid < mid);
        let small_rows = if small == 1 {
            &rows[mid..]
        } else {
            &rows[..mid]
        };
        let small_hist = self.histogram(small_rows, reuse);
        let mut large_hist = parent_hist;
        for (l, s) in large_hist.iter_mut().zip(&small_hist) {
            *l = l.minus(*s);
        }
        let mut hists = [small_hist, large_hist];
        if small == 1 {
            hists.swap(0, 1);
        }
        let mut next = [None, None];
        let mut spare = [None, None];
        for (child, hist) in hists.into_iter().enumerate() {
            let c = &children[child];
            let best = splittable[child]
                .then(|| self.best_split(&hist, c.sums, c.end - c.start))
                .flatten();
            match best {
                Some(best) => next[child] = Some((hist, best)),
                None => spare[child] = Some(hist),
            }
        }
        LeafSplit {
            children,
            next,
            spare,
        }
    }

    /// Whether a node may split at all: depth and row limits.
    fn may_split(&self, node: &Node) -> bool {
        let rows = node.end - node.start;
        self.config.max_depth.is_none_or(|d| node.depth < d)
            && rows >= 2 * self.config.min_child_samples.max(1)
            && node.sums.h >= 2.0 * self.config.min_child_weight
    }

    /// The sums of `rows`' gradients per bin, into `reuse` (zeroed first) when given.
    pub(super) fn histogram(&self, rows: &[u32], reuse: Option<Histogram>) -> Histogram {
        let mut hist = match reuse {
            Some(mut h) => {
                h.fill(Sums::default());
                h
            }
            None => self.data.empty_histogram(),
        };
        // Threads no other tree is growing on (the folds of a cross-validation share the
        // pool): a large node's features are split among them, each cell still summed by one
        // thread in row order, so the histogram is the same to the bit however it was built.
        let idle = idle_threads();
        let parts = if rows.len() * self.features.len() < PARALLEL_CELLS {
            1
        } else {
            (idle + 1).min(self.features.len())
        };
        self.fill_parts(rows, &self.features, &mut hist, 0, parts);
        hist
    }

    /// Fills `features`' cells, which start at cell `base` of the histogram `hist` is the rest
    /// of, in `parts` pieces of features on the pool.
    pub(super) fn fill_parts(
        &self,
        rows: &[u32],
        features: &[usize],
        hist: &mut [Sums],
        base: usize,
        parts: usize,
    ) {
        if parts <= 1 || features.len() <= 1 {
            self.fill_histogram(rows, features, hist, base);
            return;
        }
        let half = parts / 2;
        let mid = features.len() * half / parts;
        let cut = self.data.offsets[features[mid]] - base;
        let (a, b) = hist.split_at_mut(cut);
        rayon::join(
            || self.fill_parts(rows, &features[..mid], a, base, half),
            || self.fill_parts(rows, &features[mid..], b, base + cut, parts - half),
        );
    }

    /// Adds `rows`' gradients to `features`' bins: `hist` holds the cells from cell `base` on.
    fn fill_histogram(&self, rows: &[u32], features: &[usize], hist: &mut [Sums], base: usize) {
        let data = self.data;
        let p = data.features;
        // Ascending features: a run of consecutive ones reads a slice of each row's codes.
        let (first, count) = (features.first().copied().unwrap_or(0), features.len());
        let consecutive = features
            .last()
            .is_some_and(|&last| last + 1 - first == count);
        if consecutive && data.blocks {
            let (blocks, _) = hist[data.offsets[first] - base..].as_chunks_mut::<MAX_BINS>();
            for &r in rows {
                let gh = self.grads[r as usize];
                let codes = &data.codes[r as usize * p + first..][..count];
                for (cells, &code) in blocks.iter_mut().zip(codes) {
                    cells[usize::from(code)].add(gh);
                }
            }
        } else if consecutive {
            let offsets = &data.offsets[first..][..count];
            for &r in rows {
                let gh = self.grads[r as usize];
                let codes = &data.codes[r as usize * p + first..][..count];
                for (&code, &offset) in codes.iter().zip(offsets) {
                    hist[offset - base + usize::from(code)].add(gh);
                }
            }
        } else {
            for &r in rows {
                let gh = self.grads[r as usize];
                for &f in features {
                    hist[data.offsets[f] - base + usize::from(data.code(r, f))].add(gh);
                }
            }
        }
    }
}

/// Moves the rows `keep` accepts to the front, both sides in their order; returns how many.
/// Without a branch on `keep`: each row is written to both sides and only the counts move. A
/// split's side is as hard to guess as a coin, so the branch's mispredictions made this loop
/// a quarter of a boosted fit. A block's sides are decided before any of its rows moves:
/// the decisions' loads then run ahead of the stores, whose places wait on them.
pub(super) fn stable_partition(
    rows: &mut [u32],
    scratch: &mut Vec<u32>,
    keep: impl Fn(u32) -> bool,
) -> usize {
    const BLOCK: usize = 64;
    if scratch.len() < rows.len() {
        scratch.resize(rows.len(), 0);
    }
    let (mut kept, mut moved) = (0, 0);
    let mut block = [0u32; BLOCK];
    let mut sides = [0usize; BLOCK];
    for start in (0..rows.len()).step_by(BLOCK) {
        let n = BLOCK.min(rows.len() - start);
        block[..n].copy_from_slice(&rows[start..][..n]);
        for (side, &r) in sides.iter_mut().zip(&block[..n]) {
            *side = usize::from(keep(r));
        }
        for (&r, &k) in block[..n].iter().zip(&sides) {
            rows[kept] = r;
            scratch[moved] = r;
            kept += k;
            moved += 1 - k;
        }
    }
    rows[kept..].copy_from_slice(&scratch[..moved]);
    kept
}
