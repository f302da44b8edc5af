//! Mint → open round trips, the reference token length, and key rotation.

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
