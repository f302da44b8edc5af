//! An independent reading of the revocation log (spec/revocation.md, "Log"): framing and
//! checksum re-implemented from the spec, so the `log_recovery` target can tell which records
//! the store had any right to apply.
//!
//! `record = length (u32 LE) ‖ payload (postcard Revocation, canonical) ‖ first 8 bytes of
//! SHA-256(length ‖ payload)`, length 1 to 1024.

use ring::digest;
use sealed_session::revocation::Revocation;

const MAX_PAYLOAD: usize = 1024;

/// What the spec says a log holds.
#[derive(Debug)]
pub struct Expected {
    /// The records of the valid prefix.
    pub records: Vec<Revocation>,
    /// Length of that prefix.
    pub valid_len: usize,
    /// A valid record starts somewhere after the first invalid one: the log is corrupt, not
    /// torn, and must be refused.
    pub corrupt: bool,
}

/// Reads `log` as the spec describes.
pub fn expected(log: &[u8]) -> Expected {
    let mut records = Vec::new();
    let mut at = 0;
    while let Some((record, len)) = log.get(at..).and_then(record_at) {
        records.push(record);
        at += len;
    }
    let corrupt = (at + 1..log.len()).any(|p| log.get(p..).and_then(record_at).is_some());
    Expected {
        records,
        valid_len: at,
        corrupt,
    }
}

/// The record framed at the start of `buf` and its framed length, if valid.
fn record_at(buf: &[u8]) -> Option<(Revocation, usize)> {
    let len = u32::from_le_bytes(buf.get(..4)?.try_into().ok()?) as usize;
    if !(1..=MAX_PAYLOAD).contains(&len) {
        return None;
    }
    let framed = buf.get(..4 + len)?;
    let check = buf.get(4 + len..4 + len + 8)?;
    let digest = digest::digest(&digest::SHA256, framed);
    if digest.as_ref().get(..8)? != check {
        return None;
    }
    let payload = framed.get(4..)?;
    let (record, rest) = postcard::take_from_bytes::<Revocation>(payload).ok()?;
    // Canonical (spec/revocation.md §8): byte for byte what encoding the value writes, so an
    // over-long varint under a valid checksum is an invalid record, not a second spelling.
    let canonical = postcard::to_allocvec(&record).ok()? == payload;
    (rest.is_empty() && canonical && record.validate().is_ok()).then_some((record, 4 + len + 8))
}

/// Frames `record` as the spec says (for seeds and the structure-aware target).
pub fn frame(record: &Revocation) -> Vec<u8> {
    let payload = postcard::to_allocvec(record).unwrap_or_default();
    let mut out = (payload.len() as u32).to_le_bytes().to_vec();
    out.extend_from_slice(&payload);
    let d = digest::digest(&digest::SHA256, &out);
    out.extend_from_slice(d.as_ref().get(..8).unwrap_or_default());
    out
}
