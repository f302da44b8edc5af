//! Flood detection (CAPEC-61 "flood of unknown identifiers"): counts invalid tokens per
//! source and per session in fixed windows. Only the rejection path touches it.

use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::Duration;

use crate::clock::UnixTime;
use crate::events::SessionTag;

/// Most keys tracked before old windows are swept, so a spray of sources cannot grow memory.
const MAX_TRACKED: usize = 65_536;

/// How many invalid tokens in what window count as a flood.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FloodPolicy {
    /// Invalid tokens allowed per window before a flood event.
    pub max_invalid: u32,
    /// Window length.
    pub window: Duration,
}

impl Default for FloodPolicy {
    /// 20 invalid tokens per source (or session) per minute.
    fn default() -> Self {
        Self {
            max_invalid: 20,
            window: Duration::from_secs(60),
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Hash)]
enum Key {
    Source(IpAddr),
    Session(SessionTag),
}

struct Window {
    start: u64,
    count: u32,
}

/// The detector; `record` says whether this rejection crossed the threshold (once a window).
pub(crate) struct FloodDetector {
    policy: FloodPolicy,
    windows: Mutex<HashMap<Key, Window>>,
}

impl FloodDetector {
    pub(crate) fn new(policy: FloodPolicy) -> Self {
        Self {
            policy,
            windows: Mutex::new(HashMap::new()),
        }
    }

    /// Counts one invalid token; true exactly when a source or session crosses the limit.
    pub(crate) fn record(&self, source: Option<IpAddr>, session: Option<SessionTag>, now: UnixTime) -> bool {
        let Ok(mut map) = self.windows.lock() else {
            return false;
        };
        let window = self.policy.window.as_secs().max(1);
        if map.len() >= MAX_TRACKED {
            map.retain(|_, w| now.0.saturating_sub(w.start) < window);
        }
        let keys = [source.map(Key::Source), session.map(Key::Session)];
        let mut crossed = false;
        for key in keys.into_iter().flatten() {
            crossed |= bump(&mut map, key, now.0, window, self.policy.max_invalid);
        }
        crossed
    }
}

fn bump<K: Hash + Eq>(map: &mut HashMap<K, Window>, key: K, now: u64, window: u64, max: u32) -> bool {
    let w = map.entry(key).or_insert(Window { start: now, count: 0 });
    if now.saturating_sub(w.start) >= window {
        *w = Window { start: now, count: 0 };
    }
    w.count = w.count.saturating_add(1);
    w.count == max.saturating_add(1)
}

/// Caps how many revocation-producing operations (transitions, rotations) one source may
/// cause per window, so a single client cannot fill the shared revocation filter.
///
/// Interface stub: a naive bounded map; to be replaced by the O(1) structure of the flood
/// detector.

pub(crate) struct SourceLimiter {
    max: u32,
    window: u64,
    windows: Mutex<HashMap<IpAddr, Window>>,
}

impl SourceLimiter {
    /// At most `max` operations per `window` per source.
    pub(crate) fn new(max: u32, window: Duration) -> Self {
        Self {
            max,
            window: window.as_secs().max(1),
            windows: Mutex::new(HashMap::new()),
        }
    }

    /// Counts one operation by `source`; false once the source is over its limit this window.
    /// Requests without a known source share one budget.
    pub(crate) fn allow(&self, source: Option<IpAddr>, now: UnixTime) -> bool {
        let Ok(mut map) = self.windows.lock() else {
            return true;
        };
        if map.len() >= MAX_TRACKED {
            map.clear();
        }
        let key = source.unwrap_or(IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED));
        let w = map.entry(key).or_insert(Window {
            start: now.0,
            count: 0,
        });
        if now.0.saturating_sub(w.start) >= self.window {
            *w = Window {
                start: now.0,
                count: 0,
            };
        }
        w.count = w.count.saturating_add(1);
        w.count <= self.max
    }
}
