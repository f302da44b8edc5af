//! The session-fixation attacks of the Wikipedia article ("Session fixation") and login CSRF, each played
//! in real browsers against any [`BankUnderTest`]. A scenario answers whether the attacker
//! got what they were after, with evidence; token values never appear in the evidence.

use ring::rand::{SecureRandom, SystemRandom};

use super::chrome::StoredCookie;
use super::csrf;
use super::tls::{Seen, Site};
use super::{evil, Outcome, Res, World, BANK_DOMAIN, BANK_HOST, EVIL_HOST};

/// One attack.
#[derive(Clone, Copy, Debug)]
pub enum Scenario {
    /// The attacker's link carries a session id in the query; the victim logs in.
    UrlFixation,
    /// A genuine anonymous token of the attacker's is planted in the victim's browser.
    PlantedToken,
    /// `evil.bank.test` tosses `Domain=bank.test` cookies, then the victim logs in.
    SubdomainTossing,
    /// The attacker plants their own signed-in session in the victim's browser.
    GhostSession,
    /// After logout, the old cookie value is presented again.
    LogoutReplay,
    /// A lure on `http://` + the bank's host and port posts the attacker's login.
    LoginCsrfPlainHttp,
    /// A lure on a sibling subdomain posts the attacker's login.
    LoginCsrfSibling,
    /// A sibling subdomain plants a non-ASCII cookie for the parent domain.
    JunkCookie,
}

/// Plays `scenario` in `world`.
pub async fn run(world: &World, scenario: Scenario) -> Res<Outcome> {
    let (succeeded, mut evidence) = match scenario {
        Scenario::UrlFixation => url_fixation(world).await?,
        Scenario::PlantedToken => planted_token(world).await?,
        Scenario::SubdomainTossing => subdomain_tossing(world).await?,
        Scenario::GhostSession => ghost_session(world).await?,
        Scenario::LogoutReplay => logout_replay(world).await?,
        Scenario::LoginCsrfPlainHttp => csrf::login_csrf(world, csrf::LureOrigin::PlainHttpSameHost).await?,
        Scenario::LoginCsrfSibling => csrf::login_csrf(world, csrf::LureOrigin::SiblingSubdomain).await?,
        Scenario::JunkCookie => csrf::junk_cookie(world).await?,
    };
    let scenario = match scenario {
        Scenario::UrlFixation => "URL fixation",
        Scenario::PlantedToken => "planted server-generated token",
        Scenario::SubdomainTossing => "cross-subdomain cookie tossing",
        Scenario::GhostSession => "ghost session",
        Scenario::LogoutReplay => "logout then replay",
        Scenario::LoginCsrfPlainHttp => "login CSRF from a plain-HTTP page on the bank's host",
        Scenario::LoginCsrfSibling => "login CSRF from a sibling subdomain",
        Scenario::JunkCookie => "non-ASCII junk cookie from a sibling subdomain",
    };
    evidence.insert(0, CLIENTS.to_owned());
    Ok(Outcome {
        scenario,
        bank: world.bank.name,
        attack_succeeded: succeeded,
        evidence,
    })
}

pub type Found = Res<(bool, Vec<String>)>;

const CLIENTS: &str = "two Chromium profiles: the victim's from 127.0.0.1, the attacker's from 127.66.6.6 \
     (through its proxy) with another User-Agent";

/// Seed, "a simple attack scenario": Mallory sends `…/login?SID=<token>`, Alice logs in
/// there, Mallory uses the token.
async fn url_fixation(w: &World) -> Found {
    let b = &w.bank;
    let mut ev = Vec::new();
    let token = match attacker_token(w).await? {
        Some(t) => {
            ev.push("the attacker took a genuine anonymous token from the bank's login page".to_owned());
            t
        }
        None => {
            ev.push(
                "the bank gave the attacker no anonymous token; the attacker chose an identifier".to_owned(),
            );
            chosen_identifier()
        }
    };
    let query = fixation_query(w, &token);
    ev.push(format!(
        "the victim opens the attacker's link {}{}",
        b.login_path,
        fixation_query(w, "<token>")
    ));
    w.log_in_checked(&w.victim, &w.url(&format!("{}{query}", b.login_path)), b.alice)
        .await?;
    ev.push(format!(
        "the victim logged in as {} through the form on that page",
        b.alice.user
    ));
    let after = w.session_values(&w.victim).await?;
    ev.push(format!(
        "the victim's session cookie after login: {}",
        describe(&after, &token)
    ));
    let got = w.replay(&w.attacker, &token, &query, b.alice.user).await?;
    ev.push(format!(
        "the attacker presents the token (cookie and query) at {}: {}",
        b.account_path,
        access(got)
    ));
    Ok((got, ev))
}

