//! Writes the token format's test vectors, `spec/vectors/valid.json` and
//! `spec/vectors/invalid.json`, deterministically: fixed keys, nonces and clock, stable order.
//!
//! `cargo run --example gen-vectors --features test-vectors`; CI reruns it and fails when the
//! files change (`git diff --exit-code -- spec/vectors`).
//!
//! The claims encoding is produced here by a small encoder written from `spec/format.md`
//! (`material.rs`, not the library's), and every valid token is checked to be byte-identical
//! to what the library mints. Every expected reason is stated by construction and checked
//! against the library; a disagreement aborts the run instead of being written down.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod bind;
mod binding;
mod claims;
mod gen;
mod invalid;
mod keyfile;
mod material;
mod valid;

use sealed_session::token::{EPOCH_SECONDS, TIME_ORIGIN};
use sealed_session::Reason;
use serde::Serialize;

/// One vector file (field order is the output order).
#[derive(Serialize)]
struct File<C> {
    description: &'static str,
    format: &'static str,
    spec: &'static str,
    notes: Vec<&'static str>,
    time_origin: u64,
    epoch_seconds: u64,
    case_count: usize,
    cases: Vec<C>,
}

const NOTES: [&str; 6] = [
    "hex strings are lowercase; 'key' is the 32-byte master secret, 'seal_key' its HKDF-SHA256 sealing subkey",
    "times are unix seconds; 'wire' holds the values as encoded (issued_at relative to time_origin)",
    "integers may exceed 2^53 (maximum_length_token): parse them as u64",
    "'keys' is the opening ring with each key's state; a valid case was minted by key 'key_id' as primary",
    "'sealed' (invalid cases) says how a token was sealed, when it was not edited afterwards",
    "tokens are ASCII except in non_ascii_character; token_length counts bytes",
];

fn write<C: Serialize>(file: &str, description: &'static str, cases: Vec<C>) {
    let doc = File {
        description,
        format: "sealed-session token v1",
        spec: "spec/format.md",
        notes: NOTES.to_vec(),
        time_origin: TIME_ORIGIN.0,
        epoch_seconds: EPOCH_SECONDS,
        case_count: cases.len(),
        cases,
    };
    let mut text = serde_json::to_string_pretty(&doc).unwrap();
    text.push('\n');
    let path = format!("{}/spec/vectors/{file}", env!("CARGO_MANIFEST_DIR"));
    std::fs::write(&path, text).unwrap();
    println!("wrote {path}: {} cases", doc.case_count);
}

fn main() {
    binding::write();
    keyfile::write();
    let mut g = gen::Gen::default();
    valid::cases(&mut g);
    invalid::structural(&mut g);
    invalid::keys(&mut g);
    claims::cases(&mut g);
    invalid::times(&mut g);
    let format_reasons = [
        Reason::Oversized,
        Reason::Malformed,
        Reason::UnsupportedVersion,
        Reason::UnknownKey,
        Reason::RetiredKey,
        Reason::Forged,
        Reason::BadClaims,
        Reason::Expired,
        Reason::NotYetValid,
    ];
    for reason in format_reasons {
        assert!(
            g.invalid.iter().any(|c| c.reason == reason.code()),
            "{reason} uncovered"
        );
    }
    write(
        "valid.json",
        "sealed-session v1 tokens that must open: mint with the fixed nonce to reproduce 'token' \
         byte for byte; open at 'now' with 'leeway' to get 'claims'",
        g.valid,
    );
    write(
        "invalid.json",
        "sealed-session v1 tokens that must be refused with exactly 'reason' when opened at \
         'now' with 'leeway' by the ring 'keys' for 'context'",
        g.invalid,
    );
}
