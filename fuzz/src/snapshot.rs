//! Snapshot fixtures: the key ring of `spec/vectors/snapshot.json` and an HMAC computed from
//! the spec (spec/revocation.md §7: HKDF-SHA256 then HMAC-SHA256), not through the crate, so
//! the structure-aware target can seal any body and reach the decoder.

use std::sync::OnceLock;

use ring::{hkdf, hmac};
use sealed_session::revocation::{FilterConfig, RevocationSet};
use sealed_session::{KeyId, KeyRing, KeyState, SessionKey};

/// The vectors' ring: primary, accept-only, retired (secrets are public test data).
pub const KEYS: [(u8, KeyState, [u8; 32]); 3] = [
    (1, KeyState::Primary, [0x11; 32]),
    (2, KeyState::AcceptOnly, [0x22; 32]),
    (3, KeyState::Retired, [0x33; 32]),
];

/// The vectors' filter geometry, so their snapshots merge into [`set`].
pub fn config() -> FilterConfig {
    FilterConfig::default()
        .with_capacity(16)
        .with_false_positive_rate(1e-3)
        .with_epochs_per_generation(1)
}

/// The ring every snapshot target opens with.
pub fn ring() -> &'static KeyRing {
    static R: OnceLock<KeyRing> = OnceLock::new();
    R.get_or_init(new_ring)
}

/// A fresh copy of [`ring`] (a `KeyRing` is not `Clone`; a store takes one by value).
pub fn new_ring() -> KeyRing {
    let mut ring = KeyRing::empty();
    for (id, state, secret) in KEYS {
        let _ = ring.insert(KeyId(id), state, SessionKey::from_bytes(secret));
    }
    ring
}

/// An empty set with the vectors' geometry (one per input keeps runs independent).
pub fn set() -> RevocationSet {
    RevocationSet::new(config()).unwrap_or_else(|e| panic!("fixture: {e}"))
}

/// `version ‖ key id ‖ body ‖ HMAC-SHA256(K_snap, version ‖ key id ‖ body)` under key `id`.
pub fn seal(id: u8, body: &[u8]) -> Option<Vec<u8>> {
    static MACS: OnceLock<Vec<(u8, hmac::Key)>> = OnceLock::new();
    let macs = MACS.get_or_init(|| {
        KEYS.iter()
            .filter_map(|&(id, _, secret)| Some((id, snapshot_subkey(&secret)?)))
            .collect()
    });
    let key = &macs.iter().find(|k| k.0 == id)?.1;
    let mut out = vec![2, id];
    out.extend_from_slice(body);
    let tag = hmac::sign(key, &out);
    out.extend_from_slice(tag.as_ref());
    Some(out)
}

/// K_snap = HKDF-SHA256(salt "sealed-session/v1", the secret, info "sealed-session/v1 snapshot").
fn snapshot_subkey(secret: &[u8; 32]) -> Option<hmac::Key> {
    struct Len;
    impl hkdf::KeyType for Len {
        fn len(&self) -> usize {
            32
        }
    }
    let prk = hkdf::Salt::new(hkdf::HKDF_SHA256, b"sealed-session/v1").extract(secret);
    let mut sub = [0u8; 32];
    prk.expand(&[b"sealed-session/v1 snapshot"], Len)
        .ok()?
        .fill(&mut sub)
        .ok()?;
    Some(hmac::Key::new(hmac::HMAC_SHA256, &sub))
}
