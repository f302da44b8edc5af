//! Flood detection (CAPEC-61 "flood of unknown identifiers"): counts invalid tokens per
//! source and per session in fixed windows, and caps revocation-producing operations per
//! source. Both sit on a fixed-size count-min sketch ([`sketch`]): O(1) per event, no lock, no
//! allocation, and memory that does not depend on how many sources or sessions appear.

mod sketch;

use std::net::IpAddr;
use std::time::Duration;

use crate::clock::UnixTime;
use crate::session::events::SessionTag;
use sketch::Sketch;

/// How many invalid tokens in what window count as a flood.
///
/// ```
/// use std::time::Duration;
/// use sealed_session::FloodPolicy;
///
/// let flood = FloodPolicy { max_invalid: 5, window: Duration::from_secs(10), ..FloodPolicy::default() };
/// # let _ = flood;
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FloodPolicy {
    /// Invalid tokens allowed per window before a flood event.
    pub max_invalid: u32,
    /// Window length (whole seconds; windows are aligned to multiples of it).
    pub window: Duration,
    /// IPv6 sources are counted per prefix of this many bits (default 64, one customer
    /// network: RFC 6177), since one client typically controls a whole /64. Values above 128
    /// count whole addresses. IPv4 addresses, including IPv4-mapped IPv6 ones, are counted
    /// whole.
    pub ipv6_prefix: u8,
}

impl Default for FloodPolicy {
    /// 20 invalid tokens per source (or session) per minute; IPv6 sources per /64.
    fn default() -> Self {
        Self {
            max_invalid: 20,
            window: Duration::from_secs(60),
            ipv6_prefix: 64,
        }
    }
}

/// The detector; `record` says whether this rejection crossed the threshold (once a window).
///
/// Counts are count-min estimates: a source or session is never counted below its true
/// number of invalid tokens, and above it only when both of its cells are shared with other
/// busy keys (more than about `max_invalid × 8192` rejections from distinct keys in one
/// window). Over-counting can make a flood event fire early, never late. A key whose cells
/// were all pushed past the threshold by other keys before its own count got there does not
/// fire itself: those keys' floods are already reported.
pub(crate) struct FloodDetector {
    max_invalid: u32,
    ipv6_prefix: u8,
    sources: Sketch,
    sessions: Sketch,
}

impl FloodDetector {
    pub(crate) fn new(policy: FloodPolicy) -> Self {
        let window = policy.window.as_secs();
        Self {
            max_invalid: policy.max_invalid,
            ipv6_prefix: policy.ipv6_prefix,
            sources: Sketch::new(window),
            sessions: Sketch::new(window),
        }
    }

    /// Counts one invalid token; true exactly when its source or its session crosses the limit
    /// (the first invalid token past `max_invalid` in a window). O(1), lock-free.
    pub(crate) fn record(&self, source: Option<IpAddr>, session: Option<SessionTag>, now: UnixTime) -> bool {
        let mut crossed = false;
        if let Some(ip) = source {
            let key = source_key(Some(ip), self.ipv6_prefix);
            crossed |= self.sources.bump(key, now.0) == self.max_invalid;
        }
        if let Some(tag) = session {
            crossed |= self.sessions.bump(tag.0, now.0) == self.max_invalid;
        }
        crossed
    }

    /// Heap bytes held; constant for the detector's lifetime.
    pub(crate) fn memory_bytes(&self) -> usize {
        self.sources.memory_bytes() + self.sessions.memory_bytes()
    }
}

/// Caps how many revocation-producing operations (transitions, rotations) one source may
/// cause per window, so a single client cannot fill the shared revocation filter.
///
/// Same structure as [`FloodDetector`], IPv6 sources per /64: counts may only over-estimate,
/// so a source sharing both cells with busy sources can be refused early (needs more than
/// about `max × 8192` operations from distinct sources in one window).
pub(crate) struct SourceLimiter {
    max: u32,
    counts: Sketch,
}

impl SourceLimiter {
    /// At most `max` operations per `window` per source.
    pub(crate) fn new(max: u32, window: Duration) -> Self {
        Self {
            max,
            counts: Sketch::new(window.as_secs()),
        }
    }

    /// Counts one operation by `source`; false once the source is over its limit this window.
    /// Requests without a known source share one budget. O(1), lock-free.
    pub(crate) fn allow(&self, source: Option<IpAddr>, now: UnixTime) -> bool {
        self.counts.bump(source_key(source, 64), now.0) < self.max
    }

    /// Heap bytes held; constant for the limiter's lifetime.
    #[cfg(test)]
    pub(crate) fn memory_bytes(&self) -> usize {
        self.counts.memory_bytes()
    }
}

/// What a source is counted as: IPv4 (or IPv4-mapped) addresses whole, IPv6 addresses by
/// their first `prefix` bits; `None` (no known source) is one key of its own.
fn source_key(source: Option<IpAddr>, prefix: u8) -> Option<(u8, u128)> {
    match source.map(|ip| ip.to_canonical()) {
        None => None,
        Some(IpAddr::V4(v4)) => Some((4, u128::from(u32::from(v4)))),
        Some(IpAddr::V6(v6)) => {
            let keep = u32::from(prefix.min(128));
            let mask = u128::MAX.checked_shl(128 - keep).unwrap_or(0);
            Some((6, u128::from(v6) & mask))
        }
    }
}

