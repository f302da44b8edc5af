//! One rule for logout-everywhere and the kill switch: a cutoff refuses everything issued
//! (or authenticated) before it, and a login after it lives, even in the same second.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::*;
use sealed_session::*;

fn login(r: &Rig) -> String {
    r.manager
        .authenticate(None, "alice", Privilege::Authenticated, &alice())
        .unwrap()
        .token
        .expose_secret()
        .to_owned()
}

#[test]
fn logout_everywhere_kills_the_same_second_before_and_spares_the_same_second_after() {
    let r = rig(Policy::default().with_rotation(Rotation::Off));
    let earlier = login(&r);
    r.clock.advance(Duration::from_secs(30));
    let same_second_before = login(&r);
    r.manager.logout_everywhere("alice", &alice()).unwrap();
    let same_second_after = login(&r);
    assert_eq!(reason(r.manager.verify(&earlier, &alice())), Reason::Revoked);
    assert_eq!(
        reason(r.manager.verify(&same_second_before, &alice())),
        Reason::Revoked
    );
    assert!(
        r.manager.verify(&same_second_after, &alice()).is_ok(),
        "a login after the cutoff lives"
    );
    r.clock.advance(Duration::from_secs(1));
    assert!(r.manager.verify(&same_second_after, &alice()).is_ok());
    // Elevating that new session in the same second stays after the cutoff too.
    let s = r.manager.verify(&same_second_after, &alice()).unwrap().session;
    let up = r.manager.elevate(s, &alice()).unwrap();
    assert!(r.manager.verify(up.token.expose_secret(), &alice()).is_ok());
}

#[test]
fn the_kill_switch_follows_the_same_rule() {
    let r = rig(Policy::default().with_rotation(Rotation::Off));
    let earlier = login(&r);
    r.clock.advance(Duration::from_secs(30));
    let same_second_before = login(&r);
    let anonymous_before = r
        .manager
        .begin(&alice())
        .unwrap()
        .token
        .expose_secret()
        .to_owned();
    let end_of_this_second = r.manager.now().saturating_add(Duration::from_secs(1));
    r.manager.kill_switch(end_of_this_second, &alice()).unwrap();
    let same_second_after = login(&r);
    let anonymous_after = r
        .manager
        .begin(&alice())
        .unwrap()
        .token
        .expose_secret()
        .to_owned();
    for dead in [&earlier, &same_second_before, &anonymous_before] {
        assert_eq!(reason(r.manager.verify(dead, &alice())), Reason::Revoked);
    }
    for live in [&same_second_after, &anonymous_after] {
        assert!(r.manager.verify(live, &alice()).is_ok());
    }
}

#[test]
fn a_kill_switch_cannot_reach_into_the_future() {
    let r = rig(Policy::default().with_rotation(Rotation::Off));
    let far = r.manager.now().saturating_add(Duration::from_secs(3600));
    r.manager.kill_switch(far, &alice()).unwrap();
    // Capped at the end of this second: sessions minted afterwards work.
    let fresh = login(&r);
    assert!(r.manager.verify(&fresh, &alice()).is_ok());
    assert_eq!(
        r.store.set().kill_switch(),
        Some(r.manager.now().saturating_add(Duration::from_secs(1)))
    );
}

#[test]
fn a_leeway_below_the_time_resolution_is_refused() {
    let policy = Policy::default().with_leeway(Duration::ZERO);
    assert!(policy.validate().is_err());
}
