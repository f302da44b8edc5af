//! Invalid cases: at least one for every reason the format layer produces (spec §10, §11).

use sealed_session::token::MAX_TOKEN_CHARS;
use sealed_session::KeyState;
use sealed_session::Reason::{
    self, Expired, Forged, Malformed, NotYetValid, Oversized, RetiredKey, UnknownKey, UnsupportedVersion,
};

use crate::gen::{elevated, maximal, open, reference, Gen, Open, Seal, IAT, REF};
use crate::material::{derive, Wire};

const ALPHABET: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// Edits of the reference token's text: (name, comment, edit).
type TextEdit = (&'static str, &'static str, fn(String) -> String);
/// Edits of the reference token's bytes: (name, comment, edit).
type ByteEdit = (&'static str, &'static str, fn(&mut Vec<u8>));

/// Bit flips in the reference token's bytes (97 bytes: header 0..2, nonce 2..26, ciphertext
/// 26..81, tag 81..97): (name, comment, byte offset, xor mask, reason).
const FLIPS: [(&str, &str, usize, u8, Reason); 12] = [
    (
        "version_bit_flip",
        "version byte 0x01 -> 0x03 (bit 1)",
        0,
        0x02,
        UnsupportedVersion,
    ),
    (
        "version_zero",
        "version byte 0x01 -> 0x00 (bit 0)",
        0,
        0x01,
        UnsupportedVersion,
    ),
    (
        "version_high_bit",
        "version byte 0x01 -> 0x81 (bit 7)",
        0,
        0x80,
        UnsupportedVersion,
    ),
    (
        "version_two",
        "version byte 0x02: a future format",
        0,
        0x03,
        UnsupportedVersion,
    ),
    (
        "key_id_bit_flip_unknown",
        "key id 0x01 -> 0x00 (bit 0), not in the ring: no trial decryption",
        1,
        0x01,
        UnknownKey,
    ),
    (
        "key_id_high_bit_unknown",
        "key id 0x01 -> 0x81 (bit 7), not in the ring",
        1,
        0x80,
        UnknownKey,
    ),
    (
        "nonce_first_byte_flip",
        "nonce byte 0 (HChaCha20 input), bit 0: the tag fails",
        2,
        0x01,
        Forged,
    ),
    (
        "nonce_byte_15_flip",
        "nonce byte 15 (last HChaCha20 input byte), bit 7: the tag fails",
        17,
        0x80,
        Forged,
    ),
    (
        "nonce_byte_16_flip",
        "nonce byte 16 (first ChaCha20 nonce byte), bit 0: the tag fails",
        18,
        0x01,
        Forged,
    ),
    (
        "nonce_last_byte_flip",
        "nonce byte 23, bit 7: the tag fails",
        25,
        0x80,
        Forged,
    ),
    (
        "ciphertext_first_byte_flip",
        "ciphertext byte 0 (session id), bit 0: the tag fails",
        26,
        0x01,
        Forged,
    ),
    (
        "ciphertext_last_byte_flip",
        "last ciphertext byte (app data length), bit 3: the tag fails",
        80,
        0x08,
        Forged,
    ),
];

const TAG_FLIPS: [(&str, &str, usize, u8); 2] = [
    (
        "tag_first_byte_flip",
        "tag byte 0, bit 0: the tag fails",
        81,
        0x01,
    ),
    (
        "tag_last_byte_flip",
        "tag byte 15, bit 7: the tag fails",
        96,
        0x80,
    ),
];

