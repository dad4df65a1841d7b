//! The local bucket: S3 key `a/b` is the file `<root>/a/b`. Reads follow S3Prefix semantics;
//! writes go to a temporary file first and are renamed into place, so a reader never sees half
//! an object and a crash leaves no partial one.

use std::fs;
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Temporary files start with this and are never listed.
const TMP_PREFIX: &str = ".mmp-tmp-";

#[derive(Debug, Clone)]
pub(crate) struct Store {
    root: PathBuf,
    bucket: String,
}

impl Store {
    pub fn new(root: PathBuf, bucket: String) -> Self {
        Self { root, bucket }
    }

    /// The key of `s3://<bucket>/<key>`; another bucket is an error.
    pub fn key_of(&self, uri: &str) -> Result<String, String> {
        let rest = uri
            .strip_prefix("s3://")
            .ok_or_else(|| format!("{uri} is not an s3:// URI"))?;
        let (bucket, key) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket != self.bucket {
            return Err(format!(
                "{uri} names bucket {bucket}, but the local store holds only bucket {}",
                self.bucket
            ));
        }
        Ok(key.to_string())
    }

    pub fn uri_of(&self, key: &str) -> String {
        format!("s3://{}/{key}", self.bucket)
    }

    fn path_of(&self, key: &str) -> Result<PathBuf, String> {
        let relative = Path::new(key);
        if key.is_empty()
            || relative
                .components()
                .any(|c| !matches!(c, Component::Normal(_)))
        {
            return Err(format!("S3 key {key:?} is not a plain relative path"));
        }
        Ok(self.root.join(relative))
    }

