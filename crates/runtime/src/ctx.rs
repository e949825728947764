use borsh::{BorshDeserialize, BorshSerialize};
use urbis_core::{Address, ErrorCode, Event, PublicKey, UrbisError};

use crate::state::{StateView, WriteSet};

/// Facts about the block being executed; the only notion of time a module has.
#[derive(Clone, Debug)]
pub struct BlockEnv {
    pub chain_id: String,
    pub height: u64,
    pub timestamp_ms: u64,
    pub proposer: Option<PublicKey>,
}

/// The execution context of one call: reads see committed state, then earlier writes of this
/// block, then this call's own writes; writes are buffered until the call succeeds.
pub struct Ctx<'a> {
    base: &'a dyn StateView,
    block_writes: &'a WriteSet,
    writes: WriteSet,
    events: Vec<Event>,
    env: &'a BlockEnv,
    sender: Address,
}

impl<'a> Ctx<'a> {
    pub fn new(
        base: &'a dyn StateView,
        block_writes: &'a WriteSet,
        env: &'a BlockEnv,
        sender: Address,
    ) -> Self {
        Ctx {
            base,
            block_writes,
            writes: WriteSet::new(),
            events: Vec::new(),
            env,
            sender,
        }
    }

    pub fn sender(&self) -> Address {
        self.sender
    }

    pub fn env(&self) -> &BlockEnv {
        self.env
    }

    pub fn height(&self) -> u64 {
        self.env.height
    }

    pub fn timestamp_ms(&self) -> u64 {
        self.env.timestamp_ms
    }

    pub fn get_raw(&self, key: &[u8]) -> Result<Option<Vec<u8>>, UrbisError> {
        if let Some(v) = self.writes.get(key) {
            return Ok(v.clone());
        }
        if let Some(v) = self.block_writes.get(key) {
            return Ok(v.clone());
        }
        self.base.get(key)
    }

    pub fn put_raw(&mut self, key: Vec<u8>, value: Vec<u8>) {
        self.writes.insert(key, Some(value));
    }

    pub fn delete(&mut self, key: Vec<u8>) {
        self.writes.insert(key, None);
    }

    /// Read and decode a borsh value.
    pub fn get<T: BorshDeserialize>(&self, key: &[u8]) -> Result<Option<T>, UrbisError> {
        self.get_raw(key)?
            .map(|b| decode_value(key, &b))
            .transpose()
    }

    /// Encode and write a borsh value.
    pub fn put<T: BorshSerialize>(&mut self, key: Vec<u8>, value: &T) {
        self.put_raw(key, borsh::to_vec(value).expect("borsh to vec never fails"));
    }

    pub fn emit(&mut self, event: Event) {
        self.events.push(event);
    }

    /// Finish the call: its writes and events.
    pub fn into_parts(self) -> (WriteSet, Vec<Event>) {
        (self.writes, self.events)
    }
}

/// Decode a stored value; a failure means corrupted state, reported as an internal error.
pub fn decode_value<T: BorshDeserialize>(key: &[u8], bytes: &[u8]) -> Result<T, UrbisError> {
    borsh::from_slice(bytes).map_err(|e| {
        UrbisError::new(
            ErrorCode::Internal,
            format!(
                "stored value under {} does not decode: {e}",
                String::from_utf8_lossy(key)
            ),
        )
    })
}

/// Read and decode from any view (used by queries).
pub fn view_get<T: BorshDeserialize>(
    view: &dyn StateView,
    key: &[u8],
) -> Result<Option<T>, UrbisError> {
    view.get(key)?.map(|b| decode_value(key, &b)).transpose()
}
