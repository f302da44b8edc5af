//! Talking to Redis from the feed thread: connections, commands under a deadline, and the
//! replies the feed reads, parsed by hand so that no entry an attacker wrote (binary field
//! names, odd shapes) can make a whole batch unreadable.

use std::time::Duration;

use redis::aio::MultiplexedConnection;
use redis::{AsyncConnectionConfig, Client, Cmd, FromRedisValue, Pipeline, Value};

use super::names::EntryId;
use crate::revocation::StoreError;

/// Why a feed session ended.
#[derive(Debug)]
pub(crate) enum FeedError {
    /// The client reported an error (connection refused or dropped, error reply).
    Redis(&'static str, redis::RedisError),
    /// No reply before the deadline (the server is stopped, or the network dropped packets).
    Timeout(&'static str),
    /// A reply of an unexpected shape.
    Reply(&'static str),
    /// The local store or the outbox failed.
    Store(StoreError),
    /// The stream lost entries this node had seen: start again with a handshake.
    Regressed,
    /// A blocking task of the feed thread panicked.
    Worker,
}

impl core::fmt::Display for FeedError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::Redis(what, e) => write!(f, "{what}: {e}"),
            Self::Timeout(what) => write!(f, "{what}: timed out"),
            Self::Reply(what) => write!(f, "unexpected reply to {what}"),
            Self::Store(e) => write!(f, "{e}"),
            Self::Regressed => f.write_str("the feed regressed"),
            Self::Worker => f.write_str("a blocking task of the feed thread failed"),
        }
    }
}

impl From<StoreError> for FeedError {
    fn from(e: StoreError) -> Self {
        Self::Store(e)
    }
}

/// One multiplexed connection, established within `timeout`.
pub(crate) async fn connect(client: &Client, timeout: Duration) -> Result<MultiplexedConnection, FeedError> {
    // Response deadlines are set per command (`run`): a blocking XREAD outlives any fixed one.
    let config = AsyncConnectionConfig::new()
        .set_connection_timeout(Some(timeout))
        .set_response_timeout(None);
    let connecting = client.get_multiplexed_async_connection_with_config(&config);
    match tokio::time::timeout(timeout, connecting).await {
        Ok(Ok(conn)) => Ok(conn),
        Ok(Err(e)) => Err(FeedError::Redis("connecting", e)),
        Err(_) => Err(FeedError::Timeout("connecting")),
    }
}

/// Runs `cmd`, failing after `timeout`.
pub(crate) async fn run<T: FromRedisValue>(
    conn: &mut MultiplexedConnection,
    cmd: &Cmd,
    timeout: Duration,
    what: &'static str,
) -> Result<T, FeedError> {
    match tokio::time::timeout(timeout, cmd.query_async(conn)).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(FeedError::Redis(what, e)),
        Err(_) => Err(FeedError::Timeout(what)),
    }
}

/// Runs a pipeline, failing after `timeout`.
pub(crate) async fn run_pipe<T: FromRedisValue>(
    conn: &mut MultiplexedConnection,
    pipe: &Pipeline,
    timeout: Duration,
    what: &'static str,
) -> Result<T, FeedError> {
    match tokio::time::timeout(timeout, pipe.query_async(conn)).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(FeedError::Redis(what, e)),
        Err(_) => Err(FeedError::Timeout(what)),
    }
}

/// One stream entry as read, nothing trusted yet.
#[derive(Debug)]
pub(crate) struct RawEntry {
    pub(crate) id: EntryId,
    pub(crate) fields: Vec<(Vec<u8>, Vec<u8>)>,
}

/// What `XINFO STREAM` says (Redis 7 fields are `None` on older servers).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct StreamInfo {
    pub(crate) length: u64,
    pub(crate) last_generated: EntryId,
    pub(crate) max_deleted: Option<EntryId>,
    /// Entries ever added (Redis 7).
    pub(crate) entries_added: Option<u64>,
    pub(crate) first_entry: Option<EntryId>,
    pub(crate) last_entry: Option<EntryId>,
}

/// The entries of an `XREAD` reply for one stream (`Nil` when the block timed out).
pub(crate) fn parse_xread(reply: Value) -> Result<Vec<RawEntry>, FeedError> {
    const WHAT: &str = "XREAD";
    let streams = match reply {
        Value::Nil => return Ok(Vec::new()),
        Value::Array(items) => items.into_iter().map(pair).collect::<Option<Vec<_>>>(),
        Value::Map(pairs) => Some(pairs),
        _ => None,
    }
    .ok_or(FeedError::Reply(WHAT))?;
    let mut out = Vec::new();
    for (_key, entries) in streams {
        let Value::Array(entries) = entries else {
            return Err(FeedError::Reply(WHAT));
        };
        for entry in entries {
            out.push(parse_entry(entry).ok_or(FeedError::Reply(WHAT))?);
        }
    }
    Ok(out)
}

