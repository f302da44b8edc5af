//! Fixtures shared by the fuzz targets and the seed generator: fixed keys, a fixed clock, and
//! an independent decryption of a token (key derivation re-done from spec/format.md, "Keys");
//! feed, snapshot, log and web fixtures in their modules.

pub mod feed;
pub mod log;
pub mod snapshot;
pub mod web;

use std::sync::OnceLock;

use ring::hkdf;
use sealed_session::token::aead as xchacha;
use sealed_session::revocation::{RevocationSet, RevocationSnapshot};
use sealed_session::token::{Claims, Epoch, Sealer, UntrustedToken, MAX_LEEWAY, VERSION};
use sealed_session::{KeyId, KeyRing, KeyState, SessionKey, UnixTime};

/// The fuzzing clock (2026-11-18); seeds are valid at this instant.
pub const NOW: UnixTime = UnixTime(1_795_000_100);
/// Application context of every fuzz sealer.
pub const CONTEXT: &str = "fuzz";
/// The ring the `open` target opens with: one key in each state (secrets are public test data).
pub const KEYS: [(u8, KeyState, [u8; 32]); 3] = [
    (1, KeyState::Primary, [0x01; 32]),
    (2, KeyState::AcceptOnly, [0x02; 32]),
    (3, KeyState::Retired, [0x03; 32]),
];
/// Header + nonce length, and tag length (spec/format.md, "Byte layout").
pub const PREFIX_LEN: usize = 2 + xchacha::NONCE_LEN;

/// The sealer with all of [`KEYS`], leeway 0.
pub fn opener() -> &'static Sealer {
    static S: OnceLock<Sealer> = OnceLock::new();
    S.get_or_init(|| {
        let mut ring = KeyRing::empty();
        for (id, state, secret) in KEYS {
            let _ = ring.insert(KeyId(id), state, SessionKey::from_bytes(secret));
        }
        Sealer::new(ring, CONTEXT).unwrap_or_else(|e| panic!("fixture: {e}"))
    })
}

/// A sealer whose only (primary) key is `KEYS[i]`, with the largest leeway, so that anything
/// it mints opens at the token's own issue time.
pub fn minter(id: KeyId) -> Option<&'static Sealer> {
    static S: OnceLock<Vec<Sealer>> = OnceLock::new();
    let all = S.get_or_init(|| {
        KEYS.iter()
            .map(|&(id, _, secret)| {
                let ring = KeyRing::empty()
                    .with_key(KeyId(id), KeyState::Primary, SessionKey::from_bytes(secret))
                    .and_then(|r| Sealer::new(r, CONTEXT))
                    .and_then(|s| s.with_leeway(MAX_LEEWAY));
                ring.unwrap_or_else(|e| panic!("fixture: {e}"))
            })
            .collect()
    });
    KEYS.iter().position(|k| k.0 == id.0).and_then(|i| all.get(i))
}

/// The sealing subkey of key `id`, derived as spec/format.md says (HKDF-SHA256, salt
/// `sealed-session/v1`, info `sealed-session/v1 seal`) without using the crate's derivation.
pub fn seal_subkey(id: KeyId) -> Option<[u8; 32]> {
    struct Len;
    impl hkdf::KeyType for Len {
        fn len(&self) -> usize {
            32
        }
    }
    let secret = KEYS.iter().find(|k| k.0 == id.0)?.2;
    let prk = hkdf::Salt::new(hkdf::HKDF_SHA256, b"sealed-session/v1").extract(&secret);
    let mut out = [0u8; 32];
    prk.expand(&[b"sealed-session/v1 seal"], Len)
        .ok()?
        .fill(&mut out)
        .ok()?;
    Some(out)
}

/// The nonce of a token text that parses.
pub fn nonce_of(text: &str) -> Option<[u8; xchacha::NONCE_LEN]> {
    let token = UntrustedToken::parse(text).ok()?;
    token.as_bytes().get(2..PREFIX_LEN)?.try_into().ok()
}

/// Decrypts a token with [`seal_subkey`] and the raw XChaCha20-Poly1305, returning the claims
/// plaintext: an opening path that shares nothing with `Sealer::open_at` but the AEAD.
pub fn plaintext_of(text: &str) -> Option<Vec<u8>> {
    let token = UntrustedToken::parse(text).ok()?;
    let bytes = token.as_bytes();
    let key = seal_subkey(token.key_id())?;
    let nonce: [u8; xchacha::NONCE_LEN] = bytes.get(2..PREFIX_LEN)?.try_into().ok()?;
    let tag_at = bytes.len().checked_sub(xchacha::TAG_LEN)?;
    let tag: [u8; xchacha::TAG_LEN] = bytes.get(tag_at..)?.try_into().ok()?;
    let mut aad = vec![VERSION, token.key_id().0];
    aad.extend_from_slice(CONTEXT.as_bytes());
    let mut pt = bytes.get(PREFIX_LEN..tag_at)?.to_vec();
    xchacha::open_in_place(&key, &nonce, &aad, &mut pt, &tag).ok()?;
    Some(pt)
}

/// Re-mints `claims` under `id` with `nonce`: the only public claims encoder.
pub fn remint(id: KeyId, claims: &Claims, nonce: [u8; xchacha::NONCE_LEN]) -> Option<String> {
    let token = minter(id)?.dangerous_mint_with_nonce(claims, nonce).ok()?;
    Some(token.expose_secret().to_owned())
}

