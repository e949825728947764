//! End-to-end elections and tamper detection.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] functions

use std::sync::OnceLock;
use std::time::Instant;

use curve25519_dalek::constants::RISTRETTO_BASEPOINT_POINT as G;
use urbis_votecrypto::ballot::BallotStatus;
use urbis_votecrypto::encoding::Hex32;
use urbis_votecrypto::*;

fn bump(h: &Hex32) -> Hex32 {
    Hex32::from_point(&(h.point("test").unwrap() + G))
}

#[test]
fn full_3_of_5_election_with_1000_voters() {
    let t = Instant::now();
    let rec = demo(DemoOptions {
        ballots: 1000,
        trustees: 5,
        threshold: 3,
        seed: Some(2026),
        referendum: false,
    })
    .unwrap();
    let built = t.elapsed();
    let cast = rec
        .ballots
        .iter()
        .filter(|b| b.status == BallotStatus::Cast)
        .count();
    let spoiled = rec.ballots.len() - cast;
    assert_eq!(rec.manifest.contests.len(), 3);
    assert!(cast > 1000 && spoiled > 0, "re-votes and spoils expected");
    assert_eq!(rec.tally.counted.len(), 1000);
    assert_eq!(rec.tally.missing_trustees, vec![5]);
    let t = Instant::now();
    let json = rec.to_json().unwrap();
    let back = ElectionRecord::from_json(&json).unwrap();
    assert_eq!(back, rec);
    let rep = verify_record(&back);
    eprintln!(
        "1000-voter election: built in {built:?}, {} board entries ({spoiled} spoiled), JSON {} KiB, parsed+verified in {:?}",
        rec.ballots.len(),
        json.len() / 1024,
        t.elapsed()
    );
    assert!(rep.is_ok(), "{rep}");
    assert!(rep.checks.iter().all(|c| c.passed));
}

fn small() -> &'static ElectionRecord {
    static REC: OnceLock<ElectionRecord> = OnceLock::new();
    REC.get_or_init(|| {
        demo(DemoOptions {
            ballots: 60,
            trustees: 5,
            threshold: 3,
            seed: Some(7),
            referendum: false,
        })
        .unwrap()
    })
}

fn assert_rejected(rec: &ElectionRecord, check: &str) -> String {
    let rep = verify_record(rec);
    let (name, detail) = rep.first_failure.clone().unwrap_or_default();
    assert_eq!(name, check, "wrong first failure; report:\n{rep}");
    detail
}

#[test]
fn untampered_small_record_verifies() {
    let rep = verify_record(small());
    assert!(rep.is_ok(), "{rep}");
    assert!(rep.to_string().contains("all 17 checks passed"), "{rep}");
}

#[test]
fn altered_ciphertext_is_rejected() {
    let mut rec = small().clone();
    let c = &mut rec.ballots[5].ballot.contests[0].selections[1].ciphertext;
    c.beta = bump(&c.beta);
    let d = assert_rejected(&rec, "ballots.proofs");
    assert!(d.contains("ballot #5"), "{d}");
}

#[test]
fn altered_proof_is_rejected() {
    let mut rec = small().clone();
    let p = &mut rec.ballots[8].ballot.contests[1].sum_proof;
    p.z[0] = Hex32::from_scalar(&(p.z[0].scalar("z").unwrap() + curve25519_dalek::Scalar::ONE));
    let d = assert_rejected(&rec, "ballots.proofs");
    assert!(d.contains("sum proof"), "{d}");
}

#[test]
fn non_canonical_encoding_is_rejected() {
    let mut rec = small().clone();
    rec.ballots[3].ballot.contests[0].selections[0].proof.c[0] = Hex32([0xff; 32]);
    let d = assert_rejected(&rec, "ballots.proofs");
    assert!(d.contains("not a canonical scalar"), "{d}");
}

#[test]
fn ballot_by_unlisted_credential_is_rejected() {
    let mut rec = small().clone();
    let key = ed25519_dalek::SigningKey::from_bytes(&[42u8; 32]);
    rec.ballots[4].ballot.credential = Hex32(key.verifying_key().to_bytes());
    let d = assert_rejected(&rec, "ballots.credentials");
    assert!(d.contains("not on the credential list"), "{d}");
}

