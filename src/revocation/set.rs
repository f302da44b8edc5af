//! The generation ring: one growable run of Bloom filters per generation, published through
//! `ArcSwap` so lookups never lock.

use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use arc_swap::ArcSwap;

use super::config::{FilterConfig, Geometry, MAX_FILTERS};
use super::cutoffs::{KillSwitch, SubjectCutoffs};
use super::filter::Filter;
use super::pressure::{self, Alarms, Estimate, Pressure};
use super::snapshot::{FilterSnapshot, GenerationSnapshot, GeometryError, RevocationSnapshot};
use crate::clock::UnixTime;
use crate::error::ConfigError;
use crate::token::claims::{Epoch, EPOCH_SECONDS, TIME_ORIGIN};
use crate::token::sealer::MAX_LEEWAY;

/// One generation: the filters it has grown, oldest (largest rate) first.
struct Generation {
    number: u64,
    filters: Vec<Arc<Filter>>,
    /// The worst pressure level this generation has raised (carried over when it grows).
    alarmed: Arc<AtomicU8>,
}

/// An immutable view of the live generations, sorted by number. Replaced as a whole (cheap:
/// it holds `Arc`s) whenever a generation or filter is added or dropped; the filters' bits are
/// shared between views and change in place.
#[derive(Default)]
struct Table {
    generations: Vec<Arc<Generation>>,
}

impl Table {
    fn find(&self, number: u64) -> Option<&Arc<Generation>> {
        self.generations
            .binary_search_by_key(&number, |g| g.number)
            .ok()
            .and_then(|i| self.generations.get(i))
    }
}

/// One generation of a [`RevocationSet`], as [`RevocationSet::generations`] reports it.
///
/// ```
/// # use sealed_session::revocation::*;
/// # use sealed_session::token::Epoch;
/// # let store = MemoryStore::new(FilterConfig::default())?;
/// store.revoke(Revocation::Id { epoch: Epoch(7), id: [1; 16] })?;
/// let stats: GenerationStats = store.set().generations()[0];
/// assert_eq!(stats.estimated_len, 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
#[non_exhaustive]
pub struct GenerationStats {
    /// The generation number (the epoch divided by the epochs per generation).
    pub number: u64,
    /// Filters it has grown.
    pub filters: usize,
    /// Estimated ids it holds (from the bits set).
    pub estimated_len: usize,
    /// False-positive probability of one probe now.
    pub false_positive_estimate: f64,
    /// Bytes of filter bits.
    pub memory_bytes: usize,
}

/// Revoked session and token ids, subject cutoffs and the kill switch.
///
/// Lookups ([`contains`](Self::contains), [`contains_either`](Self::contains_either),
/// [`subject_cutoff`](Self::subject_cutoff), [`kill_switch`](Self::kill_switch)) take no
/// lock: they load an `Arc` through `arc-swap` and read atomic words. Inserts set bits with
/// `fetch_or`; only adding or dropping a generation or filter takes a mutex (once per hour, or
/// when a filter fills). See spec/revocation.md.
///
/// The set is read-only from outside the crate: revocations reach it through a
/// [`RevocationStore`](super::RevocationStore), which also makes them durable.
///
/// ```
/// use sealed_session::revocation::{FilterConfig, MemoryStore, Revocation, RevocationStore};
/// use sealed_session::token::Epoch;
///
/// let store = MemoryStore::new(FilterConfig::default())?;
/// store.revoke(Revocation::Id { epoch: Epoch(5), id: [0x2a; 16] })?;
/// let set = store.set();
/// assert!(set.contains(Epoch(5), &[0x2a; 16]));
/// assert!(!set.contains(Epoch(6), &[0x2a; 16])); // another generation
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct RevocationSet {
    config: FilterConfig,
    geometry: [Geometry; MAX_FILTERS],
    table: ArcSwap<Table>,
    /// Serializes structural changes (new generation or filter, expiry, merge).
    writer: Mutex<()>,
    /// Generations numbered below this have expired: inserts into them are dropped.
    first_live: AtomicU64,
    subjects: SubjectCutoffs,
    kill: KillSwitch,
    alarms: Alarms,
}

