//! Urbis node assembly: the data directory, genesis, the consensus engine, and the HTTP API.
//!
//! The runtime is Commonware's tokio runner; everything (consensus, storage, API) runs inside it.
//! [`node::run`] starts a validator from a [`node::NodeSpec`]; [`dev`] builds a single-validator
//! spec (keys and genesis in a local data directory) and runs it.

pub mod api;
pub mod blobs;
pub mod config;
pub mod dev;
pub mod follow;
pub mod identity;
pub mod node;
pub mod openapi;
pub mod portal;
pub mod problem;
pub mod replicate;
pub mod vault;

pub use urbis_registry::{modules, runtime};
