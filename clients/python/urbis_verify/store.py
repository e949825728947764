"""State proofs of the authenticated store (docs/proofs.md, "State proofs"): the QMDB
"current", ordered database over SHA-256 with 256-bit bitmap chunks grafted at height 8 onto
the operations MMR, bagged backward."""

from .codec import (
    TAG_STATE_KEY,
    TAG_STATE_VALUE,
    Reader,
    fail,
    sha256,
    sha256_domain,
    u64be,
    varint,
)

CHUNK_BYTES = 32
CHUNK_BITS = CHUNK_BYTES * 8
GRAFTING_HEIGHT = 8
MAX_PROOF_DIGESTS = 122
MAX_VALUE_BYTES = 256 * 1024
MAX_LOCATION = 1 << 62

OP_DELETE = 0xD1
OP_UPDATE = 0xD2
OP_COMMIT = 0xD3


def _bad(reason):
    fail("state-proof", reason)


def _read_operation_proof(r):
    loc = r.varint(64)
    if loc > MAX_LOCATION:
        r.bad("location out of range")
    chunk = r.take(CHUNK_BYTES)
    leaves = r.varint(64)
    if leaves > MAX_LOCATION:
        r.bad("leaf count out of range")
    inactive = r.varint(64)
    count = r.length(MAX_PROOF_DIGESTS)
    digests = [r.digest() for _ in range(count)]
    partial = r.digest() if r.boolean() else None
    ops_root = r.digest()
    return {
        "loc": loc,
        "chunk": chunk,
        "leaves": leaves,
        "inactive": inactive,
        "digests": digests,
        "partial": partial,
        "ops_root": ops_root,
    }


def _read_option_bytes(r):
    """Option<Vec<u8>>: the decoded bytes (or None) and their exact encoding."""
    start = r.at
    value = r.byte_vec(MAX_VALUE_BYTES) if r.boolean() else None
    return value, r.data[start : r.at]


def _peaks(leaves):
    """The MMR's peaks, tallest first: (position, height, first leaf)."""
    out = []
    offset = 0
    first_leaf = 0
    for h in range(63, -1, -1):
        if leaves & (1 << h):
            size = (1 << (h + 1)) - 1
            out.append((offset + size - 1, h, first_leaf))
            offset += size
            first_leaf += 1 << h
    return out


def _grafted_root(p, element):
    loc = p["loc"]
    leaves = p["leaves"]
    chunk = p["chunk"]
    inactive = p["inactive"]
    graftable = leaves // CHUNK_BITS
    peaks = _peaks(leaves)
    before = [pk for pk in peaks if pk[2] + (1 << pk[1]) <= loc]
    containing = [pk for pk in peaks if pk[2] <= loc < pk[2] + (1 << pk[1])]
    after = [pk for pk in peaks if pk[2] > loc]
    if len(containing) != 1:
        _bad("the location is not under any peak")
    pos, height, first = containing[0]
    if inactive > len(peaks):
        _bad("more inactive peaks than peaks")

    fold = min(inactive, len(before))
    listed_after = min(max(inactive - (len(before) + 1), 0), len(after))
    suffix = len(after) - listed_after > 0
    expected = (
        (1 if fold > 0 else 0)
        + (len(before) - fold)
        + listed_after
        + (1 if suffix else 0)
        + height
    )
    digests = p["digests"]
    if len(digests) != expected:
        _bad(f"{len(digests)} digests, the proof's shape needs {expected}")
    it = iter(digests)

    peak_digests = []
    if fold > 0:
        peak_digests.append(next(it))
    peak_digests.extend(next(it) for _ in range(len(before) - fold))
    head = list(peak_digests)
    listed = [next(it) for _ in range(listed_after)]
    suffix_acc = next(it) if suffix else None
    siblings = list(it)
    used = 0
    chunk_nonzero = any(chunk)

    def walk(position, h, start):
        nonlocal used
        if not (start <= loc < start + (1 << h)):
            d = siblings[used]
            used += 1
            return d
        if h == 0:
            return sha256(u64be(position), element)
        left = walk(position - (1 << h), h - 1, start)
        right = walk(position - 1, h - 1, start + (1 << (h - 1)))
        node = sha256(u64be(position), left, right)
        if h == GRAFTING_HEIGHT and start // CHUNK_BITS < graftable and chunk_nonzero:
            node = sha256(chunk, node)
        return node

    peak_digests = head + [walk(pos, height, first)] + listed
    if suffix_acc is not None:
        peak_digests.append(suffix_acc)
    if used != len(siblings):
        _bad("unused path digests")

    to_fold = inactive - fold + 1 if fold > 0 else inactive
    acc = peak_digests[0]
    i = 1
    for _ in range(to_fold - 1):
        if i >= len(peak_digests):
            _bad("inactive peaks exceed the peaks")
        acc = sha256(acc, peak_digests[i])
        i += 1
    rest = peak_digests[i:]
    if rest:
        bag = rest[-1]
        for q in reversed(rest[:-1]):
            bag = sha256(q, bag)
        acc = sha256(acc, bag)
    header = b"\x00\x01" + u64be(leaves)
    if inactive == 0:
        return sha256(header, acc)
    return sha256(header, u64be(inactive), acc)


