// Offline verification of Urbis proof bundles: a state proof or a receipt, the headers that
// certify it, and the validators' finalization certificate, checked against a chain id and a
// validator set the caller already trusts (from the genesis file).
//
// Plain ES module for browsers and Node (>= 20): WebCrypto SHA-256 and Ed25519, no dependencies.
// Every step follows docs/proofs.md; the section names in the comments refer to it.
//
// Results never throw: `{ok: true, ...facts}` or `{ok: false, step, reason}`, where `step` is one
// of the stable classes
//   malformed     the input is not a bundle (JSON shape, hex, numbers)
//   trust         the trusted chain id / validator list is unusable
//   version       unsupported bundle version
//   chain-id      the bundle is for another chain
//   state-proof   the authenticated-store proof does not decode or does not lead to its root
//   anchor        the first header does not certify the proven root / receipts accumulator
//   header-chain  no headers, a header of another chain or validator set, or a broken link
//   certificate   the finalization certificate does not decode, is for another block, or its
//                 signatures / signer bitmap / quorum do not hold against the trusted set
//   answer        (query and tx answers) the answer does not match what the bundle proves

import { hex, unhex, utf8, concat, equal, sha256, sha256Domain, DOMAIN } from "./bytes.js";

const subtle = globalThis.crypto.subtle;

/** The only bundle version this verifier understands. */
export const BUNDLE_VERSION = 1;
/** Bundles of a chain with epochs: they carry the hand-overs from the genesis set. */
export const BUNDLE_VERSION_EPOCHS = 2;
/** The state key of the validator schedule. */
const SCHEDULE_KEY = "system/validators";
/** Bytes per activity-bitmap chunk of the authenticated store (256 bits). */
export const CHUNK_BYTES = 32;
/** log2(bits per chunk): the height at which chunks are grafted onto the operations MMR. */
export const GRAFTING_HEIGHT = 8;
/** Most digests a single-element MMR proof may carry. */
export const MAX_PROOF_DIGESTS = 122;
/** Largest state value (and value in a stored operation) that decodes. */
export const MAX_VALUE_BYTES = 256 * 1024;

/**
 * `ErrorCode` in declaration order: the borsh encoding of a receipt's error code is its index
 * here (crates/core/src/error.rs). Appending a code keeps old receipts valid; reordering breaks
 * them.
 */
export const ERROR_CODES = Object.freeze([
  "malformed", "too_large", "bad_signature", "wrong_chain_id", "nonce_too_low", "nonce_gap",
  "duplicate_tx", "mempool_full", "unknown_module", "unknown_call", "not_found",
  "invalid_argument", "unauthorized", "insufficient_balance", "over_budget", "over_cap",
  "non_transferable", "already_exists", "invalid_state", "overflow", "not_ready", "timeout",
  "invalid_proof", "internal", "value_too_large", "key_too_large", "overloaded",
  "quota_exceeded", "foreign_write", "too_heavy", "out_of_weight", "schema_mismatch", "expired",
  "not_yet_valid", "revoked", "exhausted", "out_of_scope", "erased", "no_access_receipt",
  "gate_closed", "mass_balance", "method_not_allowed",
]);

// ---------------------------------------------------------------------------------------------
// Failures

class Failure extends Error {
  constructor(step, reason) {
    super(reason);
    this.step = step;
    this.reason = reason;
  }
}

function fail(step, reason) {
  throw new Failure(step, reason);
}

/** Run `body`; turn a Failure (or any unexpected exception) into `{ok: false, ...}`. */
async function guarded(body) {
  try {
    return await body();
  } catch (e) {
    if (e instanceof Failure) return { ok: false, step: e.step, reason: e.reason };
    return { ok: false, step: "malformed", reason: `unexpected input: ${e && e.message}` };
  }
}

// ---------------------------------------------------------------------------------------------
// JSON field access (everything the node serves is checked before use)

