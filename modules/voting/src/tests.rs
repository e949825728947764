//! Elections through the runtime: the ceremony, credentials, ballots, decryption, the record.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use ed25519_dalek::SigningKey;
use rand::SeedableRng;
use rand::rngs::StdRng;
use serde_json::json;
use urbis_accounts::testkit::{BLOCK_MS, TestChain, addr, key};
use urbis_core::{ErrorCode, Hash, SecretKey};
use urbis_votecrypto::ballot::{
    BallotStatus, BoardEntry, PlaintextBallot, PlaintextContest, encrypt_ballot, sign_ballot,
};
use urbis_votecrypto::context::ElectionContext;
use urbis_votecrypto::dkg::{CeremonyRecord, Trustee, TrusteeSecret};
use urbis_votecrypto::encoding::Hex32;
use urbis_votecrypto::manifest::{Credential, Manifest};
use urbis_votecrypto::tally::{ContestAggregate, flatten_aggregate, partial_decrypt};
use urbis_votecrypto::{referendum_manifest, verify_record};

use crate::MODULE;

const TRUSTEES: [&str; 3] = ["t1", "t2", "t3"];

fn city() -> TestChain {
    let mut accounts = vec![
        json!({ "address": addr("admin"), "roles": ["city_admin"] }),
        json!({ "address": addr("office"), "roles": ["department"] }),
        json!({ "address": addr("registrar"), "roles": ["department"] }),
        json!({ "address": addr("alice"), "roles": ["citizen"] }),
    ];
    for t in TRUSTEES {
        accounts.push(json!({ "address": addr(t), "roles": ["department"] }));
    }
    TestChain::new(
        vec![urbis_accounts::module(), crate::module()],
        &[(urbis_accounts::MODULE, json!({ "accounts": accounts }))],
    )
}

fn call(chain: &TestChain, json: serde_json::Value) -> urbis_core::Call {
    chain
        .runtime
        .call_from_json(MODULE, &json)
        .expect("matches the schema")
}

struct Setup {
    id: String,
    manifest: Manifest,
    opens: u64,
    closes: u64,
}

fn create(chain: &mut TestChain) -> Setup {
    let manifest = referendum_manifest();
    let now = chain.next_env().timestamp_ms;
    let (ends, opens, closes) = (
        now + 20 * BLOCK_MS,
        now + 40 * BLOCK_MS,
        now + 80 * BLOCK_MS,
    );
    let make = |chain: &TestChain, threshold: u32, ends: u64| {
        call(
            chain,
            json!({"call": "create", "manifest": serde_json::to_string(&manifest).unwrap(),
                   "trustees": TRUSTEES.iter().map(|t| addr(t)).collect::<Vec<_>>(),
                   "threshold": threshold, "registrar": addr("registrar"),
                   "eligibility": "resident of the city, aged 16 or over",
                   "ceremony_ends_ms": ends, "opens_ms": opens, "closes_ms": closes}),
        )
    };
    chain.fails(&key("alice"), make(chain, 2, ends), ErrorCode::Unauthorized);
    chain.fails(
        &key("office"),
        make(chain, 4, ends),
        ErrorCode::InvalidArgument,
    );
    chain.fails(
        &key("office"),
        make(chain, 2, closes + 1),
        ErrorCode::InvalidArgument,
    );
    let r = chain.ok(&key("office"), make(chain, 2, ends));
    Setup {
        id: r.events[0].attr("id").unwrap().to_string(),
        manifest,
        opens,
        closes,
    }
}

