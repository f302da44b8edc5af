//! Deterministic keys and nonces, sealers, and the claims encoding written from the spec.

use std::time::Duration;

use ring::{digest, hkdf};
use sealed_session::token::{Claims, Sealer, EPOCH_SECONDS, TIME_ORIGIN};
use sealed_session::{KeyId, KeyRing, KeyState, Privilege, SessionKey};
use serde::Serialize;

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// `len` bytes of SHA-256 in counter mode over `label` (fixed, not secret, reproducible).
pub(crate) fn derive_vec(label: &str, len: usize) -> Vec<u8> {
    let mut out = Vec::new();
    let mut counter = 0u32;
    while out.len() < len {
        let block = digest::digest(&digest::SHA256, format!("{label}#{counter}").as_bytes());
        out.extend_from_slice(block.as_ref());
        counter += 1;
    }
    out.truncate(len);
    out
}

pub(crate) fn derive<const N: usize>(label: &str) -> [u8; N] {
    derive_vec(label, N).try_into().unwrap()
}

/// The master secret of key `id` in every ring of the vectors.
pub(crate) fn key(id: u8) -> [u8; 32] {
    derive(&format!("sealed-session test vectors: key {id}"))
}

pub(crate) fn nonce_for(name: &str) -> [u8; 24] {
    derive(&format!("sealed-session test vectors: nonce {name}"))
}

/// HKDF-SHA256(salt "sealed-session/v1", info "sealed-session/v1 seal"), written from the spec.
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

#[derive(Serialize, Clone)]
pub(crate) struct KeyJson {
    id: u8,
    state: &'static str,
    key: String,
    seal_key: String,
}

pub(crate) fn keys_json(ring: &[(u8, KeyState)]) -> Vec<KeyJson> {
    ring.iter()
        .map(|&(id, state)| KeyJson {
            id,
            state: state.as_str(),
            key: hex(&key(id)),
            seal_key: hex(&seal_key(&key(id))),
        })
        .collect()
}

/// The opening side: ring `(id, state)` with the keys of [`key`].
pub(crate) fn sealer(ring: &[(u8, KeyState)], context: &str, leeway: u64) -> Sealer {
    let mut keys = KeyRing::empty();
    for &(id, state) in ring {
        keys.insert(KeyId(id), state, SessionKey::from_bytes(key(id)))
            .unwrap();
    }
    Sealer::new(keys, context)
        .unwrap()
        .with_leeway(Duration::from_secs(leeway))
        .unwrap()
}

/// The minting side: one primary key.
pub(crate) fn minting_sealer(id: u8, secret: [u8; 32], context: &str) -> Sealer {
    let keys = KeyRing::empty()
        .with_key(KeyId(id), KeyState::Primary, SessionKey::from_bytes(secret))
        .unwrap();
    Sealer::new(keys, context).unwrap()
}

pub(crate) fn seal_raw(id: u8, secret: [u8; 32], context: &str, plaintext: &[u8], nonce: [u8; 24]) -> String {
    minting_sealer(id, secret, context)
        .dangerous_seal_raw(plaintext, nonce)
        .unwrap()
        .expose_secret()
        .to_owned()
}

// The claims encoding, from the spec: postcard of the fields in order; u8 raw, u32/u64
// unsigned LEB128 (minimal), [u8; 16] raw, str/bytes = LEB128 length then the bytes.

pub(crate) fn varint(mut v: u64) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let low = u8::try_from(v & 0x7f).unwrap();
        v >>= 7;
        if v == 0 {
            out.push(low);
            return out;
        }
        out.push(low | 0x80);
    }
}

/// `v` as LEB128 padded with redundant zero groups to `len` bytes (non-canonical).
pub(crate) fn overlong_varint(v: u64, len: usize) -> Vec<u8> {
    let mut out = varint(v);
    assert!(out.len() < len);
    *out.last_mut().unwrap() |= 0x80;
    while out.len() < len - 1 {
        out.push(0x80);
    }
    out.push(0x00);
    out
}

fn len_prefixed(bytes: &[u8]) -> Vec<u8> {
    let mut out = varint(u64::try_from(bytes.len()).unwrap());
    out.extend_from_slice(bytes);
    out
}

