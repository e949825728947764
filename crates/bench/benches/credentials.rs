//! Verifying an SD-JWT VC presentation: EdDSA issuer signature, 10 disclosures, a KB-JWT, and
//! a status check against a 100,000-entry list held locally (decoded from its JSON form once).

use criterion::{Criterion, criterion_group, criterion_main};
use serde_json::{Map, Value};
use std::hint::black_box;
use urbis_credentials::jose::{Alg, SigningKey};
use urbis_credentials::sdjwt::{Binding, KbCheck, present};
use urbis_credentials::status::{StatusList, StatusRef};
use urbis_credentials::vc;

fn bench(c: &mut Criterion) {
    let issuer = SigningKey::generate(Alg::EdDSA);
    let holder = SigningKey::generate(Alg::EdDSA);
    let names: Vec<String> = (0..10).map(|i| format!("claim_{i}")).collect();
    let mut claims = Map::new();
    for n in &names {
        claims.insert(n.clone(), Value::String(format!("value of {n}")));
    }
    let paths: Vec<&str> = names.iter().map(String::as_str).collect();
    let sd = vc::issue(
        &issuer,
        vc::Request {
            iss: "did:urbis:0000000000000000000000000000000000000001",
            kid: "did:urbis:0000000000000000000000000000000000000001#key-1",
            vct: "urn:urbis:resident",
            iat: 1_000,
            exp: None,
            sub: None,
            holder: &holder.public(),
            status: Some(StatusRef {
                idx: 4_242,
                uri: "urn:urbis:status-list:1".into(),
            }),
            claims,
            disclosable: &paths,
        },
    )
    .expect("issues");
    let presentation = present(
        &sd,
        &paths,
        Some(Binding {
            holder: &holder,
            audience: "verifier",
            nonce: "n",
            iat: 1_000,
        }),
    )
    .expect("presents");
    let mut list = StatusList::new(1, 100_000).expect("list");
    list.set(17, 1).expect("in range");
    let list = StatusList::from_json(&serde_json::to_value(list.to_json()).expect("json"))
        .expect("decodes");
    let issuer_key = issuer.public();
    let kb = KbCheck {
        audience: "verifier",
        nonce: "n",
        now: 1_000,
        max_age_s: 300,
    };
    c.bench_function(
        "credentials/verify_presentation_eddsa_10_disclosures",
        |b| {
            b.iter(|| {
                let v = vc::verify(
                    black_box(&presentation),
                    |_| Ok(issuer_key.clone()),
                    Some(&kb),
                    1_000,
                )
                .expect("verifies");
                let idx = v.status.as_ref().expect("has status").idx;
                assert_eq!(list.get(idx), Some(0));
                v
            })
        },
    );
}

criterion_group!(benches, bench);
criterion_main!(benches);