/// The flood detector for benchmarks (`benches/flood.rs`); not part of the supported API.
#[doc(hidden)]
pub mod bench {
    use super::{FloodDetector, FloodPolicy, IpAddr, SessionTag, UnixTime};

    /// The flood detector, reachable from outside the crate for its bench.
    pub struct Detector(FloodDetector);

    impl Detector {
        /// A detector for `policy`.
        pub fn new(policy: FloodPolicy) -> Self {
            Self(FloodDetector::new(policy))
        }

        /// Counts one invalid token (see `FloodDetector::record`).
        pub fn record(&self, source: Option<IpAddr>, session: Option<[u8; 8]>, now: u64) -> bool {
            self.0.record(source, session.map(SessionTag), UnixTime(now))
        }

        /// Heap bytes held.
        pub fn memory_bytes(&self) -> usize {
            self.0.memory_bytes()
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use std::net::Ipv6Addr;

    fn policy(max: u32) -> FloodPolicy {
        FloodPolicy {
            max_invalid: max,
            window: Duration::from_secs(10),
            ..FloodPolicy::default()
        }
    }

    fn v6(low: u64) -> IpAddr {
        IpAddr::V6(Ipv6Addr::from(
            (0x2001_0db8_0000_0001_u128 << 64) | u128::from(low),
        ))
    }

    #[test]
    fn one_ipv6_slash64_is_one_source() {
        let d = FloodDetector::new(policy(5));
        let fired: Vec<bool> = (0..8)
            .map(|i| d.record(Some(v6(i * 7919 + 1)), None, UnixTime(100)))
            .collect();
        assert_eq!(fired, [false, false, false, false, false, true, false, false]);
        // Another /64 has its own count.
        let other = IpAddr::V6(Ipv6Addr::from(0x2001_0db8_0000_0002_u128 << 64));
        assert!(!d.record(Some(other), None, UnixTime(100)));
    }

    #[test]
    fn prefix_is_configurable() {
        let d = FloodDetector::new(FloodPolicy {
            ipv6_prefix: 128,
            ..policy(1)
        });
        assert!(!d.record(Some(v6(1)), None, UnixTime(0)));
        assert!(!d.record(Some(v6(2)), None, UnixTime(0)));
        assert!(d.record(Some(v6(1)), None, UnixTime(0)));
    }

    #[test]
    fn ipv4_mapped_addresses_are_counted_as_ipv4() {
        let d = FloodDetector::new(policy(1));
        let a: IpAddr = "::ffff:192.0.2.1".parse().unwrap();
        let b: IpAddr = "::ffff:192.0.2.2".parse().unwrap();
        assert!(!d.record(Some(a), None, UnixTime(0)));
        assert!(!d.record(Some(b), None, UnixTime(0)));
        assert!(d.record(Some("192.0.2.1".parse().unwrap()), None, UnixTime(0)));
    }

    #[test]
    fn crosses_once_per_window_for_source_and_session() {
        let d = FloodDetector::new(policy(3));
        let ip: IpAddr = "198.51.100.7".parse().unwrap();
        for window_start in [1000u64, 1010] {
            let fired = (0..10)
                .filter(|i| d.record(Some(ip), None, UnixTime(window_start + i % 10)))
                .count();
            assert_eq!(fired, 1);
        }
        let tag = Some(SessionTag([9; 8]));
        let fired = (0..10).filter(|_| d.record(None, tag, UnixTime(2000))).count();
        assert_eq!(fired, 1);
    }

    #[test]
    fn memory_is_constant_from_1k_to_1m_distinct_tags() {
        let d = FloodDetector::new(policy(20));
        let ip: IpAddr = "203.0.113.9".parse().unwrap();
        let before = d.memory_bytes();
        let mut at_1k = 0;
        for i in 0..1_000_000u64 {
            d.record(Some(ip), Some(SessionTag(i.to_le_bytes())), UnixTime(5));
            if i == 999 {
                at_1k = d.memory_bytes();
            }
        }
        assert_eq!(before, at_1k);
        assert_eq!(before, d.memory_bytes());
        assert!(before <= 512 << 10, "{before}");
    }

    #[test]
    fn limiter_allows_max_per_window_per_source() {
        let l = SourceLimiter::new(3, Duration::from_secs(60));
        let ip = Some(v6(1));
        let same_64 = Some(v6(99));
        let allowed = (0..5).filter(|_| l.allow(ip, UnixTime(60))).count();
        assert_eq!(allowed, 3);
        assert!(!l.allow(same_64, UnixTime(61)));
        assert!(l.allow(Some("192.0.2.1".parse().unwrap()), UnixTime(61)));
        assert!(l.allow(ip, UnixTime(120)), "a new window restarts the count");
    }

    #[test]
    fn limiter_shares_one_budget_without_a_source() {
        let l = SourceLimiter::new(2, Duration::from_secs(60));
        assert!(l.allow(None, UnixTime(0)));
        assert!(l.allow(None, UnixTime(1)));
        assert!(!l.allow(None, UnixTime(2)));
        assert!(l.allow(Some("192.0.2.1".parse().unwrap()), UnixTime(2)));
        assert_eq!(
            l.memory_bytes(),
            FloodDetector::new(FloodPolicy::default()).memory_bytes() / 2
        );
    }
}
