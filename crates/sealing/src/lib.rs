//! Envelope encryption for records and shared files.
//!
//! - **Payload**: a fresh 256-bit data key per version encrypts the payload with
//!   XChaCha20-Poly1305 under a random 192-bit nonce; the sealed form is `nonce (24 bytes) ||
//!   ciphertext || tag (16 bytes)`, and the caller's associated data (e.g. the record id and
//!   version) is authenticated with it.
//! - **Key wrap**: the data key is wrapped for each recipient with HPKE (RFC 9180) in Base mode
//!   with the suite DHKEM(X25519, HKDF-SHA256) (`kem_id` 0x0020), HKDF-SHA256 (0x0001) and
//!   ChaCha20-Poly1305 (0x0003), to the recipient's X25519 `keyAgreement` key. A wrap is `enc`
//!   (32 bytes) and the sealed key (48 bytes); `info` is `"urbis/data-key/v1"` followed by the
//!   caller's context, so a wrap made for one record cannot be replayed for another.
//!
//! Adding a recipient is one more wrap of the same data key; removing one means a new data key
//! for later versions (what a removed reader already decrypted cannot be recalled).

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use hpke::aead::ChaCha20Poly1305;
use hpke::kdf::HkdfSha256;
use hpke::kem::X25519HkdfSha256;
use hpke::{Deserializable, Kem as _, OpModeR, OpModeS, Serializable};
use zeroize::Zeroizing;

/// Prefix of the HPKE `info` of every wrap.
pub const WRAP_INFO: &[u8] = b"urbis/data-key/v1";
/// Bytes of a wrap: `enc` and the sealed 32-byte key with its tag.
pub const WRAP_BYTES: usize = 32 + 32 + 16;
/// Bytes the sealed form adds to a payload.
pub const SEAL_OVERHEAD: usize = 24 + 16;

/// Why sealing or opening failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SealError {
    /// The ciphertext, its tag or its associated data does not match (tampered, or another
    /// key or record).
    #[error("decryption failed: wrong key, or tampered ciphertext or context")]
    Decrypt,
    /// Bytes that are not a wrap, a sealed payload or a key.
    #[error("malformed: {0}")]
    Malformed(&'static str),
}

fn random<const N: usize>() -> [u8; N] {
    let mut b = [0u8; N];
    getrandom::fill(&mut b).expect("operating system randomness is available");
    b
}

/// A payload's data key (wiped when dropped, never printed).
pub struct DataKey(Zeroizing<[u8; 32]>);

impl std::fmt::Debug for DataKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DataKey(…)")
    }
}

impl DataKey {
    /// A fresh key from the operating system's randomness.
    pub fn generate() -> DataKey {
        DataKey(Zeroizing::new(random()))
    }

    pub fn from_bytes(bytes: [u8; 32]) -> DataKey {
        DataKey(Zeroizing::new(bytes))
    }

    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

/// Encrypt `plaintext` under `key`, authenticating `aad` too: `nonce || ciphertext || tag`.
pub fn seal(key: &DataKey, plaintext: &[u8], aad: &[u8]) -> Vec<u8> {
    let cipher = XChaCha20Poly1305::new(&chacha20poly1305::Key::from(*key.0));
    let nonce: [u8; 24] = random();
    let ct = cipher
        .encrypt(
            &XNonce::from(nonce),
            Payload {
                msg: plaintext,
                aad,
            },
        )
        .expect("XChaCha20-Poly1305 encrypts any in-memory payload");
    let mut out = Vec::with_capacity(24 + ct.len());
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&ct);
    out
}

/// Decrypt what [`seal`] made with the same key and `aad`.
pub fn open(key: &DataKey, sealed: &[u8], aad: &[u8]) -> Result<Vec<u8>, SealError> {
    if sealed.len() < SEAL_OVERHEAD {
        return Err(SealError::Malformed(
            "a sealed payload is at least 40 bytes",
        ));
    }
    let (nonce, ct) = sealed.split_at(24);
    let nonce: [u8; 24] = nonce
        .try_into()
        .map_err(|_| SealError::Malformed("nonce"))?;
    let cipher = XChaCha20Poly1305::new(&chacha20poly1305::Key::from(*key.0));
    cipher
        .decrypt(&XNonce::from(nonce), Payload { msg: ct, aad })
        .map_err(|_| SealError::Decrypt)
}

