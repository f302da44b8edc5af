//! Our operations: token mint and open (the byte format alone, as benches/tokens.rs measures
//! them against the peers), session authenticate (a login: new session, minted token) and
//! verify (open, cutoffs, filter probes, binding), and one request through the layer.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::time::Duration;

use rand_chacha::ChaCha8Rng;
use rand_core::{RngCore, SeedableRng};
use sealed_session::revocation::{Durability, FilterConfig, MemoryStore, Revocation, RevocationStore};
use sealed_session::token::{BindingHash, Claims, Epoch, Flags, Sealer, SessionId};
use sealed_session::web::SessionLayer;
use sealed_session::{
    ClientContext, KeyId, KeyRing, KeyState, Login, ManualClock, Policy, Privilege, Rotation, SessionKey,
    SessionManager, UnixTime,
};

use crate::request::{Requester, USER_AGENT};
use crate::{BoxError, Named, Op, Params, Side};

/// The fixed time our operations run at (the manager's `ManualClock`).
pub(crate) const NOW: UnixTime = UnixTime(1_800_000_000);
const CONTEXT: &str = "instructions";

pub(crate) fn client() -> ClientContext<'static> {
    ClientContext::new(Some(IpAddr::V4(Ipv4Addr::LOCALHOST)), Some(USER_AGENT))
}

/// `keys` keys with fixed bytes, ids 1..=keys; the last is the primary (seals every token).
fn ring(keys: u8) -> Result<KeyRing, BoxError> {
    let mut ring = KeyRing::empty();
    for i in 1..=keys {
        let state = if i == keys {
            KeyState::Primary
        } else {
            KeyState::AcceptOnly
        };
        ring = ring.with_key(KeyId(i), state, SessionKey::from_bytes([i; 32]))?;
    }
    Ok(ring)
}

fn filter_config(p: &Params) -> FilterConfig {
    let config = FilterConfig::default();
    match p.capacity {
        Some(c) => config.with_capacity(c),
        None => config,
    }
}

/// Revokes `count` random ids (fixed seed) in `epoch`, in memory.
fn fill(store: &dyn RevocationStore, epoch: Epoch, count: usize) -> Result<(), BoxError> {
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    for _ in 0..count {
        let mut id = [0u8; 16];
        rng.fill_bytes(&mut id);
        store.revoke_with(Revocation::Id { epoch, id }, Durability::Local)?;
    }
    Ok(())
}

fn login(p: &Params) -> Login {
    Login::new("alice-01")
        .with_level(Privilege::Authenticated)
        .with_app_data(&vec![0xA5; p.app_data])
}

/// A manager at [`NOW`] with rotation off (every verify is a plain verify), no transition
/// limit in the way of logins, its filter holding `p.revoked` ids in the epoch its sessions
/// probe; and `count` valid tokens bound to [`client`]. The tokens are sealed with nonces and
/// session ids from a fixed seed, so every run verifies the same bytes: the layer's cookie scan
/// costs a few instructions more or less depending on the token's characters.
fn manager_with_tokens(p: &Params, count: usize) -> Result<(Arc<SessionManager>, Vec<String>), BoxError> {
    let store = Arc::new(MemoryStore::new(filter_config(p))?);
    let manager = SessionManager::builder(ring(p.keys)?, CONTEXT, store)
        .with_policy(Policy::default().with_rotation(Rotation::Off))
        .with_clock(Arc::new(ManualClock::new(NOW)))
        .with_transition_limit(u32::MAX, Duration::from_secs(1))
        .build()?;
    let client = client();
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    let deadline = NOW.saturating_add(Duration::from_secs(12 * 3600));
    let mut tokens = Vec::with_capacity(count);
    for _ in 0..count {
        let mut id = [0u8; 16];
        rng.fill_bytes(&mut id);
        let mut nonce = [0u8; 24];
        rng.fill_bytes(&mut nonce);
        let claims = Claims {
            session_id: SessionId(id),
            subject: Some("alice-01".into()),
            privilege: Privilege::Authenticated,
            epoch: Epoch::containing(deadline),
            issued_at: NOW,
            expires_at: NOW.saturating_add(Duration::from_secs(1800)),
            session_deadline: deadline,
            authenticated_at: NOW,
            binding: BindingHash::default(),
            flags: Flags::default(), // the policy's, set by the mint
            app_data: vec![0xA5; p.app_data],
        };
        let token = manager.dangerous_mint_bound_with_nonce(claims, &client, nonce)?;
        tokens.push(token.expose_secret().to_owned());
    }
    fill(manager.store().as_ref(), Epoch::containing(deadline), p.revoked)?;
    Ok((Arc::new(manager), tokens))
}

/// The reference claims of benches/tokens.rs at [`NOW`], with `p.app_data` bytes of data.
pub(crate) fn reference_claims(iat: UnixTime, app_data: usize) -> Claims {
    Claims {
        session_id: SessionId([7; 16]),
        subject: Some("alice-01".into()),
        privilege: Privilege::Authenticated,
        epoch: Epoch::containing(iat.saturating_add(Duration::from_secs(86_400))),
        issued_at: iat,
        expires_at: UnixTime(iat.0 + 1800),
        session_deadline: UnixTime(iat.0 + 86_400),
        authenticated_at: iat,
        binding: BindingHash([9; 16]),
        flags: Flags(Flags::BIND_IP | Flags::BIND_USER_AGENT),
        app_data: vec![0xA5; app_data],
    }
}

