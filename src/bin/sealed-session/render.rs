//! The JSON shape `inspect` prints: identifiers and bytes as hex, times as Unix seconds and
//! RFC 3339 UTC.

use sealed_session::token::{Flags, Opened, Privilege};
use sealed_session::UnixTime;
use serde::Serialize;

#[derive(Serialize)]
pub(crate) struct Inspected<'a> {
    key_id: u8,
    token_id: String,
    session_id: String,
    subject: Option<&'a str>,
    privilege: &'static str,
    epoch: u64,
    issued_at: Time,
    expires_at: Time,
    session_deadline: Time,
    authenticated_at: Time,
    binding: String,
    flags: FlagSet,
    app_data: String,
}

#[derive(Serialize)]
struct Time {
    unix: u64,
    rfc3339: Option<String>,
}

#[derive(Serialize)]
struct FlagSet {
    bits: u8,
    names: Vec<&'static str>,
}

const FLAG_NAMES: [(u8, &str); 3] = [
    (Flags::BIND_IP, "bind_ip"),
    (Flags::BIND_USER_AGENT, "bind_user_agent"),
    (Flags::BIND_APP_VALUE, "bind_app_value"),
];

impl<'a> Inspected<'a> {
    pub(crate) fn new(opened: &'a Opened) -> Self {
        let c = &opened.claims;
        Self {
            key_id: opened.key_id.0,
            token_id: hex(&opened.token_id.0),
            session_id: hex(&c.session_id.0),
            subject: c.subject.as_deref(),
            privilege: privilege_name(c.privilege),
            epoch: c.epoch.0,
            issued_at: Time::new(c.issued_at),
            expires_at: Time::new(c.expires_at),
            session_deadline: Time::new(c.session_deadline),
            authenticated_at: Time::new(c.authenticated_at),
            binding: hex(&c.binding.0),
            flags: FlagSet {
                bits: c.flags.0,
                names: FLAG_NAMES
                    .iter()
                    .filter(|(bit, _)| c.flags.contains(*bit))
                    .map(|(_, name)| *name)
                    .collect(),
            },
            app_data: hex(&c.app_data),
        }
    }
}

impl Time {
    fn new(t: UnixTime) -> Self {
        Self {
            unix: t.0,
            rfc3339: rfc3339(t.0),
        }
    }
}

fn privilege_name(p: Privilege) -> &'static str {
    match p {
        Privilege::Anonymous => "anonymous",
        Privilege::Authenticated => "authenticated",
        Privilege::Elevated => "elevated",
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// One `keys list` line: id, listed state, the state in force now when it differs, and the
/// schedule. Never the secret.
pub(crate) fn key_line(
    id: u8,
    listed: &str,
    in_force: &str,
    schedule: sealed_session::KeySchedule,
) -> String {
    let mut line = format!("{id} {listed}");
    if in_force != listed {
        line.push_str(&format!(" (now {in_force})"));
    }
    if let Some(t) = schedule.activate_at {
        line.push_str(&format!(" activate={} ({})", t.0, time(t.0)));
    }
    if let Some(t) = schedule.retire_at {
        line.push_str(&format!(" retire={} ({})", t.0, time(t.0)));
    }
    line
}

/// Unix seconds as RFC 3339 UTC, or the number itself past year 9999.
pub(crate) fn time(secs: u64) -> String {
    rfc3339(secs).unwrap_or_else(|| secs.to_string())
}

/// UTC date and time of Unix seconds for years up to 9999 (`None` beyond), by the
/// days-to-civil algorithm of H. Hinnant, "chrono-Compatible Low-Level Date Algorithms".
fn rfc3339(secs: u64) -> Option<String> {
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let z = days.checked_add(719_468)?;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    (year <= 9999).then(|| {
        let (h, m, s) = (rem / 3600, rem % 3600 / 60, rem % 60);
        format!("{year:04}-{month:02}-{day:02}T{h:02}:{m:02}:{s:02}Z")
    })
}

#[cfg(test)]
mod tests {
    use super::rfc3339;

    #[test]
    fn rfc3339_known_instants() {
        assert_eq!(rfc3339(0).as_deref(), Some("1970-01-01T00:00:00Z"));
        assert_eq!(rfc3339(1_704_067_200).as_deref(), Some("2024-01-01T00:00:00Z"));
        assert_eq!(rfc3339(951_782_400).as_deref(), Some("2000-02-29T00:00:00Z"));
        assert_eq!(rfc3339(1_795_316_446).as_deref(), Some("2026-11-22T03:00:46Z"));
        assert_eq!(rfc3339(253_402_300_799).as_deref(), Some("9999-12-31T23:59:59Z"));
        assert_eq!(rfc3339(253_402_300_800), None);
        assert_eq!(rfc3339(u64::MAX), None);
    }
}
