//! The cases: one per comparison of secret-derived bytes, each refusing a value that differs
//! from the expected one in its first or its last byte, through the whole rejection path.

use std::sync::Arc;

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;
use ring::digest;
use ring::signature::{Ed25519KeyPair, KeyPair};
use sealed_session::__vectors::feed;
use sealed_session::dpop::{
    DpopConfig, DpopError, DpopNonces, DpopRequest, DpopVerifier, JwkThumbprint, NonceError,
};
use sealed_session::revocation::{
    FilterConfig, MemoryStore, Revocation, RevocationSnapshot, RevocationStore, SnapshotError,
};
use sealed_session::token::{BindingHash, Claims, Epoch, Flags, Sealer, SessionId};
use sealed_session::*;

/// Which byte of the compared value differs.
#[derive(Clone, Copy)]
pub enum Position {
    First,
    Last,
}

impl Position {
    /// Flips the chosen byte of `bytes`.
    fn flip(self, bytes: &mut [u8]) -> Result<(), String> {
        let index = match self {
            Self::First => 0,
            Self::Last => bytes.len().checked_sub(1).ok_or("nothing to flip")?,
        };
        *bytes.get_mut(index).ok_or("nothing to flip")? ^= 0x01;
        Ok(())
    }
}

/// A prepared rejection, run once per iteration.
pub trait Case {
    /// Runs the rejection path once; true when it refused for the expected reason.
    fn refused(&self) -> bool;
}

/// A named case: how to prepare it, and the function whose instructions are counted.
pub struct Named {
    pub name: &'static str,
    pub counted: &'static str,
    pub prepare: fn(Position) -> Result<Box<dyn Case>, String>,
}

/// The counted function of most cases: the probe's whole loop.
const MEASURE: &str = "ct_probe::measure";

pub const CASES: &[Named] = &[
    Named {
        name: "binding",
        counted: MEASURE,
        prepare: binding,
    },
    Named {
        name: "token_tag",
        counted: MEASURE,
        prepare: token_tag,
    },
    Named {
        name: "snapshot_mac",
        counted: MEASURE,
        prepare: snapshot_mac,
    },
    Named {
        name: "stream_mac",
        counted: MEASURE,
        prepare: stream_mac,
    },
    Named {
        name: "dpop_nonce",
        counted: MEASURE,
        prepare: dpop_nonce,
    },
    Named {
        name: "dpop_thumbprint",
        counted: MEASURE,
        prepare: dpop_thumbprint,
    },
    // The two proofs differ (their `ath` is signed), and Ed25519 verification is variable-time
    // over public data, so only the claims check that compares `ath` is counted.
    Named {
        name: "dpop_ath",
        counted: "sealed_session::dpop::claims::Claims::check_ath",
        prepare: dpop_ath,
    },
];

const NOW: UnixTime = UnixTime(1_795_000_100);
const CONTEXT: &str = "ct";
const USER_AGENT: &str = "Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0";
const NONCE: [u8; 24] = [0x4e; 24];

fn err(e: impl std::fmt::Display) -> String {
    e.to_string()
}

fn client() -> ClientContext<'static> {
    ClientContext::new(Some([203, 0, 113, 7].into()), Some(USER_AGENT))
}

/// A manager that only refuses: rotation off, and a binding mismatch is not also a revocation
/// (which would make every later iteration a `Revoked` one instead).
fn manager() -> Result<SessionManager, String> {
    let keys = KeyRing::empty()
        .with_key(KeyId(1), KeyState::Primary, SessionKey::from_bytes([0x0c; 32]))
        .map_err(err)?;
    let store = MemoryStore::new(FilterConfig::default().with_capacity(1000)).map_err(err)?;
    let policy = Policy::default()
        .with_rotation(Rotation::Off)
        .with_mismatch_action(MismatchAction::Reject);
    SessionManager::builder(keys, CONTEXT, Arc::new(store))
        .with_policy(policy)
        .with_clock(Arc::new(ManualClock::new(NOW)))
        .build()
        .map_err(err)
}

/// A session token bound to [`client`], minted with a fixed nonce, and its opened claims.
fn bound_token(manager: &SessionManager) -> Result<(Sealer, Claims, String), String> {
    let deadline = UnixTime(NOW.0 + 86_400);
    let claims = Claims {
        session_id: SessionId([0x5e; 16]),
        subject: Some("alice".into()),
        privilege: Privilege::Authenticated,
        epoch: Epoch::containing(deadline),
        issued_at: UnixTime(NOW.0 - 60),
        expires_at: UnixTime(NOW.0 + 1800),
        session_deadline: deadline,
        authenticated_at: UnixTime(NOW.0 - 60),
        binding: BindingHash::default(),
        flags: Flags::default(),
        app_data: Vec::new(),
    };
    let token = manager
        .dangerous_mint_bound_with_nonce(claims, &client(), NONCE)
        .map_err(err)?;
    let text = token.expose_secret().to_owned();
    let _genuine = manager
        .verify_at(&text, &client(), NOW)
        .map_err(|r| format!("the genuine token: {r}"))?;
    let sealer = Sealer::with_keys(manager.keys().clone(), CONTEXT).map_err(err)?;
    let opened = sealer.open_at(&text, NOW).map_err(err)?;
    Ok((sealer, opened.claims, text))
}