function isObject(v) {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

function field(obj, name, what) {
  if (!isObject(obj) || !(name in obj)) fail("malformed", `${what} has no field "${name}"`);
  return obj[name];
}

function str(obj, name, what) {
  const v = field(obj, name, what);
  if (typeof v !== "string") fail("malformed", `${what}.${name} is not a string`);
  return v;
}

function bool(obj, name, what) {
  const v = field(obj, name, what);
  if (typeof v !== "boolean") fail("malformed", `${what}.${name} is not a boolean`);
  return v;
}

function arr(obj, name, what) {
  const v = field(obj, name, what);
  if (!Array.isArray(v)) fail("malformed", `${what}.${name} is not an array`);
  return v;
}

/** A JSON number that is an exact unsigned integer of at most `bits` bits, as a BigInt. */
function uint(obj, name, what, bits = 64) {
  const v = field(obj, name, what);
  if (typeof v !== "number" || !Number.isSafeInteger(v) || v < 0 || BigInt(v) >> BigInt(bits)) {
    fail("malformed", `${what}.${name} is not a u${bits}`);
  }
  return BigInt(v);
}

function hexBytes(text, what) {
  if (typeof text !== "string") fail("malformed", `${what} is not a hex string`);
  try {
    return unhex(text);
  } catch {
    return fail("malformed", `${what} is not hex`);
  }
}

function hash32(obj, name, what) {
  const b = hexBytes(str(obj, name, what), `${what}.${name}`);
  if (b.length !== 32) fail("malformed", `${what}.${name} is not 32 bytes`);
  return b;
}

/** `ed25519:<64 hex>` (the prefix is optional, as the node accepts it) → 32 raw bytes. */
function parsePublicKey(text, what) {
  if (typeof text !== "string") fail("malformed", `${what} is not a key`);
  const h = text.startsWith("ed25519:") ? text.slice(8) : text;
  const b = hexBytes(h, what);
  if (b.length !== 32) fail("malformed", `${what} is not a 32-byte Ed25519 key`);
  return b;
}

// ---------------------------------------------------------------------------------------------
// Encodings (§ Encodings): little-endian borsh for Urbis structures, big-endian fixed integers
// and LEB128 varints for Commonware structures.

function u8(n) {
  return Uint8Array.of(Number(n));
}

function u32le(n) {
  const out = new Uint8Array(4);
  new DataView(out.buffer).setUint32(0, Number(n), true);
  return out;
}

function u64le(n) {
  const out = new Uint8Array(8);
  new DataView(out.buffer).setBigUint64(0, BigInt(n), true);
  return out;
}

function u64be(n) {
  const out = new Uint8Array(8);
  new DataView(out.buffer).setBigUint64(0, BigInt(n), false);
  return out;
}

/** Canonical LEB128 varint of an unsigned integer. */
function varint(n) {
  let v = BigInt(n);
  const out = [];
  while (v >= 0x80n) {
    out.push(Number(v & 0x7fn) | 0x80);
    v >>= 7n;
  }
  out.push(Number(v));
  return Uint8Array.from(out);
}

/** borsh `String`: u32 LE byte length, UTF-8 bytes. */
function borshString(s) {
  const b = utf8(s);
  return concat(u32le(b.length), b);
}

/** A reader over Commonware-encoded bytes; any violation is a `step` failure. */
class Reader {
  constructor(bytes, step, what) {
    this.b = bytes;
    this.at = 0;
    this.step = step;
    this.what = what;
  }

  bad(msg) {
    return fail(this.step, `${this.what}: ${msg}`);
  }

  take(n) {
    if (this.at + n > this.b.length) this.bad("ends early");
    const out = this.b.subarray(this.at, this.at + n);
    this.at += n;
    return out;
  }

  byte() {
    return this.take(1)[0];
  }

  bool() {
    const v = this.byte();
    if (v > 1) this.bad("invalid boolean");
    return v === 1;
  }

  digest() {
    return this.take(32);
  }

  u64be() {
    return new DataView(this.take(8).slice().buffer).getBigUint64(0, false);
  }

  /** Canonical varint of at most `bits` bits: no trailing zero byte, no overflow. */
  varint(bits = 64) {
    let result = 0n;
    let shift = 0;
    for (;;) {
      const byte = this.byte();
      if (byte === 0 && shift > 0) this.bad("non-canonical varint");
      const remaining = bits - shift;
      if (remaining <= 7 && 32 - Math.clz32(byte) > remaining) this.bad("varint overflow");
      result |= BigInt(byte & 0x7f) << BigInt(shift);
      if ((byte & 0x80) === 0) return result;
      shift += 7;
    }
  }

  /** A length (`usize`, encoded as a u32 varint) of at most `max`. */
  length(max) {
    const n = this.varint(32);
    if (n > BigInt(max)) this.bad(`length ${n} exceeds ${max}`);
    return Number(n);
  }

  option(read) {
    return this.bool() ? read() : null;
  }

  end() {
    if (this.at !== this.b.length) this.bad(`${this.b.length - this.at} trailing bytes`);
  }
}

// ---------------------------------------------------------------------------------------------
// Hashing helpers

const concatHash = (...parts) => sha256(concat(...parts));

// ---------------------------------------------------------------------------------------------
// The authenticated store (§ State proofs): a Commonware QMDB "current" ordered database over
// an MMR of operations, with an activity bitmap grafted onto it.

const MAX_LEAVES = 1n << 62n;
const CHUNK_BITS = BigInt(CHUNK_BYTES * 8);
const OP_UPDATE = 0xd2;
const OP_COMMIT = 0xd3;

function location(r) {
  const loc = r.varint(64);
  if (loc > MAX_LEAVES) r.bad("location exceeds 2^62");
  return loc;
}

/** An operation proof: location, its bitmap chunk, and the range proof (§ Operation proof). */
function readOperationProof(r) {
  const loc = location(r);
  const chunk = r.take(CHUNK_BYTES);
  const leaves = location(r);
  const inactivePeaks = r.varint(64);
  const count = r.length(MAX_PROOF_DIGESTS);
  const digests = [];
  for (let i = 0; i < count; i++) digests.push(r.digest());
  // An MMR has no "pending chunk": the field is absent from the encoding.
  const partialDigest = r.option(() => r.digest());
  const opsRoot = r.digest();
  return { loc, chunk, leaves, inactivePeaks, digests, partialDigest, opsRoot };
}

function readValue(r) {
  const n = r.length(MAX_VALUE_BYTES);
  return r.take(n);
}

/** The peaks of an MMR with `leaves` leaves, tallest first: position, height, first leaf. */
function mmrPeaks(leaves) {
  const peaks = [];
  let offset = 0n;
  let leafStart = 0n;
  for (let h = 62n; h >= 0n; h--) {
    if (leaves & (1n << h)) {
      peaks.push({ pos: offset + (1n << (h + 1n)) - 2n, height: h, leafStart });
      offset += (1n << (h + 1n)) - 1n;
      leafStart += 1n << h;
    }
  }
  return peaks;
}

/**
 * The grafted root of the operations MMR (§ Root of the grafted MMR) from a single-element
 * range proof, or a failure. `element` is the encoded operation at `p.loc`.
 */
async function graftedRoot(p, element, graftableChunks) {
  const loc = p.loc;
  const inactive = p.inactivePeaks;
  const peaks = mmrPeaks(p.leaves);
  const before = [];
  const after = [];
  let range = null;
  for (const peak of peaks) {
    const end = peak.leafStart + (1n << peak.height);
    if (end <= loc) before.push(peak);
    else if (peak.leafStart > loc) after.push(peak);
    else range = peak;
  }
  if (inactive > BigInt(peaks.length)) fail("state-proof", "more inactive peaks than peaks");

  // Layout of the digest list under backward bagging.
  const foldCount = Number(inactive < BigInt(before.length) ? inactive : BigInt(before.length));
  const prefixActive = before.slice(foldCount);
  const firstAfter = BigInt(before.length + 1);
  const individual = inactive > firstAfter ? Number(inactive - firstAfter) : 0;
  const afterListed = after.slice(0, Math.min(individual, after.length));
  const suffix = after.slice(afterListed.length);
  const required =
    (foldCount > 0 ? 1 : 0) + prefixActive.length + afterListed.length +
    (suffix.length > 0 ? 1 : 0) + Number(range.height);
  if (p.digests.length !== required) {
    fail("state-proof", `proof has ${p.digests.length} digests, its shape needs ${required}`);
  }
  let at = 0;
  const next = () => p.digests[at++];
  const peakDigests = [];
  if (foldCount > 0) peakDigests.push(next());
  for (let i = 0; i < prefixActive.length; i++) peakDigests.push(next());
  const listedAfter = afterListed.map(() => next());
  const suffixAcc = suffix.length > 0 ? next() : null;

  // Rebuild the peak holding the element: a left-first walk that takes a sibling digest for
  // every subtree not containing it (the order the prover listed them in).
  const chunkIndex = loc / CHUNK_BITS;
  const nonZeroChunk = p.chunk.some((b) => b !== 0);
  const walk = async (pos, height, leafStart) => {
    const end = leafStart + (1n << height);
    if (end <= loc || leafStart > loc) return next();
    if (height === 0n) return concatHash(u64be(pos), element);
    const half = 1n << (height - 1n);
    const left = await walk(pos - (1n << height), height - 1n, leafStart);
    const right = await walk(pos - 1n, height - 1n, leafStart + half);
    let node = await concatHash(u64be(pos), left, right);
    if (height === BigInt(GRAFTING_HEIGHT)) {
      // A grafted leaf: the chunk of a complete ("graftable") chunk is hashed onto the ops
      // subtree root, unless it is all zeros.
      const idx = leafStart >> BigInt(GRAFTING_HEIGHT);
      if (idx < graftableChunks && idx === chunkIndex && nonZeroChunk) {
        node = await concatHash(p.chunk, node);
      }
    }
    return node;
  };
  peakDigests.push(await walk(range.pos, range.height, range.leafStart));
  peakDigests.push(...listedAfter);
  if (suffixAcc) peakDigests.push(suffixAcc);

  // Bag the peaks: the first `inactive` peaks (already folded into one accumulator when the
  // proof says so) fold forward, the rest fold backward, then the root commits the family
  // (MMR = 0), the bagging (backward = 1), the leaf count and the inactive-peak count.
  const toFold = foldCount > 0 ? inactive - BigInt(foldCount) + 1n : inactive;
  let acc = peakDigests[0];
  let i = 1;
  for (let k = 1n; k < toFold; k++) {
    if (i >= peakDigests.length) fail("state-proof", "inactive peaks exceed the peaks");
    acc = await concatHash(acc, peakDigests[i++]);
  }
  const rest = peakDigests.slice(i);
  if (rest.length > 0) {
    let bag = rest[rest.length - 1];
    for (let j = rest.length - 2; j >= 0; j--) bag = await concatHash(rest[j], bag);
    acc = await concatHash(acc, bag);
  }
  const header = concat(Uint8Array.of(0, 1), u64be(p.leaves));
  return inactive === 0n
    ? concatHash(header, acc)
    : concatHash(header, u64be(inactive), acc);
}

/** Whether operation proof `p` shows `element` active under the canonical `root`. */
async function verifyOperation(p, element, root) {
  const bit = p.loc % CHUNK_BITS;
  if ((p.chunk[Number(bit / 8n)] & (1 << Number(bit % 8n))) === 0) {
    fail("state-proof", "the proven operation is not active (its bitmap bit is clear)");
  }
  if (p.loc + 1n > p.leaves) fail("state-proof", "operation location beyond the proof's leaves");
  const completeChunks = p.leaves / CHUNK_BITS;
  const nextBit = p.leaves % CHUNK_BITS;
  // MMR: chunk 0's height-8 subtree exists once 256 leaves do, then one more per 256.
  const born = p.leaves < CHUNK_BITS ? 0n : (p.leaves - CHUNK_BITS) / CHUNK_BITS + 1n;
  const graftable = born < completeChunks ? born : completeChunks;
  if (completeChunks !== graftable) fail("state-proof", "pending chunk in an MMR proof");
  if (nextBit !== 0n) {
    if (!p.partialDigest) fail("state-proof", "missing the partial chunk digest");
    if (p.loc / CHUNK_BITS === completeChunks) {
      if (!equal(p.partialDigest, await sha256(p.chunk))) {
        fail("state-proof", "the chunk does not match the partial chunk digest");
      }
    }
  } else if (p.partialDigest) {
    fail("state-proof", "unexpected partial chunk digest");
  }
  const grafted = await graftedRoot(p, element, graftable);
  const canonical =
    nextBit === 0n
      ? await concatHash(p.opsRoot, grafted)
      : await concatHash(p.opsRoot, grafted, u64be(nextBit), p.partialDigest);
  if (!equal(canonical, root)) {
    fail("state-proof", "the proof does not lead to the state root");
  }
}

/** Compare two 32-byte keys as unsigned big-endian numbers. */
function compareKeys(a, b) {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return a[i] - b[i];
  return 0;
}

/** `key` lies in the cyclic span [start, end) (wrapping when start >= end). */
function containsCyclic(start, end, key) {
  const afterStart = compareKeys(key, start) >= 0;
  const beforeEnd = compareKeys(key, end) < 0;
  return compareKeys(start, end) >= 0 ? afterStart || beforeEnd : afterStart && beforeEnd;
}

/** Check a `StateProof` (JSON) against its own root; returns its key, value and root bytes. */
async function verifyStateProof(state, what = "bundle.state") {
  const key = hexBytes(str(state, "key", what), `${what}.key`);
  const rawValue = field(state, "value", what);
  const value = rawValue === null ? null : hexBytes(rawValue, `${what}.value`);
  const root = hash32(state, "root", what);
  const proof = hexBytes(str(state, "proof", what), `${what}.proof`);
  const hashedKey = await sha256Domain(DOMAIN.STATE_KEY, key);

  if (value !== null) {
    // Inclusion: the active Update(key, value_hash, next_key) operation.
    const r = new Reader(proof, "state-proof", "inclusion proof");
    const op = readOperationProof(r);
    const nextKey = r.digest();
    r.end();
    const valueHash = await sha256Domain(DOMAIN.STATE_VALUE, value);
    const element = concat(u8(OP_UPDATE), hashedKey, varint(32), valueHash, nextKey);
    await verifyOperation(op, element, root);
  } else {
    // Exclusion: an active neighbour whose span skips the key, or an empty database's commit.
    const r = new Reader(proof, "state-proof", "exclusion proof");
    const tag = r.byte();
    let op;
    let element;
    if (tag === 0) {
      op = readOperationProof(r);
      const k = r.digest();
      const v = readValue(r);
      const next = r.digest();
      r.end();
      if (equal(k, hashedKey) || !containsCyclic(k, next, hashedKey)) {
        fail("state-proof", "the neighbouring key's span does not exclude the key");
      }
      element = concat(u8(OP_UPDATE), k, varint(v.length), v, next);
    } else if (tag === 1) {
      op = readOperationProof(r);
      const metadata = r.option(() => readValue(r));
      r.end();
      const meta = metadata === null ? u8(0) : concat(u8(1), varint(metadata.length), metadata);
      element = concat(u8(OP_COMMIT), meta, varint(op.loc));
    } else {
      fail("state-proof", `exclusion proof: unknown variant ${tag}`);
    }
    await verifyOperation(op, element, root);
  }
  return { key, value, root };
}

// ---------------------------------------------------------------------------------------------
// Headers (§ Headers) and the validator set (§ Validator set)

function parseHeader(h, i, label) {
  const what = label || `bundle.headers[${i}]`;
  if (!isObject(h)) fail("malformed", `${what} is not an object`);
  return {
    chain_id: str(h, "chain_id", what),
    height: uint(h, "height", what),
    parent: hash32(h, "parent", what),
    view: uint(h, "view", what),
    timestamp_ms: uint(h, "timestamp_ms", what),
    proposer: parsePublicKey(str(h, "proposer", what), `${what}.proposer`),
    txs_root: hash32(h, "txs_root", what),
    tx_count: uint(h, "tx_count", what, 32),
    state_height: uint(h, "state_height", what),
    state_root: hash32(h, "state_root", what),
    receipts_acc: hash32(h, "receipts_acc", what),
    validator_set: hash32(h, "validator_set", what),
  };
}

/** `SHA-256(len || "urbis/block/v1" || borsh(header))`: the block digest validators sign. */
function headerDigest(h) {
  return sha256Domain(
    DOMAIN.BLOCK,
    borshString(h.chain_id), u64le(h.height), h.parent, u64le(h.view), u64le(h.timestamp_ms),
    u8(0), h.proposer, h.txs_root, u32le(h.tx_count), u64le(h.state_height), h.state_root,
    h.receipts_acc, h.validator_set,
  );
}

/** `SHA-256(len || "urbis/validator-set/v1" || borsh(sorted keys))`. */
function validatorSetHash(sortedKeys) {
  const parts = [u32le(sortedKeys.length)];
  for (const k of sortedKeys) parts.push(u8(0), k);
  return sha256Domain(DOMAIN.VALIDATOR_SET, ...parts);
}

/** Headers of the trusted chain and validator set, each extending the one before. */
async function checkHeaders(headers, chainId, setHash) {
  const digests = [];
  for (let i = 0; i < headers.length; i++) {
    const h = headers[i];
    if (h.chain_id !== chainId) fail("header-chain", `header ${i} is for another chain`);
    if (!equal(h.validator_set, setHash)) {
      fail("header-chain", `header ${i} names a different validator set`);
    }
    const digest = await headerDigest(h);
    if (i > 0) {
      const prev = headers[i - 1];
      if (!equal(h.parent, digests[i - 1]) || h.height !== prev.height + 1n) {
        fail("header-chain", `header ${i} does not extend header ${i - 1}`);
      }
    }
    digests.push(digest);
  }
  return digests;
}

// ---------------------------------------------------------------------------------------------
// The trusted validator set and Ed25519 point checks (§ Trust)

const P = (1n << 255n) - 19n;
const mod = (a) => ((a % P) + P) % P;
function pow(b, e) {
  let r = 1n;
  b = mod(b);
  while (e > 0n) {
    if (e & 1n) r = (r * b) % P;
    b = (b * b) % P;
    e >>= 1n;
  }
  return r;
}
const inv = (a) => pow(a, P - 2n);
const D = mod(-121665n * inv(121666n));
const SQRT_M1 = pow(2n, (P - 1n) / 4n);

/** Decode an Ed25519 point as the node does (ZIP-215: y taken mod p); null if not on the curve. */
function decodePoint(bytes) {
  let y = 0n;
  for (let i = 31; i >= 0; i--) y = (y << 8n) | BigInt(i === 31 ? bytes[i] & 0x7f : bytes[i]);
  y = mod(y);
  const sign = BigInt(bytes[31] >> 7);
  const u = mod(y * y - 1n);
  const v = mod(D * y * y + 1n);
  const x2 = mod(u * inv(v));
  let x = pow(x2, (P + 3n) / 8n);
  if (mod(x * x - x2) !== 0n) x = mod(x * SQRT_M1);
  if (mod(x * x - x2) !== 0n) return null;
  if ((x & 1n) !== sign) x = mod(-x);
  return { x, y };
}

/** Whether [8]P is the identity (P of small order), by three doublings in extended coordinates. */
function isSmallOrder({ x, y }) {
  let X = x;
  let Y = y;
  let Z = 1n;
  for (let i = 0; i < 3; i++) {
    const A = mod(X * X);
    const B = mod(Y * Y);
    const C = mod(2n * Z * Z);
    const H = mod(A + B);
    const E = mod(H - (X + Y) * (X + Y));
    const G = mod(A - B);
    const F = mod(C + G);
    X = mod(E * F);
    Y = mod(G * H);
    Z = mod(F * G);
  }
  return X === 0n && Y === Z;
}

/**
 * Parse a trust anchor `{chain_id, validators: ["ed25519:<hex>", ...]}`: keys must be distinct
 * curve points of large order (what the node requires of a validator key).
 */
function parseTrust(trust) {
  if (!isObject(trust)) fail("trust", "trust is not an object");
  const chainId = trust.chain_id;
  if (typeof chainId !== "string" || chainId.length === 0) fail("trust", "trust has no chain_id");
  if (!Array.isArray(trust.validators) || trust.validators.length === 0) {
    fail("trust", "trust lists no validators");
  }
  const keys = [];
  for (const [i, text] of trust.validators.entries()) {
    let k;
    try {
      k = parsePublicKey(text, `trust.validators[${i}]`);
    } catch (e) {
      fail("trust", e.reason || String(e));
    }
    const point = decodePoint(k);
    if (!point) fail("trust", `trust.validators[${i}] is not a curve point`);
    if (isSmallOrder(point)) fail("trust", `trust.validators[${i}] is a small-order key`);
    keys.push(k);
  }
  // Participant order: by raw key bytes; the signer bitmap indexes this order.
  keys.sort(compareKeys);
  for (let i = 1; i < keys.length; i++) {
    if (equal(keys[i - 1], keys[i])) fail("trust", "trust lists a validator twice");
  }
  let epochLength = null;
  if (trust.epoch_length !== undefined && trust.epoch_length !== null) {
    const l = trust.epoch_length;
    if (typeof l !== "number" || !Number.isSafeInteger(l) || l < 2) {
      fail("trust", "trust.epoch_length is not an integer of at least 2");
    }
    epochLength = BigInt(l);
  }
  return { chainId, keys, epochLength };
}

/** The trust anchor from the JSON of `GET /v1/genesis`. */
export function trustFromGenesis(genesisJson) {
  const g = typeof genesisJson === "string" ? JSON.parse(genesisJson) : genesisJson;
  if (!isObject(g) || typeof g.chain_id !== "string" || !Array.isArray(g.validators)) {
    throw new Error("not a genesis document: expected chain_id and validators");
  }
  const trust = {
    chain_id: g.chain_id,
    validators: g.validators.map((v, i) => {
      if (!isObject(v) || typeof v.public_key !== "string") {
        throw new Error(`genesis validator ${i} has no public_key`);
      }
      return v.public_key;
    }),
  };
  if (g.epoch_length !== undefined && g.epoch_length !== null) trust.epoch_length = g.epoch_length;
  return trust;
}

// ---------------------------------------------------------------------------------------------
// The finalization certificate (§ Finalization certificate)

/** `n - floor((n - 1) / 3)` signatures are needed out of `n`. */
export function quorum(n) {
  return n - Math.floor((n - 1) / 3);
}

function decodeFinalization(bytes, participants) {
  const r = new Reader(bytes, "certificate", "finalization");
  const epoch = r.varint(64);
  const view = r.varint(64);
  const parent = r.varint(64);
  const payload = r.digest();
  const proposal = bytes.slice(0, r.at);
  const bits = r.u64be();
  if (bits > BigInt(participants)) r.bad(`signer bitmap of ${bits} bits for ${participants}`);
  const nbits = Number(bits);
  const map = r.take(Math.ceil(nbits / 8));
  if (nbits % 8 !== 0 && map[map.length - 1] >> (nbits % 8) !== 0) {
    r.bad("signer bitmap has bits set past its length");
  }
  const signers = [];
  for (let i = 0; i < nbits; i++) if (map[i >> 3] & (1 << (i & 7))) signers.push(i);
  if (signers.length === 0) r.bad("no signers");
  const count = r.length(participants);
  if (count !== signers.length) r.bad(`${signers.length} signers but ${count} signatures`);
  const signatures = [];
  for (let i = 0; i < count; i++) signatures.push(r.take(64));
  r.end();
  return { epoch, view, parent, payload, proposal, bits: nbits, signers, signatures };
}

async function verifyFinalization(chainId, keys, finalization, digest, epoch = 0n) {
  const fin = decodeFinalization(finalization, keys.length);
  if (!equal(fin.payload, digest)) fail("certificate", "finalization is for a different block");
  if (BigInt(fin.epoch) !== epoch) {
    fail("certificate", `finalization was made in epoch ${fin.epoch}, the block is in epoch ${epoch}`);
  }
  const n = keys.length;
  if (fin.bits !== n) fail("certificate", `signer bitmap covers ${fin.bits} of ${n} validators`);
  if (fin.signers.length < quorum(n)) {
    fail("certificate", `${fin.signers.length} signatures, quorum is ${quorum(n)} of ${n}`);
  }
  // Signed bytes: varint(len(ns)) || ns || proposal, ns = "urbis/<chain>/consensus_FINALIZE".
  const ns = utf8(`urbis/${chainId}/consensus_FINALIZE`);
  const message = concat(varint(ns.length), ns, fin.proposal);
  for (let k = 0; k < fin.signers.length; k++) {
    const i = fin.signers[k];
    let ok = false;
    try {
      const key = await subtle.importKey("raw", keys[i], { name: "Ed25519" }, false, ["verify"]);
      ok = await subtle.verify({ name: "Ed25519" }, key, fin.signatures[k], message);
    } catch {
      ok = false;
    }
    if (!ok) {
      fail("certificate", `signature of validator ed25519:${hex(keys[i])} does not verify`);
    }
  }
  return fin;
}

// ---------------------------------------------------------------------------------------------
// Bundles

function parseHeaders(bundle) {
  return arr(bundle, "headers", "bundle").map(parseHeader);
}

function checkEnvelope(bundle, trust) {
  if (!isObject(bundle)) fail("malformed", "bundle is not an object");
  const version = field(bundle, "version", "bundle");
  const chainId = str(bundle, "chain_id", "bundle");
  if (version !== BUNDLE_VERSION && version !== BUNDLE_VERSION_EPOCHS) {
    fail("version", `unsupported bundle version ${version}`);
  }
  if (chainId !== trust.chainId) {
    fail("chain-id", `bundle is for chain ${JSON.stringify(chainId)}, expected ${JSON.stringify(trust.chainId)}`);
  }
  const expected = trust.epochLength === null ? BUNDLE_VERSION : BUNDLE_VERSION_EPOCHS;
  if (version !== expected || ("handovers" in bundle) !== (version === BUNDLE_VERSION_EPOCHS)) {
    fail("version", `unsupported bundle version ${version} for this chain: its bundles are version ${expected}`);
  }
}

// ---------------------------------------------------------------------------------------------
// Epochs and hand-overs (§ Validator-set changes)

/**
 * borsh `Schedule {epoch_length: u64, sets: Vec<{from_epoch: u64, validators: Vec<{name:
 * String, public_key: PublicKey, address: String}>}>}` → `{epochLength, sets: [{from, keys}]}`.
 */
export function decodeSchedule(bytes, what = "schedule") {
  const r = new Reader(bytes, "handover", what);
  const le = (n) => {
    const b = r.take(n);
    let v = 0n;
    for (let i = n - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i]);
    return v;
  };
  const string = () => {
    const raw = r.take(Number(le(4)));
    try {
      return new TextDecoder("utf-8", { fatal: true }).decode(raw);
    } catch {
      r.bad("a string is not UTF-8");
    }
    return null;
  };
  const epochLength = le(8);
  const sets = [];
  for (let n = le(4); n > 0n; n--) {
    const from = le(8);
    const keys = [];
    for (let m = le(4); m > 0n; m--) {
      string();
      if (r.byte() !== 0) r.bad("a validator key is not Ed25519");
      keys.push(r.take(32));
      string();
    }
    sets.push({ from, keys });
  }
  r.end();
  return { epochLength, sets };
}

