//! Mint → open round trips (the reference claims and arbitrary claims), the reference token
//! length, and claims that mint refuses.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use sealed_session::token::*;
use sealed_session::*;

fn reference_claims() -> Claims {
    let iat = UnixTime(1_795_000_000); // 2026-11-18
    Claims {
        session_id: SessionId([7; 16]),
        subject: Some("alice-01".into()),
        privilege: Privilege::Authenticated,
        epoch: Epoch::containing(iat.saturating_add(std::time::Duration::from_secs(86_400))),
        issued_at: iat,
        expires_at: UnixTime(iat.0 + 1800),
        session_deadline: UnixTime(iat.0 + 86_400),
        authenticated_at: iat,
        binding: BindingHash([9; 16]),
        flags: Flags(Flags::BIND_IP | Flags::BIND_USER_AGENT),
        app_data: Vec::new(),
    }
}

#[test]
fn reference_token_fits_in_130_characters() {
    let sealer = Sealer::new(KeyRing::generate().unwrap(), "bank").unwrap();
    let token = sealer.mint(&reference_claims()).unwrap();
    assert!(
        token.len() <= 130,
        "reference token is {} characters",
        token.len()
    );
    let opened = sealer
        .open_at(token.expose_secret(), UnixTime(1_795_000_100))
        .unwrap();
    assert_eq!(opened.claims, reference_claims());
}

mod arbitrary_claims {
    use proptest::prelude::*;
    use sealed_session::token::*;
    use sealed_session::*;
    use std::time::Duration;

    fn sealer() -> Sealer {
        let ring = KeyRing::empty()
            .with_key(KeyId(7), KeyState::Primary, SessionKey::from_bytes([0x5a; 32]))
            .unwrap();
        Sealer::new(ring, "roundtrip")
            .unwrap()
            .with_leeway(MAX_LEEWAY)
            .unwrap()
    }

    /// Arbitrary UTF-8 (any scalar value, control characters included), cut at a character
    /// boundary to at most [`MAX_SUBJECT_LEN`] bytes, never empty.
    fn subject() -> impl Strategy<Value = String> {
        proptest::collection::vec(any::<char>(), 1..=MAX_SUBJECT_LEN).prop_map(|chars| {
            let mut s = String::new();
            for c in chars {
                if s.len() + c.len_utf8() > MAX_SUBJECT_LEN {
                    break;
                }
                s.push(c);
            }
            s
        })
    }

    prop_compose! {
        fn valid_claims()(
            session_id in any::<[u8; 16]>(),
            subject in proptest::option::of(subject()),
            privilege in 0u8..=2,
            // Up to ~2^40 s after the origin, far beyond any real clock, so the varints of
            // every width are exercised.
            issued_in in 0u64..(1 << 40),
            expires_in in any::<u32>(),
            deadline_extra in any::<u32>(),
            authenticated_ago in any::<u32>(),
            epoch_offset in any::<u32>(),
            binding in any::<[u8; 16]>(),
            flags in 0u8..=Flags::KNOWN,
            app_data in proptest::collection::vec(any::<u8>(), 0..=MAX_APP_DATA_LEN),
        ) -> Claims {
            let issued_at = UnixTime(TIME_ORIGIN.0 + issued_in);
            let expires_at = UnixTime(issued_at.0 + u64::from(expires_in));
            let deadline = u64::from(expires_in).saturating_add(u64::from(deadline_extra)).min(u64::from(u32::MAX));
            Claims {
                session_id: SessionId(session_id),
                subject,
                privilege: Privilege::from_u8(privilege).unwrap(),
                // The epoch may be any hour from the deadline's on (the format requires it to
                // cover the deadline).
                epoch: Epoch(
                    (Epoch::containing(issued_at).0 + u64::from(epoch_offset))
                        .max(Epoch::containing(UnixTime(issued_at.0 + deadline)).0),
                ),
                issued_at,
                expires_at,
                session_deadline: UnixTime(issued_at.0 + deadline),
                // Unix time cannot go below 0, so the gap is capped by the issue time.
                authenticated_at: UnixTime(issued_at.0 - u64::from(authenticated_ago).min(issued_at.0)),
                binding: BindingHash(binding),
                flags: Flags(flags),
                app_data,
            }
        }
    }

