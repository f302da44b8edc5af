//! The feed's Redis key names and stream entry ids (spec/revocation.md, "Redis feed").

use core::fmt;
use core::str::FromStr;

use crate::revocation::StoreError;

/// Longest context or node name.
const MAX_NAME_LEN: usize = 64;

/// The Redis keys of one deployment (one context).
#[derive(Clone, Debug)]
pub(crate) struct FeedNames {
    prefix: String,
    /// The revocation stream.
    pub(crate) stream: String,
    /// The incarnation: 16 random bytes (hex) set with `SET NX` when missing.
    pub(crate) incarnation: String,
    /// Hash node name → `"<last id> <unix time>"`.
    pub(crate) nodes: String,
}

impl FeedNames {
    /// The names for `context`, which must be a valid feed name.
    pub(crate) fn new(context: &str) -> Result<Self, StoreError> {
        check_name(context, "context")?;
        let prefix = format!("sealed-session:{context}:");
        Ok(Self {
            stream: format!("{prefix}revocations"),
            incarnation: format!("{prefix}incarnation"),
            nodes: format!("{prefix}nodes"),
            prefix,
        })
    }

    /// The hash holding `node`'s published snapshot.
    pub(crate) fn snapshot(&self, node: &str) -> String {
        format!("{}snapshot:{node}", self.prefix)
    }
}

/// Refuses names that could not be told apart inside a key or that need quoting in a
/// `redis-cli` session: `[A-Za-z0-9._-]{1,64}`.
pub(crate) fn check_name(name: &str, what: &'static str) -> Result<(), StoreError> {
    let ok = (1..=MAX_NAME_LEN).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(StoreError::InvalidFeedName { what })
    }
}

/// A stream entry id, `<milliseconds>-<sequence>`, ordered as Redis orders them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct EntryId {
    pub(crate) ms: u64,
    pub(crate) seq: u64,
}

impl EntryId {
    /// `0-0`: before every entry.
    pub(crate) const ZERO: Self = Self { ms: 0, seq: 0 };

    /// The first id at or after `ms` milliseconds.
    pub(crate) const fn at_ms(ms: u64) -> Self {
        Self { ms, seq: 0 }
    }

    /// Parses the bytes of a Redis reply.
    pub(crate) fn from_bytes(bytes: &[u8]) -> Option<Self> {
        core::str::from_utf8(bytes).ok()?.parse().ok()
    }
}

impl fmt::Display for EntryId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.ms, self.seq)
    }
}

/// An entry id that does not have the form `<u64>-<u64>`.
#[derive(Debug)]
pub(crate) struct BadEntryId;

impl FromStr for EntryId {
    type Err = BadEntryId;

    fn from_str(s: &str) -> Result<Self, BadEntryId> {
        let (ms, seq) = s.split_once('-').ok_or(BadEntryId)?;
        let digits = |p: &str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit());
        if !digits(ms) || !digits(seq) {
            return Err(BadEntryId);
        }
        Ok(Self {
            ms: ms.parse().map_err(|_| BadEntryId)?,
            seq: seq.parse().map_err(|_| BadEntryId)?,
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn names_follow_the_spec() {
        let n = FeedNames::new("bank").unwrap();
        assert_eq!(n.stream, "sealed-session:bank:revocations");
        assert_eq!(n.incarnation, "sealed-session:bank:incarnation");
        assert_eq!(n.nodes, "sealed-session:bank:nodes");
        assert_eq!(n.snapshot("web-1"), "sealed-session:bank:snapshot:web-1");
    }

    #[test]
    fn names_are_restricted() {
        for bad in ["", "a b", "a:b", "a*", "ä", &"x".repeat(65)] {
            assert!(check_name(bad, "node name").is_err(), "{bad:?}");
        }
        assert!(check_name("web-1.eu_west", "node name").is_ok());
    }

    #[test]
    fn ids_parse_and_order() {
        let a: EntryId = "1700000000000-5".parse().unwrap();
        assert_eq!(
            a,
            EntryId {
                ms: 1_700_000_000_000,
                seq: 5
            }
        );
        assert_eq!(a.to_string(), "1700000000000-5");
        assert!(EntryId::from_bytes(b"9-0").unwrap() < EntryId::from_bytes(b"10-0").unwrap());
        assert!(EntryId::from_bytes(b"10-1").unwrap() > EntryId::from_bytes(b"10-0").unwrap());
        for bad in ["", "5", "-5", "5-", "a-1", "1-+2", "99999999999999999999-0"] {
            assert!(bad.parse::<EntryId>().is_err(), "{bad:?}");
        }
    }
}
