//! Arbitrary bytes → `decode_claims`: never panics, and anything that decodes is the canonical
//! encoding of its claims.
//!
//! The crate's encoder is private, so the check goes through public paths only: the decoded
//! claims are sealed with a fixed nonce (`dangerous_mint_with_nonce`, the only public
//! encoder), the token is decrypted independently (HKDF subkey re-derived from the spec + the
//! raw XChaCha20-Poly1305), and that plaintext must equal the input bytes. Opening the token
//! with `Sealer::open_at` at its issue time must give the same claims back.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sealed_session::{KeyId, Reason};
use sealed_session::token::{decode_claims};
use sealed_session_fuzz::{minter, plaintext_of, remint};

const NONCE: [u8; 24] = [0x5c; 24];

fuzz_target!(|data: &[u8]| {
    let Ok(claims) = decode_claims(data) else {
        return;
    };
    let token = remint(KeyId(1), &claims, NONCE).expect("decoded claims must mint");
    let plaintext = plaintext_of(&token).expect("a minted token decrypts");
    assert!(
        plaintext == data,
        "decoded claims did not re-encode to the same bytes"
    );
    let minter = minter(KeyId(1)).expect("fixture key");
    match minter.open_at(&token, claims.issued_at) {
        Ok(opened) => assert!(opened.claims == claims, "claims changed through seal and open"),
        // Times saturate at the end of u64 seconds: a token expiring then is already expired.
        Err(r) => assert!(
            r.reason() == Reason::Expired && claims.expires_at.0 > u64::MAX - 60,
            "a minted token did not open at its issue time: {r:?}"
        ),
    }
});
