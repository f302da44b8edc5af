//! Security headers on every response: no framing (clickjacking), no MIME sniffing, no
//! cross-origin `Referer`, a CSP that allows only the pages' inline style, and HSTS over TLS.
//! A header already present is left alone: when the session layer sets one (it sends HSTS
//! itself for `Secure` cookies), it is the owner and the bank adds no second copy.

use axum::http::header::{
    CONTENT_SECURITY_POLICY, REFERRER_POLICY, STRICT_TRANSPORT_SECURITY, X_CONTENT_TYPE_OPTIONS,
    X_FRAME_OPTIONS,
};
use axum::http::{HeaderMap, HeaderName, HeaderValue};

/// The pages have no scripts, images or frames; their one `<style>` element is inline.
pub const CSP: &str =
    "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

/// One year (RFC 6797 §6.1.1). No `includeSubDomains`: the demo's sibling subdomains are
/// separate sites.
pub const HSTS: &str = "max-age=31536000";

const ALWAYS: [(HeaderName, &str); 4] = [
    (CONTENT_SECURITY_POLICY, CSP),
    (X_FRAME_OPTIONS, "DENY"),
    (X_CONTENT_TYPE_OPTIONS, "nosniff"),
    (REFERRER_POLICY, "same-origin"),
];

/// Adds each security header that `headers` lacks; HSTS only when served over TLS.
pub fn add_security_headers(headers: &mut HeaderMap, tls: bool) {
    for (name, value) in ALWAYS {
        headers.entry(name).or_insert(HeaderValue::from_static(value));
    }
    if tls {
        headers
            .entry(STRICT_TRANSPORT_SECURITY)
            .or_insert(HeaderValue::from_static(HSTS));
    }
}
