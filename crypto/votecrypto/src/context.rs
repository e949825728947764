//! The public election context every ballot and proof is bound to.

use std::collections::HashMap;
use std::sync::Arc;

use crate::VoteError;
use crate::dkg::CeremonyRecord;
use crate::encoding::{Hex32, Transcript};
use crate::group::PublicKey;
use crate::manifest::{Credential, Manifest, credentials_hash, index_credentials};

/// Manifest, joint key, credential list and the election hash binding them.
pub struct ElectionContext {
    pub manifest: Manifest,
    pub manifest_hash: Hex32,
    pub election_hash: Hex32,
    /// The joint key with its precomputed tables (shared by the contexts derived with
    /// [`ElectionContext::with_credentials`]).
    pub public_key: Arc<PublicKey>,
    pub credentials: Vec<Credential>,
    pub(crate) credential_index: HashMap<Hex32, usize>,
    pub trustees: u32,
    pub threshold: u32,
    /// The sum of the weights of the election's whole credential list.
    pub weight_bound: u64,
}

/// `election_hash = H("election", manifest_hash, n, k, joint key, public shares, credentials_hash)`.
pub fn election_hash(
    manifest_hash: &Hex32,
    ceremony: &CeremonyRecord,
    credentials: &[Credential],
) -> Hex32 {
    let mut t = Transcript::new("election");
    t.append_hex("manifest_hash", manifest_hash);
    t.append_u64("trustees", u64::from(ceremony.trustees));
    t.append_u64("threshold", u64::from(ceremony.threshold));
    t.append_hex("joint_public_key", &ceremony.joint_public_key);
    t.append_u64("public_shares", ceremony.public_shares.len() as u64);
    for p in &ceremony.public_shares {
        t.append_u64("index", u64::from(p.index));
        t.append_hex("key", &p.key);
    }
    t.append_hex("credentials_hash", &credentials_hash(credentials));
    t.hash("election_hash")
}

impl ElectionContext {
    /// Build and validate the context.
    pub fn new(
        manifest: Manifest,
        ceremony: &CeremonyRecord,
        credentials: Vec<Credential>,
    ) -> Result<Self, VoteError> {
        manifest.validate()?;
        let credential_index = index_credentials(&manifest, &credentials)?;
        let manifest_hash = manifest.hash();
        let point = ceremony.joint_public_key.point("joint public key")?;
        Ok(ElectionContext {
            weight_bound: credentials.iter().map(|c| c.weight).sum(),
            election_hash: election_hash(&manifest_hash, ceremony, &credentials),
            manifest,
            manifest_hash,
            public_key: Arc::new(PublicKey::new(point)),
            credentials,
            credential_index,
            trustees: ceremony.trustees,
            threshold: ceremony.threshold,
        })
    }

    /// A context for checking the ballots of `credentials`, a part of the election's list,
    /// when the election hash is known already: e.g. a chain that stores the whole list and
    /// computed the hash once when the list was committed. `weight_bound` is the sum of the
    /// whole list's weights (the bound on decrypted counts).
    pub fn with_election_hash(
        manifest: Manifest,
        election_hash: Hex32,
        joint_public_key: &Hex32,
        trustees: u32,
        threshold: u32,
        credentials: Vec<Credential>,
        weight_bound: u64,
    ) -> Result<Self, VoteError> {
        manifest.validate()?;
        let credential_index = index_credentials(&manifest, &credentials)?;
        let point = joint_public_key.point("joint public key")?;
        Ok(ElectionContext {
            manifest_hash: manifest.hash(),
            election_hash,
            manifest,
            public_key: Arc::new(PublicKey::new(point)),
            credentials,
            credential_index,
            trustees,
            threshold,
            weight_bound,
        })
    }

    /// The same election restricted to `credentials` (e.g. one ballot's), sharing the key's
    /// precomputed tables: cheap, for checking ballots one at a time. The manifest is not
    /// validated again.
    pub fn with_credentials(&self, credentials: Vec<Credential>) -> Result<Self, VoteError> {
        let credential_index = index_credentials(&self.manifest, &credentials)?;
        Ok(ElectionContext {
            manifest: self.manifest.clone(),
            manifest_hash: self.manifest_hash,
            election_hash: self.election_hash,
            public_key: self.public_key.clone(),
            credentials,
            credential_index,
            trustees: self.trustees,
            threshold: self.threshold,
            weight_bound: self.weight_bound,
        })
    }

    /// The listed credential with this public key.
    pub fn credential(&self, key: &Hex32) -> Option<&Credential> {
        self.credential_index
            .get(key)
            .map(|&i| &self.credentials[i])
    }

    /// Sum of all credential weights: the bound on every decrypted count.
    pub fn total_weight(&self) -> u64 {
        self.weight_bound
    }
}
