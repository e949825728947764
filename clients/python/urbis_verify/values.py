"""Module values (docs/proofs.md, "Module values"): borsh decoders of the built-in records
whose layout the specification gives, and the comparison of a decoded record with the JSON
`value` of a query answer."""

from .codec import fail

# accounts' `Role`, in declaration order: the borsh variant index is the position here.
ROLES = (
    "city_admin department validator_operator credential_issuer certified_device merchant "
    "citizen land_registrar bank hospital grid_operator mobility_authority transport_operator"
).split()


class Borsh:
    """Reads borsh (little-endian) values; errors are failures of class `answer`."""

    def __init__(self, data, what):
        self.data = data
        self.at = 0
        self.what = what

    def bad(self, msg):
        fail("answer", f"the proven {self.what} does not decode: {msg}")

    def take(self, n):
        if self.at + n > len(self.data):
            self.bad("truncated")
        out = self.data[self.at : self.at + n]
        self.at += n
        return out

    def u8(self):
        return self.take(1)[0]

    def u32(self):
        return int.from_bytes(self.take(4), "little")

    def u64(self):
        return int.from_bytes(self.take(8), "little")

    def string(self):
        try:
            return self.take(self.u32()).decode("utf-8")
        except UnicodeDecodeError:
            self.bad("a string is not UTF-8")
            return None

    def end(self):
        if self.at != len(self.data):
            self.bad(f"{len(self.data) - self.at} trailing bytes")


def decode_account(raw):
    """`Account { roles: Vec<Role>, label: String }`."""
    r = Borsh(raw, "account record")
    roles = []
    for _ in range(r.u32()):
        i = r.u8()
        if i >= len(ROLES):
            r.bad(f"unknown role index {i}")
        roles.append(ROLES[i])
    label = r.string()
    r.end()
    return {"roles": roles, "label": label}


def decode_u64(raw, what):
    r = Borsh(raw, what)
    v = r.u64()
    r.end()
    return v


def decode_holdings(raw):
    """`Holdings(BTreeMap<u64 program, u64 amount>)`, keys strictly ascending."""
    r = Borsh(raw, "rewards holdings")
    out = {}
    last = None
    for _ in range(r.u32()):
        program = r.u64()
        amount = r.u64()
        if last is not None and program <= last:
            r.bad("programs are not in ascending order")
        last = program
        out[program] = amount
    r.end()
    return out


# ---- query paths whose value the spec defines ----------------------------------------------


def _expected_value(module, path, raw):
    """The JSON the node renders for (module, path) from the proven raw bytes (None = absent),
    as {field: value}, or None for an absent record rendered as null. Returns (key, rendering)
    where `key` is the state key the query reads; (None, None) if the layout is not specified."""
    if module == "accounts" and len(path) == 2 and path[0] == "account":
        addr = path[1]
        key = f"accounts/account/{addr}"
        if raw is None:
            return key, None
        a = decode_account(raw)
        return key, {"address": addr, "roles": a["roles"], "label": a["label"]}
    if module == "assets" and len(path) == 3 and path[0] == "balance":
        symbol, addr = path[1], path[2]
        key = f"assets/balance/{symbol}/{addr}"
        amount = 0 if raw is None else decode_u64(raw, "asset balance")
        return key, {"asset": symbol, "address": addr, "amount": amount}
    if module == "rewards" and len(path) == 2 and path[0] == "balance":
        addr = path[1]
        key = f"rewards/holder/{addr}"
        holdings = {} if raw is None else decode_holdings(raw)
        return key, {
            "address": addr,
            "total": sum(holdings.values()),
            "by_program": {str(p): v for p, v in holdings.items()},
        }
    return None, None


def _same(a, b):
    """JSON equality that does not confuse booleans with numbers."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    return type(a) is type(b) and a == b


def check_value(answer, proven_key, raw):
    """Compare the answer's `value` with the decoding of the proven raw bytes.

    Raises a Failure (class `answer`) if a proven field disagrees; returns (checked, warnings):
    whether the value was re-derived from the proven bytes, and what could not be checked
    (fields the proof does not cover, or a value layout the specification does not give)."""
    module = answer.get("module")
    path = answer.get("path")
    value = answer.get("value")
    if not isinstance(module, str) or not isinstance(path, list):
        return False, ["the answer has no module/path: its value was not checked"]
    if not all(isinstance(p, str) for p in path):
        return False, ["the answer's path is not a list of strings: its value was not checked"]
    query = "/".join([module, *path])
    key, expected = _expected_value(module, path, raw)
    if key is None:
        return False, [
            f"value of {query} not checked: its encoding is not in the specification "
            "(only the raw bytes are proven)"
        ]
    if key != proven_key:
        fail("answer", f"query {query} reads key {key!r}, but the proof is for {proven_key!r}")
    if expected is None:
        if value is not None:
            fail("answer", f"{query}: the key is proven absent, but the answer has a value")
        return True, []
    if not isinstance(value, dict):
        fail("answer", f"{query}: the answer's value is not the proven record")
    warnings = []
    for name, want in expected.items():
        if name not in value:
            fail("answer", f"{query}: the answer's value lacks the proven field {name!r}")
        if not _same(value[name], want):
            fail(
                "answer",
                f"{query}: the answer's {name} is {value[name]!r}, the proven value is {want!r}",
            )
    for name in value:
        if name not in expected:
            warnings.append(f"{query}: field {name!r} of the answer is not proven")
    return True, warnings
