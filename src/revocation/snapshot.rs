//! Snapshots: the whole revocation state as postcard bytes under an HMAC-SHA256 with the
//! snapshot subkey (spec/revocation.md, "Snapshot format").

use core::fmt;

use ring::hmac;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::config::{BLOCK_WORDS, MAX_FILTERS};
use super::filter::{block_has, probes};
use super::store::StoreError;
use crate::clock::UnixTime;
use crate::error::{ConfigError, KeyRingError};
use crate::keys::{KeyId, KeyRing, KeyState};
use crate::token::claims::{Epoch, MAX_SUBJECT_LEN};

/// The snapshot format version (first byte). Version 1 held classic Bloom filters, whose bits
/// mean nothing in the blocked layout: it is refused (`UnsupportedVersion`), never merged.
pub(crate) const SNAPSHOT_VERSION: u8 = 2;
/// Length of the trailing HMAC-SHA256 tag.
const MAC_LEN: usize = 32;

/// A point-in-time copy of a [`RevocationSet`](super::RevocationSet): made by
/// [`snapshot`](super::RevocationSet::snapshot), applied by [`merge`](super::RevocationSet::merge),
/// carried between nodes and to disk as authenticated bytes.
///
/// ```
/// use sealed_session::revocation::{FilterConfig, MemoryStore, Revocation, RevocationSnapshot, RevocationStore};
/// use sealed_session::{token::Epoch, KeyRing};
///
/// let keys = KeyRing::generate()?; // every node holds the same ring
/// let node_a = MemoryStore::new(FilterConfig::default())?;
/// let node_b = MemoryStore::new(FilterConfig::default())?;
/// node_a.revoke(Revocation::Id { epoch: Epoch(5), id: [0x2a; 16] })?;
///
/// let bytes = node_a.set().snapshot().to_bytes(&keys)?; // sent to node B
/// node_b.set().merge(&RevocationSnapshot::from_bytes(&bytes, &keys)?)?;
/// assert!(node_b.set().contains(Epoch(5), &[0x2a; 16]));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct RevocationSnapshot {
    pub(crate) epochs_per_generation: u32,
    /// Kill-switch time in Unix seconds, 0 when unset.
    pub(crate) kill_switch: u64,
    /// (subject, cutoff) sorted by subject bytes, subjects unique.
    pub(crate) subjects: Vec<(String, u64)>,
    /// Sorted by number, numbers unique.
    pub(crate) generations: Vec<GenerationSnapshot>,
}

#[derive(Clone, PartialEq, Eq)]
pub(crate) struct GenerationSnapshot {
    pub(crate) number: u64,
    pub(crate) filters: Vec<FilterSnapshot>,
}

#[derive(Clone, PartialEq, Eq)]
pub(crate) struct FilterSnapshot {
    pub(crate) k: u8,
    pub(crate) words: Vec<u64>,
}

impl fmt::Debug for RevocationSnapshot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RevocationSnapshot")
            .field(
                "generations",
                &self.generations.iter().map(|g| g.number).collect::<Vec<_>>(),
            )
            .field("subjects", &self.subjects.len())
            .field("kill_switch", &self.kill_switch())
            .finish()
    }
}

/// Why a snapshot cannot be merged into a set: it was made with another filter geometry.
///
/// ```
/// use sealed_session::revocation::{FilterConfig, MemoryStore, RevocationStore};
/// let small = MemoryStore::new(FilterConfig::default().with_capacity(1000))?;
/// let large = MemoryStore::new(FilterConfig::default().with_capacity(2000))?;
/// # use sealed_session::revocation::Revocation; use sealed_session::token::Epoch;
/// small.revoke(Revocation::Id { epoch: Epoch(5), id: [1; 16] })?;
/// assert!(large.set().merge(&small.set().snapshot()).is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum GeometryError {
    /// The two sets group hour-epochs into generations differently.
    #[error("revocation snapshot: epochs per generation differ")]
    EpochsPerGeneration,
    /// More filters in a generation than a set can hold.
    #[error("revocation snapshot: too many filters in a generation")]
    TooManyFilters,
    /// A filter's size or hash count differs (another capacity or false-positive rate).
    #[error("revocation snapshot: filter geometry differs (capacity or false-positive rate)")]
    FilterShape,
}

