//! Keys, signatures and addresses.
//!
//! The key type is an enum so that other schemes (e.g. P-256 passkeys) can be added without
//! changing the transaction envelope.
//!
//! Acceptance rule: Ed25519 signatures are checked with ZIP-215 semantics everywhere (mempool,
//! block validation, light clients), through the same Ed25519 core that checks validator votes.
//! Under ZIP-215 single and batch verification accept exactly the same signatures, so batching
//! at the door or in block validation can never split the validators. Every signature is over
//! `len(tag) || tag || message` with a domain tag (at most 127 bytes).

use std::fmt;
use std::str::FromStr;

use bech32::{Bech32m, Hrp, primitives::decode::CheckedHrpstring};
use borsh::{BorshDeserialize, BorshSerialize};
use commonware_codec::{Copying, DecodeExt as _};
use commonware_cryptography::ed25519 as cw_ed25519;
use ed25519_dalek::Signer as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use zeroize::Zeroize;

use crate::hash::{domain, sha256_domain};

/// Human-readable prefix of account addresses.
pub const ADDRESS_HRP: &str = "urbis";

/// How many keys that passed [`PublicKey::check_account_key`] are remembered.
pub const ACCOUNT_KEY_MEMO: usize = 1 << 20;

static GOOD_KEYS: std::sync::OnceLock<std::sync::RwLock<std::collections::HashSet<[u8; 32]>>> =
    std::sync::OnceLock::new();

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
    #[error("small-order public key: anyone can sign for it, so it cannot hold an account")]
    SmallOrderKey,
}

/// The consensus-engine form of a key and signature.
fn engine_parts(
    pk: &PublicKey,
    sig: &Signature,
) -> Result<(cw_ed25519::PublicKey, cw_ed25519::Signature), KeyError> {
    let (PublicKey::Ed25519(pk), Signature::Ed25519(s)) = (pk, sig);
    let key = cw_ed25519::PublicKey::decode(Copying(pk)).map_err(|_| KeyError::InvalidPublicKey)?;
    let sig = cw_ed25519::Signature::decode(Copying(s)).map_err(|_| KeyError::BadSignature)?;
    Ok((key, sig))
}

/// Frame a message under a domain tag: `len(tag) || tag || msg`.
pub fn framed(tag: &[u8], msg: &[u8]) -> Vec<u8> {
    assert!(tag.len() < 128, "domain tags are shorter than 128 bytes");
    let mut out = Vec::with_capacity(1 + tag.len() + msg.len());
    out.push(tag.len() as u8);
    out.extend_from_slice(tag);
    out.extend_from_slice(msg);
    out
}

/// One signature to check in a batch: key, domain tag, message (unframed), signature.
pub type BatchItem<'a> = (&'a PublicKey, &'a [u8], &'a [u8], &'a Signature);

