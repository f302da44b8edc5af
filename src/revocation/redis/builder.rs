//! [`RedisStoreBuilder`]: the settings of a [`RedisStore`] and opening it.

use std::fs::{File, OpenOptions, TryLockError};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use super::names::{check_name, FeedNames};
use super::outbox::Outbox;
use super::position::Position;
use super::status::Shared;
use super::worker::{Feed, Settings};
use super::RedisStore;
use crate::clock::{Clock, SystemClock};
use crate::keys::Keys;
use crate::revocation::file::io;
use crate::revocation::{Durability, FileStore, FilterConfig, RevocationStore, StoreError};
use crate::session::events::{EventSink, TracingSink};

/// The lock file that keeps two feeds off one data directory.
pub(crate) const FEED_LOCK_FILE: &str = "feed.lock";

/// What a node may do before it has read the feed once.
///
/// ```
/// use sealed_session::revocation::redis::StartupPolicy;
/// assert_eq!(StartupPolicy::default(), StartupPolicy::RequireFeed);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum StartupPolicy {
    /// Not ready until the stream has been read up to where it stood at connection; unready
    /// again after an outage longer than [`max_staleness`](RedisStoreBuilder::max_staleness).
    /// A node that cannot reach Redis at start reports
    /// [`Readiness::FeedUnavailable`](crate::revocation::Readiness::FeedUnavailable).
    #[default]
    RequireFeed,
    /// Ready once local state is loaded, and through any outage: a restart never resurrects a
    /// session this node knew about, but revocations taken elsewhere while it was away are
    /// enforced only once it has read them.
    ServeLocal,
}

/// Settings of a [`RedisStore`], from [`RedisStore::builder`]; every setter consumes and
/// returns the builder.
///
/// ```no_run
/// use std::time::Duration;
/// use sealed_session::revocation::redis::{RedisStore, StartupPolicy};
/// use sealed_session::revocation::FilterConfig;
/// use sealed_session::{KeyRing, Keys};
///
/// let keys = Keys::new(KeyRing::generate()?)?;
/// let store = RedisStore::builder("redis://10.0.0.5:6379", "bank", "web-1", "/var/lib/bank/revocations", &keys)
///     .filter(FilterConfig::default())
///     .retention(Duration::from_secs(8 * 3600 + 300))
///     .startup(StartupPolicy::RequireFeed)
///     .open()?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[must_use]
pub struct RedisStoreBuilder {
    url: String,
    context: String,
    node: String,
    dir: PathBuf,
    keys: Keys,
    filter: FilterConfig,
    events: Arc<dyn EventSink>,
    startup: StartupPolicy,
    max_staleness: Duration,
    settings: Settings,
    clock: Arc<dyn Clock>,
}

impl RedisStoreBuilder {
    pub(crate) fn new(url: &str, context: &str, node: &str, dir: &Path, keys: &Keys) -> Self {
        Self {
            url: url.to_owned(),
            context: context.to_owned(),
            node: node.to_owned(),
            dir: dir.to_path_buf(),
            keys: keys.clone(),
            filter: FilterConfig::default(),
            events: Arc::new(TracingSink),
            startup: StartupPolicy::default(),
            max_staleness: Duration::from_secs(30),
            clock: Arc::new(SystemClock),
            settings: Settings {
                retention: Duration::from_secs(24 * 3600 + 300),
                snapshot_every: Duration::from_secs(300),
                backoff_min: Duration::from_millis(250),
                backoff_max: Duration::from_secs(30),
                timeout: Duration::from_secs(5),
                block: Duration::from_secs(1),
            },
        }
    }

