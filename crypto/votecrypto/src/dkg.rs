//! Key ceremony: Pedersen-style distributed key generation over Feldman commitments.
//!
//! Each trustee `i ∈ 1..=n`:
//! 1. publishes an encryption key `E_i = e_i·G` with a Schnorr proof, and commitments
//!    `A_{i,j} = a_{i,j}·G` to a random polynomial `f_i` of degree `k − 1`, each with a
//!    Schnorr proof of knowledge ([`TrusteeAnnouncement`]);
//! 2. sends `f_i(l)` to every other trustee `l`, encrypted with ChaCha20-Poly1305 under a
//!    key derived from the Diffie–Hellman secret `K_{i,l} = e_i·E_l` ([`EncryptedShare`]);
//! 3. every recipient checks `f_i(l)·G = Σ_j l^j·A_{i,j}`; if not (or if decryption fails)
//!    it publishes a [`Complaint`] revealing `K_{i,l}` with a Chaum–Pedersen proof, so that
//!    anyone can decrypt the disputed share and check it against the commitments.
//!
//! Dealers with an invalid announcement, a missing share, or a justified complaint are
//! disqualified. With `QUAL` the remaining dealers, trustee `l`'s key share is
//! `x_l = Σ_{i∈QUAL} f_i(l)`, its public share `X_l = Σ_{i∈QUAL} Σ_j l^j·A_{i,j}`,
//! and the joint key `H = Σ_{i∈QUAL} A_{i,0}`.

use std::collections::{BTreeMap, BTreeSet};

use chacha20poly1305::aead::{Aead, Payload};
use chacha20poly1305::{ChaCha20Poly1305, KeyInit, Nonce};
use curve25519_dalek::ristretto::RistrettoPoint;
use curve25519_dalek::scalar::Scalar;
use curve25519_dalek::traits::Identity;
use rand::CryptoRng;
use serde::{Deserialize, Serialize};
use zeroize::Zeroize;

use crate::VoteError;
use crate::encoding::{Hex32, Transcript};
use crate::group::{eval_commitments, g_mul, random_scalar};
use crate::proofs::{DleqProof, SchnorrProof};

/// Public first-round message of a trustee.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrusteeAnnouncement {
    pub index: u32,
    pub encryption_key: Hex32,
    pub encryption_key_proof: SchnorrProof,
    /// Feldman commitments `A_{i,0..k}`.
    pub commitments: Vec<Hex32>,
    /// One Schnorr proof of knowledge per coefficient.
    pub coefficient_proofs: Vec<SchnorrProof>,
}

/// A polynomial share `f_dealer(recipient)`, encrypted to the recipient.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EncryptedShare {
    pub dealer: u32,
    pub recipient: u32,
    /// Hex of the ChaCha20-Poly1305 ciphertext (32-byte scalar + 16-byte tag).
    pub ciphertext: String,
}

/// A recipient's complaint against a dealer, revealing the pairwise DH secret.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Complaint {
    pub dealer: u32,
    pub recipient: u32,
    /// `K = e_recipient·E_dealer`.
    pub shared_secret: Hex32,
    /// Proof that `log_G E_recipient = log_{E_dealer} K`.
    pub proof: DleqProof,
}

/// Public share of one trustee (`X_l`), for the record.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublicShare {
    pub index: u32,
    pub key: Hex32,
}

/// The public transcript of the key ceremony, as stored in the election record.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CeremonyRecord {
    pub trustees: u32,
    pub threshold: u32,
    pub announcements: Vec<TrusteeAnnouncement>,
    pub encrypted_shares: Vec<EncryptedShare>,
    pub complaints: Vec<Complaint>,
    pub disqualified: Vec<u32>,
    pub joint_public_key: Hex32,
    pub public_shares: Vec<PublicShare>,
}

/// A trustee's secret key share after the ceremony.
#[derive(Clone)]
pub struct TrusteeSecret {
    pub index: u32,
    pub(crate) share: Scalar,
}

impl TrusteeSecret {
    /// Public share `X_l = x_l·G`.
    pub fn public(&self) -> RistrettoPoint {
        g_mul(&self.share)
    }

    /// The secret as JSON, to keep between the ceremony and the tally (secret!).
    pub fn to_json(&self) -> String {
        serde_json::to_string(&SavedSecret {
            index: self.index,
            share: self.share,
        })
        .expect("a key share serializes")
    }

