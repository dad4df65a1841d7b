//! The idempotency claim: which delivery of an upload starts its execution.
//!
//! 1. Create `<claims prefix><token>.json` with `If-None-Match: *`. The winner starts the
//!    execution (ClientRequestToken = token) and records the ARN with `If-Match`.
//! 2. A loser reads the claim: with an ARN, the upload was handled → nothing to do. Without
//!    one, another delivery is starting it right now (→ retry later), or crashed: once the
//!    claim is older than the timeout, one loser takes it over with `If-Match` and starts
//!    again with the same token (SageMaker returns the first execution if there was one).
//! 3. If starting fails, the claim is deleted so that the retry can claim again.

use std::time::Duration;

use mmp_common::emf::now_ms;
use mmp_common::events::ObjectCreated;
use mmp_common::ports::{ObjectStore, PipelineRunner, PutCondition, StartExecution};
use mmp_common::PortError;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The idempotency token of one upload version: SHA-256 of bucket, key and ETag, in hex
/// (64 characters: within ClientRequestToken's 32..=128).
pub fn upload_token(bucket: &str, key: &str, etag: &str) -> String {
    let mut hasher = Sha256::new();
    for part in [bucket, key, etag.trim_matches('"')] {
        hasher.update(part.as_bytes());
        hasher.update([0u8]);
    }
    hasher
        .finalize()
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// The claim object's content.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claim {
    /// The upload's bucket.
    pub bucket: String,
    /// The upload's key.
    pub key: String,
    /// The upload's ETag.
    pub etag: String,
    /// The dataset it uploads to.
    pub dataset: String,
    /// When the claim was made, milliseconds since the Unix epoch (abandoned claims time out).
    pub claimed_at_ms: i64,
    /// The execution started, once recorded.
    pub execution_arn: Option<String>,
    /// Which delivery wrote the claim (random). A conditional put can land and still answer
    /// 412 when the SDK retries it after a lost response; finding its own id, the delivery
    /// knows the claim is its own instead of waiting for the timeout.
    #[serde(default)]
    pub claimant: String,
    /// The S3 sequencer of the event that claimed: a later event with another one is a new
    /// upload of identical bytes, not a redelivery.
    #[serde(default)]
    pub sequencer: Option<String>,
}

impl Claim {
    /// A fresh claim of `upload` (no execution yet).
    pub fn new(upload: &ObjectCreated, dataset: &str) -> Claim {
        Claim {
            bucket: upload.bucket.clone(),
            key: upload.key.clone(),
            etag: upload.etag.clone(),
            dataset: dataset.to_string(),
            claimed_at_ms: now_ms(),
            execution_arn: None,
            claimant: uuid::Uuid::new_v4().to_string(),
            sequencer: upload.sequencer.clone(),
        }
    }

    fn to_vec(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }
}

/// Who started the execution.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Started {
    /// This delivery started the execution with this ARN.
    Now(String),
    /// By the delivery of the event with this sequencer.
    Before {
        /// The execution it started.
        execution_arn: String,
        /// The S3 sequencer of the upload that claimed it.
        sequencer: Option<String>,
    },
}

/// Starts `request` unless a delivery of the same upload already did.
pub async fn start_once<S, P>(
    store: &S,
    pipelines: &P,
    claim_key: &str,
    claim: Claim,
    request: &StartExecution,
    timeout: Duration,
) -> Result<Started, PortError>
where
    S: ObjectStore + ?Sized,
    P: PipelineRunner + ?Sized,
{
    let claim_etag = match store
        .put(claim_key, claim.to_vec(), PutCondition::IfAbsent)
        .await
    {
        Ok(etag) => etag,
        Err(PortError::PreconditionFailed(_)) => {
            match take_over(store, claim_key, &claim.claimant, timeout).await? {
                TakeOver::Done {
                    execution_arn,
                    sequencer,
                } => {
                    return Ok(Started::Before {
                        execution_arn,
                        sequencer,
                    })
                }
                TakeOver::Mine(etag) => etag,
            }
        }
        Err(error) => return Err(error),
    };
    let execution_arn = match pipelines.start_execution(request).await {
        Ok(arn) => arn,
        Err(error) => {
            // Free the claim so the retry can start it; if this fails too, the timeout frees it.
            if let Err(delete_error) = store.delete(claim_key).await {
                tracing::warn!(%delete_error, claim_key, "could not release the claim");
            }
            return Err(error);
        }
    };
    let recorded = Claim {
        execution_arn: Some(execution_arn.clone()),
        ..claim
    };
    if let Err(error) = store
        .put(
            claim_key,
            recorded.to_vec(),
            PutCondition::IfMatch(claim_etag),
        )
        .await
    {
        // The execution runs; only the record is missing. A redelivery after the timeout
        // starts again with the same token, which SageMaker deduplicates.
        tracing::warn!(%error, claim_key, "started, but could not record the execution in the claim");
    }
    Ok(Started::Now(execution_arn))
}

enum TakeOver {
    Done {
        execution_arn: String,
        sequencer: Option<String>,
    },
    Mine(String),
}

async fn take_over<S: ObjectStore + ?Sized>(
    store: &S,
    claim_key: &str,
    claimant: &str,
    timeout: Duration,
) -> Result<TakeOver, PortError> {
    let object = match store.get(claim_key).await {
        Ok(object) => object,
        // Released between our put and this read: the retry claims again.
        Err(PortError::NotFound(_)) => {
            return Err(PortError::Throttled(format!(
                "claim {claim_key} was released"
            )))
        }
        Err(error) => return Err(error),
    };
    let existing: Claim = serde_json::from_slice(&object.body)
        .map_err(|error| PortError::Other(format!("claim {claim_key} is unreadable: {error}")))?;
    if let Some(execution_arn) = existing.execution_arn {
        return Ok(TakeOver::Done {
            execution_arn,
            sequencer: existing.sequencer,
        });
    }
    if existing.claimant == claimant {
        tracing::info!(
            claim_key,
            "the claim answered 412 is this delivery's own (a retried put)"
        );
        return Ok(TakeOver::Mine(object.etag));
    }
    let age_ms = now_ms().saturating_sub(existing.claimed_at_ms);
    let timeout_ms = i64::try_from(timeout.as_millis()).unwrap_or(i64::MAX);
    if age_ms < timeout_ms {
        return Err(PortError::Throttled(format!(
            "claim {claim_key} is being handled by another delivery ({age_ms} ms old); retry later"
        )));
    }
    let renewed = Claim {
        claimed_at_ms: now_ms(),
        claimant: claimant.to_string(),
        ..existing
    };
    match store
        .put(
            claim_key,
            renewed.to_vec(),
            PutCondition::IfMatch(object.etag),
        )
        .await
    {
        Ok(etag) => {
            tracing::warn!(claim_key, age_ms, "took over an abandoned claim");
            Ok(TakeOver::Mine(etag))
        }
        Err(PortError::PreconditionFailed(_)) => Err(PortError::Throttled(format!(
            "claim {claim_key} was taken over by another delivery; retry later"
        ))),
        Err(error) => Err(error),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_depends_on_every_part_and_ignores_etag_quotes() {
        let token = upload_token("b", "datasets/x/a.csv", "abc");
        assert_eq!(token.len(), 64);
        assert_eq!(token, upload_token("b", "datasets/x/a.csv", "\"abc\""));
        assert_ne!(token, upload_token("b", "datasets/x/a.csv", "abd"));
        assert_ne!(token, upload_token("b2", "datasets/x/a.csv", "abc"));
        assert_ne!(upload_token("ab", "c", "e"), upload_token("a", "bc", "e"));
    }
}