    fn refused(sealer: &Sealer, claims: &Claims) -> bool {
        matches!(sealer.mint(claims), Err(ConfigError::Claims(_)))
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 512, failure_persistence: None, ..ProptestConfig::default() })]

        #[test]
        fn mint_then_open_returns_the_claims(claims in valid_claims()) {
            let sealer = sealer();
            let token = sealer.mint(&claims).unwrap();
            prop_assert!(token.len() <= MAX_TOKEN_CHARS);
            // Within the validity window: at issue time (expiry ≥ issue, leeway 60 s).
            let opened = sealer.open_at(token.expose_secret(), claims.issued_at).unwrap();
            prop_assert_eq!(opened.key_id, KeyId(7));
            prop_assert_eq!(&opened.claims, &claims);
            // The same claims minted again get a fresh nonce, hence a new token and token id.
            let again = sealer.mint(&claims).unwrap();
            prop_assert_ne!(again.expose_secret(), token.expose_secret());
            let reopened = sealer.open_at(again.expose_secret(), claims.issued_at).unwrap();
            prop_assert_ne!(reopened.token_id, opened.token_id);
        }

        #[test]
        fn out_of_bounds_claims_are_refused_at_mint(claims in valid_claims(), extra in 1u64..1000) {
            let sealer = sealer();
            let mut c = claims.clone();
            c.subject = Some("s".repeat(MAX_SUBJECT_LEN + 1));
            prop_assert!(refused(&sealer, &c), "65-byte subject");
            let mut c = claims.clone();
            c.subject = Some(String::new());
            prop_assert!(refused(&sealer, &c), "empty subject");
            let mut c = claims.clone();
            c.app_data = vec![0; MAX_APP_DATA_LEN + 1];
            prop_assert!(refused(&sealer, &c), "257 bytes of app data");
            let mut c = claims.clone();
            c.expires_at = UnixTime(c.session_deadline.0 + extra);
            prop_assert!(refused(&sealer, &c), "expiry after deadline");
            let mut c = claims.clone();
            c.issued_at = UnixTime(TIME_ORIGIN.0 - extra);
            c.authenticated_at = c.issued_at;
            prop_assert!(refused(&sealer, &c), "issued before 2024");
            if let Some(before) = Epoch::containing(claims.session_deadline).0.checked_sub(1) {
                let mut c = claims.clone();
                c.epoch = Epoch(before);
                prop_assert!(refused(&sealer, &c), "epoch before the hour of the session deadline");
            }
            if let Some(before) = Epoch::containing(claims.issued_at).0.checked_sub(1) {
                let mut c = claims.clone();
                c.epoch = Epoch(before);
                prop_assert!(refused(&sealer, &c), "epoch before the hour of issue");
            }
            let mut c = claims.clone();
            c.flags = Flags(c.flags.0 | 0b1000);
            prop_assert!(refused(&sealer, &c), "undefined flag");
            let mut c = claims;
            c.authenticated_at = UnixTime(c.issued_at.0 + extra);
            prop_assert!(refused(&sealer, &c), "authenticated after issue");
        }
    }

    #[test]
    fn times_at_the_edges_of_the_window() {
        let sealer = sealer();
        let iat = UnixTime(1_795_000_000);
        let claims = Claims {
            session_id: SessionId([1; 16]),
            subject: None,
            privilege: Privilege::Anonymous,
            epoch: Epoch::containing(iat),
            issued_at: iat,
            expires_at: UnixTime(iat.0 + 600),
            session_deadline: UnixTime(iat.0 + 600),
            authenticated_at: iat,
            binding: BindingHash::default(),
            flags: Flags::default(),
            app_data: Vec::new(),
        };
        let token = sealer.mint(&claims).unwrap();
        let at = |t: UnixTime| sealer.open_at(token.expose_secret(), t).map_err(|r| r.reason());
        let leeway = Duration::from_secs(60);
        assert!(at(iat.saturating_sub(leeway)).is_ok());
        assert_eq!(at(UnixTime(iat.0 - 61)), Err(Reason::NotYetValid));
        assert!(at(UnixTime(iat.0 + 659)).is_ok());
        assert_eq!(at(UnixTime(iat.0 + 660)), Err(Reason::Expired));
    }
}