/** Check hand-over `i`, expected for `epoch` whose set is `keys`; the set of `epoch + 1`. */
async function verifyHandover(trust, epoch, keys, h, i) {
  const what = `bundle.handovers[${i}]`;
  if (!isObject(h)) fail("malformed", `${what} is not an object`);
  if (uint(h, "epoch", what) !== epoch) fail("handover", `${what} is for another epoch than ${epoch}`);
  const header = parseHeader(field(h, "header", what), i, `${what}.header`);
  const L = trust.epochLength;
  const last = epoch * L + L - 1n;
  if (header.chain_id !== trust.chainId) fail("handover", `${what}: its header is for another chain`);
  if (header.height !== last || header.state_height + 1n !== header.height) {
    fail("handover", `${what}: its header is not epoch ${epoch}'s last block ${last} certifying its parent`);
  }
  if (!equal(header.validator_set, await validatorSetHash(keys))) {
    fail("handover", `${what}: its header names another validator set`);
  }
  const cert = hexBytes(str(h, "finalization", what), `${what}.finalization`);
  try {
    await verifyFinalization(trust.chainId, keys, cert, await headerDigest(header), epoch);
  } catch (e) {
    fail("handover", `${what}: ${e.reason || e}`);
  }
  let proven;
  try {
    proven = await verifyStateProof(field(h, "schedule", what), `${what}.schedule`);
  } catch (e) {
    fail("handover", `${what}: ${e.reason || e}`);
  }
  if (new TextDecoder().decode(proven.key) !== SCHEDULE_KEY || !equal(proven.root, header.state_root)) {
    fail("handover", `${what}: its state proof is not of the validator schedule at the header's state root`);
  }
  if (proven.value === null) fail("handover", `${what}: the state holds no validator schedule`);
  const schedule = decodeSchedule(proven.value, `${what}.schedule.value`);
  if (schedule.epochLength !== L) {
    fail("handover", `${what}: the schedule's epoch length differs from the genesis`);
  }
  let next = null;
  for (const s of schedule.sets) if (s.from <= epoch + 1n) next = s.keys;
  if (!next || next.length === 0) fail("handover", `${what}: the set of epoch ${epoch + 1n} is empty`);
  next = [...next].sort(compareKeys);
  for (let k = 0; k < next.length; k++) {
    const point = decodePoint(next[k]);
    if (!point || isSmallOrder(point)) {
      fail("handover", `${what}: a validator of epoch ${epoch + 1n} is not a usable key`);
    }
    if (k > 0 && equal(next[k - 1], next[k])) {
      fail("handover", `${what}: the set of epoch ${epoch + 1n} names a key twice`);
    }
  }
  return next;
}

