//! [`TokenResponse`]: a session token handed to an API client in a JSON body (RFC 6749 §5.1)
//! instead of a cookie.

use core::fmt;

use axum::body::Body;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http::header::{HeaderValue, CACHE_CONTROL, CONTENT_TYPE, PRAGMA};
use zeroize::Zeroizing;

use super::extract::SessionInfo;
use crate::clock::UnixTime;
use crate::token::sealer::SealedToken;

/// A session token for an API client, answered as RFC 6749 §5.1 answers an access token:
///
/// ```text
/// 200 OK
/// Content-Type: application/json
/// Cache-Control: no-store
/// Pragma: no-cache
///
/// {"access_token":"…","token_type":"Bearer","expires_in":1800}
/// ```
///
/// The client sends it back as `Authorization: Bearer …` (RFC 6750 §2.1), or as
/// `Authorization: DPoP …` with a fresh proof when `token_type` is `DPoP` (RFC 9449 §7.1), and calls the
/// application's refresh route ([`super::SessionControl::refresh_for_api`]) before
/// `expires_in` runs out; bearer requests are never rotated behind its back. Returned by the
/// `*_for_api` methods of [`super::SessionControl`]; no cookie is set. The JSON buffer is
/// wiped when the response is dropped, and `Debug` leaves the token out.
///
/// ```
/// use sealed_session::web::{SessionControl, TokenResponse, WebError};
/// use sealed_session::Login;
/// async fn login(control: SessionControl) -> Result<TokenResponse, WebError> {
///     // ... check the password first ...
///     let token = control.login_for_api(Login::new("alice")).await?;
///     println!("{} for {} s", token.token_type(), token.expires_in());
///     Ok(token)
/// }
/// ```
#[must_use = "the token must reach the client: transitions already retired its predecessor"]
pub struct TokenResponse {
    token: SealedToken,
    expires_in: u64,
    session: SessionInfo,
    dpop: bool,
}

impl TokenResponse {
    pub(crate) fn new(token: SealedToken, session: SessionInfo, now: UnixTime, dpop: bool) -> Self {
        Self {
            expires_in: session.expires_at.0.saturating_sub(now.0),
            token,
            session,
            dpop,
        }
    }

    /// The session the token carries.
    ///
    /// ```
    /// use sealed_session::web::{SessionControl, TokenResponse, WebError};
    /// async fn refresh(control: SessionControl) -> Result<TokenResponse, WebError> {
    ///     let token = control.refresh_for_api().await?;
    ///     tracing::info!(session = %token.session().handle(), "refreshed");
    ///     Ok(token)
    /// }
    /// ```
    pub fn session(&self) -> &SessionInfo {
        &self.session
    }

    /// Seconds until the token expires (RFC 6749 §5.1 `expires_in`); the session's absolute
    /// deadline bounds it.
    ///
    /// ```
    /// use sealed_session::web::{SessionControl, TokenResponse, WebError};
    /// async fn login(control: SessionControl) -> Result<TokenResponse, WebError> {
    ///     let token = control.login_for_api(sealed_session::Login::new("alice")).await?;
    ///     assert!(token.expires_in() <= 30 * 60);
    ///     Ok(token)
    /// }
    /// ```
    pub fn expires_in(&self) -> u64 {
        self.expires_in
    }

    /// The RFC 6749 §7.1 token type: `Bearer` (RFC 6750), or `DPoP` for a token bound to the
    /// key of the request's DPoP proof (RFC 9449 §5), sent back as `Authorization: DPoP`.
    ///
    /// ```
    /// use sealed_session::web::{SessionControl, TokenResponse, WebError};
    /// async fn login(control: SessionControl) -> Result<TokenResponse, WebError> {
    ///     let token = control.login_for_api(sealed_session::Login::new("alice")).await?;
    ///     assert_eq!(token.token_type(), "Bearer");
    ///     Ok(token)
    /// }
    /// ```
    pub fn token_type(&self) -> &'static str {
        if self.dpop {
            "DPoP"
        } else {
            "Bearer"
        }
    }

    /// The JSON body, in a buffer wiped on drop. Tokens are base64url, so nothing needs
    /// escaping.
    fn body(&self) -> Zeroizing<Vec<u8>> {
        use std::io::Write as _;
        let mut body = Zeroizing::new(Vec::with_capacity(self.token.len() + 80));
        // Writing to a Vec cannot fail.
        let _ = write!(
            body,
            r#"{{"access_token":"{}","token_type":"{}","expires_in":{}}}"#,
            self.token.expose_secret(),
            self.token_type(),
            self.expires_in
        );
        body
    }
}

impl IntoResponse for TokenResponse {
    fn into_response(self) -> Response {
        let body = Bytes::from_owner(self.body());
        let mut response = Body::from(body).into_response();
        let headers = response.headers_mut();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        // RFC 6749 §5.1: a response carrying a token must not be cached.
        headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
        headers.insert(PRAGMA, HeaderValue::from_static("no-cache"));
        response
    }
}

impl fmt::Debug for TokenResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenResponse")
            .field("token_type", &self.token_type())
            .field("expires_in", &self.expires_in)
            .field("session", &self.session)
            .finish_non_exhaustive()
    }
}
