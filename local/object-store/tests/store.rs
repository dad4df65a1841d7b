//! Reads, conditional writes, copies, listing and deletes, as S3 does them.

mod common;

use std::sync::{Arc, Mutex};

use common::store;
use mmp_object_store::{etag_of, PutCondition, StoreError};

#[test]
fn conditional_writes_follow_s3() {
    let (_d, s) = store();
    let e1 = s.put("a/b.json", b"1", PutCondition::IfAbsent).unwrap();
    assert!(matches!(
        s.put("a/b.json", b"2", PutCondition::IfAbsent),
        Err(StoreError::PreconditionFailed(_))
    ));
    let e2 = s
        .put("a/b.json", b"2", PutCondition::IfMatch(e1.clone()))
        .unwrap();
    assert!(matches!(
        s.put("a/b.json", b"3", PutCondition::IfMatch(e1)),
        Err(StoreError::PreconditionFailed(_))
    ));
    let got = s.get("a/b.json").unwrap();
    assert_eq!((got.body.as_slice(), got.etag), (&b"2"[..], e2));
    // S3 answers If-Match on a missing key with NoSuchKey.
    assert!(matches!(
        s.put("a/none.json", b"x", PutCondition::IfMatch(etag_of(b"x"))),
        Err(StoreError::NotFound(_))
    ));
}

#[test]
fn keys_cannot_escape_the_bucket() {
    let (_d, s) = store();
    for bad in ["../x", "/etc/passwd", "", "a/../../b", "a/.mmp-meta.b"] {
        assert!(
            matches!(
                s.put(bad, b"x", PutCondition::None),
                Err(StoreError::InvalidKey(_))
            ),
            "{bad}"
        );
    }
}

#[test]
fn a_staged_body_is_written_like_put_and_never_listed_before() {
    let (_d, s) = store();
    let mut staged = s.stage().unwrap();
    staged.write(b"a,b\n").unwrap();
    staged.write(b"1,2\n").unwrap();
    assert_eq!(staged.size(), 8);
    assert!(s.list("").unwrap().is_empty());
    let etag = s
        .put_staged("datasets/x/x.csv", staged, PutCondition::None)
        .unwrap();
    assert_eq!(etag, etag_of(b"a,b\n1,2\n"));
    assert_eq!(s.get("datasets/x/x.csv").unwrap().body, b"a,b\n1,2\n");
    assert_eq!(s.list("").unwrap(), ["datasets/x/x.csv"]);
}

#[test]
fn list_copy_delete() {
    let (_d, s) = store();
    s.put("datasets/x/x.csv", b"a", PutCondition::None).unwrap();
    s.put("datasets/y/y.csv", b"b", PutCondition::None).unwrap();
    s.copy("datasets/x/x.csv", "endpoint/models/x.tar.gz")
        .unwrap();
    assert_eq!(
        s.list("datasets/").unwrap(),
        ["datasets/x/x.csv", "datasets/y/y.csv"]
    );
    s.delete("datasets/x/x.csv").unwrap();
    s.delete("datasets/x/x.csv").unwrap();
    assert!(matches!(
        s.get("datasets/x/x.csv"),
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(
        s.head("datasets/x/x.csv"),
        Err(StoreError::NotFound(_))
    ));
    assert_eq!(s.get("endpoint/models/x.tar.gz").unwrap().body, b"a");
}

#[test]
fn list_objects_carries_etags_and_sizes_in_key_order() {
    let (_d, s) = store();
    s.put("p/a-b", b"12", PutCondition::None).unwrap();
    s.put("p/a/b", b"345", PutCondition::None).unwrap();
    s.put("q/c", b"6", PutCondition::None).unwrap();
    let listed = s.list_objects("p/a").unwrap();
    let keys: Vec<_> = listed.iter().map(|o| o.key.as_str()).collect();
    // S3 order: `-` sorts before `/`.
    assert_eq!(keys, ["p/a-b", "p/a/b"]);
    assert_eq!(listed[1].etag, etag_of(b"345"));
    assert_eq!(listed[1].size, 3);
    assert!(s.list_objects("../").unwrap().is_empty());
}

#[test]
fn a_copy_if_match_copies_only_the_named_version() {
    let (_d, s) = store();
    let etag = s.put("up/x.csv", b"v1", PutCondition::None).unwrap();
    let unquoted = etag.trim_matches('"').to_string();
    assert_eq!(
        s.copy_if_match("up/x.csv", &unquoted, "pin/x.csv").unwrap(),
        etag
    );
    s.put("up/x.csv", b"v2", PutCondition::None).unwrap();
    assert!(matches!(
        s.copy_if_match("up/x.csv", &etag, "pin/y.csv"),
        Err(StoreError::PreconditionFailed(_))
    ));
    assert!(matches!(s.head("pin/y.csv"), Err(StoreError::NotFound(_))));
    assert!(matches!(
        s.copy("up/none.csv", "pin/z.csv"),
        Err(StoreError::NotFound(_))
    ));
}

#[test]
fn every_write_notifies_with_key_size_and_etag() {
    let (_d, s) = store();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = seen.clone();
    let s = s.with_notifications(Arc::new(move |key: &str, size: u64, etag: &str| {
        sink.lock()
            .unwrap()
            .push((key.to_string(), size, etag.to_string()));
    }));
    let etag = s
        .put("datasets/x/x.csv", b"abc", PutCondition::None)
        .unwrap();
    s.copy("datasets/x/x.csv", "copy/x.csv").unwrap();
    let _ = s.put("datasets/x/x.csv", b"z", PutCondition::IfAbsent);
    assert_eq!(
        *seen.lock().unwrap(),
        [
            ("datasets/x/x.csv".to_string(), 3, etag.clone()),
            ("copy/x.csv".to_string(), 3, etag)
        ]
    );
}

#[test]
fn uris_name_this_bucket_only() {
    let (_d, s) = store();
    assert_eq!(s.key_of("s3://bkt/a/b").unwrap(), "a/b");
    assert_eq!(s.key_of_uri("s3://bkt/a/b"), Some("a/b"));
    assert_eq!(s.key_of_uri("s3://other/a/b"), None);
    assert!(matches!(s.key_of("bkt/a"), Err(StoreError::NotS3Uri(_))));
    assert_eq!(s.uri_of("a/b"), "s3://bkt/a/b");
}
