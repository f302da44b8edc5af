//! The case builder: every case is checked against the library before it is recorded.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use sealed_session::token::{
    decode_claims, BindingHash, Claims, Epoch, Flags, SessionId, EPOCH_SECONDS, TIME_ORIGIN,
};
use sealed_session::{KeyState, Privilege, Reason, UnixTime};
use serde::Serialize;

use crate::bind::{self, ClientJson};
use crate::material::{
    claims_json, derive, derive_vec, hex, key, keys_json, minting_sealer, nonce_for, seal_raw, sealer,
    ClaimsJson, KeyJson, Wire, WireJson,
};

/// Issue time of most cases: 2026-11-18T11:06:40Z.
pub(crate) const IAT: u64 = 1_795_000_000;
/// The ring most cases open with: key 1, primary.
pub(crate) const RING1: &[(u8, KeyState)] = &[(1, KeyState::Primary)];
/// The valid case most invalid cases are edited from.
pub(crate) const REF: &str = "reference_authenticated";

#[derive(Serialize)]
pub(crate) struct ValidCase {
    name: String,
    comment: &'static str,
    key_id: u8,
    keys: Vec<KeyJson>,
    context: String,
    now: u64,
    leeway: u64,
    nonce: String,
    token_id: String,
    claims: ClaimsJson,
    wire: WireJson,
    plaintext: String,
    /// For a token with flags: the client its binding value was computed for.
    #[serde(skip_serializing_if = "Option::is_none")]
    bound_to: Option<BoundJson>,
    pub(crate) token: String,
    pub(crate) token_length: usize,
    expect_fail: bool,
}

/// The binding inputs of a valid case (spec/sessions.md §6), so the value is checkable.
#[derive(Serialize)]
struct BoundJson {
    ipv4_prefix: u8,
    ipv6_prefix: u8,
    client: ClientJson,
    input: String,
}

/// How a genuinely sealed invalid token was made (absent for tokens edited after sealing).
#[derive(Serialize)]
struct SealedJson {
    key_id: u8,
    key: String,
    context: String,
    nonce: String,
    plaintext: String,
}

#[derive(Serialize)]
pub(crate) struct InvalidCase {
    name: String,
    comment: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    derived_from: Option<String>,
    keys: Vec<KeyJson>,
    context: String,
    now: u64,
    leeway: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    sealed: Option<SealedJson>,
    #[serde(skip_serializing_if = "Option::is_none")]
    claims: Option<ClaimsJson>,
    token: String,
    token_length: usize,
    expect_fail: bool,
    pub(crate) reason: &'static str,
}

/// How a case is opened.
#[derive(Clone, Copy)]
pub(crate) struct Open {
    pub(crate) ring: &'static [(u8, KeyState)],
    pub(crate) context: &'static str,
    pub(crate) now: u64,
    pub(crate) leeway: u64,
}

/// Key 1 primary, context "bank", no leeway, at `now`.
pub(crate) const fn open(now: u64) -> Open {
    Open {
        ring: RING1,
        context: "bank",
        now,
        leeway: 0,
    }
}

/// A sealing done for a case that must fail (key, context and plaintext as sealed).
pub(crate) struct Seal<'a> {
    pub(crate) key_id: u8,
    pub(crate) secret: [u8; 32],
    pub(crate) context: &'static str,
    pub(crate) plaintext: &'a [u8],
}

impl<'a> Seal<'a> {
    /// `plaintext` under key 1 for "bank".
    pub(crate) fn bank(plaintext: &'a [u8]) -> Self {
        Self {
            key_id: 1,
            secret: key(1),
            context: "bank",
            plaintext,
        }
    }
}

struct Source {
    name: String,
    open: Open,
    bytes: Vec<u8>,
    claims: ClaimsJson,
}

#[derive(Default)]
pub(crate) struct Gen {
    pub(crate) valid: Vec<ValidCase>,
    pub(crate) invalid: Vec<InvalidCase>,
    sources: Vec<Source>,
}

impl Gen {
    /// A valid case minted by `key_id` with the nonce derived from `name`.
    pub(crate) fn valid(&mut self, name: &str, comment: &'static str, key_id: u8, o: Open, claims: &Claims) {
        self.valid_with_nonce(name, comment, key_id, o, claims, nonce_for(name));
    }

