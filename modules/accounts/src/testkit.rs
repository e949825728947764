//! End-to-end test helpers: a [`Runtime`] over a [`MemState`], one block per call.
//!
//! Compiled for this crate's tests and, with the `testkit` feature, for other modules' tests.
//! Failing calls are checked to leave every key unchanged except the sender's nonce.

use std::collections::BTreeMap;
use std::sync::Arc;

use urbis_core::{
    Address, Call, ChainRef, ErrorCode, Hash, Receipt, SecretKey, SignedTx, UrbisError,
};
use urbis_runtime::{
    BlockEnv, Genesis, MemState, Module, QueryAnswer, Runtime, StateView, nonce_key, read_nonce,
};

/// Chain id used by every test chain.
pub const CHAIN: &str = "urbis-test";

/// What test transactions are signed for (the test runtime does not check signatures).
pub fn chain_ref() -> ChainRef {
    ChainRef::new(CHAIN, Hash::ZERO)
}

/// Most open calls per block on test chains.
pub const OPEN_CALLS_PER_BLOCK: u32 = 8;

/// Genesis time of every test chain; block `n` is stamped `GENESIS_MS + n * BLOCK_MS`.
pub const GENESIS_MS: u64 = 1_700_000_000_000;

/// Time between consecutive test blocks.
pub const BLOCK_MS: u64 = 1_000;

/// The deterministic key of a named test actor.
pub fn key(label: &str) -> SecretKey {
    SecretKey::from_label(label)
}

/// The address of a named test actor.
pub fn addr(label: &str) -> Address {
    key(label).address()
}

/// A raw state snapshot.
pub type Snapshot = BTreeMap<Vec<u8>, Vec<u8>>;

/// A single-node chain executing blocks in memory.
pub struct TestChain {
    pub runtime: Runtime,
    pub state: MemState,
    height: u64,
}

impl TestChain {
    /// Run genesis with the given per-module configs (module name → JSON).
    pub fn try_new(
        modules: Vec<Arc<dyn Module>>,
        configs: &[(&str, serde_json::Value)],
    ) -> Result<Self, UrbisError> {
        let runtime = Runtime::new(CHAIN, modules).with_gate(crate::gate(OPEN_CALLS_PER_BLOCK));
        let genesis = Genesis {
            epoch_length: None,
            chain_id: CHAIN.to_string(),
            genesis_time_ms: GENESIS_MS,
            validators: Vec::new(),
            modules: configs
                .iter()
                .map(|(name, config)| (name.to_string(), config.clone()))
                .collect(),
        };
        let state = MemState::default();
        let writes = runtime.genesis(&state, &genesis)?;
        state.apply(&writes);
        Ok(TestChain {
            runtime,
            state,
            height: 0,
        })
    }

    /// Like [`TestChain::try_new`], panicking if genesis fails.
    pub fn new(modules: Vec<Arc<dyn Module>>, configs: &[(&str, serde_json::Value)]) -> Self {
        Self::try_new(modules, configs).expect("genesis succeeds")
    }

    /// The environment of the next block.
    pub fn next_env(&self) -> BlockEnv {
        let height = self.height + 1;
        BlockEnv {
            chain_id: CHAIN.to_string(),
            height,
            timestamp_ms: GENESIS_MS + height * BLOCK_MS,
            proposer: None,
        }
    }

    /// Skip ahead in time by `blocks` empty blocks' worth (without executing them).
    pub fn skip_blocks(&mut self, blocks: u64) {
        self.height += blocks;
    }

    /// The nonce `signer` must use next, from committed state.
    pub fn nonce(&self, signer: &SecretKey) -> u64 {
        read_nonce(&self.state, &signer.address()).expect("nonce reads")
    }

    /// A transaction signed by `signer` with its next nonce.
    pub fn tx(&self, signer: &SecretKey, call: Call) -> SignedTx {
        SignedTx::new(&chain_ref(), signer, self.nonce(signer), call)
    }

    /// Execute and commit one block.
    pub fn block(&mut self, txs: &[SignedTx]) -> Vec<Receipt> {
        let env = self.next_env();
        let outcome = self
            .runtime
            .execute_block(&self.state, &env, txs)
            .expect("block executes");
        self.state.apply(&outcome.writes);
        self.height = env.height;
        outcome.receipts
    }

    /// Execute one block of calls, giving each signer consecutive nonces in order.
    pub fn block_of(&mut self, calls: &[(&SecretKey, Call)]) -> Vec<Receipt> {
        let mut next: BTreeMap<Address, u64> = BTreeMap::new();
        let txs: Vec<SignedTx> = calls
            .iter()
            .map(|(signer, call)| {
                let nonce = next
                    .entry(signer.address())
                    .or_insert_with(|| self.nonce(signer));
                let tx = SignedTx::new(&chain_ref(), signer, *nonce, call.clone());
                *nonce += 1;
                tx
            })
            .collect();
        self.block(&txs)
    }

    /// Execute `call` from `signer` in its own block.
    pub fn send(&mut self, signer: &SecretKey, call: Call) -> Receipt {
        let tx = self.tx(signer, call);
        self.block(&[tx]).remove(0)
    }

    /// Execute `call`, asserting success.
    pub fn ok(&mut self, signer: &SecretKey, call: Call) -> Receipt {
        let receipt = self.send(signer, call);
        assert!(receipt.success, "expected success, got {:?}", receipt.error);
        receipt
    }

    /// Execute `call`, asserting that it fails with `code` and changes nothing but the
    /// sender's nonce, which it consumes unless the runtime refused it before it took effect
    /// (a sender without a role). Returns the error message.
    pub fn fails(&mut self, signer: &SecretKey, call: Call, code: ErrorCode) -> String {
        let nonce = self.nonce(signer);
        let before = self.snapshot_without_nonce(&signer.address());
        let receipt = self.send(signer, call);
        let error = receipt.error.expect("a failed receipt carries an error");
        assert!(!receipt.success);
        assert_eq!(error.code, code, "unexpected error: {}", error.message);
        assert!(receipt.events.is_empty(), "a failed call emits no event");
        let used = u64::from(receipt.nonce_used);
        assert_eq!(
            self.nonce(signer),
            nonce + used,
            "nonce_used tells the truth"
        );
        assert_eq!(
            self.snapshot_without_nonce(&signer.address()),
            before,
            "a failed call leaves module state unchanged"
        );
        error.message
    }

    /// The whole committed state.
    pub fn snapshot(&self) -> Snapshot {
        self.state.snapshot()
    }

    /// The committed state minus `signer`'s nonce key.
    pub fn snapshot_without_nonce(&self, signer: &Address) -> Snapshot {
        let mut snapshot = self.snapshot();
        snapshot.remove(&nonce_key(signer));
        snapshot
    }

    /// Query a module.
    pub fn query(&self, module: &str, path: &[&str]) -> Result<QueryAnswer, UrbisError> {
        self.runtime.query(&self.state, module, path)
    }

    /// One page of a list query.
    pub fn list(
        &self,
        module: &str,
        path: &[&str],
        limit: usize,
        cursor: Option<&str>,
    ) -> Result<urbis_runtime::ListPage, UrbisError> {
        self.runtime
            .query_list(&self.state, module, path, limit, cursor)
    }

    /// Query a module, asserting success, and return the JSON value.
    pub fn value(&self, module: &str, path: &[&str]) -> serde_json::Value {
        self.query(module, path).expect("query succeeds").value
    }

    /// The committed state as a view.
    pub fn view(&self) -> &dyn StateView {
        &self.state
    }
}
