//! The event bus: a durable outbox in SQLite and a dispatcher that delivers each event to its
//! handler with retries, as EventBridge and S3 notifications do — at least once, possibly
//! twice, so every handler must converge under replays.

use std::collections::HashSet;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rusqlite::types::Value as SqlValue;
use rusqlite::{params, Connection};
use tokio::sync::Notify;

use crate::db::{self, now_ms};
use crate::function::Function;

/// Deliveries of one event before it is dead-lettered (EventBridge's retry policy, shortened).
pub const MAX_ATTEMPTS: i64 = 8;

/// How often the dispatcher looks for events it was not told about: those queued by another
/// process (`mmp upload` while `mmp up` runs). Events queued in this process wake it at once.
pub const FALLBACK_POLL: Duration = Duration::from_secs(1);

/// Events read per pass.
const BATCH: usize = 64;

pub type HandlerFuture = Pin<Box<dyn Future<Output = Result<(), String>> + Send>>;
/// Delivers one event to its target.
pub type Deliver = Arc<dyn Fn(Function, serde_json::Value) -> HandlerFuture + Send + Sync>;

/// A pending delivery.
#[derive(Debug, Clone)]
pub struct Pending {
    pub id: i64,
    pub target: Function,
    pub event: serde_json::Value,
    pub attempts: i64,
}

/// A dead-lettered event: kept, never delivered again.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct DeadLetter {
    pub id: i64,
    pub target: String,
    pub attempts: i64,
    pub last_error: Option<String>,
}

pub struct Outbox {
    conn: Mutex<Connection>,
    /// Signalled when this process queues an event or finishes a delivery. It keeps one
    /// permit, so a signal sent while the dispatcher is busy wakes its next wait.
    changed: Notify,
    /// Counts queued events and recorded deliveries, for anyone waiting on the system's
    /// progress (the demo) without polling it.
    activity: tokio::sync::watch::Sender<u64>,
}

impl Outbox {
    pub fn new(conn: Connection) -> Self {
        Self {
            conn: Mutex::new(conn),
            changed: Notify::new(),
            activity: tokio::sync::watch::Sender::new(0),
        }
    }

    fn conn(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Queues `event` for `target`, and wakes the dispatcher.
    pub fn push(&self, target: Function, event: &serde_json::Value) -> rusqlite::Result<i64> {
        let id = {
            let conn = self.conn();
            conn.execute(
                "INSERT INTO events (target, event, created_ms) VALUES (?1, ?2, ?3)",
                params![target.as_str(), event.to_string(), now_ms()],
            )?;
            conn.last_insert_rowid()
        };
        self.changed.notify_one();
        self.activity.send_modify(|n| *n += 1);
        Ok(id)
    }

    /// Changes whenever an event is queued or a delivery recorded (an execution ended, an
    /// approval changed, a model was routed...).
    pub fn activity(&self) -> tokio::sync::watch::Receiver<u64> {
        self.activity.subscribe()
    }

    /// Deliveries due now, oldest first. A row that cannot be read as an event (not JSON, not
    /// text, no such function) is dead-lettered with the reason, never delivered.
    #[cfg(test)]
    pub fn due(&self, limit: usize) -> rusqlite::Result<Vec<Pending>> {
        self.due_at(now_ms(), limit)
    }

    fn due_at(&self, now: i64, limit: usize) -> rusqlite::Result<Vec<Pending>> {
        let conn = self.conn();
        let rows = {
            let mut stmt = conn.prepare(
                "SELECT id, target, event, attempts FROM events
                 WHERE delivered_ms IS NULL AND dead = 0 AND next_try_ms <= ?1
                 ORDER BY id LIMIT ?2",
            )?;
            // Read as SQL values: one row of the wrong type must not stop every delivery.
            let rows = stmt.query_map(
                params![now, i64::try_from(limit).unwrap_or(i64::MAX)],
                |r| {
                    Ok((
                        r.get::<_, i64>(0)?,
                        r.get::<_, SqlValue>(1)?,
                        r.get::<_, SqlValue>(2)?,
                        r.get::<_, SqlValue>(3)?,
                    ))
                },
            )?;
            rows.collect::<rusqlite::Result<Vec<_>>>()?
        };
        let mut due = Vec::with_capacity(rows.len());
        for (id, target, event, attempts) in rows {
            match decode(id, target, event, attempts) {
                Ok(pending) => due.push(pending),
                Err(reason) => {
                    tracing::error!(event = id, %reason, "corrupt outbox row dead-lettered");
                    conn.execute(
                        "UPDATE events SET dead = 1, last_error = ?2 WHERE id = ?1",
                        params![id, format!("corrupt event, not delivered: {reason}")],
                    )?;
                }
            }
        }
        Ok(due)
    }

    /// When the earliest retry after `now` falls due.
    fn next_retry_after(&self, now: i64) -> rusqlite::Result<Option<i64>> {
        self.conn().query_row(
            "SELECT MIN(next_try_ms) FROM events
             WHERE delivered_ms IS NULL AND dead = 0 AND next_try_ms > ?1",
            params![now],
            |r| r.get(0),
        )
    }

    pub fn delivered(&self, id: i64) -> rusqlite::Result<()> {
        self.conn().execute(
            "UPDATE events SET delivered_ms = ?2, attempts = attempts + 1 WHERE id = ?1",
            params![id, now_ms()],
        )?;
        self.activity.send_modify(|n| *n += 1);
        Ok(())
    }

    /// Records a failed delivery: retried with exponential back-off, dead after
    /// [`MAX_ATTEMPTS`] (kept, with its last error, for `mmp dead-letters`).
    pub fn failed(&self, pending: &Pending, error: &str) -> rusqlite::Result<()> {
        let attempts = pending.attempts + 1;
        let backoff_ms = 200i64.saturating_mul(1 << attempts.clamp(0, 12));
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

    /// The dead-lettered events, oldest first, with why.
    pub fn dead_letters(&self) -> rusqlite::Result<Vec<DeadLetter>> {
        let conn = self.conn();
        let mut stmt = conn.prepare(
            "SELECT id, CAST(target AS TEXT), attempts, last_error FROM events
             WHERE dead != 0 ORDER BY id",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok(DeadLetter {
                id: r.get(0)?,
                target: r.get::<_, Option<String>>(1)?.unwrap_or_default(),
                attempts: r.get(2)?,
                last_error: r.get(3)?,
            })
        })?;
        rows.collect()
    }
}

