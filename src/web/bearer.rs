//! Bearer requests (RFC 6750): reading `Authorization: Bearer`, and the refusals an API
//! client can act on — 401/403 with `WWW-Authenticate: Bearer` and a fixed JSON body that
//! never says which check failed.

use bytes::Bytes;
use http::header::{HeaderMap, HeaderValue, AUTHORIZATION, CONTENT_TYPE, WWW_AUTHENTICATE};
use http::{Response, StatusCode};

/// What the `Authorization` header holds.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Authorization<'h> {
    /// No header, or a scheme other than Bearer (not ours to judge).
    None,
    /// `Bearer <token>`, scheme matched case-insensitively (RFC 9110 §11.1).
    Bearer(&'h str),
    /// A Bearer credential that cannot be a token (empty, not visible ASCII) or more than
    /// one `Authorization` header (RFC 6750 §2: one method, one token per request).
    Invalid,
}

/// Reads the request's `Authorization` header (RFC 6750 §2.1: `Bearer 1*SP b64token`). The
/// token is borrowed from the header, so no copy of it is made.
pub(crate) fn authorization(headers: &HeaderMap) -> Authorization<'_> {
    let mut values = headers.get_all(AUTHORIZATION).iter();
    let (Some(value), None) = (values.next(), values.next()) else {
        return if headers.contains_key(AUTHORIZATION) {
            Authorization::Invalid
        } else {
            Authorization::None
        };
    };
    let Ok(text) = value.to_str() else {
        return Authorization::None;
    };
    let (scheme, rest) = text.split_once(' ').unwrap_or((text, ""));
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Authorization::None;
    }
    match rest.trim_matches(' ') {
        "" => Authorization::Invalid,
        token if token.bytes().all(|b| b.is_ascii_graphic()) => Authorization::Bearer(token),
        _ => Authorization::Invalid,
    }
}

/// A session refusal, as [`super::WebError`] classifies it. `WebError::into_response` puts
/// it in the response's extensions; the layer, which knows how the request authenticated,
/// turns it into the RFC 6750 form for API requests and removes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// No usable session (RFC 6750 `invalid_token`, or no error code when no token came).
    NoSession,
    /// A session below the route's level (RFC 6750 `insufficient_scope`).
    Level,
    /// A replaced token tried to change its session: to the client, a token no longer valid.
    Replaced,
    /// A request the session rules cannot serve (`invalid_request`).
    BadRequest,
    /// Anything else, by status: a fixed code for each.
    Other(StatusCode),
}

/// The RFC 6750 §3 answer to `refusal`. `token_sent` says whether the request carried a
/// token; every kind of invalid token gets the same bytes (no oracle).
pub(crate) fn refusal_response<B: From<Bytes>>(refusal: Refusal, token_sent: bool) -> Response<B> {
    let (status, challenge, body): (_, _, &'static str) = match refusal {
        Refusal::NoSession | Refusal::Replaced if token_sent => (
            StatusCode::UNAUTHORIZED,
            Some(r#"Bearer error="invalid_token""#),
            r#"{"error":"invalid_token"}"#,
        ),
        // §3.1: a request without credentials gets no error code in the challenge.
        Refusal::NoSession | Refusal::Replaced => (
            StatusCode::UNAUTHORIZED,
            Some("Bearer"),
            r#"{"error":"unauthorized"}"#,
        ),
        Refusal::Level => (
            StatusCode::FORBIDDEN,
            Some(r#"Bearer error="insufficient_scope""#),
            r#"{"error":"insufficient_scope"}"#,
        ),
        Refusal::BadRequest => (
            StatusCode::BAD_REQUEST,
            token_sent.then_some(r#"Bearer error="invalid_request""#),
            r#"{"error":"invalid_request"}"#,
        ),
        Refusal::Other(status) => (status, None, other_code(status)),
    };
    let mut response = Response::new(B::from(Bytes::from_static(body.as_bytes())));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    if let Some(challenge) = challenge {
        headers.insert(WWW_AUTHENTICATE, HeaderValue::from_static(challenge));
    }
    response
}

/// Fixed bodies for refusals that are not about the token (RFC 6749 §5.2 names where one
/// fits).
fn other_code(status: StatusCode) -> &'static str {
    match status {
        StatusCode::FORBIDDEN => r#"{"error":"forbidden"}"#,
        StatusCode::TOO_MANY_REQUESTS => r#"{"error":"too_many_requests"}"#,
        StatusCode::SERVICE_UNAVAILABLE => r#"{"error":"temporarily_unavailable"}"#,
        StatusCode::BAD_REQUEST => r#"{"error":"invalid_request"}"#,
        _ => r#"{"error":"server_error"}"#,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// The verdict as text (it borrows from the header map, which ends here).
    fn parse(values: &[&'static str]) -> String {
        let mut h = HeaderMap::new();
        for v in values {
            h.append(AUTHORIZATION, HeaderValue::from_static(v));
        }
        format!("{:?}", authorization(&h))
    }

    #[test]
    fn bearer_scheme_is_case_insensitive_other_schemes_are_not_ours() {
        assert_eq!(parse(&["Bearer abc"]), r#"Bearer("abc")"#);
        assert_eq!(parse(&["bEaReR   abc "]), r#"Bearer("abc")"#);
        assert_eq!(parse(&[]), "None");
        assert_eq!(parse(&["Basic YWxhZGRpbjpvcGVuc2VzYW1l"]), "None");
        assert_eq!(parse(&["DPoP abc"]), "None");
    }

    #[test]
    fn unusable_bearer_credentials_are_invalid() {
        assert_eq!(parse(&["Bearer"]), "Invalid");
        assert_eq!(parse(&["Bearer  "]), "Invalid");
        assert_eq!(parse(&["Bearer a b"]), "Invalid");
        assert_eq!(parse(&["Bearer a", "Bearer a"]), "Invalid");
        assert_eq!(parse(&["Basic x", "Bearer a"]), "Invalid");
    }

    #[test]
    fn refusals_have_fixed_shapes() {
        let r: Response<Bytes> = refusal_response(Refusal::NoSession, true);
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(r.headers()[WWW_AUTHENTICATE], r#"Bearer error="invalid_token""#);
        assert_eq!(r.body().as_ref(), br#"{"error":"invalid_token"}"#);
        let r: Response<Bytes> = refusal_response(Refusal::Replaced, true);
        assert_eq!(r.body().as_ref(), br#"{"error":"invalid_token"}"#);
        let r: Response<Bytes> = refusal_response(Refusal::NoSession, false);
        assert_eq!(r.headers()[WWW_AUTHENTICATE], "Bearer");
        let r: Response<Bytes> = refusal_response(Refusal::Level, true);
        assert_eq!(r.status(), StatusCode::FORBIDDEN);
        assert_eq!(
            r.headers()[WWW_AUTHENTICATE],
            r#"Bearer error="insufficient_scope""#
        );
        let r: Response<Bytes> = refusal_response(Refusal::Other(StatusCode::SERVICE_UNAVAILABLE), true);
        assert!(r.headers().get(WWW_AUTHENTICATE).is_none());
        assert_eq!(r.headers()[CONTENT_TYPE], "application/json");
    }
}
