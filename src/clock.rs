//! Time as an injectable dependency: nothing in this crate reads the system clock inline.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Seconds since 1970-01-01T00:00:00Z (UTC, leap seconds ignored, as POSIX time).
///
/// ```
/// use sealed_session::UnixTime;
/// let t = UnixTime(1_795_000_000);
/// assert!(t < UnixTime(1_795_000_001));
/// assert_eq!(t.secs(), 1_795_000_000);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
pub struct UnixTime(pub u64);

impl UnixTime {
    /// Seconds since the Unix epoch.
    ///
    /// ```
    /// assert_eq!(sealed_session::UnixTime(42).secs(), 42);
    /// ```
    pub const fn secs(self) -> u64 {
        self.0
    }

    /// `self + d`, saturating at the end of time rather than wrapping.
    ///
    /// ```
    /// use std::time::Duration;
    /// use sealed_session::UnixTime;
    /// assert_eq!(UnixTime(10).saturating_add(Duration::from_secs(5)), UnixTime(15));
    /// assert_eq!(UnixTime(u64::MAX).saturating_add(Duration::from_secs(1)), UnixTime(u64::MAX));
    /// ```
    #[must_use]
    pub fn saturating_add(self, d: Duration) -> Self {
        Self(self.0.saturating_add(d.as_secs()))
    }

    /// `self - d`, saturating at the epoch.
    ///
    /// ```
    /// use std::time::Duration;
    /// use sealed_session::UnixTime;
    /// assert_eq!(UnixTime(10).saturating_sub(Duration::from_secs(4)), UnixTime(6));
    /// assert_eq!(UnixTime(3).saturating_sub(Duration::from_secs(60)), UnixTime(0));
    /// ```
    #[must_use]
    pub fn saturating_sub(self, d: Duration) -> Self {
        Self(self.0.saturating_sub(d.as_secs()))
    }
}

/// A source of the current time. Pass one in; tests use [`ManualClock`] to move time.
///
/// ```
/// use std::time::Duration;
/// use sealed_session::{Clock, ManualClock, UnixTime};
/// // Code that takes the clock as a parameter can be tested at any instant.
/// fn expired(clock: &dyn Clock, deadline: UnixTime) -> bool {
///     clock.now() >= deadline
/// }
/// let clock = ManualClock::new(UnixTime(1_795_000_000));
/// assert!(!expired(&clock, UnixTime(1_795_000_060)));
/// clock.advance(Duration::from_secs(60));
/// assert!(expired(&clock, UnixTime(1_795_000_060)));
/// ```
pub trait Clock: Send + Sync {
    /// The current time.
    fn now(&self) -> UnixTime;
}

/// The operating system's wall clock.
///
/// ```
/// use sealed_session::{Clock, SystemClock, UnixTime};
/// // Any host running this is well past 2024-01-01.
/// assert!(SystemClock.now() > UnixTime(1_704_067_200));
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> UnixTime {
        // A clock before 1970 is a broken host; treating it as the epoch makes every token
        // "not yet valid", which fails closed.
        UnixTime(
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_secs()),
        )
    }
}

/// A clock that only moves when told to. Cloning shares the same time.
///
/// ```
/// use sealed_session::{Clock, ManualClock, UnixTime};
/// let clock = ManualClock::new(UnixTime(1_795_000_000));
/// let shared = clock.clone();
/// clock.set(UnixTime(1_795_000_100));
/// assert_eq!(shared.now(), UnixTime(1_795_000_100));
/// ```
#[derive(Clone, Debug, Default)]
pub struct ManualClock(Arc<AtomicU64>);

impl ManualClock {
    /// A clock showing `t`.
    ///
    /// ```
    /// use sealed_session::{Clock, ManualClock, UnixTime};
    /// assert_eq!(ManualClock::new(UnixTime(7)).now(), UnixTime(7));
    /// ```
    pub fn new(t: UnixTime) -> Self {
        Self(Arc::new(AtomicU64::new(t.0)))
    }

    /// Moves the clock forward by `d`.
    ///
    /// ```
    /// use std::time::Duration;
    /// use sealed_session::{Clock, ManualClock, UnixTime};
    /// let clock = ManualClock::new(UnixTime(1_795_000_000));
    /// clock.advance(Duration::from_secs(90));
    /// assert_eq!(clock.now(), UnixTime(1_795_000_090));
    /// ```
    pub fn advance(&self, d: Duration) {
        self.0.fetch_add(d.as_secs(), Ordering::SeqCst);
    }

    /// Sets the clock to `t` (also backwards, to test skew).
    ///
    /// ```
    /// use sealed_session::{Clock, ManualClock, UnixTime};
    /// let clock = ManualClock::new(UnixTime(1_795_000_000));
    /// clock.set(UnixTime(1_794_999_990));
    /// assert_eq!(clock.now(), UnixTime(1_794_999_990));
    /// ```
    pub fn set(&self, t: UnixTime) {
        self.0.store(t.0, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> UnixTime {
        UnixTime(self.0.load(Ordering::SeqCst))
    }
}

impl<C: Clock + ?Sized> Clock for Arc<C> {
    fn now(&self) -> UnixTime {
        (**self).now()
    }
}
