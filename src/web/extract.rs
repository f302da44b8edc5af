//! axum extractors: read the session, require a level, and run transitions.

use axum::extract::FromRequestParts;
use axum::response::{IntoResponse, Response};
use http::request::Parts;
use http::StatusCode;

use crate::clock::UnixTime;
use crate::session::{Minted, TransitionError};
use std::marker::PhantomData;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::error::Reason;
use crate::token::claims::Privilege;

use super::origin::Provenance;
use super::state::{CookieAction, Shared};
use crate::session::events::EventKind;

/// The levels [`RequireLevel`] can require, as types: a misspelt level does not compile.
pub mod level {
    use crate::token::Privilege;

    /// A privilege level a route can require.
    ///
    /// ```
    /// use sealed_session::web::level::{Authenticated, Level};
    /// assert_eq!(Authenticated::PRIVILEGE, sealed_session::Privilege::Authenticated);
    /// ```
    pub trait Level: sealed::Sealed + Send + Sync + 'static {
        /// The least privilege a session must have.
        const PRIVILEGE: Privilege;
    }

    /// Any signed-in session.
    ///
    /// ```
    /// use sealed_session::web::{level::Authenticated, RequireLevel};
    /// async fn account(session: RequireLevel<Authenticated>) -> String {
    ///     format!("{:?}", session.subject)
    /// }
    /// ```
    #[derive(Clone, Copy, Debug)]
    pub struct Authenticated;

    /// A session elevated by a recent re-authentication (step-up).
    ///
    /// ```
    /// use sealed_session::web::{level::Elevated, RequireLevel};
    /// async fn transfer(_: RequireLevel<Elevated>) -> &'static str {
    ///     "done"
    /// }
    /// ```
    #[derive(Clone, Copy, Debug)]
    pub struct Elevated;

    impl Level for Authenticated {
        const PRIVILEGE: Privilege = Privilege::Authenticated;
    }

    impl Level for Elevated {
        const PRIVILEGE: Privilege = Privilege::Elevated;
    }

    mod sealed {
        pub trait Sealed {}
        impl Sealed for super::Authenticated {}
        impl Sealed for super::Elevated {}
    }
}

/// A read-only view of the verified session.
///
/// ```
/// use sealed_session::web::{SessionInfo, WebError};
/// // 401 without a session; otherwise what the token says.
/// async fn whoami(session: SessionInfo) -> Result<String, WebError> {
///     Ok(format!("{:?} until {}", session.subject, session.expires_at.secs()))
/// }
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
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
}

impl SessionInfo {
    fn of(s: &crate::Session) -> Self {
        Self {
            subject: s.subject().map(str::to_owned),
            privilege: s.privilege(),
            expires_at: s.expires_at(),
            session_deadline: s.session_deadline(),
            authenticated_at: s.authenticated_at(),
        }
    }
}

/// Why a request was refused. The response is one of three fixed bodies; the cause is for
/// logs only (it never reaches the client).
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
}

impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        let (status, body) = match &self {
            Self::Unauthenticated | Self::Transition(TransitionError::NotAuthenticated) => {
                (StatusCode::UNAUTHORIZED, "unauthorized")
            }
            Self::Forbidden | Self::OriginRequired | Self::Transition(TransitionError::GraceCopy) => {
                (StatusCode::FORBIDDEN, "forbidden")
            }
            Self::Transition(TransitionError::InvalidLogin(_)) => (StatusCode::BAD_REQUEST, "bad request"),
            Self::Transition(TransitionError::RateLimited) => {
                (StatusCode::TOO_MANY_REQUESTS, "too many requests")
            }
            Self::Transition(TransitionError::Store(_)) => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
            // Server-side faults (keys, a missing layer, a panicked task): never caused by
            // what a client sent.
            _ => (StatusCode::INTERNAL_SERVER_ERROR, "internal error"),
        };
        tracing::debug!(target: "sealed_session::web", error = %self, "request refused");
        (status, body).into_response()
    }
}

