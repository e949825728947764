// Keys, addresses and transactions: everything needed to sign an Urbis transaction locally.
// Ed25519 through WebCrypto; the encodings follow `urbis_core` (`keys.rs`, `tx.rs`).
// Plain ES module; runs unchanged in a browser and in Node (≥ 20).

import { DOMAIN, concat, equal, framed, hex, sha256Domain, unhex } from "./bytes.js";
import { Writer } from "./borsh.js";

const subtle = globalThis.crypto.subtle;
const ED25519 = { name: "Ed25519" };

/** Human-readable part of account addresses. */
export const ADDRESS_HRP = "urbis";

// ---------------------------------------------------------------------------------------------
// bech32m (BIP-350)

const CHARSET = "qpzry9x8gf2tvdw0s3jn54khce6mua7l";
const BECH32M_CONST = 0x2bc830a3;

function polymod(values) {
  const gen = [0x3b6a57b2, 0x26508e6d, 0x1ea119fa, 0x3d4233dd, 0x2a1462b3];
  let chk = 1;
  for (const v of values) {
    const top = chk >>> 25;
    chk = ((chk & 0x1ffffff) << 5) ^ v;
    for (let i = 0; i < 5; i++) if ((top >>> i) & 1) chk ^= gen[i];
  }
  return chk >>> 0;
}

function hrpExpand(hrp) {
  const out = [];
  for (const c of hrp) out.push(c.charCodeAt(0) >> 5);
  out.push(0);
  for (const c of hrp) out.push(c.charCodeAt(0) & 31);
  return out;
}

/** Regroup bits: 8-bit bytes to 5-bit groups (`pad`), or back (padding must be zero). */
function convertBits(data, from, to, pad) {
  let acc = 0;
  let bits = 0;
  const out = [];
  const maxv = (1 << to) - 1;
  for (const v of data) {
    acc = (acc << from) | v;
    bits += from;
    while (bits >= to) {
      bits -= to;
      out.push((acc >> bits) & maxv);
    }
    acc &= (1 << bits) - 1;
  }
  if (pad) {
    if (bits > 0) out.push((acc << (to - bits)) & maxv);
  } else if (bits >= from || ((acc << (to - bits)) & maxv) !== 0) {
    throw new Error("invalid padding");
  }
  return out;
}

/** The bech32m text of `bytes` under the human-readable part `hrp` (lower case). */
export function bech32mEncode(hrp, bytes) {
  const data = convertBits(bytes, 8, 5, true);
  const values = [...hrpExpand(hrp), ...data, 0, 0, 0, 0, 0, 0];
  const mod = polymod(values) ^ BECH32M_CONST;
  let out = hrp + "1";
  for (const d of data) out += CHARSET[d];
  for (let i = 0; i < 6; i++) out += CHARSET[(mod >>> (5 * (5 - i))) & 31];
  return out;
}

/** `{ hrp, bytes }` of a bech32m string; throws on a bad checksum, mixed case or bad characters. */
export function bech32mDecode(text) {
  if (typeof text !== "string") throw new Error("bech32m text must be a string");
  if (text.length > 90) throw new Error("bech32m text is longer than 90 characters");
  const lower = text.toLowerCase();
  if (text !== lower && text !== text.toUpperCase()) throw new Error("mixed-case bech32m text");
  const sep = lower.lastIndexOf("1");
  if (sep < 1 || sep + 7 > lower.length) throw new Error("no bech32m separator or checksum");
  const hrp = lower.slice(0, sep);
  for (const c of hrp) {
    const code = c.charCodeAt(0);
    if (code < 33 || code > 126) throw new Error("invalid character in the human-readable part");
  }
  const data = [];
  for (const c of lower.slice(sep + 1)) {
    const v = CHARSET.indexOf(c);
    if (v < 0) throw new Error(`invalid bech32m character ${JSON.stringify(c)}`);
    data.push(v);
  }
  if (polymod([...hrpExpand(hrp), ...data]) !== BECH32M_CONST) {
    throw new Error("bech32m checksum does not match");
  }
  return { hrp, bytes: Uint8Array.from(convertBits(data.slice(0, -6), 5, 8, false)) };
}

// ---------------------------------------------------------------------------------------------
// Public keys and addresses

/** Borsh of a `PublicKey`: scheme index 0 (Ed25519) and the 32 key bytes. */
export function encodePublicKey(raw) {
  if (!(raw instanceof Uint8Array) || raw.length !== 32) {
    throw new Error("an Ed25519 public key is 32 bytes");
  }
  return concat(Uint8Array.of(0), raw);
}

/** Text form of a public key: `ed25519:<hex>`. */
export function publicKeyText(raw) {
  encodePublicKey(raw);
  return `ed25519:${hex(raw)}`;
}

