// The client against a live dev node (skipped unless URBIS_NODE is set):
//   URBIS_NODE=http://127.0.0.1:8080 URBIS_ADMIN_SEED=<hex> node --test clients/js/test/live.test.js
// The admin's seed comes from URBIS_ADMIN_SEED, or from `dev-keys.json` in URBIS_DEV_DIR (the
// data directory of `urbis dev`). crates/cli/tests/js_client.rs runs this against a fresh node.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { join } from "node:path";

import { UrbisClient, UrbisError } from "../client.js";
import { encodeCall } from "../calls.js";
import { SigningKey, signTx, txIdHex } from "../tx.js";

const NODE = process.env.URBIS_NODE;
const skip = NODE ? false : "set URBIS_NODE to a dev node's URL to run";

async function adminSeed() {
  if (process.env.URBIS_ADMIN_SEED) return process.env.URBIS_ADMIN_SEED.trim();
  if (process.env.URBIS_DEV_DIR) {
    const keys = JSON.parse(await readFile(join(process.env.URBIS_DEV_DIR, "dev-keys.json"), "utf8"));
    return keys.admin_seed;
  }
  throw new Error("set URBIS_ADMIN_SEED (hex) or URBIS_DEV_DIR to the dev admin's key");
}

/** The next message of `stream` satisfying `pick`, or a failure after `ms`. */
async function nextMatching(stream, pick, ms) {
  const timer = setTimeout(() => stream.close(), ms);
  try {
    for await (const m of stream) if (pick(m)) return m;
    throw new Error("event stream ended without the expected message");
  } finally {
    clearTimeout(timer);
  }
}

function attribute(event, name) {
  return event.attributes.find(([k]) => k === name)?.[1];
}

test("a call made from JSON commits, streams its event and changes the state", { skip, timeout: 120_000 }, async () => {
  const client = new UrbisClient(NODE, { pollMs: 50 });
  const admin = await SigningKey.fromSeed(await adminSeed());
  const status = await client.status();
  assert.equal(typeof status.chain_id, "string");
  const roles = await client.query("accounts", ["account", admin.addressText]);
  assert.ok(JSON.stringify(roles.value).includes("city_admin"), "the seed is the dev admin's");

  const symbol = `JS${Date.now().toString(36).toUpperCase().slice(-8)}`;
  // Subscribed before sending, so the event cannot be missed.
  const created = client.events({ module: "assets", kind: "asset_created" });
  const blocks = client.events();
  try {
    await Promise.all([created.ready, blocks.ready]);
    await createIssueAndEscrow(client, admin, symbol, created, blocks);
  } finally {
    created.close();
    blocks.close();
  }
});

async function createIssueAndEscrow(client, admin, symbol, created, blocks) {
  const hash = await client.send(admin, "assets", { call: "create_asset", symbol, name: "Client test ✓", decimals: 2 });
  assert.match(hash, /^[0-9a-f]{64}$/);
  const done = await client.waitForTx(hash);
  assert.equal(done.status, "committed");
  assert.equal(done.receipt.success, true, JSON.stringify(done.receipt.error));

  const ev = await nextMatching(created, (m) => m.event === "event" && m.data.tx_hash === hash, 30_000);
  assert.equal(ev.data.event.module, "assets");
  assert.equal(ev.data.event.kind, "asset_created");
  assert.equal(attribute(ev.data.event, "asset"), symbol);
  assert.equal(attribute(ev.data.event, "issuer"), admin.addressText);
  assert.equal(Number(ev.id), done.height);
  const block = await nextMatching(blocks, (m) => m.event === "block" && m.data.receipts.some((r) => r.tx_hash === hash), 30_000);
  assert.equal(block.data.height, done.height);

  const asset = await client.query("assets", `asset/${symbol}`);
  assert.equal(asset.value.name, "Client test ✓");
  assert.equal(asset.value.decimals, 2);
  assert.equal(asset.value.issuer, admin.addressText);
  const proven = await client.query("assets", ["asset", symbol], { prove: true });
  assert.ok(proven.proof, "a proof bundle");
  assert.deepEqual(proven.value, asset.value);

  // Built by hand: issue, then an escrow with its optional field set (field order matters).
  const { call_schema: schema } = await client.module("assets");
  const chain = await client.chain();
  let nonce = await client.nonce(admin.address);
  const payee = await SigningKey.generate();
  const calls = [
    { call: "issue", symbol, to: admin.addressText, amount: 1000 },
    { call: "escrow", symbol, to: payee.addressText, amount: 250, expires_ms: Date.now() + 3_600_000 },
  ];
  for (const json of calls) {
    const tx = await signTx(admin, { chainId: chain.chainId, nonce: nonce++, call: { module: "assets", data: encodeCall(schema, json) } }, chain.genesisHash);
    const answer = await client.submit(tx, { wait: true });
    assert.equal(answer.status, "committed");
    assert.equal(answer.hash, await txIdHex(tx));
    assert.equal(answer.receipt.success, true, JSON.stringify(answer.receipt.error));
  }
  const balance = await client.query("assets", ["balance", symbol, admin.addressText]);
  assert.equal(JSON.stringify(balance.value).includes("750"), true, JSON.stringify(balance.value));
  const holds = await client.query("assets", "holds", { limit: 100 });
  assert.ok(
    holds.items.some((h) => JSON.stringify(h).includes(payee.addressText)),
    "the escrow hold is listed",
  );
}

test("error answers carry the node's stable code", { skip, timeout: 60_000 }, async () => {
  const client = new UrbisClient(NODE);
  await assert.rejects(client.nonce("urbis1notanaddress"), (e) => e instanceof UrbisError && e.code === "invalid_argument");
  await assert.rejects(client.query("nowhere", "x"), (e) => e instanceof UrbisError && e.code === "unknown_module");
  await assert.rejects(client.module("nowhere"), (e) => e instanceof UrbisError && e.code === "unknown_module");
  await assert.rejects(client.tx("00".repeat(32)), (e) => e instanceof UrbisError && e.code === "not_found");
  const key = await SigningKey.generate();
  const chain = await client.chain();
  const wrong = await signTx(key, { chainId: `${chain.chainId}-other`, nonce: 0, call: { module: "assets", data: new Uint8Array([0]) } }, chain.genesisHash);
  await assert.rejects(client.submit(wrong), (e) => e instanceof UrbisError && e.code === "wrong_chain_id" && e.status >= 400);
  const s = client.events({ kind: "x" });
  await assert.rejects(s.ready, (e) => e instanceof UrbisError && e.code === "invalid_argument");
});
