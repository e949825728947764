"""Drive Debian's Chromium through the portal's pages (run by tests/browser.rs).

Usage: browser.py JOB.json. The job names the node's URL, the pages to visit (each with a
text it must show), the search queries with the page each must land on, the pages whose
*verify* controls are clicked (each must say verified), the pages where one proof is tampered
with on its way to the page (it must say failed), the directory for screenshots, and
axe-core's script. Prints one JSON object: per page its load time (the browser's navigation
timing, from request to the load event) and the accessibility violations axe-core found, the
number of values verified per page, the verdicts on tampered proofs; exits non-zero on the
first page that fails.
"""

import json
import sys

from playwright.sync_api import sync_playwright

CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


# Controls clicked per page at most (a page may list dozens of intervals or lines).
MAX_VERIFY = 6


def flip_hex(text: str) -> str:
    """The same hex string with its last byte changed."""
    last = int(text[-2:], 16) ^ 0x01
    return text[:-2] + f"{last:02x}"


def tamper(route):
    """Pass a proven answer on with one byte of its proof changed: the proven value when
    there is one (the state proof no longer matches), else a certificate signature."""
    response = route.fetch()
    answer = response.json()
    proof = answer.get("proof") or {}
    state = proof.get("state") or {}
    if state.get("value"):
        state["value"] = flip_hex(state["value"])
    else:
        proof["finalization"] = flip_hex(proof["finalization"])
    route.fulfill(response=response, json=answer)


def verdicts(page, limit):
    """Click up to `limit` verify controls and wait for each verdict."""
    page.wait_for_selector(".verify button:not([hidden])", timeout=10_000)
    controls = page.query_selector_all(".verify")[:limit]
    out = []
    for c in controls:
        c.query_selector("button").click()
        c.wait_for_selector("output:not(:empty)", timeout=10_000)
        page.wait_for_function(
            "(o) => o.textContent !== 'checking…'", arg=c.query_selector("output"), timeout=20_000
        )
        out.append(c.query_selector("output").inner_text())
    return out


def main() -> int:
    with open(sys.argv[1], encoding="utf-8") as f:
        job = json.load(f)
    base = job["url"].rstrip("/")
    axe = open(job["axe"], encoding="utf-8").read()
    report = {"pages": [], "searches": []}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        page = browser.new_page()
        errors = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on(
            "console",
            lambda m: errors.append(m.text) if m.type == "error" else None,
        )
        for item in job["pages"]:
            path, expect = item["path"], item["text"]
            response = page.goto(base + path, wait_until="load")
            status = response.status if response else 0
            body = page.inner_text("body")
            if status != 200 or expect not in body:
                print(json.dumps({"failed": path, "status": status, "body": body[:2000]}))
                return 1
            load_ms = page.evaluate(
                "() => { const n = performance.getEntriesByType('navigation')[0];"
                " return n.loadEventEnd - n.startTime; }"
            )
            name = path.strip("/").replace("/", "_").replace("?", "_") or "home"
            page.screenshot(path=f"{job['screenshots']}/{name}.png", full_page=True)
            page.add_script_tag(content=axe)
            result = page.evaluate(
                "async () => { const r = await axe.run(document, {resultTypes: ['violations']});"
                " return r.violations.map(v => ({id: v.id, impact: v.impact, nodes: v.nodes.length})); }"
            )
            report["pages"].append({"path": path, "load_ms": load_ms, "violations": result})
        for item in job["searches"]:
            page.goto(base + "/", wait_until="load")
            page.fill("#q", item["q"])
            page.click("form[role=search] button")
            page.wait_for_load_state("load")
            landed = page.url[len(base):]
            report["searches"].append({"q": item["q"], "landed": landed})
            if landed != item["to"]:
                print(json.dumps({"failed": "search " + item["q"], "landed": landed}))
                return 1
        report["verify"] = []
        for path in job.get("verify", []):
            page.goto(base + path, wait_until="load")
            said = verdicts(page, MAX_VERIFY)
            bad = [v for v in said if not v.startswith("verified")]
            if bad or not said:
                print(json.dumps({"failed": "verify " + path, "verdicts": said}))
                return 1
            report["verify"].append({"path": path, "verified": len(said), "first": said[0]})
        report["tamper"] = []
        page.route("**/v1/query/**", tamper)
        page.route("**/v1/txs/**", tamper)
        for path in job.get("tamper", []):
            page.goto(base + path, wait_until="load")
            said = verdicts(page, 1)
            report["tamper"].append({"path": path, "verdict": said[0]})
        page.unroute("**/v1/query/**")
        page.unroute("**/v1/txs/**")
        me = job.get("me")
        if me:
            page.goto(base + "/me", wait_until="load")
            page.fill("#me-seed", me["seed"])
            if me.get("credential"):
                page.set_input_files("#me-credentials-files", me["credential"])
            if me.get("wallet"):
                page.set_input_files("#me-wallet", me["wallet"])
            page.click("#me-form button[type=submit]")
            page.wait_for_function(
                "(a) => document.getElementById('me-status').textContent.includes(a)",
                arg=me["address"],
                timeout=20_000,
            )
            page.wait_for_selector("#me-petitions:not([hidden])", timeout=20_000)
            if me.get("wallet"):
                page.wait_for_selector("#me-grants:not([hidden])", timeout=20_000)
                grants = page.inner_text("#me-grants")
                if "home-care" not in grants or "category:care-plan" not in grants:
                    print(json.dumps({"failed": "grants on /me", "shown": grants}))
                    return 1
            if me.get("credential"):
                page.wait_for_selector("#me-credentials:not([hidden])", timeout=20_000)
                credentials = page.inner_text("#me-credentials")
                if "urn:urbis:resident" not in credentials or "valid (list" not in credentials:
                    print(json.dumps({"failed": "credential on /me", "shown": credentials}))
                    return 1
            said = verdicts(page, MAX_VERIFY)
            if not said or any(not v.startswith("verified") for v in said):
                print(json.dumps({"failed": "verify on /me", "verdicts": said}))
                return 1
            page.click("#me-petitions button")
            page.wait_for_function(
                "() => document.getElementById('me-petitions').textContent.includes('signed')",
                timeout=30_000,
            )
            page.screenshot(path=f"{job['screenshots']}/me.png", full_page=True)
            page.add_script_tag(content=axe)
            result = page.evaluate(
                "async () => { const r = await axe.run(document, {resultTypes: ['violations']});"
                " return r.violations.map(v => ({id: v.id, impact: v.impact, nodes: v.nodes.length})); }"
            )
            report["pages"].append({"path": "/me", "load_ms": 0, "violations": result})
            report["me"] = {
                "verified": len(said),
                "petition": page.inner_text("#me-petitions"),
                "credentials": page.inner_text("#me-credentials") if me.get("credential") else "",
                "grants": page.inner_text("#me-grants") if me.get("wallet") else "",
            }
        if errors:
            print(json.dumps({"failed": "console", "errors": errors}))
            return 1
        browser.close()
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