/// Check many signatures at once (ZIP-215; same verdicts as [`PublicKey::verify`]).
/// `true` only if every one verifies; an empty batch is `true`.
pub fn verify_batch(items: &[BatchItem<'_>]) -> bool {
    use commonware_cryptography::{BatchEntry, BatchVerifier as _};
    if items.is_empty() {
        return true;
    }
    let mut parts = Vec::with_capacity(items.len());
    for (pk, tag, _, sig) in items {
        if tag.len() >= 128 {
            return false;
        }
        match engine_parts(pk, sig) {
            Ok(p) => parts.push(p),
            Err(_) => return false,
        }
    }
    let mut rng = commonware_utils::sys_rng();
    cw_ed25519::PublicKey::verify_batch(
        &mut rng,
        &parts,
        |i, (key, sig)| BatchEntry {
            namespace: items[i].1,
            message: items[i].2,
            public_key: key,
            signature: sig,
        },
        &commonware_parallel::Sequential,
    )
}

impl PublicKey {
    /// Verify `sig` over `len(tag) || tag || msg`.
    pub fn verify(&self, tag: &[u8], msg: &[u8], sig: &Signature) -> Result<(), KeyError> {
        use commonware_cryptography::Verifier as _;
        if tag.len() >= 128 {
            return Err(KeyError::BadSignature);
        }
        let (key, sig) = engine_parts(self, sig)?;
        if key.verify(tag, msg, &sig) {
            Ok(())
        } else {
            Err(KeyError::BadSignature)
        }
    }

    /// Whether this key may sign for an account: a point on the curve that is not of small
    /// order. (Under ZIP-215 a small-order key "verifies" signatures nobody made, e.g. `R` =
    /// identity, `s` = 0 for every message.)
    ///
    /// The verdict is a pure function of the key, so keys that passed are remembered (up to
    /// [`ACCOUNT_KEY_MEMO`] of them): a sender's every transaction does not pay for a point
    /// decompression.
    pub fn check_account_key(&self) -> Result<(), KeyError> {
        let PublicKey::Ed25519(bytes) = self;
        let memo = GOOD_KEYS.get_or_init(Default::default);
        if memo.read().is_ok_and(|m| m.contains(bytes)) {
            return Ok(());
        }
        let key = ed25519_dalek::VerifyingKey::from_bytes(bytes)
            .map_err(|_| KeyError::InvalidPublicKey)?;
        if key.is_weak() {
            return Err(KeyError::SmallOrderKey);
        }
        if let Ok(mut m) = memo.write() {
            if m.len() >= ACCOUNT_KEY_MEMO {
                m.clear();
            }
            m.insert(*bytes);
        }
        Ok(())
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
        let key = PublicKey::Ed25519(arr);
        key.check_account_key()?;
        Ok(key)
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

    /// Sign `len(tag) || tag || msg`.
    pub fn sign(&self, tag: &[u8], msg: &[u8]) -> Signature {
        let sk = ed25519_dalek::SigningKey::from_bytes(&self.seed);
        Signature::Ed25519(sk.sign(&framed(tag, msg)).to_bytes())
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
    /// The bech32m text form. Addresses are rendered into state keys and events on every
    /// call, and encoding is slow (a checksum over each 5-bit group), so each thread keeps the
    /// text of the addresses it rendered recently (a pure cache: the output never changes).
    pub fn to_bech32(&self) -> String {
        const CACHED: usize = 1 << 16;
        thread_local! {
            static TEXT: std::cell::RefCell<std::collections::HashMap<[u8; 20], String>> =
                std::cell::RefCell::new(std::collections::HashMap::new());
        }
        TEXT.with(|cache| {
            if let Some(text) = cache.borrow().get(&self.0) {
                return text.clone();
            }
            let hrp = Hrp::parse_unchecked(ADDRESS_HRP);
            let text = bech32::encode::<Bech32m>(hrp, &self.0).expect("20 bytes always encode");
            let mut cache = cache.borrow_mut();
            if cache.len() >= CACHED {
                cache.clear();
            }
            cache.insert(self.0, text.clone());
            text
        })
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
        let sig = sk.sign(b"t", b"hello");
        assert!(pk.verify(b"t", b"hello", &sig).is_ok());
        assert_eq!(pk.verify(b"t", b"hellO", &sig), Err(KeyError::BadSignature));
        assert_eq!(
            pk.verify(b"u", b"hello", &sig),
            Err(KeyError::BadSignature),
            "domain tag"
        );
        let other = SecretKey::from_label("bob").public_key();
        assert_eq!(
            other.verify(b"t", b"hello", &sig),
            Err(KeyError::BadSignature)
        );
    }

    #[test]
    fn batch_and_single_agree() {
        let keys: Vec<SecretKey> = (0..20)
            .map(|i| SecretKey::from_label(&format!("k{i}")))
            .collect();
        let pks: Vec<PublicKey> = keys.iter().map(SecretKey::public_key).collect();
        let msgs: Vec<Vec<u8>> = (0..20u8).map(|i| vec![i; 10]).collect();
        let mut sigs: Vec<Signature> = keys
            .iter()
            .zip(&msgs)
            .map(|(k, m)| k.sign(b"t", m))
            .collect();
        let items = |sigs: &[Signature]| -> bool {
            let v: Vec<BatchItem<'_>> = (0..20)
                .map(|i| (&pks[i], &b"t"[..], &msgs[i][..], &sigs[i]))
                .collect();
            verify_batch(&v)
        };
        assert!(items(&sigs));
        sigs[7] = keys[7].sign(b"t", b"other");
        assert!(!items(&sigs));
        assert!(pks[7].verify(b"t", &msgs[7], &sigs[7]).is_err());
        // The framing matches a plain Ed25519 signature over the framed bytes.
        let plain =
            ed25519_dalek::SigningKey::from_bytes(keys[0].seed()).sign(&framed(b"t", &msgs[0]));
        assert!(
            pks[0]
                .verify(b"t", &msgs[0], &Signature::Ed25519(plain.to_bytes()))
                .is_ok()
        );
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
