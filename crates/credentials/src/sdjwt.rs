//! SD-JWT (RFC 9901): selectively disclosable claims, presentations with key binding.
//!
//! Compact form: `<issuer-signed JWT>~<disclosure>~…~<disclosure>~[<KB-JWT>]`. A disclosure is
//! the base64url of the JSON array `[salt, name, value]` (an object property) or `[salt,
//! value]` (an array element); its digest is `base64url(SHA-256(disclosure as ASCII))`, listed
//! in the `_sd` array of the object that holds the claim (or as `{"...": digest}` in the array)
//! of the signed payload, with `"_sd_alg": "sha-256"` at the top. A KB-JWT (`typ: kb+jwt`)
//! signed by the holder key of the payload's `cnf.jwk` carries `iat`, `aud`, `nonce` and
//! `sd_hash`, the digest of everything before it (ending with `~`).

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value};
use sha2::{Digest as _, Sha256};

use crate::CredError;
use crate::jose::{Jws, PublicJwk, SigningKey, b64, sign_compact, unb64};

/// The only hash algorithm used for digests.
pub const SD_ALG: &str = "sha-256";
/// The `typ` of a key-binding JWT.
pub const KB_TYP: &str = "kb+jwt";

/// `base64url(SHA-256(text))`.
pub fn digest(text: &str) -> String {
    b64(&Sha256::digest(text.as_bytes()))
}

fn salt() -> String {
    let mut s = [0u8; 16];
    getrandom::fill(&mut s).expect("operating system randomness is available");
    b64(&s)
}

/// One disclosure.
#[derive(Clone, Debug, PartialEq)]
pub struct Disclosure {
    /// As it travels (base64url of the JSON array).
    pub encoded: String,
    pub salt: String,
    /// The claim name; `None` for an array element.
    pub name: Option<String>,
    pub value: Value,
}

impl Disclosure {
    /// A new disclosure with a fresh 128-bit salt.
    pub fn new(name: Option<&str>, value: Value) -> Disclosure {
        let salt = salt();
        let array = match name {
            Some(n) => serde_json::json!([salt, n, value]),
            None => serde_json::json!([salt, value]),
        };
        Disclosure {
            encoded: b64(array.to_string().as_bytes()),
            salt,
            name: name.map(str::to_string),
            value,
        }
    }

    /// Decode one disclosure (RFC 9901 §7.1 step 3).
    pub fn parse(encoded: &str) -> Result<Disclosure, CredError> {
        let bad = |m: &str| CredError::BadDisclosure(m.to_string());
        let array: Vec<Value> = serde_json::from_slice(&unb64(encoded)?)
            .map_err(|_| bad("a disclosure is a JSON array"))?;
        let salt = array
            .first()
            .and_then(Value::as_str)
            .ok_or_else(|| bad("a disclosure starts with its salt, a string"))?
            .to_string();
        let (name, value) = match array.as_slice() {
            [_, Value::String(n), v] => {
                if n == "_sd" || n == "..." {
                    return Err(bad("a disclosure may not name _sd or ..."));
                }
                (Some(n.clone()), v.clone())
            }
            [_, v] => (None, v.clone()),
            _ => {
                return Err(bad(
                    "a disclosure has 2 or 3 elements, a claim name a string",
                ));
            }
        };
        Ok(Disclosure {
            encoded: encoded.to_string(),
            salt,
            name,
            value,
        })
    }

    pub fn digest(&self) -> String {
        digest(&self.encoded)
    }
}

/// An issued SD-JWT: the signed JWT and every disclosure.
#[derive(Clone, Debug)]
pub struct SdJwt {
    pub jwt: String,
    pub disclosures: Vec<Disclosure>,
}

impl SdJwt {
    /// `<jwt>~<d1>~…~<dn>~` (without key binding).
    pub fn serialize(&self) -> String {
        let mut s = self.jwt.clone();
        s.push('~');
        for d in &self.disclosures {
            s.push_str(&d.encoded);
            s.push('~');
        }
        s
    }

