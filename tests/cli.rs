//! The `sealed-session` command-line tool, run as a process against key files in a temp dir.
#![cfg(feature = "cli")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output, Stdio};

fn cli(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sealed-session"))
        .args(args)
        .output()
        .unwrap()
}

fn cli_stdin(args: &[&str], input: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_sealed-session"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
    child.wait_with_output().unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8(o.stderr.clone()).unwrap()
}

fn ok(args: &[&str]) -> String {
    let o = cli(args);
    assert!(o.status.success(), "{args:?} failed: {}", stderr(&o));
    stdout(&o)
}

/// The base64 secrets in a key file (third field of every entry line).
fn secrets(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .filter(|l| {
            l.split_whitespace()
                .next()
                .is_some_and(|id| id.parse::<u8>().is_ok())
        })
        .filter_map(|l| l.split_whitespace().nth(2).map(str::to_owned))
        .collect()
}

fn keygen(dir: &Path) -> (std::path::PathBuf, String) {
    let path = dir.join("keys");
    let p = path.to_str().unwrap().to_owned();
    ok(&["keygen", "--out", &p]);
    (path, p)
}

#[test]
fn keygen_creates_a_0600_file_never_overwrites_and_never_prints_the_secret() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keys");
    let p = path.to_str().unwrap();
    let out = ok(&["keygen", "--out", p, "--id", "7"]);
    assert!(out.contains(p) && out.contains('7'), "{out}");
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let secret = secrets(&path);
    assert_eq!(secret.len(), 1);
    assert_eq!(secret[0].len(), 44);
    assert!(!out.contains(&secret[0]));

    let before = std::fs::read(&path).unwrap();
    let again = cli(&["keygen", "--out", p]);
    assert_eq!(again.status.code(), Some(2));
    assert!(stderr(&again).contains("already exists"), "{}", stderr(&again));
    assert_eq!(std::fs::read(&path).unwrap(), before);
}

#[test]
fn keys_add_promote_retire_list_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let (path, p) = keygen(dir.path());
    ok(&["keys", "--file", &p, "add"]);
    ok(&["keys", "--file", &p, "add", "--id", "9"]);
    assert_eq!(
        ok(&["keys", "--file", &p, "list"]),
        "1 primary\n2 accept-only\n9 accept-only\n"
    );
    ok(&["keys", "--file", &p, "promote", "2"]);
    ok(&["keys", "--file", &p, "retire", "1"]);
    let list = ok(&["keys", "--file", &p, "list"]);
    assert_eq!(list, "1 retired\n2 primary\n9 accept-only\n");
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    for s in secrets(&path) {
        assert!(!list.contains(&s));
    }

    // A retirement can be undone: the key opens tokens again, as accept-only.
    ok(&["keys", "--file", &p, "reinstate", "1"]);
    let list = ok(&["keys", "--file", &p, "list"]);
    assert_eq!(list, "1 accept-only\n2 primary\n9 accept-only\n");
    let not_retired = cli(&["keys", "--file", &p, "reinstate", "2"]);
    assert_eq!(not_retired.status.code(), Some(2));
    assert!(stderr(&not_retired).contains("only a retired key"));

    let primary = cli(&["keys", "--file", &p, "retire", "2"]);
    assert_eq!(primary.status.code(), Some(2));
    assert!(stderr(&primary).contains("primary key cannot be retired"));
    let dup = cli(&["keys", "--file", &p, "add", "--id", "9"]);
    assert_eq!(dup.status.code(), Some(2));
    ok(&["keys", "--file", &p, "add", "--id", "255"]);
    let full = cli(&["keys", "--file", &p, "add"]);
    assert_eq!(full.status.code(), Some(2));
    assert!(stderr(&full).contains("255"), "{}", stderr(&full));
}

