//! JWK (RFC 7517, RFC 8037) and compact JWS (RFC 7515) with exactly two algorithms: `EdDSA`
//! over Ed25519 (RFC 8037) and `ES256` (ECDSA P-256 with SHA-256, the signature as `r || s`,
//! 64 bytes, RFC 7518 §3.4). Nothing else is accepted: not `none`, not HMAC, and never an
//! algorithm that does not match the key's type (key confusion).

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::Signer as _;
use p256::ecdsa::signature::Verifier as _;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use zeroize::Zeroizing;

use crate::CredError;

/// base64url without padding (RFC 7515 §2).
pub fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Decode base64url without padding; anything else (padding, `+`, `/`) is malformed.
pub fn unb64(text: &str) -> Result<Vec<u8>, CredError> {
    URL_SAFE_NO_PAD
        .decode(text)
        .map_err(|_| CredError::Malformed(format!("not base64url: {:.40}", text)))
}

/// The signature algorithms a JWS may use.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Alg {
    EdDSA,
    ES256,
}

impl Alg {
    pub fn as_str(self) -> &'static str {
        match self {
            Alg::EdDSA => "EdDSA",
            Alg::ES256 => "ES256",
        }
    }

    /// Parse a JWS `alg`; `none`, HMAC and everything else is `unsupported_alg`.
    pub fn parse(text: &str) -> Result<Alg, CredError> {
        match text {
            "EdDSA" => Ok(Alg::EdDSA),
            "ES256" => Ok(Alg::ES256),
            other => Err(CredError::UnsupportedAlg(other.to_string())),
        }
    }
}

/// A public key as a JWK: Ed25519 and X25519 (`OKP`), P-256 (`EC`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PublicJwk {
    Ed25519([u8; 32]),
    /// Uncompressed affine coordinates.
    P256 {
        x: [u8; 32],
        y: [u8; 32],
    },
    /// A key-agreement key (never a signing key).
    X25519([u8; 32]),
}

fn field<'a>(obj: &'a Map<String, Value>, name: &str) -> Result<&'a str, CredError> {
    obj.get(name)
        .and_then(Value::as_str)
        .ok_or_else(|| CredError::Malformed(format!("JWK without {name}")))
}

fn coord(obj: &Map<String, Value>, name: &str) -> Result<[u8; 32], CredError> {
    unb64(field(obj, name)?)?
        .try_into()
        .map_err(|_| CredError::Malformed(format!("JWK {name} is not 32 bytes")))
}

impl PublicJwk {
    /// Read a JWK (members other than `kty`, `crv`, `x`, `y` such as `kid`, `use` or `alg` are
    /// ignored; private members make it malformed: a public key never carries `d`).
    pub fn from_json(v: &Value) -> Result<PublicJwk, CredError> {
        let obj = v
            .as_object()
            .ok_or_else(|| CredError::Malformed("a JWK is a JSON object".into()))?;
        if obj.contains_key("d") {
            return Err(CredError::Malformed(
                "a public JWK must not carry a private key".into(),
            ));
        }
        let key = match (field(obj, "kty")?, obj.get("crv").and_then(Value::as_str)) {
            ("OKP", Some("Ed25519")) => {
                let x = coord(obj, "x")?;
                ed25519_dalek::VerifyingKey::from_bytes(&x)
                    .map_err(|_| CredError::Malformed("not an Ed25519 public key".into()))?;
                PublicJwk::Ed25519(x)
            }
            ("OKP", Some("X25519")) => PublicJwk::X25519(coord(obj, "x")?),
            ("EC", Some("P-256")) => {
                let (x, y) = (coord(obj, "x")?, coord(obj, "y")?);
                let key = PublicJwk::P256 { x, y };
                key.p256()?;
                key
            }
            (kty, crv) => {
                return Err(CredError::Malformed(format!(
                    "unsupported JWK kty {kty} crv {}",
                    crv.unwrap_or("-")
                )));
            }
        };
        Ok(key)
    }

    /// The JWK's JSON (members in the order RFC 7638 lists them).
    pub fn to_json(&self) -> Value {
        match self {
            PublicJwk::Ed25519(x) => {
                serde_json::json!({"kty": "OKP", "crv": "Ed25519", "x": b64(x)})
            }
            PublicJwk::X25519(x) => serde_json::json!({"kty": "OKP", "crv": "X25519", "x": b64(x)}),
            PublicJwk::P256 { x, y } => {
                serde_json::json!({"kty": "EC", "crv": "P-256", "x": b64(x), "y": b64(y)})
            }
        }
    }

    /// The algorithm this key signs with (`None` for key-agreement keys).
    pub fn alg(&self) -> Option<Alg> {
        match self {
            PublicJwk::Ed25519(_) => Some(Alg::EdDSA),
            PublicJwk::P256 { .. } => Some(Alg::ES256),
            PublicJwk::X25519(_) => None,
        }
    }

