//! What the feed writes to Redis and how it is authenticated (spec/revocation.md, "Redis
//! feed", "Entries" and "MAC input"): revocation records and snapshot markers in the stream,
//! and per-node shared snapshots, each under HMAC-SHA256 with the key's `feed` subkey.
//!
//! Anyone who can write to the Redis server can add entries (threat 15 of the README): nothing
//! read back is trusted before its MAC verified under a key of the ring, and every refusal is
//! a [`Forged`] reason for logs and events, never a panic or a stopped tail.

use ring::hmac;

use super::names::EntryId;
use crate::keys::{KeyId, KeyRing, KeyState, RingKey};
use crate::revocation::log::{decode_payload, MAX_PAYLOAD};
use crate::revocation::{Revocation, RevocationSnapshot, StoreError};

/// Domain-separation label of a revocation record's MAC.
pub(crate) const LABEL_RECORD: &[u8] = b"sealed-session/v1 feed record";
/// Domain-separation label of a snapshot marker's MAC.
pub(crate) const LABEL_MARKER: &[u8] = b"sealed-session/v1 feed snapshot-marker";
/// Domain-separation label of a shared snapshot's MAC.
pub(crate) const LABEL_SNAPSHOT: &[u8] = b"sealed-session/v1 feed snapshot";
/// Length of an HMAC-SHA256 tag.
const TAG_LEN: usize = 32;

/// A field name and its value, as given to `XADD` or `HSET`.
pub(crate) type Field = (&'static str, Vec<u8>);

/// An authenticated stream entry.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum FeedEntry {
    /// A revocation to apply.
    Record(Revocation),
    /// `node` published a snapshot after the feed regressed: fetch and merge it.
    Marker,
}

/// Why something read from Redis was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Forged {
    /// A field is missing, repeated or unknown, or a value has the wrong shape.
    Malformed,
    /// The key id is not in the ring.
    UnknownKey,
    /// The key id names a retired key.
    RetiredKey,
    /// The MAC does not verify.
    BadMac,
    /// The MAC verified but the payload is not a valid revocation or snapshot.
    BadPayload,
}

impl Forged {
    /// Stable snake_case name for logs.
    pub(crate) const fn as_str(self) -> &'static str {
        match self {
            Self::Malformed => "malformed",
            Self::UnknownKey => "unknown_key",
            Self::RetiredKey => "retired_key",
            Self::BadMac => "bad_mac",
            Self::BadPayload => "bad_payload",
        }
    }
}

/// `lp(label) ‖ lp(key id byte) ‖ lp(stream) ‖ lp(node) ‖ lp(part)…` with
/// `lp(x) = u32be(len x) ‖ x`: no two different inputs encode alike (the lengths say where
/// each part ends), and the label keeps a record's MAC from ever verifying as a marker's or
/// a snapshot's.
pub(crate) fn mac_input(
    label: &[u8],
    key: KeyId,
    stream: &str,
    node: &str,
    parts: &[&[u8]],
) -> Option<Vec<u8>> {
    let fixed: [&[u8]; 4] = [label, &[key.0], stream.as_bytes(), node.as_bytes()];
    let mut out = Vec::with_capacity(64 + parts.iter().map(|p| p.len() + 4).sum::<usize>());
    for part in fixed.iter().chain(parts) {
        out.extend_from_slice(&u32::try_from(part.len()).ok()?.to_be_bytes());
        out.extend_from_slice(part);
    }
    Some(out)
}

/// The `XADD` fields of `revocation` published by `node`, under the ring's primary key.
pub(crate) fn seal_record(
    ring: &KeyRing,
    stream: &str,
    node: &str,
    revocation: &Revocation,
) -> Result<Vec<Field>, StoreError> {
    revocation.validate()?;
    let payload = postcard::to_allocvec(revocation).map_err(|_| StoreError::Encoding)?;
    if payload.len() > MAX_PAYLOAD {
        return Err(StoreError::RecordTooLong);
    }
    seal(ring, LABEL_RECORD, stream, node, vec![("r", payload)])
}

/// The `XADD` fields of a marker: `node` has just published its snapshot covering `covered`.
pub(crate) fn seal_marker(
    ring: &KeyRing,
    stream: &str,
    node: &str,
    covered: EntryId,
) -> Result<Vec<Field>, StoreError> {
    seal(
        ring,
        LABEL_MARKER,
        stream,
        node,
        vec![("s", covered.to_string().into_bytes())],
    )
}

/// The `HSET` fields of `node`'s shared snapshot: the snapshot bytes (already MAC'd under the
/// snapshot subkey) bound by a feed MAC to the stream, the node, the incarnation and the last
/// stream entry they hold.
pub(crate) fn seal_snapshot(
    ring: &KeyRing,
    stream: &str,
    node: &str,
    incarnation: &str,
    covered: EntryId,
    snapshot: Vec<u8>,
) -> Result<Vec<Field>, StoreError> {
    let parts = vec![
        ("i", incarnation.as_bytes().to_vec()),
        ("c", covered.to_string().into_bytes()),
        ("s", snapshot),
    ];
    seal(ring, LABEL_SNAPSHOT, stream, node, parts)
}

/// Verifies a stream entry's fields. Returns the entry and the node that published it.
pub(crate) fn open_entry(
    ring: &KeyRing,
    stream: &str,
    fields: &[(Vec<u8>, Vec<u8>)],
) -> Result<(FeedEntry, String), Forged> {
    let names: &[&str] = if has(fields, "r") {
        &["k", "n", "r", "m"]
    } else {
        &["k", "n", "s", "m"]
    };
    let [k, n, body, m] = pick(fields, names)?;
    let (node, key) = header(ring, k, n)?;
    let label = if names.get(2) == Some(&"r") {
        LABEL_RECORD
    } else {
        LABEL_MARKER
    };
    verify(key, label, stream, &node, &[body], m)?;
    if label == LABEL_MARKER {
        EntryId::from_bytes(body).ok_or(Forged::BadPayload)?;
        return Ok((FeedEntry::Marker, node));
    }
    Ok((FeedEntry::Record(decode_record(body)?), node))
}

