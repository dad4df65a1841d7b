//! Every endpoint and status code of the inference and multi-model contracts, against an
//! in-process server with fake models.

mod common;

use common::{expect_error, json, FakeSpec, TestServer};
use mmp_serve::ServeConfig;
use serde_json::json;

#[tokio::test]
async fn ping_answers_200() {
    let server = TestServer::start().await;
    let response = server.get("/ping").await;
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn load_describe_list_unload_a_model() {
    let server = TestServer::start().await;
    let dir = server.model_dir("m1", &FakeSpec::classifier(&["a", "b"]));
    let (status, body) = json(server.load("m1", &dir).await).await;
    assert_eq!(status, 200);
    // The fake classifier claims 100 bytes of the memory budget.
    let expected =
        json!({"modelName": "m1", "modelUrl": dir.to_str().unwrap(), "memoryBytes": 100});
    assert_eq!(body, expected);

    let (status, body) = json(server.get("/models/m1").await).await;
    assert_eq!((status, &body), (200, &expected));

    let (status, body) = json(server.get("/models").await).await;
    assert_eq!((status, body), (200, json!({"models": [expected.clone()]})));

    let (status, body) = json(server.delete("/models/m1").await).await;
    assert_eq!((status, body), (200, expected));

    let (status, body) = json(server.get("/models/m1").await).await;
    assert_eq!(status, 404);
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("\"m1\" is not loaded"),
        "{body}"
    );
    let (status, body) = json(server.get("/models").await).await;
    assert_eq!((status, body), (200, json!({"models": []})));
}

#[tokio::test]
async fn loading_a_loaded_name_is_409() {
    let server = TestServer::start().await;
    server.load_ok("m", &FakeSpec::classifier(&["a"])).await;
    let other = server.model_dir("other", &FakeSpec::regressor(&["a"]));
    expect_error(server.load("m", &other).await, 409, "already loaded").await;
    // The first model is still the one served.
    let response = server.invoke("m", "text/csv", "1").await;
    assert_eq!(response.text().await.unwrap(), "yes\n");
}

#[tokio::test]
async fn loading_a_folder_without_a_valid_model_is_400_with_the_reason() {
    let server = TestServer::start().await;
    let empty = server.dir.path().join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let (status, body) = json(server.load("m", &empty).await).await;
    assert_eq!(status, 400);
    let error = body["error"].as_str().unwrap();
    assert!(
        error.contains("cannot load model \"m\"") && error.contains("cannot read"),
        "{error}"
    );

    expect_error(
        server.load("m", &server.dir.path().join("absent")).await,
        400,
        "is not a folder",
    )
    .await;

    let broken = server.dir.path().join("broken");
    std::fs::create_dir_all(&broken).unwrap();
    std::fs::write(broken.join(common::fake::MODEL_FILE), "{not json").unwrap();
    expect_error(server.load("m", &broken).await, 400, "is not a fake model").await;

    // A failed load leaves the name free.
    server.load_ok("m", &FakeSpec::classifier(&["a"])).await;
}

#[tokio::test]
async fn malformed_load_requests_are_400() {
    let server = TestServer::start().await;
    for body in [
        r#"{"model_name": "m"}"#,
        "not json",
        r#"{"model_name": "", "url": "/x"}"#,
    ] {
        let response = server
            .client
            .post(server.url("/models"))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        let (status, body) = json(response).await;
        assert_eq!(status, 400, "{body}");
    }
}

#[tokio::test]
async fn the_memory_budget_gives_507_until_models_are_unloaded() {
    let config = ServeConfig {
        memory_budget_bytes: Some(1000),
        ..ServeConfig::default()
    };
    let server = TestServer::start_with(config, |_| {}).await;
    let big = FakeSpec {
        memory_bytes: 600,
        ..FakeSpec::classifier(&["a"])
    };
    server.load_ok("a", &big).await;
    let b_dir = server.model_dir("b", &big);
    let (status, body) = json(server.load("b", &b_dir).await).await;
    assert_eq!(status, 507);
    let error = body["error"].as_str().unwrap();
    assert!(
        error.contains("needs 600 bytes") && error.contains("600 of the 1000"),
        "{error}"
    );
    // SageMaker's answer to 507: unload something, retry.
    let response = server.delete("/models/a").await;
    assert_eq!(response.status(), 200);
    assert_eq!(server.load("b", &b_dir).await.status(), 200);

    let exact = FakeSpec {
        memory_bytes: 400,
        ..FakeSpec::classifier(&["a"])
    };
    server.load_ok("c", &exact).await;
    let d_dir = server.model_dir("d", &exact);
    expect_error(server.load("d", &d_dir).await, 507, "budget is spent").await;
}

