//! The key-file text format (spec/format.md, "Key file").

use std::io::Write;
use std::path::Path;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use zeroize::Zeroizing;

use crate::clock::UnixTime;
use crate::error::ConfigError;
use crate::keys::{KeyId, KeyRing, KeySchedule, KeyState, SessionKey};
use crate::token::aead::KEY_LEN;

/// First non-comment line of every key file.
pub(crate) const MAGIC: &str = "sealed-session-keys v1";

fn bad(line: usize, problem: &'static str) -> ConfigError {
    ConfigError::KeyFile { line, problem }
}

pub(crate) fn parse(text: &str) -> Result<KeyRing, ConfigError> {
    let mut ring = KeyRing::empty();
    let mut seen_magic = false;
    for (line, entry) in entries(text)? {
        if !seen_magic {
            if entry != MAGIC {
                return Err(bad(line, "expected the header line `sealed-session-keys v1`"));
            }
            seen_magic = true;
            continue;
        }
        let (id, state, key, schedule) = parse_entry(line, entry)?;
        ring.insert(id, state, key).map_err(|e| match e {
            ConfigError::KeyRing(problem) => bad(line, problem.message()),
            other => other,
        })?;
        ring.set_schedule(id, schedule)?;
    }
    if !seen_magic {
        return Err(bad(1, "empty key file"));
    }
    ring.validate()?;
    Ok(ring)
}

/// Whitespace in a key file is SP and HT only (spec/format.md §16): one text has one
/// reading, whatever a language's idea of Unicode whitespace is.
const fn is_blank(c: char) -> bool {
    c == ' ' || c == '\t'
}

/// The non-comment entries with their 1-based line numbers. Lines end at LF, a CR right
/// before it is dropped (CRLF); a line whose first non-blank character is `#` is a comment as
/// a whole (even with `;` in it); other lines hold `;`-separated entries, trimmed of SP and HT.
/// An entry holding anything but printable ASCII, SP and HT (NBSP, VT, FF, U+3000, a lone CR,
/// any other control or non-ASCII character) is refused rather than silently read as a
/// separator or as part of a field.
fn entries(text: &str) -> Result<Vec<(usize, &str)>, ConfigError> {
    let mut out = Vec::new();
    for (index, raw) in text.split('\n').enumerate() {
        let line = raw.strip_suffix('\r').unwrap_or(raw);
        if line.trim_start_matches(is_blank).starts_with('#') {
            continue;
        }
        for entry in line.split(';').map(|e| e.trim_matches(is_blank)) {
            if entry.is_empty() || entry.starts_with('#') {
                continue;
            }
            if !entry.chars().all(|c| c.is_ascii_graphic() || is_blank(c)) {
                return Err(bad(
                    index + 1,
                    "only printable ASCII, spaces and tabs may appear outside comments (found other \
                     whitespace such as NBSP, VT, FF or U+3000, a control or a non-ASCII character)",
                ));
            }
            out.push((index + 1, entry));
        }
    }
    Ok(out)
}

type Entry = (KeyId, KeyState, SessionKey, KeySchedule);

fn parse_entry(line: usize, entry: &str) -> Result<Entry, ConfigError> {
    // `entries` admits only printable ASCII, SP and HT, so these are the only separators.
    let mut fields = entry.split(is_blank).filter(|f| !f.is_empty());
    let (Some(id), Some(state), Some(secret)) = (fields.next(), fields.next(), fields.next()) else {
        return Err(bad(
            line,
            "expected `<id> <primary|accept-only|retired> <base64 secret> [activate=<t>] [retire=<t>]`",
        ));
    };
    let schedule = parse_schedule(line, fields)?;
    let canonical = id.bytes().all(|b| b.is_ascii_digit()) && (id == "0" || !id.starts_with('0'));
    let id = Some(id)
        .filter(|_| canonical)
        .and_then(|id| id.parse::<u8>().ok())
        .ok_or(bad(
            line,
            "key id must be a decimal number from 0 to 255 without sign or leading zeros",
        ))?;
    let state =
        KeyRing::parse_state(state).ok_or(bad(line, "state must be primary, accept-only or retired"))?;
    let bytes = Zeroizing::new(
        STANDARD
            .decode(secret)
            .map_err(|_| bad(line, "secret is not canonical padded base64"))?,
    );
    let array: [u8; KEY_LEN] = bytes
        .as_slice()
        .try_into()
        .map_err(|_| bad(line, "secret must decode to exactly 32 bytes"))?;
    Ok((KeyId(id), state, SessionKey::from_bytes(array), schedule))
}

