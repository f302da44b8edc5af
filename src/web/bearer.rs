//! API requests (RFC 6750, RFC 9449): reading `Authorization: Bearer` and `Authorization:
//! DPoP`, and the refusals an API client can act on — 401/403 with `WWW-Authenticate: Bearer`
//! or `DPoP` and a fixed JSON body that never says which check failed.

use bytes::Bytes;
use http::header::{HeaderMap, HeaderValue, AUTHORIZATION, CONTENT_TYPE, WWW_AUTHENTICATE};
use http::{Response, StatusCode};

use crate::dpop::DpopErrorCode;

/// The two token schemes the layer reads from `Authorization`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Scheme {
    /// RFC 6750 §2.1.
    Bearer,
    /// RFC 9449 §7.1: the token comes with a `DPoP` proof of its key.
    Dpop,
}

/// What the `Authorization` header holds.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Authorization<'h> {
    /// No header, or a scheme other than Bearer and DPoP (not ours to judge).
    None,
    /// `<scheme> <token>`, scheme matched case-insensitively (RFC 9110 §11.1).
    Token(Scheme, &'h str),
    /// A credential of this scheme that cannot be a token (empty, not visible ASCII), or
    /// more than one `Authorization` header (RFC 6750 §2: one method, one token per request),
    /// named by the first one's scheme (Bearer when it has neither).
    Invalid(Scheme),
}

/// Reads the request's `Authorization` header (RFC 6750 §2.1, RFC 9449 §7.1: `<scheme> 1*SP
/// token`). The token is borrowed from the header, so no copy of it is made.
pub(crate) fn authorization(headers: &HeaderMap) -> Authorization<'_> {
    let mut values = headers.get_all(AUTHORIZATION).iter();
    let Some(first) = values.next() else {
        return Authorization::None;
    };
    let parsed = parse(first);
    if values.next().is_some() {
        return match parsed {
            Authorization::Token(scheme, _) | Authorization::Invalid(scheme) => {
                Authorization::Invalid(scheme)
            }
            Authorization::None => Authorization::Invalid(Scheme::Bearer),
        };
    }
    parsed
}

fn parse(value: &HeaderValue) -> Authorization<'_> {
    let Ok(text) = value.to_str() else {
        return Authorization::None;
    };
    let (name, rest) = text.split_once(' ').unwrap_or((text, ""));
    let scheme = if name.eq_ignore_ascii_case("bearer") {
        Scheme::Bearer
    } else if name.eq_ignore_ascii_case("dpop") {
        Scheme::Dpop
    } else {
        return Authorization::None;
    };
    match rest.trim_matches(' ') {
        "" => Authorization::Invalid(scheme),
        token if token.bytes().all(|b| b.is_ascii_graphic()) => Authorization::Token(scheme, token),
        _ => Authorization::Invalid(scheme),
    }
}

/// A session refusal, as [`super::WebError`] classifies it. `WebError::into_response` puts
/// it in the response's extensions; the layer, which knows how the request authenticated,
/// turns it into the RFC 6750 / RFC 9449 form for API requests and removes it.
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
    /// An API login without the `DPoP` proof a DPoP-only layer requires
    /// (`invalid_dpop_proof`, RFC 9449 §7.1).
    ProofRequired,
    /// Anything else, by status: a fixed code for each.
    Other(StatusCode),
}

/// The challenges a refusal carries: `Bearer`, `DPoP` (with its `algs`), or both for a
/// request that sent no credential to a layer taking both (RFC 9449 §7.1, RFC 9110 §11.6.1).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Challenges<'a> {
    pub(crate) bearer: bool,
    pub(crate) dpop_algs: Option<&'a str>,
}

