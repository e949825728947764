//! Property tests: encryption/decryption, proof completeness and soundness, threshold
//! decryption with random subsets, and binding of proofs to their context.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] functions

use curve25519_dalek::Scalar;
use ed25519_dalek::{Signer, SigningKey};
use proptest::prelude::*;
use rand::SeedableRng;
use rand::rngs::StdRng;
use urbis_votecrypto::ballot::{
    BallotBox, BallotStatus, PlaintextBallot, PlaintextContest, SIGNATURE_DOMAIN, ballot_hash,
    encrypt_ballot, sign_ballot, verify_ballot_proofs, verify_ballot_signature,
};
use urbis_votecrypto::context::ElectionContext;
use urbis_votecrypto::dkg::run_ceremony;
use urbis_votecrypto::encoding::{Hex32, Hex64, Transcript};
use urbis_votecrypto::group::{DlogTable, PublicKey, g_mul, lagrange_at_zero, random_scalar};
use urbis_votecrypto::manifest::Credential;
use urbis_votecrypto::proofs::MembershipProof;

fn ctx_transcript(tag: u8) -> Transcript {
    let mut t = Transcript::new("proptest");
    t.append("election_hash", &[tag; 32]);
    t
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, .. ProptestConfig::default() })]

    #[test]
    fn encrypt_then_decrypt(seed in any::<u64>(), m in 0u64..5000, w in 1u64..50) {
        let mut rng = StdRng::seed_from_u64(seed);
        let s = random_scalar(&mut rng);
        let pk = PublicKey::new(g_mul(&s));
        let (c, _) = pk.encrypt(m, &mut rng);
        let table = DlogTable::new(5000 * 50);
        prop_assert_eq!(table.solve(&c.decrypt_to_point(&s)), Some(m));
        prop_assert_eq!(table.solve(&c.scale(&Scalar::from(w)).decrypt_to_point(&s)), Some(m * w));
    }

    #[test]
    fn membership_proofs_complete_and_sound(
        seed in any::<u64>(),
        lo in 0u64..4,
        len in 1usize..5,
        m in 0u64..10,
        claim in 0usize..5,
    ) {
        let mut rng = StdRng::seed_from_u64(seed);
        let pk = PublicKey::new(g_mul(&random_scalar(&mut rng)));
        let allowed: Vec<u64> = (lo..lo + len as u64).collect();
        let (ct, r) = pk.encrypt(m, &mut rng);
        let claim = claim % len;
        let proof = MembershipProof::prove(&pk, &ct, &r, claim, &allowed, ctx_transcript(1), &mut rng).unwrap();
        let ok = proof.verify(&pk, &ct, &ct.to_wire(), &allowed, ctx_transcript(1)).is_ok();
        // Complete when the claim is true; sound (rejected) whenever m is outside the set.
        prop_assert_eq!(ok, allowed[claim] == m);
        if ok {
            // Bound to the context: another election hash must not verify.
            prop_assert!(proof.verify(&pk, &ct, &ct.to_wire(), &allowed, ctx_transcript(2)).is_err());
            // Bound to the ciphertext: re-randomising it breaks the proof.
            let (z, _) = pk.encrypt(0, &mut rng);
            let moved = ct.add(&z);
            prop_assert!(proof.verify(&pk, &moved, &moved.to_wire(), &allowed, ctx_transcript(1)).is_err());
        }
    }

    #[test]
    fn any_threshold_subset_decrypts(seed in any::<u64>(), mask in 0u32..32, m in 0u64..1000) {
        let mut rng = StdRng::seed_from_u64(seed);
        let (rec, secrets) = run_ceremony(Hex32([9; 32]), 5, 3, &mut rng).unwrap();
        let set: Vec<u32> = (1..=5).filter(|i| mask & (1 << (i - 1)) != 0).collect();
        let pk = PublicKey::new(rec.joint_public_key.point("H").unwrap());
        let (c, _) = pk.encrypt(m, &mut rng);
        let mut sa = curve25519_dalek::RistrettoPoint::default();
        for &i in &set {
            let s = &secrets[i as usize - 1];
            // Partial decryption through the public API of the tally would need a context; use the share directly.
            let x = lagrange_at_zero(i, &set);
            sa += urbis_votecrypto::tally::partial_for_tests(s, &c.alpha) * x;
        }
        let got = DlogTable::new(1000).solve(&(c.beta - sa));
        if set.len() >= 3 {
            prop_assert_eq!(got, Some(m));
        } else if m > 0 {
            prop_assert_ne!(got, Some(m));
        }
    }
}

