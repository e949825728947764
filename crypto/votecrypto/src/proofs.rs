//! Sigma protocols made non-interactive with [`Transcript`] (strong Fiat–Shamir:
//! every statement element is hashed, and callers bind the election context first).
//!
//! * [`SchnorrProof`]: knowledge of `x` with `X = x·G`.
//! * [`DleqProof`]: Chaum–Pedersen proof that `log_G X = log_B Y`.
//! * [`MembershipProof`]: Cramer–Damgård–Schoenmakers OR-proof that an ElGamal
//!   ciphertext encrypts one value of a public list (0/1 proofs, range proofs).
//!
//! All proofs are stored in compact form (challenges and responses); verifiers
//! recompute the commitments and check the challenge.

use curve25519_dalek::ristretto::RistrettoPoint;
use curve25519_dalek::scalar::Scalar;
use rand::CryptoRng;
use serde::{Deserialize, Serialize};

use crate::VoteError;
use crate::encoding::{Hex32, Transcript};
use crate::group::{Ciphertext, CiphertextWire, PublicKey, g_mul, random_scalar};

/// Compact Schnorr proof of knowledge `(c, z)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SchnorrProof {
    pub c: Hex32,
    pub z: Hex32,
}

impl SchnorrProof {
    /// Prove knowledge of `x` with `X = x·G`. The caller binds the context into `t`.
    pub fn prove<R: CryptoRng + ?Sized>(
        x: &Scalar,
        public: &RistrettoPoint,
        mut t: Transcript,
        rng: &mut R,
    ) -> Self {
        let u = random_scalar(rng);
        let a = g_mul(&u);
        t.append_point("X", public);
        t.append_point("A", &a);
        let c = t.challenge("c");
        SchnorrProof {
            c: Hex32::from_scalar(&c),
            z: Hex32::from_scalar(&(u + c * x)),
        }
    }

    /// Verify against the same transcript prefix.
    pub fn verify(&self, public: &RistrettoPoint, mut t: Transcript) -> Result<(), VoteError> {
        let c = self.c.scalar("schnorr challenge")?;
        let z = self.z.scalar("schnorr response")?;
        let a = RistrettoPoint::vartime_double_scalar_mul_basepoint(&-c, public, &z);
        t.append_point("X", public);
        t.append_point("A", &a);
        if t.challenge("c") == c {
            Ok(())
        } else {
            Err(VoteError::Verification(
                "Schnorr proof does not verify".into(),
            ))
        }
    }
}

/// Compact Chaum–Pedersen proof `(c, z)` that `X = x·G` and `Y = x·B`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DleqProof {
    pub c: Hex32,
    pub z: Hex32,
}

impl DleqProof {
    /// Prove `log_G X = log_B Y = x`.
    pub fn prove<R: CryptoRng + ?Sized>(
        x: &Scalar,
        public: &RistrettoPoint,
        base: &RistrettoPoint,
        image: &RistrettoPoint,
        mut t: Transcript,
        rng: &mut R,
    ) -> Self {
        let u = random_scalar(rng);
        let a1 = g_mul(&u);
        let a2 = base * u;
        t.append_point("X", public);
        t.append_point("B", base);
        t.append_point("Y", image);
        t.append_point("A1", &a1);
        t.append_point("A2", &a2);
        let c = t.challenge("c");
        DleqProof {
            c: Hex32::from_scalar(&c),
            z: Hex32::from_scalar(&(u + c * x)),
        }
    }

    /// Verify against the same transcript prefix.
    pub fn verify(
        &self,
        public: &RistrettoPoint,
        base: &RistrettoPoint,
        image: &RistrettoPoint,
        mut t: Transcript,
    ) -> Result<(), VoteError> {
        use curve25519_dalek::traits::VartimeMultiscalarMul;
        let c = self.c.scalar("Chaum-Pedersen challenge")?;
        let z = self.z.scalar("Chaum-Pedersen response")?;
        let a1 = RistrettoPoint::vartime_double_scalar_mul_basepoint(&-c, public, &z);
        let a2 = RistrettoPoint::vartime_multiscalar_mul([z, -c], [*base, *image]);
        t.append_point("X", public);
        t.append_point("B", base);
        t.append_point("Y", image);
        t.append_point("A1", &a1);
        t.append_point("A2", &a2);
        if t.challenge("c") == c {
            Ok(())
        } else {
            Err(VoteError::Verification(
                "Chaum-Pedersen proof does not verify".into(),
            ))
        }
    }
}

/// CDS OR-proof that a ciphertext encrypts one of a list of public values.
///
/// Branch `j` proves knowledge of `r` with `α = r·G` and `β − v_j·G = r·H`;
/// `c = Σ c_j` must equal the transcript challenge.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MembershipProof {
    /// Per-branch challenges `c_j`.
    pub c: Vec<Hex32>,
    /// Per-branch responses `z_j`.
    pub z: Vec<Hex32>,
}

fn bind_statement(t: &mut Transcript, pk: &PublicKey, ct: &CiphertextWire, allowed: &[u64]) {
    t.append_hex("H", &pk.bytes);
    t.append_hex("alpha", &ct.alpha);
    t.append_hex("beta", &ct.beta);
    t.append_u64("n", allowed.len() as u64);
    for v in allowed {
        t.append_u64("v", *v);
    }
}

