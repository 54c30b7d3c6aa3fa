//! A headless Chromium driven over WebDriver, for the web console's and the API reference's tests.
//!
//! [`Browser::start`] runs Debian's `chromedriver` on an ephemeral loopback port (in its own process
//! group, so nothing outlives the test) and opens a session with JavaScript switched off, every
//! background service disabled and a dead proxy for anything that is not loopback: a page that
//! needs a script or a resource from elsewhere cannot work. [`Browser::start_with_javascript`] is
//! the same with JavaScript on (the API reference page is a script); [`Browser::console`] reads what
//! the page logged (CSP violations, failed loads, script errors). `cargo xtask test` installs the
//! `chromium` and `chromium-driver` packages when they are missing.

use fantoccini::wd::WebDriverCompatibleCommand;
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use std::net::{TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Where chromedriver is looked for, after `$CHROMEDRIVER`.
const DRIVERS: [&str; 2] = ["/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver"];
/// Where Chromium is looked for, after `$CHROMIUM`.
const BROWSERS: [&str; 2] = ["/usr/bin/chromium", "/usr/lib/chromium/chromium"];

/// A running chromedriver with one browser session.
pub struct Browser {
    /// The WebDriver session.
    pub client: Client,
    driver: Child,
    profile: PathBuf,
}

impl std::fmt::Debug for Browser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Browser").finish_non_exhaustive()
    }
}

fn find(variable: &str, candidates: &[&str]) -> Option<PathBuf> {
    std::env::var_os(variable)
        .map(PathBuf::from)
        .into_iter()
        .chain(candidates.iter().map(PathBuf::from))
        .find(|path| path.exists())
}

/// The folder screenshots go to: `target/screenshots/`.
#[must_use]
pub fn screenshot_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"),
        PathBuf::from,
    );
    target.join("screenshots")
}

/// One entry of the browser's console log.
#[derive(Debug, Clone)]
pub struct ConsoleEntry {
    /// `SEVERE`, `WARNING`, `INFO`, …
    pub level: String,
    /// What was logged, with its source.
    pub message: String,
}

/// ChromeDriver's command for the browser's console log (not part of W3C WebDriver).
#[derive(Debug)]
struct BrowserLog;

impl WebDriverCompatibleCommand for BrowserLog {
    fn endpoint(
        &self,
        base_url: &url::Url,
        session_id: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base_url.join(&format!(
            "session/{}/se/log",
            session_id.unwrap_or_default()
        ))
    }

