//! The files of a [`FileStore`](super::FileStore): creating them private, reading the log from
//! an offset, replacing the snapshot and the log atomically, telling one log file from another,
//! and the directory lock that coordinates the processes sharing them.

use std::fs::{self, File, Metadata, OpenOptions};
use std::io::{ErrorKind, Read, Seek, SeekFrom, Write};
use std::path::Path;

use super::file::{io, LOG_FILE, SNAPSHOT_FILE, SNAPSHOT_TMP};
use super::set::RevocationSet;
use super::snapshot::{RevocationSnapshot, SnapshotError};
use super::store::StoreError;
use crate::keys::{KeyState, Keys};

/// The lock file inside a data directory.
pub(crate) const LOCK_FILE: &str = "lock";
/// Where a compaction writes the new, empty log before renaming it over the old one.
pub(crate) const LOG_TMP: &str = "revocations.log.tmp";

/// Which file a path or descriptor is: a compaction by another process shows up as the log's
/// path naming another file than the descriptor this store reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct FileId {
    dev: u64,
    /// The inode number (elsewhere than on Unix, the creation time in nanoseconds).
    pub(crate) ino: u64,
}

/// A snapshot merged from the data directory.
pub(crate) struct Loaded {
    pub(crate) len: u64,
    pub(crate) sealed_by: KeyState,
}

/// A `flock` on the directory's lock file, released when dropped. Locks belong to the open
/// file description, so two stores in one process (each with its own descriptor) exclude each
/// other as two processes do.
pub(crate) struct Flock<'a>(&'a File);

impl<'a> Flock<'a> {
    /// Waits for the lock alone: appending, compacting, cutting a torn tail.
    pub(crate) fn exclusive(lock: &'a File) -> Result<Self, StoreError> {
        lock.lock().map_err(io("locking the data directory"))?;
        Ok(Self(lock))
    }

    /// Waits for the lock shared with other readers: no compaction can run while it is held,
    /// so the snapshot and the log read under it are a consistent pair.
    pub(crate) fn shared(lock: &'a File) -> Result<Self, StoreError> {
        lock.lock_shared().map_err(io("locking the data directory"))?;
        Ok(Self(lock))
    }
}

impl Drop for Flock<'_> {
    fn drop(&mut self) {
        // Unlocking an open, locked descriptor does not fail in practice; were it to, the lock
        // would last until the store closes the file, which only delays the other processes.
        if let Err(e) = self.0.unlock() {
            tracing::warn!(error = %e, "revocation store: unlocking the data directory failed");
        }
    }
}

pub(crate) fn open_lock(dir: &Path) -> Result<File, StoreError> {
    private(
        OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false),
    )
    .open(dir.join(LOCK_FILE))
    .map_err(io("opening the data directory lock"))
}

/// Opens the log for reading and appending, creating it if missing. Whoever opens it syncs the
/// directory before appending, so a created log's entry is durable before its records.
pub(crate) fn open_log(dir: &Path) -> Result<File, StoreError> {
    private(OpenOptions::new().read(true).append(true).create(true))
        .open(dir.join(LOG_FILE))
        .map_err(io("opening the log"))
}

/// Everything in `file` from `offset` to its end.
pub(crate) fn read_from(mut file: &File, offset: u64) -> Result<Vec<u8>, StoreError> {
    let mut bytes = Vec::new();
    file.seek(SeekFrom::Start(offset))
        .and_then(|_| file.read_to_end(&mut bytes))
        .map_err(io("reading the log"))?;
    Ok(bytes)
}

/// Reads the snapshot, if there is one, and ORs it into `set`.
pub(crate) fn load_snapshot(
    dir: &Path,
    keys: &Keys,
    set: &RevocationSet,
) -> Result<Option<Loaded>, StoreError> {
    let bytes = match fs::read(dir.join(SNAPSHOT_FILE)) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io("reading the snapshot")(e)),
    };
    let (snapshot, sealed_by) = match RevocationSnapshot::from_bytes_by(&bytes, &keys.load_at(system_now())) {
        Err(SnapshotError::UnknownKey) => {
            return Err(StoreError::SnapshotKeyMissing {
                dir: dir.display().to_string(),
                key_id: RevocationSnapshot::key_id_of(&bytes).map_or(0, |k| k.0),
            })
        }
        other => other?,
    };
    set.merge(&snapshot)?;
    Ok(Some(Loaded {
        len: bytes.len() as u64,
        sealed_by,
    }))
}

pub(crate) fn write_snapshot(dir: &Path, bytes: &[u8]) -> Result<(), StoreError> {
    let tmp = dir.join(SNAPSHOT_TMP);
    let mut f = private(OpenOptions::new().write(true).create(true).truncate(true))
        .open(&tmp)
        .map_err(io("creating the snapshot"))?;
    f.write_all(bytes).map_err(io("writing the snapshot"))?;
    f.sync_all().map_err(io("syncing the snapshot"))?;
    drop(f);
    fs::rename(&tmp, dir.join(SNAPSHOT_FILE)).map_err(io("renaming the snapshot"))?;
    sync_dir(dir)
}

