//! A stable, non-secret name for a session, for applications that keep their own per-session
//! rows (spec/sessions.md §9).

use core::fmt;

use ring::digest;

use crate::session::manager::SessionManager;
use crate::session::Session;

/// Domain label of the handle hash; no other hash in the crate starts with it.
const LABEL: &[u8] = b"sealed-session/v1 handle";

/// A 32-byte name for one session: the same for every token of the session (rotation,
/// refresh, elevation, step-down, key rotation), different for every login. Use it as the key
/// of your own per-session rows; `Display` is lowercase hex.
///
/// It is `SHA-256(label ‖ be64(len(context)) ‖ context ‖ session_id)`: it reveals nothing of
/// the session id (a 128-bit random value behind a preimage-resistant hash), so a leaked table
/// of handles gives no way to revoke or present a session. It is not a credential either:
/// never accept one from a client as proof of anything.
///
/// ```
/// # use std::sync::Arc; use sealed_session::{*, revocation::*};
/// # let store = Arc::new(MemoryStore::new(FilterConfig::default())?);
/// # let manager = SessionManager::builder(KeyRing::generate()?, "app", store).build()?;
/// # let client = ClientContext::new("203.0.113.7".parse().ok(), Some("Firefox"));
/// let alice = manager.authenticate(None, "alice", Privilege::Authenticated, &client)?;
/// let handle = manager.handle(&alice.session);
/// let refreshed = manager.refresh(alice.session, &client)?;
/// assert_eq!(manager.handle(&refreshed.session), handle);
/// assert_eq!(handle.to_string().len(), 64);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SessionHandle(pub [u8; 32]);

impl SessionHandle {
    /// The 32 bytes, e.g. for a binary database column.
    ///
    /// ```
    /// use sealed_session::SessionHandle;
    /// assert_eq!(SessionHandle([7; 32]).as_bytes(), &[7; 32]);
    /// ```
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Display for SessionHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))
    }
}

impl fmt::Debug for SessionHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SessionHandle({self})")
    }
}

impl SessionManager {
    /// The session's [`SessionHandle`] in this manager's application context.
    ///
    /// ```
    /// # use std::sync::Arc; use sealed_session::{*, revocation::*};
    /// # let store = Arc::new(MemoryStore::new(FilterConfig::default())?);
    /// # let manager = SessionManager::builder(KeyRing::generate()?, "app", store).build()?;
    /// # let client = ClientContext::new("203.0.113.7".parse().ok(), Some("Firefox"));
    /// let laptop = manager.authenticate(None, "alice", Privilege::Authenticated, &client)?;
    /// let phone = manager.authenticate(None, "alice", Privilege::Authenticated, &client)?;
    /// // Two logins, two sessions, two handles.
    /// assert_ne!(manager.handle(&laptop.session), manager.handle(&phone.session));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn handle(&self, session: &Session) -> SessionHandle {
        let context = self.sealer.context();
        // Length-prefixed, so no (context, id) pair can be shifted into another.
        let len = (context.len() as u64).to_be_bytes();
        let mut hash = digest::Context::new(&digest::SHA256);
        for part in [LABEL, &len, context, &session.claims.session_id.0] {
            hash.update(part);
        }
        let mut out = [0u8; 32];
        out.copy_from_slice(hash.finish().as_ref());
        SessionHandle(out)
    }
}
