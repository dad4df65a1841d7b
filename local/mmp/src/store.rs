//! The local bucket: a folder tree with S3's semantics for the operations the system uses —
//! ETags, conditional writes (If-None-Match `*`, If-Match), prefix listing, copy, delete — and
//! an ObjectCreated notification for every write, as S3 sends one.

use std::io::Write;
use std::path::{Component, Path, PathBuf};
use std::sync::{Arc, Mutex};

use md5::{Digest, Md5};
use rusqlite::Connection;

/// A write's precondition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Condition {
    None,
    /// Only if no object has the key (`If-None-Match: *`).
    Absent,
    /// Only if the current object's ETag is this one (`If-Match`).
    Matches(String),
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("no object at key {0}")]
    NotFound(String),
    #[error("precondition failed for key {0}")]
    PreconditionFailed(String),
    #[error("invalid key {0:?}: keys are relative paths without `..`")]
    InvalidKey(String),
    #[error("store I/O on {key}: {source}")]
    Io { key: String, source: std::io::Error },
    #[error("store lock: {0}")]
    Lock(#[from] rusqlite::Error),
}

/// An object's bytes and ETag.
#[derive(Debug, Clone)]
pub struct Object {
    pub body: Vec<u8>,
    pub etag: String,
}

/// A body being written to a temporary file of the bucket's folder; dropped, the file goes.
pub struct Staged {
    file: tempfile::NamedTempFile,
    md5: Md5,
    size: u64,
}

impl Staged {
    pub fn write(&mut self, chunk: &[u8]) -> std::io::Result<()> {
        self.file.write_all(chunk)?;
        self.md5.update(chunk);
        self.size += chunk.len() as u64;
        Ok(())
    }

    /// Bytes written so far.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// S3's ETag of what was written.
    pub fn etag(&self) -> String {
        format!("\"{}\"", hex::encode(self.md5.clone().finalize()))
    }
}

/// Called after every successful write with the key, size and ETag.
pub type OnCreated = Arc<dyn Fn(&str, u64, &str) + Send + Sync>;

/// The bucket folder. Writes take an SQLite write lock (`BEGIN IMMEDIATE`) so a conditional
/// write is atomic across threads and processes.
pub struct LocalStore {
    name: String,
    root: PathBuf,
    lock: Mutex<Connection>,
    on_created: Option<OnCreated>,
}

/// S3's ETag of a single-part upload: the quoted MD5 of the body.
pub fn etag_of(body: &[u8]) -> String {
    format!("\"{}\"", hex::encode(Md5::digest(body)))
}

impl LocalStore {
    pub fn new(name: &str, root: PathBuf, lock: Connection) -> Self {
        Self {
            name: name.to_string(),
            root,
            lock: Mutex::new(lock),
            on_created: None,
        }
    }

    pub fn with_notifications(mut self, on_created: OnCreated) -> Self {
        self.on_created = Some(on_created);
        self
    }

    pub fn bucket_name(&self) -> &str {
        &self.name
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The file behind `key`, refusing keys that would leave the bucket.
    pub fn path_of(&self, key: &str) -> Result<PathBuf, StoreError> {
        let rel = Path::new(key);
        let ok = !key.is_empty() && rel.components().all(|c| matches!(c, Component::Normal(_)));
        if ok {
            Ok(self.root.join(rel))
        } else {
            Err(StoreError::InvalidKey(key.to_string()))
        }
    }

    pub fn get(&self, key: &str) -> Result<Object, StoreError> {
        let path = self.path_of(key)?;
        match std::fs::read(&path) {
            Ok(body) => Ok(Object {
                etag: etag_of(&body),
                body,
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                Err(StoreError::NotFound(key.to_string()))
            }
            Err(source) => Err(StoreError::Io {
                key: key.to_string(),
                source,
            }),
        }
    }

    /// Writes `body` at `key` if `condition` holds; returns the new ETag.
    pub fn put(&self, key: &str, body: &[u8], condition: Condition) -> Result<String, StoreError> {
        let path = self.path_of(key)?;
        let io = |source| StoreError::Io {
            key: key.to_string(),
            source,
        };
        let parent = path.parent().unwrap_or(&self.root);
        std::fs::create_dir_all(parent).map_err(io)?;
        // Write beside the target first, so the rename below is the only visible change.
        let mut tmp = tempfile::NamedTempFile::new_in(parent).map_err(io)?;
        tmp.write_all(body).map_err(io)?;
        self.persist(key, tmp, etag_of(body), body.len() as u64, condition)
    }

    /// A body to be written piece by piece into a temporary file in the bucket's folder (never
    /// listed), so that a large upload is not held in memory; [`LocalStore::put_staged`]
    /// renames it into place.
    pub fn stage(&self) -> Result<Staged, StoreError> {
        let io = |source| StoreError::Io {
            key: String::new(),
            source,
        };
        std::fs::create_dir_all(&self.root).map_err(io)?;
        Ok(Staged {
            file: tempfile::NamedTempFile::new_in(&self.root).map_err(io)?,
            md5: Md5::new(),
            size: 0,
        })
    }

    /// [`LocalStore::put`] of a staged body.
    pub fn put_staged(
        &self,
        key: &str,
        staged: Staged,
        condition: Condition,
    ) -> Result<String, StoreError> {
        let path = self.path_of(key)?;
        let parent = path.parent().unwrap_or(&self.root);
        std::fs::create_dir_all(parent).map_err(|source| StoreError::Io {
            key: key.to_string(),
            source,
        })?;
        let etag = staged.etag();
        self.persist(key, staged.file, etag, staged.size, condition)
    }

    /// Renames `tmp` to `key` if `condition` holds, then notifies.
    fn persist(
        &self,
        key: &str,
        tmp: tempfile::NamedTempFile,
        etag: String,
        size: u64,
        condition: Condition,
    ) -> Result<String, StoreError> {
        let path = self.path_of(key)?;
        let io = |source| StoreError::Io {
            key: key.to_string(),
            source,
        };
        tmp.as_file().sync_all().map_err(io)?;
        {
            let mut conn = self.lock.lock().unwrap_or_else(|p| p.into_inner());
            let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            let current = match std::fs::read(&path) {
                Ok(b) => Some(etag_of(&b)),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
                Err(e) => return Err(io(e)),
            };
            let holds = match (&condition, &current) {
                (Condition::None, _) => true,
                (Condition::Absent, current) => current.is_none(),
                (Condition::Matches(want), Some(cur)) => want == cur,
                (Condition::Matches(_), None) => false,
            };
            if !holds {
                return Err(StoreError::PreconditionFailed(key.to_string()));
            }
            tmp.persist(&path).map_err(|e| io(e.error))?;
            tx.commit()?;
        }
        if let Some(notify) = &self.on_created {
            notify(key, size, &etag);
        }
        Ok(etag)
    }

    pub fn delete(&self, key: &str) -> Result<(), StoreError> {
        let path = self.path_of(key)?;
        match std::fs::remove_file(&path) {
            Ok(()) => Ok(()),
            // S3 deletes are idempotent.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(source) => Err(StoreError::Io {
                key: key.to_string(),
                source,
            }),
        }
    }

