//! Where revocations are kept: the store trait, its error, and the in-memory store.

use serde::{Deserialize, Serialize};

use super::config::FilterConfig;
use super::set::RevocationSet;
use super::snapshot::{GeometryError, SnapshotError};
use crate::clock::UnixTime;
use crate::error::ConfigError;
use crate::token::claims::{Epoch, MAX_SUBJECT_LEN};

/// One revocation, as applied to a [`RevocationSet`] and written to a revocation log.
///
/// ```
/// use sealed_session::revocation::{FilterConfig, MemoryStore, Revocation, RevocationStore};
/// use sealed_session::{token::Epoch, UnixTime};
///
/// let store = MemoryStore::new(FilterConfig::default())?;
/// // Logout: the session id, in the epoch its tokens carry.
/// store.revoke(Revocation::Id { epoch: Epoch(5), id: [0x2a; 16] })?;
/// // Logout everywhere: every session of the subject authenticated before the cutoff.
/// store.revoke(Revocation::Subject { subject: "alice".into(), cutoff: UnixTime(1_795_000_000) })?;
/// // Every token issued before the time.
/// store.revoke(Revocation::KillSwitch { before: UnixTime(1_795_000_000) })?;
/// assert_eq!(store.set().kill_switch(), Some(UnixTime(1_795_000_000)));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Revocation {
    /// A session id or token id, for tokens of `epoch`.
    Id {
        /// The epoch the token carries.
        epoch: Epoch,
        /// The session id or token id.
        id: [u8; 16],
    },
    /// Every token of `subject` authenticated before `cutoff` (logout-everywhere).
    Subject {
        /// The subject, 1 to 64 bytes.
        subject: String,
        /// Tokens authenticated before this time are refused.
        cutoff: UnixTime,
    },
    /// Every token issued before `before` (the kill switch).
    KillSwitch {
        /// Tokens issued before this time are refused.
        before: UnixTime,
    },
}

impl Revocation {
    /// Applies the revocation to `set`. Idempotent.
    pub(crate) fn apply_to(&self, set: &RevocationSet) {
        match self {
            Self::Id { epoch, id } => set.insert(*epoch, id),
            Self::Subject { subject, cutoff } => set.cut_off_subject(subject, *cutoff),
            Self::KillSwitch { before } => set.set_kill_switch(*before),
        }
    }

    /// Checks the bounds a token would have to meet to be matched.
    ///
    /// # Errors
    /// [`StoreError::InvalidSubject`] for an empty subject or one over 64 bytes.
    ///
    /// ```
    /// # use sealed_session::revocation::{Revocation, StoreError};
    /// # use sealed_session::UnixTime;
    /// let cutoff = UnixTime(1_795_000_000);
    /// assert!(Revocation::Subject { subject: "alice".into(), cutoff }.validate().is_ok());
    /// let empty = Revocation::Subject { subject: String::new(), cutoff };
    /// assert!(matches!(empty.validate(), Err(StoreError::InvalidSubject)));
    /// ```
    pub fn validate(&self) -> Result<(), StoreError> {
        match self {
            Self::Subject { subject, .. } if !(1..=MAX_SUBJECT_LEN).contains(&subject.len()) => {
                Err(StoreError::InvalidSubject)
            }
            _ => Ok(()),
        }
    }
}