/// Seed, "attack using server generated SID": the token is genuine, planted as a cookie.
async fn planted_token(w: &World) -> Found {
    let b = &w.bank;
    let Some(token) = attacker_token(w).await? else {
        return Ok((
            false,
            vec!["the bank gives anonymous visitors no token: nothing server-generated to plant".into()],
        ));
    };
    let mut ev = vec!["the attacker took a genuine anonymous token from the bank's login page".to_owned()];
    w.victim
        .plant_cookie(&w.url("/"), b.session_cookie, &token)
        .await?;
    let planted = w.session_values(&w.victim).await?;
    ev.push(format!(
        "planted in the victim's browser as {} (host-only, Secure, HttpOnly, Path=/): {}",
        b.session_cookie,
        describe(&planted, &token)
    ));
    w.log_in_checked(&w.victim, &w.url(b.login_path), b.alice).await?;
    ev.push(format!("the victim logged in as {}", b.alice.user));
    let after = w.session_values(&w.victim).await?;
    ev.push(format!(
        "the victim's session cookie after login: {}",
        describe(&after, &token)
    ));
    let got = w.replay(&w.attacker, &token, "", b.alice.user).await?;
    ev.push(format!(
        "the attacker presents their copy at {}: {}",
        b.account_path,
        access(got)
    ));
    Ok((got, ev))
}

/// Seed, "attacks using cross-subdomain cookie": the attacker owns `evil.bank.test`. The
/// attack succeeds if the attacker shares the victim's session or the victim's own session
/// is disrupted.
async fn subdomain_tossing(w: &World) -> Found {
    let b = &w.bank;
    let mut ev = Vec::new();
    let token = match attacker_token(w).await? {
        Some(t) => {
            ev.push("the attacker took a genuine anonymous token from the bank; evil tosses it".to_owned());
            t
        }
        None => chosen_identifier(),
    };
    let payload = evil::Payload::default();
    payload.set(&token);
    let lines = evil::set_cookie_lines(b.session_cookie, b.account_path, "<token>");
    let (cookie, account) = (b.session_cookie, b.account_path);
    let evil_site = Site::start(EVIL_HOST, |_| evil::router(cookie, account, payload.clone())).await?;
    w.victim.goto(&evil_site.url("/")).await?;
    ev.push(format!(
        "the victim visits {EVIL_HOST}, which sends {} Set-Cookie lines: {lines:?}",
        lines.len()
    ));
    for path in ["/", b.account_path] {
        let jar = w.victim.cookies_for(&w.url(path)).await?;
        ev.push(format!(
            "the victim's browser holds for {BANK_HOST}{path}: {}",
            jar_summary(&jar, &token)
        ));
    }
    let first_seen = w.site.wiretap.seen().len();
    let logged_in = w.log_in(&w.victim, &w.url(b.login_path), b.alice).await.is_ok();
    let victim_ok = logged_in && w.account_shows(&w.victim, b.alice.user).await?;
    let sent: Vec<Seen> = w.site.wiretap.seen().into_iter().skip(first_seen).collect();
    ev.push(wire_summary(&sent, b.session_cookie, &token));
    ev.push(format!(
        "the victim's own login and account page: {}",
        if victim_ok {
            "work, signed in as the victim"
        } else {
            "DISRUPTED"
        }
    ));
    let shared = w.replay(&w.attacker, &token, "", b.alice.user).await?;
    ev.push(format!(
        "the attacker presents the tossed token at {}: {}",
        b.account_path,
        access(shared)
    ));
    Ok((shared || !victim_ok, ev))
}

/// Seed, the "A1ice" paragraph: the attacker's own signed-in session is fixated in the
/// victim's browser, so the victim acts (and saves data) inside the attacker's account.
async fn ghost_session(w: &World) -> Found {
    let b = &w.bank;
    w.log_in_checked(&w.attacker, &w.url(b.login_path), b.mallory)
        .await?;
    let values = w.session_values(&w.attacker).await?;
    let Some(token) = values.first() else {
        return Err("the attacker has no session cookie after logging in".into());
    };
    let mut ev = vec![format!(
        "the attacker logged in as {} and took the session cookie",
        b.mallory.user
    )];
    w.victim
        .plant_cookie(&w.url("/"), b.session_cookie, token)
        .await?;
    ev.push("planted in the victim's browser (host-only, Secure, HttpOnly, Path=/)".to_owned());
    let ghosted = w.account_shows(&w.victim, b.mallory.user).await?;
    ev.push(format!(
        "the victim opens {}: {}",
        b.account_path,
        if ghosted {
            "the bank treats the victim as the attacker"
        } else {
            "not signed in as the attacker"
        }
    ));
    Ok((ghosted, ev))
}

