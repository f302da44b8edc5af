//! The layer's DPoP server nonces (RFC 9449 §8, §9), keyed from the session key ring: every
//! node with the same ring issues and accepts the same nonces, and a key rotation keeps the
//! nonces issued just before it valid.

use core::fmt;
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwapOption;

use crate::dpop::{DpopConfigError, DpopNonces};
use crate::keys::{KeyRing, KeyState, Keys};
use crate::UnixTime;

/// Derives [`DpopNonces`] from the ring in force, and rebuilds them when the ring changes.
pub(crate) struct NonceKeys {
    lifetime: Duration,
    cached: ArcSwapOption<Cached>,
}

/// The nonces of one ring. Holding the ring's `Arc` makes the pointer comparison exact: the
/// address cannot be reused while it is held.
pub(crate) struct Cached {
    ring: Arc<KeyRing>,
    pub(crate) nonces: DpopNonces,
}

impl NonceKeys {
    /// Nonces valid for `lifetime` after issue.
    pub(crate) fn new(lifetime: Duration) -> Result<Self, DpopConfigError> {
        // Checked once here, so building them per ring cannot fail later.
        DpopNonces::new(&[0; 32]).with_lifetime(lifetime)?;
        Ok(Self {
            lifetime,
            cached: ArcSwapOption::empty(),
        })
    }

    /// The nonces under the ring in force at `now`: the current key is the primary's
    /// `dpop-nonce` subkey (HKDF, spec/format.md "Keys"), the previous key the subkey of an
    /// accept-only key (the one with the highest id, when a ring lists several), so a nonce
    /// issued by a node one rotation step behind or ahead still checks. `None` for a ring
    /// without a primary (refused when the manager was built).
    pub(crate) fn at(&self, keys: &Keys, now: UnixTime) -> Option<Arc<Cached>> {
        let ring = arc_swap::Guard::into_inner(keys.load_at(now));
        if let Some(cached) = self.cached.load_full() {
            if Arc::ptr_eq(&cached.ring, &ring) {
                return Some(cached);
            }
        }
        let primary = ring.primary()?;
        let mut nonces = DpopNonces::new(&primary.dpop_nonce);
        let previous = ring
            .entries()
            .filter(|&(id, state, _)| state == KeyState::AcceptOnly && id != primary.id)
            .map(|(id, _, _)| id)
            .max()
            .and_then(|id| ring.get(id));
        if let Some(previous) = previous {
            nonces = nonces.with_previous_key(&previous.dpop_nonce);
        }
        let nonces = nonces.with_lifetime(self.lifetime).ok()?;
        let cached = Arc::new(Cached { ring, nonces });
        self.cached.store(Some(cached.clone()));
        Some(cached)
    }
}

impl fmt::Debug for NonceKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NonceKeys")
            .field("lifetime", &self.lifetime)
            .finish_non_exhaustive()
    }
}
