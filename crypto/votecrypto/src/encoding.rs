//! Wire encodings (hex in JSON) and the domain-separated Fiat–Shamir transcript.
//!
//! Everything that is hashed is encoded deterministically by [`Transcript`]:
//! every item is framed as `u32be(len(label)) || label || u64be(len(data)) || data`,
//! after a fixed protocol prefix and a per-purpose domain label. JSON is never hashed.

use std::fmt;

use curve25519_dalek::ristretto::{CompressedRistretto, RistrettoPoint};
use curve25519_dalek::scalar::Scalar;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest, Sha512};

use crate::VoteError;

/// Prefix of every domain-separation label used by this library.
pub const DOMAIN_PREFIX: &[u8] = b"urbis/votecrypto/v1/";

/// 32 bytes, serialised in JSON as 64 lowercase hex characters.
///
/// Used for compressed Ristretto points, canonical scalars, hashes and Ed25519 public keys.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Hex32(pub [u8; 32]);

/// 64 bytes, serialised in JSON as 128 lowercase hex characters (Ed25519 signatures).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Hex64(pub [u8; 64]);

impl Default for Hex64 {
    fn default() -> Self {
        Hex64([0u8; 64])
    }
}

impl fmt::Debug for Hex32 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", hex::encode(self.0))
    }
}
impl fmt::Display for Hex32 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", hex::encode(self.0))
    }
}
impl fmt::Debug for Hex64 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", hex::encode(self.0))
    }
}

impl Serialize for Hex32 {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(self.0))
    }
}
impl<'de> Deserialize<'de> for Hex32 {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        let mut out = [0u8; 32];
        hex::decode_to_slice(s.as_bytes(), &mut out).map_err(serde::de::Error::custom)?;
        Ok(Hex32(out))
    }
}
impl Serialize for Hex64 {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(self.0))
    }
}
impl<'de> Deserialize<'de> for Hex64 {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        let mut out = [0u8; 64];
        hex::decode_to_slice(s.as_bytes(), &mut out).map_err(serde::de::Error::custom)?;
        Ok(Hex64(out))
    }
}

impl Hex32 {
    /// Compressed encoding of a point.
    pub fn from_point(p: &RistrettoPoint) -> Self {
        Hex32(p.compress().to_bytes())
    }
    /// Canonical encoding of a scalar.
    pub fn from_scalar(s: &Scalar) -> Self {
        Hex32(s.to_bytes())
    }
    /// Decode a canonical Ristretto255 point.
    pub fn point(&self, what: &str) -> Result<RistrettoPoint, VoteError> {
        CompressedRistretto(self.0)
            .decompress()
            .ok_or_else(|| VoteError::encoding(what, "not a canonical Ristretto255 point"))
    }
    /// Decode a canonical scalar (reduced modulo the group order).
    pub fn scalar(&self, what: &str) -> Result<Scalar, VoteError> {
        Option::from(Scalar::from_canonical_bytes(self.0))
            .ok_or_else(|| VoteError::encoding(what, "not a canonical scalar"))
    }
}

/// Domain-separated SHA-512 Fiat–Shamir transcript.
///
/// The transcript is a running hash over framed items; the challenge is the
/// wide reduction of the final SHA-512 output modulo the group order.
#[derive(Clone)]
pub struct Transcript(Sha512);

impl Transcript {
    /// Start a transcript for the given purpose (e.g. `"proof/selection"`).
    pub fn new(domain: &str) -> Self {
        let mut h = Sha512::new();
        let mut label = Vec::with_capacity(DOMAIN_PREFIX.len() + domain.len());
        label.extend_from_slice(DOMAIN_PREFIX);
        label.extend_from_slice(domain.as_bytes());
        h.update((label.len() as u32).to_be_bytes());
        h.update(&label);
        Transcript(h)
    }

    /// Append a labelled byte string.
    pub fn append(&mut self, label: &str, data: &[u8]) {
        self.0.update((label.len() as u32).to_be_bytes());
        self.0.update(label.as_bytes());
        self.0.update((data.len() as u64).to_be_bytes());
        self.0.update(data);
    }

    /// Append a labelled unsigned integer (8 bytes big-endian).
    pub fn append_u64(&mut self, label: &str, v: u64) {
        self.append(label, &v.to_be_bytes());
    }

    /// Append a labelled point (compressed encoding).
    pub fn append_point(&mut self, label: &str, p: &RistrettoPoint) {
        self.append(label, p.compress().as_bytes());
    }

    /// Append a labelled 32-byte value.
    pub fn append_hex(&mut self, label: &str, v: &Hex32) {
        self.append(label, &v.0);
    }

    /// Finish with a labelled challenge scalar.
    pub fn challenge(mut self, label: &str) -> Scalar {
        self.append(label, b"");
        let out: [u8; 64] = self.0.finalize().into();
        Scalar::from_bytes_mod_order_wide(&out)
    }

    /// Finish with a 32-byte hash (first half of the SHA-512 output).
    pub fn hash(mut self, label: &str) -> Hex32 {
        self.append(label, b"");
        let out: [u8; 64] = self.0.finalize().into();
        let mut h = [0u8; 32];
        h.copy_from_slice(&out[..32]);
        Hex32(h)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn framing_is_injective_on_boundaries() {
        let mut a = Transcript::new("t");
        a.append("x", b"ab");
        a.append("y", b"c");
        let mut b = Transcript::new("t");
        b.append("x", b"a");
        b.append("y", b"bc");
        assert_ne!(a.hash("h"), b.hash("h"));
        assert_ne!(
            Transcript::new("a").hash("h"),
            Transcript::new("b").hash("h")
        );
    }

    #[test]
    fn hex_roundtrip() {
        let h = Hex32([7u8; 32]);
        let s = serde_json::to_string(&h).unwrap();
        assert_eq!(serde_json::from_str::<Hex32>(&s).unwrap(), h);
        assert!(serde_json::from_str::<Hex32>("\"00\"").is_err());
    }
}