/// Logout must end the session on the server, not only in the browser: the old value is
/// replayed from the victim's own browser, so only logout can be what refuses it.
async fn logout_replay(w: &World) -> Found {
    let b = &w.bank;
    w.log_in_checked(&w.victim, &w.url(b.login_path), b.alice).await?;
    let values = w.session_values(&w.victim).await?;
    let Some(old) = values.first().cloned() else {
        return Err("the victim has no session cookie after logging in".into());
    };
    let mut ev = vec![format!(
        "the victim logged in as {}; its session cookie value was kept",
        b.alice.user
    )];
    w.victim.goto(&w.url(b.account_path)).await?;
    w.victim.submit_form(b.logout_form, &[]).await?;
    let still = w.account_shows(&w.victim, b.alice.user).await?;
    ev.push(format!(
        "after the logout form, the victim's browser is {}",
        if still { "STILL signed in" } else { "signed out" }
    ));
    let replayed = w.replay(&w.victim, &old, "", b.alice.user).await?;
    ev.push(format!(
        "the old value replayed at {}: {}",
        b.account_path,
        access(replayed)
    ));
    Ok((still || replayed, ev))
}

/// The attacker's browser visits the login page and keeps the session cookie it gets, if any.
async fn attacker_token(w: &World) -> Res<Option<String>> {
    w.attacker.goto(&w.url(w.bank.login_path)).await?;
    Ok(w.session_values(&w.attacker).await?.into_iter().next())
}

/// `?SID=<token>` (the article's parameter) and the same under the session cookie's name.
fn fixation_query(w: &World, token: &str) -> String {
    let mut query = format!("?SID={token}");
    if w.bank.session_cookie != "SID" {
        query.push_str(&format!("&{}={token}", w.bank.session_cookie));
    }
    query
}

/// The article's `I_WILL_KNOW_THE_SID`, made unique.
fn chosen_identifier() -> String {
    let mut b = [0u8; 6];
    let _ = SystemRandom::new().fill(&mut b);
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!("I_WILL_KNOW_THE_SID_{hex}")
}

fn access(got: bool) -> &'static str {
    if got {
        "ACCESS to the victim's account"
    } else {
        "no access to the victim's account"
    }
}

/// Session-cookie values described against the attacker's token, without printing them.
fn describe(values: &[String], token: &str) -> String {
    let parts: Vec<&str> = values
        .iter()
        .map(|v| {
            if v == token {
                "the attacker's token"
            } else {
                "a value the attacker does not know"
            }
        })
        .collect();
    match parts.len() {
        0 => "absent".to_owned(),
        1 => parts.concat(),
        n => format!("{n} cookies: {}", parts.join(", ")),
    }
}

fn jar_summary(jar: &[StoredCookie], token: &str) -> String {
    if jar.is_empty() {
        return "no cookies".to_owned();
    }
    let items: Vec<String> = jar
        .iter()
        .map(|c| {
            let whose = if c.value == token {
                "attacker's value"
            } else {
                "other value"
            };
            format!("{} (domain {}, path {}, {whose})", c.name, c.domain, c.path)
        })
        .collect();
    items.join("; ")
}

/// What the browser actually sent to the bank, from the server's wiretap.
fn wire_summary(sent: &[Seen], session_cookie: &str, token: &str) -> String {
    let mut duplicated = 0;
    let mut attacker_names: Vec<String> = Vec::new();
    for seen in sent.iter().filter(|s| s.host.starts_with(BANK_HOST)) {
        let pairs: Vec<(String, String)> = cookie::Cookie::split_parse(seen.cookie.as_str())
            .flatten()
            .map(|c| (c.name().to_owned(), c.value().to_owned()))
            .collect();
        if pairs.iter().filter(|(n, _)| n == session_cookie).count() > 1 {
            duplicated += 1;
        }
        for (name, value) in pairs {
            if value == token && !attacker_names.contains(&name) {
                attacker_names.push(name);
            }
        }
    }
    format!(
        "{} requests reached {BANK_HOST} after the lure; {duplicated} carried {session_cookie} more than once; \
         cookie names sent with the attacker's value (tossed via Domain={BANK_DOMAIN}): {attacker_names:?}",
        sent.len()
    )
}
