//! `spec/vectors/binding.json`: client binding (spec/sessions.md §6) inputs → input bytes →
//! value under a fixed key and nonce, each with a real token minted through the crate's binding
//! path and clients that must, and must not, verify with it.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use sealed_session::token::Flags;
use serde::Serialize;

use crate::bind::{self, Client, ClientJson};
use crate::gen::{reference, IAT};
use crate::material::{claims_json, hex, key, nonce_for, ClaimsJson};

const KEY_ID: u8 = 1;
const CONTEXT: &str = "bank";
const FIREFOX: &[u8] = b"Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0";
const IP: u8 = Flags::BIND_IP;
const UA: u8 = Flags::BIND_USER_AGENT;
const APP: u8 = Flags::BIND_APP_VALUE;

#[derive(Serialize)]
struct Policy {
    flags: u8,
    ipv4_prefix: u8,
    ipv6_prefix: u8,
}

#[derive(Serialize)]
struct Case {
    name: &'static str,
    comment: &'static str,
    /// The policy the token was minted under (its flags are the token's).
    policy: Policy,
    /// The policy verifying it, when it is not the minting one.
    #[serde(skip_serializing_if = "Option::is_none")]
    verify_policy: Option<Policy>,
    client: ClientJson,
    /// Whether the token verifies for `client` under the verifying policy.
    client_verifies: bool,
    input: Option<String>,
    nonce: String,
    binding: String,
    claims: ClaimsJson,
    token: String,
    now: u64,
    /// Other clients the token verifies for under the verifying policy.
    also_matches: Vec<ClientJson>,
    /// Clients refused with `unbound`.
    mismatches: Vec<ClientJson>,
}

