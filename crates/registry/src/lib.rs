//! The registry of city services: the one list of modules that every node runs (so that all
//! nodes agree) and that clients use to recompute query answers from proven state. Adding a
//! service is adding its crate and one line to [`modules`].

use std::sync::Arc;

use urbis_runtime::{Module, Runtime};

/// Most calls per block from senders that hold no role (only calls a module marks open; see
/// [`urbis_runtime::Gate`]).
pub const OPEN_CALLS_PER_BLOCK: u32 = 64;

/// The modules every Urbis node runs.
pub fn modules() -> Vec<Arc<dyn Module>> {
    vec![
        urbis_accounts::module(),
        urbis_rewards::module(),
        urbis_assets::module(),
        urbis_notices::module(),
        urbis_identity::module(),
        urbis_consent::module(),
        urbis_land::module(),
        urbis_records::module(),
        urbis_petitions::module(),
        urbis_polls::module(),
        urbis_voting::module(),
        urbis_governance::module(),
        urbis_energy::module(),
        urbis_mobility::module(),
        urbis_waste::module(),
    ]
}

/// The runtime of a city chain: [`modules`] behind the accounts module's gate (a sender needs
/// a role for every call that is not open).
pub fn runtime(chain_id: &str) -> Runtime {
    Runtime::new(chain_id, modules()).with_gate(urbis_accounts::gate(OPEN_CALLS_PER_BLOCK))
}