/// Creates an empty, synced log under [`LOG_TMP`]; [`install_log`] renames it into place.
pub(crate) fn empty_log(dir: &Path) -> Result<(File, FileId), StoreError> {
    let tmp = dir.join(LOG_TMP);
    remove_if_present(&tmp)?;
    let file = private(OpenOptions::new().read(true).append(true).create_new(true))
        .open(&tmp)
        .map_err(io("creating the new log"))?;
    file.sync_all().map_err(io("syncing the new log"))?;
    let id = file_id(&file.metadata().map_err(io("reading the new log's metadata"))?);
    Ok((file, id))
}

/// Renames the log made by [`empty_log`] over the current one. The directory still has to be
/// synced before anything is appended to it.
pub(crate) fn install_log(dir: &Path) -> Result<(), StoreError> {
    fs::rename(dir.join(LOG_TMP), dir.join(LOG_FILE)).map_err(io("renaming the new log"))
}

/// Deletes what a crashed compaction left behind (the caller holds the lock exclusively).
pub(crate) fn remove_stale(dir: &Path) -> Result<(), StoreError> {
    remove_if_present(&dir.join(SNAPSHOT_TMP))?;
    remove_if_present(&dir.join(LOG_TMP))
}

/// The file the log's path names now, or `None` if there is none.
pub(crate) fn path_id(dir: &Path) -> Result<Option<FileId>, StoreError> {
    match fs::metadata(dir.join(LOG_FILE)) {
        Ok(meta) => Ok(Some(file_id(&meta))),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io("reading the log's metadata")(e)),
    }
}

pub(crate) fn file_id(meta: &Metadata) -> FileId {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        FileId {
            dev: meta.dev(),
            ino: meta.ino(),
        }
    }
    #[cfg(not(unix))]
    {
        // A renamed file keeps its creation time and a new log gets a new one.
        let created = meta
            .created()
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX));
        FileId { dev: 0, ino: created }
    }
}

fn remove_if_present(path: &Path) -> Result<(), StoreError> {
    match fs::remove_file(path) {
        Err(e) if e.kind() != ErrorKind::NotFound => Err(io("removing a stale temporary file")(e)),
        _ => Ok(()),
    }
}

/// Revocation files reveal which sessions ended: readable by the owner only.
fn private(options: &mut OpenOptions) -> &mut OpenOptions {
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(options, 0o600);
    options
}

pub(crate) fn create_private_dir(dir: &Path) -> Result<(), StoreError> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir).map_err(io("creating the data directory"))
}

pub(crate) fn sync_dir(dir: &Path) -> Result<(), StoreError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io("syncing the data directory"))
}

/// The store keeps no clock of its own: which key seals its snapshot follows the schedule by
/// the system time (any key the ring still accepts opens it again).
pub(crate) fn system_now() -> crate::clock::UnixTime {
    crate::clock::Clock::now(&crate::clock::SystemClock)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn exclusive_lock_excludes_other_descriptors_in_one_process() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (open_lock(dir.path()).unwrap(), open_lock(dir.path()).unwrap());
        let held = Flock::exclusive(&a).unwrap();
        assert!(matches!(b.try_lock_shared(), Err(fs::TryLockError::WouldBlock)));
        drop(held);
        let shared = Flock::shared(&a).unwrap();
        assert!(b.try_lock_shared().is_ok(), "readers share");
        b.unlock().unwrap();
        drop(shared);
        assert!(b.try_lock().is_ok(), "released on drop");
    }

    #[test]
    fn an_installed_log_is_another_file() {
        let dir = tempfile::tempdir().unwrap();
        let old = open_log(dir.path()).unwrap();
        let before = path_id(dir.path()).unwrap();
        assert_eq!(before, Some(file_id(&old.metadata().unwrap())));
        let (new, id) = empty_log(dir.path()).unwrap();
        install_log(dir.path()).unwrap();
        assert_eq!(path_id(dir.path()).unwrap(), Some(id));
        assert_ne!(before, Some(id), "the old descriptor can tell it was replaced");
        assert_eq!(file_id(&new.metadata().unwrap()), id);
        assert!(!dir.path().join(LOG_TMP).exists());
    }

    #[test]
    fn read_from_an_offset() {
        let dir = tempfile::tempdir().unwrap();
        let file = open_log(dir.path()).unwrap();
        (&file).write_all(b"abcdef").unwrap();
        assert_eq!(read_from(&file, 2).unwrap(), b"cdef");
        assert!(read_from(&file, 6).unwrap().is_empty());
        assert!(read_from(&file, 9).unwrap().is_empty());
    }
}