    pub(crate) fn valid_with_nonce(
        &mut self,
        name: &str,
        comment: &'static str,
        key_id: u8,
        o: Open,
        claims: &Claims,
        nonce: [u8; 24],
    ) {
        assert!(self.valid.iter().all(|c| c.name != name), "duplicate {name}");
        // A token with flags carries the real binding value of the reference client, minted
        // through the crate's binding path; the format itself treats it as 16 opaque bytes.
        let (claims, bound_to) = match claims.flags.0 {
            0 => (claims.clone(), None),
            flags => {
                let client = bind::reference_client();
                let prefixes = (24, 56);
                let (_, sealed) = bind::mint(
                    (key_id, key(key_id)),
                    o.context,
                    claims,
                    (flags, prefixes),
                    &client,
                    nonce,
                );
                let input = bind::input(flags, prefixes, &client).unwrap();
                let bound = BoundJson {
                    ipv4_prefix: prefixes.0,
                    ipv6_prefix: prefixes.1,
                    client: client.json(),
                    input: hex(&input),
                };
                (sealed, Some(bound))
            }
        };
        let claims = &claims;
        let wire = Wire::of(claims);
        let plaintext = wire.encode();
        let token = minting_sealer(key_id, key(key_id), o.context)
            .dangerous_mint_with_nonce(claims, nonce)
            .unwrap()
            .expose_secret()
            .to_owned();
        // The spec's encoding and the library's minting agree byte for byte.
        assert_eq!(
            token,
            seal_raw(key_id, key(key_id), o.context, &plaintext, nonce),
            "{name}"
        );
        assert_eq!(decode_claims(&plaintext).unwrap(), *claims, "{name}");
        let opened = sealer(o.ring, o.context, o.leeway)
            .open_at(&token, UnixTime(o.now))
            .unwrap_or_else(|e| panic!("{name}: {e:?}"));
        assert_eq!(opened.claims, *claims, "{name}");
        assert_eq!(opened.token_id.0, nonce[..16], "{name}");
        self.sources.push(Source {
            name: name.to_owned(),
            open: o,
            bytes: URL_SAFE_NO_PAD.decode(&token).unwrap(),
            claims: claims_json(claims),
        });
        self.valid.push(ValidCase {
            name: name.to_owned(),
            comment,
            key_id,
            keys: keys_json(o.ring),
            context: o.context.to_owned(),
            now: o.now,
            leeway: o.leeway,
            nonce: hex(&nonce),
            token_id: hex(&nonce[..16]),
            claims: claims_json(claims),
            wire: wire.json(),
            plaintext: hex(&plaintext),
            bound_to,
            token_length: token.len(),
            token,
            expect_fail: false,
        });
    }

    /// An invalid case: opening `token` with `o` must fail with `reason`.
    pub(crate) fn invalid(&mut self, name: &str, comment: &str, o: Open, token: String, reason: Reason) {
        assert!(self.invalid.iter().all(|c| c.name != name), "duplicate {name}");
        let got = sealer(o.ring, o.context, o.leeway)
            .open_at(&token, UnixTime(o.now))
            .map(|_| ())
            .map_err(|e| e.reason());
        assert_eq!(got, Err(reason), "{name}");
        self.invalid.push(InvalidCase {
            name: name.to_owned(),
            comment: comment.to_owned(),
            derived_from: None,
            keys: keys_json(o.ring),
            context: o.context.to_owned(),
            now: o.now,
            leeway: o.leeway,
            sealed: None,
            claims: None,
            token_length: token.len(),
            token,
            expect_fail: true,
            reason: reason.code(),
        });
    }

    /// A token genuinely sealed as `s` (nonce derived from `name`), opened with `o`.
    pub(crate) fn sealed(&mut self, name: &str, comment: &str, o: Open, s: Seal<'_>, reason: Reason) {
        let nonce = nonce_for(name);
        let token = seal_raw(s.key_id, s.secret, s.context, s.plaintext, nonce);
        self.invalid(name, comment, o, token, reason);
        self.invalid.last_mut().unwrap().sealed = Some(SealedJson {
            key_id: s.key_id,
            key: hex(&s.secret),
            context: s.context.to_owned(),
            nonce: hex(&nonce),
            plaintext: hex(s.plaintext),
        });
    }

    /// A bad-claims case: `plaintext` sealed under key 1 for "bank", opened at [`IAT`].
    pub(crate) fn bad_claims(&mut self, name: &str, comment: &str, plaintext: &[u8]) {
        self.sealed(name, comment, open(IAT), Seal::bank(plaintext), Reason::BadClaims);
    }

    fn source(&self, from: &str) -> &Source {
        self.sources.iter().find(|s| s.name == from).unwrap()
    }

