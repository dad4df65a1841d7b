//! A fit's binned features, and the histograms of gradient sums built over them.

use super::super::bins::{Binning, Bins, MAX_BINS};
use super::Gh;

/// The binned features and where each one's bins start in a histogram.
pub(super) struct Binned {
    /// Each feature's edges (its codes are moved into `codes`).
    pub(super) columns: Vec<Bins>,
    /// Row-major codes, `codes[row * features + feature]`: building a histogram reads one row's
    /// codes together, once per row, whichever rows the node has.
    pub(super) codes: Vec<u8>,
    /// The same codes feature by feature, `by_feature[feature * rows + row]`: splitting a
    /// node reads one feature of its rows, which lie close together here (in `codes` each
    /// row's code is a row's width from the next).
    pub(super) by_feature: Vec<u8>,
    pub(super) rows: usize,
    pub(super) features: usize,
    /// `offsets[f]..offsets[f] + columns[f].bins()`: feature `f`'s cells in a [`Histogram`].
    pub(super) offsets: Vec<usize>,
    /// Whether every feature's cells take a block of [`MAX_BINS`] (`offsets[f]` is
    /// `f · MAX_BINS`), so that a byte code indexes them with no bounds check. Chosen when that
    /// costs at most twice the cells, as when most features are numeric.
    pub(super) blocks: bool,
    /// A histogram's length.
    cells: usize,
}

impl Binned {
    /// Every column of `x` binned.
    /// The rows `rows` of `x` binned (`None`: every row).
    pub(super) fn of(
        x: ndarray::ArrayView2<f64>,
        rows: Option<&[usize]>,
        binning: Binning,
    ) -> Binned {
        let columns = Bins::columns(x, rows, binning);
        Binned::new(columns, rows.map_or(x.nrows(), <[usize]>::len))
    }

    fn new(mut columns: Vec<Bins>, rows: usize) -> Binned {
        let features = columns.len();
        let mut codes = vec![0u8; rows * features];
        let mut by_feature = Vec::with_capacity(rows * features);
        for (f, column) in columns.iter_mut().enumerate() {
            for (row, &code) in column.codes.iter().enumerate() {
                codes[row * features + f] = code;
            }
            by_feature.append(&mut column.codes);
        }
        let bins: usize = columns.iter().map(Bins::bins).sum();
        let blocks = features * MAX_BINS <= 2 * bins;
        let mut offsets = Vec::with_capacity(features);
        let mut next = 0;
        for c in &columns {
            offsets.push(next);
            next += if blocks { MAX_BINS } else { c.bins() };
        }
        Binned {
            columns,
            codes,
            by_feature,
            rows,
            features,
            offsets,
            blocks,
            cells: next,
        }
    }

    pub(super) fn code(&self, row: u32, feature: usize) -> u8 {
        self.codes[row as usize * self.features + feature]
    }

    /// A histogram of zeros.
    pub(super) fn empty_histogram(&self) -> Histogram {
        vec![Sums::default(); self.cells]
    }

    /// Feature `f`'s cells in `hist`.
    pub(super) fn cells<'h>(&self, hist: &'h [Sums], f: usize) -> &'h [Sums] {
        &hist[self.offsets[f]..][..self.columns[f].bins()]
    }
}

/// Gradient and hessian sums: of a bin, a node or one side of a split. No row count: as in
/// LightGBM, a side's rows are estimated from its share of the hessian, which keeps a cell at
/// 16 bytes.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(super) struct Sums {
    pub(super) g: f64,
    pub(super) h: f64,
}

impl Sums {
    pub(super) fn add(&mut self, gh: Gh) {
        self.g += gh.g;
        self.h += gh.h;
    }

    pub(super) fn minus(self, other: Sums) -> Sums {
        Sums {
            g: self.g - other.g,
            h: self.h - other.h,
        }
    }
}

/// Per feature, per bin sums: `Binned::offsets` says where each feature's bins are.
pub(super) type Histogram = Vec<Sums>;
