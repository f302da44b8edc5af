//! The per-node replay cache (RFC 9449 §11.1: remember each accepted `jti`, "in the context
//! of the target URI", for as long as its proof would be accepted).
//!
//! Memory is bounded: at most `capacity` entries of a 16-byte id and the proof's `iat` (the
//! age heap is allocated up front, the id set is a B-tree that holds exactly the live
//! entries: about 64 bytes per entry at most, by the node layout). Every call is O(log n) in the worst
//! case, so there is no hash-flooding concern and no call pays for a backlog. A client with its own key can make unlimited valid proofs, so the cache must not
//! grow with load and must not be fillable into refusing everyone either. When it is full,
//! it forgets the entry with the *oldest* `iat` and raises a horizon to that `iat`; proofs
//! with `iat` at or below the horizon are refused. The invariant: every accepted proof with
//! `iat` above the horizon is still in the cache, so a replay is always caught, and under a
//! flood only the acceptance window narrows (to about `capacity` ÷ accepted proofs per
//! second, and every accepted proof costs the flooder a signature verification here).

use std::cmp::Reverse;
use std::collections::{BTreeSet, BinaryHeap};

use ring::digest;

use super::error::DpopError;
use super::thumbprint::JwkThumbprint;

/// The identity of one proof: SHA-256(thumbprint ‖ len(htu) ‖ htu ‖ jti), first 16 bytes.
/// The key's thumbprint is part of it so that nobody can spend another client's `jti` with
/// their own key; 128 bits leave no practical way to make one proof collide with another.
pub(crate) type ProofId = [u8; 16];

pub(crate) fn proof_id(thumbprint: &JwkThumbprint, htu: &str, jti: &str) -> ProofId {
    let mut ctx = digest::Context::new(&digest::SHA256);
    ctx.update(thumbprint.as_bytes());
    // u64 so the length prefix cannot be truncated; htu is bounded by the proof length cap.
    ctx.update(&(htu.len() as u64).to_be_bytes());
    ctx.update(htu.as_bytes());
    ctx.update(jti.as_bytes());
    let mut id = [0u8; 16];
    for (out, b) in id.iter_mut().zip(ctx.finish().as_ref()) {
        *out = *b;
    }
    id
}

/// Expired entries dropped per call at most.
const PURGE_PER_CALL: usize = 8;

pub(crate) struct ReplayCache {
    capacity: usize,
    /// Min-heap on `iat`: expiry and eviction both take the oldest proof.
    by_age: BinaryHeap<Reverse<(u64, ProofId)>>,
    /// The same ids, for lookup.
    seen: BTreeSet<ProofId>,
    /// Proofs with `iat` at or below this may have been forgotten while still acceptable.
    horizon: Option<u64>,
}

