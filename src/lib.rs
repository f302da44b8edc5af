#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

mod binding;
mod claims;
mod clock;
mod error;
mod events;
mod flood;
mod keyfile;
mod keys;
mod manager;
mod policy;
pub mod revocation;
mod rng;
mod sealer;
mod session;
mod transitions;
mod verify;
#[cfg(feature = "web")]
pub mod web;
mod wire;
pub mod xchacha;

pub use binding::{Binding, ClientContext};
pub use events::{CollectingSink, EventKind, EventSink, FanOut, SecurityEvent, SessionTag, TracingSink};
pub use flood::FloodPolicy;
pub use manager::{SessionManager, SessionManagerBuilder};
pub use policy::{MismatchAction, Policy, Rotation, MAX_GRACE};
pub use session::{Minted, Session, TransitionError, Verified};

pub use claims::{
    decode_claims, BindingHash, Claims, Epoch, Flags, Privilege, SessionId, TokenId, EPOCH_SECONDS,
    MAX_APP_DATA_LEN, MAX_CLAIMS_LEN, MAX_SUBJECT_LEN, TIME_ORIGIN,
};
pub use clock::{Clock, ManualClock, SystemClock, UnixTime};
pub use error::{ConfigError, Reason, Rejected};
pub use keyfile::write_key_file;
pub use keys::{KeyId, KeyRing, KeyState, SessionKey};
pub use revocation::{FileStore, FilterConfig, MemoryStore, Revocation, RevocationSet, RevocationStore};
pub use sealer::{Opened, SealedToken, Sealer, MAX_CONTEXT_LEN, MAX_LEEWAY};
pub use wire::{UntrustedToken, FRAMING_LEN, MAX_TOKEN_BYTES, MAX_TOKEN_CHARS, VERSION};

#[doc(hidden)]
pub use flood::bench as __flood_bench;
