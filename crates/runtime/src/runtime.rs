use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use urbis_core::{Address, ErrorCode, Event, PublicKey, Receipt, SignedTx, TxError, UrbisError};

use crate::ctx::{BlockEnv, Ctx, view_get};
use crate::state::{Overlay, StateView, WriteSet};
use crate::{Module, QueryAnswer};

/// The runtime's own namespace: account nonces.
const SYSTEM: &str = "system";

/// State key of an account's next nonce.
pub fn nonce_key(addr: &Address) -> Vec<u8> {
    format!("{SYSTEM}/nonce/{addr}").into_bytes()
}

/// The next nonce `addr` must use.
pub fn read_nonce(view: &dyn StateView, addr: &Address) -> Result<u64, UrbisError> {
    Ok(view_get::<u64>(view, &nonce_key(addr))?.unwrap_or(0))
}

/// The genesis file: chain id, validators and each module's initial state.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Genesis {
    pub chain_id: String,
    /// Genesis time (milliseconds since the Unix epoch); block timestamps must exceed it.
    pub genesis_time_ms: u64,
    pub validators: Vec<GenesisValidator>,
    /// Per-module configuration, keyed by module name.
    #[serde(default)]
    pub modules: BTreeMap<String, serde_json::Value>,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct GenesisValidator {
    pub name: String,
    pub public_key: PublicKey,
    /// `host:port` of its p2p endpoint (unused by a single-node dev chain).
    #[serde(default)]
    pub address: String,
}

/// The result of executing one block.
#[derive(Debug, Default)]
pub struct BlockOutcome {
    pub writes: WriteSet,
    pub receipts: Vec<Receipt>,
    /// Events emitted by end-of-block work.
    pub block_events: Vec<Event>,
}

/// Dispatches transactions to modules.
#[derive(Clone)]
pub struct Runtime {
    chain_id: String,
    modules: BTreeMap<&'static str, Arc<dyn Module>>,
}

impl Runtime {
    pub fn new(chain_id: &str, modules: Vec<Arc<dyn Module>>) -> Self {
        let modules = modules.into_iter().map(|m| (m.name(), m)).collect();
        Runtime {
            chain_id: chain_id.to_string(),
            modules,
        }
    }

    pub fn chain_id(&self) -> &str {
        &self.chain_id
    }

    pub fn has_module(&self, name: &str) -> bool {
        self.modules.contains_key(name)
    }