    /// Split a compact SD-JWT or presentation into the JWT, its disclosures and the KB-JWT (if
    /// any).
    pub fn split(compact: &str) -> Result<(SdJwt, Option<String>), CredError> {
        let mut parts: Vec<&str> = compact.split('~').collect();
        if parts.len() < 2 {
            return Err(CredError::Malformed(
                "an SD-JWT is <jwt>~[<disclosure>~]…[<kb-jwt>]".into(),
            ));
        }
        let last = parts.pop().unwrap_or_default();
        let kb = (!last.is_empty()).then(|| last.to_string());
        let jwt = parts.remove(0).to_string();
        let disclosures = parts
            .into_iter()
            .map(Disclosure::parse)
            .collect::<Result<Vec<_>, _>>()?;
        Ok((SdJwt { jwt, disclosures }, kb))
    }
}

/// Make the claims at `paths` (dot-separated names, e.g. `address.locality`) of `claims`
/// selectively disclosable and sign the result. Nested paths are handled innermost first, so
/// `address` and `address.locality` may both be listed.
pub fn issue(
    key: &SigningKey,
    header: Map<String, Value>,
    mut claims: Map<String, Value>,
    paths: &[&str],
) -> Result<SdJwt, CredError> {
    let mut sorted: Vec<Vec<&str>> = paths.iter().map(|p| p.split('.').collect()).collect();
    sorted.sort_by_key(|p| std::cmp::Reverse(p.len()));
    let mut disclosures = Vec::new();
    for path in sorted {
        let (name, parents) = path
            .split_last()
            .ok_or_else(|| CredError::Malformed("empty claim path".into()))?;
        let mut obj = &mut claims;
        for p in parents {
            obj = obj
                .get_mut(*p)
                .and_then(Value::as_object_mut)
                .ok_or_else(|| {
                    CredError::Malformed(format!("no object {p} to hold {}", path.join(".")))
                })?;
        }
        let value = obj.remove(*name).ok_or_else(|| {
            CredError::Malformed(format!("no claim {} to make disclosable", path.join(".")))
        })?;
        let d = Disclosure::new(Some(name), value);
        let sd = obj
            .entry("_sd")
            .or_insert_with(|| Value::Array(Vec::new()))
            .as_array_mut()
            .ok_or_else(|| CredError::Malformed("_sd is reserved".into()))?;
        sd.push(Value::String(d.digest()));
        disclosures.push(d);
    }
    // Hide the original order of the claims (RFC 9901 §4.2.4.1): sort every `_sd` array.
    fn sort_sd(v: &mut Value) {
        match v {
            Value::Object(m) => {
                if let Some(Value::Array(a)) = m.get_mut("_sd") {
                    a.sort_by(|x, y| x.as_str().cmp(&y.as_str()));
                }
                m.values_mut().for_each(sort_sd);
            }
            Value::Array(a) => a.iter_mut().for_each(sort_sd),
            _ => {}
        }
    }
    let mut payload = Value::Object(claims);
    sort_sd(&mut payload);
    if !disclosures.is_empty() {
        payload["_sd_alg"] = Value::String(SD_ALG.into());
    }
    for d in &mut disclosures {
        sort_sd(&mut d.value);
    }
    Ok(SdJwt {
        jwt: sign_compact(key, header, &payload),
        disclosures,
    })
}

/// The result of walking a payload with its disclosures.
struct Walk<'a> {
    by_digest: BTreeMap<String, usize>,
    disclosures: &'a [Disclosure],
    seen: BTreeSet<String>,
    /// Path (dot-joined) of each used disclosure.
    paths: Vec<Option<String>>,
}

