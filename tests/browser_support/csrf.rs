//! Attacks that plant the attacker's session without touching the session cookie: login CSRF
//! from a plain-HTTP page on the bank's own host and port (a network attacker) or from a
//! sibling subdomain, and a sibling subdomain's non-ASCII junk cookie that used to make every
//! request of the victim anonymous.

use super::scenarios::Found;
use super::tls::Site;
use super::{evil, World, BANK_DOMAIN, BANK_HOST, EVIL_HOST};

/// Where the login-CSRF lure is served from.
#[derive(Clone, Copy, Debug)]
pub enum LureOrigin {
    /// `http://www.bank.test:<bank port>`: same host and port, another scheme.
    PlainHttpSameHost,
    /// `https://evil.bank.test:<port>`: same site, another origin.
    SiblingSubdomain,
}

/// The victim clicks the lure, then opens the account page: the attack succeeds if the bank
/// shows the attacker's account.
pub async fn login_csrf(w: &World, from: LureOrigin) -> Found {
    let b = &w.bank;
    let fields = [
        (b.user_field, b.mallory.user),
        (b.password_field, b.mallory.password),
    ];
    let router = evil::login_csrf_router(w.url(b.login_path), fields);
    let mut ev = Vec::new();
    let _evil_site;
    let lure = match from {
        LureOrigin::PlainHttpSameHost => {
            w.site.serve_plain_http(router);
            ev.push(format!(
                "a network attacker answers http://{BANK_HOST}:<bank port> with a lure page"
            ));
            w.site.plain_url("/prize")
        }
        LureOrigin::SiblingSubdomain => {
            let site = Site::start(EVIL_HOST, |_| router).await?;
            ev.push(format!("{EVIL_HOST} serves a lure page"));
            let url = site.url("/prize");
            _evil_site = site;
            url
        }
    };
    w.victim.goto(&lure).await?;
    w.victim.submit_form("form#csrf", &[]).await?;
    ev.push(format!(
        "the victim clicks its button, which posts {}'s credentials to {}",
        b.mallory.user, b.login_path
    ));
    let ghosted = w.account_shows(&w.victim, b.mallory.user).await?;
    ev.push(format!(
        "the victim then opens {}: {}",
        b.account_path,
        if ghosted {
            "SIGNED IN AS THE ATTACKER"
        } else {
            "not signed in as the attacker"
        }
    ));
    Ok((ghosted, ev))
}

/// `evil.bank.test` plants `junk=été; Domain=bank.test`; the victim then logs in and browses.
/// The attack succeeds if the victim's session is lost.
pub async fn junk_cookie(w: &World) -> Found {
    let b = &w.bank;
    let evil_site = Site::start(EVIL_HOST, |_| evil::junk_cookie_router()).await?;
    w.victim.goto(&evil_site.url("/")).await?;
    let jar = w.victim.cookies_for(&w.url("/")).await?;
    let planted = jar.iter().any(|c| c.name == "junk");
    let mut ev = vec![format!(
        "the victim visits {EVIL_HOST}, which sets junk=\u{e9}t\u{e9}; Domain={BANK_DOMAIN}: {}",
        if planted {
            "the browser keeps it and sends it to the bank"
        } else {
            "the browser refused it"
        }
    )];
    if !planted {
        return Err("Chromium did not store the non-ASCII cookie: the scenario cannot be played".into());
    }
    let logged_in = w.log_in(&w.victim, &w.url(b.login_path), b.alice).await.is_ok();
    let first = logged_in && w.account_shows(&w.victim, b.alice.user).await?;
    let again = first && w.account_shows(&w.victim, b.alice.user).await?;
    ev.push(format!(
        "the victim logs in and opens {} twice: {}",
        b.account_path,
        if again {
            "signed in both times"
        } else {
            "the session is LOST"
        }
    ));
    Ok((!again, ev))
}
