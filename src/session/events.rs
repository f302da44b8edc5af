//! Security events: typed, emitted through `tracing` and any [`EventSink`]. They never carry
//! token text or keys; a session appears only as a keyed tag.

use core::fmt;
use std::net::IpAddr;
use std::sync::Mutex;

use crate::clock::UnixTime;
use crate::error::Reason;

/// A short keyed hash of a session id, so logs can correlate events of one session without
/// holding an identifier that could be replayed.
///
/// ```
/// use sealed_session::SessionTag;
/// let tag = SessionTag([0xde, 0xad, 0xbe, 0xef, 0, 1, 2, 3]);
/// assert_eq!(tag.to_string(), "deadbeef00010203");
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct SessionTag(pub [u8; 8]);

impl fmt::Debug for SessionTag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SessionTag({self})")
    }
}

impl fmt::Display for SessionTag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))
    }
}

/// What happened.
///
/// ```
/// # use std::sync::Arc; use sealed_session::{*, revocation::*};
/// # let store = Arc::new(MemoryStore::new(FilterConfig::default())?);
/// let events = Arc::new(CollectingSink::new());
/// let manager = SessionManager::builder(KeyRing::generate()?, "app", store).with_events(events.clone()).build()?;
/// let client = ClientContext::new("203.0.113.7".parse().ok(), Some("Firefox"));
/// let _ = manager.verify("garbage", &client);
/// assert!(events.saw(EventKind::Rejected(Reason::Malformed)));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum EventKind {
    /// A token was refused; `reason` says why (forged, malformed, unknown key, expired, ...).
    Rejected(Reason),
    /// A revoked token was presented.
    RevokedPresented,
    /// A rotated-away token came back after its grace window; its session was revoked.
    ReuseDetected,
    /// The client context did not match the token's binding.
    BindingMismatch,
    /// Invalid tokens from one source or for one session exceeded the configured rate.
    FloodDetected,
    /// A session was revoked (logout, reuse, binding mismatch).
    SessionRevoked,
    /// Every session of a subject was cut off.
    LogoutEverywhere,
    /// Every token issued before a time was cut off.
    KillSwitch,
    /// A subject logged in (new session).
    Login,
    /// A session was elevated.
    Elevation,
    /// A session stepped down from elevated privilege.
    StepDown,
    /// A session logged out.
    Logout,
    /// A token-shaped value arrived somewhere tokens are never read from (query, form).
    TokenInUnexpectedPlace,
    /// More than one session cookie in one request (cookie tossing or path shadowing).
    DuplicateCookie,
    /// A state-changing request from a foreign origin dropped elevated privilege.
    ForeignOrigin,
    /// A privilege-raising request (login, elevation) carried no same-origin signal and was
    /// refused (login CSRF).
    OriginRequired,
    /// A client source exceeded its budget of session changes; the change was refused.
    TransitionRateLimited,
    /// A replaced token, accepted inside its grace window, tried to change the session.
    GraceCopyRefused,
    /// A revocation generation reached a new pressure level (spec/revocation.md, "Growth"):
    /// raise the filter capacity and find the source of the revocations.
    RevocationPressure(crate::revocation::PressureLevel),
    /// A revocation-feed record or shared snapshot failed its MAC (someone who can write to
    /// the feed but holds no key): it was ignored.
    ForgedFeedRecord,
    /// The revocation feed could not be reached; this node serves from what it has.
    FeedUnavailable,
    /// The revocation feed came back with less than this node had seen (restarted empty, or
    /// failed over to a lagging replica); this node republishes what it holds.
    FeedRegressed,
    /// A `DPoP` proof (RFC 9449) was refused by the web layer; the error says which check
    /// failed (the client was told only `invalid_dpop_proof` or `use_dpop_nonce`).
    #[cfg(feature = "dpop")]
    DpopProofRefused(crate::dpop::DpopError),
}

/// One security event.
///
/// ```
/// # use std::sync::Arc; use sealed_session::{*, revocation::*};
/// # let store = Arc::new(MemoryStore::new(FilterConfig::default())?);
/// let events = Arc::new(CollectingSink::new());
/// let manager = SessionManager::builder(KeyRing::generate()?, "app", store).with_events(events.clone()).build()?;
/// let client = ClientContext::new("203.0.113.7".parse().ok(), Some("Firefox"));
/// let alice = manager.authenticate(None, "alice", Privilege::Authenticated, &client)?;
/// let login = events.events().pop().ok_or("no event")?;
/// assert_eq!(login.kind, EventKind::Login);
/// assert_eq!(login.source, client.ip);
/// assert!(login.session.is_some(), "a keyed tag, never the session id itself");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SecurityEvent {
    /// What happened.
    pub kind: EventKind,
    /// The session concerned, as a keyed tag, when known.
    pub session: Option<SessionTag>,
    /// The client address, when known.
    pub source: Option<IpAddr>,
    /// The subject concerned, for logout-everywhere.
    pub subject: Option<String>,
    /// The cutoff of a logout-everywhere or kill switch: tokens authenticated (issued) before
    /// it are refused.
    pub at: Option<UnixTime>,
}

