//! [`SessionControl`]: the transitions a handler runs (begin, login, elevate, step down,
//! logout), each on the blocking pool; the layer writes the successor cookie.

use axum::extract::FromRequestParts;
use http::request::Parts;

use super::extract::{shared, SessionInfo, WebError};
use super::origin::Provenance;
use super::state::{Client, CookieAction, Credential, Shared};
use crate::session::events::EventKind;
use crate::session::{Login, Minted, Session, TransitionError};
use crate::token::claims::{Flags, Privilege};
use crate::token::sealer::SealedToken;
use crate::SessionManager;

/// Where a transition sends the successor token.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Delivery {
    /// `Set-Cookie`, written by the layer.
    Cookie,
    /// A [`super::TokenResponse`] body, returned by the handler.
    Body,
}

/// Runs transitions for this request. The methods without a suffix answer with a cookie: the
/// layer writes the successor into `Set-Cookie`, so a handler cannot forget to send it. The
/// `*_for_api` methods answer an API client instead: they return the successor as a
/// [`super::TokenResponse`] (RFC 6749 §5.1 JSON) and set no cookie. A transition refuses
/// ([`WebError::CredentialMismatch`]) to move a session between the two: a cookie session's
/// token never appears in a body, and a bearer session never gets a cookie it cannot see.
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
pub struct SessionControl(pub(super) Shared);

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
        let existing = self.0.lock().session.as_ref().map(|s| self.info(s));
        if let Some(info) = existing {
            return Ok(info);
        }
        let minted = self
            .run(Delivery::Cookie, |m, _, c| m.begin(&c.context()))
            .await?;
        Ok(self.cookie(minted))
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
        self.login_with(Login::new(subject).with_level(level)).await
    }

    /// Performs `login` (subject, level, sealed application data) with a new session id,
    /// revoking whatever session the request had; the cookie carries the new session.
    ///
    /// # Errors
    /// [`WebError::OriginRequired`] without a same-origin signal; [`WebError::Transition`]
    /// for an invalid login (e.g. data over 256 bytes) or when the store or minting fails.
    ///
    /// ```
    /// use sealed_session::web::{SessionControl, SessionInfo, WebError};
    /// use sealed_session::Login;
    /// async fn login(control: SessionControl) -> Result<String, WebError> {
    ///     // ... check the password first ...
    ///     let session = control.login_with(Login::new("alice").with_app_data(b"tenant=7")).await?;
    ///     Ok(format!("welcome; tenant {:?}", String::from_utf8_lossy(session.app_data())))
    /// }
    /// ```
    pub async fn login_with(&self, login: Login) -> Result<SessionInfo, WebError> {
        self.require_same_origin()?;
        let minted = self
            .run(Delivery::Cookie, move |m, prev, c| {
                m.authenticate_with(prev, login, &c.context())
            })
            .await?;
        Ok(self.cookie(minted))
    }

    /// Elevates the session after the handler re-verified the user.
    ///
    /// # Errors
    /// [`WebError::Unauthenticated`] without a session; [`WebError::CredentialMismatch`] for
    /// a bearer session (use [`SessionControl::elevate_for_api`]); transition failures.
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
        // A bearer session hears of the mismatch, not of a browser rule it cannot meet.
        self.check_delivery(Delivery::Cookie)?;
        self.require_same_origin()?;
        let minted = self
            .run_with_session(Delivery::Cookie, |m, s, c| m.elevate(s, &c.context()))
            .await?;
        Ok(self.cookie(minted))
    }

    /// Drops elevated privilege.
    ///
    /// # Errors
    /// [`WebError::Unauthenticated`] without a session; [`WebError::CredentialMismatch`] for
    /// a bearer session (use [`SessionControl::step_down_for_api`]); transition failures.
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
        let minted = self
            .run_with_session(Delivery::Cookie, |m, s, c| m.step_down(s, &c.context()))
            .await?;
        Ok(self.cookie(minted))
    }

    /// Logs out on every node and clears the cookie (a bearer session has none to clear).
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
        let mut st = self.0.lock();
        // A bearer client holds no cookie, and its page's other cookies are not ours to clear.
        if !st.credential.in_header() {
            st.cookie = CookieAction::Logout;
        }
        Ok(())
    }

    /// Runs `f` on the request's session, which must exist and have come the way `delivery`
    /// sends its successor (checked before anything is revoked).
    pub(super) async fn run_with_session<F>(&self, delivery: Delivery, f: F) -> Result<Minted, WebError>
    where
        F: FnOnce(&SessionManager, Session, &Client) -> Result<Minted, TransitionError> + Send + 'static,
    {
        if self.0.lock().session.is_none() {
            return Err(WebError::Unauthenticated);
        }
        self.check_delivery(delivery)?;
        self.run(delivery, move |m, prev, c| match prev {
            Some(s) => f(m, s, c),
            None => Err(TransitionError::NotAuthenticated),
        })
        .await
    }

    /// The request's session, if any, came the way `delivery` sends its successor.
    fn check_delivery(&self, delivery: Delivery) -> Result<(), WebError> {
        let st = self.0.lock();
        let came_as_bearer = st.credential.in_header();
        if st.session.is_some() && came_as_bearer != (delivery == Delivery::Body) {
            return Err(WebError::CredentialMismatch);
        }
        Ok(())
    }

    /// Takes the request's session, runs `f` on the blocking pool and installs the successor
    /// as the request's session, remembering where its token goes.
    pub(super) async fn run<F>(&self, delivery: Delivery, f: F) -> Result<Minted, WebError>
    where
        F: FnOnce(&SessionManager, Option<Session>, &Client) -> Result<Minted, TransitionError>
            + Send
            + 'static,
    {
        let (previous, mut client) = {
            let mut st = self.0.lock();
            (st.session.take(), st.client.clone())
        };
        if delivery == Delivery::Cookie {
            // A cookie is presented without a proof: a session bound to the proof key could
            // never be used (and a policy binding the application value would bind it).
            client.proof_key = None;
        }
        let manager = self.0.manager.clone();
        // Transitions wait for the revocation log's fsync: keep them off the async workers.
        let minted = tokio::task::spawn_blocking(move || f(&manager, previous, &client))
            .await
            .map_err(|_| WebError::TaskFailed)??;
        if delivery == Delivery::Cookie {
            // Fail here, at mint time, rather than have the browser silently drop the cookie.
            let now = self.0.manager.now();
            self.0
                .settings
                .cookie
                .set_cookie(&minted.token, minted.expires_at(), now)?;
        }
        let mut st = self.0.lock();
        let proof_bound =
            st.client.proof_key.is_some() && minted.session.binding_flags().contains(Flags::BIND_APP_VALUE);
        let api = if proof_bound {
            Credential::Dpop
        } else {
            Credential::Bearer
        };
        st.credential = match (delivery, st.credential) {
            (Delivery::Cookie, _) => Credential::Cookie,
            // A login for an API replaced a cookie session: that cookie is dead, drop it.
            (Delivery::Body, Credential::Cookie) => {
                st.cookie = CookieAction::Expire;
                api
            }
            (Delivery::Body, _) => api,
        };
        Ok(minted)
    }

    /// Hands a cookie-delivered successor to the layer; the handler sees its session.
    fn cookie(&self, minted: Minted) -> SessionInfo {
        let info = self.info(&minted.session);
        let mut st = self.0.lock();
        st.cookie = CookieAction::Set(minted.token, minted.session.expires_at());
        st.session = Some(minted.session);
        info
    }

    /// Keeps a body-delivered successor's session for the rest of the request and returns
    /// its token for the response body.
    pub(super) fn body(&self, minted: Minted) -> (SealedToken, SessionInfo) {
        let info = self.info(&minted.session);
        self.0.lock().session = Some(minted.session);
        (minted.token, info)
    }

    pub(super) fn info(&self, session: &Session) -> SessionInfo {
        SessionInfo::of(session, &self.0.manager)
    }
}
