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
    is_uint,
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
# Bundles of a chain with epochs: they carry the hand-overs from the genesis set.
BUNDLE_VERSION_EPOCHS = 2
SCHEDULE_KEY = b"system/validators"

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
    """The trust anchor `{chain_id, validators[, epoch_length]}` of a genesis document (JSON
    text, bytes or an already parsed dict). Raises ValueError if it is not a genesis
    document."""
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
    trust = {"chain_id": g["chain_id"], "validators": keys}
    if g.get("epoch_length") is not None:
        trust["epoch_length"] = g["epoch_length"]
    return trust


def _parse_trust(trust):
    """(chain_id, keys sorted by their bytes: the participant order, epoch length or None)."""
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
    epoch_length = trust.get("epoch_length")
    if epoch_length is not None and (
        isinstance(epoch_length, bool) or not is_uint(epoch_length) or epoch_length < 2
    ):
        fail("trust", "trust.epoch_length is not an integer of at least 2")
    return chain_id, keys, epoch_length


def validator_set_hash(keys):
    """sha256_domain(VALIDATOR_SET, borsh(Vec<PublicKey>)) of the keys sorted by their bytes."""
    body = u32le(len(keys)) + b"".join(b"\x00" + k for k in sorted(keys))
    return sha256_domain(TAG_VALIDATOR_SET, body)


# ---- headers -------------------------------------------------------------------------------


def _parse_header(h, i, what=None):
    what = what or f"bundle.headers[{i}]"
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


def _verify_finalization(chain_id, keys, data, digest, epoch=0):
    n = len(keys)
    fin = _decode_finalization(data, n)
    if fin["payload"] != digest:
        fail("certificate", "finalization is for a different block")
    if fin["epoch"] != epoch:
        fail("certificate", f"finalization was made in epoch {fin['epoch']}, the block is in epoch {epoch}")
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


def _check_envelope(bundle, chain_id, epoch_length=None):
    if not isinstance(bundle, dict):
        fail("malformed", "bundle is not an object")
    version = field(bundle, "version", "bundle")
    bundle_chain = string(bundle, "chain_id", "bundle")
    expected = BUNDLE_VERSION if epoch_length is None else BUNDLE_VERSION_EPOCHS
    if isinstance(version, bool) or version not in (BUNDLE_VERSION, BUNDLE_VERSION_EPOCHS):
        fail("version", f"unsupported bundle version {version!r}")
    if bundle_chain != chain_id:
        fail("chain-id", f"bundle is for chain {bundle_chain!r}, expected {chain_id!r}")
    if version != expected or ("handovers" in bundle) != (version == BUNDLE_VERSION_EPOCHS):
        fail("version", f"unsupported bundle version {version!r} for this chain: its bundles are version {expected}")


# ---- epochs and hand-overs -----------------------------------------------------------------


class _Borsh:
    """Little-endian borsh reads of a hand-over's validator schedule."""

    def __init__(self, data, what):
        self.r = Reader(data, "handover", what)

    def u32(self):
        return int.from_bytes(self.r.take(4), "little")

    def u64(self):
        return int.from_bytes(self.r.take(8), "little")

    def string(self):
        raw = self.r.take(self.u32())
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            self.r.bad("a string is not UTF-8")
        return None


def decode_schedule(data, what="schedule"):
    """borsh `Schedule {epoch_length: u64, sets: Vec<{from_epoch: u64, validators:
    Vec<{name: String, public_key: PublicKey, address: String}>}>}` (docs/proofs.md)."""
    b = _Borsh(data, what)
    epoch_length = b.u64()
    sets = []
    for _ in range(b.u32()):
        from_epoch = b.u64()
        keys = []
        for _ in range(b.u32()):
            b.string()
            if b.r.u8() != 0:
                b.r.bad("a validator key is not Ed25519")
            keys.append(b.r.take(32))
            b.string()
        sets.append((from_epoch, keys))
    b.r.end()
    return epoch_length, sets


def _set_of(sets, epoch):
    found = None
    for from_epoch, keys in sets:
        if from_epoch <= epoch:
            found = keys
    return found


