//! ETags kept beside each object, so that `head` and `list` never read a body.
//!
//! The ETag of `dir/name` is in the sidecar `dir/.mmp-meta.name`, with the fingerprint (size,
//! modification time, inode) of the file it was computed for. A write renames the body and then
//! its sidecar into place; whatever happens between the two (a crash, a file replaced by
//! hand, an object written by an older version with no sidecar), the fingerprint no longer
//! matches, and the ETag is computed from the body once and stored again.

use std::fs::{File, Metadata};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use md5::{Digest, Md5};
use serde::{Deserialize, Serialize};

use crate::key::RESERVED_PREFIX;

/// S3's ETag of a single-part upload: the quoted MD5 of the body.
pub fn etag_of(body: &[u8]) -> String {
    quoted(Md5::digest(body).as_slice())
}

pub(crate) fn quoted(md5: &[u8]) -> String {
    format!("\"{}\"", hex::encode(md5))
}

/// What identifies one version of a file without reading it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Fingerprint {
    size: u64,
    modified_secs: u64,
    modified_nanos: u32,
    inode: u64,
}

impl Fingerprint {
    pub(crate) fn of(meta: &Metadata) -> Fingerprint {
        let modified = meta
            .modified()
            .ok()
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
            .unwrap_or_default();
        Fingerprint {
            size: meta.len(),
            modified_secs: modified.as_secs(),
            modified_nanos: modified.subsec_nanos(),
            inode: inode(meta),
        }
    }
}

#[cfg(unix)]
fn inode(meta: &Metadata) -> u64 {
    std::os::unix::fs::MetadataExt::ino(meta)
}

#[cfg(not(unix))]
fn inode(_meta: &Metadata) -> u64 {
    0
}

/// The sidecar's content.
#[derive(Debug, Serialize, Deserialize)]
struct Sidecar {
    etag: String,
    #[serde(flatten)]
    fingerprint: Fingerprint,
}

/// The sidecar of the object file at `object`.
pub(crate) fn sidecar_path(object: &Path) -> PathBuf {
    let name = object
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    object.with_file_name(format!("{RESERVED_PREFIX}meta.{name}"))
}

/// The stored ETag of `object`, if its sidecar describes exactly this version of the file.
pub(crate) fn stored(object: &Path, fingerprint: Fingerprint) -> Option<String> {
    let text = std::fs::read(sidecar_path(object)).ok()?;
    let sidecar: Sidecar = serde_json::from_slice(&text).ok()?;
    (sidecar.fingerprint == fingerprint).then_some(sidecar.etag)
}

/// A synced temporary file in `dir` holding the sidecar, for the caller to rename into place.
pub(crate) fn stage_sidecar(
    dir: &Path,
    etag: &str,
    fingerprint: Fingerprint,
) -> std::io::Result<tempfile::NamedTempFile> {
    let sidecar = Sidecar {
        etag: etag.to_string(),
        fingerprint,
    };
    let mut tmp = crate::key::temp_file(dir)?;
    tmp.write_all(&serde_json::to_vec(&sidecar).map_err(std::io::Error::other)?)?;
    tmp.as_file().sync_all()?;
    Ok(tmp)
}

/// The ETag of the open object file, from its sidecar or, failing that, from its body (then
/// stored, so it is read once). `body`, if given, is the file's content already read.
pub(crate) fn of_file(
    object: &Path,
    file: &mut File,
    meta: &Metadata,
    body: Option<&[u8]>,
) -> std::io::Result<String> {
    let fingerprint = Fingerprint::of(meta);
    if let Some(etag) = stored(object, fingerprint) {
        return Ok(etag);
    }
    let etag = match body {
        Some(body) => etag_of(body),
        None => md5_of(file)?,
    };
    // Keeping it is an optimisation: the fingerprint makes a stale or missing sidecar harmless.
    let kept = object
        .parent()
        .ok_or_else(|| std::io::Error::other("an object has a folder"))
        .and_then(|dir| stage_sidecar(dir, &etag, fingerprint))
        .and_then(|tmp| tmp.persist(sidecar_path(object)).map_err(|e| e.error));
    if let Err(error) = kept {
        tracing::warn!(object = %object.display(), %error, "could not keep an object's ETag");
    }
    Ok(etag)
}

fn md5_of(file: &mut File) -> std::io::Result<String> {
    let mut md5 = Md5::new();
    let mut buffer = vec![0u8; 64 * 1024];
    loop {
        match file.read(&mut buffer)? {
            0 => return Ok(quoted(md5.finalize().as_slice())),
            n => md5.update(&buffer[..n]),
        }
    }
}
