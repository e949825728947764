"""Proof bundles (docs/proofs.md): trust anchor, headers, validator set, receipts,
finalization certificate, and the state and receipt bundles in the specified order."""

import json

from . import ed25519
from .codec import (
    TAG_BLOCK,
    TAG_MERKLE_LEAF,
    TAG_MERKLE_NODE,
    TAG_RECEIPT,
    TAG_RECEIPTS_ACC,
    TAG_VALIDATOR_SET,
    Failure,
    Reader,
    array,
    boolean,
    borsh_string,
    fail,
    field,
    hash32,
    hexstr,
    public_key,
    sha256_domain,
    string,
    u32le,
    u64le,
    uint,
    unhex,
    varint,
)
from .store import verify_state_proof

BUNDLE_VERSION = 1

# `ErrorCode` in declaration order: a receipt error's borsh code is its index here.
ERROR_CODES = (
    "malformed too_large bad_signature wrong_chain_id nonce_too_low nonce_gap duplicate_tx "
    "mempool_full unknown_module unknown_call not_found invalid_argument unauthorized "
    "insufficient_balance over_budget over_cap non_transferable already_exists invalid_state "
    "overflow not_ready timeout invalid_proof internal value_too_large key_too_large overloaded "
    "quota_exceeded foreign_write too_heavy out_of_weight schema_mismatch expired not_yet_valid "
    "revoked exhausted out_of_scope erased no_access_receipt gate_closed mass_balance "
    "method_not_allowed"
).split()


class Result:
    """The outcome of a verification: `ok`, and on failure `step` (the reason class) and
    `reason`; on success the proven facts in `facts` (also readable as attributes)."""

    def __init__(self, ok, step=None, reason=None, facts=None, warnings=None):
        self.ok = ok
        self.step = step
        self.reason = reason
        self.facts = dict(facts or {})
        self.warnings = list(warnings or [])

    def __getattr__(self, name):
        facts = self.__dict__.get("facts", {})
        if name in facts:
            return facts[name]
        raise AttributeError(name)

    def __bool__(self):
        return self.ok

    def __repr__(self):
        if self.ok:
            return f"Result(ok=True, facts={self.facts!r}, warnings={self.warnings!r})"
        return f"Result(ok=False, step={self.step!r}, reason={self.reason!r})"


def _guarded(body):
    """Run `body`; a Failure, or any exception from unexpected input, becomes a failed Result."""
    try:
        return body()
    except Failure as f:
        return Result(False, f.step, f.reason)
    except Exception as e:  # noqa: BLE001  (bad input must never raise)
        return Result(False, "malformed", f"unexpected input: {type(e).__name__}: {e}")


# ---- trust ---------------------------------------------------------------------------------


def trust_from_genesis(genesis_json):
    """The trust anchor `{chain_id, validators}` of a genesis document (JSON text, bytes or
    an already parsed dict). Raises ValueError if it is not a genesis document."""
    g = genesis_json
    if isinstance(g, (str, bytes, bytearray)):
        g = json.loads(g)
    if not isinstance(g, dict) or not isinstance(g.get("chain_id"), str):
        raise ValueError("not a genesis document: expected chain_id and validators")
    validators = g.get("validators")
    if not isinstance(validators, list):
        raise ValueError("not a genesis document: expected chain_id and validators")
    keys = []
    for i, v in enumerate(validators):
        if not isinstance(v, dict) or not isinstance(v.get("public_key"), str):
            raise ValueError(f"genesis validator {i} has no public_key")
        keys.append(v["public_key"])
    return {"chain_id": g["chain_id"], "validators": keys}


