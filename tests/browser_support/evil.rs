//! `evil.bank.test`: a sibling subdomain in the attacker's hands (Wikipedia's cross-subdomain
//! scenario). Visiting it tosses `Domain=bank.test` cookies carrying a session value the
//! attacker knows, under every name the bank might read.

use std::sync::{Arc, Mutex};

use axum::http::{header, HeaderValue};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use super::BANK_DOMAIN;

/// The value the evil site tosses; the scenario sets it before luring the victim.
#[derive(Clone, Default)]
pub struct Payload(Arc<Mutex<String>>);

impl Payload {
    /// Sets the session value to toss.
    pub fn set(&self, value: &str) {
        if let Ok(mut v) = self.0.lock() {
            value.clone_into(&mut v);
        }
    }

    fn get(&self) -> String {
        self.0.lock().map(|v| v.clone()).unwrap_or_default()
    }
}

/// The `Set-Cookie` lines the evil site sends, for a bank whose session cookie is
/// `bank_cookie` and whose account page lives under `account_path`.
///
/// For each name: a `Domain=bank.test; Path=/` cookie (tossing) and a path-shadowed one
/// (`Path=<account path>`, which a browser sends *before* the bank's own `Path=/` cookie).
/// The `__Host-` ones must be refused by the browser (that prefix forbids `Domain` and any
/// path but `/`); the `__Secure-` and unprefixed ones are legal and land in the victim's jar.
pub fn set_cookie_lines(bank_cookie: &str, account_path: &str, value: &str) -> Vec<String> {
    let mut names: Vec<&str> = Vec::new();
    for name in [bank_cookie, "__Host-session", "__Secure-session", "session"] {
        if !names.contains(&name) {
            names.push(name);
        }
    }
    let mut lines = Vec::new();
    for name in names {
        for path in ["/", account_path] {
            lines.push(format!(
                "{name}={value}; Domain={BANK_DOMAIN}; Path={path}; Secure"
            ));
        }
    }
    lines
}

/// The evil site's router: `/` tosses the cookies.
pub fn router(bank_cookie: &'static str, account_path: &'static str, payload: Payload) -> Router {
    Router::new().route(
        "/",
        get(move || async move {
            let mut resp: Response = Html("<h1>Cool new account summary feature</h1>").into_response();
            for line in set_cookie_lines(bank_cookie, account_path, &payload.get()) {
                if let Ok(v) = HeaderValue::from_str(&line) {
                    resp.headers_mut().append(header::SET_COOKIE, v);
                }
            }
            resp
        }),
    )
}

/// A lure page whose one button posts the attacker's credentials to `login_url` (login
/// CSRF): the victim who clicks it is signed in as the attacker (the "ghost session" of the session-fixation literature,
/// planted without touching a cookie).
pub fn login_csrf_router(login_url: String, fields: [(&'static str, &'static str); 2]) -> Router {
    let inputs: String = fields
        .iter()
        .map(|(name, value)| format!("<input type=hidden name={name} value={value}>"))
        .collect();
    let page = format!(
        "<h1>You won a prize</h1><form id=csrf method=post action=\"{login_url}\">{inputs}\
         <button type=submit>Claim it</button></form>"
    );
    Router::new().route("/prize", get(move || async move { Html(page.clone()) }))
}

/// A page that plants one cookie for the whole parent domain whose value is not ASCII
/// (`junk=été`), as any sibling subdomain may: it must not cost the victim the bank session.
pub fn junk_cookie_router() -> Router {
    Router::new().route(
        "/",
        get(|| async {
            let mut resp: Response = Html("<h1>Nothing to see</h1>").into_response();
            let line = format!("junk=\u{e9}t\u{e9}; Domain={BANK_DOMAIN}; Path=/; Secure");
            if let Ok(v) = HeaderValue::from_bytes(line.as_bytes()) {
                resp.headers_mut().append(header::SET_COOKIE, v);
            }
            resp
        }),
    )
}
