//! Queries. Single-key ones are a function of one key's bytes (provable, recomputable by a
//! client); lists walk a key prefix a page at a time.

use serde_json::{Value, json};
use urbis_core::{ErrorCode, Hash, UrbisError};
use urbis_runtime::decode_value;
use urbis_runtime::kit::parse_address;

use crate::keys;
use crate::types::{Asset, Hold, validate_symbol};

fn parse_hold(text: &str) -> Result<Hash, UrbisError> {
    text.parse()
        .map_err(|_| UrbisError::new(ErrorCode::InvalidArgument, "a hold id is 64 hex digits"))
}

pub(crate) fn query_key(path: &[&str]) -> Result<Vec<u8>, UrbisError> {
    match path {
        ["asset", symbol] => {
            validate_symbol(symbol)?;
            Ok(keys::asset(symbol))
        }
        ["balance", symbol, addr] => {
            validate_symbol(symbol)?;
            Ok(keys::balance(symbol, &parse_address(addr)?))
        }
        ["hold", id] => Ok(keys::hold(&parse_hold(id)?)),
        _ => Err(crate::INFO.unknown_path(crate::MODULE, path)),
    }
}

pub(crate) fn render(path: &[&str], bytes: Option<&[u8]>) -> Result<Value, UrbisError> {
    let key = query_key(path)?;
    Ok(match (path, bytes) {
        (["asset", _], Some(b)) => asset_json(&decode_value::<Asset>(&key, b)?),
        (["hold", _], Some(b)) => serde_json::to_value(decode_value::<Hold>(&key, b)?)
            .map_err(|e| UrbisError::new(ErrorCode::Internal, e.to_string()))?,
        (["balance", symbol, addr], b) => {
            let amount: u64 = b.map(|b| decode_value(&key, b)).transpose()?.unwrap_or(0);
            json!({ "asset": symbol, "address": addr, "amount": amount })
        }
        (_, None) => Value::Null,
        _ => return Err(crate::INFO.unknown_path(crate::MODULE, path)),
    })
}

fn asset_json(a: &Asset) -> Value {
    json!({
        "symbol": a.symbol,
        "name": a.name,
        "decimals": a.decimals,
        "issuer": a.issuer,
        "issued": a.issued,
        "burned": a.burned,
        "held": a.held,
        "outstanding": a.outstanding(),
    })
}

pub(crate) fn list_prefix(path: &[&str]) -> Result<Option<Vec<u8>>, UrbisError> {
    Ok(match path {
        ["assets"] => Some(keys::ASSET_PREFIX.as_bytes().to_vec()),
        ["balances", symbol] => {
            validate_symbol(symbol)?;
            Some(keys::balances(symbol))
        }
        ["holds"] => Some(keys::HOLD_PREFIX.as_bytes().to_vec()),
        _ => None,
    })
}

pub(crate) fn render_item(path: &[&str], key: &[u8], value: &[u8]) -> Result<Value, UrbisError> {
    match path {
        ["assets"] => Ok(asset_json(&decode_value::<Asset>(key, value)?)),
        ["holds"] => serde_json::to_value(decode_value::<Hold>(key, value)?)
            .map_err(|e| UrbisError::new(ErrorCode::Internal, e.to_string())),
        ["balances", symbol] => {
            let addr = std::str::from_utf8(key)
                .ok()
                .and_then(|k| k.rsplit('/').next())
                .unwrap_or_default();
            let amount: u64 = decode_value(key, value)?;
            Ok(json!({ "asset": symbol, "address": addr, "amount": amount }))
        }
        _ => Err(crate::INFO.unknown_path(crate::MODULE, path)),
    }
}
