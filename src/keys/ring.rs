//! The key ring: ids, states (primary, accept-only, retired) and the operations of a
//! rotation.

use core::fmt;

use zeroize::Zeroizing;

use super::schedule::{self, KeySchedule};
use super::secret::{RingKey, SessionKey};
use crate::clock::UnixTime;

use crate::error::{ConfigError, KeyRingError, Reason};

/// The one-byte identifier of a key, carried in every token header.
///
/// ```
/// use sealed_session::{KeyId, KeyRing};
/// assert_eq!(KeyRing::generate()?.primary_id(), Some(KeyId(1)));
/// # Ok::<(), sealed_session::ConfigError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct KeyId(pub u8);

/// What a key may be used for.
///
/// ```
/// use sealed_session::{KeyId, KeyRing, KeyState, SessionKey};
/// let mut ring = KeyRing::generate()?;
/// ring.insert(KeyId(2), KeyState::AcceptOnly, SessionKey::generate()?)?;
/// ring.promote(KeyId(2))?;
/// ring.retire(KeyId(1))?;
/// assert_eq!(ring.states(), [(KeyId(1), KeyState::Retired), (KeyId(2), KeyState::Primary)]);
/// # Ok::<(), sealed_session::ConfigError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum KeyState {
    /// Mints new tokens and opens existing ones. Exactly one key in a ring is primary.
    Primary,
    /// Opens tokens but never mints: the state in which a new key is distributed before it is
    /// promoted, and in which an old key stays until its last token has expired.
    AcceptOnly,
    /// Opens nothing; tokens under it are refused with [`Reason::RetiredKey`].
    Retired,
}

impl KeyState {
    /// The key-file spelling of the state.
    ///
    /// ```
    /// assert_eq!(sealed_session::KeyState::AcceptOnly.as_str(), "accept-only");
    /// ```
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Primary => "primary",
            Self::AcceptOnly => "accept-only",
            Self::Retired => "retired",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        match s {
            "primary" => Some(Self::Primary),
            "accept-only" => Some(Self::AcceptOnly),
            "retired" => Some(Self::Retired),
            _ => None,
        }
    }
}

/// The keys a node knows: exactly one primary (mints), any number accept-only or retired.
///
/// Rotation across nodes is three-phase (spec/format.md, "Key rotation"): add the new key as
/// accept-only everywhere, promote it to primary, retire the old one after the longest session
/// can have ended. No node then refuses a token another node minted.
///
/// ```
/// use sealed_session::{KeyId, KeyRing, KeyState, SessionKey};
/// let mut ring = KeyRing::generate()?;
/// // Phase 1, on every node: distribute the new key as accept-only.
/// ring.insert(KeyId(2), KeyState::AcceptOnly, SessionKey::generate()?)?;
/// // Phase 2: promote it; key 1 keeps opening the tokens it minted.
/// ring.promote(KeyId(2))?;
/// // Phase 3, once the longest session can have ended: retire key 1.
/// ring.retire(KeyId(1))?;
/// assert_eq!(ring.primary_id(), Some(KeyId(2)));
/// # Ok::<(), sealed_session::ConfigError>(())
/// ```
pub struct KeyRing {
    keys: Vec<RingKey>,
}

impl fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut l = f.debug_list();
        for k in &self.keys {
            l.entry(&format_args!("{}:{}", k.id.0, k.state.as_str()));
        }
        l.finish()
    }
}

impl KeyRing {
    /// A ring with one freshly generated primary key, id 1.
    ///
    /// # Errors
    /// [`ConfigError::Randomness`] when the generator fails.
    ///
    /// ```
    /// use sealed_session::{KeyId, KeyRing, KeyState};
    /// let ring = KeyRing::generate()?;
    /// assert_eq!(ring.states(), [(KeyId(1), KeyState::Primary)]);
    /// # Ok::<(), sealed_session::ConfigError>(())
    /// ```
    pub fn generate() -> Result<Self, ConfigError> {
        Self::empty().with_key(KeyId(1), KeyState::Primary, SessionKey::generate()?)
    }