#[test]
fn inspect_prints_claims_of_a_minted_token_and_rejects_a_tampered_one() {
    let dir = tempfile::tempdir().unwrap();
    let (_, p) = keygen(dir.path());
    let now = "1795000000";
    let mint = [
        "mint",
        "--keys",
        &p,
        "--context",
        "bank",
        "--subject",
        "alice",
        "--now",
        now,
    ];
    let token = ok(&mint).trim().to_owned();
    let inspect = ["inspect", "--keys", &p, "--context", "bank", "--now", now];

    let json: serde_json::Value = serde_json::from_str(&ok(&[&inspect[..], &[&token]].concat())).unwrap();
    assert_eq!(json["subject"], "alice");
    assert_eq!(json["privilege"], "authenticated");
    assert_eq!(json["key_id"], 1);
    assert_eq!(json["issued_at"]["unix"], 1_795_000_000u64);
    assert_eq!(json["issued_at"]["rfc3339"], "2026-11-18T11:06:40Z");
    assert_eq!(json["expires_at"]["unix"], 1_795_001_800u64);
    assert_eq!(json["session_id"].as_str().unwrap().len(), 32);

    let from_stdin = cli_stdin(&[&inspect[..], &["-"]].concat(), &format!("{token}\n"));
    assert!(from_stdin.status.success(), "{}", stderr(&from_stdin));
    let crlf = cli_stdin(&[&inspect[..], &["-"]].concat(), &format!("{token}\r\n"));
    assert!(crlf.status.success(), "{}", stderr(&crlf));
    // Nothing but one line terminator is taken off: padded text is not a token.
    for padded in [
        format!(" {token}"),
        format!("{token} "),
        format!("{token}\n"),
        format!("\t{token}"),
    ] {
        let o = cli(&[&inspect[..], &[padded.as_str()]].concat());
        assert_eq!(stderr(&o).trim(), "rejected: malformed", "{padded:?}");
    }
    for padded in [
        format!(" {token}\n"),
        format!("{token} \n"),
        format!("{token}\n\n"),
    ] {
        let o = cli_stdin(&[&inspect[..], &["-"]].concat(), &padded);
        assert_eq!(stderr(&o).trim(), "rejected: malformed", "{padded:?}");
    }
    // A minted token's epoch covers its session deadline.
    assert!(json["epoch"].as_u64().unwrap() >= (1_795_000_000u64 + 86_400 - 1_704_067_200) / 3600);

    let mut chars: Vec<char> = token.chars().collect();
    let mid = chars.len() / 2;
    chars[mid] = if chars[mid] == 'A' { 'B' } else { 'A' };
    let tampered: String = chars.into_iter().collect();
    let o = cli(&[&inspect[..], &[&tampered]].concat());
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(stderr(&o).trim(), "rejected: forged");
    assert!(o.stdout.is_empty());

    let o = cli(&[
        "inspect",
        "--keys",
        &p,
        "--context",
        "other",
        "--now",
        now,
        &token,
    ]);
    assert_eq!(stderr(&o).trim(), "rejected: forged");
    let late = cli(&[
        "inspect",
        "--keys",
        &p,
        "--context",
        "bank",
        "--now",
        "1795001800",
        &token,
    ]);
    assert_eq!(late.status.code(), Some(1));
    assert_eq!(stderr(&late).trim(), "rejected: expired");
}

#[test]
fn a_key_file_readable_by_others_is_refused_with_chmod_advice() {
    let dir = tempfile::tempdir().unwrap();
    let (path, p) = keygen(dir.path());
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    for args in [
        &["keys", "--file", &p, "list"][..],
        &["mint", "--keys", &p, "--context", "bank"][..],
    ] {
        let o = cli(args);
        assert_eq!(o.status.code(), Some(2));
        let err = stderr(&o);
        assert!(err.contains("chmod 600"), "{err}");
        assert_eq!(err.lines().count(), 1);
        assert!(o.stdout.is_empty());
    }
}

