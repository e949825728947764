"""Byte-level building blocks (docs/proofs.md, "Conventions"): failures, hashing, hex, JSON
field access, and a reader for the Commonware codec (big-endian integers, canonical LEB128
varints, exact consumption)."""

import hashlib


class Failure(Exception):
    """A verification failure: `step` is its reason class, `reason` says what failed."""

    def __init__(self, step, reason):
        super().__init__(f"{step}: {reason}")
        self.step = step
        self.reason = reason


def fail(step, reason):
    raise Failure(step, reason)


# ---- hashing -------------------------------------------------------------------------------

TAG_BLOCK = b"urbis/block/v1"
TAG_STATE_KEY = b"urbis/state-key/v1"
TAG_STATE_VALUE = b"urbis/state-value/v1"
TAG_VALIDATOR_SET = b"urbis/validator-set/v1"
TAG_RECEIPT = b"urbis/receipt/v1"
TAG_BLOCK_EVENTS = b"urbis/block-events/v1"
TAG_MERKLE_LEAF = b"urbis/merkle-leaf/v1"
TAG_MERKLE_NODE = b"urbis/merkle-node/v1"
TAG_RECEIPTS_ACC = b"urbis/receipts-acc/v1"


def sha256(*parts):
    h = hashlib.sha256()
    for p in parts:
        h.update(p)
    return h.digest()


def sha256_domain(tag, *parts):
    """H(u8(len(tag)) || tag || parts...)."""
    if len(tag) >= 128:
        raise ValueError("domain tag too long")
    return sha256(bytes([len(tag)]), tag, *parts)


# ---- fixed-width encodings -----------------------------------------------------------------


def u32le(v):
    return v.to_bytes(4, "little")


def u64le(v):
    return v.to_bytes(8, "little")


def u64be(v):
    return v.to_bytes(8, "big")


def varint(v):
    """Unsigned LEB128."""
    out = bytearray()
    while v >= 0x80:
        out.append((v & 0x7F) | 0x80)
        v >>= 7
    out.append(v)
    return bytes(out)


def borsh_string(text):
    b = text.encode("utf-8")
    return u32le(len(b)) + b


# ---- hex and JSON fields -------------------------------------------------------------------

_HEX = frozenset("0123456789abcdefABCDEF")


def unhex(text, what):
    """Lower-case hex without prefix; a `0x` prefix and upper-case digits are accepted."""
    if not isinstance(text, str):
        fail("malformed", f"{what} is not a hex string")
    if text[:2] in ("0x", "0X"):
        text = text[2:]
    if len(text) % 2 != 0 or not all(c in _HEX for c in text):
        fail("malformed", f"{what} is not hex")
    return bytes.fromhex(text)


def hexstr(b):
    return b.hex()


def field(obj, name, what):
    if not isinstance(obj, dict) or name not in obj:
        fail("malformed", f'{what} has no field "{name}"')
    return obj[name]


def string(obj, name, what):
    v = field(obj, name, what)
    if not isinstance(v, str):
        fail("malformed", f"{what}.{name} is not a string")
    return v


def boolean(obj, name, what):
    v = field(obj, name, what)
    if not isinstance(v, bool):
        fail("malformed", f"{what}.{name} is not a boolean")
    return v


def array(obj, name, what):
    v = field(obj, name, what)
    if not isinstance(v, list):
        fail("malformed", f"{what}.{name} is not an array")
    return v


def is_uint(v, bits=64):
    return isinstance(v, int) and not isinstance(v, bool) and 0 <= v < (1 << bits)


def uint(obj, name, what, bits=64):
    v = field(obj, name, what)
    if not is_uint(v, bits):
        fail("malformed", f"{what}.{name} is not a u{bits}")
    return v


def hash32(obj, name, what):
    b = unhex(string(obj, name, what), f"{what}.{name}")
    if len(b) != 32:
        fail("malformed", f"{what}.{name} is not 32 bytes")
    return b


def public_key(text, what):
    """`ed25519:<64 hex>` (the prefix is optional) -> 32 raw bytes."""
    if not isinstance(text, str):
        fail("malformed", f"{what} is not a key")
    if text.startswith("ed25519:"):
        text = text[len("ed25519:") :]
    b = unhex(text, what)
    if len(b) != 32:
        fail("malformed", f"{what} is not a 32-byte Ed25519 key")
    return b


# ---- Commonware codec ----------------------------------------------------------------------


class Reader:
    """Reads Commonware-encoded bytes; every error is a failure of class `step`."""

    def __init__(self, data, step, what):
        self.data = data
        self.at = 0
        self.step = step
        self.what = what

    def bad(self, msg):
        fail(self.step, f"{self.what}: {msg}")

    def take(self, n):
        if n < 0 or self.at + n > len(self.data):
            self.bad("truncated")
        out = self.data[self.at : self.at + n]
        self.at += n
        return out

    def u8(self):
        return self.take(1)[0]

    def boolean(self):
        b = self.u8()
        if b > 1:
            self.bad(f"invalid bool byte {b}")
        return b == 1

    def u64be(self):
        return int.from_bytes(self.take(8), "big")

    def varint(self, bits=64):
        """Canonical LEB128 of an unsigned `bits`-bit integer."""
        max_bytes = (bits + 6) // 7
        last_limit = (1 << (bits - 7 * (max_bytes - 1))) - 1
        value = 0
        for i in range(max_bytes):
            byte = self.u8()
            if i > 0 and byte == 0:
                self.bad("non-canonical varint")
            if i == max_bytes - 1 and byte > last_limit:
                self.bad(f"varint overflows u{bits}")
            value |= (byte & 0x7F) << (7 * i)
            if byte & 0x80 == 0:
                return value
        self.bad(f"varint overflows u{bits}")
        return None

    def length(self, limit):
        n = self.varint(32)
        if n > limit:
            self.bad(f"length {n} exceeds {limit}")
        return n

    def digest(self):
        return self.take(32)

    def byte_vec(self, limit):
        return self.take(self.length(limit))

    def end(self):
        if self.at != len(self.data):
            self.bad(f"{len(self.data) - self.at} trailing bytes")