    /// Read a secret written by [`TrusteeSecret::to_json`].
    pub fn from_json(s: &str) -> Result<Self, VoteError> {
        let saved: SavedSecret = serde_json::from_str(s)
            .map_err(|e| VoteError::Ceremony(format!("unreadable trustee key share: {e}")))?;
        Ok(TrusteeSecret {
            index: saved.index,
            share: saved.share,
        })
    }
}

impl Drop for TrusteeSecret {
    fn drop(&mut self) {
        self.share.zeroize();
    }
}

/// A trustee's private state during the ceremony.
#[derive(Serialize, Deserialize)]
pub struct Trustee {
    index: u32,
    n: u32,
    k: u32,
    context: Hex32,
    enc_secret: Scalar,
    coefficients: Vec<Scalar>,
    received: BTreeMap<u32, Scalar>,
}

/// A trustee's key share, saveable between the ceremony and the tally (JSON: `index` and the
/// share as 32 bytes of hex; keep it secret).
#[derive(Serialize, Deserialize)]
struct SavedSecret {
    index: u32,
    share: Scalar,
}

impl Drop for Trustee {
    fn drop(&mut self) {
        self.enc_secret.zeroize();
        self.coefficients.zeroize();
        for v in self.received.values_mut() {
            v.zeroize();
        }
    }
}

fn check_params(n: u32, k: u32) -> Result<(), VoteError> {
    if k == 0 || k > n || n > 255 {
        return Err(VoteError::Ceremony(format!(
            "need 1 ≤ k ≤ n ≤ 255, got k={k}, n={n}"
        )));
    }
    Ok(())
}

fn base_transcript(label: &str, context: &Hex32, n: u32, k: u32, dealer: u32) -> Transcript {
    let mut t = Transcript::new(label);
    t.append_hex("manifest_hash", context);
    t.append_u64("n", u64::from(n));
    t.append_u64("k", u64::from(k));
    t.append_u64("trustee", u64::from(dealer));
    t
}

fn enc_key_transcript(context: &Hex32, n: u32, k: u32, i: u32) -> Transcript {
    base_transcript("dkg/encryption-key", context, n, k, i)
}

fn coeff_transcript(context: &Hex32, n: u32, k: u32, i: u32, j: usize) -> Transcript {
    let mut t = base_transcript("dkg/coefficient", context, n, k, i);
    t.append_u64("coefficient", j as u64);
    t
}

fn complaint_transcript(
    context: &Hex32,
    n: u32,
    k: u32,
    dealer: u32,
    recipient: u32,
) -> Transcript {
    let mut t = base_transcript("dkg/complaint", context, n, k, dealer);
    t.append_u64("recipient", u64::from(recipient));
    t
}

fn share_cipher(
    context: &Hex32,
    dealer: u32,
    recipient: u32,
    e_dealer: &Hex32,
    e_recipient: &Hex32,
    shared: &RistrettoPoint,
) -> ChaCha20Poly1305 {
    let mut t = Transcript::new("dkg/share-key");
    t.append_hex("manifest_hash", context);
    t.append_u64("dealer", u64::from(dealer));
    t.append_u64("recipient", u64::from(recipient));
    t.append_hex("E_dealer", e_dealer);
    t.append_hex("E_recipient", e_recipient);
    t.append_point("K", shared);
    let mut key = t.hash("key");
    let cipher = ChaCha20Poly1305::new(&key.0.into());
    key.0.zeroize();
    cipher
}

fn share_aad(dealer: u32, recipient: u32) -> Vec<u8> {
    let mut aad = b"urbis/votecrypto/v1/dkg/share".to_vec();
    aad.extend_from_slice(&dealer.to_be_bytes());
    aad.extend_from_slice(&recipient.to_be_bytes());
    aad
}

/// A pairwise key is used for exactly one message, so a fixed nonce is safe.
fn zero_nonce() -> Nonce {
    Nonce::from([0u8; 12])
}

