//! The binding input and its compare, replayed from `spec/vectors/binding.json`: the input
//! bytes of every client, the value they give under the token's nonce, and the verdict of
//! verifying each vector token for its client, the clients that must match and the ones
//! that must not.

use std::net::IpAddr;
use std::sync::Arc;

use serde_json::Value;

use crate::revocation::{FilterConfig, MemoryStore};
use crate::token::Flags;
use crate::*;

const VECTORS: &str = include_str!("../../spec/vectors/binding.json");

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len() / 2)
        .map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap())
        .collect()
}

fn binding(policy: &Value) -> (Binding, Flags) {
    let flags = u8::try_from(policy["flags"].as_u64().unwrap()).unwrap();
    let v4 = u8::try_from(policy["ipv4_prefix"].as_u64().unwrap()).unwrap();
    let v6 = u8::try_from(policy["ipv6_prefix"].as_u64().unwrap()).unwrap();
    let mut b = Binding::none();
    if flags & Flags::BIND_IP != 0 {
        b = b.with_ip_prefix(v4, v6);
    }
    if flags & Flags::BIND_USER_AGENT != 0 {
        b = b.with_user_agent();
    }
    if flags & Flags::BIND_APP_VALUE != 0 {
        b = b.with_app_value();
    }
    assert_eq!(b.flags().0, flags);
    (b, Flags(flags))
}

/// A client of the vectors, owning its byte strings.
struct Client {
    ip: Option<IpAddr>,
    user_agent: Option<Vec<u8>>,
    app_value: Option<Vec<u8>>,
}

impl Client {
    fn of(v: &Value) -> Self {
        Self {
            ip: v["ip"].as_str().map(|s| s.parse().unwrap()),
            user_agent: v["user_agent"].as_str().map(unhex),
            app_value: v["app_value"].as_str().map(unhex),
        }
    }

    fn context(&self) -> ClientContext<'_> {
        ClientContext {
            ip: self.ip,
            user_agent: self.user_agent.as_deref(),
            app_value: self.app_value.as_deref(),
        }
    }
}

fn manager(doc: &Value, binding: Binding) -> SessionManager {
    let secret: [u8; 32] = unhex(doc["key"].as_str().unwrap()).try_into().unwrap();
    let id = u8::try_from(doc["key_id"].as_u64().unwrap()).unwrap();
    let keys = KeyRing::empty()
        .with_key(KeyId(id), KeyState::Primary, SessionKey::from_bytes(secret))
        .unwrap();
    let store = Arc::new(MemoryStore::new(FilterConfig::default().with_capacity(100)).unwrap());
    let policy = Policy::default()
        .with_binding(binding)
        .with_rotation(Rotation::Off)
        .with_mismatch_action(MismatchAction::Reject);
    SessionManager::builder(keys, doc["context"].as_str().unwrap(), store)
        .with_policy(policy)
        .build()
        .unwrap()
}

#[test]
fn every_binding_vector_gives_its_input_and_verdicts() {
    let doc: Value = serde_json::from_str(VECTORS).unwrap();
    let cases = doc["cases"].as_array().unwrap();
    assert_eq!(
        cases.len(),
        usize::try_from(doc["case_count"].as_u64().unwrap()).unwrap()
    );
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let (minting, flags) = binding(&case["policy"]);
        let client_value = &case["client"];
        let input = minting.input(flags, &Client::of(client_value).context());
        assert_eq!(input, case["input"].as_str().map(unhex), "{name}: input");
        let verifying = case
            .get("verify_policy")
            .filter(|v| !v.is_null())
            .unwrap_or(&case["policy"]);
        let manager = manager(&doc, binding(verifying).0);
        let token = case["token"].as_str().unwrap();
        let now = UnixTime(case["now"].as_u64().unwrap());
        let verdict = |v: &Value| {
            manager
                .verify_at(token, &Client::of(v).context(), now)
                .map(|_| ())
                .map_err(|r| r.reason())
        };
        let expected = if case["client_verifies"].as_bool().unwrap() {
            Ok(())
        } else {
            Err(Reason::Unbound)
        };
        assert_eq!(verdict(client_value), expected, "{name}: its client");
        for other in case["also_matches"].as_array().unwrap() {
            assert_eq!(verdict(other), Ok(()), "{name}: {other}");
        }
        for other in case["mismatches"].as_array().unwrap() {
            assert_eq!(verdict(other), Err(Reason::Unbound), "{name}: {other}");
        }
    }
}

/// The compare looks at every byte of the value: a token whose sealed binding value differs
/// from the right one in any single bit is unbound.
#[cfg(feature = "test-vectors")]
#[test]
fn a_binding_value_differing_in_any_byte_does_not_match() {
    use crate::token::Sealer;
    let doc: Value = serde_json::from_str(VECTORS).unwrap();
    let case = &doc["cases"][0];
    let (policy, _) = binding(&case["policy"]);
    let manager = manager(&doc, policy);
    let now = UnixTime(case["now"].as_u64().unwrap());
    let token = case["token"].as_str().unwrap();
    let here = Client::of(&case["client"]);
    let here = here.context();
    assert!(manager.verify_at(token, &here, now).is_ok());
    let sealer = Sealer::with_keys(manager.keys().clone(), doc["context"].as_str().unwrap()).unwrap();
    let opened = sealer.open_at(token, now).unwrap();
    let nonce = opened.nonce;
    for byte in [0, 7, 15] {
        let mut claims = opened.claims.clone();
        claims.binding.0[byte] ^= 0x80;
        let forged = sealer.dangerous_mint_with_nonce(&claims, nonce).unwrap();
        let refused = manager.verify_at(forged.expose_secret(), &here, now).unwrap_err();
        assert_eq!(refused.reason(), Reason::Unbound, "byte {byte}");
    }
}

/// IP prefixes up to the address width are a valid policy, one bit more is refused with its
/// own error, for either family (caught `validate` answering `Ok` or testing `&&`).
#[test]
fn prefixes_longer_than_the_address_are_refused() {
    let verdict = |v4, v6| {
        Policy::default()
            .with_binding(Binding::none().with_ip_prefix(v4, v6))
            .validate()
    };
    assert!(verdict(32, 128).is_ok());
    assert!(verdict(0, 0).is_ok());
    for (v4, v6) in [(33, 56), (24, 129), (33, 129), (255, 255)] {
        assert!(
            matches!(
                verdict(v4, v6),
                Err(ConfigError::Policy(PolicyError::PrefixTooLong))
            ),
            "/{v4} and /{v6}"
        );
    }
}