fn shared(parts: &Parts) -> Result<Shared, WebError> {
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
            .map(SessionInfo::of)
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
        Ok(Self(state.session.as_ref().map(SessionInfo::of)))
    }
}

/// Requires at least the level `L` ([`level::Authenticated`] or [`level::Elevated`]): 401
/// without a session, 403 below the level, with fixed bodies. Dereferences to the
/// [`SessionInfo`].
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

/// Runs transitions for this request. The successor token is written to the response by the
/// layer, so a handler cannot forget to send it.
///
/// ```
/// use axum::{body::Body, routing::post, Router};
/// use http::{header, Request, StatusCode};
/// use tower::ServiceExt;
/// use sealed_session::web::{SessionControl, SessionLayer, WebError};
/// use sealed_session::Privilege;
///
/// async fn login(control: SessionControl) -> Result<&'static str, WebError> {
///     // ... check the password first ...
///     control.login("alice", Privilege::Authenticated).await?;
///     Ok("welcome")
/// }
/// async fn logout(control: SessionControl) -> Result<&'static str, WebError> {
///     control.logout().await?;
///     Ok("bye")
/// }
/// # use std::sync::Arc; use sealed_session::{*, revocation::*};
/// # let store = Arc::new(MemoryStore::new(FilterConfig::default())?);
/// # let manager = Arc::new(SessionManager::builder(KeyRing::generate()?, "app", store).build()?);
/// let app: Router = Router::new()
///     .route("/login", post(login))
///     .route("/logout", post(logout))
///     .layer(SessionLayer::new(manager));
/// tokio::runtime::Builder::new_current_thread().enable_all().build()?.block_on(async {
///     // A same-origin signal is required for a login (login CSRF).
///     let request = Request::post("/login")
///         .header(header::HOST, "bank.test")
///         .header("sec-fetch-site", "same-origin")
///         .body(Body::empty())?;
///     let response = app.clone().oneshot(request).await?;
///     assert_eq!(response.status(), StatusCode::OK);
///     // The layer wrote the new session cookie; the handler could not forget it.
///     let set_cookie = response.headers().get(header::SET_COOKIE).ok_or("no cookie")?.to_str()?;
///     assert!(set_cookie.starts_with("__Host-session="));
///     let cookie = set_cookie.split(';').next().ok_or("empty")?;
///
///     let request = Request::post("/logout")
///         .header(header::HOST, "bank.test")
///         .header("sec-fetch-site", "same-origin")
///         .header(header::COOKIE, cookie)
///         .body(Body::empty())?;
///     let response = app.oneshot(request).await?;
///     assert_eq!(response.status(), StatusCode::OK);
///     assert!(response.headers().contains_key("clear-site-data"));
///     Ok::<(), Box<dyn std::error::Error>>(())
/// })?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct SessionControl(Shared);

impl<S: Send + Sync> FromRequestParts<S> for SessionControl {
    type Rejection = WebError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, WebError> {
        shared(parts).map(Self)
    }
}

impl SessionControl {
    /// Starts an anonymous session when the request has none (e.g. for a cart or a login
    /// form's state); returns the session either way. The token carries no privilege, and the
    /// login that follows replaces it with a new session id.
    ///
    /// # Errors
    /// [`WebError::Transition`] when minting fails.
    ///
    /// ```
    /// use sealed_session::web::{SessionControl, WebError};
    /// // A shopping cart before login: the visitor gets an anonymous session cookie.
    /// async fn add_to_cart(control: SessionControl) -> Result<&'static str, WebError> {
    ///     let visitor = control.begin().await?;
    ///     assert!(visitor.subject.is_none());
    ///     Ok("added")
    /// }
    /// ```
    pub async fn begin(&self) -> Result<SessionInfo, WebError> {
        if let Some(info) = self.0.lock().session.as_ref().map(SessionInfo::of) {
            return Ok(info);
        }
        self.run(|m, _, c| m.begin(&c.context())).await
    }