/// A flat or map reply of field/value pairs (`HGETALL`, `XINFO`, an entry's fields).
pub(crate) fn parse_pairs(reply: Value) -> Option<Vec<(Value, Value)>> {
    match reply {
        Value::Array(items) => {
            let mut out = Vec::with_capacity(items.len() / 2);
            let mut it = items.into_iter();
            while let Some(k) = it.next() {
                out.push((k, it.next()?));
            }
            Some(out)
        }
        Value::Map(pairs) => Some(pairs),
        _ => None,
    }
}

/// Binary field/value pairs.
pub(crate) fn parse_byte_pairs(reply: Value) -> Option<Vec<(Vec<u8>, Vec<u8>)>> {
    parse_pairs(reply)?
        .into_iter()
        .map(|(k, v)| Some((bytes(k)?, bytes(v)?)))
        .collect()
}

/// The fields of `XINFO STREAM` the feed uses.
pub(crate) fn parse_xinfo(reply: Value) -> Result<StreamInfo, FeedError> {
    let mut info = StreamInfo::default();
    let mut have_last = false;
    for (k, v) in parse_pairs(reply).ok_or(FeedError::Reply("XINFO STREAM"))? {
        let Some(name) = bytes(k) else { continue };
        match name.as_slice() {
            b"length" => info.length = int(&v).unwrap_or(0),
            b"last-generated-id" => {
                info.last_generated = bytes(v).and_then(|b| EntryId::from_bytes(&b)).unwrap_or_default();
                have_last = true;
            }
            b"max-deleted-entry-id" => info.max_deleted = bytes(v).and_then(|b| EntryId::from_bytes(&b)),
            b"entries-added" => info.entries_added = int(&v),
            b"first-entry" => info.first_entry = entry_id(v),
            b"last-entry" => info.last_entry = entry_id(v),
            _ => {}
        }
    }
    if have_last {
        Ok(info)
    } else {
        Err(FeedError::Reply("XINFO STREAM"))
    }
}

/// The bytes of a string reply.
pub(crate) fn bytes(v: Value) -> Option<Vec<u8>> {
    match v {
        Value::BulkString(b) => Some(b),
        Value::SimpleString(s) => Some(s.into_bytes()),
        Value::VerbatimString { text, .. } => Some(text.into_bytes()),
        Value::Okay => Some(b"OK".to_vec()),
        _ => None,
    }
}

/// An integer reply (or a string holding one).
pub(crate) fn int(v: &Value) -> Option<u64> {
    match v {
        Value::Int(i) => u64::try_from(*i).ok(),
        Value::BulkString(b) => core::str::from_utf8(b).ok()?.parse().ok(),
        _ => None,
    }
}

fn pair(v: Value) -> Option<(Value, Value)> {
    let Value::Array(items) = v else { return None };
    let [k, v]: [Value; 2] = items.try_into().ok()?;
    Some((k, v))
}

fn entry_id(v: Value) -> Option<EntryId> {
    let Value::Array(items) = v else { return None };
    bytes(items.into_iter().next()?).and_then(|b| EntryId::from_bytes(&b))
}

fn parse_entry(v: Value) -> Option<RawEntry> {
    let (id, fields) = pair(v)?;
    let id = EntryId::from_bytes(&bytes(id)?)?;
    // An entry whose fields cannot be read as pairs of strings is kept with no fields: it is
    // then refused (and reported) as forged instead of stopping the tail.
    let fields = parse_byte_pairs(fields).unwrap_or_default();
    Some(RawEntry { id, fields })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;

    fn s(x: &str) -> Value {
        Value::BulkString(x.as_bytes().to_vec())
    }

    #[test]
    fn xread_replies_parse() {
        assert!(parse_xread(Value::Nil).unwrap().is_empty());
        let entry = Value::Array(vec![
            s("5-1"),
            Value::Array(vec![s("k"), s("1"), Value::BulkString(vec![0xff]), s("x")]),
        ]);
        let odd = Value::Array(vec![s("6-0"), Value::Int(3)]);
        let reply = Value::Array(vec![Value::Array(vec![
            s("stream"),
            Value::Array(vec![entry, odd]),
        ])]);
        let entries = parse_xread(reply).unwrap();
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[0].id, EntryId { ms: 5, seq: 1 });
        assert_eq!(entries[0].fields[1], (vec![0xff], b"x".to_vec()));
        assert!(entries[1].fields.is_empty());
        assert!(parse_xread(Value::Int(1)).is_err());
    }

    #[test]
    fn xinfo_parses_redis7_fields() {
        let reply = Value::Array(vec![
            s("length"),
            Value::Int(2),
            s("last-generated-id"),
            s("9-0"),
            s("max-deleted-entry-id"),
            s("3-0"),
            s("first-entry"),
            Value::Array(vec![s("4-0"), Value::Array(vec![])]),
            s("last-entry"),
            Value::Nil,
        ]);
        let info = parse_xinfo(reply).unwrap();
        assert_eq!(info.length, 2);
        assert_eq!(info.last_generated, EntryId { ms: 9, seq: 0 });
        assert_eq!(info.max_deleted, Some(EntryId { ms: 3, seq: 0 }));
        assert_eq!(info.first_entry, Some(EntryId { ms: 4, seq: 0 }));
        assert_eq!(info.last_entry, None);
    }
}
