//! Password-guessing limits for login and step-up: Argon2id costs 19 MiB and tens of
//! milliseconds a check, so every check first passes a per-source budget, a per-account
//! budget and a cap on concurrent hashing.
//!
//! ```text
//! check(source, user, now, verify)
//!   source bucket (IPv4 address, IPv6 /64) ─ empty → Throttled (429, Retry-After)
//!   source pending < source_pending        ─ else  → Throttled (Retry-After: 1)
//!   account bucket (keyed hash of the name) ─ empty → Throttled; skipped for a source that
//!                                              logged in to this account before
//!   hashing permit, at most `hashing_queue` waiting ─ else → Busy (503)
//!   verify() on a blocking thread; success refunds the tokens it took
//! ```
//!
//! Per-account limiting is a token bucket, not a lockout: a lock would let anyone lock
//! alice out by guessing wrong from anywhere. The bucket bounds guesses on an account to
//! `account_burst` plus one per `account_refill` whatever the number of sources, and a
//! source alice signed in from before is exempt from it (OWASP's "device cookie" idea keyed
//! by source), so an attacker draining the bucket slows strangers, not her own devices.
//! Tables have a fixed capacity; entries whose state carries no information (a full bucket,
//! nothing pending, no known source) are swept when a table fills, and a table full of live
//! state answers Busy rather than forgetting a throttle or growing.

use std::collections::hash_map::RandomState;
use std::collections::HashMap;
use std::hash::{BuildHasher, Hash};
use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use sealed_session::UnixTime;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// The numbers of the limiter.
#[derive(Clone, Debug)]
pub struct LoginLimits {
    /// Password checks running at once (default: the number of cores).
    pub hashing_permits: usize,
    /// Checks allowed to wait for a permit; beyond that, Busy at once.
    pub hashing_queue: usize,
    /// Checks a source may make in a burst.
    pub source_burst: u32,
    /// One more check per source per this interval.
    pub source_refill: Duration,
    /// Checks of one source waiting or running at once.
    pub source_pending: u32,
    /// Checks on one account from unknown sources in a burst.
    pub account_burst: u32,
    /// One more check per account per this interval.
    pub account_refill: Duration,
    /// Entries in each of the source and account tables.
    pub table_capacity: usize,
}

impl Default for LoginLimits {
    fn default() -> Self {
        let cores = std::thread::available_parallelism().map_or(2, usize::from);
        Self {
            hashing_permits: cores,
            hashing_queue: 4 * cores,
            source_burst: 20,
            source_refill: Duration::from_secs(3),
            source_pending: 2,
            account_burst: 5,
            account_refill: Duration::from_secs(30),
            table_capacity: 4096,
        }
    }
}

/// Why a check was not run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// Over a source or account budget: 429 with `Retry-After` seconds.
    Throttled {
        /// Seconds until a check may pass.
        retry_after: u64,
    },
    /// Too many checks waiting for the hashing cap, or a table full of live state: 503.
    Busy,
}

/// The limiter; one per bank, shared by login and step-up.
pub struct LoginLimiter {
    limits: LoginLimits,
    hashing: Arc<Semaphore>,
    waiting: AtomicUsize,
    running: AtomicUsize,
    peak: AtomicUsize,
    sources: Mutex<Table<SourceKey, SourceEntry>>,
    accounts: Mutex<Table<u64, AccountEntry>>,
    names: RandomState,
}

impl LoginLimiter {
    /// A limiter with `limits`.
    pub fn new(limits: LoginLimits) -> Arc<Self> {
        Arc::new(Self {
            hashing: Arc::new(Semaphore::new(limits.hashing_permits.max(1))),
            waiting: AtomicUsize::new(0),
            running: AtomicUsize::new(0),
            peak: AtomicUsize::new(0),
            sources: Mutex::new(Table::new(limits.table_capacity)),
            accounts: Mutex::new(Table::new(limits.table_capacity)),
            names: RandomState::new(),
            limits,
        })
    }

    /// The limits in force.
    pub fn limits(&self) -> &LoginLimits {
        &self.limits
    }

    /// The most password checks that ever ran at once.
    pub fn peak_hashing(&self) -> usize {
        self.peak.load(Ordering::SeqCst)
    }

