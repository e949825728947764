//! Keys, signatures and addresses.
//!
//! The key type is an enum so that other schemes (e.g. P-256 passkeys) can be added without
//! changing the transaction envelope. Ed25519 signatures are checked with `verify_strict`
//! everywhere (mempool, block validation, light client): one acceptance rule, so a crafted
//! signature cannot be accepted by some validators and rejected by others.

use std::fmt;
use std::str::FromStr;

use bech32::{Bech32m, Hrp, primitives::decode::CheckedHrpstring};
use borsh::{BorshDeserialize, BorshSerialize};
use ed25519_dalek::Signer as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use zeroize::Zeroize;

use crate::hash::{domain, sha256_domain};

/// Human-readable prefix of account addresses.
pub const ADDRESS_HRP: &str = "urbis";

/// A public key of an account, device or validator.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, BorshSerialize, BorshDeserialize)]
pub enum PublicKey {
    Ed25519([u8; 32]),
}

/// A signature matching a [`PublicKey`] variant.
#[derive(Clone, Copy, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub enum Signature {
    Ed25519([u8; 64]),
}

/// Errors about keys, signatures and addresses.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum KeyError {
    #[error("invalid public key")]
    InvalidPublicKey,
    #[error("signature does not verify")]
    BadSignature,
    #[error("signature scheme does not match the key")]
    SchemeMismatch,
    #[error("invalid address: {0}")]
    InvalidAddress(String),
    #[error("invalid hex: {0}")]
    InvalidHex(String),
}

impl PublicKey {
    /// Verify `sig` over `msg` (the caller supplies domain-separated bytes).
    pub fn verify(&self, msg: &[u8], sig: &Signature) -> Result<(), KeyError> {
        match (self, sig) {
            (PublicKey::Ed25519(pk), Signature::Ed25519(s)) => {
                let vk = ed25519_dalek::VerifyingKey::from_bytes(pk)
                    .map_err(|_| KeyError::InvalidPublicKey)?;
                let sig = ed25519_dalek::Signature::from_bytes(s);
                vk.verify_strict(msg, &sig)
                    .map_err(|_| KeyError::BadSignature)
            }
        }
    }

    /// The account address controlled by this key.
    pub fn address(&self) -> Address {
        let encoded = borsh::to_vec(self).expect("borsh to vec never fails");
        let h = sha256_domain(domain::ADDRESS, &[&encoded]);
        let mut a = [0u8; 20];
        a.copy_from_slice(&h.0[..20]);
        Address(a)
    }

    /// Raw key bytes (without the scheme tag).
    pub fn raw(&self) -> &[u8] {
        match self {
            PublicKey::Ed25519(b) => b,
        }
    }

    /// Text form: `ed25519:<hex>`.
    pub fn to_text(&self) -> String {
        match self {
            PublicKey::Ed25519(b) => format!("ed25519:{}", hex::encode(b)),
        }
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_text())
    }
}

impl fmt::Display for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_text())
    }
}

impl FromStr for PublicKey {
    type Err = KeyError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let hex_part = s.strip_prefix("ed25519:").unwrap_or(s);
        let bytes = hex::decode(hex_part).map_err(|e| KeyError::InvalidHex(e.to_string()))?;
        let arr: [u8; 32] = bytes.try_into().map_err(|_| KeyError::InvalidPublicKey)?;
        ed25519_dalek::VerifyingKey::from_bytes(&arr).map_err(|_| KeyError::InvalidPublicKey)?;
        Ok(PublicKey::Ed25519(arr))
    }
}

impl Serialize for PublicKey {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_text())
    }
}

impl<'de> Deserialize<'de> for PublicKey {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        <String as Deserialize>::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

impl Signature {
    pub fn to_hex(&self) -> String {
        match self {
            Signature::Ed25519(b) => hex::encode(b),
        }
    }
}

impl fmt::Debug for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Signature({})", self.to_hex())
    }
}

impl Serialize for Signature {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_hex())
    }
}

impl<'de> Deserialize<'de> for Signature {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <String as Deserialize>::deserialize(d)?;
        let bytes = hex::decode(&s).map_err(serde::de::Error::custom)?;
        let arr: [u8; 64] = bytes
            .try_into()
            .map_err(|_| serde::de::Error::custom("ed25519 signature must be 64 bytes"))?;
        Ok(Signature::Ed25519(arr))
    }
}

