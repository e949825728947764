//! SD-JWT VC parsing and verification (RFC 9901, SD-JWT VC, token status lists): compact
//! credentials and presentations with and without key binding, their disclosures, JWS
//! headers, JWKs and status lists — a verdict for anything, never a panic.
#![no_main]

use serde_json::Value;
use urbis_credentials::jose::{Jws, PublicJwk};
use urbis_credentials::sdjwt::{Disclosure, KbCheck};
use urbis_credentials::status::StatusList;
use urbis_credentials::vc;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let issuer = urbis_fuzz::issuer_key().public();
    let kb = KbCheck {
        audience: urbis_fuzz::KB_AUDIENCE,
        nonce: urbis_fuzz::KB_NONCE,
        now: urbis_fuzz::KB_NOW,
        max_age_s: 300,
    };
    let bound = vc::verify(text, |_| Ok(issuer.clone()), Some(&kb), urbis_fuzz::KB_NOW);
    let plain = vc::verify(text, |_| Ok(issuer.clone()), None, urbis_fuzz::KB_NOW);
    if let Ok(v) = &bound {
        // What verifies with its key binding verifies without it, to the same claims.
        let p = plain
            .as_ref()
            .expect("a bound presentation also verifies unbound");
        assert_eq!(p.inner.payload, v.inner.payload);
    }
    for part in text.split('~') {
        let _ = Disclosure::parse(part);
        if let Ok(jws) = Jws::parse(part) {
            let _ = jws.verify(&issuer);
            let _ = jws.typ();
        }
    }
    if let Ok(v) = serde_json::from_str::<Value>(text) {
        let _ = PublicJwk::from_json(&v);
        if let Ok(list) = StatusList::from_json(&v) {
            let j = serde_json::to_value(list.to_json()).expect("a status list has a JSON form");
            let back = StatusList::from_json(&j).expect("its JSON form reads back");
            assert_eq!((back.bits(), back.bytes()), (list.bits(), list.bytes()));
        }
    }
});