impl Walk<'_> {
    fn take(&mut self, digest: &str) -> Result<Option<usize>, CredError> {
        if !self.seen.insert(digest.to_string()) {
            return Err(CredError::DuplicateDigest);
        }
        let Some(&i) = self.by_digest.get(digest) else {
            return Ok(None); // a decoy, or a claim not disclosed
        };
        Ok(Some(i))
    }

    fn value(&mut self, v: Value, path: &str) -> Result<Value, CredError> {
        match v {
            Value::Object(m) => Ok(Value::Object(self.object(m, path)?)),
            Value::Array(a) => {
                let mut out = Vec::with_capacity(a.len());
                for (n, item) in a.into_iter().enumerate() {
                    let here = join(path, &n.to_string());
                    match item {
                        Value::Object(m) if m.len() == 1 && m.contains_key("...") => {
                            let d = m["..."]
                                .as_str()
                                .ok_or_else(|| {
                                    CredError::BadDisclosure("an array digest is a string".into())
                                })?
                                .to_string();
                            if let Some(i) = self.take(&d)? {
                                let disc = &self.disclosures[i];
                                if disc.name.is_some() {
                                    return Err(CredError::BadDisclosure(
                                        "an array element's disclosure has no claim name".into(),
                                    ));
                                }
                                self.paths[i] = Some(here.clone());
                                let inner = disc.value.clone();
                                out.push(self.value(inner, &here)?);
                            }
                        }
                        other => out.push(self.value(other, &here)?),
                    }
                }
                Ok(Value::Array(out))
            }
            other => Ok(other),
        }
    }

    fn object(
        &mut self,
        mut m: Map<String, Value>,
        path: &str,
    ) -> Result<Map<String, Value>, CredError> {
        let sd = m.remove("_sd");
        let mut out = Map::new();
        for (k, v) in m {
            let here = join(path, &k);
            out.insert(k, self.value(v, &here)?);
        }
        if let Some(sd) = sd {
            let list = sd
                .as_array()
                .ok_or_else(|| CredError::BadDisclosure("_sd is an array".into()))?;
            for d in list {
                let d = d
                    .as_str()
                    .ok_or_else(|| CredError::BadDisclosure("an _sd digest is a string".into()))?;
                if let Some(i) = self.take(d)? {
                    let disc = &self.disclosures[i];
                    let Some(name) = disc.name.clone() else {
                        return Err(CredError::BadDisclosure(
                            "an object property's disclosure names its claim".into(),
                        ));
                    };
                    if out.contains_key(&name) {
                        return Err(CredError::BadDisclosure(format!(
                            "claim {name} is both disclosed and in the clear"
                        )));
                    }
                    let here = join(path, &name);
                    self.paths[i] = Some(here.clone());
                    let inner = disc.value.clone();
                    let v = self.value(inner, &here)?;
                    out.insert(name, v);
                }
            }
        }
        Ok(out)
    }
}

fn join(path: &str, name: &str) -> String {
    if path.is_empty() {
        name.to_string()
    } else {
        format!("{path}.{name}")
    }
}

/// The claims of `payload` with `disclosures` applied (RFC 9901 §7.1 steps 3–5): `_sd` and
/// `_sd_alg` removed, every disclosure used exactly once, no digest twice. Also returns the
/// path of each disclosure.
pub fn reconstruct(
    payload: &Map<String, Value>,
    disclosures: &[Disclosure],
) -> Result<(Map<String, Value>, Vec<String>), CredError> {
    match payload.get("_sd_alg") {
        None => {}
        Some(Value::String(a)) if a == SD_ALG => {}
        Some(other) => return Err(CredError::UnsupportedAlg(format!("_sd_alg {other}"))),
    }
    let (claims, indexed) = reconstruct_with_index(payload, disclosures)?;
    if indexed.len() != disclosures.len() {
        return Err(CredError::BadDisclosure(
            "a disclosure is not referenced by the signed payload".into(),
        ));
    }
    Ok((claims, indexed.into_iter().map(|(_, p)| p).collect()))
}

/// Key binding for a presentation.
pub struct Binding<'a> {
    pub holder: &'a SigningKey,
    pub audience: &'a str,
    pub nonce: &'a str,
    /// Seconds since the Unix epoch.
    pub iat: u64,
}

