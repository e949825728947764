use std::cell::Cell;
use std::rc::Rc;

use borsh::{BorshDeserialize, BorshSerialize};
use urbis_core::hash::domain;
use urbis_core::{Address, ErrorCode, Event, Hash, PublicKey, UrbisError, sha256_domain};

use crate::state::{StateView, WriteSet};
use crate::weight;

/// Facts about the block being executed; the only notion of time a module has.
#[derive(Clone, Debug)]
pub struct BlockEnv {
    pub chain_id: String,
    pub height: u64,
    pub timestamp_ms: u64,
    pub proposer: Option<PublicKey>,
}

/// The transaction a call belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TxInfo {
    /// The transaction id.
    pub hash: Hash,
    /// Its position in the block.
    pub index: u32,
}

/// What a context is running: a transaction's call, an exported operation called by another
/// module, end-of-block work, a scheduled job, or genesis.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Origin {
    Tx(TxInfo),
    Genesis,
    EndBlock,
    /// A job of the scheduler, by its id.
    Scheduled(u64),
}

/// Deepest nesting of exported operations (module A calls B calls C …).
pub const MAX_CALL_DEPTH: u8 = 4;

/// Runs another module's exported operation on behalf of a context (the runtime).
pub trait Dispatch: Send + Sync {
    fn invoke(&self, ctx: &mut Ctx<'_>, module: &str, op: &[u8]) -> Result<Vec<u8>, UrbisError>;
}

/// A context's state as its nested calls see it: its own writes, then the block's, then the
/// base. Reads through it are not metered again: the nested context already charged them.
type ParentView<'p> = crate::state::Layered<'p, [&'p WriteSet; 2]>;

/// The weight a call has used and may use, shared by its nested calls.
#[derive(Debug)]
struct Meter {
    used: Cell<u64>,
    limit: u64,
}

impl Meter {
    /// Add `units`; whether the call is still within its limit.
    fn charge(&self, units: u64) -> bool {
        let used = self.used.get().saturating_add(units);
        self.used.set(used);
        used <= self.limit
    }

    fn exceeded(&self) -> bool {
        self.used.get() > self.limit
    }

    fn error(&self) -> UrbisError {
        UrbisError::new(
            ErrorCode::OutOfWeight,
            format!(
                "the call needs more than the weight of {} it declared",
                self.limit
            ),
        )
    }
}

/// The execution context of one call: reads see committed state, then earlier writes of this
/// block, then this call's own writes; writes are buffered until the call succeeds.
///
/// Everything a call does is metered against its weight budget (see [`crate::weight`]): a call
/// that goes over fails with `out_of_weight`, whatever it returns.
///
/// A module writes only under its own namespace (`"<module>/"`): a write elsewhere is not
/// made, and fails the call with `foreign_write`. Another module's state changes only through
/// that module's exported operations ([`Ctx::invoke`]), which run in a nested context: their
/// writes land in their own namespace, and their failure fails this call too.
pub struct Ctx<'a> {
    base: &'a dyn StateView,
    block_writes: &'a WriteSet,
    writes: WriteSet,
    events: Vec<Event>,
    env: &'a BlockEnv,
    sender: Address,
    module: &'static str,
    prefix: Vec<u8>,
    origin: Origin,
    caller: Option<&'static str>,
    depth: u8,
    dispatch: Option<&'a dyn Dispatch>,
    /// Objects derived so far by [`Ctx::new_id`].
    ids: u32,
    /// The first fault that fails this call whatever the module returns: a foreign write, or
    /// a nested call that failed.
    fault: Option<UrbisError>,
    /// Jobs this call (and its nested calls) scheduled: `(due_ms, payload, module)`.
    scheduled: Vec<(u64, Vec<u8>, &'static str)>,
    meter: Rc<Meter>,
}

impl<'a> Ctx<'a> {
    /// A context for `module`'s code running on behalf of `sender`.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        base: &'a dyn StateView,
        block_writes: &'a WriteSet,
        env: &'a BlockEnv,
        sender: Address,
        module: &'static str,
        origin: Origin,
        dispatch: Option<&'a dyn Dispatch>,
    ) -> Self {
        Ctx {
            base,
            block_writes,
            writes: WriteSet::new(),
            events: Vec::new(),
            env,
            sender,
            module,
            prefix: format!("{module}/").into_bytes(),
            origin,
            caller: None,
            depth: 0,
            dispatch,
            ids: 0,
            fault: None,
            scheduled: Vec::new(),
            meter: Rc::new(Meter {
                used: Cell::new(0),
                limit: u64::MAX,
            }),
        }
    }

    /// Limit the weight this call may use (unlimited unless set: genesis).
    pub fn with_budget(self, limit: u64) -> Self {
        Ctx {
            meter: Rc::new(Meter {
                used: Cell::new(0),
                limit,
            }),
            ..self
        }
    }

    /// Charge `units` of weight for work the module does itself (e.g. [`weight::SIGNATURE`]
    /// per signature it checks, before checking it). Fails with `out_of_weight` past the
    /// call's budget.
    pub fn charge(&mut self, units: u64) -> Result<(), UrbisError> {
        self.charge_ref(units)
    }

    fn charge_ref(&self, units: u64) -> Result<(), UrbisError> {
        if self.meter.charge(units) {
            Ok(())
        } else {
            Err(self.meter.error())
        }
    }

    /// Weight used so far by this call and its nested calls (at most its budget).
    pub fn weight_used(&self) -> u64 {
        self.meter.used.get().min(self.meter.limit)
    }

    /// The account that signed the transaction (the zero address outside transactions).
    pub fn sender(&self) -> Address {
        self.sender
    }

    /// The module whose code is running.
    pub fn module(&self) -> &'static str {
        self.module
    }