/// The ceremony: everyone announces and deals; trustee 3 complains about nothing.
fn ceremony(chain: &mut TestChain, s: &Setup, rng: &mut StdRng) -> (CeremonyRecord, Vec<String>) {
    let context = s.manifest.hash();
    let mut states = Vec::new();
    let mut anns = Vec::new();
    for (i, t) in TRUSTEES.iter().enumerate() {
        let (trustee, a) = Trustee::new(i as u32 + 1, 3, 2, context, rng).unwrap();
        if i == 0 {
            // Out of turn: nobody deals before everyone has announced.
            chain.fails(
                &key(t),
                call(
                    chain,
                    json!({"call": "deal", "election": s.id, "shares": "[]"}),
                ),
                ErrorCode::InvalidState,
            );
            // Someone else's announcement, and a broken proof.
            let mut other = a.clone();
            other.index = 2;
            chain.fails(
                &key(t),
                call(
                    chain,
                    json!({"call": "announce", "election": s.id, "announcement": serde_json::to_string(&other).unwrap()}),
                ),
                ErrorCode::InvalidArgument,
            );
            let mut broken = a.clone();
            broken.coefficient_proofs.swap(0, 1);
            chain.fails(
                &key(t),
                call(
                    chain,
                    json!({"call": "announce", "election": s.id, "announcement": serde_json::to_string(&broken).unwrap()}),
                ),
                ErrorCode::InvalidProof,
            );
            // A stranger to the ceremony.
            chain.fails(
                &key("alice"),
                call(
                    chain,
                    json!({"call": "announce", "election": s.id, "announcement": serde_json::to_string(&a).unwrap()}),
                ),
                ErrorCode::Unauthorized,
            );
        }
        chain.ok(
            &key(t),
            call(
                chain,
                json!({"call": "announce", "election": s.id, "announcement": serde_json::to_string(&a).unwrap()}),
            ),
        );
        states.push(trustee.to_json());
        anns.push(a);
    }
    let mut all = Vec::new();
    for (t, st) in TRUSTEES.iter().zip(&states) {
        let shares = Trustee::from_json(st).unwrap().deal(&anns).unwrap();
        chain.ok(
            &key(t),
            call(
                chain,
                json!({"call": "deal", "election": s.id, "shares": serde_json::to_string(&shares).unwrap()}),
            ),
        );
        all.extend(shares);
    }
    for (i, (t, st)) in TRUSTEES.iter().zip(states.iter_mut()).enumerate() {
        let mut trustee = Trustee::from_json(st).unwrap();
        let complaints = trustee.receive(&anns, &all, rng).unwrap();
        assert!(complaints.is_empty());
        *st = trustee.to_json();
        if i == 2 {
            assert_eq!(
                chain.value(MODULE, &["election", &s.id])["phase"],
                "ceremony"
            );
        }
        chain.ok(
            &key(t),
            call(
                chain,
                json!({"call": "complain", "election": s.id, "complaints": "[]"}),
            ),
        );
    }
    let record: CeremonyRecord =
        serde_json::from_value(chain.value(MODULE, &["ceremony", &s.id])).unwrap();
    let secrets = states
        .iter()
        .map(|st| {
            Trustee::from_json(st)
                .unwrap()
                .finish(&record)
                .unwrap()
                .to_json()
        })
        .collect();
    (record, secrets)
}

fn seed(i: usize) -> [u8; 32] {
    let mut s = [7u8; 32];
    s[..8].copy_from_slice(&(i as u64).to_le_bytes());
    s
}

fn yes_no(yes: bool) -> PlaintextBallot {
    PlaintextBallot {
        contests: vec![PlaintextContest {
            contest_id: "referendum".into(),
            selected: vec![yes, !yes],
            blank: false,
        }],
    }
}

