//! The SD-JWT VC profile (draft-ietf-oauth-sd-jwt-vc) over [`crate::sdjwt`]: header `typ`
//! `dc+sd-jwt` (the earlier `vc+sd-jwt` is accepted when verifying) and `kid` naming the
//! issuer's key; in the clear (never selectively disclosable) `iss`, `vct`, `iat`, `nbf`,
//! `exp`, `cnf` (holder binding, a JWK) and `status`; everything else as the type says.

use serde_json::{Map, Value};

use crate::CredError;
use crate::jose::{Jws, PublicJwk, SigningKey};
use crate::sdjwt::{self, KbCheck, SdJwt};
use crate::status::StatusRef;

/// The `typ` of an SD-JWT VC.
pub const TYP: &str = "dc+sd-jwt";
/// The `typ` of earlier drafts, accepted when verifying.
pub const LEGACY_TYP: &str = "vc+sd-jwt";
/// Claims that must be in the clear.
pub const CLEAR_CLAIMS: &[&str] = &["iss", "vct", "iat", "nbf", "exp", "cnf", "status"];

/// What to issue.
pub struct Request<'a> {
    /// The issuer (a DID) and the key id (`<did>#<fragment>`) its key has in its document.
    pub iss: &'a str,
    pub kid: &'a str,
    pub vct: &'a str,
    /// Seconds since the Unix epoch.
    pub iat: u64,
    pub exp: Option<u64>,
    /// The subject (e.g. the holder's DID), if the type names one.
    pub sub: Option<&'a str>,
    pub holder: &'a PublicJwk,
    pub status: Option<StatusRef>,
    /// The type's claims, and which of them are selectively disclosable (dot paths).
    pub claims: Map<String, Value>,
    pub disclosable: &'a [&'a str],
}

/// Issue an SD-JWT VC.
pub fn issue(key: &SigningKey, req: Request<'_>) -> Result<SdJwt, CredError> {
    let mut claims = req.claims;
    for reserved in CLEAR_CLAIMS.iter().chain(&["sub", "_sd", "_sd_alg"]) {
        if claims.contains_key(*reserved) {
            return Err(CredError::Malformed(format!(
                "claim {reserved} is set by the issuer, not by the type's claims"
            )));
        }
    }
    for p in req.disclosable {
        let top = p.split('.').next().unwrap_or_default();
        if CLEAR_CLAIMS.contains(&top) {
            return Err(CredError::Malformed(format!(
                "{top} may not be disclosable"
            )));
        }
    }
    claims.insert("iss".into(), req.iss.into());
    claims.insert("vct".into(), req.vct.into());
    claims.insert("iat".into(), req.iat.into());
    if let Some(exp) = req.exp {
        claims.insert("exp".into(), exp.into());
    }
    if let Some(sub) = req.sub {
        claims.insert("sub".into(), sub.into());
    }
    claims.insert(
        "cnf".into(),
        serde_json::json!({"jwk": req.holder.to_json()}),
    );
    if let Some(s) = &req.status {
        claims.insert("status".into(), s.to_claim());
    }
    let mut header = Map::new();
    header.insert("typ".into(), TYP.into());
    header.insert("kid".into(), req.kid.into());
    sdjwt::issue(key, header, claims, req.disclosable)
}

/// A verified SD-JWT VC.
#[derive(Clone, Debug)]
pub struct VerifiedVc {
    pub iss: String,
    pub kid: Option<String>,
    pub vct: String,
    pub iat: Option<u64>,
    pub exp: Option<u64>,
    pub status: Option<StatusRef>,
    pub inner: sdjwt::Verified,
}

