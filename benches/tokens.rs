//! Mint and verify cost of sealed-session tokens against cookie's private jar, JWT (HS256),
//! PASETO v4.local and Branca, all carrying the same reference claims; plus the `floor`: the
//! primitives one sealed-session verify cannot avoid. `python3 benches/ratios.py` turns the
//! results into ratios against the peers. On a shared machine one run's medians swing with
//! other load: save several runs (`cargo bench --bench tokens -- --save-baseline r1`, `r2`, ...)
//! and pass their names to the script, which takes each function's least median.
//!
//! The reference claims: 16-byte session id, 8-byte subject, `Authenticated`, an epoch,
//! issued-at / expiry / deadline / last-authentication times, a 16-byte binding hash, flags, no
//! application data. Binary peers (cookie, Branca) seal the same postcard bytes sealed-session
//! seals (the cookie as base64url text, since a cookie value is a string); JSON peers (JWT,
//! PASETO) carry an equivalent serde struct. Each verify yields claims and checks expiry.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use criterion::{black_box, Criterion};
use serde::{Deserialize, Serialize};

use sealed_session::token::{
    decode_claims, encode_claims, BindingHash, Claims, Epoch, Flags, Sealer, SessionId, MAX_TOKEN_BYTES,
};
use sealed_session::{Clock, KeyId, KeyRing, KeyState, Privilege, SessionKey, SystemClock, UnixTime};

const MASTER: [u8; 32] = [0x42; 32];
const CONTEXT: &str = "bank";
const COOKIE_NAME: &str = "session";

/// The reference claims, issued at `iat`. Real time is used because jsonwebtoken validates
/// `exp` against the system clock.
fn reference_claims(iat: UnixTime) -> Claims {
    Claims {
        session_id: SessionId([7; 16]),
        subject: Some("alice-01".into()),
        privilege: Privilege::Authenticated,
        epoch: Epoch::containing(iat.saturating_add(Duration::from_secs(86_400))),
        issued_at: iat,
        expires_at: UnixTime(iat.0 + 1800),
        session_deadline: UnixTime(iat.0 + 86_400),
        authenticated_at: iat,
        binding: BindingHash([9; 16]),
        flags: Flags(Flags::BIND_IP | Flags::BIND_USER_AGENT),
        app_data: Vec::new(),
    }
}

/// The same claims as JSON peers carry them (ids and hashes as base64url text).
#[derive(Serialize, Deserialize)]
struct JsonClaims {
    sid: String,
    sub: String,
    prv: u8,
    epoch: u64,
    iat: u64,
    exp: u64,
    dl: u64,
    auth_time: u64,
    bnd: String,
    flg: u8,
}

impl JsonClaims {
    fn of(c: &Claims) -> Self {
        Self {
            sid: URL_SAFE_NO_PAD.encode(c.session_id.0),
            sub: c.subject.clone().unwrap_or_default(),
            prv: c.privilege.as_u8(),
            epoch: c.epoch.0,
            iat: c.issued_at.0,
            exp: c.expires_at.0,
            dl: c.session_deadline.0,
            auth_time: c.authenticated_at.0,
            bnd: URL_SAFE_NO_PAD.encode(c.binding.0),
            flg: c.flags.0,
        }
    }
}

struct Fixture {
    claims: Claims,
    now: UnixTime,
    sealer: Sealer,
    seal_key: [u8; 32],
    token: String,
    cookie_key: cookie::Key,
    cookie: cookie::Cookie<'static>,
    jwt_enc: jsonwebtoken::EncodingKey,
    jwt_dec: jsonwebtoken::DecodingKey,
    jwt_validation: jsonwebtoken::Validation,
    jwt: String,
    paseto_key: pasetors::keys::SymmetricKey<pasetors::version4::V4>,
    paseto: String,
    branca: String,
}