def _parse_trust(trust):
    """(chain_id, keys sorted by their bytes: the participant order)."""
    if not isinstance(trust, dict):
        fail("trust", "trust is not an object")
    chain_id = trust.get("chain_id")
    if not isinstance(chain_id, str) or not chain_id:
        fail("trust", "trust has no chain_id")
    validators = trust.get("validators")
    if not isinstance(validators, list) or not validators:
        fail("trust", "trust lists no validators")
    keys = []
    for i, text in enumerate(validators):
        try:
            k = public_key(text, f"trust.validators[{i}]")
        except Failure as f:
            fail("trust", f.reason)
        why = ed25519.check_validator_key(k)
        if why:
            fail("trust", f"trust.validators[{i}] {why}")
        keys.append(k)
    keys.sort()
    for a, b in zip(keys, keys[1:]):
        if a == b:
            fail("trust", f"trust lists validator ed25519:{hexstr(a)} twice")
    return chain_id, keys


def validator_set_hash(keys):
    """sha256_domain(VALIDATOR_SET, borsh(Vec<PublicKey>)) of the keys sorted by their bytes."""
    body = u32le(len(keys)) + b"".join(b"\x00" + k for k in sorted(keys))
    return sha256_domain(TAG_VALIDATOR_SET, body)


# ---- headers -------------------------------------------------------------------------------


def _parse_header(h, i):
    what = f"bundle.headers[{i}]"
    if not isinstance(h, dict):
        fail("malformed", f"{what} is not an object")
    return {
        "chain_id": string(h, "chain_id", what),
        "height": uint(h, "height", what),
        "parent": hash32(h, "parent", what),
        "view": uint(h, "view", what),
        "timestamp_ms": uint(h, "timestamp_ms", what),
        "proposer": public_key(field(h, "proposer", what), f"{what}.proposer"),
        "txs_root": hash32(h, "txs_root", what),
        "tx_count": uint(h, "tx_count", what, 32),
        "state_height": uint(h, "state_height", what),
        "state_root": hash32(h, "state_root", what),
        "receipts_acc": hash32(h, "receipts_acc", what),
        "validator_set": hash32(h, "validator_set", what),
    }


def header_digest(h):
    """sha256_domain(BLOCK, borsh(header))."""
    body = b"".join(
        [
            borsh_string(h["chain_id"]),
            u64le(h["height"]),
            h["parent"],
            u64le(h["view"]),
            u64le(h["timestamp_ms"]),
            b"\x00" + h["proposer"],
            h["txs_root"],
            u32le(h["tx_count"]),
            u64le(h["state_height"]),
            h["state_root"],
            h["receipts_acc"],
            h["validator_set"],
        ]
    )
    return sha256_domain(TAG_BLOCK, body)


def _parse_headers(bundle):
    return [_parse_header(h, i) for i, h in enumerate(array(bundle, "headers", "bundle"))]


def _check_headers(headers, chain_id, set_hash):
    digests = []
    for i, h in enumerate(headers):
        if h["chain_id"] != chain_id:
            fail("header-chain", f"header {i} is for chain {h['chain_id']!r}")
        if h["validator_set"] != set_hash:
            fail("header-chain", f"header {i} names another validator set")
        if i > 0:
            if h["parent"] != digests[i - 1] or h["height"] != headers[i - 1]["height"] + 1:
                fail("header-chain", f"header {i} does not extend header {i - 1}")
        digests.append(header_digest(h))
    return digests


# ---- finalization certificate --------------------------------------------------------------


def quorum(n):
    return n - (n - 1) // 3


