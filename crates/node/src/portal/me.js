// "My city": the signed-in resident's view. The resident's key is a 32-byte Ed25519 seed held
// in this browser (sessionStorage, for this tab only): it is never sent anywhere; the page
// derives the account from it, reads the chain's public answers about that account, and signs
// in the page what the resident chooses to sign (a petition). Their wallet (`dids.json`, as
// the CLI keeps it) and credentials (SD-JWT VC files) are opened from disk and read here, in
// the page: nothing of them leaves the browser either.
import { SigningKey } from "/js/tx.js";
import { UrbisClient } from "/js/client.js";
import { verifyControl } from "/portal/portal.js";
import { hex, sha256Domain, unhex, utf8 } from "/js/bytes.js";

const client = new UrbisClient(location.origin);
const SEED = "urbis.me.seed";
const $ = (id) => document.getElementById(id);

function el(tag, text, attrs = {}) {
  const e = document.createElement(tag);
  if (text !== undefined && text !== null) e.textContent = String(text);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  return e;
}

function link(href, text) {
  return el("a", text, { href });
}

/** A table with a header row and `rows` (arrays of strings or nodes). */
function table(head, rows) {
  const t = el("table");
  const hr = el("tr");
  for (const h of head) hr.append(el("th", h, { scope: "col" }));
  t.append(el("thead"));
  t.tHead.append(hr);
  const body = el("tbody");
  for (const r of rows) {
    const tr = el("tr");
    for (const c of r) {
      const td = el("td");
      td.append(c instanceof Node ? c : document.createTextNode(String(c)));
      tr.append(td);
    }
    body.append(tr);
  }
  t.append(body);
  return t;
}

async function maybe(promise) {
  try {
    return await promise;
  } catch {
    return null;
  }
}

function section(id, ...children) {
  const s = $(id);
  s.replaceChildren(...children);
  s.hidden = false;
}

async function showAccount(key) {
  const a = key.addressText;
  const account = await maybe(client.query("accounts", ["account", a]));
  const rewards = await maybe(client.query("rewards", ["balance", a]));
  const assets = (await maybe(client.query("assets", ["assets"])))?.items ?? [];
  const rows = [];
  for (const asset of assets) {
    const b = await maybe(client.query("assets", ["balance", asset.symbol, a]));
    if (b?.value?.amount) rows.push([asset.symbol, b.value.amount, verifyControl("assets", `balance/${asset.symbol}/${a}`)]);
  }
  for (const [program, n] of Object.entries(rewards?.value?.by_program ?? {})) {
    rows.push([`reward tokens of program ${program}`, n, verifyControl("rewards", `balance/${a}`)]);
  }
  const facts = el("dl", null, { class: "facts" });
  facts.append(el("dt", "Account"), el("dd"));
  facts.lastChild.append(link(`/accounts/${a}`, a));
  facts.append(el("dt", "Roles"), el("dd", (account?.value?.roles ?? []).join(", ") || "none"));
  if (account) facts.lastChild.append(" ", verifyControl("accounts", `account/${a}`));
  section("me-account", el("h2", "Your account"), facts,
    rows.length ? table(["Holding", "Amount", "Proof"], rows) : el("p", "No balance."));
}

