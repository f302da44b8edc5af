//! One headless Debian Chromium per profile, driven through its own `chromedriver`.
//!
//! Victim and attacker are separate browser instances with separate, fresh profiles, as two
//! people on two machines would be. Every helper that waits polls a page condition in a
//! bounded loop; nothing sleeps to let time pass.

use std::net::{SocketAddr, TcpListener};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::wd::{Capabilities, WebDriverCompatibleCommand};
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{json, Value};

use super::{Res, BANK_DOMAIN};

/// Debian's browser binary (package `chromium`; `/usr/bin/chromium` is a shell launcher for
/// it); the environment variable `CHROMIUM_BIN` overrides it.
const CHROMIUM: &str = "/usr/lib/chromium/chromium";
/// Debian's WebDriver server (package `chromium-driver`); `CHROMEDRIVER_BIN` overrides it.
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
/// How long one page condition may take before the step counts as failed.
pub const PAGE_TIMEOUT: Duration = Duration::from_secs(15);
/// The attacker's browser announces another browser, as a second machine would (its
/// connections also come from another address: see `proxy`).
const ATTACKER_USER_AGENT: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0";

/// Whose browser this is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// Alice, the bank's customer.
    Victim,
    /// Mallory.
    Attacker,
}

/// A cookie as the browser's store holds it (read through the DevTools protocol, so
/// `HttpOnly` cookies are included).
#[derive(Clone, Debug)]
pub struct StoredCookie {
    /// Cookie name.
    pub name: String,
    /// Cookie value.
    pub value: String,
    /// The `Domain` the browser recorded (a leading dot marks a domain cookie).
    pub domain: String,
    /// The `Path` the browser recorded.
    pub path: String,
}

/// A running Chromium with its own profile; both processes are killed on drop.
pub struct Browser {
    /// The WebDriver session.
    pub client: Client,
    /// Whose browser this is.
    pub role: Role,
    /// `None` once stopped and reaped, so its id is never signalled after it could be reused.
    driver: Option<Child>,
    _profile: tempfile::TempDir,
}

