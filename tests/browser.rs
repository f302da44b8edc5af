//! Real-browser attack tests: the session-fixation scenarios of the literature (Wikipedia, "Session fixation") in headless Debian Chromium
//! (victim and attacker as separate profiles) over HTTPS with `*.bank.test` mapped to loopback.
//!
//! Needs `apt-get install -y chromium chromium-driver`; without them every test here fails
//! with that message rather than passing silently. Run with
//! `cargo test --all-features --test browser` (each test prints its outcome and evidence;
//! add `-- --nocapture` to see them).
#![cfg(feature = "web")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod browser_support;

#[path = "../examples/bank/app.rs"]
mod bank_app;

use std::sync::Arc;

use axum::Extension;
use browser_support::scenarios::Scenario;
use browser_support::{BankUnderTest, Credentials};

/// One test per scenario against `$bank` (an expression building a
/// [`browser_support::BankUnderTest`]); `$attack_succeeds` says what each must find.
///
/// The naive server below must lose every time, which proves the harness can fail. A bank
/// that defends is wired in the same way with `false`, e.g.
/// `scenario_tests!(sealed, sealed_bank(), false);`.
macro_rules! scenario_tests {
    ($module:ident, $bank:expr, $attack_succeeds:expr) => {
        mod $module {
            use super::*;

            #[test]
            fn url_fixation() {
                browser_support::check($bank, Scenario::UrlFixation, $attack_succeeds);
            }

            #[test]
            fn planted_server_generated_token() {
                browser_support::check($bank, Scenario::PlantedToken, $attack_succeeds);
            }

            #[test]
            fn cross_subdomain_tossing() {
                browser_support::check($bank, Scenario::SubdomainTossing, $attack_succeeds);
            }

            #[test]
            fn ghost_session() {
                browser_support::check($bank, Scenario::GhostSession, $attack_succeeds);
            }

            #[test]
            fn logout_then_replay() {
                browser_support::check($bank, Scenario::LogoutReplay, $attack_succeeds);
            }

            #[test]
            fn login_csrf_from_plain_http_on_the_same_host() {
                browser_support::check($bank, Scenario::LoginCsrfPlainHttp, $attack_succeeds);
            }

            #[test]
            fn login_csrf_from_a_sibling_subdomain() {
                browser_support::check($bank, Scenario::LoginCsrfSibling, $attack_succeeds);
            }

            #[test]
            fn junk_cookie_from_a_sibling_subdomain() {
                browser_support::check($bank, Scenario::JunkCookie, $attack_succeeds);
            }
        }
    };
}

// Proof that the harness can fail: every attack beats the naive session server.
scenario_tests!(naive, browser_support::naive::bank(), true);

// The same attacks against the bank of examples/bank, served over TLS with the secure
// `__Host-` cookie: each must fail.
scenario_tests!(sealed, sealed_bank(), false);

/// The demo bank with its durable revocation store in a temporary directory that lives as
/// long as the router.
fn sealed_bank() -> BankUnderTest {
    BankUnderTest {
        name: "sealed-session bank",
        app: Box::new(|origin: &str| {
            let dir = Arc::new(tempfile::tempdir().expect("temporary data directory"));
            let mut config = bank_app::BankConfig::new(dir.path(), true);
            config.allowed_origins = vec![origin.to_owned()];
            let (router, _manager) = bank_app::build_app(config).expect("the bank builds");
            router.layer(Extension(dir))
        }),
        login_path: "/login",
        account_path: "/account",
        login_form: "form#login",
        user_field: "user",
        password_field: "password",
        logout_form: "form#logout",
        session_cookie: "__Host-session",
        alice: Credentials {
            user: "alice",
            password: "alice-demo-password",
        },
        mallory: Credentials {
            user: "mallory",
            password: "mallory-demo-password",
        },
        signed_in_text: bank_app::signed_in_text,
    }
}
