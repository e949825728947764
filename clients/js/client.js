// Talking to an Urbis node over its HTTP API (`/v1/...`): status, nonces, module schemas,
// submitting signed transactions, waiting for them, queries and the server-sent event stream.
// Plain ES module; runs unchanged in a browser and in Node (≥ 20), with `fetch` only.

import { hex, unhex } from "./bytes.js";
import { encodeCall } from "./calls.js";
import { addressText, encodeSignedTx, signTx, txIdHex } from "./tx.js";

/** An error answer from a node (RFC 9457 problem JSON): `code` is its stable error code. */
export class UrbisError extends Error {
  constructor(problem, status) {
    super(`${problem.code ?? "error"}: ${problem.detail ?? problem.title ?? `HTTP ${status}`}`);
    this.name = "UrbisError";
    this.code = problem.code ?? "internal";
    this.status = status;
    this.problem = problem;
  }
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function addressArg(address) {
  return address instanceof Uint8Array ? addressText(address) : String(address);
}

/** The messages of a server-sent event stream: `{ event, id, data }` (`data` as text). */
async function* sseMessages(body) {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  let message = { event: "message", id: undefined, data: [] };
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += value;
      let nl;
      while ((nl = buffer.search(/\r\n|\r|\n/)) >= 0) {
        const line = buffer.slice(0, nl);
        buffer = buffer.slice(nl + (buffer.startsWith("\r\n", nl) ? 2 : 1));
        if (line === "") {
          if (message.data.length > 0) {
            yield { event: message.event, id: message.id, data: message.data.join("\n") };
          }
          message = { event: "message", id: message.id, data: [] };
          continue;
        }
        if (line.startsWith(":")) continue; // a comment: keep-alive
        const colon = line.indexOf(":");
        const field = colon < 0 ? line : line.slice(0, colon);
        let v = colon < 0 ? "" : line.slice(colon + 1);
        if (v.startsWith(" ")) v = v.slice(1);
        if (field === "event") message.event = v;
        else if (field === "data") message.data.push(v);
        else if (field === "id") message.id = v;
      }
    }
  } finally {
    await reader.cancel().catch(() => {});
  }
}

/** A server-sent event stream of a node (see `UrbisClient.events`). */
export class EventStream {
  constructor(response, controller) {
    this.controller = controller;
    /** Resolves when the node has answered (and subscribed the stream); rejects with its error. */
    this.ready = response.then(() => undefined);
    this.ready.catch(() => {});
    this.messages = EventStream.read(response);
  }

  static async *read(response) {
    const res = await response;
    for await (const m of sseMessages(res.body)) {
      let data;
      try {
        data = JSON.parse(m.data);
      } catch {
        data = m.data;
      }
      yield { event: m.event, id: m.id, data };
    }
  }

  [Symbol.asyncIterator]() {
    return this;
  }

  /** The next message (`{ done: true }` once closed). */
  async next() {
    try {
      return await this.messages.next();
    } catch (e) {
      if (this.controller.signal.aborted) return { done: true, value: undefined };
      throw e;
    }
  }

  /** Ends the stream (what `break` in a `for await` loop calls). */
  async return(value) {
    this.close();
    try {
      await this.messages.return(value);
    } catch {
      // The request was aborted: nothing more to release.
    }
    return { done: true, value };
  }

  /** Closes the connection. */
  close() {
    this.controller.abort();
  }
}

/** A client of one node, e.g. `new UrbisClient("http://127.0.0.1:8080")`. */
export class UrbisClient {
  /**
   * `options.fetch` replaces the global `fetch`; `options.pollMs` is how often `waitForTx`
   * asks (default 200 ms).
   */
  constructor(baseUrl, options = {}) {
    this.base = String(baseUrl).replace(/\/+$/, "");
    this.fetch = options.fetch ?? globalThis.fetch.bind(globalThis);
    this.pollMs = options.pollMs ?? 200;
    this.modules = new Map();
    this.chainRef = undefined;
  }

  /** A request to the node; answers JSON, throws `UrbisError` on a problem answer. */
  async request(path, init = {}) {
    const res = await this.fetch(this.base + path, {
      ...init,
      headers: { accept: "application/json", ...(init.headers ?? {}) },
    });
    const text = await res.text();
    let body;
    try {
      body = text ? JSON.parse(text) : null;
    } catch {
      body = null;
    }
    if (!res.ok) {
      throw new UrbisError(body && typeof body === "object" ? body : { detail: text.slice(0, 200) }, res.status);
    }
    if (body === null && text) throw new Error(`${path}: the node did not answer JSON`);
    return body;
  }

  /** `GET /v1/status`: chain id, height, genesis hash, validators, … */
  status() {
    return this.request("/v1/status");
  }

  /** `GET /v1/genesis`. */
  genesis() {
    return this.request("/v1/genesis");
  }

  /** What transactions are signed for: `{ chainId, genesisHash }` (bytes), asked once. */
  async chain() {
    if (!this.chainRef) {
      const s = await this.status();
      this.chainRef = { chainId: s.chain_id, genesisHash: unhex(s.genesis_hash) };
    }
    return this.chainRef;
  }

  /** The nonce the next transaction of `address` (text or 20 bytes) must carry: `next_nonce`
   * of `GET /v1/nonce/{address}`, which counts the sender's pending transactions too. */
  async nonce(address) {
    const answer = await this.request(`/v1/nonce/${encodeURIComponent(addressArg(address))}`);
    return answer.next_nonce;
  }