/// The sealing subkey, derived as spec/format.md says (HKDF-SHA256, salt and label).
fn seal_subkey(master: &[u8; 32]) -> [u8; 32] {
    struct Len;
    impl ring::hkdf::KeyType for Len {
        fn len(&self) -> usize {
            32
        }
    }
    let prk = ring::hkdf::Salt::new(ring::hkdf::HKDF_SHA256, b"sealed-session/v1").extract(master);
    let mut out = [0u8; 32];
    prk.expand(&[b"sealed-session/v1 seal"], Len)
        .unwrap()
        .fill(&mut out)
        .unwrap();
    out
}

impl Fixture {
    fn new() -> Self {
        // Issued a minute ago, so the JWT's `exp` (30 min later) holds for the whole run.
        let iat = SystemClock.now().0 - 60;
        let claims = reference_claims(UnixTime(iat));
        let now = UnixTime(iat + 100);
        let keys = KeyRing::empty()
            .with_key(KeyId(1), KeyState::Primary, SessionKey::from_bytes(MASTER))
            .unwrap();
        let sealer = Sealer::new(keys, CONTEXT).unwrap();
        let token = sealer.mint(&claims).unwrap().expose_secret().to_owned();
        assert_eq!(token.len(), 130, "reference token length");
        assert_eq!(sealer.open_at(&token, now).unwrap().claims, claims);

        let seal_key = seal_subkey(&MASTER);
        let (_, plaintext) = floor_open(&seal_key, &token);
        assert_eq!(
            encoded(&claims),
            plaintext,
            "the peers seal the same bytes the token does"
        );

        let cookie_key = cookie::Key::derive_from(&MASTER);
        let mut jar = cookie::CookieJar::new();
        jar.private_mut(&cookie_key)
            .add(cookie::Cookie::new(COOKIE_NAME, cookie_value(&claims)));
        let cookie = jar.get(COOKIE_NAME).unwrap().clone();

        let jwt_enc = jsonwebtoken::EncodingKey::from_secret(&MASTER);
        let jwt_dec = jsonwebtoken::DecodingKey::from_secret(&MASTER);
        let jwt_validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::HS256);
        let jwt = jsonwebtoken::encode(
            &jsonwebtoken::Header::default(),
            &JsonClaims::of(&claims),
            &jwt_enc,
        )
        .unwrap();

        let paseto_key = pasetors::keys::SymmetricKey::<pasetors::version4::V4>::from(&MASTER).unwrap();
        let paseto = paseto_mint(&paseto_key, &JsonClaims::of(&claims));
        let branca = branca_mint(&claims);

        let f = Self {
            claims,
            now,
            sealer,
            seal_key,
            token,
            cookie_key,
            cookie,
            jwt_enc,
            jwt_dec,
            jwt_validation,
            jwt,
            paseto_key,
            paseto,
            branca,
        };
        f.check_verifiers();
        f
    }

    /// Every verifier yields the reference claims (so the bench measures working code).
    fn check_verifiers(&self) {
        let c = &self.claims;
        assert_eq!(cookie_verify(self).unwrap(), *c);
        assert_eq!(branca_verify(self).unwrap(), *c);
        let j = jwt_verify(self).unwrap();
        assert_eq!(
            (j.sub.as_str(), j.exp),
            (c.subject.as_deref().unwrap(), c.expires_at.0)
        );
        let p = paseto_verify(self).unwrap();
        assert_eq!(
            (p.sub.as_str(), p.exp),
            (c.subject.as_deref().unwrap(), c.expires_at.0)
        );
    }
}

/// The claims plaintext the token seals, for the peers to seal too.
fn encoded(claims: &Claims) -> Vec<u8> {
    let mut out = Vec::with_capacity(128);
    encode_claims(claims, &mut out).unwrap();
    out
}

fn cookie_value(claims: &Claims) -> String {
    URL_SAFE_NO_PAD.encode(encoded(claims))
}

fn paseto_mint(key: &pasetors::keys::SymmetricKey<pasetors::version4::V4>, claims: &JsonClaims) -> String {
    let json = serde_json::to_vec(claims).unwrap();
    pasetors::version4::LocalToken::encrypt(key, &json, None, None).unwrap()
}

fn branca_mint(claims: &Claims) -> String {
    branca::encode(
        &encoded(claims),
        &MASTER,
        u32::try_from(claims.issued_at.0).unwrap(),
    )
    .unwrap()
}

