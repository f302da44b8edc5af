//! Key rotation, key files (parsing, permissions, malformed input, environment variable) and
//! redacted `Debug` of everything secret.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::os::unix::fs::PermissionsExt;

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use sealed_session::token::*;
use sealed_session::*;

const NOW: UnixTime = UnixTime(1_795_000_100);
const K1: [u8; 32] = [0x11; 32];
const K2: [u8; 32] = [0x22; 32];
const K3: [u8; 32] = [0x33; 32];

fn key(bytes: [u8; 32]) -> SessionKey {
    SessionKey::from_bytes(bytes)
}

fn claims() -> Claims {
    let iat = UnixTime(1_795_000_000);
    Claims {
        session_id: SessionId([7; 16]),
        subject: Some("alice".into()),
        privilege: Privilege::Authenticated,
        epoch: Epoch::containing(UnixTime(iat.0 + 3600)),
        issued_at: iat,
        expires_at: UnixTime(iat.0 + 1800),
        session_deadline: UnixTime(iat.0 + 3600),
        authenticated_at: iat,
        binding: BindingHash::default(),
        flags: Flags::default(),
        app_data: Vec::new(),
    }
}

fn sealer(ring: KeyRing) -> Sealer {
    Sealer::new(ring, "keys-test").unwrap()
}

fn open(sealer: &Sealer, token: &SealedToken) -> Result<KeyId, Reason> {
    sealer
        .open_at(token.expose_secret(), NOW)
        .map(|o| o.key_id)
        .map_err(|r| r.reason())
}

#[test]
fn three_phase_rotation() {
    // Node A knows key 1 (primary); key 2 is distributed as accept-only.
    let ring = KeyRing::empty()
        .with_key(KeyId(1), KeyState::Primary, key(K1))
        .unwrap()
        .with_key(KeyId(2), KeyState::AcceptOnly, key(K2))
        .unwrap();
    let a = sealer(ring);
    let old = a.mint(&claims()).unwrap();
    assert_eq!(open(&a, &old), Ok(KeyId(1)));

    // Node B already promoted key 2: its tokens open on A through the accept-only key.
    let b = sealer(
        KeyRing::empty()
            .with_key(KeyId(1), KeyState::AcceptOnly, key(K1))
            .unwrap()
            .with_key(KeyId(2), KeyState::Primary, key(K2))
            .unwrap(),
    );
    let from_b = b.mint(&claims()).unwrap();
    assert_eq!(open(&a, &from_b), Ok(KeyId(2)));
    assert_eq!(open(&b, &old), Ok(KeyId(1)));

    // Promote on A: key 2 mints, key 1 becomes accept-only and still opens.
    a.keys().modify(|r| r.promote(KeyId(2))).unwrap();
    assert_eq!(a.keys().current().primary_id(), Some(KeyId(2)));
    assert_eq!(
        a.keys().current().states(),
        vec![(KeyId(1), KeyState::AcceptOnly), (KeyId(2), KeyState::Primary)]
    );
    let new = a.mint(&claims()).unwrap();
    assert_eq!(open(&a, &new), Ok(KeyId(2)));
    assert_eq!(open(&a, &old), Ok(KeyId(1)));

    // Retire key 1: its tokens are refused as retired, never trial-decrypted with key 2.
    a.keys().modify(|r| r.retire(KeyId(1))).unwrap();
    assert_eq!(open(&a, &old), Err(Reason::RetiredKey));
    assert_eq!(open(&a, &new), Ok(KeyId(2)));

    // A retired key never mints again; the primary cannot be retired.
    assert!(matches!(
        a.keys().modify(|r| r.promote(KeyId(1))),
        Err(ConfigError::KeyRing(_))
    ));
    assert!(matches!(
        a.keys().modify(|r| r.retire(KeyId(2))),
        Err(ConfigError::KeyRing(_))
    ));
    assert!(matches!(
        a.keys().modify(|r| r.promote(KeyId(9))),
        Err(ConfigError::KeyRing(_))
    ));
    assert!(matches!(
        a.keys().modify(|r| r.retire(KeyId(9))),
        Err(ConfigError::KeyRing(_))
    ));
    assert_eq!(a.keys().current().primary_id(), Some(KeyId(2)));
}