#[tokio::test]
async fn list_pages_with_next_page_token() {
    let config = ServeConfig {
        list_page_size: 2,
        ..ServeConfig::default()
    };
    let server = TestServer::start_with(config, |_| {}).await;
    let names = ["e", "a", "d", "b", "c"];
    for name in names {
        server.load_ok(name, &FakeSpec::classifier(&["x"])).await;
    }
    let mut seen = Vec::new();
    let mut token: Option<String> = None;
    let mut pages = 0;
    loop {
        let mut request = server.client.get(server.url("/models"));
        if let Some(token) = &token {
            request = request.query(&[("next_page_token", token)]);
        }
        let (status, body) = json(request.send().await.unwrap()).await;
        assert_eq!(status, 200);
        pages += 1;
        for model in body["models"].as_array().unwrap() {
            seen.push(model["modelName"].as_str().unwrap().to_owned());
            assert!(model["modelUrl"]
                .as_str()
                .unwrap()
                .ends_with(model["modelName"].as_str().unwrap()));
        }
        match body.get("nextPageToken") {
            Some(next) => token = Some(next.as_str().unwrap().to_owned()),
            None => break,
        }
    }
    assert_eq!(seen, ["a", "b", "c", "d", "e"]);
    assert_eq!(pages, 3);

    let response = server.get("/models?next_page_token=nothex").await;
    assert_eq!(json(response).await.0, 400);
}

#[tokio::test]
async fn deleting_or_invoking_an_unknown_model_is_404() {
    let server = TestServer::start().await;
    let (status, body) = json(server.delete("/models/nope").await).await;
    assert_eq!(status, 404);
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("\"nope\" is not loaded"),
        "{body}"
    );
    let (status, _) = json(server.invoke("nope", "text/csv", "1").await).await;
    assert_eq!(status, 404);

    server.load_ok("m", &FakeSpec::classifier(&["a"])).await;
    assert_eq!(server.delete("/models/m").await.status(), 200);
    let (status, _) = json(server.invoke("m", "text/csv", "1").await).await;
    assert_eq!(status, 404, "an unloaded model is no longer served");
    let (status, _) = json(server.delete("/models/m").await).await;
    assert_eq!(status, 404, "a second unload is 404");
}

#[tokio::test]
async fn csv_in_csv_out_one_prediction_per_line() {
    let server = TestServer::start().await;
    server
        .load_ok("c", &FakeSpec::classifier(&["a", "b"]))
        .await;
    server.load_ok("r", &FakeSpec::regressor(&["a", "b"])).await;

    let response = server.invoke("c", "text/csv", "1,2\n-5,1\n,3\n").await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "text/csv");
    assert_eq!(response.text().await.unwrap(), "yes\nno\nyes\n");

    let response = server
        .invoke("r", "text/csv; charset=utf-8", "1.5,2\n-5,1")
        .await;
    assert_eq!(response.text().await.unwrap(), "3.5\n-4\n");
}

#[tokio::test]
async fn accept_json_gives_labels_with_probabilities_or_values() {
    let server = TestServer::start().await;
    server
        .load_ok("c", &FakeSpec::classifier(&["a", "b"]))
        .await;
    server.load_ok("r", &FakeSpec::regressor(&["a", "b"])).await;

    let response = server
        .post(
            "/models/c/invoke",
            "text/csv",
            Some("application/json"),
            "0,0\n3,-10",
        )
        .await;
    let (status, body) = json(response).await;
    assert_eq!(status, 200);
    let predictions = body["predictions"].as_array().unwrap();
    assert_eq!(predictions.len(), 2);
    assert_eq!(predictions[0]["label"], "no");
    assert_eq!(
        predictions[0]["probabilities"],
        json!({"no": 0.5, "yes": 0.5})
    );
    assert_eq!(predictions[1]["label"], "no");
    let p_yes = predictions[1]["probabilities"]["yes"].as_f64().unwrap();
    assert!((p_yes - 1.0 / (1.0 + 7f64.exp())).abs() < 1e-12, "{p_yes}");

    // JSON in, no Accept: JSON out.
    let (status, body) = json(
        server
            .invoke("r", "application/json", "[[1, 2], [3, 4]]")
            .await,
    )
    .await;
    assert_eq!(
        (status, body),
        (
            200,
            json!({"predictions": [{"value": 3.0}, {"value": 7.0}]})
        )
    );
}