def _verify_operation(p, element, root):
    loc = p["loc"]
    leaves = p["leaves"]
    chunk = p["chunk"]
    bit = loc % CHUNK_BITS
    if not (chunk[bit // 8] >> (bit % 8)) & 1:
        _bad("the proven operation is not active")
    if loc + 1 > leaves:
        _bad("location beyond the leaf count")
    complete = leaves // CHUNK_BITS
    next_bit = leaves % CHUNK_BITS
    partial = p["partial"]
    if next_bit != 0:
        if partial is None:
            _bad("partial chunk digest missing")
        if loc // CHUNK_BITS == complete and partial != sha256(chunk):
            _bad("partial chunk digest does not match the chunk")
    elif partial is not None:
        _bad("partial chunk digest present without a partial chunk")
    grafted = _grafted_root(p, element)
    if next_bit == 0:
        canonical = sha256(p["ops_root"], grafted)
    else:
        canonical = sha256(p["ops_root"], grafted, u64be(next_bit), partial)
    if canonical != root:
        _bad("the proof does not lead to the state root")


def _in_span(k, start, end):
    """Whether k lies in the cyclic span [start, end) of 32-byte big-endian numbers."""
    if start < end:
        return start <= k < end
    return k >= start or k < end


def verify_state_proof(key, value, root, proof):
    """Check that `key` holds `value` (bytes) or is absent (`value` None) under `root`."""
    k = sha256_domain(TAG_STATE_KEY, key)
    if value is not None:
        r = Reader(proof, "state-proof", "inclusion proof")
        op = _read_operation_proof(r)
        next_key = r.digest()
        r.end()
        vh = sha256_domain(TAG_STATE_VALUE, value)
        element = bytes([OP_UPDATE]) + k + varint(len(vh)) + vh + next_key
        _verify_operation(op, element, root)
        return
    r = Reader(proof, "state-proof", "exclusion proof")
    tag = r.u8()
    if tag == 0:
        op = _read_operation_proof(r)
        nk = r.digest()
        nv = r.byte_vec(MAX_VALUE_BYTES)
        nn = r.digest()
        r.end()
        if nk == k:
            _bad("exclusion proof: the neighbour is the key itself")
        if not _in_span(k, nk, nn):
            _bad("exclusion proof: the key is outside the neighbour's span")
        element = bytes([OP_UPDATE]) + nk + varint(len(nv)) + nv + nn
    elif tag == 1:
        op = _read_operation_proof(r)
        _, metadata = _read_option_bytes(r)
        r.end()
        element = bytes([OP_COMMIT]) + metadata + varint(op["loc"])
    else:
        r.bad(f"unknown exclusion proof variant {tag}")
        return
    _verify_operation(op, element, root)