/// A revocation store failed.
///
/// ```
/// use sealed_session::revocation::{FilterConfig, MemoryStore, Revocation, RevocationStore, StoreError};
/// # use sealed_session::UnixTime;
/// let store = MemoryStore::new(FilterConfig::default())?;
/// let too_long = Revocation::Subject { subject: "x".repeat(65), cutoff: UnixTime(1_795_000_000) };
/// let err = store.revoke(too_long).unwrap_err();
/// assert!(matches!(err, StoreError::InvalidSubject));
/// assert_eq!(err.to_string(), "revocation subject must be 1 to 64 bytes");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// A file operation failed.
    #[error("revocation store: {context}: {source}")]
    Io {
        /// What was being done.
        context: &'static str,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The stored snapshot was refused.
    #[error("revocation store: {0}")]
    Snapshot(#[from] SnapshotError),
    /// The data directory's snapshot is sealed under a key the ring does not have at all.
    #[error(
        "revocation snapshot in {dir} is sealed under key {key_id}, which is not in the key ring: \
         add that key back to the key file (it may be retired), or move the data directory aside \
         to start without its revocations"
    )]
    SnapshotKeyMissing {
        /// The data directory.
        dir: String,
        /// The key id the snapshot names.
        key_id: u8,
    },
    /// The log has an invalid record followed by valid ones; cutting it there would drop
    /// acknowledged revocations, so the store refuses to open.
    #[error("revocation log corrupt at byte {offset} with valid records after it")]
    Corrupt {
        /// Offset of the first invalid record.
        offset: u64,
    },
    /// A subject that no token can carry (empty or over 64 bytes).
    #[error("revocation subject must be 1 to 64 bytes")]
    InvalidSubject,
    /// An earlier write or fsync failed, so what is on disk is unknown; reopen the store.
    #[error("revocation store unusable after an earlier write failure; reopen it")]
    Poisoned,
    /// The filter configuration or key ring was refused.
    #[error("revocation store: {0}")]
    Config(#[from] ConfigError),
    /// A snapshot was made with another filter geometry than this store's.
    #[error("{0}")]
    Geometry(#[from] GeometryError),
    /// A revocation record or snapshot could not be encoded (postcard, writing to memory).
    #[error("revocation store: encoding a record or snapshot failed")]
    Encoding,
    /// A record longer than the log format allows (only a subject over 64 bytes could be).
    #[error("revocation store: record longer than the log format allows")]
    RecordTooLong,
    /// Another feed has the data directory open (its outbox would be published and emptied
    /// by two processes).
    #[error(
        "revocation feed data directory {dir} is in use by another feed (lock file {dir}/feed.lock); \
         give each node its own directory"
    )]
    FeedLocked {
        /// The data directory.
        dir: String,
    },
    /// A feed context or node name outside `[A-Za-z0-9._-]{1,64}` (it becomes part of Redis
    /// key names and of every record's MAC input).
    #[error("revocation feed: {what} must be 1 to 64 bytes of letters, digits, '.', '_' or '-'")]
    InvalidFeedName {
        /// Which name: `"context"` or `"node name"`.
        what: &'static str,
    },
    /// A builder setting is out of range (a zero duration, a backoff minimum above its maximum).
    #[error("revocation feed: invalid setting: {setting}")]
    InvalidFeedSetting {
        /// The setting refused.
        setting: &'static str,
    },
    /// Talking to the feed's Redis server failed (unreachable, refused, timed out, or an
    /// error reply).
    #[cfg(feature = "redis")]
    #[error("revocation feed: {context}: {source}")]
    Redis {
        /// What was being done.
        context: &'static str,
        /// The client's error.
        #[source]
        source: redis::RedisError,
    },
    /// The feed's Redis server answered a command with a reply of an unexpected shape.
    #[error("revocation feed: unexpected reply to {command}")]
    FeedReply {
        /// The command.
        command: &'static str,
    },
}

/// How durable a revocation must be before [`RevocationStore::revoke_with`] returns.
///
/// Every level applies the revocation to the in-memory set before returning, so the node
/// that took it enforces it at once (fail closed). They differ only in what survives a crash.
///
/// ```
/// use sealed_session::revocation::{Durability, FilterConfig, MemoryStore, Revocation, RevocationStore};
/// # use sealed_session::token::Epoch;
/// let store = MemoryStore::new(FilterConfig::default())?;
/// let reused = Revocation::Id { epoch: Epoch(5), id: [0x2a; 16] };
/// store.revoke_with(reused, Durability::Background)?;
/// assert!(store.set().contains(Epoch(5), &[0x2a; 16])); // enforced at once
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Durability {
    /// Written and fsync'd before returning: logout, login, elevation, logout-everywhere and
    /// the kill switch. May block on I/O: never call it on an async worker thread.
    Synced,
    /// Written by the store's own background writer soon after returning; never blocks on
    /// I/O. For revocations taken on the request path (reuse, binding mismatch, rotation),
    /// where the response does not promise anything a crash could take back.
    Background,
    /// Applied to this node's set only and never written: for sessions that never
    /// authenticated, whose tokens grant nothing worth remembering across a restart.
    Local,
}

