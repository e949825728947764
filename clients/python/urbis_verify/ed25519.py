"""Ed25519 (docs/proofs.md, "Trust and fetching" and "Ed25519 acceptance rule").

Signatures are checked with the `cryptography` package (OpenSSL), a strict RFC 8032 verifier:
it accepts a subset of what the node's ZIP-215 rule accepts, and only rejects signatures no
honest signer produces. The trust anchor's key check (a curve point not of small order) is
done here in plain integer arithmetic, decoding as the node does (y taken mod p).
"""

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

P = (1 << 255) - 19
D = (-121665 * pow(121666, P - 2, P)) % P
SQRT_M1 = pow(2, (P - 1) // 4, P)


def decode_point(b):
    """The affine point (x, y) of a 32-byte encoding, or None if it is not on the curve."""
    if len(b) != 32:
        return None
    n = int.from_bytes(b, "little")
    sign = n >> 255
    y = (n & ((1 << 255) - 1)) % P
    u = (y * y - 1) % P
    v = (D * y * y + 1) % P
    x2 = u * pow(v, P - 2, P) % P
    x = pow(x2, (P + 3) // 8, P)
    if (x * x - x2) % P != 0:
        x = x * SQRT_M1 % P
    if (x * x - x2) % P != 0:
        return None
    if x & 1 != sign:
        x = (-x) % P
    return x, y


def _double(pt):
    """Point doubling in projective twisted Edwards coordinates (a = -1)."""
    x, y, z = pt
    b = (x + y) * (x + y) % P
    c = x * x % P
    d = y * y % P
    e = (-c) % P
    f = (e + d) % P
    h = z * z % P
    j = (f - 2 * h) % P
    return (b - c - d) * j % P, f * (e - d) % P, f * j % P


def is_small_order(point):
    """Whether [8]P is the identity."""
    pt = (point[0], point[1], 1)
    for _ in range(3):
        pt = _double(pt)
    x, y, z = pt
    return x == 0 and y == z


def check_validator_key(b):
    """None if `b` is a usable validator key, else why not."""
    point = decode_point(b)
    if point is None:
        return "is not a curve point"
    if is_small_order(point):
        return "is a small-order key"
    return None


def verify(public_key, signature, message):
    """Whether `signature` (64 bytes) verifies `message` under `public_key` (32 bytes)."""
    try:
        Ed25519PublicKey.from_public_bytes(public_key).verify(signature, message)
        return True
    except (InvalidSignature, ValueError):
        return False