    /// A ring with no keys; add some with [`KeyRing::with_key`].
    ///
    /// ```
    /// use sealed_session::KeyRing;
    /// let ring = KeyRing::empty();
    /// assert!(ring.primary_id().is_none());
    /// assert!(ring.validate().is_err());
    /// ```
    pub fn empty() -> Self {
        Self { keys: Vec::new() }
    }

    /// Adds a key.
    ///
    /// # Errors
    /// The id is already present, or a second primary is added.
    ///
    /// ```
    /// use sealed_session::{KeyId, KeyRing, KeyState, SessionKey};
    /// let ring = KeyRing::empty()
    ///     .with_key(KeyId(1), KeyState::Primary, SessionKey::generate()?)?
    ///     .with_key(KeyId(2), KeyState::AcceptOnly, SessionKey::generate()?)?;
    /// assert_eq!(ring.primary_id(), Some(KeyId(1)));
    /// # Ok::<(), sealed_session::ConfigError>(())
    /// ```
    pub fn with_key(mut self, id: KeyId, state: KeyState, key: SessionKey) -> Result<Self, ConfigError> {
        self.insert(id, state, key)?;
        Ok(self)
    }

    /// Adds a key in place.
    ///
    /// # Errors
    /// The id is already present, or a second primary is added.
    ///
    /// ```
    /// use sealed_session::{ConfigError, KeyId, KeyRing, KeyRingError, KeyState, SessionKey};
    /// let mut ring = KeyRing::generate()?;
    /// ring.insert(KeyId(2), KeyState::AcceptOnly, SessionKey::generate()?)?;
    /// let second_primary = ring.insert(KeyId(3), KeyState::Primary, SessionKey::generate()?);
    /// assert!(matches!(second_primary, Err(ConfigError::KeyRing(KeyRingError::SeveralPrimaryKeys))));
    /// # Ok::<(), ConfigError>(())
    /// ```
    pub fn insert(&mut self, id: KeyId, state: KeyState, key: SessionKey) -> Result<(), ConfigError> {
        if self.keys.iter().any(|k| k.id == id) {
            return Err(KeyRingError::DuplicateId.into());
        }
        if state == KeyState::Primary && self.primary_id().is_some() {
            return Err(KeyRingError::SeveralPrimaryKeys.into());
        }
        self.keys.push(RingKey::new(id, state, key));
        Ok(())
    }

    /// Makes `id` the primary key; the previous primary becomes accept-only.
    ///
    /// # Errors
    /// The id is unknown or retired (a retired key must never mint again).
    ///
    /// ```
    /// use sealed_session::{KeyId, KeyRing, KeyState, SessionKey};
    /// let mut ring = KeyRing::generate()?;
    /// ring.insert(KeyId(2), KeyState::AcceptOnly, SessionKey::generate()?)?;
    /// ring.promote(KeyId(2))?;
    /// assert_eq!(ring.states(), [(KeyId(1), KeyState::AcceptOnly), (KeyId(2), KeyState::Primary)]);
    /// # Ok::<(), sealed_session::ConfigError>(())
    /// ```
    pub fn promote(&mut self, id: KeyId) -> Result<(), ConfigError> {
        match self.get(id) {
            None => return Err(KeyRingError::NoSuchKey.into()),
            Some(k) if k.state == KeyState::Retired => return Err(KeyRingError::PromoteRetired.into()),
            Some(_) => {}
        }
        for k in &mut self.keys {
            k.state = if k.id == id {
                KeyState::Primary
            } else if k.state == KeyState::Primary {
                KeyState::AcceptOnly
            } else {
                k.state
            };
        }
        Ok(())
    }

    /// Retires `id`: tokens under it no longer open.
    ///
    /// # Errors
    /// The id is unknown, or is the primary (promote another key first).
    ///
    /// ```
    /// use sealed_session::{KeyId, KeyRing, KeyState, SessionKey};
    /// let mut ring = KeyRing::generate()?;
    /// ring.insert(KeyId(0), KeyState::AcceptOnly, SessionKey::generate()?)?;
    /// ring.retire(KeyId(0))?;
    /// assert!(ring.retire(KeyId(1)).is_err(), "the primary must be replaced first");
    /// # Ok::<(), sealed_session::ConfigError>(())
    /// ```
    pub fn retire(&mut self, id: KeyId) -> Result<(), ConfigError> {
        let key = self
            .keys
            .iter_mut()
            .find(|k| k.id == id)
            .ok_or(KeyRingError::NoSuchKey)?;
        if key.state == KeyState::Primary {
            return Err(KeyRingError::RetirePrimary.into());
        }
        key.state = KeyState::Retired;
        Ok(())
    }