    fn p256(&self) -> Result<p256::ecdsa::VerifyingKey, CredError> {
        let PublicJwk::P256 { x, y } = self else {
            return Err(CredError::KeyMismatch);
        };
        let mut sec1 = [0u8; 65];
        sec1[0] = 4;
        sec1[1..33].copy_from_slice(x);
        sec1[33..].copy_from_slice(y);
        p256::ecdsa::VerifyingKey::from_sec1_bytes(&sec1)
            .map_err(|_| CredError::Malformed("not a P-256 public key".into()))
    }

    /// Check `sig` over `msg` under `alg`, which must be this key's algorithm.
    pub fn verify(&self, alg: Alg, msg: &[u8], sig: &[u8]) -> Result<(), CredError> {
        if self.alg() != Some(alg) {
            return Err(CredError::KeyMismatch);
        }
        match self {
            PublicJwk::Ed25519(x) => {
                let key = ed25519_dalek::VerifyingKey::from_bytes(x)
                    .map_err(|_| CredError::BadSignature)?;
                let sig: [u8; 64] = sig.try_into().map_err(|_| CredError::BadSignature)?;
                key.verify_strict(msg, &ed25519_dalek::Signature::from_bytes(&sig))
                    .map_err(|_| CredError::BadSignature)
            }
            PublicJwk::P256 { .. } => {
                let sig =
                    p256::ecdsa::Signature::from_slice(sig).map_err(|_| CredError::BadSignature)?;
                self.p256()?
                    .verify(msg, &sig)
                    .map_err(|_| CredError::BadSignature)
            }
            PublicJwk::X25519(_) => Err(CredError::KeyMismatch),
        }
    }
}

/// A signing key: Ed25519 or P-256. Its bytes are wiped when dropped and never printed.
pub enum SigningKey {
    Ed25519(ed25519_dalek::SigningKey),
    P256(p256::ecdsa::SigningKey),
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SigningKey({:?}, …)", self.alg())
    }
}

impl SigningKey {
    /// A fresh key from the operating system's randomness.
    pub fn generate(alg: Alg) -> SigningKey {
        loop {
            let mut seed = Zeroizing::new([0u8; 32]);
            getrandom::fill(seed.as_mut()).expect("operating system randomness is available");
            // A P-256 scalar must be below the group order (fails with probability ~2^-32).
            if let Ok(k) = SigningKey::from_seed(alg, &seed) {
                return k;
            }
        }
    }

    /// The key whose secret is `seed` (an Ed25519 seed, or a P-256 scalar big-endian).
    pub fn from_seed(alg: Alg, seed: &[u8; 32]) -> Result<SigningKey, CredError> {
        Ok(match alg {
            Alg::EdDSA => SigningKey::Ed25519(ed25519_dalek::SigningKey::from_bytes(seed)),
            Alg::ES256 => SigningKey::P256(
                p256::ecdsa::SigningKey::from_slice(seed)
                    .map_err(|_| CredError::Malformed("not a P-256 secret scalar".into()))?,
            ),
        })
    }

    /// The secret (for sealing in a key store).
    pub fn seed(&self) -> Zeroizing<[u8; 32]> {
        let mut out = Zeroizing::new([0u8; 32]);
        match self {
            SigningKey::Ed25519(k) => out.copy_from_slice(&k.to_bytes()),
            SigningKey::P256(k) => out.copy_from_slice(&k.to_bytes()),
        }
        out
    }

    pub fn alg(&self) -> Alg {
        match self {
            SigningKey::Ed25519(_) => Alg::EdDSA,
            SigningKey::P256(_) => Alg::ES256,
        }
    }

    pub fn public(&self) -> PublicJwk {
        match self {
            SigningKey::Ed25519(k) => PublicJwk::Ed25519(k.verifying_key().to_bytes()),
            SigningKey::P256(k) => {
                let point = k.verifying_key().to_sec1_bytes();
                let mut x = [0u8; 32];
                let mut y = [0u8; 32];
                x.copy_from_slice(&point[1..33]);
                y.copy_from_slice(&point[33..65]);
                PublicJwk::P256 { x, y }
            }
        }
    }

    /// The raw JWS signature of `msg` (64 bytes for both algorithms).
    pub fn sign(&self, msg: &[u8]) -> Vec<u8> {
        match self {
            SigningKey::Ed25519(k) => k.sign(msg).to_bytes().to_vec(),
            SigningKey::P256(k) => {
                let sig: p256::ecdsa::Signature = k.sign(msg);
                sig.to_bytes().to_vec()
            }
        }
    }
}

