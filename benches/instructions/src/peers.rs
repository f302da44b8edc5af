//! The token peers of benches/tokens.rs, carrying the same reference claims: cookie's private
//! jar (AES-256-GCM) and Branca (XChaCha20-Poly1305) seal the same postcard bytes our token
//! seals (the cookie as base64url text); jsonwebtoken (HS256) and pasetors (v4.local) carry an
//! equivalent JSON struct. Each verify yields the claims and checks expiry.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use sealed_session::token::{decode_claims, encode_claims, Claims};
use sealed_session::{Clock, SystemClock, UnixTime};
use web_peers::COOKIE_NAME;

use crate::ours::reference_claims;
use crate::{BoxError, Named, Op, Params, Side};

const MASTER: [u8; 32] = [0x42; 32];

/// The JSON peers carry web-peers' claims struct, filled from ours.
type JsonClaims = web_peers::Claims;

/// Our claims as the JSON peers carry them.
fn json_of(c: &Claims) -> JsonClaims {
    JsonClaims {
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

/// Real time, since jsonwebtoken checks `exp` against the system clock: issued a minute ago.
fn claims(p: &Params) -> (Claims, UnixTime) {
    let iat = UnixTime(SystemClock.now().0 - 60);
    (reference_claims(iat, p.app_data), UnixTime(iat.0 + 100))
}

fn encoded(claims: &Claims) -> Vec<u8> {
    let mut out = Vec::with_capacity(128);
    encode_claims(claims, &mut out).expect("encode");
    out
}

fn unexpired(c: Claims, now: UnixTime) -> Option<Claims> {
    (c.issued_at <= now && now < c.expires_at).then_some(c)
}

struct CookieJar {
    key: cookie::Key,
    claims: Claims,
    now: UnixTime,
    cookie: cookie::Cookie<'static>,
    mint: bool,
}

impl Op for CookieJar {
    fn run(&mut self) -> usize {
        if self.mint {
            let mut jar = cookie::CookieJar::new();
            let value = URL_SAFE_NO_PAD.encode(encoded(&self.claims));
            jar.private_mut(&self.key)
                .add(cookie::Cookie::new(COOKIE_NAME, value));
            return jar.get(COOKIE_NAME).expect("added").value().len();
        }
        let jar = cookie::CookieJar::new();
        let opened = jar
            .private(&self.key)
            .decrypt(self.cookie.clone())
            .expect("decrypt");
        let mut buf = [0u8; 512];
        let n = URL_SAFE_NO_PAD
            .decode_slice(opened.value(), &mut buf)
            .expect("base64");
        let claims = unexpired(decode_claims(&buf[..n]).expect("claims"), self.now).expect("live");
        claims.app_data.len() + 1
    }
}

fn cookie_jar(p: &Params, mint: bool) -> Result<Box<dyn Op>, BoxError> {
    let (claims, now) = claims(p);
    let key = cookie::Key::derive_from(&MASTER);
    let mut jar = cookie::CookieJar::new();
    jar.private_mut(&key).add(cookie::Cookie::new(
        COOKIE_NAME,
        URL_SAFE_NO_PAD.encode(encoded(&claims)),
    ));
    let cookie = jar.get(COOKIE_NAME).ok_or("no cookie")?.clone();
    Ok(Box::new(CookieJar {
        key,
        claims,
        now,
        cookie,
        mint,
    }))
}

struct Jwt {
    enc: jsonwebtoken::EncodingKey,
    dec: jsonwebtoken::DecodingKey,
    validation: jsonwebtoken::Validation,
    header: jsonwebtoken::Header,
    json: JsonClaims,
    token: String,
    mint: bool,
}

impl Op for Jwt {
    fn run(&mut self) -> usize {
        if self.mint {
            return jsonwebtoken::encode(&self.header, &self.json, &self.enc)
                .expect("encode")
                .len();
        }
        let decoded =
            jsonwebtoken::decode::<JsonClaims>(&self.token, &self.dec, &self.validation).expect("decode");
        decoded.claims.sub.len()
    }
}

fn jwt(p: &Params, mint: bool) -> Result<Box<dyn Op>, BoxError> {
    let (claims, _) = claims(p);
    let json = json_of(&claims);
    let enc = jsonwebtoken::EncodingKey::from_secret(&MASTER);
    let header = jsonwebtoken::Header::default();
    let token = jsonwebtoken::encode(&header, &json, &enc)?;
    Ok(Box::new(Jwt {
        enc,
        dec: jsonwebtoken::DecodingKey::from_secret(&MASTER),
        validation: jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::HS256),
        header,
        json,
        token,
        mint,
    }))
}

type PasetoKey = pasetors::keys::SymmetricKey<pasetors::version4::V4>;

struct Paseto {
    key: PasetoKey,
    json: JsonClaims,
    token: String,
    now: UnixTime,
    mint: bool,
}

fn paseto_mint(key: &PasetoKey, claims: &JsonClaims) -> String {
    let json = serde_json::to_vec(claims).expect("json");
    pasetors::version4::LocalToken::encrypt(key, &json, None, None).expect("encrypt")
}

impl Op for Paseto {
    fn run(&mut self) -> usize {
        use pasetors::token::UntrustedToken;
        use pasetors::version4::{LocalToken, V4};
        if self.mint {
            return paseto_mint(&self.key, &self.json).len();
        }
        let untrusted = UntrustedToken::<pasetors::Local, V4>::try_from(self.token.as_str()).expect("parse");
        let trusted = LocalToken::decrypt(&self.key, &untrusted, None, None).expect("decrypt");
        let c: JsonClaims = serde_json::from_str(trusted.payload()).expect("json");
        assert!(c.iat <= self.now.0 && self.now.0 < c.exp, "expired");
        c.sub.len()
    }
}

fn paseto(p: &Params, mint: bool) -> Result<Box<dyn Op>, BoxError> {
    let (claims, now) = claims(p);
    let key = PasetoKey::from(&MASTER)?;
    let json = json_of(&claims);
    let token = paseto_mint(&key, &json);
    Ok(Box::new(Paseto {
        key,
        json,
        token,
        now,
        mint,
    }))
}

struct Branca {
    claims: Claims,
    token: String,
    now: UnixTime,
    mint: bool,
}

fn branca_mint(claims: &Claims) -> String {
    let ts = u32::try_from(claims.issued_at.0).expect("timestamp fits");
    branca::encode(&encoded(claims), &MASTER, ts).expect("encode")
}

impl Op for Branca {
    fn run(&mut self) -> usize {
        if self.mint {
            return branca_mint(&self.claims).len();
        }
        let (ts, bytes) = branca::decode_with_timestamp(&self.token, &MASTER).expect("decode");
        assert!(u64::from(ts) + 1800 > self.now.0, "expired");
        let claims = unexpired(decode_claims(&bytes).expect("claims"), self.now).expect("live");
        claims.app_data.len() + 1
    }
}

fn branca(p: &Params, mint: bool) -> Result<Box<dyn Op>, BoxError> {
    let (claims, now) = claims(p);
    let token = branca_mint(&claims);
    Ok(Box::new(Branca {
        claims,
        token,
        now,
        mint,
    }))
}

pub(crate) const COOKIE_MINT: Named = Named {
    name: "cookie_private_jar_mint",
    side: Side::Peer,
    prepare: |p| cookie_jar(p, true),
};
pub(crate) const COOKIE_VERIFY: Named = Named {
    name: "cookie_private_jar_verify",
    side: Side::Peer,
    prepare: |p| cookie_jar(p, false),
};
pub(crate) const JWT_MINT: Named = Named {
    name: "jsonwebtoken_hs256_mint",
    side: Side::Peer,
    prepare: |p| jwt(p, true),
};
pub(crate) const JWT_VERIFY: Named = Named {
    name: "jsonwebtoken_hs256_verify",
    side: Side::Peer,
    prepare: |p| jwt(p, false),
};
pub(crate) const PASETO_MINT: Named = Named {
    name: "pasetors_v4_local_mint",
    side: Side::Peer,
    prepare: |p| paseto(p, true),
};
pub(crate) const PASETO_VERIFY: Named = Named {
    name: "pasetors_v4_local_verify",
    side: Side::Peer,
    prepare: |p| paseto(p, false),
};
pub(crate) const BRANCA_MINT: Named = Named {
    name: "branca_mint",
    side: Side::Peer,
    prepare: |p| branca(p, true),
};
pub(crate) const BRANCA_VERIFY: Named = Named {
    name: "branca_verify",
    side: Side::Peer,
    prepare: |p| branca(p, false),
};
