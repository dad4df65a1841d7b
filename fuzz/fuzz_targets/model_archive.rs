//! The model archive unpacker (`mmp_model_archive::unpack`), into a fresh folder per input.
//! The first byte picks what the rest is: even, a tar stream that is gzip-compressed here (so
//! the fuzzer mutates tar headers, not deflate blocks); odd, the `.tar.gz` bytes as they are.
#![no_main]

use std::io::Write;
use std::path::Path;

use libfuzzer_sys::fuzz_target;
use mmp_model_archive::{unpack, Limits};

/// Small caps, so that inputs within -max_len can reach them.
const LIMITS: Limits = Limits {
    max_unpacked_bytes: 1 << 20,
    max_entries: 64,
};

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let gz = if selector % 2 == 0 {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        if let Err(error) = encoder.write_all(rest) {
            panic!("gzip into memory: {error}");
        }
        match encoder.finish() {
            Ok(gz) => gz,
            Err(error) => panic!("gzip into memory: {error}"),
        }
    } else {
        rest.to_vec()
    };
    let root = match tempfile::tempdir() {
        Ok(root) => root,
        Err(error) => panic!("no temporary folder: {error}"),
    };
    let dest = root.path().join("model");
    let result = unpack(gz.as_slice(), &dest, &LIMITS);
    // Whatever happened, nothing was written beside the destination.
    let beside: Vec<_> = match std::fs::read_dir(root.path()) {
        Ok(entries) => entries
            .filter_map(Result::ok)
            .map(|e| e.file_name())
            .collect(),
        Err(error) => panic!("cannot list the temporary folder: {error}"),
    };
    assert!(
        beside.iter().all(|name| name == "model"),
        "written outside the destination: {beside:?}"
    );
    let Ok(unpacked) = result else {
        return;
    };
    let mut found = Found::default();
    walk(&dest, &mut found);
    assert_eq!(found.files, unpacked.files, "files counted");
    assert!(
        found.bytes <= unpacked.bytes && unpacked.bytes <= LIMITS.max_unpacked_bytes,
        "{} bytes on disk, {} counted, cap {}",
        found.bytes,
        unpacked.bytes,
        LIMITS.max_unpacked_bytes
    );
});

#[derive(Default)]
struct Found {
    files: u64,
    bytes: u64,
}

/// Counts the regular files below `dir`; anything else than files and folders is a failure.
fn walk(dir: &Path, found: &mut Found) {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(error) => panic!("cannot list an unpacked folder: {error}"),
    };
    for entry in entries {
        let path = match entry {
            Ok(entry) => entry.path(),
            Err(error) => panic!("cannot list an unpacked folder: {error}"),
        };
        let meta = match std::fs::symlink_metadata(&path) {
            Ok(meta) => meta,
            Err(error) => panic!("cannot stat an unpacked entry: {error}"),
        };
        if meta.is_dir() {
            walk(&path, found);
        } else if meta.is_file() {
            found.files += 1;
            found.bytes += meta.len();
        } else {
            panic!("unpacked something that is neither a file nor a folder");
        }
    }
}