fn unexpired(c: Claims, now: UnixTime) -> Option<Claims> {
    (c.issued_at <= now && now < c.expires_at).then_some(c)
}

fn cookie_verify(f: &Fixture) -> Option<Claims> {
    let jar = cookie::CookieJar::new();
    let opened = jar.private(&f.cookie_key).decrypt(f.cookie.clone())?;
    let mut buf = [0u8; 128];
    let n = URL_SAFE_NO_PAD.decode_slice(opened.value(), &mut buf).ok()?;
    unexpired(decode_claims(&buf[..n]).ok()?, f.now)
}

fn branca_verify(f: &Fixture) -> Option<Claims> {
    let (ts, bytes) = branca::decode_with_timestamp(&f.branca, &MASTER).ok()?;
    if u64::from(ts) + 1800 <= f.now.0 {
        return None;
    }
    unexpired(decode_claims(&bytes).ok()?, f.now)
}

fn jwt_verify(f: &Fixture) -> Option<JsonClaims> {
    // Validation::new(HS256) checks `exp` (against the system clock), as by default.
    jsonwebtoken::decode::<JsonClaims>(&f.jwt, &f.jwt_dec, &f.jwt_validation)
        .ok()
        .map(|d| d.claims)
}

fn paseto_verify(f: &Fixture) -> Option<JsonClaims> {
    use pasetors::token::UntrustedToken;
    use pasetors::version4::{LocalToken, V4};
    let untrusted = UntrustedToken::<pasetors::Local, V4>::try_from(f.paseto.as_str()).ok()?;
    let trusted = LocalToken::decrypt(&f.paseto_key, &untrusted, None, None).ok()?;
    let c: JsonClaims = serde_json::from_str(trusted.payload()).ok()?;
    (c.iat <= f.now.0 && f.now.0 < c.exp).then_some(c)
}

/// `floor/base64_decode`: the token text into a stack buffer, as `UntrustedToken::parse` does.
fn floor_base64(token: &str) -> ([u8; MAX_TOKEN_BYTES], usize) {
    let mut buf = [0u8; MAX_TOKEN_BYTES];
    let n = URL_SAFE_NO_PAD.decode_slice(token.as_bytes(), &mut buf).unwrap();
    (buf, n)
}

/// Header, nonce, ciphertext, tag of a decoded token, and the AAD for [`CONTEXT`].
struct Split {
    aad: [u8; 2 + CONTEXT.len()],
    nonce: [u8; 24],
    ciphertext: Vec<u8>,
    tag: [u8; 16],
}

fn split(token: &str) -> Split {
    let (buf, n) = floor_base64(token);
    let bytes = &buf[..n];
    let mut aad = [0u8; 2 + CONTEXT.len()];
    aad[..2].copy_from_slice(&bytes[..2]);
    aad[2..].copy_from_slice(CONTEXT.as_bytes());
    Split {
        aad,
        nonce: bytes[2..26].try_into().unwrap(),
        ciphertext: bytes[26..n - 16].to_vec(),
        tag: bytes[n - 16..].try_into().unwrap(),
    }
}

fn floor_open(seal_key: &[u8; 32], token: &str) -> (Split, Vec<u8>) {
    let s = split(token);
    let mut pt = s.ciphertext.clone();
    sealed_session::token::aead::open_in_place(seal_key, &s.nonce, &s.aad, &mut pt, &s.tag).unwrap();
    (s, pt)
}

fn group<'a>(
    c: &'a mut Criterion,
    name: &str,
) -> criterion::BenchmarkGroup<'a, criterion::measurement::WallTime> {
    let mut g = c.benchmark_group(name);
    g.measurement_time(Duration::from_secs(3))
        .warm_up_time(Duration::from_secs(1))
        .sample_size(50);
    g
}

