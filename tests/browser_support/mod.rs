//! Support for the real-browser attack tests: the session-fixation scenarios of the literature played by
//! two separate headless Chromium profiles (victim and attacker) against a bank served over
//! HTTPS as `https://www.bank.test:<port>`.
//!
//! ```text
//! victim Chromium ───────────────────────────┬──► Site "www.bank.test"  (bank under test, TLS, wiretap)
//!   (from 127.0.0.1)                         └──► Site "evil.bank.test" (tosses Domain=bank.test cookies)
//! attacker Chromium ──► AttackerProxy ──────────► the same sites, from 127.66.6.6
//!   (another User-Agent)  (CONNECT)
//! ```
//!
//! Names under `bank.test` resolve to 127.0.0.1 through Chromium's `--host-resolver-rules`.
//!
//! A bank is described once by a [`BankUnderTest`] (its router and how to drive its pages);
//! every scenario in [`scenarios`] runs against any bank so described. The naive server in
//! [`naive`] is the one the attacks must beat; a sealed-session bank is wired in by
//! describing it the same way and adding one `scenario_tests!` line in `tests/browser.rs`.
// A private module of the test crate: its `pub` items are the support API of tests/browser.rs.
#![allow(unreachable_pub)]

pub mod chrome;
pub mod csrf;
pub mod evil;
pub mod naive;
pub mod proxy;
pub mod scenarios;
pub mod tls;

use std::fmt;

use axum::Router;

use chrome::{Browser, Role};
use proxy::AttackerProxy;
use tls::Site;

/// Result type of the harness: any failure of the harness itself is an error, never an outcome.
pub type Res<T> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

/// The registrable domain shared by the bank and the attacker's sibling site.
pub const BANK_DOMAIN: &str = "bank.test";
/// The bank's host.
pub const BANK_HOST: &str = "www.bank.test";
/// The attacker-controlled sibling host.
pub const EVIL_HOST: &str = "evil.bank.test";

/// A user name and password.
#[derive(Clone, Copy, Debug)]
pub struct Credentials {
    /// Login name.
    pub user: &'static str,
    /// Password.
    pub password: &'static str,
}

/// A bank application and how a person uses it: everything a scenario needs to know.
pub struct BankUnderTest {
    /// Shown in outcomes.
    pub name: &'static str,
    /// Builds the router, given the public origin it will be served at
    /// (`https://www.bank.test:<port>`), e.g. for an allowed-origin list.
    pub app: Box<dyn FnOnce(&str) -> Router + Send>,
    /// Login page path (GET shows the form).
    pub login_path: &'static str,
    /// Account page path.
    pub account_path: &'static str,
    /// CSS selector of the login form.
    pub login_form: &'static str,
    /// `name` of the user-name field.
    pub user_field: &'static str,
    /// `name` of the password field.
    pub password_field: &'static str,
    /// CSS selector of the logout form (on the account page).
    pub logout_form: &'static str,
    /// Name of the session cookie.
    pub session_cookie: &'static str,
    /// The victim's account.
    pub alice: Credentials,
    /// The attacker's own account.
    pub mallory: Credentials,
    /// Text the account page contains when signed in as the given user, and only then.
    pub signed_in_text: fn(&str) -> String,
}

/// What a scenario found.
#[derive(Debug)]
pub struct Outcome {
    /// Scenario name.
    pub scenario: &'static str,
    /// Bank name.
    pub bank: &'static str,
    /// Whether the attacker got what the scenario is after.
    pub attack_succeeded: bool,
    /// What was observed, step by step (no token values).
    pub evidence: Vec<String>,
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let verdict = if self.attack_succeeded {
            "SUCCEEDED"
        } else {
            "failed"
        };
        writeln!(f, "{} against the {}: attack {verdict}", self.scenario, self.bank)?;
        for line in &self.evidence {
            writeln!(f, "  - {line}")?;
        }
        Ok(())
    }
}

/// The bank's site and the two browsers of one scenario.
pub struct World {
    /// The bank being attacked (its `app` has been consumed).
    pub bank: BankUnderTest,
    /// The bank's HTTPS site.
    pub site: Site,
    /// Alice's browser.
    pub victim: Browser,
    /// Mallory's browser.
    pub attacker: Browser,
    _attacker_net: AttackerProxy,
}

impl World {
    /// Serves the bank and launches both browsers (concurrently).
    pub async fn start(mut bank: BankUnderTest) -> Res<World> {
        let app = std::mem::replace(&mut bank.app, Box::new(|_: &str| Router::new()));
        let site = Site::start(BANK_HOST, app).await?;
        let net = AttackerProxy::start().await?;
        let (victim, attacker) = tokio::join!(
            Browser::launch(Role::Victim, None),
            Browser::launch(Role::Attacker, Some(net.addr))
        );
        Ok(World {
            bank,
            site,
            victim: victim?,
            attacker: attacker?,
            _attacker_net: net,
        })
    }