def _verify_handover(chain_id, epoch_length, epoch, keys, h, i):
    """Check hand-over `i`, expected for `epoch` whose set is `keys`; the set of `epoch + 1`."""
    what = f"bundle.handovers[{i}]"
    if not isinstance(h, dict):
        fail("malformed", f"{what} is not an object")
    if uint(h, "epoch", what) != epoch:
        fail("handover", f"{what} is for epoch {h['epoch']}, expected {epoch}")
    header = _parse_header(field(h, "header", what), i, f"{what}.header")
    last = epoch * epoch_length + epoch_length - 1
    if header["chain_id"] != chain_id:
        fail("handover", f"{what}: its header is for chain {header['chain_id']!r}")
    if header["height"] != last or header["state_height"] + 1 != header["height"]:
        fail("handover", f"{what}: its header is not epoch {epoch}'s last block {last} certifying its parent")
    if header["validator_set"] != validator_set_hash(keys):
        fail("handover", f"{what}: its header names another validator set")
    cert = unhex(string(h, "finalization", what), f"{what}.finalization")
    try:
        _verify_finalization(chain_id, keys, cert, header_digest(header), epoch)
    except Failure as f:
        fail("handover", f"{what}: {f.reason}")
    state = field(h, "schedule", what)
    key = unhex(string(state, "key", f"{what}.schedule"), f"{what}.schedule.key")
    raw = field(state, "value", f"{what}.schedule")
    root = hash32(state, "root", f"{what}.schedule")
    proof = unhex(string(state, "proof", f"{what}.schedule"), f"{what}.schedule.proof")
    if key != SCHEDULE_KEY or root != header["state_root"]:
        fail("handover", f"{what}: its state proof is not of the validator schedule at the header's state root")
    if raw is None:
        fail("handover", f"{what}: the state holds no validator schedule")
    value = unhex(raw, f"{what}.schedule.value")
    try:
        verify_state_proof(key, value, root, proof)
    except Failure as f:
        fail("handover", f"{what}: {f.reason}")
    length, sets = decode_schedule(value, f"{what}.schedule.value")
    if length != epoch_length:
        fail("handover", f"{what}: the schedule's epoch length differs from the genesis")
    nxt = _set_of(sets, epoch + 1)
    if not nxt:
        fail("handover", f"{what}: the set of epoch {epoch + 1} is empty")
    nxt = sorted(nxt)
    for k in nxt:
        why = ed25519.check_validator_key(k)
        if why:
            fail("handover", f"{what}: a validator of epoch {epoch + 1} {why}")
    for a, b in zip(nxt, nxt[1:]):
        if a == b:
            fail("handover", f"{what}: the set of epoch {epoch + 1} names a key twice")
    return nxt


def _certify(bundle, headers, finalization, chain_id, keys, epoch_length=None):
    epoch = 0
    if epoch_length is not None:
        epoch = headers[-1]["height"] // epoch_length
        if any(h["height"] // epoch_length != epoch for h in headers):
            fail("header-chain", "the bundle's headers span two epochs")
        handovers = array(bundle, "handovers", "bundle")
        if len(handovers) != max(epoch - 1, 0):
            fail("handover", f"a proof certified in epoch {epoch} carries {max(epoch - 1, 0)} hand-overs, not {len(handovers)}")
        # Epochs 0 and 1 have the genesis set; hand-over k names the set of k + 1.
        for i, h in enumerate(handovers):
            keys = _verify_handover(chain_id, epoch_length, i + 1, keys, h, i)
    digests = _check_headers(headers, chain_id, validator_set_hash(keys))
    fin = _verify_finalization(chain_id, keys, finalization, digests[-1], epoch)
    return {
        "certified_height": headers[-1]["height"],
        "certified_block": hexstr(digests[-1]),
        "signers": len(fin["signers"]),
        "validators": len(keys),
        "epoch": epoch,
    }


def verify_state_bundle(bundle, trust):
    """Verify a state proof bundle (the `proof` of a `?prove=true` query answer).

    On success the facts are `height`, `key` (text, or None if not UTF-8), `key_hex`, `value`
    (the proven raw bytes as hex, None = proven absent), `root`, `certified_height`,
    `certified_block`, `signers`, `validators`."""

    def body():
        chain_id, keys, epoch_length = _parse_trust(trust)
        _check_envelope(bundle, chain_id, epoch_length)
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
        facts = _certify(bundle, headers, finalization, chain_id, keys, epoch_length)
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
        chain_id, keys, epoch_length = _parse_trust(trust)
        _check_envelope(bundle, chain_id, epoch_length)
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
        facts = _certify(bundle, headers, finalization, chain_id, keys, epoch_length)
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
