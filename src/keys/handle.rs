//! The one shared key handle: the manager and every revocation store read the ring through
//! it, and replacing the ring through it reaches them all at once.

use core::fmt;
use std::sync::Arc;

use arc_swap::{ArcSwap, Guard};

use super::ring::KeyRing;
use crate::error::ConfigError;

/// A shared, swappable [`KeyRing`]. Clones are the same handle, not copies of the secrets:
/// give one to [`SessionManager::builder`](crate::SessionManager::builder) and to
/// [`FileStore::open`](crate::revocation::FileStore::open), and a
/// [`replace`](Self::replace) (after the operator edited the key file) reaches both.
/// Readers never block: the ring is published through `arc-swap`.
///
/// ```
/// use sealed_session::{KeyRing, Keys};
/// let keys = Keys::new(KeyRing::generate()?)?;
/// let for_the_store = keys.clone();
/// keys.replace(KeyRing::generate()?)?;
/// assert_eq!(for_the_store.current().primary_id(), keys.current().primary_id());
/// # Ok::<(), sealed_session::ConfigError>(())
/// ```
#[derive(Clone)]
pub struct Keys(Arc<ArcSwap<KeyRing>>);

impl Keys {
    /// A handle holding `ring`.
    ///
    /// # Errors
    /// The ring has no primary key ([`ConfigError::KeyRing`]).
    ///
    /// ```
    /// let keys = sealed_session::Keys::new(sealed_session::KeyRing::generate()?)?;
    /// # Ok::<(), sealed_session::ConfigError>(())
    /// ```
    pub fn new(ring: KeyRing) -> Result<Self, ConfigError> {
        ring.validate()?;
        Ok(Self(Arc::new(ArcSwap::from_pointee(ring))))
    }

    /// Reads the key file at `path` (see [`KeyRing::from_file`]).
    ///
    /// # Errors
    /// As [`KeyRing::from_file`], or no primary key.
    ///
    /// ```no_run
    /// let keys = sealed_session::Keys::from_file("/etc/bank/session-keys".as_ref())?;
    /// # Ok::<(), sealed_session::ConfigError>(())
    /// ```
    pub fn from_file(path: &std::path::Path) -> Result<Self, ConfigError> {
        Self::new(KeyRing::from_file(path)?)
    }

    /// Replaces the ring for every holder of this handle. Tokens minted under keys still in
    /// the new ring keep opening; follow the three-phase rotation of spec/format.md §17.
    ///
    /// # Errors
    /// The new ring has no primary key; the old ring stays.
    ///
    /// ```
    /// # use sealed_session::{KeyRing, Keys};
    /// let keys = Keys::new(KeyRing::generate()?)?;
    /// keys.replace(KeyRing::generate()?)?;
    /// # Ok::<(), sealed_session::ConfigError>(())
    /// ```
    pub fn replace(&self, ring: KeyRing) -> Result<(), ConfigError> {
        ring.validate()?;
        self.0.store(Arc::new(ring));
        Ok(())
    }

    /// Edits a copy of the ring (add, promote, retire) and publishes it if `edit` succeeds
    /// and the result still has a primary key; readers see the old ring or the new one,
    /// never a half-edited one.
    ///
    /// # Errors
    /// What `edit` returned, or no primary key afterwards; the old ring stays.
    ///
    /// ```
    /// # use sealed_session::{KeyId, KeyRing, KeyState, Keys, SessionKey};
    /// let keys = Keys::new(KeyRing::empty().with_key(KeyId(1), KeyState::Primary, SessionKey::generate()?)?)?;
    /// keys.modify(|ring| ring.insert(KeyId(2), KeyState::AcceptOnly, SessionKey::generate()?))?;
    /// keys.modify(|ring| ring.promote(KeyId(2)))?;
    /// assert_eq!(keys.current().primary_id(), Some(KeyId(2)));
    /// # Ok::<(), sealed_session::ConfigError>(())
    /// ```
    pub fn modify(
        &self,
        edit: impl FnOnce(&mut KeyRing) -> Result<(), ConfigError>,
    ) -> Result<(), ConfigError> {
        let mut ring = self.0.load().duplicate();
        edit(&mut ring)?;
        self.replace(ring)
    }

    /// The ring in force now (a snapshot: a later [`replace`](Self::replace) does not change
    /// it).
    ///
    /// ```
    /// # use sealed_session::{KeyRing, Keys};
    /// let keys = Keys::new(KeyRing::generate()?)?;
    /// assert!(keys.current().primary_id().is_some());
    /// # Ok::<(), sealed_session::ConfigError>(())
    /// ```
    pub fn current(&self) -> Arc<KeyRing> {
        self.0.load_full()
    }

    /// A lock-free read for the hot paths.
    pub(crate) fn load(&self) -> Guard<Arc<KeyRing>> {
        self.0.load()
    }
}

impl fmt::Debug for Keys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Keys").field(&*self.0.load()).finish()
    }
}

/// A handle of its own for `ring`; whether it has a primary key is checked where the handle
/// is used ([`SessionManagerBuilder::build`](crate::SessionManagerBuilder::build)).
impl From<KeyRing> for Keys {
    fn from(ring: KeyRing) -> Self {
        Self(Arc::new(ArcSwap::from_pointee(ring)))
    }
}
