//! Scheduled key changes (the ASP.NET Data Protection way): a key is distributed to every
//! node first, and becomes primary, or is retired, at a time written in the key file, so every
//! node sharing the file changes primary at the same moment without coordinating.

use super::ring::{KeyRing, KeyState};
use crate::clock::UnixTime;

/// When a key of the ring changes state by itself.
///
/// A key with `activate_at` is accept-only until then and primary from then on (the key
/// activated last wins; the previous primary becomes accept-only). A key with `retire_at` is
/// retired from then on. Without either, the state listed in the key file holds.
///
/// ```
/// use sealed_session::{KeyId, KeyRing, KeySchedule, KeyState, SessionKey, UnixTime};
/// let mut ring = KeyRing::generate()?;
/// ring.insert(KeyId(2), KeyState::AcceptOnly, SessionKey::generate()?)?;
/// ring.set_schedule(KeyId(2), KeySchedule { activate_at: Some(UnixTime(2_000_000_000)), retire_at: None })?;
/// assert_eq!(ring.primary_id_at(UnixTime(1_999_999_999)), Some(KeyId(1)));
/// assert_eq!(ring.primary_id_at(UnixTime(2_000_000_000)), Some(KeyId(2)));
/// # Ok::<(), sealed_session::ConfigError>(())
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct KeySchedule {
    /// From this time on the key is primary (until a later-activated key takes over).
    pub activate_at: Option<UnixTime>,
    /// From this time on the key is retired.
    pub retire_at: Option<UnixTime>,
}

impl KeySchedule {
    /// Whether nothing is scheduled.
    ///
    /// ```
    /// assert!(sealed_session::KeySchedule::default().is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.activate_at.is_none() && self.retire_at.is_none()
    }
}

/// The state of every key of `ring` at `now`, in ring order.
pub(crate) fn states_at(ring: &KeyRing, now: UnixTime) -> Vec<KeyState> {
    let retired = |s: &KeySchedule, listed: KeyState| {
        listed == KeyState::Retired || s.retire_at.is_some_and(|t| t <= now)
    };
    // The key activated last (ties: the higher id) among those not retired at `now`.
    let activated = ring
        .entries()
        .filter(|(_, listed, s)| !retired(s, *listed))
        .filter_map(|(id, _, s)| s.activate_at.filter(|t| *t <= now).map(|t| (t, id)))
        .max();
    ring.entries()
        .map(|(id, listed, s)| {
            if retired(&s, listed) {
                KeyState::Retired
            } else if let Some((_, primary)) = activated {
                if id == primary {
                    KeyState::Primary
                } else {
                    KeyState::AcceptOnly
                }
            } else if s.activate_at.is_some_and(|t| t > now) {
                KeyState::AcceptOnly
            } else {
                listed
            }
        })
        .collect()
}

/// The first scheduled change after `now`, if any.
pub(crate) fn next_change_after(ring: &KeyRing, now: UnixTime) -> Option<UnixTime> {
    ring.entries()
        .flat_map(|(_, _, s)| [s.activate_at, s.retire_at])
        .flatten()
        .filter(|t| *t > now)
        .min()
}
