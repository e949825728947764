//! Read-only queries. Each answer carries the exact key it read, present or not, so the node
//! can attach a proof of the value or of its absence.

use serde_json::{Value, json};
use urbis_accounts::parse_address;
use urbis_core::{Address, ErrorCode, UrbisError};
use urbis_runtime::{QueryAnswer, StateView};

use crate::keys;
use crate::store::{awarded_of, holdings_of, program_of, redemption_of, supply_of};

/// Every supported path, for the error message of an unknown one.
const PATHS: &str = "rewards queries: program/<id>, balance/<address>, supply, \
                     redemption/<id>, awarded/<program>/<address>/<period>";

pub(crate) fn query(state: &dyn StateView, path: &[&str]) -> Result<QueryAnswer, UrbisError> {
    match path {
        ["program", id] => program(state, parse_u64("program id", id)?),
        ["balance", addr] => balance(state, &parse_address(addr)?),
        ["supply"] => supply(state),
        ["redemption", id] => redemption(state, parse_u64("redemption id", id)?),
        ["awarded", program, addr, period] => awarded(
            state,
            parse_u64("program id", program)?,
            &parse_address(addr)?,
            parse_u64("period", period)?,
        ),
        _ => Err(UrbisError::new(ErrorCode::NotFound, PATHS)),
    }
}

fn program(state: &dyn StateView, id: u64) -> Result<QueryAnswer, UrbisError> {
    answer(keys::program(id), program_of(state, id)?)
}

fn balance(state: &dyn StateView, addr: &Address) -> Result<QueryAnswer, UrbisError> {
    let holdings = holdings_of(state, addr)?;
    let value = json!({
        "address": addr,
        "total": holdings.total()?,
        "by_program": holdings.0,
    });
    Ok(QueryAnswer {
        key: keys::holder(addr),
        value,
    })
}

fn supply(state: &dyn StateView) -> Result<QueryAnswer, UrbisError> {
    let supply = supply_of(state)?;
    let value = json!({
        "minted": supply.minted,
        "burned": supply.burned,
        "circulating": supply.circulating(),
    });
    Ok(QueryAnswer {
        key: keys::supply(),
        value,
    })
}

fn redemption(state: &dyn StateView, id: u64) -> Result<QueryAnswer, UrbisError> {
    answer(keys::redemption(id), redemption_of(state, id)?)
}

fn awarded(
    state: &dyn StateView,
    program: u64,
    addr: &Address,
    period: u64,
) -> Result<QueryAnswer, UrbisError> {
    let amount = awarded_of(state, program, addr, period)?;
    let value = json!({
        "program": program,
        "address": addr,
        "period": period,
        "amount": amount,
    });
    Ok(QueryAnswer {
        key: keys::awarded(program, addr, period),
        value,
    })
}

/// A record lookup: the record as JSON, or `null` when absent.
fn answer<T: serde::Serialize>(key: Vec<u8>, record: Option<T>) -> Result<QueryAnswer, UrbisError> {
    let value = match record {
        Some(r) => serde_json::to_value(r)
            .map_err(|e| UrbisError::new(ErrorCode::Internal, e.to_string()))?,
        None => Value::Null,
    };
    Ok(QueryAnswer { key, value })
}

fn parse_u64(what: &str, text: &str) -> Result<u64, UrbisError> {
    text.parse().map_err(|_| {
        UrbisError::new(
            ErrorCode::InvalidArgument,
            format!("{what} must be a decimal integer, got {text:?}"),
        )
    })
}