/// A row as an event, or why it is not one.
fn decode(
    id: i64,
    target: SqlValue,
    event: SqlValue,
    attempts: SqlValue,
) -> Result<Pending, String> {
    let SqlValue::Text(target) = target else {
        return Err(format!("target is {}, not text", kind(&target)));
    };
    let SqlValue::Text(text) = event else {
        return Err(format!("event is {}, not text", kind(&event)));
    };
    let event = serde_json::from_str(&text).map_err(|e| format!("event is not JSON: {e}"))?;
    let SqlValue::Integer(attempts) = attempts else {
        return Err(format!("attempts is {}, not an integer", kind(&attempts)));
    };
    let target =
        Function::from_name(&target).ok_or_else(|| format!("no function named {target}"))?;
    Ok(Pending {
        id,
        target,
        event,
        attempts,
    })
}

fn kind(value: &SqlValue) -> &'static str {
    match value {
        SqlValue::Null => "NULL",
        SqlValue::Integer(_) => "an integer",
        SqlValue::Real(_) => "a real",
        SqlValue::Text(_) => "text",
        SqlValue::Blob(_) => "a blob",
    }
}

/// Delivers due events until `stop` resolves. Deliveries run concurrently (the cloud runs
/// one Lambda invocation per event); a failure is retried later, never in a tight loop.
pub async fn run_dispatcher(
    outbox: Arc<Outbox>,
    deliver: Deliver,
    stop: tokio::sync::watch::Receiver<bool>,
) {
    run_dispatcher_polling(outbox, deliver, stop, FALLBACK_POLL).await
}

