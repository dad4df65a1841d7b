//! Cross-validation folds, exactly as scikit-learn's `cross_val_score(cv=k)` makes them:
//! `StratifiedKFold(k)` for classifiers and `KFold(k)` for regressors, both unshuffled. They
//! depend only on the row order (which the seeded preprocess split already shuffled), so a
//! trial here and the scikit-learn reference score on the very same folds.

use crate::error::{MlError, Result};

/// One fold: the rows to fit on and the rows to score.
#[derive(Debug, Clone, PartialEq)]
pub struct Fold {
    /// Row indices to fit on.
    pub train: Vec<usize>,
    /// Row indices to score.
    pub test: Vec<usize>,
}

/// The test-fold number of every row.
pub fn fold_ids(n: usize, classes: Option<&[usize]>, k: usize) -> Result<Vec<usize>> {
    if k < 2 {
        return Err(MlError::Folds(format!(
            "cv-folds must be at least 2, got {k}"
        )));
    }
    if n < k {
        return Err(MlError::Folds(format!(
            "cannot make {k} folds from {n} rows"
        )));
    }
    let Some(codes) = classes else {
        // KFold: contiguous blocks, the first n % k one row longer.
        let (base, extra) = (n / k, n % k);
        let mut ids = Vec::with_capacity(n);
        for f in 0..k {
            ids.extend(std::iter::repeat_n(f, base + usize::from(f < extra)));
        }
        return Ok(ids);
    };
    // StratifiedKFold: classes renumbered by first appearance; fold f of class c gets
    // |{i : i ≡ f (mod k)} ∩ sorted rows of c| rows, assigned in row order.
    let mut first_seen: Vec<usize> = Vec::new();
    let mut renumber = std::collections::HashMap::new();
    let encoded: Vec<usize> = codes
        .iter()
        .map(|&c| {
            *renumber.entry(c).or_insert_with(|| {
                first_seen.push(c);
                first_seen.len() - 1
            })
        })
        .collect();
    let n_classes = first_seen.len();
    let mut counts = vec![0usize; n_classes];
    for &c in &encoded {
        counts[c] += 1;
    }
    if counts.iter().all(|&c| c < k) {
        return Err(MlError::Folds(format!(
            "cv-folds={k} is more than the number of rows of every class (largest class: {})",
            counts.iter().max().unwrap_or(&0)
        )));
    }
    // y_order = encoded labels sorted; allocation[f][c] = count of c in y_order[f::k].
    let mut allocation = vec![vec![0usize; n_classes]; k];
    let mut pos = 0usize;
    for (c, &count) in counts.iter().enumerate() {
        for _ in 0..count {
            allocation[pos % k][c] += 1;
            pos += 1;
        }
    }
    let mut next: Vec<(usize, usize)> = vec![(0, 0); n_classes]; // (fold, used in fold)
    let mut ids = Vec::with_capacity(n);
    for &c in &encoded {
        let (fold, used) = &mut next[c];
        while allocation[*fold][c] == *used {
            *fold += 1;
            *used = 0;
        }
        ids.push(*fold);
        *used += 1;
    }
    Ok(ids)
}

/// The `k` folds for `n` rows (stratified when `classes` is given).
pub fn folds(n: usize, classes: Option<&[usize]>, k: usize) -> Result<Vec<Fold>> {
    let ids = fold_ids(n, classes, k)?;
    Ok((0..k)
        .map(|f| {
            let (test, train): (Vec<usize>, Vec<usize>) = (0..n).partition(|&i| ids[i] == f);
            Fold { train, test }
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kfold_blocks_like_scikit_learn() {
        assert_eq!(fold_ids(7, None, 3).unwrap(), [0, 0, 0, 1, 1, 2, 2]);
    }

    #[test]
    fn stratified_kfold_like_scikit_learn() {
        // Checked against scikit-learn 1.5: StratifiedKFold(3).split(X, [1,1,0,0,0,1,1,0,1]) test folds per row.
        let y = [1, 1, 0, 0, 0, 1, 1, 0, 1];
        assert_eq!(
            fold_ids(9, Some(&y), 3).unwrap(),
            [0, 0, 0, 1, 2, 1, 1, 2, 2]
        );
        let f = folds(9, Some(&y), 3).unwrap();
        assert_eq!(f[2].test, [4, 7, 8]);
        assert_eq!(f[2].train.len(), 6);
    }

    #[test]
    fn too_few_rows_is_an_error() {
        assert!(fold_ids(3, None, 5).is_err());
        assert!(fold_ids(10, None, 1).is_err());
        assert!(fold_ids(6, Some(&[0, 0, 1, 1, 2, 2]), 3).is_err());
    }
}
