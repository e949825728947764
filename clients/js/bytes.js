// Bytes, hex and domain-separated SHA-256: what every other module of the client builds on.
// Plain ES module; runs unchanged in a browser and in Node (≥ 20), hashing with WebCrypto.

const subtle = globalThis.crypto.subtle;
const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

/** Lower-case hex of `bytes`. */
export function hex(bytes) {
  let out = "";
  for (const b of bytes) out += b.toString(16).padStart(2, "0");
  return out;
}

/** Bytes of a hex string (an optional `0x` prefix is accepted); throws on anything else. */
export function unhex(text) {
  const s = text.startsWith("0x") ? text.slice(2) : text;
  if (s.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(s)) {
    throw new Error(`not hex: ${JSON.stringify(text.slice(0, 40))}`);
  }
  const out = new Uint8Array(s.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(s.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/** UTF-8 bytes of a string. */
export function utf8(text) {
  return encoder.encode(text);
}

/** The string of UTF-8 bytes; throws on invalid UTF-8. */
export function fromUtf8(bytes) {
  return decoder.decode(bytes);
}

/** One array of all `parts` in order. */
export function concat(...parts) {
  let len = 0;
  for (const p of parts) len += p.length;
  const out = new Uint8Array(len);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Whether two byte arrays are equal. */
export function equal(a, b) {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** SHA-256 of `bytes`. */
export async function sha256(bytes) {
  return new Uint8Array(await subtle.digest("SHA-256", bytes));
}

/** `len(tag) || tag || msg`: how every Urbis hash and signature frames its domain tag. */
export function framed(tag, msg) {
  const t = typeof tag === "string" ? utf8(tag) : tag;
  if (t.length >= 128) throw new Error("domain tags are shorter than 128 bytes");
  return concat(Uint8Array.of(t.length), t, msg);
}

/** `SHA-256(len(tag) || tag || parts…)`, the node's `sha256_domain`. */
export async function sha256Domain(tag, ...parts) {
  return sha256(framed(tag, concat(...parts)));
}

/** The domain tags (`urbis_core::hash::domain`). */
export const DOMAIN = Object.freeze({
  TX_SIGN: "urbis/tx-sign/v1",
  TX_ID: "urbis/tx-id/v1",
  BLOCK: "urbis/block/v1",
  ADDRESS: "urbis/address/v1",
  MERKLE_LEAF: "urbis/merkle-leaf/v1",
  MERKLE_NODE: "urbis/merkle-node/v1",
  STATE_KEY: "urbis/state-key/v1",
  STATE_VALUE: "urbis/state-value/v1",
  VALIDATOR_SET: "urbis/validator-set/v1",
  GENESIS: "urbis/genesis/v1",
  OBJECT_ID: "urbis/object-id/v1",
  RECEIPT: "urbis/receipt/v1",
  BLOCK_EVENTS: "urbis/block-events/v1",
  RECEIPTS_ACC: "urbis/receipts-acc/v1",
});
