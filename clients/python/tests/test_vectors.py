"""The Python verifier against the committed proof vectors (clients/vectors/proofs, specified
in docs/proofs.md), plus answers built from them, tampered inputs and the command line.

Run from clients/python:  python -m unittest -v tests.test_vectors
"""

import copy
import json
import os
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)

from urbis_verify import (  # noqa: E402
    ERROR_CODES,
    quorum,
    trust_from_genesis,
    verify_query_answer,
    verify_receipt_bundle,
    verify_state_bundle,
    verify_tx_answer,
)
from urbis_verify.codec import Failure, Reader  # noqa: E402
from urbis_verify.ed25519 import check_validator_key  # noqa: E402
from urbis_verify.values import decode_account, decode_holdings  # noqa: E402

VECTORS = os.path.join(ROOT, "..", "vectors", "proofs")

# The vectors that must be present (docs/proofs.md, "Test vectors").
REQUIRED = """state-inclusion state-exclusion state-multi-header state-inclusion-grafted-chunk
state-grafted-chunk-tampered state-exclusion-large-store receipt-success receipt-failed-tx
receipt-later-roots net4-state-inclusion net4-receipt net4-three-of-four-signers
state-value-flipped state-wrong-key state-proof-digest-tampered state-exclusion-of-present-key
header-wrong-state-root header-broken-link header-wrong-validator-set trust-wrong-chain-id
trust-other-validators trust-small-order-key certificate-for-another-block
certificate-signature-flipped net4-certificate-signature-flipped net4-certificate-non-signer
net4-certificate-below-quorum unsupported-version receipt-tampered receipt-path-tampered
receipt-wrong-chain-id bundle-missing-field""".split()


def load(name):
    with open(os.path.join(VECTORS, name + ".json"), encoding="utf-8") as f:
        return json.load(f)


def all_vectors():
    out = []
    for fn in sorted(os.listdir(VECTORS)):
        if fn.endswith(".json"):
            out.append((fn[:-5], load(fn[:-5])))
    return out


def verify_vector(v):
    if v["kind"] == "state":
        return verify_state_bundle(v["bundle"], v["trust"])
    if v["kind"] == "receipt":
        return verify_receipt_bundle(v["bundle"], v["trust"])
    raise AssertionError(f"unknown vector kind {v['kind']!r}")


def flip_last(text):
    return text[:-2] + format(int(text[-2:], 16) ^ 1, "02x")


def query_answer(v, module, path, value):
    """A query answer as the node serves it, around a vector's bundle."""
    b = v["bundle"]
    return {
        "module": module,
        "path": path,
        "key": bytes.fromhex(b["state"]["key"]).decode(),
        "value": value,
        "height": b["state_height"],
        "proof": copy.deepcopy(b),
    }


