//! Telemetry batches, their Merkle anchoring and position proofs: everything an on-board
//! unit, an operator and an offline verifier compute, with no chain state.
//!
//! # Bytes
//!
//! A batch's signed message (`urbis/telemetry-batch/v1`, Ed25519 over `len(tag) ‖ tag ‖
//! message` like every Urbis signature):
//!
//! ```text
//! vehicle id (32) ‖ seq (u64 LE) ‖ count (u32 LE) ‖
//! per point: t_ms (u64 LE) ‖ lat_e7 (i32 LE) ‖ lon_e7 (i32 LE) ‖ speed_cm_s (u32 LE)
//! ```
//!
//! Its leaf: `SHA-256(len(tag) ‖ "urbis/telemetry-leaf/v1" ‖ message ‖ signature (64))`. An
//! anchor's root is [`urbis_core::merkle_root`] over the leaves in the operator's order (each
//! leaf hashed again under `urbis/merkle-leaf/v1`, pairs under `urbis/merkle-node/v1`, an odd
//! node carried up), and a leaf's path is [`urbis_core::merkle_path`].

use serde::{Deserialize, Serialize};
use urbis_core::{Hash, MerkleStep, PublicKey, Signature, merkle_root_from_path, sha256_domain};

/// Signature domain of a batch.
pub const BATCH_TAG: &[u8] = b"urbis/telemetry-batch/v1";
/// Hash domain of a leaf.
pub const LEAF_TAG: &[u8] = b"urbis/telemetry-leaf/v1";
/// Most points in one batch (ten minutes at one a second).
pub const MAX_POINTS: usize = 600;

/// One position fix.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Point {
    /// Unix time, ms (the unit's clock).
    pub t_ms: u64,
    /// Degrees × 10⁷ (WGS 84).
    pub lat_e7: i32,
    pub lon_e7: i32,
    /// Speed over ground, cm/s.
    pub speed_cm_s: u32,
}

/// A batch of positions as the on-board unit signed it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Batch {
    pub vehicle: Hash,
    /// The unit's batch counter (strictly increasing).
    pub seq: u64,
    pub points: Vec<Point>,
    pub signature: Signature,
}

/// Why a batch or a position proof does not hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TelemetryError(pub String);

impl std::fmt::Display for TelemetryError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

fn bad(msg: impl Into<String>) -> TelemetryError {
    TelemetryError(msg.into())
}

/// The bytes a unit signs for `points` (see the module docs).
pub fn batch_message(vehicle: &Hash, seq: u64, points: &[Point]) -> Vec<u8> {
    let mut m = Vec::with_capacity(44 + 20 * points.len());
    m.extend_from_slice(&vehicle.0);
    m.extend_from_slice(&seq.to_le_bytes());
    m.extend_from_slice(&(points.len() as u32).to_le_bytes());
    for p in points {
        m.extend_from_slice(&p.t_ms.to_le_bytes());
        m.extend_from_slice(&p.lat_e7.to_le_bytes());
        m.extend_from_slice(&p.lon_e7.to_le_bytes());
        m.extend_from_slice(&p.speed_cm_s.to_le_bytes());
    }
    m
}

impl Batch {
    /// Sign `points` as the unit holding `key`.
    pub fn sign(key: &urbis_core::SecretKey, vehicle: Hash, seq: u64, points: Vec<Point>) -> Self {
        let signature = key.sign(BATCH_TAG, &batch_message(&vehicle, seq, &points));
        Batch {
            vehicle,
            seq,
            points,
            signature,
        }
    }

    pub fn message(&self) -> Vec<u8> {
        batch_message(&self.vehicle, self.seq, &self.points)
    }

    /// The batch's Merkle leaf.
    pub fn leaf(&self) -> Hash {
        let Signature::Ed25519(sig) = &self.signature;
        sha256_domain(LEAF_TAG, &[&self.message(), sig])
    }

    /// Well-formed: 1 to [`MAX_POINTS`] points in strictly increasing time, coordinates on
    /// Earth.
    pub fn check_shape(&self) -> Result<(), TelemetryError> {
        if self.points.is_empty() || self.points.len() > MAX_POINTS {
            return Err(bad(format!("a batch holds 1 to {MAX_POINTS} points")));
        }
        if self.points.windows(2).any(|w| w[1].t_ms <= w[0].t_ms) {
            return Err(bad("a batch's points are in strictly increasing time"));
        }
        if self.points.iter().any(|p| {
            !(-900_000_000..=900_000_000).contains(&p.lat_e7)
                || !(-1_800_000_000..=1_800_000_000).contains(&p.lon_e7)
        }) {
            return Err(bad("a latitude or longitude is off the globe"));
        }
        Ok(())
    }

    /// The unit's signature under `key`.
    pub fn check_signature(&self, key: &PublicKey) -> Result<(), TelemetryError> {
        key.verify(BATCH_TAG, &self.message(), &self.signature)
            .map_err(|_| bad("the batch's signature is not the on-board unit's"))
    }

    /// The first and last point's times.
    pub fn span(&self) -> (u64, u64) {
        (
            self.points.first().map_or(0, |p| p.t_ms),
            self.points.last().map_or(0, |p| p.t_ms),
        )
    }

    /// The position at `at_ms`: the last fix at or before it, if `at_ms` lies within the
    /// batch's span.
    pub fn position_at(&self, at_ms: u64) -> Option<Point> {
        let (first, last) = self.span();
        if at_ms < first || at_ms > last {
            return None;
        }
        let i = self.points.partition_point(|p| p.t_ms <= at_ms);
        self.points.get(i.checked_sub(1)?).copied()
    }
}