    /// Logs `subject` in with a new session id, revoking whatever session the request had.
    ///
    /// # Errors
    /// [`WebError::Transition`] when the store or minting fails.
    ///
    /// ```
    /// use axum::{body::Body, routing::post, Router};
    /// use http::{header, Request, StatusCode};
    /// use tower::ServiceExt;
    /// use sealed_session::web::{SessionControl, SessionLayer, WebError};
    /// use sealed_session::Privilege;
    ///
    /// async fn login(control: SessionControl) -> Result<String, WebError> {
    ///     // ... check the password first ...
    ///     let session = control.login("alice", Privilege::Authenticated).await?;
    ///     Ok(format!("welcome {:?}", session.subject))
    /// }
    /// # use std::sync::Arc; use sealed_session::{*, revocation::*};
    /// # let store = Arc::new(MemoryStore::new(FilterConfig::default())?);
    /// # let manager = Arc::new(SessionManager::builder(KeyRing::generate()?, "app", store).build()?);
    /// let app: Router = Router::new().route("/login", post(login)).layer(SessionLayer::new(manager));
    /// tokio::runtime::Builder::new_current_thread().enable_all().build()?.block_on(async {
    ///     let same_origin = Request::post("/login")
    ///         .header(header::HOST, "bank.test")
    ///         .header(header::ORIGIN, "https://bank.test")
    ///         .body(Body::empty())?;
    ///     assert_eq!(app.clone().oneshot(same_origin).await?.status(), StatusCode::OK);
    ///     // No Origin, Referer or Sec-Fetch-Site: it could be a cross-site form, so no login.
    ///     let unknown = Request::post("/login").header(header::HOST, "bank.test").body(Body::empty())?;
    ///     assert_eq!(app.oneshot(unknown).await?.status(), StatusCode::FORBIDDEN);
    ///     Ok::<(), Box<dyn std::error::Error>>(())
    /// })?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub async fn login(&self, subject: &str, level: Privilege) -> Result<SessionInfo, WebError> {
        self.require_same_origin()?;
        let subject = subject.to_owned();
        self.run(move |m, prev, c| m.authenticate(prev, &subject, level, &c.context()))
            .await
    }

    /// Elevates the session after the handler re-verified the user.
    ///
    /// # Errors
    /// [`WebError::Unauthenticated`] without a session; transition failures.
    ///
    /// ```
    /// use sealed_session::web::{SessionControl, WebError};
    /// async fn confirm_password(control: SessionControl) -> Result<&'static str, WebError> {
    ///     // ... re-verify the password or a second factor first ...
    ///     control.elevate().await?;
    ///     Ok("you may now change your e-mail address")
    /// }
    /// ```
    pub async fn elevate(&self) -> Result<SessionInfo, WebError> {
        self.require_same_origin()?;
        self.run_with_session(|m, s, c| m.elevate(s, &c.context())).await
    }

    /// Drops elevated privilege.
    ///
    /// # Errors
    /// [`WebError::Unauthenticated`] without a session; transition failures.
    ///
    /// ```
    /// use sealed_session::web::{level::Elevated, RequireLevel, SessionControl, WebError};
    /// // Done with the sensitive operation: give up the elevated privilege at once.
    /// async fn transfer(_: RequireLevel<Elevated>, control: SessionControl) -> Result<&'static str, WebError> {
    ///     // ... make the transfer ...
    ///     control.step_down().await?;
    ///     Ok("sent")
    /// }
    /// ```
    pub async fn step_down(&self) -> Result<SessionInfo, WebError> {
        self.run_with_session(|m, s, c| m.step_down(s, &c.context()))
            .await
    }

    /// Logs out on every node and clears the cookie.
    ///
    /// # Errors
    /// [`WebError::Unauthenticated`] without a session; store failures.
    ///
    /// ```
    /// use sealed_session::web::{SessionControl, WebError};
    /// async fn logout(control: SessionControl) -> Result<&'static str, WebError> {
    ///     control.logout().await?;
    ///     Ok("signed out")
    /// }
    /// ```
    pub async fn logout(&self) -> Result<(), WebError> {
        self.end(false).await
    }

    /// Logs the subject out of every session everywhere and clears this cookie.
    ///
    /// # Errors
    /// [`WebError::Unauthenticated`] without a logged-in session; store failures.
    ///
    /// ```
    /// use sealed_session::web::{SessionControl, WebError};
    /// // "Sign out of all devices", e.g. after a password change.
    /// async fn sign_out_everywhere(control: SessionControl) -> Result<&'static str, WebError> {
    ///     control.logout_everywhere().await?;
    ///     Ok("signed out everywhere")
    /// }
    /// ```
    pub async fn logout_everywhere(&self) -> Result<(), WebError> {
        self.end(true).await
    }

    /// Privilege-raising transitions answer with a session cookie, which a cross-site page
    /// could make the browser accept: they need a positive same-origin signal.
    fn require_same_origin(&self) -> Result<(), WebError> {
        let st = self.0.lock();
        if st.provenance == Provenance::SameOrigin {
            return Ok(());
        }
        self.0
            .manager
            .emit(EventKind::OriginRequired, None, &st.client.context());
        Err(WebError::OriginRequired)
    }

    async fn end(&self, everywhere: bool) -> Result<(), WebError> {
        let (session, client) = {
            let mut st = self.0.lock();
            // Logging out everywhere needs a subject; an anonymous session is left as it is.
            if st
                .session
                .as_ref()
                .is_none_or(|s| everywhere && s.subject().is_none())
            {
                return Err(WebError::Unauthenticated);
            }
            (
                st.session.take().ok_or(WebError::Unauthenticated)?,
                st.client.clone(),
            )
        };
        let manager = self.0.manager.clone();
        let result =
            tokio::task::spawn_blocking(move || match (everywhere, session.subject().map(str::to_owned)) {
                (true, Some(subject)) => manager.logout_everywhere(&subject, &client.context()),
                (true, None) => Err(TransitionError::NotAuthenticated),
                (false, _) => manager.logout(session, &client.context()),
            })
            .await
            .map_err(|_| WebError::TaskFailed)?;
        result?;
        self.0.lock().cookie = CookieAction::Logout;
        Ok(())
    }

    async fn run_with_session<F>(&self, f: F) -> Result<SessionInfo, WebError>
    where
        F: FnOnce(
                &crate::SessionManager,
                crate::Session,
                &super::state::Client,
            ) -> Result<Minted, TransitionError>
            + Send
            + 'static,
    {
        if self.0.lock().session.is_none() {
            return Err(WebError::Unauthenticated);
        }
        self.run(move |m, prev, c| match prev {
            Some(s) => f(m, s, c),
            None => Err(TransitionError::NotAuthenticated),
        })
        .await
    }

    async fn run<F>(&self, f: F) -> Result<SessionInfo, WebError>
    where
        F: FnOnce(
                &crate::SessionManager,
                Option<crate::Session>,
                &super::state::Client,
            ) -> Result<Minted, TransitionError>
            + Send
            + 'static,
    {
        let (previous, client) = {
            let mut st = self.0.lock();
            (st.session.take(), st.client.clone())
        };
        let manager = self.0.manager.clone();
        // Transitions wait for the revocation log's fsync: keep them off the async workers.
        let minted = tokio::task::spawn_blocking(move || f(&manager, previous, &client))
            .await
            .map_err(|_| WebError::TaskFailed)??;
        let now = self.0.manager.now();
        // Fail here, at mint time, rather than have the browser silently drop the cookie.
        self.0
            .settings
            .cookie
            .set_cookie(&minted.token, minted.expires_at(), now)?;
        let info = SessionInfo::of(&minted.session);
        let mut st = self.0.lock();
        st.cookie = CookieAction::Set(minted.token, minted.session.expires_at());
        st.session = Some(minted.session);
        Ok(info)
    }
}
