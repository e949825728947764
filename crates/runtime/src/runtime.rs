use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use urbis_core::{
    Address, ErrorCode, Event, PublicKey, Receipt, SignedTx, TxError, UrbisError, limits,
};

use crate::ctx::{BlockEnv, CallParts, Ctx, Dispatch, Origin, TxInfo, view_get};
use crate::state::{Overlay, StateView, WriteSet};
use crate::{Module, QueryAnswer, sched, weight};

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
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
pub struct Genesis {
    pub chain_id: String,
    /// Genesis time (milliseconds since the Unix epoch); block timestamps must exceed it.
    pub genesis_time_ms: u64,
    pub validators: Vec<GenesisValidator>,
    /// Blocks per epoch (at least 2). With it the council can change the validator set (one
    /// change takes effect two epochs after it is decided, see [`crate::validators`]); without
    /// it the chain has one epoch and the genesis validators sign forever.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub epoch_length: Option<u64>,
    /// Per-module configuration, keyed by module name.
    #[serde(default)]
    pub modules: BTreeMap<String, serde_json::Value>,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
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
    /// Events emitted by end-of-block work (including `end_block_failed`).
    pub block_events: Vec<Event>,
}

/// Who may send transactions: senders that hold a role (per [`Gate::is_member`]) may make any
/// call; others only calls their module marks open ([`Module::is_open_call`]), at most
/// [`Gate::open_calls_per_block`] per block. A refused transaction writes nothing, its nonce
/// included, so throwaway keys cannot grow the state.
#[derive(Clone, Copy)]
pub struct Gate {
    /// Whether `addr` holds a role (read through the state as seen by the transaction).
    pub is_member: fn(&dyn StateView, &Address) -> Result<bool, UrbisError>,
    /// Every key whose value `is_member` reads starts with this prefix: a write under it may
    /// change who is a member (answers are reused within a block until such a write).
    pub membership_prefix: &'static [u8],
    /// Most open calls from senders without a role per block.
    pub open_calls_per_block: u32,
}

/// Membership answers reused while the state they were read from does not change (within a
/// block until a write under [`Gate::membership_prefix`], or within one door batch).
#[derive(Debug, Default)]
pub struct MemberCache(std::collections::HashMap<Address, bool>);

impl MemberCache {
    pub fn clear(&mut self) {
        self.0.clear();
    }

    /// How many accounts' answers it holds.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl std::fmt::Debug for Gate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gate")
            .field("open_calls_per_block", &self.open_calls_per_block)
            .finish_non_exhaustive()
    }
}

/// How a transaction passes the gate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Admission {
    /// The sender holds a role (or the runtime has no gate).
    Member,
    /// The sender holds no role; the call is open, under the per-block quota.
    Open,
}

/// Dispatches transactions to modules.
#[derive(Clone)]
pub struct Runtime {
    chain_id: String,
    modules: BTreeMap<&'static str, Arc<dyn Module>>,
    gate: Option<Gate>,
}

impl Dispatch for Runtime {
    fn invoke(&self, ctx: &mut Ctx<'_>, module: &str, op: &[u8]) -> Result<Vec<u8>, UrbisError> {
        if module == SYSTEM {
            return ctx.nested(SYSTEM, |inner| {
                guarded(|| crate::validators::run(inner, op))
            });
        }
        let (name, m) = self.modules.get_key_value(module).ok_or_else(|| {
            UrbisError::new(
                ErrorCode::UnknownModule,
                format!("no module named {:?}", truncate(module, 32)),
            )
        })?;
        ctx.nested(name, |inner| guarded(|| m.exported(inner, op)))
    }
}

impl Runtime {
    /// The runtime of `modules`. Module names are namespaces: lowercase ASCII letters, digits
    /// and `_`, not `system` or `runtime` (the runtime's own), each used once.
    pub fn new(chain_id: &str, modules: Vec<Arc<dyn Module>>) -> Self {
        let mut names = std::collections::BTreeSet::new();
        for m in &modules {
            let name = m.name();
            assert!(
                !name.is_empty()
                    && name.len() <= limits::MAX_MODULE_NAME_LEN
                    && name
                        .bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
                    && name != SYSTEM
                    && name != SYSTEM_EVENTS,
                "invalid module name {name:?}"
            );
            assert!(names.insert(name), "module {name:?} registered twice");
        }
        let modules = modules.into_iter().map(|m| (m.name(), m)).collect();
        Runtime {
            chain_id: chain_id.to_string(),
            modules,
            gate: None,
        }
    }

