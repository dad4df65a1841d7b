//! What `unpack` writes and what it refuses.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failure is the test failing

use std::cell::Cell;
use std::io::{self, Read};
use std::path::Path;
use std::rc::Rc;

use mmp_model_archive::{unpack, ArchiveError, Limits, Refusal, HEADER_ALLOWANCE};

/// A raw header: the name goes in as bytes, so the `tar` crate's own checks (which refuse
/// `..` and absolute paths when building) do not stop a hostile archive being made.
fn header(kind: tar::EntryType, name: &str, size: u64) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    h.as_old_mut().name[..name.len()].copy_from_slice(name.as_bytes());
    h.set_size(size);
    h.set_mode(0o644);
    h.set_entry_type(kind);
    h.set_cksum();
    h
}

fn gzip(tar_bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzEncoder::new(tar_bytes, flate2::Compression::fast())
        .read_to_end(&mut out)
        .unwrap();
    out
}

/// A .tar.gz of `(header, data)` entries.
fn archive(entries: &[(tar::Header, &[u8])]) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    for (h, data) in entries {
        builder.append(h, *data).unwrap();
    }
    gzip(&builder.into_inner().unwrap())
}

fn file(name: &str, data: &'static [u8]) -> (tar::Header, &'static [u8]) {
    (
        header(tar::EntryType::Regular, name, data.len() as u64),
        data,
    )
}

fn link(kind: tar::EntryType, name: &str, target: &str) -> (tar::Header, &'static [u8]) {
    let mut h = header(kind, name, 0);
    h.set_link_name(target).unwrap();
    h.set_cksum();
    (h, b"")
}

/// Every file below `dir` with its size; symlinks are reported as such, not followed.
fn written(dir: &Path) -> Vec<(String, u64)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let e = e.unwrap();
            let meta = std::fs::symlink_metadata(e.path()).unwrap();
            let rel = e.path().strip_prefix(dir).unwrap().display().to_string();
            if meta.is_dir() {
                stack.push(e.path());
            } else {
                out.push((rel, meta.len()));
            }
        }
    }
    out.sort();
    out
}

fn refused(bytes: &[u8]) -> (ArchiveError, tempfile::TempDir) {
    let dest = tempfile::tempdir().unwrap();
    let err = unpack(bytes, dest.path(), &Limits::default()).unwrap_err();
    (err, dest)
}

#[test]
fn a_clean_archive_unpacks_its_files_and_folders() {
    let src = tempfile::tempdir().unwrap();
    std::fs::write(src.path().join("manifest.json"), b"{\"a\":1}").unwrap();
    std::fs::write(src.path().join("model.json"), vec![7u8; 70_000]).unwrap();
    std::fs::create_dir(src.path().join("extra")).unwrap();
    std::fs::write(src.path().join("extra/notes.txt"), b"hi").unwrap();
    // As the training job's archive is written: the folder's files under `./`.
    let mut builder = tar::Builder::new(Vec::new());
    builder.append_dir_all(".", src.path()).unwrap();
    let bytes = gzip(&builder.into_inner().unwrap());
    let dest = tempfile::tempdir().unwrap();
    let done = unpack(&bytes[..], &dest.path().join("m"), &Limits::default()).unwrap();
    assert_eq!((done.files, done.bytes), (3, 70_000 + 7 + 2));
    let m = dest.path().join("m");
    assert_eq!(
        std::fs::read(m.join("manifest.json")).unwrap(),
        b"{\"a\":1}"
    );
    assert_eq!(
        std::fs::read(m.join("model.json")).unwrap(),
        vec![7u8; 70_000]
    );
    assert_eq!(std::fs::read(m.join("extra/notes.txt")).unwrap(), b"hi");
}

#[test]
fn a_symlink_entry_is_refused_and_nothing_links_out() {
    let bytes = archive(&[
        link(tar::EntryType::Symlink, "manifest.json", "/etc/passwd"),
        file("model.json", b"{}"),
    ]);
    let (err, dest) = refused(&bytes);
    assert!(
        matches!(&err, ArchiveError::Refused { entry, reason: Refusal::Symlink } if entry == "manifest.json"),
        "{err:?}"
    );
    assert_eq!(written(dest.path()), []);
}

#[test]
fn a_hard_link_entry_is_refused() {
    let bytes = archive(&[
        file("model.json", b"{}"),
        link(tar::EntryType::Link, "manifest.json", "/etc/passwd"),
    ]);
    let (err, _dest) = refused(&bytes);
    assert!(
        matches!(
            err,
            ArchiveError::Refused {
                reason: Refusal::HardLink,
                ..
            }
        ),
        "{err:?}"
    );
}

#[test]
fn devices_and_fifos_are_refused() {
    for kind in [
        tar::EntryType::Char,
        tar::EntryType::Block,
        tar::EntryType::Fifo,
    ] {
        let bytes = archive(&[(header(kind, "model.json", 0), b"")]);
        let (err, dest) = refused(&bytes);
        assert!(
            matches!(
                err,
                ArchiveError::Refused {
                    reason: Refusal::SpecialFile,
                    ..
                }
            ),
            "{kind:?}: {err:?}"
        );
        assert_eq!(written(dest.path()), []);
    }
}

#[test]
fn parent_folder_paths_are_refused() {
    for name in [
        "../escaped.json",
        "a/../../escaped.json",
        "./../escaped.json",
    ] {
        let outer = tempfile::tempdir().unwrap();
        let dest = outer.path().join("m");
        let bytes = archive(&[file(name, b"{}")]);
        let err = unpack(&bytes[..], &dest, &Limits::default()).unwrap_err();
        assert!(
            matches!(
                err,
                ArchiveError::Refused {
                    reason: Refusal::ParentDir,
                    ..
                }
            ),
            "{name}: {err:?}"
        );
        assert_eq!(written(outer.path()), [], "{name}");
    }
}

