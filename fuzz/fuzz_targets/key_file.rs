//! Arbitrary text → `KeyRing::parse` (the key-file format, spec/format.md "Key file"): never
//! panics, and a ring that parses is written out (`to_key_file_text`) and parsed again to the
//! same ring: ids, states, schedules and secrets (the rendered text holds all of them).
#![no_main]

use libfuzzer_sys::fuzz_target;
use sealed_session::KeyRing;

fuzz_target!(|data: &[u8]| {
    // Key files are read as UTF-8 (`read_to_string`); other bytes go in through the lossy
    // conversion, which can only exercise refusals where the replacement character lands.
    let text = String::from_utf8_lossy(data);
    let Ok(ring) = KeyRing::parse(&text) else {
        return;
    };
    let written = ring.to_key_file_text();
    let again = KeyRing::parse(&written).expect("a written key file parses");
    assert!(
        again.states() == ring.states(),
        "states changed through the round trip"
    );
    for (id, _) in ring.states() {
        assert!(again.schedule(id) == ring.schedule(id), "schedule changed");
    }
    assert!(
        *again.to_key_file_text() == *written,
        "secrets or order changed through the round trip"
    );
});