/**
 * Headers, then the certificate over the last one's digest, by the set of its epoch (walked
 * from the genesis set through the hand-overs on a chain with epochs); the certified facts.
 */
async function certify(bundle, headers, trust) {
  const finalization = hexBytes(str(bundle, "finalization", "bundle"), "bundle.finalization");
  const last = headers.length - 1;
  let keys = trust.keys;
  let epoch = 0n;
  if (trust.epochLength !== null) {
    const L = trust.epochLength;
    epoch = headers[last].height / L;
    if (headers.some((h) => h.height / L !== epoch)) {
      fail("header-chain", "the bundle's headers span two epochs");
    }
    const handovers = arr(bundle, "handovers", "bundle");
    const needed = epoch > 1n ? epoch - 1n : 0n;
    if (BigInt(handovers.length) !== needed) {
      fail("handover", `a proof certified in epoch ${epoch} carries ${needed} hand-overs, not ${handovers.length}`);
    }
    // Epochs 0 and 1 have the genesis set; hand-over k names the set of k + 1.
    for (let i = 0; i < handovers.length; i++) {
      keys = await verifyHandover(trust, BigInt(i + 1), keys, handovers[i], i);
    }
  }
  const digests = await checkHeaders(headers, trust.chainId, await validatorSetHash(keys));
  const fin = await verifyFinalization(trust.chainId, keys, finalization, digests[last], epoch);
  return {
    certified_height: Number(headers[last].height),
    certified_block: hex(digests[last]),
    signers: fin.signers.length,
    validators: keys.length,
    epoch: Number(epoch),
  };
}

