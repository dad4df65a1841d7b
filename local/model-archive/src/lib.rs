//! Unpacks a model archive (`model.tar.gz`, as SageMaker's multi-model front end does) into a
//! folder, refusing anything that could reach outside it or exhaust the machine:
//!
//! - only regular files and folders are written; symbolic links, hard links, devices, FIFOs
//!   and sparse files are refused ([`Refusal`]);
//! - paths are relative and stay below the destination: absolute paths and `..` are refused;
//! - the total size of the files is capped ([`Limits::max_unpacked_bytes`]) and checked
//!   against each entry's declared size *before* its bytes are read, so nothing past the cap
//!   is inflated or written; the number of entries is capped too;
//! - the decompressed stream is metered: an entry's headers (GNU long names and PAX records,
//!   which the `tar` crate reads whole into memory) may take at most [`HEADER_ALLOWANCE`]
//!   bytes, so no part of the stream is read beyond what the caps allow.
//!
//! [`unpack`] never panics on any input; it is the entry point a fuzzer calls with arbitrary
//! bytes. Errors name archive entries (truncated), never a path of the machine.

use std::cell::Cell;
use std::fs::OpenOptions;
use std::io::{self, Read, Write};
use std::path::{Component, Path, PathBuf};
use std::rc::Rc;

/// Default cap on the unpacked size: 4 GiB.
pub const DEFAULT_MAX_UNPACKED_BYTES: u64 = 4 << 30;
/// Default cap on the number of entries (a model folder holds a handful of files).
pub const DEFAULT_MAX_ENTRIES: u64 = 10_000;
/// Bytes of the decompressed stream one entry's headers may take: its 512-byte header, GNU
/// long name/link entries and PAX extension records.
pub const HEADER_ALLOWANCE: u64 = 1 << 20;
/// How many characters of an entry's name an error repeats.
const NAME_IN_ERRORS: usize = 120;

/// What an archive may unpack to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Total bytes of the files written (the sum of the entries' declared sizes).
    pub max_unpacked_bytes: u64,
    /// Entries of any kind, folders included.
    pub max_entries: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_unpacked_bytes: DEFAULT_MAX_UNPACKED_BYTES,
            max_entries: DEFAULT_MAX_ENTRIES,
        }
    }
}

/// What [`unpack`] wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Unpacked {
    pub files: u64,
    pub folders: u64,
    pub bytes: u64,
}

/// Why an entry is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("symbolic links are not allowed")]
    Symlink,
    #[error("hard links are not allowed")]
    HardLink,
    #[error("only regular files and folders are allowed")]
    SpecialFile,
    #[error("absolute paths are not allowed")]
    AbsolutePath,
    #[error("`..` is not allowed in a path")]
    ParentDir,
    #[error("a file needs a name")]
    EmptyPath,
    #[error("the path is already in the archive")]
    Duplicate,
}

#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    #[error("not a readable .tar.gz: {0}")]
    Malformed(String),
    #[error("archive entry {entry:?} refused: {reason}")]
    Refused { entry: String, reason: Refusal },
    #[error("the archive unpacks to more than {cap} bytes (the cap)")]
    TooLarge { cap: u64 },
    #[error("the archive holds more than {cap} entries (the cap)")]
    TooManyEntries { cap: u64 },
    #[error("an archive entry's headers take more than {HEADER_ALLOWANCE} bytes")]
    HeadersTooLarge,
    #[error("cannot write archive entry {entry:?}: {source}")]
    Write {
        entry: String,
        #[source]
        source: io::Error,
    },
}

