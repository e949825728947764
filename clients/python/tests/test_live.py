"""The Python verifier against live nodes: fresh `?prove=true` answers, honest and tampered.

Skipped unless URBIS_NODE names a node (e.g. http://127.0.0.1:8545). Also read:

  URBIS_QUERY     queries (`module/path...`), comma-separated; default: the first genesis
                  account's record (present) and its rewards and USD balances (normally absent)
  URBIS_TX        committed transaction hashes, comma-separated; default: the latest found in
                  the last 500 blocks
  URBIS_NODES_4   API URLs of a 4-validator network, comma-separated (optional); its answers
                  are fetched from the second node and need at least 3 signatures
  URBIS_QUERY_4, URBIS_TX_4   as URBIS_QUERY and URBIS_TX, for that network

Run from clients/python:  URBIS_NODE=... python -m unittest -v tests.test_live
"""

import copy
import json
import os
import sys
import unittest
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from urbis_verify import trust_from_genesis, verify_query_answer, verify_tx_answer  # noqa: E402


def env_list(name):
    return [x for x in os.environ.get(name, "").split(",") if x]


def get(base, path):
    try:
        with urllib.request.urlopen(base.rstrip("/") + path, timeout=60) as r:
            return json.loads(r.read().decode("utf-8"))
    except urllib.error.HTTPError as e:
        raise AssertionError(f"GET {path}: {e.code} {e.read().decode('utf-8', 'replace')}") from e


def flip_last(text):
    return text[:-2] + format(int(text[-2:], 16) ^ 1, "02x")


def default_queries(genesis):
    accounts = genesis.get("modules", {}).get("accounts", {}).get("accounts", [])
    if not accounts:
        return []
    addr = accounts[0]["address"]
    return [f"accounts/account/{addr}", f"rewards/balance/{addr}", f"assets/balance/USD/{addr}"]


def recent_txs(base, limit=500):
    height = get(base, "/v1/status")["height"]
    for h in range(height, max(height - limit, 0), -1):
        block = get(base, f"/v1/blocks/{h}")
        for r in block.get("receipts", []):
            return [r["tx_hash"]]
    return []


class Live(unittest.TestCase):
    def check_network(self, node, queries, txs, min_signers):
        genesis = get(node, "/v1/genesis")
        # Trusting the node's own genesis is only a convenience of this test: the point here is
        # that fresh answers verify and tampered ones do not.
        trust = trust_from_genesis(genesis)
        queries = queries or default_queries(genesis)
        self.assertTrue(queries, "no query to check: set URBIS_QUERY")
        present = absent = 0
        for q in queries:
            answer = get(node, f"/v1/query/{q}?prove=true")
            r = verify_query_answer(answer, trust)
            self.assertTrue(r.ok, f"{q}: {r.step}: {r.reason}")
            self.assertEqual(r.validators, len(trust["validators"]))
            self.assertGreaterEqual(r.signers, min_signers, q)
            self.assertEqual(r.key, answer["key"])
            if r.value is None:
                absent += 1
            else:
                present += 1
            if q.startswith(("accounts/account/", "assets/balance/", "rewards/balance/")):
                self.assertTrue(r.value_checked, q)
                self.assertEqual(r.warnings, [], q)
            # Tampered copies: the proven value, the certificate, the answer's rendering.
            t = copy.deepcopy(answer)
            v = t["proof"]["state"]["value"]
            t["proof"]["state"]["value"] = "00" if v is None else flip_last(v)
            self.assertEqual(verify_query_answer(t, trust).step, "state-proof", q)
            f = copy.deepcopy(answer)
            f["proof"]["finalization"] = flip_last(f["proof"]["finalization"])
            self.assertEqual(verify_query_answer(f, trust).step, "certificate", q)
            if r.value_checked:
                w = copy.deepcopy(answer)
                w["value"] = {"forged": True} if w["value"] is None else None
                self.assertEqual(verify_query_answer(w, trust).step, "answer", q)
        self.assertGreater(present, 0, f"no present key among {queries}")
        self.assertGreater(absent, 0, f"no absent key among {queries}")

        txs = txs or recent_txs(node)
        if not txs:
            self.skipTest("no committed transaction found: set URBIS_TX")
        for h in txs:
            answer = get(node, f"/v1/txs/{h}?prove=true")
            r = verify_tx_answer(answer, trust)
            self.assertTrue(r.ok, f"{h}: {r.step}: {r.reason}")
            self.assertEqual(r.tx_hash, h.lower())
            self.assertGreaterEqual(r.signers, min_signers, h)
            t = copy.deepcopy(answer)
            t["proof"]["receipt"]["weight"] += 1
            self.assertEqual(verify_tx_answer(t, trust).step, "anchor", h)
            t = copy.deepcopy(answer)
            t["proof"]["finalization"] = flip_last(t["proof"]["finalization"])
            self.assertEqual(verify_tx_answer(t, trust).step, "certificate", h)
            t = copy.deepcopy(answer)
            t["index"] += 1
            self.assertEqual(verify_tx_answer(t, trust).step, "answer", h)

    @unittest.skipUnless(os.environ.get("URBIS_NODE"), "URBIS_NODE is not set")
    def test_fresh_answers_of_a_node_verify(self):
        self.check_network(
            os.environ["URBIS_NODE"], env_list("URBIS_QUERY"), env_list("URBIS_TX"), 1
        )

    @unittest.skipUnless(os.environ.get("URBIS_NODES_4"), "URBIS_NODES_4 is not set")
    def test_fresh_answers_of_a_four_validator_network_verify(self):
        nodes = env_list("URBIS_NODES_4")
        self.assertEqual(len(nodes), 4, "URBIS_NODES_4 lists 4 API URLs")
        self.assertEqual(len(trust_from_genesis(get(nodes[0], "/v1/genesis"))["validators"]), 4)
        self.check_network(nodes[1], env_list("URBIS_QUERY_4"), env_list("URBIS_TX_4"), 3)


if __name__ == "__main__":
    unittest.main()
