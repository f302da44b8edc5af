//! Arbitrary requests → the axum service behind `SessionLayer`: never a panic, never a 500, and
//! never a verified session unless the one valid token sat where a token may come from (the
//! session cookie, exactly once; `Authorization: Bearer` only on the router that enables it and
//! only without a session cookie). Conversely, a request whose handler ran with the token there
//! and the bound User-Agent must have seen the session, so the check above is not vacuous.
//!
//! Structure-aware: method, path, query, header names and values and the body are built from
//! a small dictionary, raw bytes, and the valid token (minted once, deterministically, for the
//! fixed peer and User-Agent), in any order.
#![no_main]

use arbitrary::Arbitrary;
use axum::body::Body;
use http::{HeaderName, HeaderValue, Method, Request, StatusCode};
use libfuzzer_sys::fuzz_target;
use sealed_session_fuzz::web::*;
use tower::ServiceExt;

const WORDS: &[&str] = &[
    "__Host-session",
    "__Host-session=",
    "=",
    "; ",
    ";",
    " ",
    "\t",
    ",",
    "\"",
    "Bearer ",
    "bearer ",
    UA,
    "same-origin",
    "same-site",
    "cross-site",
    "none",
    "https://www.fuzz.test",
    "http://www.fuzz.test",
    "https://evil.test",
    "www.fuzz.test",
    "application/x-www-form-urlencoded",
    "sid=",
    "token=",
    "&",
    "?",
    "/",
    "/account",
    "0",
    "65536",
    "session",
];

const HEADERS: &[&str] = &[
    "cookie",
    "authorization",
    "user-agent",
    "host",
    "origin",
    "referer",
    "sec-fetch-site",
    "content-type",
    "content-length",
    "x-forwarded-for",
    "transfer-encoding",
];

const METHODS: &[&str] = &[
    "GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH", "TRACE", "CONNECT",
];

#[derive(Arbitrary, Debug)]
enum Piece {
    Word(u8),
    Raw(Vec<u8>),
    Token,
}

#[derive(Arbitrary, Debug)]
enum Name {
    Known(u8),
    Raw(Vec<u8>),
}

#[derive(Arbitrary, Debug)]
struct Input {
    bearer: bool,
    /// Starts the headers with the bound `User-Agent`, as the token's own browser would send
    /// (the fuzzer's headers follow, so it may still add others or none).
    bound_client: bool,
    method: Name,
    path: Vec<Piece>,
    query: Option<Vec<Piece>>,
    headers: Vec<(Name, Vec<Piece>)>,
    body: Vec<Piece>,
}

fn bytes(pieces: &[Piece]) -> Vec<u8> {
    let mut out = Vec::new();
    for piece in pieces {
        match piece {
            Piece::Word(i) => out.extend_from_slice(WORDS[usize::from(*i) % WORDS.len()].as_bytes()),
            Piece::Raw(b) => out.extend_from_slice(b),
            Piece::Token => out.extend_from_slice(token().as_bytes()),
        }
    }
    out
}

fn name<'a>(name: &'a Name, known: &[&'static str]) -> std::borrow::Cow<'a, [u8]> {
    match name {
        Name::Known(i) => known[usize::from(*i) % known.len()].as_bytes().into(),
        Name::Raw(b) => b.as_slice().into(),
    }
}

fn request(input: &Input) -> Option<Request<Body>> {
    let method = Method::from_bytes(&name(&input.method, METHODS)).ok()?;
    let mut uri = b"/".to_vec();
    uri.extend(bytes(&input.path));
    if let Some(q) = &input.query {
        uri.push(b'?');
        uri.extend(bytes(q));
    }
    let mut req = Request::builder()
        .method(method)
        .uri(uri.as_slice())
        .extension(connect_info())
        .body(Body::from(bytes(&input.body)))
        .ok()?;
    if input.bound_client {
        req.headers_mut()
            .append(http::header::USER_AGENT, HeaderValue::from_static(UA));
    }
    for (n, v) in &input.headers {
        let n = HeaderName::from_bytes(&name(n, HEADERS)).ok()?;
        let v = HeaderValue::from_bytes(&bytes(v)).ok()?;
        req.headers_mut().append(n, v);
    }
    Some(req)
}

fuzz_target!(|input: Input| {
    let Some(req) = request(&input) else {
        return;
    };
    let headers = req.headers().clone();
    let app = router(input.bearer).clone();
    let response = runtime()
        .block_on(app.oneshot(req))
        .unwrap_or_else(|e| match e {});
    assert!(
        response.status() != StatusCode::INTERNAL_SERVER_ERROR,
        "the layer answered 500"
    );
    let Some(seen) = response.headers().get(REPORT) else {
        return; // refused before the handler (403, 400, 404, 405): nothing was granted
    };
    let place = placement(&headers, token());
    let legitimate = match place {
        Placement::Cookie => true,
        Placement::Bearer => input.bearer,
        Placement::Nowhere => false,
    };
    if seen.as_bytes() != b"none" {
        assert!(
            seen.as_bytes() == format!("session:{SUBJECT}").as_bytes(),
            "a session nobody minted: {seen:?}"
        );
        assert!(legitimate, "a verified session from a token in {place:?}");
    } else {
        assert!(
            !(legitimate && bound_user_agent(&headers)),
            "the valid token, bound client, in {place:?}, was refused"
        );
    }
});
