//! Where a request comes from: the full origin (scheme, host, port) of `Origin` or `Referer`
//! and the browser's `Sec-Fetch-Site`, judged against the server's own origin.
//!
//! Cross-site request forgery and login CSRF (a page elsewhere submitting a form to us) are
//! stopped here. A sibling subdomain is `same-site` but not same-origin, and a plain-HTTP page
//! on our own host name is another origin (RFC 6454 §4): both are foreign.

use http::header::{HeaderMap, HOST, ORIGIN, REFERER};
use http::request::Parts;
use http::{HeaderName, Method};

const SEC_FETCH_SITE: HeaderName = HeaderName::from_static("sec-fetch-site");

/// What the request's headers say about where it was made.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Provenance {
    /// A positive signal of our own origin and none to the contrary.
    SameOrigin,
    /// Any signal of another origin, or one that cannot be judged (`Origin: null`, an
    /// unparseable or non-http(s) origin, repeated headers).
    Foreign,
    /// No signal at all (non-browser clients send neither `Origin` nor `Sec-Fetch-*`).
    Unknown,
}

/// Whether `method` can change state (anything but GET, HEAD, OPTIONS, TRACE).
pub(crate) fn is_state_changing(method: &Method) -> bool {
    !matches!(
        *method,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE
    )
}

/// Judges the request against `allowed` origins, or, when that is empty, against its own
/// host with the scheme the cookie implies (`https` for a `Secure` cookie).
pub(crate) fn judge(parts: &Parts, allowed: &[String], secure: bool) -> Provenance {
    // Computed only for a request that claims an origin: most requests (a GET without
    // `Origin`) never pay for building and normalizing our own.
    let is_ours = |origin: &str| {
        if allowed.is_empty() {
            own_origin(parts, secure).as_deref() == Some(origin)
        } else {
            allowed.iter().any(|a| normalize(a).as_deref() == Some(origin))
        }
    };
    let headers = &parts.headers;
    let mut verdict = Provenance::Unknown;
    match single(headers, &SEC_FETCH_SITE) {
        Single::None => {}
        Single::One(b"same-origin") => verdict = Provenance::SameOrigin,
        Single::One(b"none") => {}
        // cross-site, same-site (a sibling subdomain), unknown values, repeats.
        _ => return Provenance::Foreign,
    }
    let claimed = match single(headers, &ORIGIN) {
        Single::Many => return Provenance::Foreign,
        Single::One(value) => normalize_bytes(value),
        Single::None => match single(headers, &REFERER) {
            Single::Many => return Provenance::Foreign,
            Single::One(value) => origin_of_url(value),
            Single::None => return verdict,
        },
    };
    match claimed {
        Some(origin) if is_ours(&origin) => Provenance::SameOrigin,
        _ => Provenance::Foreign,
    }
}

enum Single<'h> {
    None,
    One(&'h [u8]),
    Many,
}

fn single<'h>(headers: &'h HeaderMap, name: &HeaderName) -> Single<'h> {
    let mut values = headers.get_all(name).iter();
    match (values.next(), values.next()) {
        (None, _) => Single::None,
        (Some(v), None) => Single::One(v.as_bytes()),
        _ => Single::Many,
    }
}

/// Our origin as the client addressed us: `Host` (HTTP/1.1) or the URI authority (HTTP/2).
pub(super) fn own_origin(parts: &Parts, secure: bool) -> Option<String> {
    let scheme = if secure { "https" } else { "http" };
    let host = match single(&parts.headers, &HOST) {
        Single::One(h) => std::str::from_utf8(h).ok()?,
        Single::None => parts.uri.authority()?.as_str(),
        Single::Many => return None,
    };
    normalize(&format!("{scheme}://{host}"))
}

/// The origin of a `Referer` URL (scheme and authority; path, query and fragment dropped).
fn origin_of_url(url: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(url).ok()?;
    let (scheme, rest) = text.split_once("://")?;
    let authority = rest.split(['/', '?', '#']).next()?;
    normalize(&format!("{scheme}://{authority}"))
}

fn normalize_bytes(origin: &[u8]) -> Option<String> {
    normalize(std::str::from_utf8(origin).ok()?)
}