#[test]
fn forged_signature_is_rejected() {
    let mut rec = small().clone();
    rec.ballots[9].ballot.signature.0[10] ^= 1;
    assert_rejected(&rec, "ballots.signatures");
}

#[test]
fn double_counted_credential_is_rejected() {
    let mut rec = small().clone();
    // A replaced (re-voted) ballot: cast, but not the last of its credential.
    let counted: std::collections::HashSet<_> = rec.tally.counted.iter().copied().collect();
    let replaced = rec
        .ballots
        .iter()
        .find(|b| b.status == BallotStatus::Cast && !counted.contains(&b.confirmation_code))
        .unwrap()
        .confirmation_code;
    rec.tally.counted.push(replaced);
    let d = assert_rejected(&rec, "tally.replacement");
    assert!(d.contains("counted twice"), "{d}");
}

#[test]
fn altered_partial_decryption_is_rejected() {
    let mut rec = small().clone();
    let s = &mut rec.tally.decryption_shares[1].shares[2].share;
    *s = bump(s);
    let d = assert_rejected(&rec, "tally.decryption_shares");
    assert!(d.contains("Chaum-Pedersen"), "{d}");
}

#[test]
fn altered_result_is_rejected() {
    let mut rec = small().clone();
    rec.tally.result[1].counts[0] += 1;
    let d = assert_rejected(&rec, "tally.result");
    assert!(d.contains("council"), "{d}");
}

#[test]
fn altered_aggregate_is_rejected() {
    let mut rec = small().clone();
    let c = &mut rec.tally.aggregate[0].ciphertexts[0];
    c.alpha = bump(&c.alpha);
    assert_rejected(&rec, "tally.aggregate");
}

#[test]
fn dropped_ballot_breaks_the_chain() {
    let mut rec = small().clone();
    rec.ballots.remove(20);
    let d = assert_rejected(&rec, "ballots.chain");
    assert!(d.contains("ballot #20") && d.contains("dropped"), "{d}");
    let mut rec = small().clone();
    rec.ballots.pop();
    let d = assert_rejected(&rec, "ballots.chain");
    assert!(d.contains("chain head"), "{d}");
}

#[test]
fn reordered_ballots_break_the_chain() {
    let mut rec = small().clone();
    rec.ballots.swap(11, 12);
    assert_rejected(&rec, "ballots.chain");
}

#[test]
fn spoiled_ballot_with_wrong_reveal_is_rejected() {
    let mut rec = small().clone();
    let e = rec
        .ballots
        .iter_mut()
        .find(|b| b.status == BallotStatus::Spoiled)
        .unwrap();
    let r = e.reveal.as_mut().unwrap();
    r.contests[1].selections[0] ^= 1;
    let d = assert_rejected(&rec, "ballots.spoiled");
    assert!(d.contains("does not open"), "{d}");
}

#[test]
fn spoiled_ballot_cannot_be_counted_by_flipping_status() {
    let mut rec = small().clone();
    let e = rec
        .ballots
        .iter_mut()
        .find(|b| b.status == BallotStatus::Spoiled)
        .unwrap();
    e.status = BallotStatus::Cast;
    e.reveal = None;
    // The voter signed the intent to spoil: caught before the chain is even looked at.
    assert_rejected(&rec, "ballots.signatures");
}

#[test]
fn missing_trustee_list_and_threshold_are_checked() {
    let mut rec = small().clone();
    rec.tally.decryption_shares.truncate(2);
    rec.tally.missing_trustees = vec![3, 4, 5];
    let d = assert_rejected(&rec, "tally.threshold");
    assert!(d.contains("threshold is 3"), "{d}");
}

#[test]
fn tampered_ceremony_is_rejected() {
    let mut rec = small().clone();
    let a = &mut rec.ceremony.announcements[2];
    a.commitments[1] = bump(&a.commitments[1]);
    let d = assert_rejected(&rec, "ceremony");
    assert!(d.contains("disqualified"), "{d}");
    let mut rec = small().clone();
    rec.ceremony.joint_public_key = bump(&rec.ceremony.joint_public_key);
    assert_rejected(&rec, "ceremony");
}