impl MembershipProof {
    /// Prove that `ct = Enc(allowed[index]; nonce)`.
    pub fn prove<R: CryptoRng + ?Sized>(
        pk: &PublicKey,
        ct: &Ciphertext,
        nonce: &Scalar,
        index: usize,
        allowed: &[u64],
        mut t: Transcript,
        rng: &mut R,
    ) -> Result<Self, VoteError> {
        if index >= allowed.len() {
            return Err(VoteError::Parameter("value not in the allowed set".into()));
        }
        let wire = ct.to_wire();
        bind_statement(&mut t, pk, &wire, allowed);
        let n = allowed.len();
        let mut cs = vec![Scalar::ZERO; n];
        let mut zs = vec![Scalar::ZERO; n];
        let u = random_scalar(rng);
        for j in 0..n {
            let (a, b) = if j == index {
                (g_mul(&u), pk.h_mul(&u))
            } else {
                cs[j] = Scalar::random(rng);
                zs[j] = Scalar::random(rng);
                branch_commitments(pk, ct, allowed[j], &cs[j], &zs[j])
            };
            t.append_point("a", &a);
            t.append_point("b", &b);
        }
        let c = t.challenge("c");
        let others: Scalar = cs.iter().sum();
        cs[index] = c - others;
        zs[index] = u + cs[index] * nonce;
        Ok(MembershipProof {
            c: cs.iter().map(Hex32::from_scalar).collect(),
            z: zs.iter().map(Hex32::from_scalar).collect(),
        })
    }

    /// Verify against the same transcript prefix. `wire` must be the encoding of `ct`.
    pub fn verify(
        &self,
        pk: &PublicKey,
        ct: &Ciphertext,
        wire: &CiphertextWire,
        allowed: &[u64],
        mut t: Transcript,
    ) -> Result<(), VoteError> {
        let n = allowed.len();
        if self.c.len() != n || self.z.len() != n {
            return Err(VoteError::Verification(format!(
                "proof has {} / {} branches, expected {n}",
                self.c.len(),
                self.z.len()
            )));
        }
        bind_statement(&mut t, pk, wire, allowed);
        let mut sum = Scalar::ZERO;
        for ((v, c), z) in allowed.iter().zip(&self.c).zip(&self.z) {
            let c = c.scalar("proof challenge")?;
            let z = z.scalar("proof response")?;
            let (a, b) = branch_commitments(pk, ct, *v, &c, &z);
            t.append_point("a", &a);
            t.append_point("b", &b);
            sum += c;
        }
        if t.challenge("c") == sum {
            Ok(())
        } else {
            Err(VoteError::Verification("challenge mismatch".into()))
        }
    }
}

/// Recompute branch commitments `a = z·G − c·α`, `b = z·H − c·(β − v·G)` (variable time, public data).
fn branch_commitments(
    pk: &PublicKey,
    ct: &Ciphertext,
    v: u64,
    c: &Scalar,
    z: &Scalar,
) -> (RistrettoPoint, RistrettoPoint) {
    let a = RistrettoPoint::vartime_double_scalar_mul_basepoint(&-c, &ct.alpha, z);
    let b = pk.vartime_combo(&(c * Scalar::from(v)), z, &[-c], &[ct.beta]);
    (a, b)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::group::G;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    fn t() -> Transcript {
        let mut t = Transcript::new("test");
        t.append("ctx", b"unit");
        t
    }

    #[test]
    fn membership_roundtrip_and_soundness() {
        let mut rng = StdRng::seed_from_u64(9);
        let pk = PublicKey::new(g_mul(&random_scalar(&mut rng)));
        let allowed = [0u64, 1];
        for m in 0..2u64 {
            let (ct, r) = pk.encrypt(m, &mut rng);
            let p =
                MembershipProof::prove(&pk, &ct, &r, m as usize, &allowed, t(), &mut rng).unwrap();
            p.verify(&pk, &ct, &ct.to_wire(), &allowed, t()).unwrap();
            // Different context must fail.
            assert!(
                p.verify(&pk, &ct, &ct.to_wire(), &allowed, Transcript::new("other"))
                    .is_err()
            );
        }
        // Encrypt 2 and try to prove it is in {0,1}: any branch is false.
        let (ct, r) = pk.encrypt(2, &mut rng);
        let p = MembershipProof::prove(&pk, &ct, &r, 1, &allowed, t(), &mut rng).unwrap();
        assert!(p.verify(&pk, &ct, &ct.to_wire(), &allowed, t()).is_err());
    }

    #[test]
    fn schnorr_and_dleq() {
        let mut rng = StdRng::seed_from_u64(3);
        let x = random_scalar(&mut rng);
        let xp = g_mul(&x);
        let p = SchnorrProof::prove(&x, &xp, t(), &mut rng);
        p.verify(&xp, t()).unwrap();
        assert!(p.verify(&(xp + G), t()).is_err());
        let b = g_mul(&random_scalar(&mut rng));
        let y = b * x;
        let d = DleqProof::prove(&x, &xp, &b, &y, t(), &mut rng);
        d.verify(&xp, &b, &y, t()).unwrap();
        assert!(d.verify(&xp, &b, &(y + G), t()).is_err());
    }
}