    /// Closes both browsers.
    pub async fn close(self) {
        tokio::join!(self.victim.close(), self.attacker.close());
    }

    /// The bank's URL for `path_and_query`.
    pub fn url(&self, path_and_query: &str) -> String {
        self.site.url(path_and_query)
    }

    /// Opens `start_url` (a login page, possibly with a query) and logs in with `who`'s
    /// credentials through the form, as a person would.
    pub async fn log_in(&self, browser: &Browser, start_url: &str, who: Credentials) -> Res<()> {
        let b = &self.bank;
        browser.goto(start_url).await?;
        browser
            .submit_form(
                b.login_form,
                &[(b.user_field, who.user), (b.password_field, who.password)],
            )
            .await
    }

    /// Logs in and checks that the account page then shows `who`; an error otherwise, since
    /// a scenario whose victim cannot even log in proves nothing.
    pub async fn log_in_checked(&self, browser: &Browser, start_url: &str, who: Credentials) -> Res<()> {
        self.log_in(browser, start_url, who).await?;
        if self.account_shows(browser, who.user).await? {
            Ok(())
        } else {
            let text = browser.page_text().await?;
            Err(format!(
                "{:?} could not log in as {}; account page: {text:?}",
                browser.role, who.user
            )
            .into())
        }
    }

    /// Opens the account page and tells whether it shows `user` signed in.
    pub async fn account_shows(&self, browser: &Browser, user: &str) -> Res<bool> {
        self.open_account(browser, "", user).await
    }

    /// The values of the bank's session cookie that `browser` would send to the bank's root.
    pub async fn session_values(&self, browser: &Browser) -> Res<Vec<String>> {
        let jar = browser.cookies_for(&self.url("/")).await?;
        Ok(jar
            .into_iter()
            .filter(|c| c.name == self.bank.session_cookie)
            .map(|c| c.value)
            .collect())
    }

    /// Empties `browser`'s cookies, plants `token` as the bank's session cookie and opens the
    /// account page (with `query` appended): does it show `user`?
    pub async fn replay(&self, browser: &Browser, token: &str, query: &str, user: &str) -> Res<bool> {
        browser.clear_cookies().await?;
        browser
            .plant_cookie(&self.url("/"), self.bank.session_cookie, token)
            .await?;
        self.open_account(browser, query, user).await
    }

    async fn open_account(&self, browser: &Browser, query: &str, user: &str) -> Res<bool> {
        browser
            .goto(&self.url(&format!("{}{query}", self.bank.account_path)))
            .await?;
        self.check_network(browser)?;
        let want = (self.bank.signed_in_text)(user);
        Ok(browser.page_text().await?.contains(&want))
    }

    /// The bank must have seen `browser`'s last request from that browser's own address
    /// (the attacker's through its proxy), or the scenario would not be two clients.
    fn check_network(&self, browser: &Browser) -> Res<()> {
        let want = match browser.role {
            Role::Victim => std::net::IpAddr::from([127, 0, 0, 1]),
            Role::Attacker => proxy::ATTACKER_IP,
        };
        match self.site.wiretap.seen().last().map(|s| s.peer) {
            Some(peer) if peer == want => Ok(()),
            other => Err(format!(
                "{:?}'s request reached the bank from {other:?}, not {want}",
                browser.role
            )
            .into()),
        }
    }
}

/// Runs one scenario against one bank on a fresh runtime, browsers and site, and asserts
/// whether the attack succeeded. Harness failures (no browser, victim cannot log in…) fail
/// the test with their own message.
pub fn check(bank: BankUnderTest, scenario: scenarios::Scenario, attack_should_succeed: bool) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build();
    let rt = match rt {
        Ok(rt) => rt,
        Err(e) => panic!("cannot build a tokio runtime: {e}"),
    };
    let bank_name = bank.name;
    let result = rt.block_on(async {
        let world = World::start(bank).await?;
        let outcome = scenarios::run(&world, scenario).await;
        world.close().await;
        outcome
    });
    match result {
        Err(e) => panic!("{scenario:?} against the {bank_name}: harness failure: {e}"),
        Ok(outcome) => {
            eprintln!("{outcome}");
            assert_eq!(
                outcome.attack_succeeded,
                attack_should_succeed,
                "expected the attack to {}:\n{outcome}",
                if attack_should_succeed { "succeed" } else { "fail" }
            );
        }
    }
}