/// Sign a compact JWS: `header` gets `alg` set from the key.
pub fn sign_compact(key: &SigningKey, mut header: Map<String, Value>, payload: &Value) -> String {
    header.insert("alg".into(), Value::String(key.alg().as_str().into()));
    let h = b64(Value::Object(header).to_string().as_bytes());
    let p = b64(payload.to_string().as_bytes());
    let input = format!("{h}.{p}");
    let sig = b64(&key.sign(input.as_bytes()));
    format!("{input}.{sig}")
}

/// A compact JWS split and decoded, not yet verified.
#[derive(Clone, Debug)]
pub struct Jws {
    pub header: Map<String, Value>,
    pub payload: Map<String, Value>,
    pub alg: Alg,
    signing_input: String,
    signature: Vec<u8>,
}

impl Jws {
    /// Split and decode `token`; the header and payload must be JSON objects and `alg` one of
    /// [`Alg`] (`crit` is refused: no extension is understood).
    pub fn parse(token: &str) -> Result<Jws, CredError> {
        let mut parts = token.split('.');
        let (Some(h), Some(p), Some(s), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(CredError::Malformed(
                "a compact JWS has three parts separated by dots".into(),
            ));
        };
        let object = |part: &str, what: &str| -> Result<Map<String, Value>, CredError> {
            match serde_json::from_slice(&unb64(part)?) {
                Ok(Value::Object(m)) => Ok(m),
                _ => Err(CredError::Malformed(format!(
                    "the JWS {what} is not a JSON object"
                ))),
            }
        };
        let header = object(h, "header")?;
        let payload = object(p, "payload")?;
        if header.contains_key("crit") {
            return Err(CredError::Malformed(
                "unsupported critical JWS extension".into(),
            ));
        }
        let alg = Alg::parse(
            header
                .get("alg")
                .and_then(Value::as_str)
                .ok_or_else(|| CredError::Malformed("JWS header without alg".into()))?,
        )?;
        Ok(Jws {
            header,
            payload,
            alg,
            signing_input: format!("{h}.{p}"),
            signature: unb64(s)?,
        })
    }

    /// Check the signature under `key` (whose algorithm must be the header's).
    pub fn verify(&self, key: &PublicJwk) -> Result<(), CredError> {
        key.verify(self.alg, self.signing_input.as_bytes(), &self.signature)
    }

    /// The header's `typ`, if any.
    pub fn typ(&self) -> Option<&str> {
        self.header.get("typ").and_then(Value::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_algorithms_sign_and_verify_and_refuse_tampering() {
        for alg in [Alg::EdDSA, Alg::ES256] {
            let key = SigningKey::generate(alg);
            let token = sign_compact(&key, Map::new(), &serde_json::json!({"a": 1}));
            let jws = Jws::parse(&token).unwrap();
            assert_eq!(jws.alg, alg);
            jws.verify(&key.public()).unwrap();
            let other = SigningKey::generate(alg);
            assert!(matches!(
                jws.verify(&other.public()),
                Err(CredError::BadSignature)
            ));
            // The JWK round-trips through JSON.
            let jwk = PublicJwk::from_json(&key.public().to_json()).unwrap();
            assert_eq!(jwk, key.public());
            // Same key again from its seed.
            let again = SigningKey::from_seed(alg, &key.seed()).unwrap();
            assert_eq!(again.public(), key.public());
        }
    }

    #[test]
    fn none_hmac_and_key_confusion_are_refused() {
        let ed = SigningKey::generate(Alg::EdDSA);
        let token = sign_compact(&ed, Map::new(), &serde_json::json!({"a": 1}));
        let (_, rest) = token.split_once('.').unwrap();
        for alg in ["none", "HS256", "RS256", "ES512"] {
            let h = b64(serde_json::json!({"alg": alg}).to_string().as_bytes());
            assert!(matches!(
                Jws::parse(&format!("{h}.{rest}")),
                Err(CredError::UnsupportedAlg(_))
            ));
        }
        // An EdDSA token checked against a P-256 key, and an ES256 header on an Ed25519 key.
        let p = SigningKey::generate(Alg::ES256);
        let jws = Jws::parse(&token).unwrap();
        assert!(matches!(
            jws.verify(&p.public()),
            Err(CredError::KeyMismatch)
        ));
        let h = b64(serde_json::json!({"alg": "ES256"}).to_string().as_bytes());
        let forged = Jws::parse(&format!("{h}.{rest}")).unwrap();
        assert!(matches!(
            forged.verify(&ed.public()),
            Err(CredError::KeyMismatch)
        ));
        // A private member in a public JWK, and garbage.
        let mut with_d = ed.public().to_json();
        with_d["d"] = Value::String(b64(&[1; 32]));
        assert!(PublicJwk::from_json(&with_d).is_err());
        assert!(Jws::parse("a.b").is_err());
        assert!(Jws::parse("e30.e30.!!").is_err());
    }
}
