"""Command line: verify a saved answer or bundle against a genesis file, or fetch one from a node.

    python -m urbis_verify --genesis genesis.json answer.json
    python -m urbis_verify --node http://127.0.0.1:8545 --query accounts/account/urbis1...
    python -m urbis_verify --node http://127.0.0.1:8545 --tx <hash> [--genesis genesis.json]

Exit code 0 when verified, 1 when not (or when the input cannot be read or fetched).
"""

import argparse
import json
import sys
import urllib.error
import urllib.parse
import urllib.request

from .answers import verify_query_answer, verify_tx_answer
from .verify import trust_from_genesis, verify_receipt_bundle, verify_state_bundle


def _fetch_json(url, timeout):
    req = urllib.request.Request(url, headers={"Accept": "application/json"})
    with urllib.request.urlopen(req, timeout=timeout) as resp:
        return json.loads(resp.read().decode("utf-8"))


def _verify_document(doc, trust):
    """Pick the verifier by the document's shape: a query or tx answer, or a bare bundle."""
    if isinstance(doc, dict) and isinstance(doc.get("proof"), dict):
        if "receipt" in doc["proof"]:
            return "transaction answer", verify_tx_answer(doc, trust)
        return "query answer", verify_query_answer(doc, trust)
    if isinstance(doc, dict) and "receipt" in doc:
        return "receipt bundle", verify_receipt_bundle(doc, trust)
    return "state bundle", verify_state_bundle(doc, trust)


def _describe(what, r):
    f = r.facts
    if "tx_hash" in f:
        outcome = "succeeded" if f["success"] else "failed"
        return (
            f"verified {what}: transaction {f['tx_hash']} {outcome} at height {f['height']}, "
            f"index {f['index']}"
        )
    key = f["key"] if f["key"] is not None else "0x" + f["key_hex"]
    held = "is absent" if f["value"] is None else f"holds 0x{f['value']}"
    return f"verified {what}: key {key} {held} at height {f['height']}"


def main(argv=None):
    p = argparse.ArgumentParser(
        prog="python -m urbis_verify",
        description="Verify Urbis proof bundles (docs/proofs.md) against a trusted genesis.",
    )
    p.add_argument("--genesis", help="the trusted genesis file (JSON)")
    p.add_argument("--node", help="a node's base URL, to fetch the answer (and the genesis)")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--query", help="with --node: the query, module/path (e.g. accounts/account/urbis1...)")
    g.add_argument("--tx", help="with --node: a committed transaction's hash")
    p.add_argument("--timeout", type=float, default=60.0, help="HTTP timeout in seconds")
    p.add_argument("answer", nargs="?", help="a saved answer or bundle (JSON); - for stdin")
    a = p.parse_args(argv)

    if a.node and (a.query or a.tx):
        if a.answer:
            p.error("give either a saved answer or --node with --query/--tx, not both")
    elif a.answer:
        if not a.genesis:
            p.error("--genesis is required to verify a saved answer")
    else:
        p.error("give a saved answer, or --node with --query or --tx")

    try:
        if a.genesis:
            with open(a.genesis, encoding="utf-8") as fh:
                trust = trust_from_genesis(fh.read())
        else:
            base = a.node.rstrip("/")
            trust = trust_from_genesis(_fetch_json(f"{base}/v1/genesis", a.timeout))
            print(
                "note: the genesis was fetched from the node being checked; this is only a "
                "convenience and proves nothing (pass --genesis with a genesis file obtained "
                "out of band)",
                file=sys.stderr,
            )
        if a.answer:
            if a.answer == "-":
                doc = json.load(sys.stdin)
            else:
                with open(a.answer, encoding="utf-8") as fh:
                    doc = json.load(fh)
        else:
            base = a.node.rstrip("/")
            if a.query:
                path = urllib.parse.quote(a.query.strip("/"), safe="/")
                doc = _fetch_json(f"{base}/v1/query/{path}?prove=true", a.timeout)
            else:
                doc = _fetch_json(f"{base}/v1/txs/{a.tx}?prove=true", a.timeout)
    except (OSError, ValueError, urllib.error.URLError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1

    what, r = _verify_document(doc, trust)
    if not r.ok:
        print(f"NOT verified ({what}): {r.step}: {r.reason}")
        return 1
    print(_describe(what, r))
    print(
        f"certified by {r.signers} of {r.validators} validators at height "
        f"{r.certified_height} (block {r.certified_block})"
    )
    if a.tx and r.tx_hash != a.tx.lower().removeprefix("0x"):
        print(f"NOT verified: the proven transaction is {r.tx_hash}, not {a.tx}")
        return 1
    if r.facts.get("value_checked"):
        print("the answer's value is the decoding of the proven bytes")
    for w in r.warnings:
        print(f"warning: {w}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
