//! The verified-token cache: what opening a token and checking its binding established,
//! kept per node so that a token presented again skips the AEAD, the claims decode and the
//! binding MAC. Everything that can change while a token lives (revocation, cutoffs, kill
//! switch, expiry, elevation lapse, the key ring) is still checked on every request by the
//! caller; spec/sessions.md §12 argues why nothing skipped could change the verdict.
//!
//! Layout: `sets` of [`WAYS`] entries, each set behind its own mutex, found by a keyed hash
//! (SipHash-1-3 under a per-process random key, std's `RandomState`) of the token text's
//! first 36 characters (its header and random nonce); an entry is accepted only after a
//! constant-time comparison of the whole text. A full set
//! replaces its entries in turn (FIFO), so memory is fixed at `capacity` entries.

use std::hash::{BuildHasher, RandomState};
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::keys::KeyId;
use crate::session::binding::ClientContext;
use crate::token::claims::{Claims, Flags, TokenId};

/// Entries per set.
const WAYS: usize = 4;
/// Default capacity in entries (about 4 MB for typical tokens; see spec/sessions.md §12).
pub(crate) const DEFAULT_CAPACITY: usize = 10_000;
/// Characters of the text that choose its set (base64url of the 2 header and 24 nonce
/// bytes, and one more; every token is longer).
const INDEXED_PREFIX: usize = 36;
/// Longest `User-Agent` whose binding verdict is cached (longer ones are verified cold).
const MAX_CACHED_USER_AGENT: usize = 512;
/// Longest application binding value whose verdict is cached.
const MAX_CACHED_APP_VALUE: usize = 128;

/// Whether two texts are equal, in a time that depends only on their lengths (the length of
/// a token is not secret): every 8-byte word is XOR-folded into one accumulator with no early
/// exit, and `subtle` judges the accumulator, so a near miss costs what a far one does.
/// Word-wise because `subtle`'s slice comparison is byte by byte through an optimization
/// barrier, about 1 ns per byte: most of a cache hit's budget for a 130-byte token.
fn same_text(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let word = |w: &[u8]| u64::from_ne_bytes(<[u8; 8]>::try_from(w).unwrap_or([0; 8]));
    let (wa, wb) = (a.chunks_exact(8), b.chunks_exact(8));
    let mut acc = wa
        .remainder()
        .iter()
        .zip(wb.remainder())
        .fold(0u64, |acc, (x, y)| acc | u64::from(x ^ y));
    for (x, y) in wa.zip(wb) {
        acc |= word(x) ^ word(y);
    }
    bool::from(acc.ct_eq(&0))
}

/// What a hit yields: the token's opened contents. The caller still runs every check that
/// depends on time or on revocation state.
pub(crate) struct Hit {
    pub(crate) key_id: KeyId,
    pub(crate) token_id: TokenId,
    pub(crate) claims: Arc<Claims>,
}

/// The client inputs a binding verdict was computed from, as presented (before masking):
/// equal inputs give an equal encoded context (spec/sessions.md §6), so an equal verdict.
struct BoundClient {
    ip: Option<IpAddr>,
    user_agent: Option<Box<[u8]>>,
    app_value: Option<Box<[u8]>>,
}

impl BoundClient {
    /// Only the inputs the token's flags bind are kept, and only when they are short enough.
    fn of(flags: Flags, client: &ClientContext<'_>) -> Option<Self> {
        let keep = |bit: u8, value: Option<&[u8]>, max: usize| -> Option<Option<Box<[u8]>>> {
            match value {
                Some(v) if flags.contains(bit) => (v.len() <= max).then(|| Some(Box::from(v))),
                _ => Some(None),
            }
        };
        Some(Self {
            ip: client.ip.filter(|_| flags.contains(Flags::BIND_IP)),
            user_agent: keep(Flags::BIND_USER_AGENT, client.user_agent, MAX_CACHED_USER_AGENT)?,
            app_value: keep(Flags::BIND_APP_VALUE, client.app_value, MAX_CACHED_APP_VALUE)?,
        })
    }

