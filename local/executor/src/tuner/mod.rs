//! How a tuning job chooses its trials, apart from running them: the search space
//! (`space`) and each of SageMaker's strategies over it. Nothing here starts a job or reads
//! the definition; `steps::tuning` does both and asks this module what to try next.

pub(crate) mod completion;
pub(crate) mod median;
pub(crate) mod random;
pub(crate) mod space;

pub(crate) use space::{Configuration, Range, Space};
