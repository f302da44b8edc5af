//! A tour: seal and open a token, rotate keys, refuse a tampered token, then run a whole
//! session — a planted token dies at login, elevation mints, logout holds on every node and
//! survives a restart of the revocation store.

use std::sync::Arc;
use std::time::Duration;

use sealed_session::revocation::{FileStore, FilterConfig};
use sealed_session::token::{BindingHash, Claims, Epoch, Flags, Sealer, SessionId};
use sealed_session::{
    ClientContext, Clock, KeyId, KeyRing, KeyState, Keys, Privilege, SessionKey, SessionManager, SystemClock,
};

type Error = Box<dyn std::error::Error>;

fn main() -> Result<(), Error> {
    tokens()?;
    sessions()
}

/// The token layer: mint, verify, rotate, tamper.
fn tokens() -> Result<(), Error> {
    let now = SystemClock.now();
    let sealer = Sealer::new(KeyRing::generate()?, "quickstart")?;
    let claims = Claims {
        session_id: SessionId::generate()?,
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
    println!("[token] minted a {}-character token under key 1", token.len());
    let opened = sealer.open_at(token.expose_secret(), now)?;
    println!(
        "[token] verified: subject {:?}, privilege {:?}",
        opened.claims.subject, opened.claims.privilege
    );

    // Rotation, phases 1 and 2: distribute key 2 as accept-only, then promote it.
    sealer
        .keys()
        .modify(|r| r.insert(KeyId(2), KeyState::AcceptOnly, SessionKey::generate()?))?;
    sealer.keys().modify(|r| r.promote(KeyId(2)))?;
    let newer = sealer.mint(&claims)?;
    let still = sealer.open_at(token.expose_secret(), now).is_ok();
    println!("[token] key 2 is primary; the key-1 token still opens: {still}");
    // Phase 3: retire key 1 once its last token has expired.
    sealer.keys().modify(|r| r.retire(KeyId(1)))?;
    match sealer.open_at(token.expose_secret(), now) {
        Err(rejected) => println!(
            "[token] after retiring key 1 its token is refused ({})",
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
        Err(r) => println!(
            "[token] tampered token refused: client sees \"{r}\", log says {}",
            r.reason()
        ),
        Ok(_) => return Err("tampered token opened".into()),
    }
    Ok(())
}

const KEYS: &str = "sealed-session-keys v1\n7 primary AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n";

/// Two nodes sharing one durable revocation store.
fn sessions() -> Result<(), Error> {
    let dir = std::env::temp_dir().join(format!("sealed-session-quickstart-{}", std::process::id()));
    // One key handle for the store and both managers: a key rotation reaches them all.
    let keys = Keys::new(KeyRing::parse(KEYS)?)?;
    let store = Arc::new(FileStore::open(&dir, &keys, FilterConfig::default())?);
    let node_a = SessionManager::builder(keys.clone(), "quickstart", store.clone()).build()?;
    let node_b = SessionManager::builder(keys.clone(), "quickstart", store).build()?;
    let mallory = ClientContext::new(Some("198.51.100.66".parse()?), Some("MalloryBrowser/1"));
    let alice = ClientContext::new(Some("203.0.113.7".parse()?), Some("AliceBrowser/1"));

    // Mallory gets a genuine anonymous token and plants it in Alice's browser.
    let planted = node_a.begin(&mallory)?.token.expose_secret().to_owned();
    let visitor = node_a.verify(&planted, &alice);
    let previous = visitor.ok().map(|v| v.session);
    let login = node_a.authenticate(previous, "alice", Privilege::Authenticated, &alice)?;
    let planted_now = node_b
        .verify(&planted, &mallory)
        .map(|_| ())
        .map_err(|r| r.reason());
    println!(
        "[session] Alice logged in with a new session id; Mallory's planted token on node B: {planted_now:?}"
    );

    let elevated = node_a.elevate(login.session, &alice)?;
    println!(
        "[session] elevated: a new token, privilege {:?}",
        elevated.session.privilege()
    );
    let text = elevated.token.expose_secret().to_owned();
    let stolen = node_b.verify(&text, &mallory).map(|_| ()).map_err(|r| r.reason());
    println!("[session] the elevated token replayed from Mallory's machine: {stolen:?} (and the session is revoked)");

    let login = node_b.authenticate(None, "alice", Privilege::Authenticated, &alice)?;
    let text = login.token.expose_secret().to_owned();
    node_b.logout(login.session, &alice)?;
    println!(
        "[session] logged out on node B; node A says {:?}",
        node_a.verify(&text, &alice).map(|_| ()).map_err(|r| r.reason())
    );

    drop((node_a, node_b));
    let reopened = Arc::new(FileStore::open(&dir, &keys, FilterConfig::default())?);
    let node_c = SessionManager::builder(keys, "quickstart", reopened).build()?;
    let after = node_c.verify(&text, &alice).map(|_| ()).map_err(|r| r.reason());
    println!(
        "[session] after reopening the store from {}: {after:?}",
        dir.display()
    );
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}