    /// Whether `client` presents the same bound inputs. Not secret: no constant time needed
    /// (the presenter knows its own context, and an entry is only consulted for a holder of
    /// the exact token text).
    fn matches(&self, flags: Flags, client: &ClientContext<'_>) -> bool {
        let same = |bit: u8, kept: &Option<Box<[u8]>>, given: Option<&[u8]>| {
            !flags.contains(bit) || kept.as_deref() == given
        };
        (!flags.contains(Flags::BIND_IP) || self.ip == client.ip)
            && same(Flags::BIND_USER_AGENT, &self.user_agent, client.user_agent)
            && same(Flags::BIND_APP_VALUE, &self.app_value, client.app_value)
    }
}

/// One verified token. No `Debug`: the text is a bearer secret (wiped on drop).
struct Entry {
    text: Zeroizing<Box<[u8]>>,
    /// The keyed hash of the text ([`Slot`]): compared first, so the other entries of a set
    /// cost one comparison each, not a pass over their text.
    hash: u64,
    /// The key-ring generation it was opened under; any other generation makes it stale.
    generation: u64,
    key_id: KeyId,
    token_id: TokenId,
    claims: Arc<Claims>,
    bound: BoundClient,
}

impl Entry {
    /// Whether this entry is the token `text` (whose keyed hash is `slot`). The hash is
    /// compared first: equal hashes of different texts need the prefix the hash covers,
    /// which includes the token's random nonce, so only a holder of that prefix could tell
    /// the two outcomes apart by their timing.
    fn is(&self, slot: Slot, text: &[u8]) -> bool {
        self.hash == slot.0 && same_text(&self.text, text)
    }
}

/// A text's keyed hash: chooses its set and prefilters the comparisons.
#[derive(Clone, Copy)]
pub(crate) struct Slot(u64);

#[derive(Default)]
struct Set {
    ways: [Option<Box<Entry>>; WAYS],
    /// The way the next insertion into a full set replaces.
    next: usize,
}

/// A bounded, sharded cache of verified tokens (see the module documentation).
pub(crate) struct VerifiedCache {
    sets: Box<[Mutex<Set>]>,
    hasher: RandomState,
    /// The key-ring generation the entries belong to; a different one empties the cache.
    generation: AtomicU64,
    /// Lookups answered from the cache (tests show the cached path is really taken).
    #[cfg(test)]
    hits: AtomicU64,
}

impl VerifiedCache {
    /// Room for `capacity` entries (rounded down to whole sets); `None` for 0.
    pub(crate) fn new(capacity: usize) -> Option<Self> {
        let sets = capacity / WAYS;
        if sets == 0 {
            return None;
        }
        Some(Self {
            sets: (0..sets).map(|_| Mutex::new(Set::default())).collect(),
            hasher: RandomState::new(),
            generation: AtomicU64::new(0),
            #[cfg(test)]
            hits: AtomicU64::new(0),
        })
    }

    /// Entries the cache holds at most.
    #[cfg(test)]
    pub(crate) fn capacity(&self) -> usize {
        self.sets.len() * WAYS
    }

    /// The keyed hash of `text`, computed once per verify for the lookup and the insertion.
    pub(crate) fn slot(&self, text: &str) -> Slot {
        // The set comes from the text's first 36 characters: header, the 24-byte random
        // nonce the server drew, and a little ciphertext. The nonce makes them unique per
        // minted token, and hashing a third of a typical token halves a hit's cost; which
        // entry matches is still decided by the whole text.
        let text = text.as_bytes();
        Slot(self.hasher.hash_one(text.get(..INDEXED_PREFIX).unwrap_or(text)))
    }