#[tokio::test]
async fn json_records_are_matched_by_column_name() {
    let server = TestServer::start().await;
    server
        .load_ok("c", &FakeSpec::classifier(&["a", "b"]))
        .await;
    let response = server
        .post(
            "/models/c/invoke",
            "application/json",
            Some("text/csv"),
            r#"[{"b": -10, "a": 1}, {"a": 5, "b": null}]"#,
        )
        .await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.text().await.unwrap(), "no\nyes\n");

    let (status, body) = json(
        server
            .invoke("c", "application/json", r#"[{"a": 1}]"#)
            .await,
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(body["column"], "b");
}

#[tokio::test]
async fn bad_payloads_are_400_naming_row_and_column() {
    let server = TestServer::start().await;
    server
        .load_ok("c", &FakeSpec::classifier(&["a", "b"]))
        .await;

    let (status, body) = json(server.invoke("c", "text/csv", "1,2\n3,oops\n").await).await;
    assert_eq!(status, 400);
    assert_eq!(
        (body["row"].clone(), body["column"].clone()),
        (json!(1), json!("b"))
    );
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .starts_with("row 1, column b:"),
        "{body}"
    );

    let (status, body) = json(server.invoke("c", "text/csv", "1,2,3\n").await).await;
    assert_eq!(status, 400);
    assert_eq!(body["row"], 0);
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("expected 2 values"),
        "{body}"
    );

    let (status, body) = json(server.invoke("c", "text/csv", "1,2\n3\n").await).await;
    assert_eq!((status, body["row"].clone()), (400, json!(1)));

    let (status, body) = json(
        server
            .invoke("c", "application/json", "[[1, 2], [3, [4]]]")
            .await,
    )
    .await;
    assert_eq!(
        (status, body["row"].clone(), body["column"].clone()),
        (400, json!(1), json!("1"))
    );

    expect_error(
        server.invoke("c", "application/json", "{\"x\": ").await,
        400,
        "invalid JSON",
    )
    .await;

    expect_error(server.invoke("c", "text/csv", "").await, 400, "no rows").await;
}

#[tokio::test]
async fn unsupported_media_types_are_415_and_406() {
    let server = TestServer::start().await;
    server.load_ok("c", &FakeSpec::classifier(&["a"])).await;
    expect_error(
        server.invoke("c", "application/x-npy", "1").await,
        415,
        "application/x-npy",
    )
    .await;

    let response = server
        .post("/models/c/invoke", "text/csv", Some("image/png"), "1")
        .await;
    expect_error(response, 406, "image/png").await;
}

#[tokio::test]
async fn requests_over_the_size_limit_are_413() {
    let config = ServeConfig {
        max_request_bytes: 64,
        ..ServeConfig::default()
    };
    let server = TestServer::start_with(config, |_| {}).await;
    server.load_ok("c", &FakeSpec::classifier(&["a"])).await;
    let big = "1\n".repeat(100);
    expect_error(
        server.invoke("c", "text/csv", &big).await,
        413,
        "MMP_MAX_REQUEST_BYTES",
    )
    .await;
    // The server still answers requests under the limit.
    let response = server.invoke("c", "text/csv", "1\n").await;
    assert_eq!(response.text().await.unwrap(), "yes\n");
}

#[tokio::test]
async fn a_panicking_model_is_a_500_and_the_server_keeps_serving() {
    let server = TestServer::start().await;
    let panicky = FakeSpec {
        panics: true,
        ..FakeSpec::classifier(&["a"])
    };
    server.load_ok("bad", &panicky).await;
    server.load_ok("good", &FakeSpec::classifier(&["a"])).await;
    for _ in 0..3 {
        expect_error(server.invoke("bad", "text/csv", "1").await, 500, "panicked").await;
    }
    let response = server.invoke("good", "text/csv", "1").await;
    assert_eq!(response.text().await.unwrap(), "yes\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn big_batches_are_predicted_in_full() {
    let server = TestServer::start().await;
    server.load_ok("r", &FakeSpec::regressor(&["a", "b"])).await;
    let body: String = (0..5000).map(|i| format!("{i},1\n")).collect();
    let response = server.invoke("r", "text/csv", &body).await;
    assert_eq!(response.status(), 200);
    let lines: Vec<String> = response
        .text()
        .await
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    assert_eq!(lines.len(), 5000);
    assert_eq!(lines[4999], "5000");
}

#[tokio::test]
async fn unknown_routes_and_methods_get_json_errors() {
    let server = TestServer::start().await;
    expect_error(server.get("/nothing").await, 404, "GET /nothing").await;
    let (status, _) = json(
        server
            .client
            .put(server.url("/models"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 405);
}

#[tokio::test]
async fn invocations_serve_the_single_model_under_the_ml_root() {
    let server = TestServer::start_with(ServeConfig::default(), |root| {
        FakeSpec::regressor(&["a", "b"]).write_to(&root.join("model"));
    })
    .await;
    let response = server.post("/invocations", "text/csv", None, "1,2\n").await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.text().await.unwrap(), "3\n");
}

#[tokio::test]
async fn invocations_without_a_single_model_are_404() {
    let server = TestServer::start().await;
    let response = server.post("/invocations", "text/csv", None, "1,2\n").await;
    expect_error(response, 404, "multi-model mode").await;
}

#[tokio::test]
async fn an_invalid_single_model_stops_the_start() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("model")).unwrap();
    std::fs::write(dir.path().join("model/other.txt"), "x").unwrap();
    let config = ServeConfig {
        ml_root: dir.path().to_path_buf(),
        ..ServeConfig::default()
    };
    let err = mmp_serve::build_state(std::sync::Arc::new(common::FakeLoader), &config)
        .await
        .err()
        .unwrap();
    assert!(err.to_string().contains("single-model mode"), "{err}");
}

