// The transaction half of the client against vectors made by the Rust code
// (clients/vectors/tx, written by crates/client/tests/js_vectors.rs). Run: node --test clients/js/test/
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";

import { hex, unhex } from "../bytes.js";
import { Writer } from "../borsh.js";
import { SchemaMismatch, UnsupportedSchema, callNames, encodeCall, encodeValue } from "../calls.js";
import {
  SigningKey,
  addressOf,
  addressText,
  bech32mDecode,
  bech32mEncode,
  encodeSignedTx,
  encodeUnsignedTx,
  parseAddress,
  parsePublicKey,
  parseSignedTxJson,
  publicKeyText,
  signTx,
  signedTxJson,
  signedTxJsonText,
  signingBytes,
  txIdHex,
  verifySignature,
} from "../tx.js";

const vectors = new URL("../../vectors/tx/", import.meta.url);
const calls = JSON.parse(await readFile(new URL("calls.json", vectors), "utf8"));
const txs = JSON.parse(await readFile(new URL("transactions.json", vectors), "utf8"));
const schemas = Object.fromEntries(calls.modules.map((m) => [m.module, m.schema]));

function mismatch(fn, pattern) {
  assert.throws(fn, (e) => {
    assert.ok(e instanceof SchemaMismatch, `${e}`);
    assert.equal(e.code, "schema_mismatch");
    if (pattern) assert.match(e.message, pattern);
    return true;
  });
}

test("the vectors cover every module and every call", () => {
  assert.ok(calls.modules.length >= 15, `${calls.modules.length} modules`);
  for (const m of calls.modules) {
    const sampled = new Set(m.calls.map((c) => c.json.call));
    assert.deepEqual([...sampled].sort(), callNames(m.schema).slice().sort(), m.module);
  }
});

test("every sample call encodes to the bytes Rust makes", () => {
  let n = 0;
  for (const m of calls.modules) {
    for (const c of m.calls) {
      const label = `${m.module}: ${JSON.stringify(c.json)}`;
      assert.equal(hex(encodeCall(m.schema, c.json)), c.borsh, label);
      // Also from the whole module description, as GET /v1/modules/{name} serves it.
      assert.equal(hex(encodeCall({ name: m.module, call_schema: m.schema }, c.json)), c.borsh, label);
      n++;
    }
  }
  assert.ok(n > 100, `${n} samples`);
});

test("the borsh variant index is the call's position in the schema", () => {
  for (const m of calls.modules) {
    const names = callNames(m.schema);
    for (const c of m.calls) assert.equal(unhex(c.borsh)[0], names.indexOf(c.json.call), c.json.call);
  }
});

test("JSON that does not fit the schema is schema_mismatch", () => {
  const s = schemas.assets;
  const to = txs.keys[0].address;
  const ok = { call: "transfer", symbol: "EURc", to, amount: 250 };
  encodeCall(s, ok);
  mismatch(() => encodeCall(s, { call: "transfer", symbol: "EURc", to }), /missing field "amount"/);
  mismatch(() => encodeCall(s, { ...ok, amount: -1 }), /amount/);
  mismatch(() => encodeCall(s, { ...ok, amount: 1.5 }), /amount/);
  mismatch(() => encodeCall(s, { ...ok, amount: "1" }), /expected an integer/);
  mismatch(() => encodeCall(s, { ...ok, amount: 2 ** 64 }), /BigInt/);
  mismatch(() => encodeCall(s, { ...ok, amount: 2n ** 64n }), /out of range/);
  mismatch(() => encodeCall(s, { ...ok, memo: "x" }), /unknown field "memo"/);
  mismatch(() => encodeCall(s, { ...ok, to: "bob" }), /\/to/);
  const flipped = to.slice(0, -1) + (to.endsWith("q") ? "p" : "q");
  mismatch(() => encodeCall(s, { ...ok, to: flipped }), /\/to/);
  mismatch(() => encodeCall(s, { call: "steal", amount: 1 }), /unknown call "steal"/);
  mismatch(() => encodeCall(s, { symbol: "EURc" }), /missing "call"/);
  mismatch(() => encodeCall(s, [1, 2, 3]));
  mismatch(() => encodeCall(s, { call: "claim", hold: "00" }), /64 hex digits|does not match/);
  mismatch(() => encodeCall(s, { call: "create_asset", symbol: "X", name: "Y", decimals: 256 }), /decimals/);
  mismatch(() => encodeCall(schemas.accounts, { call: "grant_role", account: to, role: "king" }), /one of/);
  mismatch(() => encodeCall(schemas.consent, { call: "revoke", grant: null }), /grant/);
});

