//! Keys: the ring (one primary, accept-only and retired keys), its key-file form, the
//! per-purpose HKDF subkeys, and the one shared handle that the manager and every store hold.

pub(crate) mod file;
mod handle;
pub(crate) mod ring;
mod schedule;
mod secret;

pub use handle::Keys;
pub use ring::{KeyId, KeyRing, KeyState};
pub use schedule::KeySchedule;
pub(crate) use secret::RingKey;
pub use secret::SessionKey;
