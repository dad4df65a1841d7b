//! Naming and writing objects: the `s3://` URI every part of the system parses with one parser,
//! and the condition a write is made under. The ports, the AWS adapters and the local object
//! store all take these types.

/// `s3://bucket/key`: an object anywhere, for copies from outside a store's own bucket.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ObjectUri {
    /// The bucket's name.
    pub bucket: String,
    /// The object's key within the bucket, without a leading `/`.
    pub key: String,
}

impl ObjectUri {
    /// Parses `s3://bucket/key`; `None` if it is not of that shape (empty bucket or key).
    pub fn parse(uri: &str) -> Option<ObjectUri> {
        let (bucket, key) = Self::split(uri)?;
        if key.is_empty() {
            return None;
        }
        Some(ObjectUri {
            bucket: bucket.to_string(),
            key: key.to_string(),
        })
    }

    /// Splits `s3://bucket/key` into bucket and key without copying. The key may be empty
    /// (`s3://bucket` and `s3://bucket/` name the whole bucket as a prefix); the bucket may not.
    pub fn split(uri: &str) -> Option<(&str, &str)> {
        let rest = uri.strip_prefix("s3://")?;
        let (bucket, key) = rest.split_once('/').unwrap_or((rest, ""));
        (!bucket.is_empty()).then_some((bucket, key))
    }
}

impl std::fmt::Display for ObjectUri {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "s3://{}/{}", self.bucket, self.key)
    }
}

/// The condition a write is made under, as S3's conditional writes express it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PutCondition {
    /// Write whatever is there.
    None,
    /// `If-None-Match: *`: only create; a precondition failure if the key exists.
    IfAbsent,
    /// `If-Match: <etag>`: only replace this version; a precondition failure if the key
    /// changed, not-found if it is gone. The ETag is opaque: pass back the one a read returned.
    IfMatch(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn object_uri_parses_and_prints() {
        let uri = ObjectUri::parse("s3://bucket/a/b.tar.gz").unwrap();
        assert_eq!(uri.bucket, "bucket");
        assert_eq!(uri.key, "a/b.tar.gz");
        assert_eq!(uri.to_string(), "s3://bucket/a/b.tar.gz");
        assert_eq!(ObjectUri::parse("s3://bucket/"), None);
        assert_eq!(ObjectUri::parse("https://bucket/key"), None);
        assert_eq!(ObjectUri::parse("s3:///key"), None);
    }

    #[test]
    fn split_allows_a_whole_bucket_prefix() {
        assert_eq!(ObjectUri::split("s3://b/p/x/"), Some(("b", "p/x/")));
        assert_eq!(ObjectUri::split("s3://b/"), Some(("b", "")));
        assert_eq!(ObjectUri::split("s3://b"), Some(("b", "")));
        assert_eq!(ObjectUri::split("s3:///k"), None);
        assert_eq!(ObjectUri::split("b/k"), None);
    }
}
