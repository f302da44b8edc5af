//! The files of a [`FileStore`](super::FileStore): creating them private, replaying the log,
//! writing a snapshot atomically.

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::path::Path;

use super::file::{io, Recovery, LOG_FILE, SNAPSHOT_FILE, SNAPSHOT_TMP};
use super::log;
use super::set::RevocationSet;
use super::store::StoreError;

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

pub(crate) fn replay(
    dir: &Path,
    set: &RevocationSet,
    recovery: &mut Recovery,
) -> Result<(File, u64), StoreError> {
    let path = dir.join(LOG_FILE);
    let existed = path.exists();
    let mut file = private(OpenOptions::new().read(true).append(true).create(true))
        .open(&path)
        .map_err(io("opening the log"))?;
    if !existed {
        sync_dir(dir)?; // the new log's directory entry must be durable before records are
    }
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes).map_err(io("reading the log"))?;
    let scan = log::scan(&bytes)?;
    for record in &scan.records {
        record.apply_to(set);
    }
    recovery.records_replayed = scan.records.len();
    let valid = scan.valid_len as u64;
    if scan.valid_len < bytes.len() {
        recovery.tail_bytes_cut = (bytes.len() - scan.valid_len) as u64;
        tracing::warn!(
            cut = recovery.tail_bytes_cut,
            "revocation log: cutting a torn or corrupt tail"
        );
        file.set_len(valid)
            .and_then(|()| file.sync_all())
            .map_err(io("cutting the log tail"))?;
    }
    Ok((file, valid))
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

/// Takes the advisory lock on `dir/lock` for as long as the returned file is open: two
/// processes appending to one log without coordination would corrupt it.
pub(crate) fn lock_dir(dir: &Path) -> Result<File, StoreError> {
    let mut options = fs::OpenOptions::new();
    options.read(true).write(true).create(true).truncate(false);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let file = options
        .open(dir.join(LOCK_FILE))
        .map_err(io("opening the data directory lock"))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(fs::TryLockError::WouldBlock) => Err(StoreError::Locked {
            dir: dir.display().to_string(),
        }),
        Err(fs::TryLockError::Error(e)) => Err(io("locking the data directory")(e)),
    }
}

/// The lock file inside a data directory.
pub(crate) const LOCK_FILE: &str = "lock";
