//! What a node checks each time it connects (spec/revocation.md, "Regression" and "Catching
//! up"): the incarnation, whether the stream lost entries this node saw, and whether entries
//! it has not read were trimmed, in which case it loads the shared snapshots first.

use std::sync::Arc;

use redis::aio::MultiplexedConnection;
use redis::Value;

use super::conn::{parse_xinfo, run, run_pipe, FeedError, StreamInfo};
use super::names::{EntryId, FeedNames};
use super::position::{is_incarnation, Position};
use super::worker::{blocking, Feed};
use crate::session::events::EventKind;

/// The incarnation and the stream, as Redis has them now.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Probe {
    /// `None` when missing (or not a valid incarnation).
    pub(crate) incarnation: Option<String>,
    /// `None` when the stream does not exist.
    pub(crate) stream: Option<StreamInfo>,
    /// An entry this node read or published is gone without having been trimmed or deleted.
    pub(crate) vanished: bool,
}

/// Why the feed is behind what this node saw.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Regression {
    /// The incarnation key is gone: Redis restarted empty (or it was deleted).
    IncarnationMissing,
    /// Another incarnation: Redis was emptied and a peer already created a new one.
    IncarnationChanged,
    /// Same incarnation, but the stream is gone.
    StreamMissing,
    /// Same incarnation, but the stream's last generated id is below what this node read or
    /// published, or an entry it read or published vanished (failover to a lagging replica).
    StreamBehind,
}

impl Regression {
    const fn as_str(self) -> &'static str {
        match self {
            Self::IncarnationMissing => "incarnation missing",
            Self::IncarnationChanged => "incarnation changed",
            Self::StreamMissing => "stream missing",
            Self::StreamBehind => "stream behind this node",
        }
    }
}

/// Reads the incarnation and the stream's metadata, and whether the entries `seen` (this
/// node's last read and last published ids) vanished: no longer in the stream although
/// neither trimmed (the stream still starts at or before them) nor deleted (`XDEL` raises
/// `max-deleted-entry-id`). Two round trips.
pub(crate) async fn probe(
    conn: &mut MultiplexedConnection,
    names: &FeedNames,
    timeout: std::time::Duration,
    seen: &[EntryId],
) -> Result<Probe, FeedError> {
    let mut pipe = redis::pipe();
    pipe.cmd("GET")
        .arg(&names.incarnation)
        .cmd("EXISTS")
        .arg(&names.stream);
    let (incarnation, exists): (Option<Vec<u8>>, bool) =
        run_pipe(conn, &pipe, timeout, "GET, EXISTS").await?;
    let incarnation = incarnation
        .and_then(|b| String::from_utf8(b).ok())
        .filter(|s| is_incarnation(s));
    if !exists {
        return Ok(Probe {
            incarnation,
            stream: None,
            vanished: false,
        });
    }
    let seen: Vec<EntryId> = seen.iter().copied().filter(|id| *id > EntryId::ZERO).collect();
    let mut pipe = redis::pipe();
    pipe.cmd("XINFO").arg("STREAM").arg(&names.stream);
    for id in &seen {
        pipe.cmd("XRANGE")
            .arg(&names.stream)
            .arg(id.to_string())
            .arg(id.to_string());
    }
    let mut replies: Vec<Value> = run_pipe(conn, &pipe, timeout, "XINFO STREAM, XRANGE").await?;
    if replies.is_empty() {
        return Err(FeedError::Reply("XINFO STREAM"));
    }
    let info = parse_xinfo(replies.remove(0))?;
    let vanished = seen.iter().zip(&replies).any(|(id, reply)| {
        let absent = matches!(reply, Value::Array(items) if items.is_empty());
        let not_trimmed = info.first_entry.is_some_and(|first| first <= *id);
        let not_deleted = info.max_deleted.is_none_or(|deleted| deleted < *id);
        absent && not_trimmed && not_deleted
    });
    Ok(Probe {
        incarnation,
        stream: Some(info),
        vanished,
    })
}

