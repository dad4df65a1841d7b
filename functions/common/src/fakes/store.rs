//! [`ObjectStore`] over a map in memory: one bucket, S3's conditional-write rules.

use std::collections::BTreeMap;
use std::sync::Mutex;

use async_trait::async_trait;
use sha2::{Digest, Sha256};

use super::faults::{Call, Faults};
use super::lock;
use crate::ports::{ObjectMeta, ObjectStore, ObjectUri, PutCondition, SourceVersion, StoredObject};
use crate::PortError;

/// One bucket in memory. ETags are quoted digests of the body, so equal bodies have equal
/// ETags, as S3's MD5 ETags do. Copies from another bucket find nothing (`NotFound`); version
/// ids are ignored (the ETag condition alone makes a copy exact).
#[derive(Debug)]
pub struct MemoryStore {
    bucket: String,
    objects: Mutex<BTreeMap<String, StoredObject>>,
    faults: Faults,
}

impl MemoryStore {
    /// An empty bucket named `bucket`.
    pub fn new(bucket: impl Into<String>) -> Self {
        MemoryStore {
            bucket: bucket.into(),
            objects: Mutex::new(BTreeMap::new()),
            faults: Faults::default(),
        }
    }

    /// Makes the next `call` fail with `error` (once; failures queue).
    pub fn fail_next(&self, call: Call, error: PortError) {
        self.faults.fail_next(call, error);
    }

    /// How many times `call` was made, failed ones included.
    pub fn calls(&self, call: Call) -> usize {
        self.faults.count(call)
    }

    /// Every key, sorted (for assertions).
    pub fn keys(&self) -> Vec<String> {
        lock(&self.objects).keys().cloned().collect()
    }

    fn object(&self, key: &str) -> Result<StoredObject, PortError> {
        let found = lock(&self.objects).get(key).cloned();
        found.ok_or_else(|| PortError::NotFound(key.to_string()))
    }

    fn source(&self, source: &ObjectUri) -> Result<StoredObject, PortError> {
        if source.bucket != self.bucket {
            return Err(PortError::NotFound(source.to_string()));
        }
        self.object(&source.key)
    }

    fn store(&self, key: &str, body: Vec<u8>) -> String {
        store_in(&mut lock(&self.objects), key, body)
    }
}

/// Writes `body` under `key` and returns its ETag.
fn store_in(objects: &mut BTreeMap<String, StoredObject>, key: &str, body: Vec<u8>) -> String {
    let etag = etag_of(&body);
    let object = StoredObject {
        body,
        etag: etag.clone(),
    };
    objects.insert(key.to_string(), object);
    etag
}

/// A quoted digest of the body: equal for equal bodies.
fn etag_of(body: &[u8]) -> String {
    let digest = Sha256::digest(body);
    let hex: String = digest[..16]
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect();
    format!("\"{hex}\"")
}

fn same_etag(a: &str, b: &str) -> bool {
    a.trim_matches('"') == b.trim_matches('"')
}

#[async_trait]
impl ObjectStore for MemoryStore {
    fn bucket(&self) -> &str {
        &self.bucket
    }

    async fn get(&self, key: &str) -> Result<StoredObject, PortError> {
        self.faults.check(Call::Get)?;
        self.object(key)
    }

    async fn head(&self, key: &str) -> Result<ObjectMeta, PortError> {
        self.faults.check(Call::Head)?;
        let object = self.object(key)?;
        Ok(ObjectMeta {
            key: key.to_string(),
            etag: object.etag,
            size: object.body.len() as u64,
        })
    }

    async fn put(
        &self,
        key: &str,
        body: Vec<u8>,
        condition: PutCondition,
    ) -> Result<String, PortError> {
        self.faults.check(Call::Put)?;
        let mut objects = lock(&self.objects);
        let current = objects.get(key).map(|object| object.etag.clone());
        match (&condition, current) {
            (PutCondition::IfAbsent, Some(_)) => {
                return Err(PortError::PreconditionFailed(format!("{key} exists")))
            }
            (PutCondition::IfMatch(_), None) => return Err(PortError::NotFound(key.to_string())),
            (PutCondition::IfMatch(expected), Some(current)) if !same_etag(expected, &current) => {
                return Err(PortError::PreconditionFailed(format!(
                    "{key} has ETag {current}, not {expected}"
                )))
            }
            _ => {}
        }
        Ok(store_in(&mut objects, key, body))
    }

    async fn list(&self, prefix: &str) -> Result<Vec<ObjectMeta>, PortError> {
        self.faults.check(Call::List)?;
        let objects = lock(&self.objects);
        Ok(objects
            .range(prefix.to_string()..)
            .take_while(|(key, _)| key.starts_with(prefix))
            .map(|(key, object)| ObjectMeta {
                key: key.clone(),
                etag: object.etag.clone(),
                size: object.body.len() as u64,
            })
            .collect())
    }

    async fn delete(&self, key: &str) -> Result<(), PortError> {
        self.faults.check(Call::Delete)?;
        lock(&self.objects).remove(key);
        Ok(())
    }

    async fn copy(&self, source: &ObjectUri, dest_key: &str) -> Result<String, PortError> {
        self.faults.check(Call::Copy)?;
        let object = self.source(source)?;
        Ok(self.store(dest_key, object.body))
    }

    async fn copy_version(
        &self,
        source: &ObjectUri,
        version: &SourceVersion,
        dest_key: &str,
    ) -> Result<String, PortError> {
        self.faults.check(Call::CopyVersion)?;
        let object = self.source(source)?;
        if !same_etag(&object.etag, &version.etag) {
            return Err(PortError::PreconditionFailed(format!(
                "{source} has ETag {}, not {}",
                object.etag, version.etag
            )));
        }
        Ok(self.store(dest_key, object.body))
    }
}
