//! STUB (temporary, replaced by the helper's module)
use super::{random, Configuration, Space};
pub(crate) struct Observation {
    pub configuration: Configuration,
    pub score: f64,
}
pub(crate) struct Bayesian {
    spaces: Vec<Space>,
    seed: u64,
}
impl Bayesian {
    pub(crate) fn new(spaces: Vec<Space>, seed: u64) -> Bayesian {
        Bayesian { spaces, seed }
    }
    pub(crate) fn suggest(
        &self,
        index: usize,
        observed: &[Observation],
        _pending: &[Configuration],
    ) -> Configuration {
        let _ = observed
            .iter()
            .map(|o| o.score + o.configuration.definition as f64)
            .sum::<f64>();
        random::plan(&self.spaces, index + 1, self.seed)
            .pop()
            .unwrap_or(Configuration {
                definition: 0,
                values: vec![],
            })
    }
}
