//! Interoperability with the IETF reference implementation of SD-JWT (PyPI `sd-jwt`, pinned in
//! `.ci/interop-venv`, which this test runs to get its interpreter: it needs `python3` with
//! `venv`, and PyPI the first time). Urbis-issued credentials and presentations verify there,
//! with ES256 and EdDSA holder keys; a presentation it issues verifies here.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::process::Command;

use serde_json::{Value, json};
use urbis_credentials::jose::{Alg, PublicJwk, SigningKey};
use urbis_credentials::sdjwt::{self, Binding, KbCheck, present};
use urbis_credentials::vc;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn python() -> PathBuf {
    if let Ok(p) = std::env::var("URBIS_SDJWT_PYTHON") {
        return PathBuf::from(p);
    }
    let out = Command::new(repo().join(".ci/interop-venv"))
        .output()
        .expect("run .ci/interop-venv");
    assert!(
        out.status.success(),
        ".ci/interop-venv failed (it needs python3 with venv, and PyPI): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    PathBuf::from(String::from_utf8(out.stdout).unwrap().trim())
}

fn script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/interop.py")
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// Ask the reference implementation to verify `presentation`; its verified payload, or its
/// complaint.
fn python_verifies(
    py: &PathBuf,
    dir: &std::path::Path,
    presentation: &str,
    issuer: &PublicJwk,
    nonce: &str,
    kb_alg: Alg,
) -> Result<Value, String> {
    let job = dir.join("job.json");
    let spec = json!({
        "presentation": presentation,
        "issuer_jwk": issuer.to_json(),
        "aud": "verifier-py",
        "nonce": nonce,
        "kb_alg": kb_alg.as_str(),
    });
    std::fs::write(&job, spec.to_string()).unwrap();
    let out = Command::new(py)
        .arg(script())
        .arg("verify")
        .arg(&job)
        .output()
        .unwrap();
    if out.status.success() {
        Ok(serde_json::from_slice(&out.stdout).unwrap())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

#[test]
fn the_reference_implementation_and_urbis_verify_each_other() {
    let py = python();
    let dir = tempfile::tempdir().unwrap();
    for holder_alg in [Alg::ES256, Alg::EdDSA] {
        let issuer = SigningKey::generate(Alg::EdDSA);
        let holder = SigningKey::generate(holder_alg);
        let claims = json!({
            "given_name": "Ana", "family_name": "Peeters",
            "address": {"locality": "Ghent", "street_address": "Veldstraat 1"},
        });
        let sd = vc::issue(
            &issuer,
            vc::Request {
                iss: "did:urbis:0000000000000000000000000000000000000001",
                kid: "did:urbis:0000000000000000000000000000000000000001#key-1",
                vct: "urn:urbis:resident",
                iat: now(),
                exp: None,
                sub: None,
                holder: &holder.public(),
                status: None,
                claims: claims.as_object().cloned().unwrap(),
                disclosable: &[
                    "given_name",
                    "family_name",
                    "address.locality",
                    "address.street_address",
                ],
            },
        )
        .unwrap();
        let p = present(
            &sd,
            &["given_name", "address.locality"],
            Some(Binding {
                holder: &holder,
                audience: "verifier-py",
                nonce: "n-1",
                iat: now(),
            }),
        )
        .unwrap();
        let payload = python_verifies(&py, dir.path(), &p, &issuer.public(), "n-1", holder_alg)
            .unwrap_or_else(|e| {
                panic!("the reference implementation refused an Urbis presentation ({holder_alg:?}): {e}")
            });
        assert_eq!(payload["given_name"], "Ana");
        assert_eq!(payload["address"]["locality"], "Ghent");
        assert!(payload.get("family_name").is_none());
        assert!(payload["address"].get("street_address").is_none());
        assert_eq!(payload["vct"], "urn:urbis:resident");
        // Bound to another nonce, or signed by another issuer: refused there too.
        assert!(python_verifies(&py, dir.path(), &p, &issuer.public(), "n-2", holder_alg).is_err());
        let other = SigningKey::generate(Alg::EdDSA).public();
        assert!(python_verifies(&py, dir.path(), &p, &other, "n-1", holder_alg).is_err());
    }

    // The other way: issued and presented by the reference implementation, verified here.
    let out = Command::new(&py)
        .arg(script())
        .arg("issue")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let job: Value = serde_json::from_slice(&out.stdout).unwrap();
    let issuer = PublicJwk::from_json(&job["issuer_jwk"]).unwrap();
    let presentation = job["presentation"].as_str().unwrap();
    let check = KbCheck {
        audience: "urbis",
        nonce: "n-42",
        now: now(),
        max_age_s: 300,
    };
    let v = vc::verify(presentation, |_| Ok(issuer.clone()), Some(&check), now()).unwrap();
    assert_eq!(v.vct, "urn:urbis:resident");
    assert_eq!(v.inner.claims["given_name"], "Ana");
    assert_eq!(v.inner.claims["address"]["locality"], "Ghent");
    assert!(v.inner.claims.get("family_name").is_none());
    assert!(v.inner.claims["address"].get("street_address").is_none());
    let wrong = KbCheck {
        nonce: "n-43",
        ..check
    };
    assert!(sdjwt::verify(presentation, |_| Ok(issuer.clone()), Some(&wrong)).is_err());
}