/// What every snapshot that opened must satisfy: sealed again it opens to the same value and
/// the same bytes (snapshots are deterministic, spec/revocation.md §7); `contains` answers for
/// each generation; merged into `set` (when the geometry fits) nothing it holds is lost.
pub fn check_snapshot(snapshot: &RevocationSnapshot, ring: &KeyRing, set: &RevocationSet) {
    let bytes = snapshot.to_bytes(ring).expect("an opened snapshot seals again");
    let again = RevocationSnapshot::from_bytes(&bytes, ring).expect("a sealed snapshot opens");
    assert!(again == *snapshot, "a snapshot changed through seal and open");
    assert!(
        again.to_bytes(ring).ok().as_deref() == Some(bytes.as_slice()),
        "sealing one snapshot twice gave different bytes"
    );
    let per = u64::from(snapshot.epochs_per_generation());
    let epochs: Vec<Epoch> = snapshot
        .generations()
        .iter()
        .map(|g| Epoch(g.saturating_mul(per)))
        .collect();
    let ids = [[0u8; 16], [0xff; 16], [0x2a; 16]];
    for (epoch, id) in epochs.iter().flat_map(|e| ids.iter().map(move |id| (*e, id))) {
        let _ = snapshot.contains(epoch, id);
    }
    if set.merge(snapshot).is_err() {
        return;
    }
    for (epoch, id) in epochs.iter().flat_map(|e| ids.iter().map(move |id| (*e, id))) {
        assert!(
            !snapshot.contains(epoch, id) || set.contains(epoch, id),
            "merge lost a revoked id"
        );
    }
    assert!(set.kill_switch() >= snapshot.kill_switch(), "merge lost the kill switch");
    for (subject, cutoff) in snapshot.subject_cutoffs() {
        assert!(
            set.subject_cutoff(subject) >= Some(cutoff),
            "merge lost a subject cutoff"
        );
    }
}

/// DPoP fixtures: the example proofs of RFC 9449 §4.1 (token request) and §7.1 (resource
/// request), and the request and instant at which the first one verifies.
pub mod dpop {
    use sealed_session::dpop::{DpopConfig, DpopRequest, DpopVerifier};
    use sealed_session::UnixTime;

    /// RFC 9449 §4.1: `POST https://server.example.com/token`, `iat` 1562262616.
    pub const RFC_TOKEN_PROOF: &str = "eyJ0eXAiOiJkcG9wK2p3dCIsImFsZyI6IkVTMjU2IiwiandrIjp7Imt0eSI6IkVDIiwieCI6Imw4dEZyaHgtMzR0VjNoUklDUkRZOXpDa0RscEJoRjQyVVFVZldWQVdCRnMiLCJ5IjoiOVZFNGpmX09rX282NHpiVFRsY3VOSmFqSG10NnY5VERWclUwQ2R2R1JEQSIsImNydiI6IlAtMjU2In19.eyJqdGkiOiItQndDM0VTYzZhY2MybFRjIiwiaHRtIjoiUE9TVCIsImh0dSI6Imh0dHBzOi8vc2VydmVyLmV4YW1wbGUuY29tL3Rva2VuIiwiaWF0IjoxNTYyMjYyNjE2fQ.2-GxA6T8lP4vfrg8v-FdWP0A0zdrj8igiMLvqRMUvwnQg4PtFLbdLXiOSsX0x7NVY-FNyJK70nfbV37xRZT3Lg";
    /// RFC 9449 §7.1: `GET https://resource.example.org/protectedresource` with `ath`.
    pub const RFC_RESOURCE_PROOF: &str = "eyJ0eXAiOiJkcG9wK2p3dCIsImFsZyI6IkVTMjU2IiwiandrIjp7Imt0eSI6IkVDIiwieCI6Imw4dEZyaHgtMzR0VjNoUklDUkRZOXpDa0RscEJoRjQyVVFVZldWQVdCRnMiLCJ5IjoiOVZFNGpmX09rX282NHpiVFRsY3VOSmFqSG10NnY5VERWclUwQ2R2R1JEQSIsImNydiI6IlAtMjU2In19.eyJqdGkiOiJlMWozVl9iS2ljOC1MQUVCIiwiaHRtIjoiR0VUIiwiaHR1IjoiaHR0cHM6Ly9yZXNvdXJjZS5leGFtcGxlLm9yZy9wcm90ZWN0ZWRyZXNvdXJjZSIsImlhdCI6MTU2MjI2MjYxOCwiYXRoIjoiZlVIeU8ycjJaM0RaNTNFc05yV0JiMHhXWG9hTnk1OUlpS0NBcWtzbVFFbyJ9.2oW9RP35yRqzhrtNP86L-Ey71EOptxRimPPToA1plemAgR6pxHF8y6-yqyVnmcw6Fy1dqd-jfxSYoMxhAJpLjA";
    /// The instant the fuzz target verifies at: `RFC_TOKEN_PROOF`'s `iat`.
    pub const NOW: UnixTime = UnixTime(1_562_262_616);

    /// The request `RFC_TOKEN_PROOF` was made for.
    pub fn request() -> DpopRequest<'static> {
        DpopRequest::new("POST", "https://server.example.com/token")
    }

    /// A fresh verifier with a small replay cache (one per input keeps runs independent).
    pub fn verifier() -> DpopVerifier {
        DpopVerifier::new(DpopConfig::default().with_replay_capacity(8))
            .unwrap_or_else(|e| panic!("fixture: {e}"))
    }
}
