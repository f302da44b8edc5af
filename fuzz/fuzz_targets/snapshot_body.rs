//! Structure-aware `snapshot`: the first byte picks the sealing key (primary or accept-only),
//! the rest is the postcard body, sealed with a correct MAC computed from the spec, so every
//! input reaches the body decoder. It may only answer `Malformed` or open; what opens
//! round-trips, answers `contains` and merges as in `snapshot`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sealed_session::revocation::{RevocationSnapshot, SnapshotError};
use sealed_session_fuzz::check_snapshot;
use sealed_session_fuzz::snapshot::{ring, seal, set};

fuzz_target!(|data: &[u8]| {
    let Some((&pick, body)) = data.split_first() else {
        return;
    };
    let key = 1 + pick % 2;
    let sealed = seal(key, body).expect("fixture key");
    match RevocationSnapshot::from_bytes(&sealed, ring()) {
        Ok(snapshot) => check_snapshot(&snapshot, ring(), &set()),
        Err(SnapshotError::Malformed) => {}
        Err(e) => panic!("a correctly sealed snapshot refused as {e:?}"),
    }
});