    /// The bytes of valid case `from`, edited, re-encoded canonically, opened with `o` (or as
    /// the source when `None`).
    pub(crate) fn edit_bytes(
        &mut self,
        name: &str,
        comment: &str,
        from: &str,
        o: Option<Open>,
        edit: impl FnOnce(&mut Vec<u8>),
        reason: Reason,
    ) {
        let src = self.source(from);
        let o = o.unwrap_or(src.open);
        let mut bytes = src.bytes.clone();
        edit(&mut bytes);
        self.invalid(name, comment, o, URL_SAFE_NO_PAD.encode(&bytes), reason);
        self.invalid.last_mut().unwrap().derived_from = Some(from.to_owned());
    }

    /// The text of valid case `from`, edited as text.
    pub(crate) fn edit_text(
        &mut self,
        name: &str,
        comment: &str,
        from: &str,
        edit: impl FnOnce(String) -> String,
        reason: Reason,
    ) {
        let src = self.source(from);
        let o = src.open;
        let token = edit(URL_SAFE_NO_PAD.encode(&src.bytes));
        self.invalid(name, comment, o, token, reason);
        self.invalid.last_mut().unwrap().derived_from = Some(from.to_owned());
    }

    /// The token of valid case `from`, unchanged, opened with `o`.
    pub(crate) fn reopen(&mut self, name: &str, comment: &str, from: &str, o: Open, reason: Reason) {
        let src = self.source(from);
        // The claims matter to the time checks; elsewhere they are in the source case.
        let claims = matches!(reason, Reason::Expired | Reason::NotYetValid).then(|| src.claims.clone());
        let token = URL_SAFE_NO_PAD.encode(&src.bytes);
        self.invalid(name, comment, o, token, reason);
        let case = self.invalid.last_mut().unwrap();
        case.derived_from = Some(from.to_owned());
        case.claims = claims;
    }

    /// Records the claims a sealed invalid case holds.
    pub(crate) fn with_claims(&mut self, claims: &Claims) {
        self.invalid.last_mut().unwrap().claims = Some(claims_json(claims));
    }
}

// Claims shapes.

/// A realistic authenticated session: 30-minute tokens, 24-hour session, epoch of the
/// deadline's hour, bound to IP prefix and User-Agent, 8-byte subject, no app data.
pub(crate) fn reference(iat: u64) -> Claims {
    let deadline = iat + 86_400;
    Claims {
        session_id: SessionId(derive("session 1")),
        subject: Some("alice-01".into()),
        privilege: Privilege::Authenticated,
        epoch: Epoch::containing(UnixTime(deadline)),
        issued_at: UnixTime(iat),
        expires_at: UnixTime(iat + 1800),
        session_deadline: UnixTime(deadline),
        authenticated_at: UnixTime(iat),
        // Replaced by the real value for the reference client when minted (`valid_with_nonce`).
        binding: BindingHash::default(),
        flags: Flags(Flags::BIND_IP | Flags::BIND_USER_AGENT),
        app_data: Vec::new(),
    }
}

pub(crate) fn anonymous(iat: u64) -> Claims {
    Claims {
        session_id: SessionId(derive("session 2")),
        subject: None,
        privilege: Privilege::Anonymous,
        binding: BindingHash::default(),
        flags: Flags::default(),
        ..reference(iat)
    }
}

pub(crate) fn elevated(iat: u64) -> Claims {
    Claims {
        privilege: Privilege::Elevated,
        expires_at: UnixTime(iat + 300),
        authenticated_at: UnixTime(iat - 5),
        flags: Flags(Flags::KNOWN),
        ..reference(iat)
    }
}

/// The longest claims encoding: 64-byte subject, 256-byte app data, every varint at its
/// maximum length (issued_at ≥ 2^63 s after the origin, the u32 fields ≥ 2^28).
pub(crate) fn maximal() -> Claims {
    let iat = TIME_ORIGIN.0 + (1u64 << 63);
    let big = 1u64 << 28;
    Claims {
        subject: Some("s".repeat(64)),
        epoch: Epoch((iat - TIME_ORIGIN.0) / EPOCH_SECONDS + big),
        issued_at: UnixTime(iat),
        expires_at: UnixTime(iat + big),
        session_deadline: UnixTime(iat + big + 1),
        authenticated_at: UnixTime(iat - big),
        flags: Flags(Flags::KNOWN),
        app_data: derive_vec("app data max", 256),
        ..reference(IAT)
    }
}
