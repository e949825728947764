// Every proof-bundle vector in clients/vectors/proofs gets exactly its expected verdict from
// verify.js, and malformed input is refused without throwing. Run: node --test clients/js/test/
import { test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

import {
  quorum, trustFromGenesis, verifyQueryAnswer, verifyReceiptBundle, verifyStateBundle,
  verifyTxAnswer,
} from "../verify.js";

const dir = fileURLToPath(new URL("../../vectors/proofs/", import.meta.url));
const vectors = readdirSync(dir)
  .filter((f) => f.endsWith(".json"))
  .sort()
  .map((f) => ({ file: f, ...JSON.parse(readFileSync(dir + f, "utf8")) }));

const verifierOf = (kind) =>
  ({ state: verifyStateBundle, receipt: verifyReceiptBundle })[kind];

test("the vectors cover honest and tampered state and receipt bundles", () => {
  for (const kind of ["state", "receipt"]) {
    assert.ok(vectors.some((v) => v.kind === kind && v.expect === "valid"), `a valid ${kind}`);
    assert.ok(vectors.some((v) => v.kind === kind && v.expect !== "valid"), `an invalid ${kind}`);
  }
  const classes = new Set(vectors.filter((v) => v.expect !== "valid").map((v) => v.expect.invalid));
  for (const c of ["state-proof", "anchor", "header-chain", "certificate", "chain-id", "version", "trust"]) {
    assert.ok(classes.has(c), `a vector of class ${c}`);
  }
});

for (const v of vectors) {
  test(`${v.file}: ${v.description}`, async () => {
    const verify = verifierOf(v.kind);
    assert.ok(verify, `unknown kind ${v.kind}`);
    const r = await verify(v.bundle, v.trust);
    if (v.expect === "valid") {
      assert.equal(r.ok, true, `expected valid, got ${r.step}: ${r.reason}`);
      assert.equal(typeof r.height, "number");
    } else {
      assert.equal(r.ok, false, `expected ${v.expect.invalid}, got valid`);
      assert.equal(r.step, v.expect.invalid, `expected ${v.expect.invalid}, got ${r.step}: ${r.reason}`);
      assert.equal(typeof r.reason, "string");
    }
  });
}

test("garbage never throws and is malformed", async () => {
  const good = vectors.find((v) => v.kind === "state" && v.expect === "valid");
  const inputs = [null, 7, "bundle", [], {}, { ...good.bundle, headers: "x" },
    { ...good.bundle, state_height: -1 }, { ...good.bundle, state: { ...good.bundle.state, proof: "zz" } }];
  for (const input of inputs) {
    for (const verify of [verifyStateBundle, verifyReceiptBundle]) {
      const r = await verify(input, good.trust);
      assert.equal(r.ok, false);
      assert.ok(["malformed", "version", "chain-id"].includes(r.step), `${JSON.stringify(input)?.slice(0, 40)}: ${r.step}`);
    }
  }
  for (const trust of [null, {}, { chain_id: good.trust.chain_id, validators: [] },
    { chain_id: good.trust.chain_id, validators: ["ed25519:00"] }]) {
    const r = await verifyStateBundle(good.bundle, trust);
    assert.equal(r.ok, false);
    assert.equal(r.step, "trust");
  }
});

test("a trust list naming a validator twice is refused", async () => {
  const good = vectors.find((v) => v.kind === "state" && v.expect === "valid");
  const k = good.trust.validators[0];
  const r = await verifyStateBundle(good.bundle, { ...good.trust, validators: [k, k] });
  assert.deepEqual([r.ok, r.step], [false, "trust"]);
});

test("query and transaction answers must match what their bundles prove", async () => {
  const state = vectors.find((v) => v.kind === "state" && v.expect === "valid" && v.bundle.state.value !== null);
  const key = Buffer.from(state.bundle.state.key, "hex").toString("utf8");
  const answer = { key, height: state.bundle.state_height, proof: state.bundle };
  assert.equal((await verifyQueryAnswer(answer, state.trust)).ok, true);
  assert.equal((await verifyQueryAnswer({ ...answer, key: key + "x" }, state.trust)).step, "answer");
  assert.equal((await verifyQueryAnswer({ ...answer, height: answer.height + 1 }, state.trust)).step, "answer");
  assert.equal((await verifyQueryAnswer({ key, height: 1 }, state.trust)).step, "malformed");

  const rec = vectors.find((v) => v.kind === "receipt" && v.expect === "valid");
  const r = rec.bundle.receipt;
  const tx = { hash: r.tx_hash, height: r.height, index: r.index, receipt: r, proof: rec.bundle };
  assert.equal((await verifyTxAnswer(tx, rec.trust)).ok, true);
  assert.equal((await verifyTxAnswer({ ...tx, hash: "00".repeat(32) }, rec.trust)).step, "answer");
  assert.equal((await verifyTxAnswer({ ...tx, receipt: { ...r, weight: r.weight + 1 } }, rec.trust)).step, "answer");
});

test("trust comes from the genesis document and quorum is n - floor((n - 1) / 3)", () => {
  const t = trustFromGenesis({
    chain_id: "c", genesis_time_ms: 0,
    validators: [{ name: "a", public_key: "ed25519:" + "11".repeat(32), address: "" }],
  });
  assert.deepEqual(t, { chain_id: "c", validators: ["ed25519:" + "11".repeat(32)] });
  assert.throws(() => trustFromGenesis({ chain_id: "c" }));
  assert.deepEqual([1, 2, 3, 4, 5, 6, 7, 10].map(quorum), [1, 2, 3, 3, 4, 5, 5, 7]);
});
