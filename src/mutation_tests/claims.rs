//! The claims decoder (spec/format.md, "Claims"): crafted plaintexts, each accepted or
//! refused exactly at the bound the spec gives, and the values an accepted one decodes to.

use crate::clock::UnixTime;
use crate::error::Reason;
use crate::token::{decode_claims, Claims, Epoch, Privilege, EPOCH_SECONDS, TIME_ORIGIN};

/// The wire fields, written by hand as the spec lays them out.
#[derive(Clone)]
struct Wire {
    privilege: u8,
    flags: u8,
    issued: u64,
    expires_in: u64,
    deadline_in: u64,
    ago: u64,
    epoch_offset: u64,
    subject: Vec<u8>,
    app_data: Vec<u8>,
    /// Bytes more than the shortest varint of `issued` (0: canonical).
    issued_extra: usize,
    trailing: Vec<u8>,
}

/// The shortest varint of `v`, made `extra` bytes longer when asked.
fn varint(mut v: u64, extra: usize) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let low = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            out.push(low);
            break;
        }
        out.push(low | 0x80);
    }
    if extra > 0 {
        *out.last_mut().unwrap() |= 0x80;
        out.extend(std::iter::repeat_n(0x80, extra - 1));
        out.push(0);
    }
    out
}

impl Wire {
    fn ok() -> Self {
        // 400 s into an hour; the deadline 7200 s later reaches two epochs further.
        Self {
            privilege: 1,
            flags: 3,
            issued: 40_000_000,
            expires_in: 1800,
            deadline_in: 7200,
            ago: 30,
            epoch_offset: 2,
            subject: b"alice".to_vec(),
            app_data: b"cart=3".to_vec(),
            issued_extra: 0,
            trailing: Vec::new(),
        }
    }

    fn bytes(&self) -> Vec<u8> {
        let mut b = vec![0x11; 16];
        b.extend([self.privilege, self.flags]);
        b.extend(varint(self.issued, self.issued_extra));
        for v in [self.expires_in, self.deadline_in, self.ago, self.epoch_offset] {
            b.extend(varint(v, 0));
        }
        b.extend([0x22; 16]);
        b.extend(varint(self.subject.len() as u64, 0));
        b.extend(&self.subject);
        b.extend(varint(self.app_data.len() as u64, 0));
        b.extend(&self.app_data);
        b.extend(&self.trailing);
        b
    }

    fn decode(&self) -> Result<Claims, Reason> {
        decode_claims(&self.bytes())
    }

    fn with(&self, change: impl FnOnce(&mut Self)) -> Self {
        let mut w = self.clone();
        change(&mut w);
        w
    }
}

/// The smallest epoch offset the deadline of `w` allows.
fn reach(w: &Wire) -> u64 {
    (w.issued % EPOCH_SECONDS + w.deadline_in) / EPOCH_SECONDS
}

#[test]
fn an_accepted_plaintext_decodes_to_the_spec_values() {
    let w = Wire::ok();
    let c = w.decode().unwrap();
    let issued = TIME_ORIGIN.0 + w.issued;
    assert_eq!(c.session_id.0, [0x11; 16]);
    assert_eq!(c.privilege, Privilege::Authenticated);
    assert_eq!(c.flags.0, 3);
    assert_eq!(c.issued_at, UnixTime(issued));
    assert_eq!(c.expires_at, UnixTime(issued + 1800));
    assert_eq!(c.session_deadline, UnixTime(issued + 7200));
    assert_eq!(c.authenticated_at, UnixTime(issued - 30));
    assert_eq!(c.epoch, Epoch(w.issued / EPOCH_SECONDS + 2));
    assert_eq!(c.binding.0, [0x22; 16]);
    assert_eq!(c.subject.as_deref(), Some("alice"));
    assert_eq!(c.app_data, b"cart=3");
    let anonymous = w.with(|w| w.subject.clear()).decode().unwrap();
    assert_eq!(anonymous.subject, None, "an empty subject is no subject");
}