/// The wire form of the claims (spec/format.md §8.2), field order normative.
#[derive(Clone)]
pub(crate) struct Wire {
    pub(crate) session_id: [u8; 16],
    pub(crate) privilege: u8,
    pub(crate) flags: u8,
    pub(crate) issued_at: u64,
    pub(crate) expires_in: u32,
    pub(crate) session_deadline_in: u32,
    pub(crate) authenticated_ago: u32,
    pub(crate) epoch_offset: u32,
    pub(crate) binding: [u8; 16],
    pub(crate) subject: Vec<u8>,
    pub(crate) app_data: Vec<u8>,
}

#[derive(Serialize, Clone)]
pub(crate) struct WireJson {
    session_id: String,
    privilege: u8,
    flags: u8,
    issued_at: u64,
    expires_in: u32,
    session_deadline_in: u32,
    authenticated_ago: u32,
    epoch_offset: u32,
    binding: String,
    subject: String,
    app_data: String,
}

impl Wire {
    pub(crate) fn of(c: &Claims) -> Self {
        let issued = c.issued_at.0 - TIME_ORIGIN.0;
        let rel = |a: u64, b: u64| u32::try_from(a - b).unwrap();
        Self {
            session_id: c.session_id.0,
            privilege: c.privilege.as_u8(),
            flags: c.flags.0,
            issued_at: issued,
            expires_in: rel(c.expires_at.0, c.issued_at.0),
            session_deadline_in: rel(c.session_deadline.0, c.issued_at.0),
            authenticated_ago: rel(c.issued_at.0, c.authenticated_at.0),
            epoch_offset: u32::try_from(c.epoch.0 - issued / EPOCH_SECONDS).unwrap(),
            binding: c.binding.0,
            subject: c.subject.clone().unwrap_or_default().into_bytes(),
            app_data: c.app_data.clone(),
        }
    }

    /// The eleven encoded fields, in order (so cases can replace one).
    pub(crate) fn fields(&self) -> Vec<Vec<u8>> {
        vec![
            self.session_id.to_vec(),
            vec![self.privilege],
            vec![self.flags],
            varint(self.issued_at),
            varint(u64::from(self.expires_in)),
            varint(u64::from(self.session_deadline_in)),
            varint(u64::from(self.authenticated_ago)),
            varint(u64::from(self.epoch_offset)),
            self.binding.to_vec(),
            len_prefixed(&self.subject),
            len_prefixed(&self.app_data),
        ]
    }

    pub(crate) fn encode(&self) -> Vec<u8> {
        self.fields().concat()
    }

    pub(crate) fn json(&self) -> WireJson {
        WireJson {
            session_id: hex(&self.session_id),
            privilege: self.privilege,
            flags: self.flags,
            issued_at: self.issued_at,
            expires_in: self.expires_in,
            session_deadline_in: self.session_deadline_in,
            authenticated_ago: self.authenticated_ago,
            epoch_offset: self.epoch_offset,
            binding: hex(&self.binding),
            subject: String::from_utf8(self.subject.clone()).unwrap(),
            app_data: hex(&self.app_data),
        }
    }
}

#[derive(Serialize, Clone)]
pub(crate) struct ClaimsJson {
    session_id: String,
    subject: Option<String>,
    privilege: &'static str,
    epoch: u64,
    issued_at: u64,
    expires_at: u64,
    session_deadline: u64,
    authenticated_at: u64,
    binding: String,
    flags: u8,
    app_data: String,
}

pub(crate) fn claims_json(c: &Claims) -> ClaimsJson {
    ClaimsJson {
        session_id: hex(&c.session_id.0),
        subject: c.subject.clone(),
        privilege: match c.privilege {
            Privilege::Anonymous => "anonymous",
            Privilege::Authenticated => "authenticated",
            Privilege::Elevated => "elevated",
        },
        epoch: c.epoch.0,
        issued_at: c.issued_at.0,
        expires_at: c.expires_at.0,
        session_deadline: c.session_deadline.0,
        authenticated_at: c.authenticated_at.0,
        binding: hex(&c.binding.0),
        flags: c.flags.0,
        app_data: hex(&c.app_data),
    }
}
