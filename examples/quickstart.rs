//! Mint a token, verify it, rotate the key, and watch a tampered token be refused.

use std::time::Duration;

use sealed_session::{
    BindingHash, Claims, Clock, Epoch, Flags, KeyId, KeyRing, KeyState, Privilege, Sealer, SessionId,
    SessionKey, SystemClock,
};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let clock = SystemClock;
    let now = clock.now();
    let mut sealer = Sealer::new(KeyRing::generate()?, "quickstart")?;

    let claims = Claims {
        session_id: SessionId([0x42; 16]),
        subject: Some("alice".into()),
        privilege: Privilege::Authenticated,
        epoch: Epoch::containing(now.saturating_add(Duration::from_secs(86_400))),
        issued_at: now,
        expires_at: now.saturating_add(Duration::from_secs(1800)),
        session_deadline: now.saturating_add(Duration::from_secs(86_400)),
        authenticated_at: now,
        binding: BindingHash::default(),
        flags: Flags::default(),
        app_data: Vec::new(),
    };
    let token = sealer.mint(&claims)?;
    println!("minted a {}-character token under key 1", token.len());
    let opened = sealer.open_at(token.expose_secret(), now)?;
    println!(
        "verified: subject {:?}, privilege {:?}",
        opened.claims.subject, opened.claims.privilege
    );

    // Rotation, phase 1 and 2: distribute key 2 as accept-only, then promote it.
    sealer
        .keys_mut()
        .insert(KeyId(2), KeyState::AcceptOnly, SessionKey::generate()?)?;
    sealer.keys_mut().promote(KeyId(2))?;
    let newer = sealer.mint(&claims)?;
    println!(
        "key 2 is primary; the key-1 token still opens: {}",
        sealer.open_at(token.expose_secret(), now).is_ok()
    );
    // Phase 3: retire key 1 once its last token has expired.
    sealer.keys_mut().retire(KeyId(1))?;
    match sealer.open_at(token.expose_secret(), now) {
        Err(rejected) => println!(
            "after retiring key 1 its token is refused ({})",
            rejected.reason()
        ),
        Ok(_) => return Err("retired key still opens".into()),
    }

    let mut tampered = newer.expose_secret().to_owned();
    let middle = tampered.len() / 2;
    let flipped = if &tampered[middle..=middle] == "A" {
        "B"
    } else {
        "A"
    };
    tampered.replace_range(middle..=middle, flipped);
    match sealer.open_at(&tampered, now) {
        Err(rejected) => println!(
            "tampered token refused: client sees \"{rejected}\", log says {}",
            rejected.reason()
        ),
        Ok(_) => return Err("tampered token opened".into()),
    }
    Ok(())
}