#[test]
fn swapped_credential_weight_changes_election_hash() {
    let mut rec = small().clone();
    rec.credentials[0].weight += 1;
    assert_rejected(&rec, "election.hash");
}

#[test]
fn wrong_version_is_reported() {
    let mut rec = small().clone();
    rec.version = "urbis-election-record/0".into();
    assert_rejected(&rec, "record.version");
}

// ---- A bulletin-board operator who recomputes the unkeyed code chain and the counted list
// after tampering: each attack must still be caught.

/// The small record as a chain would export it: anchored to its certified board.
fn anchored() -> ElectionRecord {
    let mut rec = small().clone();
    rec.anchor = Some(BoardAnchor {
        entries: rec.ballots.len() as u64,
        head: rec.chain_head,
        proof: serde_json::Value::Null,
    });
    assert!(verify_record(&rec).is_ok());
    rec
}
#[test]
fn attack_dropping_a_spoiled_entry_is_caught_by_the_certified_board() {
    let mut rec = anchored();
    let i = rec
        .ballots
        .iter()
        .position(|b| b.status == BallotStatus::Spoiled)
        .unwrap();
    rec.ballots.remove(i);
    rec.relink();
    let d = assert_rejected(&rec, "ballots.anchor");
    assert!(d.contains("dropped"), "{d}");
    // Without the anchor the chain alone cannot tell (which is why exports carry it and
    // `urbis election verify` refuses a record without one).
    rec.anchor = None;
    assert_eq!(
        verify_record(&rec).first_failure.map(|f| f.0),
        None,
        "an unanchored record is only as good as its board"
    );
}

#[test]
fn attack_replaying_a_ballot_word_for_word_is_rejected() {
    let mut rec = small().clone();
    let copy = rec.ballots[7].clone();
    rec.ballots.push(copy);
    rec.relink();
    let d = assert_rejected(&rec, "ballots.replay");
    assert!(d.contains("appears twice"), "{d}");
}

#[test]
fn attack_replaying_a_superseded_ballot_after_a_revote_is_rejected() {
    let mut rec = small().clone();
    // A voter who re-voted: their first cast ballot, replayed after the re-vote.
    let counted: std::collections::HashSet<_> = rec.tally.counted.iter().copied().collect();
    let old = rec
        .ballots
        .iter()
        .find(|b| b.status == BallotStatus::Cast && !counted.contains(&b.confirmation_code))
        .unwrap()
        .clone();
    rec.ballots.push(old.clone());
    rec.relink();
    assert_rejected(&rec, "ballots.replay");
    // Removing the original to dodge the duplicate check leaves the sequence going back.
    let first = rec
        .ballots
        .iter()
        .position(|b| b.ballot == old.ballot)
        .unwrap();
    rec.ballots.remove(first);
    rec.relink();
    let d = assert_rejected(&rec, "ballots.replay");
    assert!(d.contains("does not follow"), "{d}");
}

#[test]
fn attack_relabelling_a_spoiled_ballot_as_cast_is_rejected() {
    let mut rec = small().clone();
    let e = rec
        .ballots
        .iter_mut()
        .find(|b| b.status == BallotStatus::Spoiled)
        .unwrap();
    e.status = BallotStatus::Cast;
    e.reveal = None;
    rec.relink();
    let d = assert_rejected(&rec, "ballots.signatures");
    assert!(d.contains("intent"), "{d}");
}

#[test]
fn small_order_credential_keys_are_refused() {
    let mut rec = small().clone();
    // The Ed25519 identity: a canonical encoding of a small-order point.
    let mut identity = [0u8; 32];
    identity[0] = 1;
    rec.credentials[0].public_key = Hex32(identity);
    let d = assert_rejected(&rec, "credentials");
    assert!(d.contains("small-order"), "{d}");
}

#[test]
fn an_identity_encryption_key_disqualifies_its_trustee() {
    let mut rec = small().clone();
    rec.ceremony.announcements[2].encryption_key = Hex32([0; 32]);
    let d = assert_rejected(&rec, "ceremony");
    assert!(d.contains("disqualified"), "{d}");
}
