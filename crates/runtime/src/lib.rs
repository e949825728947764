//! The Urbis runtime: the module contract and deterministic block execution.
//!
//! A [`Module`] owns a state namespace (keys starting with `"<module>/"`), a borsh call enum,
//! queries, events and genesis config. The [`Runtime`] dispatches each transaction of a block to
//! its module inside a fresh [`Ctx`]: the call's writes are buffered and only merged into the
//! block's write set if the call succeeds. A transaction whose nonce is valid consumes that nonce
//! even when its call fails (otherwise a failed, publicly visible transaction could be replayed
//! later when it would succeed); it makes no other write.
//!
//! Execution reads state only through [`StateView`] and the block environment, never the clock,
//! randomness or floating point, and iterates only ordered maps, so every node that executes the
//! same blocks on the same state produces the same write set and receipts.

mod ctx;
pub mod kit;
mod runtime;
pub mod sched;
mod state;
#[cfg(any(test, feature = "testkit"))]
pub mod testkit;
#[cfg(test)]
mod tests;
pub mod validators;
pub mod weight;

pub use ctx::{
    BlockEnv, CallParts, Ctx, Dispatch, MAX_CALL_DEPTH, Origin, TxInfo, decode_value, view_get,
};
pub use runtime::{
    Admission, BlockOutcome, Gate, Genesis, GenesisValidator, MemberCache, Runtime, SYSTEM_EVENTS,
    nonce_key, read_nonce,
};
pub use state::{
    Entries, Layered, MemState, Overlay, StateView, WriteSet, scan_layers, scan_start,
};

use urbis_core::UrbisError;

pub use kit::{EventInfo, ModuleInfo, QueryInfo};

/// Paths the exported macros use; not part of the API.
#[doc(hidden)]
pub mod __private {
    pub use borsh;
    pub use schemars;
    pub use serde;
    pub use serde_json;
    pub use urbis_core::UrbisError;
}

/// What a query returns: the logical state key it read (so that the node can attach a proof of
/// that key) and a JSON rendering of the value.
#[derive(Debug, Clone, PartialEq)]
pub struct QueryAnswer {
    pub key: Vec<u8>,
    pub value: serde_json::Value,
}

/// Most entries of one page of a list query.
pub const MAX_PAGE: usize = 1_000;

/// One page of a list query.
#[derive(Debug, Clone, PartialEq)]
pub struct ListPage {
    pub items: Vec<serde_json::Value>,
    /// Give it back to get the next page; `None` on the last.
    pub next_cursor: Option<String>,
}