/// A small deterministic generator (xorshift), so a failure replays exactly.
struct Noise(u64);

impl Noise {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// Bytes drawn mostly from what CSV and JSON parsers care about.
    fn payload(&mut self) -> Vec<u8> {
        const PIECES: &[&[u8]] = &[
            b",",
            b"\"",
            b"\n",
            b"\r\n",
            b"[",
            b"]",
            b"{",
            b"}",
            b":",
            b"1",
            b"-2.5e3",
            b"nan",
            b"null",
            b"true",
            b"\"a\"",
            b" ",
            b"\xff",
            b"\xc3\xa9",
            b"1e999",
            b"\\",
        ];
        let len = (self.next() % 64) as usize;
        (0..len)
            .flat_map(|_| PIECES[(self.next() % PIECES.len() as u64) as usize].to_vec())
            .collect()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn arbitrary_payloads_get_an_answer_never_a_crash() {
    let server = TestServer::start().await;
    server
        .load_ok("c", &FakeSpec::classifier(&["a", "b"]))
        .await;
    let mut noise = Noise(0x9E37_79B9_7F4A_7C15);
    let deep = format!("{}1{}", "[".repeat(10_000), "]".repeat(10_000));
    let mut payloads: Vec<Vec<u8>> = (0..400).map(|_| noise.payload()).collect();
    // Once as CSV, once as JSON (even indexes are CSV).
    payloads.push(deep.clone().into_bytes());
    payloads.push(deep.into_bytes());
    for (i, body) in payloads.into_iter().enumerate() {
        let content_type = if i % 2 == 0 {
            "text/csv"
        } else {
            "application/json"
        };
        let response = server
            .client
            .post(server.url("/models/c/invoke"))
            .header("content-type", content_type)
            .body(body.clone())
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        assert!(
            status == 200 || status == 400,
            "{content_type} {:?} answered {status}",
            String::from_utf8_lossy(&body)
        );
    }
    let response = server.invoke("c", "text/csv", "1,2").await;
    assert_eq!(response.text().await.unwrap(), "yes\n", "still serving");
}

#[tokio::test]
async fn non_finite_cells_are_400_naming_row_and_column() {
    let server = TestServer::start().await;
    server
        .load_ok("c", &FakeSpec::classifier(&["a", "b"]))
        .await;
    for (content_type, body, column) in [
        ("text/csv", "1,2\n3,inf\n", "1"),
        ("text/csv", "1,2\n3,-inf\n", "1"),
        ("text/csv", "1,2\n3,1e400\n", "1"),
        ("text/csv", "1,2\n3,-Infinity\n", "1"),
        ("application/json", "[[1, 2], [3, \"inf\"]]", "1"),
        ("application/json", "[[1, 2], [3, \"1e400\"]]", "1"),
        ("application/json", "[[1, 2], [3, 1e400]]", "1"),
        ("application/json", "[[1, 2], [3, -1e400]]", "1"),
        (
            "application/json",
            "[{\"a\": 1, \"b\": 2}, {\"a\": 3, \"b\": 1e400}]",
            "b",
        ),
    ] {
        let (status, answer) = json(server.invoke("c", content_type, body).await).await;
        assert_eq!(
            (status, answer["row"].clone(), answer["column"].clone()),
            (400, json!(1), json!(column)),
            "{content_type} {body}: {answer}"
        );
        assert!(
            answer["error"].as_str().unwrap().contains("finite"),
            "{body}: {answer}"
        );
    }
}
