//! The session cookie: attributes on the way out, strict parsing on the way in.

use bytes::Bytes;
use http::header::{HeaderMap, HeaderValue, COOKIE};
use zeroize::Zeroizing;

use crate::clock::UnixTime;
use crate::error::ConfigError;
use crate::token::sealer::SealedToken;

/// Browsers drop cookies whose name, value and attributes exceed 4096 bytes (RFC 6265 §6.1).
pub(crate) const MAX_COOKIE_BYTES: usize = 4096;

/// Why a `Set-Cookie` header could not be built (a runtime failure, not a setting).
///
/// ```
/// use axum::response::IntoResponse;
/// use sealed_session::web::{CookieError, WebError};
/// // A server-side fault: the client gets a bare 500, never the cause.
/// let error = WebError::from(CookieError::TooLarge);
/// assert_eq!(error.into_response().status(), http::StatusCode::INTERNAL_SERVER_ERROR);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CookieError {
    /// Name, value and attributes over 4096 bytes: browsers would silently drop the cookie
    /// (RFC 6265 §6.1). Only large application data can do this.
    #[error("session cookie over 4096 bytes; browsers would drop it")]
    TooLarge,
    /// A byte a header value cannot carry (the cookie name is checked when set, and tokens
    /// are base64url, so this is not expected).
    #[error("session cookie is not a valid header value")]
    NotAHeader,
}

/// What the request's `Cookie` headers held under the session cookie's name.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Found<'h> {
    None,
    One(&'h str),
    /// The name appeared more than once (cookie tossing or path shadowing): the whole set is
    /// refused, because choosing one would let the attacker choose which.
    Duplicate,
    /// Our cookie, with bytes no token can contain.
    Invalid,
}

/// Cookie name and attributes. Defaults: `__Host-session`, `Secure`, `HttpOnly`,
/// `SameSite=Lax`, `Path=/`, no `Domain`.
#[derive(Clone, Debug)]
pub(crate) struct CookieSettings {
    name: String,
    /// `SameSite=Strict` instead of the default `Lax`.
    same_site_strict: bool,
    secure: bool,
}

impl Default for CookieSettings {
    fn default() -> Self {
        Self {
            name: "__Host-session".into(),
            same_site_strict: false,
            secure: true,
        }
    }
}

impl CookieSettings {
    /// `SameSite=Strict` instead of `Lax` (the cookie is then not sent on top-level
    /// navigations from other sites, e.g. links in e-mail).
    #[must_use]
    pub(crate) fn with_same_site_strict(mut self) -> Self {
        self.same_site_strict = true;
        self
    }

    /// A different cookie name. Keep the `__Host-` prefix: without it a sibling subdomain
    /// can plant a cookie for this host.
    ///
    /// # Errors
    /// An empty name, or one with characters a cookie name cannot carry.
    pub(crate) fn with_name(mut self, name: &str) -> Result<Self, ConfigError> {
        let valid = !name.is_empty()
            && name.len() <= 128
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.!#$%&'*+^`|~".contains(&b));
        if !valid {
            return Err(ConfigError::CookieName);
        }
        self.name = name.to_owned();
        Ok(self)
    }

    /// Drops `Secure` and the `__Host-` prefix for plain-HTTP development on loopback.
    ///
    /// # Warning
    /// Without `Secure` the cookie travels in clear text and any sibling subdomain or network
    /// attacker can overwrite it. Never use this in production.
    #[must_use]
    pub(crate) fn dangerous_insecure_http(mut self) -> Self {
        self.secure = false;
        if let Some(rest) = self.name.strip_prefix("__Host-") {
            self.name = rest.to_owned();
        }
        self
    }

    /// The cookie name.
    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    /// `Set-Cookie` value carrying `token`, with `Max-Age` until it expires. The header's
    /// bytes are wiped when the response that carries it is dropped.
    ///
    /// # Errors
    /// [`CookieError::TooLarge`] when the cookie would exceed 4096 bytes.
    pub(crate) fn set_cookie(
        &self,
        token: &SealedToken,
        expires_at: UnixTime,
        now: UnixTime,
    ) -> Result<HeaderValue, CookieError> {
        let max_age = expires_at.0.saturating_sub(now.0);
        self.header(token.expose_secret(), max_age)
    }

    /// `Set-Cookie` value that deletes the session cookie.
    pub(crate) fn clear_cookie(&self) -> HeaderValue {
        self.header("", 0)
            .unwrap_or_else(|_| HeaderValue::from_static(""))
    }

    /// Whether the cookie carries `Secure` (so the site is served over HTTPS).
    pub(crate) fn is_secure(&self) -> bool {
        self.secure
    }

    /// `name=value; Max-Age=…; Path=/; Secure; HttpOnly; SameSite=…`, written into a buffer
    /// that is zeroized when the header is dropped (it holds the bearer secret).
    fn header(&self, value: &str, max_age: u64) -> Result<HeaderValue, CookieError> {
        use std::fmt::Write as _;
        let mut text = Zeroizing::new(String::with_capacity(self.name.len() + value.len() + 96));
        let same_site = if self.same_site_strict { "Strict" } else { "Lax" };
        // Writing to a String cannot fail.
        let _ = write!(text, "{}={}; Max-Age={}; Path=/", self.name, value, max_age);
        if self.secure {
            text.push_str("; Secure");
        }
        let _ = write!(text, "; HttpOnly; SameSite={same_site}");
        if text.len() > MAX_COOKIE_BYTES {
            return Err(CookieError::TooLarge);
        }
        let bytes = Zeroizing::new(core::mem::take(&mut *text).into_bytes());
        HeaderValue::from_maybe_shared(Bytes::from_owner(bytes)).map_err(|_| CookieError::NotAHeader)
    }