/// `scheme://host[:port]`, lowercased, default port dropped; `None` for anything else
/// (`null`, other schemes, user info, paths, empty or non-numeric ports).
pub(super) fn normalize(origin: &str) -> Option<String> {
    let (scheme, authority) = origin.split_once("://")?;
    let scheme = scheme.to_ascii_lowercase();
    let default_port = match scheme.as_str() {
        "https" => "443",
        "http" => "80",
        _ => return None,
    };
    let authority = authority.to_ascii_lowercase();
    if authority.is_empty() || authority.contains(['/', '?', '#', '@', ' ', '\\']) {
        return None;
    }
    // The port follows the last ':' outside an IPv6 literal.
    let (host, port) = match authority.rfind(':') {
        Some(i) if !authority.get(i..)?.contains(']') => (authority.get(..i)?, Some(authority.get(i + 1..)?)),
        _ => (authority.as_str(), None),
    };
    if host.is_empty() {
        return None;
    }
    match port {
        None => Some(format!("{scheme}://{host}")),
        Some(p) if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) => None,
        Some(p) if p.trim_start_matches('0') == default_port => Some(format!("{scheme}://{host}")),
        Some(p) => Some(format!("{scheme}://{host}:{}", p.parse::<u16>().ok()?)),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use http::Request;

    fn judge_with(secure: bool, headers: &[(&'static str, &'static str)]) -> Provenance {
        let mut b = Request::builder().method("POST").uri("/login");
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        let (parts, ()) = b.body(()).unwrap().into_parts();
        judge(&parts, &[], secure)
    }

    #[test]
    fn scheme_host_and_port_must_all_match() {
        use Provenance::*;
        let host = ("host", "www.bank.test:8443");
        assert_eq!(
            judge_with(true, &[host, ("origin", "https://www.bank.test:8443")]),
            SameOrigin
        );
        assert_eq!(
            judge_with(true, &[host, ("origin", "http://www.bank.test:8443")]),
            Foreign
        );
        assert_eq!(
            judge_with(true, &[host, ("origin", "https://www.bank.test")]),
            Foreign
        );
        assert_eq!(
            judge_with(true, &[host, ("origin", "https://evil.bank.test:8443")]),
            Foreign
        );
        assert_eq!(
            judge_with(
                true,
                &[("host", "www.bank.test"), ("origin", "https://WWW.bank.test:443")]
            ),
            SameOrigin
        );
        assert_eq!(
            judge_with(false, &[("host", "127.0.0.1:80"), ("origin", "http://127.0.0.1")]),
            SameOrigin
        );
        assert_eq!(
            judge_with(true, &[host, ("referer", "https://www.bank.test:8443/login?x")]),
            SameOrigin
        );
        assert_eq!(
            judge_with(true, &[host, ("referer", "http://www.bank.test:8443/")]),
            Foreign
        );
    }

    #[test]
    fn unjudgeable_signals_are_foreign() {
        use Provenance::*;
        let host = ("host", "a.test");
        for origin in [
            "null",
            "ftp://a.test",
            "https://a.test/x",
            "https://u@a.test",
            "https://a.test:x",
            "garbage",
            "",
        ] {
            assert_eq!(judge_with(true, &[host, ("origin", origin)]), Foreign, "{origin}");
        }
        let twice = [host, ("origin", "https://a.test"), ("origin", "https://a.test")];
        assert_eq!(judge_with(true, &twice), Foreign);
        assert_eq!(
            judge_with(true, &[host, ("sec-fetch-site", "same-site")]),
            Foreign
        );
        assert_eq!(
            judge_with(true, &[host, ("sec-fetch-site", "cross-site")]),
            Foreign
        );
        assert_eq!(judge_with(true, &[host, ("sec-fetch-site", "bogus")]), Foreign);
        assert_eq!(
            judge_with(
                true,
                &[
                    host,
                    ("sec-fetch-site", "same-origin"),
                    ("origin", "https://evil.test")
                ]
            ),
            Foreign
        );
    }

    #[test]
    fn positive_and_absent_signals() {
        use Provenance::*;
        let host = ("host", "a.test");
        assert_eq!(
            judge_with(true, &[host, ("sec-fetch-site", "same-origin")]),
            SameOrigin
        );
        assert_eq!(judge_with(true, &[host]), Unknown);
        assert_eq!(judge_with(true, &[host, ("sec-fetch-site", "none")]), Unknown);
    }
}
