//! axum extractors that read the session and require a level, and the error they answer
//! with.

use axum::extract::FromRequestParts;
use axum::response::{IntoResponse, Response};
use http::request::Parts;
use http::StatusCode;

use core::fmt;
use std::marker::PhantomData;
use std::sync::atomic::{AtomicBool, Ordering};

use zeroize::Zeroizing;

use super::bearer::Refusal;
use super::level;
use super::state::Shared;
use crate::clock::UnixTime;
use crate::error::Reason;
use crate::session::events::EventKind;
use crate::session::manager::SessionManager;
use crate::session::{SessionHandle, TransitionError};
use crate::token::claims::Privilege;

/// A read-only view of the verified session.
///
/// ```
/// use sealed_session::web::{SessionInfo, WebError};
/// // 401 without a session; otherwise what the token says.
/// async fn whoami(session: SessionInfo) -> Result<String, WebError> {
///     Ok(format!("{:?} until {}", session.subject, session.expires_at.secs()))
/// }
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct SessionInfo {
    /// Who is logged in.
    pub subject: Option<String>,
    /// The effective privilege.
    pub privilege: Privilege,
    /// When the current token expires.
    pub expires_at: UnixTime,
    /// When the session ends regardless of activity.
    pub session_deadline: UnixTime,
    /// When the subject last authenticated.
    pub authenticated_at: UnixTime,
    handle: SessionHandle,
    app_data: Zeroizing<Vec<u8>>,
}

impl SessionInfo {
    pub(crate) fn of(s: &crate::Session, manager: &SessionManager) -> Self {
        Self {
            subject: s.subject().map(str::to_owned),
            privilege: s.privilege(),
            expires_at: s.expires_at(),
            session_deadline: s.session_deadline(),
            authenticated_at: s.authenticated_at(),
            handle: manager.handle(s),
            app_data: Zeroizing::new(s.app_data().to_vec()),
        }
    }

    /// The session's stable handle, the key for the application's own per-session rows: the
    /// same across rotation, refresh, elevation, step-down and key rotation, new at every
    /// login ([`SessionHandle`]).
    ///
    /// ```
    /// use sealed_session::web::SessionInfo;
    /// use std::collections::HashMap;
    /// use sealed_session::SessionHandle;
    /// fn cart_of<'c>(carts: &'c HashMap<SessionHandle, Vec<String>>, session: &SessionInfo) -> Option<&'c Vec<String>> {
    ///     carts.get(&session.handle())
    /// }
    /// ```
    pub fn handle(&self) -> SessionHandle {
        self.handle
    }

    /// The application data sealed at login ([`crate::Login::with_app_data`]), empty when
    /// none was set. Only this server can read or change it; it is wiped on drop.
    ///
    /// ```
    /// use sealed_session::web::SessionInfo;
    /// async fn tenant(session: SessionInfo) -> String {
    ///     String::from_utf8_lossy(session.app_data()).into_owned()
    /// }
    /// ```
    pub fn app_data(&self) -> &[u8] {
        &self.app_data
    }
}

impl fmt::Debug for SessionInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionInfo")
            .field("subject", &self.subject)
            .field("privilege", &self.privilege)
            .field("expires_at", &self.expires_at)
            .field("session_deadline", &self.session_deadline)
            .field("authenticated_at", &self.authenticated_at)
            .field("handle", &self.handle)
            .field("app_data", &format_args!("\"{} bytes\"", self.app_data.len()))
            .finish()
    }
}