/**
 * Verify a state proof bundle (the `proof` of `GET /v1/query/...?prove=true`).
 * → `{ok: true, height, key, key_hex, value, root, certified_height, certified_block, ...}` with
 * `value` the proven raw bytes as hex (null: proven absent), or `{ok: false, step, reason}`.
 */
export async function verifyStateBundle(bundle, trust) {
  return guarded(async () => {
    const t = parseTrust(trust);
    checkEnvelope(bundle, t);
    const stateHeight = uint(bundle, "state_height", "bundle");
    const headers = parseHeaders(bundle);
    const proven = await verifyStateProof(field(bundle, "state", "bundle"));
    if (headers.length === 0) fail("header-chain", "bundle has no headers");
    if (headers[0].state_height !== stateHeight || !equal(headers[0].state_root, proven.root)) {
      fail("anchor", "the first header does not certify the proven state root");
    }
    const facts = await certify(bundle, headers, t);
    let keyText = null;
    try {
      keyText = new TextDecoder("utf-8", { fatal: true }).decode(proven.key);
    } catch {
      keyText = null;
    }
    return {
      ok: true,
      height: Number(stateHeight),
      key: keyText,
      key_hex: hex(proven.key),
      value: proven.value === null ? null : hex(proven.value),
      root: hex(proven.root),
      ...facts,
    };
  });
}

