//! The compact JWS (RFC 7515 §7.1) and its protected header: every check up to and including
//! the signature. Nothing in the claims is read before the signature verifies.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::Value;

use super::config::{Algorithm, DpopConfig};
use super::error::DpopError;
use super::json::{parse_object, Object};
use super::jwk::PublicJwk;

/// Header members naming a key source other than `jwk`, or extensions (`crit`, RFC 7515
/// §4.1.11: a recipient must refuse what it does not understand, and we understand none).
/// A proof carries its key; one that also points elsewhere is ambiguous about which key
/// signs, so it is refused rather than half-followed. `kid` and `x5t` are hints only:
/// ignored, never looked up.
const FORBIDDEN_HEADER: [&str; 4] = ["jku", "x5u", "x5c", "crit"];

/// A proof whose structure and header passed; its signature is not yet checked.
pub(crate) struct UntrustedProof<'a> {
    signing_input: &'a str,
    payload: Vec<u8>,
    signature: Vec<u8>,
    alg: Algorithm,
    key: PublicJwk,
}

/// A proof whose signature verified under its own `jwk`: the claims can now be read.
pub(crate) struct SignedProof {
    pub(crate) alg: Algorithm,
    pub(crate) key: PublicJwk,
    pub(crate) claims: Object,
}

impl<'a> UntrustedProof<'a> {
    /// `spec/dpop.md` §3 steps 1 to 9: length, segments, base64url, header JSON, `typ`,
    /// `alg`, forbidden members, `jwk`.
    pub(crate) fn parse(text: &'a str, config: &DpopConfig) -> Result<Self, DpopError> {
        if text.len() > config.max_proof_len {
            return Err(DpopError::Oversized);
        }
        let mut segments = text.split('.');
        let (Some(header), Some(payload), Some(signature), None) =
            (segments.next(), segments.next(), segments.next(), segments.next())
        else {
            return Err(DpopError::Malformed);
        };
        let signing_input = text
            .get(..header.len() + 1 + payload.len())
            .ok_or(DpopError::Malformed)?;
        // An empty signature is structurally a JWS (RFC 7519 §6.1 unsecured JWTs): let it
        // reach the `alg` check so that `alg: none` is logged as such, then fail to verify.
        if header.is_empty() || payload.is_empty() {
            return Err(DpopError::Malformed);
        }
        let (header, payload, signature) = (decode(header)?, decode(payload)?, decode(signature)?);
        let (alg, key) = check_header(&parse_object(&header)?, config)?;
        Ok(Self {
            signing_input,
            payload,
            signature,
            alg,
            key,
        })
    }

    /// Steps 10 and 11: the signature over `header.payload` (RFC 7515 §5.2 step 8), then the
    /// claims JSON.
    pub(crate) fn verify_signature(self) -> Result<SignedProof, DpopError> {
        self.key.verify(self.signing_input.as_bytes(), &self.signature)?;
        Ok(SignedProof {
            alg: self.alg,
            key: self.key,
            claims: parse_object(&self.payload)?,
        })
    }
}

/// A segment in canonical base64url: no padding, no non-zero trailing bits (RFC 7515 §2,
/// RFC 4648 §3.5), so each byte string has exactly one spelling.
fn decode(segment: &str) -> Result<Vec<u8>, DpopError> {
    URL_SAFE_NO_PAD.decode(segment).map_err(|_| DpopError::Malformed)
}

/// RFC 9449 §4.3 checks 4, 5 and 7 and the key (§4.2), in the order of `spec/dpop.md`.
fn check_header(header: &Object, config: &DpopConfig) -> Result<(Algorithm, PublicJwk), DpopError> {
    let typ = header.get("typ").and_then(Value::as_str);
    if !typ.is_some_and(is_dpop_type) {
        return Err(DpopError::WrongType);
    }
    let alg = header
        .get("alg")
        .and_then(Value::as_str)
        .and_then(Algorithm::from_name)
        .filter(|&a| config.allows(a))
        .ok_or(DpopError::UnsupportedAlgorithm)?;
    if FORBIDDEN_HEADER.iter().any(|m| header.contains_key(*m)) {
        return Err(DpopError::ForbiddenHeader);
    }
    let jwk = header.get("jwk").ok_or(DpopError::MissingJwk)?;
    Ok((alg, PublicJwk::parse(jwk, alg)?))
}

