//! The local bucket: a folder tree with S3's semantics for the operations the system uses —
//! ETags kept beside each object, conditional writes (`If-None-Match: *`, `If-Match`), prefix
//! listing, copy, delete — an ObjectCreated notification for every write, as S3 sends one, and
//! the transfers a local job needs (prefix download, folder upload, `model.tar.gz`).
//!
//! S3 key `a/b` is the file `<root>/a/b`. Every write goes to a temporary file first and is
//! renamed into place, so a reader never sees half an object and a crash leaves no partial
//! one. Both the executor (job data) and `mmp` (the runtime's bucket) use this one store.

mod error;
mod etag;
mod key;
mod staged;
mod store;
mod transfer;

pub use error::StoreError;
pub use etag::etag_of;
pub use mmp_pipeline::object::{ObjectUri, PutCondition};
pub use staged::Staged;
pub use store::{LocalStore, Object, ObjectInfo, OnCreated};
