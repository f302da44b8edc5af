//! The claims wire encoding (spec/format.md §8.2, §8.3) written and read directly: the same
//! bytes postcard 1.x produces for the wire struct, without serde, allocations or copies.
//!
//! Why by hand: decoding through serde cost more than a fifth of a token open (69 ns of the
//! reference token's 413 ns), most of it in owned copies and the canonicity check. This
//! reader refuses a non-minimal varint where it reads it, so a plaintext is accepted exactly
//! when it is the canonical encoding of the value it decodes to (spec/format.md §8.2,
//! "Canonical encoding"). `tests` cross-check both directions against postcard itself.

use crate::clock::UnixTime;
use crate::error::{ClaimsError, ConfigError};
use crate::token::claims::{
    BindingHash, Claims, Epoch, Flags, Privilege, SessionId, EPOCH_SECONDS, MAX_APP_DATA_LEN,
    MAX_SUBJECT_LEN, TIME_ORIGIN,
};

/// Claims as they lie in a plaintext: what decoding yields before anything is copied.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ClaimsRef<'a> {
    pub(crate) session_id: SessionId,
    pub(crate) subject: &'a str,
    pub(crate) privilege: Privilege,
    pub(crate) epoch: Epoch,
    pub(crate) issued_at: UnixTime,
    pub(crate) expires_at: UnixTime,
    pub(crate) session_deadline: UnixTime,
    pub(crate) authenticated_at: UnixTime,
    pub(crate) binding: BindingHash,
    pub(crate) flags: Flags,
    pub(crate) app_data: &'a [u8],
}

impl ClaimsRef<'_> {
    /// The owned claims (the only allocations of an open: a non-empty subject or app data).
    pub(crate) fn to_owned_claims(self) -> Claims {
        Claims {
            session_id: self.session_id,
            subject: (!self.subject.is_empty()).then(|| self.subject.to_owned()),
            privilege: self.privilege,
            epoch: self.epoch,
            issued_at: self.issued_at,
            expires_at: self.expires_at,
            session_deadline: self.session_deadline,
            authenticated_at: self.authenticated_at,
            binding: self.binding,
            flags: self.flags,
            app_data: self.app_data.to_vec(),
        }
    }
}

/// A cursor over a plaintext; every read fails (`None`) rather than run past the end.
struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    fn bytes(&mut self, n: usize) -> Option<&'a [u8]> {
        if n > self.rest.len() {
            return None;
        }
        let (head, tail) = self.rest.split_at(n);
        self.rest = tail;
        Some(head)
    }

    fn array<const N: usize>(&mut self) -> Option<[u8; N]> {
        <[u8; N]>::try_from(self.bytes(N)?).ok()
    }

    fn byte(&mut self) -> Option<u8> {
        let (&b, tail) = self.rest.split_first()?;
        self.rest = tail;
        Some(b)
    }

    /// An unsigned LEB128 varint of a `BITS`-bit integer, as postcard reads it (at most
    /// ⌈BITS/7⌉ bytes, the last byte within the type), and minimal: a last byte of zero
    /// after a first byte is an over-long spelling, refused.
    fn varint<const BITS: u32>(&mut self) -> Option<u64> {
        let max_bytes = BITS.div_ceil(7);
        let mut value = 0u64;
        for i in 0..max_bytes {
            let b = self.byte()?;
            value |= u64::from(b & 0x7f) << (7 * i);
            if b & 0x80 == 0 {
                let overflows = i == max_bytes - 1 && u32::from(b) >= 1 << (BITS % 7);
                let over_long = i > 0 && b == 0;
                return (!overflows && !over_long).then_some(value);
            }
        }
        None
    }

    fn u32(&mut self) -> Option<u32> {
        u32::try_from(self.varint::<32>()?).ok()
    }

    /// A length prefix (postcard's `usize`: a u64 varint on every platform) and its bytes.
    fn prefixed(&mut self) -> Option<&'a [u8]> {
        let len = usize::try_from(self.varint::<64>()?).ok()?;
        self.bytes(len)
    }
}

