//! [`SessionControl`]: the transitions a handler runs (begin, login, elevate, step down,
//! logout), each on the blocking pool; the layer writes the successor cookie.

use axum::extract::FromRequestParts;
use http::request::Parts;

use super::extract::{shared, SessionInfo, WebError};
use super::origin::Provenance;
use super::state::{CookieAction, Shared};
use crate::session::events::EventKind;
use crate::session::{Minted, TransitionError};
use crate::token::claims::Privilege;

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