    /// Copies every object whose key starts with the URI's key into `dest`, placed as SageMaker
    /// places S3Prefix inputs: the key after the prefix (an exact key: its file name). Returns
    /// how many objects were copied; none is an error, as in SageMaker.
    pub fn download_prefix(&self, uri: &str, dest: &Path) -> Result<usize, String> {
        let prefix = self.key_of(uri)?;
        let prefix_trimmed = prefix.trim_end_matches('/');
        let parent_key = prefix_trimmed.rsplit_once('/').map_or("", |(p, _)| p);
        let base = prefix_trimmed
            .rsplit_once('/')
            .map_or(prefix_trimmed, |(_, b)| b);
        let parent_dir = if parent_key.is_empty() {
            self.root.clone()
        } else {
            self.path_of(parent_key)?
        };
        let mut objects = Vec::new();
        list_files(&parent_dir, parent_key, &mut objects)
            .map_err(|e| format!("cannot list {}: {e}", self.uri_of(parent_key)))?;
        let mut copied = 0;
        for (key, path) in objects {
            let Some(rest) = key.strip_prefix(prefix.as_str()) else {
                continue;
            };
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
                fs::create_dir_all(dir)
                    .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
            }
            fs::copy(&path, &target).map_err(|e| {
                format!(
                    "cannot copy {} to {}: {e}",
                    self.uri_of(&key),
                    target.display()
                )
            })?;
            copied += 1;
        }
        if copied == 0 {
            return Err(format!("no S3 objects found under S3 URL {uri}"));
        }
        Ok(copied)
    }

    /// Uploads every file under `src` to `<uri>/<relative path>`. A missing `src` uploads
    /// nothing (a job may write no output). Returns how many objects were written.
    pub fn upload_dir(&self, src: &Path, uri: &str) -> Result<usize, String> {
        let prefix = self.key_of(uri)?;
        let prefix = prefix.trim_end_matches('/');
        if !src.exists() {
            return Ok(0);
        }
        let mut files = Vec::new();
        list_files(src, "", &mut files)
            .map_err(|e| format!("cannot list {}: {e}", src.display()))?;
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

    /// Writes one object atomically.
    #[cfg(test)]
    pub fn put(&self, key: &str, bytes: &[u8]) -> Result<(), String> {
        self.put_with(key, |tmp| {
            use std::io::Write;
            let mut f = fs::File::create(tmp)?;
            f.write_all(bytes)?;
            f.sync_all()
        })
    }

    /// Copies a local file into the store as one object, atomically, without reading it into
    /// memory.
    pub fn put_file(&self, key: &str, src: &Path) -> Result<(), String> {
        self.put_with(key, |tmp| {
            fs::copy(src, tmp)?;
            fs::File::open(tmp)?.sync_all()
        })
    }

    fn put_with(
        &self,
        key: &str,
        write: impl FnOnce(&Path) -> std::io::Result<()>,
    ) -> Result<(), String> {
        let path = self.path_of(key)?;
        let dir = path
            .parent()
            .ok_or_else(|| format!("S3 key {key:?} has no folder"))?;
        fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let tmp = dir.join(format!(
            "{TMP_PREFIX}{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        write(&tmp)
            .and_then(|()| fs::rename(&tmp, &path))
            .map_err(|e| {
                let _ = fs::remove_file(&tmp);
                format!("cannot write {}: {e}", self.uri_of(key))
            })
    }

    pub fn put_file_uri(&self, uri: &str, src: &Path) -> Result<(), String> {
        self.put_file(&self.key_of(uri)?, src)
    }
}

/// Every file under `dir` as (key, path), keys being `<key_prefix>/<relative path>`, sorted.
fn list_files(
    dir: &Path,
    key_prefix: &str,
    out: &mut Vec<(String, PathBuf)>,
) -> std::io::Result<()> {
    let entries = match fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    let mut entries: Vec<_> = entries.collect::<Result<_, _>>()?;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with(TMP_PREFIX) {
            continue;
        }
        let key = if key_prefix.is_empty() {
            name
        } else {
            format!("{key_prefix}/{name}")
        };
        let kind = entry.file_type()?;
        if kind.is_dir() {
            list_files(&entry.path(), &key, out)?;
        } else if kind.is_file() || kind.is_symlink() {
            out.push((key, entry.path()));
        }
    }
    Ok(())
}

/// Archives the contents of `dir` (not the folder itself) as the gzipped tar `dest`, the way
/// SageMaker packs `/opt/ml/model` into `model.tar.gz`.
pub(crate) fn tar_gz_dir(dir: &Path, dest: &Path) -> Result<(), String> {
    let mut files = Vec::new();
    list_files(dir, "", &mut files).map_err(|e| format!("cannot list {}: {e}", dir.display()))?;
    let out =
        fs::File::create(dest).map_err(|e| format!("cannot create {}: {e}", dest.display()))?;
    let encoder = flate2::write::GzEncoder::new(out, flate2::Compression::default());
    let mut builder = tar::Builder::new(encoder);
    for (relative, path) in &files {
        builder
            .append_path_with_name(path, relative)
            .map_err(|e| format!("cannot archive {}: {e}", path.display()))?;
    }
    builder
        .into_inner()
        .and_then(|gz| gz.finish())
        .map(drop)
        .map_err(|e| format!("cannot finish the archive of {}: {e}", dir.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::new(dir.path().to_path_buf(), "bkt".into());
        (dir, s)
    }

    #[test]
    fn downloads_with_s3_prefix_semantics() {
        let (_d, s) = store();
        s.put("p/train/dataset.csv", b"a").unwrap();
        s.put("p/train/sub/x.csv", b"b").unwrap();
        s.put("p/trainer/y.csv", b"c").unwrap();
        s.put("p/model.tar.gz", b"m").unwrap();
        let out = tempfile::tempdir().unwrap();
        let dest = out.path().join("train");
        assert_eq!(s.download_prefix("s3://bkt/p/train/", &dest).unwrap(), 2);
        assert_eq!(fs::read(dest.join("sub/x.csv")).unwrap(), b"b");
        let dest = out.path().join("prefix");
        // Without the slash, `p/trainer/y.csv` matches too, as S3 lists it.
        assert_eq!(s.download_prefix("s3://bkt/p/train", &dest).unwrap(), 3);
        assert_eq!(fs::read(dest.join("dataset.csv")).unwrap(), b"a");
        assert_eq!(fs::read(dest.join("trainer/y.csv")).unwrap(), b"c");
        let dest = out.path().join("model");
        assert_eq!(
            s.download_prefix("s3://bkt/p/model.tar.gz", &dest).unwrap(),
            1
        );
        assert_eq!(fs::read(dest.join("model.tar.gz")).unwrap(), b"m");
    }

    #[test]
    fn names_missing_objects_and_foreign_buckets() {
        let (_d, s) = store();
        let out = tempfile::tempdir().unwrap();
        let e = s
            .download_prefix("s3://bkt/nothing/here", out.path())
            .unwrap_err();
        assert!(
            e.contains("no S3 objects found under S3 URL s3://bkt/nothing/here"),
            "{e}"
        );
        let e = s.download_prefix("s3://other/x", out.path()).unwrap_err();
        assert!(e.contains("bucket other"), "{e}");
        assert!(s.put("../escape", b"x").is_err());
    }

    #[test]
    fn uploads_folders_and_archives_them() {
        let (d, s) = store();
        let src = tempfile::tempdir().unwrap();
        fs::create_dir_all(src.path().join("a")).unwrap();
        fs::write(src.path().join("a/b.json"), "{}").unwrap();
        fs::write(src.path().join("c.txt"), "c").unwrap();
        assert_eq!(s.upload_dir(src.path(), "s3://bkt/out/x/").unwrap(), 2);
        assert_eq!(
            fs::read_to_string(d.path().join("out/x/a/b.json")).unwrap(),
            "{}"
        );
        assert_eq!(
            s.upload_dir(&src.path().join("missing"), "s3://bkt/o")
                .unwrap(),
            0
        );

        let out = tempfile::tempdir().unwrap();
        let dest = out.path().join("model.tar.gz");
        tar_gz_dir(src.path(), &dest).unwrap();
        s.put_file_uri("s3://bkt/m/model.tar.gz", &dest).unwrap();
        let bytes = fs::read(d.path().join("m/model.tar.gz")).unwrap();
        let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(&bytes[..]));
        let mut names: Vec<String> = archive
            .entries()
            .unwrap()
            .map(|e| e.unwrap().path().unwrap().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(names, ["a/b.json", "c.txt"]);
    }
}
