//! A replaced token (by rotation, elevation, step-down, refresh or a lapsed elevation) that
//! comes back inside the grace window is a weaker copy: it acts at most at the authenticated
//! level, no transition accepts it, and it never revokes the live session while the window
//! lasts. After the window it is reuse, as before.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use std::time::Duration;

use common::*;
use sealed_session::*;

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

fn policy() -> Policy {
    Policy::default()
        .with_elevated_ttl(secs(120))
        .with_rotation(Rotation::After(secs(60)))
        .with_grace(secs(5))
}

/// How a token can be replaced; each returns (predecessor text, successor session).
#[derive(Clone, Copy, Debug)]
enum Replacement {
    Rotation,
    Refresh,
    Elevation,
    StepDown,
    ElevationLapse,
}

const ALL: [Replacement; 5] = [
    Replacement::Rotation,
    Replacement::Refresh,
    Replacement::Elevation,
    Replacement::StepDown,
    Replacement::ElevationLapse,
];

/// Logs alice in (elevated where the replacement needs it), replaces the token, and returns
/// the predecessor's text and the successor's text.
fn replaced(r: &Rig, how: Replacement) -> (String, String) {
    let login = r
        .manager
        .authenticate(None, "alice", Privilege::Authenticated, &alice())
        .unwrap();
    let (old, session) = match how {
        Replacement::StepDown | Replacement::ElevationLapse => {
            let up = r.manager.elevate(login.session, &alice()).unwrap();
            (up.token.expose_secret().to_owned(), up.session)
        }
        _ => (login.token.expose_secret().to_owned(), login.session),
    };
    let new = match how {
        Replacement::Rotation => {
            r.clock.advance(secs(61));
            let v = r.manager.verify(&old, &alice()).unwrap();
            v.replacement.expect("rotation due").expose_secret().to_owned()
        }
        Replacement::ElevationLapse => {
            r.clock.advance(secs(121));
            let v = r.manager.verify(&old, &alice()).unwrap();
            assert_eq!(v.session.privilege(), Privilege::Authenticated);
            v.replacement.expect("lapse mints").expose_secret().to_owned()
        }
        Replacement::Refresh => r
            .manager
            .refresh(session, &alice())
            .unwrap()
            .token
            .expose_secret()
            .to_owned(),
        Replacement::Elevation => r
            .manager
            .elevate(session, &alice())
            .unwrap()
            .token
            .expose_secret()
            .to_owned(),
        Replacement::StepDown => r
            .manager
            .step_down(session, &alice())
            .unwrap()
            .token
            .expose_secret()
            .to_owned(),
    };
    (old, new)
}

#[test]
fn a_replaced_token_in_grace_never_acts_elevated() {
    for how in ALL {
        let r = rig(policy());
        let (old, _new) = replaced(&r, how);
        r.clock.advance(secs(2));
        let copy = r
            .manager
            .verify(&old, &alice())
            .unwrap_or_else(|e| panic!("{how:?}: {e:?}"));
        assert!(copy.session.is_grace_copy(), "{how:?}");
        assert!(copy.session.privilege() <= Privilege::Authenticated, "{how:?}");
        assert!(
            copy.replacement.is_none(),
            "{how:?}: a grace copy is never rotated again"
        );
    }
}

#[test]
fn a_replaced_token_in_grace_runs_no_transition_and_does_not_fork_the_session() {
    type Transition = fn(&SessionManager, Session) -> Result<Minted, TransitionError>;
    let transitions: [(&str, Transition); 3] = [
        ("elevate", |m, s| m.elevate(s, &alice())),
        ("step_down", |m, s| m.step_down(s, &alice())),
        ("refresh", |m, s| m.refresh(s, &alice())),
    ];
    for how in ALL {
        for (name, transition) in transitions {
            let r = rig(policy());
            let (old, new) = replaced(&r, how);
            let copy = r.manager.verify(&old, &alice()).unwrap().session;
            let refused = transition(&r.manager, copy);
            assert!(
                matches!(
                    refused,
                    Err(TransitionError::GraceCopy | TransitionError::NotAuthenticated)
                ),
                "{how:?} then {name}: {refused:?}"
            );
            // Refused without ending the session: the successor still works in the window...
            assert!(r.manager.verify(&new, &alice()).is_ok(), "{how:?} then {name}");
            // ...and after it, the predecessor is reuse, which ends the session as always.
            r.clock.advance(secs(10));
            assert_eq!(
                reason(r.manager.verify(&old, &alice())),
                Reason::Reused,
                "{how:?}"
            );
            assert_eq!(
                reason(r.manager.verify(&new, &alice())),
                Reason::Revoked,
                "{how:?}"
            );
        }
    }
    let r = rig(policy());
    let (old, _) = replaced(&r, Replacement::Rotation);
    let copy = r.manager.verify(&old, &alice()).unwrap().session;
    let _ = r.manager.refresh(copy, &alice());
    assert!(r.events.saw(EventKind::GraceCopyRefused));
}

/// A request the browser already had in flight while the user stepped up (or down) carries
/// the predecessor: it is served, and does not look like reuse.
#[test]
fn in_flight_requests_during_a_step_up_are_served_not_revoked() {
    let r = rig(policy());
    let (before_step_up, elevated) = replaced(&r, Replacement::Elevation);
    // 12 ms later in the real world; same second here.
    let in_flight = r.manager.verify(&before_step_up, &alice()).unwrap();
    assert_eq!(in_flight.session.privilege(), Privilege::Authenticated);
    assert!(!r.events.saw(EventKind::ReuseDetected));
    let still = r.manager.verify(&elevated, &alice()).unwrap();
    assert_eq!(still.session.privilege(), Privilege::Elevated);
}

/// Login and logout keep zero grace: the session id itself is revoked.
#[test]
fn login_and_logout_leave_no_grace() {
    let r = rig(policy());
    let visitor = r.manager.begin(&alice()).unwrap();
    let planted = visitor.token.expose_secret().to_owned();
    let login = r
        .manager
        .authenticate(Some(visitor.session), "alice", Privilege::Authenticated, &alice())
        .unwrap();
    assert_eq!(reason(r.manager.verify(&planted, &alice())), Reason::Revoked);
    let text = login.token.expose_secret().to_owned();
    r.manager.logout(login.session, &alice()).unwrap();
    assert_eq!(reason(r.manager.verify(&text, &alice())), Reason::Revoked);
}
