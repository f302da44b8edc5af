//! The node's place in the feed, `feed.position` in its data directory: the incarnation of the
//! stream it was reading and the last entry id whose records are durable here.
//!
//! Written (temporary file, rename) only after the records up to that id are fsync'd in the
//! local store, and never fsync'd itself: losing it, or finding it torn, only makes the node
//! read entries again, and applying a record twice changes nothing.

use std::fs;
use std::io::ErrorKind;
use std::path::Path;

use super::names::EntryId;
use crate::revocation::file::io;
use crate::revocation::StoreError;

/// The position file inside the data directory.
pub(crate) const POSITION_FILE: &str = "feed.position";
const HEADER: &str = "sealed-session feed position 1";

/// Where the node stands in the stream.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Position {
    /// The incarnation (32 hex digits) the id belongs to; `None` before the first connection.
    pub(crate) incarnation: Option<String>,
    /// Every entry up to and including this id is applied (in memory: durable once the
    /// syncer has run; the position file is written only after that).
    pub(crate) last: EntryId,
}

impl Position {
    /// Reads the file; a missing or unreadable one is the start of the stream.
    pub(crate) fn load(dir: &Path) -> Result<Self, StoreError> {
        match fs::read_to_string(dir.join(POSITION_FILE)) {
            Ok(text) => Ok(Self::parse(&text).unwrap_or_else(|| {
                tracing::warn!(
                    "revocation feed: unreadable feed.position; reading the stream from its start"
                );
                Self::default()
            })),
            Err(e) if matches!(e.kind(), ErrorKind::NotFound | ErrorKind::InvalidData) => Ok(Self::default()),
            Err(e) => Err(io("reading the feed position")(e)),
        }
    }

    /// Replaces the file.
    pub(crate) fn store(&self, dir: &Path) -> Result<(), StoreError> {
        let incarnation = self.incarnation.as_deref().unwrap_or("-");
        let text = format!("{HEADER}\nincarnation {incarnation}\nlast {}\n", self.last);
        replace_file(dir, POSITION_FILE, text.as_bytes())
    }

    fn parse(text: &str) -> Option<Self> {
        let mut lines = text.strip_suffix('\n')?.split('\n');
        if lines.next()? != HEADER {
            return None;
        }
        let incarnation = lines.next()?.strip_prefix("incarnation ")?;
        let last = lines.next()?.strip_prefix("last ")?.parse().ok()?;
        if lines.next().is_some() {
            return None;
        }
        let incarnation = match incarnation {
            "-" => None,
            hex if is_incarnation(hex) => Some(hex.to_owned()),
            _ => return None,
        };
        Some(Self { incarnation, last })
    }
}

/// 32 lowercase hex digits (16 random bytes).
pub(crate) fn is_incarnation(s: &str) -> bool {
    s.len() == 32 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// Writes `name.tmp` and renames it over `name`: a reader sees the old contents or the new,
/// never a mix. Not fsync'd: callers only use it for files whose loss is harmless.
pub(crate) fn replace_file(dir: &Path, name: &str, bytes: &[u8]) -> Result<(), StoreError> {
    let tmp = dir.join(format!("{name}.tmp"));
    let mut options = fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let write = |mut f: fs::File| std::io::Write::write_all(&mut f, bytes);
    options
        .open(&tmp)
        .and_then(write)
        .and_then(|()| fs::rename(&tmp, dir.join(name)))
        .map_err(io("writing a feed state file"))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn round_trip_and_torn_files() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(Position::load(dir.path()).unwrap(), Position::default());
        let p = Position {
            incarnation: Some("0123456789abcdef0123456789abcdef".into()),
            last: "1700000000000-3".parse().unwrap(),
        };
        p.store(dir.path()).unwrap();
        assert_eq!(Position::load(dir.path()).unwrap(), p);
        let text = fs::read_to_string(dir.path().join(POSITION_FILE)).unwrap();
        for cut in 0..text.len() {
            let torn = Position::parse(&text[..cut]);
            assert!(torn.is_none(), "{cut}");
        }
        fs::write(dir.path().join(POSITION_FILE), b"\xff\xfe").unwrap();
        assert_eq!(Position::load(dir.path()).unwrap(), Position::default());
    }
}