/** borsh(Receipt) from its JSON form (§ Receipts). */
function encodeReceipt(r) {
  const what = "receipt";
  if (!isObject(r)) fail("malformed", "receipt is not an object");
  const parts = [
    hash32(r, "tx_hash", what), u64le(uint(r, "height", what)), u32le(uint(r, "index", what, 32)),
    u8(bool(r, "success", what) ? 1 : 0),
  ];
  const error = field(r, "error", what);
  if (error === null) {
    parts.push(u8(0));
  } else {
    const code = ERROR_CODES.indexOf(str(error, "code", "receipt.error"));
    if (code < 0) fail("malformed", `receipt.error.code ${JSON.stringify(error.code)} is unknown`);
    parts.push(u8(1), u8(code), borshString(str(error, "message", "receipt.error")));
  }
  const events = arr(r, "events", what);
  parts.push(u32le(events.length));
  for (const [i, e] of events.entries()) {
    const ew = `receipt.events[${i}]`;
    parts.push(borshString(str(e, "module", ew)), borshString(str(e, "kind", ew)));
    const attrs = arr(e, "attributes", ew);
    parts.push(u32le(attrs.length));
    for (const a of attrs) {
      if (!Array.isArray(a) || a.length !== 2 || typeof a[0] !== "string" || typeof a[1] !== "string") {
        fail("malformed", `${ew}.attributes holds something other than [key, value] strings`);
      }
      parts.push(borshString(a[0]), borshString(a[1]));
    }
  }
  parts.push(u8(bool(r, "nonce_used", what) ? 1 : 0), u64le(uint(r, "weight", what)));
  return concat(...parts);
}