#[test]
fn keys_are_scheduled_from_the_cli_and_too_early_activations_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (_, p) = keygen(dir.path());
    let now = "1795000000";
    let keys = |rest: &[&'static str]| -> Vec<String> {
        ["keys", "--file", &p, "--now", now]
            .iter()
            .chain(rest)
            .map(|s| (*s).to_owned())
            .collect()
    };
    let run = |args: Vec<String>| cli(&args.iter().map(String::as_str).collect::<Vec<_>>());
    let okv = |args: Vec<String>| ok(&args.iter().map(String::as_str).collect::<Vec<_>>());
    let early = run(keys(&["add", "--activate-in", "10m"]));
    assert_eq!(early.status.code(), Some(2));
    assert!(stderr(&early).contains("propagation delay"), "{}", stderr(&early));
    okv(keys(&["add", "--activate-in", "10m", "--propagation", "5m"]));
    okv(keys(&["add", "--activate-in", "2h"]));
    let list = okv(keys(&["list"]));
    assert!(
        list.contains("2 accept-only activate=1795000600 (2026-11-18T11:16:40Z)"),
        "{list}"
    );
    assert!(list.contains("3 accept-only activate=1795007200"), "{list}");
    // Two hours later key 3 is in force as primary, key 1 and 2 accept-only.
    let later = ok(&["keys", "--file", &p, "--now", "1795007200", "list"]);
    assert!(later.contains("1 primary (now accept-only)"), "{later}");
    assert!(later.contains("3 accept-only (now primary)"), "{later}");
    // Retiring the listed primary is scheduled only if another key is primary by then.
    let orphan = run(keys(&["retire", "1", "--retire-in", "1m"]));
    assert_eq!(orphan.status.code(), Some(2), "{}", stdout(&orphan));
    assert!(stderr(&orphan).contains("no other key would be primary"));
    okv(keys(&["retire", "1", "--retire-in", "1d"]));
    let list = ok(&["keys", "--file", &p, "--now", "1795086400", "list"]);
    assert!(
        list.contains("1 primary (now retired) retire=1795086400"),
        "{list}"
    );
    for s in secrets(Path::new(&p)) {
        assert!(!list.contains(&s), "never the secret");
    }
}

/// The operator revokes into a running deployment's data directory: a store that has it open
/// (as a node would) enforces each kind of revocation, and `status` reports what is there.
#[test]
fn revoke_into_a_running_data_directory_and_read_its_status() {
    use sealed_session::revocation::{FileStore, FilterConfig, RevocationStore};
    use sealed_session::token::Sealer;
    use sealed_session::{KeyRing, Keys};

    let dir = tempfile::tempdir().unwrap();
    let (keys_path, _) = keygen(dir.path());
    let keys_arg = keys_path.to_str().unwrap();
    let data = dir.path().join("data");
    let data_arg = data.to_str().unwrap();
    let keys = Keys::new(KeyRing::from_file(&keys_path).unwrap()).unwrap();
    let node = FileStore::open(&data, &keys, FilterConfig::default()).unwrap();

    let base = ["--data-dir", data_arg, "--keys", keys_arg, "--context", "app"];
    fn with<'a>(base: &[&'a str], extra: &[&'a str]) -> Vec<&'a str> {
        [&["revoke"][..], base, extra].concat()
    }
    ok(&with(&base, &["--subject", "alice"]));
    let token = ok(&["mint", "--keys", keys_arg, "--context", "app", "--subject", "bob"]);
    let o = cli_stdin(&with(&base, &["--session", "-"]), &token);
    assert!(o.status.success(), "{}", stderr(&o));
    ok(&with(&base, &["--kill-switch", "--before", "1700000000"]));

    node.catch_up().unwrap();
    let set = node.set();
    assert!(
        set.subject_cutoff("alice").is_some(),
        "logout-everywhere reached the running store"
    );
    assert_eq!(set.kill_switch().map(|t| t.0), Some(1_700_000_000));
    let sealer = Sealer::new(KeyRing::from_file(&keys_path).unwrap(), "app").unwrap();
    let opened = sealer
        .open_at(
            token.trim_end(),
            sealed_session::Clock::now(&sealed_session::SystemClock),
        )
        .unwrap();
    assert!(
        set.contains(opened.claims.epoch, &opened.claims.session_id.0),
        "the session is revoked"
    );

    // A kill switch is never set in the future (it would refuse tokens not minted yet).
    let future = ok(&with(&base, &["--kill-switch", "--before", "4000000000"]));
    assert!(!future.contains("4000000000"), "{future}");
    // Bad input is a usage error, never a panic.
    for bad in [
        &["--subject", ""][..],
        &["--session", "not-a-token"],
        &["--subject", &"x".repeat(65)],
    ] {
        let o = cli(&with(&base, bad));
        assert!(
            !o.status.success() && !stderr(&o).contains("panicked"),
            "{bad:?}: {}",
            stderr(&o)
        );
    }
    let status = ok(&[&["status"][..], &base].concat());
    assert!(status.contains("subject cutoffs: 1"), "{status}");
    assert!(
        status.contains("kill switch: tokens issued before Unix"),
        "{status}"
    );
    assert!(status.contains("lag 0 bytes"), "{status}");
}
