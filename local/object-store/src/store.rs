//! [`LocalStore`]: reads, conditional writes, copies, listing and deletes.

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use rusqlite::Connection;

use crate::etag::{self, Fingerprint};
use crate::key;
use crate::{ObjectUri, PutCondition, Staged, StoreError};

/// An object's bytes and ETag.
#[derive(Debug, Clone)]
pub struct Object {
    pub body: Vec<u8>,
    pub etag: String,
}

/// A listed or inspected object: what `head` answers, without the body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectInfo {
    pub key: String,
    pub etag: String,
    pub size: u64,
}

/// Called after every successful write with the key, size and ETag.
pub type OnCreated = Arc<dyn Fn(&str, u64, &str) + Send + Sync>;

/// The bucket folder. Writes and deletes take an SQLite write lock (`BEGIN IMMEDIATE`) so that
/// a conditional write, and a body with its ETag, change atomically across threads and
/// processes.
pub struct LocalStore {
    name: String,
    root: PathBuf,
    lock: Mutex<Connection>,
    on_created: Option<OnCreated>,
}

impl LocalStore {
    /// The bucket `name` in the folder `root`, locking writes with `lock` (a connection to
    /// the database every process sharing the folder opens).
    pub fn new(name: &str, root: PathBuf, lock: Connection) -> Self {
        Self {
            name: name.to_string(),
            root,
            lock: Mutex::new(lock),
            on_created: None,
        }
    }

    /// Calls `on_created` after every successful write.
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