/**
 * Verify a receipt bundle (the `proof` of `GET /v1/txs/{hash}?prove=true`).
 * → `{ok: true, height, tx_hash, index, success, receipt, certified_height, ...}` or failure.
 */
export async function verifyReceiptBundle(bundle, trust) {
  return guarded(async () => {
    const t = parseTrust(trust);
    checkEnvelope(bundle, t);
    const receipt = field(bundle, "receipt", "bundle");
    const encoded = encodeReceipt(receipt);
    const path = arr(bundle, "path", "bundle").map((s, i) => ({
      sibling: hash32(s, "sibling", `bundle.path[${i}]`),
      left: bool(s, "left", `bundle.path[${i}]`),
    }));
    const accBefore = hash32(bundle, "acc_before", "bundle");
    const later = arr(bundle, "later_roots", "bundle").map((h, i) => {
      const b = hexBytes(h, `bundle.later_roots[${i}]`);
      if (b.length !== 32) fail("malformed", `bundle.later_roots[${i}] is not 32 bytes`);
      return b;
    });
    const headers = parseHeaders(bundle);

    // Leaf → block receipts root → accumulator up to the certified height.
    const leaf = await sha256Domain(DOMAIN.RECEIPT, encoded);
    let node = await sha256Domain(DOMAIN.MERKLE_LEAF, leaf);
    for (const step of path) {
      node = step.left
        ? await sha256Domain(DOMAIN.MERKLE_NODE, step.sibling, node)
        : await sha256Domain(DOMAIN.MERKLE_NODE, node, step.sibling);
    }
    let acc = await sha256Domain(DOMAIN.RECEIPTS_ACC, accBefore, node);
    for (const root of later) acc = await sha256Domain(DOMAIN.RECEIPTS_ACC, acc, root);

    if (headers.length === 0) fail("header-chain", "bundle has no headers");
    const height = uint(receipt, "height", "receipt");
    const certified = height + BigInt(later.length);
    if (certified >= 1n << 64n) fail("anchor", "height overflows");
    if (headers[0].state_height !== certified || !equal(headers[0].receipts_acc, acc)) {
      fail("anchor", "the first header does not certify this receipt's accumulator");
    }
    const facts = await certify(bundle, headers, t);
    return {
      ok: true,
      height: Number(height),
      tx_hash: receipt.tx_hash,
      index: receipt.index,
      success: receipt.success,
      receipt,
      ...facts,
    };
  });
}