def _decode_finalization(data, n):
    r = Reader(data, "certificate", "finalization")
    epoch = r.varint(64)
    view = r.varint(64)
    parent = r.varint(64)
    payload = r.digest()
    proposal = data[: r.at]
    bits = r.u64be()
    if bits > n:
        r.bad(f"signer bitmap of {bits} bits for {n} validators")
    bitmap = r.take((bits + 7) // 8)
    if bits % 8 and bitmap[-1] >> (bits % 8):
        r.bad("signer bitmap has bits set past its length")
    signers = [i for i in range(bits) if bitmap[i // 8] & (1 << (i % 8))]
    if not signers:
        r.bad("no signers")
    count = r.length(n)
    if count != len(signers):
        r.bad(f"{len(signers)} signers but {count} signatures")
    signatures = [r.take(64) for _ in range(count)]
    r.end()
    return {
        "epoch": epoch,
        "view": view,
        "parent": parent,
        "payload": payload,
        "proposal": proposal,
        "bits": bits,
        "signers": signers,
        "signatures": signatures,
    }


def _verify_finalization(chain_id, keys, data, digest):
    n = len(keys)
    fin = _decode_finalization(data, n)
    if fin["payload"] != digest:
        fail("certificate", "finalization is for a different block")
    if fin["bits"] != n:
        fail("certificate", f"signer bitmap covers {fin['bits']} of {n} validators")
    if len(fin["signers"]) < quorum(n):
        fail("certificate", f"{len(fin['signers'])} signatures, quorum is {quorum(n)} of {n}")
    ns = f"urbis/{chain_id}/consensus_FINALIZE".encode("utf-8")
    message = varint(len(ns)) + ns + fin["proposal"]
    for i, sig in zip(fin["signers"], fin["signatures"]):
        if not ed25519.verify(keys[i], sig, message):
            fail("certificate", f"signature of validator ed25519:{hexstr(keys[i])} does not verify")
    return fin


# ---- bundles -------------------------------------------------------------------------------


def _check_envelope(bundle, chain_id):
    if not isinstance(bundle, dict):
        fail("malformed", "bundle is not an object")
    version = field(bundle, "version", "bundle")
    bundle_chain = string(bundle, "chain_id", "bundle")
    if isinstance(version, bool) or version != BUNDLE_VERSION:
        fail("version", f"unsupported bundle version {version!r}")
    if bundle_chain != chain_id:
        fail("chain-id", f"bundle is for chain {bundle_chain!r}, expected {chain_id!r}")


def _certify(bundle, headers, finalization, chain_id, keys):
    digests = _check_headers(headers, chain_id, validator_set_hash(keys))
    fin = _verify_finalization(chain_id, keys, finalization, digests[-1])
    return {
        "certified_height": headers[-1]["height"],
        "certified_block": hexstr(digests[-1]),
        "signers": len(fin["signers"]),
        "validators": len(keys),
    }


def verify_state_bundle(bundle, trust):
    """Verify a state proof bundle (the `proof` of a `?prove=true` query answer).

    On success the facts are `height`, `key` (text, or None if not UTF-8), `key_hex`, `value`
    (the proven raw bytes as hex, None = proven absent), `root`, `certified_height`,
    `certified_block`, `signers`, `validators`."""

    def body():
        chain_id, keys = _parse_trust(trust)
        _check_envelope(bundle, chain_id)
        state_height = uint(bundle, "state_height", "bundle")
        state = field(bundle, "state", "bundle")
        key = unhex(string(state, "key", "bundle.state"), "bundle.state.key")
        raw = field(state, "value", "bundle.state")
        value = None if raw is None else unhex(raw, "bundle.state.value")
        root = hash32(state, "root", "bundle.state")
        proof = unhex(string(state, "proof", "bundle.state"), "bundle.state.proof")
        headers = _parse_headers(bundle)
        finalization = unhex(string(bundle, "finalization", "bundle"), "bundle.finalization")

        verify_state_proof(key, value, root, proof)
        if not headers:
            fail("header-chain", "bundle has no headers")
        if headers[0]["state_height"] != state_height or headers[0]["state_root"] != root:
            fail("anchor", "the first header does not certify the proven state root")
        facts = _certify(bundle, headers, finalization, chain_id, keys)
        try:
            key_text = key.decode("utf-8")
        except UnicodeDecodeError:
            key_text = None
        return Result(
            True,
            facts={
                "height": state_height,
                "key": key_text,
                "key_hex": hexstr(key),
                "value": None if value is None else hexstr(value),
                "root": hexstr(root),
                **facts,
            },
        )

    return _guarded(body)


def encode_receipt(r):
    """borsh(Receipt) from its JSON form."""
    what = "receipt"
    if not isinstance(r, dict):
        fail("malformed", "receipt is not an object")
    parts = [
        hash32(r, "tx_hash", what),
        u64le(uint(r, "height", what)),
        u32le(uint(r, "index", what, 32)),
        b"\x01" if boolean(r, "success", what) else b"\x00",
    ]
    error = field(r, "error", what)
    if error is None:
        parts.append(b"\x00")
    else:
        code = string(error, "code", "receipt.error")
        if code not in ERROR_CODES:
            fail("malformed", f"receipt.error.code {code!r} is unknown")
        message = string(error, "message", "receipt.error")
        parts += [b"\x01", bytes([ERROR_CODES.index(code)]), borsh_string(message)]
    events = array(r, "events", what)
    parts.append(u32le(len(events)))
    for i, e in enumerate(events):
        ew = f"receipt.events[{i}]"
        parts += [borsh_string(string(e, "module", ew)), borsh_string(string(e, "kind", ew))]
        attrs = array(e, "attributes", ew)
        parts.append(u32le(len(attrs)))
        for a in attrs:
            if not (
                isinstance(a, list)
                and len(a) == 2
                and isinstance(a[0], str)
                and isinstance(a[1], str)
            ):
                fail("malformed", f"{ew}.attributes holds something other than [key, value]")
            parts += [borsh_string(a[0]), borsh_string(a[1])]
    parts.append(b"\x01" if boolean(r, "nonce_used", what) else b"\x00")
    parts.append(u64le(uint(r, "weight", what)))
    return b"".join(parts)


def verify_receipt_bundle(bundle, trust):
    """Verify a receipt bundle (the `proof` of `GET /v1/txs/{hash}?prove=true`).

    On success the facts are `height`, `tx_hash`, `index`, `success`, `receipt` (the proven
    receipt's JSON), `certified_height`, `certified_block`, `signers`, `validators`."""

    def body():
        chain_id, keys = _parse_trust(trust)
        _check_envelope(bundle, chain_id)
        receipt = field(bundle, "receipt", "bundle")
        encoded = encode_receipt(receipt)
        path = []
        for i, step in enumerate(array(bundle, "path", "bundle")):
            what = f"bundle.path[{i}]"
            path.append((hash32(step, "sibling", what), boolean(step, "left", what)))
        acc_before = hash32(bundle, "acc_before", "bundle")
        later = []
        for i, h in enumerate(array(bundle, "later_roots", "bundle")):
            b = unhex(h, f"bundle.later_roots[{i}]")
            if len(b) != 32:
                fail("malformed", f"bundle.later_roots[{i}] is not 32 bytes")
            later.append(b)
        headers = _parse_headers(bundle)
        finalization = unhex(string(bundle, "finalization", "bundle"), "bundle.finalization")

        leaf = sha256_domain(TAG_RECEIPT, encoded)
        node = sha256_domain(TAG_MERKLE_LEAF, leaf)
        for sibling, left in path:
            if left:
                node = sha256_domain(TAG_MERKLE_NODE, sibling, node)
            else:
                node = sha256_domain(TAG_MERKLE_NODE, node, sibling)
        acc = sha256_domain(TAG_RECEIPTS_ACC, acc_before, node)
        for root in later:
            acc = sha256_domain(TAG_RECEIPTS_ACC, acc, root)

        if not headers:
            fail("header-chain", "bundle has no headers")
        height = receipt["height"]
        certified = height + len(later)
        if certified >= 1 << 64:
            fail("anchor", "height overflows")
        if headers[0]["state_height"] != certified or headers[0]["receipts_acc"] != acc:
            fail("anchor", "the first header does not certify this receipt's accumulator")
        facts = _certify(bundle, headers, finalization, chain_id, keys)
        return Result(
            True,
            facts={
                "height": height,
                "tx_hash": receipt["tx_hash"].lower().removeprefix("0x"),
                "index": receipt["index"],
                "success": receipt["success"],
                "receipt": receipt,
                **facts,
            },
        )

    return _guarded(body)