#[test]
fn absolute_paths_are_refused() {
    let outer = tempfile::tempdir().unwrap();
    let target = outer.path().join("escaped.json");
    let bytes = archive(&[file(target.to_str().unwrap(), b"{}")]);
    let err = unpack(&bytes[..], &outer.path().join("m"), &Limits::default()).unwrap_err();
    assert!(
        matches!(
            err,
            ArchiveError::Refused {
                reason: Refusal::AbsolutePath,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(!target.exists());
}

/// Reads through `inner`, counting the bytes taken.
struct Counting<R> {
    inner: R,
    taken: Rc<Cell<u64>>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.taken.set(self.taken.get() + n as u64);
        Ok(n)
    }
}

/// A .tar.gz made as it is read: `header` then `size` zero bytes, compressed on demand, so a
/// 4 GiB entry costs nothing unless the reader really inflates it. Also the count of
/// uncompressed bytes pulled so far.
fn lazy_bomb(h: &tar::Header, size: u64) -> (impl Read, Rc<Cell<u64>>) {
    let taken = Rc::new(Cell::new(0));
    let tar_stream = Counting {
        inner: io::Cursor::new(h.as_bytes().to_vec()).chain(io::repeat(0).take(size)),
        taken: Rc::clone(&taken),
    };
    (
        flate2::read::GzEncoder::new(tar_stream, flate2::Compression::fast()),
        taken,
    )
}

#[test]
fn a_bomb_over_the_cap_is_refused_naming_it_without_inflating_or_writing_it() {
    let cap = 1 << 20;
    let size = 4 << 30;
    let (reader, taken) = lazy_bomb(&header(tar::EntryType::Regular, "model.json", size), size);
    let dest = tempfile::tempdir().unwrap();
    let limits = Limits {
        max_unpacked_bytes: cap,
        ..Limits::default()
    };
    let err = unpack(reader, dest.path(), &limits).unwrap_err();
    assert!(
        matches!(err, ArchiveError::TooLarge { cap: c } if c == cap),
        "{err:?}"
    );
    assert!(err.to_string().contains("1048576 bytes"), "{err}");
    assert_eq!(written(dest.path()), [], "no byte of the bomb is written");
    assert!(
        taken.get() < 8 << 20,
        "stops inflating at the cap: {} bytes pulled",
        taken.get()
    );
}

#[test]
fn files_adding_up_past_the_cap_stop_at_the_cap() {
    static DATA: [u8; 600_000] = [1; 600_000];
    let bytes = archive(&[
        file("a.json", &DATA),
        file("b.json", &DATA),
        file("c.json", &DATA),
    ]);
    let dest = tempfile::tempdir().unwrap();
    let limits = Limits {
        max_unpacked_bytes: 1_000_000,
        ..Limits::default()
    };
    let err = unpack(&bytes[..], dest.path(), &limits).unwrap_err();
    assert!(
        matches!(err, ArchiveError::TooLarge { cap: 1_000_000 }),
        "{err:?}"
    );
    let total: u64 = written(dest.path()).iter().map(|(_, n)| n).sum();
    assert!(total <= 1_000_000, "{total} bytes written");
}

#[test]
fn oversized_long_name_headers_are_refused_before_being_read_whole() {
    let size = 64 << 20;
    let (reader, taken) = lazy_bomb(
        &header(tar::EntryType::GNULongName, "././@LongLink", size),
        size,
    );
    let dest = tempfile::tempdir().unwrap();
    let err = unpack(reader, dest.path(), &Limits::default()).unwrap_err();
    assert!(matches!(err, ArchiveError::HeadersTooLarge), "{err:?}");
    assert!(
        taken.get() < HEADER_ALLOWANCE + (15 << 20),
        "stops at the allowance, not at 64 MiB: {} bytes pulled",
        taken.get()
    );
}

#[test]
fn too_many_entries_are_refused() {
    let entries: Vec<_> = (0..6)
        .map(|i| {
            (
                header(tar::EntryType::Directory, &format!("d{i}/"), 0),
                &b""[..],
            )
        })
        .collect();
    let bytes = archive(&entries);
    let dest = tempfile::tempdir().unwrap();
    let limits = Limits {
        max_entries: 5,
        ..Limits::default()
    };
    let err = unpack(&bytes[..], dest.path(), &limits).unwrap_err();
    assert!(
        matches!(err, ArchiveError::TooManyEntries { cap: 5 }),
        "{err:?}"
    );
}

#[test]
fn a_path_twice_is_refused() {
    let bytes = archive(&[file("model.json", b"{}"), file("./model.json", b"[]")]);
    let (err, _dest) = refused(&bytes);
    assert!(
        matches!(
            err,
            ArchiveError::Refused {
                reason: Refusal::Duplicate,
                ..
            }
        ),
        "{err:?}"
    );
}

#[test]
fn truncated_or_garbled_archives_are_errors_not_panics() {
    let bytes = archive(&[
        file("manifest.json", b"{\"a\":1}"),
        file("model.json", b"{}"),
    ]);
    for len in 0..bytes.len() {
        let dest = tempfile::tempdir().unwrap();
        let _ = unpack(&bytes[..len], dest.path(), &Limits::default());
    }
    for i in (0..bytes.len()).step_by(7) {
        let mut garbled = bytes.clone();
        garbled[i] ^= 0x5a;
        let dest = tempfile::tempdir().unwrap();
        let _ = unpack(&garbled[..], dest.path(), &Limits::default());
    }
    let (err, _dest) = refused(b"not a gzip stream at all");
    assert!(matches!(err, ArchiveError::Malformed(_)), "{err:?}");
}
