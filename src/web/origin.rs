//! The suspicious-referrer rule: a state-changing request from a foreign origin.

use http::header::{HeaderMap, HOST, ORIGIN, REFERER};
use http::Method;

/// Whether `method` can change state (anything but GET, HEAD, OPTIONS, TRACE).
pub(crate) fn is_state_changing(method: &Method) -> bool {
    !matches!(
        *method,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE
    )
}

/// `scheme://authority` of a URL, lowercased, or `None` if it has no authority.
fn origin_of(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let authority = rest.split(['/', '?', '#']).next()?;
    (!authority.is_empty()).then(|| {
        format!(
            "{}://{}",
            scheme.to_ascii_lowercase(),
            authority.to_ascii_lowercase()
        )
    })
}

/// Judges `Origin` (or, without it, `Referer`) against the allow-list, or against the
/// request's own `Host` when the list is empty. A request with neither header is judged by
/// `require_origin`: non-browser clients send neither, browsers send `Origin` on every POST.
pub(crate) fn is_foreign(headers: &HeaderMap, allowed: &[String], require_origin: bool) -> bool {
    let claimed = headers
        .get(ORIGIN)
        .and_then(|v| v.to_str().ok())
        .filter(|o| *o != "null")
        .or_else(|| headers.get(REFERER).and_then(|v| v.to_str().ok()));
    let Some(claimed) = claimed else {
        // "Origin: null" (sandboxed frames, some redirects) is treated as foreign.
        return headers.contains_key(ORIGIN) || require_origin;
    };
    let Some(origin) = origin_of(claimed) else {
        return true;
    };
    if !allowed.is_empty() {
        return !allowed.iter().any(|a| a.eq_ignore_ascii_case(&origin));
    }
    let host = headers.get(HOST).and_then(|v| v.to_str().ok()).unwrap_or("");
    let authority = origin.split_once("://").map_or("", |(_, a)| a);
    host.is_empty() || !authority.eq_ignore_ascii_case(host)
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn h(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut m = HeaderMap::new();
        for (k, v) in pairs {
            m.insert(*k, HeaderValue::from_static(v));
        }
        m
    }

    #[test]
    fn same_host_is_not_foreign_and_others_are() {
        assert!(!is_foreign(
            &h(&[
                ("host", "www.bank.test:8443"),
                ("origin", "https://www.bank.test:8443")
            ]),
            &[],
            false
        ));
        assert!(is_foreign(
            &h(&[
                ("host", "www.bank.test:8443"),
                ("origin", "https://evil.bank.test:8443")
            ]),
            &[],
            false
        ));
        assert!(is_foreign(
            &h(&[("host", "a"), ("referer", "https://evil.test/x?y")]),
            &[],
            false
        ));
        assert!(is_foreign(&h(&[("host", "a"), ("origin", "null")]), &[], false));
        assert!(!is_foreign(&h(&[("host", "a")]), &[], false));
        assert!(is_foreign(&h(&[("host", "a")]), &[], true));
        let allowed = vec!["https://www.bank.test".to_owned()];
        assert!(!is_foreign(
            &h(&[("origin", "https://WWW.bank.test")]),
            &allowed,
            false
        ));
    }
}
