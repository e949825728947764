//! Ristretto255 exponential ElGamal, discrete logarithm by baby-step giant-step,
//! and Lagrange interpolation at zero.
//!
//! Notation: `G` is the Ristretto255 basepoint, `H = s·G` the election's joint public key.
//! A value `m` encrypted with nonce `r` is `(α, β) = (r·G, m·G + r·H)`.

use std::collections::HashMap;

use curve25519_dalek::constants::{RISTRETTO_BASEPOINT_POINT, RISTRETTO_BASEPOINT_TABLE};
use curve25519_dalek::ristretto::{
    RistrettoBasepointTable, RistrettoPoint, VartimeRistrettoPrecomputation,
};
use curve25519_dalek::scalar::Scalar;
use curve25519_dalek::traits::{Identity, VartimePrecomputedMultiscalarMul};
use rand::CryptoRng;
use serde::{Deserialize, Serialize};

use crate::VoteError;
use crate::encoding::Hex32;

/// The group generator `G`.
pub const G: RistrettoPoint = RISTRETTO_BASEPOINT_POINT;

/// `m·G` for a small non-negative integer, constant-time in the scalar.
pub fn g_mul(m: &Scalar) -> RistrettoPoint {
    m * RISTRETTO_BASEPOINT_TABLE
}

/// A uniformly random non-zero scalar.
pub fn random_scalar<R: CryptoRng + ?Sized>(rng: &mut R) -> Scalar {
    loop {
        let s = Scalar::random(rng);
        if s != Scalar::ZERO {
            return s;
        }
    }
}

/// The election public key with precomputed tables for fast encryption and verification.
pub struct PublicKey {
    /// The key `H`.
    pub point: RistrettoPoint,
    /// Its canonical encoding.
    pub bytes: Hex32,
    table: RistrettoBasepointTable,
    /// Variable-time precomputation for `[G, H]`, used by verifiers only.
    pub(crate) precomp: VartimeRistrettoPrecomputation,
}

impl PublicKey {
    /// Wrap a point as an encryption key.
    pub fn new(point: RistrettoPoint) -> Self {
        PublicKey {
            point,
            bytes: Hex32::from_point(&point),
            table: RistrettoBasepointTable::create(&point),
            precomp: VartimeRistrettoPrecomputation::new([G, point]),
        }
    }

    /// `r·H`, constant time in `r`.
    pub fn h_mul(&self, r: &Scalar) -> RistrettoPoint {
        r * &self.table
    }

    /// Encrypt a small integer with the given nonce.
    pub fn encrypt_with(&self, m: u64, r: &Scalar) -> Ciphertext {
        Ciphertext {
            alpha: g_mul(r),
            beta: g_mul(&Scalar::from(m)) + self.h_mul(r),
        }
    }

    /// Encrypt a small integer with a fresh random nonce; returns the ciphertext and the nonce.
    pub fn encrypt<R: CryptoRng + ?Sized>(&self, m: u64, rng: &mut R) -> (Ciphertext, Scalar) {
        let r = random_scalar(rng);
        (self.encrypt_with(m, &r), r)
    }

    /// `a·G + b·H + Σ cᵢ·Pᵢ`, variable time (public inputs only).
    pub(crate) fn vartime_combo(
        &self,
        a: &Scalar,
        b: &Scalar,
        scalars: &[Scalar],
        points: &[RistrettoPoint],
    ) -> RistrettoPoint {
        self.precomp
            .vartime_mixed_multiscalar_mul([a, b], scalars.iter(), points.iter())
    }
}

/// An exponential ElGamal ciphertext.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ciphertext {
    pub alpha: RistrettoPoint,
    pub beta: RistrettoPoint,
}

impl Ciphertext {
    /// Encryption of zero with nonce zero (the neutral element of aggregation).
    pub fn zero() -> Self {
        Ciphertext {
            alpha: RistrettoPoint::identity(),
            beta: RistrettoPoint::identity(),
        }
    }

    /// Homomorphic addition.
    pub fn add(&self, other: &Ciphertext) -> Ciphertext {
        Ciphertext {
            alpha: self.alpha + other.alpha,
            beta: self.beta + other.beta,
        }
    }

    /// Homomorphic multiplication of the plaintext by a public scalar.
    pub fn scale(&self, w: &Scalar) -> Ciphertext {
        Ciphertext {
            alpha: self.alpha * w,
            beta: self.beta * w,
        }
    }

    /// Homomorphic subtraction (removes `other`'s plaintext from the sum).
    pub fn sub(&self, other: &Ciphertext) -> Ciphertext {
        Ciphertext {
            alpha: self.alpha - other.alpha,
            beta: self.beta - other.beta,
        }
    }

