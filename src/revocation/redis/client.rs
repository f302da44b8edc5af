//! Operator calls against a running deployment, with no node of their own (the CLI's
//! `revoke` and `feed status`). They block on the network: call them from a CLI or a
//! blocking thread, never from an async worker.

use std::time::Duration;

use redis::{Client, Connection, Value};

use super::conn::{bytes, parse_pairs, parse_xinfo};
use super::names::{EntryId, FeedNames};
use super::position::is_incarnation;
use super::record::seal_record;
use super::status::{NodePosition, StreamStatus};
use crate::clock::{Clock, SystemClock, UnixTime};
use crate::keys::Keys;
use crate::revocation::{Revocation, StoreError};

/// The node name records published by [`publish`] carry.
pub(crate) const CLI_NODE: &str = "cli";
/// Deadline of each command.
const TIMEOUT: Duration = Duration::from_secs(5);

/// Publishes `revocation` to the deployment `context` as a MAC'd stream entry (node name
/// `cli`) and returns its entry id. Every node applies it when it reads that far.
///
/// The entry lives only in Redis until a node has applied it: if Redis loses its data
/// before any node has read the entry, the revocation is lost. Check with [`feed_status`]
/// that the nodes' positions have passed the returned id.
///
/// # Errors
/// [`StoreError::InvalidFeedName`] for a bad context, [`StoreError::InvalidSubject`], no
/// primary key in `keys` ([`StoreError::Config`]), or [`StoreError::Redis`] when Redis is
/// unreachable or refuses the command.
///
/// ```no_run
/// use sealed_session::revocation::{redis, Revocation};
/// use sealed_session::{Keys, UnixTime};
/// let keys = Keys::from_file("/etc/bank/session-keys".as_ref())?;
/// let id = redis::publish("redis://10.0.0.5:6379", "bank", &keys, &Revocation::KillSwitch { before: UnixTime(1_795_000_000) })?;
/// println!("published as {id}");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn publish(url: &str, context: &str, keys: &Keys, revocation: &Revocation) -> Result<String, StoreError> {
    let names = FeedNames::new(context)?;
    let ring = keys.in_force_at(SystemClock.now());
    let fields = seal_record(&ring, &names.stream, CLI_NODE, revocation)?;
    let mut conn = connect(url)?;
    let mut xadd = redis::cmd("XADD");
    xadd.arg(&names.stream).arg("*");
    for (name, value) in &fields {
        xadd.arg(*name).arg(value.as_slice());
    }
    xadd.query(&mut conn).map_err(failed("XADD"))
}

/// Reads the deployment's feed as Redis holds it: stream length, first and last ids, the
/// incarnation, and every node's last reported position.
///
/// # Errors
/// [`StoreError::InvalidFeedName`] for a bad context, [`StoreError::Redis`] when Redis is
/// unreachable, [`StoreError::FeedReply`] for a reply of an unexpected shape.
///
/// ```no_run
/// let status = sealed_session::revocation::redis::feed_status("redis://10.0.0.5:6379", "bank")?;
/// println!("{} entries, last {:?}, incarnation {:?}", status.length, status.last_id, status.incarnation);
/// # Ok::<(), sealed_session::revocation::StoreError>(())
/// ```
pub fn feed_status(url: &str, context: &str) -> Result<StreamStatus, StoreError> {
    let names = FeedNames::new(context)?;
    let mut conn = connect(url)?;
    let mut pipe = redis::pipe();
    pipe.cmd("GET")
        .arg(&names.incarnation)
        .cmd("EXISTS")
        .arg(&names.stream)
        .cmd("HGETALL")
        .arg(&names.nodes);
    let (incarnation, exists, nodes): (Option<String>, bool, Value) =
        pipe.query(&mut conn).map_err(failed("GET, EXISTS, HGETALL"))?;
    let info = if exists {
        let reply: Value = redis::cmd("XINFO")
            .arg("STREAM")
            .arg(&names.stream)
            .query(&mut conn)
            .map_err(failed("XINFO STREAM"))?;
        Some(parse_xinfo(reply).map_err(|_| StoreError::FeedReply {
            command: "XINFO STREAM",
        })?)
    } else {
        None
    };
    let id = |e: Option<EntryId>| e.map(|e| e.to_string());
    Ok(StreamStatus {
        length: info.map_or(0, |i| i.length),
        first_id: id(info.and_then(|i| i.first_entry)),
        last_id: id(info.map(|i| i.last_generated)),
        incarnation: incarnation.filter(|i| is_incarnation(i)),
        nodes: node_positions(nodes).ok_or(StoreError::FeedReply { command: "HGETALL" })?,
    })
}

/// `node → "<last id> <unix time>"` pairs; malformed values are skipped.
fn node_positions(reply: Value) -> Option<Vec<NodePosition>> {
    let mut out: Vec<NodePosition> = parse_pairs(reply)?
        .into_iter()
        .filter_map(|(k, v)| {
            let node = String::from_utf8(bytes(k)?).ok()?;
            let value = String::from_utf8(bytes(v)?).ok()?;
            let (last, at) = value.split_once(' ')?;
            let last: EntryId = last.parse().ok()?;
            Some(NodePosition {
                node,
                last_id: last.to_string(),
                at: UnixTime(at.parse().ok()?),
            })
        })
        .collect();
    out.sort_by(|a, b| a.node.cmp(&b.node));
    Some(out)
}

fn connect(url: &str) -> Result<Connection, StoreError> {
    let client = Client::open(url).map_err(failed("parsing the feed url"))?;
    let conn = client
        .get_connection_with_timeout(TIMEOUT)
        .map_err(failed("connecting"))?;
    conn.set_read_timeout(Some(TIMEOUT))
        .and_then(|()| conn.set_write_timeout(Some(TIMEOUT)))
        .map_err(failed("setting timeouts"))?;
    Ok(conn)
}

fn failed(context: &'static str) -> impl FnOnce(redis::RedisError) -> StoreError {
    move |source| StoreError::Redis { context, source }
}