fn two_voter_election() -> (ElectionContext, SigningKey, SigningKey) {
    let mut rng = StdRng::seed_from_u64(77);
    let manifest = urbis_votecrypto::demo_manifest();
    let (ceremony, _) = run_ceremony(manifest.hash(), 3, 2, &mut rng).unwrap();
    let a = SigningKey::generate(&mut rng);
    let b = SigningKey::generate(&mut rng);
    let creds = [&a, &b]
        .iter()
        .map(|k| Credential {
            public_key: Hex32(k.verifying_key().to_bytes()),
            weight: 1,
            style: "visitor".into(),
        })
        .collect();
    (
        ElectionContext::new(manifest, &ceremony, creds).unwrap(),
        a,
        b,
    )
}

fn visitor_vote(yes: bool) -> PlaintextBallot {
    PlaintextBallot {
        contests: vec![
            PlaintextContest {
                contest_id: "tram-extension".into(),
                selected: vec![yes, !yes],
                blank: false,
            },
            PlaintextContest {
                contest_id: "budget".into(),
                selected: vec![false, false, false, false],
                blank: true,
            },
        ],
    }
}

#[test]
fn copied_ballot_under_another_credential_is_rejected() {
    let (ctx, a, b) = two_voter_election();
    let mut rng = StdRng::seed_from_u64(1);
    let (ballot, _) = encrypt_ballot(&ctx, &a, &visitor_vote(true), 1, &mut rng).unwrap();
    verify_ballot_proofs(&ctx, &ballot).unwrap();
    // Voter B re-signs A's ciphertexts and proofs (a ballot-copying attack).
    let mut copy = ballot.clone();
    copy.credential = Hex32(b.verifying_key().to_bytes());
    let mut msg = SIGNATURE_DOMAIN.to_vec();
    msg.extend_from_slice(&ballot_hash(&ctx.election_hash, &copy).0);
    msg.extend_from_slice(b"cast");
    copy.signature = Hex64(b.sign(&msg).to_bytes());
    verify_ballot_signature(&ctx, &copy, BallotStatus::Cast).unwrap();
    assert!(verify_ballot_proofs(&ctx, &copy).is_err());
}

#[test]
fn invalid_plaintexts_are_refused_and_board_accepts_valid_ones() {
    let (ctx, a, b) = two_voter_election();
    let mut rng = StdRng::seed_from_u64(2);
    let mut bad = visitor_vote(true);
    bad.contests[0].selected = vec![true, true];
    assert!(encrypt_ballot(&ctx, &a, &bad, 1, &mut rng).is_err());
    let mut bad = visitor_vote(true);
    bad.contests[1].selected[0] = true; // blank together with a selection
    assert!(encrypt_ballot(&ctx, &a, &bad, 1, &mut rng).is_err());
    let mut board = BallotBox::new(&ctx);
    let (mut ballot, reveal) = encrypt_ballot(&ctx, &a, &visitor_vote(false), 1, &mut rng).unwrap();
    // Signed for casting, it cannot be spoiled: the voter signs the intent.
    assert!(board.spoil(ballot.clone(), reveal.clone()).is_err());
    sign_ballot(&ctx.election_hash, &a, &mut ballot, BallotStatus::Spoiled);
    board.spoil(ballot.clone(), reveal.clone()).unwrap();
    // The same ballot again, or another of A's at the same sequence: replays.
    assert!(board.spoil(ballot.clone(), reveal.clone()).is_err());
    let (again, _) = encrypt_ballot(&ctx, &a, &visitor_vote(true), 1, &mut rng).unwrap();
    assert!(board.cast(again).is_err());
    assert_eq!(board.next_sequence(&ballot.credential), 2);
    // Reveal must match the ballot it opens.
    let (other, _) = encrypt_ballot(&ctx, &b, &visitor_vote(false), 1, &mut rng).unwrap();
    assert!(board.spoil(other.clone(), reveal).is_err());
    board.cast(other).unwrap();
    assert_eq!(board.entries().len(), 2);
}
