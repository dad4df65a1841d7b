//! The train/test split of the preprocess job: deterministic from the seed (ChaCha8, whose
//! stream is fixed by its specification), optionally stratified by class.

use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::error::{MlError, Result};

/// Row indices of the train and test parts.
#[derive(Debug, Clone, PartialEq)]
pub struct Split {
    /// Row indices of the train split, in written order.
    pub train: Vec<usize>,
    /// Row indices of the test split, in written order.
    pub test: Vec<usize>,
}

/// Number of test rows: `test_size` is a fraction in (0, 1), or a whole count ≥ 1, as in
/// scikit-learn's `train_test_split` (the fraction is rounded up).
pub fn test_count(n: usize, test_size: f64) -> Result<usize> {
    let n_test = if test_size > 0.0 && test_size < 1.0 {
        (test_size * n as f64).ceil() as usize
    } else if test_size >= 1.0 && test_size.fract() == 0.0 {
        test_size as usize
    } else {
        return Err(MlError::Split(format!(
            "test size {test_size} must be a fraction between 0 and 1 or a whole number of rows"
        )));
    };
    if n_test == 0 || n_test >= n {
        return Err(MlError::Split(format!(
            "test size {test_size} of {n} rows leaves {n_test} test and {} train rows; both need at least one",
            n.saturating_sub(n_test)
        )));
    }
    Ok(n_test)
}

/// Splits `n` rows; with `classes` (one class code per row) every class keeps its share in
/// both parts.
pub fn train_test_split(
    n: usize,
    classes: Option<&[usize]>,
    test_size: f64,
    seed: u64,
) -> Result<Split> {
    let n_test = test_count(n, test_size)?;
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let (mut train, mut test) = match classes {
        None => {
            let mut perm: Vec<usize> = (0..n).collect();
            perm.shuffle(&mut rng);
            let train = perm.split_off(n_test);
            (train, perm)
        }
        Some(codes) => stratified(codes, n_test, &mut rng)?,
    };
    train.shuffle(&mut rng);
    test.shuffle(&mut rng);
    Ok(Split { train, test })
}

fn stratified(
    codes: &[usize],
    n_test: usize,
    rng: &mut ChaCha8Rng,
) -> Result<(Vec<usize>, Vec<usize>)> {
    let n = codes.len();
    let n_classes = codes.iter().max().map_or(0, |m| m + 1);
    let mut members: Vec<Vec<usize>> = vec![Vec::new(); n_classes];
    for (i, &c) in codes.iter().enumerate() {
        members[c].push(i);
    }
    members.retain(|m| !m.is_empty());
    if let Some(small) = members.iter().find(|m| m.len() < 2) {
        let class = small.first().map_or(0, |&row| codes[row]);
        return Err(MlError::SingleRowClass { class });
    }
    if n_test < members.len() || n - n_test < members.len() {
        return Err(MlError::Split(format!(
            "cannot stratify {} classes into {n_test} test and {} train rows",
            members.len(),
            n - n_test
        )));
    }
    // Largest-remainder allocation of the test rows to classes, by share of the data.
    let exact: Vec<f64> = members
        .iter()
        .map(|m| m.len() as f64 * n_test as f64 / n as f64)
        .collect();
    let mut take: Vec<usize> = exact.iter().map(|e| e.floor() as usize).collect();
    let mut order: Vec<usize> = (0..members.len()).collect();
    order.sort_by(|&a, &b| (exact[b] - exact[b].floor()).total_cmp(&(exact[a] - exact[a].floor())));
    let mut left = n_test - take.iter().sum::<usize>();
    for &c in order.iter().cycle() {
        if left == 0 {
            break;
        }
        if take[c] < members[c].len() - 1 {
            take[c] += 1;
            left -= 1;
        }
    }
    let (mut train, mut test) = (Vec::with_capacity(n - n_test), Vec::with_capacity(n_test));
    for (mut m, k) in members.into_iter().zip(take) {
        m.shuffle(rng);
        test.extend_from_slice(&m[..k]);
        train.extend_from_slice(&m[k..]);
    }
    Ok((train, test))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_split_and_parts_cover_all_rows() {
        let a = train_test_split(100, None, 0.2, 42).unwrap();
        assert_eq!(a, train_test_split(100, None, 0.2, 42).unwrap());
        assert_ne!(a, train_test_split(100, None, 0.2, 43).unwrap());
        assert_eq!(a.test.len(), 20);
        let mut all: Vec<usize> = a.train.iter().chain(&a.test).copied().collect();
        all.sort();
        assert_eq!(all, (0..100).collect::<Vec<_>>());
    }

    #[test]
    fn stratified_split_keeps_class_shares() {
        let codes: Vec<usize> = (0..100).map(|i| usize::from(i < 30)).collect();
        let s = train_test_split(100, Some(&codes), 0.2, 7).unwrap();
        let ones = s.test.iter().filter(|&&i| codes[i] == 1).count();
        assert_eq!((s.test.len(), ones), (20, 6));
        assert_eq!(s, train_test_split(100, Some(&codes), 0.2, 7).unwrap());
    }

    #[test]
    fn bad_sizes_are_errors() {
        assert!(train_test_split(10, None, 0.0, 1).is_err());
        assert!(train_test_split(10, None, 1.5, 1).is_err());
        assert!(train_test_split(10, None, 10.0, 1).is_err());
        let codes = [0, 0, 0, 1];
        assert!(train_test_split(4, Some(&codes), 0.5, 1)
            .unwrap_err()
            .to_string()
            .ends_with("class code 1 has only 1 row; every class needs at least 2"));
    }
}