impl Browser {
    /// Starts `chromedriver` on a free loopback port and a fresh Chromium profile behind it,
    /// sending its traffic through the HTTP proxy at `proxy` if given.
    ///
    /// Fails with the install command when Debian's Chromium is not installed.
    pub async fn launch(role: Role, proxy: Option<SocketAddr>) -> Res<Browser> {
        // A port picked free can be taken before the driver binds it, and a driver under
        // load sometimes drops its first session request: try a fresh driver a few times.
        let mut last = None;
        for _ in 0..3 {
            match Self::launch_once(role, proxy).await {
                Ok(browser) => return Ok(browser),
                Err(e) if e.to_string().contains("not found") => return Err(e),
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(|| "chromedriver did not start".into()))
    }

    async fn launch_once(role: Role, proxy: Option<SocketAddr>) -> Res<Browser> {
        let (chromium, chromedriver) = (
            binary("CHROMIUM_BIN", CHROMIUM),
            binary("CHROMEDRIVER_BIN", CHROMEDRIVER),
        );
        require_installed(&[&chromium, &chromedriver])?;
        let profile = tempfile::Builder::new()
            .prefix("browser-test-profile")
            .tempdir()?;
        let port = free_port()?;
        let mut driver = Some(spawn_driver(&chromedriver, port)?);
        if let Err(e) = wait_for_port(port).await {
            kill_group(&mut driver);
            return Err(e);
        }
        let mut builder = ClientBuilder::new(HttpConnector::new());
        let args = chromium_args(profile.path(), role, proxy);
        builder.capabilities(capabilities(&chromium, args));
        let client = match builder.connect(&format!("http://127.0.0.1:{port}")).await {
            Ok(c) => c,
            Err(e) => {
                kill_group(&mut driver);
                return Err(format!("chromedriver could not start chromium: {e}").into());
            }
        };
        Ok(Browser {
            client,
            role,
            driver,
            _profile: profile,
        })
    }

    /// Ends the WebDriver session (chromedriver then quits Chromium) and stops the driver.
    pub async fn close(mut self) {
        // A failed close still ends in `Drop`, which kills the whole process group.
        let _ = self.client.clone().close().await;
        kill_group(&mut self.driver);
    }

    /// Navigates and waits for the document to load.
    pub async fn goto(&self, url: &str) -> Res<()> {
        self.client.goto(url).await?;
        Ok(())
    }

    /// The rendered text of the current page (`document.body.innerText`).
    pub async fn page_text(&self) -> Res<String> {
        let v = self
            .client
            .execute("return document.body ? document.body.innerText : ''", vec![])
            .await?;
        Ok(v.as_str().unwrap_or_default().to_owned())
    }

    /// Fills the named fields of the form matched by `form_css`, clicks its submit button and
    /// waits until the document it leads to (a new one, even at the same URL) has loaded.
    pub async fn submit_form(&self, form_css: &str, fields: &[(&str, &str)]) -> Res<()> {
        // A mark on the current document; a loaded document without it is the next page.
        self.client
            .execute("window.__beforeSubmit = true", vec![])
            .await?;
        let form = self.client.form(Locator::Css(form_css)).await?;
        for (name, value) in fields {
            form.set_by_name(name, value).await?;
        }
        // The form's own submit control, as a user would click it: an untyped <button> is a
        // submit button too (HTML), which fantoccini's `Form::submit` does not look for.
        let button = format!(
            "{form_css} button:not([type]), {form_css} button[type=submit], {form_css} input[type=submit]"
        );
        self.client.find(Locator::Css(&button)).await?.click().await?;
        let _ = form;
        let probe = "return window.__beforeSubmit !== true && document.readyState === 'complete'";
        let deadline = Instant::now() + PAGE_TIMEOUT;
        loop {
            // Errors are expected while the old document is being replaced.
            if let Ok(Value::Bool(true)) = self.client.execute(probe, vec![]).await {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(format!("submitting {form_css} did not load a new page in time").into());
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// Every cookie the browser would send to `url` (matching domain, path and scheme).
    pub async fn cookies_for(&self, url: &str) -> Res<Vec<StoredCookie>> {
        let v = self.cdp("Network.getCookies", json!({ "urls": [url] })).await?;
        let list = v
            .get("cookies")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        Ok(list
            .iter()
            .map(|c| StoredCookie {
                name: str_field(c, "name"),
                value: str_field(c, "value"),
                domain: str_field(c, "domain"),
                path: str_field(c, "path"),
            })
            .collect())
    }

    /// Plants a cookie for `url`'s host into this profile, with `Secure; HttpOnly; Path=/`
    /// and no `Domain` (host-only, so `__Host-` names are accepted too).
    ///
    /// This stands for the strongest planting an attacker can do (script on the site, a
    /// sibling subdomain, a shared computer): the browser's own store is written directly.
    pub async fn plant_cookie(&self, url: &str, name: &str, value: &str) -> Res<()> {
        let params = json!({
            "url": url, "name": name, "value": value, "path": "/",
            "secure": true, "httpOnly": true, "sameSite": "Lax",
        });
        let v = self.cdp("Network.setCookie", params).await?;
        // Older protocol versions answer {"success": false} instead of an error.
        if v.get("success").and_then(Value::as_bool) == Some(false) {
            return Err(format!("the browser refused the planted cookie {name}").into());
        }
        Ok(())
    }

    /// Empties this profile's cookie store.
    pub async fn clear_cookies(&self) -> Res<()> {
        self.cdp("Network.clearBrowserCookies", json!({})).await?;
        Ok(())
    }

    /// Sends one DevTools-protocol command through chromedriver's `goog/cdp/execute`.
    async fn cdp(&self, cmd: &'static str, params: Value) -> Res<Value> {
        Ok(self.client.issue_cmd(CdpCommand { cmd, params }).await?)
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        kill_group(&mut self.driver);
    }
}

/// The Chromium command line for one profile.
fn chromium_args(profile: &Path, role: Role, proxy: Option<SocketAddr>) -> Vec<String> {
    let mut args: Vec<String> = [
        "--headless",
        "--no-sandbox", // tests run as root in CI, where the setuid sandbox is unavailable
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-quic",
        "--no-first-run",
        "--no-default-browser-check",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-extensions",
        // The bank's certificate is self-signed. Chromium still treats the page as an https
        // origin: `Secure` cookies need it and `__Host-`/`__Secure-` prefix rules apply exactly
        // as with a trusted certificate, which is what the scenarios measure.
        "--ignore-certificate-errors",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    args.push(format!("--user-data-dir={}", profile.display()));
    args.push(format!(
        "--host-resolver-rules=MAP *.{BANK_DOMAIN} 127.0.0.1, MAP {BANK_DOMAIN} 127.0.0.1"
    ));
    if role == Role::Attacker {
        args.push(format!("--user-agent={ATTACKER_USER_AGENT}"));
    }
    if let Some(proxy) = proxy {
        args.push(format!("--proxy-server=http://{proxy}"));
    }
    args
}

fn capabilities(chromium: &str, args: Vec<String>) -> Capabilities {
    let caps = json!({
        "browserName": "chrome",
        "acceptInsecureCerts": true,
        "pageLoadStrategy": "normal",
        "goog:chromeOptions": { "binary": chromium, "args": args },
    });
    match caps {
        Value::Object(map) => map,
        _ => Capabilities::new(),
    }
}

fn binary(var: &str, default: &str) -> String {
    std::env::var(var).unwrap_or_else(|_| default.to_owned())
}

/// Fails the test, never skips it, when the browser is missing.
fn require_installed(bins: &[&str]) -> Res<()> {
    for bin in bins {
        if !Path::new(bin).exists() {
            return Err(format!(
                "{bin} not found: the real-browser tests need Debian's Chromium; \
                 run `apt-get install -y chromium chromium-driver` (CI installs it)"
            )
            .into());
        }
    }
    Ok(())
}

fn spawn_driver(chromedriver: &str, port: u16) -> Res<Child> {
    use std::os::unix::process::CommandExt;
    let child = Command::new(chromedriver)
        .arg(format!("--port={port}"))
        .arg("--allowed-ips=127.0.0.1")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        // Own process group: Chromium and its helpers inherit it, so one kill ends them all.
        .process_group(0)
        .spawn()
        .map_err(|e| format!("cannot start {chromedriver}: {e}"))?;
    Ok(child)
}

/// Kills the driver's process group (driver, Chromium and its helpers) and reaps the driver;
/// the group id is the driver's pid, which cannot be reused before the driver is reaped.
fn kill_group(driver: &mut Option<Child>) {
    let Some(mut child) = driver.take() else { return };
    let group = format!("-{}", child.id());
    let _ = Command::new("kill")
        .args(["-KILL", "--", &group])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    let _ = child.kill();
    let _ = child.wait();
}

/// A port that was free a moment ago (the listener is dropped before the driver binds it).
pub fn free_port() -> Res<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

async fn wait_for_port(port: u16) -> Res<()> {
    let deadline = Instant::now() + PAGE_TIMEOUT;
    while tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_err() {
        if Instant::now() >= deadline {
            return Err(format!("chromedriver did not listen on port {port}").into());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Ok(())
}

fn str_field(v: &Value, key: &str) -> String {
    v.get(key).and_then(Value::as_str).unwrap_or_default().to_owned()
}

/// `POST /session/{id}/goog/cdp/execute`: chromedriver's pass-through to the DevTools protocol.
#[derive(Debug)]
struct CdpCommand {
    cmd: &'static str,
    params: Value,
}

impl WebDriverCompatibleCommand for CdpCommand {
    fn endpoint(&self, base: &url::Url, session: Option<&str>) -> Result<url::Url, url::ParseError> {
        base.join(&format!(
            "session/{}/goog/cdp/execute",
            session.unwrap_or_default()
        ))
    }

    fn method_and_body(&self, _url: &url::Url) -> (axum::http::Method, Option<String>) {
        let body = json!({ "cmd": self.cmd, "params": self.params });
        (axum::http::Method::POST, Some(body.to_string()))
    }
}
