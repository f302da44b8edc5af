//! Writes the seed corpora `fuzz/seeds/open/*` (token texts under the fuzz keys, valid at
//! the fuzzing clock, plus refused ones), `fuzz/seeds/claims/*` (their claims plaintexts),
//! `fuzz/seeds/dpop_proof/*` (the RFC 9449 example proofs, one accepted, and variants),
//! `key_file/*` (the key rings of `spec/vectors/valid.json` as key files, with schedules and in
//! the one-line form), `snapshot/*` and `snapshot_body/*` (every snapshot of
//! `spec/vectors/snapshot.json`, whole and as bodies), `log_recovery/*` (that file's
//! revocations as a log, whole, torn and corrupt), and `stream_record/*` (the records and
//! markers of `spec/vectors/feed.json`, as given and sealed). The `layer` target has no
//! seeds: its input is an `arbitrary` structure, which the fuzzer builds up from nothing
//! within seconds.
//! Run from the repository root: `cargo run --manifest-path fuzz/Cargo.toml --example seeds`.

use std::path::Path;

mod vectors;

use sealed_session::token::*;
use sealed_session::*;
use sealed_session_fuzz::{minter, opener, plaintext_of, NOW};

fn claims(subject: Option<&str>, privilege: Privilege, flags: u8, app_data: &[u8], ttl: u64) -> Claims {
    let iat = UnixTime(NOW.0 - 100);
    Claims {
        session_id: SessionId([0xa5; 16]),
        subject: subject.map(str::to_owned),
        privilege,
        epoch: Epoch::containing(UnixTime(iat.0 + 86_400)),
        issued_at: iat,
        expires_at: UnixTime(iat.0 + ttl),
        session_deadline: UnixTime(iat.0 + 86_400),
        authenticated_at: UnixTime(iat.0 - 30),
        binding: BindingHash([0x3c; 16]),
        flags: Flags(flags),
        app_data: app_data.to_vec(),
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("seeds");
    let max_subject = "m".repeat(MAX_SUBJECT_LEN);
    let max_app = vec![0xee; MAX_APP_DATA_LEN];
    let cases: [(&str, u8, Claims); 6] = [
        ("anonymous", 1, claims(None, Privilege::Anonymous, 0, b"", 1800)),
        (
            "authenticated",
            1,
            claims(Some("alice-01"), Privilege::Authenticated, 3, b"", 1800),
        ),
        (
            "elevated-app-data",
            1,
            claims(Some("bob"), Privilege::Elevated, 7, b"{\"cart\":3}", 300),
        ),
        (
            "largest",
            1,
            claims(Some(&max_subject), Privilege::Elevated, 7, &max_app, 1800),
        ),
        (
            "accept-only-key",
            2,
            claims(Some("carol"), Privilege::Authenticated, 0, b"", 1800),
        ),
        (
            "retired-key",
            3,
            claims(Some("dave"), Privilege::Authenticated, 0, b"", 1800),
        ),
    ];
    for dir in ["open", "claims"] {
        std::fs::create_dir_all(root.join(dir))?;
    }
    for (i, (name, key, c)) in cases.iter().enumerate() {
        let nonce = [u8::try_from(i)?; 24];
        let sealer = minter(KeyId(*key)).ok_or("no such fuzz key")?;
        let token = sealer.dangerous_mint_with_nonce(c, nonce)?;
        let text = token.expose_secret();
        let plaintext = plaintext_of(text).ok_or("seed does not decrypt")?;
        let opens = opener().open_at(text, NOW).is_ok();
        if opens != (*key != 3) {
            return Err(format!("seed {name}: opens = {opens}").into());
        }
        std::fs::write(root.join("open").join(name), text)?;
        std::fs::write(root.join("claims").join(name), plaintext)?;
    }
    let expired = claims(None, Privilege::Anonymous, 0, b"", 10);
    let token = minter(KeyId(1))
        .ok_or("no key")?
        .dangerous_mint_with_nonce(&expired, [9; 24])?;
    if opener().open_at(token.expose_secret(), NOW).is_ok() {
        return Err("the expired seed opens".into());
    }
    std::fs::write(root.join("open").join("expired"), token.expose_secret())?;
    dpop_seeds(&root.join("dpop_proof"))?;
    vectors::key_file_seeds(&root.join("key_file"))?;
    vectors::snapshot_seeds(&root.join("snapshot"), &root.join("snapshot_body"))?;
    vectors::log_seeds(&root.join("log_recovery"))?;
    vectors::feed_seeds(&root.join("stream_record"))?;
    println!("seeds written to {}", root.display());
    Ok(())
}

/// The RFC 9449 example proofs: the token request verifies at the target's clock, the resource
/// request is refused (`htm`), the unsigned one reaches the `alg` check's neighbours.
fn dpop_seeds(dir: &Path) -> Result<(), Box<dyn std::error::Error>> {
    use sealed_session_fuzz::dpop::{request, verifier, NOW, RFC_RESOURCE_PROOF, RFC_TOKEN_PROOF};
    std::fs::create_dir_all(dir)?;
    let unsigned = RFC_TOKEN_PROOF
        .rsplit_once('.')
        .ok_or("no signature")?
        .0
        .to_owned()
        + ".";
    let seeds = [
        ("rfc9449-token-request", RFC_TOKEN_PROOF, true),
        ("rfc9449-resource-request", RFC_RESOURCE_PROOF, false),
        ("unsigned", unsigned.as_str(), false),
    ];
    for (name, proof, accepted) in seeds {
        if verifier().verify_at(proof, &request(), NOW).is_ok() != accepted {
            return Err(format!("dpop seed {name}: accepted != {accepted}").into());
        }
        std::fs::write(dir.join(name), proof)?;
    }
    Ok(())
}
