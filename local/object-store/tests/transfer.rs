//! Job data: prefix downloads with SageMaker's S3Prefix semantics, folder uploads, archives.

mod common;

use std::fs;

use common::store;
use mmp_object_store::{etag_of, PutCondition, StoreError};

#[test]
fn downloads_with_s3_prefix_semantics() {
    let (_d, s) = store();
    s.put("p/train/dataset.csv", b"a", PutCondition::None)
        .unwrap();
    s.put("p/train/sub/x.csv", b"b", PutCondition::None)
        .unwrap();
    s.put("p/trainer/y.csv", b"c", PutCondition::None).unwrap();
    s.put("p/model.tar.gz", b"m", PutCondition::None).unwrap();
    let out = tempfile::tempdir().unwrap();
    let dest = out.path().join("train");
    assert_eq!(s.download_prefix("s3://bkt/p/train/", &dest).unwrap(), 2);
    assert_eq!(fs::read(dest.join("sub/x.csv")).unwrap(), b"b");
    let dest = out.path().join("prefix");
    // Without the slash, `p/trainer/y.csv` matches too, as S3 lists it.
    assert_eq!(s.download_prefix("s3://bkt/p/train", &dest).unwrap(), 3);
    assert_eq!(fs::read(dest.join("dataset.csv")).unwrap(), b"a");
    assert_eq!(fs::read(dest.join("trainer/y.csv")).unwrap(), b"c");
    let dest = out.path().join("model");
    assert_eq!(
        s.download_prefix("s3://bkt/p/model.tar.gz", &dest).unwrap(),
        1
    );
    assert_eq!(fs::read(dest.join("model.tar.gz")).unwrap(), b"m");
    // The store's own files (ETags, temporary files) are never downloaded.
    let names: Vec<_> = fs::read_dir(out.path().join("train"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(names.len(), 2, "{names:?}");
}

#[test]
fn names_missing_objects_and_foreign_buckets() {
    let (_d, s) = store();
    let out = tempfile::tempdir().unwrap();
    let e = s
        .download_prefix("s3://bkt/nothing/here", out.path())
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("no S3 objects found under S3 URL s3://bkt/nothing/here"),
        "{e}"
    );
    let e = s
        .download_prefix("s3://other/x", out.path())
        .unwrap_err()
        .to_string();
    assert!(e.contains("bucket other"), "{e}");
    assert!(matches!(
        s.put("../escape", b"x", PutCondition::None),
        Err(StoreError::InvalidKey(_))
    ));
}

#[test]
fn uploads_folders_and_archives_them() {
    let (d, s) = store();
    let src = tempfile::tempdir().unwrap();
    fs::create_dir_all(src.path().join("a")).unwrap();
    fs::write(src.path().join("a/b.json"), "{}").unwrap();
    fs::write(src.path().join("c.txt"), "c").unwrap();
    assert_eq!(s.upload_dir(src.path(), "s3://bkt/out/x/").unwrap(), 2);
    assert_eq!(
        fs::read_to_string(d.path().join("bucket/out/x/a/b.json")).unwrap(),
        "{}"
    );
    assert_eq!(s.head("out/x/c.txt").unwrap().etag, etag_of(b"c"));
    assert_eq!(
        s.upload_dir(&src.path().join("missing"), "s3://bkt/o")
            .unwrap(),
        0
    );

    let etag = s.put_tar_gz("s3://bkt/m/model.tar.gz", src.path()).unwrap();
    let bytes = fs::read(d.path().join("bucket/m/model.tar.gz")).unwrap();
    assert_eq!(etag, etag_of(&bytes));
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(&bytes[..]));
    let mut names: Vec<String> = archive
        .entries()
        .unwrap()
        .map(|e| e.unwrap().path().unwrap().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["a/b.json", "c.txt"]);
}

#[cfg(unix)]
#[test]
fn a_download_links_the_object_read_only_and_keeps_its_bytes_when_the_object_is_replaced() {
    use std::os::unix::fs::MetadataExt;
    let (d, s) = store();
    s.put("data/train.csv", b"first", PutCondition::None)
        .unwrap();
    let etag = s.head("data/train.csv").unwrap().etag;
    // The job folders live beside the bucket, on its file system.
    let jobs = d.path().join("jobs");
    let (one, two) = (jobs.join("trial-1"), jobs.join("trial-2"));
    s.download_prefix("s3://bkt/data/", &one).unwrap();
    s.download_prefix("s3://bkt/data/", &two).unwrap();

    let (a, b) = (
        fs::metadata(one.join("train.csv")).unwrap(),
        fs::metadata(two.join("train.csv")).unwrap(),
    );
    assert_eq!(a.ino(), b.ino(), "the trials share one file");
    assert!(a.nlink() >= 3, "linked, not copied: {} links", a.nlink());
    assert!(a.permissions().readonly());
    assert_eq!(
        s.head("data/train.csv").unwrap().etag,
        etag,
        "linking changes no ETag"
    );

    s.put("data/train.csv", b"second", PutCondition::None)
        .unwrap();
    assert_eq!(fs::read(one.join("train.csv")).unwrap(), b"first");
    assert_eq!(s.get("data/train.csv").unwrap().body, b"second");
}
