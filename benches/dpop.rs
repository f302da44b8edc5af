//! DPoP proof verification (RFC 9449): the whole accepted path for ES256 and EdDSA (a fresh
//! proof each iteration, signed outside the timing), ring's bare signature check as the
//! floor, and what the refusals an attacker can cause cost.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    missing_docs
)]

#[path = "../tests/dpop_support/mod.rs"]
mod dpop_support;

use std::hint::black_box;
use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;
use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use dpop_support::{ath, claims, ClientKey, METHOD, NOW, URI};
use ring::signature::{UnparsedPublicKey, ECDSA_P256_SHA256_FIXED, ED25519};
use sealed_session::dpop::{DpopConfig, DpopNonces, DpopRequest, DpopVerifier};
use serde_json::json;

/// Large enough that no run fills it (every proof is fresh and accepted).
fn verifier() -> DpopVerifier {
    DpopVerifier::new(DpopConfig::default().with_replay_capacity(1 << 22)).unwrap()
}

fn accepted(c: &mut Criterion) {
    let mut g = c.benchmark_group("dpop/verify");
    g.warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4));
    let request = DpopRequest::new(METHOD, URI);
    for key in [ClientKey::es256(), ClientKey::ed25519()] {
        let v = verifier();
        g.bench_function(key.alg(), |b| {
            b.iter_batched(
                || key.proof(),
                |proof| assert!(v.verify_at(black_box(&proof), &request, NOW).is_ok()),
                BatchSize::SmallInput,
            );
        });
    }
    // A resource request: access token hash and a server nonce on top.
    let key = ClientKey::es256();
    let nonces = DpopNonces::new(&[9; 32]);
    let token = b"Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU";
    let full = DpopRequest::new(METHOD, URI)
        .with_access_token(token)
        .requiring_nonce(&nonces);
    let v = verifier();
    g.bench_function("ES256+ath+nonce", |b| {
        b.iter_batched(
            || {
                let mut c = claims();
                c["ath"] = json!(ath(token));
                c["nonce"] = json!(nonces.issue_at(NOW));
                key.proof_with(&key.header(), &c)
            },
            |proof| assert!(v.verify_at(black_box(&proof), &full, NOW).is_ok()),
            BatchSize::SmallInput,
        );
    });
    g.finish();
}

/// ring's signature verification alone on the same kind of proof: the floor of the above.
fn ring_floor(c: &mut Criterion) {
    let mut g = c.benchmark_group("dpop/ring-floor");
    g.warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    for key in [ClientKey::es256(), ClientKey::ed25519()] {
        let proof = key.proof();
        let (input, sig) = proof.rsplit_once('.').unwrap();
        let sig = B64.decode(sig).unwrap();
        let jwk = key.jwk();
        let x = B64.decode(jwk["x"].as_str().unwrap()).unwrap();
        let public = match &key {
            ClientKey::Es256(_) => {
                let mut point = vec![4];
                point.extend(x);
                point.extend(B64.decode(jwk["y"].as_str().unwrap()).unwrap());
                UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, point)
            }
            ClientKey::Ed25519(_) => UnparsedPublicKey::new(&ED25519, x),
        };
        g.bench_function(key.alg(), |b| {
            b.iter(|| public.verify(black_box(input.as_bytes()), &sig).unwrap());
        });
    }
    g.finish();
}

fn refusals(c: &mut Criterion) {
    let mut g = c.benchmark_group("dpop/refuse");
    g.warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    let request = DpopRequest::new(METHOD, URI);
    let v = verifier();
    let key = ClientKey::es256();

    let mut h = key.header();
    h["pad"] = json!("x".repeat(1 << 20));
    let huge = key.proof_with(&h, &claims());
    g.bench_function("oversized-1MB", |b| {
        b.iter(|| v.verify_at(black_box(&huge), &request, NOW).unwrap_err())
    });

    let mut h = key.header();
    h["alg"] = json!("none");
    let none = key.proof_with(&h, &claims());
    g.bench_function("alg-none", |b| {
        b.iter(|| v.verify_at(black_box(&none), &request, NOW).unwrap_err())
    });

    let forged = ClientKey::es256().proof_with(&key.header(), &claims());
    g.bench_function("ES256-bad-signature", |b| {
        b.iter(|| v.verify_at(black_box(&forged), &request, NOW).unwrap_err())
    });

    let replayed = key.proof();
    v.verify_at(&replayed, &request, NOW).unwrap();
    g.bench_function("ES256-replayed", |b| {
        b.iter(|| v.verify_at(black_box(&replayed), &request, NOW).unwrap_err())
    });
    g.finish();
}

fn nonces(c: &mut Criterion) {
    let mut g = c.benchmark_group("dpop/nonce");
    let nonces = DpopNonces::new(&[9; 32]);
    let nonce = nonces.issue_at(NOW);
    g.bench_function("issue", |b| b.iter(|| nonces.issue_at(black_box(NOW))));
    g.bench_function("check", |b| {
        b.iter(|| nonces.check_at(black_box(&nonce), NOW).unwrap())
    });
    g.finish();
}

criterion_group!(benches, accepted, ring_floor, refusals, nonces);
criterion_main!(benches);