    pub fn module_names(&self) -> Vec<&'static str> {
        self.modules.keys().copied().collect()
    }

    fn module(&self, name: &str) -> Result<&Arc<dyn Module>, UrbisError> {
        self.modules.get(name).ok_or_else(|| {
            UrbisError::new(
                ErrorCode::UnknownModule,
                format!("no module named {:?}", truncate(name, 32)),
            )
        })
    }

    /// Build the genesis write set. Modules run in name order; a section for an unknown module
    /// is an error.
    pub fn genesis(&self, base: &dyn StateView, genesis: &Genesis) -> Result<WriteSet, UrbisError> {
        for name in genesis.modules.keys() {
            self.module(name)?;
        }
        let env = BlockEnv {
            chain_id: self.chain_id.clone(),
            height: 0,
            timestamp_ms: genesis.genesis_time_ms,
            proposer: None,
        };
        let mut writes = WriteSet::new();
        for (name, module) in &self.modules {
            let config = genesis
                .modules
                .get(*name)
                .cloned()
                .unwrap_or(serde_json::Value::Null);
            let mut ctx = Ctx::new(base, &writes, &env, Address::default());
            module.genesis(&mut ctx, &config).map_err(|e| {
                UrbisError::new(e.code, format!("genesis of module {name}: {}", e.message))
            })?;
            let (w, _) = ctx.into_parts();
            writes.extend(w);
        }
        Ok(writes)
    }

    /// Execute a block's transactions in order, then every module's end-of-block work.
    /// Signatures and chain ids were checked when the block was verified.
    pub fn execute_block(
        &self,
        view: &dyn StateView,
        env: &BlockEnv,
        txs: &[SignedTx],
    ) -> Result<BlockOutcome, UrbisError> {
        let mut writes = WriteSet::new();
        let mut receipts = Vec::with_capacity(txs.len());
        for (i, tx) in txs.iter().enumerate() {
            receipts.push(self.apply_tx(view, env, &mut writes, tx, i as u32));
        }
        let mut block_events = Vec::new();
        for module in self.modules.values() {
            let mut ctx = Ctx::new(view, &writes, env, Address::default());
            // End-of-block work failing is a bug in that module, and must not be ignored: the
            // block cannot be executed consistently.
            module.end_block(&mut ctx)?;
            let (w, ev) = ctx.into_parts();
            writes.extend(w);
            block_events.extend(ev);
        }
        Ok(BlockOutcome {
            writes,
            receipts,
            block_events,
        })
    }

    fn apply_tx(
        &self,
        view: &dyn StateView,
        env: &BlockEnv,
        writes: &mut WriteSet,
        tx: &SignedTx,
        index: u32,
    ) -> Receipt {
        let tx_hash = tx.hash();
        let fail = |e: UrbisError| Receipt {
            tx_hash,
            height: env.height,
            index,
            success: false,
            error: Some(TxError {
                code: e.code,
                message: e.message,
            }),
            events: Vec::new(),
        };
        let sender = tx.sender();
        let overlay = Overlay { base: view, writes };
        let expected = match read_nonce(&overlay, &sender) {
            Ok(n) => n,
            Err(e) => return fail(e),
        };
        // A bad nonce is a replay or a gap: nothing at all is written.
        if let Err(e) = nonce_check(tx.nonce, expected) {
            return fail(e);
        }
        let result = self.module(&tx.call.module).and_then(|module| {
            let mut ctx = Ctx::new(view, writes, env, sender);
            module.execute(&mut ctx, &tx.call.data)?;
            Ok(ctx.into_parts())
        });
        // The nonce is consumed whether or not the call succeeded.
        writes.insert(
            nonce_key(&sender),
            Some(borsh::to_vec(&(expected + 1)).expect("borsh to vec never fails")),
        );
        match result {
            Ok((w, events)) => {
                writes.extend(w);
                Receipt {
                    tx_hash,
                    height: env.height,
                    index,
                    success: true,
                    error: None,
                    events,
                }
            }
            Err(e) => fail(e),
        }
    }

    /// Answer a module query.
    pub fn query(
        &self,
        view: &dyn StateView,
        module: &str,
        path: &[&str],
    ) -> Result<QueryAnswer, UrbisError> {
        if module == SYSTEM {
            return match path {
                ["nonce", addr] => {
                    let addr: Address = addr.parse().map_err(|e: urbis_core::keys::KeyError| {
                        UrbisError::new(ErrorCode::InvalidArgument, e.to_string())
                    })?;
                    Ok(QueryAnswer {
                        key: nonce_key(&addr),
                        value: serde_json::json!({ "address": addr, "nonce": read_nonce(view, &addr)? }),
                    })
                }
                _ => Err(UrbisError::new(
                    ErrorCode::NotFound,
                    "system queries: nonce/<address>",
                )),
            };
        }
        self.module(module)?.query(view, path)
    }

    /// Decode a call for display.
    pub fn describe_call(
        &self,
        module: &str,
        data: &[u8],
    ) -> Result<serde_json::Value, UrbisError> {
        self.module(module)?.describe_call(data)
    }
}

fn nonce_check(got: u64, expected: u64) -> Result<(), UrbisError> {
    use std::cmp::Ordering;
    match got.cmp(&expected) {
        Ordering::Equal => Ok(()),
        Ordering::Less => Err(UrbisError::new(
            ErrorCode::NonceTooLow,
            format!("nonce {got} already used; next is {expected}"),
        )),
        Ordering::Greater => Err(UrbisError::new(
            ErrorCode::NonceGap,
            format!("nonce {got} skips ahead; next is {expected}"),
        )),
    }
}

fn truncate(s: &str, n: usize) -> &str {
    match s.char_indices().nth(n) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}
