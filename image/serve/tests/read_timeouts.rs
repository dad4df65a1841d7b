//! Slow-loris clients: one that sends its headers, or its body, a byte at a time is cut off
//! once the header or body read timeout passes, instead of holding its connection forever.

#![allow(clippy::unwrap_used)] // test harness: failing loudly is the point

mod common;

use std::time::Duration;

use common::TestServer;
use mmp_serve::http::Timeouts;
use mmp_serve::ServeConfig;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Bytes the slow client has left to send after its opening: sent one every `PACE`, they
/// take far longer than the timeouts below.
const TRICKLE: usize = 60;
const PACE: Duration = Duration::from_millis(250);

async fn server() -> TestServer {
    TestServer::start_with(
        ServeConfig {
            timeouts: Timeouts {
                header_read: Duration::from_secs(2),
                body_read: Duration::from_secs(2),
            },
            ..ServeConfig::default()
        },
        |_| {},
    )
    .await
}

/// Sends `opening`, then up to [`TRICKLE`] bytes one at a time; returns what the server sent
/// back once it answered or closed the connection, or `None` when the client sent everything
/// without the server doing either.
async fn trickle(address: &str, opening: &str) -> Option<String> {
    let mut stream = TcpStream::connect(address).await.unwrap();
    stream.write_all(opening.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    for _ in 0..TRICKLE {
        if stream.write_all(b"a").await.is_err() {
            return Some(String::from_utf8_lossy(&answer).into_owned());
        }
        let mut buffer = [0u8; 4096];
        tokio::select! {
            read = stream.read(&mut buffer) => {
                if let Ok(n) = read {
                    answer.extend_from_slice(&buffer[..n]);
                    // Read the rest of the answer until the server closes.
                    let _ = tokio::time::timeout(
                        Duration::from_secs(5),
                        stream.read_to_end(&mut answer),
                    )
                    .await;
                }
                return Some(String::from_utf8_lossy(&answer).into_owned());
            }
            () = tokio::time::sleep(PACE) => {}
        }
    }
    None
}

#[tokio::test]
async fn a_client_trickling_its_headers_is_cut_off() {
    let server = server().await;
    let address = server.base.trim_start_matches("http://").to_owned();
    let answer = trickle(&address, "GET /ping HTTP/1.1\r\nHost: x\r\nX-Slow: ").await;
    let answer = answer.expect("the server was still waiting for the headers");
    assert!(
        !answer.contains("200 OK"),
        "the headers never ended, so nothing was served: {answer}"
    );
}

#[tokio::test]
async fn a_client_trickling_its_body_gets_a_408() {
    let server = server().await;
    let address = server.base.trim_start_matches("http://").to_owned();
    let answer = trickle(
        &address,
        "POST /models HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
         Content-Length: 1000\r\n\r\n",
    )
    .await;
    let answer = answer.expect("the server was still waiting for the body");
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(
        answer.contains("MMP_BODY_READ_TIMEOUT_SECONDS"),
        "the JSON error names the setting: {answer}"
    );
}

#[tokio::test]
async fn a_client_sending_at_full_speed_is_served() {
    let server = server().await;
    let response = server.get("/ping").await;
    assert_eq!(response.status(), 200);
    // A body that arrives in time is read as usual: an unknown model, not a timeout.
    let response = server.invoke("any", "text/csv", "1\n").await;
    assert_eq!(response.status(), 404);
}