/// The contract every city service implements.
pub trait Module: Send + Sync + 'static {
    /// Namespace and dispatch name, e.g. `"rewards"`.
    fn name(&self) -> &'static str;

    /// Apply this module's section of the genesis file (`null` if absent).
    fn genesis(&self, ctx: &mut Ctx<'_>, config: &serde_json::Value) -> Result<(), UrbisError>;

    /// The most weight the call `data` may use (see [`weight`]): an upper bound of what it
    /// reads, writes, emits, schedules, invokes and checks, computed from the call alone (it
    /// counts against the block's limit before execution). A call that meters more fails with
    /// `out_of_weight`. Undecodable data may get any value; its call fails early anyway.
    fn weight(&self, _data: &[u8]) -> u64 {
        weight::DEFAULT_CALL
    }

    /// Execute one call (`data` is the module's borsh call enum) on behalf of `ctx.sender()`.
    fn execute(&self, ctx: &mut Ctx<'_>, data: &[u8]) -> Result<(), UrbisError>;

    /// The one state key that answers the query `path`, e.g. `["balance", "urbis1…"]`. A query
    /// is a pure function of this key's value, so the node can prove its answer and a client
    /// can check it: the client derives the key itself, verifies the proof of the key's bytes,
    /// and renders them with [`Module::render`].
    fn query_key(&self, path: &[&str]) -> Result<Vec<u8>, UrbisError>;

    /// The answer to `path` given the bytes stored under [`Module::query_key`] (`None` when
    /// absent); `null` means there is nothing there.
    fn render(&self, path: &[&str], value: Option<&[u8]>) -> Result<serde_json::Value, UrbisError>;

    /// If `path` is a list query: the key prefix whose entries it lists (in key order, a page at a
    /// time). `None` for single-key queries (the default).
    fn list_prefix(&self, _path: &[&str]) -> Result<Option<Vec<u8>>, UrbisError> {
        Ok(None)
    }

    /// One entry of the list query `path`.
    fn render_item(
        &self,
        _path: &[&str],
        key: &[u8],
        _value: &[u8],
    ) -> Result<serde_json::Value, UrbisError> {
        Ok(serde_json::Value::String(
            String::from_utf8_lossy(key).into_owned(),
        ))
    }

    /// Answer a read-only query from `state`.
    fn query(&self, state: &dyn StateView, path: &[&str]) -> Result<QueryAnswer, UrbisError> {
        let key = self.query_key(path)?;
        let bytes = state.get(&key)?;
        let value = self.render(path, bytes.as_deref())?;
        Ok(QueryAnswer { key, value })
    }

    /// The JSON form of the call `data` (explorers, the CLI, `GET /v1/txs/{hash}`); the same
    /// form [`Module::call_from_json`] encodes. [`json_calls!`] writes it.
    fn describe_call(&self, data: &[u8]) -> Result<serde_json::Value, UrbisError>;

    /// The JSON Schema of the module's calls' JSON form (`null`: none). [`json_calls!`] writes
    /// it from the call enum.
    fn call_schema(&self) -> serde_json::Value {
        serde_json::Value::Null
    }

    /// Encode a call's JSON form to the bytes a transaction carries (clients do this locally
    /// before signing). JSON that does not match [`Module::call_schema`] is `schema_mismatch`.
    fn call_from_json(&self, _json: &serde_json::Value) -> Result<Vec<u8>, UrbisError> {
        Err(UrbisError::new(
            urbis_core::ErrorCode::SchemaMismatch,
            format!("module {} has no JSON form of its calls", self.name()),
        ))
    }

    /// What the module says about itself: queries, events, exported operations.
    fn info(&self) -> ModuleInfo {
        ModuleInfo::default()
    }

    /// Run an exported operation that another module called through [`Ctx::invoke`] (`op` is
    /// this module's borsh-encoded op enum; the answer is borsh too). `ctx.caller()` names the
    /// calling module and `ctx.sender()` the transaction's signer; the operation checks its own
    /// permissions. Its writes land in this module's namespace.
    fn exported(&self, _ctx: &mut Ctx<'_>, _op: &[u8]) -> Result<Vec<u8>, UrbisError> {
        Err(UrbisError::new(
            urbis_core::ErrorCode::UnknownCall,
            format!("module {} exports no operations", self.name()),
        ))
    }

    /// A job this module scheduled with [`Ctx::schedule_at`] is due (`payload` as given).
    fn on_scheduled(&self, _ctx: &mut Ctx<'_>, _payload: &[u8]) -> Result<(), UrbisError> {
        Err(UrbisError::new(
            urbis_core::ErrorCode::Internal,
            format!("module {} has no scheduled work", self.name()),
        ))
    }

    /// Whether `data` is a call that a sender holding no role may make (e.g. creating one's own
    /// identifier). Such calls run under a per-block quota (see [`Gate`]); every other call
    /// from a sender without a role is refused without writing anything.
    fn is_open_call(&self, _data: &[u8]) -> bool {
        false
    }

    /// Whether the module vouches for `sender`, who holds no role, making the call `data`:
    /// e.g. a voting credential listed for an open election casting a ballot. A vouched call
    /// is admitted like a member's, outside the open-call quota, so a module must vouch only
    /// for senders it has recorded in state itself (strangers still cannot fill blocks).
    /// `view` is the state the gate reads (the block's, during execution).
    fn vouches(
        &self,
        _view: &dyn StateView,
        _sender: &urbis_core::Address,
        _data: &[u8],
    ) -> Result<bool, UrbisError> {
        Ok(false)
    }

    /// Whether [`Module::precheck`] does anything (the runtime skips the others' calls).
    fn has_precheck(&self) -> bool {
        false
    }

    /// Expensive checks of a call that need no execution, such as a ballot's zero-knowledge
    /// proofs: every validator runs them on each transaction of a block it verifies, in
    /// parallel, before voting for it, and the node runs them at its door. `view` is the
    /// checker's latest executed state, which differs between validators, so a call may be
    /// judged only from data that never changes once written (an election's key and
    /// credential list). `Ok(true)`: checked and valid; `Ok(false)`: nothing to check here or
    /// the data is not in `view` yet (execution checks the call anyway); `Err`: invalid,
    /// whatever the state: the block is refused, the transaction turned away.
    fn precheck(&self, _view: &dyn StateView, _data: &[u8]) -> Result<bool, UrbisError> {
        Ok(false)
    }

    /// The weight a scheduled job of this module may use (its `on_scheduled` with
    /// `payload`). Jobs run outside any transaction, so a module whose deadline work grows
    /// with what users did (a market clearing every order of an interval) raises it, and bounds
    /// that work itself (e.g. a most-orders-per-interval rule).
    fn job_weight(&self, _payload: &[u8]) -> u64 {
        weight::JOB
    }

    /// Work done after the block's transactions (e.g. closing a market interval). A failure
    /// (or panic) discards this module's end-of-block writes and is reported by an
    /// `end_block_failed` event; the chain goes on.
    fn end_block(&self, _ctx: &mut Ctx<'_>) -> Result<(), UrbisError> {
        Ok(())
    }
}
