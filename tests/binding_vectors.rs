//! Checks `spec/vectors/binding.json` (and the bound tokens of `valid.json`) against
//! spec/sessions.md §6: the input bytes are recomputed here from the listed client, the value
//! with the independent `chacha20poly1305` crate under the spec's HKDF subkey, and every token
//! goes through `SessionManager::verify_at` for each listed client (accepted, or `unbound`).
#![cfg(feature = "test-vectors")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::net::IpAddr;
use std::sync::Arc;

use chacha20poly1305::aead::{AeadInPlace, KeyInit};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use ring::hkdf;
use sealed_session::revocation::{FilterConfig, MemoryStore};
use sealed_session::*;
use serde_json::Value;

fn load(file: &str) -> Value {
    let path = format!("{}/spec/vectors/{file}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len() / 2)
        .map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap())
        .collect()
}

fn bytes(v: &Value) -> Option<Vec<u8>> {
    v.as_str().map(unhex)
}

fn u8_of(v: &Value) -> u8 {
    u8::try_from(v.as_u64().unwrap()).unwrap()
}

struct Client {
    ip: Option<IpAddr>,
    user_agent: Option<Vec<u8>>,
    app_value: Option<Vec<u8>>,
}

impl Client {
    fn of(v: &Value) -> Self {
        Self {
            ip: v["ip"].as_str().map(|a| a.parse().unwrap()),
            user_agent: bytes(&v["user_agent"]),
            app_value: bytes(&v["app_value"]),
        }
    }

    fn context(&self) -> ClientContext<'_> {
        let c = ClientContext::with_raw_user_agent(self.ip, self.user_agent.as_deref());
        self.app_value.as_deref().map_or(c, |v| c.with_app_value(v))
    }
}

fn field(out: &mut Vec<u8>, v: &[u8]) {
    out.extend_from_slice(&u64::try_from(v.len()).unwrap().to_be_bytes());
    out.extend_from_slice(v);
}

fn optional(out: &mut Vec<u8>, v: Option<&[u8]>) {
    match v {
        None => out.push(0x00),
        Some(v) => {
            out.push(0x01);
            field(out, v);
        }
    }
}

/// `family ‖ prefix ‖ every address byte`, bits from `prefix` on cleared.
fn masked(family: u8, prefix: u8, octets: &[u8]) -> Vec<u8> {
    let mut a = vec![family, prefix];
    for (i, b) in octets.iter().enumerate() {
        let bits = (usize::from(prefix).saturating_sub(i * 8)).min(8);
        a.push(if bits == 0 { 0 } else { b & (0xff << (8 - bits)) });
    }
    a
}

/// spec/sessions.md §6 `input`, for a token with `flags` and a verifier with `(p4, p6)`.
fn input(flags: u8, (p4, p6): (u8, u8), c: &Client) -> Option<Vec<u8>> {
    if flags == 0 {
        return None;
    }
    let mut out = vec![flags];
    if flags & 1 != 0 {
        let a = match c.ip {
            None => vec![0],
            Some(IpAddr::V4(a)) => masked(4, p4, &a.octets()),
            Some(IpAddr::V6(a)) => match a.to_ipv4_mapped() {
                Some(v4) => masked(4, p4, &v4.octets()),
                None => masked(6, p6, &a.octets()),
            },
        };
        field(&mut out, &a);
    }
    if flags & 2 != 0 {
        optional(&mut out, c.user_agent.as_deref());
    }
    if flags & 4 != 0 {
        optional(&mut out, c.app_value.as_deref());
    }
    Some(out)
}

fn binding_key(secret: &[u8]) -> [u8; 32] {
    struct Len;
    impl hkdf::KeyType for Len {
        fn len(&self) -> usize {
            32
        }
    }
    let prk = hkdf::Salt::new(hkdf::HKDF_SHA256, b"sealed-session/v1").extract(secret);
    let mut out = [0u8; 32];
    prk.expand(&[b"sealed-session/v1 binding"], Len)
        .unwrap()
        .fill(&mut out)
        .unwrap();
    out
}

/// The tag of XChaCha20-Poly1305 over nothing, `input` as associated data; zeros when unbound.
fn value(key: &[u8; 32], nonce: &[u8], input: Option<&[u8]>) -> Vec<u8> {
    input.map_or(vec![0; 16], |i| {
        XChaCha20Poly1305::new(key.into())
            .encrypt_in_place_detached(XNonce::from_slice(nonce), i, &mut [])
            .unwrap()
            .to_vec()
    })
}

fn prefixes(p: &Value) -> (u8, u8) {
    (u8_of(&p["ipv4_prefix"]), u8_of(&p["ipv6_prefix"]))
}