/// Verify an SD-JWT VC presentation: `issuer_key` gets the parsed JWT (to resolve `kid` as it
/// was at `iat`); validity is checked against `kb.now` (or `now` when no key binding is asked
/// for). Status is the caller's to check (it needs the list).
pub fn verify(
    compact: &str,
    issuer_key: impl FnOnce(&Jws) -> Result<PublicJwk, CredError>,
    kb: Option<&KbCheck<'_>>,
    now: u64,
) -> Result<VerifiedVc, CredError> {
    let mut typ_ok = true;
    let v = sdjwt::verify(
        compact,
        |jws| {
            typ_ok = matches!(jws.typ(), Some(TYP) | Some(LEGACY_TYP));
            issuer_key(jws)
        },
        kb,
    )?;
    if !typ_ok {
        return Err(CredError::Malformed(format!(
            "the credential's typ is not {TYP}"
        )));
    }
    let text = |name: &str| {
        v.payload
            .get(name)
            .and_then(Value::as_str)
            .map(str::to_string)
    };
    let num = |name: &str| v.payload.get(name).and_then(Value::as_u64);
    let iss = text("iss").ok_or_else(|| CredError::Malformed("no iss".into()))?;
    let vct = text("vct").ok_or_else(|| CredError::Malformed("no vct".into()))?;
    if let Some(exp) = num("exp")
        && now >= exp
    {
        return Err(CredError::Expired);
    }
    if let Some(nbf) = num("nbf")
        && now < nbf
    {
        return Err(CredError::NotYetValid);
    }
    let status = v
        .payload
        .get("status")
        .map(StatusRef::from_claim)
        .transpose()?;
    Ok(VerifiedVc {
        iss,
        kid: v
            .header
            .get("kid")
            .and_then(Value::as_str)
            .map(str::to_string),
        vct,
        iat: num("iat"),
        exp: num("exp"),
        status,
        inner: v,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jose::Alg;
    use crate::sdjwt::{Binding, present};

    #[test]
    fn a_resident_credential_round_trips_and_expires() {
        let issuer = SigningKey::generate(Alg::EdDSA);
        let holder = SigningKey::generate(Alg::ES256);
        let claims = serde_json::json!({"given_name": "Ana", "address": {"locality": "Ghent"}});
        let sd = issue(
            &issuer,
            Request {
                iss: "did:urbis:abc",
                kid: "did:urbis:abc#key-1",
                vct: "urn:urbis:resident",
                iat: 1_000,
                exp: Some(2_000),
                sub: None,
                holder: &holder.public(),
                status: Some(StatusRef {
                    idx: 7,
                    uri: "urbis:status/1".into(),
                }),
                claims: claims.as_object().cloned().unwrap(),
                disclosable: &["given_name", "address.locality"],
            },
        )
        .unwrap();
        let p = present(
            &sd,
            &["address.locality"],
            Some(Binding {
                holder: &holder,
                audience: "a",
                nonce: "n",
                iat: 1_500,
            }),
        )
        .unwrap();
        let kb = KbCheck {
            audience: "a",
            nonce: "n",
            now: 1_500,
            max_age_s: 60,
        };
        let v = verify(&p, |_| Ok(issuer.public()), Some(&kb), 1_500).unwrap();
        assert_eq!(v.vct, "urn:urbis:resident");
        assert_eq!(v.kid.as_deref(), Some("did:urbis:abc#key-1"));
        assert_eq!(v.status.as_ref().unwrap().idx, 7);
        assert_eq!(v.inner.claims["address"]["locality"], "Ghent");
        assert!(v.inner.claims.get("given_name").is_none());
        let late = KbCheck { now: 2_000, ..kb };
        let late_p = present(
            &sd,
            &["given_name"],
            Some(Binding {
                holder: &holder,
                audience: "a",
                nonce: "n",
                iat: 2_000,
            }),
        )
        .unwrap();
        assert!(matches!(
            verify(&late_p, |_| Ok(issuer.public()), Some(&late), 2_000),
            Err(CredError::Expired)
        ));
    }

    #[test]
    fn reserved_claims_stay_in_the_clear() {
        let issuer = SigningKey::generate(Alg::EdDSA);
        let holder = issuer.public();
        let req = |claims: Value, disclosable: &'static [&'static str]| Request {
            iss: "did:urbis:abc",
            kid: "did:urbis:abc#key-1",
            vct: "urn:urbis:resident",
            iat: 1,
            exp: None,
            sub: None,
            holder: &holder,
            status: None,
            claims: claims.as_object().cloned().unwrap(),
            disclosable,
        };
        assert!(issue(&issuer, req(serde_json::json!({"iss": "x"}), &[])).is_err());
        assert!(issue(&issuer, req(serde_json::json!({"a": 1}), &["vct"])).is_err());
    }
}