struct Verify {
    manager: SessionManager,
    token: String,
    reason: Reason,
}

impl Case for Verify {
    fn refused(&self) -> bool {
        self.manager
            .verify_at(&self.token, &client(), NOW)
            .is_err_and(|r| r.reason() == self.reason)
    }
}

/// `SessionManager::verify` of a token whose sealed binding value differs from the one the
/// client context gives (`Opened::binding_matches`, `subtle::ConstantTimeEq`).
fn binding(position: Position) -> Result<Box<dyn Case>, String> {
    let manager = manager()?;
    let (sealer, mut claims, _) = bound_token(&manager)?;
    position.flip(&mut claims.binding.0)?;
    let token = sealer.dangerous_mint_with_nonce(&claims, NONCE).map_err(err)?;
    let token = token.expose_secret().to_owned();
    Ok(Box::new(Verify {
        manager,
        token,
        reason: Reason::Unbound,
    }))
}

/// `SessionManager::verify` of a token whose Poly1305 tag is wrong (ring's AEAD open compares
/// it; the crate never sees the expected tag).
fn token_tag(position: Position) -> Result<Box<dyn Case>, String> {
    let manager = manager()?;
    let (_, _, text) = bound_token(&manager)?;
    let mut bytes = B64.decode(&text).map_err(err)?;
    let tag_at = bytes.len().checked_sub(16).ok_or("short token")?;
    position.flip(bytes.get_mut(tag_at..).ok_or("short token")?)?;
    let token = B64.encode(bytes);
    Ok(Box::new(Verify {
        manager,
        token,
        reason: Reason::Forged,
    }))
}

struct Snapshot {
    ring: KeyRing,
    bytes: Vec<u8>,
}

impl Case for Snapshot {
    fn refused(&self) -> bool {
        RevocationSnapshot::from_bytes(&self.bytes, &self.ring) == Err(SnapshotError::BadMac)
    }
}

/// `RevocationSnapshot::from_bytes` of a snapshot whose HMAC differs (`ring::hmac::verify`).
fn snapshot_mac(position: Position) -> Result<Box<dyn Case>, String> {
    let ring = KeyRing::empty()
        .with_key(KeyId(1), KeyState::Primary, SessionKey::from_bytes([0x11; 32]))
        .map_err(err)?;
    let store = MemoryStore::new(FilterConfig::default().with_capacity(16)).map_err(err)?;
    for i in 0..8u8 {
        let id = Revocation::Id {
            epoch: Epoch(52_608),
            id: [i; 16],
        };
        store.revoke(id).map_err(err)?;
    }
    let mut bytes = store.set().snapshot().to_bytes(&ring).map_err(err)?;
    RevocationSnapshot::from_bytes(&bytes, &ring).map_err(|e| format!("the genuine snapshot: {e}"))?;
    let mac_at = bytes.len().checked_sub(32).ok_or("short snapshot")?;
    position.flip(bytes.get_mut(mac_at..).ok_or("short snapshot")?)?;
    Ok(Box::new(Snapshot { ring, bytes }))
}

struct StreamRecord {
    ring: KeyRing,
    fields: Vec<(Vec<u8>, Vec<u8>)>,
}

impl Case for StreamRecord {
    fn refused(&self) -> bool {
        feed::open_entry(&self.ring, STREAM, &self.fields) == Err("bad_mac")
    }
}

const STREAM: &str = "sealed-session:ct:revocations";

/// The feed's opening of a Redis stream record whose HMAC differs (the tail's whole path:
/// fields, key id, node name, key lookup, then `ring::hmac::verify`).
fn stream_mac(position: Position) -> Result<Box<dyn Case>, String> {
    let ring = KeyRing::empty()
        .with_key(KeyId(1), KeyState::Primary, SessionKey::from_bytes([0x13; 32]))
        .map_err(err)?;
    let revocation = Revocation::Id {
        epoch: Epoch(52_608),
        id: [0x2a; 16],
    };
    let mut fields: Vec<(Vec<u8>, Vec<u8>)> = feed::seal_record(&ring, STREAM, "web-1", &revocation)
        .map_err(err)?
        .into_iter()
        .map(|(name, value)| (name.as_bytes().to_vec(), value))
        .collect();
    feed::open_entry(&ring, STREAM, &fields).map_err(|e| format!("the genuine record: {e}"))?;
    let (_, mac) = fields
        .iter_mut()
        .find(|(name, _)| name.as_slice() == b"m")
        .ok_or("no MAC field")?;
    position.flip(mac)?;
    Ok(Box::new(StreamRecord { ring, fields }))
}