    /// In an exported operation: the module that called it.
    pub fn caller(&self) -> Option<&'static str> {
        self.caller
    }

    pub fn origin(&self) -> Origin {
        self.origin
    }

    /// The transaction being executed, if any.
    pub fn tx(&self) -> Option<TxInfo> {
        match self.origin {
            Origin::Tx(t) => Some(t),
            _ => None,
        }
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

    /// Read a key as this call sees it (metered: [`weight::READ`]).
    pub fn get_raw(&self, key: &[u8]) -> Result<Option<Vec<u8>>, UrbisError> {
        self.charge_ref(weight::READ)?;
        self.layers().get(key)
    }

    fn layers(&self) -> ParentView<'_> {
        ParentView {
            base: self.base,
            layers: [&self.writes, self.block_writes],
        }
    }

    /// Up to `limit` keys starting with `prefix`, in key order, after `after` (exclusive), as
    /// this call sees them (its own writes and the block's included). Every node sees the same.
    /// Metered: one [`weight::READ`] plus [`weight::SCAN_ITEM`] per entry returned.
    pub fn scan(
        &self,
        prefix: &[u8],
        after: Option<&[u8]>,
        limit: usize,
    ) -> Result<crate::state::Entries, UrbisError> {
        self.charge_ref(weight::READ)?;
        let entries = self.layers().scan(prefix, after, limit)?;
        self.charge_ref(weight::SCAN_ITEM.saturating_mul(entries.len() as u64))?;
        Ok(entries)
    }

    /// Write under this module's namespace. A key outside it is not written, and the call fails
    /// with `foreign_write`.
    /// Metered: [`weight::write`].
    pub fn put_raw(&mut self, key: Vec<u8>, value: Vec<u8>) {
        if self.owns(&key) && self.meter.charge(weight::write(&key, Some(&value))) {
            self.writes.insert(key, Some(value));
        }
    }

    pub fn delete(&mut self, key: Vec<u8>) {
        if self.owns(&key) && self.meter.charge(weight::write(&key, None)) {
            self.writes.insert(key, None);
        }
    }

    fn owns(&mut self, key: &[u8]) -> bool {
        if key.starts_with(&self.prefix) {
            return true;
        }
        if self.fault.is_none() {
            self.fault = Some(UrbisError::new(
                ErrorCode::ForeignWrite,
                format!(
                    "module {} may only write under {:?}, not {:?}",
                    self.module,
                    String::from_utf8_lossy(&self.prefix),
                    truncate(&String::from_utf8_lossy(key), 80)
                ),
            ));
        }
        false
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

    /// Metered: [`weight::event`].
    pub fn emit(&mut self, event: Event) {
        if self.meter.charge(weight::event(&event)) {
            self.events.push(event);
        }
    }

    /// A fresh object id: `SHA-256(len(tag) || "urbis/object-id/v1" || origin || counter)`,
    /// where `origin` is `"tx" || transaction id || index in the block (u32 LE)` for a
    /// transaction, `"job" || job id (u64 LE) || module name` for a scheduled job, and
    /// `"block" || height (u64 LE) || module name` for genesis and end-of-block work;
    /// `counter` (`u32` LE) counts the ids this call derived before. Every node derives the
    /// same ids; two transactions never collide.
    pub fn new_id(&mut self) -> Hash {
        self.meter.charge(weight::NEW_ID);
        let counter = self.ids.to_le_bytes();
        self.ids += 1;
        match self.origin {
            Origin::Tx(t) => sha256_domain(
                domain::OBJECT_ID,
                &[b"tx", &t.hash.0, &t.index.to_le_bytes(), &counter],
            ),
            Origin::Scheduled(job) => sha256_domain(
                domain::OBJECT_ID,
                &[b"job", &job.to_le_bytes(), self.module.as_bytes(), &counter],
            ),
            Origin::EndBlock | Origin::Genesis => sha256_domain(
                domain::OBJECT_ID,
                &[
                    b"block",
                    &self.env.height.to_le_bytes(),
                    self.module.as_bytes(),
                    &counter,
                ],
            ),
        }
    }

    /// Run `payload` through this module's `on_scheduled` at the end of the first block whose
    /// timestamp is at least `due_ms` (see the runtime's scheduler).
    pub fn schedule_at(&mut self, due_ms: u64, payload: Vec<u8>) {
        let units = weight::SCHEDULE.saturating_add(weight::WRITE_BYTE * payload.len() as u64);
        if !self.meter.charge(units) {
            return;
        }
        self.scheduled.push((due_ms, payload, self.module));
    }

    /// Call `module`'s exported operation `op` (its borsh-encoded op enum) and decode its
    /// answer. The operation runs in a nested context: its writes land in its own namespace and
    /// are kept only if it succeeds; if it fails, this call fails too, whatever it returns.
    pub fn invoke<T: BorshDeserialize>(
        &mut self,
        module: &str,
        op: &impl BorshSerialize,
    ) -> Result<T, UrbisError> {
        let op = borsh::to_vec(op).expect("borsh to vec never fails");
        let bytes = self.invoke_raw(module, &op)?;
        T::try_from_slice(&bytes).map_err(|e| {
            UrbisError::new(
                ErrorCode::Internal,
                format!("the answer of {module} does not decode: {e}"),
            )
        })
    }

    /// [`Ctx::invoke`] with encoded bytes.
    pub fn invoke_raw(&mut self, module: &str, op: &[u8]) -> Result<Vec<u8>, UrbisError> {
        let units = weight::INVOKE.saturating_add(weight::TX_BYTE * op.len() as u64);
        let result = match self.dispatch {
            _ if !self.meter.charge(units) => Err(self.meter.error()),
            None => Err(UrbisError::new(
                ErrorCode::Internal,
                "no runtime to dispatch exported operations",
            )),
            Some(_) if self.depth >= MAX_CALL_DEPTH => Err(UrbisError::new(
                ErrorCode::InvalidState,
                format!("exported operations nest deeper than {MAX_CALL_DEPTH}"),
            )),
            Some(d) => d.invoke(self, module, op),
        };
        if let Err(e) = &result
            && self.fault.is_none()
        {
            self.fault = Some(e.clone());
        }
        result
    }

    /// Run `f` as `module`'s code in a context nested in this one (for the runtime's
    /// dispatcher): on success its writes, events and scheduled jobs join this context's.
    pub fn nested<R>(
        &mut self,
        module: &'static str,
        f: impl FnOnce(&mut Ctx<'_>) -> Result<R, UrbisError>,
    ) -> Result<R, UrbisError> {
        let empty = WriteSet::new();
        let (result, parts) = {
            let view = self.layers();
            let mut child = Ctx {
                base: &view,
                block_writes: &empty,
                writes: WriteSet::new(),
                events: Vec::new(),
                env: self.env,
                sender: self.sender,
                module,
                prefix: format!("{module}/").into_bytes(),
                origin: self.origin,
                caller: Some(self.module),
                depth: self.depth + 1,
                dispatch: self.dispatch,
                ids: 0,
                fault: None,
                scheduled: Vec::new(),
                meter: self.meter.clone(),
            };
            // Ids stay unique across the nesting: the child continues the parent's counter.
            child.ids = self.ids;
            let r = f(&mut child);
            let ids = child.ids;
            (r, child.finish().map(|p| (p, ids)))
        };
        let (parts, ids) = parts?;
        let value = result?;
        self.ids = ids;
        self.writes.extend(parts.writes);
        self.events.extend(parts.events);
        // Jobs scheduled by the nested module run in that module.
        self.scheduled.extend(parts.scheduled);
        Ok(value)
    }

    /// Finish the call given what the module returned: running out of weight wins over any
    /// error the module made of it (so the receipt says `out_of_weight`), then the module's
    /// own error, then [`Ctx::finish`].
    pub fn conclude(self, result: Result<(), UrbisError>) -> Result<CallParts, UrbisError> {
        if self.meter.exceeded() {
            return Err(self.meter.error());
        }
        result?;
        self.finish()
    }

    /// Finish the call: its writes, events and scheduled jobs, or the fault that fails it.
    pub fn finish(self) -> Result<CallParts, UrbisError> {
        if self.meter.exceeded() {
            return Err(self.meter.error());
        }
        if let Some(f) = self.fault {
            return Err(f);
        }
        Ok(CallParts {
            writes: self.writes,
            events: self.events,
            scheduled: self.scheduled,
        })
    }
}

/// What a successful call leaves.
#[derive(Debug, Default)]
pub struct CallParts {
    pub writes: WriteSet,
    pub events: Vec<Event>,
    /// `(due_ms, payload, module)`.
    pub scheduled: Vec<(u64, Vec<u8>, &'static str)>,
}

fn truncate(s: &str, n: usize) -> &str {
    match s.char_indices().nth(n) {
        Some((i, _)) => &s[..i],
        None => s,
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