    /// Runs `verify` (a password check of `user`; `Some` on a match) on a blocking thread if
    /// the budgets of `source` and `user` at `now` and the hashing cap allow it. The check
    /// runs to the end and is counted even if the caller stops waiting.
    ///
    /// # Errors
    /// [`Refusal`] when a budget or the cap refused; `verify` did not run.
    pub async fn check<T, F>(
        self: &Arc<Self>,
        source: Option<IpAddr>,
        user: &str,
        now: UnixTime,
        verify: F,
    ) -> Result<Option<T>, Refusal>
    where
        T: Send + 'static,
        F: FnOnce() -> Option<T> + Send + 'static,
    {
        let ticket = self.admit(source, user, now)?;
        let permit = match self.permit().await {
            Ok(permit) => permit,
            Err(refusal) => {
                self.refund(&ticket);
                return Err(refusal);
            }
        };
        let this = self.clone();
        let outcome = tokio::task::spawn_blocking(move || {
            let running = this.running.fetch_add(1, Ordering::SeqCst) + 1;
            this.peak.fetch_max(running, Ordering::SeqCst);
            let outcome = verify();
            this.running.fetch_sub(1, Ordering::SeqCst);
            drop(permit);
            this.settle(&ticket, outcome.is_some(), now);
            outcome
        });
        outcome.await.map_err(|_| Refusal::Busy)
    }

    fn admit(self: &Arc<Self>, source: Option<IpAddr>, user: &str, now: UnixTime) -> Result<Ticket, Refusal> {
        let (source, account) = (SourceKey::of(source), self.names.hash_one(user));
        let l = &self.limits;
        {
            let mut sources = lock(&self.sources);
            let entry = sources.entry(source, now, l).ok_or(Refusal::Busy)?;
            if entry.pending >= l.source_pending {
                return Err(Refusal::Throttled { retry_after: 1 });
            }
            entry.bucket.take(now, l.source_burst, l.source_refill)?;
            entry.pending += 1;
        }
        let mut ticket = Ticket {
            limiter: self.clone(),
            source,
            account,
            took_account: false,
        };
        let mut accounts = lock(&self.accounts);
        let entry = accounts.entry(account, now, l).ok_or(Refusal::Busy)?;
        if entry.known.contains(&Some(source)) {
            return Ok(ticket);
        }
        entry.bucket.take(now, l.account_burst, l.account_refill)?;
        ticket.took_account = true;
        Ok(ticket)
    }

    async fn permit(&self) -> Result<OwnedSemaphorePermit, Refusal> {
        if let Ok(permit) = self.hashing.clone().try_acquire_owned() {
            return Ok(permit);
        }
        if self.waiting.fetch_add(1, Ordering::SeqCst) >= self.limits.hashing_queue {
            self.waiting.fetch_sub(1, Ordering::SeqCst);
            return Err(Refusal::Busy);
        }
        let _waiting = Waiting(&self.waiting);
        self.hashing
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| Refusal::Busy)
    }

    /// A correct password costs no budget and makes its source known to the account.
    fn settle(&self, ticket: &Ticket, success: bool, now: UnixTime) {
        if !success {
            return;
        }
        self.refund(ticket);
        if let Some(entry) = lock(&self.accounts).entry(ticket.account, now, &self.limits) {
            entry.remember(ticket.source);
        }
    }

    /// Gives back the tokens `ticket` took.
    fn refund(&self, ticket: &Ticket) {
        let l = &self.limits;
        if let Some(entry) = lock(&self.sources).get(&ticket.source) {
            entry.bucket.refund(l.source_burst);
        }
        if ticket.took_account {
            if let Some(entry) = lock(&self.accounts).get(&ticket.account) {
                entry.bucket.refund(l.account_burst);
            }
        }
    }
}

/// A check admitted by the budgets; releases its source's pending slot when dropped.
struct Ticket {
    limiter: Arc<LoginLimiter>,
    source: SourceKey,
    account: u64,
    took_account: bool,
}

impl Drop for Ticket {
    fn drop(&mut self) {
        if let Some(entry) = lock(&self.limiter.sources).get(&self.source) {
            entry.pending = entry.pending.saturating_sub(1);
        }
    }
}

struct Waiting<'a>(&'a AtomicUsize);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// IPv4 addresses one by one; IPv6 by /64, the smallest prefix a host is usually given
/// (RFC 6177). Requests without a peer address share one key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum SourceKey {
    V4(u32),
    V6(u64),
    Unknown,
}

impl SourceKey {
    fn of(ip: Option<IpAddr>) -> Self {
        match ip.map(|ip| ip.to_canonical()) {
            Some(IpAddr::V4(v4)) => Self::V4(u32::from(v4)),
            Some(IpAddr::V6(v6)) => {
                let [a, b, c, d, e, f, g, h, ..] = v6.octets();
                Self::V6(u64::from_be_bytes([a, b, c, d, e, f, g, h]))
            }
            None => Self::Unknown,
        }
    }
}