struct Nonce {
    nonces: DpopNonces,
    nonce: String,
}

impl Case for Nonce {
    fn refused(&self) -> bool {
        self.nonces.check_at(&self.nonce, NOW) == Err(NonceError::Forged)
    }
}

/// `DpopNonces::check_at` of a nonce whose HMAC tag differs (checked under the current and the
/// previous key, `subtle::ConstantTimeEq` each).
fn dpop_nonce(position: Position) -> Result<Box<dyn Case>, String> {
    let nonces = DpopNonces::new(&[0x07; 32]).with_previous_key(&[0x08; 32]);
    let mut bytes = B64.decode(nonces.issue_at(NOW)).map_err(err)?;
    position.flip(bytes.get_mut(8..).ok_or("short nonce")?)?;
    let nonce = B64.encode(bytes);
    Ok(Box::new(Nonce { nonces, nonce }))
}

const METHOD: &str = "POST";
const URI: &str = "https://api.example/transfer";
const ACCESS_TOKEN: &[u8] = b"an access token bound to the client's key";

/// A compact JWS DPoP proof for [`METHOD`] [`URI`] at [`NOW`] under a fixed Ed25519 key
/// (Ed25519 signatures are deterministic: the same proof every run), with `extra` claims.
fn proof(extra: &str) -> Result<String, String> {
    let key = Ed25519KeyPair::from_seed_unchecked(&[0x42; 32]).map_err(err)?;
    let x = B64.encode(key.public_key().as_ref());
    let header =
        format!(r#"{{"typ":"dpop+jwt","alg":"EdDSA","jwk":{{"kty":"OKP","crv":"Ed25519","x":"{x}"}}}}"#);
    let claims = format!(
        r#"{{"jti":"ct-probe-0001","htm":"{METHOD}","htu":"{URI}","iat":{}{extra}}}"#,
        NOW.0
    );
    let input = format!("{}.{}", B64.encode(header), B64.encode(claims));
    let signature = B64.encode(key.sign(input.as_bytes()));
    Ok(format!("{input}.{signature}"))
}

fn verifier() -> Result<DpopVerifier, String> {
    DpopVerifier::new(DpopConfig::default().with_replay_capacity(8)).map_err(err)
}

struct Thumbprint {
    proof: String,
    session_jkt: String,
}

impl Case for Thumbprint {
    fn refused(&self) -> bool {
        // A fresh replay cache each time, so every iteration verifies the same proof afresh.
        let Ok(verifier) = verifier() else { return false };
        let Ok(verified) = verifier.verify_at(&self.proof, &DpopRequest::new(METHOD, URI), NOW) else {
            return false;
        };
        JwkThumbprint::from_jkt(&self.session_jkt).is_ok_and(|bound| verified.thumbprint != bound)
    }
}

/// A verified proof whose key is not the one the session is bound to: `JwkThumbprint` equality
/// (`subtle::ConstantTimeEq`) after the whole verification, the stored `jkt` parsed each time.
fn dpop_thumbprint(position: Position) -> Result<Box<dyn Case>, String> {
    let proof = proof("")?;
    let verified = verifier()?
        .verify_at(&proof, &DpopRequest::new(METHOD, URI), NOW)
        .map_err(|e| format!("the genuine proof: {e}"))?;
    let mut bound = *verified.thumbprint.as_bytes();
    position.flip(&mut bound)?;
    let session_jkt = JwkThumbprint::from_bytes(bound).to_string();
    Ok(Box::new(Thumbprint { proof, session_jkt }))
}

struct Ath {
    proof: String,
}

impl Case for Ath {
    fn refused(&self) -> bool {
        let Ok(verifier) = verifier() else { return false };
        let request = DpopRequest::new(METHOD, URI).with_access_token(ACCESS_TOKEN);
        verifier.verify_at(&self.proof, &request, NOW) == Err(DpopError::AthMismatch)
    }
}

/// A proof whose `ath` is not SHA-256 of the access token presented with it
/// (`subtle::ConstantTimeEq` in `Claims::check_ath`).
fn dpop_ath(position: Position) -> Result<Box<dyn Case>, String> {
    let genuine = B64.encode(digest::digest(&digest::SHA256, ACCESS_TOKEN));
    let request = DpopRequest::new(METHOD, URI).with_access_token(ACCESS_TOKEN);
    verifier()?
        .verify_at(&proof(&format!(r#","ath":"{genuine}""#))?, &request, NOW)
        .map_err(|e| format!("the genuine proof: {e}"))?;
    let mut ath = digest::digest(&digest::SHA256, ACCESS_TOKEN).as_ref().to_vec();
    position.flip(&mut ath)?;
    let proof = proof(&format!(r#","ath":"{}""#, B64.encode(ath)))?;
    Ok(Box::new(Ath { proof }))
}