fn binding(p: &Value) -> Binding {
    let flags = u8_of(&p["flags"]);
    let (p4, p6) = prefixes(p);
    let mut b = Binding::none();
    if flags & 1 != 0 {
        b = b.with_ip_prefix(p4, p6);
    }
    if flags & 2 != 0 {
        b = b.with_user_agent();
    }
    if flags & 4 != 0 {
        b = b.with_app_value();
    }
    b
}

/// `verify_at` by a fresh manager (a mismatch revokes the session, which must not leak into
/// the next check) holding key 1, with the verifying policy and no rotation.
fn verify(doc: &Value, policy: &Value, token: &str, client: &Client, now: u64) -> Result<(), Reason> {
    let secret: [u8; 32] = unhex(doc["key"].as_str().unwrap()).try_into().unwrap();
    let ring = KeyRing::empty()
        .with_key(
            KeyId(u8_of(&doc["key_id"])),
            KeyState::Primary,
            SessionKey::from_bytes(secret),
        )
        .unwrap();
    let store = Arc::new(MemoryStore::new(FilterConfig::default()).unwrap());
    let manager = SessionManager::builder(ring, doc["context"].as_str().unwrap(), store)
        .with_policy(
            Policy::default()
                .with_binding(binding(policy))
                .with_rotation(Rotation::Off),
        )
        .build()
        .unwrap();
    manager
        .verify_at(token, &client.context(), UnixTime(now))
        .map(|_| ())
        .map_err(|e| e.reason())
}

#[test]
fn binding_vectors_recompute_and_verify() {
    let doc = load("binding.json");
    let key = binding_key(&unhex(doc["key"].as_str().unwrap()));
    assert_eq!(doc["binding_key"].as_str().unwrap(), hex(&key));
    let cases = doc["cases"].as_array().unwrap();
    assert_eq!(
        cases.len(),
        usize::try_from(doc["case_count"].as_u64().unwrap()).unwrap()
    );
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let policy = &case["policy"];
        let flags = u8_of(&policy["flags"]);
        let client = Client::of(&case["client"]);
        let encoded = input(flags, prefixes(policy), &client);
        assert_eq!(encoded, bytes(&case["input"]), "{name}: input");
        let listed = sealed_session::__vectors::binding_input(
            &binding(policy),
            token::Flags(flags),
            &client.context(),
        );
        assert_eq!(listed, encoded, "{name}: the crate's input");
        let nonce = unhex(case["nonce"].as_str().unwrap());
        let bound = bytes(&case["binding"]).unwrap();
        assert_eq!(value(&key, &nonce, encoded.as_deref()), bound, "{name}: value");
        assert_eq!(case["claims"]["binding"], case["binding"], "{name}");
        assert_eq!(case["claims"]["flags"], flags, "{name}");

        let token = case["token"].as_str().unwrap();
        let verifying = if case["verify_policy"].is_null() {
            policy
        } else {
            &case["verify_policy"]
        };
        let now = case["now"].as_u64().unwrap();
        let accepted = verify(&doc, verifying, token, &client, now);
        let want = if case["client_verifies"] == true {
            Ok(())
        } else {
            Err(Reason::Unbound)
        };
        assert_eq!(accepted, want, "{name}: client");
        for other in case["also_matches"].as_array().unwrap() {
            assert_eq!(
                verify(&doc, verifying, token, &Client::of(other), now),
                Ok(()),
                "{name}: {other}"
            );
        }
        for other in case["mismatches"].as_array().unwrap() {
            let refused = verify(&doc, verifying, token, &Client::of(other), now);
            assert_eq!(refused, Err(Reason::Unbound), "{name}: {other}");
        }
    }
}

#[test]
fn bound_tokens_of_valid_json_carry_the_real_value() {
    let doc = load("valid.json");
    let mut bound = 0;
    for case in doc["cases"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let flags = u8_of(&case["claims"]["flags"]);
        let Some(b) = case.get("bound_to") else {
            assert_eq!(flags, 0, "{name}: flags without bound_to");
            assert_eq!(case["claims"]["binding"], "0".repeat(32), "{name}");
            continue;
        };
        let client = Client::of(&b["client"]);
        let encoded = input(flags, prefixes(b), &client).unwrap();
        assert_eq!(hex(&encoded), b["input"].as_str().unwrap(), "{name}");
        let key_id = case["key_id"].as_u64().unwrap();
        let secret = case["keys"]
            .as_array()
            .unwrap()
            .iter()
            .find(|k| k["id"] == key_id)
            .unwrap()["key"]
            .as_str()
            .unwrap();
        let nonce = unhex(case["nonce"].as_str().unwrap());
        let expected = value(&binding_key(&unhex(secret)), &nonce, Some(&encoded));
        assert_eq!(bytes(&case["claims"]["binding"]).unwrap(), expected, "{name}");
        bound += 1;
    }
    assert!(bound >= 10, "only {bound} bound tokens");
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}
