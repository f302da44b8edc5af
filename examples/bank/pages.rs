//! Server-rendered HTML. Everything that came from a user or a session goes through [`esc`].

use sealed_session::web::SessionInfo;
use sealed_session::{Privilege, UnixTime};

/// Text the account page shows for `user`, and only when `user` is signed in.
pub fn signed_in_text(user: &str) -> String {
    format!("Signed in as {user}")
}

/// HTML-escapes text for element content and quoted attribute values.
pub fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The page frame: title, a status line and navigation.
pub fn layout(title: &str, session: Option<&SessionInfo>, body: &str) -> String {
    let status = match session.and_then(|s| s.subject.as_deref()) {
        Some(user) => format!(
            r#"{} · <form class="inline" method="post" action="/logout"><button>Log out</button></form>"#,
            esc(&signed_in_text(user))
        ),
        None => r#"Not signed in · <a href="/login">Sign in</a>"#.to_owned(),
    };
    format!(
        r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title} · Sealed Bank</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{{font-family:sans-serif;max-width:40em;margin:2em auto;padding:0 1em}}
nav a{{margin-right:1em}} .inline{{display:inline}} .error{{color:#a00}} td{{padding:0 1em 0 0}}</style>
</head><body>
<nav><a href="/">Home</a><a href="/account">Account</a><a href="/transfer">Transfer</a></nav>
<p id="status">{status}</p>
<h1>{title}</h1>
{body}
</body></html>
"#,
        title = esc(title),
    )
}

/// The home page.
pub fn home(session: Option<&SessionInfo>) -> String {
    let body = r#"<p>The bank of the session-fixation scenarios. Sessions are sealed tokens in a
<code>HttpOnly</code> cookie: minted anew at login, elevation, step-down and rotation; never
taken from the URL or a form.</p>
<ul><li><a href="/login">Sign in</a> (demo users: alice, mallory)</li>
<li><a href="/account">Your account</a></li><li><a href="/transfer">Make a transfer</a> (asks for
your password again)</li></ul>"#;
    layout("Welcome", session, body)
}

/// The login form, with an error line after a failed attempt.
pub fn login(session: Option<&SessionInfo>, error: Option<&str>) -> String {
    let body = format!(
        r#"{error}<form id="login" method="post" action="/login">
<p><label>User <input name="user" autocomplete="username" required></label></p>
<p><label>Password <input name="password" type="password" autocomplete="current-password" required></label></p>
<p><button>Sign in</button></p></form>"#,
        error = error_line(error),
    );
    layout("Sign in", session, &body)
}

/// The account page: balance and the session's state.
pub fn account(info: &SessionInfo, user: &str, balance: u64, now: UnixTime) -> String {
    let body = format!(
        r#"<p><strong>{signed_in}</strong>.</p>
<p>Balance: <strong id="balance">{balance}</strong> credits</p>
<h2>This session</h2>
<table>
<tr><td>Level</td><td id="level">{level}</td></tr>
<tr><td>Token expires</td><td>{expires}</td></tr>
<tr><td>Session deadline</td><td>{deadline}</td></tr>
<tr><td>Last password entry</td><td>{authenticated}</td></tr>
</table>
{step_down}
<form id="logout" method="post" action="/logout"><button>Log out</button></form>
<form id="logout-everywhere" method="post" action="/logout-everywhere"><button>Log out everywhere</button></form>"#,
        signed_in = esc(&signed_in_text(user)),
        level = level(info.privilege),
        expires = when(info.expires_at, now),
        deadline = when(info.session_deadline, now),
        authenticated = when(info.authenticated_at, now),
        step_down = if info.privilege == Privilege::Elevated {
            r#"<form id="step-down" method="post" action="/step-down"><button>Drop elevated privilege</button></form>"#
        } else {
            ""
        },
    );
    layout("Account", Some(info), &body)
}

/// The transfer form (elevated sessions only).
pub fn transfer_form(info: &SessionInfo, balance: u64, recipients: &[&str], error: Option<&str>) -> String {
    let options: String = recipients
        .iter()
        .map(|r| format!(r#"<option value="{0}">{0}</option>"#, esc(r)))
        .collect();
    let body = format!(
        r#"{error}<p>Balance: <strong id="balance">{balance}</strong> credits.
Elevated until the token expires: {until}.</p>
<form id="transfer" method="post" action="/transfer">
<p><label>To <select name="to">{options}</select></label></p>
<p><label>Amount <input name="amount" inputmode="numeric" required></label></p>
<p><button>Transfer</button></p></form>"#,
        error = error_line(error),
        until = esc(&utc(info.expires_at)),
    );
    layout("Transfer", Some(info), &body)
}

/// The step-up form: re-enter the password to get elevated privilege for `ttl_secs`.
pub fn step_up(info: &SessionInfo, ttl_secs: u64, error: Option<&str>) -> String {
    let body = format!(
        r#"{error}<p>Transfers need you to confirm your password. Elevated privilege lasts
{ttl_secs} seconds, on a new session token.</p>
<form id="step-up" method="post" action="/elevate">
<p><label>Password <input name="password" type="password" autocomplete="current-password" required></label></p>
<p><button>Confirm</button></p></form>"#,
        error = error_line(error),
    );
    layout("Confirm your password", Some(info), &body)
}

/// After a transfer.
pub fn transferred(info: &SessionInfo, amount: &str, to: &str, balance: u64) -> String {
    let body = format!(
        r#"<p id="done">Sent {} credits to {}. Your balance: <strong id="balance">{balance}</strong> credits.</p>
<p><a href="/transfer">Another transfer</a> · <a href="/account">Account</a></p>"#,
        esc(amount.trim()),
        esc(to),
    );
    layout("Transfer done", Some(info), &body)
}

fn error_line(error: Option<&str>) -> String {
    error.map_or_else(String::new, |e| format!(r#"<p class="error">{}</p>"#, esc(e)))
}

fn level(p: Privilege) -> &'static str {
    match p {
        Privilege::Anonymous => "anonymous",
        Privilege::Authenticated => "authenticated",
        Privilege::Elevated => "elevated (password confirmed recently)",
    }
}

/// `2025-05-01 12:00:00 UTC (in 29 min 59 s)`.
fn when(t: UnixTime, now: UnixTime) -> String {
    let relative = if t.0 >= now.0 {
        format!("in {}", span(t.0 - now.0))
    } else {
        format!("{} ago", span(now.0 - t.0))
    };
    esc(&format!("{} ({relative})", utc(t)))
}

fn span(secs: u64) -> String {
    match secs {
        0..=59 => format!("{secs} s"),
        60..=3599 => format!("{} min {} s", secs / 60, secs % 60),
        _ => format!("{} h {} min", secs / 3600, secs % 3600 / 60),
    }
}

/// Civil date from days since 1970-01-01 (H. Hinnant, "chrono-Compatible Low-Level Date
/// Algorithms", `civil_from_days`).
fn utc(t: UnixTime) -> String {
    let (days, rem) = (t.0 / 86_400, t.0 % 86_400);
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02} UTC",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}
