//! Key ceremony with a cheating dealer, carried through a full election record.

#![allow(clippy::unwrap_used)]

use rand::SeedableRng;
use rand::rngs::StdRng;
use urbis_votecrypto::ballot::{BallotBox, encrypt_ballot};
use urbis_votecrypto::context::ElectionContext;
use urbis_votecrypto::dkg::{Trustee, finalize_ceremony};
use urbis_votecrypto::encoding::Hex32;
use urbis_votecrypto::manifest::Credential;
use urbis_votecrypto::tally::run_tally;
use urbis_votecrypto::{ElectionRecord, RECORD_VERSION, demo_manifest, random_vote, verify_record};

fn record_with_cheating_dealer() -> ElectionRecord {
    let mut rng = StdRng::seed_from_u64(11);
    let manifest = demo_manifest();
    let (n, k) = (5, 3);
    let mut trustees = Vec::new();
    let mut anns = Vec::new();
    for i in 1..=n {
        let (t, a) = Trustee::new(i, n, k, manifest.hash(), &mut rng).unwrap();
        trustees.push(t);
        anns.push(a);
    }
    let mut shares = Vec::new();
    for t in &trustees {
        shares.extend(t.deal(&anns).unwrap());
    }
    // Dealer 4 sends garbage to trustee 1.
    let bad = shares
        .iter_mut()
        .find(|s| s.dealer == 4 && s.recipient == 1)
        .unwrap();
    bad.ciphertext = "00".repeat(48);
    let mut complaints = Vec::new();
    for t in &mut trustees {
        complaints.extend(t.receive(&anns, &shares, &mut rng).unwrap());
    }
    assert_eq!(complaints.len(), 1);
    let ceremony = finalize_ceremony(&manifest.hash(), n, k, anns, shares, complaints).unwrap();
    assert_eq!(ceremony.disqualified, vec![4]);
    let secrets: Vec<_> = trustees
        .iter()
        .map(|t| t.finish(&ceremony).unwrap())
        .collect();

    let voters: Vec<_> = (0..12)
        .map(|_| ed25519_dalek::SigningKey::generate(&mut rng))
        .collect();
    let credentials: Vec<Credential> = voters
        .iter()
        .enumerate()
        .map(|(i, v)| Credential {
            public_key: Hex32(v.verifying_key().to_bytes()),
            weight: 1 + (i as u64 % 3),
            style: if i % 2 == 0 { "resident" } else { "visitor" }.into(),
        })
        .collect();
    let ctx = ElectionContext::new(manifest.clone(), &ceremony, credentials.clone()).unwrap();
    let mut board = BallotBox::new(&ctx);
    for (v, c) in voters.iter().zip(&credentials) {
        let vote = random_vote(&manifest, &c.style, &mut rng);
        board
            .cast(encrypt_ballot(&ctx, v, &vote, 1, &mut rng).unwrap().0)
            .unwrap();
    }
    let public_shares: Vec<_> = ceremony
        .public_shares
        .iter()
        .map(|p| p.key.point("X").unwrap())
        .collect();
    let (ballots, chain_head) = board.into_entries();
    // The disqualified dealer still holds a valid share as a recipient and may decrypt.
    let present = [&secrets[1], &secrets[3], &secrets[4]];
    let tally = run_tally(&ctx, &public_shares, &ballots, &present, &mut rng).unwrap();
    ElectionRecord {
        version: RECORD_VERSION.into(),
        election_hash: ctx.election_hash,
        manifest,
        ceremony,
        credentials,
        ballots,
        chain_head,
        tally,
        anchor: None,
    }
}

#[test]
fn justified_complaint_disqualifies_dealer_and_record_verifies() {
    let rec = record_with_cheating_dealer();
    let rep = verify_record(&rec);
    assert!(rep.is_ok(), "{rep}");
    assert_eq!(rec.tally.missing_trustees, vec![1, 3]);

    // Hiding the complaint changes the qualified set: the verifier notices.
    let mut hidden = rec.clone();
    hidden.ceremony.complaints.clear();
    let rep = verify_record(&hidden);
    let (name, detail) = rep.first_failure.unwrap();
    assert_eq!(name, "ceremony");
    assert!(detail.contains("disqualified"), "{detail}");

    // A forged complaint (wrong shared secret) is ignored, so the record is inconsistent.
    let mut forged = rec.clone();
    forged.ceremony.complaints[0].shared_secret = forged.ceremony.joint_public_key;
    let rep = verify_record(&forged);
    assert_eq!(rep.first_failure.unwrap().0, "ceremony");
}