async function showDids(key) {
  const found = await maybe(client.request(
    `/v1/events/search?module=identity&kind=created&account=${key.addressText}&limit=20`));
  const rows = (found?.events ?? []).map((e) => {
    const did = (e.event.attributes.find(([k]) => k === "did") ?? [])[1]?.replace(/"/g, "");
    return [link(`/dids/${did}`, did), link(`/txs/${e.tx_hash}`, `block ${e.height}`),
      verifyControl("identity", `did/${did}`)];
  });
  section("me-dids", el("h2", "Your DIDs"),
    rows.length ? table(["DID", "Created", "Proof"], rows) : el("p", "You have created no DID."));
}

function b64urlJson(part) {
  const b64 = part.replace(/-/g, "+").replace(/_/g, "/");
  const bin = atob(b64 + "=".repeat((4 - (b64.length % 4)) % 4));
  return JSON.parse(new TextDecoder().decode(Uint8Array.from(bin, (c) => c.charCodeAt(0))));
}

/** An SD-JWT (`jwt~disclosure~…~`): the issuer-signed payload and the disclosed claims. */
function readSdJwt(text) {
  const parts = text.trim().split("~");
  const jwt = parts[0].split(".");
  if (jwt.length !== 3) throw new Error("not an SD-JWT (no compact JWT before the first ~)");
  const payload = b64urlJson(jwt[1]);
  const claims = {};
  for (const d of parts.slice(1).filter((p) => p && !p.includes("."))) {
    const [, name, value] = b64urlJson(d);
    claims[name] = value;
  }
  return { payload, claims };
}

async function showCredentials(files) {
  const rows = [];
  for (const f of files) {
    try {
      const { payload, claims } = readSdJwt(await f.text());
      const ref = payload.status?.status_list;
      let status = "no status entry";
      if (ref) {
        // `urn:urbis:status-list:<id>`: the list's number ends the URI.
        const list = (String(ref.uri).match(/(\d+)$/) ?? [])[1];
        const s = await maybe(client.request(`/v1/status-lists/${encodeURIComponent(list)}?idx=${ref.idx}`));
        status = s ? (s.status === 0 ? "valid" : s.status === 1 ? "revoked" : `status ${s.status}`) : "status unknown";
        status += ` (list ${list}, entry ${ref.idx})`;
      }
      const until = payload.exp ? new Date(payload.exp * 1000).toISOString().slice(0, 10) : "no expiry";
      const shown = Object.entries(claims).map(([k, v]) => `${k}: ${JSON.stringify(v)}`).join("; ");
      rows.push([payload.vct ?? "?", link(`/dids/${payload.iss}`, payload.iss), until, status, shown || "none disclosed"]);
    } catch (e) {
      rows.push([f.name, "", "", `not read: ${e.message}`, ""]);
    }
  }
  section("me-credentials", el("h2", "Your credentials"),
    rows.length ? table(["Type", "Issuer", "Valid until", "Status", "Claims"], rows) : el("p", "No credential opened."));
}

/** The commitment to a scope item under a grant's salt (the consent module's
 * `scope_commitment`: SHA-256 with domain `urbis/consent-scope/v1` of salt ‖ item). */
async function scopeCommitment(saltHex, item) {
  return hex(await sha256Domain("urbis/consent-scope/v1", unhex(saltHex), utf8(item)));
}

async function showGrants(wallet) {
  const grants = (wallet?.consent ?? []).filter((r) => r.side === "grantor" && r.grant);
  const parts = [el("h2", "Your consent grants and who used them")];
  if (!grants.length) parts.push(el("p", "No grant in this wallet."));
  for (const g of grants) {
    const grant = await maybe(client.query("consent", ["grant", g.grant]));
    const uses = (await maybe(client.query("consent", ["uses", g.grant])))?.items ?? [];
    // Which item each receipt names: only the wallet knows the salt and the items.
    const names = {};
    for (const item of g.request?.scope ?? []) {
      names[await scopeCommitment(g.request.salt, item)] = item;
    }
    const who = g.request?.grantee_did ?? grant?.value?.grantee ?? "?";
    parts.push(el("h3", `Grant ${g.grant.slice(0, 12)}… to ${who} for ${g.request?.purpose ?? "?"}`));
    const state = el("p", grant
      ? `${grant.value.revoked_ms ? "revoked" : "active"}; used ${grant.value.uses} of ${grant.value.max_uses} times`
      : "not on chain");
    if (grant) state.append(" ", verifyControl("consent", `grant/${g.grant}`));
    parts.push(state);
    parts.push(uses.length
      ? table(["#", "When", "What was read", "Transaction"], uses.map((u) => [u.n,
        new Date(u.at_ms).toISOString().replace("T", " ").slice(0, 19) + " UTC",
        names[u.item] ?? `an item outside this wallet's list (${String(u.item).slice(0, 12)}…)`,
        link(`/txs/${u.tx}`, String(u.tx).slice(0, 12) + "…")]))
      : el("p", "Nobody has used it."));
  }
  section("me-grants", ...parts);
}

async function showPetitions(key) {
  const list = (await maybe(client.query("petitions", ["petitions"])))?.items ?? [];
  const rows = [];
  for (const p of list.filter((p) => p.status === "open")) {
    // Asked with a proof: an absent signature is an answer (proven absent), not an error.
    const mine = await maybe(client.query("petitions", ["signature", p.id, key.addressText], { prove: true }));
    const cell = el("span");
    if (mine?.value) cell.textContent = "signed";
    else {
      const b = el("button", "sign", { type: "button" });
      b.addEventListener("click", async () => {
        b.disabled = true;
        cell.textContent = "signing…";
        try {
          const hash = await client.send(key, "petitions", { call: "sign", id: p.id });
          const done = await client.waitForTx(hash);
          cell.replaceChildren(done.receipt?.success === false ? `refused: ${done.receipt.error?.code}` : "signed ",
            link(`/txs/${hash}`, "transaction"));
        } catch (e) {
          cell.textContent = `not signed: ${e.code ?? ""} ${e.message}`;
          b.disabled = false;
        }
      });
      cell.append(b);
    }
    rows.push([p.title, p.signatures, cell]);
  }
  section("me-petitions", el("h2", "Open petitions"),
    rows.length ? table(["Petition", "Signatures", "You"], rows) : el("p", "No open petition."));
}

async function signIn(seedHex) {
  const out = $("me-status");
  let key;
  try {
    key = await SigningKey.fromSeed(seedHex.trim().toLowerCase());
  } catch (e) {
    out.textContent = `That is not a key: ${e.message}`;
    return;
  }
  sessionStorage.setItem(SEED, seedHex.trim().toLowerCase());
  out.textContent = `Signed in as ${key.addressText} (your key stays in this browser).`;
  $("me-signout").hidden = false;
  await showAccount(key);
  await showDids(key);
  await showPetitions(key);
  const wallet = $("me-wallet").files[0];
  if (wallet) {
    try {
      await showGrants(JSON.parse(await wallet.text()));
    } catch (e) {
      section("me-grants", el("h2", "Your consent grants"), el("p", `The wallet could not be read: ${e.message}`));
    }
  }
  if ($("me-credentials-files").files.length) await showCredentials([...$("me-credentials-files").files]);
}

$("me-form").addEventListener("submit", (e) => {
  e.preventDefault();
  signIn($("me-seed").value);
});
$("me-signout").addEventListener("click", () => {
  sessionStorage.removeItem(SEED);
  location.reload();
});
const kept = sessionStorage.getItem(SEED);
if (kept) signIn(kept);