/// `dpop+jwt`, or the same media type spelled in full: RFC 7515 §4.1.9 makes `typ` a media
/// type, compared case-insensitively (RFC 2045 §5.1), with `application/` implied.
fn is_dpop_type(typ: &str) -> bool {
    let subtype = match typ.get(..12) {
        Some(prefix) if prefix.eq_ignore_ascii_case("application/") => typ.get(12..).unwrap_or_default(),
        _ => typ,
    };
    subtype.eq_ignore_ascii_case("dpop+jwt")
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
    use super::*;

    fn b64(s: &str) -> String {
        URL_SAFE_NO_PAD.encode(s)
    }

    const JWK: &str = r#"{"kty":"EC","crv":"P-256","x":"l8tFrhx-34tV3hRICRDY9zCkDlpBhF42UQUfWVAWBFs","y":"9VE4jf_Ok_o64zbTTlcuNJajHmt6v9TDVrU0CdvGRDA"}"#;

    fn parse_header(header: &str) -> Result<Algorithm, DpopError> {
        let text = format!("{}.{}.{}", b64(header), b64("{}"), b64("sig"));
        UntrustedProof::parse(&text, &DpopConfig::default()).map(|p| p.alg)
    }

    #[test]
    fn typ_is_a_case_insensitive_media_type() {
        for typ in [
            "dpop+jwt",
            "DPoP+JWT",
            "application/dpop+jwt",
            "Application/DPOP+jwt",
        ] {
            assert!(is_dpop_type(typ), "{typ}");
        }
        for typ in [
            "jwt",
            "JWT",
            "dpop+jwt ",
            "application/jwt",
            "text/dpop+jwt",
            "applicationdpop+jwt",
            "",
        ] {
            assert!(!is_dpop_type(typ), "{typ}");
        }
    }

    #[test]
    fn header_checks_run_in_order() {
        let ok = format!(r#"{{"typ":"dpop+jwt","alg":"ES256","jwk":{JWK}}}"#);
        assert_eq!(parse_header(&ok), Ok(Algorithm::Es256));
        let cases = [
            (format!(r#"{{"alg":"ES256","jwk":{JWK}}}"#), DpopError::WrongType),
            (
                format!(r#"{{"typ":"jwt","alg":"none","jwk":{JWK}}}"#),
                DpopError::WrongType,
            ),
            (
                format!(r#"{{"typ":"dpop+jwt","alg":"none","jwk":{JWK}}}"#),
                DpopError::UnsupportedAlgorithm,
            ),
            (
                format!(r#"{{"typ":"dpop+jwt","jwk":{JWK}}}"#),
                DpopError::UnsupportedAlgorithm,
            ),
            (
                format!(r#"{{"typ":"dpop+jwt","alg":"EdDSA","jwk":{JWK}}}"#),
                DpopError::BadJwk,
            ),
            (
                r#"{"typ":"dpop+jwt","alg":"ES256"}"#.to_owned(),
                DpopError::MissingJwk,
            ),
            (
                format!(r#"{{"typ":"dpop+jwt","alg":"ES256","jku":"https://evil.example/k","jwk":{JWK}}}"#),
                DpopError::ForbiddenHeader,
            ),
            (
                format!(r#"{{"typ":"dpop+jwt","alg":"ES256","crit":["b64"],"jwk":{JWK}}}"#),
                DpopError::ForbiddenHeader,
            ),
            (
                format!(r#"{{"typ":"dpop+jwt","typ":"dpop+jwt","alg":"ES256","jwk":{JWK}}}"#),
                DpopError::DuplicateMember,
            ),
            ("[1]".to_owned(), DpopError::BadJson),
        ];
        for (header, expected) in cases {
            assert_eq!(parse_header(&header), Err(expected), "{header}");
        }
        let kid = format!(r#"{{"typ":"dpop+jwt","alg":"ES256","kid":"elsewhere","jwk":{JWK}}}"#);
        assert_eq!(
            parse_header(&kid),
            Ok(Algorithm::Es256),
            "kid is ignored, never looked up"
        );
    }

    #[test]
    fn structure_is_exactly_three_canonical_segments() {
        let h = b64(&format!(r#"{{"typ":"dpop+jwt","alg":"ES256","jwk":{JWK}}}"#));
        let p = b64("{}");
        let parse = |text: &str| UntrustedProof::parse(text, &DpopConfig::default()).map(|_| ());
        assert_eq!(parse(&format!("{h}.{p}.AAAA")), Ok(()));
        assert_eq!(
            parse(&format!("{h}.{p}.")),
            Ok(()),
            "an empty signature fails later, at verification"
        );
        for bad in [
            String::new(),
            format!("{h}.{p}"),
            format!("{h}.{p}.AAAA."),
            format!("{h}.{p}.AAAA.AAAA"),
            format!("{h}..AAAA"),
            format!(".{p}.AAAA"),
            format!("{h}=.{p}.AAAA"),
            format!("{h}.{p}.AAAA=="),
            format!("{h}.{p}.AAB"), // non-zero trailing bits
            format!("{h}.{p}.AA+A"),
            format!("{h}.{p}.AA A"),
            format!(" {h}.{p}.AAAA"),
            format!("{h}.{p}.AAAA\n"),
        ] {
            assert_eq!(parse(&bad), Err(DpopError::Malformed), "{bad:?}");
        }
    }
}
