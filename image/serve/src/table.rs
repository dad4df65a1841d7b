//! The table of loaded models: name → model, sharded so invocations of different models
//! rarely touch the same lock, with per-model memory charged against a budget.
//!
//! Locks are held only to look up or swap an `Arc`; loading happens outside them, so an
//! invocation never waits for a load.

use std::collections::hash_map::{DefaultHasher, Entry};
use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

use crate::port::Model;

const SHARDS: usize = 32;

/// A model ready to serve, with what it was loaded from and what it costs.
pub struct LoadedModel {
    /// The name requests address it by.
    pub name: String,
    /// The folder it was loaded from.
    pub url: String,
    /// The model itself.
    pub model: Arc<dyn Model>,
    /// What it is charged against the memory budget.
    pub memory_bytes: usize,
}

enum Slot {
    /// A load is under way; the name is taken but nothing can be served yet.
    Loading,
    Ready(Arc<LoadedModel>),
}

type Shard = HashMap<String, Slot>;

/// Why a name cannot be loaded right now.
#[derive(Debug, PartialEq)]
pub enum Refusal {
    AlreadyLoaded,
    Loading,
    /// The budget is spent even before this model is read.
    BudgetFull {
        used: usize,
        budget: usize,
    },
}

/// The model would not fit in what is left of the budget.
#[derive(Debug, PartialEq)]
pub struct OverBudget {
    pub needed: usize,
    pub used: usize,
    pub budget: usize,
}

pub struct ModelTable {
    shards: Box<[RwLock<Shard>]>,
    used_bytes: AtomicUsize,
    budget_bytes: Option<usize>,
}

impl ModelTable {
    pub fn new(budget_bytes: Option<usize>) -> Self {
        Self {
            shards: (0..SHARDS).map(|_| RwLock::new(HashMap::new())).collect(),
            used_bytes: AtomicUsize::new(0),
            budget_bytes,
        }
    }

    fn shard(&self, name: &str) -> &RwLock<Shard> {
        let mut hasher = DefaultHasher::new();
        name.hash(&mut hasher);
        &self.shards[(hasher.finish() as usize) % self.shards.len()]
    }

    // A poisoned lock only means another thread panicked while holding it; the map itself
    // is always left consistent (single insert/remove), so keep serving.
    fn read(lock: &RwLock<Shard>) -> RwLockReadGuard<'_, Shard> {
        lock.read().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn write(lock: &RwLock<Shard>) -> RwLockWriteGuard<'_, Shard> {
        lock.write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The ready model called `name`, if any.
    pub fn get(&self, name: &str) -> Option<Arc<LoadedModel>> {
        match Self::read(self.shard(name)).get(name) {
            Some(Slot::Ready(model)) => Some(Arc::clone(model)),
            _ => None,
        }
    }

    /// Reserves `name` for a load. The returned ticket releases the name again if it is
    /// dropped without [`LoadTicket::finish`] (a failed load, a cancelled request).
    pub fn begin_load(&self, name: &str) -> Result<LoadTicket<'_>, Refusal> {
        let used = self.used_bytes();
        if let Some(budget) = self.budget_bytes {
            if used >= budget {
                return Err(Refusal::BudgetFull { used, budget });
            }
        }
        match Self::write(self.shard(name)).entry(name.to_owned()) {
            Entry::Occupied(slot) => match slot.get() {
                Slot::Loading => Err(Refusal::Loading),
                Slot::Ready(_) => Err(Refusal::AlreadyLoaded),
            },
            Entry::Vacant(slot) => {
                slot.insert(Slot::Loading);
                Ok(LoadTicket {
                    table: self,
                    name: name.to_owned(),
                    done: false,
                })
            }
        }
    }

    /// Removes a ready model and returns its memory to the budget. Loads in progress are
    /// not "loaded" and are left alone.
    pub fn unload(&self, name: &str) -> Option<Arc<LoadedModel>> {
        let mut shard = Self::write(self.shard(name));
        let removed = match shard.get(name) {
            Some(Slot::Ready(_)) => match shard.remove(name) {
                Some(Slot::Ready(model)) => Some(model),
                _ => None,
            },
            _ => None,
        };
        drop(shard);
        if let Some(model) = &removed {
            self.used_bytes
                .fetch_sub(model.memory_bytes, Ordering::AcqRel);
        }
        removed
    }

    /// Ready models in name order, at most `limit` of them, starting after `after`;
    /// the second value is the last name returned when more remain.
    pub fn page(
        &self,
        after: Option<&str>,
        limit: usize,
    ) -> (Vec<Arc<LoadedModel>>, Option<String>) {
        let mut ready: Vec<Arc<LoadedModel>> = self
            .shards
            .iter()
            .flat_map(|shard| {
                Self::read(shard)
                    .values()
                    .filter_map(|slot| match slot {
                        Slot::Ready(model) => Some(Arc::clone(model)),
                        Slot::Loading => None,
                    })
                    .collect::<Vec<_>>()
            })
            .filter(|model| after.is_none_or(|after| model.name.as_str() > after))
            .collect();
        ready.sort_unstable_by(|a, b| a.name.cmp(&b.name));
        let more = ready.len() > limit;
        ready.truncate(limit);
        let next = more.then(|| ready.last().map(|m| m.name.clone())).flatten();
        (ready, next)
    }

    pub fn used_bytes(&self) -> usize {
        self.used_bytes.load(Ordering::Acquire)
    }

    /// Charges `bytes` against the budget, or says by how much it would overflow.
    fn reserve(&self, bytes: usize) -> Result<(), OverBudget> {
        let budget = self.budget_bytes;
        self.used_bytes
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |used| {
                let total = used.checked_add(bytes)?;
                budget.is_none_or(|b| total <= b).then_some(total)
            })
            .map(|_| ())
            .map_err(|used| OverBudget {
                needed: bytes,
                used,
                budget: budget.unwrap_or(usize::MAX),
            })
    }
}

