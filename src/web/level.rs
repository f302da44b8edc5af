//! The levels [`RequireLevel`](super::RequireLevel) can require, as types: a misspelt level
//! does not compile.
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
