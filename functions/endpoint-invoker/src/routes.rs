//! The routing table, cached in memory: used as is within the TTL, then revalidated with a
//! HEAD (ETag compare) and re-read only if it changed.

use std::sync::Arc;
use std::time::{Duration, Instant};

use mmp_common::ports::ObjectStore;
use mmp_common::routing::{self, RoutingError, RoutingTable};
use mmp_common::PortError;
use tokio::sync::Mutex;

#[derive(Debug)]
struct Cached {
    table: Arc<RoutingTable>,
    etag: Option<String>,
    checked: Instant,
}

/// A TTL + ETag cache of one routing table.
#[derive(Debug)]
pub struct RouteCache {
    key: String,
    ttl: Duration,
    cached: Mutex<Option<Cached>>,
}

impl RouteCache {
    /// An empty cache of the table at `key`, revalidated after `ttl`.
    pub fn new(key: String, ttl: Duration) -> Self {
        RouteCache {
            key,
            ttl,
            cached: Mutex::new(None),
        }
    }

    /// The current table (an absent table is empty).
    pub async fn get<S: ObjectStore + ?Sized>(
        &self,
        store: &S,
    ) -> Result<Arc<RoutingTable>, RoutingError> {
        let mut cached = self.cached.lock().await;
        if let Some(entry) = cached.as_mut() {
            if entry.checked.elapsed() < self.ttl {
                return Ok(entry.table.clone());
            }
            let current = match store.head(&self.key).await {
                Ok(meta) => Some(meta.etag),
                Err(PortError::NotFound(_)) => None,
                Err(error) => return Err(error.into()),
            };
            if current == entry.etag {
                entry.checked = Instant::now();
                return Ok(entry.table.clone());
            }
        }
        let (table, etag) = routing::load(store, &self.key).await?;
        let table = Arc::new(table);
        *cached = Some(Cached {
            table: table.clone(),
            etag,
            checked: Instant::now(),
        });
        Ok(table)
    }

    /// Forgets the table: the next request reads it again.
    pub async fn invalidate(&self) {
        *self.cached.lock().await = None;
    }
}
