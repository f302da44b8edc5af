//! The revocation log's record format and its recovery scan (spec/revocation.md, "Log").
//!
//! `record = length (u32 LE) ‖ payload (postcard Revocation) ‖ check`, where `check` is the
//! first 8 bytes of SHA-256(length ‖ payload).

use ring::digest;

use super::store::{Revocation, StoreError};

/// Largest payload accepted (a subject revocation is at most 1 + 1 + 64 + 10 bytes).
pub(crate) const MAX_PAYLOAD: usize = 1024;
const LEN_LEN: usize = 4;
const CHECK_LEN: usize = 8;

/// What a scan of a log found.
pub(crate) struct Scan {
    /// The records of the valid prefix, in order.
    pub(crate) records: Vec<Revocation>,
    /// Length of the valid prefix; anything after it is a torn or corrupt tail to cut.
    pub(crate) valid_len: usize,
}

/// Frames one record.
pub(crate) fn encode(revocation: &Revocation) -> Result<Vec<u8>, StoreError> {
    let payload = postcard::to_allocvec(revocation).map_err(|_| StoreError::Encoding)?;
    let len = u32::try_from(payload.len())
        .ok()
        .filter(|_| payload.len() <= MAX_PAYLOAD)
        .ok_or(StoreError::RecordTooLong)?;
    let mut out = Vec::with_capacity(LEN_LEN + payload.len() + CHECK_LEN);
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(&payload);
    let check = checksum(&out);
    out.extend_from_slice(&check);
    Ok(out)
}

/// Reads records from the start of `log` until the first invalid one.
///
/// An invalid record is a torn or corrupt *tail* when no valid record starts at any later
/// offset: the scan then reports the valid prefix, and the caller cuts the file there. If a
/// valid record does follow, cutting would drop acknowledged revocations, so this is
/// [`StoreError::Corrupt`] instead.
///
/// # Errors
/// [`StoreError::Corrupt`] for an invalid record followed by a valid one.
pub(crate) fn scan(log: &[u8]) -> Result<Scan, StoreError> {
    let scan = prefix(log);
    let offset = scan.valid_len;
    let later_valid = (offset + 1..log.len()).any(|p| log.get(p..).and_then(parse).is_some());
    if later_valid {
        return Err(StoreError::Corrupt {
            offset: offset as u64,
        });
    }
    Ok(scan)
}

/// Reads records from the start of `log` until the first incomplete or invalid one, and stops
/// there without judging what follows: without the directory lock that may be a record another
/// process is writing, or a torn tail about to be cut and overwritten.
pub(crate) fn prefix(log: &[u8]) -> Scan {
    let mut records = Vec::new();
    let mut offset = 0;
    while let Some((record, framed)) = log.get(offset..).filter(|r| !r.is_empty()).and_then(parse) {
        records.push(record);
        offset += framed;
    }
    Scan {
        records,
        valid_len: offset,
    }
}

/// One record at the start of `buf` and its framed length, if it is complete and valid.
fn parse(buf: &[u8]) -> Option<(Revocation, usize)> {
    let len_bytes: [u8; LEN_LEN] = buf.get(..LEN_LEN)?.try_into().ok()?;
    let len = usize::try_from(u32::from_le_bytes(len_bytes)).ok()?;
    if len == 0 || len > MAX_PAYLOAD {
        return None;
    }
    let framed = LEN_LEN + len + CHECK_LEN;
    let body = buf.get(..LEN_LEN + len)?;
    let check = buf.get(LEN_LEN + len..framed)?;
    if checksum(body) != check {
        return None;
    }
    Some((decode_payload(body.get(LEN_LEN..)?)?, framed))
}