/// [`run_dispatcher`], looking for events queued by other processes every `fallback_poll`.
/// It wakes at once when this process queues an event or a delivery ends, and when the
/// earliest retry falls due. Database work runs on the blocking pool ([`db::blocking`]).
pub async fn run_dispatcher_polling(
    outbox: Arc<Outbox>,
    deliver: Deliver,
    mut stop: tokio::sync::watch::Receiver<bool>,
    fallback_poll: Duration,
) {
    let in_flight = Arc::new(Mutex::new(InFlight::default()));
    loop {
        // Ids whose delivery was recorded leave the set only now, before the read: a read made
        // while one was being recorded may still list it as due, and must still skip it.
        in_flight
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .forget_finished();
        let reader = outbox.clone();
        let read = db::blocking(move || {
            let now = now_ms();
            Ok::<_, rusqlite::Error>((reader.due_at(now, BATCH)?, reader.next_retry_after(now)?))
        })
        .await;
        let wait = match read {
            Ok(Ok((batch, next_retry))) => {
                let full = batch.len() == BATCH;
                let mut started = false;
                for pending in batch {
                    if !in_flight
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .running
                        .insert(pending.id)
                    {
                        continue;
                    }
                    started = true;
                    tokio::spawn(deliver_one(
                        outbox.clone(),
                        deliver.clone(),
                        in_flight.clone(),
                        pending,
                    ));
                }
                if full && started {
                    // More may be due than one batch holds.
                    Duration::ZERO
                } else {
                    let until_retry = next_retry
                        .map(|at| Duration::from_millis(u64::try_from(at - now_ms()).unwrap_or(0)));
                    until_retry.map_or(fallback_poll, |d| d.min(fallback_poll))
                }
            }
            Ok(Err(e)) => {
                tracing::error!(error = %e, "could not read the event outbox");
                fallback_poll.min(FALLBACK_POLL)
            }
            Err(e) => {
                tracing::error!(error = %e, "could not read the event outbox");
                fallback_poll.min(FALLBACK_POLL)
            }
        };
        tokio::select! {
            _ = stop.changed() => return,
            _ = outbox.changed.notified() => {}
            _ = tokio::time::sleep(wait) => {}
        }
    }
}

/// The deliveries the dispatcher started and has not yet seen end.
#[derive(Default)]
struct InFlight {
    /// Being delivered, or delivered and recorded since the dispatcher's last read.
    running: HashSet<i64>,
    /// Recorded (delivered, or failed and rescheduled) since the dispatcher's last read.
    finished: Vec<i64>,
}

impl InFlight {
    /// Called before each read of the outbox: what was recorded before it is read as recorded.
    fn forget_finished(&mut self) {
        for id in self.finished.drain(..) {
            self.running.remove(&id);
        }
    }
}

