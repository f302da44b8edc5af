//! Arbitrary text → `DpopVerifier::verify_at` (the `DPoP` header parser, RFC 9449): never
//! panics, and a proof that verifies is refused as a replay when it comes again.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sealed_session::dpop::DpopError;
use sealed_session_fuzz::dpop::{request, verifier, NOW};

fuzz_target!(|data: &[u8]| {
    // Header values are strings; non-UTF-8 input is fuzzed through its lossy conversion.
    let text = String::from_utf8_lossy(data);
    let verifier = verifier();
    let Ok(verified) = verifier.verify_at(&text, &request(), NOW) else {
        return;
    };
    assert!(
        verifier.verify_at(&text, &request(), NOW) == Err(DpopError::Replayed),
        "an accepted proof was not refused as a replay"
    );
    assert!(
        verified.issued_at.0.abs_diff(NOW.0) <= 60,
        "accepted outside the window"
    );
});