/// Why snapshot bytes were refused.
///
/// ```
/// use sealed_session::revocation::{FilterConfig, RevocationSet, RevocationSnapshot, SnapshotError};
/// use sealed_session::KeyRing;
///
/// let keys = KeyRing::generate()?;
/// let mut bytes = RevocationSet::new(FilterConfig::default())?.snapshot().to_bytes(&keys)?;
/// if let Some(last) = bytes.last_mut() {
///     *last ^= 1; // tamper with the tag
/// }
/// let err = RevocationSnapshot::from_bytes(&bytes, &keys).unwrap_err();
/// assert_eq!(err, SnapshotError::BadMac);
/// assert_eq!(RevocationSnapshot::from_bytes(b"short", &keys).unwrap_err(), SnapshotError::Malformed);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SnapshotError {
    /// Too short to hold the framing, or the authenticated body is not a valid encoding.
    #[error("malformed revocation snapshot")]
    Malformed,
    /// The version byte names a format this build does not implement.
    #[error("unsupported revocation snapshot version")]
    UnsupportedVersion,
    /// The key id is not in the key ring.
    #[error("revocation snapshot under an unknown key")]
    UnknownKey,
    /// The key id names a retired key.
    #[error("revocation snapshot under a retired key")]
    RetiredKey,
    /// The MAC does not verify: tampered, or made with another key.
    #[error("revocation snapshot mac does not verify")]
    BadMac,
}

impl SnapshotError {
    /// Stable snake_case code (used by `spec/vectors/snapshot.json`).
    ///
    /// ```
    /// # use sealed_session::revocation::SnapshotError;
    /// assert_eq!(SnapshotError::BadMac.code(), "bad_mac");
    /// assert_eq!(SnapshotError::UnknownKey.code(), "unknown_key");
    /// ```
    pub const fn code(self) -> &'static str {
        match self {
            Self::Malformed => "malformed",
            Self::UnsupportedVersion => "unsupported_version",
            Self::UnknownKey => "unknown_key",
            Self::RetiredKey => "retired_key",
            Self::BadMac => "bad_mac",
        }
    }
}

/// Bytes serialized as postcard `bytes` (varint length, then the raw bytes).
struct Bytes<'a>(&'a [u8]);

impl Serialize for Bytes<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(self.0)
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Bytes<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        <&'a [u8]>::deserialize(d).map(Bytes)
    }
}

/// The body's wire form; field order is normative.
#[derive(Serialize, Deserialize)]
struct WireBody<'a> {
    epochs_per_generation: u32,
    kill_switch: u64,
    #[serde(borrow)]
    subjects: Vec<(&'a str, u64)>,
    #[serde(borrow)]
    generations: Vec<WireGeneration<'a>>,
}

#[derive(Serialize, Deserialize)]
struct WireGeneration<'a> {
    number: u64,
    #[serde(borrow)]
    filters: Vec<WireFilter<'a>>,
}

#[derive(Serialize, Deserialize)]
struct WireFilter<'a> {
    k: u8,
    #[serde(borrow)]
    bits: Bytes<'a>,
}

