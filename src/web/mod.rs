//! Web integration (feature `web`): cookies, a tower layer and axum extractors.
//!
//! ```text
//! request ─► SessionLayer ─► Cookie header only (Bearer opt-in; never query or body)
//!            │  duplicate session cookie → no session + event; token-shaped query → event
//!            ├─ SessionManager::verify(token, peer IP + User-Agent)
//!            ├─ foreign origin (scheme, host, port; Sec-Fetch-Site) on a state change → step down + 403
//!            ├─ login / elevate without a same-origin signal → 403 (login CSRF)
//!            ├─ handler: SessionInfo / RequireLevel<L> / SessionControl (login, elevate, logout)
//!            └─ response: Set-Cookie (__Host-, Secure, HttpOnly, SameSite, Path=/, Max-Age)
//!                         + Cache-Control: no-store whenever a session is involved;
//!                         logout adds Clear-Site-Data; HSTS with Secure cookies
//! ```

mod cookies;
mod extract;
mod layer;
mod origin;
mod state;

use std::sync::Arc;
use std::time::Duration;

use http::HeaderName;

pub use cookies::{CookieError, CookieSettings};
pub use extract::{
    MaybeSession, RequireLevel, SessionControl, SessionInfo, WebError, ANONYMOUS, AUTHENTICATED, ELEVATED,
};
pub use layer::{SessionLayer, SessionService};

/// Web settings, secure by default: `__Host-` cookie, no bearer tokens, no proxy header
/// trusted, same-origin state changes only.
#[derive(Clone, Debug)]
pub struct WebConfig {
    pub(crate) cookie: Arc<CookieSettings>,
    pub(crate) accept_bearer: bool,
    pub(crate) trusted_proxy_header: Option<HeaderName>,
    pub(crate) allowed_origins: Vec<String>,
    pub(crate) require_origin: bool,
    pub(crate) hsts: Option<Duration>,
}

impl Default for WebConfig {
    fn default() -> Self {
        Self {
            cookie: Arc::default(),
            accept_bearer: false,
            trusted_proxy_header: None,
            allowed_origins: Vec::new(),
            require_origin: false,
            hsts: Some(DEFAULT_HSTS_MAX_AGE),
        }
    }
}

/// One year, the usual HSTS lifetime (RFC 6797 §6.1.1).
const DEFAULT_HSTS_MAX_AGE: Duration = Duration::from_secs(365 * 24 * 3600);

impl WebConfig {
    /// Cookie name and attributes.
    ///
    /// ```
    /// use sealed_session::web::{CookieSettings, WebConfig};
    /// let c = WebConfig::default().with_cookie(CookieSettings::default().with_same_site_strict());
    /// ```
    #[must_use]
    pub fn with_cookie(mut self, cookie: CookieSettings) -> Self {
        self.cookie = Arc::new(cookie);
        self
    }

    /// Also accept `Authorization: Bearer <token>` (API clients), when no cookie is present.
    ///
    /// ```
    /// let c = sealed_session::web::WebConfig::default().with_bearer_tokens();
    /// ```
    #[must_use]
    pub fn with_bearer_tokens(mut self) -> Self {
        self.accept_bearer = true;
        self
    }

    /// Take the client address from this header's right-most entry (set by your own reverse
    /// proxy) instead of the socket peer.
    ///
    /// # Warning
    /// Only when every request passes through a proxy that sets it: otherwise clients choose
    /// their own address and IP binding means nothing.
    ///
    /// ```
    /// let c = sealed_session::web::WebConfig::default()
    ///     .with_trusted_proxy_header(http::HeaderName::from_static("x-forwarded-for"));
    /// ```
    #[must_use]
    pub fn with_trusted_proxy_header(mut self, name: HeaderName) -> Self {
        self.trusted_proxy_header = Some(name);
        self
    }

    /// Origins (`scheme://host[:port]`) allowed to send state-changing requests. Empty (the
    /// default) means the request's own `Host`.
    ///
    /// ```
    /// let c = sealed_session::web::WebConfig::default().with_allowed_origins(["https://www.bank.test"]);
    /// ```
    #[must_use]
    pub fn with_allowed_origins<I: IntoIterator<Item = S>, S: Into<String>>(mut self, origins: I) -> Self {
        self.allowed_origins = origins.into_iter().map(Into::into).collect();
        self
    }

    /// HSTS lifetime (RFC 6797) sent as `Strict-Transport-Security` on every response while
    /// the cookie is `Secure` (default: one year, without `includeSubDomains`). It stops a
    /// network attacker from serving a plain-HTTP page on our host name, from which login
    /// CSRF or cookie injection would start.
    ///
    /// ```
    /// let c = sealed_session::web::WebConfig::default().with_hsts(std::time::Duration::from_secs(86_400));
    /// ```
    #[must_use]
    pub fn with_hsts(mut self, max_age: Duration) -> Self {
        self.hsts = Some(max_age);
        self
    }

    /// Sends no `Strict-Transport-Security` header (e.g. a proxy in front sets it).
    ///
    /// # Warning
    /// Without HSTS, a network attacker can make the browser load `http://` pages of this host.
    ///
    /// ```
    /// let c = sealed_session::web::WebConfig::default().without_hsts();
    /// ```
    #[must_use]
    pub fn without_hsts(mut self) -> Self {
        self.hsts = None;
        self
    }

    /// Treat a state-changing request with neither `Origin`, `Referer` nor `Sec-Fetch-Site`
    /// as foreign (browsers send `Origin` on every POST; non-browser clients usually send
    /// none). Login and elevation always require a same-origin signal.
    ///
    /// ```
    /// let c = sealed_session::web::WebConfig::default().with_origin_required();
    /// ```
    #[must_use]
    pub fn with_origin_required(mut self) -> Self {
        self.require_origin = true;
        self
    }
}
