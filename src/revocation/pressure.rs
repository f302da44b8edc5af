//! Growth pressure on the revocation filters: how close a generation is to exhausting its
//! growth, reported to operators long before false positives rise (spec/revocation.md,
//! "Growth").

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Mutex;

use super::config::MAX_FILTERS;
use super::filter::Filter;

/// How far a generation has grown towards saturation. Ordered: later is worse.
///
/// ```
/// use sealed_session::revocation::PressureLevel;
///
/// fn page_someone(level: PressureLevel) -> bool {
///     level >= PressureLevel::Critical
/// }
/// assert!(!page_someone(PressureLevel::Elevated));
/// assert!(page_someone(PressureLevel::Saturated));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum PressureLevel {
    /// The generation has opened its third filter: it holds more than three times the
    /// configured capacity. The capacity is too small for this traffic, or one source is
    /// revoking far more than users log out.
    Elevated,
    /// The generation has opened its second-to-last filter (more than 63 times capacity); at
    /// a constant rate it saturates after about three times as long again as it took to get
    /// here.
    Critical,
    /// The last filter is full, or the false-positive estimate is above ten times the target:
    /// valid sessions of this generation are being refused as revoked more often than
    /// configured, until the generation expires.
    Saturated,
}

/// The pressure on one generation (see [`RevocationSet::pressure`](super::RevocationSet::pressure)).
///
/// ```
/// use sealed_session::revocation::*;
/// use sealed_session::token::{Epoch, SessionId};
///
/// // A capacity far too small for the traffic.
/// let store = MemoryStore::new(FilterConfig::default().with_capacity(4).with_false_positive_rate(0.01))?;
/// let mut revoked = 0;
/// while store.set().pressure().is_none() && revoked < 10_000 {
///     store.revoke(Revocation::Id { epoch: Epoch(5), id: SessionId::generate()?.0 })?;
///     revoked += 1;
/// }
/// let pressure = store.set().pressure().ok_or("no pressure")?;
/// assert_eq!(pressure.level, PressureLevel::Elevated);
/// assert_eq!((pressure.generation, pressure.filters), (5, 3));
/// assert!(revoked > 3 * 4);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
#[non_exhaustive]
pub struct Pressure {
    /// The generation (hour-epoch divided by epochs per generation).
    pub generation: u64,
    /// How far it has grown.
    pub level: PressureLevel,
    /// Filters it has grown (at most 8).
    pub filters: usize,
    /// Fraction of the newest filter's bits that are set (it is sealed near 0.43 at the
    /// default rate: the expected fill at its capacity).
    pub last_filter_fill: f64,
    /// Estimated false-positive probability of one probe in this generation.
    pub false_positive_estimate: f64,
}

/// Edge-triggered alarms: each generation raises each level at most once.
pub(crate) struct Alarms {
    pending: Mutex<VecDeque<Pressure>>,
}

/// Pending alarms kept for `take`; older ones are dropped (they were logged when raised).
const MAX_PENDING: usize = 64;
/// False-positive estimate, as a multiple of the target, that counts as saturated.
const SATURATED_FP_FACTOR: f64 = 10.0;

impl Alarms {
    pub(crate) fn new() -> Self {
        Self {
            pending: Mutex::new(VecDeque::new()),
        }
    }

    /// Raises `p` if its generation has not yet raised this level or a worse one (`raised`
    /// is that generation's record). Logs a warning when it does.
    pub(crate) fn raise(&self, raised: &AtomicU8, p: Pressure) {
        let code = level_code(p.level);
        if raised.fetch_max(code, Ordering::AcqRel) >= code {
            return;
        }
        tracing::warn!(
            generation = p.generation,
            level = ?p.level,
            filters = p.filters,
            fill = p.last_filter_fill,
            false_positive_estimate = p.false_positive_estimate,
            "revocation filter pressure: raise FilterConfig capacity and find the source of the revocations"
        );
        let mut q = self
            .pending
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if q.len() >= MAX_PENDING {
            q.pop_front();
        }
        q.push_back(p);
    }

    /// The oldest alarm not yet taken.
    pub(crate) fn take(&self) -> Option<Pressure> {
        self.pending
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .pop_front()
    }
}

