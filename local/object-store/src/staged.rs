//! A body written piece by piece to a temporary file of the bucket folder, hashed as it goes.

use std::io::Write;

use md5::{Digest, Md5};

use crate::etag::quoted;

/// A body being staged; [`crate::LocalStore::put_staged`] renames it into place. Dropped, its
/// temporary file goes.
pub struct Staged {
    pub(crate) file: tempfile::NamedTempFile,
    md5: Md5,
    size: u64,
}

impl Staged {
    pub(crate) fn new(file: tempfile::NamedTempFile) -> Staged {
        Staged {
            file,
            md5: Md5::new(),
            size: 0,
        }
    }

    /// Appends `chunk`.
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
        quoted(self.md5.clone().finalize().as_slice())
    }

    /// A [`Write`] into this body, for `io::copy` and encoders.
    pub(crate) fn writer(&mut self) -> StagedWriter<'_> {
        StagedWriter(self)
    }
}

pub(crate) struct StagedWriter<'a>(&'a mut Staged);

impl Write for StagedWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.write(buf)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.0.file.flush()
    }
}
