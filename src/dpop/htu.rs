//! Comparing `htu` with the request URI (RFC 9449 §4.3 check 9: "ignoring any query and
//! fragment parts"). Both sides go through the same normalisation, which RFC 9449 §4.3 asks
//! for to avoid false negatives, kept to what is unambiguous:
//!
//! - RFC 3986 §6.2.2.1 case normalisation: scheme and host lowercased, the hex digits of
//!   percent-encodings uppercased;
//! - RFC 3986 §6.2.2.2 percent-encoding normalisation: `%41` and other encoded unreserved
//!   characters decoded;
//! - RFC 3986 §6.2.3 scheme-based normalisation: an empty or default port (`:443` for
//!   `https`, `:80` for `http`) dropped, an empty path written `/`.
//!
//! Dot segments are *not* removed (§6.2.2.3) and nothing else is rewritten: a client signs
//! the URI it sends, so a path that differs after this is a different resource. Only absolute
//! `http` and `https` URIs without userinfo (RFC 9110 §4.2.4) and with visible ASCII only are
//! accepted.

use core::fmt::Write as _;

/// The normal form of `uri`, or `None` when it is not an absolute http(s) URI.
pub(crate) fn normalize(uri: &str) -> Option<String> {
    // RFC 3986 §3: the query starts at the first '?', the fragment at the first '#'.
    let end = uri.find(['?', '#']).unwrap_or(uri.len());
    let uri = uri.get(..end)?;
    if !uri.bytes().all(|b| b.is_ascii_graphic()) {
        return None;
    }
    let (scheme, rest) = uri.split_once("://")?;
    let scheme = scheme.to_ascii_lowercase();
    let default_port = match scheme.as_str() {
        "https" => 443,
        "http" => 80,
        _ => return None,
    };
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let (host, port) = split_authority(authority)?;
    let mut out = String::with_capacity(uri.len() + 1);
    out.push_str(&scheme);
    out.push_str("://");
    out.push_str(&host.to_ascii_lowercase());
    if let Some(port) = port.filter(|&p| p != default_port) {
        // Writing to a String cannot fail.
        let _ = write!(out, ":{port}");
    }
    if path.is_empty() {
        out.push('/');
    } else {
        push_path(&mut out, path)?;
    }
    Some(out)
}

/// Host (a bracketed IP literal or a name without `:`, `@`, `%` or brackets) and port.
fn split_authority(authority: &str) -> Option<(&str, Option<u16>)> {
    let (host, port) = if authority.starts_with('[') {
        let close = authority.find(']')?;
        let (host, after) = authority.split_at(close + 1);
        (
            host,
            if after.is_empty() {
                None
            } else {
                Some(after.strip_prefix(':')?)
            },
        )
    } else {
        match authority.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        }
    };
    let bad = |c: char| matches!(c, '@' | '%' | ':' | '[' | ']');
    if host.is_empty() || (!host.starts_with('[') && host.contains(bad)) {
        return None;
    }
    let port = match port {
        // RFC 3986 §6.2.3: "http://example.com:/" is the same as "http://example.com/".
        None | Some("") => None,
        Some(digits) if digits.bytes().all(|b| b.is_ascii_digit()) => Some(digits.parse::<u16>().ok()?),
        Some(_) => return None,
    };
    Some((host, port))
}

/// Copies `path`, uppercasing percent-encoding hex digits and decoding encoded unreserved
/// characters (RFC 3986 §2.3); a `%` not followed by two hex digits is not a URI.
fn push_path(out: &mut String, path: &str) -> Option<()> {
    let mut bytes = path.bytes();
    while let Some(b) = bytes.next() {
        if b != b'%' {
            out.push(char::from(b));
            continue;
        }
        let hi = hex(bytes.next()?)?;
        let lo = hex(bytes.next()?)?;
        let decoded = hi << 4 | lo;
        if decoded.is_ascii_alphanumeric() || matches!(decoded, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(decoded));
        } else {
            let _ = write!(out, "%{decoded:02X}");
        }
    }
    Some(())
}

fn hex(b: u8) -> Option<u8> {
    char::from(b).to_digit(16).and_then(|d| u8::try_from(d).ok())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
    use super::*;

    fn n(uri: &str) -> Option<String> {
        normalize(uri)
    }

    #[test]
    fn query_and_fragment_are_ignored() {
        let plain = n("https://server.example.com/token");
        assert_eq!(plain.as_deref(), Some("https://server.example.com/token"));
        for same in [
            "https://server.example.com/token?x=1",
            "https://server.example.com/token#frag",
            "https://server.example.com/token?x=1#frag",
            "https://server.example.com/token?",
        ] {
            assert_eq!(n(same), plain, "{same}");
        }
    }

    #[test]
    fn case_port_and_empty_path_are_normalised() {
        let base = Some("https://api.example/".to_owned());
        for same in [
            "https://api.example",
            "HTTPS://API.Example/",
            "https://api.example:443/",
            "https://api.example:/",
            "https://api.example:0443/",
        ] {
            assert_eq!(n(same), base, "{same}");
        }
        assert_eq!(
            n("http://api.example:80/a").as_deref(),
            Some("http://api.example/a")
        );
        assert_eq!(
            n("http://api.example:443/a").as_deref(),
            Some("http://api.example:443/a")
        );
        assert_eq!(n("https://[::1]:8443/a").as_deref(), Some("https://[::1]:8443/a"));
        assert_eq!(n("https://[::1]/a").as_deref(), Some("https://[::1]/a"));
    }

    #[test]
    fn percent_encodings_are_normalised_but_the_path_is_otherwise_exact() {
        assert_eq!(
            n("https://a.example/%7euser/%2f%41").as_deref(),
            Some("https://a.example/~user/%2FA")
        );
        assert_ne!(
            n("https://a.example/A"),
            n("https://a.example/a"),
            "paths are case-sensitive"
        );
        assert_ne!(
            n("https://a.example/a/../b"),
            n("https://a.example/b"),
            "dot segments are kept"
        );
        assert_ne!(n("https://a.example/a/"), n("https://a.example/a"));
    }

    #[test]
    fn anything_but_an_absolute_http_uri_is_refused() {
        for bad in [
            "",
            "/token",
            "server.example.com/token",
            "ftp://server.example.com/",
            "https:/server.example.com/",
            "https://",
            "https:///path",
            "https://user@server.example.com/",
            "https://server.example.com:99999/",
            "https://server.example.com:44a/",
            "https://a:1:2/",
            "https://[::1/",
            "https://[::1]x/",
            "https://exa mple.com/",
            "https://example.com/\u{e9}",
            "https://example.com/%4",
            "https://example.com/%zz",
            "https://ex%41mple.com/",
        ] {
            assert_eq!(n(bad), None, "{bad:?}");
        }
    }
}
