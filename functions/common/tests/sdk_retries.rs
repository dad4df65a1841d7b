//! The SDK adapters make exactly the attempts configured in `aws::sdk_config_loader` against a
//! server that always answers 503: one retry layer, not the SDK's multiplied by a handler's.
#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns
#![cfg(feature = "moto")]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use mmp_common::aws::moto::sdk_config_at;
use mmp_common::aws::{s3_client, sagemaker_runtime_client, S3Store, SageMakerEndpoint};
use mmp_common::ports::{Invocation, ModelEndpoint, ObjectStore};
use mmp_common::retry::Backoff;

/// A server on loopback answering every request `503 Service Unavailable`; returns its URL
/// and the count of requests it received.
fn unavailable_server() -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let requests = Arc::new(AtomicUsize::new(0));
    let counted = requests.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut reader = BufReader::new(stream);
            let mut line = String::new();
            let mut body_length = 0;
            while reader.read_line(&mut line).is_ok_and(|read| read > 2) {
                if let Some(value) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    body_length = value.trim().parse().unwrap_or(0);
                }
                line.clear();
            }
            std::io::copy(&mut (&mut reader).take(body_length), &mut std::io::sink()).ok();
            counted.fetch_add(1, Ordering::SeqCst);
            let answer = "HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\nconnection: close\r\n\r\n";
            reader.get_mut().write_all(answer.as_bytes()).ok();
        }
    });
    (url, requests)
}

#[tokio::test]
async fn s3_calls_are_tried_the_configured_number_of_times() {
    let (url, requests) = unavailable_server();
    let store = S3Store::new(s3_client(&sdk_config_at(&url).await, true), "bucket");
    let error = store.get("key").await.unwrap_err();
    assert!(error.is_retryable(), "{error}");
    let attempts = Backoff::default().attempts as usize;
    assert_eq!(requests.load(Ordering::SeqCst), attempts);
}

#[tokio::test]
async fn invocations_are_tried_the_configured_number_of_times() {
    let (url, requests) = unavailable_server();
    let client = sagemaker_runtime_client(&sdk_config_at(&url).await);
    let endpoint = SageMakerEndpoint::new(client, "mmp-endpoint");
    let invocation = Invocation {
        target_model: "mmp-wine-v1.tar.gz".into(),
        content_type: "text/csv".into(),
        accept: None,
        body: b"1,2".to_vec(),
    };
    let error = endpoint.invoke(&invocation).await.unwrap_err();
    assert!(error.is_retryable(), "{error}");
    let attempts = Backoff::default().attempts as usize;
    assert_eq!(requests.load(Ordering::SeqCst), attempts);
}
