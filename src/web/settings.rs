//! What a [`SessionLayer`](super::SessionLayer) was configured with (its setters write here).

use std::sync::Arc;
use std::time::Duration;

use http::{HeaderName, HeaderValue};

use super::cookies::CookieSettings;
use super::dpop::{DpopSettings, NonceKeys};

/// One year, the usual HSTS lifetime (RFC 6797 §6.1.1).
const DEFAULT_HSTS_MAX_AGE: Duration = Duration::from_secs(365 * 24 * 3600);

/// Secure by default: `__Host-` cookie, no bearer or DPoP tokens, no proxy header trusted,
/// same-origin state changes only, HSTS with the `Secure` cookie.
#[derive(Clone, Debug)]
pub(crate) struct Settings {
    pub(crate) cookie: CookieSettings,
    pub(crate) accept_bearer: bool,
    /// DPoP proofs (RFC 9449) and `Authorization: DPoP`.
    pub(crate) dpop: Option<DpopSettings>,
    /// Server nonces required in every DPoP proof (RFC 9449 §8, §9).
    pub(crate) dpop_nonces: Option<Arc<NonceKeys>>,
    /// `scheme://host[:port]` the clients address (for `htu`); `None`: from `Host`.
    pub(crate) public_origin: Option<String>,
    pub(crate) trusted_proxy_header: Option<HeaderName>,
    pub(crate) allowed_origins: Vec<String>,
    pub(crate) require_origin: bool,
    /// The `Strict-Transport-Security` value, formatted once here rather than per response.
    pub(crate) hsts: Option<HeaderValue>,
    pub(crate) maintenance: Option<Duration>,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            cookie: CookieSettings::default(),
            accept_bearer: false,
            dpop: None,
            dpop_nonces: None,
            public_origin: None,
            trusted_proxy_header: None,
            allowed_origins: Vec::new(),
            require_origin: false,
            hsts: Some(hsts_value(DEFAULT_HSTS_MAX_AGE)),
            maintenance: Some(Duration::from_secs(300)),
        }
    }
}

/// `max-age=<seconds>` (RFC 6797 §6.1.1): digits after an ASCII prefix, so always a valid
/// header value.
pub(crate) fn hsts_value(max_age: Duration) -> HeaderValue {
    HeaderValue::try_from(format!("max-age={}", max_age.as_secs()))
        .unwrap_or_else(|_| HeaderValue::from_static("max-age=0"))
}