/// The telemetry half of a position proof: a signed batch and its path to an anchor's root.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchInclusion {
    pub batch: Batch,
    pub index: u32,
    pub path: Vec<MerkleStep>,
}

impl BatchInclusion {
    /// Check the batch against the unit's key and the anchored root, and answer the position
    /// at `at_ms` (the anchor's `[from_ms, to_ms]` must contain it too: checked by the caller,
    /// who holds the proven anchor).
    pub fn verify(
        &self,
        unit_key: &PublicKey,
        vehicle: &Hash,
        root: &Hash,
        at_ms: u64,
    ) -> Result<Point, TelemetryError> {
        if self.batch.vehicle != *vehicle {
            return Err(bad("the batch is another vehicle's"));
        }
        self.batch.check_shape()?;
        let point = self
            .batch
            .position_at(at_ms)
            .ok_or_else(|| bad("the batch does not cover that time"))?;
        if merkle_root_from_path(&self.batch.leaf(), &self.path) != *root {
            return Err(bad("the batch is not under the anchored root"));
        }
        self.batch.check_signature(unit_key)?;
        Ok(point)
    }
}

/// A position proven from a vehicle's and an anchor's records (both taken from certified
/// state by the caller) and a batch's inclusion: the anchor is the vehicle's operator's, its
/// span holds `at_ms`, and the batch is the unit's and under the anchor's root.
pub fn check_position(
    vehicle: &crate::Vehicle,
    anchor: &crate::Anchor,
    inclusion: &BatchInclusion,
    at_ms: u64,
) -> Result<Point, TelemetryError> {
    if anchor.operator != vehicle.operator {
        return Err(bad("the anchor is not the vehicle's operator's"));
    }
    if at_ms < anchor.from_ms || at_ms > anchor.to_ms {
        return Err(bad("the anchor's span does not hold that time"));
    }
    inclusion.verify(&vehicle.unit_key, &vehicle.id, &anchor.root, at_ms)
}

/// The hash of an anchor's vehicle numbers.
pub fn vehicles_hash(numbers: &[u32]) -> Hash {
    let mut bytes = Vec::with_capacity(4 * numbers.len());
    for n in numbers {
        bytes.extend_from_slice(&n.to_le_bytes());
    }
    sha256_domain(crate::VEHICLES_TAG, &[&bytes])
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use urbis_core::{SecretKey, merkle_path, merkle_root};

    fn batch(key: &SecretKey, vehicle: Hash, seq: u64, t0: u64) -> Batch {
        let points = (0..60)
            .map(|i| Point {
                t_ms: t0 + i * 1000,
                lat_e7: 485_000_000 + i as i32,
                lon_e7: 23_000_000 - i as i32,
                speed_cm_s: 900,
            })
            .collect();
        Batch::sign(key, vehicle, seq, points)
    }

    #[test]
    fn a_position_is_proven_under_the_root_and_nothing_else_is() {
        let keys: Vec<SecretKey> = (0..5u8)
            .map(|i| SecretKey::from_seed([i + 1; 32]))
            .collect();
        let batches: Vec<Batch> = keys
            .iter()
            .enumerate()
            .map(|(i, k)| batch(k, Hash([i as u8; 32]), 7, 1_000_000))
            .collect();
        let leaves: Vec<Hash> = batches.iter().map(Batch::leaf).collect();
        let root = merkle_root(&leaves);
        for (i, b) in batches.iter().enumerate() {
            let inc = BatchInclusion {
                batch: b.clone(),
                index: i as u32,
                path: merkle_path(&leaves, i).unwrap(),
            };
            let p = inc
                .verify(&keys[i].public_key(), &b.vehicle, &root, 1_010_500)
                .unwrap();
            assert_eq!(p.t_ms, 1_010_000);
            // Another unit's key, another vehicle, another root, a time outside: refused.
            let other = (i + 1) % keys.len();
            assert!(
                inc.verify(&keys[other].public_key(), &b.vehicle, &root, 1_010_500)
                    .is_err()
            );
            assert!(
                inc.verify(&keys[i].public_key(), &Hash([99; 32]), &root, 1_010_500)
                    .is_err()
            );
            assert!(
                inc.verify(&keys[i].public_key(), &b.vehicle, &Hash([1; 32]), 1_010_500)
                    .is_err()
            );
            assert!(
                inc.verify(&keys[i].public_key(), &b.vehicle, &root, 1_060_000)
                    .is_err()
            );
            // A moved point breaks the signature and the path.
            let mut forged = inc.clone();
            forged.batch.points[10].lat_e7 += 1;
            assert!(
                forged
                    .verify(&keys[i].public_key(), &b.vehicle, &root, 1_010_500)
                    .is_err()
            );
        }
    }

    #[test]
    fn shapes_are_checked() {
        let k = SecretKey::from_seed([3; 32]);
        let mut b = batch(&k, Hash([1; 32]), 1, 0);
        assert!(b.check_shape().is_ok());
        b.points.swap(1, 2);
        assert!(b.check_shape().is_err());
        let mut b = batch(&k, Hash([1; 32]), 1, 0);
        b.points[0].lat_e7 = 900_000_001;
        assert!(b.check_shape().is_err());
        b.points.clear();
        assert!(b.check_shape().is_err());
        let b = batch(&k, Hash([1; 32]), 1, 5_000);
        assert_eq!(b.position_at(4_999), None);
        assert_eq!(b.position_at(5_000).unwrap().t_ms, 5_000);
        assert_eq!(b.position_at(64_000).unwrap().t_ms, 64_000);
        assert_eq!(b.position_at(64_001), None);
    }
}