impl RevocationSnapshot {
    /// Encodes and authenticates the snapshot with the primary key's snapshot subkey:
    /// `version ‖ key id ‖ postcard body ‖ HMAC-SHA256(version ‖ key id ‖ body)`.
    ///
    /// # Errors
    /// The ring has no primary key ([`StoreError::Config`]), or encoding failed
    /// ([`StoreError::Encoding`]).
    ///
    /// ```
    /// # use sealed_session::revocation::*;
    /// # use sealed_session::token::Epoch;
    /// # let store = MemoryStore::new(FilterConfig::default())?;
    /// # use sealed_session::KeyRing;
    /// let keys = KeyRing::generate()?;
    /// store.revoke(Revocation::Id { epoch: Epoch(5), id: [0x2a; 16] })?;
    /// let bytes = store.set().snapshot().to_bytes(&keys)?;
    /// assert_eq!(bytes[0], 2); // format version
    /// assert_eq!(Some(bytes[1]), keys.primary_id().map(|id| id.0)); // sealing key id
    /// assert!(store.set().snapshot().to_bytes(&KeyRing::empty()).is_err()); // no primary key
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn to_bytes(&self, keys: &KeyRing) -> Result<Vec<u8>, StoreError> {
        let key = keys
            .primary()
            .ok_or(ConfigError::KeyRing(KeyRingError::NoPrimaryKey))?;
        let byte_filters: Vec<Vec<Vec<u8>>> = self
            .generations
            .iter()
            .map(|g| {
                g.filters
                    .iter()
                    .map(|f| f.words.iter().flat_map(|w| w.to_le_bytes()).collect())
                    .collect()
            })
            .collect();
        let wire = WireBody {
            epochs_per_generation: self.epochs_per_generation,
            kill_switch: self.kill_switch,
            subjects: self.subjects.iter().map(|(s, c)| (s.as_str(), *c)).collect(),
            generations: self
                .generations
                .iter()
                .zip(&byte_filters)
                .map(|(g, bytes)| WireGeneration {
                    number: g.number,
                    filters: g
                        .filters
                        .iter()
                        .zip(bytes)
                        .map(|(f, b)| WireFilter {
                            k: f.k,
                            bits: Bytes(b),
                        })
                        .collect(),
                })
                .collect(),
        };
        let mut out = vec![SNAPSHOT_VERSION, key.id.0];
        out = postcard::to_extend(&wire, out).map_err(|_| StoreError::Encoding)?;
        let tag = hmac::sign(&key.snapshot, &out);
        out.extend_from_slice(tag.as_ref());
        Ok(out)
    }

