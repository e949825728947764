//! State keys of the rewards module. Every key this module reads or writes is built here.

use urbis_core::Address;

/// The module's namespace and dispatch name.
pub const MODULE: &str = "rewards";

/// `rewards/next_program_id`: the id the next program gets (absent means 1).
pub fn next_program_id() -> Vec<u8> {
    format!("{MODULE}/next_program_id").into_bytes()
}

/// Prefix of every program record.
pub const PROGRAM_PREFIX: &str = "rewards/program/";
/// Prefix of every redemption record.
pub const REDEMPTION_PREFIX: &str = "rewards/redemption/";

/// `rewards/program/<id>`: a [`Program`](crate::Program).
pub fn program(id: u64) -> Vec<u8> {
    format!("{MODULE}/program/{id}").into_bytes()
}

/// `rewards/holder/<addr>`: the [`Holdings`](crate::Holdings) of `addr`.
pub fn holder(addr: &Address) -> Vec<u8> {
    format!("{MODULE}/holder/{addr}").into_bytes()
}

/// `rewards/awarded/<program>/<addr>/<period>`: amount (`u64`) awarded to `addr` by `program`
/// during `period`.
pub fn awarded(program: u64, addr: &Address, period: u64) -> Vec<u8> {
    format!("{MODULE}/awarded/{program}/{addr}/{period}").into_bytes()
}

/// `rewards/supply`: the [`Supply`](crate::Supply) totals.
pub fn supply() -> Vec<u8> {
    format!("{MODULE}/supply").into_bytes()
}

/// `rewards/next_redemption_id`: the id the next redemption gets (absent means 1).
pub fn next_redemption_id() -> Vec<u8> {
    format!("{MODULE}/next_redemption_id").into_bytes()
}

/// `rewards/redemption/<id>`: a [`Redemption`](crate::Redemption).
pub fn redemption(id: u64) -> Vec<u8> {
    format!("{MODULE}/redemption/{id}").into_bytes()
}

/// Marks `module` as allowed to award from `program` through the exported operation.
pub fn awarder(program: u64, module: &str) -> Vec<u8> {
    urbis_runtime::kit::key(MODULE, &[&"awarder", &program, &module])
}
