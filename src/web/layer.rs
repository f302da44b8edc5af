//! [`SessionLayer`]: installs sessions on a router, configured with consuming setters.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use axum::extract::ConnectInfo;
use http::{HeaderName, Request};
use tower::Layer;

use super::service::SessionService;
use super::settings::Settings;
use crate::error::ConfigError;
use crate::token::Flags;
use crate::SessionManager;

/// Verifies the session of every request and writes every new cookie. Secure by default:
/// a `__Host-` cookie with `Secure`, `HttpOnly`, `SameSite=Lax`, `Path=/`; tokens only from
/// that cookie; state changes only from our own origin; HSTS. Add it with
/// `router.layer(SessionLayer::new(manager))`, serving with
/// `into_make_service_with_connect_info::<SocketAddr>()` so sessions can be bound to the
/// client's address. The layer also drops expired revocation generations in the background.
///
/// ```
/// use std::sync::Arc;
/// use axum::{routing::get, Router};
/// use sealed_session::revocation::{FilterConfig, MemoryStore};
/// use sealed_session::web::{level, RequireLevel, SessionLayer};
/// use sealed_session::{KeyRing, SessionManager};
///
/// let store = Arc::new(MemoryStore::new(FilterConfig::default())?);
/// let manager = Arc::new(SessionManager::builder(KeyRing::generate()?, "app", store).build()?);
/// let app: Router = Router::new()
///     .route("/account", get(|s: RequireLevel<level::Authenticated>| async move { format!("{:?}", s.subject) }))
///     .layer(SessionLayer::new(manager).with_same_site_strict());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct SessionLayer {
    manager: Arc<SessionManager>,
    settings: Arc<Settings>,
    startup: Arc<Startup>,
}