#[derive(Serialize)]
struct Doc {
    description: &'static str,
    spec: &'static str,
    notes: [&'static str; 4],
    key_id: u8,
    key: String,
    binding_key: String,
    context: &'static str,
    case_count: usize,
    cases: Vec<Case>,
}

struct Spec {
    name: &'static str,
    comment: &'static str,
    flags: u8,
    prefixes: (u8, u8),
    verify: Option<(u8, (u8, u8))>,
    /// The verifying policy refuses even the client the token was minted for.
    refuses_client: bool,
    client: Client,
    also: Vec<Client>,
    not: Vec<Client>,
}

fn spec(name: &'static str, comment: &'static str, flags: u8, prefixes: (u8, u8), client: Client) -> Spec {
    Spec {
        name,
        comment,
        flags,
        prefixes,
        verify: None,
        refuses_client: false,
        client,
        also: Vec::new(),
        not: Vec::new(),
    }
}

fn ua(bytes: &[u8]) -> Client {
    Client {
        user_agent: Some(bytes.to_vec()),
        ..Client::default()
    }
}

fn app(bytes: &[u8]) -> Client {
    Client {
        app_value: Some(bytes.to_vec()),
        ..Client::default()
    }
}

fn ip(a: &str) -> Client {
    Client {
        ip: Some(a.parse().unwrap()),
        ..Client::default()
    }
}

fn with_ip(mut c: Client, a: &str) -> Client {
    c.ip = Some(a.parse().unwrap());
    c
}

fn specs() -> Vec<Spec> {
    let ff = |a: &str| Client::new(a, FIREFOX);
    let exporter = crate::material::derive_vec("tls exporter 1", 32);
    // RFC 9449 §6.1's jkt, 0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I, as 32 bytes.
    let jkt = URL_SAFE_NO_PAD
        .decode("0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I")
        .unwrap();
    let mut all = Client::new("2001:db8:1:200::1", FIREFOX);
    all.app_value = Some(exporter.clone());
    let mut all_other_app = all.clone();
    all_other_app.app_value = Some(crate::material::derive_vec("tls exporter 2", 32));
    vec![
        Spec {
            also: vec![ff("203.0.113.200")],
            not: vec![ff("203.0.114.7"), Client::new("203.0.113.7", &FIREFOX[..FIREFOX.len() - 1]), ip("203.0.113.7"), ua(FIREFOX)],
            ..spec("default_ipv4_and_user_agent", "the default policy: IPv4 /24 and the User-Agent", IP | UA, (24, 56), ff("203.0.113.7"))
        },
        Spec {
            also: vec![ip("198.51.111.1"), ip("198.51.96.0")],
            not: vec![ip("198.51.112.1"), ip("198.51.95.255")],
            ..spec("ipv4_prefix_20", "a prefix that ends inside a byte: 198.51.100.77/20 keeps the top 4 bits of 100 (0x64 → 0x60)", IP, (20, 56), ip("198.51.100.77"))
        },
        Spec {
            not: vec![ip("192.0.2.2")],
            ..spec("ipv4_prefix_32", "the exact address", IP, (32, 128), ip("192.0.2.1"))
        },
        Spec {
            also: vec![ip("198.51.100.1"), ip("::ffff:10.0.0.1")],
            not: vec![ip("2001:db8::1"), Client::default()],
            ..spec("ipv4_prefix_0", "/0 binds only the address family: every IPv4 address matches, IPv6 and no address do not", IP, (0, 56), ip("192.0.2.1"))
        },
        Spec {
            also: vec![ff("203.0.113.7"), ff("::ffff:203.0.113.250")],
            not: vec![ff("::203.0.113.9"), ff("64:ff9b::203.0.113.9")],
            ..spec("ipv4_mapped_ipv6", "::ffff:203.0.113.9 is bound as the IPv4 address; IPv4-compatible and NAT64 forms are IPv6", IP | UA, (24, 56), ff("::ffff:203.0.113.9"))
        },
        Spec {
            also: vec![ip("2001:db8:1:2ff::9")],
            not: vec![ip("2001:db8:1:300::1"), ip("203.0.113.7")],
            ..spec("ipv6_prefix_56", "IPv6 /56, all 16 bytes with bits 56 onwards cleared", IP, (24, 56), ip("2001:db8:1:200::1"))
        },
        Spec {
            also: vec![ip("2001:db8:abcd:12ff:ffff::1")],
            not: vec![ip("2001:db8:abcd:1300::1"), ip("2001:db8:abcd:12f7::1")],
            ..spec("ipv6_prefix_61", "a prefix that ends inside a byte: /61 keeps the top 5 bits of byte 7 (0xf8)", IP, (24, 61), ip("2001:db8:abcd:12f8::1"))
        },
        Spec {
            not: vec![ip("2001:db8::2")],
            ..spec("ipv6_prefix_128", "the exact IPv6 address", IP, (32, 128), ip("2001:db8::1"))
        },
        Spec {
            not: vec![ff("203.0.113.7")],
            ..spec("ip_absent", "no known address: the IP field is be64(1) ‖ 00", IP | UA, (24, 56), ua(FIREFOX))
        },
        Spec {
            not: vec![Client::default(), ua(b" ")],
            ..spec("user_agent_empty", "an empty User-Agent is present (01 ‖ be64(0)) and differs from none", UA, (24, 56), ua(b""))
        },
        Spec {
            not: vec![ua(b"")],
            ..spec("user_agent_absent", "no User-Agent header: the field is the single byte 00", UA, (24, 56), Client::default())
        },
        Spec {
            not: vec![ua(b"Navigateur \xe9t\xe8"), ua("Navigateur été".as_bytes())],
            ..spec("user_agent_obs_text", "obs-text bytes (Latin-1 é = e9) are bound as received, not decoded or normalised", UA, (24, 56), ua(b"Navigateur \xe9t\xe9"))
        },
        Spec {
            not: vec![ua(b"mozilla/5.0"), ua(b"Mozilla/5.0 "), ua(b"Mozilla/5.0  (X11)")],
            ..spec("user_agent_case_and_spaces", "no case folding or whitespace collapsing", UA, (24, 56), ua(b"Mozilla/5.0 (X11)"))
        },
        Spec {
            not: vec![app(&crate::material::derive_vec("tls exporter 2", 32)), Client::default()],
            ..spec("app_value_tls_exporter", "an application value (e.g. a TLS exporter, RFC 9266) only", APP, (24, 56), app(&exporter))
        },
        Spec {
            not: vec![app(&[0; 32])],
            ..spec("app_value_jwk_thumbprint", "the 32 bytes of a JWK SHA-256 thumbprint (spec/dpop.md §4; here RFC 9449 §6.1's) as the application value", APP, (24, 56), app(&jkt))
        },
        Spec {
            not: vec![all_other_app, with_ip(all.clone(), "2001:db8:1:300::1")],
            ..spec("all_three", "address, User-Agent and application value, in that order", IP | UA | APP, (24, 56), all.clone())
        },
        Spec {
            also: vec![ff("198.51.100.1"), Client::default()],
            ..spec("unbound", "flags 0: no input, 16 zero bytes, any client", 0, (24, 56), ff("203.0.113.7"))
        },
        Spec {
            verify: Some((IP, (24, 56))),
            also: vec![ff("203.0.113.8")],
            not: vec![Client::new("203.0.113.7", b"curl/8.5.0")],
            ..spec("token_binds_more_than_policy", "minted binding IP and User-Agent, verified by a policy binding the IP only: the token's flags decide the input, so the User-Agent is still checked", IP | UA, (24, 56), ff("203.0.113.7"))
        },
        Spec {
            verify: Some((IP | UA, (24, 56))),
            refuses_client: true,
            not: vec![ff("203.0.113.7")],
            ..spec("policy_binds_more_than_token", "minted binding the IP only, verified by a policy that also binds the User-Agent: refused for every client", IP, (24, 56), ff("203.0.113.7"))
        },
        Spec {
            verify: Some((IP, (16, 56))),
            refuses_client: true,
            not: vec![ip("203.0.113.7")],
            ..spec("prefix_changed", "minted under /24, verified under /16: the prefix length is in the input, so even the same client is refused", IP, (24, 56), ip("203.0.113.7"))
        },
    ]
}

fn policy(flags: u8, (p4, p6): (u8, u8)) -> Policy {
    Policy {
        flags,
        ipv4_prefix: p4,
        ipv6_prefix: p6,
    }
}

fn case(s: Spec) -> Case {
    let nonce = nonce_for(&format!("binding {}", s.name));
    let claims = reference(IAT);
    let (token, sealed) = bind::mint(
        (KEY_ID, key(KEY_ID)),
        CONTEXT,
        &claims,
        (s.flags, s.prefixes),
        &s.client,
        nonce,
    );
    let (vflags, vprefixes) = s.verify.unwrap_or((s.flags, s.prefixes));
    // Every listed client is judged here by the spec's rule: recompute with the token's flags
    // and the verifier's prefixes, and compare (the test also runs them through `verify`).
    let binds = |c: &Client| {
        vflags & !s.flags == 0
            && bind::input(s.flags, vprefixes, c).map_or([0; 16], |i| bind::value(&key(KEY_ID), &nonce, &i))
                == sealed.binding.0
    };
    assert_eq!(binds(&s.client), !s.refuses_client, "{}", s.name);
    assert!(s.also.iter().all(binds), "{}", s.name);
    assert!(!s.not.iter().any(binds), "{}", s.name);
    Case {
        name: s.name,
        comment: s.comment,
        policy: policy(s.flags, s.prefixes),
        verify_policy: s.verify.map(|(f, p)| policy(f, p)),
        client: s.client.json(),
        client_verifies: !s.refuses_client,
        input: bind::input(s.flags, s.prefixes, &s.client).map(|i| hex(&i)),
        nonce: hex(&nonce),
        binding: hex(&sealed.binding.0),
        claims: claims_json(&sealed),
        token,
        now: IAT + 60,
        also_matches: s.also.iter().map(Client::json).collect(),
        mismatches: s.not.iter().map(Client::json).collect(),
    }
}

pub(crate) fn write() {
    let cases: Vec<Case> = specs().into_iter().map(case).collect();
    let doc = Doc {
        description: "Client binding (spec/sessions.md §6): the input bytes and value of each client under key 1 and \
                      the case's nonce, and a token minted through the crate's binding path. Generated by \
                      examples/gen-vectors; do not edit.",
        spec: "spec/sessions.md §6",
        notes: [
            "hex is lowercase; user_agent and app_value are hex bytes, null when absent; ip is null when unknown",
            "binding = tag of XChaCha20-Poly1305(binding_key, nonce, aad = input, plaintext = empty); 16 zero bytes when input is null",
            "open token with key 1 (context 'bank') at 'now' and verify it for 'client' under verify_policy (else policy): \
             it must be accepted for 'client' when client_verifies and for every also_matches entry, refused as unbound for every mismatches entry",
            "the token's flags are policy.flags; prefixes are those of the verifying policy",
        ],
        key_id: KEY_ID,
        key: hex(&key(KEY_ID)),
        binding_key: hex(&bind::binding_key(&key(KEY_ID))),
        context: CONTEXT,
        case_count: cases.len(),
        cases,
    };
    let mut text = serde_json::to_string_pretty(&doc).unwrap();
    text.push('\n');
    let path = format!("{}/spec/vectors/binding.json", env!("CARGO_MANIFEST_DIR"));
    std::fs::write(&path, text).unwrap();
    println!("wrote {path}: {} cases", doc.case_count);
}