fn decrypt_share(
    context: &Hex32,
    dealer: &TrusteeAnnouncement,
    recipient: &TrusteeAnnouncement,
    shared: &RistrettoPoint,
    ciphertext_hex: &str,
) -> Option<Scalar> {
    let ct = hex::decode(ciphertext_hex).ok()?;
    let cipher = share_cipher(
        context,
        dealer.index,
        recipient.index,
        &dealer.encryption_key,
        &recipient.encryption_key,
        shared,
    );
    let aad = share_aad(dealer.index, recipient.index);
    let mut pt = cipher
        .decrypt(
            &zero_nonce(),
            Payload {
                msg: &ct,
                aad: &aad,
            },
        )
        .ok()?;
    let bytes: [u8; 32] = pt.as_slice().try_into().ok()?;
    pt.zeroize();
    Option::from(Scalar::from_canonical_bytes(bytes))
}

fn decode_commitments(a: &TrusteeAnnouncement) -> Result<Vec<RistrettoPoint>, VoteError> {
    a.commitments
        .iter()
        .map(|c| c.point("Feldman commitment"))
        .collect()
}

impl Trustee {
    /// Create trustee `index` (1-based) and its public announcement. `context` is the manifest hash.
    pub fn new<R: CryptoRng + ?Sized>(
        index: u32,
        n: u32,
        k: u32,
        context: Hex32,
        rng: &mut R,
    ) -> Result<(Self, TrusteeAnnouncement), VoteError> {
        check_params(n, k)?;
        if index == 0 || index > n {
            return Err(VoteError::Ceremony(format!(
                "trustee index {index} outside 1..={n}"
            )));
        }
        let enc_secret = random_scalar(rng);
        let enc_public = g_mul(&enc_secret);
        let coefficients: Vec<Scalar> = (0..k).map(|_| random_scalar(rng)).collect();
        let mut commitments = Vec::with_capacity(k as usize);
        let mut coefficient_proofs = Vec::with_capacity(k as usize);
        for (j, a) in coefficients.iter().enumerate() {
            let c = g_mul(a);
            commitments.push(Hex32::from_point(&c));
            coefficient_proofs.push(SchnorrProof::prove(
                a,
                &c,
                coeff_transcript(&context, n, k, index, j),
                rng,
            ));
        }
        let ann = TrusteeAnnouncement {
            index,
            encryption_key: Hex32::from_point(&enc_public),
            encryption_key_proof: SchnorrProof::prove(
                &enc_secret,
                &enc_public,
                enc_key_transcript(&context, n, k, index),
                rng,
            ),
            commitments,
            coefficient_proofs,
        };
        let mut t = Trustee {
            index,
            n,
            k,
            context,
            enc_secret,
            coefficients,
            received: BTreeMap::new(),
        };
        let own = t.eval(index);
        t.received.insert(index, own);
        Ok((t, ann))
    }

    /// This trustee's index.
    pub fn index(&self) -> u32 {
        self.index
    }

