//! Checks every case of `spec/vectors/valid.json` and `spec/vectors/invalid.json`: valid
//! tokens are reproduced byte for byte and open to their claims; invalid ones are refused
//! with exactly the expected reason. Valid tokens are also opened by an independent
//! XChaCha20-Poly1305 (the `chacha20poly1305` crate) with the spec's HKDF subkey.
#![cfg(feature = "test-vectors")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use ring::hkdf;
use sealed_session::token::*;
use sealed_session::*;
use serde::Deserialize;

#[derive(Deserialize)]
struct File<C> {
    case_count: usize,
    time_origin: u64,
    epoch_seconds: u64,
    cases: Vec<C>,
}

#[derive(Deserialize)]
struct KeyJson {
    id: u8,
    state: String,
    key: String,
    seal_key: String,
}

#[derive(Deserialize)]
struct ClaimsJson {
    session_id: String,
    subject: Option<String>,
    privilege: String,
    epoch: u64,
    issued_at: u64,
    expires_at: u64,
    session_deadline: u64,
    authenticated_at: u64,
    binding: String,
    flags: u8,
    app_data: String,
}

#[derive(Deserialize)]
struct ValidCase {
    name: String,
    key_id: u8,
    keys: Vec<KeyJson>,
    context: String,
    now: u64,
    leeway: u64,
    nonce: String,
    token_id: String,
    claims: ClaimsJson,
    plaintext: String,
    token: String,
    token_length: usize,
    expect_fail: bool,
}

#[derive(Deserialize)]
struct SealedJson {
    key_id: u8,
    key: String,
    context: String,
    nonce: String,
    plaintext: String,
}

#[derive(Deserialize)]
struct InvalidCase {
    name: String,
    keys: Vec<KeyJson>,
    context: String,
    now: u64,
    leeway: u64,
    sealed: Option<SealedJson>,
    token: String,
    token_length: usize,
    expect_fail: bool,
    reason: String,
}

fn load<C: serde::de::DeserializeOwned>(file: &str) -> File<C> {
    let path = format!("{}/spec/vectors/{file}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let doc: File<C> = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"));
    assert_eq!(doc.case_count, doc.cases.len(), "{file}: case_count");
    assert_eq!(doc.time_origin, TIME_ORIGIN.0);
    assert_eq!(doc.epoch_seconds, EPOCH_SECONDS);
    doc
}