/// One delivery and its record; then wakes the dispatcher, which may have a retry to
/// schedule or more events due.
async fn deliver_one(
    outbox: Arc<Outbox>,
    deliver: Deliver,
    in_flight: Arc<Mutex<InFlight>>,
    pending: Pending,
) {
    let id = pending.id;
    let result = deliver(pending.target, pending.event.clone()).await;
    let recorder = outbox.clone();
    let recorded = db::blocking(move || match &result {
        Ok(()) => recorder.delivered(pending.id),
        Err(e) => {
            tracing::warn!(target_fn = %pending.target, event = pending.id, error = %e, "delivery failed; will retry");
            recorder.failed(&pending, e)
        }
    })
    .await;
    in_flight
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .finished
        .push(id);
    match recorded {
        Ok(Ok(())) => outbox.changed.notify_one(),
        // Not woken: the row is still due, and the fallback poll paces its redelivery.
        Ok(Err(e)) => tracing::error!(event = id, error = %e, "could not record a delivery"),
        Err(e) => tracing::error!(event = id, error = %e, "could not record a delivery"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn queuing_and_recording_a_delivery_each_change_the_activity() {
        let dir = tempfile::tempdir().unwrap();
        let outbox = Outbox::new(crate::db::open(&dir.path().join("db")).unwrap());
        let mut activity = outbox.activity();
        assert!(!activity.has_changed().unwrap());
        let id = outbox
            .push(Function::PipelineTrigger, &serde_json::json!({"n": 1}))
            .unwrap();
        assert!(activity.has_changed().unwrap(), "queued");
        activity.mark_unchanged();
        outbox.delivered(id).unwrap();
        assert!(activity.has_changed().unwrap(), "delivered");
    }

    #[tokio::test]
    async fn failed_deliveries_are_retried_then_succeed() {
        let dir = tempfile::tempdir().unwrap();
        let outbox = Arc::new(Outbox::new(
            crate::db::open(&dir.path().join("db")).unwrap(),
        ));
        outbox
            .push(Function::PipelineTrigger, &serde_json::json!({"n": 1}))
            .unwrap();
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
        outbox
            .push(Function::PipelineTrigger, &serde_json::json!({}))
            .unwrap();
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

    #[test]
    fn a_corrupt_row_is_dead_lettered_with_its_reason_never_delivered() {
        let dir = tempfile::tempdir().unwrap();
        let outbox = Outbox::new(crate::db::open(&dir.path().join("db")).unwrap());
        let before = outbox
            .push(Function::PipelineTrigger, &serde_json::json!({"n": 1}))
            .unwrap();
        outbox
            .conn()
            .execute_batch(
                "INSERT INTO events (target, event, created_ms) VALUES ('t', '{not json', 0);
                 INSERT INTO events (target, event, created_ms) VALUES ('t', X'FF00', 0);",
            )
            .unwrap();
        let after = outbox
            .push(Function::PipelineTrigger, &serde_json::json!({"n": 2}))
            .unwrap();

        let due = outbox.due(10).unwrap();
        let ids: Vec<i64> = due.iter().map(|p| p.id).collect();
        assert_eq!(ids, [before, after]);
        assert!(due.iter().all(|p| !p.event.is_null()));
        assert_eq!(outbox.backlog().unwrap(), (2, 2));
        let dead = outbox.dead_letters().unwrap();
        assert_eq!(dead.len(), 2);
        let reasons: Vec<&str> = dead
            .iter()
            .filter_map(|d| d.last_error.as_deref())
            .collect();
        assert!(reasons[0].contains("not JSON"), "{reasons:?}");
        assert!(reasons[1].contains("a blob, not text"), "{reasons:?}");
        // Kept, and not offered again.
        assert_eq!(outbox.due(10).unwrap().len(), 2);
        assert_eq!(outbox.dead_letters().unwrap(), dead);
    }

    #[test]
    fn rows_name_their_function_as_before_and_an_unknown_one_is_dead_lettered() {
        let dir = tempfile::tempdir().unwrap();
        let outbox = Outbox::new(crate::db::open(&dir.path().join("db")).unwrap());
        outbox
            .conn()
            .execute_batch(
                "INSERT INTO events (target, event, created_ms) VALUES ('model-deployer', '{}', 0);
                 INSERT INTO events (target, event, created_ms) VALUES ('no-such-fn', '{}', 0);",
            )
            .unwrap();
        outbox
            .push(Function::RetryExecution, &serde_json::json!({}))
            .unwrap();
        let stored: String = outbox
            .conn()
            .query_row("SELECT target FROM events WHERE id = 3", [], |r| r.get(0))
            .unwrap();
        assert_eq!(stored, "retry-pipeline-execution");

        let targets: Vec<Function> = outbox.due(10).unwrap().iter().map(|p| p.target).collect();
        assert_eq!(targets, [Function::ModelDeployer, Function::RetryExecution]);
        let dead = outbox.dead_letters().unwrap();
        assert_eq!(dead.len(), 1);
        assert_eq!(dead[0].target, "no-such-fn");
        let reason = dead[0].last_error.as_deref().unwrap_or_default();
        assert!(reason.contains("no function named no-such-fn"), "{reason}");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_event_queued_in_process_wakes_the_dispatcher_without_its_poll() {
        let dir = tempfile::tempdir().unwrap();
        let outbox = Arc::new(Outbox::new(
            crate::db::open(&dir.path().join("db")).unwrap(),
        ));
        let (sent, mut delivered) = tokio::sync::mpsc::unbounded_channel();
        let deliver: Deliver = Arc::new(move |_target, event| {
            let sent = sent.clone();
            Box::pin(async move {
                sent.send(event).map_err(|e| e.to_string())?;
                Ok(())
            })
        });
        let (stop_tx, stop) = tokio::sync::watch::channel(false);
        // An hour: only a wake-up can deliver these within the test.
        let task = tokio::spawn(run_dispatcher_polling(
            outbox.clone(),
            deliver,
            stop,
            Duration::from_secs(3600),
        ));
        outbox
            .push(Function::PipelineTrigger, &serde_json::json!({"n": 1}))
            .unwrap();
        let first = tokio::time::timeout(Duration::from_secs(60), delivered.recv()).await;
        assert_eq!(first.unwrap(), Some(serde_json::json!({"n": 1})));
        // Let the pass that follows the first delivery end, so the dispatcher waits again.
        tokio::time::sleep(Duration::from_millis(300)).await;
        outbox
            .push(Function::PipelineTrigger, &serde_json::json!({"n": 2}))
            .unwrap();
        let second = tokio::time::timeout(Duration::from_secs(60), delivered.recv()).await;
        assert_eq!(second.unwrap(), Some(serde_json::json!({"n": 2})));
        stop_tx.send(true).unwrap();
        task.await.unwrap();
    }
}
