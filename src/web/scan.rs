//! Places a session token must never be read from, watched: the query string and small
//! url-encoded form bodies. A token-shaped value there is an event, never a session.

use axum::body::Body;
use http::request::Parts;
use http::StatusCode;

use super::state::Shared;
use crate::session::events::EventKind;

/// Bodies this small, declared up front, are scanned for session tokens.
const FORM_SCAN_LIMIT: usize = 64 * 1024;

/// The declared length of a small url-encoded form body, the one kind of body scanned for
/// token-shaped fields (a session id passed in a POST field, the classic fixation vector).
/// Only bodies with a declared length ≤ 64 KiB are read, so none is consumed half-way.
pub(crate) fn form_to_scan(parts: &Parts) -> Option<usize> {
    let is_form = parts
        .headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    let declared = parts
        .headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    declared.filter(|&n| is_form && n <= FORM_SCAN_LIMIT)
}

/// Reads a form body of `length` bytes (from [`form_to_scan`]) and reports a token-shaped
/// field in it; the body is handed on unchanged and never used as a token source.
pub(crate) async fn scan_form(
    length: usize,
    body: Body,
    shared: &Shared,
    cookie_name: &str,
) -> Result<Body, StatusCode> {
    let bytes = axum::body::to_bytes(body, length)
        .await
        .map_err(|_| StatusCode::BAD_REQUEST)?;
    let text = String::from_utf8_lossy(&bytes);
    let planted = text.split('&').any(|pair| {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        // Forms legitimately carry fields named "token" (CSRF): only our cookie's name, the
        // classic session parameter names, or a value that parses as a token count here.
        ["sid", "jsessionid", "phpsessid", cookie_name]
            .iter()
            .any(|n| name.eq_ignore_ascii_case(n))
            || crate::token::UntrustedToken::parse(value).is_ok()
    });
    if planted {
        let client = shared.lock().client.clone();
        shared
            .manager
            .emit(EventKind::TokenInUnexpectedPlace, None, &client.context());
    }
    Ok(Body::from(bytes))
}

/// Session-looking query parameters: a well-known session parameter name, our cookie name,
/// or a value that parses as a token. They are never read; their presence is an event.
pub(crate) fn query_has_token(parts: &Parts, cookie_name: &str) -> bool {
    // `access_token` is RFC 6750 §2.3's query parameter, which this crate never reads.
    const NAMES: [&str; 8] = [
        "access_token",
        "sid",
        "session",
        "sessionid",
        "session_id",
        "token",
        "jsessionid",
        "phpsessid",
    ];
    let Some(query) = parts.uri.query() else {
        return false;
    };
    query.split('&').any(|pair| {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        let name = name.to_ascii_lowercase();
        NAMES.contains(&name.as_str())
            || name.eq_ignore_ascii_case(cookie_name)
            || crate::token::UntrustedToken::parse(value).is_ok()
    })
}