/// A name reserved for a load in progress.
pub struct LoadTicket<'a> {
    table: &'a ModelTable,
    name: String,
    done: bool,
}

impl LoadTicket<'_> {
    /// Publishes the loaded model if its memory fits in the budget.
    pub fn finish(
        mut self,
        url: String,
        model: Arc<dyn Model>,
    ) -> Result<Arc<LoadedModel>, OverBudget> {
        let memory_bytes = model.memory_bytes();
        self.table.reserve(memory_bytes)?;
        let loaded = Arc::new(LoadedModel {
            name: self.name.clone(),
            url,
            model,
            memory_bytes,
        });
        ModelTable::write(self.table.shard(&self.name))
            .insert(self.name.clone(), Slot::Ready(Arc::clone(&loaded)));
        self.done = true;
        Ok(loaded)
    }
}

impl Drop for LoadTicket<'_> {
    fn drop(&mut self) {
        if !self.done {
            let mut shard = ModelTable::write(self.table.shard(&self.name));
            if matches!(shard.get(&self.name), Some(Slot::Loading)) {
                shard.remove(&self.name);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::port::{InputError, Prediction, Rows};

    struct Weight(usize);

    impl Model for Weight {
        fn predict(&self, rows: &Rows) -> Result<Vec<Prediction>, InputError> {
            Ok(rows.rows.iter().map(|_| Prediction::Value(0.0)).collect())
        }
        fn memory_bytes(&self) -> usize {
            self.0
        }
    }

    fn load(table: &ModelTable, name: &str, bytes: usize) -> Result<(), String> {
        let ticket = table.begin_load(name).map_err(|r| format!("{r:?}"))?;
        ticket
            .finish(format!("/models/{name}"), Arc::new(Weight(bytes)))
            .map(|_| ())
            .map_err(|e| format!("{e:?}"))
    }

    #[test]
    fn a_name_is_taken_while_loading_and_once_loaded() {
        let table = ModelTable::new(None);
        let ticket = table.begin_load("a").unwrap();
        assert_eq!(table.begin_load("a").err(), Some(Refusal::Loading));
        assert!(table.get("a").is_none(), "a loading model is not served");
        assert!(
            table.unload("a").is_none(),
            "a loading model is not unloaded"
        );
        ticket.finish("/m/a".into(), Arc::new(Weight(1))).unwrap();
        assert_eq!(table.begin_load("a").err(), Some(Refusal::AlreadyLoaded));
        assert_eq!(table.get("a").unwrap().url, "/m/a");
    }

    #[test]
    fn a_dropped_ticket_frees_the_name() {
        let table = ModelTable::new(None);
        drop(table.begin_load("a").unwrap());
        assert!(table.begin_load("a").is_ok());
    }

    #[test]
    fn memory_is_charged_and_returned() {
        let table = ModelTable::new(Some(100));
        load(&table, "a", 60).unwrap();
        assert_eq!(table.used_bytes(), 60);
        let err = load(&table, "b", 50).unwrap_err();
        assert!(
            err.contains("needed: 50") && err.contains("used: 60"),
            "{err}"
        );
        assert!(table.get("b").is_none());
        assert!(
            table.begin_load("b").is_ok(),
            "a refused load frees its name"
        );
        table.unload("a").unwrap();
        assert_eq!(table.used_bytes(), 0);
        load(&table, "b", 50).unwrap();
        load(&table, "c", 50).unwrap();
        assert_eq!(
            table.begin_load("d").err(),
            Some(Refusal::BudgetFull {
                used: 100,
                budget: 100
            })
        );
    }

    #[test]
    fn pages_walk_every_model_once_in_name_order() {
        let table = ModelTable::new(None);
        let names: Vec<String> = (0..25).map(|i| format!("m{i:02}")).collect();
        for name in names.iter().rev() {
            load(&table, name, 1).unwrap();
        }
        let _loading = table.begin_load("zz-loading").unwrap();
        let mut seen = Vec::new();
        let mut after = None;
        loop {
            let (page, next) = table.page(after.as_deref(), 10);
            assert!(page.len() <= 10);
            seen.extend(page.iter().map(|m| m.name.clone()));
            match next {
                Some(token) => after = Some(token),
                None => break,
            }
        }
        assert_eq!(seen, names);
    }
}