pub(crate) fn structural(g: &mut Gen) {
    let max = maximal();
    let mut too_long = Wire::of(&max).encode();
    too_long.push(0);
    g.sealed(
        "oversized_sealed_388_byte_plaintext",
        "a genuinely sealed token around 388 bytes (the longest claims plus one byte): 574 \
         characters, refused by the length cap before any decoding",
        open(max.issued_at.0),
        Seal::bank(&too_long),
        Oversized,
    );
    g.edit_text(
        "oversized_max_token_plus_padding",
        "the 572-character maximum_length_token plus one '=': the length cap (573 > 572) is \
         checked before base64 canonicality",
        "maximum_length_token",
        |t| t + "=",
        Oversized,
    );
    let over = "A".repeat(MAX_TOKEN_CHARS + 1);
    g.invalid(
        "oversized_573_chars",
        "573 characters of 'A': over MAX_TOKEN_CHARS",
        open(IAT),
        over,
        Oversized,
    );
    g.invalid("empty_string", "empty text", open(IAT), String::new(), Malformed);
    g.invalid(
        "attacker_chosen_identifier",
        "an identifier an attacker made up (CAPEC-61): 19 characters, the last with non-zero \
         trailing bits",
        open(IAT),
        "I_WILL_KNOW_THE_SID".into(),
        Malformed,
    );
    let text_edits: [TextEdit; 8] = [
        (
            "truncated_one_char",
            "last character removed: 129 characters is an impossible base64 length (4n+1)",
            |t| t[..t.len() - 1].to_owned(),
        ),
        (
            "non_canonical_last_char",
            "97 bytes: the last character carries 2 data bits and 4 bits that must be zero; here \
             they are not (decodes to the same bytes in a lenient decoder; PASETO 4-F-4)",
            non_canonical_last,
        ),
        (
            "padding_two_equals",
            "canonical base64 padding '==' appended",
            |t| t + "==",
        ),
        ("padding_one_equals", "a single '=' appended", |t| t + "="),
        ("trailing_newline", "a '\\n' appended", |t| t + "\n"),
        ("leading_space", "a space prepended", |t| format!(" {t}")),
        ("inner_space", "a space inserted after character 64", |t| {
            format!("{} {}", &t[..64], &t[64..])
        }),
        (
            "non_ascii_character",
            "character 10 replaced by 'é' (two UTF-8 bytes)",
            |t| format!("{}é{}", &t[..10], &t[11..]),
        ),
    ];
    for (name, comment, edit) in text_edits {
        g.edit_text(name, comment, REF, edit, Malformed);
    }
    const DASHES: &str = "nonce_with_dash_and_underscore";
    g.edit_text(
        "standard_alphabet_plus",
        "'----' replaced by the standard alphabet's '++++' (same bytes in standard base64)",
        DASHES,
        |t| t.replacen("----", "++++", 1),
        Malformed,
    );
    g.edit_text(
        "standard_alphabet_slash",
        "'____' replaced by the standard alphabet's '////' (same bytes in standard base64)",
        DASHES,
        |t| t.replacen("____", "////", 1),
        Malformed,
    );
    g.edit_bytes(
        "truncated_below_framing",
        "bytes truncated to 41, one less than FRAMING_LEN (version, key id, nonce, tag)",
        REF,
        None,
        |b| b.truncate(41),
        Malformed,
    );
    let zeros = "A".repeat(130);
    g.invalid(
        "all_zero_token",
        "130 'A' characters: 97 zero bytes, version 0",
        open(IAT),
        zeros,
        UnsupportedVersion,
    );
}

/// Sets low bits of the last character, which must be zero (the text encodes 97 bytes).
fn non_canonical_last(t: String) -> String {
    let (head, last) = t.split_at(t.len() - 1);
    let v = ALPHABET.find(last).unwrap();
    assert_eq!(v & 0x0f, 0);
    format!("{head}{}", &ALPHABET[v | 1..=v | 1])
}