    /// [`Ciphertext::scale`] by an integer weight.
    pub fn scale_u64(&self, w: u64) -> Ciphertext {
        if w == 1 {
            return *self;
        }
        self.scale(&Scalar::from(w))
    }

    /// Wire encoding.
    pub fn to_wire(&self) -> CiphertextWire {
        CiphertextWire {
            alpha: Hex32::from_point(&self.alpha),
            beta: Hex32::from_point(&self.beta),
        }
    }

    /// Decrypt to `m·G` with the full secret key (used in tests; elections use threshold decryption).
    pub fn decrypt_to_point(&self, secret: &Scalar) -> RistrettoPoint {
        self.beta - self.alpha * secret
    }
}

/// JSON form of a ciphertext: two compressed points.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CiphertextWire {
    pub alpha: Hex32,
    pub beta: Hex32,
}

impl CiphertextWire {
    /// Decode, rejecting non-canonical points.
    pub fn decode(&self, what: &str) -> Result<Ciphertext, VoteError> {
        Ok(Ciphertext {
            alpha: self.alpha.point(what)?,
            beta: self.beta.point(what)?,
        })
    }
}

/// Baby-step giant-step table for discrete logarithms of `m·G` with `0 ≤ m ≤ bound`.
pub struct DlogTable {
    baby: HashMap<[u8; 32], u64>,
    step: u64,
    giant: RistrettoPoint,
    bound: u64,
}

impl DlogTable {
    /// Build a table for `0 ≤ m ≤ bound` (about `√bound` points).
    pub fn new(bound: u64) -> Self {
        // ⌈√(bound + 1)⌉ in integers (the table is built inside a state machine).
        let n = bound.saturating_add(1);
        let r = n.isqrt();
        let step = if r * r == n { r } else { r + 1 }.max(1);
        let mut baby = HashMap::with_capacity(step as usize);
        let mut p = RistrettoPoint::identity();
        for j in 0..step {
            baby.insert(p.compress().to_bytes(), j);
            p += G;
        }
        DlogTable {
            baby,
            step,
            giant: -(G * Scalar::from(step)),
            bound,
        }
    }

    /// Find `m ≤ bound` with `m·G = p`.
    pub fn solve(&self, p: &RistrettoPoint) -> Option<u64> {
        let mut q = *p;
        let mut i = 0u64;
        while i * self.step <= self.bound {
            if let Some(j) = self.baby.get(&q.compress().to_bytes()) {
                let m = i * self.step + j;
                return (m <= self.bound).then_some(m);
            }
            q += self.giant;
            i += 1;
        }
        None
    }
}

/// Lagrange coefficient at zero for participant `i` of the set `set` (indices ≥ 1).
pub fn lagrange_at_zero(i: u32, set: &[u32]) -> Scalar {
    let mut num = Scalar::ONE;
    let mut den = Scalar::ONE;
    let xi = Scalar::from(u64::from(i));
    for &j in set {
        if j == i {
            continue;
        }
        let xj = Scalar::from(u64::from(j));
        num *= xj;
        den *= xj - xi;
    }
    num * den.invert()
}

/// Evaluate `Σ_j x^j·C_j` for public polynomial commitments (Feldman).
pub fn eval_commitments(commitments: &[RistrettoPoint], x: u32) -> RistrettoPoint {
    let xs = Scalar::from(u64::from(x));
    let mut acc = RistrettoPoint::identity();
    for c in commitments.iter().rev() {
        acc = acc * xs + c;
    }
    acc
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    #[test]
    fn encrypt_decrypt_and_homomorphism() {
        let mut rng = StdRng::seed_from_u64(1);
        let s = random_scalar(&mut rng);
        let pk = PublicKey::new(g_mul(&s));
        let (c1, _) = pk.encrypt(3, &mut rng);
        let (c2, _) = pk.encrypt(4, &mut rng);
        let sum = c1.add(&c2).scale(&Scalar::from(5u64));
        let table = DlogTable::new(100);
        assert_eq!(table.solve(&sum.decrypt_to_point(&s)), Some(35));
        assert_eq!(table.solve(&g_mul(&Scalar::from(101u64))), None);
        assert_eq!(table.solve(&g_mul(&Scalar::from(100u64))), Some(100));
        assert_eq!(table.solve(&RistrettoPoint::identity()), Some(0));
    }

    #[test]
    fn lagrange_reconstructs() {
        // f(x) = 5 + 2x + 3x^2
        let f = |x: u64| Scalar::from(5 + 2 * x + 3 * x * x);
        let set = [1u32, 3, 4];
        let mut acc = Scalar::ZERO;
        for &i in &set {
            acc += lagrange_at_zero(i, &set) * f(u64::from(i));
        }
        assert_eq!(acc, Scalar::from(5u64));
    }
}
