//! Redis feed fixtures: the key ring and stream of `spec/vectors/feed.json`, an input format
//! for stream entries, and the feed MAC recomputed from the spec (spec/revocation.md, "Redis
//! feed", "MAC input": HKDF-SHA256 then HMAC-SHA256 over length-prefixed parts), never
//! through the crate, so the `stream_record` target can tell an entry sealed under a key of
//! the ring from one that is not.

use std::sync::OnceLock;

use ring::{hkdf, hmac};
use sealed_session::{KeyId, KeyRing, KeyState, SessionKey};

/// The vectors' stream key.
pub const STREAM: &str = "sealed-session:bank:revocations";
/// The vectors' ring: primary, accept-only, retired (secrets are public test data).
pub const KEYS: [(u8, KeyState, [u8; 32]); 3] = [
    (1, KeyState::Primary, [0x09; 32]),
    (2, KeyState::AcceptOnly, [0x0a; 32]),
    (3, KeyState::Retired, [0x0b; 32]),
];
/// MAC labels of a record and of a marker.
pub const LABEL_RECORD: &[u8] = b"sealed-session/v1 feed record";
/// See [`LABEL_RECORD`].
pub const LABEL_MARKER: &[u8] = b"sealed-session/v1 feed snapshot-marker";

/// The ring every entry is opened with.
pub fn ring() -> &'static KeyRing {
    static R: OnceLock<KeyRing> = OnceLock::new();
    R.get_or_init(|| {
        let mut ring = KeyRing::empty();
        for (id, state, secret) in KEYS {
            let _ = ring.insert(KeyId(id), state, SessionKey::from_bytes(secret));
        }
        ring
    })
}

/// A ring whose only (primary) key is key `id` of [`KEYS`]: what the node that published an
/// entry under that key sealed with.
pub fn sealing_ring(id: u8) -> Option<&'static KeyRing> {
    static R: OnceLock<Vec<KeyRing>> = OnceLock::new();
    let all = R.get_or_init(|| {
        KEYS.iter()
            .map(|&(id, _, secret)| {
                KeyRing::empty()
                    .with_key(KeyId(id), KeyState::Primary, SessionKey::from_bytes(secret))
                    .unwrap_or_else(|e| panic!("fixture: {e}"))
            })
            .collect()
    });
    KEYS.iter().position(|k| k.0 == id).and_then(|i| all.get(i))
}

/// The state the ring gives key `id`, if it has one.
pub fn state_of(id: u8) -> Option<KeyState> {
    KEYS.iter().find(|k| k.0 == id).map(|k| k.1)
}

/// `HMAC-SHA256(K_feed, lp(label) ‖ lp(key id byte) ‖ lp(stream) ‖ lp(node) ‖ lp(body))` under
/// key `id` of [`KEYS`].
pub fn mac(id: u8, label: &[u8], node: &[u8], body: &[u8]) -> Option<[u8; 32]> {
    static KEYS_FEED: OnceLock<Vec<(u8, hmac::Key)>> = OnceLock::new();
    let keys = KEYS_FEED.get_or_init(|| {
        KEYS.iter()
            .filter_map(|&(id, _, secret)| Some((id, feed_subkey(&secret)?)))
            .collect()
    });
    let key = &keys.iter().find(|k| k.0 == id)?.1;
    let mut input = Vec::new();
    for part in [label, &[id], STREAM.as_bytes(), node, body] {
        input.extend_from_slice(&u32::try_from(part.len()).ok()?.to_be_bytes());
        input.extend_from_slice(part);
    }
    let mut out = [0u8; 32];
    out.copy_from_slice(hmac::sign(key, &input).as_ref());
    Some(out)
}

fn feed_subkey(secret: &[u8; 32]) -> Option<hmac::Key> {
    let prk = hkdf::Salt::new(hkdf::HKDF_SHA256, b"sealed-session/v1").extract(secret);
    let okm = prk.expand(&[b"sealed-session/v1 feed"], hmac::HMAC_SHA256).ok()?;
    Some(hmac::Key::from(okm))
}