pub(crate) fn keys(g: &mut Gen) {
    for (name, comment, at, mask, reason) in FLIPS {
        g.edit_bytes(name, comment, REF, None, |b| b[at] ^= mask, reason);
    }
    for (name, comment, at, mask) in TAG_FLIPS {
        g.edit_bytes(name, comment, REF, None, |b| b[at] ^= mask, Forged);
    }
    g.reopen(
        "key_removed_from_ring",
        "a genuine key-255 token opened by a ring that holds only key 1",
        "key_id_255",
        open(IAT),
        UnknownKey,
    );
    let rotated: Open = Open {
        ring: &[(1, KeyState::Primary), (2, KeyState::Retired)],
        ..open(IAT)
    };
    let phase3 = "a genuine key-2 token after rotation phase 3: key 2 retired, key 1 primary";
    g.reopen(
        "retired_key",
        phase3,
        "accept_only_key_opens",
        rotated,
        RetiredKey,
    );
    let with_key_3 = Open {
        ring: &[(1, KeyState::Primary), (3, KeyState::AcceptOnly)],
        ..open(IAT + 60)
    };
    g.edit_bytes(
        "key_id_flip_to_other_ring_key",
        "key id 0x01 -> 0x03 (bit 1); key 3 is in the ring (accept-only), so the AEAD runs \
         under the wrong key",
        REF,
        Some(with_key_3),
        |b| b[1] ^= 0x02,
        Forged,
    );
    let reference = Wire::of(&reference(IAT)).encode();
    let other_secret = Seal {
        secret: derive("sealed-session test vectors: not key 1"),
        ..Seal::bank(&reference)
    };
    let comment = "sealed under key id 1 with a different secret than the ring's key 1";
    g.sealed(
        "wrong_secret_same_key_id",
        comment,
        open(IAT),
        other_secret,
        Forged,
    );
    let shop = Open {
        context: "shop",
        ..open(IAT + 60)
    };
    g.reopen(
        "wrong_context",
        "a token minted for context \"bank\" opened for \"shop\"",
        REF,
        shop,
        Forged,
    );
    let capital = Open {
        context: "Bank",
        ..open(IAT + 60)
    };
    let comment = "context comparison is bytewise: \"Bank\" is not \"bank\"";
    g.reopen("context_case_differs", comment, REF, capital, Forged);
    let byte_edits: [ByteEdit; 4] = [
        (
            "truncated_last_byte",
            "last byte removed (96 bytes): the tag is misaligned",
            |b| b.truncate(96),
        ),
        (
            "truncated_to_framing",
            "truncated to exactly FRAMING_LEN = 42 bytes: structurally acceptable, empty ciphertext, \
             forged tag",
            |b| b.truncate(42),
        ),
        (
            "ciphertext_byte_appended",
            "one zero byte appended after the tag",
            |b| b.push(0),
        ),
        (
            "nonce_zeroed",
            "nonce replaced by zeros (a token id an attacker would like to choose)",
            |b| b[2..26].fill(0),
        ),
    ];
    for (name, comment, edit) in byte_edits {
        g.edit_bytes(name, comment, REF, None, edit, Forged);
    }
}

pub(crate) fn times(g: &mut Gen) {
    let leeway = |now| Open {
        leeway: 60,
        ..open(now)
    };
    let cases: [(&str, &str, Open, Reason); 5] = [
        (
            "expired_at_expiry",
            "now = expires_at, no leeway (expiry is exclusive)",
            open(IAT + 1800),
            Expired,
        ),
        (
            "expired_beyond_leeway",
            "now = expires_at + leeway (60 s)",
            leeway(IAT + 1860),
            Expired,
        ),
        (
            "expired_long_ago",
            "now = one week after issue",
            open(IAT + 7 * 86_400),
            Expired,
        ),
        (
            "not_yet_valid_beyond_leeway",
            "issued_at = now + leeway + 1 (leeway 60 s)",
            leeway(IAT - 61),
            NotYetValid,
        ),
        (
            "not_yet_valid_no_leeway",
            "issued_at = now + 1, no leeway",
            open(IAT - 1),
            NotYetValid,
        ),
    ];
    for (name, comment, o, reason) in cases {
        g.reopen(name, comment, REF, o, reason);
    }
    let elevated = elevated(IAT);
    let plaintext = Wire::of(&elevated).encode();
    let comment = "an elevated token five minutes after issue";
    g.sealed(
        "elevated_token_expired",
        comment,
        open(IAT + 300),
        Seal::bank(&plaintext),
        Expired,
    );
    g.with_claims(&elevated);
}