#[test]
fn unknown_key_id_is_its_own_reason() {
    let other = sealer(
        KeyRing::empty()
            .with_key(KeyId(3), KeyState::Primary, key(K3))
            .unwrap(),
    );
    let token = other.mint(&claims()).unwrap();
    let mine = sealer(
        KeyRing::empty()
            .with_key(KeyId(1), KeyState::Primary, key(K1))
            .unwrap(),
    );
    assert_eq!(open(&mine, &token), Err(Reason::UnknownKey));
    // The same id with a different secret is a forgery, not an unknown key.
    let same_id = sealer(
        KeyRing::empty()
            .with_key(KeyId(3), KeyState::Primary, key(K1))
            .unwrap(),
    );
    assert_eq!(open(&same_id, &token), Err(Reason::Forged));
}

#[test]
fn ring_construction_refuses_duplicates_and_second_primary() {
    let ring = KeyRing::empty()
        .with_key(KeyId(1), KeyState::Primary, key(K1))
        .unwrap();
    assert!(matches!(
        ring.with_key(KeyId(1), KeyState::AcceptOnly, key(K2)),
        Err(ConfigError::KeyRing(_))
    ));
    let ring = KeyRing::empty()
        .with_key(KeyId(1), KeyState::Primary, key(K1))
        .unwrap();
    assert!(matches!(
        ring.with_key(KeyId(2), KeyState::Primary, key(K2)),
        Err(ConfigError::KeyRing(_))
    ));
    let no_primary = KeyRing::empty()
        .with_key(KeyId(1), KeyState::AcceptOnly, key(K1))
        .unwrap();
    assert!(Sealer::new(no_primary, "x").is_err());
}

fn three_key_ring() -> KeyRing {
    KeyRing::empty()
        .with_key(KeyId(0), KeyState::Retired, key(K3))
        .unwrap()
        .with_key(KeyId(1), KeyState::AcceptOnly, key(K1))
        .unwrap()
        .with_key(KeyId(255), KeyState::Primary, key(K2))
        .unwrap()
}

#[test]
fn key_file_text_round_trips() {
    let ring = three_key_ring();
    let text = ring.to_key_file_text();
    let parsed = KeyRing::parse(&text).unwrap();
    assert_eq!(parsed.states(), ring.states());
    assert_eq!(parsed.to_key_file_text().as_str(), text.as_str());
    // Same secrets: a token minted with one opens with the other.
    let token = sealer(ring).mint(&claims()).unwrap();
    assert_eq!(open(&sealer(parsed), &token), Ok(KeyId(255)));
}

#[test]
fn write_key_file_is_private_and_never_overwrites() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keys");
    three_key_ring().write_new_file(&path).unwrap();
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let before = std::fs::read(&path).unwrap();

    let other = KeyRing::empty()
        .with_key(KeyId(9), KeyState::Primary, key([9; 32]))
        .unwrap();
    let err = other.write_new_file(&path).unwrap_err();
    assert!(matches!(err, ConfigError::Io { .. }), "{err}");
    assert_eq!(std::fs::read(&path).unwrap(), before);

    let loaded = KeyRing::from_file(&path).unwrap();
    assert_eq!(loaded.states(), three_key_ring().states());

    // Replacing (create_new = false) is explicit and keeps mode 0600.
    other.replace_file(&path).unwrap();
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    assert_eq!(KeyRing::from_file(&path).unwrap().primary_id(), Some(KeyId(9)));
}

#[test]
fn loose_key_file_permissions_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keys");
    three_key_ring().write_new_file(&path).unwrap();
    for mode in [0o644, 0o640, 0o604, 0o660, 0o601] {
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
        let err = KeyRing::from_file(&path).unwrap_err();
        assert!(
            matches!(err, ConfigError::KeyFilePermissions { mode: m, .. } if m == mode),
            "{err}"
        );
        assert!(err.to_string().contains("chmod 600"), "{err}");
    }
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o400)).unwrap();
    assert!(KeyRing::from_file(&path).is_ok());
}