    /// Undoes a retirement: `id` opens tokens again, as accept-only (a mistaken retirement,
    /// or an old data directory whose snapshot needs the key, can be recovered from).
    ///
    /// # Errors
    /// [`KeyRingError::NoSuchKey`] for an unknown id, [`KeyRingError::NotRetired`] for a key
    /// that is not retired.
    ///
    /// ```
    /// use sealed_session::{KeyId, KeyRing, KeyState, SessionKey};
    /// let mut ring = KeyRing::generate()?;
    /// ring.insert(KeyId(2), KeyState::AcceptOnly, SessionKey::generate()?)?;
    /// ring.retire(KeyId(2))?;
    /// ring.reinstate(KeyId(2))?;
    /// assert!(ring.states().contains(&(KeyId(2), KeyState::AcceptOnly)));
    /// # Ok::<(), sealed_session::ConfigError>(())
    /// ```
    pub fn reinstate(&mut self, id: KeyId) -> Result<(), ConfigError> {
        let key = self
            .keys
            .iter_mut()
            .find(|k| k.id == id)
            .ok_or(KeyRingError::NoSuchKey)?;
        if key.state != KeyState::Retired {
            return Err(KeyRingError::NotRetired.into());
        }
        key.state = KeyState::AcceptOnly;
        Ok(())
    }

    /// The id of the minting key, if any.
    ///
    /// ```
    /// use sealed_session::{KeyId, KeyRing};
    /// assert_eq!(KeyRing::generate()?.primary_id(), Some(KeyId(1)));
    /// assert_eq!(KeyRing::empty().primary_id(), None);
    /// # Ok::<(), sealed_session::ConfigError>(())
    /// ```
    pub fn primary_id(&self) -> Option<KeyId> {
        self.keys
            .iter()
            .find(|k| k.state == KeyState::Primary)
            .map(|k| k.id)
    }

    /// Schedules a change of `id`'s state (see [`KeySchedule`]). A ring whose primary is
    /// scheduled to retire needs another key activated by then, or minting stops at that time.
    ///
    /// # Errors
    /// [`KeyRingError::NoSuchKey`] for an unknown id.
    ///
    /// ```
    /// use sealed_session::{KeyId, KeyRing, KeySchedule, KeyState, UnixTime};
    /// let mut ring = KeyRing::generate()?;
    /// let at = Some(UnixTime(2_000_000_000));
    /// ring.set_schedule(KeyId(1), KeySchedule { activate_at: None, retire_at: at })?;
    /// assert_eq!(ring.schedule(KeyId(1)).retire_at, at);
    /// # Ok::<(), sealed_session::ConfigError>(())
    /// ```
    pub fn set_schedule(&mut self, id: KeyId, schedule: KeySchedule) -> Result<(), ConfigError> {
        let key = self
            .keys
            .iter_mut()
            .find(|k| k.id == id)
            .ok_or(KeyRingError::NoSuchKey)?;
        key.schedule = schedule;
        Ok(())
    }

    /// The schedule of `id` (empty for an unknown id or an unscheduled key).
    ///
    /// ```
    /// use sealed_session::{KeyId, KeyRing};
    /// assert!(KeyRing::generate()?.schedule(KeyId(1)).is_empty());
    /// # Ok::<(), sealed_session::ConfigError>(())
    /// ```
    pub fn schedule(&self, id: KeyId) -> KeySchedule {
        self.get(id).map(|k| k.schedule).unwrap_or_default()
    }