class Vectors(unittest.TestCase):
    def test_every_vector_gets_exactly_its_verdict(self):
        vectors = all_vectors()
        names = [n for n, _ in vectors]
        for r in REQUIRED:
            self.assertIn(r, names, f"vector {r}.json is missing")
        for name, v in vectors:
            with self.subTest(vector=name):
                for f in ("description", "trust", "kind", "bundle", "expect"):
                    self.assertIn(f, v)
                r = verify_vector(v)
                if v["expect"] == "valid":
                    self.assertTrue(r.ok, f"{name}: {r.step}: {r.reason}")
                    self.assertIsNone(r.step)
                else:
                    want = v["expect"]["invalid"]
                    self.assertFalse(r.ok, f"{name}: verified, expected {want}")
                    self.assertEqual(r.step, want, f"{name}: {r.reason}")
                    self.assertTrue(r.reason)

    def test_valid_vectors_report_the_proven_facts(self):
        r = verify_vector(load("state-inclusion"))
        self.assertEqual(r.value, "010000000600000000")
        self.assertTrue(r.key.startswith("accounts/account/urbis1"))
        self.assertEqual((r.signers, r.validators), (1, 1))
        self.assertEqual(r.certified_height, load("state-inclusion")["bundle"]["headers"][-1]["height"])
        self.assertIsNone(verify_vector(load("state-exclusion")).value)
        r = verify_vector(load("net4-three-of-four-signers"))
        self.assertEqual((r.signers, r.validators), (3, 4))
        r = verify_vector(load("receipt-failed-tx"))
        self.assertFalse(r.success)
        m = load("state-multi-header")
        self.assertEqual(len(m["bundle"]["headers"]), 3)
        self.assertTrue(verify_vector(m).ok)

    def test_no_single_bit_flip_of_a_state_proof_verifies(self):
        v = load("state-inclusion")
        proof = bytes.fromhex(v["bundle"]["state"]["proof"])
        for i in range(len(proof)):
            t = copy.deepcopy(v["bundle"])
            b = bytearray(proof)
            b[i] ^= 0x01
            t["state"]["proof"] = b.hex()
            r = verify_state_bundle(t, v["trust"])
            self.assertFalse(r.ok, f"byte {i} flipped still verifies")
            self.assertEqual(r.step, "state-proof", f"byte {i}: {r.reason}")
        # The proof, cut short or extended, does not decode.
        for cut in (proof[:-1], proof + b"\x00"):
            t = copy.deepcopy(v["bundle"])
            t["state"]["proof"] = cut.hex()
            self.assertEqual(verify_state_bundle(t, v["trust"]).step, "state-proof")

    def test_a_present_key_cannot_be_proven_absent_or_given_another_value(self):
        v = load("state-inclusion")
        t = copy.deepcopy(v["bundle"])
        t["state"]["value"] = None
        self.assertEqual(verify_state_bundle(t, v["trust"]).step, "state-proof")
        e = load("state-exclusion")
        t = copy.deepcopy(e["bundle"])
        t["state"]["value"] = "00"
        self.assertEqual(verify_state_bundle(t, e["trust"]).step, "state-proof")

    def test_bad_input_never_raises(self):
        v = load("state-inclusion")
        trust = v["trust"]
        bad = [None, 1, "x", [], {}, {"version": 1}, {"version": 1, "chain_id": "urbis-dev"}]
        for b in bad:
            for fn in (verify_state_bundle, verify_receipt_bundle):
                r = fn(b, trust)
                self.assertFalse(r.ok)
                self.assertIn(r.step, ("malformed", "chain-id"), r.reason)
        for fld, junk in [
            ("state", 5),
            ("headers", {}),
            ("headers", [1]),
            ("finalization", "zz"),
            ("finalization", " 00"),
            ("state_height", -1),
            ("state_height", 1.5),
            ("state_height", True),
        ]:
            t = copy.deepcopy(v["bundle"])
            t[fld] = junk
            r = verify_state_bundle(t, trust)
            self.assertEqual(r.step, "malformed", f"{fld}={junk!r}: {r.step} {r.reason}")
        t = copy.deepcopy(v["bundle"])
        t["headers"][0]["height"] = "4"
        self.assertEqual(verify_state_bundle(t, trust).step, "malformed")
        self.assertEqual(verify_query_answer(None, trust).step, "malformed")
        self.assertEqual(verify_tx_answer({"proof": None}, trust).step, "malformed")
        for tr in (None, {}, {"chain_id": "urbis-dev", "validators": []},
                   {"chain_id": "urbis-dev", "validators": ["ed25519:zz"]},
                   {"chain_id": "urbis-dev", "validators": trust["validators"] * 2}):
            self.assertEqual(verify_state_bundle(v["bundle"], tr).step, "trust", repr(tr))

    def test_hex_prefix_and_upper_case_are_accepted(self):
        v = load("state-inclusion")
        t = copy.deepcopy(v["bundle"])
        t["state"]["root"] = "0x" + t["state"]["root"].upper()
        t["finalization"] = t["finalization"].upper()
        self.assertTrue(verify_state_bundle(t, v["trust"]).ok)

    def test_a_tampered_certificate_fails(self):
        v = load("net4-state-inclusion")
        t = copy.deepcopy(v["bundle"])
        t["finalization"] = flip_last(t["finalization"])
        self.assertEqual(verify_state_bundle(t, v["trust"]).step, "certificate")
        # Trailing bytes do not decode.
        t["finalization"] = v["bundle"]["finalization"] + "00"
        self.assertEqual(verify_state_bundle(t, v["trust"]).step, "certificate")