struct TokenMint {
    sealer: Sealer,
    claims: Claims,
}

impl Op for TokenMint {
    fn run(&mut self) -> usize {
        self.sealer
            .mint(&self.claims)
            .expect("mint")
            .expose_secret()
            .len()
    }
}

struct TokenOpen {
    sealer: Sealer,
    token: String,
}

impl Op for TokenOpen {
    fn run(&mut self) -> usize {
        let opened = self.sealer.open_at(&self.token, NOW).expect("open");
        opened.claims.app_data.len() + usize::from(opened.claims.flags.0)
    }
}

fn token_sealer(p: &Params) -> Result<(Sealer, Claims), BoxError> {
    let sealer = Sealer::new(ring(p.keys)?, CONTEXT)?;
    Ok((sealer, reference_claims(UnixTime(NOW.0 - 60), p.app_data)))
}

/// A login per run (the `Login` built inside the count: a caller builds one per login too).
struct Authenticate {
    manager: Arc<SessionManager>,
    params: Params,
}

impl Op for Authenticate {
    fn run(&mut self) -> usize {
        let minted = self
            .manager
            .authenticate_with(None, login(&self.params), &client())
            .expect("authenticate");
        minted.token.expose_secret().len()
    }
}

/// Verifies `tokens[i]` in turn: with one token, the same token every time (a verified-token
/// cache, where there is one, answers); with one per run, every verify is cold.
struct Verify {
    manager: Arc<SessionManager>,
    tokens: Vec<String>,
    next: usize,
}

impl Op for Verify {
    fn run(&mut self) -> usize {
        let token = &self.tokens[self.next % self.tokens.len()];
        self.next += 1;
        let verified = self.manager.verify(token, &client()).expect("verify");
        usize::from(verified.session.privilege().as_u8())
    }
}

pub(crate) const TOKEN_MINT: Named = Named {
    name: "token_mint",
    side: Side::Ours,
    prepare: |p| {
        let (sealer, claims) = token_sealer(p)?;
        Ok(Box::new(TokenMint { sealer, claims }))
    },
};

pub(crate) const TOKEN_OPEN: Named = Named {
    name: "token_open",
    side: Side::Ours,
    prepare: |p| {
        let (sealer, claims) = token_sealer(p)?;
        let token = sealer.mint(&claims)?.expose_secret().to_owned();
        Ok(Box::new(TokenOpen { sealer, token }))
    },
};

pub(crate) const SESSION_AUTHENTICATE: Named = Named {
    name: "session_authenticate",
    side: Side::Ours,
    prepare: |p| {
        let (manager, _) = manager_with_tokens(p, 1)?;
        Ok(Box::new(Authenticate { manager, params: *p }))
    },
};

pub(crate) const SESSION_VERIFY_COLD: Named = Named {
    name: "session_verify_cold",
    side: Side::Ours,
    prepare: |p| verify_op(p, p.distinct),
};

pub(crate) const SESSION_VERIFY_REPEAT: Named = Named {
    name: "session_verify_repeat",
    side: Side::Ours,
    prepare: |p| verify_op(p, 1),
};

pub(crate) const LAYER_REQUEST: Named = Named {
    name: "layer_request",
    side: Side::Ours,
    prepare: |p| layer_op(p, true),
};

/// The same request without a cookie: what the layer costs a visitor it has no session for
/// (issue 12, goal 4: the no-cookie path).
pub(crate) const LAYER_REQUEST_NO_COOKIE: Named = Named {
    name: "layer_request_no_cookie",
    side: Side::Ours,
    prepare: |p| layer_op(p, false),
};

/// Verifies the session tokens of `count` logins in turn (1: the same token every time).
fn verify_op(p: &Params, count: usize) -> Result<Box<dyn Op>, BoxError> {
    let (manager, tokens) = manager_with_tokens(p, count)?;
    Ok(Box::new(Verify {
        manager,
        tokens,
        next: 0,
    }))
}

/// `GET /` through the layer, with a valid session cookie or with none.
fn layer_op(p: &Params, with_cookie: bool) -> Result<Box<dyn Op>, BoxError> {
    let (manager, tokens) = manager_with_tokens(p, 1)?;
    let cookie = match with_cookie {
        true => Some(format!("session={}", tokens.first().ok_or("no token")?)),
        false => None,
    };
    let router = axum::Router::new()
        .route("/", axum::routing::get(web_peers::hello))
        .layer(SessionLayer::new(manager).dangerous_insecure_http());
    Ok(Box::new(Requester::new(router, cookie)?))
}

/// Filter bytes and process RSS growth (KiB) after `p.revoked` revocations in one epoch.
pub(crate) fn memory(p: &Params) -> Result<(usize, u64), BoxError> {
    let before = rss_kib();
    let store = MemoryStore::new(filter_config(p))?;
    fill(&store, Epoch::containing(NOW), p.revoked)?;
    let bytes = store.set().memory_bytes();
    Ok((bytes, rss_kib().saturating_sub(before)))
}

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find_map(|l| {
                l.strip_prefix("VmRSS:")
                    .map(|v| v.trim().trim_end_matches(" kB").trim().to_owned())
            })
        })
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}
