"""Drive Debian's Chromium through the portal's pages (run by tests/browser.rs).

Usage: browser.py JOB.json. The job names the node's URL, the pages to visit (each with a
text it must show), the search queries with the page each must land on, the directory for
screenshots, and axe-core's script. Prints one JSON object: per page its load time (the
browser's navigation timing, from request to the load event) and the accessibility
violations axe-core found; exits non-zero on the first page that fails.
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
        if errors:
            print(json.dumps({"failed": "console", "errors": errors}))
            return 1
        browser.close()
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