class Answers(unittest.TestCase):
    def inclusion(self):
        v = load("state-inclusion")
        addr = bytes.fromhex(v["bundle"]["state"]["key"]).decode().split("/")[-1]
        value = {"address": addr, "roles": ["citizen"], "label": ""}
        return v, query_answer(v, "accounts", ["account", addr], value)

    def test_a_query_answer_is_checked_against_the_proven_value(self):
        v, a = self.inclusion()
        r = verify_query_answer(a, v["trust"])
        self.assertTrue(r.ok, r.reason)
        self.assertTrue(r.value_checked)
        self.assertEqual(r.warnings, [])
        for change in (
            lambda a: a["value"].__setitem__("roles", ["city_admin"]),
            lambda a: a["value"].__setitem__("label", "x"),
            lambda a: a["value"].__setitem__("address", "urbis1other"),
            lambda a: a["value"].pop("roles"),
            lambda a: a.__setitem__("value", None),
            lambda a: a.__setitem__("key", a["key"] + "x"),
            lambda a: a.__setitem__("height", a["height"] + 1),
            lambda a: a.__setitem__("path", ["account", "urbis1other"]),
        ):
            t = copy.deepcopy(a)
            change(t)
            r = verify_query_answer(t, v["trust"])
            self.assertEqual(r.step, "answer", r.reason)
        t = copy.deepcopy(a)
        t["value"]["note"] = "unproven"
        r = verify_query_answer(t, v["trust"])
        self.assertTrue(r.ok)
        self.assertEqual(len(r.warnings), 1)
        self.assertIn("note", r.warnings[0])
        t = copy.deepcopy(a)
        t["proof"]["state"]["value"] = flip_last(t["proof"]["state"]["value"])
        self.assertEqual(verify_query_answer(t, v["trust"]).step, "state-proof")

    def test_an_absent_key_renders_as_null(self):
        v = load("state-exclusion")
        addr = bytes.fromhex(v["bundle"]["state"]["key"]).decode().split("/")[-1]
        a = query_answer(v, "accounts", ["account", addr], None)
        r = verify_query_answer(a, v["trust"])
        self.assertTrue(r.ok, r.reason)
        self.assertIsNone(r.value)
        a["value"] = {"address": addr, "roles": [], "label": ""}
        self.assertEqual(verify_query_answer(a, v["trust"]).step, "answer")

    def test_an_unspecified_value_is_a_warning(self):
        v, a = self.inclusion()
        a["module"] = "somewhere"
        r = verify_query_answer(a, v["trust"])
        self.assertTrue(r.ok)
        self.assertFalse(r.value_checked)
        self.assertEqual(len(r.warnings), 1)

    def test_a_tx_answer_is_the_proven_receipt(self):
        v = load("receipt-success")
        rc = v["bundle"]["receipt"]
        a = {
            "hash": rc["tx_hash"],
            "status": "committed",
            "height": rc["height"],
            "index": rc["index"],
            "receipt": copy.deepcopy(rc),
            "proof": copy.deepcopy(v["bundle"]),
        }
        r = verify_tx_answer(a, v["trust"])
        self.assertTrue(r.ok, r.reason)
        self.assertEqual(r.tx_hash, rc["tx_hash"])
        for change in (
            lambda a: a.__setitem__("hash", "00" * 32),
            lambda a: a.__setitem__("height", a["height"] + 1),
            lambda a: a.__setitem__("index", 1),
            lambda a: a["receipt"].__setitem__("weight", a["receipt"]["weight"] + 1),
        ):
            t = copy.deepcopy(a)
            change(t)
            self.assertEqual(verify_tx_answer(t, v["trust"]).step, "answer")
        t = copy.deepcopy(a)
        t["proof"]["receipt"]["weight"] += 1
        self.assertEqual(verify_tx_answer(t, v["trust"]).step, "anchor")