impl SessionLayer {
    /// A layer verifying with `manager`, with the secure defaults.
    ///
    /// ```
    /// # use std::sync::Arc; use sealed_session::{*, revocation::*, web::SessionLayer};
    /// # let store = Arc::new(MemoryStore::new(FilterConfig::default())?);
    /// let manager = Arc::new(SessionManager::builder(KeyRing::generate()?, "app", store).build()?);
    /// let layer = SessionLayer::new(manager);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn new(manager: Arc<SessionManager>) -> Self {
        Self {
            manager,
            settings: Arc::new(Settings::default()),
            startup: Arc::new(Startup::default()),
        }
    }

    pub(super) fn edit(mut self, change: impl FnOnce(&mut Settings)) -> Self {
        change(Arc::make_mut(&mut self.settings));
        self
    }

    /// A different cookie name. Keep the `__Host-` prefix: without it a sibling subdomain
    /// can plant a cookie for this host.
    ///
    /// # Errors
    /// [`ConfigError::CookieName`] for an empty name, or one with characters a cookie name
    /// cannot carry.
    ///
    /// ```
    /// # use std::sync::Arc; use sealed_session::{*, revocation::*, web::SessionLayer};
    /// # let store = Arc::new(MemoryStore::new(FilterConfig::default())?);
    /// # let manager = Arc::new(SessionManager::builder(KeyRing::generate()?, "app", store).build()?);
    /// let layer = SessionLayer::new(manager).with_cookie_name("__Host-bank")?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn with_cookie_name(mut self, name: &str) -> Result<Self, ConfigError> {
        let cookie = self.settings.cookie.clone().with_name(name)?;
        Arc::make_mut(&mut self.settings).cookie = cookie;
        Ok(self)
    }

    /// `SameSite=Strict` instead of `Lax`: the cookie is then not sent on top-level
    /// navigations from other sites (links in e-mail arrive signed out).
    ///
    /// ```
    /// # use std::sync::Arc; use sealed_session::{*, revocation::*, web::SessionLayer};
    /// # let store = Arc::new(MemoryStore::new(FilterConfig::default())?);
    /// # let manager = Arc::new(SessionManager::builder(KeyRing::generate()?, "app", store).build()?);
    /// let layer = SessionLayer::new(manager).with_same_site_strict();
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn with_same_site_strict(self) -> Self {
        self.edit(|s| s.cookie = s.cookie.clone().with_same_site_strict())
    }

    /// Drops `Secure`, the `__Host-` prefix and HSTS, for plain-HTTP development on
    /// loopback.
    ///
    /// # Warning
    /// Without `Secure` the cookie travels in clear text and any sibling subdomain or network
    /// attacker can overwrite it. Never use this in production.
    ///
    /// ```
    /// # use std::sync::Arc; use sealed_session::{*, revocation::*, web::SessionLayer};
    /// # let store = Arc::new(MemoryStore::new(FilterConfig::default())?);
    /// # let manager = Arc::new(SessionManager::builder(KeyRing::generate()?, "app", store).build()?);
    /// let layer = SessionLayer::new(manager).dangerous_insecure_http();
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn dangerous_insecure_http(self) -> Self {
        self.edit(|s| s.cookie = s.cookie.clone().dangerous_insecure_http())
    }

    /// Bearer mode for API clients: also accepts `Authorization: Bearer <token>` (RFC 6750
    /// §2.1) when no session cookie is present. Such a request is never rotated implicitly
    /// (its client does not read `Set-Cookie`): the client gets its token in a JSON body from
    /// [`super::SessionControl::login_for_api`] and replaces it with
    /// [`super::SessionControl::refresh_for_api`] before it expires; the token TTL bounds how
    /// long it may go without. Refusals of bearer requests, and of requests with no
    /// credential at all, follow RFC 6750 §3 (`WWW-Authenticate: Bearer`, JSON body); the
    /// cross-origin rule does not apply to bearer requests (a browser never attaches the
    /// header by itself, so they cannot be forged cross-site). Tokens in the query or a form
    /// body (RFC 6750 §2.2, §2.3) are never read.
    ///
    /// ```
    /// # use std::sync::Arc; use sealed_session::{*, revocation::*, web::SessionLayer};
    /// # let store = Arc::new(MemoryStore::new(FilterConfig::default())?);
    /// # let manager = Arc::new(SessionManager::builder(KeyRing::generate()?, "app", store).build()?);
    /// let layer = SessionLayer::new(manager).with_bearer_tokens();
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn with_bearer_tokens(self) -> Self {
        self.edit(|s| s.accept_bearer = true)
    }

    /// Takes the client address from this header's right-most entry (set by your own reverse
    /// proxy) instead of the socket peer.
    ///
    /// # Warning
    /// Only when every request passes through a proxy that sets it: otherwise clients choose
    /// their own address and IP binding means nothing.
    ///
    /// ```
    /// # use std::sync::Arc; use sealed_session::{*, revocation::*, web::SessionLayer};
    /// # let store = Arc::new(MemoryStore::new(FilterConfig::default())?);
    /// # let manager = Arc::new(SessionManager::builder(KeyRing::generate()?, "app", store).build()?);
    /// let layer = SessionLayer::new(manager).with_trusted_proxy_header(http::HeaderName::from_static("x-forwarded-for"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn with_trusted_proxy_header(self, name: HeaderName) -> Self {
        self.edit(|s| s.trusted_proxy_header = Some(name))
    }

    /// Origins (`scheme://host[:port]`) allowed to send state-changing requests. Empty (the
    /// default) means the request's own host, with `https` while the cookie is `Secure`.
    ///
    /// ```
    /// # use std::sync::Arc; use sealed_session::{*, revocation::*, web::SessionLayer};
    /// # let store = Arc::new(MemoryStore::new(FilterConfig::default())?);
    /// # let manager = Arc::new(SessionManager::builder(KeyRing::generate()?, "app", store).build()?);
    /// let layer = SessionLayer::new(manager).with_allowed_origins(["https://www.bank.test"]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn with_allowed_origins<I: IntoIterator<Item = S>, S: Into<String>>(self, origins: I) -> Self {
        let origins = origins.into_iter().map(Into::into).collect();
        self.edit(|s| s.allowed_origins = origins)
    }

    /// Treats a state-changing request with neither `Origin`, `Referer` nor `Sec-Fetch-Site`
    /// as foreign (browsers send `Origin` on every POST; non-browser clients usually send
    /// none). Login and elevation always require a same-origin signal.
    ///
    /// ```
    /// # use std::sync::Arc; use sealed_session::{*, revocation::*, web::SessionLayer};
    /// # let store = Arc::new(MemoryStore::new(FilterConfig::default())?);
    /// # let manager = Arc::new(SessionManager::builder(KeyRing::generate()?, "app", store).build()?);
    /// let layer = SessionLayer::new(manager).with_origin_required();
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn with_origin_required(self) -> Self {
        self.edit(|s| s.require_origin = true)
    }

    /// HSTS lifetime (RFC 6797) sent as `Strict-Transport-Security` on every response while
    /// the cookie is `Secure` (default: one year, without `includeSubDomains`). It stops a
    /// network attacker from serving a plain-HTTP page on our host name, from which login
    /// CSRF or cookie injection would start.
    ///
    /// ```
    /// # use std::sync::Arc; use sealed_session::{*, revocation::*, web::SessionLayer};
    /// # let store = Arc::new(MemoryStore::new(FilterConfig::default())?);
    /// # let manager = Arc::new(SessionManager::builder(KeyRing::generate()?, "app", store).build()?);
    /// let layer = SessionLayer::new(manager).with_hsts(std::time::Duration::from_secs(86_400));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn with_hsts(self, max_age: Duration) -> Self {
        self.edit(|s| s.hsts = Some(super::settings::hsts_value(max_age)))
    }

    /// Sends no `Strict-Transport-Security` header (e.g. a proxy in front sets it).
    ///
    /// # Warning
    /// Without HSTS, a network attacker can make the browser load `http://` pages of this host.
    ///
    /// ```
    /// # use std::sync::Arc; use sealed_session::{*, revocation::*, web::SessionLayer};
    /// # let store = Arc::new(MemoryStore::new(FilterConfig::default())?);
    /// # let manager = Arc::new(SessionManager::builder(KeyRing::generate()?, "app", store).build()?);
    /// let layer = SessionLayer::new(manager).without_hsts();
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn without_hsts(self) -> Self {
        self.edit(|s| s.hsts = None)
    }

    /// How often the layer's background task drops expired revocation generations
    /// ([`SessionManager::maintain_at`]); default every 5 minutes, started by the first
    /// request. `None` turns it off, when the application drives maintenance itself.
    ///
    /// ```
    /// # use std::sync::Arc; use sealed_session::{*, revocation::*, web::SessionLayer};
    /// # let store = Arc::new(MemoryStore::new(FilterConfig::default())?);
    /// # let manager = Arc::new(SessionManager::builder(KeyRing::generate()?, "app", store).build()?);
    /// let layer = SessionLayer::new(manager).with_maintenance_every(None);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn with_maintenance_every(self, period: Option<Duration>) -> Self {
        self.edit(|s| s.maintenance = period)
    }
}

