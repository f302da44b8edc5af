//! Bad-claims cases: authentic plaintexts that are not canonical, in-bounds claims (spec §8.3).

use sealed_session::token::TIME_ORIGIN;

use crate::gen::{reference, Gen, IAT};
use crate::material::{overlong_varint, Wire};

pub(crate) fn cases(g: &mut Gen) {
    let base = Wire::of(&reference(IAT));
    let with_field = |i: usize, bytes: Vec<u8>| {
        let mut f = base.fields();
        f[i] = bytes;
        f.concat()
    };
    let with = |edit: &dyn Fn(&mut Wire)| {
        let mut w = base.clone();
        edit(&mut w);
        w.encode()
    };
    let mut trailing = base.encode();
    trailing.push(0);
    let mut truncated = base.encode();
    truncated.pop();
    let mut subject_88_00 = overlong_varint(8, 2);
    subject_88_00.extend_from_slice(b"alice-01");
    let cases: Vec<(&str, &str, Vec<u8>)> = vec![
        (
            "trailing_byte_in_claims",
            "a zero byte after the app data",
            trailing,
        ),
        (
            "truncated_plaintext",
            "the app data length byte is missing",
            truncated,
        ),
        ("empty_plaintext", "a sealed empty plaintext", Vec::new()),
        (
            "overlong_varint_expires_in",
            "expires_in 1800 as 3 bytes (88 8e 00) instead of 2 (88 0e)",
            with_field(4, overlong_varint(1800, 3)),
        ),
        (
            "overlong_varint_issued_at",
            "issued_at padded to 10 bytes",
            with_field(3, overlong_varint(base.issued_at, 10)),
        ),
        (
            "overlong_varint_zero",
            "authenticated_ago 0 as 80 00",
            with_field(6, vec![0x80, 0x00]),
        ),
        (
            "overlong_subject_length",
            "subject length 8 as 88 00",
            with_field(9, subject_88_00),
        ),
        (
            "varint_exceeds_u32",
            "expires_in as ff ff ff ff 1f (2^35 - 1, over u32::MAX)",
            with_field(4, vec![0xff, 0xff, 0xff, 0xff, 0x1f]),
        ),
        (
            "varint_six_bytes_for_u32",
            "a u32 varint may have at most 5 bytes",
            with_field(5, vec![0x80, 0x80, 0x80, 0x80, 0x80, 0x00]),
        ),
        (
            "varint_u64_eleven_bytes",
            "a u64 varint may have at most 10 bytes",
            with_field(3, overlong_varint(base.issued_at, 11)),
        ),
        (
            "undefined_flag_bit_3",
            "flags 0x0b: bit 3 undefined",
            with(&|w| w.flags |= 0x08),
        ),
        (
            "undefined_flag_bit_7",
            "flags 0x83: bit 7 undefined",
            with(&|w| w.flags |= 0x80),
        ),
        (
            "privilege_3",
            "privilege 3 is undefined",
            with(&|w| w.privilege = 3),
        ),
        (
            "privilege_255",
            "privilege 0xff is undefined",
            with(&|w| w.privilege = 0xff),
        ),
        (
            "expiry_after_deadline",
            "expires_in 86401 > session_deadline_in 86400",
            with(&|w| w.expires_in = w.session_deadline_in + 1),
        ),
        (
            "epoch_before_deadline_epoch",
            "epoch one hour before the hour containing the session deadline: the session's \
             revocations would expire while the token still opens",
            with(&|w| w.epoch_offset -= 1),
        ),
        (
            "epoch_at_hour_of_issue",
            "epoch_offset 0 with a 24-hour session (the epoch must contain the deadline)",
            with(&|w| w.epoch_offset = 0),
        ),
        (
            "subject_65_bytes",
            "a 65-byte subject inside a sealed plaintext (limit 64)",
            with(&|w| w.subject = vec![b's'; 65]),
        ),
        (
            "app_data_257_bytes",
            "257 bytes of application data (limit 256)",
            with(&|w| w.app_data = vec![0xaa; 257]),
        ),
        (
            "subject_invalid_utf8",
            "subject bytes 61 ff 62 are not UTF-8",
            with(&|w| w.subject = vec![b'a', 0xff, b'b']),
        ),
        (
            "subject_overlong_utf8",
            "subject c0 af: an over-long UTF-8 encoding of '/' (invalid UTF-8)",
            with(&|w| w.subject = vec![0xc0, 0xaf]),
        ),
        (
            "issued_at_overflows_u64",
            "TIME_ORIGIN + issued_at overflows a u64",
            with(&|w| w.issued_at = u64::MAX - 1000),
        ),
        (
            "expiry_overflows_u64",
            "issued_at + expires_in overflows a u64",
            with(&|w| {
                w.issued_at = u64::MAX - TIME_ORIGIN.0 - 10;
                w.expires_in = 20;
                w.session_deadline_in = 20;
            }),
        ),
        (
            "authenticated_before_unix_epoch",
            "issued_at - authenticated_ago is before 1970",
            with(&|w| {
                w.issued_at = 0;
                w.authenticated_ago = u32::MAX;
            }),
        ),
    ];
    for (name, comment, plaintext) in &cases {
        g.bad_claims(name, comment, plaintext);
    }
}