#[test]
fn varints_are_accepted_only_in_their_shortest_spelling_at_every_length_boundary() {
    for v in [
        0,
        1,
        127,
        128,
        255,
        16_383,
        16_384,
        (1 << 21) - 1,
        1 << 21,
        (1 << 28) - 1,
        1 << 28,
    ] {
        let w = Wire::ok().with(|w| w.issued = v);
        let w = w.with(|w| w.epoch_offset = reach(w));
        let c = w.decode().unwrap_or_else(|e| panic!("{v}: {e:?}"));
        assert_eq!(c.issued_at, UnixTime(TIME_ORIGIN.0 + v), "{v}");
        for extra in 1..3 {
            let long = w.with(|w| w.issued_extra = extra);
            assert_eq!(
                long.decode().err(),
                Some(Reason::BadClaims),
                "{v} + {extra} bytes"
            );
        }
    }
}

#[test]
fn lengths_are_accepted_up_to_their_bound_and_refused_beyond() {
    let ok = Wire::ok();
    assert!(ok.with(|w| w.subject = vec![b'm'; 64]).decode().is_ok());
    assert!(ok.with(|w| w.subject = vec![b'm'; 65]).decode().is_err());
    assert!(ok.with(|w| w.app_data = vec![7; 256]).decode().is_ok());
    assert!(ok.with(|w| w.app_data = vec![7; 257]).decode().is_err());
    assert!(ok.with(|w| w.subject = vec![0xff]).decode().is_err(), "not UTF-8");
}

#[test]
fn flags_and_privilege_are_accepted_only_when_defined() {
    let ok = Wire::ok();
    for flags in 0..=7 {
        assert!(ok.with(|w| w.flags = flags).decode().is_ok(), "{flags}");
    }
    for flags in [8, 0x10, 0x80, 0xff] {
        assert!(ok.with(|w| w.flags = flags).decode().is_err(), "{flags}");
    }
    for (p, level) in [
        (0, Privilege::Anonymous),
        (1, Privilege::Authenticated),
        (2, Privilege::Elevated),
    ] {
        assert_eq!(ok.with(|w| w.privilege = p).decode().unwrap().privilege, level);
    }
    assert!(ok.with(|w| w.privilege = 3).decode().is_err());
}

#[test]
fn times_are_accepted_exactly_within_their_bounds() {
    let ok = Wire::ok();
    // The expiry may equal the deadline, not pass it.
    assert!(ok.with(|w| w.expires_in = 7200).decode().is_ok());
    assert!(ok.with(|w| w.expires_in = 7201).decode().is_err());
    // The epoch must contain the deadline or come after it.
    assert!(ok.with(|w| w.epoch_offset = 3).decode().is_ok());
    assert!(ok.with(|w| w.epoch_offset = 1).decode().is_err());
    let at_hour = ok.with(|w| {
        w.issued = 36_000;
        w.deadline_in = 3600;
        w.expires_in = 3600;
        w.epoch_offset = 1;
    });
    assert_eq!(
        at_hour.decode().unwrap().epoch,
        Epoch(11),
        "a deadline on the hour is in the next epoch"
    );
    assert!(at_hour.with(|w| w.epoch_offset = 0).decode().is_err());
    // Authentication may be as early as the Unix epoch, not before.
    let earliest = TIME_ORIGIN.0 + ok.issued;
    let first = ok.with(|w| w.ago = earliest).decode().unwrap();
    assert_eq!(first.authenticated_at, UnixTime(0));
    assert!(ok.with(|w| w.ago = earliest + 1).decode().is_err());
    // Fields are u32: one more than u32::MAX does not decode.
    assert!(ok.with(|w| w.ago = u64::from(u32::MAX) + 1).decode().is_err());
}

#[test]
fn times_that_overflow_are_refused() {
    let last = u64::MAX - TIME_ORIGIN.0;
    let top = Wire::ok().with(|w| {
        w.issued = last;
        w.expires_in = 0;
        w.deadline_in = 0;
        w.epoch_offset = 0;
    });
    assert!(top.decode().is_ok(), "the last representable second");
    assert!(top.with(|w| w.issued = last + 1).decode().is_err());
    assert!(top.with(|w| w.deadline_in = 1).decode().is_err());
    assert!(top
        .with(|w| w.epoch_offset = u64::from(u32::MAX))
        .decode()
        .is_ok());
}

#[test]
fn every_byte_is_used_and_none_is_missing() {
    let ok = Wire::ok();
    assert!(ok.with(|w| w.trailing = vec![0]).decode().is_err());
    let bytes = ok.bytes();
    for len in 0..bytes.len() {
        assert!(decode_claims(&bytes[..len]).is_err(), "truncated to {len}");
    }
}
