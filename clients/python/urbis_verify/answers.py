"""Node answers with proofs: `GET /v1/query/{module}/{path}?prove=true` and
`GET /v1/txs/{hash}?prove=true` (docs/proofs.md, "Trust and fetching")."""

from .codec import fail
from .values import check_value
from .verify import Result, _guarded, encode_receipt, verify_receipt_bundle, verify_state_bundle


def verify_query_answer(answer, trust):
    """Verify a query answer: its proof bundle, that the proven key is the answer's `key` and
    the proven height its `height`, and, for the module values the specification defines, that
    the answer's `value` is the decoding of the proven bytes. `warnings` lists what of the
    answer could not be checked."""
    if not isinstance(answer, dict):
        return Result(False, "malformed", "answer is not an object")
    if not isinstance(answer.get("proof"), dict):
        return Result(False, "malformed", "answer has no proof (ask with ?prove=true)")
    v = verify_state_bundle(answer["proof"], trust)
    if not v.ok:
        return v

    def body():
        key = answer.get("key")
        if not isinstance(key, str) or key.encode("utf-8").hex() != v.key_hex:
            fail("answer", f"answer key {key!r} is not the proven key")
        height = answer.get("height")
        if isinstance(height, bool) or height != v.height:
            fail("answer", f"answer height {height!r} is not the proven height {v.height}")
        if "value" not in answer:
            fail("malformed", "answer has no value")
        raw = None if v.value is None else bytes.fromhex(v.value)
        checked, warnings = check_value(answer, key, raw)
        return Result(True, facts={**v.facts, "value_checked": checked}, warnings=warnings)

    return _guarded(body)


def verify_tx_answer(answer, trust):
    """Verify a transaction answer: its receipt bundle, and that the proven receipt is the
    answer's transaction (`hash`, `height`, `index` and `receipt`)."""
    if not isinstance(answer, dict):
        return Result(False, "malformed", "answer is not an object")
    if not isinstance(answer.get("proof"), dict):
        return Result(False, "malformed", "answer has no proof (ask with ?prove=true)")
    v = verify_receipt_bundle(answer["proof"], trust)
    if not v.ok:
        return v

    def body():
        h = answer.get("hash")
        if not isinstance(h, str) or h.lower().removeprefix("0x") != v.tx_hash:
            fail("answer", f"the proven receipt is for transaction {v.tx_hash}, not {h}")
        for name in ("height", "index"):
            got = answer.get(name)
            if isinstance(got, bool) or got != v.facts[name]:
                fail("answer", f"the answer's {name} {got!r} is not the proven {v.facts[name]}")
        if "receipt" not in answer:
            fail("malformed", "answer has no receipt")
        if encode_receipt(answer["receipt"]) != encode_receipt(v.receipt):
            fail("answer", "the answer's receipt is not the proven receipt")
        warnings = []
        if answer.get("status") != "committed":
            warnings.append(f"the answer's status {answer.get('status')!r} is not 'committed'")
        return Result(True, facts=v.facts, warnings=warnings)

    return _guarded(body)