    /// `(id, state)` of every key at `now`, with scheduled changes applied.
    ///
    /// ```
    /// use sealed_session::{KeyId, KeyRing, KeySchedule, KeyState, SessionKey, UnixTime};
    /// let mut ring = KeyRing::generate()?;
    /// ring.set_schedule(KeyId(1), KeySchedule { activate_at: None, retire_at: Some(UnixTime(100)) })?;
    /// assert_eq!(ring.states_at(UnixTime(100)), [(KeyId(1), KeyState::Retired)]);
    /// # Ok::<(), sealed_session::ConfigError>(())
    /// ```
    pub fn states_at(&self, now: UnixTime) -> Vec<(KeyId, KeyState)> {
        self.keys
            .iter()
            .map(|k| k.id)
            .zip(schedule::states_at(self, now))
            .collect()
    }

    /// The id of the key that mints at `now`, with scheduled changes applied.
    ///
    /// ```
    /// use sealed_session::{KeyId, KeyRing, UnixTime};
    /// assert_eq!(KeyRing::generate()?.primary_id_at(UnixTime(0)), Some(KeyId(1)));
    /// # Ok::<(), sealed_session::ConfigError>(())
    /// ```
    pub fn primary_id_at(&self, now: UnixTime) -> Option<KeyId> {
        self.states_at(now)
            .into_iter()
            .find(|(_, s)| *s == KeyState::Primary)
            .map(|(id, _)| id)
    }

    /// `(id, state)` of every key, in insertion order.
    ///
    /// ```
    /// use sealed_session::{KeyId, KeyRing, KeyState, SessionKey};
    /// let ring = KeyRing::generate()?.with_key(KeyId(9), KeyState::Retired, SessionKey::generate()?)?;
    /// assert_eq!(ring.states(), [(KeyId(1), KeyState::Primary), (KeyId(9), KeyState::Retired)]);
    /// # Ok::<(), sealed_session::ConfigError>(())
    /// ```
    pub fn states(&self) -> Vec<(KeyId, KeyState)> {
        self.keys.iter().map(|k| (k.id, k.state)).collect()
    }

    /// Parses the key-file format (spec/format.md, "Key file"); `;` also separates entries so
    /// the same text fits in one environment variable.
    ///
    /// # Errors
    /// A detailed [`ConfigError::KeyFile`] naming the entry and the problem.
    ///
    /// ```
    /// use sealed_session::{KeyId, KeyRing};
    /// let secret = "QkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkI="; // 32 bytes, base64
    /// let ring = KeyRing::parse(&format!("sealed-session-keys v1; 2 primary {secret}"))?;
    /// assert_eq!(ring.primary_id(), Some(KeyId(2)));
    /// assert!(KeyRing::parse("2 primary AAAA").is_err(), "the header line is required");
    /// # Ok::<(), sealed_session::ConfigError>(())
    /// ```
    pub fn parse(text: &str) -> Result<Self, ConfigError> {
        crate::keys::file::parse(text)
    }