/// The regression rule: compares what this node saw (`position`, and the highest id its own
/// `XADD`s returned) with what Redis holds. A node that never connected cannot regress.
pub(crate) fn regression(position: &Position, published: EntryId, probe: &Probe) -> Option<Regression> {
    let mine = position.incarnation.as_deref()?;
    let seen = position.last.max(published);
    match (probe.incarnation.as_deref(), &probe.stream) {
        (None, _) => Some(Regression::IncarnationMissing),
        (Some(theirs), _) if theirs != mine => Some(Regression::IncarnationChanged),
        (Some(_), None) if seen > EntryId::ZERO => Some(Regression::StreamMissing),
        (Some(_), Some(info)) if info.last_generated < seen || probe.vanished => {
            Some(Regression::StreamBehind)
        }
        _ => None,
    }
}

/// Whether entries after `last` were removed before this node read them. Trimming removes a
/// prefix of the stream, and Redis 7.0 does not count trimmed ids in `max-deleted-entry-id`
/// (only `XDEL`ed ones), so the rule works from the first entry still held:
///
/// - an `XDEL` after `last` (`max-deleted-entry-id > last`): a gap;
/// - an empty stream: a gap if an entry after `last` was ever generated;
/// - otherwise a gap if the first entry held is after `last` and some entry was ever removed
///   (it may have been one after `last`: assumed so, since loading snapshots is only slower).
pub(crate) fn gap(last: EntryId, info: &StreamInfo) -> bool {
    if info.max_deleted.is_some_and(|deleted| deleted > last) {
        return true;
    }
    match info.first_entry {
        None => info.last_generated > last,
        Some(first) => {
            let removed = info.entries_added.is_none_or(|added| added > info.length);
            first > last && removed
        }
    }
}

impl Feed {
    /// Checks the incarnation, recovers from a regression or a gap, and returns the stream's
    /// last generated id (the catch-up target).
    pub(crate) async fn handshake(
        self: &Arc<Self>,
        conn: &mut MultiplexedConnection,
    ) -> Result<EntryId, FeedError> {
        let timeout = self.settings.timeout;
        let mut position = self.shared.position();
        let published = self.shared.published_max();
        let first = probe(conn, &self.names, timeout, &[position.last, published]).await?;
        let regressed = regression(&position, published, &first);
        let incarnation = match &first.incarnation {
            Some(i) => i.clone(),
            None => self.create_incarnation(conn).await?,
        };
        if let Some(why) = regressed {
            tracing::warn!(
                reason = why.as_str(),
                "revocation feed regressed: republishing what this node holds"
            );
            self.emit(EventKind::FeedRegressed);
            // Read the stream again from its start: which entries the new stream shares with
            // what this node read is unknown, and applying twice is harmless.
            position.last = EntryId::ZERO;
            self.shared.reset_published();
            let outbox = Arc::clone(&self.outbox);
            blocking(move || outbox.republish_all()).await?;
        }
        if regressed.is_some() || position.incarnation.as_deref() != Some(incarnation.as_str()) {
            position.incarnation = Some(incarnation);
            let (dir, p) = (self.dir.clone(), position.clone());
            blocking(move || p.store(&dir)).await?;
            self.shared.set_position(position.clone());
        }
        let stream = if regressed.is_some() {
            // Peers that read the stream from its start find this node's snapshot through the
            // marker, and merge it.
            self.share(conn, true).await?;
            probe(conn, &self.names, timeout, &[]).await?.stream
        } else {
            first.stream
        };
        let Some(info) = stream else {
            return Ok(EntryId::ZERO);
        };
        self.fill_gap(conn, &info).await?;
        Ok(info.last_generated)
    }

