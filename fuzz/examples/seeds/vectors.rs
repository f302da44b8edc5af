//! Seeds taken from the spec vectors: key rings, snapshots and revocations.

use std::collections::BTreeSet;
use std::path::Path;

use sealed_session::revocation::{Revocation, RevocationSnapshot, SnapshotError};
use sealed_session::token::Epoch;
use sealed_session::{KeyId, KeyRing, KeySchedule, KeyState, SessionKey, UnixTime};
use sealed_session_fuzz::log::{expected, frame};
use sealed_session_fuzz::snapshot::ring;
use serde_json::Value;

type Error = Box<dyn std::error::Error>;

fn vectors(name: &str) -> Result<Value, Error> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../spec/vectors")
        .join(name);
    Ok(serde_json::from_str(&std::fs::read_to_string(path)?)?)
}

fn unhex(text: &str) -> Result<Vec<u8>, Error> {
    (0..text.len())
        .step_by(2)
        .map(|i| Ok(u8::from_str_radix(text.get(i..i + 2).ok_or("odd hex")?, 16)?))
        .collect()
}

fn str_of<'a>(v: &'a Value, key: &str) -> Result<&'a str, Error> {
    Ok(v[key].as_str().ok_or_else(|| format!("no string {key}"))?)
}

/// Every distinct key ring of `valid.json`, written as a key file; the first also with a
/// schedule and in the one-line (`;`) form with a comment.
pub fn key_file_seeds(dir: &Path) -> Result<(), Error> {
    std::fs::create_dir_all(dir)?;
    let cases = vectors("valid.json")?;
    let mut texts = BTreeSet::new();
    for case in cases["cases"].as_array().ok_or("no cases")? {
        let mut ring = KeyRing::empty();
        for key in case["keys"].as_array().ok_or("no keys")? {
            let id = u8::try_from(key["id"].as_u64().ok_or("no id")?)?;
            let state = match str_of(key, "state")? {
                "primary" => KeyState::Primary,
                "accept-only" => KeyState::AcceptOnly,
                _ => KeyState::Retired,
            };
            let secret: [u8; 32] = unhex(str_of(key, "key")?)?.try_into().map_err(|_| "key length")?;
            ring.insert(KeyId(id), state, SessionKey::from_bytes(secret))?;
        }
        texts.insert(ring.to_key_file_text().to_string());
    }
    let first = texts.iter().next().ok_or("no rings")?.clone();
    let mut scheduled = KeyRing::parse(&first)?;
    let id = scheduled.primary_id().ok_or("no primary")?;
    scheduled.set_schedule(
        id,
        KeySchedule {
            activate_at: Some(UnixTime(1_795_000_000)),
            retire_at: Some(UnixTime(1_800_000_000)),
        },
    )?;
    texts.insert(scheduled.to_key_file_text().to_string());
    let one_line: Vec<&str> = first.lines().filter(|l| !l.starts_with('#')).collect();
    texts.insert(format!("# one line\n{}", one_line.join("; ")));
    for (i, text) in texts.iter().enumerate() {
        KeyRing::parse(text)?;
        std::fs::write(dir.join(format!("ring-{i}")), text)?;
    }
    Ok(())
}

/// Every snapshot of `snapshot.json` (valid ones must open under the fuzz ring, invalid ones
/// fail as listed), and the bodies of those whose MAC verifies, prefixed by the key-pick byte.
pub fn snapshot_seeds(whole: &Path, bodies: &Path) -> Result<(), Error> {
    std::fs::create_dir_all(whole)?;
    std::fs::create_dir_all(bodies)?;
    let file = vectors("snapshot.json")?;
    let valid = file["valid"]
        .as_array()
        .ok_or("no valid")?
        .iter()
        .map(|v| (v, None));
    let invalid = file["invalid"].as_array().ok_or("no invalid")?;
    for (case, error) in valid.chain(invalid.iter().map(|v| (v, v["error"].as_str()))) {
        let name = str_of(case, "name")?;
        let bytes = unhex(str_of(case, "snapshot")?)?;
        let got = RevocationSnapshot::from_bytes(&bytes, ring())
            .err()
            .map(SnapshotError::code);
        if got != error {
            return Err(format!("snapshot vector {name}: {got:?}, expected {error:?}").into());
        }
        std::fs::write(whole.join(name), &bytes)?;
        let mac_ok = matches!(error, None | Some("malformed")) && bytes.len() >= 34;
        if let (true, Some(body)) = (mac_ok, bytes.get(2..bytes.len().saturating_sub(32))) {
            let pick = bytes.get(1).map_or(0, |k| k.wrapping_sub(1));
            std::fs::write(bodies.join(name), [&[pick][..], body].concat())?;
        }
    }
    Ok(())
}

