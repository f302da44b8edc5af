//! `spec/vectors/keyfile.json`: key-file texts (spec/format.md §16) with the ring they list and
//! the ring in force at several times (§17: activation, retirement, ties), and texts that must
//! be refused with the line they name.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use sealed_session::{ConfigError, KeyRing, UnixTime};
use serde::Serialize;

use crate::material::{hex, key};

const T: u64 = 1_800_000_000;
const HEADER: &str = "sealed-session-keys v1";

#[derive(Serialize)]
struct KeyJson {
    id: u8,
    state: &'static str,
    secret: String,
    activate: Option<u64>,
    retire: Option<u64>,
}

#[derive(Serialize)]
struct InForce {
    now: u64,
    primary: Option<u8>,
    /// `[id, state]` for every key, in the order the file lists them.
    states: Vec<(u8, &'static str)>,
}

#[derive(Serialize)]
struct Valid {
    name: &'static str,
    comment: &'static str,
    text: String,
    keys: Vec<KeyJson>,
    in_force: Vec<InForce>,
}

#[derive(Serialize)]
struct Invalid {
    name: &'static str,
    comment: &'static str,
    text: String,
    /// The 1-based line the error names; `null` for a property of the whole ring.
    line: Option<usize>,
    error: String,
}

#[derive(Serialize)]
struct Doc {
    description: &'static str,
    spec: &'static str,
    notes: [&'static str; 3],
    valid: Vec<Valid>,
    invalid: Vec<Invalid>,
}

fn b64(id: u8) -> String {
    STANDARD.encode(key(id))
}

fn valid(name: &'static str, comment: &'static str, text: String, times: &[u64]) -> Valid {
    let ring = KeyRing::parse(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
    let keys = ring
        .states()
        .into_iter()
        .map(|(id, state)| {
            let s = ring.schedule(id);
            KeyJson {
                id: id.0,
                state: state.as_str(),
                secret: hex(&key(id.0)),
                activate: s.activate_at.map(|t| t.0),
                retire: s.retire_at.map(|t| t.0),
            }
        })
        .collect();
    // Every listed secret is the vectors' key of that id (the rendering shows it).
    let rendered = ring.to_key_file_text();
    for (id, _) in ring.states() {
        assert!(rendered.contains(&b64(id.0)), "{name}");
    }
    let in_force = times
        .iter()
        .map(|&now| InForce {
            now,
            primary: ring.primary_id_at(UnixTime(now)).map(|id| id.0),
            states: ring
                .states_at(UnixTime(now))
                .into_iter()
                .map(|(id, s)| (id.0, s.as_str()))
                .collect(),
        })
        .collect();
    Valid {
        name,
        comment,
        text,
        keys,
        in_force,
    }
}

fn invalid(name: &'static str, comment: &'static str, text: String) -> Invalid {
    let err = KeyRing::parse(&text).map(|_| ()).unwrap_err();
    let line = match err {
        ConfigError::KeyFile { line, .. } => Some(line),
        _ => None,
    };
    let error = err.to_string();
    for id in [1, 2, 3] {
        assert!(!error.contains(&b64(id)), "{name}: error shows a secret");
    }
    Invalid {
        name,
        comment,
        text,
        line,
        error,
    }
}

fn valid_cases() -> Vec<Valid> {
    let (k1, k2, k3) = (b64(1), b64(2), b64(3));
    vec![
        valid("example", "the example of spec/format.md §16: no schedule", format!("# secret: keep this file mode 0600\n{HEADER}\n1 primary {k1}\n2 accept-only {k2}\n"), &[T]),
        valid("one_line", "a whole ring in one line (an environment variable): ';' separates entries, blanks around them are trimmed", format!("{HEADER}; 1 primary {k1} ;\t2 retired {k2}; # a comment entry\u{a0}may hold anything"), &[T]),
        valid("crlf_tabs_comments", "CRLF line ends, tabs and runs of blanks between fields, comment and empty lines (counted)", format!("\r\n  # comment ; with a semicolon\r\n{HEADER}\r\n\t0\t primary  {}\t\r\n\r\n255 accept-only {}\r\n", b64(0), b64(255)), &[T]),
        valid("staged_activation", "key 2 is accept-only until its activate time, then primary; key 1 becomes accept-only", format!("{HEADER}\n1 primary {k1}\n2 accept-only {k2} activate={T}\n"), &[T - 1, T, T + 1]),
        valid("staged_rotation_with_retire", "key 2 activates at T, key 1 retires at T + 90000 (retire and activate in either order)", format!("{HEADER}\n1 primary {k1} retire={}\n2 accept-only {k2} activate={T}\n", T + 90_000), &[T - 1, T, T + 89_999, T + 90_000]),
        valid("later_activation_wins", "keys 2 and 3 both activated: the later activate time is primary", format!("{HEADER}\n1 primary {k1}\n2 accept-only {k2} activate={T}\n3 accept-only {k3} activate={}\n", T + 10), &[T + 5, T + 10]),
        valid("tie_goes_to_the_greater_id", "keys 2 and 3 activate at the same second: the greater id is primary", format!("{HEADER}\n1 primary {k1}\n3 accept-only {k3} activate={T}\n2 accept-only {k2} activate={T}\n"), &[T]),
        valid("retired_key_never_activates", "a key listed retired stays retired whatever its activate time", format!("{HEADER}\n1 primary {k1}\n2 retired {k2} activate={T}\n"), &[T]),
        valid("activated_key_retired_later", "key 2 is primary from its activate time until its retire time; then no key is activated and key 1 is in its listed state, primary, again", format!("{HEADER}\n1 primary {k1}\n2 accept-only {k2} activate={T} retire={}\n", T + 100), &[T - 1, T, T + 100]),
        valid("primary_retires_with_no_successor", "the only primary retires and no key is activated: from then on the ring has no primary (it stops minting; the CLI refuses to schedule this)", format!("{HEADER}\n1 primary {k1} retire={T}\n2 accept-only {k2}\n"), &[T - 1, T]),
        valid("time_zero", "activate=0 is a valid time (plain decimal zero)", format!("{HEADER}\n1 accept-only {k1}\n2 accept-only {k2} activate=0\n3 primary {k3}\n"), &[T]),
    ]
}

fn invalid_cases() -> Vec<Invalid> {
    let k1 = b64(1);
    let entry = |e: &str| format!("{HEADER}\n{e}\n");
    vec![
        invalid(
            "nbsp_before_entry",
            "U+00A0 is not a blank",
            entry(&format!("\u{a0}1 primary {k1}")),
        ),
        invalid(
            "nbsp_between_fields",
            "U+00A0 between fields",
            entry(&format!("1\u{a0}primary {k1}")),
        ),
        invalid(
            "ideographic_space",
            "U+3000 between fields",
            entry(&format!("1\u{3000}primary {k1}")),
        ),
        invalid(
            "vertical_tab",
            "VT after the secret",
            entry(&format!("1 primary {k1}\u{b}")),
        ),
        invalid(
            "form_feed_separator",
            "FF is not a separator",
            entry(&format!("1\u{c}primary {k1}")),
        ),
        invalid(
            "lone_cr",
            "a CR that does not end a line",
            entry(&format!("1 primary\r{k1}")),
        ),
        invalid(
            "byte_order_mark",
            "a BOM before the header",
            format!("\u{feff}{HEADER}\n1 primary {k1}\n"),
        ),
        invalid(
            "header_missing",
            "the first entry must be the header",
            format!("1 primary {k1}\n"),
        ),
        invalid(
            "header_with_tab",
            "the header is exact: one SP",
            format!("sealed-session-keys\tv1\n1 primary {k1}\n"),
        ),
        invalid("empty", "no header at all", String::new()),
        invalid(
            "id_leading_zero",
            "ids have one spelling",
            entry(&format!("007 primary {k1}")),
        ),
        invalid("id_sign", "no sign", entry(&format!("+7 primary {k1}"))),
        invalid("id_too_large", "0 to 255", entry(&format!("256 primary {k1}"))),
        invalid(
            "unknown_state",
            "primary, accept-only or retired",
            entry(&format!("1 main {k1}")),
        ),
        invalid(
            "secret_unpadded",
            "the '=' is required",
            entry(&format!("1 primary {}", k1.trim_end_matches('='))),
        ),
        invalid(
            "secret_url_alphabet",
            "standard base64, not base64url",
            entry(&format!(
                "1 primary {}",
                STANDARD.encode([0xfb; 32]).replace('+', "-").replace('/', "_")
            )),
        ),
        invalid(
            "secret_short",
            "exactly 32 bytes",
            entry(&format!("1 primary {}", STANDARD.encode([1u8; 31]))),
        ),
        invalid(
            "activate_leading_zero",
            "times have one spelling",
            entry(&format!("1 primary {k1} activate=01")),
        ),
        invalid(
            "activate_twice",
            "at most once",
            entry(&format!("1 primary {k1} activate=1 activate=2")),
        ),
        invalid(
            "unknown_field",
            "only activate= and retire=",
            entry(&format!("1 primary {k1} when=1")),
        ),
        invalid(
            "duplicate_id",
            "ids are unique",
            format!("{HEADER}\n1 primary {k1}\n1 accept-only {}\n", b64(2)),
        ),
        invalid(
            "two_primaries",
            "exactly one listed primary",
            format!("{HEADER}\n1 primary {k1}\n2 primary {}\n", b64(2)),
        ),
        invalid(
            "no_primary",
            "a property of the whole ring: no line",
            format!("{HEADER}\n1 accept-only {k1}\n"),
        ),
    ]
}

pub(crate) fn write() {
    let doc = Doc {
        description: "Key files (spec/format.md §16) and the ring in force at given times (§17). Generated by \
                      examples/gen-vectors; do not edit.",
        spec: "spec/format.md §16, §17",
        notes: [
            "secrets are the vectors' keys (hex here, standard padded base64 in the text); never use them",
            "in_force: the state of every key at 'now' by §17's rules, and the primary (null: the ring cannot mint)",
            "invalid texts must be refused; 'line' is the 1-based line the error names (null: the whole ring); 'error' is this implementation's text",
        ],
        valid: valid_cases(),
        invalid: invalid_cases(),
    };
    let mut text = serde_json::to_string_pretty(&doc).unwrap();
    text.push('\n');
    let path = format!("{}/spec/vectors/keyfile.json", env!("CARGO_MANIFEST_DIR"));
    std::fs::write(&path, text).unwrap();
    println!(
        "wrote {path}: {} valid, {} invalid",
        doc.valid.len(),
        doc.invalid.len()
    );
}
