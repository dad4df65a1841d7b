//! How a tuning job chooses its trials, apart from running them: the search space
//! (`space`) and each of SageMaker's strategies over it. Nothing here starts a job or reads
//! the definition; `steps::tuning` does both and asks this module what to try next.

// The Bayesian and Grid strategies wait for `steps::tuning` to call them.
#[allow(dead_code)]
pub(crate) mod bayesian;
#[allow(dead_code)]
pub(crate) mod grid;
pub(crate) mod random;
pub(crate) mod space;

pub(crate) use space::{Configuration, Range, Space};
