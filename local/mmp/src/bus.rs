//! The event bus: a durable outbox in SQLite and a dispatcher that delivers each event to its
//! handler with retries, as EventBridge and S3 notifications do — at least once, possibly
//! twice, so every handler must converge under replays.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rusqlite::{params, Connection};

use crate::db::now_ms;

/// Deliveries of one event before it is dead-lettered (EventBridge's retry policy, shortened).
pub const MAX_ATTEMPTS: i64 = 8;

pub type HandlerFuture = Pin<Box<dyn Future<Output = Result<(), String>> + Send>>;
/// Delivers one event to the named target.
pub type Deliver = Arc<dyn Fn(String, serde_json::Value) -> HandlerFuture + Send + Sync>;

/// A pending delivery.
#[derive(Debug, Clone)]
pub struct Pending {
    pub id: i64,
    pub target: String,
    pub event: serde_json::Value,
    pub attempts: i64,
}

pub struct Outbox {
    conn: Mutex<Connection>,
}

impl Outbox {
    pub fn new(conn: Connection) -> Self {
        Self {
            conn: Mutex::new(conn),
        }
    }

    fn conn(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Queues `event` for `target`.
    pub fn push(&self, target: &str, event: &serde_json::Value) -> rusqlite::Result<i64> {
        let conn = self.conn();
        conn.execute(
            "INSERT INTO events (target, event, created_ms) VALUES (?1, ?2, ?3)",
            params![target, event.to_string(), now_ms()],
        )?;
        Ok(conn.last_insert_rowid())
    }

    /// Deliveries due now, oldest first.
    pub fn due(&self, limit: usize) -> rusqlite::Result<Vec<Pending>> {
        let conn = self.conn();
        let mut stmt = conn.prepare(
            "SELECT id, target, event, attempts FROM events
             WHERE delivered_ms IS NULL AND dead = 0 AND next_try_ms <= ?1
             ORDER BY id LIMIT ?2",
        )?;
        let rows = stmt.query_map(params![now_ms(), limit as i64], |r| {
            let text: String = r.get(2)?;
            Ok(Pending {
                id: r.get(0)?,
                target: r.get(1)?,
                event: serde_json::from_str(&text).unwrap_or(serde_json::Value::Null),
                attempts: r.get(3)?,
            })
        })?;
        rows.collect()
    }

    pub fn delivered(&self, id: i64) -> rusqlite::Result<()> {
        self.conn().execute(
            "UPDATE events SET delivered_ms = ?2, attempts = attempts + 1 WHERE id = ?1",
            params![id, now_ms()],
        )?;
        Ok(())
    }

    /// Records a failed delivery: retried with exponential back-off, dead after
    /// [`MAX_ATTEMPTS`] (kept, with its last error, for `mmp events`).
    pub fn failed(&self, pending: &Pending, error: &str) -> rusqlite::Result<()> {
        let attempts = pending.attempts + 1;
        let backoff_ms = 200i64.saturating_mul(1 << attempts.min(12));
        self.conn().execute(
            "UPDATE events SET attempts = ?2, last_error = ?3, next_try_ms = ?4, dead = ?5 WHERE id = ?1",
            params![pending.id, attempts, error, now_ms() + backoff_ms, attempts >= MAX_ATTEMPTS],
        )?;
        Ok(())
    }

    /// Undelivered and dead-lettered counts.
    pub fn backlog(&self) -> rusqlite::Result<(i64, i64)> {
        self.conn().query_row(
            "SELECT COALESCE(SUM(delivered_ms IS NULL AND dead = 0), 0), COALESCE(SUM(dead), 0) FROM events",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
    }
}

/// Delivers due events until `stop` resolves. Deliveries run concurrently (the cloud runs
/// one Lambda invocation per event); a failure is retried later, never in a tight loop.
pub async fn run_dispatcher(
    outbox: Arc<Outbox>,
    deliver: Deliver,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let in_flight = Arc::new(Mutex::new(std::collections::HashSet::new()));
    loop {
        match outbox.due(64) {
            Ok(batch) => {
                for pending in batch {
                    if !in_flight
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .insert(pending.id)
                    {
                        continue;
                    }
                    let (outbox, deliver, in_flight) =
                        (outbox.clone(), deliver.clone(), in_flight.clone());
                    tokio::spawn(async move {
                        let result = deliver(pending.target.clone(), pending.event.clone()).await;
                        let recorded = match &result {
                            Ok(()) => outbox.delivered(pending.id),
                            Err(e) => {
                                tracing::warn!(target_fn = %pending.target, event = pending.id, error = %e, "delivery failed; will retry");
                                outbox.failed(&pending, e)
                            }
                        };
                        if let Err(e) = recorded {
                            tracing::error!(error = %e, "could not record a delivery");
                        }
                        in_flight
                            .lock()
                            .unwrap_or_else(|p| p.into_inner())
                            .remove(&pending.id);
                    });
                }
            }
            Err(e) => tracing::error!(error = %e, "could not read the event outbox"),
        }
        tokio::select! {
            _ = stop.changed() => return,
            _ = tokio::time::sleep(Duration::from_millis(100)) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[tokio::test]
    async fn failed_deliveries_are_retried_then_succeed() {
        let dir = tempfile::tempdir().unwrap();
        let outbox = Arc::new(Outbox::new(
            crate::db::open(&dir.path().join("db")).unwrap(),
        ));
        outbox.push("t", &serde_json::json!({"n": 1})).unwrap();
        let calls = Arc::new(AtomicUsize::new(0));
        let seen = calls.clone();
        let deliver: Deliver = Arc::new(move |_target, _event| {
            let n = seen.fetch_add(1, Ordering::SeqCst);
            Box::pin(async move {
                if n == 0 {
                    Err("first try fails".to_string())
                } else {
                    Ok(())
                }
            })
        });
        let (stop_tx, stop) = tokio::sync::watch::channel(false);
        let task = tokio::spawn(run_dispatcher(outbox.clone(), deliver, stop));
        for _ in 0..100 {
            if outbox.backlog().unwrap() == (0, 0) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        stop_tx.send(true).unwrap();
        task.await.unwrap();
        assert_eq!(outbox.backlog().unwrap(), (0, 0));
        assert_eq!(calls.load(Ordering::SeqCst), 2);
    }

    #[test]
    fn an_event_that_always_fails_is_dead_lettered() {
        let dir = tempfile::tempdir().unwrap();
        let outbox = Outbox::new(crate::db::open(&dir.path().join("db")).unwrap());
        outbox.push("t", &serde_json::json!({})).unwrap();
        for _ in 0..MAX_ATTEMPTS {
            let conn = outbox.conn();
            conn.execute("UPDATE events SET next_try_ms = 0", [])
                .unwrap();
            drop(conn);
            let p = outbox.due(1).unwrap().remove(0);
            outbox.failed(&p, "boom").unwrap();
        }
        assert_eq!(outbox.backlog().unwrap(), (0, 1));
        assert!(outbox.due(10).unwrap().is_empty());
    }
}
