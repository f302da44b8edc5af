// On docs.rs the README's reference links go to the specification modules below: the
// first definition of a link label wins (CommonMark), so these come before the README's own.
#![doc = concat!(
    "[format]: crate::spec::format\n",
    "[sessions]: crate::spec::sessions\n",
    "[revocation]: crate::spec::revocation\n",
    "[threats]: crate::spec::threats\n",
    "[dpop]: crate::spec::dpop\n",
    "[bank]: https://docs.rs/crate/sealed-session/latest/source/examples/bank/\n\n",
    include_str!("../README.md")
)]
#![forbid(unsafe_code)]

mod clock;
#[cfg(feature = "dpop")]
pub mod dpop;
mod error;
mod keys;
#[cfg(test)]
mod mutation_tests;
pub mod revocation;
mod session;
pub mod token;
#[cfg(feature = "web")]
pub mod web;

/// Hooks for the generators and tests of `spec/vectors/` (feature `test-vectors`): not a
/// supported API.
#[cfg(feature = "test-vectors")]
#[doc(hidden)]
#[path = "vectors.rs"]
pub mod __vectors;

/// The normative specification (the `spec/` directory), so that it reads on docs.rs too.
pub mod spec {
    /// The token format: byte layout, AAD, claims encoding, check order, keys.
    #[doc = include_str!("../spec/format.md")]
    pub mod format {}
    /// The session lifecycle: transitions, verify order, grace, binding, web requests.
    #[doc = include_str!("../spec/sessions.md")]
    pub mod sessions {}
    /// The revocation filter: layout, sizing, generations, snapshots, the log.
    #[doc = include_str!("../spec/revocation.md")]
    pub mod revocation {}
    /// The threat model: attackers, mechanisms and their tests, what is not defended, ASVS 5.0.
    #[doc = include_str!("../spec/threats.md")]
    pub mod threats {}
    /// DPoP proof verification (RFC 9449): check order, thumbprint, nonces, replay bound.
    #[doc = include_str!("../spec/dpop.md")]
    pub mod dpop {}
}

pub use clock::{Clock, ManualClock, SystemClock, UnixTime};
pub use error::{ClaimsError, ConfigError, FilterError, KeyRingError, PolicyError, Reason, Rejected};
pub use keys::{KeyId, KeyRing, KeySchedule, KeyState, Keys, SessionKey};
pub use session::binding::{Binding, ClientContext};
pub use session::builder::SessionManagerBuilder;
pub use session::events::{CollectingSink, EventKind, EventSink, SecurityEvent, SessionTag, TracingSink};
pub use session::flood::FloodPolicy;
pub use session::manager::SessionManager;
pub use session::policy::{MismatchAction, Policy, Rotation};
pub use session::{Login, Minted, Session, SessionHandle, TransitionError, Verified};
pub use token::{Privilege, SealedToken};

#[doc(hidden)]
pub use session::flood::bench as __flood_bench;
