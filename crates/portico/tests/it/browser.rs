//! `RealBrowser`: headless Chromium driven through its own chromedriver, for
//! the stories only a real browser can tell (forms that post, redirects that
//! land, pages that read right on a desk and on a phone).
//!
//! Run a story with [`run_story`]: when it fails, a screenshot and the HTML of
//! every browser it opened land in `target/browser-failures/`, and every
//! chromedriver and Chromium is ended, pass or fail.
//!
//! Needs `/usr/bin/chromium` and `/usr/bin/chromedriver` (Debian's
//! `chromium` and `chromium-driver`).

use fantoccini::elements::Element;
use fantoccini::{Client, ClientBuilder, Locator};
use futures_util::FutureExt;
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::json;
use std::any::Any;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use tempfile::TempDir;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::time::{Instant, sleep, timeout};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// What Chromium needs to run here: headless, as root in a container, with
/// no network but loopback and nothing of its own to fetch.
const CHROMIUM_ARGS: &[&str] = &[
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    // A microphone that plays a tone and is allowed without asking, for
    // voice notes recorded in the page.
    "--use-fake-device-for-media-stream",
    "--use-fake-ui-for-media-stream",
];

/// The viewport of a desktop browser, in CSS pixels.
pub const DESKTOP: (u32, u32) = (1280, 900);
/// The viewport of a phone (an iPhone 12 to 15), in CSS pixels.
pub const PHONE: (u32, u32) = (390, 844);

/// How long chromedriver and Chromium may take to start.
const START: Duration = Duration::from_secs(20);
/// How long a page may take to show what a step waits for.
const WAIT: Duration = Duration::from_secs(5);
/// How long a whole story may take: a guard against a hang, generous for a
/// busy two-core machine where every page also runs axe-core twice.
const STORY: Duration = Duration::from_secs(180);
/// How often a wait looks again.
const POLL: Duration = Duration::from_millis(25);

/// axe-core's script, as `scripts/test` installs it (`npm install --prefix
/// target/axe axe-core@4`), or from `PORTICO_AXE_JS`.
fn axe_source() -> &'static str {
    static AXE: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    AXE.get_or_init(|| {
        let path = std::env::var_os("PORTICO_AXE_JS").map_or_else(
            || workspace_root().join("target/axe/node_modules/axe-core/axe.min.js"),
            PathBuf::from,
        );
        std::fs::read_to_string(&path).unwrap_or_else(|e| {
            panic!(
                "read axe-core at {}: {e}. The browser stories check every page with axe-core: \
                 install it with `npm install --prefix target/axe --no-save axe-core@4` \
                 (scripts/test does), or name the file in PORTICO_AXE_JS.",
                path.display()
            )
        })
    })
}