impl SecurityEvent {
    /// An event of `kind` with nothing else known.
    ///
    /// ```
    /// use sealed_session::{EventKind, SecurityEvent};
    /// let event = SecurityEvent::new(EventKind::Logout);
    /// assert_eq!((event.session, event.source, event.subject, event.at), (None, None, None, None));
    /// ```
    pub fn new(kind: EventKind) -> Self {
        Self {
            kind,
            session: None,
            source: None,
            subject: None,
            at: None,
        }
    }
}

/// Receives security events (metrics, SIEM, alerting). Must be cheap and must not block.
///
/// ```
/// use std::sync::atomic::{AtomicU64, Ordering};
/// use sealed_session::{EventKind, EventSink, SecurityEvent};
/// /// Counts refusals for a metrics endpoint.
/// #[derive(Default)]
/// struct Refusals(AtomicU64);
/// impl EventSink for Refusals {
///     fn emit(&self, event: &SecurityEvent) {
///         if matches!(event.kind, EventKind::Rejected(_)) {
///             self.0.fetch_add(1, Ordering::Relaxed);
///         }
///     }
/// }
/// # use std::sync::Arc; use sealed_session::{*, revocation::*};
/// # let store = Arc::new(MemoryStore::new(FilterConfig::default())?);
/// let refusals = Arc::new(Refusals::default());
/// let manager = SessionManager::builder(KeyRing::generate()?, "app", store).with_events(refusals.clone()).build()?;
/// let _ = manager.verify("garbage", &ClientContext::default());
/// assert_eq!(refusals.0.load(Ordering::Relaxed), 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub trait EventSink: Send + Sync {
    /// Handles one event.
    fn emit(&self, event: &SecurityEvent);
}

/// Emits every event as a `tracing` event with target `sealed_session::security`.
///
/// ```
/// # use std::sync::Arc; use sealed_session::{*, revocation::*};
/// # let store = Arc::new(MemoryStore::new(FilterConfig::default())?);
/// // The default sink; naming it is only needed to restore it.
/// let manager = SessionManager::builder(KeyRing::generate()?, "app", store).with_events(Arc::new(TracingSink)).build()?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct TracingSink;

impl EventSink for TracingSink {
    fn emit(&self, e: &SecurityEvent) {
        let session = e.session.map(|t| t.to_string());
        let source = e.source.map(|s| s.to_string());
        let subject = e.subject.as_deref();
        let at = e.at.map(|t| t.0);
        match e.kind {
            EventKind::Login | EventKind::Elevation | EventKind::StepDown | EventKind::Logout => {
                tracing::info!(target: "sealed_session::security", kind = ?e.kind, session, source)
            }
            _ => {
                tracing::warn!(target: "sealed_session::security", kind = ?e.kind, session, source, subject, at)
            }
        }
    }
}

/// Keeps every event in memory (tests, and apps that poll).
///
/// ```
/// use sealed_session::{CollectingSink, EventKind, EventSink, SecurityEvent};
/// let sink = CollectingSink::new();
/// sink.emit(&SecurityEvent::new(EventKind::Logout));
/// assert!(sink.saw(EventKind::Logout));
/// ```
#[derive(Debug, Default)]
pub struct CollectingSink(Mutex<Vec<SecurityEvent>>);

impl CollectingSink {
    /// An empty sink.
    ///
    /// ```
    /// assert!(sealed_session::CollectingSink::new().events().is_empty());
    /// ```
    pub fn new() -> Self {
        Self::default()
    }

    /// A copy of the events so far.
    ///
    /// ```
    /// use sealed_session::{CollectingSink, EventKind, EventSink, SecurityEvent};
    /// let sink = CollectingSink::new();
    /// sink.emit(&SecurityEvent::new(EventKind::Login));
    /// sink.emit(&SecurityEvent::new(EventKind::Logout));
    /// let kinds: Vec<_> = sink.events().iter().map(|e| e.kind).collect();
    /// assert_eq!(kinds, [EventKind::Login, EventKind::Logout]);
    /// ```
    pub fn events(&self) -> Vec<SecurityEvent> {
        self.0.lock().map(|v| v.clone()).unwrap_or_default()
    }

    /// Whether an event of `kind` was seen.
    ///
    /// ```
    /// use sealed_session::{CollectingSink, EventKind, EventSink, SecurityEvent};
    /// let sink = CollectingSink::new();
    /// sink.emit(&SecurityEvent::new(EventKind::KillSwitch));
    /// assert!(sink.saw(EventKind::KillSwitch));
    /// assert!(!sink.saw(EventKind::Login));
    /// ```
    pub fn saw(&self, kind: EventKind) -> bool {
        self.events().iter().any(|e| e.kind == kind)
    }
}

impl EventSink for CollectingSink {
    fn emit(&self, event: &SecurityEvent) {
        if let Ok(mut v) = self.0.lock() {
            v.push(event.clone());
        }
    }
}