/// Why a request was refused. The response has a fixed body for its status; the cause is
/// for logs only (it never reaches the client). On a request that came with
/// `Authorization: Bearer` (or with no credential, when the layer accepts bearer tokens) the
/// layer answers in RFC 6750 §3 form instead: 401 with `WWW-Authenticate: Bearer` (plus
/// `error="invalid_token"` when a token was sent), 403 `error="insufficient_scope"` below the
/// route's level, and a JSON body such as `{"error":"invalid_token"}`.
///
/// ```
/// use axum::response::IntoResponse;
/// use http::StatusCode;
/// use sealed_session::web::WebError;
/// assert_eq!(WebError::Unauthenticated.into_response().status(), StatusCode::UNAUTHORIZED);
/// assert_eq!(WebError::OriginRequired.into_response().status(), StatusCode::FORBIDDEN);
/// // Server faults are 500, with the same fixed body whatever the cause.
/// assert_eq!(WebError::LayerMissing.into_response().status(), StatusCode::INTERNAL_SERVER_ERROR);
/// ```
#[derive(Debug, thiserror::Error)]
pub enum WebError {
    /// No verified session.
    #[error("no verified session")]
    Unauthenticated,
    /// The session's privilege is too low.
    #[error("insufficient privilege")]
    Forbidden,
    /// A login or elevation without a same-origin signal (`Origin`, `Sec-Fetch-Site:
    /// same-origin` or a same-origin `Referer`): a cross-site page may be logging the victim
    /// into the attacker's account (login CSRF).
    #[error("privilege change without a same-origin signal")]
    OriginRequired,
    /// The [`super::SessionLayer`] is not installed on this route.
    #[error("session layer missing on this route")]
    LayerMissing,
    /// The blocking task running a transition panicked or was cancelled.
    #[error("session transition task failed")]
    TaskFailed,
    /// A transition failed.
    #[error(transparent)]
    Transition(#[from] TransitionError),
    /// A session cookie could not be built.
    #[error(transparent)]
    Cookie(#[from] super::CookieError),
    /// The transition would deliver the successor where the session's client does not look:
    /// a cookie for a session that came in `Authorization: Bearer` (the client would be left
    /// with a retired token), or a response body for a session that came in the cookie (a
    /// page's script could then read the `HttpOnly` token). Refused before anything changes.
    #[error("the transition's delivery does not match how the session was presented")]
    CredentialMismatch,
    /// An API login without a `DPoP` proof on a layer that takes DPoP tokens but not bearer
    /// ones: 401 `WWW-Authenticate: DPoP error="invalid_dpop_proof"` (RFC 9449 §7.1).
    #[error("an API login without the DPoP proof this layer requires")]
    DpopProofRequired,
}

impl IntoResponse for WebError {
    /// A fixed plain-text body; the layer re-renders it in RFC 6750 form for API requests.
    fn into_response(self) -> Response {
        let (status, body) = match &self {
            Self::Unauthenticated | Self::Transition(TransitionError::NotAuthenticated) => {
                (StatusCode::UNAUTHORIZED, "unauthorized")
            }
            Self::Forbidden | Self::OriginRequired | Self::Transition(TransitionError::GraceCopy) => {
                (StatusCode::FORBIDDEN, "forbidden")
            }
            Self::Transition(TransitionError::InvalidLogin(_)) | Self::CredentialMismatch => {
                (StatusCode::BAD_REQUEST, "bad request")
            }
            Self::DpopProofRequired => (StatusCode::UNAUTHORIZED, "unauthorized"),
            Self::Transition(TransitionError::RateLimited) => {
                (StatusCode::TOO_MANY_REQUESTS, "too many requests")
            }
            Self::Transition(TransitionError::Store(_)) => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
            // Server-side faults (keys, a missing layer, a panicked task): never caused by
            // what a client sent.
            _ => (StatusCode::INTERNAL_SERVER_ERROR, "internal error"),
        };
        tracing::debug!(target: "sealed_session::web", error = %self, "request refused");
        let mut response = (status, body).into_response();
        response.extensions_mut().insert(self.refusal(status));
        response
    }
}

impl WebError {
    /// The kind of refusal, for the layer's RFC 6750 rendering.
    fn refusal(&self, status: StatusCode) -> Refusal {
        match self {
            Self::Unauthenticated | Self::Transition(TransitionError::NotAuthenticated) => Refusal::NoSession,
            Self::Forbidden => Refusal::Level,
            Self::Transition(TransitionError::GraceCopy) => Refusal::Replaced,
            Self::Transition(TransitionError::InvalidLogin(_)) | Self::CredentialMismatch => {
                Refusal::BadRequest
            }
            Self::DpopProofRequired => Refusal::ProofRequired,
            _ => Refusal::Other(status),
        }
    }
}

pub(crate) fn shared(parts: &Parts) -> Result<Shared, WebError> {
    parts.extensions.get::<Shared>().cloned().ok_or_else(|| {
        static REPORTED: AtomicBool = AtomicBool::new(false);
        if !REPORTED.swap(true, Ordering::Relaxed) {
            tracing::error!(
                target: "sealed_session::web",
                path = %parts.uri.path(),
                "a session extractor ran on a route without SessionLayer: add `.layer(SessionLayer::new(manager))` \
                 after every `.route(..)` (routes added after `.layer()` are not covered); answering 500"
            );
        }
        WebError::LayerMissing
    })
}

impl<S: Send + Sync> FromRequestParts<S> for SessionInfo {
    type Rejection = WebError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, WebError> {
        let shared = shared(parts)?;
        let state = shared.lock();
        state
            .session
            .as_ref()
            .map(|s| SessionInfo::of(s, &shared.manager))
            .ok_or(WebError::Unauthenticated)
    }
}

/// The session if there is one; never refuses.
///
/// ```
/// use axum::{body::Body, routing::get, Router};
/// use http::Request;
/// use tower::ServiceExt;
/// use sealed_session::web::{MaybeSession, SessionLayer};
///
/// async fn home(MaybeSession(session): MaybeSession) -> String {
///     match session.and_then(|s| s.subject) {
///         Some(subject) => format!("hello {subject}"),
///         None => "hello stranger".to_owned(),
///     }
/// }
/// # use std::sync::Arc; use sealed_session::{*, revocation::*};
/// # let store = Arc::new(MemoryStore::new(FilterConfig::default())?);
/// # let manager = Arc::new(SessionManager::builder(KeyRing::generate()?, "app", store).build()?);
/// let app: Router = Router::new().route("/", get(home)).layer(SessionLayer::new(manager));
/// tokio::runtime::Builder::new_current_thread().enable_all().build()?.block_on(async {
///     let response = app.oneshot(Request::get("/").body(Body::empty())?).await?;
///     let body = axum::body::to_bytes(response.into_body(), 1024).await?;
///     assert_eq!(&body[..], b"hello stranger");
///     Ok::<(), Box<dyn std::error::Error>>(())
/// })?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug)]
pub struct MaybeSession(pub Option<SessionInfo>);

impl<S: Send + Sync> FromRequestParts<S> for MaybeSession {
    type Rejection = WebError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, WebError> {
        let shared = shared(parts)?;
        let state = shared.lock();
        Ok(Self(
            state
                .session
                .as_ref()
                .map(|s| SessionInfo::of(s, &shared.manager)),
        ))
    }
}

/// Requires at least the level `L` ([`level::Authenticated`] or [`level::Elevated`]): 401
/// without a session, 403 below the level (`insufficient_scope` for bearer requests), with
/// fixed bodies. Dereferences to the [`SessionInfo`].
///
/// ```
/// use sealed_session::web::{level, RequireLevel};
/// async fn transfer(session: RequireLevel<level::Elevated>) -> String {
///     format!("transfer for {:?}", session.subject)
/// }
/// ```
#[derive(Clone, Debug)]
pub struct RequireLevel<L: level::Level> {
    /// The verified session, at level `L` or above.
    pub session: SessionInfo,
    level: PhantomData<L>,
}

impl<L: level::Level> std::ops::Deref for RequireLevel<L> {
    type Target = SessionInfo;

    fn deref(&self) -> &SessionInfo {
        &self.session
    }
}

impl<S: Send + Sync, L: level::Level> FromRequestParts<S> for RequireLevel<L> {
    type Rejection = WebError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, WebError> {
        let shared = shared(parts)?;
        let info = SessionInfo::from_request_parts(parts, state).await?;
        if info.privilege < L::PRIVILEGE {
            let client = shared.lock().client.clone();
            shared.manager.emit(
                EventKind::Rejected(Reason::InsufficientPrivilege),
                None,
                &client.context(),
            );
            return Err(WebError::Forbidden);
        }
        Ok(Self {
            session: info,
            level: PhantomData,
        })
    }
}