test("integers beyond 2^53 are taken as BigInt", () => {
  const s = schemas.assets;
  const to = txs.keys[0].address;
  const small = encodeCall(s, { call: "transfer", symbol: "EURc", to, amount: 1 });
  const big = encodeCall(s, { call: "transfer", symbol: "EURc", to, amount: 2n ** 64n - 1n });
  assert.equal(big.length, small.length);
  assert.equal(hex(big.slice(-8)), "ff".repeat(8));
  assert.equal(hex(small.slice(-8)), "01" + "00".repeat(7));
});

test("left-out optional fields take their defaults", () => {
  const s = schemas.assets;
  const to = txs.keys[0].address;
  const base = { call: "escrow", symbol: "EURc", to, amount: 5 };
  assert.deepEqual(encodeCall(s, base), encodeCall(s, { ...base, expires_ms: null }));
  const some = encodeCall(s, { ...base, expires_ms: 9 });
  assert.equal(some.length, encodeCall(s, base).length + 8);
});

test("keys, public keys and addresses match Rust", async () => {
  for (const k of txs.keys) {
    const key = await SigningKey.fromSeed(k.seed);
    assert.equal(key.publicKeyText, k.public_key);
    assert.equal(key.addressText, k.address);
    assert.equal(hex(key.address), k.address_bytes);
    assert.equal(hex(await addressOf(parsePublicKey(k.public_key))), k.address_bytes);
    assert.equal(hex(parseAddress(k.address)), k.address_bytes);
    assert.equal(addressText(unhex(k.address_bytes)), k.address);
    assert.equal(publicKeyText(key.publicKey), k.public_key);
  }
});

test("transactions match Rust byte for byte", async () => {
  const key = await SigningKey.fromSeed(txs.signer.seed);
  assert.equal(key.addressText, txs.signer.address);
  for (const v of txs.transactions) {
    const data = encodeCall(schemas[v.module], v.call);
    assert.equal(hex(data), v.call_data, v.module);
    const tx = { chainId: txs.chain_id, nonce: v.nonce, call: { module: v.module, data } };
    const unsigned = { ...tx, signer: key.publicKey };
    assert.equal(hex(encodeUnsignedTx(unsigned)), v.unsigned);
    assert.equal(hex(signingBytes(unsigned, txs.genesis_hash)), v.signing_bytes);
    const signed = await signTx(key, tx, unhex(txs.genesis_hash));
    assert.equal(hex(signed.signature), v.signature);
    assert.equal(hex(encodeSignedTx(signed)), v.signed);
    assert.deepEqual(signedTxJson(signed), v.json);
    assert.deepEqual(JSON.parse(signedTxJsonText(signed)), v.json);
    assert.equal(await txIdHex(signed), v.tx_id);
    assert.equal(hex(encodeSignedTx(parseSignedTxJson(v.json))), v.signed);
    assert.ok(await verifySignature(key.publicKey, "urbis/tx-sign/v1", unhex(v.signing_bytes).slice(17), signed.signature));
  }
});

test("a nonce beyond 2^53 is written exactly", async () => {
  const key = await SigningKey.fromSeed(txs.signer.seed);
  const nonce = 2n ** 64n - 2n;
  const signed = await signTx(key, { chainId: "c", nonce, call: { module: "m", data: new Uint8Array() } }, new Uint8Array(32));
  assert.match(signedTxJsonText(signed), /"nonce":18446744073709551614,/);
  const bytes = encodeSignedTx(signed);
  assert.equal(hex(bytes.slice(1 + 4 + 33, 1 + 4 + 33 + 8)), "fe" + "ff".repeat(7));
});

test("generated keys sign, verify and export their seed", async () => {
  const key = await SigningKey.generate({ extractable: true });
  const sig = await key.sign("urbis/test/v1", new Uint8Array([1, 2, 3]));
  assert.ok(await verifySignature(key.publicKey, "urbis/test/v1", new Uint8Array([1, 2, 3]), sig));
  assert.ok(!(await verifySignature(key.publicKey, "urbis/test/v2", new Uint8Array([1, 2, 3]), sig)));
  const again = await SigningKey.fromSeed(await key.seed());
  assert.equal(again.addressText, key.addressText);
  const locked = await SigningKey.generate();
  await assert.rejects(locked.seed());
});

