//! Arbitrary bytes → `RevocationSnapshot::from_bytes` (through `from_bytes_by`) under the
//! vectors' ring (primary, accept-only, retired): never panics; a snapshot that opens is sealed
//! again and opens to the same value, answers `contains`, and merges (or is refused for its
//! geometry) without panicking. Most inputs stop at the MAC: `snapshot_body` gets past it.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sealed_session::revocation::RevocationSnapshot;
use sealed_session_fuzz::check_snapshot;
use sealed_session_fuzz::snapshot::{ring, set};

fuzz_target!(|data: &[u8]| {
    let Ok(snapshot) = RevocationSnapshot::from_bytes(data, ring()) else {
        return;
    };
    check_snapshot(&snapshot, ring(), &set());
});