    /// Refuse calls from senders without a role unless open (see [`Gate`]).
    pub fn with_gate(mut self, gate: Gate) -> Self {
        self.gate = Some(gate);
        self
    }

    pub fn gate(&self) -> Option<&Gate> {
        self.gate.as_ref()
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

    /// The declared weight of `tx` (see [`weight`]): what it counts against a block's limit.
    pub fn tx_weight(&self, tx: &SignedTx) -> u64 {
        let size = borsh::object_length(tx).unwrap_or(limits::MAX_TX_BYTES);
        weight::envelope(size).saturating_add(self.call_weight(tx))
    }

    /// The call's own declared weight (0 for an unknown module: the call fails at once).
    fn call_weight(&self, tx: &SignedTx) -> u64 {
        self.modules.get(tx.call.module.as_str()).map_or(0, |m| {
            guarded(|| Ok(m.weight(&tx.call.data))).unwrap_or(weight::DEFAULT_CALL)
        })
    }

    /// [`Runtime::tx_weight`], refusing (`too_heavy`) a transaction no block could carry.
    pub fn check_weight(&self, tx: &SignedTx) -> Result<u64, UrbisError> {
        let w = self.tx_weight(tx);
        if w > weight::MAX_BLOCK {
            return Err(UrbisError::new(
                ErrorCode::TooHeavy,
                format!(
                    "the transaction's declared weight {w} exceeds a block's limit of {}",
                    weight::MAX_BLOCK
                ),
            ));
        }
        Ok(w)
    }

    /// Whether `tx` passes the gate on `view`: as a member, as an open call, or not at all
    /// (`unauthorized`). The per-block quota is applied by the caller.
    pub fn admission(&self, view: &dyn StateView, tx: &SignedTx) -> Result<Admission, UrbisError> {
        self.admission_cached(view, tx, &mut MemberCache::default())
    }

    /// [`Runtime::admission`], reusing membership answers from `cache` (which must have been
    /// filled from the same state as `view`).
    pub fn admission_cached(
        &self,
        view: &dyn StateView,
        tx: &SignedTx,
        cache: &mut MemberCache,
    ) -> Result<Admission, UrbisError> {
        let Some(gate) = &self.gate else {
            return Ok(Admission::Member);
        };
        let sender = tx.sender();
        let member = match cache.0.get(&sender) {
            Some(m) => *m,
            None => {
                let m = (gate.is_member)(view, &sender)?;
                cache.0.insert(sender, m);
                m
            }
        };
        if member {
            return Ok(Admission::Member);
        }
        let module = self.modules.get(tx.call.module.as_str());
        if let Some(m) = module
            && guarded(|| m.vouches(view, &sender, &tx.call.data))?
        {
            return Ok(Admission::Member);
        }
        let open =
            module.is_some_and(|m| guarded(|| Ok(m.is_open_call(&tx.call.data))).unwrap_or(false));
        if open {
            Ok(Admission::Open)
        } else {
            Err(UrbisError::new(
                ErrorCode::Unauthorized,
                format!(
                    "{} holds no role, and this {:?} call is not one that anyone may make",
                    tx.sender(),
                    truncate(&tx.call.module, 32),
                ),
            ))
        }
    }

    /// Run the modules' [`Module::precheck`] on `txs` (in parallel on every core); one result
    /// per transaction, `Ok` for those with nothing to check or whose data `view` lacks.
    pub fn precheck_many<T>(&self, view: &dyn StateView, txs: &[T]) -> Vec<Result<(), UrbisError>>
    where
        T: std::borrow::Borrow<SignedTx> + Sync,
    {
        let work: Vec<usize> = txs
            .iter()
            .enumerate()
            .filter(|(_, tx)| {
                self.modules
                    .get(tx.borrow().call.module.as_str())
                    .is_some_and(|m| m.has_precheck())
            })
            .map(|(i, _)| i)
            .collect();
        let mut out: Vec<Result<(), UrbisError>> = (0..txs.len()).map(|_| Ok(())).collect();
        if work.is_empty() {
            return out;
        }
        let check = |i: usize| -> Result<(), UrbisError> {
            let tx = txs[i].borrow();
            let m = &self.modules[tx.call.module.as_str()];
            guarded(|| m.precheck(view, &tx.call.data)).map(|_| ())
        };
        let threads = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
            .min(work.len())
            .max(1);
        if threads == 1 {
            for i in work {
                out[i] = check(i);
            }
            return out;
        }
        let chunk = work.len().div_ceil(threads);
        let results: Vec<(usize, Result<(), UrbisError>)> = std::thread::scope(|scope| {
            let handles: Vec<_> = work
                .chunks(chunk)
                .map(|part| {
                    let check = &check;
                    scope.spawn(move || part.iter().map(|&i| (i, check(i))).collect::<Vec<_>>())
                })
                .collect();
            handles
                .into_iter()
                .zip(work.chunks(chunk))
                .flat_map(|(h, part)| {
                    h.join().unwrap_or_else(|_| {
                        part.iter()
                            .map(|&i| {
                                (
                                    i,
                                    Err(UrbisError::new(
                                        ErrorCode::Internal,
                                        "precheck thread panicked",
                                    )),
                                )
                            })
                            .collect()
                    })
                })
                .collect()
        });
        for (i, r) in results {
            out[i] = r;
        }
        out
    }

    /// Build the genesis write set. Modules run in name order; a section for an unknown module
    /// is an error.
    pub fn genesis(&self, base: &dyn StateView, genesis: &Genesis) -> Result<WriteSet, UrbisError> {
        for name in genesis.modules.keys() {
            self.module(name)?;
        }
        let mut writes = WriteSet::new();
        if let Some(length) = genesis.epoch_length {
            if length < crate::validators::MIN_EPOCH_LENGTH {
                return Err(UrbisError::new(
                    ErrorCode::InvalidArgument,
                    format!(
                        "epoch_length is at least {}",
                        crate::validators::MIN_EPOCH_LENGTH
                    ),
                ));
            }
            let schedule = crate::validators::Schedule::genesis(length, &genesis.validators);
            writes.insert(
                crate::validators::SCHEDULE_KEY.to_vec(),
                Some(borsh::to_vec(&schedule).expect("borsh to vec never fails")),
            );
        }
        let env = BlockEnv {
            chain_id: self.chain_id.clone(),
            height: 0,
            timestamp_ms: genesis.genesis_time_ms,
            proposer: None,
        };
        for (name, module) in &self.modules {
            let config = genesis
                .modules
                .get(*name)
                .cloned()
                .unwrap_or(serde_json::Value::Null);
            let parts = {
                let mut ctx = Ctx::new(
                    base,
                    &writes,
                    &env,
                    Address::default(),
                    name,
                    Origin::Genesis,
                    Some(self),
                );
                guarded(|| module.genesis(&mut ctx, &config))
                    .and_then(|()| ctx.finish())
                    .and_then(|parts| check_sizes(&parts.writes).map(|()| parts))
                    .map_err(|e| {
                        UrbisError::new(e.code, format!("genesis of module {name}: {}", e.message))
                    })?
            };
            self.merge(base, &mut writes, parts)?;
        }
        Ok(writes)
    }

    /// Merge a finished call into the block's writes, giving its scheduled jobs their ids.
    /// Returns its events.
    fn merge(
        &self,
        view: &dyn StateView,
        writes: &mut WriteSet,
        parts: CallParts,
    ) -> Result<Vec<Event>, UrbisError> {
        writes.extend(parts.writes);
        if !parts.scheduled.is_empty() {
            let mut next: u64 = view_get(
                &Overlay {
                    base: view,
                    layers: [writes],
                },
                sched::NEXT,
            )?
            .unwrap_or(0);
            for (due, payload, module) in parts.scheduled {
                let job = sched::Job {
                    module: module.to_string(),
                    payload,
                };
                writes.insert(
                    sched::job_key(due, next),
                    Some(borsh::to_vec(&job).expect("borsh to vec never fails")),
                );
                next += 1;
            }
            writes.insert(
                sched::NEXT.to_vec(),
                Some(borsh::to_vec(&next).expect("borsh to vec never fails")),
            );
        }
        Ok(parts.events)
    }

    /// Execute a block's transactions in order, then the scheduler's due jobs, then every
    /// module's end-of-block work. Signatures and chain ids were checked when the block was
    /// verified.
    ///
    /// Never fails and never panics because of a module: a call that fails or panics is a
    /// failed receipt (`internal` for a panic); a job or an end-of-block run that fails or
    /// panics has its writes discarded and is reported by a `runtime/job_failed` or
    /// `runtime/end_block_failed {module, code, message}` event. Every node reaches the same
    /// outcome. An error here is a storage failure.
    pub fn execute_block(
        &self,
        view: &dyn StateView,
        env: &BlockEnv,
        txs: &[SignedTx],
    ) -> Result<BlockOutcome, UrbisError> {
        let mut writes = WriteSet::new();
        let mut receipts = Vec::with_capacity(txs.len());
        let mut open_calls = 0u32;
        let mut members = MemberCache::default();
        for (i, tx) in txs.iter().enumerate() {
            receipts.push(self.apply_tx(
                view,
                env,
                &mut writes,
                tx,
                i as u32,
                &mut open_calls,
                &mut members,
            )?);
        }
        let mut block_events = self.run_due_jobs(view, env, &mut writes)?;
        for (name, module) in &self.modules {
            let result = {
                let mut ctx = Ctx::new(
                    view,
                    &writes,
                    env,
                    Address::default(),
                    name,
                    Origin::EndBlock,
                    Some(self),
                )
                .with_budget(weight::END_BLOCK);
                let r = guarded(|| module.end_block(&mut ctx));
                ctx.conclude(r)
                    .and_then(|parts| check_sizes(&parts.writes).map(|()| parts))
            };
            match result {
                Ok(parts) => block_events.extend(self.merge(view, &mut writes, parts)?),
                Err(e) => block_events.push(
                    Event::new(SYSTEM_EVENTS, "end_block_failed")
                        .with("module", name)
                        .with("code", e.code)
                        .with("message", &e.message),
                ),
            }
        }
        Ok(BlockOutcome {
            writes,
            receipts,
            block_events,
        })
    }

    /// Run the jobs due at this block's time, oldest first, at most [`sched::JOBS_PER_BLOCK`];
    /// each is removed whether it succeeds or fails (it runs exactly once).
    fn run_due_jobs(
        &self,
        view: &dyn StateView,
        env: &BlockEnv,
        writes: &mut WriteSet,
    ) -> Result<Vec<Event>, UrbisError> {
        let due = {
            let overlay = Overlay {
                base: view,
                layers: [writes],
            };
            overlay.scan(sched::QUEUE, None, sched::JOBS_PER_BLOCK)?
        };
        let mut events = Vec::new();
        for (key, value) in due {
            let Some((due_ms, id)) = sched::parse_job_key(&key) else {
                return Err(UrbisError::new(
                    ErrorCode::Internal,
                    format!("malformed job key {:?}", String::from_utf8_lossy(&key)),
                ));
            };
            if due_ms > env.timestamp_ms {
                break;
            }
            writes.insert(key.clone(), None);
            let job: sched::Job = crate::ctx::decode_value(&key, &value)?;
            let result = match self.modules.get_key_value(job.module.as_str()) {
                None => Err(UrbisError::new(
                    ErrorCode::UnknownModule,
                    format!("no module named {:?}", truncate(&job.module, 32)),
                )),
                Some((name, module)) => {
                    let mut ctx = Ctx::new(
                        view,
                        writes,
                        env,
                        Address::default(),
                        name,
                        Origin::Scheduled(id),
                        Some(self),
                    )
                    .with_budget(module.job_weight(&job.payload));
                    let r = guarded(|| module.on_scheduled(&mut ctx, &job.payload));
                    ctx.conclude(r)
                        .and_then(|parts| check_sizes(&parts.writes).map(|()| parts))
                }
            };
            match result {
                Ok(parts) => events.extend(self.merge(view, writes, parts)?),
                Err(e) => events.push(
                    Event::new(SYSTEM_EVENTS, "job_failed")
                        .with("module", &job.module)
                        .with("job", id)
                        .with("code", e.code)
                        .with("message", &e.message),
                ),
            }
        }
        Ok(events)
    }

    #[allow(clippy::too_many_arguments)]
    fn apply_tx(
        &self,
        view: &dyn StateView,
        env: &BlockEnv,
        writes: &mut WriteSet,
        tx: &SignedTx,
        index: u32,
        open_calls: &mut u32,
        members: &mut MemberCache,
    ) -> Result<Receipt, UrbisError> {
        let tx_hash = tx.hash();
        let envelope = weight::envelope(borsh::object_length(tx).unwrap_or(limits::MAX_TX_BYTES));
        let receipt = |result: Result<Vec<Event>, UrbisError>, nonce_used: bool, used: u64| {
            let weight = envelope.saturating_add(used);
            match result {
                Ok(events) => Receipt {
                    tx_hash,
                    height: env.height,
                    index,
                    success: true,
                    error: None,
                    events,
                    nonce_used,
                    weight,
                },
                Err(e) => Receipt {
                    tx_hash,
                    height: env.height,
                    index,
                    success: false,
                    error: Some(TxError {
                        code: e.code,
                        message: e.message,
                    }),
                    events: Vec::new(),
                    nonce_used,
                    weight,
                },
            }
        };
        let sender = tx.sender();
        let overlay = Overlay {
            base: view,
            layers: [writes],
        };
        // The gate: a sender without a role writes nothing unless the call is open and the
        // block's quota of open calls is not used up.
        match self.admission_cached(&overlay, tx, members) {
            Ok(Admission::Member) => {}
            Ok(Admission::Open) => {
                let quota = self.gate.map_or(u32::MAX, |g| g.open_calls_per_block);
                if *open_calls >= quota {
                    return Ok(receipt(
                        Err(UrbisError::new(
                            ErrorCode::QuotaExceeded,
                            format!(
                                "this block already carries {quota} calls from senders without a role"
                            ),
                        )),
                        false,
                        0,
                    ));
                }
                *open_calls += 1;
            }
            Err(e) => return Ok(receipt(Err(e), false, 0)),
        }
        let expected = match read_nonce(&overlay, &sender) {
            Ok(n) => n,
            Err(e) => return Ok(receipt(Err(e), false, 0)),
        };
        // A bad nonce is a replay or a gap: nothing at all is written.
        if let Err(e) = nonce_check(tx.nonce, expected) {
            return Ok(receipt(Err(e), false, 0));
        }
        let budget = self.call_weight(tx);
        let mut used = 0;
        let info = TxInfo {
            hash: tx_hash,
            index,
        };
        let result = self
            .modules
            .get_key_value(tx.call.module.as_str())
            .map_or_else(
                || {
                    Err(UrbisError::new(
                        ErrorCode::UnknownModule,
                        format!("no module named {:?}", truncate(&tx.call.module, 32)),
                    ))
                },
                |(name, module)| {
                    let mut ctx = Ctx::new(
                        view,
                        writes,
                        env,
                        sender,
                        name,
                        Origin::Tx(info),
                        Some(self),
                    )
                    .with_budget(budget);
                    let r = guarded(|| module.execute(&mut ctx, &tx.call.data));
                    used = ctx.weight_used();
                    ctx.conclude(r)
                        .and_then(|parts| check_sizes(&parts.writes).map(|()| parts))
                },
            );
        // The nonce is consumed whether or not the call succeeded.
        writes.insert(
            nonce_key(&sender),
            Some(borsh::to_vec(&(expected + 1)).expect("borsh to vec never fails")),
        );
        Ok(match result {
            Ok(parts) => {
                if let Some(gate) = &self.gate
                    && parts
                        .writes
                        .keys()
                        .any(|k| k.starts_with(gate.membership_prefix))
                {
                    members.clear();
                }
                let events = self.merge(view, writes, parts)?;
                receipt(Ok(events), true, used)
            }
            Err(e) => receipt(Err(e), true, used),
        })
    }

    /// The state key that answers `path` of `module`.
    pub fn query_key(&self, module: &str, path: &[&str]) -> Result<Vec<u8>, UrbisError> {
        if module == SYSTEM {
            return match path {
                ["nonce", addr] => Ok(nonce_key(&parse_address(addr)?)),
                _ => Err(system_paths()),
            };
        }
        let m = self.module(module)?;
        guarded(|| m.query_key(path))
    }

    /// The answer to `path` of `module` given the bytes stored under its key.
    pub fn render(
        &self,
        module: &str,
        path: &[&str],
        value: Option<&[u8]>,
    ) -> Result<serde_json::Value, UrbisError> {
        if module == SYSTEM {
            return match path {
                ["nonce", addr] => {
                    let addr = parse_address(addr)?;
                    let key = nonce_key(&addr);
                    let nonce: u64 = match value {
                        Some(b) => crate::ctx::decode_value(&key, b)?,
                        None => 0,
                    };
                    Ok(serde_json::json!({ "address": addr, "nonce": nonce }))
                }
                _ => Err(system_paths()),
            };
        }
        let m = self.module(module)?;
        guarded(|| m.render(path, value))
    }

    /// Answer a module query from `view`.
    pub fn query(
        &self,
        view: &dyn StateView,
        module: &str,
        path: &[&str],
    ) -> Result<QueryAnswer, UrbisError> {
        let key = self.query_key(module, path)?;
        let bytes = view.get(&key)?;
        let value = self.render(module, path, bytes.as_deref())?;
        Ok(QueryAnswer { key, value })
    }

    /// Whether `path` of `module` is a list query (its prefix) or a single-key one (`None`).
    pub fn list_prefix(&self, module: &str, path: &[&str]) -> Result<Option<Vec<u8>>, UrbisError> {
        if module == SYSTEM {
            return Ok(match path {
                ["jobs"] => Some(sched::QUEUE.to_vec()),
                _ => None,
            });
        }
        let m = self.module(module)?;
        guarded(|| m.list_prefix(path))
    }

    /// One page of the list query `path` of `module`: at most `limit` (1 to
    /// [`crate::MAX_PAGE`]) entries after `cursor` (the opaque `next_cursor` of the page before).
    /// The same on every node for the same state.
    pub fn query_list(
        &self,
        view: &dyn StateView,
        module: &str,
        path: &[&str],
        limit: usize,
        cursor: Option<&str>,
    ) -> Result<crate::ListPage, UrbisError> {
        if limit == 0 || limit > crate::MAX_PAGE {
            return Err(UrbisError::new(
                ErrorCode::InvalidArgument,
                format!("limit must be 1 to {}", crate::MAX_PAGE),
            ));
        }
        let prefix = self.list_prefix(module, path)?.ok_or_else(|| {
            UrbisError::new(
                ErrorCode::InvalidArgument,
                format!("{module}/{} is not a list query", path.join("/")),
            )
        })?;
        let after =
            match cursor {
                None => None,
                Some(c) => {
                    let key = hex::decode(c).ok().filter(|k| k.starts_with(&prefix));
                    Some(key.ok_or_else(|| {
                        UrbisError::new(ErrorCode::InvalidArgument, "invalid cursor")
                    })?)
                }
            };
        // One more than asked: is there a next page?
        let mut entries = view.scan(&prefix, after.as_deref(), limit + 1)?;
        let more = entries.len() > limit;
        entries.truncate(limit);
        let next_cursor = if more {
            entries.last().map(|(k, _)| hex::encode(k))
        } else {
            None
        };
        let items = entries
            .iter()
            .map(|(k, v)| self.render_item(module, path, k, v))
            .collect::<Result<_, _>>()?;
        Ok(crate::ListPage { items, next_cursor })
    }

    fn render_item(
        &self,
        module: &str,
        path: &[&str],
        key: &[u8],
        value: &[u8],
    ) -> Result<serde_json::Value, UrbisError> {
        if module == SYSTEM {
            let (due_ms, id) = sched::parse_job_key(key)
                .ok_or_else(|| UrbisError::new(ErrorCode::Internal, "malformed job key"))?;
            let job: sched::Job = crate::ctx::decode_value(key, value)?;
            return Ok(serde_json::json!({
                "id": id,
                "due_ms": due_ms,
                "module": job.module,
                "payload": hex::encode(&job.payload),
            }));
        }
        let m = self.module(module)?;
        guarded(|| m.render_item(path, key, value))
    }

    /// Decode a call for display.
    pub fn describe_call(
        &self,
        module: &str,
        data: &[u8],
    ) -> Result<serde_json::Value, UrbisError> {
        let m = self.module(module)?;
        guarded(|| m.describe_call(data))
    }

    /// Encode the JSON form of a call to `module` (`schema_mismatch` when it does not fit the
    /// module's call schema).
    pub fn call_from_json(
        &self,
        module: &str,
        json: &serde_json::Value,
    ) -> Result<urbis_core::Call, UrbisError> {
        let m = self.module(module)?;
        let data = guarded(|| m.call_from_json(json))?;
        Ok(urbis_core::Call {
            module: module.to_string(),
            data,
        })
    }

    /// The JSON Schema of `module`'s calls.
    pub fn call_schema(&self, module: &str) -> Result<serde_json::Value, UrbisError> {
        Ok(self.module(module)?.call_schema())
    }

    /// What every module (and `system`, the runtime's own namespace) says about itself: calls
    /// (names and JSON Schema), queries, events, exported operations. Served at
    /// `GET /v1/modules`.
    pub fn describe_modules(&self) -> Vec<serde_json::Value> {
        let mut out: Vec<serde_json::Value> = self
            .modules
            .iter()
            .map(|(name, m)| describe_one(name, &m.info(), m.call_schema()))
            .collect();
        out.push(describe_one(SYSTEM, &SYSTEM_INFO, serde_json::Value::Null));
        out
    }

    /// One entry of [`Runtime::describe_modules`] (`unknown_module` if there is none).
    pub fn describe_module(&self, name: &str) -> Result<serde_json::Value, UrbisError> {
        if name == SYSTEM {
            return Ok(describe_one(SYSTEM, &SYSTEM_INFO, serde_json::Value::Null));
        }
        let m = self.module(name)?;
        Ok(describe_one(name, &m.info(), m.call_schema()))
    }
}

/// Module of the runtime's own events.
pub const SYSTEM_EVENTS: &str = "runtime";

/// The runtime's own queries (module `system`) and events (module `runtime`).
const SYSTEM_INFO: crate::ModuleInfo = crate::ModuleInfo {
    description: "The runtime's own state: account nonces and the scheduler's queue. Its events are published under the module name `runtime`.",
    queries: &[
        crate::QueryInfo {
            path: "nonce/<address>",
            list: false,
            description: "The number of transactions an account has committed ({address, nonce}).",
        },
        crate::QueryInfo {
            path: "jobs",
            list: true,
            description: "Scheduled jobs not yet run, in (due time, id) order.",
        },
    ],
    events: &[
        crate::EventInfo {
            kind: "end_block_failed",
            attributes: &["module", "code", "message"],
            description: "A module's end-of-block work failed; its end-of-block writes were discarded.",
        },
        crate::EventInfo {
            kind: "job_failed",
            attributes: &["module", "job", "code", "message"],
            description: "A scheduled job failed; its writes were discarded and it will not run again.",
        },
    ],
    exported: &[],
};

fn describe_one(
    name: &str,
    info: &crate::ModuleInfo,
    schema: serde_json::Value,
) -> serde_json::Value {
    serde_json::json!({
        "name": name,
        "description": info.description,
        "calls": crate::kit::call_names(&schema),
        "call_schema": schema,
        "queries": info.queries,
        "events": info.events,
        "exported": info.exported,
    })
}

fn system_paths() -> UrbisError {
    UrbisError::new(
        ErrorCode::NotFound,
        "system queries: nonce/<address>, jobs (a list)",
    )
}

fn parse_address(text: &str) -> Result<Address, UrbisError> {
    text.parse().map_err(|e: urbis_core::keys::KeyError| {
        UrbisError::new(ErrorCode::InvalidArgument, e.to_string())
    })
}

/// Run module code, turning a panic into an `internal` error. Module code is deterministic, so
/// every node panics (or not) alike and records the same failure.
fn guarded<T>(f: impl FnOnce() -> Result<T, UrbisError>) -> Result<T, UrbisError> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
        Ok(r) => r,
        Err(payload) => {
            let what = payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "no message".to_string());
            Err(UrbisError::new(
                ErrorCode::Internal,
                format!("module panicked: {}", truncate(&what, 200)),
            ))
        }
    }
}

/// Every write of a call, genesis section or end-of-block run must fit the store's limits;
/// checked before anything is merged, so an oversized write fails cleanly everywhere.
fn check_sizes(writes: &WriteSet) -> Result<(), UrbisError> {
    for (k, v) in writes {
        if k.len() > limits::MAX_KEY_BYTES {
            return Err(UrbisError::new(
                ErrorCode::KeyTooLarge,
                format!(
                    "a state key of {} bytes exceeds the limit of {}",
                    k.len(),
                    limits::MAX_KEY_BYTES
                ),
            ));
        }
        if let Some(v) = v
            && v.len() > limits::MAX_VALUE_BYTES
        {
            return Err(UrbisError::new(
                ErrorCode::ValueTooLarge,
                format!(
                    "the value under {} is {} bytes; the limit is {}",
                    truncate(&String::from_utf8_lossy(k), 80),
                    v.len(),
                    limits::MAX_VALUE_BYTES
                ),
            ));
        }
    }
    Ok(())
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
