//! [`ObjectStore`] over one S3 bucket.

use async_trait::async_trait;
use aws_sdk_s3::primitives::ByteStream;
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

use super::error::classify;
use crate::ports::{ObjectMeta, ObjectStore, ObjectUri, PutCondition, SourceVersion, StoredObject};
use crate::PortError;

/// Characters escaped in `x-amz-copy-source` (everything but unreserved characters and `/`).
const COPY_SOURCE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'/')
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// One bucket through the S3 API.
#[derive(Debug, Clone)]
pub struct S3Store {
    client: aws_sdk_s3::Client,
    bucket: String,
}

impl S3Store {
    /// The bucket `bucket`, through `client`.
    pub fn new(client: aws_sdk_s3::Client, bucket: impl Into<String>) -> Self {
        S3Store {
            client,
            bucket: bucket.into(),
        }
    }

    /// The SDK client (for set-up the port does not cover, e.g. bucket versioning in tests).
    pub fn client(&self) -> &aws_sdk_s3::Client {
        &self.client
    }
}

fn missing_etag(context: &str) -> PortError {
    PortError::Other(format!("{context}: S3 returned no ETag"))
}

#[async_trait]
impl ObjectStore for S3Store {
    fn bucket(&self) -> &str {
        &self.bucket
    }

    async fn get(&self, key: &str) -> Result<StoredObject, PortError> {
        let context = format!("GetObject s3://{}/{key}", self.bucket);
        let output = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .map_err(|e| classify(e, &context))?;
        let etag = output.e_tag.clone().ok_or_else(|| missing_etag(&context))?;
        let body = output
            .body
            .collect()
            .await
            .map_err(|error| PortError::Throttled(format!("{context}: {error}")))?;
        Ok(StoredObject {
            body: body.into_bytes().to_vec(),
            etag,
        })
    }

    async fn head(&self, key: &str) -> Result<ObjectMeta, PortError> {
        let context = format!("HeadObject s3://{}/{key}", self.bucket);
        let output = self
            .client
            .head_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .map_err(|e| classify(e, &context))?;
        Ok(ObjectMeta {
            key: key.to_string(),
            etag: output.e_tag.ok_or_else(|| missing_etag(&context))?,
            size: output
                .content_length
                .and_then(|size| u64::try_from(size).ok())
                .unwrap_or(0),
        })
    }

    async fn put(
        &self,
        key: &str,
        body: Vec<u8>,
        condition: PutCondition,
    ) -> Result<String, PortError> {
        let context = format!("PutObject s3://{}/{key}", self.bucket);
        let mut request = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .body(ByteStream::from(body));
        request = match condition {
            PutCondition::None => request,
            PutCondition::IfAbsent => request.if_none_match("*"),
            PutCondition::IfMatch(etag) => request.if_match(etag),
        };
        let output = request.send().await.map_err(|e| classify(e, &context))?;
        output.e_tag.ok_or_else(|| missing_etag(&context))
    }

    async fn list(&self, prefix: &str) -> Result<Vec<ObjectMeta>, PortError> {
        let context = format!("ListObjectsV2 s3://{}/{prefix}", self.bucket);
        let mut pages = self
            .client
            .list_objects_v2()
            .bucket(&self.bucket)
            .prefix(prefix)
            .into_paginator()
            .send();
        let mut objects = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| classify(e, &context))?;
            for object in page.contents.unwrap_or_default() {
                let Some(key) = object.key else { continue };
                objects.push(ObjectMeta {
                    key,
                    etag: object.e_tag.unwrap_or_default(),
                    size: object
                        .size
                        .and_then(|size| u64::try_from(size).ok())
                        .unwrap_or(0),
                });
            }
        }
        objects.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(objects)
    }

    async fn delete(&self, key: &str) -> Result<(), PortError> {
        let context = format!("DeleteObject s3://{}/{key}", self.bucket);
        match self
            .client
            .delete_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(error) => match classify(error, &context) {
                PortError::NotFound(_) => Ok(()),
                other => Err(other),
            },
        }
    }

    async fn copy(&self, source: &ObjectUri, dest_key: &str) -> Result<String, PortError> {
        self.copy_object(source, None, dest_key).await
    }

    async fn copy_version(
        &self,
        source: &ObjectUri,
        version: &SourceVersion,
        dest_key: &str,
    ) -> Result<String, PortError> {
        self.copy_object(source, Some(version), dest_key).await
    }
}

impl S3Store {
    async fn copy_object(
        &self,
        source: &ObjectUri,
        version: Option<&SourceVersion>,
        dest_key: &str,
    ) -> Result<String, PortError> {
        let context = format!("CopyObject {source} to s3://{}/{dest_key}", self.bucket);
        let mut copy_source = format!(
            "{}/{}",
            source.bucket,
            utf8_percent_encode(&source.key, COPY_SOURCE)
        );
        let mut request = self.client.copy_object().bucket(&self.bucket).key(dest_key);
        if let Some(version) = version {
            if let Some(version_id) = &version.version_id {
                copy_source.push_str("?versionId=");
                copy_source.extend(utf8_percent_encode(version_id, COPY_SOURCE));
            }
            // S3 compares entity tags quoted.
            let etag = format!("\"{}\"", version.etag.trim_matches('"'));
            request = request.copy_source_if_match(etag);
        }
        let output = request
            .copy_source(copy_source)
            .send()
            .await
            .map_err(|e| classify(e, &context))?;
        output
            .copy_object_result
            .and_then(|result| result.e_tag)
            .ok_or_else(|| missing_etag(&context))
    }
}