/** The 32 bytes of an `ed25519:<hex>` public key. */
export function parsePublicKey(text) {
  const m = /^ed25519:([0-9a-fA-F]{64})$/.exec(text);
  if (!m) throw new Error(`not a public key (ed25519: and 64 hex digits): ${JSON.stringify(text)}`);
  return unhex(m[1]);
}

/** The 20-byte account address of a public key: SHA-256 (domain `urbis/address/v1`) of its
 * borsh encoding, first 20 bytes. */
export async function addressOf(publicKey) {
  const digest = await sha256Domain(DOMAIN.ADDRESS, encodePublicKey(publicKey));
  return digest.slice(0, 20);
}

/** Text form of an address: bech32m, human-readable part `urbis`. */
export function addressText(address) {
  if (!(address instanceof Uint8Array) || address.length !== 20) {
    throw new Error("an address is 20 bytes");
  }
  return bech32mEncode(ADDRESS_HRP, address);
}

/** The 20 bytes of an address's text form (`urbis1…`). */
export function parseAddress(text) {
  let decoded;
  try {
    decoded = bech32mDecode(text);
  } catch (e) {
    throw new Error(`invalid address: ${e.message}`);
  }
  if (decoded.hrp !== ADDRESS_HRP) throw new Error(`invalid address: expected prefix ${ADDRESS_HRP}1`);
  if (decoded.bytes.length !== 20) throw new Error("invalid address: expected 20 bytes");
  return decoded.bytes;
}

// ---------------------------------------------------------------------------------------------
// Signing keys

// RFC 8410 PKCS#8 wrapping of an Ed25519 seed: SEQUENCE { INTEGER 0, SEQUENCE { OID 1.3.101.112 },
// OCTET STRING { OCTET STRING seed } }; the seed follows these 16 bytes.
const PKCS8_PREFIX = unhex("302e020100300506032b657004220420");

function fromBase64Url(text) {
  const b64 = text.replace(/-/g, "+").replace(/_/g, "/");
  const bin = atob(b64 + "=".repeat((4 - (b64.length % 4)) % 4));
  return Uint8Array.from(bin, (c) => c.charCodeAt(0));
}

/** An Ed25519 signing key held by WebCrypto, with its public key and account address. */
export class SigningKey {
  /** Use `SigningKey.generate()` or `SigningKey.fromSeed(seed)`. */
  constructor(privateKey, publicKey, address) {
    this.privateKey = privateKey;
    /** The 32 public key bytes. */
    this.publicKey = publicKey;
    /** The 20 address bytes. */
    this.address = address;
  }

  /** A fresh key. The private key is not extractable unless `extractable` is set. */
  static async generate({ extractable = false } = {}) {
    const pair = await subtle.generateKey(ED25519, extractable, ["sign", "verify"]);
    const pub = new Uint8Array(await subtle.exportKey("raw", pair.publicKey));
    return new SigningKey(pair.privateKey, pub, await addressOf(pub));
  }

  /** The key of a 32-byte Ed25519 seed (bytes or 64 hex digits), as `SecretKey::from_seed`. */
  static async fromSeed(seed, { extractable = false } = {}) {
    const s = typeof seed === "string" ? unhex(seed) : seed;
    if (!(s instanceof Uint8Array) || s.length !== 32) throw new Error("a seed is 32 bytes");
    const pkcs8 = concat(PKCS8_PREFIX, s);
    // WebCrypto derives no public key from a private one; its JWK export carries it (`x`).
    const temp = await subtle.importKey("pkcs8", pkcs8, ED25519, true, ["sign"]);
    const jwk = await subtle.exportKey("jwk", temp);
    const pub = fromBase64Url(jwk.x);
    const key = extractable ? temp : await subtle.importKey("pkcs8", pkcs8, ED25519, false, ["sign"]);
    return new SigningKey(key, pub, await addressOf(pub));
  }

  /** The 32-byte seed (only of an extractable key). */
  async seed() {
    const pkcs8 = new Uint8Array(await subtle.exportKey("pkcs8", this.privateKey));
    if (pkcs8.length !== 48 || !equal(pkcs8.slice(0, 16), PKCS8_PREFIX)) {
      throw new Error("unexpected PKCS#8 form of an Ed25519 key");
    }
    return pkcs8.slice(16);
  }

  /** `ed25519:<hex>`. */
  get publicKeyText() {
    return publicKeyText(this.publicKey);
  }

  /** `urbis1…`. */
  get addressText() {
    return addressText(this.address);
  }

  /** The 64-byte signature of `len(tag) || tag || message`. */
  async sign(tag, message) {
    return new Uint8Array(await subtle.sign(ED25519, this.privateKey, framed(tag, message)));
  }
}

/** Whether `signature` is `publicKey`'s over `len(tag) || tag || message` (WebCrypto's check;
 * nodes apply ZIP-215, which accepts every signature WebCrypto accepts). */
