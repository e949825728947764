"""Offline verification of Urbis proof bundles (docs/proofs.md).

A state proof or a transaction receipt, the block headers that certify it and the validators'
finalization certificate, checked against a chain id and validator keys the caller trusts
(from the genesis file). Functions never raise on bad input: they return a `Result` with `ok`
and, on failure, `step` (the reason class: malformed, trust, version, chain-id, state-proof,
anchor, header-chain, certificate, answer) and `reason`.
"""

from .answers import verify_query_answer, verify_tx_answer
from .verify import (
    BUNDLE_VERSION,
    ERROR_CODES,
    Result,
    header_digest,
    quorum,
    trust_from_genesis,
    validator_set_hash,
    verify_receipt_bundle,
    verify_state_bundle,
)

__all__ = [
    "BUNDLE_VERSION",
    "ERROR_CODES",
    "Result",
    "header_digest",
    "quorum",
    "trust_from_genesis",
    "validator_set_hash",
    "verify_query_answer",
    "verify_receipt_bundle",
    "verify_state_bundle",
    "verify_tx_answer",
]