    pub fn copy(&self, from: &str, to: &str) -> Result<String, StoreError> {
        let object = self.get(from)?;
        self.put(to, &object.body, Condition::None)
    }

    /// Copies `from` only if its ETag is `etag` (quoted or not), as S3's
    /// `x-amz-copy-source-if-match`. The check is on the bytes read, so what is written is
    /// exactly that version even if `from` is overwritten meanwhile.
    pub fn copy_if_match(&self, from: &str, etag: &str, to: &str) -> Result<String, StoreError> {
        let object = self.get(from)?;
        if object.etag.trim_matches('"') != etag.trim_matches('"') {
            return Err(StoreError::PreconditionFailed(from.to_string()));
        }
        self.put(to, &object.body, Condition::None)
    }

    /// Keys starting with `prefix`, sorted, as S3 lists them.
    pub fn list(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        let mut keys = Vec::new();
        walk(&self.root, &self.root, &mut keys).map_err(|source| StoreError::Io {
            key: prefix.to_string(),
            source,
        })?;
        keys.retain(|k| k.starts_with(prefix));
        keys.sort();
        Ok(keys)
    }

    /// `s3://<this bucket>/<key>` → key.
    pub fn key_of_uri<'a>(&self, uri: &'a str) -> Option<&'a str> {
        uri.strip_prefix("s3://")?
            .strip_prefix(self.name.as_str())?
            .strip_prefix('/')
    }

    pub fn uri_of(&self, key: &str) -> String {
        format!("s3://{}/{key}", self.name)
    }
}

fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) -> std::io::Result<()> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    for entry in entries {
        let entry = entry?;
        let path = entry.path();
        let name = entry.file_name();
        // Half-written temporary files are not objects.
        if name.to_string_lossy().starts_with(".tmp") {
            continue;
        }
        if entry.file_type()?.is_dir() {
            walk(root, &path, out)?;
        } else if let Ok(rel) = path.strip_prefix(root) {
            let key: Vec<String> = rel
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            out.push(key.join("/"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> (tempfile::TempDir, LocalStore) {
        let dir = tempfile::tempdir().unwrap();
        let conn = crate::db::open(&dir.path().join("db")).unwrap();
        let s = LocalStore::new("local", dir.path().join("bucket"), conn);
        (dir, s)
    }

    #[test]
    fn conditional_writes_follow_s3() {
        let (_d, s) = store();
        let e1 = s.put("a/b.json", b"1", Condition::Absent).unwrap();
        assert!(matches!(
            s.put("a/b.json", b"2", Condition::Absent),
            Err(StoreError::PreconditionFailed(_))
        ));
        let e2 = s
            .put("a/b.json", b"2", Condition::Matches(e1.clone()))
            .unwrap();
        assert!(matches!(
            s.put("a/b.json", b"3", Condition::Matches(e1)),
            Err(StoreError::PreconditionFailed(_))
        ));
        let got = s.get("a/b.json").unwrap();
        assert_eq!((got.body.as_slice(), got.etag), (&b"2"[..], e2));
    }

    #[test]
    fn keys_cannot_escape_the_bucket() {
        let (_d, s) = store();
        for bad in ["../x", "/etc/passwd", "", "a/../../b"] {
            assert!(
                matches!(
                    s.put(bad, b"x", Condition::None),
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
            .put_staged("datasets/x/x.csv", staged, Condition::None)
            .unwrap();
        assert_eq!(etag, etag_of(b"a,b\n1,2\n"));
        assert_eq!(s.get("datasets/x/x.csv").unwrap().body, b"a,b\n1,2\n");
        assert_eq!(s.list("").unwrap(), ["datasets/x/x.csv"]);
    }

    #[test]
    fn list_copy_delete() {
        let (_d, s) = store();
        s.put("datasets/x/x.csv", b"a", Condition::None).unwrap();
        s.put("datasets/y/y.csv", b"b", Condition::None).unwrap();
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
        assert_eq!(s.get("endpoint/models/x.tar.gz").unwrap().body, b"a");
    }
}
