//! Exact, lock-free-to-read state: per-subject cutoffs (logout-everywhere) and the kill switch.

use std::collections::{BTreeMap, HashMap};
use std::hash::{BuildHasher, RandomState};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use arc_swap::ArcSwap;

use crate::clock::UnixTime;

/// Shards of the subject map: a write copies one shard (copy-on-write), so its cost is 1/64
/// of the map.
const SHARDS: usize = 64;

/// Subject → cutoff time, readable without a lock. Writes replace one shard's map through
/// `ArcSwap::rcu`, a compare-and-swap loop, so they never block readers.
pub(crate) struct SubjectCutoffs {
    shards: Box<[ArcSwap<HashMap<String, u64>>]>,
    // Per-process random keys: shard choice is local and must not be steerable by subjects.
    hasher: RandomState,
    /// Whether any cutoff was ever recorded: until then a lookup hashes nothing (most
    /// requests of most deployments meet an empty map). Set before the cutoff is published,
    /// never cleared, so it can only make a lookup do its full work.
    any: AtomicBool,
}

impl SubjectCutoffs {
    pub(crate) fn new() -> Self {
        Self {
            shards: (0..SHARDS)
                .map(|_| ArcSwap::from_pointee(HashMap::new()))
                .collect(),
            hasher: RandomState::new(),
            any: AtomicBool::new(false),
        }
    }

    fn shard(&self, subject: &str) -> Option<&ArcSwap<HashMap<String, u64>>> {
        let h = self.hasher.hash_one(subject);
        self.shards.get(usize::try_from(h % SHARDS as u64).unwrap_or(0))
    }

    /// Records `cutoff` unless a later one is already there.
    pub(crate) fn raise(&self, subject: &str, cutoff: UnixTime) {
        let Some(shard) = self.shard(subject) else { return };
        if shard.load().get(subject).is_some_and(|&c| c >= cutoff.0) {
            return;
        }
        // Release: a reader that sees the map entry also sees the flag (it loads the flag first,
        // Acquire, and the entry is published after this store).
        self.any.store(true, Ordering::Release);
        shard.rcu(|map| {
            let mut map = HashMap::clone(map);
            let slot = map.entry(subject.to_owned()).or_insert(0);
            *slot = (*slot).max(cutoff.0);
            map
        });
    }

    /// The subject's cutoff. Lock-free: one atomic load and a hash lookup.
    pub(crate) fn get(&self, subject: &str) -> Option<UnixTime> {
        if !self.any.load(Ordering::Acquire) {
            return None;
        }
        self.shard(subject)?.load().get(subject).copied().map(UnixTime)
    }

    /// Drops cutoffs earlier than `before`.
    pub(crate) fn drop_before(&self, before: u64) {
        for shard in self.shards.iter() {
            if shard.load().values().any(|&c| c < before) {
                shard.rcu(|map| {
                    let mut map = HashMap::clone(map);
                    map.retain(|_, c| *c >= before);
                    map
                });
            }
        }
    }

    /// Every cutoff, sorted by subject (snapshots are deterministic).
    pub(crate) fn sorted(&self) -> BTreeMap<String, u64> {
        self.shards
            .iter()
            .flat_map(|s| {
                let map = s.load_full();
                map.iter().map(|(k, v)| (k.clone(), *v)).collect::<Vec<_>>()
            })
            .collect()
    }

    /// Approximate heap bytes.
    pub(crate) fn memory_bytes(&self) -> usize {
        self.shards
            .iter()
            .map(|s| {
                let map: Arc<HashMap<String, u64>> = s.load_full();
                map.capacity() * (core::mem::size_of::<(String, u64)>() + 1)
                    + map.keys().map(String::capacity).sum::<usize>()
            })
            .sum()
    }
}

/// The kill switch: every token issued before this time is refused. Zero means unset (no
/// token can be issued before the Unix epoch).
pub(crate) struct KillSwitch(AtomicU64);

impl KillSwitch {
    pub(crate) fn new() -> Self {
        Self(AtomicU64::new(0))
    }

    /// Keeps the later of the current and the given time.
    pub(crate) fn raise(&self, before: UnixTime) {
        self.0.fetch_max(before.0, Ordering::AcqRel);
    }

    /// The time, if set.
    pub(crate) fn get(&self) -> Option<UnixTime> {
        match self.0.load(Ordering::Acquire) {
            0 => None,
            t => Some(UnixTime(t)),
        }
    }
}