/// Decodes a canonical claims plaintext (spec/format.md §8.3); `None` is `bad_claims`.
pub(crate) fn decode(plaintext: &[u8]) -> Option<ClaimsRef<'_>> {
    let mut r = Reader { rest: plaintext };
    let session_id = SessionId(r.array::<16>()?);
    let privilege = Privilege::from_u8(r.byte()?)?;
    let flags = r.byte()?;
    let issued = r.varint::<64>()?;
    let expires_in = r.u32()?;
    let session_deadline_in = r.u32()?;
    let authenticated_ago = r.u32()?;
    let epoch_offset = r.u32()?;
    let binding = BindingHash(r.array::<16>()?);
    let subject = core::str::from_utf8(r.prefixed()?).ok()?;
    let app_data = r.prefixed()?;
    if !r.rest.is_empty()
        || subject.len() > MAX_SUBJECT_LEN
        || app_data.len() > MAX_APP_DATA_LEN
        || flags & !Flags::KNOWN != 0
    {
        return None;
    }
    let issued_at = UnixTime(TIME_ORIGIN.0.checked_add(issued)?);
    let expires_at = UnixTime(issued_at.0.checked_add(u64::from(expires_in))?);
    let session_deadline = UnixTime(issued_at.0.checked_add(u64::from(session_deadline_in))?);
    let epoch = Epoch((issued / EPOCH_SECONDS).checked_add(u64::from(epoch_offset))?);
    if expires_at > session_deadline || epoch < Epoch::containing(session_deadline) {
        return None;
    }
    Some(ClaimsRef {
        session_id,
        subject,
        privilege,
        epoch,
        issued_at,
        expires_at,
        session_deadline,
        authenticated_at: UnixTime(issued_at.0.checked_sub(u64::from(authenticated_ago))?),
        binding,
        flags: Flags(flags),
        app_data,
    })
}

/// A cursor writing into a caller's buffer (the token buffer itself, so the plaintext is
/// sealed where it was written).
struct Writer<'b> {
    buf: &'b mut [u8],
    len: usize,
}

impl Writer<'_> {
    fn put(&mut self, bytes: &[u8]) -> Result<(), ClaimsError> {
        let end = self.len.checked_add(bytes.len()).ok_or(ClaimsError::Encoding)?;
        self.buf
            .get_mut(self.len..end)
            .ok_or(ClaimsError::Encoding)?
            .copy_from_slice(bytes);
        self.len = end;
        Ok(())
    }

    fn varint(&mut self, mut v: u64) -> Result<(), ClaimsError> {
        let mut out = [0u8; 10];
        let mut n = 0;
        for slot in out.iter_mut() {
            let low = u8::try_from(v & 0x7f).unwrap_or(0);
            v >>= 7;
            n += 1;
            if v == 0 {
                *slot = low;
                break;
            }
            *slot = low | 0x80;
        }
        self.put(out.get(..n).ok_or(ClaimsError::Encoding)?)
    }

    fn prefixed(&mut self, bytes: &[u8]) -> Result<(), ClaimsError> {
        self.varint(u64::try_from(bytes.len()).map_err(|_| ClaimsError::Encoding)?)?;
        self.put(bytes)
    }
}

fn delta(later: UnixTime, earlier: UnixTime, what: &'static str) -> Result<u32, ClaimsError> {
    let d = later
        .0
        .checked_sub(earlier.0)
        .ok_or(ClaimsError::TimeOutOfRange(what))?;
    u32::try_from(d).map_err(|_| ClaimsError::TimeOutOfRange(what))
}

