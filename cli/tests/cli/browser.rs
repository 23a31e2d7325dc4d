//! Headless Chromium, driven through chromedriver (WebDriver) with
//! fantoccini, for the tests and the benchmark of the HTML pages.
//!
//! Why WebDriver and fantoccini: it is a W3C standard that chromedriver
//! (Debian's `chromium-driver`) speaks, fantoccini is maintained and runs
//! on the hyper/tokio stack the `ui` server already builds, so the tests
//! cost little extra to compile. A missing browser or driver is a test
//! failure that says what to install, never a skip.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::Value;

/// One browser at a time: each is a few hundred MB and the machine has two
/// cores; the tests that need one take turns.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// Where screenshots go: `target/test-artifacts/`.
pub fn artifacts_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/test-artifacts");
    std::fs::create_dir_all(&dir).expect("create target/test-artifacts");
    dir
}

fn find_program(env: &str, candidates: &[&str]) -> Option<PathBuf> {
    if let Some(path) = std::env::var_os(env) {
        return Some(PathBuf::from(path));
    }
    candidates.iter().map(PathBuf::from).find(|p| p.exists())
}

/// A headless Chromium with its chromedriver, closed on drop.
pub struct Browser {
    runtime: tokio::runtime::Runtime,
    client: Option<Client>,
    driver: Child,
    _profile: tempfile::TempDir,
    pub downloads: tempfile::TempDir,
    _turn: MutexGuard<'static, ()>,
}

impl Browser {
    /// Starts chromedriver and a headless Chromium window of 1400×860.
    ///
    /// # Panics
    ///
    /// When Chromium or chromedriver is missing (with what to install), or
    /// does not start within 30 seconds.
    pub fn start() -> Browser {
        let turn = ONE_AT_A_TIME.lock().unwrap_or_else(PoisonError::into_inner);
        let chromium = find_program(
            "CHROMIUM",
            &["/usr/bin/chromium", "/usr/bin/chromium-browser"],
        )
        .unwrap_or_else(|| {
            panic!(
                "the HTML pages are tested in headless Chromium, and it is not installed: \
                 `apt-get install chromium chromium-driver` (or set CHROMIUM to its path)"
            )
        });
        let chromedriver =
            find_program("CHROMEDRIVER", &["/usr/bin/chromedriver"]).unwrap_or_else(|| {
                panic!(
                    "the HTML pages are tested through chromedriver, and it is not installed: \
                 `apt-get install chromium-driver` (or set CHROMEDRIVER to its path)"
                )
            });
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let driver = Command::new(&chromedriver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", chromedriver.display()));
        let profile = tempfile::tempdir().expect("profile dir");
        let downloads = tempfile::tempdir().expect("downloads dir");
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("tokio runtime");
        let mut browser = Browser {
            runtime,
            client: None,
            driver,
            _profile: profile,
            downloads,
            _turn: turn,
        };
        let capabilities = serde_json::json!({
            "goog:chromeOptions": {
                "binary": chromium,
                "args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu",
                    "--disable-background-networking", "--disable-component-update",
                    "--disable-sync", "--no-first-run", "--disable-dev-shm-usage",
                    "--hide-scrollbars", "--window-size=1400,860",
                    format!("--user-data-dir={}", browser._profile.path().display()),
                ],
                "prefs": {
                    "download.default_directory": browser.downloads.path(),
                    "download.prompt_for_download": false,
                },
            }
        });
        let capabilities = match capabilities {
            Value::Object(map) => map,
            _ => unreachable!(),
        };
        let url = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(30);
        let client = loop {
            let connected = browser.runtime.block_on(
                ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
                    .capabilities(capabilities.clone())
                    .connect(&url),
            );
            match connected {
                Ok(client) => break client,
                Err(e) if Instant::now() > deadline => {
                    panic!("chromedriver on port {port} did not start Chromium within 30 s: {e}")
                }
                Err(_) => std::thread::sleep(Duration::from_millis(100)),
            }
        };
        browser.client = Some(client);
        browser
    }

    fn client(&self) -> &Client {
        self.client.as_ref().expect("a running browser")
    }

    /// Opens a URL (`file://…` or `http://…`) and waits for the page to load.
    pub fn goto(&self, url: &str) {
        self.runtime
            .block_on(self.client().goto(url))
            .unwrap_or_else(|e| panic!("open {url}: {e}"));
    }

    /// Opens a file.
    pub fn open_file(&self, path: &Path) {
        let path = path.canonicalize().expect("page path");
        self.goto(&format!("file://{}", path.display()));
    }

    /// Runs JavaScript in the page (as a function body: `return …`).
    pub fn eval(&self, script: &str) -> Value {
        self.runtime
            .block_on(self.client().execute(script, Vec::new()))
            .unwrap_or_else(|e| panic!("script failed: {e}\n{script}"))
    }

    /// Runs JavaScript with arguments (`arguments[0]`, …).
    pub fn eval_with(&self, script: &str, args: Vec<Value>) -> Value {
        self.runtime
            .block_on(self.client().execute(script, args))
            .unwrap_or_else(|e| panic!("script failed: {e}\n{script}"))
    }

    /// Waits until `condition` (a JavaScript expression) is true; false when
    /// `timeout` passes first.
    pub fn wait_for(&self, condition: &str, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let script = format!("return !!({condition});");
        loop {
            if self.eval(&script) == Value::Bool(true) {
                return true;
            }
            if Instant::now() > deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Types into the element `css` as a user would (key events included).
    pub fn type_into(&self, css: &str, text: &str) {
        self.runtime
            .block_on(async {
                let element = self.client().find(Locator::Css(css)).await?;
                element.send_keys(text).await
            })
            .unwrap_or_else(|e| panic!("type into {css}: {e}"));
    }

    /// Clicks the element `css` as a user would.
    pub fn click(&self, css: &str) {
        self.runtime
            .block_on(async {
                let element = self.client().find(Locator::Css(css)).await?;
                element.click().await
            })
            .unwrap_or_else(|e| panic!("click {css}: {e}"));
    }

    /// Saves a screenshot of the window as `target/test-artifacts/<name>`.
    pub fn screenshot(&self, name: &str) -> PathBuf {
        let png = self
            .runtime
            .block_on(self.client().screenshot())
            .expect("screenshot");
        let path = artifacts_dir().join(name);
        std::fs::write(&path, png).expect("write screenshot");
        path
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if let Some(client) = self.client.take() {
            let _ = self.runtime.block_on(async {
                tokio::time::timeout(Duration::from_secs(10), client.close()).await
            });
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}