/// How a false-positive estimate is computed.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Estimate {
    /// From every block's fill: reads each filter whole (operators' queries, merges, a new
    /// filter opening).
    Exact,
    /// From the total fill and the random-key model: constant time (every insert once the
    /// generation is saturated).
    Model,
}

/// The pressure on a generation with `filters`, if any, given the false-positive `target`
/// (of one verify, two probes).
pub(crate) fn assess(
    generation: u64,
    filters: &[std::sync::Arc<Filter>],
    target: f64,
    estimate: Estimate,
) -> Option<Pressure> {
    let last = filters.last()?;
    let false_positive_estimate: f64 = filters
        .iter()
        .map(|f| match estimate {
            Estimate::Exact => f.false_positive_estimate(),
            Estimate::Model => f.false_positive_model(),
        })
        .sum();
    // A verify probes two ids.
    let saturated = (filters.len() >= MAX_FILTERS && last.is_sealed())
        || 2.0 * false_positive_estimate > SATURATED_FP_FACTOR * target;
    let level = if saturated {
        PressureLevel::Saturated
    } else if filters.len() >= MAX_FILTERS - 1 {
        PressureLevel::Critical
    } else if filters.len() >= 3 {
        PressureLevel::Elevated
    } else {
        return None;
    };
    Some(Pressure {
        generation,
        level,
        filters: filters.len(),
        last_filter_fill: last.set_bits() as f64 / last.geometry().bits().max(1) as f64,
        false_positive_estimate,
    })
}

fn level_code(level: PressureLevel) -> u8 {
    match level {
        PressureLevel::Elevated => 1,
        PressureLevel::Critical => 2,
        PressureLevel::Saturated => 3,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use crate::revocation::{FilterConfig, PressureLevel, RevocationSet};
    use crate::token::claims::Epoch;

    fn id(i: u64) -> [u8; 16] {
        // Spread over both halves like the CSPRNG ids the filters expect.
        let x = i.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ 0x0123_4567_89ab_cdef;
        let y = x.rotate_left(29).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        let mut out = [0u8; 16];
        out[..8].copy_from_slice(&x.to_le_bytes());
        out[8..].copy_from_slice(&y.to_le_bytes());
        out
    }

    #[test]
    fn alarms_fire_once_per_level_per_generation_before_saturation() {
        let set = RevocationSet::new(
            FilterConfig::default()
                .with_capacity(64)
                .with_false_positive_rate(0.01),
        )
        .unwrap();
        // Capacity 64, not smaller: a filter is at least one 512-bit block, so tiny filters
        // hold more than their capacity and would skew the growth ratios checked below.
        let mut raised = Vec::new();
        let mut i = 0u64;
        while raised.last().map(|r: &(PressureLevel, usize, u64)| r.0) != Some(PressureLevel::Saturated) {
            set.insert(Epoch(7), &id(i));
            i += 1;
            while let Some(p) = set.take_pressure_alarm() {
                raised.push((p.level, p.filters, i));
            }
            assert!(i < 1_000_000, "never saturated");
        }
        assert_eq!(set.pressure().map(|p| p.level), Some(PressureLevel::Saturated));
        let levels: Vec<_> = raised.iter().map(|r| r.0).collect();
        assert_eq!(
            levels,
            [
                PressureLevel::Elevated,
                PressureLevel::Critical,
                PressureLevel::Saturated
            ]
        );
        assert_eq!(raised[0].1, 3);
        assert_eq!(raised[1].1, 7);
        // Critical fires with at least two thirds of the growth room left.
        assert!(raised[1].2 * 3 < raised[2].2, "{raised:?}");
        for j in i..i + 100 {
            set.insert(Epoch(7), &id(j));
        }
        assert!(set.take_pressure_alarm().is_none(), "edge-triggered");
        // Another generation has its own alarms.
        for j in 0..600 {
            set.insert(Epoch(8), &id(1_000_000 + j));
        }
        assert_eq!(
            set.take_pressure_alarm().map(|p| (p.generation, p.level)),
            Some((8, PressureLevel::Elevated))
        );
        assert_eq!(set.pressure().map(|p| p.generation), Some(7));
    }
}
