#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

mod clock;
mod error;
mod keys;
pub mod revocation;
mod session;
pub mod token;
#[cfg(feature = "web")]
pub mod web;

pub use clock::{Clock, ManualClock, SystemClock, UnixTime};
pub use error::{ClaimsError, ConfigError, FilterError, KeyRingError, PolicyError, Reason, Rejected};
pub use keys::{KeyId, KeyRing, KeyState, Keys, SessionKey};
pub use session::binding::{Binding, ClientContext};
pub use session::events::{CollectingSink, EventKind, EventSink, SecurityEvent, SessionTag, TracingSink};
pub use session::flood::FloodPolicy;
pub use session::manager::{SessionManager, SessionManagerBuilder};
pub use session::policy::{MismatchAction, Policy, Rotation};
pub use session::{Minted, Session, TransitionError, Verified};
pub use token::{Privilege, SealedToken};

#[doc(hidden)]
pub use session::flood::bench as __flood_bench;