    /// Loads a key file, refusing one that group or others can access.
    ///
    /// # Errors
    /// Unreadable file, loose permissions, or a parse error.
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// use sealed_session::KeyRing;
    /// let path = dir.path().join("session-keys");
    /// let written = KeyRing::generate()?;
    /// written.write_new_file(&path)?;
    /// assert_eq!(KeyRing::from_file(&path)?.states(), written.states());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn from_file(path: &std::path::Path) -> Result<Self, ConfigError> {
        crate::keys::file::load(path)
    }

    /// Loads keys from an environment variable holding key-file text.
    ///
    /// # Errors
    /// The variable is unset or not valid key-file text.
    ///
    /// ```
    /// use sealed_session::{ConfigError, KeyRing};
    /// let missing = KeyRing::from_env("SEALED_SESSION_DOCTEST_UNSET_VARIABLE");
    /// assert!(matches!(missing, Err(ConfigError::KeyVariable { .. })));
    /// // In production: `KeyRing::from_env("SESSION_KEYS")?`, the variable holding the key file
    /// // text with `;` between entries.
    /// ```
    pub fn from_env(var: &str) -> Result<Self, ConfigError> {
        let text =
            Zeroizing::new(std::env::var(var).map_err(|_| ConfigError::KeyVariable { var: var.to_owned() })?);
        Self::parse(&text)
    }

    /// Writes the ring as a new key file at `path` (mode 0600); an existing file is never
    /// overwritten (key generation).
    ///
    /// # Errors
    /// [`ConfigError::Io`] when the file exists or cannot be written.
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// let path = dir.path().join("keys");
    /// sealed_session::KeyRing::generate()?.write_new_file(&path)?;
    /// assert!(sealed_session::KeyRing::generate()?.write_new_file(&path).is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn write_new_file(&self, path: &std::path::Path) -> Result<(), ConfigError> {
        super::file::write(path, self, true)
    }

    /// Replaces the key file at `path` atomically (a temporary file, fsync, rename; mode
    /// 0600), as an operator's rotation step does.
    ///
    /// # Errors
    /// [`ConfigError::Io`] when the file cannot be written.
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// let path = dir.path().join("keys");
    /// sealed_session::KeyRing::generate()?.replace_file(&path)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn replace_file(&self, path: &std::path::Path) -> Result<(), ConfigError> {
        super::file::write(path, self, false)
    }

    /// The ring in key-file format. Holds secrets: write it only to a 0600 file.
    ///
    /// ```
    /// use sealed_session::KeyRing;
    /// let ring = KeyRing::generate()?;
    /// let text = ring.to_key_file_text();
    /// assert!(text.contains("sealed-session-keys v1"));
    /// assert_eq!(KeyRing::parse(&text)?.states(), ring.states());
    /// # Ok::<(), sealed_session::ConfigError>(())
    /// ```
    pub fn to_key_file_text(&self) -> Zeroizing<String> {
        crate::keys::file::render(self.keys.iter().map(|k| (k.id, k.state, &k.secret, k.schedule)))
    }

    /// Checks the ring can mint.
    ///
    /// # Errors
    /// No primary key.
    ///
    /// ```
    /// use sealed_session::{KeyId, KeyRing, KeyState, SessionKey};
    /// assert!(KeyRing::generate()?.validate().is_ok());
    /// let accept_only = KeyRing::empty().with_key(KeyId(1), KeyState::AcceptOnly, SessionKey::generate()?)?;
    /// assert!(accept_only.validate().is_err());
    /// # Ok::<(), sealed_session::ConfigError>(())
    /// ```
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.primary_id()
            .map(|_| ())
            .ok_or(KeyRingError::NoPrimaryKey.into())
    }

    /// A second copy of the ring, secrets included, for [`Keys::modify`](super::Keys::modify)
    /// to edit while readers keep the published one.
    pub(crate) fn duplicate(&self) -> Self {
        Self {
            keys: self
                .keys
                .iter()
                .map(|k| {
                    let mut copy = RingKey::new(
                        k.id,
                        k.state,
                        SessionKey::from_bytes(*k.secret.dangerous_expose_secret()),
                    );
                    copy.schedule = k.schedule;
                    copy
                })
                .collect(),
        }
    }

    /// The ring as it is at `now`: scheduled activations and retirements applied, schedules
    /// kept (a copy, secrets included, made only when a scheduled change is due).
    pub(crate) fn in_force_at(&self, now: UnixTime) -> Self {
        let mut ring = self.duplicate();
        for (key, state) in ring.keys.iter_mut().zip(schedule::states_at(self, now)) {
            key.state = state;
        }
        ring
    }

    /// `(id, listed state, schedule)` of every key, in insertion order.
    pub(crate) fn entries(&self) -> impl Iterator<Item = (KeyId, KeyState, KeySchedule)> + '_ {
        self.keys.iter().map(|k| (k.id, k.state, k.schedule))
    }

    pub(crate) fn get(&self, id: KeyId) -> Option<&RingKey> {
        self.keys.iter().find(|k| k.id == id)
    }

    pub(crate) fn primary(&self) -> Option<&RingKey> {
        self.keys.iter().find(|k| k.state == KeyState::Primary)
    }

    /// The key that opens a token with this id, or why none does.
    pub(crate) fn opening_key(&self, id: KeyId) -> Result<&RingKey, Reason> {
        match self.get(id) {
            None => Err(Reason::UnknownKey),
            Some(k) if k.state == KeyState::Retired => Err(Reason::RetiredKey),
            Some(k) => Ok(k),
        }
    }

    pub(crate) fn parse_state(s: &str) -> Option<KeyState> {
        KeyState::parse(s)
    }
}