export async function verifySignature(publicKey, tag, message, signature) {
  const key = await subtle.importKey("raw", publicKey, ED25519, false, ["verify"]);
  return subtle.verify(ED25519, key, signature, framed(tag, message));
}

// ---------------------------------------------------------------------------------------------
// Transactions

function bytesOf(value, what, len) {
  const b = typeof value === "string" ? unhex(value) : value;
  if (!(b instanceof Uint8Array) || (len !== undefined && b.length !== len)) {
    throw new Error(`${what} must be ${len === undefined ? "bytes" : `${len} bytes`}`);
  }
  return b;
}

function writeUnsigned(w, tx) {
  if (typeof tx.chainId !== "string") throw new Error("chainId must be a string");
  if (typeof tx.call?.module !== "string") throw new Error("call.module must be a string");
  w.string(tx.chainId);
  w.raw(encodePublicKey(bytesOf(tx.signer, "signer", 32)));
  w.u64(tx.nonce);
  w.string(tx.call.module);
  w.bytes(bytesOf(tx.call.data, "call.data"));
}

/**
 * Borsh of an `UnsignedTx` `{ chainId, signer, nonce, call: { module, data } }` (`signer`: the
 * 32 public key bytes; `nonce`: a number or BigInt; `data`: the module's borsh call).
 */
export function encodeUnsignedTx(tx) {
  const w = new Writer();
  writeUnsigned(w, tx);
  return w.finish();
}

/** The bytes a signer signs: `len(tag) || tag || genesis_hash || borsh(unsigned)`, tag
 * `urbis/tx-sign/v1`. */
export function signingBytes(tx, genesisHash) {
  return framed(DOMAIN.TX_SIGN, concat(bytesOf(genesisHash, "genesisHash", 32), encodeUnsignedTx(tx)));
}

/**
 * Sign `{ chainId, nonce, call: { module, data } }` with `key` for the chain whose genesis
 * block hash is `genesisHash` (bytes or hex; `genesis_hash` in `GET /v1/status`). Returns the
 * signed transaction `{ chainId, signer, nonce, call, signature }`.
 */
export async function signTx(key, tx, genesisHash) {
  const unsigned = { chainId: tx.chainId, signer: key.publicKey, nonce: tx.nonce, call: tx.call };
  const message = concat(bytesOf(genesisHash, "genesisHash", 32), encodeUnsignedTx(unsigned));
  const signature = await key.sign(DOMAIN.TX_SIGN, message);
  return { ...unsigned, call: { module: tx.call.module, data: bytesOf(tx.call.data, "call.data") }, signature };
}

/** Borsh of a `SignedTx`: the unsigned fields, then the signature (scheme index 0, 64 bytes). */
export function encodeSignedTx(tx) {
  const w = new Writer();
  writeUnsigned(w, tx);
  w.u8(0).raw(bytesOf(tx.signature, "signature", 64));
  return w.finish();
}

/** The transaction id: SHA-256 (domain `urbis/tx-id/v1`) of the signed transaction's borsh. */
export async function txId(tx) {
  return sha256Domain(DOMAIN.TX_ID, encodeSignedTx(tx));
}

/** The transaction id as the node writes it (64 hex digits). */
export async function txIdHex(tx) {
  return hex(await txId(tx));
}

/**
 * The JSON form of a signed transaction, as `POST /v1/txs` accepts it (`urbis_core::SignedTx`):
 * `{chain_id, signer, nonce, call: {module, data}, signature}`. A nonce beyond 2^53 stays a
 * BigInt here; `signedTxJsonText` writes it exactly.
 */
export function signedTxJson(tx) {
  const nonce = BigInt(tx.nonce);
  return {
    chain_id: tx.chainId,
    signer: publicKeyText(bytesOf(tx.signer, "signer", 32)),
    nonce: nonce <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(nonce) : nonce,
    call: { module: tx.call.module, data: hex(bytesOf(tx.call.data, "call.data")) },
    signature: hex(bytesOf(tx.signature, "signature", 64)),
  };
}

/** `signedTxJson` as JSON text (BigInt nonces written as plain integers). */
export function signedTxJsonText(tx) {
  return JSON.stringify(signedTxJson(tx), (_, v) => (typeof v === "bigint" ? `@@${v}@@` : v)).replace(
    /"@@(\d+)@@"/g,
    "$1",
  );
}

/** A signed transaction from its JSON form (the inverse of `signedTxJson`). */
export function parseSignedTxJson(json) {
  return {
    chainId: json.chain_id,
    signer: parsePublicKey(json.signer),
    nonce: json.nonce,
    call: { module: json.call.module, data: unhex(json.call.data) },
    signature: bytesOf(json.signature, "signature", 64),
  };
}