#[test]
fn malformed_key_files_name_the_line_and_the_problem() {
    let k = STANDARD.encode([5u8; 32]);
    let k2 = STANDARD.encode([6u8; 32]);
    let short = STANDARD.encode([5u8; 31]);
    let h = "sealed-session-keys v1";
    let cases: Vec<(String, &str)> = vec![
        (format!("1 primary {k}\n"), "line 1: expected the header line"),
        (
            format!("# comment\n\nsealed-session-keys v2\n1 primary {k}\n"),
            "line 3: expected the header line",
        ),
        (String::new(), "line 1: empty key file"),
        (
            format!("{h}\nx primary {k}\n"),
            "line 2: key id must be a decimal number",
        ),
        (
            format!("{h}\n-1 primary {k}\n"),
            "line 2: key id must be a decimal number",
        ),
        (
            format!("{h}\n256 primary {k}\n"),
            "line 2: key id must be a decimal number from 0 to 255",
        ),
        (
            format!("{h}\n1 main {k}\n"),
            "line 2: state must be primary, accept-only or retired",
        ),
        (
            format!("{h}\n1 primary {}\n", k.trim_end_matches('=')),
            "line 2: secret is not canonical padded base64",
        ),
        (
            format!("{h}\n1 primary {}\n", URL_SAFE_NO_PAD.encode([0xfb; 32])),
            "line 2: secret is not canonical padded base64",
        ),
        (
            format!("{h}\n1 primary {short}\n"),
            "line 2: secret must decode to exactly 32 bytes",
        ),
        (
            format!("{h}\n1 primary {k}\n# c\n1 accept-only {k2}\n"),
            "line 4: duplicate key id",
        ),
        (
            format!("{h}\n1 primary {k}\n2 primary {k2}\n"),
            "line 3: more than one primary key",
        ),
        (
            format!("{h}\n1 primary {k} extra\n"),
            "line 2: unexpected field after the secret",
        ),
        (format!("{h}\n1 primary\n"), "line 2: expected `<id>"),
        // A ring with no primary is a property of the whole file, not of a line.
        (format!("{h}\n1 accept-only {k}\n"), "key ring: no primary key"),
    ];
    for (text, want) in &cases {
        let err = KeyRing::parse(text).unwrap_err();
        let shown = err.to_string();
        assert!(shown.contains(want), "{want:?} not in {shown:?}");
        assert!(
            !shown.contains(&k) && !shown.contains(&k2),
            "error text shows a secret"
        );
        if want.starts_with("line") {
            assert!(matches!(err, ConfigError::KeyFile { .. }));
            assert!(shown.starts_with("key file line "), "{shown}");
        }
    }
}

#[test]
fn keys_from_an_environment_variable() {
    let ring = three_key_ring();
    let text = ring.to_key_file_text();
    let one_line = text
        .lines()
        .filter(|l| !l.starts_with('#'))
        .collect::<Vec<_>>()
        .join(";");
    assert!(!one_line.contains('\n'));
    let var = "SEALED_SESSION_TEST_KEYS_FROM_ENV";
    std::env::set_var(var, &one_line);
    let parsed = KeyRing::from_env(var).unwrap();
    std::env::remove_var(var);
    assert_eq!(parsed.states(), ring.states());
    let token = sealer(ring).mint(&claims()).unwrap();
    assert_eq!(open(&sealer(parsed), &token), Ok(KeyId(255)));

    std::env::set_var(
        "SEALED_SESSION_TEST_KEYS_BAD",
        "sealed-session-keys v1; 1 primary nope",
    );
    let err = KeyRing::from_env("SEALED_SESSION_TEST_KEYS_BAD").unwrap_err();
    assert!(err.to_string().contains("line 1"), "{err}");
    std::env::remove_var("SEALED_SESSION_TEST_KEYS_BAD");
    assert!(matches!(
        KeyRing::from_env("SEALED_SESSION_TEST_KEYS_UNSET"),
        Err(ConfigError::KeyVariable { .. })
    ));
}

