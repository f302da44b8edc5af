//! The transitions of an API client's session: the same as the cookie ones in
//! [`SessionControl`], but the successor goes back in a [`TokenResponse`] body and nothing is
//! set in a cookie (spec/sessions.md §8.1).

use super::control::{Delivery, SessionControl};
use super::extract::WebError;
use super::state::Credential;
use super::token_response::TokenResponse;
use crate::session::{Login, Minted};

impl SessionControl {
    /// Performs `login` with a new session id, revoking whatever session the request had, and
    /// returns the token for the client to send as `Authorization: Bearer` — or, when the
    /// request carried a verified `DPoP` proof ([`super::SessionLayer::with_dpop`]), a token
    /// bound to the proof's key, sent as `Authorization: DPoP` with a proof of that key on
    /// every request (`"token_type":"DPoP"`, RFC 9449 §5). Unlike
    /// [`SessionControl::login`] it needs no same-origin signal: login CSRF works by making a
    /// browser store the attacker's session, and a token in a body is stored by nobody. (A
    /// cross-origin browser client is still refused by the layer's origin rule for requests
    /// without a credential: list its origin in `with_allowed_origins`.)
    ///
    /// # Errors
    /// [`WebError::Transition`] for an invalid login or when the store or minting fails;
    /// [`WebError::DpopProofRequired`] without a proof where the layer takes DPoP but not
    /// `Bearer`.
    ///
    /// ```
    /// use axum::{body::Body, routing::{get, post}, Router};
    /// use http::{header, Request, StatusCode};
    /// use tower::ServiceExt;
    /// use sealed_session::web::{SessionControl, SessionInfo, SessionLayer, TokenResponse, WebError};
    /// use sealed_session::Login;
    ///
    /// async fn login(control: SessionControl) -> Result<TokenResponse, WebError> {
    ///     // ... check the password in the JSON body first ...
    ///     control.login_for_api(Login::new("alice")).await
    /// }
    /// # use std::sync::Arc; use sealed_session::{*, revocation::*};
    /// # let store = Arc::new(MemoryStore::new(FilterConfig::default())?);
    /// # let manager = Arc::new(SessionManager::builder(KeyRing::generate()?, "app", store).build()?);
    /// let app: Router = Router::new()
    ///     .route("/login", post(login))
    ///     .route("/me", get(|s: SessionInfo| async move { format!("{:?}", s.subject) }))
    ///     .layer(SessionLayer::new(manager).with_bearer_tokens());
    /// tokio::runtime::Builder::new_current_thread().enable_all().build()?.block_on(async {
    ///     // An API client sends no Origin: no same-origin signal is needed for a body token.
    ///     let response = app.clone().oneshot(Request::post("/login").body(Body::empty())?).await?;
    ///     assert_eq!(response.status(), StatusCode::OK);
    ///     assert!(response.headers().get(header::SET_COOKIE).is_none());
    ///     assert_eq!(response.headers()[header::CACHE_CONTROL], "no-store");
    ///     let body = axum::body::to_bytes(response.into_body(), 4096).await?;
    ///     let body = std::str::from_utf8(&body)?;
    ///     assert!(body.ends_with(r#"","token_type":"Bearer","expires_in":1800}"#));
    ///     let token = body.split('"').nth(3).ok_or("no token")?;
    ///
    ///     let me = Request::get("/me").header(header::AUTHORIZATION, format!("Bearer {token}"));
    ///     let response = app.oneshot(me.body(Body::empty())?).await?;
    ///     assert_eq!(response.status(), StatusCode::OK);
    ///     Ok::<(), Box<dyn std::error::Error>>(())
    /// })?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub async fn login_for_api(&self, login: Login) -> Result<TokenResponse, WebError> {
        // RFC 9449 §5: a login with a verified proof issues a token bound to its key.
        let login = if self.binds_proof_key()? {
            login.bound_to_app_value()
        } else {
            login
        };
        let minted = self
            .run(Delivery::Body, move |m, prev, c| {
                m.authenticate_with(prev, login, &c.context())
            })
            .await?;
        Ok(self.respond(minted))
    }

    /// Replaces the bearer token with a fresh one in the same session (same level, data,
    /// handle and, for a DPoP session, key binding: the request's proof already matched it). The presented token keeps working for the policy's grace window, as a weaker
    /// copy, so requests already in flight are served; presented after that it is reuse, and
    /// the session is revoked. The client must refresh before `expires_in` runs out: bearer
    /// tokens are never rotated implicitly.
    ///
    /// # Errors
    /// [`WebError::Unauthenticated`] without a session; [`WebError::CredentialMismatch`] for
    /// a session that came in the cookie; [`WebError::Transition`] for a replaced token
    /// (`GraceCopy`), the source's rate, or a store failure.
    ///
    /// ```
    /// use sealed_session::web::{SessionControl, TokenResponse, WebError};
    /// // POST /refresh with `Authorization: Bearer <current token>`.
    /// async fn refresh(control: SessionControl) -> Result<TokenResponse, WebError> {
    ///     control.refresh_for_api().await
    /// }
    /// ```
    pub async fn refresh_for_api(&self) -> Result<TokenResponse, WebError> {
        let minted = self
            .run_with_session(Delivery::Body, |m, s, c| m.refresh(s, &c.context()))
            .await?;
        Ok(self.respond(minted))
    }

    /// Elevates the bearer session after the handler re-verified the user, and returns the
    /// elevated token. Needs no same-origin signal (the token goes in the body).
    ///
    /// # Errors
    /// As [`SessionControl::refresh_for_api`]; an anonymous session is refused.
    ///
    /// ```
    /// use sealed_session::web::{SessionControl, TokenResponse, WebError};
    /// async fn step_up(control: SessionControl) -> Result<TokenResponse, WebError> {
    ///     // ... re-verify the password or a second factor first ...
    ///     control.elevate_for_api().await
    /// }
    /// ```
    pub async fn elevate_for_api(&self) -> Result<TokenResponse, WebError> {
        let minted = self
            .run_with_session(Delivery::Body, |m, s, c| m.elevate(s, &c.context()))
            .await?;
        Ok(self.respond(minted))
    }

    /// Drops the bearer session's elevated privilege and returns the authenticated token.
    ///
    /// # Errors
    /// As [`SessionControl::refresh_for_api`]; an anonymous session is refused.
    ///
    /// ```
    /// use sealed_session::web::{level::Elevated, RequireLevel, SessionControl, TokenResponse, WebError};
    /// async fn transfer(_: RequireLevel<Elevated>, control: SessionControl) -> Result<TokenResponse, WebError> {
    ///     // ... make the transfer ...
    ///     control.step_down_for_api().await
    /// }
    /// ```
    pub async fn step_down_for_api(&self) -> Result<TokenResponse, WebError> {
        let minted = self
            .run_with_session(Delivery::Body, |m, s, c| m.step_down(s, &c.context()))
            .await?;
        Ok(self.respond(minted))
    }

    /// Whether an API login binds its session to the request's proof key: yes with a
    /// verified proof; refused without one where the layer takes DPoP but not `Bearer`
    /// (the bearer token it would mint could never be presented).
    fn binds_proof_key(&self) -> Result<bool, WebError> {
        let has_key = self.0.lock().client.proof_key.is_some();
        let settings = &self.0.settings;
        if !has_key && settings.dpop.is_some() && !settings.accept_bearer {
            return Err(WebError::DpopProofRequired);
        }
        Ok(has_key)
    }

    /// The request's session is now a DPoP one (its successor answers `token_type` `DPoP`).
    fn is_dpop(&self) -> bool {
        self.0.lock().credential == Credential::Dpop
    }

    fn respond(&self, minted: Minted) -> TokenResponse {
        // The lifetime counts from the token's own issue time, not from a second clock read
        // that may fall in the next second (`expires_in` would then be one short).
        let issued_at = minted.session.claims.issued_at;
        let (token, info) = self.body(minted);
        TokenResponse::new(token, info, issued_at, self.is_dpop())
    }
}