/// A token bucket in whole seconds: `tokens` left, the last refill step at `since`.
#[derive(Clone, Copy)]
struct Bucket {
    tokens: u32,
    since: u64,
}

impl Bucket {
    fn refill(&mut self, now: UnixTime, burst: u32, every: Duration) {
        let every = every.as_secs().max(1);
        // A clock that went back restarts the interval instead of refilling.
        let elapsed = now.0.saturating_sub(self.since);
        let steps = u32::try_from(elapsed / every).unwrap_or(u32::MAX);
        self.tokens = self.tokens.saturating_add(steps).min(burst);
        self.since = if self.tokens == burst || now.0 < self.since {
            now.0
        } else {
            self.since + u64::from(steps) * every
        };
    }

    fn take(&mut self, now: UnixTime, burst: u32, every: Duration) -> Result<(), Refusal> {
        self.refill(now, burst, every);
        if self.tokens == 0 {
            let waited = now.0.saturating_sub(self.since);
            let retry_after = every.as_secs().max(1).saturating_sub(waited).max(1);
            return Err(Refusal::Throttled { retry_after });
        }
        self.tokens -= 1;
        Ok(())
    }

    fn refund(&mut self, burst: u32) {
        self.tokens = self.tokens.saturating_add(1).min(burst);
    }

    fn is_full(&self, now: UnixTime, burst: u32, every: Duration) -> bool {
        let mut b = *self;
        b.refill(now, burst, every);
        b.tokens == burst
    }
}

struct SourceEntry {
    bucket: Bucket,
    pending: u32,
}

/// Sources that logged in to this account before: at most this many, newest kept.
const KNOWN_SOURCES: usize = 4;

struct AccountEntry {
    bucket: Bucket,
    known: [Option<SourceKey>; KNOWN_SOURCES],
}

impl AccountEntry {
    fn remember(&mut self, source: SourceKey) {
        if !self.known.contains(&Some(source)) {
            self.known.rotate_right(1);
            if let Some(newest) = self.known.first_mut() {
                *newest = Some(source);
            }
        }
    }
}

trait Limited {
    fn fresh(now: UnixTime, limits: &LoginLimits) -> Self;
    /// Carries no information: dropping it changes no answer.
    fn is_idle(&self, now: UnixTime, limits: &LoginLimits) -> bool;
}

impl Limited for SourceEntry {
    fn fresh(now: UnixTime, l: &LoginLimits) -> Self {
        Self {
            bucket: Bucket {
                tokens: l.source_burst,
                since: now.0,
            },
            pending: 0,
        }
    }

    fn is_idle(&self, now: UnixTime, l: &LoginLimits) -> bool {
        self.pending == 0 && self.bucket.is_full(now, l.source_burst, l.source_refill)
    }
}

impl Limited for AccountEntry {
    fn fresh(now: UnixTime, l: &LoginLimits) -> Self {
        Self {
            bucket: Bucket {
                tokens: l.account_burst,
                since: now.0,
            },
            known: [None; KNOWN_SOURCES],
        }
    }

    fn is_idle(&self, now: UnixTime, l: &LoginLimits) -> bool {
        self.known == [None; KNOWN_SOURCES] && self.bucket.is_full(now, l.account_burst, l.account_refill)
    }
}

/// A map of at most `capacity` entries.
struct Table<K, V> {
    capacity: usize,
    map: HashMap<K, V>,
    /// When idle entries were last swept: at most one sweep a second.
    swept: Option<u64>,
}

impl<K: Hash + Eq, V: Limited> Table<K, V> {
    fn new(capacity: usize) -> Self {
        Self {
            capacity,
            map: HashMap::new(),
            swept: None,
        }
    }

    fn get(&mut self, key: &K) -> Option<&mut V> {
        self.map.get_mut(key)
    }

    /// The entry of `key`, made if there is room; `None` when the table is full of live state.
    fn entry(&mut self, key: K, now: UnixTime, limits: &LoginLimits) -> Option<&mut V> {
        if !self.map.contains_key(&key) && self.map.len() >= self.capacity && self.swept != Some(now.0) {
            self.swept = Some(now.0);
            self.map.retain(|_, v| !v.is_idle(now, limits));
        }
        if !self.map.contains_key(&key) && self.map.len() >= self.capacity {
            return None;
        }
        Some(self.map.entry(key).or_insert_with(|| V::fresh(now, limits)))
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Every update is a single assignment under the lock: a panic leaves no half state.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}
