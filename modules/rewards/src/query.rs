//! Read-only queries. Each query reads exactly one key, present or not, and its answer is a
//! function of that key's bytes ([`render`]), so the node can prove it and a client can
//! recompute it from the proven bytes.

use serde_json::{Value, json};
use urbis_core::{Address, ErrorCode, UrbisError};
use urbis_runtime::decode_value;
use urbis_runtime::kit::{parse_address, parse_u64};

use crate::keys;
use crate::types::{Holdings, Program, Redemption, Supply};

/// The prefix of a list query.
pub(crate) fn list_prefix(path: &[&str]) -> Option<Vec<u8>> {
    match path {
        ["programs"] => Some(keys::PROGRAM_PREFIX.as_bytes().to_vec()),
        ["redemptions"] => Some(keys::REDEMPTION_PREFIX.as_bytes().to_vec()),
        _ => None,
    }
}

/// One entry of a list query: the record as JSON.
pub(crate) fn render_item(path: &[&str], key: &[u8], value: &[u8]) -> Result<Value, UrbisError> {
    match path {
        ["programs"] => record::<Program>(key, Some(value)),
        ["redemptions"] => record::<Redemption>(key, Some(value)),
        _ => Err(crate::INFO.unknown_path(crate::MODULE, path)),
    }
}

/// A parsed query path.
enum Query {
    Program(u64),
    Balance(Address),
    Supply,
    Redemption(u64),
    Awarded {
        program: u64,
        addr: Address,
        period: u64,
    },
}

impl Query {
    fn parse(path: &[&str]) -> Result<Query, UrbisError> {
        Ok(match path {
            ["program", id] => Query::Program(parse_u64("program id", id)?),
            ["balance", addr] => Query::Balance(parse_address(addr)?),
            ["supply"] => Query::Supply,
            ["redemption", id] => Query::Redemption(parse_u64("redemption id", id)?),
            ["awarded", program, addr, period] => Query::Awarded {
                program: parse_u64("program id", program)?,
                addr: parse_address(addr)?,
                period: parse_u64("period", period)?,
            },
            _ => return Err(crate::INFO.unknown_path(crate::MODULE, path)),
        })
    }

    fn key(&self) -> Vec<u8> {
        match self {
            Query::Program(id) => keys::program(*id),
            Query::Balance(addr) => keys::holder(addr),
            Query::Supply => keys::supply(),
            Query::Redemption(id) => keys::redemption(*id),
            Query::Awarded {
                program,
                addr,
                period,
            } => keys::awarded(*program, addr, *period),
        }
    }
}

pub(crate) fn query_key(path: &[&str]) -> Result<Vec<u8>, UrbisError> {
    Ok(Query::parse(path)?.key())
}

pub(crate) fn render(path: &[&str], bytes: Option<&[u8]>) -> Result<Value, UrbisError> {
    let q = Query::parse(path)?;
    let key = q.key();
    Ok(match q {
        Query::Program(_) => record::<Program>(&key, bytes)?,
        Query::Redemption(_) => record::<Redemption>(&key, bytes)?,
        Query::Balance(addr) => {
            let holdings: Holdings = value_or_default(&key, bytes)?;
            json!({
                "address": addr,
                "total": holdings.total()?,
                "by_program": holdings.0,
            })
        }
        Query::Supply => {
            let supply: Supply = value_or_default(&key, bytes)?;
            json!({
                "minted": supply.minted,
                "burned": supply.burned,
                "circulating": supply.circulating(),
            })
        }
        Query::Awarded {
            program,
            addr,
            period,
        } => {
            let amount: u64 = value_or_default(&key, bytes)?;
            json!({
                "program": program,
                "address": addr,
                "period": period,
                "amount": amount,
            })
        }
    })
}

/// A record lookup: the record as JSON, or `null` when absent.
fn record<T: borsh::BorshDeserialize + serde::Serialize>(
    key: &[u8],
    bytes: Option<&[u8]>,
) -> Result<Value, UrbisError> {
    match bytes {
        Some(b) => serde_json::to_value(decode_value::<T>(key, b)?)
            .map_err(|e| UrbisError::new(ErrorCode::Internal, e.to_string())),
        None => Ok(Value::Null),
    }
}

/// A value whose absence means its default (zero).
fn value_or_default<T: borsh::BorshDeserialize + Default>(
    key: &[u8],
    bytes: Option<&[u8]>,
) -> Result<T, UrbisError> {
    bytes
        .map(|b| decode_value(key, b))
        .transpose()
        .map(Option::unwrap_or_default)
}