    /// The filter configuration of the local store (default [`FilterConfig::default`]). Every
    /// node of a context must use the same one: snapshots merge only between equal geometries.
    ///
    /// ```
    /// # use sealed_session::revocation::{redis::RedisStore, FilterConfig};
    /// # let keys = sealed_session::Keys::new(sealed_session::KeyRing::generate()?)?;
    /// let builder = RedisStore::builder("redis://127.0.0.1", "bank", "web-1", "/tmp/r", &keys)
    ///     .filter(FilterConfig::default().with_capacity(100_000));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn filter(mut self, config: FilterConfig) -> Self {
        self.filter = config;
        self
    }

    /// How long stream entries are kept before a snapshot may replace them (default 24 h
    /// 5 min): set it to the longest session lifetime plus leeway, so a node away for less
    /// than that catches up from the stream alone.
    ///
    /// ```
    /// # use std::time::Duration; use sealed_session::revocation::redis::RedisStore;
    /// # let keys = sealed_session::Keys::new(sealed_session::KeyRing::generate()?)?;
    /// let builder = RedisStore::builder("redis://127.0.0.1", "bank", "web-1", "/tmp/r", &keys)
    ///     .retention(Duration::from_secs(8 * 3600 + 300));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn retention(mut self, retention: Duration) -> Self {
        self.settings.retention = retention;
        self
    }

    /// Where `ForgedFeedRecord`, `FeedUnavailable` and `FeedRegressed` go (default
    /// [`TracingSink`]).
    ///
    /// ```
    /// # use std::sync::Arc; use sealed_session::{CollectingSink, revocation::redis::RedisStore};
    /// # let keys = sealed_session::Keys::new(sealed_session::KeyRing::generate()?)?;
    /// let events = Arc::new(CollectingSink::new());
    /// let builder = RedisStore::builder("redis://127.0.0.1", "bank", "web-1", "/tmp/r", &keys)
    ///     .events(events.clone());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn events(mut self, events: Arc<dyn EventSink>) -> Self {
        self.events = events;
        self
    }

    /// Whether the node serves before it has read the feed (default
    /// [`StartupPolicy::RequireFeed`]).
    ///
    /// ```
    /// # use sealed_session::revocation::redis::{RedisStore, StartupPolicy};
    /// # let keys = sealed_session::Keys::new(sealed_session::KeyRing::generate()?)?;
    /// let builder = RedisStore::builder("redis://127.0.0.1", "bank", "web-1", "/tmp/r", &keys)
    ///     .startup(StartupPolicy::ServeLocal);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn startup(mut self, policy: StartupPolicy) -> Self {
        self.startup = policy;
        self
    }

    /// Under [`StartupPolicy::RequireFeed`], how long a node that was current may go without
    /// the feed before it reports itself unready (default 30 s). Revocations taken on other
    /// nodes during that time are not enforced here until the feed is back.
    ///
    /// # Warning
    /// When Redis is down every node crosses this limit at about the same moment; a load
    /// balancer that then has no ready backend may stop serving altogether. Use
    /// [`StartupPolicy::ServeLocal`] where availability matters more than a fresh feed.
    ///
    /// ```
    /// # use std::time::Duration; use sealed_session::revocation::redis::RedisStore;
    /// # let keys = sealed_session::Keys::new(sealed_session::KeyRing::generate()?)?;
    /// let builder = RedisStore::builder("redis://127.0.0.1", "bank", "web-1", "/tmp/r", &keys)
    ///     .max_staleness(Duration::from_secs(120));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn max_staleness(mut self, max: Duration) -> Self {
        self.max_staleness = max;
        self
    }

    /// Reconnection delays: the first retry after `min`, doubling up to `max` (defaults
    /// 250 ms and 30 s). Outbox records are flushed on the first successful reconnection.
    ///
    /// ```
    /// # use std::time::Duration; use sealed_session::revocation::redis::RedisStore;
    /// # let keys = sealed_session::Keys::new(sealed_session::KeyRing::generate()?)?;
    /// let builder = RedisStore::builder("redis://127.0.0.1", "bank", "web-1", "/tmp/r", &keys)
    ///     .reconnect_backoff(Duration::from_millis(100), Duration::from_secs(10));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn reconnect_backoff(mut self, min: Duration, max: Duration) -> Self {
        self.settings.backoff_min = min;
        self.settings.backoff_max = max;
        self
    }

    /// How often the node publishes its snapshot and trims the stream (default 5 min).
    ///
    /// ```
    /// # use std::time::Duration; use sealed_session::revocation::redis::RedisStore;
    /// # let keys = sealed_session::Keys::new(sealed_session::KeyRing::generate()?)?;
    /// let builder = RedisStore::builder("redis://127.0.0.1", "bank", "web-1", "/tmp/r", &keys)
    ///     .snapshot_every(Duration::from_secs(60));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn snapshot_every(mut self, every: Duration) -> Self {
        self.settings.snapshot_every = every;
        self
    }

    /// The deadline of every Redis command and connection attempt (default 5 s); a server
    /// that does not answer within it counts as an outage.
    ///
    /// ```
    /// # use std::time::Duration; use sealed_session::revocation::redis::RedisStore;
    /// # let keys = sealed_session::Keys::new(sealed_session::KeyRing::generate()?)?;
    /// let builder = RedisStore::builder("redis://127.0.0.1", "bank", "web-1", "/tmp/r", &keys)
    ///     .command_timeout(Duration::from_secs(2));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn command_timeout(mut self, timeout: Duration) -> Self {
        self.settings.timeout = timeout;
        self
    }

    /// The clock that decides which key of the ring seals and verifies (a staged rotation
    /// follows it) and stamps the positions in the nodes hash (default [`SystemClock`]).
    ///
    /// ```
    /// # use std::sync::Arc; use sealed_session::{SystemClock, revocation::redis::RedisStore};
    /// # let keys = sealed_session::Keys::new(sealed_session::KeyRing::generate()?)?;
    /// let builder = RedisStore::builder("redis://127.0.0.1", "bank", "web-1", "/tmp/r", &keys)
    ///     .clock(Arc::new(SystemClock));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Opens the local store (loading its state, replaying the outbox into it) and starts
    /// the feed thread; returns without waiting for Redis (see
    /// [`readiness`](RevocationStore::readiness)).
    ///
    /// # Errors
    /// [`StoreError::InvalidFeedName`] or [`StoreError::InvalidFeedSetting`]; an unparseable
    /// URL ([`StoreError::Redis`]); anything [`FileStore::open`] refuses;
    /// [`StoreError::Locked`] or [`StoreError::FeedLocked`] when another store uses `data_dir`; an outbox corrupt before its
    /// tail ([`StoreError::Corrupt`]); I/O failure.
    ///
    /// ```no_run
    /// # use sealed_session::revocation::redis::RedisStore;
    /// # let keys = sealed_session::Keys::new(sealed_session::KeyRing::generate()?)?;
    /// let store = RedisStore::builder("redis://127.0.0.1:6379", "bank", "web-1", "/var/lib/bank/r", &keys).open()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn open(self) -> Result<RedisStore, StoreError> {
        let names = FeedNames::new(&self.context)?;
        check_name(&self.node, "node name")?;
        self.check_settings()?;
        let client = redis::Client::open(self.url.as_str()).map_err(|source| StoreError::Redis {
            context: "parsing the feed url",
            source,
        })?;
        let store = Arc::new(FileStore::open(&self.dir, &self.keys, self.filter)?);
        let lock = lock_feed(&self.dir)?;
        let (outbox, records) = Outbox::open(&self.dir)?;
        // The outbox is written before the local store: a crash between the two leaves records
        // only the outbox holds, given to the store again here.
        for r in records {
            store.revoke_with(r, Durability::Background)?;
        }
        store.sync()?;
        let position = Position::load(&self.dir)?;
        let feed = Arc::new(Feed::new(
            names,
            self.node,
            client,
            self.keys,
            store,
            Arc::new(outbox),
            self.dir,
            Shared::new(position),
            self.events,
            self.settings,
            self.clock,
        ));
        let worker = Arc::clone(&feed);
        let thread = std::thread::Builder::new()
            .name("revocation-feed".into())
            .spawn(move || worker.run())
            .map_err(io("starting the revocation feed thread"))?;
        Ok(RedisStore::assemble(
            feed,
            thread,
            self.startup,
            self.max_staleness,
            lock,
        ))
    }

    fn check_settings(&self) -> Result<(), StoreError> {
        let s = &self.settings;
        let refuse = |setting| Err(StoreError::InvalidFeedSetting { setting });
        if s.retention.is_zero() {
            return refuse("retention must be positive");
        }
        if s.snapshot_every.is_zero() {
            return refuse("snapshot_every must be positive");
        }
        if s.backoff_min.is_zero() || s.backoff_min > s.backoff_max {
            return refuse("reconnect_backoff needs 0 < min <= max");
        }
        if s.timeout.is_zero() {
            return refuse("command_timeout must be positive");
        }
        Ok(())
    }
}

/// Takes `dir/feed.lock` for as long as the returned file is open: two feeds sharing one
/// outbox would publish and empty it under each other.
fn lock_feed(dir: &Path) -> Result<File, StoreError> {
    let mut options = OpenOptions::new();
    options.read(true).write(true).create(true).truncate(false);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let file = options
        .open(dir.join(FEED_LOCK_FILE))
        .map_err(io("opening the feed lock"))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(TryLockError::WouldBlock) => Err(StoreError::FeedLocked {
            dir: dir.display().to_string(),
        }),
        Err(TryLockError::Error(e)) => Err(io("locking the feed lock")(e)),
    }
}