fn unhex(s: &str) -> Vec<u8> {
    assert!(s.len().is_multiple_of(2), "odd hex length");
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn unhex_array<const N: usize>(s: &str) -> [u8; N] {
    unhex(s).try_into().unwrap()
}

fn state(s: &str) -> KeyState {
    match s {
        "primary" => KeyState::Primary,
        "accept-only" => KeyState::AcceptOnly,
        "retired" => KeyState::Retired,
        other => panic!("unknown key state {other}"),
    }
}

/// The spec's sealing subkey: HKDF-SHA256, salt "sealed-session/v1", info "... seal".
fn seal_key(secret: &[u8; 32]) -> [u8; 32] {
    struct Len;
    impl hkdf::KeyType for Len {
        fn len(&self) -> usize {
            32
        }
    }
    let prk = hkdf::Salt::new(hkdf::HKDF_SHA256, b"sealed-session/v1").extract(secret);
    let mut out = [0u8; 32];
    prk.expand(&[b"sealed-session/v1 seal"], Len)
        .unwrap()
        .fill(&mut out)
        .unwrap();
    out
}

fn opening_sealer(keys: &[KeyJson], context: &str, leeway: u64) -> Sealer {
    let mut ring = KeyRing::empty();
    for k in keys {
        let secret = unhex_array::<32>(&k.key);
        assert_eq!(hex_of(&seal_key(&secret)), k.seal_key, "seal_key of key {}", k.id);
        ring.insert(KeyId(k.id), state(&k.state), SessionKey::from_bytes(secret))
            .unwrap();
    }
    Sealer::new(ring, context)
        .unwrap()
        .with_leeway(Duration::from_secs(leeway))
        .unwrap()
}

fn minting_sealer(id: u8, secret: [u8; 32], context: &str) -> Sealer {
    let ring = KeyRing::empty()
        .with_key(KeyId(id), KeyState::Primary, SessionKey::from_bytes(secret))
        .unwrap();
    Sealer::new(ring, context).unwrap()
}

fn hex_of(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn claims_of(c: &ClaimsJson) -> Claims {
    Claims {
        session_id: SessionId(unhex_array(&c.session_id)),
        subject: c.subject.clone(),
        privilege: match c.privilege.as_str() {
            "anonymous" => Privilege::Anonymous,
            "authenticated" => Privilege::Authenticated,
            "elevated" => Privilege::Elevated,
            other => panic!("unknown privilege {other}"),
        },
        epoch: Epoch(c.epoch),
        issued_at: UnixTime(c.issued_at),
        expires_at: UnixTime(c.expires_at),
        session_deadline: UnixTime(c.session_deadline),
        authenticated_at: UnixTime(c.authenticated_at),
        binding: BindingHash(unhex_array(&c.binding)),
        flags: Flags(c.flags),
        app_data: unhex(&c.app_data),
    }
}

/// Opens a token with nothing of this crate but the spec: base64url, header, HKDF subkey,
/// XChaCha20-Poly1305 with AAD = version ‖ key id ‖ context.
fn independent_open(token: &str, secret: &[u8; 32], context: &str) -> Vec<u8> {
    let bytes = URL_SAFE_NO_PAD.decode(token).unwrap();
    let (header, rest) = bytes.split_at(2);
    let (nonce, sealed) = rest.split_at(24);
    let mut aad = header.to_vec();
    aad.extend_from_slice(context.as_bytes());
    let aead = XChaCha20Poly1305::new(&seal_key(secret).into());
    aead.decrypt(
        XNonce::from_slice(nonce),
        Payload {
            msg: sealed,
            aad: &aad,
        },
    )
    .unwrap()
}

fn check_valid(case: &ValidCase) {
    let name = &case.name;
    assert!(!case.expect_fail, "{name}");
    let claims = claims_of(&case.claims);
    let nonce = unhex_array::<24>(&case.nonce);
    let secret = unhex_array::<32>(&case.keys.iter().find(|k| k.id == case.key_id).unwrap().key);
    let minter = minting_sealer(case.key_id, secret, &case.context);
    let minted = minter.dangerous_mint_with_nonce(&claims, nonce).unwrap();
    assert_eq!(minted.expose_secret(), case.token, "{name}: minted token");
    assert_eq!(case.token.len(), case.token_length, "{name}: length");
    let plaintext = unhex(&case.plaintext);
    let raw = minter.dangerous_seal_raw(&plaintext, nonce).unwrap();
    assert_eq!(raw.expose_secret(), case.token, "{name}: raw seal");
    assert_eq!(
        independent_open(&case.token, &secret, &case.context),
        plaintext,
        "{name}"
    );
    assert_eq!(
        decode_claims(&plaintext).unwrap(),
        claims,
        "{name}: decoded plaintext"
    );

    let opened = opening_sealer(&case.keys, &case.context, case.leeway)
        .open_at(&case.token, UnixTime(case.now))
        .unwrap_or_else(|e| panic!("{name}: {e:?}"));
    assert_eq!(opened.claims, claims, "{name}: opened claims");
    assert_eq!(opened.key_id, KeyId(case.key_id), "{name}");
    assert_eq!(hex_of(&opened.token_id.0), case.token_id, "{name}: token id");
    assert_eq!(
        case.token_id,
        case.nonce[..32],
        "{name}: token id is nonce[0..16]"
    );
}

fn check_invalid(case: &InvalidCase) {
    let name = &case.name;
    assert!(case.expect_fail, "{name}");
    assert_eq!(case.token.len(), case.token_length, "{name}: length");
    if let Some(s) = &case.sealed {
        let sealer = minting_sealer(s.key_id, unhex_array(&s.key), &s.context);
        let token = sealer
            .dangerous_seal_raw(&unhex(&s.plaintext), unhex_array(&s.nonce))
            .unwrap();
        assert_eq!(token.expose_secret(), case.token, "{name}: sealed token");
    }
    let refused = opening_sealer(&case.keys, &case.context, case.leeway)
        .open_at(&case.token, UnixTime(case.now))
        .map(|o| o.claims)
        .expect_err(name);
    assert_eq!(refused.reason().code(), case.reason, "{name}");
    // Refusal is opaque to the client.
    assert_eq!(refused.to_string(), "session token rejected");
}

#[test]
fn valid_vectors_mint_and_open() {
    let file: File<ValidCase> = load("valid.json");
    assert!(file.cases.len() >= 20, "only {} valid cases", file.cases.len());
    for case in &file.cases {
        check_valid(case);
    }
    let reference = file
        .cases
        .iter()
        .find(|c| c.name == "reference_authenticated")
        .unwrap();
    assert_eq!(reference.token_length, 130);
    let longest = file.cases.iter().map(|c| c.token_length).max().unwrap();
    assert_eq!(longest, MAX_TOKEN_CHARS);
}

#[test]
fn invalid_vectors_are_refused_with_their_reason() {
    let file: File<InvalidCase> = load("invalid.json");
    assert!(file.cases.len() >= 25, "only {} invalid cases", file.cases.len());
    for case in &file.cases {
        check_invalid(case);
    }
    // Every reason the format layer can produce has at least one case.
    for reason in [
        Reason::Oversized,
        Reason::Malformed,
        Reason::UnsupportedVersion,
        Reason::UnknownKey,
        Reason::RetiredKey,
        Reason::Forged,
        Reason::BadClaims,
        Reason::Expired,
        Reason::NotYetValid,
    ] {
        let n = file.cases.iter().filter(|c| c.reason == reason.code()).count();
        assert!(n > 0, "no invalid case for {reason}");
    }
}

#[test]
fn case_names_are_unique() {
    let valid: File<ValidCase> = load("valid.json");
    let invalid: File<InvalidCase> = load("invalid.json");
    let mut names: Vec<&str> = valid.cases.iter().map(|c| c.name.as_str()).collect();
    names.extend(invalid.cases.iter().map(|c| c.name.as_str()));
    let total = names.len();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), total);
}
