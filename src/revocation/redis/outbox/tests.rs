#![allow(clippy::unwrap_used)]
use std::cell::RefCell;

use super::*;
use crate::token::claims::Epoch;

fn id(i: u8) -> Revocation {
    Revocation::Id {
        epoch: Epoch(5),
        id: [i; 16],
    }
}

#[test]
fn records_survive_reopen_until_published() {
    let dir = tempfile::tempdir().unwrap();
    let (outbox, all) = Outbox::open(dir.path()).unwrap();
    assert!(all.is_empty());
    let kept = RefCell::new(Vec::new());
    outbox
        .append(Some(&id(1)), &|r| kept.borrow_mut().push(r.clone()))
        .unwrap();
    assert!(outbox.push_background(id(2)));
    assert!(outbox.push_background(id(3)));
    assert_eq!(outbox.pending(), 3);
    assert_eq!(
        outbox
            .append(None, &|r| kept.borrow_mut().push(r.clone()))
            .unwrap(),
        2
    );
    assert_eq!(kept.borrow().len(), 3);
    assert_eq!(outbox.next_batch(2), [id(1), id(2)]);
    outbox.mark_published(2).unwrap();
    assert_eq!(outbox.next_batch(10), [id(3)]);
    drop(outbox);

    let (outbox, all) = Outbox::open(dir.path()).unwrap();
    assert_eq!(
        all,
        [id(1), id(2), id(3)],
        "every record goes back to the local store"
    );
    assert_eq!(
        outbox.next_batch(10),
        [id(3)],
        "only the unpublished one is published again"
    );
    outbox.republish_all().unwrap();
    assert_eq!(outbox.next_batch(10).len(), 3);
}

#[test]
fn a_torn_tail_is_cut_and_a_lost_count_republishes() {
    let dir = tempfile::tempdir().unwrap();
    let (outbox, _) = Outbox::open(dir.path()).unwrap();
    outbox.append(Some(&id(1)), &|_| {}).unwrap();
    outbox.append(Some(&id(2)), &|_| {}).unwrap();
    outbox.mark_published(2).unwrap();
    drop(outbox);
    let path = dir.path().join(OUTBOX_FILE);
    let mut bytes = std::fs::read(&path).unwrap();
    bytes.truncate(bytes.len() - 3);
    std::fs::write(&path, &bytes).unwrap();
    std::fs::write(dir.path().join(PUBLISHED_FILE), b"garbage").unwrap();
    let (outbox, all) = Outbox::open(dir.path()).unwrap();
    assert_eq!(all, [id(1)]);
    assert_eq!(
        outbox.next_batch(10),
        [id(1)],
        "an unreadable count publishes again"
    );
}

#[test]
fn a_published_outbox_is_emptied_after_the_store_syncs() {
    let dir = tempfile::tempdir().unwrap();
    let (outbox, _) = Outbox::open(dir.path()).unwrap();
    let synced = RefCell::new(0);
    let sync = || {
        *synced.borrow_mut() += 1;
        Ok(())
    };
    for i in 0..3000u16 {
        outbox.push_background(id((i % 250) as u8));
    }
    outbox.append(None, &|_| {}).unwrap();
    assert!(!outbox.empty_if_published(&sync).unwrap(), "not published yet");
    outbox.mark_published(3000).unwrap();
    assert!(outbox.empty_if_published(&sync).unwrap());
    assert_eq!(*synced.borrow(), 1);
    assert_eq!(std::fs::metadata(dir.path().join(OUTBOX_FILE)).unwrap().len(), 0);
    assert_eq!(outbox.pending(), 0);
    outbox.append(Some(&id(9)), &|_| {}).unwrap();
    drop(outbox);
    let (outbox, all) = Outbox::open(dir.path()).unwrap();
    assert_eq!(all, [id(9)]);
    assert_eq!(outbox.next_batch(10), [id(9)]);
}

#[test]
fn sent_records_are_skipped_until_counted_and_resent_after_a_failure() {
    let dir = tempfile::tempdir().unwrap();
    let (outbox, _) = Outbox::open(dir.path()).unwrap();
    for i in 1..=3 {
        outbox.append(Some(&id(i)), &|_| {}).unwrap();
    }
    assert_eq!(outbox.next_batch(2), [id(1), id(2)]);
    outbox.mark_sent(2);
    assert_eq!(
        outbox.next_batch(10),
        [id(3)],
        "the next batch skips what was sent"
    );
    assert_eq!(outbox.pending(), 3, "sent is not yet published");
    // The connection fails before the count: everything uncounted goes again.
    outbox.resend_uncounted();
    assert_eq!(outbox.next_batch(10), [id(1), id(2), id(3)]);
    outbox.mark_sent(2);
    assert_eq!(outbox.count_sent().unwrap(), 2);
    assert_eq!(outbox.pending(), 1);
    assert_eq!(outbox.count_sent().unwrap(), 0, "nothing counted twice");
    drop(outbox);
    let (reopened, _) = Outbox::open(dir.path()).unwrap();
    assert_eq!(reopened.next_batch(10), [id(3)], "the count is durable");
}