/// A verified shared snapshot.
pub(crate) struct OpenedSnapshot {
    pub(crate) snapshot: RevocationSnapshot,
    pub(crate) incarnation: String,
    pub(crate) covered: EntryId,
}

/// Verifies the fields of the hash `snapshot:{node}`: the feed MAC, then the snapshot's own.
pub(crate) fn open_snapshot(
    ring: &KeyRing,
    stream: &str,
    node: &str,
    fields: &[(Vec<u8>, Vec<u8>)],
) -> Result<OpenedSnapshot, Forged> {
    let [k, n, i, c, s, m] = pick(fields, &["k", "n", "i", "c", "s", "m"])?;
    let (named, key) = header(ring, k, n)?;
    if named != node {
        return Err(Forged::Malformed);
    }
    verify(key, LABEL_SNAPSHOT, stream, node, &[i, c, s], m)?;
    let covered = EntryId::from_bytes(c).ok_or(Forged::BadPayload)?;
    let incarnation = String::from_utf8(i.to_vec()).map_err(|_| Forged::BadPayload)?;
    let snapshot = RevocationSnapshot::from_bytes(s, ring).map_err(|_| Forged::BadPayload)?;
    Ok(OpenedSnapshot {
        snapshot,
        incarnation,
        covered,
    })
}

fn seal(
    ring: &KeyRing,
    label: &[u8],
    stream: &str,
    node: &str,
    body: Vec<Field>,
) -> Result<Vec<Field>, StoreError> {
    let key = ring.primary().ok_or(crate::error::ConfigError::KeyRing(
        crate::error::KeyRingError::NoPrimaryKey,
    ))?;
    let parts: Vec<&[u8]> = body.iter().map(|(_, v)| v.as_slice()).collect();
    let input = mac_input(label, key.id, stream, node, &parts).ok_or(StoreError::RecordTooLong)?;
    let tag = hmac::sign(&key.feed, &input);
    let mut fields = vec![
        ("k", key.id.0.to_string().into_bytes()),
        ("n", node.as_bytes().to_vec()),
    ];
    fields.extend(body);
    fields.push(("m", tag.as_ref().to_vec()));
    Ok(fields)
}

/// The node name and the ring key an entry names; unknown and retired keys are refused before
/// any MAC is computed.
fn header<'r>(ring: &'r KeyRing, k: &[u8], n: &[u8]) -> Result<(String, &'r RingKey), Forged> {
    let id = parse_key_id(k).ok_or(Forged::Malformed)?;
    let node = core::str::from_utf8(n).map_err(|_| Forged::Malformed)?;
    super::names::check_name(node, "node name").map_err(|_| Forged::Malformed)?;
    let key = ring.get(id).ok_or(Forged::UnknownKey)?;
    if key.state == KeyState::Retired {
        return Err(Forged::RetiredKey);
    }
    Ok((node.to_owned(), key))
}

fn verify(
    key: &RingKey,
    label: &[u8],
    stream: &str,
    node: &str,
    parts: &[&[u8]],
    tag: &[u8],
) -> Result<(), Forged> {
    if tag.len() != TAG_LEN {
        return Err(Forged::Malformed);
    }
    let input = mac_input(label, key.id, stream, node, parts).ok_or(Forged::Malformed)?;
    // Constant-time comparison (ring::hmac::verify).
    hmac::verify(&key.feed, &input, tag).map_err(|_| Forged::BadMac)
}

/// A record payload: exactly a log record's payload (canonical postcard `Revocation`).
fn decode_record(payload: &[u8]) -> Result<Revocation, Forged> {
    decode_payload(payload).ok_or(Forged::BadPayload)
}

/// `k` is the key id in decimal without leading zeros: `"0"` to `"255"`.
fn parse_key_id(k: &[u8]) -> Option<KeyId> {
    let s = core::str::from_utf8(k).ok()?;
    let canonical = !s.is_empty() && s.len() <= 3 && s.bytes().all(|b| b.is_ascii_digit());
    if !canonical || (s.len() > 1 && s.starts_with('0')) {
        return None;
    }
    s.parse().ok().map(KeyId)
}

fn has(fields: &[(Vec<u8>, Vec<u8>)], name: &str) -> bool {
    fields.iter().any(|(f, _)| f.as_slice() == name.as_bytes())
}

/// The values of exactly the fields `names`, in that order: a missing, repeated or unknown
/// field refuses the whole entry (fields outside the MAC are never accepted).
fn pick<'a, const N: usize>(
    fields: &'a [(Vec<u8>, Vec<u8>)],
    names: &[&str],
) -> Result<[&'a [u8]; N], Forged> {
    if fields.len() != N || names.len() != N {
        return Err(Forged::Malformed);
    }
    let mut out: [&[u8]; N] = [&[]; N];
    let mut seen = [false; N];
    for (name, value) in fields {
        let i = names
            .iter()
            .position(|n| n.as_bytes() == name.as_slice())
            .ok_or(Forged::Malformed)?;
        let (slot, seen) = out.get_mut(i).zip(seen.get_mut(i)).ok_or(Forged::Malformed)?;
        if core::mem::replace(seen, true) {
            return Err(Forged::Malformed);
        }
        *slot = value;
    }
    Ok(out)
}

#[cfg(test)]
mod tests;
