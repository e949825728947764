//! A test-only module, `probe`, that misbehaves on request: it panics, fails, writes values of
//! any size, makes calls anyone may make, and fails or panics at the end of a block. It exists
//! so that tests can prove that no module can halt or split the chain. Never registered in a
//! real node.
//!
//! | call                 | effect                                                        |
//! |----------------------|---------------------------------------------------------------|
//! | `Put { key, len }`   | writes `len` bytes (`0xAB`) under `probe/<key>`               |
//! | `Panic`              | panics                                                        |
//! | `Fail`               | writes `probe/failed`, then fails with `invalid_state`        |
//! | `Open { key }`       | an open call: writes one byte under `probe/open/<key>`        |
//! | `SetEndBlock(mode)`  | what the end-of-block work does from the next block on        |
//! | `WriteElsewhere(k)`  | writes outside its namespace (must fail with `foreign_write`)  |
//! | `Invoke{module, op, ignore_failure}` | calls `module`'s exported [`ProbeOp`]          |
//! | `Schedule{after_ms, tag}` | schedules a job; when it runs it writes `probe/ran/<tag>` (a tag starting with `fail` fails, `panic` panics) |
//! | `NewIds(n)`          | derives `n` object ids and stores them under `probe/id/<hex>`  |
//! | `Charge{declare, units}` | declares weight `declare`, writes `probe/charged`, then charges `units` |
//!
//! Declared weights: `Put` and `NewIds` declare what they meter (so values up to the size
//! limit fit); `Charge` declares what it is told; everything else the default.
//!
//! Exported operations ([`ProbeOp`]): `Put`, `Fail`, `Recurse(depth)` (calls itself again),
//! answering the number of keys it wrote.
//!
//! End of block: `Write` counts blocks under `probe/blocks`; `Fail` writes, then fails;
//! `Panic` writes, then panics. Membership for [`gate`]: an account is a member when
//! `probe/member/<addr>` exists (written by `AddMember`, which anyone may call).

use std::sync::Arc;

use borsh::{BorshDeserialize, BorshSerialize};
use urbis_core::{Address, ErrorCode, Event, UrbisError};

use crate::{Ctx, Gate, Module, StateView, weight};

pub const MODULE: &str = "probe";

#[derive(Clone, Copy, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub enum EndBlock {
    Write,
    Fail,
    Panic,
}

#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub enum ProbeCall {
    Put {
        key: String,
        len: u32,
    },
    Panic,
    Fail,
    Open {
        key: String,
    },
    SetEndBlock(EndBlock),
    AddMember(Address),
    WriteElsewhere(String),
    Invoke {
        module: String,
        op: ProbeOp,
        ignore_failure: bool,
    },
    Schedule {
        after_ms: u64,
        tag: String,
    },
    NewIds(u32),
    Charge {
        declare: u64,
        units: u64,
    },
}

/// The probe's exported operations.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub enum ProbeOp {
    Put { key: String },
    Fail,
    Recurse(u8),
}