#[test]
fn an_election_runs_on_chain_and_its_record_verifies() {
    let mut chain = city();
    let mut rng = StdRng::seed_from_u64(12);
    let s = create(&mut chain);
    let (ceremony, secrets) = ceremony(&mut chain, &s, &mut rng);
    let election = chain.value(MODULE, &["election", &s.id]);
    assert_eq!(election["phase"], "registration");
    assert_eq!(
        election["joint_public_key"],
        json!(ceremony.joint_public_key.to_string())
    );

    // The registrar registers five credentials; one is re-registered; a weak key refused.
    let voters: Vec<SigningKey> = (0..5).map(|i| SigningKey::from_bytes(&seed(i))).collect();
    let mut creds: Vec<Credential> = voters
        .iter()
        .map(|v| Credential {
            public_key: Hex32(v.verifying_key().to_bytes()),
            weight: 1,
            style: "all".into(),
        })
        .collect();
    let register = |chain: &TestChain, list: &[Credential]| {
        call(
            chain,
            json!({"call": "register", "election": s.id, "credentials": serde_json::to_string(list).unwrap()}),
        )
    };
    chain.fails(
        &key("office"),
        register(&chain, &creds),
        ErrorCode::Unauthorized,
    );
    let mut weak = creds[0].clone();
    weak.public_key = Hex32([0; 32]);
    chain.fails(
        &key("registrar"),
        register(&chain, &[weak]),
        ErrorCode::InvalidArgument,
    );
    chain.ok(&key("registrar"), register(&chain, &creds[..3]));
    chain.fails(
        &key("registrar"),
        register(&chain, &creds[2..]),
        ErrorCode::AlreadyExists,
    );
    chain.ok(&key("registrar"), register(&chain, &creds[3..]));
    chain.fails(
        &key("registrar"),
        call(
            &chain,
            json!({"call": "commit", "election": s.id, "count": 4}),
        ),
        ErrorCode::InvalidArgument,
    );
    chain.ok(
        &key("registrar"),
        call(
            &chain,
            json!({"call": "commit", "election": s.id, "count": 5}),
        ),
    );
    creds.sort_by_key(|c| c.public_key.0);
    let ctx = ElectionContext::new(s.manifest.clone(), &ceremony, creds.clone()).unwrap();
    let election = chain.value(MODULE, &["election", &s.id]);
    assert_eq!(election["phase"], "ready");
    assert_eq!(
        election["election_hash"],
        json!(ctx.election_hash.to_string())
    );

    let ballot = |v: usize, yes: bool, seq: u64, rng: &mut StdRng| {
        encrypt_ballot(&ctx, &voters[v], &yes_no(yes), seq, rng).unwrap()
    };
    let cast = |chain: &TestChain, b: &urbis_votecrypto::ballot::EncryptedBallot| {
        call(
            chain,
            json!({"call": "cast", "election": s.id, "ballot": serde_json::to_string(b).unwrap()}),
        )
    };
    let cred_key = |v: usize| SecretKey::from_seed(seed(v));
    // Not open yet.
    let (b0, _) = ballot(0, true, 1, &mut rng);
    chain.fails(&cred_key(0), cast(&chain, &b0), ErrorCode::InvalidState);
    // An unknown election: not found for an account with a role; a credential is vouched
    // for only in its own election, so the gate refuses it elsewhere.
    let elsewhere = call(
        &chain,
        json!({"call": "cast", "election": Hash([9; 32]), "ballot": serde_json::to_string(&b0).unwrap()}),
    );
    chain.fails(&key("office"), elsewhere.clone(), ErrorCode::NotFound);
    chain.fails(&cred_key(0), elsewhere, ErrorCode::Unauthorized);
    // A stranger's key holds no role: the gate refuses it before anything runs.
    let (stranger, _) = ballot(0, true, 1, &mut rng);
    chain.fails(
        &key("nobody"),
        cast(&chain, &stranger),
        ErrorCode::Unauthorized,
    );

    // The scheduler opens it.
    while chain.next_env().timestamp_ms < s.opens {
        chain.block(&[]);
    }
    chain.block(&[]);
    assert_eq!(chain.value(MODULE, &["election", &s.id])["phase"], "open");

    chain.ok(&cred_key(0), cast(&chain, &b0));
    // Malformed JSON is a named error too.
    chain.fails(
        &key("office"),
        call(
            &chain,
            json!({"call": "cast", "election": s.id, "ballot": "{"}),
        ),
        ErrorCode::InvalidArgument,
    );
    // A replay, word for word.
    chain.fails(&cred_key(0), cast(&chain, &b0), ErrorCode::AlreadyExists);
    // Another credential's ballot in my transaction.
    let (b1, _) = ballot(1, false, 1, &mut rng);
    chain.fails(&cred_key(2), cast(&chain, &b1), ErrorCode::Unauthorized);
    // A ballot whose proof was tampered with (re-signed so the signature holds).
    let mut bad = b1.clone();
    bad.contests[0].selections[0].proof.c.swap(0, 1);
    sign_ballot(&ctx.election_hash, &voters[1], &mut bad, BallotStatus::Cast);
    chain.fails(&cred_key(1), cast(&chain, &bad), ErrorCode::InvalidProof);
    assert!(
        chain
            .runtime
            .precheck_many(chain.view(), &[chain.tx(&cred_key(1), cast(&chain, &bad))])[0]
            .is_err()
    );
    // A signature that does not match.
    let mut unsigned = b1.clone();
    unsigned.signature.0[0] ^= 1;
    chain.fails(
        &cred_key(1),
        cast(&chain, &unsigned),
        ErrorCode::BadSignature,
    );
    // A non-canonical group element.
    let mut noncanonical = b1.clone();
    noncanonical.contests[0].selections[0].ciphertext.alpha = Hex32([0xff; 32]);
    sign_ballot(
        &ctx.election_hash,
        &voters[1],
        &mut noncanonical,
        BallotStatus::Cast,
    );
    chain.fails(
        &cred_key(1),
        cast(&chain, &noncanonical),
        ErrorCode::InvalidArgument,
    );
    chain.ok(&cred_key(1), cast(&chain, &b1));
    assert!(
        chain
            .runtime
            .precheck_many(chain.view(), &[chain.tx(&cred_key(1), cast(&chain, &b1))])[0]
            .is_ok()
    );

    // Voter 2 casts no, then re-votes yes; voter 3 spoils a ballot, then casts.
    let (b2, _) = ballot(2, false, 1, &mut rng);
    chain.ok(&cred_key(2), cast(&chain, &b2));
    let (b2b, _) = ballot(2, true, 2, &mut rng);
    chain.ok(&cred_key(2), cast(&chain, &b2b));
    // The superseded ballot cannot come back.
    chain.fails(&cred_key(2), cast(&chain, &b2), ErrorCode::AlreadyExists);
    let (mut s3, opening) = ballot(3, false, 1, &mut rng);
    let spoil = |chain: &TestChain, b: &urbis_votecrypto::ballot::EncryptedBallot, o: &str| {
        call(
            chain,
            json!({"call": "spoil", "election": s.id, "ballot": serde_json::to_string(b).unwrap(), "opening": o}),
        )
    };
    let opening_json = serde_json::to_string(&opening).unwrap();
    // Signed for casting, not spoiling: refused.
    chain.fails(
        &cred_key(3),
        spoil(&chain, &s3, &opening_json),
        ErrorCode::BadSignature,
    );
    sign_ballot(
        &ctx.election_hash,
        &voters[3],
        &mut s3,
        BallotStatus::Spoiled,
    );
    chain.ok(&cred_key(3), spoil(&chain, &s3, &opening_json));
    let (b3, _) = ballot(3, false, 2, &mut rng);
    chain.ok(&cred_key(3), cast(&chain, &b3));
    // Voter 4 abstains. 3 yes (0, 2), 2 no (1, 3) counted.
    let board = chain.value(MODULE, &["board", &s.id]);
    assert_eq!(board["entries"], 6);
    assert_eq!(board["counted"], 4);

    // Closing: no more ballots; decrypting only after.
    let t = |i: usize| TrusteeSecret::from_json(&secrets[i]).unwrap();
    let aggregate: Vec<ContestAggregate> =
        serde_json::from_value(chain.value(MODULE, &["aggregate", &s.id])).unwrap();
    let share = |i: usize, rng: &mut StdRng| {
        serde_json::to_string(&partial_decrypt(&ctx, &t(i), &aggregate, rng).unwrap()).unwrap()
    };
    let decrypt = |chain: &TestChain, d: &str| {
        call(
            chain,
            json!({"call": "decrypt", "election": s.id, "share": d}),
        )
    };
    let d0 = share(0, &mut rng);
    chain.fails(&key("t1"), decrypt(&chain, &d0), ErrorCode::InvalidState);
    while chain.next_env().timestamp_ms < s.closes {
        chain.block(&[]);
    }
    chain.block(&[]);
    assert_eq!(chain.value(MODULE, &["election", &s.id])["phase"], "closed");
    let (late, _) = ballot(4, true, 1, &mut rng);
    chain.fails(&cred_key(4), cast(&chain, &late), ErrorCode::InvalidState);

    // Trustee 2 sends trustee 1's share; a share with a broken proof; trustee 2 is absent.
    chain.fails(&key("t2"), decrypt(&chain, &d0), ErrorCode::InvalidArgument);
    let mut broken: urbis_votecrypto::tally::DecryptionShare = serde_json::from_str(&d0).unwrap();
    broken.shares[0].proof.z = broken.shares[1].proof.z;
    chain.fails(
        &key("t1"),
        decrypt(&chain, &serde_json::to_string(&broken).unwrap()),
        ErrorCode::InvalidProof,
    );
    chain.ok(&key("t1"), decrypt(&chain, &d0));
    chain.fails(&key("t1"), decrypt(&chain, &d0), ErrorCode::AlreadyExists);
    let d2 = share(2, &mut rng);
    chain.ok(&key("t3"), decrypt(&chain, &d2));
    let e = chain.value(MODULE, &["election", &s.id]);
    assert_eq!(e["phase"], "tallied");
    let result = chain.value(MODULE, &["result", &s.id]);
    assert_eq!(result[0]["counts"], json!([2, 2]));
    chain.fails(
        &key("t2"),
        decrypt(&chain, &share(1, &mut rng)),
        ErrorCode::InvalidState,
    );

    // The record from chain state verifies, and the aggregate is the counted ballots' sum.
    let entries: Vec<BoardEntry> = chain
        .list(MODULE, &["entries", &s.id], 1000, None)
        .unwrap()
        .items
        .into_iter()
        .map(|v| serde_json::from_value(v).unwrap())
        .collect();
    assert_eq!(entries.len(), 6);
    let listed: Vec<Credential> = chain
        .list(MODULE, &["credentials", &s.id], 1000, None)
        .unwrap()
        .items
        .into_iter()
        .map(|v| serde_json::from_value(v).unwrap())
        .collect();
    assert_eq!(listed, creds);
    let shares = [d0, d2]
        .iter()
        .map(|d| serde_json::from_str(d).unwrap())
        .collect();
    let record = crate::record_from_parts(
        s.manifest.clone(),
        ceremony,
        listed,
        ctx.election_hash,
        entries,
        aggregate.clone(),
        shares,
        serde_json::from_value(result).unwrap(),
    );
    let report = verify_record(&record);
    assert!(report.is_ok(), "{:?}", report.first_failure);
    assert_eq!(
        record.chain_head.to_string(),
        chain.value(MODULE, &["board", &s.id])["head"]
    );
    let (_, recomputed) = urbis_votecrypto::tally::aggregate(&ctx, &record.ballots).unwrap();
    assert_eq!(
        flatten_aggregate(&recomputed)
            .unwrap()
            .iter()
            .map(|c| c.to_wire())
            .collect::<Vec<_>>(),
        flatten_aggregate(&aggregate)
            .unwrap()
            .iter()
            .map(|c| c.to_wire())
            .collect::<Vec<_>>()
    );
}

