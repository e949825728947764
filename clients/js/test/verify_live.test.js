// verify.js against a running node: fresh `?prove=true` answers, honest and tampered.
// Skipped unless URBIS_VERIFY_NODE names the node (e.g. http://127.0.0.1:8545). Also:
//   URBIS_VERIFY_QUERY        query paths (`module/path...`), comma-separated (at least one)
//   URBIS_VERIFY_TX           committed transaction hashes, comma-separated (optional)
//   URBIS_VERIFY_MIN_SIGNERS  fewest certificate signatures expected (default 1)
// crates/cli/tests/proof_vectors.rs runs this against a dev node and a 4-validator network.
import { test } from "node:test";
import assert from "node:assert/strict";

import { trustFromGenesis, verifyQueryAnswer, verifyTxAnswer } from "../verify.js";

const node = process.env.URBIS_VERIFY_NODE;
const list = (name) => (process.env[name] || "").split(",").filter(Boolean);
const skip = node ? false : "URBIS_VERIFY_NODE is not set";

async function get(path) {
  const r = await fetch(`${node}${path}`);
  const body = await r.text();
  assert.equal(r.status, 200, `${path}: ${body}`);
  return JSON.parse(body);
}

/** Flip the lowest bit of the last byte of a hex string. */
function flipLast(text) {
  const last = parseInt(text.slice(-2), 16) ^ 1;
  return text.slice(0, -2) + last.toString(16).padStart(2, "0");
}

test("fresh query and transaction proofs from a live node verify", { skip }, async () => {
  const trust = trustFromGenesis(await get("/v1/genesis"));
  const minSigners = Number(process.env.URBIS_VERIFY_MIN_SIGNERS || 1);
  const queries = list("URBIS_VERIFY_QUERY");
  assert.ok(queries.length > 0, "URBIS_VERIFY_QUERY names at least one query");
  for (const path of queries) {
    const answer = await get(`/v1/query/${path}?prove=true`);
    const r = await verifyQueryAnswer(answer, trust);
    assert.equal(r.ok, true, `${path}: ${r.step}: ${r.reason}`);
    assert.equal(r.validators, trust.validators.length);
    assert.ok(r.signers >= minSigners, `${path}: ${r.signers} signers`);
    // The same answer, tampered: the proven value, then the certificate, no longer holds.
    const t = structuredClone(answer);
    t.proof.state.value = t.proof.state.value === null ? "00" : flipLast(t.proof.state.value);
    assert.equal((await verifyQueryAnswer(t, trust)).step, "state-proof", path);
    const f = structuredClone(answer);
    f.proof.finalization = flipLast(f.proof.finalization);
    assert.equal((await verifyQueryAnswer(f, trust)).step, "certificate", path);
  }
  for (const hash of list("URBIS_VERIFY_TX")) {
    const answer = await get(`/v1/txs/${hash}?prove=true`);
    const r = await verifyTxAnswer(answer, trust);
    assert.equal(r.ok, true, `${hash}: ${r.step}: ${r.reason}`);
    assert.equal(r.tx_hash, hash);
    const t = structuredClone(answer);
    t.proof.receipt.weight += 1;
    assert.equal((await verifyTxAnswer(t, trust)).step, "anchor", hash);
  }
});