    /// The key of `s3://<this bucket>/<key>` (possibly empty: a whole-bucket prefix).
    pub fn key_of<'a>(&self, uri: &'a str) -> Result<&'a str, StoreError> {
        let (bucket, key) =
            ObjectUri::split(uri).ok_or_else(|| StoreError::NotS3Uri(uri.to_string()))?;
        if bucket != self.name {
            return Err(StoreError::ForeignBucket {
                uri: uri.to_string(),
                bucket: bucket.to_string(),
                local: self.name.clone(),
            });
        }
        Ok(key)
    }

    /// [`LocalStore::key_of`], `None` for a URI of another bucket or not a URI.
    pub fn key_of_uri<'a>(&self, uri: &'a str) -> Option<&'a str> {
        self.key_of(uri).ok()
    }

    pub fn uri_of(&self, key: &str) -> String {
        format!("s3://{}/{key}", self.name)
    }

    pub(crate) fn path_of(&self, key: &str) -> Result<PathBuf, StoreError> {
        key::path_of(&self.root, key)
    }

    pub fn get(&self, key: &str) -> Result<Object, StoreError> {
        let path = self.path_of(key)?;
        let Some((mut file, meta)) = open_object(&path).map_err(StoreError::io(key))? else {
            return Err(StoreError::NotFound(key.to_string()));
        };
        let mut body = Vec::with_capacity(usize::try_from(meta.len()).unwrap_or(0));
        file.read_to_end(&mut body).map_err(StoreError::io(key))?;
        let etag =
            etag::of_file(&path, &mut file, &meta, Some(&body)).map_err(StoreError::io(key))?;
        Ok(Object { body, etag })
    }

    /// The object's ETag and size, read from beside it, never from its body.
    pub fn head(&self, key: &str) -> Result<ObjectInfo, StoreError> {
        let path = self.path_of(key)?;
        self.info(key, &path)?
            .ok_or_else(|| StoreError::NotFound(key.to_string()))
    }

    fn info(&self, key: &str, path: &Path) -> Result<Option<ObjectInfo>, StoreError> {
        let Some((mut file, meta)) = open_object(path).map_err(StoreError::io(key))? else {
            return Ok(None);
        };
        let etag = etag::of_file(path, &mut file, &meta, None).map_err(StoreError::io(key))?;
        Ok(Some(ObjectInfo {
            key: key.to_string(),
            etag,
            size: meta.len(),
        }))
    }

    /// Writes `body` at `key` if `condition` holds; returns the new ETag.
    pub fn put(
        &self,
        key: &str,
        body: &[u8],
        condition: PutCondition,
    ) -> Result<String, StoreError> {
        self.path_of(key)?;
        let mut staged = self.stage()?;
        staged.write(body).map_err(StoreError::io(key))?;
        self.put_staged(key, staged, condition)
    }

    /// A body to be written piece by piece into a temporary file in the bucket's folder (never
    /// listed), so that a large upload is not held in memory; [`LocalStore::put_staged`]
    /// renames it into place.
    pub fn stage(&self) -> Result<Staged, StoreError> {
        std::fs::create_dir_all(&self.root).map_err(StoreError::local(&self.root))?;
        let file = key::temp_file(&self.root).map_err(StoreError::local(&self.root))?;
        Ok(Staged::new(file))
    }

    /// [`LocalStore::put`] of a staged body.
    pub fn put_staged(
        &self,
        key: &str,
        staged: Staged,
        condition: PutCondition,
    ) -> Result<String, StoreError> {
        let path = self.path_of(key)?;
        let io = StoreError::io(key);
        let dir = path.parent().unwrap_or(&self.root);
        let (etag, size) = (staged.etag(), staged.size());
        // Everything slow happens before the lock: syncing the body, and staging its ETag
        // with the fingerprint the body keeps through the rename.
        let prepared = std::fs::create_dir_all(dir)
            .and_then(|()| staged.file.as_file().sync_all())
            .and_then(|()| staged.file.as_file().metadata())
            .and_then(|meta| etag::stage_sidecar(&self.root, &etag, Fingerprint::of(&meta)));
        let sidecar = prepared.map_err(io)?;
        self.locked(|| {
            let current = self.info(key, &path)?.map(|i| i.etag);
            match (&condition, current) {
                (PutCondition::None, _) | (PutCondition::IfAbsent, None) => {}
                (PutCondition::IfMatch(want), Some(current)) if *want == current => {}
                // S3 answers If-Match on a missing key with NoSuchKey (404).
                (PutCondition::IfMatch(_), None) => {
                    return Err(StoreError::NotFound(key.to_string()))
                }
                _ => return Err(StoreError::PreconditionFailed(key.to_string())),
            }
            staged
                .file
                .persist(&path)
                .map_err(|e| StoreError::io(key)(e.error))?;
            sidecar
                .persist(etag::sidecar_path(&path))
                .map_err(|e| StoreError::io(key)(e.error))?;
            Ok(())
        })?;
        if let Some(notify) = &self.on_created {
            notify(key, size, &etag);
        }
        Ok(etag)
    }

    /// Deletes the object and its ETag; deleting a missing key succeeds, as in S3.
    pub fn delete(&self, key: &str) -> Result<(), StoreError> {
        let path = self.path_of(key)?;
        self.locked(|| {
            for file in [path.clone(), etag::sidecar_path(&path)] {
                match std::fs::remove_file(&file) {
                    Ok(()) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => return Err(StoreError::io(key)(e)),
                }
            }
            Ok(())
        })
    }

    pub fn copy(&self, from: &str, to: &str) -> Result<String, StoreError> {
        let staged = self.stage_copy(from)?;
        self.put_staged(to, staged, PutCondition::None)
    }

    /// Copies `from` only if its ETag is `etag` (quoted or not), as S3's
    /// `x-amz-copy-source-if-match`. The check is on the bytes copied, so what is written is
    /// exactly that version even if `from` is overwritten meanwhile.
    pub fn copy_if_match(&self, from: &str, etag: &str, to: &str) -> Result<String, StoreError> {
        let staged = self.stage_copy(from)?;
        if staged.etag().trim_matches('"') != etag.trim_matches('"') {
            return Err(StoreError::PreconditionFailed(from.to_string()));
        }
        self.put_staged(to, staged, PutCondition::None)
    }

    /// The current bytes of `from`, staged (hashed as they are copied).
    fn stage_copy(&self, from: &str) -> Result<Staged, StoreError> {
        let path = self.path_of(from)?;
        let Some((mut file, _)) = open_object(&path).map_err(StoreError::io(from))? else {
            return Err(StoreError::NotFound(from.to_string()));
        };
        let mut staged = self.stage()?;
        std::io::copy(&mut file, &mut staged.writer()).map_err(StoreError::io(from))?;
        Ok(staged)
    }

    /// Keys starting with `prefix`, sorted, as S3 lists them.
    pub fn list(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        Ok(self
            .objects_under(prefix)?
            .into_iter()
            .map(|(key, _)| key)
            .collect())
    }

    /// [`LocalStore::list`] with each object's ETag and size, read without the bodies.
    pub fn list_objects(&self, prefix: &str) -> Result<Vec<ObjectInfo>, StoreError> {
        let mut listed = Vec::new();
        for (key, path) in self.objects_under(prefix)? {
            // An object deleted since the walk is not listed, as S3 would not list it.
            if let Some(info) = self.info(&key, &path)? {
                listed.push(info);
            }
        }
        Ok(listed)
    }

    /// Every object whose key starts with `prefix`, as (key, file), sorted by key. Only the
    /// folder holding the prefix's last component is walked.
    pub(crate) fn objects_under(&self, prefix: &str) -> Result<Vec<(String, PathBuf)>, StoreError> {
        let folder = prefix.rsplit_once('/').map_or("", |(folder, _)| folder);
        let dir = if folder.is_empty() {
            self.root.clone()
        } else {
            match self.path_of(folder) {
                Ok(dir) => dir,
                // No object can have a key under an invalid folder.
                Err(StoreError::InvalidKey(_) | StoreError::NameTooLong { .. }) => {
                    return Ok(Vec::new())
                }
                Err(e) => return Err(e),
            }
        };
        let mut objects = key::walk(&dir, folder).map_err(StoreError::io(prefix))?;
        objects.retain(|(key, _)| key.starts_with(prefix));
        Ok(objects)
    }

    /// Runs `f` holding the write lock.
    fn locked<T>(&self, f: impl FnOnce() -> Result<T, StoreError>) -> Result<T, StoreError> {
        let mut conn = self.lock.lock().unwrap_or_else(PoisonError::into_inner);
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let out = f()?;
        tx.commit()?;
        Ok(out)
    }
}

/// The object file at `path` and its metadata; `None` if there is none (a folder is no object).
fn open_object(path: &Path) -> std::io::Result<Option<(File, std::fs::Metadata)>> {
    let file = match File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let meta = file.metadata()?;
    Ok((!meta.is_dir()).then_some((file, meta)))
}