/// A presentation of `sd_jwt` disclosing the claims at `paths` (a path discloses its nested
/// claims too, and a nested claim needs its parents' disclosures, which are added), with a
/// KB-JWT if `binding` is given.
pub fn present(
    sd_jwt: &SdJwt,
    paths: &[&str],
    binding: Option<Binding<'_>>,
) -> Result<String, CredError> {
    let jws = Jws::parse(&sd_jwt.jwt)?;
    let (_, indexed) = reconstruct_with_index(&jws.payload, &sd_jwt.disclosures)?;
    let path_of: BTreeMap<usize, String> = indexed.into_iter().collect();
    for want in paths {
        if !path_of.values().any(|p| covers(p, want) || covers(want, p)) {
            return Err(CredError::Malformed(format!(
                "the credential has no disclosable claim {want}"
            )));
        }
    }
    let chosen: Vec<&Disclosure> = sd_jwt
        .disclosures
        .iter()
        .enumerate()
        .filter(|(i, _)| {
            path_of
                .get(i)
                .is_some_and(|p| paths.iter().any(|w| covers(p, w) || covers(w, p)))
        })
        .map(|(_, d)| d)
        .collect();
    let mut out = sd_jwt.jwt.clone();
    out.push('~');
    for d in chosen {
        out.push_str(&d.encoded);
        out.push('~');
    }
    if let Some(b) = binding {
        let mut header = Map::new();
        header.insert("typ".into(), Value::String(KB_TYP.into()));
        let payload = serde_json::json!({
            "iat": b.iat,
            "aud": b.audience,
            "nonce": b.nonce,
            "sd_hash": digest(&out),
        });
        out.push_str(&sign_compact(b.holder, header, &payload));
    }
    Ok(out)
}

/// Whether claim path `outer` is `inner` or one of its parents (`address` covers
/// `address.locality`).
fn covers(outer: &str, inner: &str) -> bool {
    inner == outer
        || inner
            .strip_prefix(outer)
            .is_some_and(|rest| rest.starts_with('.'))
}

/// Each used disclosure's index and claim path.
type IndexedPaths = Vec<(usize, String)>;

/// Like [`reconstruct`], with each disclosure's index next to its path.
fn reconstruct_with_index(
    payload: &Map<String, Value>,
    disclosures: &[Disclosure],
) -> Result<(Map<String, Value>, IndexedPaths), CredError> {
    let mut by_digest = BTreeMap::new();
    for (i, d) in disclosures.iter().enumerate() {
        if by_digest.insert(d.digest(), i).is_some() {
            return Err(CredError::DuplicateDigest);
        }
    }
    let mut walk = Walk {
        by_digest,
        disclosures,
        seen: BTreeSet::new(),
        paths: vec![None; disclosures.len()],
    };
    let mut top = payload.clone();
    top.remove("_sd_alg");
    let claims = walk.object(top, "")?;
    let paths = walk
        .paths
        .into_iter()
        .enumerate()
        .filter_map(|(i, p)| p.map(|p| (i, p)))
        .collect();
    Ok((claims, paths))
}

/// What a verifier requires of the key binding.
#[derive(Clone, Debug)]
pub struct KbCheck<'a> {
    pub audience: &'a str,
    pub nonce: &'a str,
    /// Now, seconds since the Unix epoch.
    pub now: u64,
    /// How old (or, by clock skew, how far in the future) a KB-JWT's `iat` may be, seconds.
    pub max_age_s: u64,
}

/// A verified SD-JWT.
#[derive(Clone, Debug)]
pub struct Verified {
    pub header: Map<String, Value>,
    /// The signed payload as issued (with `_sd` digests).
    pub payload: Map<String, Value>,
    /// The claims: payload with the presented disclosures applied.
    pub claims: Map<String, Value>,
    /// Paths of the disclosed claims.
    pub disclosed: Vec<String>,
    /// The holder key (`cnf.jwk`) that signed the KB-JWT, if it was checked.
    pub holder: Option<PublicJwk>,
}