/// Holds the revocation set and makes revocations last.
///
/// The verify path reads [`set`](Self::set) (lock-free); [`revoke`](Self::revoke) returns `Ok`
/// only once the revocation is applied to the set and as durable as the store promises.
///
/// Code that only revokes and looks up can take any store:
///
/// ```
/// use sealed_session::revocation::{FilterConfig, MemoryStore, Revocation, RevocationStore, StoreError};
/// use sealed_session::token::{Epoch, SessionId};
///
/// fn log_out(store: &dyn RevocationStore, epoch: Epoch, session: SessionId) -> Result<(), StoreError> {
///     store.revoke(Revocation::Id { epoch, id: session.0 })
/// }
///
/// let store = MemoryStore::new(FilterConfig::default())?;
/// let session = SessionId::generate()?;
/// log_out(&store, Epoch(5), session)?;
/// assert!(store.set().contains(Epoch(5), &session.0));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub trait RevocationStore: Send + Sync {
    /// The set lookups go to.
    ///
    /// ```
    /// # use sealed_session::revocation::*;
    /// # use sealed_session::token::Epoch;
    /// # let store = MemoryStore::new(FilterConfig::default())?;
    /// assert_eq!(store.set().generation_count(), 0);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    fn set(&self) -> &RevocationSet;

    /// Applies `revocation` to [`set`](Self::set) and makes it durable before returning `Ok`.
    /// On `Err` the revocation may still be in the set (it fails closed) but may not survive
    /// a restart.
    ///
    /// # Errors
    /// The revocation is invalid or could not be made durable.
    ///
    /// ```
    /// # use sealed_session::revocation::*;
    /// # use sealed_session::token::Epoch;
    /// # let store = MemoryStore::new(FilterConfig::default())?;
    /// store.revoke(Revocation::Id { epoch: Epoch(5), id: [0x2a; 16] })?;
    /// assert!(store.set().contains(Epoch(5), &[0x2a; 16]));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    fn revoke(&self, revocation: Revocation) -> Result<(), StoreError> {
        self.revoke_with(revocation, Durability::Synced)
    }

    /// Applies `revocation` to [`set`](Self::set) at once and makes it as durable as
    /// `durability` says (see [`Durability`]).
    ///
    /// # Errors
    /// The revocation is invalid or, for [`Durability::Synced`], could not be made durable;
    /// [`Durability::Background`] fails only when the store is already unusable.
    ///
    /// ```
    /// # use sealed_session::revocation::*;
    /// # use sealed_session::token::Epoch;
    /// # let store = MemoryStore::new(FilterConfig::default())?;
    /// // A session that never authenticated: enforced here, never written.
    /// store.revoke_with(Revocation::Id { epoch: Epoch(5), id: [0x2a; 16] }, Durability::Local)?;
    /// assert!(store.set().contains(Epoch(5), &[0x2a; 16]));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    fn revoke_with(&self, revocation: Revocation, durability: Durability) -> Result<(), StoreError>;

    /// Whether this node holds every revocation it must enforce, so a load balancer may send
    /// it traffic. Stores without a feed are ready once open.
    ///
    /// ```
    /// # use sealed_session::revocation::*;
    /// let store = MemoryStore::new(FilterConfig::default())?;
    /// assert!(store.readiness().is_ready());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    fn readiness(&self) -> Readiness {
        Readiness::Ready
    }
}

/// Whether a node's revocation state is complete enough to serve (its health check).
///
/// ```
/// use sealed_session::revocation::Readiness;
/// assert!(Readiness::Ready.is_ready());
/// assert!(!Readiness::CatchingUp.is_ready());
/// assert_eq!(Readiness::FeedUnavailable.to_string(), "revocation feed unreachable");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Readiness {
    /// Local state loaded and the feed read up to where it stood: serve.
    Ready,
    /// Still loading local state or reading the feed.
    CatchingUp,
    /// The feed cannot be reached and the policy does not allow serving without it.
    FeedUnavailable,
}

impl Readiness {
    /// True for [`Readiness::Ready`].
    ///
    /// ```
    /// assert!(sealed_session::revocation::Readiness::Ready.is_ready());
    /// ```
    pub fn is_ready(self) -> bool {
        self == Self::Ready
    }
}

impl core::fmt::Display for Readiness {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            Self::Ready => "ready",
            Self::CatchingUp => "catching up with the revocation feed",
            Self::FeedUnavailable => "revocation feed unreachable",
        })
    }
}

/// A store that keeps everything in memory: nothing survives a restart. For tests, and for
/// nodes that rebuild their set from peers.
///
/// Every [`Durability`] is the same here: the revocation is in the set when `revoke` returns.
///
/// ```
/// use sealed_session::revocation::{FilterConfig, MemoryStore, Revocation, RevocationStore};
/// use sealed_session::token::Epoch;
///
/// let store = MemoryStore::new(FilterConfig::default())?;
/// store.revoke(Revocation::Id { epoch: Epoch(5), id: [0x2a; 16] })?;
/// assert!(store.set().contains(Epoch(5), &[0x2a; 16]));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct MemoryStore {
    set: RevocationSet,
}

impl MemoryStore {
    /// An empty store.
    ///
    /// # Errors
    /// A setting of `config` is out of range.
    ///
    /// ```
    /// # use sealed_session::revocation::{FilterConfig, MemoryStore, RevocationStore};
    /// let store = MemoryStore::new(FilterConfig::default().with_capacity(10_000))?;
    /// assert_eq!(store.set().config().capacity(), 10_000);
    /// assert!(MemoryStore::new(FilterConfig::default().with_false_positive_rate(0.5)).is_err());
    /// # Ok::<(), sealed_session::ConfigError>(())
    /// ```
    pub fn new(config: FilterConfig) -> Result<Self, ConfigError> {
        Ok(Self {
            set: RevocationSet::new(config)?,
        })
    }
}

impl RevocationStore for MemoryStore {
    fn set(&self) -> &RevocationSet {
        &self.set
    }

    fn revoke_with(&self, revocation: Revocation, _: Durability) -> Result<(), StoreError> {
        revocation.validate()?;
        revocation.apply_to(&self.set);
        Ok(())
    }
}
