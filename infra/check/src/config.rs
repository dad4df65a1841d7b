//! The Terraform configuration of one directory, parsed.

use hcl::{Block, Body, Expression};
use std::path::{Path, PathBuf};

/// Why a configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is not valid HCL: {source}")]
    Parse { path: PathBuf, source: hcl::Error },
    #[error("{dir} holds no .tf file")]
    Empty { dir: PathBuf },
}

/// One parsed `.tf` file.
#[derive(Debug)]
pub struct File {
    /// File name within the configuration directory, e.g. `storage.tf`.
    pub name: String,
    pub body: Body,
}

/// Every `.tf` file of a directory (not its sub-directories, as Terraform reads a module).
#[derive(Debug)]
pub struct Config {
    pub dir: PathBuf,
    pub files: Vec<File>,
}

impl Config {
    /// Parses every `*.tf` file in `dir`, in name order.
    pub fn load(dir: &Path) -> Result<Config, Error> {
        let read_dir = std::fs::read_dir(dir).map_err(|source| Error::Read {
            path: dir.to_path_buf(),
            source,
        })?;
        let mut paths = Vec::new();
        for entry in read_dir {
            let entry = entry.map_err(|source| Error::Read {
                path: dir.to_path_buf(),
                source,
            })?;
            let path = entry.path();
            if path.is_file() && path.extension().is_some_and(|e| e == "tf") {
                paths.push(path);
            }
        }
        if paths.is_empty() {
            return Err(Error::Empty {
                dir: dir.to_path_buf(),
            });
        }
        paths.sort();
        let files = paths
            .into_iter()
            .map(|path| parse_file(&path))
            .collect::<Result<_, _>>()?;
        Ok(Config {
            dir: dir.to_path_buf(),
            files,
        })
    }

    /// Every top-level block with this identifier (`resource`, `data`, `variable`...), with the
    /// name of the file it is in.
    pub fn blocks<'a>(&'a self, identifier: &'a str) -> impl Iterator<Item = (&'a str, &'a Block)> {
        self.files.iter().flat_map(move |file| {
            file.body
                .blocks()
                .filter(move |b| b.identifier() == identifier)
                .map(move |b| (file.name.as_str(), b))
        })
    }

    /// Every `resource` block as (type, name, block).
    pub fn resources(&self) -> impl Iterator<Item = (&str, &str, &Block)> {
        self.labelled("resource")
    }

    /// Every `data` block as (type, name, block).
    pub fn data_sources(&self) -> impl Iterator<Item = (&str, &str, &Block)> {
        self.labelled("data")
    }

    /// The `resource "<kind>" "<name>"` block.
    pub fn resource(&self, kind: &str, name: &str) -> Option<&Block> {
        self.resources()
            .find(|(k, n, _)| *k == kind && *n == name)
            .map(|(_, _, b)| b)
    }

    /// The `data "<kind>" "<name>"` block.
    pub fn data(&self, kind: &str, name: &str) -> Option<&Block> {
        self.data_sources()
            .find(|(k, n, _)| *k == kind && *n == name)
            .map(|(_, _, b)| b)
    }

    /// The value of `local.<name>`, from whichever `locals` block defines it.
    pub fn local(&self, name: &str) -> Option<&Expression> {
        self.blocks("locals")
            .flat_map(|(_, b)| b.body().attributes())
            .find(|a| a.key() == name)
            .map(|a| a.expr())
    }

    fn labelled(&self, identifier: &'static str) -> impl Iterator<Item = (&str, &str, &Block)> {
        self.blocks(identifier)
            .filter_map(|(_, b)| match b.labels() {
                [kind, name] => Some((kind.as_str(), name.as_str(), b)),
                _ => None,
            })
    }
}

/// The attribute `key` of a block's body.
pub fn attribute<'a>(block: &'a Block, key: &str) -> Option<&'a Expression> {
    block
        .body()
        .attributes()
        .find(|a| a.key() == key)
        .map(|a| a.expr())
}

/// The nested blocks of `block` with this identifier.
pub fn nested<'a>(block: &'a Block, identifier: &'a str) -> impl Iterator<Item = &'a Block> {
    block
        .body()
        .blocks()
        .filter(move |b| b.identifier() == identifier)
}

fn parse_file(path: &Path) -> Result<File, Error> {
    let text = std::fs::read_to_string(path).map_err(|source| Error::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let body = hcl::parse(&text).map_err(|source| Error::Parse {
        path: path.to_path_buf(),
        source,
    })?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    Ok(File { name, body })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir_with(files: &[(&str, &str)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for (name, text) in files {
            std::fs::write(dir.path().join(name), text).unwrap();
        }
        dir
    }

    #[test]
    fn a_syntax_error_names_the_file() {
        let dir = dir_with(&[
            ("good.tf", "locals {\n  a = 1\n}\n"),
            (
                "bad.tf",
                "resource \"aws_s3_bucket\" \"b\" {\n  bucket = \n",
            ),
        ]);
        let err = Config::load(dir.path()).unwrap_err();
        assert!(matches!(err, Error::Parse { .. }), "{err}");
        assert!(err.to_string().contains("bad.tf"), "{err}");
    }

    #[test]
    fn an_empty_directory_is_an_error() {
        let dir = dir_with(&[("notes.txt", "no terraform here")]);
        let err = Config::load(dir.path()).unwrap_err();
        assert!(matches!(err, Error::Empty { .. }), "{err}");
    }

    #[test]
    fn finds_resources_data_and_locals_across_files() {
        let dir = dir_with(&[
            (
                "a.tf",
                "resource \"aws_s3_bucket\" \"data\" {\n  bucket = \"b\"\n}\nlocals {\n  x = \"one\"\n}\n",
            ),
            (
                "b.tf",
                "data \"aws_iam_policy_document\" \"p\" {}\nlocals {\n  y = 2\n}\n",
            ),
        ]);
        let config = Config::load(dir.path()).unwrap();
        let bucket = config.resource("aws_s3_bucket", "data").unwrap();
        assert_eq!(
            attribute(bucket, "bucket"),
            Some(&Expression::String("b".into()))
        );
        assert!(config.data("aws_iam_policy_document", "p").is_some());
        assert!(config.resource("aws_s3_bucket", "other").is_none());
        assert_eq!(config.local("x"), Some(&Expression::String("one".into())));
        assert!(config.local("y").is_some());
        assert!(config.local("z").is_none());
    }
}
