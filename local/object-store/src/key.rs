//! Keys: checked once here, mapped to files, and the file names the store keeps for itself.

use std::path::{Component, Path, PathBuf};

use crate::StoreError;

/// Prefix of every file the store writes that is not an object (temporary files, ETag
/// sidecars): never listed, and refused as a key's name.
pub(crate) const RESERVED_PREFIX: &str = ".mmp-";
/// Temporary files being written.
pub(crate) const TMP_PREFIX: &str = ".mmp-tmp-";
/// The longest name a key's part may have: a file name is at most 255 bytes, and the ETag
/// sidecar's name is the object's behind `.mmp-meta.`. Refused before anything is written,
/// so an object is never stored without its sidecar.
pub(crate) const MAX_NAME_BYTES: usize = 255 - ".mmp-meta.".len();
/// Temporary files of earlier versions (tempfile's default name): left by a crash, never objects.
const LEGACY_TMP_PREFIX: &str = ".tmp";

/// Whether a file name belongs to the store rather than to an object.
pub(crate) fn is_reserved(name: &str) -> bool {
    name.starts_with(RESERVED_PREFIX) || name.starts_with(LEGACY_TMP_PREFIX)
}

/// The file behind `key` under `root`, refusing keys that would leave the bucket (absolute,
/// `..`, empty) or name one of the store's own files.
pub(crate) fn path_of(root: &Path, key: &str) -> Result<PathBuf, StoreError> {
    let relative = Path::new(key);
    let plain = relative.components().all(|c| match c {
        Component::Normal(name) => !is_reserved(&name.to_string_lossy()),
        _ => false,
    });
    if key.is_empty() || !plain {
        return Err(StoreError::InvalidKey(key.to_string()));
    }
    if relative
        .components()
        .any(|c| c.as_os_str().len() > MAX_NAME_BYTES)
    {
        return Err(StoreError::NameTooLong {
            key: key.to_string(),
            max: MAX_NAME_BYTES,
        });
    }
    Ok(root.join(relative))
}

/// A new temporary file in `dir`, named so that it is never listed.
pub(crate) fn temp_file(dir: &Path) -> std::io::Result<tempfile::NamedTempFile> {
    tempfile::Builder::new().prefix(TMP_PREFIX).tempfile_in(dir)
}

/// Every object file under `dir` as (key, path), keys being `<key_prefix>/<relative path>`,
/// sorted by key as S3 lists them. A missing folder holds nothing.
pub(crate) fn walk(dir: &Path, key_prefix: &str) -> std::io::Result<Vec<(String, PathBuf)>> {
    let mut out = Vec::new();
    walk_into(dir, key_prefix, &mut out)?;
    out.sort();
    Ok(out)
}

fn walk_into(
    dir: &Path,
    key_prefix: &str,
    out: &mut Vec<(String, PathBuf)>,
) -> std::io::Result<()> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    for entry in entries {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if is_reserved(&name) {
            continue;
        }
        let key = if key_prefix.is_empty() {
            name
        } else {
            format!("{key_prefix}/{name}")
        };
        let kind = entry.file_type()?;
        if kind.is_dir() {
            walk_into(&entry.path(), &key, out)?;
        } else if kind.is_file() || kind.is_symlink() {
            out.push((key, entry.path()));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_stay_inside_the_bucket_and_off_the_stores_files() {
        let root = Path::new("r");
        assert_eq!(path_of(root, "a/b.csv").unwrap(), root.join("a/b.csv"));
        for bad in [
            "",
            "../x",
            "/etc/passwd",
            "a/../../b",
            "a/.mmp-meta.b",
            ".tmpX",
        ] {
            assert!(
                matches!(path_of(root, bad), Err(StoreError::InvalidKey(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn a_name_too_long_for_its_sidecar_is_refused_before_anything_is_written() {
        let root = Path::new("r");
        let longest = "n".repeat(MAX_NAME_BYTES);
        assert!(path_of(root, &format!("a/{longest}")).is_ok());
        let error = path_of(root, &format!("a/{longest}x")).unwrap_err();
        assert!(matches!(
            error,
            StoreError::NameTooLong {
                max: MAX_NAME_BYTES,
                ..
            }
        ));
        assert!(error.to_string().contains("at most 245 bytes"), "{error}");
    }
}
