//! Identity through the `urbis` binary and the HTTP API: a citizen creates a DID, receives a
//! resident credential from an accredited issuer, presents two of its claims to a verifier
//! that checks it against the chain; the issuer revokes it and the same presentation fails.
#![allow(clippy::unwrap_used)]

mod common;

use common::{Cli, TestNode};

impl Cli<'_> {
    /// The admin's key, and `org` (a department) with an organisation DID; returns the DID.
    fn city_with(&self, org: &str) -> String {
        let seed = hex::encode(self.node.admin.seed());
        self.ok(&["keys", "import", "admin", "--seed", &seed]);
        self.ok(&["keys", "new", org]);
        self.ok(&["keys", "new", "alice"]);
        self.ok(&[
            "tx",
            "accounts",
            "grant-role",
            "--from",
            "admin",
            "--account",
            org,
            "--role",
            "department",
        ]);
        let out = self.ok(&["did", "create", "--from", org, "--subject", "organisation"]);
        // The DID is the last line (after the transaction's receipt).
        out.lines().last().unwrap().trim().to_string()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resident_credential_is_issued_presented_verified_and_revoked() {
    let node = TestNode::start();
    let dir = tempfile::tempdir().unwrap();
    let cli = Cli {
        node: &node,
        dir: dir.path(),
    };
    let urbis = |args: &[&str]| cli.run(args);
    let ok = |r: (bool, String, String)| {
        assert!(r.0, "{} {}", r.1, r.2);
        r.1
    };
    // The registry office's DID (a department's organisation) and Alice's own (no role needed).
    let registry = cli.city_with("registry");
    let registry = registry.as_str();
    let alice = ok(urbis(&["did", "create", "--from", "alice"]));
    let alice = alice.lines().last().unwrap().trim();
    assert!(alice.starts_with("did:urbis:"));

    // Resolution in the DIF shape.
    let http = reqwest::Client::new();
    let r = http
        .get(format!("{}/1.0/identifiers/{alice}", node.url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["didDocument"]["id"], alice);
    assert_eq!(body["didDocumentMetadata"]["versionId"], "1");
    assert!(
        body["didDocumentMetadata"]["created"]
            .as_str()
            .unwrap()
            .ends_with('Z')
    );
    let bare = http
        .get(format!("{}/1.0/identifiers/{alice}", node.url))
        .header("accept", "application/did+ld+json")
        .send()
        .await
        .unwrap();
    assert_eq!(
        bare.headers()["content-type"].to_str().unwrap(),
        "application/did+ld+json"
    );
    let doc: serde_json::Value = bare.json().await.unwrap();
    assert_eq!(doc["id"], alice);
    for (did, status, error) in [
        ("did:urbis:XYZ".to_string(), 400, "invalidDid"),
        (format!("did:urbis:{}", "0".repeat(40)), 404, "notFound"),
        ("did:web:example.org".to_string(), 501, "methodNotSupported"),
    ] {
        let r = http
            .get(format!("{}/1.0/identifiers/{did}", node.url))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), status, "{did}");
        let b: serde_json::Value = r.json().await.unwrap();
        assert_eq!(b["didResolutionMetadata"]["error"], error);
        assert!(b["didDocument"].is_null());
    }

    // With a proof of the record the document is rendered from, checked offline.
    let proven: serde_json::Value = http
        .get(format!("{}/1.0/identifiers/{alice}?prove=true", node.url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let bundle = dir.path().join("did.proof.json");
    std::fs::write(&bundle, proven["proof"].to_string()).unwrap();
    let out = ok(urbis(&[
        "verify",
        bundle.to_str().unwrap(),
        "--genesis",
        node.genesis_path.to_str().unwrap(),
    ]));
    assert!(out.contains("identity/version/"), "{out}");

    // The city accredits the registry office; it opens a status list.
    ok(urbis(&[
        "did",
        "accredit",
        "--from",
        "admin",
        "--issuer",
        "registry",
        "--type",
        "urn:urbis:resident",
    ]));
    ok(urbis(&[
        "did",
        "status-list",
        "--from",
        "registry",
        "--bits",
        "1",
        "--size",
        "131072",
    ]));
    let list: serde_json::Value = http
        .get(format!("{}/v1/status-lists/1", node.url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list["issuer"], registry);
    assert_eq!(list["status_list"]["bits"], 1);

    // Issue, present two claims, verify.
    let claims = dir.path().join("claims.json");
    std::fs::write(
        &claims,
        r#"{"given_name": "Ana", "family_name": "Peeters", "birthdate": "1990-04-01",
            "address": {"street_address": "Veldstraat 1", "locality": "Ghent", "postal_code": "9000"}}"#,
    )
    .unwrap();
    let cred = dir.path().join("cred.txt");
    let pres = dir.path().join("pres.txt");
    let (c, p) = (cred.to_str().unwrap(), pres.to_str().unwrap());
    ok(urbis(&[
        "credential",
        "issue",
        "--from",
        "registry",
        "--type",
        "urn:urbis:resident",
        "--subject",
        alice,
        "--claims",
        claims.to_str().unwrap(),
        "--status-list",
        "1",
        "--out",
        c,
    ]));
    // Someone else cannot present it: it is bound to Alice's key.
    let r = urbis(&[
        "credential",
        "present",
        c,
        "--disclose",
        "given_name",
        "--audience",
        "a",
        "--nonce",
        "n",
        "--holder",
        "registry",
    ]);
    assert!(!r.0 && r.2.contains("key_mismatch"), "{}", r.2);
    ok(urbis(&[
        "credential",
        "present",
        c,
        "--disclose",
        "given_name,address.locality",
        "--audience",
        "city-library",
        "--nonce",
        "n-7",
        "--holder",
        "alice",
        "--out",
        p,
    ]));
    let report: serde_json::Value = serde_json::from_str(&ok(urbis(&[
        "credential",
        "verify",
        p,
        "--audience",
        "city-library",
        "--nonce",
        "n-7",
    ])))
    .unwrap();
    assert_eq!(report["verified"], true);
    assert_eq!(report["issuer"], registry);
    assert_eq!(report["claims"]["given_name"], "Ana");
    assert_eq!(report["claims"]["address"]["locality"], "Ghent");
    assert!(report["claims"].get("family_name").is_none());
    assert!(report["claims"]["address"].get("street_address").is_none());
    // The same, trusting no node: every chain fact proven against the genesis validators.
    let genesis = node.genesis_path.to_str().unwrap().to_string();
    let proven: serde_json::Value = serde_json::from_str(&ok(urbis(&[
        "credential",
        "verify",
        p,
        "--audience",
        "city-library",
        "--nonce",
        "n-7",
        "--genesis",
        &genesis,
    ])))
    .unwrap();
    assert_eq!(proven["proven"], true);
    assert_eq!(proven["status"]["value"], "valid");
    // A replay to another verifier, or with another nonce, fails.
    let r = urbis(&[
        "credential",
        "verify",
        p,
        "--audience",
        "bank",
        "--nonce",
        "n-7",
    ]);
    assert!(!r.0 && r.2.contains("wrong_audience"), "{}", r.2);
    let r = urbis(&[
        "credential",
        "verify",
        p,
        "--audience",
        "city-library",
        "--nonce",
        "n-8",
    ]);
    assert!(!r.0 && r.2.contains("wrong_nonce"), "{}", r.2);

    // Revoked: the same presentation now fails.
    ok(urbis(&["credential", "revoke", c, "--from", "registry"]));
    let r = urbis(&[
        "credential",
        "verify",
        p,
        "--audience",
        "city-library",
        "--nonce",
        "n-7",
    ]);
    assert!(!r.0 && r.2.contains("revoked"), "{}", r.2);
    let r = urbis(&[
        "credential",
        "verify",
        p,
        "--audience",
        "city-library",
        "--nonce",
        "n-7",
        "--genesis",
        &genesis,
    ]);
    assert!(!r.0 && r.2.contains("revoked"), "{}", r.2);

    // An identity document: the registry office attests Alice's ID card by its hash; a
    // verifier checks the presented attestation against the document it is shown.
    ok(urbis(&[
        "did",
        "accredit",
        "--from",
        "admin",
        "--issuer",
        "registry",
        "--type",
        "urn:urbis:id-card",
    ]));
    let scan = dir.path().join("id-card.pdf");
    std::fs::write(&scan, b"%PDF-1.7 scan of an identity card").unwrap();
    let digest = {
        use sha2::Digest as _;
        hex::encode(sha2::Sha256::digest(std::fs::read(&scan).unwrap()))
    };
    let id_claims = dir.path().join("id.json");
    std::fs::write(
        &id_claims,
        serde_json::json!({"given_name": "Ana", "family_name": "Peeters", "document_number": "BE-123",
            "document_hash": digest, "expiry_date": "2031-01-01"})
        .to_string(),
    )
    .unwrap();
    let idc = dir.path().join("id.sdjwt");
    let idp = dir.path().join("id.pres");
    ok(urbis(&[
        "credential",
        "issue",
        "--from",
        "registry",
        "--type",
        "urn:urbis:id-card",
        "--subject",
        alice,
        "--claims",
        id_claims.to_str().unwrap(),
        "--status-list",
        "1",
        "--out",
        idc.to_str().unwrap(),
    ]));
    ok(urbis(&[
        "credential",
        "present",
        idc.to_str().unwrap(),
        "--disclose",
        "family_name,document_hash",
        "--audience",
        "notary",
        "--nonce",
        "q",
        "--holder",
        "alice",
        "--out",
        idp.to_str().unwrap(),
    ]));
    let report: serde_json::Value = serde_json::from_str(&ok(urbis(&[
        "credential",
        "verify",
        idp.to_str().unwrap(),
        "--audience",
        "notary",
        "--nonce",
        "q",
        "--document",
        scan.to_str().unwrap(),
    ])))
    .unwrap();
    assert_eq!(report["document"]["matches"], true);
    let forged = dir.path().join("forged.pdf");
    std::fs::write(&forged, b"%PDF-1.7 another card").unwrap();
    let r = urbis(&[
        "credential",
        "verify",
        idp.to_str().unwrap(),
        "--audience",
        "notary",
        "--nonce",
        "q",
        "--document",
        forged.to_str().unwrap(),
    ]);
    assert!(!r.0 && r.2.contains("document_mismatch"), "{}", r.2);

    // Suspension needs a 2-bit list: suspended, then reinstated. Alice presents without naming
    // herself (the CLI finds the key the credential is bound to).
    ok(urbis(&[
        "did",
        "status-list",
        "--from",
        "registry",
        "--bits",
        "2",
        "--size",
        "100000",
    ]));
    let c2 = dir.path().join("cred2.txt");
    let p2 = dir.path().join("pres2.txt");
    let (c2, p2) = (c2.to_str().unwrap(), p2.to_str().unwrap());
    ok(urbis(&[
        "credential",
        "issue",
        "--from",
        "registry",
        "--type",
        "urn:urbis:resident",
        "--subject",
        alice,
        "--claims",
        claims.to_str().unwrap(),
        "--status-list",
        "2",
        "--out",
        c2,
    ]));
    ok(urbis(&[
        "credential",
        "present",
        c2,
        "--disclose",
        "birthdate",
        "--audience",
        "v",
        "--nonce",
        "m",
        "--out",
        p2,
    ]));
    let verify2 = || {
        urbis(&[
            "credential",
            "verify",
            p2,
            "--audience",
            "v",
            "--nonce",
            "m",
        ])
    };
    ok(verify2());
    ok(urbis(&["credential", "suspend", c2, "--from", "registry"]));
    let r = verify2();
    assert!(!r.0 && r.2.contains("suspended"), "{}", r.2);
    ok(urbis(&[
        "credential",
        "reinstate",
        c2,
        "--from",
        "registry",
    ]));
    ok(verify2());

    // An issuer not accredited for the type: its credentials do not verify.
    let lic = dir.path().join("licence.json");
    std::fs::write(&lic, r#"{"given_name": "Ana", "categories": ["B"]}"#).unwrap();
    let c3 = dir.path().join("cred3.txt");
    let p3 = dir.path().join("pres3.txt");
    let (c3, p3) = (c3.to_str().unwrap(), p3.to_str().unwrap());
    ok(urbis(&[
        "credential",
        "issue",
        "--from",
        "registry",
        "--type",
        "urn:urbis:driving-licence",
        "--subject",
        alice,
        "--claims",
        lic.to_str().unwrap(),
        "--status-list",
        "1",
        "--out",
        c3,
    ]));
    ok(urbis(&[
        "credential",
        "present",
        c3,
        "--disclose",
        "categories",
        "--audience",
        "v",
        "--nonce",
        "m",
        "--out",
        p3,
    ]));
    let r = urbis(&[
        "credential",
        "verify",
        p3,
        "--audience",
        "v",
        "--nonce",
        "m",
    ]);
    assert!(!r.0 && r.2.contains("unaccredited"), "{}", r.2);
    // Claims a type does not have are refused at issuance.
    std::fs::write(&lic, r#"{"salary": 1}"#).unwrap();
    let r = urbis(&[
        "credential",
        "issue",
        "--from",
        "registry",
        "--type",
        "urn:urbis:driving-licence",
        "--subject",
        alice,
        "--claims",
        lic.to_str().unwrap(),
        "--status-list",
        "1",
    ]);
    assert!(!r.0 && r.2.contains("malformed"), "{}", r.2);

    // Alice rotates to her pre-committed key; the old version stays resolvable.
    ok(urbis(&["did", "rotate", "--from", "alice"]));
    let v1: serde_json::Value =
        serde_json::from_str(&ok(urbis(&["did", "show", alice, "--version-id", "1"]))).unwrap();
    assert_eq!(v1["didDocumentMetadata"]["versionId"], "1");
    assert_eq!(v1["didDocumentMetadata"]["nextVersionId"], "2");
    // After the rotation the new controlling key adds a phone's P-256 key (a passkey).
    let phone = urbis_credentials::jose::SigningKey::generate(urbis_credentials::jose::Alg::ES256);
    let jwk = phone.public().to_json().to_string();
    ok(urbis(&[
        "did",
        "add-key",
        "--from",
        "alice",
        "--fragment",
        "phone",
        "--jwk",
        &jwk,
        "--purpose",
        "authentication",
    ]));
    let doc: serde_json::Value =
        serde_json::from_str(&ok(urbis(&["did", "resolve", alice]))).unwrap();
    assert_eq!(doc["authentication"][1], format!("{alice}#phone"));
    let phone = doc["verificationMethod"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["id"] == format!("{alice}#phone"))
        .unwrap();
    assert_eq!(phone["publicKeyJwk"]["crv"], "P-256");
    // Every DID the CLI creates has an X25519 key-agreement key for encrypted sharing.
    assert_eq!(
        doc["keyAgreement"],
        serde_json::json!([format!("{alice}#enc-1")])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consent_is_granted_used_logged_and_revoked_without_naming_anyone_on_chain() {
    let node = TestNode::start();
    let dir = tempfile::tempdir().unwrap();
    let cli = Cli {
        node: &node,
        dir: dir.path(),
    };
    let urbis = |args: &[&str]| cli.run(args);
    let ok = |r: (bool, String, String)| {
        assert!(r.0, "{} {}", r.1, r.2);
        r.1
    };
    let hospital = cli.city_with("hospital");
    ok(urbis(&["did", "create", "--from", "alice"]));
    ok(urbis(&[
        "consent",
        "register-purpose",
        "--from",
        "admin",
        "--code",
        "treatment",
        "--description",
        "Medical treatment",
    ]));
    let req = dir.path().join("request.json");
    ok(urbis(&[
        "consent",
        "request",
        "--from",
        "hospital",
        "--purpose",
        "treatment",
        "--scope",
        "record:blood-2026-03,category:lab-results",
        "--out",
        req.to_str().unwrap(),
    ]));
    let out = ok(urbis(&[
        "consent",
        "grant",
        req.to_str().unwrap(),
        "--from",
        "alice",
        "--days",
        "1",
        "--max-uses",
        "2",
    ]));
    let grant = out.lines().last().unwrap().trim().to_string();
    assert_eq!(grant.len(), 64, "{out}");

    // On chain: pairwise accounts and commitments only.
    let client = urbis_client::Client::new(&node.url).unwrap();
    let g = client
        .query("consent", &["grant", &grant], false)
        .await
        .unwrap()
        .value;
    let text = g.to_string();
    let alice_addr = ok(urbis(&["keys", "show", "alice", "--output", "json"]));
    let alice_addr: serde_json::Value = serde_json::from_str(&alice_addr).unwrap();
    let hospital_addr = ok(urbis(&["keys", "show", "hospital", "--output", "json"]));
    let hospital_addr: serde_json::Value = serde_json::from_str(&hospital_addr).unwrap();
    for secret in [
        alice_addr["address"].as_str().unwrap(),
        hospital_addr["address"].as_str().unwrap(),
        &hospital,
        "blood",
        "lab-results",
    ] {
        assert!(!text.contains(secret), "{secret} is on chain: {text}");
    }

    ok(urbis(&[
        "consent",
        "use",
        "--from",
        "hospital",
        "--grant",
        &grant,
        "--item",
        "record:blood-2026-03",
    ]));
    let r = urbis(&[
        "consent",
        "use",
        "--from",
        "hospital",
        "--grant",
        &grant,
        "--item",
        "record:x-ray",
    ]);
    assert!(!r.0 && r.2.contains("out_of_scope"), "{}", r.2);

    let log: serde_json::Value =
        serde_json::from_str(&ok(urbis(&["consent", "log", "--from", "alice"]))).unwrap();
    assert_eq!(log[0]["grantee"], hospital);
    assert_eq!(log[0]["purpose"], "treatment");
    assert_eq!(log[0]["accesses"][0]["item"], "record:blood-2026-03");
    assert!(log[0]["revoked"].is_null());

    // A lost wallet: both parties restore the grant from the chain (its details are sealed
    // to their key-agreement keys); nobody else can.
    assert!(g["sealed"].as_str().unwrap().len() > 2 * (1 + 2 * 80));
    let wallet_path = dir.path().join("dids.json");
    let mut wallet: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&wallet_path).unwrap()).unwrap();
    wallet["consent"] = serde_json::json!([]);
    std::fs::write(&wallet_path, wallet.to_string()).unwrap();
    let lost: serde_json::Value =
        serde_json::from_str(&ok(urbis(&["consent", "log", "--from", "alice"]))).unwrap();
    assert_eq!(lost, serde_json::json!([]));
    for party in ["alice", "hospital"] {
        ok(urbis(&[
            "consent", "recover", "--from", party, "--grant", &grant,
        ]));
    }
    let log: serde_json::Value =
        serde_json::from_str(&ok(urbis(&["consent", "log", "--from", "alice"]))).unwrap();
    assert_eq!(log[0]["purpose"], "treatment");
    assert_eq!(log[0]["side"], "grantor");
    assert_eq!(log[0]["accesses"][0]["item"], "record:blood-2026-03");
    let log: serde_json::Value =
        serde_json::from_str(&ok(urbis(&["consent", "log", "--from", "hospital"]))).unwrap();
    assert_eq!(log[0]["side"], "grantee");
    ok(urbis(&["keys", "new", "mallory"]));
    ok(urbis(&["did", "create", "--from", "mallory"]));
    let r = urbis(&["consent", "recover", "--from", "mallory", "--grant", &grant]);
    assert!(!r.0 && r.2.contains("unauthorized"), "{}", r.2);

    ok(urbis(&[
        "consent", "revoke", "--from", "alice", "--grant", &grant,
    ]));
    let r = urbis(&[
        "consent",
        "use",
        "--from",
        "hospital",
        "--grant",
        &grant,
        "--item",
        "category:lab-results",
    ]);
    assert!(!r.0 && r.2.contains("revoked"), "{}", r.2);
    let log: serde_json::Value =
        serde_json::from_str(&ok(urbis(&["consent", "log", "--from", "alice"]))).unwrap();
    assert!(log[0]["revoked"].is_string());
    assert_eq!(log[0]["accesses"].as_array().unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blobs_are_uploaded_signed_and_read_back_by_hash() {
    let node = TestNode::start();
    let dir = tempfile::tempdir().unwrap();
    let cli = Cli {
        node: &node,
        dir: dir.path(),
    };
    cli.city_with("hospital");
    let file = dir.path().join("sealed.bin");
    let payload: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
    std::fs::write(&file, &payload).unwrap();
    let hash = cli.ok(&["blob", "put", file.to_str().unwrap(), "--from", "hospital"]);
    let hash = hash.trim();
    assert_eq!(hash.len(), 64);
    let out = dir.path().join("back.bin");
    cli.ok(&["blob", "get", hash, "--out", out.to_str().unwrap()]);
    assert_eq!(std::fs::read(&out).unwrap(), payload);
    // The blob sits in the data directory under its hash.
    assert!(
        node.data_dir
            .join("blobs")
            .join(&hash[..2])
            .join(hash)
            .exists()
    );

    // Refused: an account without a role, a bad signature, an oversize body, a wrong hash.
    cli.ok(&["keys", "new", "nobody"]);
    let r = cli.run(&["blob", "put", file.to_str().unwrap(), "--from", "nobody"]);
    assert!(!r.0 && r.2.contains("unauthorized"), "{}", r.2);
    let http = reqwest::Client::new();
    let put = |body: Vec<u8>, sig: &str, sha: Option<&str>| {
        let mut req = http
            .put(format!("{}/v1/blobs", node.url))
            .header("x-urbis-key", node.admin.public_key().to_text())
            .header("x-urbis-time", now_ms().to_string())
            .header("x-urbis-signature", sig.to_string());
        if let Some(s) = sha {
            req = req.header("x-urbis-sha256", s.to_string());
        }
        req.body(body).send()
    };
    let r = put(b"x".to_vec(), &"00".repeat(64), None).await.unwrap();
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("bad_signature"));
    let r = put(vec![0; (16 << 20) + 10], &"00".repeat(64), None)
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
    let r = put(b"x".to_vec(), &"00".repeat(64), Some(&"ab".repeat(32)))
        .await
        .unwrap();
    assert!(r.text().await.unwrap().contains("invalid_argument"));
    let missing = cli.run(&[
        "blob",
        "get",
        &"ab".repeat(32),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(
        !missing.0 && missing.2.contains("not_found"),
        "{}",
        missing.2
    );
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn departments_share_encrypted_files_selectively() {
    let node = TestNode::start();
    let dir = tempfile::tempdir().unwrap();
    let cli = Cli {
        node: &node,
        dir: dir.path(),
    };
    let planning = cli.city_with("planning");
    for d in ["parks", "finance"] {
        cli.ok(&["keys", "new", d]);
        cli.ok(&[
            "tx",
            "accounts",
            "grant-role",
            "--from",
            "admin",
            "--account",
            d,
            "--role",
            "department",
        ]);
        cli.ok(&["did", "create", "--from", d, "--subject", "organisation"]);
    }
    let file = dir.path().join("plan.txt");
    let marker = "SECRET-MARKER-zoning-plan-2027";
    std::fs::write(&file, format!("draft: {marker}\n")).unwrap();
    let out = cli.ok(&[
        "share",
        "put",
        file.to_str().unwrap(),
        "--from",
        "planning",
        "--to",
        "parks",
    ]);
    let id = out.lines().last().unwrap().trim().to_string();
    assert_eq!(id.len(), 64, "{out}");
    // The plaintext is nowhere in the node's data directory: only ciphertext is stored.
    let mut found = false;
    for entry in common::walk(&node.data_dir) {
        // Files come and go while the node runs (journals, temporaries): read what is there.
        let Ok(bytes) = std::fs::read(&entry) else {
            continue;
        };
        if bytes.windows(marker.len()).any(|w| w == marker.as_bytes()) {
            found = true;
        }
    }
    assert!(!found, "the plaintext reached the node");

    let got = dir.path().join("got.txt");
    let g = got.to_str().unwrap();
    cli.ok(&["share", "get", &id, "--as", "parks", "--out", g]);
    assert!(std::fs::read_to_string(&got).unwrap().contains(marker));
    let r = cli.run(&["share", "get", &id, "--as", "finance", "--out", g]);
    assert!(!r.0 && r.2.contains("unauthorized"), "{}", r.2);
    cli.ok(&[
        "share",
        "add-recipient",
        &id,
        "--from",
        "planning",
        "--to",
        "finance",
    ]);
    cli.ok(&["share", "get", &id, "--as", "finance", "--out", g]);
    cli.ok(&[
        "share",
        "revoke",
        &id,
        "--from",
        "planning",
        "--recipient",
        "parks",
    ]);
    let r = cli.run(&["share", "get", &id, "--as", "parks", "--out", g]);
    assert!(!r.0 && r.2.contains("unauthorized"), "{}", r.2);
    cli.ok(&["share", "get", &id, "--as", "finance", "--out", g]);
    let log: serde_json::Value = serde_json::from_str(&cli.ok(&["share", "log", &id])).unwrap();
    let versions = log.as_array().unwrap();
    assert_eq!(versions.len(), 3);
    assert_eq!(versions[0]["readers"].as_array().unwrap().len(), 2);
    assert_eq!(versions[1]["readers"].as_array().unwrap().len(), 3);
    let last: Vec<_> = versions[2]["readers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_str().unwrap())
        .collect();
    assert!(last.contains(&planning.as_str()) && last.len() == 2);
}