/// A secret signing key. Never printed: `Debug` is redacted.
#[derive(Clone)]
pub struct SecretKey {
    seed: [u8; 32],
}

impl SecretKey {
    /// A fresh key from the operating system's randomness.
    pub fn generate() -> Self {
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed).expect("operating system randomness is available");
        SecretKey { seed }
    }

    /// A key from a 32-byte Ed25519 seed.
    pub fn from_seed(seed: [u8; 32]) -> Self {
        SecretKey { seed }
    }

    /// A deterministic key for tests and the dev chain: SHA-256 of a label.
    pub fn from_label(label: &str) -> Self {
        SecretKey {
            seed: sha256_domain(b"urbis/test-key/v1", &[label.as_bytes()]).0,
        }
    }

    pub fn seed(&self) -> &[u8; 32] {
        &self.seed
    }

    pub fn public_key(&self) -> PublicKey {
        let sk = ed25519_dalek::SigningKey::from_bytes(&self.seed);
        PublicKey::Ed25519(sk.verifying_key().to_bytes())
    }

    pub fn address(&self) -> Address {
        self.public_key().address()
    }

    /// Sign already domain-separated bytes.
    pub fn sign(&self, msg: &[u8]) -> Signature {
        let sk = ed25519_dalek::SigningKey::from_bytes(&self.seed);
        Signature::Ed25519(sk.sign(msg).to_bytes())
    }
}

impl Drop for SecretKey {
    fn drop(&mut self) {
        self.seed.zeroize();
    }
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretKey(<redacted>)")
    }
}

/// A 20-byte account address, shown as bech32m `urbis1…`.
#[derive(
    Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, BorshSerialize, BorshDeserialize,
)]
pub struct Address(pub [u8; 20]);

impl Address {
    pub fn to_bech32(&self) -> String {
        let hrp = Hrp::parse_unchecked(ADDRESS_HRP);
        bech32::encode::<Bech32m>(hrp, &self.0).expect("20 bytes always encode")
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_bech32())
    }
}

impl fmt::Debug for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_bech32())
    }
}

impl FromStr for Address {
    type Err = KeyError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let checked = CheckedHrpstring::new::<Bech32m>(s)
            .map_err(|e| KeyError::InvalidAddress(e.to_string()))?;
        if checked.hrp().as_str() != ADDRESS_HRP {
            return Err(KeyError::InvalidAddress(format!(
                "expected prefix {ADDRESS_HRP}1"
            )));
        }
        let bytes: Vec<u8> = checked.byte_iter().collect();
        let arr: [u8; 20] = bytes
            .try_into()
            .map_err(|_| KeyError::InvalidAddress("expected 20 bytes".into()))?;
        Ok(Address(arr))
    }
}

impl Serialize for Address {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_bech32())
    }
}

impl<'de> Deserialize<'de> for Address {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        <String as Deserialize>::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_verify_and_reject() {
        let sk = SecretKey::from_label("alice");
        let pk = sk.public_key();
        let sig = sk.sign(b"hello");
        assert!(pk.verify(b"hello", &sig).is_ok());
        assert_eq!(pk.verify(b"hellO", &sig), Err(KeyError::BadSignature));
        let other = SecretKey::from_label("bob").public_key();
        assert_eq!(other.verify(b"hello", &sig), Err(KeyError::BadSignature));
    }

    #[test]
    fn address_text_roundtrip_and_checksum() {
        let a = SecretKey::from_label("alice").address();
        let s = a.to_string();
        assert!(s.starts_with("urbis1"));
        assert_eq!(s.parse::<Address>().unwrap(), a);
        // Flip one character: the checksum must catch it.
        let mut chars: Vec<char> = s.chars().collect();
        let i = chars.len() - 3;
        chars[i] = if chars[i] == 'q' { 'p' } else { 'q' };
        let bad: String = chars.into_iter().collect();
        assert!(bad.parse::<Address>().is_err());
    }

    #[test]
    fn public_key_text_roundtrip() {
        let pk = SecretKey::from_label("x").public_key();
        assert_eq!(pk.to_text().parse::<PublicKey>().unwrap(), pk);
        assert!("ed25519:00".parse::<PublicKey>().is_err());
    }

    #[test]
    fn secret_debug_is_redacted() {
        let sk = SecretKey::from_label("x");
        assert_eq!(format!("{sk:?}"), "SecretKey(<redacted>)");
    }
}
