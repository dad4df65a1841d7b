//! Bench command: what adding one row's gradients to a histogram cell costs, by cell type.
//! mmp-gbdt keeps a cell as two `f64` sums (16 bytes); this times that loop, laid out as
//! mmp-gbdt lays it out (one block of 256 cells per feature, one byte code per row and
//! feature, rows ascending), against two `f32` sums (8 bytes) and one packed `i32` (4 bytes:
//! gradient and hessian quantized to 16 bits each, as LightGBM's `use_quantized_grad`). It
//! bounds what a smaller cell could give the boosters (docs/benchmarks.md).
//!
//! Run: taskset -c 0 cargo run --release -p mmp-ml --example histogram_cells [-- ROUNDS]

use std::hint::black_box;
use std::time::Instant;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// A trial's fold on the 100,000-row benchmark: 80,000 training rows, 20 features.
const ROWS: usize = 80_000;
const FEATURES: usize = 20;
const BINS: usize = 256;

/// Fills one block of cells per feature from `rows`, adding each row's `grads` entry to the
/// cell its code names with `add`; the nanoseconds per cell over `rounds` fills.
fn time_fill<C: Copy + Default, G: Copy>(
    rounds: usize,
    rows: &[u32],
    codes: &[u8],
    grads: &[G],
    add: impl Fn(&mut C, G),
) -> f64 {
    let mut blocks = vec![[C::default(); BINS]; FEATURES];
    let start = Instant::now();
    for _ in 0..rounds {
        for block in &mut blocks {
            block.fill(C::default());
        }
        for &r in rows {
            let gh = grads[r as usize];
            let row = &codes[r as usize * FEATURES..][..FEATURES];
            for (block, &code) in blocks.iter_mut().zip(row) {
                add(&mut block[usize::from(code)], gh);
            }
        }
        black_box(&blocks);
    }
    start.elapsed().as_secs_f64() * 1e9 / (rounds * rows.len() * FEATURES) as f64
}

fn main() -> Result<(), std::num::ParseIntError> {
    let rounds: usize = std::env::args()
        .nth(1)
        .map(|v| v.parse())
        .transpose()?
        .unwrap_or(200)
        .max(1);
    // Seeded: the same codes and rows on every run.
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let codes: Vec<u8> = (0..ROWS * FEATURES).map(|_| rng.gen()).collect();
    // A node's rows: about two in three, ascending, as a partition leaves them.
    let rows: Vec<u32> = (0..ROWS as u32)
        .filter(|_| rng.gen_range(0..3) != 0)
        .collect();
    // Logistic-loss-like gradients in (-1, 1) and hessians in (0, 0.25].
    let grads: Vec<(f64, f64)> = (0..ROWS)
        .map(|_| {
            let p: f64 = rng.gen();
            let y = if rng.gen() { 1.0 } else { 0.0 };
            (p - y, p * (1.0 - p) + 1e-3)
        })
        .collect();
    let grads32: Vec<(f32, f32)> = grads.iter().map(|&(g, h)| (g as f32, h as f32)).collect();
    let packed: Vec<i32> = grads
        .iter()
        .map(|&(g, h)| ((g * 32_000.0) as i32) * 65_536 + (h * 4.0 * 32_000.0) as i32)
        .collect();

    println!("{} rows × {FEATURES} features, {rounds} fills", rows.len());
    for _ in 0..2 {
        let f64s = time_fill(rounds, &rows, &codes, &grads, |c: &mut (f64, f64), gh| {
            c.0 += gh.0;
            c.1 += gh.1;
        });
        let f32s = time_fill(rounds, &rows, &codes, &grads32, |c: &mut (f32, f32), gh| {
            c.0 += gh.0;
            c.1 += gh.1;
        });
        let i32s = time_fill(rounds, &rows, &codes, &packed, |c: &mut i32, q| {
            *c = c.wrapping_add(q);
        });
        println!(
            "ns per cell: f64 pair {f64s:.3}, f32 pair {f32s:.3} ({:.2} of it), packed i32 \
             {i32s:.3} ({:.2} of it)",
            f32s / f64s,
            i32s / f64s
        );
    }
    Ok(())
}
