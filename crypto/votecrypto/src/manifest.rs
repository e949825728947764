//! Election manifest: contests, selections, selection bounds, blank votes and ballot styles;
//! plus the public credential list (voting-credential keys with weights and ballot styles).

use std::collections::{BTreeSet, HashMap};

use serde::{Deserialize, Serialize};

use crate::VoteError;
use crate::encoding::{Hex32, Transcript};

/// One choice within a contest.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Selection {
    pub id: String,
    pub name: String,
}

/// A contest: the voter marks between `min_selections` and `max_selections` selections,
/// or (if `allow_blank`) votes blank, which is counted separately.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Contest {
    pub id: String,
    pub name: String,
    pub selections: Vec<Selection>,
    pub min_selections: u32,
    pub max_selections: u32,
    pub allow_blank: bool,
}

impl Contest {
    /// Multiplier `M = n + 1` of the blank indicator in the contest sum statement.
    pub fn blank_multiplier(&self) -> u64 {
        self.selections.len() as u64 + 1
    }

    /// Allowed values of the contest statement `T = Σ selections + M·blank`:
    /// `[min, max]`, plus `M` (blank with no selection) if blank votes are allowed.
    pub fn allowed_sums(&self) -> Vec<u64> {
        let mut v: Vec<u64> =
            (u64::from(self.min_selections)..=u64::from(self.max_selections)).collect();
        if self.allow_blank {
            v.push(self.blank_multiplier());
        }
        v
    }
}

/// Which contests a credential may vote in.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BallotStyle {
    pub id: String,
    pub contests: Vec<String>,
}

/// The election manifest.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    pub election_id: String,
    pub name: String,
    pub contests: Vec<Contest>,
    pub ballot_styles: Vec<BallotStyle>,
}

/// A voting credential: an Ed25519 public key, a public weight and a ballot style.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Credential {
    pub public_key: Hex32,
    pub weight: u64,
    pub style: String,
}

/// Largest allowed weight of a single credential.
pub const MAX_WEIGHT: u64 = 1 << 20;
/// Largest allowed number of selections per contest.
pub const MAX_SELECTIONS: usize = 64;

impl Manifest {
    /// Check internal consistency.
    pub fn validate(&self) -> Result<(), VoteError> {
        let err = |m: String| Err(VoteError::Manifest(m));
        if self.contests.is_empty() {
            return err("no contests".into());
        }
        let mut ids = BTreeSet::new();
        for c in &self.contests {
            if !ids.insert(c.id.as_str()) {
                return err(format!("duplicate contest id {:?}", c.id));
            }
            if c.selections.is_empty() || c.selections.len() > MAX_SELECTIONS {
                return err(format!(
                    "contest {:?}: 1..={MAX_SELECTIONS} selections required",
                    c.id
                ));
            }
            let mut sel = BTreeSet::new();
            for s in &c.selections {
                if !sel.insert(s.id.as_str()) {
                    return err(format!(
                        "contest {:?}: duplicate selection {:?}",
                        c.id, s.id
                    ));
                }
            }
            if c.min_selections > c.max_selections || c.max_selections as usize > c.selections.len()
            {
                return err(format!(
                    "contest {:?}: bounds {}..={} impossible with {} selections",
                    c.id,
                    c.min_selections,
                    c.max_selections,
                    c.selections.len()
                ));
            }
        }
        let mut styles = BTreeSet::new();
        for s in &self.ballot_styles {
            if !styles.insert(s.id.as_str()) {
                return err(format!("duplicate ballot style {:?}", s.id));
            }
            let mut seen = BTreeSet::new();
            for c in &s.contests {
                if !ids.contains(c.as_str()) {
                    return err(format!("ballot style {:?}: unknown contest {c:?}", s.id));
                }
                if !seen.insert(c.as_str()) {
                    return err(format!(
                        "ballot style {:?}: contest {c:?} listed twice",
                        s.id
                    ));
                }
            }
        }
        if styles.is_empty() {
            return err("no ballot styles".into());
        }
        Ok(())
    }

    /// Contest by id.
    pub fn contest(&self, id: &str) -> Option<&Contest> {
        self.contests.iter().find(|c| c.id == id)
    }

    /// Ballot style by id.
    pub fn style(&self, id: &str) -> Option<&BallotStyle> {
        self.ballot_styles.iter().find(|s| s.id == id)
    }

    /// Deterministic hash of the manifest (see SPEC.md, "Manifest hash").
    pub fn hash(&self) -> Hex32 {
        let mut t = Transcript::new("manifest");
        t.append("election_id", self.election_id.as_bytes());
        t.append("name", self.name.as_bytes());
        t.append_u64("contests", self.contests.len() as u64);
        for c in &self.contests {
            t.append("contest", c.id.as_bytes());
            t.append("contest_name", c.name.as_bytes());
            t.append_u64("min", u64::from(c.min_selections));
            t.append_u64("max", u64::from(c.max_selections));
            t.append_u64("blank", u64::from(c.allow_blank));
            t.append_u64("selections", c.selections.len() as u64);
            for s in &c.selections {
                t.append("selection", s.id.as_bytes());
                t.append("selection_name", s.name.as_bytes());
            }
        }
        t.append_u64("styles", self.ballot_styles.len() as u64);
        for s in &self.ballot_styles {
            t.append("style", s.id.as_bytes());
            t.append_u64("style_contests", s.contests.len() as u64);
            for c in &s.contests {
                t.append("style_contest", c.as_bytes());
            }
        }
        t.hash("manifest_hash")
    }
}

/// Validate a credential list against a manifest; returns an index by public key.
pub fn index_credentials(
    manifest: &Manifest,
    credentials: &[Credential],
) -> Result<HashMap<Hex32, usize>, VoteError> {
    let mut map = HashMap::with_capacity(credentials.len());
    for (i, c) in credentials.iter().enumerate() {
        if c.weight == 0 || c.weight > MAX_WEIGHT {
            return Err(VoteError::Parameter(format!(
                "credential #{i}: weight {} outside 1..={MAX_WEIGHT}",
                c.weight
            )));
        }
        if manifest.style(&c.style).is_none() {
            return Err(VoteError::Parameter(format!(
                "credential #{i}: unknown ballot style {:?}",
                c.style
            )));
        }
        match ed25519_dalek::VerifyingKey::from_bytes(&c.public_key.0) {
            Err(_) => {
                return Err(VoteError::encoding(
                    format!("credential #{i}"),
                    "not an Ed25519 public key",
                ));
            }
            // A small-order key verifies signatures it never made (for some messages).
            Ok(k) if k.is_weak() => {
                return Err(VoteError::encoding(
                    format!("credential #{i}"),
                    "a small-order Ed25519 key",
                ));
            }
            Ok(_) => {}
        }
        if map.insert(c.public_key, i).is_some() {
            return Err(VoteError::Parameter(format!(
                "credential #{i}: duplicate public key {}",
                c.public_key
            )));
        }
    }
    Ok(map)
}

/// Deterministic hash of the credential list.
pub fn credentials_hash(credentials: &[Credential]) -> Hex32 {
    let mut t = Transcript::new("credentials");
    t.append_u64("count", credentials.len() as u64);
    for c in credentials {
        t.append_hex("key", &c.public_key);
        t.append_u64("weight", c.weight);
        t.append("style", c.style.as_bytes());
    }
    t.hash("credentials_hash")
}