impl RevocationSet {
    /// An empty set. Filters are allocated when a generation receives its first revocation.
    ///
    /// # Errors
    /// A setting of `config` is out of range ([`ConfigError::Filter`]).
    ///
    /// ```
    /// # use sealed_session::revocation::{FilterConfig, RevocationSet};
    /// let set = RevocationSet::new(FilterConfig::default())?;
    /// assert_eq!(set.filter_count(), 0); // nothing allocated yet
    /// assert!(RevocationSet::new(FilterConfig::default().with_capacity(0)).is_err());
    /// # Ok::<(), sealed_session::ConfigError>(())
    /// ```
    pub fn new(config: FilterConfig) -> Result<Self, ConfigError> {
        Ok(Self {
            geometry: config.geometries()?,
            config,
            table: ArcSwap::from_pointee(Table::default()),
            writer: Mutex::new(()),
            first_live: AtomicU64::new(0),
            subjects: SubjectCutoffs::new(),
            kill: KillSwitch::new(),
            alarms: Alarms::new(),
        })
    }

    /// The configuration.
    ///
    /// ```
    /// # use sealed_session::revocation::{FilterConfig, RevocationSet};
    /// let config = FilterConfig::default().with_capacity(5_000);
    /// assert_eq!(RevocationSet::new(config)?.config(), &config);
    /// # Ok::<(), sealed_session::ConfigError>(())
    /// ```
    pub fn config(&self) -> &FilterConfig {
        &self.config
    }

    /// Revokes `id` (a session id or token id) for tokens of `epoch`.
    pub(crate) fn insert(&self, epoch: Epoch, id: &[u8; 16]) {
        let number = self.generation_of(epoch);
        if number < self.first_live.load(Ordering::Acquire) {
            return; // no token of an expired generation can still open
        }
        {
            let table = self.table.load();
            if let Some(g) = table.find(number) {
                if let Some(last) = g.filters.last().filter(|f| !f.is_sealed()) {
                    // Only the last possible filter seals without a successor to take over.
                    if last.insert(id) && g.filters.len() >= MAX_FILTERS {
                        self.observe(g, Estimate::Model);
                    }
                    return;
                }
            }
        }
        if let Some(filter) = self.writable_filter(number) {
            filter.insert(id);
            if let Some(g) = self.table.load().find(number) {
                // Below eight filters this path runs only when a filter opens; at eight, on
                // every insert of a saturated generation.
                let estimate = if g.filters.len() < MAX_FILTERS {
                    Estimate::Exact
                } else {
                    Estimate::Model
                };
                self.observe(g, estimate);
            }
        }
    }