    /// Looks for the session cookie in every `Cookie` header of the request, as bytes: a pair
    /// that is not well formed (no `=`, bytes outside US-ASCII) is skipped on its own, so a
    /// junk cookie planted by a sibling subdomain cannot hide the session cookie.
    pub(crate) fn find<'h>(&self, headers: &'h HeaderMap) -> Found<'h> {
        let mut found = Found::None;
        for header in headers.get_all(COOKIE) {
            let bytes = header.as_bytes();
            // Pairs between `;`s, found by a vector search (a byte-by-byte split cost about
            // three instructions per byte of every cookie the browser sends).
            let ends = memchr::memchr_iter(b';', bytes).chain(std::iter::once(bytes.len()));
            let mut start = 0;
            for end in ends {
                let pair = bytes.get(start..end).unwrap_or_default();
                start = end.saturating_add(1);
                let Some((name, value)) = split_pair(pair) else {
                    continue;
                };
                if name != self.name.as_bytes() {
                    continue;
                }
                // Borrowed from the header as sent (quotes included: a quoted value is not a
                // token and will be refused), so no copy of the bearer secret is made.
                let value = all_cookie_octets(value)
                    .then(|| std::str::from_utf8(value).ok())
                    .flatten();
                found = match (found, value) {
                    (Found::None, Some(v)) => Found::One(v),
                    (Found::None, None) => Found::Invalid,
                    _ => return Found::Duplicate,
                };
            }
        }
        found
    }
}

/// `name=value` with optional whitespace around each (RFC 6265 §5.2 splits on the first `=`).
fn split_pair(pair: &[u8]) -> Option<(&[u8], &[u8])> {
    let eq = memchr::memchr(b'=', pair)?;
    let name = trim_ows(pair.get(..eq)?);
    let value = trim_ows(pair.get(eq + 1..)?);
    (!name.is_empty()).then_some((name, value))
}

fn trim_ows(mut bytes: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = bytes {
        bytes = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = bytes {
        bytes = rest;
    }
    bytes
}

/// Visible US-ASCII without `"`, `,`, `;` and `\\` (RFC 6265 §4.1.1 cookie-octet), plus the
/// double quote, which is then refused as a token like any other non-token text.
/// The definition `all_cookie_octets` is tested against.
#[cfg(test)]
fn is_cookie_octet(b: u8) -> bool {
    matches!(b, 0x21..=0x7e) && !matches!(b, b',' | b';' | b'\\')
}

/// Whether every byte is a cookie octet (RFC 6265 §4.1.1), without an early exit: the
/// comparisons fold into one flag, which the compiler turns into wide vector compares (a
/// token-sized value cost about 1,400 instructions byte by byte).
fn all_cookie_octets(value: &[u8]) -> bool {
    value.iter().fold(true, |ok, &b| {
        ok & (b.wrapping_sub(0x21) < 0x5e) & (b != b',') & (b != b';') & (b != b'\\')
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;

    #[test]
    fn the_folded_octet_check_is_the_definition() {
        for b in 0..=255u8 {
            assert_eq!(all_cookie_octets(&[b]), is_cookie_octet(b), "{b:#x}");
            let mut long = vec![b'A'; 37];
            long[19] = b;
            assert_eq!(all_cookie_octets(&long), is_cookie_octet(b), "{b:#x}");
        }
        assert!(all_cookie_octets(b""));
    }

    #[test]
    fn duplicates_anywhere_are_refused() {
        let s = CookieSettings::default();
        let mut h = HeaderMap::new();
        h.append(COOKIE, HeaderValue::from_static("a=1; __Host-session=x"));
        assert_eq!(s.find(&h), Found::One("x"));
        h.append(COOKIE, HeaderValue::from_static("__Host-session=y"));
        assert_eq!(s.find(&h), Found::Duplicate);
    }

    #[test]
    fn malformed_pairs_are_skipped_one_by_one() {
        let s = CookieSettings::default();
        let mut h = HeaderMap::new();
        h.append(
            COOKIE,
            HeaderValue::from_bytes(b"junk=\xc3\xa9t\xc3\xa9; novalue; =x; __Host-session=tok; z=\x80")
                .unwrap(),
        );
        assert_eq!(s.find(&h), Found::One("tok"));
        let mut h = HeaderMap::new();
        h.append(
            COOKIE,
            HeaderValue::from_bytes(b"__Host-session=\xc3\xa9").unwrap(),
        );
        assert_eq!(s.find(&h), Found::Invalid);
        h.append(COOKIE, HeaderValue::from_static("__Host-session=tok"));
        assert_eq!(
            s.find(&h),
            Found::Duplicate,
            "an invalid copy still counts as a duplicate"
        );
    }

    #[test]
    fn set_cookie_has_every_attribute() {
        let s = CookieSettings::default();
        let v = s.clear_cookie();
        assert_eq!(
            v.to_str().unwrap(),
            "__Host-session=; Max-Age=0; Path=/; Secure; HttpOnly; SameSite=Lax"
        );
    }
}