/// The probe module, under a name of its choosing (`probe` by default).
#[derive(Clone, Copy, Debug)]
pub struct Probe(pub &'static str);

impl Default for Probe {
    fn default() -> Self {
        Probe(MODULE)
    }
}

pub fn module() -> Arc<dyn Module> {
    Arc::new(Probe::default())
}

/// A second probe, to call across namespaces.
pub fn module_named(name: &'static str) -> Arc<dyn Module> {
    Arc::new(Probe(name))
}

pub fn key(name: &str) -> Vec<u8> {
    format!("{MODULE}/{name}").into_bytes()
}

fn key_in(module: &str, name: &str) -> Vec<u8> {
    format!("{module}/{name}").into_bytes()
}

fn member_key(addr: &Address) -> Vec<u8> {
    key(&format!("member/{addr}"))
}

/// A gate whose members are the accounts added with `AddMember`; `AddMember` and `Open` are
/// open calls.
pub fn gate(open_calls_per_block: u32) -> Gate {
    fn is_member(view: &dyn StateView, addr: &Address) -> Result<bool, UrbisError> {
        Ok(view.get(&member_key(addr))?.is_some())
    }
    Gate {
        is_member,
        membership_prefix: b"probe/member/",
        open_calls_per_block,
    }
}

impl Module for Probe {
    fn name(&self) -> &'static str {
        self.0
    }

    fn genesis(&self, _ctx: &mut Ctx<'_>, _config: &serde_json::Value) -> Result<(), UrbisError> {
        Ok(())
    }

    fn weight(&self, data: &[u8]) -> u64 {
        match ProbeCall::try_from_slice(data) {
            Ok(ProbeCall::Put { key, len }) => {
                weight::DEFAULT_CALL + weight::WRITE_BYTE * (key.len() as u64 + u64::from(len))
            }
            Ok(ProbeCall::NewIds(n)) => {
                weight::DEFAULT_CALL
                    + u64::from(n) * (weight::NEW_ID + weight::write(&[0; 80], Some(&[1])))
            }
            Ok(ProbeCall::Charge { declare, .. }) => declare,
            _ => weight::DEFAULT_CALL,
        }
    }

    fn execute(&self, ctx: &mut Ctx<'_>, data: &[u8]) -> Result<(), UrbisError> {
        let call = ProbeCall::try_from_slice(data)
            .map_err(|e| UrbisError::new(ErrorCode::UnknownCall, e.to_string()))?;
        let me = self.0;
        match call {
            ProbeCall::Put { key: k, len } => {
                ctx.put_raw(key_in(me, &k), vec![0xAB; len as usize]);
                ctx.emit(Event::new(me, "put").with("len", len));
            }
            ProbeCall::Panic => panic!("probe asked to panic"),
            ProbeCall::Fail => {
                ctx.put_raw(key_in(me, "failed"), vec![1]);
                return Err(UrbisError::new(
                    ErrorCode::InvalidState,
                    "probe asked to fail",
                ));
            }
            ProbeCall::Open { key: k } => ctx.put_raw(key_in(me, &format!("open/{k}")), vec![1]),
            ProbeCall::SetEndBlock(mode) => ctx.put(key_in(me, "end_block"), &mode),
            ProbeCall::AddMember(a) => ctx.put_raw(member_key(&a), vec![1]),
            ProbeCall::WriteElsewhere(k) => {
                ctx.put_raw(key_in(me, "mine"), vec![1]);
                ctx.put_raw(k.into_bytes(), vec![1]);
            }
            ProbeCall::Invoke {
                module,
                op,
                ignore_failure,
            } => {
                ctx.put_raw(key_in(me, "invoked"), vec![1]);
                let r: Result<u32, UrbisError> = ctx.invoke(&module, &op);
                match r {
                    Ok(n) => ctx.emit(Event::new(me, "invoked").with("wrote", n)),
                    Err(e) if !ignore_failure => return Err(e),
                    Err(_) => {}
                }
            }
            ProbeCall::Schedule { after_ms, tag } => {
                let due = ctx.timestamp_ms() + after_ms;
                ctx.schedule_at(due, tag.into_bytes());
            }
            ProbeCall::NewIds(n) => {
                for _ in 0..n {
                    let id = ctx.new_id();
                    ctx.put_raw(key_in(me, &format!("id/{id}")), vec![1]);
                }
            }
            ProbeCall::Charge { units, .. } => {
                ctx.put_raw(key_in(me, "charged"), vec![1]);
                ctx.charge(units)?;
                ctx.emit(Event::new(me, "charged").with("units", units));
            }
        }
        Ok(())
    }

    fn query_key(&self, path: &[&str]) -> Result<Vec<u8>, UrbisError> {
        match path {
            [name] => Ok(key_in(self.0, name)),
            _ => Err(UrbisError::new(
                ErrorCode::NotFound,
                "probe queries: <name>",
            )),
        }
    }

    fn render(
        &self,
        _path: &[&str],
        value: Option<&[u8]>,
    ) -> Result<serde_json::Value, UrbisError> {
        Ok(match value {
            Some(v) => serde_json::json!({ "len": v.len() }),
            None => serde_json::Value::Null,
        })
    }

    fn describe_call(&self, data: &[u8]) -> Result<serde_json::Value, UrbisError> {
        let call = ProbeCall::try_from_slice(data)
            .map_err(|e| UrbisError::new(ErrorCode::UnknownCall, e.to_string()))?;
        Ok(serde_json::Value::String(format!("{call:?}")))
    }

    fn exported(&self, ctx: &mut Ctx<'_>, op: &[u8]) -> Result<Vec<u8>, UrbisError> {
        let op = ProbeOp::try_from_slice(op)
            .map_err(|e| UrbisError::new(ErrorCode::UnknownCall, e.to_string()))?;
        let me = self.0;
        let wrote: u32 = match op {
            ProbeOp::Put { key: k } => {
                let caller = ctx.caller().unwrap_or("none");
                ctx.put_raw(key_in(me, &k), caller.as_bytes().to_vec());
                ctx.emit(Event::new(me, "exported_put").with("caller", caller));
                1
            }
            ProbeOp::Fail => {
                ctx.put_raw(key_in(me, "exported_failed"), vec![1]);
                return Err(UrbisError::new(
                    ErrorCode::InvalidState,
                    "exported operation asked to fail",
                ));
            }
            ProbeOp::Recurse(depth) => {
                ctx.put_raw(key_in(me, &format!("depth/{depth}")), vec![1]);
                let below: u32 = if depth == 0 {
                    0
                } else {
                    ctx.invoke(me, &ProbeOp::Recurse(depth - 1))?
                };
                below + 1
            }
        };
        Ok(borsh::to_vec(&wrote).expect("borsh to vec never fails"))
    }

    fn on_scheduled(&self, ctx: &mut Ctx<'_>, payload: &[u8]) -> Result<(), UrbisError> {
        let tag = String::from_utf8_lossy(payload).into_owned();
        ctx.put_raw(key_in(self.0, &format!("ran/{tag}")), vec![1]);
        ctx.emit(Event::new(self.0, "job_ran").with("tag", &tag));
        if tag.starts_with("panic") {
            panic!("scheduled job asked to panic");
        }
        if tag.starts_with("fail") {
            return Err(UrbisError::new(
                ErrorCode::InvalidState,
                "scheduled job asked to fail",
            ));
        }
        Ok(())
    }

    fn is_open_call(&self, data: &[u8]) -> bool {
        matches!(
            ProbeCall::try_from_slice(data),
            Ok(ProbeCall::Open { .. } | ProbeCall::AddMember(_))
        )
    }

    fn end_block(&self, ctx: &mut Ctx<'_>) -> Result<(), UrbisError> {
        let me = self.0;
        let mode: EndBlock = ctx
            .get(&key_in(me, "end_block"))?
            .unwrap_or(EndBlock::Write);
        let blocks: u64 = ctx.get(&key_in(me, "blocks"))?.unwrap_or(0);
        ctx.put(key_in(me, "blocks"), &(blocks + 1));
        ctx.emit(Event::new(me, "end_block").with("blocks", blocks + 1));
        match mode {
            EndBlock::Write => Ok(()),
            EndBlock::Fail => Err(UrbisError::new(
                ErrorCode::InvalidState,
                "probe end of block asked to fail",
            )),
            EndBlock::Panic => panic!("probe end of block asked to panic"),
        }
    }
}
