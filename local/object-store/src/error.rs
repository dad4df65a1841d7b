//! What can go wrong in the store; every variant names the key, URI or local file involved.

use std::path::PathBuf;

/// A store operation's failure.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// No object has the key.
    #[error("no object at key {0}")]
    NotFound(String),
    /// The write's (or copy's) condition did not hold for the key.
    #[error("precondition failed for key {0}")]
    PreconditionFailed(String),
    /// The key would leave the bucket folder or collide with the store's own files.
    #[error("invalid key {0:?}: keys are relative paths without `..` or names starting with `.mmp-` or `.tmp`")]
    InvalidKey(String),
    /// A part of the key is longer than the store can keep beside its ETag sidecar.
    #[error("invalid key {key:?}: each part between slashes may be at most {max} bytes here")]
    NameTooLong {
        /// The key refused.
        key: String,
        /// The longest part this store accepts.
        max: usize,
    },
    /// Not `s3://bucket/...`.
    #[error("{0} is not an s3:// URI")]
    NotS3Uri(String),
    /// A URI of a bucket other than the local one.
    #[error("{uri} names bucket {bucket}, but the local store holds only bucket {local}")]
    ForeignBucket {
        uri: String,
        bucket: String,
        local: String,
    },
    /// A prefix download matched nothing (an error, as in SageMaker).
    #[error("no S3 objects found under S3 URL {0}")]
    NoObjects(String),
    /// Reading or writing the object at the key.
    #[error("store I/O on {key}: {source}")]
    Io { key: String, source: std::io::Error },
    /// Reading or writing a local file outside the bucket (a job's folder).
    #[error("cannot use {}: {source}", path.display())]
    Local {
        path: PathBuf,
        source: std::io::Error,
    },
    /// Taking the write lock.
    #[error("store lock: {0}")]
    Lock(#[from] rusqlite::Error),
}

impl StoreError {
    /// An I/O error on `key`, as a closure for `map_err`.
    pub(crate) fn io(key: &str) -> impl FnOnce(std::io::Error) -> StoreError + '_ {
        move |source| StoreError::Io {
            key: key.to_string(),
            source,
        }
    }

    /// An I/O error on a local file, as a closure for `map_err`.
    pub(crate) fn local(path: &std::path::Path) -> impl FnOnce(std::io::Error) -> StoreError + '_ {
        move |source| StoreError::Local {
            path: path.to_path_buf(),
            source,
        }
    }
}