    /// `SET incarnation <random> NX`, then reads back whichever value won.
    async fn create_incarnation(&self, conn: &mut MultiplexedConnection) -> Result<String, FeedError> {
        let mut bytes = [0u8; 16];
        crate::token::rng::fill_from_os(&mut bytes).map_err(|e| FeedError::Store(e.into()))?;
        let fresh: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        let mut pipe = redis::pipe();
        pipe.cmd("SET")
            .arg(&self.names.incarnation)
            .arg(&fresh)
            .arg("NX")
            .ignore()
            .cmd("GET")
            .arg(&self.names.incarnation);
        let (now,): (Option<String>,) = run_pipe(conn, &pipe, self.settings.timeout, "SET NX, GET").await?;
        match now.filter(|s| is_incarnation(s)) {
            Some(i) => Ok(i),
            None => {
                // Not a valid incarnation (written by someone else): replace it.
                tracing::warn!("revocation feed: invalid incarnation in Redis, replacing it");
                let mut set = redis::cmd("SET");
                set.arg(&self.names.incarnation).arg(&fresh);
                run::<Value>(conn, &set, self.settings.timeout, "SET").await?;
                Ok(fresh)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const I1: &str = "00000000000000000000000000000001";
    const I2: &str = "00000000000000000000000000000002";

    fn at(ms: u64) -> EntryId {
        EntryId::at_ms(ms)
    }

    fn pos(inc: Option<&str>, last: u64) -> Position {
        Position {
            incarnation: inc.map(str::to_owned),
            last: at(last),
        }
    }

    fn probe(inc: Option<&str>, last_generated: Option<u64>) -> Probe {
        Probe {
            vanished: false,
            incarnation: inc.map(str::to_owned),
            stream: last_generated.map(|l| StreamInfo {
                last_generated: at(l),
                ..StreamInfo::default()
            }),
        }
    }

    #[test]
    fn regression_rule() {
        let zero = EntryId::ZERO;
        assert_eq!(
            regression(&pos(None, 0), zero, &probe(None, None)),
            None,
            "fresh node, fresh Redis"
        );
        assert_eq!(
            regression(&pos(None, 0), zero, &probe(Some(I1), Some(9))),
            None,
            "fresh node joins"
        );
        let p = pos(Some(I1), 5);
        assert_eq!(regression(&p, zero, &probe(Some(I1), Some(9))), None);
        assert_eq!(regression(&p, zero, &probe(Some(I1), Some(5))), None);
        assert_eq!(
            regression(&p, zero, &probe(None, None)),
            Some(Regression::IncarnationMissing)
        );
        assert_eq!(
            regression(&p, zero, &probe(Some(I2), Some(9))),
            Some(Regression::IncarnationChanged)
        );
        assert_eq!(
            regression(&p, zero, &probe(Some(I1), None)),
            Some(Regression::StreamMissing)
        );
        assert_eq!(
            regression(&p, zero, &probe(Some(I1), Some(4))),
            Some(Regression::StreamBehind)
        );
        assert_eq!(
            regression(&p, at(7), &probe(Some(I1), Some(6))),
            Some(Regression::StreamBehind),
            "own XADD lost"
        );
        assert_eq!(
            regression(&pos(Some(I1), 0), zero, &probe(Some(I1), None)),
            None,
            "nothing seen yet"
        );
        let mut vanished = probe(Some(I1), Some(9));
        vanished.vanished = true;
        assert_eq!(
            regression(&p, zero, &vanished),
            Some(Regression::StreamBehind),
            "read entry gone"
        );
    }

    #[test]
    fn gap_rule() {
        let info = |first: Option<u64>, length: u64, added: Option<u64>| StreamInfo {
            length,
            last_generated: at(9),
            max_deleted: Some(EntryId::ZERO),
            entries_added: added,
            first_entry: first.map(at),
            last_entry: None,
        };
        assert!(
            !gap(at(5), &info(Some(3), 7, Some(9))),
            "first entry at or before last"
        );
        assert!(!gap(at(5), &info(Some(5), 5, Some(9))));
        assert!(gap(at(5), &info(Some(7), 3, Some(9))), "trimmed past last");
        assert!(!gap(EntryId::ZERO, &info(Some(7), 3, Some(3))), "never trimmed");
        assert!(gap(at(5), &info(None, 0, Some(9))), "emptied after last");
        assert!(
            !gap(at(9), &info(None, 0, Some(9))),
            "emptied, nothing after last"
        );
        assert!(gap(at(5), &info(Some(7), 3, None)), "old servers: assume a gap");
        let mut deleted = info(Some(3), 7, Some(9));
        deleted.max_deleted = Some(at(6));
        assert!(gap(at(5), &deleted), "XDEL after last");
    }
}
