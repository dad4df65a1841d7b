//! How a tuning job chooses its trials, apart from running them: the search space
//! (`space`), each of SageMaker's strategies over it (`random`, `bayesian`, `grid`;
//! `hyperband` and `median` stop running trials on their intermediate values) and the
//! completion criteria (`completion`). Nothing here starts a job or reads
//! the definition; `steps::tuning` does both and asks this module what to try next.

pub(crate) mod bayesian;
pub(crate) mod completion;
pub(crate) mod grid;
pub(crate) mod hyperband;
pub(crate) mod median;
pub(crate) mod random;
pub(crate) mod space;

pub(crate) use space::{Configuration, Range, Space};
