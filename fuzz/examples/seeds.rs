//! Writes the seed inputs of every fuzz target under `fuzz/corpus/<target>/seed-*` from the
//! repository's own fixtures (call and proof vectors, workflows) and from values made here
//! with the targets' fixed keys. Run from the repository root:
//! `cargo run --manifest-path fuzz/Cargo.toml --example seeds`.

use std::path::{Path, PathBuf};

use serde_json::{Map, Value, json};
use urbis_core::{Block, Call, ChainRef, Hash, Header, SignedTx};
use urbis_credentials::sdjwt::{Binding, present};
use urbis_credentials::status::{StatusList, StatusRef};
use urbis_credentials::vc;
use urbis_fuzz::{Step, frame, signer};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn write(target: &str, name: &str, bytes: &[u8]) {
    let dir = root().join("fuzz/corpus").join(target);
    std::fs::create_dir_all(&dir).expect("corpus directory");
    std::fs::write(dir.join(format!("seed-{name}")), bytes).expect("seed written");
}

fn read_json(rel: &str) -> Value {
    serde_json::from_slice(&std::fs::read(root().join(rel)).expect(rel)).expect(rel)
}

fn main() {
    let chain = ChainRef::new(urbis_fuzz::CHAIN, Hash::ZERO);
    let modules = urbis_fuzz::world().modules.clone();

    // Module calls: every sample call of every module (from the JavaScript client's vectors),
    // sent by the admin, then each module's samples in one sequence from rotating signers.
    let calls = read_json("clients/vectors/tx/calls.json");
    let mut txs = Vec::new();
    for m in calls["modules"].as_array().expect("modules") {
        let name = m["module"].as_str().expect("module name");
        let idx = modules
            .iter()
            .position(|x| *x == name)
            .expect("a known module") as u8;
        let datas: Vec<Vec<u8>> = (m["calls"].as_array().expect("calls").iter())
            .map(|c| hex::decode(c["borsh"].as_str().expect("borsh")).expect("hex"))
            .collect();
        for (i, data) in datas.iter().enumerate() {
            let step = Step {
                module: idx,
                signer: 0,
                wait: 0,
                data,
            };
            write("module_calls", &format!("{name}-{i}"), &frame(&[step]));
            let call = Call {
                module: name.to_string(),
                data: data.clone(),
            };
            let tx = SignedTx::new(&chain, &signer(i), i as u64, call);
            write("tx_decode", &format!("{name}-{i}"), &tx.encode());
            txs.push(tx);
        }
        let seq: Vec<Step<'_>> = (datas.iter().enumerate())
            .map(|(i, data)| Step {
                module: idx,
                signer: i as u8,
                wait: (i * 37) as u8,
                data,
            })
            .collect();
        write("module_calls", &format!("{name}-all"), &frame(&seq));
    }
    write(
        "tx_decode",
        "batch",
        &borsh::to_vec(&txs[..4]).expect("encodes"),
    );
    write(
        "tx_decode",
        "json",
        &serde_json::to_vec(&txs[0]).expect("json"),
    );

    // Blocks: a block of three transactions, bare and in the consensus codec.
    let block_txs = txs[..3].to_vec();
    let header = Header {
        chain_id: urbis_fuzz::CHAIN.to_string(),
        height: 7,
        parent: Hash([3; 32]),
        view: 9,
        timestamp_ms: urbis_fuzz::GENESIS_MS + 7_000,
        proposer: signer(0).public_key(),
        txs_root: Block::compute_txs_root(&block_txs),
        tx_count: 3,
        state_height: 6,
        state_root: Hash([4; 32]),
        receipts_acc: Hash([5; 32]),
        validator_set: Hash([6; 32]),
    };
    let block = Block {
        header,
        txs: block_txs,
    };
    write("block_decode", "block", &block.encode());
    let chained = urbis_consensus::codec::ChainBlock::new(block);
    write(
        "block_decode",
        "consensus",
        &commonware_codec::Encode::encode(&chained),
    );

    // Proof bundles: every committed vector, honest and tampered.
    for e in std::fs::read_dir(root().join("clients/vectors/proofs")).expect("vectors") {
        let p = e.expect("entry").path();
        let name = p.file_stem().expect("name").to_string_lossy().into_owned();
        write("proof_bundle", &name, &std::fs::read(&p).expect("vector"));
    }

    // An election record: 3 ballots, 2-of-2 trustees.
    for (name, referendum) in [("election", false), ("referendum", true)] {
        let record = urbis_votecrypto::demo(urbis_votecrypto::DemoOptions {
            ballots: 3,
            trustees: 2,
            threshold: 2,
            seed: Some(7),
            referendum,
        })
        .expect("a demo election");
        write(
            "election_record",
            name,
            record.to_json().expect("json").as_bytes(),
        );
    }

    // Credentials: a resident credential with two disclosable claims, presented with and
    // without key binding, and its status list.
    let issuer = urbis_fuzz::issuer_key();
    let holder = urbis_fuzz::holder_key();
    let did = "did:urbis:00112233445566778899aabbccddeeff00112233";
    let mut claims = Map::new();
    claims.insert("given_name".into(), json!("Ada"));
    claims.insert(
        "address".into(),
        json!({"locality": "Urbis", "postal_code": "1000"}),
    );
    let holder_jwk = holder.public();
    let cred = vc::issue(
        &issuer,
        vc::Request {
            iss: did,
            kid: &format!("{did}#key-1"),
            vct: "urn:urbis:resident",
            iat: urbis_fuzz::KB_NOW - 100,
            exp: Some(urbis_fuzz::KB_NOW + 86_400),
            sub: Some("did:urbis:ffeeddccbbaa99887766554433221100ffeeddcc"),
            holder: &holder_jwk,
            status: Some(StatusRef {
                idx: 5,
                uri: "https://urbis.example/status/1".into(),
            }),
            claims,
            disclosable: &["given_name", "address", "address.locality"],
        },
    )
    .expect("issued");
    write("sd_jwt", "credential", cred.serialize().as_bytes());
    let bound = present(
        &cred,
        &["given_name", "address.locality"],
        Some(Binding {
            holder: &holder,
            audience: urbis_fuzz::KB_AUDIENCE,
            nonce: urbis_fuzz::KB_NONCE,
            iat: urbis_fuzz::KB_NOW,
        }),
    )
    .expect("presented");
    write("sd_jwt", "presentation-kb", bound.as_bytes());
    write(
        "sd_jwt",
        "presentation",
        present(&cred, &["address"], None)
            .expect("presented")
            .as_bytes(),
    );
    let mut list = StatusList::new(2, 64).expect("a list");
    list.set(5, 1).expect("set");
    list.set(9, 3).expect("set");
    write(
        "sd_jwt",
        "status-list",
        &serde_json::to_vec(&list.to_json()).expect("json"),
    );
    write(
        "sd_jwt",
        "jwk",
        &serde_json::to_vec(&holder_jwk.to_json()).expect("json"),
    );

    // DID documents as the node resolves them: an Ed25519 and a P-256 key, an X25519 key
    // agreement key.
    let p256 = urbis_credentials::jose::SigningKey::from_seed(
        urbis_credentials::jose::Alg::ES256,
        &[9; 32],
    )
    .expect("a P-256 key")
    .public();
    let x25519 =
        json!({"kty": "OKP", "crv": "X25519", "x": urbis_credentials::jose::b64(&[11; 32])});
    let vm = |frag: &str, jwk: Value| {
        json!({"id": format!("{did}#{frag}"), "type": "JsonWebKey2020", "controller": did,
            "publicKeyJwk": jwk})
    };
    let doc = json!({
        "@context": ["https://www.w3.org/ns/did/v1", "https://w3id.org/security/suites/jws-2020/v1"],
        "id": did,
        "controller": did,
        "verificationMethod": [vm("key-1", issuer.public().to_json()), vm("key-2", p256.to_json()),
            vm("enc-1", x25519)],
        "authentication": [format!("{did}#key-1")],
        "assertionMethod": [format!("{did}#key-1"), format!("{did}#key-2")],
        "keyAgreement": [format!("{did}#enc-1")],
    });
    write(
        "did_document",
        "document",
        &serde_json::to_vec_pretty(&doc).expect("json"),
    );

    // Workflow definitions: the ones the repository ships.
    for e in std::fs::read_dir(root().join("workflows")).expect("workflows") {
        let p = e.expect("entry").path();
        if p.extension().is_some_and(|x| x == "json") {
            let name = p.file_stem().expect("name").to_string_lossy().into_owned();
            write(
                "workflow_definition",
                &name,
                &std::fs::read(&p).expect("workflow"),
            );
        }
    }
    eprintln!("seeds written under fuzz/corpus/");
}