/// Verify a compact SD-JWT or presentation: the issuer's signature with the key `issuer_key`
/// returns for the parsed JWT, the disclosures, and, if `kb` is given, the KB-JWT (required
/// then) against the payload's `cnf.jwk`, audience, nonce, age and `sd_hash`.
pub fn verify(
    compact: &str,
    issuer_key: impl FnOnce(&Jws) -> Result<PublicJwk, CredError>,
    kb: Option<&KbCheck<'_>>,
) -> Result<Verified, CredError> {
    let (sd, kb_jwt) = SdJwt::split(compact)?;
    let jws = Jws::parse(&sd.jwt)?;
    let key = issuer_key(&jws)?;
    jws.verify(&key)?;
    let (claims, paths) = reconstruct(&jws.payload, &sd.disclosures)?;
    let mut holder = None;
    if let Some(check) = kb {
        let kb_jwt = kb_jwt.ok_or(CredError::KbMissing)?;
        let hjwk = jws
            .payload
            .get("cnf")
            .and_then(|c| c.get("jwk"))
            .ok_or_else(|| CredError::KbInvalid("the credential has no cnf.jwk".into()))
            .and_then(PublicJwk::from_json)?;
        let kbj = Jws::parse(&kb_jwt)?;
        if kbj.typ() != Some(KB_TYP) {
            return Err(CredError::KbInvalid("KB-JWT typ is not kb+jwt".into()));
        }
        kbj.verify(&hjwk)?;
        let p = &kbj.payload;
        if p.get("aud").and_then(Value::as_str) != Some(check.audience) {
            return Err(CredError::WrongAudience);
        }
        if p.get("nonce").and_then(Value::as_str) != Some(check.nonce) {
            return Err(CredError::WrongNonce);
        }
        let iat = p
            .get("iat")
            .and_then(Value::as_u64)
            .ok_or_else(|| CredError::KbInvalid("KB-JWT without iat".into()))?;
        if iat.abs_diff(check.now) > check.max_age_s {
            return Err(CredError::KbInvalid("KB-JWT iat out of range".into()));
        }
        let presented = &compact[..compact.len() - kb_jwt.len()];
        if p.get("sd_hash").and_then(Value::as_str) != Some(digest(presented).as_str()) {
            return Err(CredError::KbInvalid("sd_hash does not match".into()));
        }
        holder = Some(hjwk);
    }
    Ok(Verified {
        header: jws.header,
        payload: jws.payload,
        claims,
        disclosed: paths,
        holder,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jose::Alg;

    fn claims() -> Map<String, Value> {
        serde_json::json!({
            "iss": "did:urbis:issuer",
            "given_name": "Ana",
            "family_name": "Peeters",
            "address": {"locality": "Ghent", "street": "Veldstraat 1"},
            "nationalities": ["BE"],
        })
        .as_object()
        .cloned()
        .unwrap()
    }

    fn kb<'a>(now: u64) -> KbCheck<'a> {
        KbCheck {
            audience: "verifier-1",
            nonce: "n-123",
            now,
            max_age_s: 300,
        }
    }

    #[test]
    fn issue_present_verify_discloses_only_what_was_chosen() {
        for alg in [Alg::EdDSA, Alg::ES256] {
            let issuer = SigningKey::generate(alg);
            let holder = SigningKey::generate(Alg::ES256);
            let mut c = claims();
            c.insert(
                "cnf".into(),
                serde_json::json!({"jwk": holder.public().to_json()}),
            );
            let sd = issue(
                &issuer,
                Map::new(),
                c,
                &[
                    "given_name",
                    "family_name",
                    "address",
                    "address.locality",
                    "address.street",
                ],
            )
            .unwrap();
            assert_eq!(sd.disclosures.len(), 5);
            let p = present(
                &sd,
                &["given_name", "address.locality"],
                Some(Binding {
                    holder: &holder,
                    audience: "verifier-1",
                    nonce: "n-123",
                    iat: 1_000,
                }),
            )
            .unwrap();
            let v = verify(&p, |_| Ok(issuer.public()), Some(&kb(1_010))).unwrap();
            assert_eq!(v.claims["given_name"], "Ana");
            assert_eq!(v.claims["address"]["locality"], "Ghent");
            assert!(v.claims["address"].get("street").is_none());
            assert!(v.claims.get("family_name").is_none());
            assert_eq!(v.claims["nationalities"][0], "BE");
            assert!(v.claims.get("_sd").is_none() && v.claims.get("_sd_alg").is_none());
            assert_eq!(v.holder, Some(holder.public()));
        }
    }

    #[test]
    fn tampering_replays_and_wrong_keys_fail() {
        let issuer = SigningKey::generate(Alg::EdDSA);
        let holder = SigningKey::generate(Alg::EdDSA);
        let mut c = claims();
        c.insert(
            "cnf".into(),
            serde_json::json!({"jwk": holder.public().to_json()}),
        );
        let sd = issue(&issuer, Map::new(), c, &["given_name", "family_name"]).unwrap();
        let bind = |aud, nonce| {
            present(
                &sd,
                &["given_name"],
                Some(Binding {
                    holder: &holder,
                    audience: aud,
                    nonce,
                    iat: 1_000,
                }),
            )
            .unwrap()
        };
        let good = bind("verifier-1", "n-123");
        verify(&good, |_| Ok(issuer.public()), Some(&kb(1_000))).unwrap();
        // Replayed to another verifier, or with an old nonce.
        let r = verify(
            &bind("other", "n-123"),
            |_| Ok(issuer.public()),
            Some(&kb(1_000)),
        );
        assert!(matches!(r, Err(CredError::WrongAudience)));
        let r = verify(
            &bind("verifier-1", "n-0"),
            |_| Ok(issuer.public()),
            Some(&kb(1_000)),
        );
        assert!(matches!(r, Err(CredError::WrongNonce)));
        // Too old.
        let r = verify(&good, |_| Ok(issuer.public()), Some(&kb(5_000)));
        assert!(matches!(r, Err(CredError::KbInvalid(_))));
        // Without key binding when it is required.
        let bare = present(&sd, &["given_name"], None).unwrap();
        let r = verify(&bare, |_| Ok(issuer.public()), Some(&kb(1_000)));
        assert!(matches!(r, Err(CredError::KbMissing)));
        // A disclosure added after binding breaks sd_hash.
        let (jwt_part, kb_part) = good.rsplit_once('~').unwrap();
        let extra = &sd.disclosures[1].encoded;
        let spliced = format!("{jwt_part}~{extra}~{kb_part}");
        let spliced = spliced.replacen("~~", "~", 1);
        let r = verify(&spliced, |_| Ok(issuer.public()), Some(&kb(1_000)));
        assert!(r.is_err());
        // A forged disclosure is not referenced by the payload.
        let forged = Disclosure::new(Some("given_name"), Value::String("Eve".into()));
        let r = verify(
            &format!("{}~{}~", sd.jwt, forged.encoded),
            |_| Ok(issuer.public()),
            None,
        );
        assert!(matches!(r, Err(CredError::BadDisclosure(_))));
        // The same disclosure twice.
        let d = &sd.disclosures[0].encoded;
        let r = verify(
            &format!("{}~{d}~{d}~", sd.jwt),
            |_| Ok(issuer.public()),
            None,
        );
        assert!(matches!(r, Err(CredError::DuplicateDigest)));
        // Another issuer's key.
        let r = verify(&good, |_| Ok(holder.public()), Some(&kb(1_000)));
        assert!(matches!(r, Err(CredError::BadSignature)));
        // A KB-JWT signed by someone else.
        let thief = SigningKey::generate(Alg::EdDSA);
        let stolen = present(
            &sd,
            &["given_name"],
            Some(Binding {
                holder: &thief,
                audience: "verifier-1",
                nonce: "n-123",
                iat: 1_000,
            }),
        )
        .unwrap();
        let r = verify(&stolen, |_| Ok(issuer.public()), Some(&kb(1_000)));
        assert!(matches!(r, Err(CredError::BadSignature)));
    }

    #[test]
    fn malformed_disclosures_are_named() {
        for bad in [
            b64(b"not json"),
            b64(br#"["salt"]"#),
            b64(br#"["salt", "_sd", 1]"#),
            b64(br#"["salt", "...", 1]"#),
            b64(br#"["salt", 5, 1]"#),
            "!!".to_string(),
        ] {
            assert!(Disclosure::parse(&bad).is_err(), "{bad}");
        }
        assert!(SdJwt::split("no-tilde").is_err());
    }
}