#[test]
fn debug_never_shows_secrets_or_tokens() {
    let secret = [0xa7u8; 32];
    let encodings = [
        STANDARD.encode(secret),
        URL_SAFE_NO_PAD.encode(secret),
        secret.iter().map(|b| format!("{b:02x}")).collect::<String>(),
        format!("{secret:?}"),
    ];
    let key_debug = format!("{:?}", key(secret));
    let ring = KeyRing::empty()
        .with_key(KeyId(4), KeyState::Primary, key(secret))
        .unwrap();
    let ring_debug = format!("{ring:?}");
    let ring_debug_alt = format!("{ring:#?}");
    let sealer = sealer(ring);
    let sealer_debug = format!("{sealer:?}");
    let token = sealer.mint(&claims()).unwrap();
    let token_debug = format!("{token:?} {token:#?}");
    let rejected = sealer.open_at("x", NOW).unwrap_err();
    for shown in [
        &key_debug,
        &ring_debug,
        &ring_debug_alt,
        &sealer_debug,
        &token_debug,
    ] {
        for enc in &encodings {
            assert!(!shown.contains(enc.as_str()), "Debug shows the secret: {shown}");
        }
        assert!(!shown.contains(token.expose_secret()), "Debug shows the token");
    }
    assert_eq!(key_debug, "SessionKey(..)");
    assert_eq!(token_debug, "SealedToken(..) SealedToken(..)");
    assert_eq!(rejected.to_string(), "session token rejected");
    // An opened token's Debug names no identifier, nonce or binding value.
    let opened = sealer.open_at(token.expose_secret(), NOW).unwrap();
    let opened_debug = format!("{opened:?} {opened:#?}");
    let hex = |bytes: &[u8]| bytes.iter().map(|b| format!("{b:02x}")).collect::<String>();
    for secret_part in [
        format!("{:?}", opened.nonce),
        hex(&opened.nonce),
        format!("{:?}", opened.claims.session_id.0),
        format!("{:?}", opened.token_id.0),
        format!("{:?}", opened.claims.binding.0),
    ] {
        assert!(
            !opened_debug.contains(&secret_part),
            "Debug shows {secret_part}: {opened_debug}"
        );
    }
    assert!(opened_debug.contains("SessionId(..)") && opened_debug.contains("BindingHash(..)"));
}

#[test]
fn scheduled_times_round_trip_through_the_key_file_and_bad_ones_name_the_line() {
    let mut ring = KeyRing::generate().unwrap();
    ring.insert(KeyId(2), KeyState::AcceptOnly, SessionKey::generate().unwrap())
        .unwrap();
    let schedule = KeySchedule {
        activate_at: Some(UnixTime(1_800_000_000)),
        retire_at: Some(UnixTime(1_900_000_000)),
    };
    ring.set_schedule(KeyId(2), schedule).unwrap();
    let text = ring.to_key_file_text();
    assert!(
        text.contains(" activate=1800000000 retire=1900000000\n"),
        "{}",
        text.as_str()
    );
    let back = KeyRing::parse(&text).unwrap();
    assert_eq!(back.schedule(KeyId(2)), schedule);
    assert_eq!(back.primary_id_at(UnixTime(1_799_999_999)), Some(KeyId(1)));
    assert_eq!(back.primary_id_at(UnixTime(1_800_000_000)), Some(KeyId(2)));
    assert_eq!(
        back.primary_id_at(UnixTime(1_900_000_000)),
        Some(KeyId(1)),
        "key 2 retired: key 1 mints again"
    );
    let secret = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
    for bad in [
        "activate=",
        "activate=01",
        "activate=x",
        "activate=1 activate=2",
        "when=1",
        "extra",
    ] {
        let text = format!("sealed-session-keys v1\n1 primary {secret} {bad}\n");
        let err = KeyRing::parse(&text).unwrap_err();
        assert!(err.to_string().contains("line 2"), "{bad}: {err}");
    }
}
