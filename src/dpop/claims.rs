//! The DPoP claims (RFC 9449 §4.2) of a proof whose signature verified, and the checks that
//! tie them to the request: `jti`, `htm`, `htu`, `iat`, `ath` (§4.3 checks 8, 9, 11, 12).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use ring::digest;
use serde_json::Value;
use subtle::ConstantTimeEq;

use super::config::DpopConfig;
use super::error::{Claim, DpopError};
use super::json::Object;
use crate::clock::UnixTime;

/// Longest `jti` accepted, in bytes. §4.2 asks for at least 96 random bits (a UUID is 36
/// characters, 32 random bytes in base64url 43); anything far longer is not an identifier.
pub(crate) const MAX_JTI_LEN: usize = 256;

/// The claims, borrowed from the parsed object. Other claims are ignored (§4.2 allows them).
pub(crate) struct Claims<'a> {
    pub(crate) jti: &'a str,
    htm: &'a str,
    htu: &'a str,
    pub(crate) iat: UnixTime,
    ath: Option<&'a str>,
    pub(crate) nonce: Option<&'a str>,
}

impl<'a> Claims<'a> {
    /// Presence and JSON type of every DPoP claim: `jti`, `htm`, `htu` strings and `iat` a
    /// number are required; `ath` and `nonce`, when present, are strings.
    pub(crate) fn parse(obj: &'a Object) -> Result<Self, DpopError> {
        let text = |claim: Claim| match obj.get(claim.name()) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.as_str())),
            Some(_) => Err(DpopError::BadClaim(claim)),
        };
        let required = |claim: Claim| text(claim)?.ok_or(DpopError::BadClaim(claim));
        Ok(Self {
            jti: required(Claim::Jti)?,
            htm: required(Claim::Htm)?,
            htu: required(Claim::Htu)?,
            iat: obj
                .get("iat")
                .and_then(numeric_date)
                .ok_or(DpopError::BadClaim(Claim::Iat))?,
            ath: text(Claim::Ath)?,
            nonce: text(Claim::Nonce)?,
        })
    }

    /// `jti` length, then `htm` (case-sensitive, RFC 9110 §9.1), then `htu` normalised
    /// (`htu.rs`) against the request URI already normalised by the caller.
    pub(crate) fn check_target(&self, method: &str, request_htu: &str) -> Result<(), DpopError> {
        if self.jti.is_empty() || self.jti.len() > MAX_JTI_LEN {
            return Err(DpopError::JtiLength);
        }
        if self.htm != method {
            return Err(DpopError::MethodMismatch);
        }
        match super::htu::normalize(self.htu) {
            Some(htu) if htu == request_htu => Ok(()),
            _ => Err(DpopError::UriMismatch),
        }
    }

    /// `now - max_age <= iat <= now + max_future` (§4.3 check 11, §11.1).
    pub(crate) fn check_time(&self, now: UnixTime, config: &DpopConfig) -> Result<(), DpopError> {
        if self.iat < now.saturating_sub(config.max_age) {
            return Err(DpopError::TooOld);
        }
        if self.iat > now.saturating_add(config.max_future) {
            return Err(DpopError::FromFuture);
        }
        Ok(())
    }

    /// With an access token, `ath` must be base64url(SHA-256(token)) (§4.2, check 12),
    /// compared in constant time. Without one, `ath` is not looked at.
    // Out of line so that ct/check.sh can count this check alone: the proofs it compares differ
    // in their signed `ath`, and the signature check before this is variable-time on them.
    #[inline(never)]
    pub(crate) fn check_ath(&self, access_token: Option<&[u8]>) -> Result<(), DpopError> {
        let Some(token) = access_token else {
            return Ok(());
        };
        let ath = self.ath.ok_or(DpopError::AthMissing)?;
        let mut claimed = [0u8; 32];
        match URL_SAFE_NO_PAD.decode_slice(ath.as_bytes(), &mut claimed) {
            Ok(32) if ath.len() == 43 => {}
            _ => return Err(DpopError::AthMismatch),
        }
        let actual = digest::digest(&digest::SHA256, token);
        if bool::from(actual.as_ref().ct_eq(&claimed)) {
            Ok(())
        } else {
            Err(DpopError::AthMismatch)
        }
    }
}