/// A recipient's X25519 key-agreement secret (the private half of a DID's `keyAgreement` key).
pub struct AgreementKey(Zeroizing<[u8; 32]>);

impl std::fmt::Debug for AgreementKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AgreementKey(…)")
    }
}

impl AgreementKey {
    pub fn generate() -> AgreementKey {
        AgreementKey(Zeroizing::new(random()))
    }

    /// The key whose X25519 secret is `secret`.
    pub fn from_secret(secret: [u8; 32]) -> AgreementKey {
        AgreementKey(Zeroizing::new(secret))
    }

    fn hpke_secret(&self) -> Result<<X25519HkdfSha256 as hpke::Kem>::PrivateKey, SealError> {
        <X25519HkdfSha256 as hpke::Kem>::PrivateKey::from_bytes(self.0.as_ref())
            .map_err(|_| SealError::Malformed("an X25519 secret is 32 bytes"))
    }

    /// The public key (the `x` of its `OKP`/`X25519` JWK).
    pub fn public(&self) -> [u8; 32] {
        let sk = self
            .hpke_secret()
            .expect("32 bytes are always an X25519 secret");
        let pk = X25519HkdfSha256::sk_to_pk(&sk);
        let mut out = [0u8; 32];
        out.copy_from_slice(&pk.to_bytes());
        out
    }

    pub fn secret(&self) -> &[u8; 32] {
        &self.0
    }
}

/// A data key wrapped for one recipient.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Wrap {
    /// HPKE's encapsulated key.
    pub enc: [u8; 32],
    /// The sealed data key and its tag.
    pub ct: Vec<u8>,
}

impl Wrap {
    /// `enc || ct` (80 bytes).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = self.enc.to_vec();
        out.extend_from_slice(&self.ct);
        out
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<Wrap, SealError> {
        if bytes.len() != WRAP_BYTES {
            return Err(SealError::Malformed("a wrap is 80 bytes"));
        }
        let mut enc = [0u8; 32];
        enc.copy_from_slice(&bytes[..32]);
        Ok(Wrap {
            enc,
            ct: bytes[32..].to_vec(),
        })
    }
}

fn info(context: &[u8]) -> Vec<u8> {
    let mut i = WRAP_INFO.to_vec();
    i.extend_from_slice(context);
    i
}

/// Wrap `key` for the recipient whose X25519 public key is `recipient`, bound to `context`.
pub fn wrap(key: &DataKey, recipient: &[u8; 32], context: &[u8]) -> Result<Wrap, SealError> {
    let pk = <X25519HkdfSha256 as hpke::Kem>::PublicKey::from_bytes(recipient)
        .map_err(|_| SealError::Malformed("an X25519 public key is 32 bytes"))?;
    let (enc, ct) = hpke::single_shot_seal::<ChaCha20Poly1305, HkdfSha256, X25519HkdfSha256>(
        &OpModeS::Base,
        &pk,
        &info(context),
        key.as_bytes(),
        b"",
    )
    .map_err(|_| SealError::Malformed("the recipient key is not usable"))?;
    let mut e = [0u8; 32];
    e.copy_from_slice(&enc.to_bytes());
    Ok(Wrap { enc: e, ct })
}

/// Unwrap a data key with the recipient's secret (and the same `context`).
pub fn unwrap(w: &Wrap, recipient: &AgreementKey, context: &[u8]) -> Result<DataKey, SealError> {
    let enc = <X25519HkdfSha256 as hpke::Kem>::EncappedKey::from_bytes(&w.enc)
        .map_err(|_| SealError::Malformed("enc is 32 bytes"))?;
    let pt = Zeroizing::new(
        hpke::single_shot_open::<ChaCha20Poly1305, HkdfSha256, X25519HkdfSha256>(
            &OpModeR::Base,
            &recipient.hpke_secret()?,
            &enc,
            &info(context),
            &w.ct,
            b"",
        )
        .map_err(|_| SealError::Decrypt)?,
    );
    let bytes: [u8; 32] = pt
        .as_slice()
        .try_into()
        .map_err(|_| SealError::Malformed("a data key is 32 bytes"))?;
    Ok(DataKey::from_bytes(bytes))
}

#[cfg(test)]
mod tests;