/// Field names and values as Redis returns them.
pub type Fields = Vec<(Vec<u8>, Vec<u8>)>;

/// The fuzz input: a mode byte, then fields, each `u8 name length ‖ name ‖ u16le value length ‖
/// value`, until the bytes run out (a truncated field is dropped). Mode bit 0: seal, i.e.
/// every `m` field's value is replaced by the spec's MAC of the entry (under the key its `k`
/// field names, the record label when a field `r` is present, else the marker label), so the
/// input reaches the payload decoder.
pub fn parse(data: &[u8]) -> (bool, Fields) {
    let Some((&mode, mut rest)) = data.split_first() else {
        return (false, Vec::new());
    };
    let mut fields = Vec::new();
    loop {
        let Some((&name_len, after)) = rest.split_first() else {
            break;
        };
        let Some((name, after)) = after.split_at_checked(usize::from(name_len)) else {
            break;
        };
        let Some((len, after)) = after.split_at_checked(2) else {
            break;
        };
        let len = usize::from(u16::from_le_bytes(len.try_into().unwrap_or([0; 2])));
        let Some((value, after)) = after.split_at_checked(len) else {
            break;
        };
        fields.push((name.to_vec(), value.to_vec()));
        rest = after;
    }
    (mode & 1 == 1, fields)
}

/// The inverse of [`parse`] (for the seeds).
pub fn unparse(seal: bool, fields: &[(Vec<u8>, Vec<u8>)]) -> Option<Vec<u8>> {
    let mut out = vec![u8::from(seal)];
    for (name, value) in fields {
        out.push(u8::try_from(name.len()).ok()?);
        out.extend_from_slice(name);
        out.extend_from_slice(&u16::try_from(value.len()).ok()?.to_le_bytes());
        out.extend_from_slice(value);
    }
    Some(out)
}

/// The value of the first field called `name`.
pub fn field<'a>(fields: &'a [(Vec<u8>, Vec<u8>)], name: &str) -> Option<&'a [u8]> {
    fields
        .iter()
        .find(|(n, _)| n.as_slice() == name.as_bytes())
        .map(|(_, v)| v.as_slice())
}

/// The key id a `k` value names, read as the spec says: decimal ASCII `0` to `255` without
/// leading zeros.
pub fn key_id(k: &[u8]) -> Option<u8> {
    let canonical =
        matches!(k, [b'0'] | [b'1'..=b'9', ..]) && k.len() <= 3 && k.iter().all(u8::is_ascii_digit);
    canonical.then(|| core::str::from_utf8(k).ok()?.parse().ok())?
}

/// Whether `s` is a marker body the spec allows: ASCII `ms-seq`, two decimal `u64`s.
pub fn is_entry_id(s: &[u8]) -> bool {
    let Ok(text) = core::str::from_utf8(s) else {
        return false;
    };
    let Some((ms, seq)) = text.split_once('-') else {
        return false;
    };
    let number = |p: &str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) && p.parse::<u64>().is_ok();
    number(ms) && number(seq)
}

/// Seals `fields` as [`parse`] describes for mode bit 0: every `m` value becomes the spec's
/// MAC (when `k` names a key of [`KEYS`]; else key 1's, which the entry cannot claim).
pub fn seal(fields: &mut [(Vec<u8>, Vec<u8>)]) {
    let id = field(fields, "k")
        .and_then(key_id)
        .filter(|id| state_of(*id).is_some())
        .unwrap_or(1);
    let node = field(fields, "n").unwrap_or_default().to_vec();
    let (label, body) = match field(fields, "r") {
        Some(r) => (LABEL_RECORD, r.to_vec()),
        None => (LABEL_MARKER, field(fields, "s").unwrap_or_default().to_vec()),
    };
    let Some(tag) = mac(id, label, &node, &body) else {
        return;
    };
    for (name, value) in fields.iter_mut() {
        if name.as_slice() == b"m" {
            *value = tag.to_vec();
        }
    }
}
