//! The client binding of spec/sessions.md §6 written from the spec (input bytes, binding
//! subkey, value), and minting through the crate's own binding path with a fixed nonce: the
//! two must agree, or the run stops.

use std::net::IpAddr;

use chacha20poly1305::aead::{AeadInPlace, KeyInit};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use ring::hkdf;
use sealed_session::token::{Claims, Flags};
use sealed_session::{Binding, ClientContext};
use serde::Serialize;

use crate::material::{hex, minting_sealer};

/// What the server knows about a client (spec/sessions.md §6 inputs).
#[derive(Clone, Default)]
pub(crate) struct Client {
    pub(crate) ip: Option<IpAddr>,
    pub(crate) user_agent: Option<Vec<u8>>,
    pub(crate) app_value: Option<Vec<u8>>,
}

/// A client as JSON: the address in its text form, the byte strings in hex, `null` when absent.
#[derive(Serialize, Clone)]
pub(crate) struct ClientJson {
    ip: Option<String>,
    user_agent: Option<String>,
    app_value: Option<String>,
}

impl Client {
    pub(crate) fn new(ip: &str, user_agent: &[u8]) -> Self {
        Self {
            ip: Some(ip.parse().unwrap()),
            user_agent: Some(user_agent.to_vec()),
            app_value: None,
        }
    }

    pub(crate) fn context(&self) -> ClientContext<'_> {
        let ctx = ClientContext::with_raw_user_agent(self.ip, self.user_agent.as_deref());
        match &self.app_value {
            Some(v) => ctx.with_app_value(v),
            None => ctx,
        }
    }

    pub(crate) fn json(&self) -> ClientJson {
        ClientJson {
            ip: self.ip.map(|a| a.to_string()),
            user_agent: self.user_agent.as_deref().map(hex),
            app_value: self.app_value.as_deref().map(hex),
        }
    }
}

/// The client every bound token of valid.json is bound to.
pub(crate) fn reference_client() -> Client {
    Client {
        app_value: Some(crate::material::derive_vec("tls exporter 1", 32)),
        ..Client::new(
            "203.0.113.7",
            b"Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
        )
    }
}

/// The policy binding exactly the inputs in `flags`, with prefix lengths `(p4, p6)`.
pub(crate) fn binding_of(flags: u8, (p4, p6): (u8, u8)) -> Binding {
    let mut b = Binding::none();
    if flags & Flags::BIND_IP != 0 {
        b = b.with_ip_prefix(p4, p6);
    }
    if flags & Flags::BIND_USER_AGENT != 0 {
        b = b.with_user_agent();
    }
    if flags & Flags::BIND_APP_VALUE != 0 {
        b = b.with_app_value();
    }
    b
}

fn optional(out: &mut Vec<u8>, v: Option<&[u8]>) {
    match v {
        None => out.push(0),
        Some(v) => {
            out.push(1);
            out.extend_from_slice(&(v.len() as u64).to_be_bytes());
            out.extend_from_slice(v);
        }
    }
}

fn masked(family: u8, prefix: u8, bytes: &[u8]) -> Vec<u8> {
    let mut a = vec![family, prefix];
    a.extend(bytes.iter().enumerate().map(|(i, b)| {
        let keep = usize::from(prefix).saturating_sub(8 * i).min(8);
        b & !(0xffu8.checked_shr(u32::try_from(keep).unwrap()).unwrap_or(0))
    }));
    a
}

/// `input` of spec/sessions.md §6 for a token with `flags`, or `None` when `flags` is 0.
pub(crate) fn input(flags: u8, (p4, p6): (u8, u8), c: &Client) -> Option<Vec<u8>> {
    if flags == 0 {
        return None;
    }
    let mut out = vec![flags];
    if flags & Flags::BIND_IP != 0 {
        let a = match c.ip {
            None => vec![0],
            Some(IpAddr::V4(v4)) => masked(4, p4, &v4.octets()),
            Some(IpAddr::V6(v6)) => match v6.to_ipv4_mapped() {
                Some(v4) => masked(4, p4, &v4.octets()),
                None => masked(6, p6, &v6.octets()),
            },
        };
        out.extend_from_slice(&(a.len() as u64).to_be_bytes());
        out.extend(a);
    }
    if flags & Flags::BIND_USER_AGENT != 0 {
        optional(&mut out, c.user_agent.as_deref());
    }
    if flags & Flags::BIND_APP_VALUE != 0 {
        optional(&mut out, c.app_value.as_deref());
    }
    Some(out)
}

/// HKDF-SHA256(secret, salt "sealed-session/v1", info "sealed-session/v1 binding").
pub(crate) fn binding_key(secret: &[u8; 32]) -> [u8; 32] {
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

/// The tag of XChaCha20-Poly1305 (the `chacha20poly1305` crate, not ours) over an empty
/// message with `input` as associated data.
pub(crate) fn value(secret: &[u8; 32], nonce: &[u8; 24], input: &[u8]) -> [u8; 16] {
    let aead = XChaCha20Poly1305::new(&binding_key(secret).into());
    let tag = aead
        .encrypt_in_place_detached(XNonce::from_slice(nonce), input, &mut [])
        .unwrap();
    tag.into()
}

/// Mints `claims` bound to `client` through the crate's session binding path (flags from the
/// policy, input, value under the binding subkey and `nonce`), checks input and value against
/// this file's, and returns the token and the claims as sealed.
pub(crate) fn mint(
    (key_id, secret): (u8, [u8; 32]),
    context: &str,
    claims: &Claims,
    (flags, prefixes): (u8, (u8, u8)),
    client: &Client,
    nonce: [u8; 24],
) -> (String, Claims) {
    let binding = binding_of(flags, prefixes);
    let ours = input(flags, prefixes, client);
    let theirs = sealed_session::__vectors::binding_input(&binding, Flags(flags), &client.context());
    assert_eq!(ours, theirs, "binding input");
    let sealer = minting_sealer(key_id, secret, context);
    let (token, sealed) =
        sealed_session::__vectors::mint_bound(&sealer, claims.clone(), &binding, &client.context(), nonce)
            .unwrap();
    assert_eq!(sealed.flags, Flags(flags));
    let expected = ours.map_or([0; 16], |i| value(&secret, &nonce, &i));
    assert_eq!(sealed.binding.0, expected, "binding value");
    (token.expose_secret().to_owned(), sealed)
}