class Encodings(unittest.TestCase):
    def test_varints_must_be_canonical_and_fit(self):
        def read(b, bits=64):
            r = Reader(bytes(b), "state-proof", "test")
            v = r.varint(bits)
            r.end()
            return v

        self.assertEqual(read([0x00]), 0)
        self.assertEqual(read([0xAC, 0x02]), 300)
        self.assertEqual(read([0xFF] * 9 + [0x01]), (1 << 64) - 1)
        self.assertEqual(read([0xFF] * 4 + [0x0F], 32), (1 << 32) - 1)
        for bad, bits in (([0x80, 0x00], 64), ([0xFF] * 9 + [0x02], 64),
                          ([0xFF] * 4 + [0x10], 32), ([0x80], 64)):
            with self.assertRaises(Failure):
                read(bad, bits)

    def test_quorum(self):
        self.assertEqual([quorum(n) for n in (1, 4, 7, 10)], [1, 3, 5, 7])

    def test_error_codes_table(self):
        self.assertEqual(len(ERROR_CODES), 42)
        self.assertEqual(ERROR_CODES.index("already_exists"), 17)
        self.assertEqual(ERROR_CODES[-1], "method_not_allowed")

    def test_module_values(self):
        # docs/proofs.md: "an account holding the citizen role and no label".
        self.assertEqual(
            decode_account(bytes.fromhex("010000000600000000")),
            {"roles": ["citizen"], "label": ""},
        )
        for bad in ("0100000006000000", "01000000ff00000000", "01000000060000000000"):
            with self.assertRaises(Failure):
                decode_account(bytes.fromhex(bad))
        two = (2).to_bytes(4, "little")
        pair = lambda p, a: p.to_bytes(8, "little") + a.to_bytes(8, "little")  # noqa: E731
        self.assertEqual(decode_holdings(two + pair(1, 5) + pair(3, 7)), {1: 5, 3: 7})
        with self.assertRaises(Failure):
            decode_holdings(two + pair(3, 7) + pair(1, 5))

    def test_small_order_and_off_curve_keys_are_rejected(self):
        self.assertIsNotNone(check_validator_key(bytes([1]) + bytes(31)))  # identity
        self.assertIsNotNone(check_validator_key(bytes(32)))  # order 4
        self.assertIsNotNone(check_validator_key(bytes([2]) + bytes(31)))  # not on the curve
        key = load("state-inclusion")["trust"]["validators"][0].split(":")[1]
        self.assertIsNone(check_validator_key(bytes.fromhex(key)))

    def test_trust_from_genesis(self):
        g = {"chain_id": "c", "validators": [{"name": "v", "public_key": "ed25519:00"}]}
        self.assertEqual(trust_from_genesis(json.dumps(g)), {"chain_id": "c", "validators": ["ed25519:00"]})
        with self.assertRaises(ValueError):
            trust_from_genesis({"chain_id": "c"})


class CommandLine(unittest.TestCase):
    def run_cli(self, *args):
        return subprocess.run(
            [sys.executable, "-m", "urbis_verify", *args],
            cwd=ROOT, capture_output=True, text=True, timeout=60,
        )

    def test_verified_and_not_verified(self):
        v = load("net4-receipt")
        with tempfile.TemporaryDirectory() as d:
            genesis = os.path.join(d, "genesis.json")
            with open(genesis, "w", encoding="utf-8") as f:
                json.dump({"chain_id": v["trust"]["chain_id"],
                           "validators": [{"name": "v", "public_key": k}
                                          for k in v["trust"]["validators"]]}, f)
            good = os.path.join(d, "bundle.json")
            with open(good, "w", encoding="utf-8") as f:
                json.dump(v["bundle"], f)
            r = self.run_cli("--genesis", genesis, good)
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            self.assertIn("verified receipt bundle", r.stdout)
            t = copy.deepcopy(v["bundle"])
            t["receipt"]["weight"] += 1
            bad = os.path.join(d, "tampered.json")
            with open(bad, "w", encoding="utf-8") as f:
                json.dump(t, f)
            r = self.run_cli("--genesis", genesis, bad)
            self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
            self.assertIn("NOT verified", r.stdout)
            self.assertIn("anchor", r.stdout)
            r = self.run_cli("--genesis", os.path.join(d, "missing.json"), good)
            self.assertEqual(r.returncode, 1)


if __name__ == "__main__":
    unittest.main()