/// The RFC 6750 §3 / RFC 9449 §7.1 answer to `refusal`. `token_sent` says whether the
/// request carried a token; every kind of invalid token gets the same bytes (no oracle).
pub(crate) fn refusal_response<B: From<Bytes>>(
    refusal: Refusal,
    token_sent: bool,
    challenges: Challenges<'_>,
) -> Response<B> {
    // `Some(code)`: challenge with that error code; `Some("")`: a bare challenge.
    let (status, error, body): (_, Option<&str>, &'static str) = match refusal {
        Refusal::NoSession | Refusal::Replaced if token_sent => (
            StatusCode::UNAUTHORIZED,
            Some("invalid_token"),
            r#"{"error":"invalid_token"}"#,
        ),
        // §3.1: a request without credentials gets no error code in the challenge.
        Refusal::NoSession | Refusal::Replaced => {
            (StatusCode::UNAUTHORIZED, Some(""), r#"{"error":"unauthorized"}"#)
        }
        Refusal::Level => (
            StatusCode::FORBIDDEN,
            Some("insufficient_scope"),
            r#"{"error":"insufficient_scope"}"#,
        ),
        Refusal::BadRequest => (
            StatusCode::BAD_REQUEST,
            token_sent.then_some("invalid_request"),
            r#"{"error":"invalid_request"}"#,
        ),
        Refusal::ProofRequired => {
            let dpop_only = Challenges {
                bearer: false,
                ..challenges
            };
            return proof_refusal(DpopErrorCode::InvalidDpopProof, dpop_only);
        }
        Refusal::Other(status) => (status, None, other_code(status)),
    };
    let mut response = json(status, body);
    if let Some(error) = error {
        add_challenges(response.headers_mut(), challenges, error);
    }
    response
}

/// The layer's answer to a refused `DPoP` proof (RFC 9449 §7.1, §9): 401 with a `DPoP`
/// challenge naming only the RFC's code; the precise reason went to the event.
pub(crate) fn proof_refusal<B: From<Bytes>>(code: DpopErrorCode, challenges: Challenges<'_>) -> Response<B> {
    let body = match code {
        DpopErrorCode::InvalidDpopProof => r#"{"error":"invalid_dpop_proof"}"#,
        DpopErrorCode::UseDpopNonce => r#"{"error":"use_dpop_nonce"}"#,
    };
    let mut response = json(StatusCode::UNAUTHORIZED, body);
    let dpop_only = Challenges {
        bearer: false,
        ..challenges
    };
    add_challenges(response.headers_mut(), dpop_only, code.as_str());
    response
}

fn json<B: From<Bytes>>(status: StatusCode, body: &'static str) -> Response<B> {
    let mut response = Response::new(B::from(Bytes::from_static(body.as_bytes())));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

/// `WWW-Authenticate: Bearer[ error="…"]` and `WWW-Authenticate: DPoP[ error="…",] algs="…"`.
fn add_challenges(headers: &mut HeaderMap, challenges: Challenges<'_>, error: &str) {
    let error = (!error.is_empty()).then(|| format!(r#"error="{error}""#));
    if challenges.bearer {
        let value = error
            .as_ref()
            .map_or_else(|| "Bearer".to_owned(), |e| format!("Bearer {e}"));
        append(headers, value);
    }
    if let Some(algs) = challenges.dpop_algs {
        let value = match &error {
            Some(e) => format!(r#"DPoP {e}, algs="{algs}""#),
            None => format!(r#"DPoP algs="{algs}""#),
        };
        append(headers, value);
    }
}

fn append(headers: &mut HeaderMap, value: String) {
    // Only fixed codes and algorithm names go in: always a valid header value.
    if let Ok(value) = HeaderValue::try_from(value) {
        headers.append(WWW_AUTHENTICATE, value);
    }
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
    fn schemes_are_case_insensitive_other_schemes_are_not_ours() {
        assert_eq!(parse(&["Bearer abc"]), r#"Token(Bearer, "abc")"#);
        assert_eq!(parse(&["bEaReR   abc "]), r#"Token(Bearer, "abc")"#);
        assert_eq!(parse(&["DPoP abc"]), r#"Token(Dpop, "abc")"#);
        assert_eq!(parse(&["dpop abc"]), r#"Token(Dpop, "abc")"#);
        assert_eq!(parse(&[]), "None");
        assert_eq!(parse(&["Basic YWxhZGRpbjpvcGVuc2VzYW1l"]), "None");
    }

    #[test]
    fn unusable_credentials_are_invalid() {
        assert_eq!(parse(&["Bearer"]), "Invalid(Bearer)");
        assert_eq!(parse(&["Bearer  "]), "Invalid(Bearer)");
        assert_eq!(parse(&["Bearer a b"]), "Invalid(Bearer)");
        assert_eq!(parse(&["DPoP a b"]), "Invalid(Dpop)");
        assert_eq!(parse(&["Bearer a", "Bearer a"]), "Invalid(Bearer)");
        assert_eq!(parse(&["DPoP a", "Bearer a"]), "Invalid(Dpop)");
        assert_eq!(parse(&["Basic x", "Bearer a"]), "Invalid(Bearer)");
    }

    const BEARER: Challenges<'static> = Challenges {
        bearer: true,
        dpop_algs: None,
    };

    #[test]
    fn refusals_have_fixed_shapes() {
        let r: Response<Bytes> = refusal_response(Refusal::NoSession, true, BEARER);
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(r.headers()[WWW_AUTHENTICATE], r#"Bearer error="invalid_token""#);
        assert_eq!(r.body().as_ref(), br#"{"error":"invalid_token"}"#);
        let r: Response<Bytes> = refusal_response(Refusal::Replaced, true, BEARER);
        assert_eq!(r.body().as_ref(), br#"{"error":"invalid_token"}"#);
        let r: Response<Bytes> = refusal_response(Refusal::NoSession, false, BEARER);
        assert_eq!(r.headers()[WWW_AUTHENTICATE], "Bearer");
        let r: Response<Bytes> = refusal_response(Refusal::Level, true, BEARER);
        assert_eq!(r.status(), StatusCode::FORBIDDEN);
        assert_eq!(
            r.headers()[WWW_AUTHENTICATE],
            r#"Bearer error="insufficient_scope""#
        );
        let r: Response<Bytes> =
            refusal_response(Refusal::Other(StatusCode::SERVICE_UNAVAILABLE), true, BEARER);
        assert!(r.headers().get(WWW_AUTHENTICATE).is_none());
        assert_eq!(r.headers()[CONTENT_TYPE], "application/json");
    }

    #[test]
    fn dpop_challenges_carry_algs_and_both_schemes_can_be_offered() {
        let both = Challenges {
            bearer: true,
            dpop_algs: Some("ES256 EdDSA"),
        };
        let r: Response<Bytes> = refusal_response(Refusal::NoSession, false, both);
        let values: Vec<_> = r.headers().get_all(WWW_AUTHENTICATE).iter().collect();
        assert_eq!(values, ["Bearer", r#"DPoP algs="ES256 EdDSA""#]);
        let dpop = Challenges {
            bearer: false,
            ..both
        };
        let r: Response<Bytes> = refusal_response(Refusal::NoSession, true, dpop);
        assert_eq!(
            r.headers()[WWW_AUTHENTICATE],
            r#"DPoP error="invalid_token", algs="ES256 EdDSA""#
        );
        let r: Response<Bytes> = proof_refusal(DpopErrorCode::UseDpopNonce, both);
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(r.headers().get_all(WWW_AUTHENTICATE).iter().count(), 1);
        assert_eq!(
            r.headers()[WWW_AUTHENTICATE],
            r#"DPoP error="use_dpop_nonce", algs="ES256 EdDSA""#
        );
        assert_eq!(r.body().as_ref(), br#"{"error":"use_dpop_nonce"}"#);
    }
}
