//! The local Function URL's answers that do not come from the invoker handler.

#![allow(clippy::unwrap_used)]

mod harness;

use harness::World;
use serde_json::Value;

/// Posts `size` bytes and returns the status, the content type and the body.
async fn post(url: &str, size: usize) -> (u16, String, String) {
    let response = reqwest::Client::new()
        .post(url)
        .header("content-type", "application/json")
        .body(vec![b' '; size])
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    (status, content_type, response.text().await.unwrap())
}

#[tokio::test]
async fn oversized_bodies_are_413_with_a_json_error_like_the_invokers() {
    let world = World::new();
    let up = world.up();
    // Over the invoker's limit (5 MiB) but under the Function URL's (6 MiB): the invoker answers.
    let under = post(&up.url, 5 * 1024 * 1024 + 1).await;
    // Over the Function URL's own 6 MiB: refused before the invoker sees it.
    let over = post(&up.url, 7 * 1024 * 1024).await;
    for (status, content_type, body) in [under, over] {
        assert_eq!(status, 413, "{body}");
        assert_eq!(content_type, "application/json", "{body}");
        let json: Value =
            serde_json::from_str(&body).unwrap_or_else(|_| panic!("not JSON: {body}"));
        let object = json.as_object().unwrap();
        assert_eq!(object.keys().collect::<Vec<_>>(), ["error"], "{body}");
        assert!(
            object["error"].as_str().unwrap().contains("limit"),
            "{body}"
        );
    }
}

/// Host and port of a server URL like `http://127.0.0.1:1234/`.
fn address(url: &str) -> String {
    url.trim_start_matches("http://")
        .trim_end_matches('/')
        .to_string()
}

/// Sends `head` at once, then trickles `trickle` one byte every 200 ms (as a slow-loris client
/// does), and returns what the server answered once it closed the connection, or `None` if
/// it was still waiting after the whole trickle.
fn trickle(address: &str, head: &str, trickle: &[u8]) -> Option<String> {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(address).unwrap();
    stream
        .set_read_timeout(Some(std::time::Duration::from_millis(200)))
        .unwrap();
    stream.write_all(head.as_bytes()).unwrap();
    let mut answer = Vec::new();
    for byte in trickle {
        let mut buf = [0u8; 4096];
        match stream.read(&mut buf) {
            Ok(0) => return Some(String::from_utf8_lossy(&answer).into_owned()),
            Ok(n) => answer.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {}
            // Reset by the server: it closed the connection on us.
            Err(_) => return Some(String::from_utf8_lossy(&answer).into_owned()),
        }
        if stream.write_all(&[*byte]).is_err() {
            return Some(String::from_utf8_lossy(&answer).into_owned());
        }
    }
    None
}

#[test]
fn slow_clients_are_cut_off_by_the_function_url_and_the_console() {
    let world = World::new();
    let up = world.up_with_env(&[
        ("MMP_HEADER_READ_TIMEOUT_SECONDS", "1"),
        ("MMP_BODY_READ_TIMEOUT_SECONDS", "1"),
    ]);
    // 100 bytes at 5 a second take 20 s: far past both 1 s timeouts.
    let slow = vec![b' '; 100];
    for server in [&up.url, &up.console] {
        let address = address(server);
        // Headers a byte at a time: hyper closes the connection.
        let header_trickle = trickle(&address, "POST / HTTP/1.1\r\nHost: localhost\r\n", &slow);
        assert!(
            header_trickle.is_some(),
            "{server} still waited on headers sent a byte at a time"
        );
    }
    // A body a byte at a time: the Function URL answers 408 in the invoker's JSON shape.
    let head = format!(
        "POST / HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        address(&up.url),
        slow.len()
    );
    let answer = trickle(&address(&up.url), &head, &slow)
        .unwrap_or_else(|| panic!("the Function URL still waited on a body sent a byte at a time"));
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    let body = answer.split("\r\n\r\n").nth(1).unwrap_or_default();
    let json: Value = serde_json::from_str(body).unwrap_or_else(|_| panic!("not JSON: {answer}"));
    assert!(
        json["error"].as_str().unwrap().contains("not received"),
        "{answer}"
    );
}