    fn method_and_body(&self, _request_url: &url::Url) -> (reqwest::Method, Option<String>) {
        (reqwest::Method::POST, Some(r#"{"type":"browser"}"#.into()))
    }
}

impl Browser {
    /// Starts chromedriver and a headless Chromium session, JavaScript off.
    ///
    /// # Panics
    /// When chromedriver or Chromium is not installed (`cargo xtask test` installs them), or the
    /// session cannot be opened within 30 s.
    pub async fn start() -> Self {
        Self::start_session(false).await
    }

    /// [`Browser::start`] with JavaScript on.
    ///
    /// # Panics
    /// As [`Browser::start`].
    pub async fn start_with_javascript() -> Self {
        Self::start_session(true).await
    }

    async fn start_session(javascript: bool) -> Self {
        let driver_path = find("CHROMEDRIVER", &DRIVERS).expect(
            "chromedriver is not installed: run `cargo xtask test` (it installs Debian's chromium and \
             chromium-driver) or `apt-get install chromium chromium-driver`",
        );
        let chromium = find("CHROMIUM", &BROWSERS).expect("chromium is not installed");
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let driver = Command::new(driver_path)
            .arg(format!("--port={port}"))
            .arg("--allowed-ips=127.0.0.1")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .expect("start chromedriver");
        let deadline = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "chromedriver did not start");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let profile = std::env::temp_dir().join(format!("absync-chromium-{port}"));
        // 1 allows JavaScript, 2 blocks it.
        let javascript = if javascript { 1 } else { 2 };
        let capabilities = serde_json::json!({
            "goog:loggingPrefs": { "browser": "ALL" },
            "goog:chromeOptions": {
                "binary": chromium,
                "args": [
                    "--headless=new",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-dev-shm-usage",
                    "--disable-background-networking",
                    "--disable-component-update",
                    "--disable-default-apps",
                    "--disable-extensions",
                    "--disable-sync",
                    "--no-first-run",
                    "--no-default-browser-check",
                    "--hide-scrollbars",
                    "--proxy-server=http://127.0.0.1:9",
                    format!("--user-data-dir={}", profile.display()),
                ],
                "prefs": { "profile.managed_default_content_settings.javascript": javascript },
            }
        });
        let serde_json::Value::Object(capabilities) = capabilities else {
            unreachable!("a JSON object")
        };
        std::fs::create_dir_all(screenshot_dir()).expect("create target/screenshots");
        Self {
            client: loop {
                match ClientBuilder::new(HttpConnector::new())
                    .capabilities(capabilities.clone())
                    .connect(&format!("http://127.0.0.1:{port}"))
                    .await
                {
                    Ok(client) => break client,
                    Err(err) => {
                        assert!(Instant::now() < deadline, "no browser session: {err}");
                        tokio::time::sleep(Duration::from_millis(200)).await;
                    }
                }
            },
            driver,
            profile,
        }
    }

    /// Saves the window as `target/screenshots/<name>.png`.
    ///
    /// # Panics
    /// When the screenshot cannot be taken or written.
    pub async fn screenshot(&self, name: &str) -> PathBuf {
        let png = self.client.screenshot().await.expect("screenshot");
        let path = screenshot_dir().join(format!("{name}.png"));
        std::fs::write(&path, png).expect("write the screenshot");
        path
    }

    /// What the page logged to the console since the last call (Chromium's `browser` log): script
    /// errors, failed loads, CSP violations.
    ///
    /// # Panics
    /// When the log cannot be read.
    pub async fn console(&self) -> Vec<ConsoleEntry> {
        let log = self
            .client
            .issue_cmd(BrowserLog)
            .await
            .expect("the console log");
        log.as_array()
            .into_iter()
            .flatten()
            .map(|entry| ConsoleEntry {
                level: entry["level"].as_str().unwrap_or_default().to_owned(),
                message: entry["message"].as_str().unwrap_or_default().to_owned(),
            })
            .collect()
    }

    /// The first element matching `css`, waiting up to 10 s for it (a click's navigation may still be
    /// under way).
    ///
    /// # Panics
    /// When there is none by then.
    pub async fn element(&self, css: &str) -> fantoccini::elements::Element {
        self.client
            .wait()
            .at_most(Duration::from_secs(10))
            .for_element(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("{css}: {e}"))
    }

    /// The visible text of the first element matching `css`.
    ///
    /// # Panics
    /// When there is no such element within 10 s.
    pub async fn text(&self, css: &str) -> String {
        self.element(css).await.text().await.expect("text")
    }

    /// Clicks the first element matching `css`.
    ///
    /// # Panics
    /// When there is no such element within 10 s.
    pub async fn click(&self, css: &str) {
        self.element(css)
            .await
            .click()
            .await
            .unwrap_or_else(|e| panic!("click {css}: {e}"));
    }

    /// Types `text` into the first element matching `css`.
    ///
    /// # Panics
    /// When there is no such element within 10 s.
    pub async fn type_into(&self, css: &str, text: &str) {
        self.element(css).await.send_keys(text).await.expect("type");
    }

    /// The path of the current page.
    ///
    /// # Panics
    /// When the browser is gone.
    pub async fn path(&self) -> String {
        self.client
            .current_url()
            .await
            .expect("url")
            .path()
            .to_owned()
    }

    /// Waits until the current page's path is `path` (a click's navigation may still be under way).
    ///
    /// # Panics
    /// When it is not within 10 s.
    pub async fn wait_for_path(&self, path: &str) {
        crate::wait::eventually(
            &format!("the page at {path}"),
            Duration::from_secs(10),
            async || {
                let now = self.path().await;
                crate::wait::ready_when(now == path, now)
            },
        )
        .await;
    }

    /// Ends the session and stops chromedriver.
    pub async fn close(self) {
        let _ = self.client.clone().close().await;
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // The whole group: chromedriver and every Chromium process it started.
        if let Ok(pid) = i32::try_from(self.driver.id()) {
            let _ = nix::sys::signal::killpg(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
        let _ = self.driver.wait();
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}