/// Checks every bound [`Claims`] documents and writes the canonical encoding at the start of
/// `out`, returning its length. `out` must hold `MAX_CLAIMS_LEN` bytes (else `Encoding`).
pub(crate) fn encode(claims: &Claims, out: &mut [u8]) -> Result<usize, ConfigError> {
    let subject = claims.subject.as_deref().unwrap_or("");
    if claims.subject.is_some() && (subject.is_empty() || subject.len() > MAX_SUBJECT_LEN) {
        return Err(ClaimsError::SubjectLength.into());
    }
    if claims.app_data.len() > MAX_APP_DATA_LEN {
        return Err(ClaimsError::AppDataLength.into());
    }
    if claims.flags.0 & !Flags::KNOWN != 0 {
        return Err(ClaimsError::UndefinedFlags.into());
    }
    let issued = claims
        .issued_at
        .0
        .checked_sub(TIME_ORIGIN.0)
        .ok_or(ClaimsError::IssuedBeforeOrigin)?;
    if claims.expires_at > claims.session_deadline {
        return Err(ClaimsError::ExpiryAfterDeadline.into());
    }
    // The generation holding the session's revocations must outlive every token of the
    // session: an epoch ending before the deadline would let a revocation expire while the
    // token still opens.
    if claims.epoch < Epoch::containing(claims.session_deadline) {
        return Err(ClaimsError::EpochBeforeDeadline.into());
    }
    let epoch_offset = claims
        .epoch
        .0
        .checked_sub(issued / EPOCH_SECONDS)
        .and_then(|d| u32::try_from(d).ok())
        .ok_or(ClaimsError::EpochTooFar)?;
    let expires_in = delta(claims.expires_at, claims.issued_at, "expiry")?;
    let deadline_in = delta(claims.session_deadline, claims.issued_at, "session deadline")?;
    let authenticated_ago = delta(claims.issued_at, claims.authenticated_at, "authentication time")?;
    let mut w = Writer { buf: out, len: 0 };
    w.put(&claims.session_id.0)?;
    w.put(&[claims.privilege.as_u8(), claims.flags.0])?;
    w.varint(issued)?;
    for v in [expires_in, deadline_in, authenticated_ago, epoch_offset] {
        w.varint(u64::from(v))?;
    }
    w.put(&claims.binding.0)?;
    w.prefixed(subject.as_bytes())?;
    w.prefixed(&claims.app_data)?;
    Ok(w.len)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;
    use crate::error::Reason;
    use crate::token::claims::MAX_CLAIMS_LEN;
    use proptest::prelude::*;
    use serde::{Deserialize, Serialize};

    /// The wire struct of spec/format.md §8.2 as postcard sees it: the reference encoding.
    #[derive(Serialize, Deserialize)]
    struct WireClaims<'a> {
        session_id: [u8; 16],
        privilege: u8,
        flags: u8,
        issued_at: u64,
        expires_in: u32,
        session_deadline_in: u32,
        authenticated_ago: u32,
        epoch_offset: u32,
        binding: [u8; 16],
        subject: &'a str,
        app_data: &'a [u8],
    }

    /// The decoder this module replaced, kept as the oracle: postcard, then canonicity by
    /// re-encoding, then the value rules of §8.3.
    fn reference_decode(bytes: &[u8]) -> Option<Claims> {
        let (w, rest) = postcard::take_from_bytes::<WireClaims<'_>>(bytes).ok()?;
        if !rest.is_empty() || postcard::to_allocvec(&w).ok()? != bytes {
            return None;
        }
        if w.subject.len() > MAX_SUBJECT_LEN
            || w.app_data.len() > MAX_APP_DATA_LEN
            || w.flags & !Flags::KNOWN != 0
        {
            return None;
        }
        let issued_at = UnixTime(TIME_ORIGIN.0.checked_add(w.issued_at)?);
        let expires_at = UnixTime(issued_at.0.checked_add(u64::from(w.expires_in))?);
        let session_deadline = UnixTime(issued_at.0.checked_add(u64::from(w.session_deadline_in))?);
        let epoch = Epoch((w.issued_at / EPOCH_SECONDS).checked_add(u64::from(w.epoch_offset))?);
        if expires_at > session_deadline || epoch < Epoch::containing(session_deadline) {
            return None;
        }
        Some(Claims {
            session_id: SessionId(w.session_id),
            subject: (!w.subject.is_empty()).then(|| w.subject.to_owned()),
            privilege: Privilege::from_u8(w.privilege)?,
            epoch,
            issued_at,
            expires_at,
            session_deadline,
            authenticated_at: UnixTime(issued_at.0.checked_sub(u64::from(w.authenticated_ago))?),
            binding: BindingHash(w.binding),
            flags: Flags(w.flags),
            app_data: w.app_data.to_vec(),
        })
    }

    fn ours(bytes: &[u8]) -> Option<Claims> {
        decode(bytes).map(ClaimsRef::to_owned_claims)
    }

    /// A varint of `v`, canonical when `extra` is 0, else `extra` bytes longer than canonical.
    fn varint(v: u64, extra: usize) -> Vec<u8> {
        let mut out = postcard::to_allocvec(&v).unwrap();
        if extra > 0 {
            *out.last_mut().unwrap() |= 0x80;
            out.extend(std::iter::repeat_n(0x80, extra - 1));
            out.push(0);
        }
        out
    }

    /// Wire field values: issued-at, (expires-in, deadline-in), authenticated-ago, epoch
    /// offset, privilege, flags, subject, application data.
    type WireValues = (u64, (u32, u32), u32, u32, u8, u8, String, Vec<u8>);

    fn wire_strategy() -> impl Strategy<Value = WireValues> {
        (
            prop_oneof![0u64..1 << 40, any::<u64>()],
            (any::<u32>(), any::<u32>()),
            prop_oneof![0u32..1_000_000, any::<u32>()],
            any::<u32>(),
            0u8..4,
            0u8..16,
            "\\PC{0,70}",
            proptest::collection::vec(any::<u8>(), 0..=MAX_APP_DATA_LEN + 4),
        )
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        /// Whatever the field values (valid or not), the postcard encoding of the wire struct
        /// decodes here exactly as the reference decodes it, and every mutation of it
        /// (a flipped byte, a cut, an inserted byte) is accepted or refused alike, with the
        /// same value.
        #[test]
        fn decoder_agrees_with_postcard_reference(
            (issued, times, ago, epoch_offset, privilege, flags, subject, app_data) in wire_strategy(),
            at in any::<prop::sample::Index>(),
            byte in any::<u8>(),
            mutation in 0usize..4,
        ) {
            let wire = WireClaims {
                session_id: [7; 16],
                privilege,
                flags,
                issued_at: issued,
                expires_in: times.0,
                session_deadline_in: times.1,
                authenticated_ago: ago,
                epoch_offset,
                binding: [9; 16],
                subject: &subject,
                app_data: &app_data,
            };
            let mut bytes = postcard::to_allocvec(&wire).unwrap();
            prop_assert_eq!(ours(&bytes), reference_decode(&bytes));
            let i = at.index(bytes.len());
            match mutation {
                0 => bytes[i] = byte,
                1 => bytes.truncate(i),
                2 => bytes.insert(i, byte),
                _ => bytes.push(byte),
            }
            prop_assert_eq!(ours(&bytes), reference_decode(&bytes));
        }

        /// Arbitrary bytes: accepted or refused exactly as the reference does.
        #[test]
        fn random_bytes_agree_with_reference(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            prop_assert_eq!(ours(&bytes), reference_decode(&bytes));
        }

        /// Encoding writes postcard's bytes for every claims value minting accepts, and
        /// refuses (with the same error as before) every value it refused.
        #[test]
        fn encoder_writes_postcard_bytes(
            (issued, times, ago, _, privilege, flags, subject, app_data) in wire_strategy(),
            epoch_extra in 0u64..1 << 20,
        ) {
            let issued_at = UnixTime(TIME_ORIGIN.0.saturating_add(issued % (1 << 40)));
            let deadline = issued_at.saturating_add(core::time::Duration::from_secs(u64::from(times.1)));
            let claims = Claims {
                session_id: SessionId([3; 16]),
                subject: (!subject.is_empty()).then(|| subject.clone()),
                privilege: Privilege::from_u8(privilege % 3).unwrap(),
                epoch: Epoch(Epoch::containing(deadline).0 + epoch_extra),
                issued_at,
                expires_at: issued_at.saturating_add(core::time::Duration::from_secs(u64::from(times.0))),
                session_deadline: deadline,
                authenticated_at: UnixTime(issued_at.0.saturating_sub(u64::from(ago))),
                binding: BindingHash([5; 16]),
                flags: Flags(flags),
                app_data,
            };
            let mut buf = [0u8; MAX_CLAIMS_LEN];
            match encode(&claims, &mut buf) {
                Ok(n) => {
                    let issued = claims.issued_at.0 - TIME_ORIGIN.0;
                    let wire = WireClaims {
                        session_id: claims.session_id.0,
                        privilege: claims.privilege.as_u8(),
                        flags: claims.flags.0,
                        issued_at: issued,
                        expires_in: u32::try_from(claims.expires_at.0 - claims.issued_at.0).unwrap(),
                        session_deadline_in: u32::try_from(claims.session_deadline.0 - claims.issued_at.0).unwrap(),
                        authenticated_ago: u32::try_from(claims.issued_at.0 - claims.authenticated_at.0).unwrap(),
                        epoch_offset: u32::try_from(claims.epoch.0 - issued / EPOCH_SECONDS).unwrap(),
                        binding: claims.binding.0,
                        subject: claims.subject.as_deref().unwrap_or(""),
                        app_data: &claims.app_data,
                    };
                    prop_assert_eq!(&buf[..n], &postcard::to_allocvec(&wire).unwrap()[..]);
                    prop_assert_eq!(ours(&buf[..n]), Some(claims));
                }
                Err(_) => prop_assert!(
                    claims.expires_at > claims.session_deadline
                        || claims.flags.0 & !Flags::KNOWN != 0
                        || claims.subject.as_ref().is_some_and(|s| s.len() > MAX_SUBJECT_LEN)
                        || claims.app_data.len() > MAX_APP_DATA_LEN
                ),
            }
        }

        /// Whatever the varint field values, the canonical spelling decodes and every
        /// over-long spelling of one field is refused.
        #[test]
        fn over_long_varints_are_refused(
            issued_at in 0u64..1 << 40,
            times in (any::<u32>(), any::<u32>()),
            authenticated_ago in 0u32..1_000_000,
            epoch_extra in 0u32..1 << 20,
            subject in "[a-z0-9]{0,64}",
            app_data in proptest::collection::vec(any::<u8>(), 0..=MAX_APP_DATA_LEN),
            field in 0usize..7,
            extra in 1usize..4,
        ) {
            let (expires_in, session_deadline_in) = (times.0.min(times.1), times.0.max(times.1));
            // The epoch must contain the session deadline or later (§8.3 rule 9).
            let reach = (issued_at % EPOCH_SECONDS + u64::from(session_deadline_in)) / EPOCH_SECONDS;
            let epoch_offset = u32::try_from(reach).unwrap() + epoch_extra;
            let encode = |field: usize, extra: usize| {
                let e = |i: usize| if i == field { extra } else { 0 };
                let mut b = vec![7u8; 16];
                b.extend([1, 0]);
                b.extend(varint(issued_at, e(0)));
                b.extend(varint(expires_in.into(), e(1)));
                b.extend(varint(session_deadline_in.into(), e(2)));
                b.extend(varint(authenticated_ago.into(), e(3)));
                b.extend(varint(epoch_offset.into(), e(4)));
                b.extend([9u8; 16]);
                b.extend(varint(subject.len() as u64, e(5)));
                b.extend(subject.as_bytes());
                b.extend(varint(app_data.len() as u64, e(6)));
                b.extend(&app_data);
                b
            };
            prop_assert!(Claims::decode(&encode(usize::MAX, 0)).is_ok());
            prop_assert_eq!(Claims::decode(&encode(field, extra)), Err(Reason::BadClaims));
        }
    }

    /// The varint examples of spec/format.md §8.2, and the overflow edge of each type.
    #[test]
    fn varint_edges() {
        let read32 = |b: &[u8]| Reader { rest: b }.u32();
        let read64 = |b: &[u8]| Reader { rest: b }.varint::<64>();
        assert_eq!(read32(&[0x88, 0x0e]), Some(1800));
        assert_eq!(read32(&[0xff, 0xff, 0xff, 0xff, 0x0f]), Some(u32::MAX));
        assert_eq!(read32(&[0xff, 0xff, 0xff, 0xff, 0x1f]), None);
        assert_eq!(read32(&[0x80, 0x80, 0x80, 0x80, 0x80, 0x00]), None);
        assert_eq!(read32(&[0x80, 0x00]), None);
        assert_eq!(read32(&[0x00]), Some(0));
        let max64 = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01];
        assert_eq!(read64(&max64), Some(u64::MAX));
        let mut over = max64;
        over[9] = 0x02;
        assert_eq!(read64(&over), None);
    }
}