/// A record payload (of the log, and of a feed entry's `r`): postcard `Revocation`, every byte
/// used, within bounds, and canonical. postcard itself accepts over-long varints
/// (`81 00` for 1); refusing them gives each revocation exactly one payload, as each claims
/// value has one plaintext (spec/format.md §8.2), so nothing can carry a MAC over one
/// spelling and mean what another spelling means.
pub(crate) fn decode_payload(payload: &[u8]) -> Option<Revocation> {
    if payload.is_empty() || payload.len() > MAX_PAYLOAD {
        return None;
    }
    let (record, rest) = postcard::take_from_bytes::<Revocation>(payload).ok()?;
    if !rest.is_empty() || record.validate().is_err() {
        return None;
    }
    let mut canonical = [0u8; MAX_PAYLOAD];
    let canonical = postcard::to_slice(&record, &mut canonical).ok()?;
    (*canonical == *payload).then_some(record)
}

fn checksum(bytes: &[u8]) -> [u8; CHECK_LEN] {
    let d = digest::digest(&digest::SHA256, bytes);
    let mut out = [0u8; CHECK_LEN];
    for (o, b) in out.iter_mut().zip(d.as_ref()) {
        *o = *b;
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;
    use crate::clock::UnixTime;
    use crate::token::claims::Epoch;

    fn sample() -> Vec<Revocation> {
        vec![
            Revocation::Id {
                epoch: Epoch(5),
                id: [7; 16],
            },
            Revocation::Subject {
                subject: "alice".into(),
                cutoff: UnixTime(1_800_000_000),
            },
            Revocation::KillSwitch {
                before: UnixTime(1_800_000_001),
            },
        ]
    }

    fn log_of(records: &[Revocation]) -> Vec<u8> {
        records.iter().flat_map(|r| encode(r).unwrap()).collect()
    }

    #[test]
    fn round_trip() {
        let log = log_of(&sample());
        let scan = scan(&log).unwrap();
        assert_eq!(scan.records, sample());
        assert_eq!(scan.valid_len, log.len());
    }

    #[test]
    fn every_truncation_keeps_a_prefix() {
        let log = log_of(&sample());
        for cut in 0..log.len() {
            let scan = scan(&log[..cut]).unwrap();
            assert!(scan.valid_len <= cut);
            assert_eq!(scan.records[..], sample()[..scan.records.len()]);
        }
    }

    #[test]
    fn middle_corruption_is_refused() {
        let mut log = log_of(&sample());
        log[6] ^= 1;
        assert!(matches!(scan(&log), Err(StoreError::Corrupt { offset: 0 })));
    }

    #[test]
    fn prefix_stops_at_a_record_in_progress_and_never_errs() {
        let log = log_of(&sample());
        let first = encode(&sample()[0]).unwrap().len();
        // A record half written by another process: the prefix ends before it.
        let half = prefix(&log[..first + 3]);
        assert_eq!((half.records.len(), half.valid_len), (1, first));
        // Garbage followed by valid records (e.g. a torn tail cut and overwritten while it was
        // being read) is only a stopping point here; `scan` would call it corrupt.
        let mut mixed = log.clone();
        mixed[first + 6] ^= 1;
        let stopped = prefix(&mixed);
        assert_eq!((stopped.records.len(), stopped.valid_len), (1, first));
        assert!(scan(&mixed).is_err());
    }

    #[test]
    fn over_long_varints_are_refused() {
        // Id { epoch: 5 } is 00 05 ‖ id; 00 85 00 ‖ id decodes to the same value in postcard.
        let canonical = postcard::to_allocvec(&sample()[0]).unwrap();
        assert_eq!(decode_payload(&canonical), Some(sample()[0].clone()));
        let mut over_long = vec![0x00, 0x85, 0x00];
        over_long.extend_from_slice(&[7; 16]);
        assert_eq!(
            postcard::from_bytes::<Revocation>(&over_long).unwrap(),
            sample()[0]
        );
        assert_eq!(decode_payload(&over_long), None);
        let mut tag = vec![0x80, 0x00, 0x05];
        tag.extend_from_slice(&[7; 16]);
        assert_eq!(decode_payload(&tag), None, "over-long variant index");
    }

    #[test]
    fn zeroed_tail_is_cut() {
        let mut log = log_of(&sample());
        let len = log.len();
        log.extend_from_slice(&[0; 100]);
        assert_eq!(scan(&log).unwrap().valid_len, len);
    }
}
