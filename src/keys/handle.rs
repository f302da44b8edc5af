//! The one shared key handle: the manager and every revocation store read the ring through
//! it, and replacing the ring through it reaches them all at once.

use core::fmt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::{Duration, SystemTime};

use arc_swap::{ArcSwap, Guard};

use super::ring::KeyRing;
use super::schedule::next_change_after;
use crate::clock::UnixTime;
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
pub struct Keys(Arc<Inner>);

struct Inner {
    /// The ring as the key file lists it, schedules included.
    listed: ArcSwap<KeyRing>,
    /// The ring with the scheduled changes due at the last refresh applied.
    in_force: ArcSwap<KeyRing>,
    /// When the next scheduled change falls due (Unix seconds; `u64::MAX` for none): the hot
    /// path compares one atomic and recomputes only when a change is due.
    next_change: AtomicU64,
    /// Counts the rings put in force: a verified-token cache keeps what it learned under one
    /// generation only (spec/sessions.md, "Verified-token cache").
    generation: AtomicU64,
    refresh: Mutex<()>,
}

impl Inner {
    fn new(ring: KeyRing) -> Self {
        Self {
            in_force: ArcSwap::from_pointee(ring.duplicate()),
            listed: ArcSwap::from_pointee(ring),
            next_change: AtomicU64::new(0),
            generation: AtomicU64::new(0),
            refresh: Mutex::new(()),
        }
    }
}

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
        Ok(Self(Arc::new(Inner::new(ring))))
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
        self.0.listed.store(Arc::new(ring));
        // The schedule may have changed: recompute at the next use.
        self.0.next_change.store(0, Ordering::Release);
        Ok(())
    }

    /// Reads the key file at `path` again and replaces the ring with it; on any error the
    /// ring in force stays and the error is returned.
    ///
    /// # Errors
    /// As [`KeyRing::from_file`], or no primary key.
    ///
    /// ```
    /// # use sealed_session::{KeyRing, Keys};
    /// # let dir = tempfile::tempdir()?;
    /// let path = dir.path().join("keys");
    /// KeyRing::generate()?.write_new_file(&path)?;
    /// let keys = Keys::from_file(&path)?;
    /// KeyRing::generate()?.replace_file(&path)?;
    /// keys.reload_from(&path)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn reload_from(&self, path: &Path) -> Result<(), ConfigError> {
        self.replace(KeyRing::from_file(path)?)
    }

    /// Watches the key file at `path` from a background thread, checking every `every`
    /// whether it changed (modification time or size) and reloading it then, so nodes pick
    /// up a rotation step without a restart. A file that fails to load is reported with
    /// `tracing` and the ring in force stays. The thread ends when the last clone of this
    /// handle is dropped.
    ///
    /// # Errors
    /// The thread could not be started.
    ///
    /// ```no_run
    /// # use sealed_session::Keys;
    /// let keys = Keys::from_file("/etc/bank/session-keys".as_ref())?;
    /// keys.watch_file("/etc/bank/session-keys".as_ref(), std::time::Duration::from_secs(5))?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn watch_file(&self, path: &Path, every: Duration) -> Result<(), ConfigError> {
        let weak: Weak<Inner> = Arc::downgrade(&self.0);
        let path: PathBuf = path.to_path_buf();
        let stamp = |p: &Path| {
            std::fs::metadata(p)
                .ok()
                .map(|m| (m.modified().unwrap_or(SystemTime::UNIX_EPOCH), m.len()))
        };
        let mut seen = stamp(&path);
        std::thread::Builder::new()
            .name("session-key-watch".into())
            .spawn(move || loop {
                std::thread::sleep(every);
                let Some(inner) = weak.upgrade() else { return };
                let now = stamp(&path);
                if now != seen {
                    seen = now;
                    match KeyRing::from_file(&path).and_then(|ring| Keys(inner).replace(ring)) {
                        Ok(()) => tracing::info!(target: "sealed_session::keys", path = %path.display(), "key file reloaded"),
                        Err(e) => tracing::error!(target: "sealed_session::keys", path = %path.display(), error = %e, "key file not reloaded; the ring in force stays"),
                    }
                }
            })
            .map(|_| ())
            .map_err(|source| ConfigError::Io {
                context: "starting the key-file watcher".into(),
                source,
            })
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
        let mut ring = self.0.listed.load().duplicate();
        edit(&mut ring)?;
        self.replace(ring)
    }

    /// The ring as listed (a snapshot: a later [`replace`](Self::replace) does not change it),
    /// schedules included; [`in_force_at`](Self::in_force_at) applies them.
    ///
    /// ```
    /// # use sealed_session::{KeyRing, Keys};
    /// let keys = Keys::new(KeyRing::generate()?)?;
    /// assert!(keys.current().primary_id().is_some());
    /// # Ok::<(), sealed_session::ConfigError>(())
    /// ```
    pub fn current(&self) -> Arc<KeyRing> {
        self.0.listed.load_full()
    }

    /// The ring in force at `now`: scheduled activations and retirements that are due applied.
    ///
    /// ```
    /// # use sealed_session::{KeyId, KeyRing, KeySchedule, KeyState, Keys, SessionKey, UnixTime};
    /// let mut ring = KeyRing::generate()?;
    /// ring.insert(KeyId(2), KeyState::AcceptOnly, SessionKey::generate()?)?;
    /// ring.set_schedule(KeyId(2), KeySchedule { activate_at: Some(UnixTime(2_000_000_000)), retire_at: None })?;
    /// let keys = Keys::new(ring)?;
    /// assert_eq!(keys.in_force_at(UnixTime(2_000_000_000)).primary_id(), Some(KeyId(2)));
    /// # Ok::<(), sealed_session::ConfigError>(())
    /// ```
    pub fn in_force_at(&self, now: UnixTime) -> Arc<KeyRing> {
        Guard::into_inner(self.load_at(now))
    }

    /// A lock-free read for the hot paths: one atomic comparison, and a recomputation only
    /// when a scheduled change has fallen due.
    pub(crate) fn load_at(&self, now: UnixTime) -> Guard<Arc<KeyRing>> {
        if now.0 >= self.0.next_change.load(Ordering::Acquire) {
            self.refresh(now);
        }
        self.0.in_force.load()
    }

    /// The generation of the ring in force at `now` (applying a due scheduled change first,
    /// as [`load_at`](Self::load_at) does). It changes whenever a ring is put in force: after
    /// every replace, and at every scheduled activation or retirement.
    pub(crate) fn generation_at(&self, now: UnixTime) -> u64 {
        if now.0 >= self.0.next_change.load(Ordering::Acquire) {
            self.refresh(now);
        }
        self.0.generation.load(Ordering::Acquire)
    }

    fn refresh(&self, now: UnixTime) {
        // The guarded data is `()`: a panic elsewhere cannot leave it inconsistent.
        let _guard = self.0.refresh.lock().unwrap_or_else(PoisonError::into_inner);
        if now.0 < self.0.next_change.load(Ordering::Acquire) {
            return; // another thread refreshed first
        }
        let listed = self.0.listed.load();
        self.0.in_force.store(Arc::new(listed.in_force_at(now)));
        // After the store: whoever sees the new generation loads the new ring.
        self.0.generation.fetch_add(1, Ordering::AcqRel);
        let next = next_change_after(&listed, now).map_or(u64::MAX, |t| t.0);
        self.0.next_change.store(next, Ordering::Release);
    }
}

impl fmt::Debug for Keys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Keys").field(&*self.0.listed.load()).finish()
    }
}

/// A handle of its own for `ring`; whether it has a primary key is checked where the handle
/// is used ([`SessionManagerBuilder::build`](crate::SessionManagerBuilder::build)).
impl From<KeyRing> for Keys {
    fn from(ring: KeyRing) -> Self {
        Self(Arc::new(Inner::new(ring)))
    }
}