  /** `GET /v1/modules/{name}`: the module's calls (`call_schema`), queries and events; cached. */
  async module(name) {
    if (!this.modules.has(name)) {
      const p = this.request(`/v1/modules/${encodeURIComponent(name)}`);
      this.modules.set(name, p);
      p.catch(() => this.modules.delete(name));
    }
    return this.modules.get(name);
  }

  /**
   * Submit a signed transaction (as made by `signTx`) in its borsh form. Answers
   * `{ hash, status: "pending" }`; with `{ wait: true }` the node answers when the
   * transaction is executed. Throws if the node's hash is not the one computed here.
   */
  async submit(signedTx, { wait = false } = {}) {
    const bytes = encodeSignedTx(signedTx);
    const answer = await this.request(`/v1/txs${wait ? "?wait=true" : ""}`, {
      method: "POST",
      headers: { "content-type": "application/octet-stream" },
      body: bytes,
    });
    const id = await txIdHex(signedTx);
    if (answer.hash !== id) throw new Error(`the node computed transaction id ${answer.hash}, not ${id}`);
    return answer;
  }

  /** `GET /v1/txs/{hash}`: pending, or committed with its receipt (`{ prove: true }` adds a
   * receipt proof). */
  tx(hash, { prove = false } = {}) {
    const h = hash instanceof Uint8Array ? hex(hash) : hash;
    return this.request(`/v1/txs/${encodeURIComponent(h)}${prove ? "?prove=true" : ""}`);
  }

  /**
   * Poll until the transaction is committed; answers `{ hash, status: "committed", height,
   * index, receipt }` (`receipt.success` says whether its call took effect). Throws
   * `UrbisError` `timeout` after `timeoutMs` (default 30 s), or `not_found` when the node
   * no longer knows the transaction (it was dropped).
   */
  async waitForTx(hash, { timeoutMs = 30_000, intervalMs = this.pollMs } = {}) {
    const deadline = Date.now() + timeoutMs;
    let missing = 0;
    for (;;) {
      try {
        const answer = await this.tx(hash);
        if (answer.status === "committed") return answer;
        missing = 0;
      } catch (e) {
        // Between leaving the mempool and being indexed a transaction may briefly be neither.
        if (!(e instanceof UrbisError && e.code === "not_found") || ++missing > 5) throw e;
      }
      if (Date.now() >= deadline) {
        throw new UrbisError({ code: "timeout", detail: `transaction ${hash} not committed within ${timeoutMs} ms` }, 504);
      }
      await sleep(intervalMs);
    }
  }

  /**
   * `GET /v1/query/{module}/{path}`: `path` as a string (`"balance/EURc/urbis1…"`) or an
   * array of segments. `{ prove: true }` asks for a proof bundle (single keys); `limit` and
   * `cursor` page a list query.
   */
  query(module, path, { prove = false, limit, cursor } = {}) {
    const segments = Array.isArray(path) ? path : String(path).split("/").filter((s) => s !== "");
    const params = new URLSearchParams();
    if (prove) params.set("prove", "true");
    if (limit !== undefined) params.set("limit", String(limit));
    if (cursor !== undefined) params.set("cursor", cursor);
    const q = params.toString();
    return this.request(
      `/v1/query/${encodeURIComponent(module)}/${segments.map((s) => encodeURIComponent(String(s))).join("/")}${q ? `?${q}` : ""}`,
    );
  }

  /**
   * The live event stream `GET /v1/events`: an `EventStream`, iterated with `for await` over
   * messages `{ event, id, data }` (`data` parsed). Without a filter: one `block` message per
   * executed block (its receipts and end-of-block events). With a filter — `module`, `kind`
   * (needs `module`), `account`, `object` — one `event` message per matching event
   * (`{height, tx_hash, tx_index, event}`). `lagged` says how many blocks a slow reader
   * missed. The request starts at once; `await stream.ready` resolves once the node has
   * subscribed it. Leaving the loop, `stream.close()` or aborting `options.signal` ends it.
   */
  events(filter = {}, { signal } = {}) {
    const params = new URLSearchParams();
    for (const name of ["module", "kind", "account", "object"]) {
      if (filter[name] !== undefined) params.set(name, name === "account" ? addressArg(filter[name]) : String(filter[name]));
    }
    const q = params.toString();
    const controller = new AbortController();
    if (signal) {
      if (signal.aborted) controller.abort(signal.reason);
      else signal.addEventListener("abort", () => controller.abort(signal.reason), { once: true });
    }
    const response = this.fetch(`${this.base}/v1/events${q ? `?${q}` : ""}`, {
      headers: { accept: "text/event-stream" },
      signal: controller.signal,
    }).then(async (res) => {
      if (res.ok) return res;
      const text = await res.text();
      let problem;
      try {
        problem = JSON.parse(text);
      } catch {
        problem = { detail: text.slice(0, 200) };
      }
      throw new UrbisError(problem, res.status);
    });
    return new EventStream(response, controller);
  }

  /**
   * Build, sign and submit a call in one step: `json` is the call's JSON form, encoded with
   * the module's schema from the node; the nonce is the signer's next one. Answers the
   * transaction id (hex); `waitForTx` follows it.
   */
  async send(key, module, json) {
    const [description, chain, nonce] = await Promise.all([this.module(module), this.chain(), this.nonce(key.address)]);
    const data = encodeCall(description.call_schema, json);
    const tx = await signTx(key, { chainId: chain.chainId, nonce, call: { module, data } }, chain.genesisHash);
    const answer = await this.submit(tx);
    return answer.hash;
  }
}
