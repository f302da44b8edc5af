//! Strict JSON objects: one object, nothing after it, no member name twice in any object.
//!
//! RFC 7515 §4 and RFC 7519 §4 let a parser either reject duplicate names or keep the last
//! one; `serde_json` silently keeps the last one, and two parsers disagreeing about which
//! `alg` or `htu` counts is exactly the ambiguity a verifier must not have. So a first pass
//! walks the whole text and refuses any duplicate (names compared after unescaping, so
//! `"alg"` and `"\u0061lg"` are the same name); only then is it parsed into a map. Both
//! passes are bounded by the proof length cap and `serde_json`'s nesting limit (128).

use std::cell::Cell;
use std::collections::BTreeSet;
use std::fmt;

use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

use super::error::DpopError;

/// A parsed JSON object whose member names are unique.
pub(crate) type Object = Map<String, Value>;

/// Parses `bytes` as exactly one JSON object with unique member names at every depth.
pub(crate) fn parse_object(bytes: &[u8]) -> Result<Object, DpopError> {
    let duplicate = Cell::new(false);
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let walked = Unique(&duplicate).deserialize(&mut de).and_then(|()| de.end());
    if duplicate.get() {
        return Err(DpopError::DuplicateMember);
    }
    walked.map_err(|_| DpopError::BadJson)?;
    // Unique names, so the map loses nothing; `from_slice` also refuses a non-object.
    serde_json::from_slice(bytes).map_err(|_| DpopError::BadJson)
}

/// Walks any JSON value, flagging the first repeated member name.
struct Unique<'a>(&'a Cell<bool>);

impl<'de> DeserializeSeed<'de> for Unique<'_> {
    type Value = ();

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Unique<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }

    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }

    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }

    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }

    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }

    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element_seed(Unique(self.0))?.is_some() {}
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut seen = BTreeSet::new();
        while let Some(name) = map.next_key::<String>()? {
            if !seen.insert(name) {
                self.0.set(true);
                return Err(de::Error::custom("duplicate member name"));
            }
            map.next_value_seed(Unique(self.0))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
    use super::*;

    #[test]
    fn a_plain_object_parses() {
        let obj = parse_object(br#"{"typ":"dpop+jwt","jwk":{"kty":"EC"},"n":[1,{"a":null}]}"#).unwrap();
        assert_eq!(obj.get("typ").and_then(Value::as_str), Some("dpop+jwt"));
        assert!(parse_object(b" {} \n").is_ok(), "surrounding whitespace is JSON");
    }

    #[test]
    fn duplicate_names_are_refused_at_every_depth() {
        for text in [
            r#"{"alg":"ES256","alg":"none"}"#,
            r#"{"alg":"ES256","\u0061lg":"none"}"#,
            r#"{"jwk":{"x":"a","x":"b"}}"#,
            r#"{"ext":[{"deep":{"k":1,"k":2}}]}"#,
        ] {
            assert_eq!(
                parse_object(text.as_bytes()),
                Err(DpopError::DuplicateMember),
                "{text}"
            );
        }
    }

    #[test]
    fn anything_but_one_object_is_refused() {
        for text in [
            "",
            "[]",
            r#"["dpop+jwt","ES256"]"#,
            "null",
            r#""str""#,
            r#"{"a":1} x"#,
            r#"{"a":1}{"b":2}"#,
            r#"{"a":1,}"#,
            r#"{"a":"\ud800"}"#,
            "{\"a\":\"\u{0}\"}",
        ] {
            assert_eq!(parse_object(text.as_bytes()), Err(DpopError::BadJson), "{text:?}");
        }
        assert_eq!(parse_object(&[b'{', 0xff, b'}']), Err(DpopError::BadJson));
    }

    #[test]
    fn nesting_is_bounded_without_overflowing_the_stack() {
        let deep = format!("{{\"a\":{}{}}}", "[".repeat(10_000), "]".repeat(10_000));
        assert_eq!(parse_object(deep.as_bytes()), Err(DpopError::BadJson));
    }
}
