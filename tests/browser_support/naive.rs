//! A deliberately naive bank, the one of the published session-fixation scenarios: the attacks must succeed here,
//! which proves the harness can tell a vulnerable server from a safe one.
//!
//! Its flaws, on purpose: the session id comes from the `SID` query parameter or cookie and is
//! adopted whatever it is; a table maps ids to users; login does not rotate the id; nothing
//! binds a session to a client; the cookie has no prefix and `Domain=bank.test`, so every
//! sibling subdomain shares it; logout only clears the browser's cookie.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::extract::{Form, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;
use ring::rand::{SecureRandom, SystemRandom};
use serde::Deserialize;

use super::{BankUnderTest, Credentials, BANK_DOMAIN};

const COOKIE: &str = "SID";

/// The naive bank as a test subject.
pub fn bank() -> BankUnderTest {
    BankUnderTest {
        name: "naive session server",
        app: Box::new(|_origin: &str| router()),
        login_path: "/login",
        account_path: "/account",
        login_form: "form[action='/login']",
        user_field: "user",
        password_field: "password",
        logout_form: "form[action='/logout']",
        session_cookie: COOKIE,
        alice: Credentials {
            user: "alice",
            password: "alice-pw",
        },
        mallory: Credentials {
            user: "mallory",
            password: "mallory-pw",
        },
        signed_in_text: |user| format!("Signed in as {user}"),
    }
}

/// Session id → signed-in user (`None`: anonymous).
type Table = Arc<Mutex<HashMap<String, Option<String>>>>;

fn router() -> Router {
    Router::new()
        .route(
            "/",
            get(|| async { Html("<h1>Naive bank</h1><a href=/login>Log in</a>") }),
        )
        .route("/login", get(login_page).post(login))
        .route("/account", get(account))
        .route("/logout", get(logout).post(logout))
        .with_state(Table::default())
}

#[derive(Deserialize)]
struct SidQuery {
    #[serde(rename = "SID")]
    sid: Option<String>,
}

#[derive(Deserialize)]
struct LoginForm {
    user: String,
    password: String,
}

async fn login_page(State(table): State<Table>, Query(q): Query<SidQuery>, headers: HeaderMap) -> Response {
    let sid = adopt(&table, q.sid, &headers);
    let form = "<h1>Log in</h1><form method=post action=/login>\
        <input name=user> <input name=password type=password> <button type=submit>Log in</button></form>";
    with_cookie(&sid, Html(form))
}

async fn login(
    State(table): State<Table>,
    Query(q): Query<SidQuery>,
    headers: HeaderMap,
    Form(f): Form<LoginForm>,
) -> Response {
    let sid = adopt(&table, q.sid, &headers);
    let ok = matches!(
        (f.user.as_str(), f.password.as_str()),
        ("alice", "alice-pw") | ("mallory", "mallory-pw")
    );
    if !ok {
        return (StatusCode::UNAUTHORIZED, Html("wrong user or password")).into_response();
    }
    // The flaw session fixation exploits: the same id simply becomes authenticated.
    if let Ok(mut t) = table.lock() {
        t.insert(sid.clone(), Some(f.user));
    }
    with_cookie(&sid, Redirect::to("/account"))
}

async fn account(State(table): State<Table>, Query(q): Query<SidQuery>, headers: HeaderMap) -> Response {
    let sid = adopt(&table, q.sid, &headers);
    let user = table.lock().ok().and_then(|t| t.get(&sid).cloned().flatten());
    let Some(user) = user else {
        return (
            StatusCode::UNAUTHORIZED,
            Html("Not signed in. <a href=/login>Log in</a>"),
        )
            .into_response();
    };
    let balance = if user == "alice" { "1,000.00" } else { "5.00" };
    let page = format!(
        "<h1>Account</h1><p>Signed in as {user}</p><p>Balance: {balance}</p>\
         <form method=post action=/logout><button type=submit>Log out</button></form>"
    );
    with_cookie(&sid, Html(page))
}

/// Clears the browser's cookie only; the server-side session stays valid.
async fn logout() -> Response {
    let clear = format!("{COOKIE}=; Domain={BANK_DOMAIN}; Path=/; Max-Age=0");
    let mut resp = Html("Logged out. <a href=/login>Log in</a>").into_response();
    if let Ok(v) = HeaderValue::from_str(&clear) {
        resp.headers_mut().append(header::SET_COOKIE, v);
    }
    resp
}

/// The query's id, else the first `SID` cookie, else a new one; whatever it is gets a row.
fn adopt(table: &Table, from_query: Option<String>, headers: &HeaderMap) -> String {
    let sid = from_query
        .or_else(|| first_cookie(headers))
        .unwrap_or_else(new_id);
    if let Ok(mut t) = table.lock() {
        t.entry(sid.clone()).or_insert(None);
    }
    sid
}

fn first_cookie(headers: &HeaderMap) -> Option<String> {
    let raw = headers.get(header::COOKIE)?.to_str().ok()?;
    cookie::Cookie::split_parse(raw)
        .flatten()
        .find(|c| c.name() == COOKIE)
        .map(|c| c.value().to_owned())
}

fn new_id() -> String {
    let mut b = [0u8; 8];
    // The naive bank has no error path; a failed draw would only make ids predictable.
    let _ = SystemRandom::new().fill(&mut b);
    b.iter().map(|x| format!("{x:02X}")).collect()
}

fn with_cookie(sid: &str, body: impl IntoResponse) -> Response {
    let mut resp = body.into_response();
    let set = format!("{COOKIE}={sid}; Domain={BANK_DOMAIN}; Path=/");
    if let Ok(v) = HeaderValue::from_str(&set) {
        resp.headers_mut().append(header::SET_COOKIE, v);
    }
    resp
}