    /// Checks and decodes snapshot bytes. Order: length, version, key id (unknown or retired
    /// keys refused without computing anything), MAC (constant-time, `ring::hmac::verify`),
    /// then the body.
    ///
    /// # Errors
    /// A [`SnapshotError`] naming the first check that failed.
    ///
    /// ```
    /// # use sealed_session::revocation::*;
    /// # use sealed_session::token::Epoch;
    /// # let store = MemoryStore::new(FilterConfig::default())?;
    /// # use sealed_session::KeyRing;
    /// let keys = KeyRing::generate()?;
    /// store.revoke(Revocation::Id { epoch: Epoch(5), id: [0x2a; 16] })?;
    /// let bytes = store.set().snapshot().to_bytes(&keys)?;
    /// assert_eq!(RevocationSnapshot::from_bytes(&bytes, &keys)?, store.set().snapshot());
    /// // Another node's ring (same key id, different key) does not verify it.
    /// let other = KeyRing::generate()?;
    /// assert_eq!(RevocationSnapshot::from_bytes(&bytes, &other), Err(SnapshotError::BadMac));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn from_bytes(bytes: &[u8], keys: &KeyRing) -> Result<Self, SnapshotError> {
        let (snapshot, state) = Self::from_bytes_by(bytes, keys)?;
        if state == KeyState::Retired {
            return Err(SnapshotError::RetiredKey);
        }
        Ok(snapshot)
    }

    /// The key id a snapshot names, read from its header (nothing is checked).
    pub(crate) fn key_id_of(bytes: &[u8]) -> Option<KeyId> {
        bytes.get(1).copied().map(KeyId)
    }

    /// As [`from_bytes`](Self::from_bytes), but a snapshot under a retired key opens too (its
    /// MAC still verified), with the state of the key that sealed it: a store's own snapshot
    /// from before a rotation is re-sealed under the primary key, not refused.
    pub(crate) fn from_bytes_by(bytes: &[u8], keys: &KeyRing) -> Result<(Self, KeyState), SnapshotError> {
        if bytes.len() < 2 + MAC_LEN {
            return Err(SnapshotError::Malformed);
        }
        let (signed, tag) = bytes.split_at(bytes.len() - MAC_LEN);
        let (header, body) = signed.split_at(2);
        let [version, key_id] = [header.first(), header.get(1)].map(|b| b.copied().unwrap_or(0));
        if version != SNAPSHOT_VERSION {
            return Err(SnapshotError::UnsupportedVersion);
        }
        let key = keys.get(KeyId(key_id)).ok_or(SnapshotError::UnknownKey)?;
        hmac::verify(&key.snapshot, signed, tag).map_err(|_| SnapshotError::BadMac)?;
        let snapshot = Self::decode_body(body).ok_or(SnapshotError::Malformed)?;
        Ok((snapshot, key.state))
    }

    /// The kill-switch time, if set.
    ///
    /// ```
    /// # use sealed_session::revocation::*;
    /// # use sealed_session::token::Epoch;
    /// # let store = MemoryStore::new(FilterConfig::default())?;
    /// # use sealed_session::UnixTime;
    /// assert_eq!(store.set().snapshot().kill_switch(), None);
    /// store.revoke(Revocation::KillSwitch { before: UnixTime(1_795_000_000) })?;
    /// assert_eq!(store.set().snapshot().kill_switch(), Some(UnixTime(1_795_000_000)));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn kill_switch(&self) -> Option<UnixTime> {
        (self.kill_switch != 0).then_some(UnixTime(self.kill_switch))
    }

    /// Every subject cutoff, sorted by subject.
    ///
    /// ```
    /// # use sealed_session::revocation::*;
    /// # use sealed_session::token::Epoch;
    /// # let store = MemoryStore::new(FilterConfig::default())?;
    /// # use sealed_session::UnixTime;
    /// let cutoff = UnixTime(1_795_000_000);
    /// store.revoke(Revocation::Subject { subject: "bob".into(), cutoff })?;
    /// store.revoke(Revocation::Subject { subject: "alice".into(), cutoff })?;
    /// let snapshot = store.set().snapshot();
    /// let cutoffs: Vec<_> = snapshot.subject_cutoffs().collect();
    /// assert_eq!(cutoffs, [("alice", cutoff), ("bob", cutoff)]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn subject_cutoffs(&self) -> impl Iterator<Item = (&str, UnixTime)> + '_ {
        self.subjects.iter().map(|(s, c)| (s.as_str(), UnixTime(*c)))
    }

    /// Numbers of the generations held (a generation spans `epochs_per_generation` epochs).
    ///
    /// ```
    /// # use sealed_session::revocation::*;
    /// # use sealed_session::token::Epoch;
    /// let store = MemoryStore::new(FilterConfig::default().with_epochs_per_generation(6))?;
    /// for epoch in [5, 7, 13] {
    ///     store.revoke(Revocation::Id { epoch: Epoch(epoch), id: [0x2a; 16] })?;
    /// }
    /// // Epochs 0 to 5 are generation 0, 6 to 11 generation 1, 12 to 17 generation 2.
    /// assert_eq!(store.set().snapshot().generations(), [0, 1, 2]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn generations(&self) -> Vec<u64> {
        self.generations.iter().map(|g| g.number).collect()
    }

    /// Hour-epochs per generation of the set this came from.
    ///
    /// ```
    /// # use sealed_session::revocation::{FilterConfig, RevocationSet};
    /// let set = RevocationSet::new(FilterConfig::default().with_epochs_per_generation(6))?;
    /// assert_eq!(set.snapshot().epochs_per_generation(), 6);
    /// # Ok::<(), sealed_session::ConfigError>(())
    /// ```
    pub fn epochs_per_generation(&self) -> u32 {
        self.epochs_per_generation
    }

    /// Filters in each generation, in generation order.
    ///
    /// ```
    /// # use sealed_session::revocation::*;
    /// # use sealed_session::token::Epoch;
    /// # let store = MemoryStore::new(FilterConfig::default())?;
    /// store.revoke(Revocation::Id { epoch: Epoch(5), id: [0x2a; 16] })?;
    /// store.revoke(Revocation::Id { epoch: Epoch(6), id: [0x2a; 16] })?;
    /// assert_eq!(store.set().snapshot().filter_counts(), [1, 1]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn filter_counts(&self) -> Vec<usize> {
        self.generations.iter().map(|g| g.filters.len()).collect()
    }

    /// Whether `id` is revoked for tokens of `epoch`, as the set would answer.
    ///
    /// ```
    /// # use sealed_session::revocation::*;
    /// # use sealed_session::token::Epoch;
    /// # let store = MemoryStore::new(FilterConfig::default())?;
    /// store.revoke(Revocation::Id { epoch: Epoch(5), id: [0x2a; 16] })?;
    /// let snapshot = store.set().snapshot();
    /// assert!(snapshot.contains(Epoch(5), &[0x2a; 16]));
    /// assert!(!snapshot.contains(Epoch(5), &[0x17; 16]));
    /// assert!(!snapshot.contains(Epoch(6), &[0x2a; 16]));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn contains(&self, epoch: Epoch, id: &[u8; 16]) -> bool {
        let number = epoch.0 / u64::from(self.epochs_per_generation).max(1);
        self.generations
            .iter()
            .filter(|g| g.number == number)
            .flat_map(|g| &g.filters)
            .any(|f| {
                let blocks = (f.words.len() / BLOCK_WORDS) as u64;
                probes(id, blocks, u32::from(f.k)).iter().all(|(block, masks)| {
                    let start = block.saturating_mul(BLOCK_WORDS);
                    let words = f.words.get(start..start.saturating_add(BLOCK_WORDS));
                    words.is_some_and(|w| block_has(w.iter().copied(), masks))
                })
            })
    }

    fn decode_body(body: &[u8]) -> Option<Self> {
        let (wire, rest) = postcard::take_from_bytes::<WireBody<'_>>(body).ok()?;
        let sorted_unique = |a: u64, b: u64| a < b;
        let valid = rest.is_empty()
            && wire.epochs_per_generation >= 1
            && wire
                .subjects
                .iter()
                .all(|(s, _)| (1..=MAX_SUBJECT_LEN).contains(&s.len()))
            && wire
                .subjects
                .windows(2)
                .all(|w| matches!(w, [a, b] if a.0.as_bytes() < b.0.as_bytes()))
            && wire
                .generations
                .windows(2)
                .all(|w| matches!(w, [a, b] if sorted_unique(a.number, b.number)))
            && wire.generations.iter().all(|g| {
                (1..=MAX_FILTERS).contains(&g.filters.len())
                    && g.filters.iter().all(|f| {
                        (2..=64).contains(&f.k)
                            && f.k % 2 == 0
                            && !f.bits.0.is_empty()
                            && f.bits.0.len() % (8 * BLOCK_WORDS) == 0
                    })
            });
        // postcard accepts over-long varints: one state has one snapshot, so the body must be
        // exactly what `to_bytes` writes (spec/revocation.md, "Snapshot format").
        let canonical = valid && postcard::to_allocvec(&wire).is_ok_and(|b| b == body);
        canonical.then(|| Self {
            epochs_per_generation: wire.epochs_per_generation,
            kill_switch: wire.kill_switch,
            subjects: wire.subjects.iter().map(|(s, c)| ((*s).to_owned(), *c)).collect(),
            generations: wire
                .generations
                .iter()
                .map(|g| GenerationSnapshot {
                    number: g.number,
                    filters: g
                        .filters
                        .iter()
                        .map(|f| FilterSnapshot {
                            k: f.k,
                            words: f
                                .bits
                                .0
                                .chunks_exact(8)
                                .map(|c| u64::from_le_bytes(c.try_into().unwrap_or([0; 8])))
                                .collect(),
                        })
                        .collect(),
                })
                .collect(),
        })
    }
}
