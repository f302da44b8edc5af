//! The layer's DPoP setters (RFC 9449): proofs, server nonces, the public origin for `htu`.

use std::sync::Arc;
use std::time::Duration;

use super::{DpopSettings, NonceKeys};
use crate::dpop::{DpopConfigError, DpopVerifier};
use crate::error::ConfigError;
use crate::web::SessionLayer;

impl SessionLayer {
    /// DPoP mode for API clients (RFC 9449): proofs in the `DPoP` header are verified with
    /// `verifier`, and `Authorization: DPoP <token>` is accepted when no session cookie is
    /// present.
    ///
    /// - A request with a proof and no token (an API login) has its proof verified without
    ///   `ath`; [`SessionControl::login_for_api`](super::super::SessionControl::login_for_api)
    ///   then binds the new session to the proof key's JWK thumbprint (RFC 7638), through the
    ///   binding's application value (spec/sessions.md §6, §8.2): the token format does not
    ///   change, its flags mark it, and its token response says `"token_type":"DPoP"`.
    /// - Every `Authorization: DPoP` request must carry exactly one fresh proof for its method
    ///   and URI with `ath` = SHA-256 of the token; the token's binding must match the
    ///   proof's key (a mismatch is a binding mismatch: the policy's [`crate::MismatchAction`]).
    ///   A DPoP-bound token sent as `Bearer` or in the cookie never matches (§7.2).
    /// - A refused proof is answered by the layer, before the handler: 401 with
    ///   `WWW-Authenticate: DPoP error="invalid_dpop_proof", algs="ES256 EdDSA"` (or
    ///   `use_dpop_nonce`); a refused token by the route, as `error="invalid_token"`.
    ///
    /// The URI a proof's `htu` must name is the public origin
    /// ([`with_public_origin`](Self::with_public_origin)), or `https://` + the `Host` header
    /// (`http://` with [`dangerous_insecure_http`](Self::dangerous_insecure_http)), plus the
    /// path. Proofs are checked against this node's replay cache; see spec/dpop.md §9 for
    /// several nodes. Combine with [`with_bearer_tokens`](Self::with_bearer_tokens) to also
    /// serve clients without DPoP; without it, an API login must carry a proof.
    ///
    /// ```
    /// use axum::{body::Body, routing::get, Router};
    /// use http::{header, Request, StatusCode};
    /// use tower::ServiceExt;
    /// use sealed_session::dpop::{DpopConfig, DpopVerifier};
    /// use sealed_session::web::{SessionInfo, SessionLayer};
    /// # use std::sync::Arc; use sealed_session::{*, revocation::*};
    /// # let store = Arc::new(MemoryStore::new(FilterConfig::default())?);
    /// # let manager = Arc::new(SessionManager::builder(KeyRing::generate()?, "app", store).build()?);
    /// let layer = SessionLayer::new(manager).with_dpop(DpopVerifier::new(DpopConfig::default())?);
    /// let app: Router = Router::new()
    ///     .route("/me", get(|s: SessionInfo| async move { format!("{:?}", s.subject) }))
    ///     .layer(layer);
    /// tokio::runtime::Builder::new_current_thread().enable_all().build()?.block_on(async {
    ///     // A DPoP token without its proof: refused by the layer (RFC 9449 §7.1).
    ///     let request = Request::get("/me").header(header::HOST, "api.example").header(header::AUTHORIZATION, "DPoP abc");
    ///     let response = app.oneshot(request.body(Body::empty())?).await?;
    ///     assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    ///     assert_eq!(
    ///         response.headers()[header::WWW_AUTHENTICATE],
    ///         r#"DPoP error="invalid_dpop_proof", algs="ES256 EdDSA""#
    ///     );
    ///     Ok::<(), Box<dyn std::error::Error>>(())
    /// })?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn with_dpop(self, verifier: impl Into<Arc<DpopVerifier>>) -> Self {
        let dpop = DpopSettings::new(verifier.into());
        self.edit(|s| s.dpop = Some(dpop))
    }

    /// Requires a server nonce in every DPoP proof (RFC 9449 §8, §9), valid for `lifetime`
    /// after issue (1 s to 24 h). A proof without one, or with a stale one, is answered 401
    /// `WWW-Authenticate: DPoP error="use_dpop_nonce", …` with a fresh `DPoP-Nonce` header,
    /// and every response to a DPoP request carries a fresh `DPoP-Nonce`. The nonce key is
    /// derived with HKDF from the session key ring (label `sealed-session/v1 dpop-nonce`), so
    /// every node sharing the ring accepts every node's nonces with no shared state; after
    /// the primary key changes, nonces issued under an accept-only key are still accepted.
    /// Takes effect with [`with_dpop`](Self::with_dpop).
    ///
    /// Nonces bound how long a proof made in advance stays usable (RFC 9449 §11.2) and, with
    /// a short lifetime, the window in which a proof could be replayed at another node.
    ///
    /// # Errors
    /// [`DpopConfigError::NonceLifetime`] outside 1 s to 24 h.
    ///
    /// ```
    /// use std::time::Duration;
    /// use sealed_session::dpop::{DpopConfig, DpopVerifier};
    /// # use std::sync::Arc; use sealed_session::{*, revocation::*, web::SessionLayer};
    /// # let store = Arc::new(MemoryStore::new(FilterConfig::default())?);
    /// # let manager = Arc::new(SessionManager::builder(KeyRing::generate()?, "app", store).build()?);
    /// let layer = SessionLayer::new(manager)
    ///     .with_dpop(DpopVerifier::new(DpopConfig::default())?)
    ///     .with_dpop_nonces(Duration::from_secs(120))?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn with_dpop_nonces(self, lifetime: Duration) -> Result<Self, DpopConfigError> {
        let keys = Arc::new(NonceKeys::new(lifetime)?);
        Ok(self.edit(|s| s.dpop_nonces = Some(keys)))
    }

    /// The origin (`https://host[:port]`) clients address, for the `htu` of DPoP proofs
    /// (RFC 9449 §4.3 check 9). Set it whenever the server sits behind a proxy or answers to
    /// more than one name: without it the `Host` header, which the client chooses, names the
    /// URI, so a proof made for another host of the same deployment would verify here.
    ///
    /// # Errors
    /// [`ConfigError::PublicOrigin`] for anything but `http(s)://host[:port]`.
    ///
    /// ```
    /// # use std::sync::Arc; use sealed_session::{*, revocation::*, web::SessionLayer};
    /// # let store = Arc::new(MemoryStore::new(FilterConfig::default())?);
    /// # let manager = Arc::new(SessionManager::builder(KeyRing::generate()?, "app", store).build()?);
    /// let layer = SessionLayer::new(manager.clone()).with_public_origin("https://api.bank.test")?;
    /// assert!(SessionLayer::new(manager).with_public_origin("https://api.bank.test/v1").is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn with_public_origin(self, origin: &str) -> Result<Self, ConfigError> {
        let origin = crate::web::origin::normalize(origin).ok_or(ConfigError::PublicOrigin)?;
        Ok(self.edit(|s| s.public_origin = Some(origin)))
    }
}
