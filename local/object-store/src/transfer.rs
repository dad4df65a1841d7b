//! What a local job needs of the bucket: inputs downloaded with SageMaker's S3Prefix
//! semantics, output folders uploaded, and `model/` archived as `model.tar.gz`.

use std::fs;
use std::path::Path;

use crate::{key, LocalStore, PutCondition, StoreError};

impl LocalStore {
    /// Places every object whose key starts with the URI's key into `dest`, as SageMaker places
    /// S3Prefix inputs: the key after the prefix (an exact key: its file name). Each is a hard
    /// link to the object's file, read-only, not a copy (sixty trials of one dataset share one
    /// file); a copy only where a link cannot be made (another file system). Objects are never
    /// written in place (a write replaces the file), so a link keeps the bytes it was made
    /// with. Returns how many objects were placed; none is an error, as in SageMaker.
    pub fn download_prefix(&self, uri: &str, dest: &Path) -> Result<usize, StoreError> {
        let prefix = self.key_of(uri)?;
        let trimmed = prefix.trim_end_matches('/');
        let base = trimmed.rsplit_once('/').map_or(trimmed, |(_, b)| b);
        let objects = self.objects_under(prefix)?;
        if objects.is_empty() {
            return Err(StoreError::NoObjects(uri.to_string()));
        }
        for (key, path) in &objects {
            let rest = &key[prefix.len()..];
            let relative = if prefix.ends_with('/') {
                rest.to_string()
            } else if rest.is_empty() {
                base.to_string()
            } else if let Some(r) = rest.strip_prefix('/') {
                r.to_string()
            } else {
                format!("{base}{rest}")
            };
            let target = dest.join(&relative);
            if let Some(dir) = target.parent() {
                fs::create_dir_all(dir).map_err(StoreError::local(dir))?;
            }
            link_or_copy(path, &target).map_err(StoreError::io(key))?;
        }
        Ok(objects.len())
    }

    /// Uploads every file under `src` to `<uri>/<relative path>`. A missing `src` uploads
    /// nothing (a job may write no output). Returns how many objects were written.
    pub fn upload_dir(&self, src: &Path, uri: &str) -> Result<usize, StoreError> {
        let prefix = self.key_of(uri)?.trim_end_matches('/');
        let files = key::walk(src, "").map_err(StoreError::local(src))?;
        for (relative, path) in &files {
            let key = if prefix.is_empty() {
                relative.clone()
            } else {
                format!("{prefix}/{relative}")
            };
            self.put_file(&key, path)?;
        }
        Ok(files.len())
    }

    /// Copies a local file into the store as one object, without reading it into memory.
    pub fn put_file(&self, key: &str, src: &Path) -> Result<String, StoreError> {
        self.path_of(key)?;
        let mut staged = self.stage()?;
        let mut file = fs::File::open(src).map_err(StoreError::local(src))?;
        std::io::copy(&mut file, &mut staged.writer()).map_err(StoreError::local(src))?;
        self.put_staged(key, staged, PutCondition::None)
    }

    /// Archives the contents of `dir` (not the folder itself) as the object at `uri`, a gzipped
    /// tar, the way SageMaker packs `/opt/ml/model` into `model.tar.gz`.
    pub fn put_tar_gz(&self, uri: &str, dir: &Path) -> Result<String, StoreError> {
        let key = self.key_of(uri)?;
        self.path_of(key)?;
        let files = key::walk(dir, "").map_err(StoreError::local(dir))?;
        let mut staged = self.stage()?;
        let encoder =
            flate2::write::GzEncoder::new(staged.writer(), flate2::Compression::default());
        let mut builder = tar::Builder::new(encoder);
        for (relative, path) in &files {
            builder
                .append_path_with_name(path, relative)
                .map_err(StoreError::local(path))?;
        }
        builder
            .into_inner()
            .and_then(|encoder| encoder.finish())
            .map_err(StoreError::io(key))?;
        self.put_staged(key, staged, PutCondition::None)
    }
}

/// A read-only hard link to `source` at `target`, or a read-only copy where no link can be made.
fn link_or_copy(source: &Path, target: &Path) -> std::io::Result<()> {
    if fs::hard_link(source, target).is_err() {
        fs::copy(source, target)?;
    }
    // The mode is the inode's: the bucket's file becomes read-only too, which a write (a new
    // file renamed over it) does not need.
    let mut permissions = fs::metadata(target)?.permissions();
    permissions.set_readonly(true);
    fs::set_permissions(target, permissions)
}
