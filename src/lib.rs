#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

mod claims;
mod clock;
mod error;
mod keyfile;
mod keys;
mod rng;
mod sealer;
mod wire;
pub mod xchacha;

pub use claims::{
    decode_claims, BindingHash, Claims, Epoch, Flags, Privilege, SessionId, TokenId, EPOCH_SECONDS,
    MAX_APP_DATA_LEN, MAX_CLAIMS_LEN, MAX_SUBJECT_LEN, TIME_ORIGIN,
};
pub use clock::{Clock, ManualClock, SystemClock, UnixTime};
pub use error::{ConfigError, Reason, Rejected};
pub use keyfile::write_key_file;
pub use keys::{KeyId, KeyRing, KeyState, SessionKey};
pub use sealer::{Opened, SealedToken, Sealer, MAX_CONTEXT_LEN, MAX_LEEWAY};
pub use wire::{UntrustedToken, FRAMING_LEN, MAX_TOKEN_BYTES, MAX_TOKEN_CHARS, VERSION};
