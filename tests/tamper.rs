//! Every single-bit flip, every truncation and every one-character substitution of minted
//! tokens is rejected. The cases are counted and the counts checked against the arithmetic,
//! so the test cannot pass by running nothing (`--nocapture` shows the counts).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use sealed_session::token::*;
use sealed_session::*;

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
const NOW: UnixTime = UnixTime(1_795_000_100);

fn sealer() -> Sealer {
    let ring = KeyRing::empty()
        .with_key(KeyId(1), KeyState::Primary, SessionKey::from_bytes([0x42; 32]))
        .unwrap();
    Sealer::new(ring, "tamper-test").unwrap()
}

fn claims(subject: Option<&str>, privilege: Privilege, flags: u8, app_data: Vec<u8>) -> Claims {
    let iat = UnixTime(1_795_000_000);
    Claims {
        session_id: SessionId([7; 16]),
        subject: subject.map(str::to_owned),
        privilege,
        epoch: Epoch::containing(UnixTime(iat.0 + 86_400)),
        issued_at: iat,
        expires_at: UnixTime(iat.0 + 1800),
        session_deadline: UnixTime(iat.0 + 86_400),
        authenticated_at: UnixTime(iat.0 - 60),
        binding: BindingHash([9; 16]),
        flags: Flags(flags),
        app_data,
    }
}

/// Several claim shapes, from the smallest token to the largest one the format allows.
fn sample() -> Vec<Claims> {
    let max_subject = "é".repeat(MAX_SUBJECT_LEN / 2);
    assert_eq!(max_subject.len(), MAX_SUBJECT_LEN);
    assert_eq!(usize::from(u8::MAX) + 1, MAX_APP_DATA_LEN);
    vec![
        claims(None, Privilege::Anonymous, 0, Vec::new()),
        claims(
            Some("alice-01"),
            Privilege::Authenticated,
            Flags::BIND_IP,
            Vec::new(),
        ),
        claims(
            Some("bob"),
            Privilege::Elevated,
            Flags::KNOWN,
            b"{\"cart\":3}".to_vec(),
        ),
        claims(
            Some(&max_subject),
            Privilege::Authenticated,
            Flags::BIND_USER_AGENT,
            vec![0xff; 17],
        ),
        claims(
            Some(&"z".repeat(MAX_SUBJECT_LEN)),
            Privilege::Elevated,
            Flags::KNOWN,
            (0..=u8::MAX).collect(), // MAX_APP_DATA_LEN bytes
        ),
    ]
}

fn minted() -> (Sealer, Vec<String>) {
    let sealer = sealer();
    let tokens = sample()
        .iter()
        .map(|c| sealer.mint(c).unwrap().expose_secret().to_owned())
        .collect::<Vec<_>>();
    for (t, c) in tokens.iter().zip(sample()) {
        assert_eq!(sealer.open_at(t, NOW).unwrap().claims, c);
    }
    (sealer, tokens)
}

fn reason(sealer: &Sealer, text: &str) -> Option<Reason> {
    sealer.open_at(text, NOW).err().map(|r| r.reason())
}

#[test]
fn every_bit_flip_is_rejected() {
    let (sealer, tokens) = minted();
    let (mut cases, mut expected) = (0usize, 0usize);
    for token in &tokens {
        let bytes = URL_SAFE_NO_PAD.decode(token).unwrap();
        assert_eq!(URL_SAFE_NO_PAD.encode(&bytes), *token);
        expected += bytes.len() * 8;
        for i in 0..bytes.len() {
            for bit in 0..8 {
                let mut b = bytes.clone();
                b[i] ^= 1 << bit;
                // Byte 0 is the version, byte 1 the key id (only id 1 exists), the rest is
                // authenticated by the AEAD tag.
                let want = match i {
                    0 => Reason::UnsupportedVersion,
                    1 => Reason::UnknownKey,
                    _ => Reason::Forged,
                };
                assert_eq!(
                    reason(&sealer, &URL_SAFE_NO_PAD.encode(&b)),
                    Some(want),
                    "byte {i} bit {bit}"
                );
                cases += 1;
            }
        }
    }
    println!(
        "tamper: {cases} single-bit flips rejected over {} tokens",
        tokens.len()
    );
    assert_eq!(cases, expected);
    assert!(cases > 0);
}

#[test]
fn every_truncation_is_rejected() {
    let (sealer, tokens) = minted();
    let (mut cases, mut expected) = (0usize, 0usize);
    for token in &tokens {
        expected += token.len();
        for len in 0..token.len() {
            let got = reason(&sealer, &token[..len]);
            assert!(
                matches!(got, Some(Reason::Malformed | Reason::Forged)),
                "truncated to {len}: {got:?}"
            );
            cases += 1;
        }
    }
    println!(
        "tamper: {cases} truncations rejected over {} tokens",
        tokens.len()
    );
    assert_eq!(cases, expected);
    assert!(cases > 0);
}

#[test]
fn every_character_substitution_is_rejected() {
    let (sealer, tokens) = minted();
    let (mut cases, mut expected) = (0usize, 0usize);
    for token in &tokens {
        expected += token.len() * (ALPHABET.len() - 1);
        let text = token.as_bytes();
        for i in 0..text.len() {
            for &c in ALPHABET.iter().filter(|&&c| c != text[i]) {
                let mut t = text.to_vec();
                t[i] = c;
                let t = String::from_utf8(t).unwrap();
                assert!(reason(&sealer, &t).is_some(), "position {i} substituted");
                cases += 1;
            }
        }
    }
    println!(
        "tamper: {cases} one-character substitutions rejected over {} tokens",
        tokens.len()
    );
    assert_eq!(cases, expected);
    assert!(cases > 0);
}