    fn set(&self, slot: Slot) -> Option<MutexGuard<'_, Set>> {
        // Lemire's multiply-shift: a uniform index without a division.
        let n = u128::try_from(self.sets.len()).ok()?;
        let index = usize::try_from((u128::from(slot.0) * n) >> 64).ok()?;
        // A panic while holding the lock leaves at worst a missing entry.
        Some(
            self.sets
                .get(index)?
                .lock()
                .unwrap_or_else(PoisonError::into_inner),
        )
    }

    /// Empties the cache when the key ring changed since it was filled.
    fn observe(&self, generation: u64) {
        // A load first: the common case writes nothing, so cores do not trade the line.
        if self.generation.load(Ordering::Acquire) == generation {
            return;
        }
        if self.generation.swap(generation, Ordering::AcqRel) != generation {
            for set in self.sets.iter() {
                *set.lock().unwrap_or_else(PoisonError::into_inner) = Set::default();
            }
        }
    }

    /// The opened contents of `text`, if it was verified under the key-ring `generation`
    /// and its binding was last matched by `client`'s very inputs.
    pub(crate) fn lookup(
        &self,
        slot: Slot,
        text: &str,
        client: &ClientContext<'_>,
        generation: u64,
    ) -> Option<Hit> {
        self.observe(generation);
        let text = text.as_bytes();
        let set = self.set(slot)?;
        let entry = set.ways.iter().flatten().find(|e| e.is(slot, text))?;
        if entry.generation != generation || !entry.bound.matches(entry.claims.flags, client) {
            return None;
        }
        #[cfg(test)]
        self.hits.fetch_add(1, Ordering::Relaxed);
        Some(Hit {
            key_id: entry.key_id,
            token_id: entry.token_id,
            claims: entry.claims.clone(),
        })
    }

    /// Records a token that opened (passed the AEAD) under `generation` and was accepted for
    /// `client`. Replaces an older entry for the same text.
    #[allow(clippy::too_many_arguments)] // what was verified, and under which state
    pub(crate) fn insert(
        &self,
        slot: Slot,
        text: &str,
        client: &ClientContext<'_>,
        generation: u64,
        key_id: KeyId,
        token_id: TokenId,
        claims: &Arc<Claims>,
    ) {
        if self.generation.load(Ordering::Acquire) != generation {
            return;
        }
        let Some(bound) = BoundClient::of(claims.flags, client) else {
            return;
        };
        let text = text.as_bytes();
        let Some(mut set) = self.set(slot) else {
            return;
        };
        let entry = Box::new(Entry {
            text: Zeroizing::new(Box::from(text)),
            hash: slot.0,
            generation,
            key_id,
            token_id,
            claims: Arc::clone(claims),
            bound,
        });
        let same = set
            .ways
            .iter()
            .position(|w| w.as_ref().is_some_and(|e| e.is(slot, text)));
        let free = set.ways.iter().position(Option::is_none);
        let way = match same.or(free) {
            Some(way) => way,
            None => {
                let way = set.next % WAYS;
                set.next = (way + 1) % WAYS;
                way
            }
        };
        if let Some(slot) = set.ways.get_mut(way) {
            *slot = Some(entry);
        }
    }

    /// Forgets `text` (its verdict must be recomputed from scratch).
    pub(crate) fn remove(&self, slot: Slot, text: &str) {
        let text = text.as_bytes();
        if let Some(mut set) = self.set(slot) {
            for way in set.ways.iter_mut() {
                if way.as_ref().is_some_and(|e| e.is(slot, text)) {
                    *way = None;
                }
            }
        }
    }

    /// Lookups answered from the cache so far.
    #[cfg(test)]
    pub(crate) fn hits(&self) -> u64 {
        self.hits.load(Ordering::Relaxed)
    }

    /// Entries currently held (for tests).
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.sets
            .iter()
            .map(|s| {
                s.lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .ways
                    .iter()
                    .flatten()
                    .count()
            })
            .sum()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::indexing_slicing, clippy::cast_possible_truncation)]
    use super::same_text;

    #[test]
    fn same_text_is_byte_equality_whatever_the_length_and_position() {
        for len in 0..40usize {
            let a: Vec<u8> = (0..len).map(|i| i as u8).collect();
            assert!(same_text(&a, &a.clone()));
            for i in 0..len {
                for bit in [0x01, 0x80] {
                    let mut b = a.clone();
                    b[i] ^= bit;
                    assert!(!same_text(&a, &b), "len {len}, byte {i}");
                }
            }
            let mut longer = a.clone();
            longer.push(0);
            assert!(!same_text(&a, &longer));
        }
    }
}
