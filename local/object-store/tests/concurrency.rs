//! Conditions hold when writers race: threads of one store, and stores of several
//! "processes" (each with its own lock connection) over one folder.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers outside #[test] fns

mod common;

use std::sync::Barrier;

use common::open;
use mmp_object_store::{LocalStore, PutCondition, StoreError};

const WRITERS: usize = 6;

fn stores(dir: &std::path::Path) -> Vec<LocalStore> {
    (0..WRITERS).map(|_| open(dir)).collect()
}

#[test]
fn if_absent_lets_exactly_one_racing_writer_create() {
    let dir = tempfile::tempdir().unwrap();
    let stores = stores(dir.path());
    let barrier = Barrier::new(WRITERS);
    let results: Vec<_> = std::thread::scope(|scope| {
        let handles: Vec<_> = stores
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let barrier = &barrier;
                scope.spawn(move || {
                    barrier.wait();
                    s.put(
                        "claims/x",
                        format!("writer {i}").as_bytes(),
                        PutCondition::IfAbsent,
                    )
                    .map(|etag| (i, etag))
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let winners: Vec<_> = results.iter().filter_map(|r| r.as_ref().ok()).collect();
    assert_eq!(winners.len(), 1, "{results:?}");
    for lost in results.iter().filter_map(|r| r.as_ref().err()) {
        assert!(matches!(lost, StoreError::PreconditionFailed(_)), "{lost}");
    }
    let (winner, etag) = winners[0];
    let got = stores[0].get("claims/x").unwrap();
    assert_eq!(got.body, format!("writer {winner}").as_bytes());
    assert_eq!(&got.etag, etag);
}

#[test]
fn if_match_loses_no_update_among_racing_read_modify_writes() {
    const INCREMENTS: usize = 8;
    let dir = tempfile::tempdir().unwrap();
    let stores = stores(dir.path());
    stores[0].put("counter", b"0", PutCondition::None).unwrap();
    std::thread::scope(|scope| {
        for s in &stores {
            scope.spawn(move || {
                let mut done = 0;
                while done < INCREMENTS {
                    let current = s.get("counter").unwrap();
                    let n: usize = String::from_utf8(current.body).unwrap().parse().unwrap();
                    let next = (n + 1).to_string();
                    match s.put(
                        "counter",
                        next.as_bytes(),
                        PutCondition::IfMatch(current.etag),
                    ) {
                        Ok(_) => done += 1,
                        Err(StoreError::PreconditionFailed(_)) => {}
                        Err(e) => panic!("{e}"),
                    }
                }
            });
        }
    });
    let total = stores[0].get("counter").unwrap().body;
    assert_eq!(total, (WRITERS * INCREMENTS).to_string().as_bytes());
}