/// Unpacks the gzip-compressed tar stream `reader` into the folder `dest` (created if
/// missing). `dest` should be a fresh, empty folder: files are created with `create_new`, and
/// on an error what was written so far stays there for the caller to remove (a temporary
/// folder, typically).
pub fn unpack(reader: impl Read, dest: &Path, limits: &Limits) -> Result<Unpacked, ArchiveError> {
    std::fs::create_dir_all(dest).map_err(|source| ArchiveError::Write {
        entry: ".".into(),
        source,
    })?;
    let meter = Rc::new(Meter::default());
    let stream = Metered {
        inner: flate2::read::GzDecoder::new(reader),
        meter: Rc::clone(&meter),
    };
    let mut archive = tar::Archive::new(stream);
    let malformed = |meter: &Meter, e: io::Error| {
        if meter.exceeded.get() {
            ArchiveError::HeadersTooLarge
        } else {
            ArchiveError::Malformed(e.to_string())
        }
    };
    let mut entries = archive.entries().map_err(|e| malformed(&meter, e))?;
    let mut done = Unpacked::default();
    let mut seen: u64 = 0;
    // Where the current entry's data (with its padding) ends in the decompressed stream.
    let mut data_end: u64 = 0;
    loop {
        meter.allow_up_to(
            meter
                .read
                .get()
                .max(data_end)
                .saturating_add(HEADER_ALLOWANCE),
        );
        let mut entry = match entries.next() {
            None => break,
            Some(entry) => entry.map_err(|e| malformed(&meter, e))?,
        };
        seen += 1;
        if seen > limits.max_entries {
            return Err(ArchiveError::TooManyEntries {
                cap: limits.max_entries,
            });
        }
        let name = display_name(&entry.path_bytes());
        let refuse = |reason| ArchiveError::Refused {
            entry: name.clone(),
            reason,
        };
        let size = entry.size();
        // Every entry's data counts against the cap, whether it is written or skipped.
        let total = done
            .bytes
            .checked_add(size)
            .filter(|&t| t <= limits.max_unpacked_bytes)
            .ok_or(ArchiveError::TooLarge {
                cap: limits.max_unpacked_bytes,
            })?;
        data_end = meter
            .read
            .get()
            .saturating_add(size.div_ceil(512).saturating_mul(512));
        meter.allow_up_to(data_end.saturating_add(HEADER_ALLOWANCE));
        let kind = entry.header().entry_type();
        match kind {
            tar::EntryType::Regular | tar::EntryType::Continuous => {}
            tar::EntryType::Directory => {}
            // Global PAX records only describe the archive; nothing to write.
            tar::EntryType::XGlobalHeader => {
                done.bytes = total;
                continue;
            }
            tar::EntryType::Symlink => return Err(refuse(Refusal::Symlink)),
            tar::EntryType::Link => return Err(refuse(Refusal::HardLink)),
            _ => return Err(refuse(Refusal::SpecialFile)),
        }
        let path = entry.path().map_err(|e| malformed(&meter, e))?;
        let relative = relative_path(&path).map_err(refuse)?;
        let target = dest.join(&relative);
        let write_error = |source| ArchiveError::Write {
            entry: name.clone(),
            source,
        };
        if kind == tar::EntryType::Directory {
            std::fs::create_dir_all(&target).map_err(write_error)?;
            done.folders += 1;
            done.bytes = total;
            continue;
        }
        if relative.as_os_str().is_empty() {
            return Err(refuse(Refusal::EmptyPath));
        }
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent).map_err(write_error)?;
        }
        // create_new: never through an existing file or link, and a path appears once.
        let mut file = match OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&target)
        {
            Ok(file) => file,
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                return Err(refuse(Refusal::Duplicate))
            }
            Err(e) => return Err(write_error(e)),
        };
        let mut buf = [0u8; 64 * 1024];
        let mut copied: u64 = 0;
        loop {
            let n = entry.read(&mut buf).map_err(|e| malformed(&meter, e))?;
            if n == 0 {
                break;
            }
            copied += n as u64;
            file.write_all(&buf[..n]).map_err(write_error)?;
        }
        if copied != size {
            return Err(ArchiveError::Malformed(format!(
                "entry {name:?} is truncated"
            )));
        }
        done.files += 1;
        done.bytes = total;
    }
    Ok(done)
}

/// The path below the destination an entry names, or why it may not be written.
fn relative_path(path: &Path) -> Result<PathBuf, Refusal> {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::Normal(part) => out.push(part),
            Component::CurDir => {}
            Component::ParentDir => return Err(Refusal::ParentDir),
            Component::RootDir | Component::Prefix(_) => return Err(Refusal::AbsolutePath),
        }
    }
    Ok(out)
}

fn display_name(bytes: &[u8]) -> String {
    let name = String::from_utf8_lossy(bytes);
    if name.chars().count() <= NAME_IN_ERRORS {
        return name.into_owned();
    }
    let mut short: String = name.chars().take(NAME_IN_ERRORS).collect();
    short.push('…');
    short
}

/// How much of the decompressed stream has been read, and how much may be.
#[derive(Default)]
struct Meter {
    read: Cell<u64>,
    allowed: Cell<u64>,
    exceeded: Cell<bool>,
}

impl Meter {
    fn allow_up_to(&self, position: u64) {
        self.allowed.set(position);
    }
}

/// The decompressed stream, failing once it is read past what the meter allows.
struct Metered<R> {
    inner: R,
    meter: Rc<Meter>,
}

impl<R: Read> Read for Metered<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        let left = self
            .meter
            .allowed
            .get()
            .saturating_sub(self.meter.read.get());
        if left == 0 {
            self.meter.exceeded.set(true);
            return Err(io::Error::other("read past the archive's allowance"));
        }
        let n = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
        let got = self.inner.read(&mut buf[..n])?;
        self.meter
            .read
            .set(self.meter.read.get().saturating_add(got as u64));
        Ok(got)
    }
}