    /// The private state as JSON, to continue the ceremony in a later process (secret: it
    /// holds the trustee's polynomial and the shares it received).
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a trustee's state serializes")
    }

    /// Continue from a state written by [`Trustee::to_json`].
    pub fn from_json(s: &str) -> Result<Self, VoteError> {
        let t: Trustee = serde_json::from_str(s)
            .map_err(|e| VoteError::Ceremony(format!("unreadable trustee state: {e}")))?;
        check_params(t.n, t.k)?;
        if t.coefficients.len() != t.k as usize || t.index == 0 || t.index > t.n {
            return Err(VoteError::Ceremony("inconsistent trustee state".into()));
        }
        Ok(t)
    }

    fn eval(&self, x: u32) -> Scalar {
        let xs = Scalar::from(u64::from(x));
        self.coefficients
            .iter()
            .rev()
            .fold(Scalar::ZERO, |acc, a| acc * xs + a)
    }

    fn encrypt_value(
        &self,
        recipient: &TrusteeAnnouncement,
        value: &Scalar,
    ) -> Result<EncryptedShare, VoteError> {
        let e_l = recipient.encryption_key.point("encryption key")?;
        let shared = e_l * self.enc_secret;
        let cipher = share_cipher(
            &self.context,
            self.index,
            recipient.index,
            &Hex32::from_point(&g_mul(&self.enc_secret)),
            &recipient.encryption_key,
            &shared,
        );
        let aad = share_aad(self.index, recipient.index);
        let mut pt = value.to_bytes();
        let ct = cipher
            .encrypt(
                &zero_nonce(),
                Payload {
                    msg: &pt,
                    aad: &aad,
                },
            )
            .map_err(|_| VoteError::Ceremony("share encryption failed".into()))?;
        pt.zeroize();
        Ok(EncryptedShare {
            dealer: self.index,
            recipient: recipient.index,
            ciphertext: hex::encode(ct),
        })
    }

    /// Second round: encrypt `f_i(l)` for every other trustee `l`.
    pub fn deal(
        &self,
        announcements: &[TrusteeAnnouncement],
    ) -> Result<Vec<EncryptedShare>, VoteError> {
        announcements
            .iter()
            .filter(|a| a.index != self.index)
            .map(|a| self.encrypt_value(a, &self.eval(a.index)))
            .collect()
    }

    /// Third round: decrypt and check the shares addressed to this trustee; returns complaints.
    pub fn receive<R: CryptoRng + ?Sized>(
        &mut self,
        announcements: &[TrusteeAnnouncement],
        shares: &[EncryptedShare],
        rng: &mut R,
    ) -> Result<Vec<Complaint>, VoteError> {
        let me = announcements
            .iter()
            .find(|a| a.index == self.index)
            .ok_or_else(|| VoteError::Ceremony("own announcement missing".into()))?
            .clone();
        let my_pub = me.encryption_key.point("encryption key")?;
        let mut complaints = Vec::new();
        for share in shares.iter().filter(|s| s.recipient == self.index) {
            let Some(dealer) = announcements.iter().find(|a| a.index == share.dealer) else {
                continue;
            };
            let Ok(e_i) = dealer.encryption_key.point("encryption key") else {
                continue; // invalid announcement: the dealer is disqualified anyway
            };
            let Ok(comms) = decode_commitments(dealer) else {
                continue;
            };
            let shared = e_i * self.enc_secret;
            let ok = decrypt_share(&self.context, dealer, &me, &shared, &share.ciphertext)
                .filter(|s| g_mul(s) == eval_commitments(&comms, self.index));
            match ok {
                Some(s) => {
                    self.received.insert(dealer.index, s);
                }
                None => complaints.push(Complaint {
                    dealer: dealer.index,
                    recipient: self.index,
                    shared_secret: Hex32::from_point(&shared),
                    proof: DleqProof::prove(
                        &self.enc_secret,
                        &my_pub,
                        &e_i,
                        &shared,
                        complaint_transcript(
                            &self.context,
                            self.n,
                            self.k,
                            dealer.index,
                            self.index,
                        ),
                        rng,
                    ),
                }),
            }
        }
        Ok(complaints)
    }

    /// Final round: combine the shares of the qualified dealers of `record`.
    pub fn finish(&self, record: &CeremonyRecord) -> Result<TrusteeSecret, VoteError> {
        let mut share = Scalar::ZERO;
        for a in &record.announcements {
            if record.disqualified.contains(&a.index) {
                continue;
            }
            share += self.received.get(&a.index).ok_or_else(|| {
                VoteError::Ceremony(format!(
                    "trustee {} has no valid share from dealer {}",
                    self.index, a.index
                ))
            })?;
        }
        let secret = TrusteeSecret {
            index: self.index,
            share,
        };
        let expected = record
            .public_shares
            .iter()
            .find(|p| p.index == self.index)
            .ok_or_else(|| VoteError::Ceremony("public share missing".into()))?;
        if Hex32::from_point(&secret.public()) != expected.key {
            return Err(VoteError::Ceremony(
                "key share does not match public share".into(),
            ));
        }
        Ok(secret)
    }
}

/// Outcome of re-checking a ceremony transcript.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CeremonyOutcome {
    /// Disqualified dealers with the reason for each.
    pub disqualified: BTreeMap<u32, String>,
    /// Complaints that were rejected (the disputed share was valid).
    pub rejected_complaints: Vec<(u32, u32)>,
    pub joint_public_key: RistrettoPoint,
    /// `X_l` for `l = 1..=n`.
    pub public_shares: Vec<RistrettoPoint>,
}