impl ReplayCache {
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            capacity,
            by_age: BinaryHeap::with_capacity(capacity),
            seen: BTreeSet::new(),
            horizon: None,
        }
    }

    /// Records a proof issued at `iat`, refusing one already seen or older than the
    /// horizon. Entries with `iat` before `oldest_acceptable` are dropped first: their
    /// proofs fail the `iat` check anyway.
    pub(crate) fn insert(&mut self, id: ProofId, iat: u64, oldest_acceptable: u64) -> Result<(), DpopError> {
        // A bounded number per call keeps every call O(log capacity); each call adds at most
        // one entry, so expired ones still drain faster than they come. One left over when
        // the cache is full is simply the entry evicted next (raising the horizon to an `iat`
        // the window already refuses).
        for _ in 0..PURGE_PER_CALL {
            match self.by_age.peek() {
                Some(&Reverse((old, old_id))) if old < oldest_acceptable => {
                    self.by_age.pop();
                    self.seen.remove(&old_id);
                }
                _ => break,
            }
        }
        if self.horizon.is_some_and(|h| iat <= h) {
            return Err(DpopError::ReplayHorizon);
        }
        if self.seen.contains(&id) {
            return Err(DpopError::Replayed);
        }
        if self.seen.len() >= self.capacity {
            // Storing this proof means forgetting the oldest one and refusing everything that
            // old from now on; a proof no newer than that one would be refused at once, so it
            // is refused without forgetting anything.
            let Some(&Reverse((oldest, oldest_id))) = self.by_age.peek() else {
                return Err(DpopError::ReplayHorizon);
            };
            if iat <= oldest {
                return Err(DpopError::ReplayHorizon);
            }
            self.by_age.pop();
            self.seen.remove(&oldest_id);
            self.horizon = Some(self.horizon.map_or(oldest, |h| h.max(oldest)));
        }
        self.seen.insert(id);
        self.by_age.push(Reverse((iat, id)));
        Ok(())
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.seen.len()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
    use super::*;

    fn id(n: u32) -> ProofId {
        proof_id(
            &JwkThumbprint::from_bytes([1; 32]),
            "https://a.example/",
            &n.to_string(),
        )
    }

    #[test]
    fn a_proof_is_accepted_once() {
        let mut cache = ReplayCache::new(8);
        assert_eq!(cache.insert(id(1), 100, 40), Ok(()));
        assert_eq!(cache.insert(id(1), 100, 40), Err(DpopError::Replayed));
        assert_eq!(cache.insert(id(2), 100, 40), Ok(()));
    }

    #[test]
    fn the_id_binds_key_uri_and_jti() {
        let key = JwkThumbprint::from_bytes([1; 32]);
        let other = JwkThumbprint::from_bytes([2; 32]);
        let base = proof_id(&key, "https://a.example/x", "j");
        assert_ne!(base, proof_id(&other, "https://a.example/x", "j"));
        assert_ne!(base, proof_id(&key, "https://a.example/y", "j"));
        assert_ne!(base, proof_id(&key, "https://a.example/x", "k"));
        // The length prefix keeps htu and jti apart.
        assert_ne!(proof_id(&key, "ab", "c"), proof_id(&key, "a", "bc"));
    }

    #[test]
    fn expired_entries_are_dropped_and_memory_stays_bounded() {
        let mut cache = ReplayCache::new(4);
        for n in 0..1000u32 {
            let iat = 1000 + u64::from(n);
            assert_eq!(cache.insert(id(n), iat, iat - 2), Ok(()), "{n}");
            assert!(cache.len() <= 3);
        }
        assert_eq!(cache.horizon, None, "expiry alone never evicts a live proof");
    }

    #[test]
    fn a_backlog_of_expired_entries_is_drained_a_few_per_call() {
        let mut cache = ReplayCache::new(100);
        for n in 0..100 {
            assert_eq!(cache.insert(id(n), 1000, 0), Ok(()));
        }
        assert_eq!(cache.insert(id(100), 5000, 4940), Ok(()));
        assert_eq!(cache.len(), 100 - PURGE_PER_CALL + 1);
        for n in 101..120 {
            assert_eq!(cache.insert(id(n), 5000, 4940), Ok(()));
        }
        assert_eq!(cache.len(), 20, "only the live entries are left");
        assert_eq!(cache.horizon, None);
    }

    #[test]
    fn a_full_cache_forgets_the_oldest_and_refuses_proofs_that_old() {
        let mut cache = ReplayCache::new(3);
        for (n, iat) in [(1, 100), (2, 103), (3, 101)] {
            assert_eq!(cache.insert(id(n), iat, 0), Ok(()));
        }
        // Full: the proof at 100 is forgotten, so nothing at or before 100 is accepted.
        assert_eq!(cache.insert(id(4), 104, 0), Ok(()));
        assert_eq!(cache.insert(id(1), 100, 0), Err(DpopError::ReplayHorizon));
        assert_eq!(cache.insert(id(5), 99, 0), Err(DpopError::ReplayHorizon));
        // Still remembered above the horizon.
        assert_eq!(cache.insert(id(3), 101, 0), Err(DpopError::Replayed));
        assert_eq!(cache.insert(id(2), 103, 0), Err(DpopError::Replayed));
        // A new proof as old as the one being evicted is refused, not stored.
        assert_eq!(cache.insert(id(6), 101, 0), Err(DpopError::ReplayHorizon));
        assert_eq!(cache.len(), 3);
    }

    #[test]
    fn no_replay_is_ever_accepted_under_a_flood() {
        // A flooder fills a small cache with fresh proofs while a victim's proofs arrive; each
        // victim proof is replayed after every flood burst and must never be accepted twice.
        let mut cache = ReplayCache::new(16);
        let mut accepted = Vec::new();
        for round in 0..200u32 {
            let now = 10_000 + u64::from(round / 4);
            let victim = id(1_000_000 + round);
            if cache.insert(victim, now, now - 60).is_ok() {
                accepted.push((victim, now));
            }
            for f in 0..20 {
                let _ = cache.insert(id(round * 100 + f), now + 5, now - 60);
            }
            for &(old, iat) in &accepted {
                assert!(cache.insert(old, iat, now - 60).is_err());
            }
            assert!(cache.len() <= 16);
        }
    }
}