    /// The most pressured live generation now, if any is past [`PressureLevel::Elevated`]
    /// (see spec/revocation.md, "Growth"). For dashboards and health checks.
    ///
    /// [`PressureLevel::Elevated`]: super::PressureLevel::Elevated
    ///
    /// ```
    /// # use sealed_session::revocation::*;
    /// # use sealed_session::token::Epoch;
    /// # let store = MemoryStore::new(FilterConfig::default())?;
    /// store.revoke(Revocation::Id { epoch: Epoch(5), id: [0x2a; 16] })?;
    /// // One revocation is far below capacity: no pressure.
    /// assert!(store.set().pressure().is_none());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn pressure(&self) -> Option<Pressure> {
        let target = self.config.false_positive_rate();
        let table = self.table.load();
        table
            .generations
            .iter()
            .filter_map(|g| pressure::assess(g.number, &g.filters, target, Estimate::Exact))
            .max_by(|a, b| {
                (a.level, a.false_positive_estimate)
                    .partial_cmp(&(b.level, b.false_positive_estimate))
                    .unwrap_or(std::cmp::Ordering::Equal)
            })
    }

    /// The oldest pressure alarm not yet taken (each level once per generation).
    pub(crate) fn take_pressure_alarm(&self) -> Option<Pressure> {
        self.alarms.take()
    }

    fn observe(&self, g: &Generation, estimate: Estimate) {
        if let Some(p) = pressure::assess(g.number, &g.filters, self.config.false_positive_rate(), estimate) {
            self.alarms.raise(&g.alarmed, p);
        }
    }

    /// Whether `id` is revoked for tokens of `epoch`. Lock-free. False positives occur with at
    /// most the configured probability; false negatives never.
    ///
    /// ```
    /// # use sealed_session::revocation::*;
    /// # use sealed_session::token::Epoch;
    /// # let store = MemoryStore::new(FilterConfig::default())?;
    /// store.revoke(Revocation::Id { epoch: Epoch(5), id: [0x2a; 16] })?;
    /// assert!(store.set().contains(Epoch(5), &[0x2a; 16]));
    /// assert!(!store.set().contains(Epoch(5), &[0x17; 16]));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn contains(&self, epoch: Epoch, id: &[u8; 16]) -> bool {
        let table = self.table.load();
        table
            .find(self.generation_of(epoch))
            .is_some_and(|g| g.filters.iter().any(|f| f.contains(id)))
    }

    /// Whether either id is revoked for tokens of `epoch`: the verify path (session id and
    /// token id), one generation looked up once. Lock-free.
    ///
    /// ```
    /// # use sealed_session::revocation::*;
    /// # use sealed_session::token::Epoch;
    /// # let store = MemoryStore::new(FilterConfig::default())?;
    /// let (session_id, token_id) = ([0x2a; 16], [0x17; 16]);
    /// store.revoke(Revocation::Id { epoch: Epoch(5), id: session_id })?;
    /// // Revoking the session refuses every token of it.
    /// assert!(store.set().contains_either(Epoch(5), &session_id, &token_id));
    /// assert!(!store.set().contains_either(Epoch(5), &[0x33; 16], &token_id));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn contains_either(&self, epoch: Epoch, a: &[u8; 16], b: &[u8; 16]) -> bool {
        let table = self.table.load();
        table
            .find(self.generation_of(epoch))
            .is_some_and(|g| g.filters.iter().any(|f| f.contains_either(a, b)))
    }

    /// Refuses tokens of `subject` authenticated before `cutoff` (logout-everywhere). Keeps the
    /// later cutoff if one is already set.
    pub(crate) fn cut_off_subject(&self, subject: &str, cutoff: UnixTime) {
        self.subjects.raise(subject, cutoff);
    }

    /// The subject's cutoff, if any. Exact and lock-free.
    ///
    /// ```
    /// # use sealed_session::revocation::*;
    /// # use sealed_session::UnixTime;
    /// # let store = MemoryStore::new(FilterConfig::default())?;
    /// let cutoff = UnixTime(1_795_000_000);
    /// store.revoke(Revocation::Subject { subject: "alice".into(), cutoff })?;
    /// assert_eq!(store.set().subject_cutoff("alice"), Some(cutoff));
    /// assert_eq!(store.set().subject_cutoff("bob"), None);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn subject_cutoff(&self, subject: &str) -> Option<UnixTime> {
        self.subjects.get(subject)
    }

    /// Refuses every token issued before `before`. Keeps the later time if one is set.
    pub(crate) fn set_kill_switch(&self, before: UnixTime) {
        self.kill.raise(before);
    }

    /// The kill-switch time, if set. Lock-free.
    ///
    /// ```
    /// # use sealed_session::revocation::*;
    /// # use sealed_session::UnixTime;
    /// # let store = MemoryStore::new(FilterConfig::default())?;
    /// assert_eq!(store.set().kill_switch(), None);
    /// store.revoke(Revocation::KillSwitch { before: UnixTime(1_795_000_000) })?;
    /// store.revoke(Revocation::KillSwitch { before: UnixTime(1_794_000_000) })?;
    /// // The later time is kept.
    /// assert_eq!(store.set().kill_switch(), Some(UnixTime(1_795_000_000)));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn kill_switch(&self) -> Option<UnixTime> {
        self.kill.get()
    }

    /// Drops what no valid token can match any more: generations whose last epoch ended more
    /// than the 60 s leeway before `now`, and subject cutoffs older than the maximum lifetime
    /// plus the leeway. The kill switch is kept.
    ///
    /// ```
    /// # use sealed_session::revocation::*;
    /// # use sealed_session::token::Epoch;
    /// # let store = MemoryStore::new(FilterConfig::default())?;
    /// # use sealed_session::token::MAX_LEEWAY;
    /// store.revoke(Revocation::Id { epoch: Epoch(5), id: [0x2a; 16] })?;
    /// let set = store.set();
    /// set.expire(Epoch(5).end()); // still within the leeway
    /// assert_eq!(set.generation_count(), 1);
    /// set.expire(Epoch(5).end().saturating_add(MAX_LEEWAY));
    /// assert_eq!(set.generation_count(), 0);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn expire(&self, now: UnixTime) {
        let since_origin = now
            .0
            .saturating_sub(TIME_ORIGIN.0)
            .saturating_sub(MAX_LEEWAY.as_secs());
        let span = EPOCH_SECONDS.saturating_mul(u64::from(self.config.epochs_per_generation()));
        let first_live = since_origin / span.max(1);
        {
            let _guard = self.lock();
            if self.first_live.fetch_max(first_live, Ordering::AcqRel) < first_live {
                let table = self.table.load();
                let generations = table
                    .generations
                    .iter()
                    .filter(|g| g.number >= first_live)
                    .cloned()
                    .collect();
                self.table.store(Arc::new(Table { generations }));
            }
        }
        let horizon = self.config.max_lifetime().saturating_add(MAX_LEEWAY);
        self.subjects.drop_before(now.0.saturating_sub(horizon.as_secs()));
    }

    /// A copy of the whole state (concurrent inserts may or may not be included).
    ///
    /// ```
    /// # use sealed_session::revocation::*;
    /// # use sealed_session::token::Epoch;
    /// # let store = MemoryStore::new(FilterConfig::default())?;
    /// store.revoke(Revocation::Id { epoch: Epoch(5), id: [0x2a; 16] })?;
    /// let snapshot = store.set().snapshot();
    /// assert_eq!(snapshot.generations(), [5]);
    /// assert!(snapshot.contains(Epoch(5), &[0x2a; 16]));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn snapshot(&self) -> RevocationSnapshot {
        let table = self.table.load_full();
        let generations = table
            .generations
            .iter()
            .map(|g| GenerationSnapshot {
                number: g.number,
                filters: g
                    .filters
                    .iter()
                    .map(|f| FilterSnapshot {
                        k: u8::try_from(f.geometry().k).unwrap_or(u8::MAX),
                        words: f.words().collect(),
                    })
                    .collect(),
            })
            .collect();
        RevocationSnapshot {
            epochs_per_generation: self.config.epochs_per_generation(),
            kill_switch: self.kill.get().map_or(0, |t| t.0),
            subjects: self.subjects.sorted().into_iter().collect(),
            generations,
        }
    }

    /// ORs a snapshot into this set and keeps the later of each cutoff and kill-switch time.
    /// Order-independent and idempotent: nodes that merge each other's snapshots in any order
    /// converge to the same state. Generations this set has already expired are skipped.
    ///
    /// # Errors
    /// The snapshot was made with a different filter geometry (capacity, rate or epochs per
    /// generation); nothing is merged then.
    ///
    /// ```
    /// # use sealed_session::revocation::*;
    /// # use sealed_session::token::Epoch;
    /// let a = MemoryStore::new(FilterConfig::default())?;
    /// let b = MemoryStore::new(FilterConfig::default())?;
    /// a.revoke(Revocation::Id { epoch: Epoch(5), id: [0x2a; 16] })?;
    /// b.set().merge(&a.set().snapshot())?;
    /// b.set().merge(&a.set().snapshot())?; // idempotent
    /// assert!(b.set().contains(Epoch(5), &[0x2a; 16]));
    /// assert_eq!(b.set().snapshot(), a.set().snapshot());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn merge(&self, other: &RevocationSnapshot) -> Result<(), GeometryError> {
        self.check_geometry(other)?;
        {
            let _guard = self.lock();
            let first_live = self.first_live.load(Ordering::Acquire);
            for g in other.generations.iter().filter(|g| g.number >= first_live) {
                let filters = self.ensure_filters(g.number, g.filters.len());
                for (mine, theirs) in filters.iter().zip(&g.filters) {
                    mine.or_words(theirs.words.iter().copied());
                }
                if let Some(mine) = self.table.load().find(g.number) {
                    self.observe(mine, Estimate::Exact);
                }
            }
        }
        for (subject, cutoff) in &other.subjects {
            self.subjects.raise(subject, UnixTime(*cutoff));
        }
        if other.kill_switch != 0 {
            self.kill.raise(UnixTime(other.kill_switch));
        }
        Ok(())
    }

    /// Heap bytes held: filter bits plus the subject map (approximate).
    ///
    /// ```
    /// # use sealed_session::revocation::*;
    /// # use sealed_session::token::Epoch;
    /// # let store = MemoryStore::new(FilterConfig::default())?;
    /// let before = store.set().memory_bytes();
    /// // The first revocation of a generation allocates its first filter.
    /// store.revoke(Revocation::Id { epoch: Epoch(5), id: [0x2a; 16] })?;
    /// assert!(store.set().memory_bytes() > before);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn memory_bytes(&self) -> usize {
        let table = self.table.load();
        let filters: usize = table
            .generations
            .iter()
            .flat_map(|g| g.filters.iter())
            .map(|f| f.memory_bytes())
            .sum();
        filters.saturating_add(self.subjects.memory_bytes())
    }

    /// Distinct ids inserted, estimated from the filters' fill (accurate to about 1% below
    /// capacity; independent of insert and merge order).
    ///
    /// ```
    /// # use sealed_session::revocation::*;
    /// # use sealed_session::token::Epoch;
    /// # let store = MemoryStore::new(FilterConfig::default())?;
    /// # use sealed_session::token::SessionId;
    /// // Random ids, as the server draws them (the filters rely on that).
    /// let ids = [SessionId::generate()?, SessionId::generate()?, SessionId::generate()?];
    /// for id in ids {
    ///     store.revoke(Revocation::Id { epoch: Epoch(5), id: id.0 })?;
    /// }
    /// store.revoke(Revocation::Id { epoch: Epoch(5), id: ids[0].0 })?; // again
    /// assert_eq!(store.set().len_hint(), 3);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn len_hint(&self) -> usize {
        let table = self.table.load();
        let n: f64 = table
            .generations
            .iter()
            .flat_map(|g| g.filters.iter())
            .map(|f| f.estimated_len())
            .sum();
        // Rounded, non-negative and far below 2^53: the conversion is exact.
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let n = n.round().max(0.0) as usize;
        n
    }

    /// The false-positive probability of one probe (one id) in `epoch`'s generation now, from
    /// the fill of every block: the sum over its filters of `(mean over blocks of
    /// (x_b / 512)^(k/2))²` (0 when the generation holds nothing). A verify probes two ids:
    /// twice this. Reads the generation's filters whole.
    ///
    /// ```
    /// # use sealed_session::revocation::*;
    /// # use sealed_session::token::Epoch;
    /// # let store = MemoryStore::new(FilterConfig::default())?;
    /// assert_eq!(store.set().false_positive_estimate(Epoch(5)), 0.0);
    /// store.revoke(Revocation::Id { epoch: Epoch(5), id: [0x2a; 16] })?;
    /// let estimate = store.set().false_positive_estimate(Epoch(5));
    /// assert!(estimate > 0.0 && estimate < store.set().config().false_positive_rate());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn false_positive_estimate(&self, epoch: Epoch) -> f64 {
        let table = self.table.load();
        table.find(self.generation_of(epoch)).map_or(0.0, |g| {
            g.filters.iter().map(|f| f.false_positive_estimate()).sum()
        })
    }

    /// Filters allocated, over all generations.
    ///
    /// ```
    /// # use sealed_session::revocation::*;
    /// # use sealed_session::token::Epoch;
    /// # let store = MemoryStore::new(FilterConfig::default())?;
    /// store.revoke(Revocation::Id { epoch: Epoch(5), id: [0x2a; 16] })?;
    /// store.revoke(Revocation::Id { epoch: Epoch(6), id: [0x2a; 16] })?;
    /// assert_eq!(store.set().filter_count(), 2); // one per generation until one fills
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn filter_count(&self) -> usize {
        self.table
            .load()
            .generations
            .iter()
            .map(|g| g.filters.len())
            .sum()
    }

    /// Live generations.
    ///
    /// ```
    /// # use sealed_session::revocation::*;
    /// # use sealed_session::token::Epoch;
    /// # let store = MemoryStore::new(FilterConfig::default())?;
    /// assert_eq!(store.set().generation_count(), 0);
    /// store.revoke(Revocation::Id { epoch: Epoch(5), id: [0x2a; 16] })?;
    /// store.revoke(Revocation::Id { epoch: Epoch(5), id: [0x17; 16] })?;
    /// assert_eq!(store.set().generation_count(), 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn generation_count(&self) -> usize {
        self.table.load().generations.len()
    }

    /// Subjects with a logout-everywhere cutoff still in force.
    ///
    /// ```
    /// # use sealed_session::revocation::*;
    /// # use sealed_session::UnixTime;
    /// # let store = MemoryStore::new(FilterConfig::default())?;
    /// store.revoke(Revocation::Subject { subject: "alice".into(), cutoff: UnixTime(1_795_000_000) })?;
    /// assert_eq!(store.set().subject_cutoff_count(), 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn subject_cutoff_count(&self) -> usize {
        self.subjects.sorted().len()
    }

    /// What each live generation holds, oldest first (for operators' status output).
    ///
    /// ```
    /// # use sealed_session::revocation::*;
    /// # use sealed_session::token::Epoch;
    /// # let store = MemoryStore::new(FilterConfig::default())?;
    /// store.revoke(Revocation::Id { epoch: Epoch(5), id: [0x2a; 16] })?;
    /// let [generation] = store.set().generations()[..] else { panic!("one generation") };
    /// assert_eq!((generation.number, generation.filters), (5, 1));
    /// assert!(generation.false_positive_estimate < store.set().config().false_positive_rate());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn generations(&self) -> Vec<GenerationStats> {
        self.table
            .load()
            .generations
            .iter()
            .map(|g| {
                let estimated: f64 = g.filters.iter().map(|f| f.estimated_len()).sum();
                // Rounded, non-negative and far below 2^53: the conversion is exact.
                #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
                let estimated_len = estimated.round().max(0.0) as usize;
                GenerationStats {
                    number: g.number,
                    filters: g.filters.len(),
                    estimated_len,
                    false_positive_estimate: g.filters.iter().map(|f| f.false_positive_estimate()).sum(),
                    memory_bytes: g.filters.iter().map(|f| f.memory_bytes()).sum(),
                }
            })
            .collect()
    }

    fn generation_of(&self, epoch: Epoch) -> u64 {
        epoch.0 / u64::from(self.config.epochs_per_generation()).max(1)
    }

    fn lock(&self) -> MutexGuard<'_, ()> {
        // The guarded data is `()`: a panic elsewhere cannot leave it inconsistent.
        self.writer
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The filter new inserts of generation `number` go to, creating the generation or a
    /// further filter as needed. `None` if the generation has expired.
    fn writable_filter(&self, number: u64) -> Option<Arc<Filter>> {
        let _guard = self.lock();
        if number < self.first_live.load(Ordering::Acquire) {
            return None;
        }
        let table = self.table.load();
        let have = table.find(number).map_or(0, |g| g.filters.len());
        let sealed = table
            .find(number)
            .and_then(|g| g.filters.last())
            .is_none_or(|f| f.is_sealed());
        let want = if sealed { (have + 1).min(MAX_FILTERS) } else { have };
        drop(table);
        self.ensure_filters(number, want).last().cloned()
    }

    /// Makes generation `number` have at least `count` filters (caller holds the lock) and
    /// returns them.
    fn ensure_filters(&self, number: u64, count: usize) -> Vec<Arc<Filter>> {
        let table = self.table.load_full();
        let mut filters = table.find(number).map(|g| g.filters.clone()).unwrap_or_default();
        let alarmed = table
            .find(number)
            .map(|g| Arc::clone(&g.alarmed))
            .unwrap_or_default();
        if filters.len() >= count {
            return filters;
        }
        for geometry in self.geometry.iter().take(count).skip(filters.len()) {
            filters.push(Arc::new(Filter::new(*geometry)));
        }
        let mut generations: Vec<_> = table
            .generations
            .iter()
            .filter(|g| g.number != number)
            .cloned()
            .collect();
        let at = generations.partition_point(|g| g.number < number);
        generations.insert(
            at,
            Arc::new(Generation {
                number,
                filters: filters.clone(),
                alarmed,
            }),
        );
        self.table.store(Arc::new(Table { generations }));
        filters
    }

    fn check_geometry(&self, other: &RevocationSnapshot) -> Result<(), GeometryError> {
        if other.epochs_per_generation != self.config.epochs_per_generation() {
            return Err(GeometryError::EpochsPerGeneration);
        }
        for g in &other.generations {
            if g.filters.len() > MAX_FILTERS {
                return Err(GeometryError::TooManyFilters);
            }
            for (f, geometry) in g.filters.iter().zip(&self.geometry) {
                if u32::from(f.k) != geometry.k || f.words.len() != geometry.words {
                    return Err(GeometryError::FilterShape);
                }
            }
        }
        Ok(())
    }
}