/// Runs axe-core on the page (after its script, which sets `axe`) and
/// measures its width: serious and critical violations, and what sticks
/// out when the page is wider than the viewport. Marks the page audited.
const AUDIT_SCRIPT: &str = r#"
const done = arguments[arguments.length - 1];
axe.run(document, {
  runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice'] },
  resultTypes: ['violations'],
}).then((result) => {
  const bad = result.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.impact} ${v.id}: ${v.help}\n` + v.nodes.slice(0, 5)
      .map((n) => `    ${n.target.join(' ')} — ${(n.failureSummary || '').replace(/\s+/g, ' ')}`).join('\n'));
  const width = window.innerWidth;
  const scroll = document.documentElement.scrollWidth;
  const wide = scroll > width
    ? [`the page is ${scroll}px wide in a ${width}px viewport; sticking out:`].concat(
        [...document.querySelectorAll('body *')]
          .filter((e) => e.getBoundingClientRect().right > width + 1
            && ![...e.children].some((c) => c.getBoundingClientRect().right > width + 1))
          .slice(0, 8)
          .map((e) => `    <${e.tagName.toLowerCase()} class="${e.className}"> ${(e.textContent || '').trim().slice(0, 40)}`))
    : [];
  window.__porticoAudited = location.href;
  done({ path: location.pathname + location.search, bad: bad, wide: wide });
}).catch((e) => done({ error: String(e) }));
"#;

/// The workspace's root folder.
fn workspace_root() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest
        .ancestors()
        .nth(2)
        .unwrap_or(manifest)
        .to_path_buf()
}

/// A chromedriver of one browser's own, on a port it chose itself.
///
/// Chromium runs in chromedriver's process group; dropping the driver kills
/// the whole group, so no Chromium outlives its test even when the session
/// could not be closed.
struct Driver {
    url: String,
    pgid: u32,
    child: Child,
    profile: TempDir,
}

impl Driver {
    /// Starts a chromedriver, trying again when one stops before it is ready
    /// (on a busy two-core machine, one now and then exits at start); the
    /// panic after the last try gives what each one said.
    async fn start() -> Self {
        const TRIES: usize = 3;
        let mut failures = Vec::new();
        for _ in 0..TRIES {
            match Self::try_start().await {
                Ok(driver) => return driver,
                Err(why) => failures.push(why),
            }
        }
        panic!(
            "chromedriver did not start in {TRIES} tries:\n  {}",
            failures.join("\n  ")
        )
    }

    async fn try_start() -> Result<Self, String> {
        let profile = tempfile::tempdir().expect("a temporary Chromium profile");
        let log = profile.path().join("chromedriver.log");
        let mut child = Command::new(CHROMEDRIVER)
            .arg("--port=0")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log).map_or_else(|_| Stdio::null(), Stdio::from))
            .process_group(0)
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "start {CHROMEDRIVER}: {e} (browser tests need Debian's chromium and chromium-driver: apt-get install -y chromium chromium-driver)"
                )
            });
        let pgid = child.id().expect("chromedriver has a process id");
        let stdout = child.stdout.take().expect("chromedriver's output");
        // From here on, dropping the driver (an error or a panic) kills
        // chromedriver.
        let mut driver = Self {
            url: String::new(),
            pgid,
            child,
            profile,
        };

        // "ChromeDriver was started successfully on port 38721."
        let mut lines = BufReader::new(stdout).lines();
        let mut said = Vec::new();
        let port = timeout(START, async {
            while let Ok(Some(line)) = lines.next_line().await {
                if let Some((_, rest)) = line.split_once("started successfully on port ") {
                    return rest.trim_end_matches('.').trim().parse::<u16>().ok();
                }
                said.push(line);
            }
            None
        })
        .await;
        let Ok(Some(port)) = port else {
            let exit = match driver.child.try_wait() {
                Ok(Some(exit)) => format!("it stopped ({exit})"),
                _ if port.is_err() => format!("it said no port within {START:?}"),
                _ => "its output ended without a port".to_owned(),
            };
            let errors = std::fs::read_to_string(&log).unwrap_or_default();
            return Err(format!(
                "{exit}; it said {:?} and, on its error output, {:?}",
                said.join(" | "),
                errors.trim()
            ));
        };
        // Keep reading what it says, so that it never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        driver.url = format!("http://127.0.0.1:{port}");

        // Then wait until it answers that it is ready.
        let http = reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(2))
            .build()
            .expect("http client");
        let deadline = Instant::now() + START;
        loop {
            let status = http.get(format!("{}/status", driver.url)).send().await;
            if let Ok(response) = status
                && let Ok(body) = response.json::<serde_json::Value>().await
                && body["value"]["ready"] == true
            {
                return Ok(driver);
            }
            if let Ok(Some(exit)) = driver.child.try_wait() {
                return Err(format!(
                    "chromedriver at {} stopped before it was ready ({exit})",
                    driver.url
                ));
            }
            if Instant::now() >= deadline {
                return Err(format!(
                    "chromedriver at {} was not ready within {START:?}",
                    driver.url
                ));
            }
            sleep(POLL).await;
        }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        // The whole group: chromedriver, Chromium and Chromium's helpers.
        let _ = std::process::Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.pgid)])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let _ = self.child.start_kill();
        let _ = self.child.try_wait();
    }
}

/// The browsers a story opened, kept outside the story so that they outlive
/// its panic long enough to be photographed.
type Opened = Arc<Mutex<Vec<RealBrowser>>>;

/// One headless Chromium with a fresh profile, and its own chromedriver.
///
/// Clones are handles to the same browser. Every step waits, up to a
/// deadline, for what it needs, and panics with the page's path when it does
/// not come.
#[derive(Clone)]
pub struct RealBrowser {
    client: Client,
    base_url: String,
    /// Killed when the last handle goes.
    _driver: Arc<Driver>,
    /// The story's list of browsers, to which [`RealBrowser::another`] adds.
    /// Weak, for the list holds this browser too.
    story: std::sync::Weak<Mutex<Vec<RealBrowser>>>,
}

impl RealBrowser {
    /// A browser at desktop size whose paths are relative to `base_url`.
    pub async fn launch(base_url: &str) -> Self {
        let driver = Driver::start().await;
        let mut args: Vec<String> = CHROMIUM_ARGS.iter().map(|a| (*a).to_owned()).collect();
        args.push(format!(
            "--user-data-dir={}",
            driver.profile.path().display()
        ));
        args.push(format!("--window-size={},{}", DESKTOP.0, DESKTOP.1));
        let capabilities = json!({
            "browserName": "chrome",
            "goog:chromeOptions": { "binary": CHROMIUM, "args": args },
        });
        let serde_json::Value::Object(capabilities) = capabilities else {
            unreachable!("an object")
        };
        let started = timeout(
            START,
            ClientBuilder::new(HttpConnector::new())
                .capabilities(capabilities)
                .connect(&driver.url),
        )
        .await;
        let client = match started {
            Ok(Ok(client)) => client,
            Ok(Err(e)) => panic!("start Chromium through chromedriver: {e}"),
            Err(_) => panic!("Chromium did not start within {START:?}"),
        };
        let browser = Self {
            client,
            base_url: base_url.trim_end_matches('/').to_owned(),
            _driver: Arc::new(driver),
            story: std::sync::Weak::new(),
        };
        browser.desktop().await;
        browser
    }

    /// Another browser, with a profile (so cookies) of its own, on the same
    /// site; in a story, it is photographed too when the story fails.
    pub async fn another(&self) -> Self {
        let mut other = Self::launch(&self.base_url).await;
        if let Some(opened) = self.story.upgrade() {
            other.story = Arc::downgrade(&opened);
            lock(&opened).push(other.clone());
        }
        other
    }

    /// Resizes the window so that the page sees `width` × `height` CSS
    /// pixels (headless Chromium still keeps room for a toolbar).
    pub async fn set_viewport(&self, (width, height): (u32, u32)) {
        let (mut outer_w, mut outer_h) = (width, height);
        for _ in 0..6 {
            self.client
                .set_window_size(outer_w, outer_h)
                .await
                .unwrap_or_else(|e| panic!("resize the window to {outer_w}×{outer_h}: {e}"));
            // On a busy machine the page may see the new size a moment
            // later: read until two readings agree.
            let mut seen = self.viewport().await;
            for _ in 0..20 {
                tokio::time::sleep(Duration::from_millis(50)).await;
                let now = self.viewport().await;
                if now == seen {
                    break;
                }
                seen = now;
            }
            let (inner_w, inner_h) = seen;
            if (inner_w, inner_h) == (width, height) {
                // A new size: the page is checked again at it.
                let _ = self
                    .client
                    .execute("window.__porticoAudited = null;", vec![])
                    .await;
                return;
            }
            outer_w = (outer_w + width).saturating_sub(inner_w);
            outer_h = (outer_h + height).saturating_sub(inner_h);
        }
        panic!(
            "the viewport is {:?}, not {width}×{height}",
            self.viewport().await
        );
    }

    /// The viewport the page sees, in CSS pixels.
    pub async fn viewport(&self) -> (u32, u32) {
        let size = self
            .client
            .execute("return [window.innerWidth, window.innerHeight];", vec![])
            .await
            .expect("read the viewport");
        let px = |i: usize| {
            size[i]
                .as_u64()
                .and_then(|v| u32::try_from(v).ok())
                .expect("pixels")
        };
        (px(0), px(1))
    }

    /// A desktop-sized window, as at launch.
    pub async fn desktop(&self) {
        self.set_viewport(DESKTOP).await;
    }

    /// A phone-sized window.
    pub async fn phone(&self) {
        self.set_viewport(PHONE).await;
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    /// Asserts that the page is no wider than the window (nothing to
    /// scroll sideways), as on a phone it must not be.
    pub async fn assert_no_sideways_scroll(&self) {
        let widths = self
            .run_async_script(
                "arguments[0]([document.documentElement.scrollWidth, window.innerWidth]);",
                vec![],
            )
            .await;
        let page = widths[0].as_u64().expect("a width");
        let window = widths[1].as_u64().expect("a width");
        assert!(
            page <= window,
            "the page is {page} px wide in a {window} px window"
        );
    }

    /// Opens `path` of the site and waits for it to load.
    pub async fn goto(&self, path: &str) {
        self.client
            .goto(&self.url(path))
            .await
            .unwrap_or_else(|e| panic!("open {path}: {e}"));
        self.audit().await;
    }

    /// The path of the page shown, e.g. `/app/sign-in`.
    pub async fn current_path(&self) -> String {
        self.client
            .current_url()
            .await
            .map(|url| url.path().to_owned())
            .unwrap_or_else(|e| panic!("read the address: {e}"))
    }

    /// Waits until the page shown is `path`.
    pub async fn wait_for_path(&self, path: &str) {
        let deadline = Instant::now() + WAIT;
        loop {
            let now = self.current_path().await;
            if now == path {
                self.audit().await;
                return;
            }
            assert!(
                Instant::now() < deadline,
                "still on {now} after {WAIT:?}, not on {path}"
            );
            sleep(POLL).await;
        }
    }

    /// Waits until the browser has left the page at `path` (a form's
    /// press navigates on its own time), and checks the page it reached.
    pub async fn wait_to_leave(&self, path: &str) {
        let deadline = Instant::now() + WAIT;
        loop {
            let now = self.current_path().await;
            if now != path {
                self.audit().await;
                return;
            }
            assert!(Instant::now() < deadline, "still on {now} after {WAIT:?}");
            sleep(POLL).await;
        }
    }

    /// The first element matching `css`, once there is one.
    pub async fn wait_for(&self, css: &str) -> Element {
        self.wait_for_locator(Locator::Css(css), css).await
    }

    /// Checks the page shown with axe-core and for width, once per page
    /// (address and load): fails on any serious or critical accessibility
    /// violation, and on a page wider than its viewport. Every step of a
    /// story calls it first, so every page a story visits is checked.
    pub async fn audit(&self) {
        let state = self
            .client
            .execute(
                "return [document.readyState, window.__porticoAudited === location.href];",
                vec![],
            )
            .await;
        let Ok(state) = state else {
            return; // between two pages: the next step looks again
        };
        if state[1] == true {
            return;
        }
        if state[0] != "complete" {
            // Loading: wait for it, as the step will.
            let deadline = Instant::now() + WAIT;
            loop {
                sleep(POLL).await;
                match self
                    .client
                    .execute("return document.readyState;", vec![])
                    .await
                {
                    Ok(ready) if ready == "complete" => break,
                    Ok(_) if Instant::now() < deadline => continue,
                    _ => return,
                }
            }
        }
        let script = format!("{}\n{AUDIT_SCRIPT}", axe_source());
        let report = match self.client.execute_async(&script, vec![]).await {
            Ok(report) => report,
            Err(e) => {
                if std::env::var_os("PORTICO_AXE_DEBUG").is_some() {
                    eprintln!("axe: not run: {e}");
                }
                return; // the page went away while it was checked
            }
        };
        if std::env::var_os("PORTICO_AXE_DEBUG").is_some() {
            eprintln!("axe: {report}");
        }
        if report.get("error").is_some() {
            return;
        }
        let mut problems: Vec<String> = Vec::new();
        for list in ["bad", "wide"] {
            if let Some(items) = report[list].as_array() {
                problems.extend(items.iter().filter_map(|v| v.as_str().map(str::to_owned)));
            }
        }
        assert!(
            problems.is_empty(),
            "{} at {:?}:\n{}",
            report["path"].as_str().unwrap_or("?"),
            self.viewport().await,
            problems.join("\n")
        );
    }

    async fn wait_for_locator(&self, locator: Locator<'_>, what: &str) -> Element {
        self.audit().await;
        match self
            .client
            .wait()
            .at_most(WAIT)
            .every(POLL)
            .for_element(locator)
            .await
        {
            Ok(element) => element,
            Err(e) => panic!(
                "no {what} on {} within {WAIT:?}: {e}",
                self.current_path().await
            ),
        }
    }

    /// Types `text` into the field `css`, replacing what it held.
    pub async fn fill(&self, css: &str, text: &str) {
        let field = self.wait_for(css).await;
        field
            .clear()
            .await
            .unwrap_or_else(|e| panic!("clear {css}: {e}"));
        field
            .send_keys(text)
            .await
            .unwrap_or_else(|e| panic!("type into {css}: {e}"));
    }

    /// Types `keys` into the field `css` after what it holds. WebDriver's
    /// key codes work too: `\u{E007}` is Enter; `\u{E008}` (Shift) and
    /// `\u{E009}` (Control) stay held until `\u{E000}` lets them go.
    pub async fn type_keys(&self, css: &str, keys: &str) {
        self.wait_for(css)
            .await
            .send_keys(keys)
            .await
            .unwrap_or_else(|e| panic!("type into {css}: {e}"));
    }

    /// Holds a finger on the element `css` for `hold` and lifts it, as a
    /// long press on a phone's touch screen.
    pub async fn long_press(&self, css: &str, hold: Duration) {
        use fantoccini::actions::{InputSource, MOUSE_BUTTON_LEFT, PointerAction, TouchActions};
        let element = self.wait_for(css).await;
        let finger = TouchActions::new("finger".to_owned())
            .then(PointerAction::MoveToElement {
                element,
                duration: None,
                x: 0.0,
                y: 0.0,
            })
            .then(PointerAction::Down {
                button: MOUSE_BUTTON_LEFT,
            })
            .then(PointerAction::Pause { duration: hold })
            .then(PointerAction::Up {
                button: MOUSE_BUTTON_LEFT,
            });
        self.client
            .perform_actions(finger)
            .await
            .unwrap_or_else(|e| panic!("long-press {css}: {e}"));
    }

    /// Clicks the element `css`. A live list may redraw between finding an
    /// element and clicking it: then it is found again and clicked, as a
    /// person would click again.
    pub async fn click(&self, css: &str) {
        for _ in 0..10 {
            match self.wait_for(css).await.click().await {
                Ok(()) => return,
                Err(e) if e.to_string().contains("stale element") => continue,
                Err(e) => panic!("click {css}: {e}"),
            }
        }
        panic!("click {css}: the element was redrawn ten times over");
    }

    /// Clicks the button that reads `label`, as a person would.
    pub async fn press(&self, label: &str) {
        assert!(!label.contains('\''), "a label without quotes: {label}");
        let xpath = format!("//button[normalize-space()='{label}']");
        self.wait_for_locator(Locator::XPath(&xpath), &format!("button {label:?}"))
            .await
            .click()
            .await
            .unwrap_or_else(|e| panic!("press {label:?}: {e}"));
    }

    /// Clicks the link that reads `label`, as a person would.
    pub async fn click_link(&self, label: &str) {
        assert!(!label.contains('\''), "a label without quotes: {label}");
        let xpath = format!("//a[normalize-space()='{label}']");
        self.wait_for_locator(Locator::XPath(&xpath), &format!("link {label:?}"))
            .await
            .click()
            .await
            .unwrap_or_else(|e| panic!("click the link {label:?}: {e}"));
    }

    /// Chooses the option that reads `label` in the select `css`.
    pub async fn choose(&self, css: &str, label: &str) {
        self.wait_for(css)
            .await
            .select_by_label(label)
            .await
            .unwrap_or_else(|e| panic!("choose {label:?} in {css}: {e}"));
    }

    /// Attaches the file at `path` to the file input `css`, as choosing it
    /// in the file picker would.
    pub async fn attach(&self, css: &str, path: &Path) {
        assert!(path.is_absolute(), "an absolute path: {}", path.display());
        let path = path.to_str().expect("a path in UTF-8");
        self.wait_for(css)
            .await
            .send_keys(path)
            .await
            .unwrap_or_else(|e| panic!("attach {path} to {css}: {e}"));
    }

    /// Whether the checkbox `css` is ticked.
    pub async fn is_checked(&self, css: &str) -> bool {
        self.wait_for(css)
            .await
            .prop("checked")
            .await
            .unwrap_or_else(|e| panic!("read whether {css} is ticked: {e}"))
            .is_some_and(|v| v == "true")
    }

    /// The text a person sees in the element `css`. A live page may draw
    /// the element again between finding and reading it (a message
    /// replaced by its own markup): then it is found again, until `WAIT`.
    pub async fn text_of(&self, css: &str) -> String {
        let deadline = Instant::now() + WAIT;
        loop {
            match self.wait_for(css).await.text().await {
                Ok(text) => return text,
                Err(e) if Instant::now() >= deadline => panic!("read {css}: {e}"),
                Err(_) => sleep(POLL).await,
            }
        }
    }

    /// Waits until the element `css` shows `needle`, and returns its text.
    pub async fn wait_for_text(&self, css: &str, needle: &str) -> String {
        let deadline = Instant::now() + WAIT;
        loop {
            let text = match self.client.find(Locator::Css(css)).await {
                Ok(element) => element.text().await.unwrap_or_default(),
                Err(_) => String::new(),
            };
            if text.contains(needle) {
                return text;
            }
            assert!(
                Instant::now() < deadline,
                "{css} on {} shows {text:?} after {WAIT:?}, not {needle:?}",
                self.current_path().await
            );
            sleep(POLL).await;
        }
    }

    /// What the field `css` holds now.
    pub async fn value_of(&self, css: &str) -> String {
        self.wait_for(css)
            .await
            .prop("value")
            .await
            .unwrap_or_else(|e| panic!("read the value of {css}: {e}"))
            .unwrap_or_default()
    }

    /// How many elements match `css` now (no waiting).
    pub async fn count(&self, css: &str) -> usize {
        self.client
            .find_all(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("look for {css}: {e}"))
            .len()
    }

    /// Runs `script` in the page as an asynchronous function: it gets
    /// `args` and then a callback, and what it passes to the callback is
    /// returned.
    pub async fn run_async_script(
        &self,
        script: &str,
        args: Vec<serde_json::Value>,
    ) -> serde_json::Value {
        match self.client.execute_async(script, args).await {
            Ok(value) => value,
            Err(e) => panic!("run a script on {}: {e}", self.current_path().await),
        }
    }

    /// Sets a permission of the site, as a person answering the
    /// browser's prompt would (W3C Permissions, through chromedriver).
    pub async fn set_permission(&self, name: &'static str, state: &'static str) {
        self.client
            .issue_cmd(SetPermission { name, state })
            .await
            .unwrap_or_else(|e| panic!("set the permission {name} to {state}: {e}"));
    }

    /// The page's HTML as it stands.
    pub async fn html(&self) -> String {
        self.client
            .source()
            .await
            .unwrap_or_else(|e| panic!("read the page: {e}"))
    }

    /// Saves what the viewport shows as a PNG at `path`.
    pub async fn screenshot(&self, path: &Path) {
        let png = self
            .client
            .screenshot()
            .await
            .unwrap_or_else(|e| panic!("take a screenshot: {e}"));
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).expect("a folder for the screenshot");
        }
        std::fs::write(path, png).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
    }

    /// With `PORTICO_SCREENSHOTS=1`, saves the page as
    /// `docs/screenshots/<name>.png` (the README's pictures); otherwise
    /// does nothing.
    pub async fn doc_screenshot(&self, name: &str) {
        if std::env::var("PORTICO_SCREENSHOTS").as_deref() == Ok("1") {
            let path = workspace_root()
                .join("docs/screenshots")
                .join(format!("{name}.png"));
            self.screenshot(&path).await;
            eprintln!("screenshot: {}", path.display());
        }
    }

    /// Saves `<stem>.png` and `<stem>.html` of the page shown, as far as
    /// the browser still answers, and says where.
    async fn save_failure(&self, stem: &Path) {
        let png = stem.with_extension("png");
        match timeout(WAIT, self.client.screenshot()).await {
            Ok(Ok(bytes)) => report_write(&png, &bytes),
            Ok(Err(e)) => eprintln!("no screenshot for {}: {e}", png.display()),
            Err(_) => eprintln!("no screenshot for {}: timed out", png.display()),
        }
        let html = stem.with_extension("html");
        match timeout(WAIT, self.client.source()).await {
            Ok(Ok(source)) => report_write(&html, source.as_bytes()),
            Ok(Err(e)) => eprintln!("no HTML for {}: {e}", html.display()),
            Err(_) => eprintln!("no HTML for {}: timed out", html.display()),
        }
    }

    /// Ends the WebDriver session, which closes Chromium; chromedriver goes
    /// with the last handle.
    pub async fn close(self) {
        let _ = timeout(WAIT, self.client.close()).await;
    }
}

fn report_write(path: &Path, bytes: &[u8]) {
    let written = path
        .parent()
        .map_or(Ok(()), std::fs::create_dir_all)
        .and_then(|()| std::fs::write(path, bytes));
    match written {
        Ok(()) => eprintln!("browser failure artifact: {}", path.display()),
        Err(e) => eprintln!("could not write {}: {e}", path.display()),
    }
}

fn lock(opened: &Mutex<Vec<RealBrowser>>) -> std::sync::MutexGuard<'_, Vec<RealBrowser>> {
    opened.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Runs `story` with a desktop browser on `base_url`.
///
/// When the story panics or takes longer than a minute, every browser it
/// opened (the first, and those from [`RealBrowser::another`]) leaves
/// `target/browser-failures/<name>-<n>.png` and `.html`, their paths are
/// printed, and the panic goes on. Every browser is closed and its
/// chromedriver killed, pass or fail.
pub async fn run_story<F, Fut>(name: &str, base_url: &str, story: F)
where
    F: FnOnce(RealBrowser) -> Fut,
    Fut: Future<Output = ()>,
{
    let opened: Opened = Arc::default();
    let mut first = RealBrowser::launch(base_url).await;
    first.story = Arc::downgrade(&opened);
    lock(&opened).push(first.clone());

    let last = opened.clone();
    let outcome = timeout(
        STORY,
        AssertUnwindSafe(async move {
            story(first).await;
            // The pages the story ended on are checked too.
            let browsers: Vec<RealBrowser> = lock(&last).clone();
            for browser in browsers {
                browser.audit().await;
            }
        })
        .catch_unwind(),
    )
    .await;
    let failure: Option<Box<dyn Any + Send>> = match outcome {
        Ok(Ok(())) => None,
        Ok(Err(panic)) => Some(panic),
        Err(_) => {
            // A payload passed on by `resume_unwind` is not printed: say it now.
            let message = format!("{name}: the story took longer than {STORY:?}");
            eprintln!("{message}");
            Some(Box::new(message))
        }
    };

    let browsers = std::mem::take(&mut *lock(&opened));
    if failure.is_some() {
        let dir = workspace_root().join("target/browser-failures");
        let stem: String = name
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '_' {
                    c
                } else {
                    '-'
                }
            })
            .collect();
        for (n, browser) in browsers.iter().enumerate() {
            browser
                .save_failure(&dir.join(format!("{stem}-{}", n + 1)))
                .await;
        }
    }
    for browser in browsers {
        browser.close().await;
    }
    if let Some(panic) = failure {
        std::panic::resume_unwind(panic);
    }
}

/// WebDriver's Set Permission command.
#[derive(Debug)]
struct SetPermission {
    name: &'static str,
    state: &'static str,
}

impl fantoccini::wd::WebDriverCompatibleCommand for SetPermission {
    fn endpoint(
        &self,
        base_url: &reqwest::Url,
        session_id: Option<&str>,
    ) -> Result<reqwest::Url, <reqwest::Url as std::str::FromStr>::Err> {
        base_url.join(&format!(
            "session/{}/permissions",
            session_id.unwrap_or_default()
        ))
    }

    fn method_and_body(&self, _: &reqwest::Url) -> (axum::http::Method, Option<String>) {
        let body = json!({ "descriptor": { "name": self.name }, "state": self.state });
        (axum::http::Method::POST, Some(body.to_string()))
    }
}
