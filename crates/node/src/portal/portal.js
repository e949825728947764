// The portal's one script: every *verify* control fetches the proof of what the page shows and
// checks it here, in the browser, with the JavaScript client's verifier (clients/js/verify.js,
// served at /js/verify.js): the state proof against the certified root, the header chain, and
// the finalization certificate against the validator set of the genesis (WebCrypto SHA-256 and
// Ed25519). The genesis comes from this node; its hash is shown with every verdict so that a
// reader can compare it with the one the city publishes. Without scripts the controls stay
// hidden and the pages work as before.
import { trustFromGenesis, verifyQueryAnswer, verifyTxAnswer } from "/js/verify.js";
import { hex, sha256 } from "/js/bytes.js";

let trust = null;

async function getTrust() {
  if (trust === null) {
    const r = await fetch("/v1/genesis");
    if (!r.ok) throw new Error(`the genesis could not be fetched (HTTP ${r.status})`);
    const text = await r.text();
    const t = trustFromGenesis(JSON.parse(text));
    if (!t || !Array.isArray(t.validators)) throw new Error("the genesis names no validator set");
    trust = { ...t, fingerprint: hex(await sha256(new TextEncoder().encode(text))).slice(0, 16) };
  }
  return trust;
}

function answerUrl(el) {
  if (el.dataset.tx) return `/v1/txs/${encodeURIComponent(el.dataset.tx)}?prove=true`;
  const path = el.dataset.path.split("/").map(encodeURIComponent).join("/");
  return `/v1/query/${encodeURIComponent(el.dataset.module)}/${path}?prove=true`;
}

async function check(el, out) {
  el.classList.remove("verified", "failed");
  out.textContent = "checking…";
  try {
    const t = await getTrust();
    const r = await fetch(answerUrl(el));
    const answer = await r.json();
    if (!r.ok) {
      throw new Error(`the node answered ${r.status}: ${answer.code ?? ""} ${answer.detail ?? answer.title ?? ""}`);
    }
    const v = el.dataset.tx ? await verifyTxAnswer(answer, t) : await verifyQueryAnswer(answer, t);
    if (v.ok) {
      el.classList.add("verified");
      const what = el.dataset.tx ? "receipt" : v.value_hex === null ? "absence" : "value";
      out.textContent = `verified: this ${what} is final at height ${v.height}, ` +
        `certified by ${t.validators.length === 1 ? "the validator" : "a quorum of the " +
        t.validators.length + " validators"} of the genesis (fingerprint ${t.fingerprint})`;
    } else {
      el.classList.add("failed");
      out.textContent = `failed (${v.step}): ${v.reason}`;
    }
  } catch (e) {
    el.classList.add("failed");
    out.textContent = `failed: ${e.message}`;
  }
}

/** Make a verify control (`span.verify` with a button and an output) work. */
export function attach(el) {
  const button = el.querySelector("button");
  const out = el.querySelector("output");
  button.hidden = false;
  button.addEventListener("click", () => check(el, out));
}

/** A new verify control for `module`'s query `path` (segments joined by `/`), or for a
 * transaction's receipt (`{tx: hash}`). */
export function verifyControl(module, path) {
  const el = document.createElement("span");
  el.className = "verify";
  if (typeof module === "object") el.dataset.tx = module.tx;
  else {
    el.dataset.module = module;
    el.dataset.path = path;
  }
  const button = document.createElement("button");
  button.type = "button";
  button.textContent = "verify";
  el.append(button, document.createElement("output"));
  el.querySelector("output").setAttribute("aria-live", "polite");
  attach(el);
  return el;
}

for (const el of document.querySelectorAll(".verify")) attach(el);
