//! A real headless Chromium driven through chromedriver (Debian's `chromium` and
//! `chromium-driver`; `CHROMIUM` and `CHROMEDRIVER` name other binaries), with the waits and
//! screenshots the console test needs. Screenshots go to `<target>/console-screenshots/`.

#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::elements::Element;
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::json;

pub struct Browser {
    pub client: Client,
    /// chromedriver leads its own process group, so Chromium goes with it even on a panic.
    driver: Child,
    profile: tempfile::TempDir,
    shots: PathBuf,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `<target>/console-screenshots`, beside the test binaries' profile folder.
pub fn screenshot_dir() -> PathBuf {
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_mmp"));
    bin.parent()
        .and_then(|profile| profile.parent())
        .unwrap()
        .join("console-screenshots")
}

impl Browser {
    pub async fn start() -> Self {
        let chromedriver = std::env::var("CHROMEDRIVER").unwrap_or_else(|_| "chromedriver".into());
        let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
        let port = free_port();
        let driver = Command::new(&chromedriver)
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot start {chromedriver}: {e}; install Debian's chromium and chromium-driver (.ci/apt/console.txt)")
            });
        let profile = tempfile::tempdir().unwrap();
        // The flags a closed network and a root CI user need.
        let capabilities = json!({
            "goog:chromeOptions": {
                "binary": chromium,
                "args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--no-first-run", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync", "--window-size=1400,1000",
                    format!("--user-data-dir={}", profile.path().display()),
                ]
            }
        });
        let serde_json::Value::Object(capabilities) = capabilities else {
            unreachable!()
        };
        let url = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(30);
        let client = loop {
            match ClientBuilder::new(HttpConnector::new())
                .capabilities(capabilities.clone())
                .connect(&url)
                .await
            {
                Ok(client) => break client,
                Err(e) if Instant::now() > deadline => {
                    panic!("no browser session from {chromedriver} with {chromium}: {e}")
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
            }
        };
        let shots = screenshot_dir();
        std::fs::create_dir_all(&shots).unwrap();
        Self {
            client,
            driver,
            profile,
            shots,
        }
    }

    pub async fn goto(&self, url: &str) {
        self.client.goto(url).await.unwrap();
    }

    /// Saves a screenshot of the window as `<name>.png`.
    pub async fn shot(&self, name: &str) -> PathBuf {
        let png = self.client.screenshot().await.unwrap();
        let path = self.shots.join(format!("{name}.png"));
        std::fs::write(&path, png).unwrap();
        path
    }

    pub async fn find(&self, css: &str) -> Option<Element> {
        self.client.find(Locator::Css(css)).await.ok()
    }

    pub async fn count(&self, css: &str) -> usize {
        self.client
            .find_all(Locator::Css(css))
            .await
            .map(|v| v.len())
            .unwrap_or(0)
    }

    /// Waits until `css` matches an element whose text satisfies `ok`; returns that text. On
    /// timeout, saves `timeout.png` and fails with the last text seen.
    pub async fn wait_text(
        &self,
        css: &str,
        timeout: Duration,
        ok: impl Fn(&str) -> bool,
    ) -> String {
        let deadline = Instant::now() + timeout;
        let mut last = None;
        loop {
            if let Some(element) = self.find(css).await {
                if let Ok(text) = element.text().await {
                    if ok(&text) {
                        return text;
                    }
                    last = Some(text);
                }
            }
            if Instant::now() > deadline {
                let shot = self.shot("timeout").await;
                let banner = match self.find("#banner").await {
                    Some(b) => b.text().await.unwrap_or_default(),
                    None => String::new(),
                };
                panic!(
                    "{css}: nothing acceptable within {timeout:?}; last text {last:?}; banner {banner:?}; see {}",
                    shot.display()
                );
            }
            tokio::time::sleep(Duration::from_millis(150)).await;
        }
    }

    /// Clicks `css` once it is there. Pages redraw what changed, so an element found may be
    /// replaced before the click lands: then it is found again.
    pub async fn click(&self, css: &str) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(element) = self.find(css).await {
                if element.click().await.is_ok() {
                    return;
                }
            }
            if Instant::now() > deadline {
                let shot = self.shot("timeout").await;
                panic!("could not click {css}; see {}", shot.display());
            }
            tokio::time::sleep(Duration::from_millis(150)).await;
        }
    }

    /// The attribute `name` of `css` (found again if it is replaced while being read).
    pub async fn attr(&self, css: &str, name: &str) -> Option<String> {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(element) = self.find(css).await {
                if let Ok(value) = element.attr(name).await {
                    return value;
                }
            }
            assert!(Instant::now() < deadline, "no {css} to read {name} of");
            tokio::time::sleep(Duration::from_millis(150)).await;
        }
    }

    /// Text nodes of the page whose text is exactly `text` (surrounding space aside): a
    /// `null` passed to a DOM method where a node belongs shows up as the text "null".
    pub async fn text_nodes(&self, text: &str) -> usize {
        let n = self
            .client
            .execute(
                "const walk = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
                 let n = 0;
                 while (walk.nextNode()) if (walk.currentNode.nodeValue.trim() === arguments[0]) n++;
                 return n;",
                vec![json!(text)],
            )
            .await
            .unwrap();
        n.as_u64().unwrap() as usize
    }

    /// Replaces the value of the input or textarea `css` by typing `text`.
    pub async fn type_into(&self, css: &str, text: &str) {
        self.wait_text(css, Duration::from_secs(20), |_| true).await;
        let element = self.find(css).await.unwrap();
        element.clear().await.unwrap();
        element.send_keys(text).await.unwrap();
    }

    pub async fn close(self) {
        let _ = self.client.clone().close().await;
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let pgid = self.driver.id().to_string();
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{pgid}")])
            .status();
        let _ = self.driver.wait();
    }
}