#[test]
fn an_election_whose_ceremony_is_incomplete_fails_at_opening() {
    let mut chain = city();
    let mut rng = StdRng::seed_from_u64(3);
    let s = create(&mut chain);
    let (_, a) = Trustee::new(1, 3, 2, s.manifest.hash(), &mut rng).unwrap();
    chain.ok(
        &key("t1"),
        call(
            &chain,
            json!({"call": "announce", "election": s.id, "announcement": serde_json::to_string(&a).unwrap()}),
        ),
    );
    // Finalizing before the ceremony's end is refused; after it, the missing
    // announcements fail the election.
    let finalize = call(&chain, json!({"call": "finalize", "election": s.id}));
    chain.fails(&key("office"), finalize.clone(), ErrorCode::InvalidState);
    chain.fails(&key("admin"), finalize.clone(), ErrorCode::Unauthorized);
    while chain.next_env().timestamp_ms < s.opens - 10 * BLOCK_MS {
        chain.block(&[]);
    }
    chain.ok(&key("office"), finalize);
    let e = chain.value(MODULE, &["election", &s.id]);
    assert_eq!(e["phase"], "failed");
    assert!(e["failure"].as_str().unwrap().contains("ceremony"), "{e}");
}

#[test]
fn a_cheating_dealer_is_disqualified_and_the_key_still_fixes() {
    let mut chain = city();
    let mut rng = StdRng::seed_from_u64(5);
    let s = create(&mut chain);
    let context = s.manifest.hash();
    let mut trustees = Vec::new();
    let mut anns = Vec::new();
    for (i, t) in TRUSTEES.iter().enumerate() {
        let (trustee, a) = Trustee::new(i as u32 + 1, 3, 2, context, &mut rng).unwrap();
        chain.ok(
            &key(t),
            call(
                &chain,
                json!({"call": "announce", "election": s.id, "announcement": serde_json::to_string(&a).unwrap()}),
            ),
        );
        trustees.push(trustee);
        anns.push(a);
    }
    let mut all = Vec::new();
    for (i, (t, trustee)) in TRUSTEES.iter().zip(&trustees).enumerate() {
        let mut shares = trustee.deal(&anns).unwrap();
        if i == 1 {
            // Trustee 2 sends trustee 1 a share that does not decrypt.
            let bad = shares.iter_mut().find(|s| s.recipient == 1).unwrap();
            let flipped = if bad.ciphertext.ends_with('0') {
                "1"
            } else {
                "0"
            };
            bad.ciphertext.pop();
            bad.ciphertext.push_str(flipped);
        }
        chain.ok(
            &key(t),
            call(
                &chain,
                json!({"call": "deal", "election": s.id, "shares": serde_json::to_string(&shares).unwrap()}),
            ),
        );
        all.extend(shares);
    }
    let complain = |chain: &TestChain, list: &[urbis_votecrypto::dkg::Complaint]| {
        call(
            chain,
            json!({"call": "complain", "election": s.id, "complaints": serde_json::to_string(list).unwrap()}),
        )
    };
    // Trustee 1 complains: the complaint reveals their pairwise secret with dealer 2, proven.
    let complaints = trustees[0].receive(&anns, &all, &mut rng).unwrap();
    assert_eq!(complaints.len(), 1);
    assert_eq!((complaints[0].dealer, complaints[0].recipient), (2, 1));
    // In someone else's name, about a trustee outside the ceremony, about oneself, twice:
    // each refused, nothing written.
    let mut forged = complaints[0].clone();
    forged.recipient = 3;
    let mut unknown = complaints[0].clone();
    unknown.dealer = 9;
    let mut own = complaints[0].clone();
    own.dealer = 1;
    let twice = vec![complaints[0].clone(), complaints[0].clone()];
    for list in [vec![forged], vec![unknown], vec![own], twice] {
        chain.fails(
            &key("t1"),
            complain(&chain, &list),
            ErrorCode::InvalidArgument,
        );
    }
    chain.fails(
        &key("alice"),
        complain(&chain, &complaints),
        ErrorCode::Unauthorized,
    );
    chain.ok(&key("t1"), complain(&chain, &complaints));
    chain.fails(&key("t1"), complain(&chain, &[]), ErrorCode::InvalidState);
    for (t, trustee) in TRUSTEES.iter().zip(trustees.iter_mut()).skip(1) {
        assert!(trustee.receive(&anns, &all, &mut rng).unwrap().is_empty());
        chain.ok(&key(t), complain(&chain, &[]));
    }
    // The complaint is justified: dealer 2 is out, the key is the other two's.
    let e = chain.value(MODULE, &["election", &s.id]);
    assert_eq!(e["phase"], "registration", "{e}");
    assert_eq!(e["disqualified"], json!([2]));
    let record: CeremonyRecord =
        serde_json::from_value(chain.value(MODULE, &["ceremony", &s.id])).unwrap();
    assert_eq!(record.disqualified, vec![2]);
    assert_eq!(
        e["joint_public_key"],
        json!(record.joint_public_key.to_string())
    );
    // The honest trustees' key shares match the public shares the record holds.
    for i in [0, 2] {
        let secret = trustees[i].finish(&record).unwrap();
        assert!(
            record
                .public_shares
                .iter()
                .any(|p| p.index == i as u32 + 1 && p.key.0 == secret.public().compress().0)
        );
    }
}