impl<S> Layer<S> for SessionLayer {
    type Service = SessionService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        SessionService {
            inner,
            manager: self.manager.clone(),
            settings: self.settings.clone(),
            startup: self.startup.clone(),
        }
    }
}

/// What the layer checks, and starts, once: at its first request.
#[derive(Default)]
pub(crate) struct Startup {
    done: AtomicBool,
}

impl Startup {
    /// On the first request: reports a missing `ConnectInfo` loudly when the policy binds the
    /// IP address (every client would share one absent address), and starts maintenance.
    pub(crate) fn first_request<B>(
        &self,
        manager: &Arc<SessionManager>,
        settings: &Settings,
        request: &Request<B>,
    ) {
        // A load first: after the first request nothing is written, so the cores serving
        // requests do not trade this cache line.
        if self.done.load(Ordering::Acquire) || self.done.swap(true, Ordering::AcqRel) {
            return;
        }
        let has_peer = request.extensions().get::<ConnectInfo<SocketAddr>>().is_some();
        let binds_ip = manager.policy().binding().flags().contains(Flags::BIND_IP);
        if binds_ip && !has_peer && settings.trusted_proxy_header.is_none() {
            tracing::error!(
                target: "sealed_session::web",
                "the session policy binds the client IP address, but requests carry no ConnectInfo: \
                 serve the router with `into_make_service_with_connect_info::<SocketAddr>()` \
                 (or set a trusted proxy header); until then every client has the same, absent, address"
            );
        }
        if let Some(period) = settings.maintenance {
            spawn_maintenance(Arc::downgrade(manager), period);
        }
    }
}

/// Drops expired revocation generations every `period` while the manager lives.
fn spawn_maintenance(manager: Weak<SessionManager>, period: Duration) {
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        tracing::warn!(target: "sealed_session::web", "no tokio runtime: revocation maintenance not started");
        return;
    };
    runtime.spawn(async move {
        let mut tick = tokio::time::interval(period);
        tick.tick().await;
        loop {
            tick.tick().await;
            let Some(manager) = manager.upgrade() else { return };
            manager.maintain_at(manager.now());
        }
    });
}
