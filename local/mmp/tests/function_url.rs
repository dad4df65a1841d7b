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
