//! ETags are kept beside each object: they survive a reopen, `head` and `list` do not read
//! bodies, and a missing or stale one is computed once from the body.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers outside #[test] fns

mod common;

use std::fs::{self, OpenOptions};
use std::io::{Seek, SeekFrom, Write};
use std::path::Path;

use common::{open, store};
use mmp_object_store::{etag_of, PutCondition};

/// Overwrites the file's bytes in place (same size, same inode) and restores its
/// modification time: only a store that reads the body can tell.
fn swap_bytes_behind_the_stores_back(path: &Path, bytes: &[u8]) {
    let modified = fs::metadata(path).unwrap().modified().unwrap();
    let mut file = OpenOptions::new().write(true).open(path).unwrap();
    file.seek(SeekFrom::Start(0)).unwrap();
    file.write_all(bytes).unwrap();
    file.set_modified(modified).unwrap();
    file.sync_all().unwrap();
}

#[test]
fn head_and_list_answer_from_the_stored_etag_without_reading_the_body() {
    let (d, s) = store();
    let etag = s.put("a/x.bin", b"original", PutCondition::None).unwrap();
    swap_bytes_behind_the_stores_back(&d.path().join("bucket/a/x.bin"), b"REPLACED");
    assert_eq!(s.head("a/x.bin").unwrap().etag, etag);
    assert_eq!(s.head("a/x.bin").unwrap().size, 8);
    let listed = s.list_objects("a/").unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].etag, etag);
    assert_ne!(etag, etag_of(b"REPLACED"));
}

#[test]
fn the_etag_survives_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let etag = open(dir.path())
        .put("a/x.bin", b"kept", PutCondition::None)
        .unwrap();
    swap_bytes_behind_the_stores_back(&dir.path().join("bucket/a/x.bin"), b"KEPT");
    let reopened = open(dir.path());
    assert_eq!(reopened.head("a/x.bin").unwrap().etag, etag);
    assert_eq!(reopened.list_objects("").unwrap()[0].etag, etag);
}

#[test]
fn an_object_without_a_sidecar_is_hashed_once_and_then_kept() {
    let (d, s) = store();
    // As an older version (or a test harness) wrote it: no sidecar.
    let path = d.path().join("bucket/datasets/x/x.csv");
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(&path, b"a,b\n").unwrap();
    assert_eq!(s.list("").unwrap(), ["datasets/x/x.csv"]);
    assert_eq!(s.head("datasets/x/x.csv").unwrap().etag, etag_of(b"a,b\n"));
    swap_bytes_behind_the_stores_back(&path, b"c,d\n");
    assert_eq!(s.head("datasets/x/x.csv").unwrap().etag, etag_of(b"a,b\n"));
}

#[test]
fn a_body_changed_outside_the_store_gets_its_etag_again() {
    let (d, s) = store();
    s.put("a/x.bin", b"one", PutCondition::None).unwrap();
    // What a crash between the body's rename and its sidecar's leaves: a new file under an
    // old sidecar.
    let path = d.path().join("bucket/a/x.bin");
    let replacement = d.path().join("bucket/a/new");
    fs::write(&replacement, b"longer").unwrap();
    fs::rename(&replacement, &path).unwrap();
    let info = s.head("a/x.bin").unwrap();
    assert_eq!((info.etag, info.size), (etag_of(b"longer"), 6));
    let got = s.get("a/x.bin").unwrap();
    assert_eq!(
        (got.body, got.etag),
        (b"longer".to_vec(), etag_of(b"longer"))
    );
}
