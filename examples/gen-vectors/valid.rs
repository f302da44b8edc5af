//! Valid cases: every claim shape, key ids, contexts, flags and the time boundaries.

use sealed_session::token::{Claims, Epoch, Flags, MAX_TOKEN_CHARS, TIME_ORIGIN};
use sealed_session::{KeyState, UnixTime};

use crate::gen::{anonymous, elevated, maximal, open, reference, Gen, Open, IAT};
use crate::material::{derive_vec, nonce_for};

const PRIMARY: KeyState = KeyState::Primary;
const ACCEPT: KeyState = KeyState::AcceptOnly;
const RETIRED: KeyState = KeyState::Retired;

pub(crate) fn cases(g: &mut Gen) {
    let ref_claims = reference(IAT);
    g.valid(
        "reference_authenticated",
        "the reference claims: 8-byte subject, no app data, binding present, 30-minute token \
         in a 24-hour session; 130 characters",
        1,
        open(IAT + 60),
        &ref_claims,
    );
    assert_eq!(g.valid.last().unwrap().token_length, 130);
    g.valid(
        "anonymous_no_subject",
        "anonymous session: no subject (empty string on the wire), unbound (flags 0, zero binding)",
        1,
        open(IAT),
        &anonymous(IAT),
    );
    g.valid(
        "elevated_short_lived",
        "elevated privilege, 5-minute token, re-authenticated 5 s before issue, all flags",
        1,
        open(IAT + 299),
        &elevated(IAT),
    );
    let with_app = Claims {
        app_data: derive_vec("app data 1", 32),
        flags: Flags(Flags::BIND_APP_VALUE),
        ..reference(IAT)
    };
    g.valid(
        "authenticated_with_app_data",
        "32 bytes of application data, binding covers an application value only",
        1,
        open(IAT),
        &with_app,
    );
    let biggest = Claims {
        subject: Some("m".repeat(64)),
        app_data: derive_vec("app data 2", 256),
        ..reference(IAT)
    };
    g.valid(
        "max_subject_and_app_data",
        "64-byte subject and 256-byte application data (2-byte length prefix)",
        1,
        open(IAT),
        &biggest,
    );
    let utf8 = Claims {
        subject: Some("Zoë-Łukasz-Ωμέγα-日本語-😀".into()),
        ..reference(IAT)
    };
    g.valid(
        "utf8_subject",
        "non-ASCII subject: its length prefix counts UTF-8 bytes, not characters",
        1,
        open(IAT),
        &utf8,
    );
    let sixty_four_utf8 = Claims {
        subject: Some("é".repeat(32)),
        ..reference(IAT)
    };
    assert_eq!(sixty_four_utf8.subject.as_ref().unwrap().len(), 64);
    g.valid(
        "subject_64_utf8_bytes",
        "a 64-byte subject of 32 two-byte characters (the limit counts bytes)",
        1,
        open(IAT),
        &sixty_four_utf8,
    );
    g.valid(
        "key_id_0",
        "key id 0 is an ordinary id",
        0,
        Open {
            ring: &[(0, PRIMARY)],
            ..open(IAT)
        },
        &ref_claims,
    );
    g.valid(
        "key_id_255",
        "key id 255 is an ordinary id",
        255,
        Open {
            ring: &[(255, PRIMARY)],
            ..open(IAT)
        },
        &ref_claims,
    );
    g.valid(
        "accept_only_key_opens",
        "minted under key 2 while it was primary; the ring now has key 1 primary and key 2 \
         accept-only, which still opens (rotation phases 2 and 3)",
        2,
        Open {
            ring: &[(1, PRIMARY), (2, ACCEPT)],
            ..open(IAT)
        },
        &ref_claims,
    );
    g.valid(
        "new_primary_with_old_retired",
        "minted under key 3 (primary) in a ring where key 2 is retired and key 1 accept-only",
        3,
        Open {
            ring: &[(1, ACCEPT), (2, RETIRED), (3, PRIMARY)],
            ..open(IAT)
        },
        &ref_claims,
    );
    g.valid(
        "context_shop",
        "same claims and key as reference_authenticated, another application context",
        1,
        Open {
            context: "shop",
            ..open(IAT + 60)
        },
        &ref_claims,
    );
    g.valid(
        "context_one_byte",
        "shortest context (1 byte)",
        1,
        Open {
            context: "x",
            ..open(IAT)
        },
        &anonymous(IAT),
    );
    let long_context: &'static str = Box::leak("c".repeat(255).into_boxed_str());
    g.valid(
        "context_255_bytes",
        "longest context (255 bytes)",
        1,
        Open {
            context: long_context,
            ..open(IAT)
        },
        &anonymous(IAT),
    );
    let bind_ip = Claims {
        flags: Flags(Flags::BIND_IP),
        ..reference(IAT)
    };
    g.valid("flags_bind_ip", "flags 0x01", 1, open(IAT), &bind_ip);
    let bind_ua = Claims {
        flags: Flags(Flags::BIND_USER_AGENT),
        ..reference(IAT)
    };
    g.valid("flags_bind_user_agent", "flags 0x02", 1, open(IAT), &bind_ua);
    let rolled = Claims {
        authenticated_at: UnixTime(IAT - 6 * 86_400),
        session_deadline: UnixTime(IAT + 86_400 * 7),
        epoch: Epoch::containing(UnixTime(IAT + 86_400 * 7)),
        ..reference(IAT)
    };
    g.valid(
        "rolled_week_old_login",
        "a token rotated six days into a seven-day session: authenticated_ago 518400, epoch \
         offset 168",
        1,
        open(IAT),
        &rolled,
    );
    let at_origin = Claims {
        authenticated_at: TIME_ORIGIN,
        expires_at: UnixTime(TIME_ORIGIN.0 + 60),
        session_deadline: UnixTime(TIME_ORIGIN.0 + 120),
        epoch: Epoch(0),
        ..anonymous(TIME_ORIGIN.0)
    };
    g.valid(
        "issued_at_time_origin_shortest",
        "issued exactly at TIME_ORIGIN: every varint is 1 byte; the shortest token (111 characters)",
        1,
        open(TIME_ORIGIN.0),
        &at_origin,
    );
    assert_eq!(g.valid.last().unwrap().token_length, 111);
    let pre_origin_auth = Claims {
        authenticated_at: UnixTime(TIME_ORIGIN.0 - 1000),
        ..reference(TIME_ORIGIN.0 + 100)
    };
    g.valid(
        "authenticated_before_time_origin",
        "authenticated_at may precede TIME_ORIGIN: only issued_at is origin-relative",
        1,
        open(TIME_ORIGIN.0 + 100),
        &pre_origin_auth,
    );
    let max = maximal();
    g.valid(
        "maximum_length_token",
        "the longest token: 387-byte claims, 429 bytes, MAX_TOKEN_CHARS = 572 characters \
         (times beyond 2^63 s: parse integers as u64)",
        1,
        open(max.issued_at.0),
        &max,
    );
    assert_eq!(g.valid.last().unwrap().token_length, MAX_TOKEN_CHARS);
    g.valid(
        "expired_within_leeway",
        "now is 59 s past expires_at with a 60 s leeway: still valid",
        1,
        Open {
            leeway: 60,
            ..open(IAT + 1800 + 59)
        },
        &ref_claims,
    );
    g.valid(
        "last_second_before_expiry",
        "now = expires_at - 1 with no leeway: valid (expiry is exclusive)",
        1,
        open(IAT + 1799),
        &ref_claims,
    );
    g.valid(
        "issued_in_future_within_leeway",
        "issued_at = now + leeway exactly: valid",
        1,
        Open {
            leeway: 60,
            ..open(IAT - 60)
        },
        &ref_claims,
    );
    // Nonce bytes 1..4 encode as "----" and 4..7 as "____" (token bytes 3..9), so the invalid
    // cases can swap in the standard alphabet's "+" and "/".
    let mut nonce = nonce_for("nonce_with_dash_and_underscore");
    nonce[1..7].copy_from_slice(&[0xfb, 0xef, 0xbe, 0xff, 0xff, 0xff]);
    g.valid_with_nonce(
        "nonce_with_dash_and_underscore",
        "nonce chosen so token characters 4..8 are '----' and 8..12 are '____'",
        1,
        open(IAT),
        &ref_claims,
        nonce,
    );
    assert_eq!(&g.valid.last().unwrap().token[4..12], "----____");
}
