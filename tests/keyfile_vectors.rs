//! Checks `spec/vectors/keyfile.json`: each valid key-file text parses to the listed keys
//! (ids, states, secrets, scheduled times) and has the listed ring in force at each time;
//! each invalid text is refused naming the listed line.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use sealed_session::{ConfigError, KeyId, KeyRing, UnixTime};
use serde_json::Value;

fn load() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/spec/vectors/keyfile.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len() / 2)
        .map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap())
        .collect()
}

fn id(v: &Value) -> KeyId {
    KeyId(u8::try_from(v.as_u64().unwrap()).unwrap())
}

fn check_keys(name: &str, ring: &KeyRing, keys: &[Value]) {
    let states: Vec<(u8, &str)> = ring.states().iter().map(|(i, s)| (i.0, s.as_str())).collect();
    let listed: Vec<(u8, &str)> = keys
        .iter()
        .map(|k| (id(&k["id"]).0, k["state"].as_str().unwrap()))
        .collect();
    assert_eq!(states, listed, "{name}");
    // The rendering lists each key's secret in standard padded base64 after its state.
    let text = ring.to_key_file_text();
    for k in keys {
        let key = id(&k["id"]);
        let schedule = ring.schedule(key);
        assert_eq!(
            schedule.activate_at.map(|t| t.0),
            k["activate"].as_u64(),
            "{name}"
        );
        assert_eq!(schedule.retire_at.map(|t| t.0), k["retire"].as_u64(), "{name}");
        let line = format!(
            "{} {} {}",
            key.0,
            k["state"].as_str().unwrap(),
            STANDARD.encode(unhex(k["secret"].as_str().unwrap()))
        );
        assert!(text.lines().any(|l| l.starts_with(&line)), "{name}: {line}");
    }
}

#[test]
fn valid_key_files_parse_and_schedule_as_listed() {
    let doc = load();
    let cases = doc["valid"].as_array().unwrap();
    assert!(cases.len() >= 10);
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let ring = KeyRing::parse(case["text"].as_str().unwrap()).unwrap_or_else(|e| panic!("{name}: {e}"));
        check_keys(name, &ring, case["keys"].as_array().unwrap());
        for at in case["in_force"].as_array().unwrap() {
            let now = UnixTime(at["now"].as_u64().unwrap());
            assert_eq!(
                ring.primary_id_at(now).map(|i| i.0),
                at["primary"].as_u64().map(|p| u8::try_from(p).unwrap()),
                "{name} at {}",
                now.0
            );
            let states: Vec<Value> = ring
                .states_at(now)
                .iter()
                .map(|(i, s)| serde_json::json!([i.0, s.as_str()]))
                .collect();
            assert_eq!(states, *at["states"].as_array().unwrap(), "{name} at {}", now.0);
        }
    }
}

#[test]
fn invalid_key_files_are_refused_naming_the_line() {
    let doc = load();
    let cases = doc["invalid"].as_array().unwrap();
    for needle in [
        "nbsp_before_entry",
        "ideographic_space",
        "vertical_tab",
        "form_feed_separator",
    ] {
        assert!(cases.iter().any(|c| c["name"] == needle), "no case {needle}");
    }
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let err = KeyRing::parse(case["text"].as_str().unwrap())
            .map(|_| ())
            .expect_err(name);
        let line = match &err {
            ConfigError::KeyFile { line, .. } => Some(*line as u64),
            _ => None,
        };
        assert_eq!(line, case["line"].as_u64(), "{name}");
        assert_eq!(err.to_string(), case["error"].as_str().unwrap(), "{name}");
    }
}
