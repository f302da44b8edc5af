//! Sessions on top of tokens: the manager and its policy, the request path (verify), the
//! login path (transitions), client binding, security events and flood accounting.

pub(crate) mod binding;
pub(crate) mod builder;
pub(crate) mod cache;
#[cfg(test)]
mod cache_tests;
pub(crate) mod events;
pub(crate) mod flood;
mod handle;
mod login;
pub(crate) mod manager;
pub(crate) mod policy;
mod transitions;
mod types;
mod verify;

pub use handle::SessionHandle;
pub use login::Login;
pub use types::{Minted, Session, TransitionError, Verified};