/// `activate=<t>` and `retire=<t>`, each at most once, `t` in Unix seconds written as plain
/// decimal (one spelling per time, as for ids).
fn parse_schedule<'a>(
    line: usize,
    fields: impl Iterator<Item = &'a str>,
) -> Result<KeySchedule, ConfigError> {
    let mut schedule = KeySchedule::default();
    for field in fields {
        let (name, value) = field
            .split_once('=')
            .ok_or(bad(line, "unexpected field after the secret"))?;
        let canonical = !value.is_empty()
            && value.bytes().all(|b| b.is_ascii_digit())
            && (value == "0" || !value.starts_with('0'));
        let time = Some(value)
            .filter(|_| canonical)
            .and_then(|v| v.parse::<u64>().ok())
            .map(UnixTime)
            .ok_or(bad(line, "a scheduled time is Unix seconds in plain decimal"))?;
        let slot = match name {
            "activate" => &mut schedule.activate_at,
            "retire" => &mut schedule.retire_at,
            _ => return Err(bad(line, "unknown field: expected activate=<t> or retire=<t>")),
        };
        if slot.replace(time).is_some() {
            return Err(bad(line, "a scheduled time is given twice"));
        }
    }
    Ok(schedule)
}

pub(crate) fn render<'a>(
    keys: impl Iterator<Item = (KeyId, KeyState, &'a SessionKey, KeySchedule)>,
) -> Zeroizing<String> {
    let mut out = Zeroizing::new(format!("# secret: keep this file mode 0600\n{MAGIC}\n"));
    for (id, state, key, schedule) in keys {
        let b64 = Zeroizing::new(STANDARD.encode(key.dangerous_expose_secret()));
        out.push_str(&format!("{} {} {}", id.0, state.as_str(), b64.as_str()));
        if let Some(t) = schedule.activate_at {
            out.push_str(&format!(" activate={}", t.0));
        }
        if let Some(t) = schedule.retire_at {
            out.push_str(&format!(" retire={}", t.0));
        }
        out.push('\n');
    }
    out
}

pub(crate) fn load(path: &Path) -> Result<KeyRing, ConfigError> {
    check_permissions(path)?;
    let text = Zeroizing::new(std::fs::read_to_string(path).map_err(|source| ConfigError::Io {
        context: format!("reading key file {}", path.display()),
        source,
    })?);
    parse(&text)
}

#[cfg(unix)]
fn check_permissions(path: &Path) -> Result<(), ConfigError> {
    use std::os::unix::fs::PermissionsExt;
    let meta = std::fs::metadata(path).map_err(|source| ConfigError::Io {
        context: format!("reading key file {}", path.display()),
        source,
    })?;
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(ConfigError::KeyFilePermissions {
            path: path.display().to_string(),
            mode,
        });
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_permissions(_path: &Path) -> Result<(), ConfigError> {
    Ok(())
}

/// Writes `ring` to `path` with mode 0600. With `create_new`, an existing file is an error
/// (key generation never overwrites); otherwise the file is replaced atomically.
///
/// # Errors
/// The file exists (with `create_new`) or cannot be written.
pub(crate) fn write(path: &Path, ring: &KeyRing, create_new: bool) -> Result<(), ConfigError> {
    let io = |source| ConfigError::Io {
        context: format!("writing key file {}", path.display()),
        source,
    };
    let text = ring.to_key_file_text();
    // A unique temporary name: a crash mid-write leaves debris, never a name that blocks
    // the next write.
    let mut suffix = [0u8; 8];
    crate::token::rng::fill(&mut suffix)?;
    let suffix: String = suffix.iter().map(|b| format!("{b:02x}")).collect();
    let tmp = path.with_extension(format!("tmp-{suffix}"));
    let target = if create_new {
        path.to_path_buf()
    } else {
        tmp.clone()
    };
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(&target).map_err(io)?;
    file.write_all(text.as_bytes()).map_err(io)?;
    file.sync_all().map_err(io)?;
    if !create_new {
        std::fs::rename(&tmp, path).map_err(io)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    const SECRET: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

    #[test]
    fn only_space_and_tab_are_whitespace() {
        let ok = [
            format!("{MAGIC}\n1 primary {SECRET}\n"),
            format!("{MAGIC}\r\n\t1\t primary  {SECRET} \t\r\n"),
            format!("  # a comment may hold anything: \u{a0}\u{3000}\u{b}\n{MAGIC}; 1 primary {SECRET}"),
            format!("{MAGIC}; 1 primary {SECRET}; # note\u{a0}"),
        ];
        for text in &ok {
            assert_eq!(parse(text).unwrap().primary_id(), Some(KeyId(1)), "{text:?}");
        }
        for (text, line) in [
            (format!("{MAGIC}\n\u{a0}1 primary {SECRET}\n"), 2),
            (format!("{MAGIC}\n1 primary {SECRET}\u{b}\n"), 2),
            (format!("{MAGIC}\n1\u{3000}primary {SECRET}\n"), 2),
            (format!("{MAGIC}\n1\u{c}primary {SECRET}\n"), 2),
            (format!("{MAGIC}\n1 primary\r{SECRET}\n"), 2),
            (format!("\u{feff}{MAGIC}\n1 primary {SECRET}\n"), 1),
        ] {
            let err = parse(&text).unwrap_err().to_string();
            assert!(
                err.starts_with(&format!("key file line {line}: only printable ASCII")),
                "{text:?}: {err}"
            );
            assert!(!err.contains(SECRET));
        }
    }
}
