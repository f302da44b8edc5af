//! The session cookie: attributes on the way out, strict parsing on the way in.

use cookie::time::Duration as CookieDuration;
use cookie::{Cookie, SameSite};
use http::header::{HeaderMap, HeaderValue, COOKIE};

use crate::clock::UnixTime;
use crate::error::ConfigError;
use crate::sealer::SealedToken;

/// Browsers drop cookies whose name, value and attributes exceed 4096 bytes (RFC 6265 §6.1).
pub const MAX_COOKIE_BYTES: usize = 4096;

/// What the request's `Cookie` headers held under the session cookie's name.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Found<'h> {
    None,
    One(&'h str),
    /// The name appeared more than once (cookie tossing or path shadowing): the whole set is
    /// refused, because choosing one would let the attacker choose which.
    Duplicate,
}

/// Cookie name and attributes. Defaults: `__Host-session`, `Secure`, `HttpOnly`,
/// `SameSite=Lax`, `Path=/`, no `Domain`.
#[derive(Clone, Debug)]
pub struct CookieSettings {
    name: String,
    same_site: SameSite,
    secure: bool,
}

impl Default for CookieSettings {
    fn default() -> Self {
        Self {
            name: "__Host-session".into(),
            same_site: SameSite::Lax,
            secure: true,
        }
    }
}

impl CookieSettings {
    /// `SameSite=Strict` instead of `Lax` (the cookie is then not sent on top-level
    /// navigations from other sites, e.g. links in e-mail).
    ///
    /// ```
    /// let c = sealed_session::web::CookieSettings::default().with_same_site_strict();
    /// ```
    #[must_use]
    pub fn with_same_site_strict(mut self) -> Self {
        self.same_site = SameSite::Strict;
        self
    }

    /// A different cookie name. Keep the `__Host-` prefix: without it a sibling subdomain
    /// can plant a cookie for this host.
    ///
    /// # Errors
    /// An empty name, or one with characters a cookie name cannot carry.
    ///
    /// ```
    /// let c = sealed_session::web::CookieSettings::default().with_name("__Host-bank")?;
    /// # Ok::<(), sealed_session::ConfigError>(())
    /// ```
    pub fn with_name(mut self, name: &str) -> Result<Self, ConfigError> {
        let valid = !name.is_empty()
            && name.len() <= 128
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.!#$%&'*+^`|~".contains(&b));
        if !valid {
            return Err(ConfigError::Setting {
                setting: "cookie name",
                problem: "1 to 128 token characters",
            });
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
    pub fn dangerous_insecure_http(mut self) -> Self {
        self.secure = false;
        if let Some(rest) = self.name.strip_prefix("__Host-") {
            self.name = rest.to_owned();
        }
        self
    }

    /// The cookie name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// `Set-Cookie` value carrying `token`, with `Max-Age` until it expires.
    ///
    /// # Errors
    /// The cookie would exceed 4096 bytes (browsers would silently drop it).
    pub fn set_cookie(
        &self,
        token: &SealedToken,
        expires_at: UnixTime,
        now: UnixTime,
    ) -> Result<HeaderValue, ConfigError> {
        let max_age = i64::try_from(expires_at.0.saturating_sub(now.0)).unwrap_or(i64::MAX);
        let cookie = self
            .base(token.expose_secret())
            .max_age(CookieDuration::seconds(max_age))
            .build();
        Self::header(&cookie.to_string())
    }

    /// `Set-Cookie` value that deletes the session cookie.
    pub fn clear_cookie(&self) -> HeaderValue {
        let cookie = self.base("").max_age(CookieDuration::ZERO).build();
        Self::header(&cookie.to_string()).unwrap_or_else(|_| HeaderValue::from_static(""))
    }

    fn base<'a>(&'a self, value: &'a str) -> cookie::CookieBuilder<'a> {
        Cookie::build((self.name.as_str(), value))
            .secure(self.secure)
            .http_only(true)
            .same_site(self.same_site)
            .path("/")
    }

    fn header(text: &str) -> Result<HeaderValue, ConfigError> {
        if text.len() > MAX_COOKIE_BYTES {
            return Err(ConfigError::Setting {
                setting: "cookie",
                problem: "over 4096 bytes; browsers would drop it",
            });
        }
        HeaderValue::from_str(text).map_err(|_| ConfigError::Setting {
            setting: "cookie",
            problem: "not a valid header",
        })
    }

    /// Looks for the session cookie in every `Cookie` header of the request.
    pub(crate) fn find<'h>(&self, headers: &'h HeaderMap) -> Found<'h> {
        let mut found = Found::None;
        for value in headers.get_all(COOKIE) {
            let Ok(text) = value.to_str() else { continue };
            for cookie in Cookie::split_parse(text).flatten() {
                if cookie.name() != self.name {
                    continue;
                }
                // Borrowed from the header as sent (quotes included: a quoted value is not a
                // token and will be refused), so no copy of the bearer secret is made.
                found = match (found, cookie.value_raw()) {
                    (Found::None, Some(v)) => Found::One(v),
                    _ => return Found::Duplicate,
                };
            }
        }
        found
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicates_anywhere_are_refused() {
        let s = CookieSettings::default();
        let mut h = HeaderMap::new();
        h.append(COOKIE, HeaderValue::from_static("a=1; __Host-session=x"));
        assert_eq!(s.find(&h), Found::One("x"));
        h.append(COOKIE, HeaderValue::from_static("__Host-session=y"));
        assert_eq!(s.find(&h), Found::Duplicate);
    }
}
