//! Web integration (feature `web`): a tower layer for axum routers, its extractors, and the
//! session cookie.
//!
//! ```text
//! request ─► SessionLayer ─► Cookie header only, parsed as bytes (Bearer, DPoP opt-in; never query or body)
//!            │  duplicate session cookie → no session + event; token-shaped query or form → event
//!            ├─ DPoP proof (RFC 9449): verified first, or 401 DPoP error="invalid_dpop_proof";
//!            │  its key's thumbprint is the binding's application value
//!            ├─ SessionManager::verify(token, peer IP + User-Agent bytes [+ thumbprint])
//!            │                                                  (bearer, DPoP: never rotated)
//!            ├─ foreign origin (scheme, host, port; Sec-Fetch-Site) on a state change → step down + 403
//!            │  (not for bearer requests: nothing rides along by itself)
//!            ├─ handler: SessionInfo / MaybeSession / RequireLevel<L> / SessionControl
//!            │           (login and elevate need a same-origin signal: login CSRF;
//!            │            *_for_api return a TokenResponse body instead of a cookie)
//!            └─ response: Set-Cookie (__Host-, Secure, HttpOnly, SameSite, Path=/, Max-Age)
//!                         + Cache-Control: no-store whenever a session is involved;
//!                         logout adds Clear-Site-Data; HSTS with Secure cookies;
//!                         API refusals: 401/403 + WWW-Authenticate: Bearer / DPoP, JSON
//!                         (RFC 6750 §3, RFC 9449 §7.1); DPoP-Nonce when nonces are on
//! ```
//!
//! ```
//! use std::net::SocketAddr;
//! use std::sync::Arc;
//! use axum::{routing::{get, post}, Router};
//! use sealed_session::revocation::{FilterConfig, MemoryStore};
//! use sealed_session::web::{level, RequireLevel, SessionControl, SessionLayer, WebError};
//! use sealed_session::{KeyRing, Privilege, SessionManager};
//!
//! let store = Arc::new(MemoryStore::new(FilterConfig::default())?);
//! let manager = Arc::new(SessionManager::builder(KeyRing::generate()?, "app", store).build()?);
//! let app: Router = Router::new()
//!     .route("/login", post(|control: SessionControl| async move {
//!         // ... check the password first ...
//!         control.login("alice", Privilege::Authenticated).await.map(|_| "welcome")
//!     }))
//!     .route("/account", get(|s: RequireLevel<level::Authenticated>| async move {
//!         format!("signed in as {:?}", s.subject)
//!     }))
//!     .layer(SessionLayer::new(manager));
//! // axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>())
//! # let _ = app.into_make_service_with_connect_info::<SocketAddr>();
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod api;
mod bearer;
mod control;
mod cookies;
mod dpop;
mod extract;
mod future;
mod layer;
pub mod level;
mod origin;
mod scan;
mod service;
mod settings;
mod state;
mod token_response;

pub use control::SessionControl;
pub use cookies::CookieError;
pub use extract::{MaybeSession, RequireLevel, SessionInfo, WebError};
pub use future::ResponseFuture;
pub use layer::SessionLayer;
pub use service::SessionService;
pub use token_response::TokenResponse;