/// A NumericDate (RFC 7519 §2): a non-negative JSON number of seconds, fractions allowed and
/// rounded down.
fn numeric_date(value: &Value) -> Option<UnixTime> {
    let Value::Number(n) = value else {
        return None;
    };
    if let Some(secs) = n.as_u64() {
        return Some(UnixTime(secs));
    }
    let secs = n
        .as_f64()
        .filter(|f| (0.0..18_446_744_073_709_549_568.0).contains(f))?;
    // In range and non-negative (checked above), so the cast only drops the fraction.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    Some(UnixTime(secs as u64))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
    use super::*;
    use serde_json::json;
    use std::time::Duration;

    fn obj(value: Value) -> Object {
        value.as_object().cloned().unwrap()
    }

    fn good() -> Value {
        json!({"jti": "-BwC3ESc6acc2lTc", "htm": "POST", "htu": "https://server.example.com/token", "iat": 1_562_262_616})
    }

    #[test]
    fn required_claims_and_types() {
        let o = obj(good());
        let c = Claims::parse(&o).unwrap();
        assert_eq!(
            (c.jti, c.iat, c.ath, c.nonce),
            ("-BwC3ESc6acc2lTc", UnixTime(1_562_262_616), None, None)
        );
        for (claim, name) in [
            (Claim::Jti, "jti"),
            (Claim::Htm, "htm"),
            (Claim::Htu, "htu"),
            (Claim::Iat, "iat"),
        ] {
            let mut missing = good();
            missing.as_object_mut().unwrap().remove(name);
            assert_eq!(
                Claims::parse(&obj(missing)).err(),
                Some(DpopError::BadClaim(claim))
            );
            let mut wrong = good();
            wrong[name] = json!([]);
            assert_eq!(Claims::parse(&obj(wrong)).err(), Some(DpopError::BadClaim(claim)));
        }
        for (claim, name) in [(Claim::Ath, "ath"), (Claim::Nonce, "nonce")] {
            let mut wrong = good();
            wrong[name] = json!(1);
            assert_eq!(Claims::parse(&obj(wrong)).err(), Some(DpopError::BadClaim(claim)));
        }
    }

    #[test]
    fn numeric_dates() {
        assert_eq!(numeric_date(&json!(12)), Some(UnixTime(12)));
        assert_eq!(numeric_date(&json!(12.9)), Some(UnixTime(12)));
        assert_eq!(numeric_date(&json!(0)), Some(UnixTime(0)));
        for bad in [
            json!(-1),
            json!(-0.5),
            json!(1e300),
            json!("12"),
            json!(null),
            json!(true),
        ] {
            assert_eq!(numeric_date(&bad), None, "{bad}");
        }
    }

    #[test]
    fn target_checks() {
        let o = obj(good());
        let c = Claims::parse(&o).unwrap();
        let htu = "https://server.example.com/token";
        assert_eq!(c.check_target("POST", htu), Ok(()));
        assert_eq!(c.check_target("post", htu), Err(DpopError::MethodMismatch));
        assert_eq!(c.check_target("GET", htu), Err(DpopError::MethodMismatch));
        assert_eq!(
            c.check_target("POST", "https://server.example.com/other"),
            Err(DpopError::UriMismatch)
        );
        for jti in [String::new(), "j".repeat(MAX_JTI_LEN + 1)] {
            let mut v = good();
            v["jti"] = json!(jti);
            let o = obj(v);
            assert_eq!(
                Claims::parse(&o).unwrap().check_target("POST", htu),
                Err(DpopError::JtiLength)
            );
        }
    }

    #[test]
    fn the_window_is_inclusive() {
        let config = DpopConfig::default()
            .with_max_age(Duration::from_secs(60))
            .with_max_future(Duration::from_secs(5));
        let o = obj(good());
        let c = Claims::parse(&o).unwrap();
        let at = |d: i64| UnixTime(c.iat.0.checked_add_signed(d).unwrap());
        assert_eq!(c.check_time(at(60), &config), Ok(()));
        assert_eq!(c.check_time(at(61), &config), Err(DpopError::TooOld));
        assert_eq!(c.check_time(at(-5), &config), Ok(()));
        assert_eq!(c.check_time(at(-6), &config), Err(DpopError::FromFuture));
    }

    #[test]
    fn ath_is_the_hash_of_the_presented_token() {
        let token = b"Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU";
        let ath = URL_SAFE_NO_PAD.encode(digest::digest(&digest::SHA256, token));
        let with = |ath: Option<&str>| {
            let mut v = good();
            if let Some(a) = ath {
                v["ath"] = json!(a);
            }
            obj(v)
        };
        let o = with(Some(&ath));
        let c = Claims::parse(&o).unwrap();
        assert_eq!(c.check_ath(Some(token)), Ok(()));
        assert_eq!(
            c.check_ath(None),
            Ok(()),
            "no token presented: ath is not looked at"
        );
        assert_eq!(c.check_ath(Some(b"another token")), Err(DpopError::AthMismatch));
        let o = with(None);
        assert_eq!(
            Claims::parse(&o).unwrap().check_ath(Some(token)),
            Err(DpopError::AthMissing)
        );
        for bad in [format!("{ath}="), ath[1..].to_owned(), String::new()] {
            let o = with(Some(&bad));
            assert_eq!(
                Claims::parse(&o).unwrap().check_ath(Some(token)),
                Err(DpopError::AthMismatch),
                "{bad}"
            );
        }
    }
}
