//! Arbitrary bytes as `revocations.log` → recovery: never panics; never applies a record that
//! fails its checksum or framing (every record kept is one an independent reading of the spec
//! finds in the valid prefix, in order); and `Corrupt` exactly when an invalid record is
//! followed by a valid one, at the first invalid record's offset.
//!
//! Every input goes through the scan `FileStore::open` runs (`revocation::__scan_log`); one in
//! 32 (by a hash of the input, so a rerun takes the same path) also through a real
//! `FileStore::open` of a fresh data directory, which must replay those records, cut exactly
//! the torn tail, and hold what a memory store holds after the same records. An open costs
//! about a millisecond under the sanitizer (directory, lock, two threads), the scan microseconds.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sealed_session::revocation::__scan_log;
use sealed_session::revocation::{FileStore, MemoryStore, RevocationStore, StoreError, LOG_FILE};
use sealed_session::Keys;
use sealed_session_fuzz::log::{expected, Expected};
use sealed_session_fuzz::snapshot::{config, new_ring};

/// One input in this many also opens a real store (a directory, a lock, two threads).
const OPEN_EVERY: u32 = 32;

fuzz_target!(|data: &[u8]| {
    let want = expected(data);
    match __scan_log(data) {
        Ok((records, valid_len)) => {
            assert!(!want.corrupt, "a corrupt log was accepted: {want:?}");
            assert!(
                records == want.records,
                "scan kept other records than the spec allows"
            );
            assert!(
                valid_len == want.valid_len,
                "scan cut at {valid_len}, not {}",
                want.valid_len
            );
        }
        Err(StoreError::Corrupt { offset }) => {
            assert!(want.corrupt, "a torn tail was called corrupt");
            assert!(
                offset == want.valid_len as u64,
                "corrupt at {offset}, not {}",
                want.valid_len
            );
        }
        Err(e) => panic!("scan failed otherwise: {e}"),
    }
    if fnv(data).is_multiple_of(OPEN_EVERY) {
        open_store(data, &want);
    }
});

fn open_store(data: &[u8], want: &Expected) {
    // A RAM file system where there is one: what is fuzzed is the recovery logic, not the disk.
    let shm = std::path::Path::new("/dev/shm");
    let dir = if shm.is_dir() {
        tempfile::tempdir_in(shm)
    } else {
        tempfile::tempdir()
    };
    let dir = dir.expect("temporary directory");
    std::fs::write(dir.path().join(LOG_FILE), data).expect("write the log");
    let keys = Keys::new(new_ring()).expect("fixture ring");
    let store = match FileStore::open(dir.path(), &keys, config()) {
        Err(StoreError::Corrupt { offset }) => {
            assert!(
                want.corrupt && offset == want.valid_len as u64,
                "open refused a torn log"
            );
            return;
        }
        Err(e) => panic!("open failed otherwise: {e}"),
        Ok(store) => store,
    };
    assert!(!want.corrupt, "open accepted a corrupt log");
    let recovery = store.recovery();
    assert!(
        recovery.records_replayed == want.records.len(),
        "replayed {recovery:?}"
    );
    assert!(
        recovery.tail_bytes_cut == (data.len() - want.valid_len) as u64,
        "cut {recovery:?}, valid prefix {}",
        want.valid_len
    );
    let on_disk = std::fs::metadata(dir.path().join(LOG_FILE)).expect("log").len();
    assert!(on_disk == want.valid_len as u64, "log left at {on_disk} bytes");
    let memory = MemoryStore::new(config()).expect("fixture config");
    for record in &want.records {
        memory.revoke(record.clone()).expect("a valid record applies");
    }
    assert!(
        store.set().snapshot() == memory.set().snapshot(),
        "the store holds other revocations than its valid records"
    );
}

fn fnv(data: &[u8]) -> u32 {
    data.iter().fold(0x811c_9dc5_u32, |h, &b| {
        (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
    })
}
