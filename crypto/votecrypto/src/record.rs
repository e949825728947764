//! The election record: one versioned JSON document holding everything a verifier needs.
//! See `SPEC.md` and `record.schema.json`.

use serde::{Deserialize, Serialize};

use crate::VoteError;
use crate::ballot::BoardEntry;
use crate::dkg::CeremonyRecord;
use crate::encoding::Hex32;
use crate::manifest::{Credential, Manifest};
use crate::tally::TallyRecord;

/// Version string of the record format implemented by this crate.
pub const RECORD_VERSION: &str = "urbis-election-record/2";

/// The complete public record of an election.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ElectionRecord {
    pub version: String,
    pub manifest: Manifest,
    pub ceremony: CeremonyRecord,
    pub credentials: Vec<Credential>,
    pub election_hash: Hex32,
    /// Every cast and spoiled ballot, in bulletin-board order.
    pub ballots: Vec<BoardEntry>,
    /// Confirmation code of the last ballot (genesis code if there is none).
    pub chain_head: Hex32,
    pub tally: TallyRecord,
    /// The board as a chain certified it (exported from chain state): absent for a record
    /// made off chain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub anchor: Option<BoardAnchor>,
}

/// The bulletin board's length and head as certified by a chain, with the proof of it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BoardAnchor {
    /// Number of board entries.
    pub entries: u64,
    /// Confirmation code of the last entry (the chain genesis code if none).
    pub head: Hex32,
    /// The chain's proof that its state holds `entries` and `head` (checked by the chain's
    /// own verifier, e.g. `urbis election verify`; opaque here).
    #[serde(default)]
    pub proof: serde_json::Value,
}

impl ElectionRecord {
    /// Parse a record from JSON (structure only; use [`crate::verify_record`] to check it).
    pub fn from_json(s: &str) -> Result<Self, VoteError> {
        serde_json::from_str(s).map_err(|e| VoteError::Record(e.to_string()))
    }

    /// Pretty-printed JSON.
    pub fn to_json_pretty(&self) -> Result<String, VoteError> {
        serde_json::to_string_pretty(self).map_err(|e| VoteError::Record(e.to_string()))
    }

    /// Compact JSON.
    pub fn to_json(&self) -> Result<String, VoteError> {
        serde_json::to_string(self).map_err(|e| VoteError::Record(e.to_string()))
    }

    /// Recompute every entry's previous and confirmation code, the chain head and the counted
    /// list from the entries as they stand. Anyone can: the code chain is unkeyed (SPEC.md §10),
    /// which is why a record exported from a chain carries the certified board's anchor. Used
    /// to build records and, in tests, to play a board operator who rewrites the board.
    pub fn relink(&mut self) {
        let mut prev = crate::ballot::chain_genesis(&self.election_hash);
        for e in &mut self.ballots {
            let h = crate::ballot::ballot_hash(&self.election_hash, &e.ballot);
            e.previous_code = prev;
            e.confirmation_code =
                crate::ballot::confirmation_code(&prev, &h, &e.ballot.signature, e.status);
            prev = e.confirmation_code;
        }
        self.chain_head = prev;
        self.tally.counted = crate::tally::counted_indices(&self.ballots)
            .into_iter()
            .map(|i| self.ballots[i].confirmation_code)
            .collect();
    }
}
