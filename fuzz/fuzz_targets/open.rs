//! Arbitrary text → `Sealer::open_at`: never panics, and anything that opens re-encodes to
//! exactly the same text (one token, one spelling; no malleability anywhere in the format).
#![no_main]

use libfuzzer_sys::fuzz_target;
use sealed_session_fuzz::{nonce_of, opener, remint, NOW};

fuzz_target!(|data: &[u8]| {
    // Header values are strings; non-UTF-8 input is fuzzed through its lossy conversion (the
    // replacement character is never base64, so such text can only exercise the refusals).
    let text = String::from_utf8_lossy(data);
    let Ok(opened) = opener().open_at(&text, NOW) else {
        return;
    };
    let nonce = nonce_of(&text).expect("an opened token parses");
    let again = remint(opened.key_id, &opened.claims, nonce).expect("opened claims must mint again");
    assert!(
        again == *text,
        "an opened token did not re-encode byte-identically"
    );
});