/// Check one announcement: index, number of commitments, and every proof.
pub fn check_announcement(
    context: &Hex32,
    n: u32,
    k: u32,
    a: &TrusteeAnnouncement,
) -> Result<(), VoteError> {
    if a.commitments.len() != k as usize || a.coefficient_proofs.len() != k as usize {
        return Err(VoteError::Ceremony(format!(
            "trustee {}: expected {k} commitments and proofs",
            a.index
        )));
    }
    let e = a.encryption_key.point("encryption key")?;
    if e == RistrettoPoint::identity() {
        return Err(VoteError::Ceremony(format!(
            "trustee {}: the encryption key is the identity",
            a.index
        )));
    }
    a.encryption_key_proof
        .verify(&e, enc_key_transcript(context, n, k, a.index))
        .map_err(|_| {
            VoteError::Ceremony(format!("trustee {}: encryption-key proof invalid", a.index))
        })?;
    for (j, (c, p)) in a.commitments.iter().zip(&a.coefficient_proofs).enumerate() {
        let cp = c.point("Feldman commitment")?;
        p.verify(&cp, coeff_transcript(context, n, k, a.index, j))
            .map_err(|_| {
                VoteError::Ceremony(format!(
                    "trustee {}: proof of coefficient {j} invalid",
                    a.index
                ))
            })?;
    }
    Ok(())
}

/// Decide a complaint: `Ok(true)` if the dealer is at fault, `Ok(false)` if the share
/// was valid, `Err` if the complaint itself is malformed (and therefore ignored).
pub fn resolve_complaint(
    context: &Hex32,
    n: u32,
    k: u32,
    announcements: &[TrusteeAnnouncement],
    shares: &[EncryptedShare],
    c: &Complaint,
) -> Result<bool, VoteError> {
    let find = |i: u32| {
        announcements
            .iter()
            .find(|a| a.index == i)
            .ok_or_else(|| VoteError::Ceremony(format!("complaint names unknown trustee {i}")))
    };
    if c.dealer == c.recipient {
        return Err(VoteError::Ceremony(
            "a complaint names the dealer as its own recipient".into(),
        ));
    }
    let dealer = find(c.dealer)?;
    let recipient = find(c.recipient)?;
    let e_i = dealer.encryption_key.point("encryption key")?;
    let e_l = recipient.encryption_key.point("encryption key")?;
    let k_point = c.shared_secret.point("complaint shared secret")?;
    c.proof
        .verify(
            &e_l,
            &e_i,
            &k_point,
            complaint_transcript(context, n, k, c.dealer, c.recipient),
        )
        .map_err(|_| VoteError::Ceremony("complaint proof invalid".into()))?;
    let Some(share) = shares
        .iter()
        .find(|s| s.dealer == c.dealer && s.recipient == c.recipient)
    else {
        return Ok(true);
    };
    let comms = decode_commitments(dealer)?;
    Ok(
        decrypt_share(context, dealer, recipient, &k_point, &share.ciphertext)
            .is_none_or(|s| g_mul(&s) != eval_commitments(&comms, c.recipient)),
    )
}