/**
 * Verify the answer of `GET /v1/query/{module}/{path}?prove=true`: its proof bundle, that the
 * proven key is `answer.key` (UTF-8) and that the proof is at `answer.height`. `value` (the
 * module's rendering of the proven bytes) is not re-derived here: use the returned raw `value`.
 */
export async function verifyQueryAnswer(answer, trust) {
  if (!isObject(answer)) return { ok: false, step: "malformed", reason: "answer is not an object" };
  if (!isObject(answer.proof)) {
    return { ok: false, step: "malformed", reason: "answer has no proof (ask with ?prove=true)" };
  }
  const v = await verifyStateBundle(answer.proof, trust);
  if (!v.ok) return v;
  if (typeof answer.key !== "string" || hex(utf8(answer.key)) !== v.key_hex) {
    return { ok: false, step: "answer", reason: `answer key ${JSON.stringify(answer.key)} is not the proven key` };
  }
  if (answer.height !== v.height) {
    return { ok: false, step: "answer", reason: `answer height ${answer.height} is not the proven height ${v.height}` };
  }
  return v;
}

/**
 * Verify the answer of `GET /v1/txs/{hash}?prove=true`: its receipt bundle, and that the proven
 * receipt is the answer's transaction (hash, height, index and receipt).
 */
export async function verifyTxAnswer(answer, trust) {
  if (!isObject(answer)) return { ok: false, step: "malformed", reason: "answer is not an object" };
  if (!isObject(answer.proof)) {
    return { ok: false, step: "malformed", reason: "answer has no proof (ask with ?prove=true)" };
  }
  const v = await verifyReceiptBundle(answer.proof, trust);
  if (!v.ok) return v;
  return guarded(async () => {
    if (typeof answer.hash !== "string" || answer.hash.toLowerCase() !== String(v.tx_hash).toLowerCase()) {
      fail("answer", `the proven receipt is for transaction ${v.tx_hash}, not ${answer.hash}`);
    }
    if (answer.height !== v.height || answer.index !== v.index) {
      fail("answer", "the answer's height or index is not the proven receipt's");
    }
    if (answer.receipt !== undefined &&
        !equal(encodeReceipt(answer.receipt), encodeReceipt(answer.proof.receipt))) {
      fail("answer", "the answer's receipt is not the proven receipt");
    }
    return v;
  });
}