/// The revocations of `snapshot.json` framed as a log: whole, with a torn last record, and
/// with a corrupt record in the middle.
pub fn log_seeds(dir: &Path) -> Result<(), Error> {
    std::fs::create_dir_all(dir)?;
    let file = vectors("snapshot.json")?;
    let mut records = Vec::new();
    for r in file["revocations"].as_array().ok_or("no revocations")? {
        let time = |key: &str| r[key].as_u64().map(UnixTime).ok_or(format!("no {key}"));
        records.push(match str_of(r, "type")? {
            "id" => Revocation::Id {
                epoch: Epoch(r["epoch"].as_u64().ok_or("no epoch")?),
                id: unhex(str_of(r, "id")?)?.try_into().map_err(|_| "id length")?,
            },
            "subject" => Revocation::Subject {
                subject: str_of(r, "subject")?.to_owned(),
                cutoff: time("cutoff")?,
            },
            _ => Revocation::KillSwitch {
                before: time("before")?,
            },
        });
    }
    let framed: Vec<Vec<u8>> = records.iter().map(frame).collect();
    let whole = framed.concat();
    let torn = whole.get(..whole.len() - 3).ok_or("short log")?.to_vec();
    let mut corrupt = whole.clone();
    let middle = framed.iter().take(framed.len() / 2).map(Vec::len).sum::<usize>() + 5;
    *corrupt.get_mut(middle).ok_or("short log")? ^= 1;
    let few = framed
        .iter()
        .rev()
        .take(3)
        .flatten()
        .copied()
        .collect::<Vec<u8>>();
    let seeds = [
        ("whole", whole, false),
        ("torn", torn, false),
        ("corrupt", corrupt, true),
        ("last-three", few, false),
    ];
    for (name, log, corrupt) in seeds {
        if expected(&log).corrupt != corrupt {
            return Err(format!("log seed {name}: corrupt != {corrupt}").into());
        }
        std::fs::write(dir.join(name), log)?;
    }
    Ok(())
}

/// Every record and marker of `feed.json` (accepted and refused) in the `stream_record` input
/// format, as given and sealed (mode bit 0, MAC recomputed from the spec); the spec's reason of
/// each refused one is checked against the feed's verdict, so the seeds are the vectors.
pub fn feed_seeds(dir: &Path) -> Result<(), Error> {
    use sealed_session::__vectors::feed::open_entry;
    use sealed_session_fuzz::feed::{ring, unparse, STREAM};
    std::fs::create_dir_all(dir)?;
    let file = vectors("feed.json")?;
    let mut written = 0;
    for (group, want_ok) in [("valid", true), ("invalid", false)] {
        for entry in file[group].as_array().ok_or("no entries")? {
            if entry["kind"].as_str() == Some("snapshot") {
                continue;
            }
            let fields = entry["fields"]
                .as_array()
                .ok_or("no fields")?
                .iter()
                .map(|f| Ok((str_of(f, "name")?.as_bytes().to_vec(), unhex(str_of(f, "hex")?)?)))
                .collect::<Result<Vec<_>, Error>>()?;
            let name = str_of(entry, "name")?;
            let verdict = open_entry(ring(), STREAM, &fields);
            match (want_ok, verdict) {
                (true, Ok(_)) => {}
                (false, Err(reason)) if Some(reason) == entry["reason"].as_str() => {}
                (_, got) => return Err(format!("feed vector {name}: {got:?}").into()),
            }
            for seal in [false, true] {
                let bytes = unparse(seal, &fields).ok_or("field too long")?;
                let suffix = if seal { "-sealed" } else { "" };
                std::fs::write(dir.join(format!("{name}{suffix}")), bytes)?;
                written += 1;
            }
        }
    }
    if written == 0 {
        return Err("no feed seeds".into());
    }
    Ok(())
}