/// Recompute the qualified set, the joint key and the public shares from a transcript.
pub fn evaluate_ceremony(
    context: &Hex32,
    n: u32,
    k: u32,
    announcements: &[TrusteeAnnouncement],
    shares: &[EncryptedShare],
    complaints: &[Complaint],
) -> Result<CeremonyOutcome, VoteError> {
    check_params(n, k)?;
    let indices: BTreeSet<u32> = announcements.iter().map(|a| a.index).collect();
    if indices.len() != announcements.len() || indices != (1..=n).collect() {
        return Err(VoteError::Ceremony(format!(
            "announcements must cover trustees 1..={n} exactly once"
        )));
    }
    let mut disqualified = BTreeMap::new();
    for a in announcements {
        if let Err(e) = check_announcement(context, n, k, a) {
            disqualified.insert(a.index, e.to_string());
        }
    }
    let mut pairs = BTreeSet::new();
    for s in shares {
        if !indices.contains(&s.dealer)
            || !indices.contains(&s.recipient)
            || s.dealer == s.recipient
        {
            return Err(VoteError::Ceremony(format!(
                "share {}→{} names an invalid pair",
                s.dealer, s.recipient
            )));
        }
        if !pairs.insert((s.dealer, s.recipient)) {
            return Err(VoteError::Ceremony(format!(
                "duplicate share {}→{}",
                s.dealer, s.recipient
            )));
        }
    }
    for i in 1..=n {
        for l in 1..=n {
            if i != l && !pairs.contains(&(i, l)) {
                disqualified
                    .entry(i)
                    .or_insert_with(|| format!("no share for trustee {l}"));
            }
        }
    }
    let mut rejected = Vec::new();
    for c in complaints {
        match resolve_complaint(context, n, k, announcements, shares, c) {
            Ok(true) => {
                disqualified
                    .entry(c.dealer)
                    .or_insert_with(|| format!("justified complaint by trustee {}", c.recipient));
            }
            Ok(false) | Err(_) => rejected.push((c.dealer, c.recipient)),
        }
    }
    let qualified: Vec<&TrusteeAnnouncement> = announcements
        .iter()
        .filter(|a| !disqualified.contains_key(&a.index))
        .collect();
    if qualified.is_empty() {
        return Err(VoteError::Ceremony("no qualified dealer".into()));
    }
    let mut joint = RistrettoPoint::identity();
    let mut public_shares = vec![RistrettoPoint::identity(); n as usize];
    for a in qualified {
        let comms = decode_commitments(a)?;
        joint += comms[0];
        for (l, x) in public_shares.iter_mut().enumerate() {
            *x += eval_commitments(&comms, l as u32 + 1);
        }
    }
    if joint == RistrettoPoint::identity() {
        return Err(VoteError::Ceremony(
            "the joint public key is the identity".into(),
        ));
    }
    Ok(CeremonyOutcome {
        disqualified,
        rejected_complaints: rejected,
        joint_public_key: joint,
        public_shares,
    })
}

/// Assemble the ceremony record from the public messages.
pub fn finalize_ceremony(
    context: &Hex32,
    n: u32,
    k: u32,
    announcements: Vec<TrusteeAnnouncement>,
    encrypted_shares: Vec<EncryptedShare>,
    complaints: Vec<Complaint>,
) -> Result<CeremonyRecord, VoteError> {
    let out = evaluate_ceremony(
        context,
        n,
        k,
        &announcements,
        &encrypted_shares,
        &complaints,
    )?;
    Ok(CeremonyRecord {
        trustees: n,
        threshold: k,
        announcements,
        encrypted_shares,
        complaints,
        disqualified: out.disqualified.keys().copied().collect(),
        joint_public_key: Hex32::from_point(&out.joint_public_key),
        public_shares: out
            .public_shares
            .iter()
            .enumerate()
            .map(|(l, p)| PublicShare {
                index: l as u32 + 1,
                key: Hex32::from_point(p),
            })
            .collect(),
    })
}

