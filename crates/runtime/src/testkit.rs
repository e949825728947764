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
//!
//! End of block: `Write` counts blocks under `probe/blocks`; `Fail` writes, then fails;
//! `Panic` writes, then panics. Membership for [`gate`]: an account is a member when
//! `probe/member/<addr>` exists (written by `AddMember`, which anyone may call).

use std::sync::Arc;

use borsh::{BorshDeserialize, BorshSerialize};
use urbis_core::{Address, ErrorCode, Event, UrbisError};

use crate::{Ctx, Gate, Module, StateView};

pub const MODULE: &str = "probe";

#[derive(Clone, Copy, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub enum EndBlock {
    Write,
    Fail,
    Panic,
}

#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub enum ProbeCall {
    Put { key: String, len: u32 },
    Panic,
    Fail,
    Open { key: String },
    SetEndBlock(EndBlock),
    AddMember(Address),
}

/// The probe module.
#[derive(Clone, Copy, Debug, Default)]
pub struct Probe;

pub fn module() -> Arc<dyn Module> {
    Arc::new(Probe)
}

pub fn key(name: &str) -> Vec<u8> {
    format!("{MODULE}/{name}").into_bytes()
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
        MODULE
    }

    fn genesis(&self, _ctx: &mut Ctx<'_>, _config: &serde_json::Value) -> Result<(), UrbisError> {
        Ok(())
    }

    fn execute(&self, ctx: &mut Ctx<'_>, data: &[u8]) -> Result<(), UrbisError> {
        let call = ProbeCall::try_from_slice(data)
            .map_err(|e| UrbisError::new(ErrorCode::UnknownCall, e.to_string()))?;
        match call {
            ProbeCall::Put { key: k, len } => {
                ctx.put_raw(key(&k), vec![0xAB; len as usize]);
                ctx.emit(Event::new(MODULE, "put").with("len", len));
            }
            ProbeCall::Panic => panic!("probe asked to panic"),
            ProbeCall::Fail => {
                ctx.put_raw(key("failed"), vec![1]);
                return Err(UrbisError::new(
                    ErrorCode::InvalidState,
                    "probe asked to fail",
                ));
            }
            ProbeCall::Open { key: k } => ctx.put_raw(key(&format!("open/{k}")), vec![1]),
            ProbeCall::SetEndBlock(mode) => ctx.put(key("end_block"), &mode),
            ProbeCall::AddMember(a) => ctx.put_raw(member_key(&a), vec![1]),
        }
        Ok(())
    }

    fn query_key(&self, path: &[&str]) -> Result<Vec<u8>, UrbisError> {
        match path {
            [name] => Ok(key(name)),
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

    fn is_open_call(&self, data: &[u8]) -> bool {
        matches!(
            ProbeCall::try_from_slice(data),
            Ok(ProbeCall::Open { .. } | ProbeCall::AddMember(_))
        )
    }

    fn end_block(&self, ctx: &mut Ctx<'_>) -> Result<(), UrbisError> {
        let mode: EndBlock = ctx.get(&key("end_block"))?.unwrap_or(EndBlock::Write);
        let blocks: u64 = ctx.get(&key("blocks"))?.unwrap_or(0);
        ctx.put(key("blocks"), &(blocks + 1));
        ctx.emit(Event::new(MODULE, "end_block").with("blocks", blocks + 1));
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