test("bech32m follows BIP-350", () => {
  for (const valid of [
    "A1LQFN3A",
    "a1lqfn3a",
    "abcdef1l7aum6echk45nj3s0wdvt2fg8x9yrzpqzd3ryx",
    "split1checkupstagehandshakeupstreamerranterredcaperredlc445v",
    "?1v759aa",
  ]) {
    const { hrp, bytes } = bech32mDecode(valid);
    assert.equal(bech32mEncode(hrp, bytes), valid.toLowerCase());
  }
  for (const invalid of [
    "a1lqfn3q", // wrong checksum
    "abc1rzg", // too short
    "A1LQfN3A", // mixed case
    "1qyrz8wqd2c9m", // empty hrp
    "A1G7SGD8", // bech32 (not bech32m) checksum
  ]) {
    assert.throws(() => bech32mDecode(invalid), Error, invalid);
  }
  assert.throws(() => parseAddress(bech32mEncode("other", new Uint8Array(20))), /prefix urbis1/);
  assert.throws(() => parseAddress(bech32mEncode("urbis", new Uint8Array(21))), /20 bytes/);
});

// Shapes schemars gives that the chain's call schemas do not use (yet).
test("other schema shapes encode as borsh", () => {
  const u8 = { type: "integer", format: "uint8", minimum: 0, maximum: 255 };
  // [u8; 3]: no length prefix.
  assert.equal(hex(encodeValue({ type: "array", items: u8, minItems: 3, maxItems: 3 }, [1, 2, 3])), "010203");
  mismatch(() => encodeValue({ type: "array", items: u8, minItems: 3, maxItems: 3 }, [1, 2]), /fewer than 3/);
  // Vec<u8> as numbers.
  assert.equal(hex(encodeValue({ type: "array", items: u8 }, [1, 2])), "020000000102");
  // (u8, String) tuple.
  const tuple = { type: "array", prefixItems: [u8, { type: "string" }], minItems: 2, maxItems: 2 };
  assert.equal(hex(encodeValue(tuple, [7, "é"])), "0702000000c3a9");
  // BTreeMap<String, u8>: entries sorted by key.
  assert.equal(hex(encodeValue({ type: "object", additionalProperties: u8 }, { b: 2, a: 1 })), "02000000" + "0100000061" + "01" + "0100000062" + "02");
  // Option<T> written as anyOf with null; i16 and u128.
  const opt = { anyOf: [{ type: "integer", format: "int16" }, { type: "null" }] };
  assert.equal(hex(encodeValue(opt, null)), "00");
  assert.equal(hex(encodeValue(opt, -2)), "01feff");
  assert.equal(hex(encodeValue({ type: "integer", format: "uint128" }, 2n ** 64n)), "0000000000000000" + "0100000000000000");
  // f64.
  assert.equal(hex(encodeValue({ type: "number", format: "double" }, 1.5)), "000000000000f83f");
  // Externally tagged enum of data variants: the index is the position.
  const ext = {
    oneOf: [
      { type: "object", properties: { A: u8 }, required: ["A"], additionalProperties: false },
      { type: "object", properties: { B: { type: "string" } }, required: ["B"], additionalProperties: false },
    ],
  };
  assert.equal(hex(encodeValue(ext, { B: "x" })), "010100000078");
  // Unit variants grouped ahead of data variants lose their declaration order: refused.
  const mixed = { oneOf: [{ type: "string", enum: ["U", "V"] }, ext.oneOf[0]] };
  assert.throws(() => encodeValue(mixed, "U"), UnsupportedSchema);
  // An optional field without a default in the schema cannot be filled in: refused.
  const noDefault = { type: "object", properties: { a: u8 }, additionalProperties: false };
  assert.throws(() => encodeValue(noDefault, {}), UnsupportedSchema);
  assert.equal(hex(encodeValue(noDefault, { a: 4 })), "04");
  // A set of strings: sorted by UTF-8 bytes, duplicates refused.
  const set = { type: "array", items: { type: "string" }, uniqueItems: true };
  assert.equal(hex(encodeValue(set, ["b", "a"])), "02000000" + "0100000061" + "0100000062");
  mismatch(() => encodeValue(set, ["a", "a"]), /duplicate/);
});

test("the borsh writer checks integer ranges", () => {
  assert.equal(hex(new Writer().int("i8", -1).int("u16", 0x1234).finish()), "ff3412");
  assert.throws(() => new Writer().int("u8", 256), RangeError);
  assert.throws(() => new Writer().int("i8", -129), RangeError);
  assert.throws(() => new Writer().u64(2 ** 53), RangeError);
  assert.equal(hex(new Writer().u64(2n ** 63n).finish()), "0000000000000080");
});