fn mint(c: &mut Criterion) {
    let f = Fixture::new();
    let json = JsonClaims::of(&f.claims);
    let mut g = group(c, "mint");
    g.bench_function("sealed_session", |b| {
        b.iter(|| f.sealer.mint(black_box(&f.claims)).unwrap())
    });
    g.bench_function("cookie_private_jar", |b| {
        let mut jar = cookie::CookieJar::new();
        b.iter(|| {
            let value = cookie_value(black_box(&f.claims));
            jar.private_mut(&f.cookie_key)
                .add(cookie::Cookie::new(COOKIE_NAME, value));
            black_box(jar.get(COOKIE_NAME).unwrap().value().len())
        })
    });
    g.bench_function("jsonwebtoken_hs256", |b| {
        let header = jsonwebtoken::Header::default();
        b.iter(|| jsonwebtoken::encode(&header, black_box(&json), &f.jwt_enc).unwrap())
    });
    g.bench_function("pasetors_v4_local", |b| {
        b.iter(|| paseto_mint(&f.paseto_key, black_box(&json)))
    });
    g.bench_function("branca", |b| b.iter(|| branca_mint(black_box(&f.claims))));
    g.finish();
}

fn verify(c: &mut Criterion) {
    let f = Fixture::new();
    let mut g = group(c, "verify");
    g.bench_function("sealed_session", |b| {
        b.iter(|| f.sealer.open_at(black_box(&f.token), f.now).unwrap())
    });
    g.bench_function("cookie_private_jar", |b| {
        b.iter(|| cookie_verify(black_box(&f)).unwrap())
    });
    g.bench_function("jsonwebtoken_hs256", |b| {
        b.iter(|| jwt_verify(black_box(&f)).unwrap())
    });
    g.bench_function("pasetors_v4_local", |b| {
        b.iter(|| paseto_verify(black_box(&f)).unwrap())
    });
    g.bench_function("branca", |b| b.iter(|| branca_verify(black_box(&f)).unwrap()));
    g.finish();
}

fn floor(c: &mut Criterion) {
    let f = Fixture::new();
    let (s, plaintext) = floor_open(&f.seal_key, &f.token);
    let mut g = group(c, "floor");
    g.bench_function("base64_decode", |b| {
        b.iter(|| {
            let mut buf = [0u8; MAX_TOKEN_BYTES];
            let n = URL_SAFE_NO_PAD
                .decode_slice(black_box(f.token.as_bytes()), &mut buf)
                .unwrap();
            black_box(&buf);
            n
        })
    });
    g.bench_function("xchacha_open", |b| {
        let mut buf = [0u8; 128];
        let n = s.ciphertext.len();
        b.iter(|| {
            let in_out = &mut buf[..n];
            in_out.copy_from_slice(black_box(&s.ciphertext));
            sealed_session::token::aead::open_in_place(&f.seal_key, &s.nonce, &s.aad, in_out, &s.tag)
                .unwrap();
            black_box(in_out[0])
        })
    });
    g.bench_function("claims_decode", |b| {
        b.iter(|| decode_claims(black_box(&plaintext)).unwrap())
    });
    // The mint's floor: what one mint cannot avoid (claims encode, XChaCha seal, base64url
    // into the token's one allocation, 24 random bytes), plus the fork check's system call.
    g.bench_function("claims_encode", |b| {
        let mut out = Vec::with_capacity(128);
        b.iter(|| {
            out.clear();
            encode_claims(black_box(&f.claims), &mut out).unwrap();
            black_box(out.len())
        })
    });
    g.bench_function("xchacha_seal", |b| {
        let mut buf = [0u8; 128];
        let n = plaintext.len();
        b.iter(|| {
            let in_out = &mut buf[..n];
            in_out.copy_from_slice(black_box(&plaintext));
            sealed_session::token::aead::seal_in_place(&f.seal_key, &s.nonce, &s.aad, in_out).unwrap()
        })
    });
    g.bench_function("base64_encode", |b| {
        let (bytes, n) = floor_base64(&f.token);
        b.iter(|| URL_SAFE_NO_PAD.encode(black_box(&bytes[..n])))
    });
    g.bench_function("rng_16_bytes", |b| b.iter(|| SessionId::generate().unwrap()));
    g.bench_function("getpid", |b| b.iter(std::process::id));
    g.finish();
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    mint(&mut c);
    verify(&mut c);
    floor(&mut c);
    c.final_summary();
}