/// Run a complete honest ceremony in one process (simulation, tests and demo).
pub fn run_ceremony<R: CryptoRng + ?Sized>(
    context: Hex32,
    n: u32,
    k: u32,
    rng: &mut R,
) -> Result<(CeremonyRecord, Vec<TrusteeSecret>), VoteError> {
    let mut trustees = Vec::new();
    let mut anns = Vec::new();
    for i in 1..=n {
        let (t, a) = Trustee::new(i, n, k, context, rng)?;
        trustees.push(t);
        anns.push(a);
    }
    let mut shares = Vec::new();
    for t in &trustees {
        shares.extend(t.deal(&anns)?);
    }
    let mut complaints = Vec::new();
    for t in &mut trustees {
        complaints.extend(t.receive(&anns, &shares, rng)?);
    }
    let record = finalize_ceremony(&context, n, k, anns, shares, complaints)?;
    let secrets = trustees
        .iter()
        .map(|t| t.finish(&record))
        .collect::<Result<Vec<_>, _>>()?;
    Ok((record, secrets))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::group::lagrange_at_zero;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    #[test]
    fn honest_ceremony_reconstructs_joint_key() {
        let mut rng = StdRng::seed_from_u64(5);
        let ctx = Hex32([1; 32]);
        let (rec, secrets) = run_ceremony(ctx, 5, 3, &mut rng).unwrap();
        assert!(rec.complaints.is_empty() && rec.disqualified.is_empty());
        let set = [2u32, 4, 5];
        let s: Scalar = set
            .iter()
            .map(|&i| lagrange_at_zero(i, &set) * secrets[i as usize - 1].share)
            .sum();
        assert_eq!(Hex32::from_point(&g_mul(&s)), rec.joint_public_key);
    }

    #[test]
    fn a_ceremony_can_continue_from_saved_states() {
        let mut rng = StdRng::seed_from_u64(9);
        let ctx = Hex32([3; 32]);
        let (n, k) = (3, 2);
        let mut saved = Vec::new();
        let mut anns = Vec::new();
        for i in 1..=n {
            let (t, a) = Trustee::new(i, n, k, ctx, &mut rng).unwrap();
            saved.push(t.to_json());
            anns.push(a);
        }
        let mut shares = Vec::new();
        for s in &saved {
            shares.extend(Trustee::from_json(s).unwrap().deal(&anns).unwrap());
        }
        let mut complaints = Vec::new();
        for s in &mut saved {
            let mut t = Trustee::from_json(s).unwrap();
            complaints.extend(t.receive(&anns, &shares, &mut rng).unwrap());
            *s = t.to_json();
        }
        assert!(complaints.is_empty());
        let rec = finalize_ceremony(&ctx, n, k, anns, shares, complaints).unwrap();
        let secrets: Vec<TrusteeSecret> = saved
            .iter()
            .map(|s| Trustee::from_json(s).unwrap().finish(&rec).unwrap())
            .map(|s| TrusteeSecret::from_json(&s.to_json()).unwrap())
            .collect();
        let set = [1u32, 3];
        let s: Scalar = set
            .iter()
            .map(|&i| lagrange_at_zero(i, &set) * secrets[i as usize - 1].share)
            .sum();
        assert_eq!(Hex32::from_point(&g_mul(&s)), rec.joint_public_key);
        assert!(Trustee::from_json("{}").is_err());
    }

    #[test]
    fn bad_share_leads_to_justified_complaint_and_disqualification() {
        let mut rng = StdRng::seed_from_u64(6);
        let ctx = Hex32([2; 32]);
        let (n, k) = (4, 2);
        let mut trustees = Vec::new();
        let mut anns = Vec::new();
        for i in 1..=n {
            let (t, a) = Trustee::new(i, n, k, ctx, &mut rng).unwrap();
            trustees.push(t);
            anns.push(a);
        }
        let mut shares = Vec::new();
        for t in &trustees {
            shares.extend(t.deal(&anns).unwrap());
        }
        // Dealer 2 sends a wrong value to trustee 3.
        let pos = shares
            .iter()
            .position(|s| s.dealer == 2 && s.recipient == 3)
            .unwrap();
        shares[pos] = trustees[1]
            .encrypt_value(&anns[2], &(trustees[1].eval(3) + Scalar::ONE))
            .unwrap();
        let mut complaints = Vec::new();
        for t in &mut trustees {
            complaints.extend(t.receive(&anns, &shares, &mut rng).unwrap());
        }
        assert_eq!(complaints.len(), 1);
        // A false complaint (trustee 4 against honest dealer 1) is rejected.
        let e1 = anns[0].encryption_key.point("e").unwrap();
        let e4 = anns[3].encryption_key.point("e").unwrap();
        let shared = e1 * trustees[3].enc_secret;
        complaints.push(Complaint {
            dealer: 1,
            recipient: 4,
            shared_secret: Hex32::from_point(&shared),
            proof: DleqProof::prove(
                &trustees[3].enc_secret,
                &e4,
                &e1,
                &shared,
                complaint_transcript(&ctx, n, k, 1, 4),
                &mut rng,
            ),
        });
        let rec = finalize_ceremony(&ctx, n, k, anns.clone(), shares.clone(), complaints.clone())
            .unwrap();
        assert_eq!(rec.disqualified, vec![2]);
        let out = evaluate_ceremony(&ctx, n, k, &anns, &shares, &complaints).unwrap();
        assert_eq!(out.rejected_complaints, vec![(1, 4)]);
        let secrets: Vec<_> = trustees.iter().map(|t| t.finish(&rec).unwrap()).collect();
        let set = [1u32, 3];
        let s: Scalar = set
            .iter()
            .map(|&i| lagrange_at_zero(i, &set) * secrets[i as usize - 1].share)
            .sum();
        assert_eq!(Hex32::from_point(&g_mul(&s)), rec.joint_public_key);
    }
}
