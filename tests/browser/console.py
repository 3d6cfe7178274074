#!/usr/bin/env python3
"""The operator console in a real headless browser (issue 17).

Driven by tests/api/console_browser.rs, which starts payrail and seeds a payment, then runs:

    python3 tests/browser/console.py --base URL --token OPERATOR_TOKEN --payment ID --order ORDER --out DIR

Chromium from Debian (/usr/bin/chromium, or $CHROMIUM) under Playwright's Python package: sign in
through the form using only the keyboard, search payments by order id, open the payment, and see
its timeline; every form control has a label; no console errors or CSP violations on any page;
screenshots in DIR. Exit 0 on success, 1 on failure, 77 when Chromium or Playwright is missing.
"""

import argparse
import os
import shutil
import sys

SKIP = 77


def fail(message):
    print(f"FAIL: {message}", file=sys.stderr)
    sys.exit(1)


def main():
    parser = argparse.ArgumentParser()
    for name in ("base", "token", "payment", "order", "out"):
        parser.add_argument(f"--{name}", required=True)
    args = parser.parse_args()

    chromium = os.environ.get("CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    if not os.path.exists(chromium):
        print("SKIPPED (browser): chromium is not installed (apt-get install -y chromium)", file=sys.stderr)
        sys.exit(SKIP)
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        print("SKIPPED (browser): the playwright Python package is missing (pip install playwright)", file=sys.stderr)
        sys.exit(SKIP)

    os.makedirs(args.out, exist_ok=True)
    problems = []

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, headless=True, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1100, "height": 720})
        page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type in ("error", "warning") else None)
        page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
        page.on("requestfailed", lambda r: problems.append(f"request failed: {r.url}"))

        def labelled(where):
            unlabelled = page.evaluate(
                """() => [...document.querySelectorAll('input:not([type=hidden]), select, textarea')]
                       .filter(e => e.labels.length === 0 && !e.getAttribute('aria-label'))
                       .map(e => e.name || e.id)"""
            )
            if unlabelled:
                fail(f"{where}: unlabelled form controls {unlabelled}")

        def shot(name):
            page.screenshot(path=os.path.join(args.out, f"{name}.png"), full_page=True)

        page.goto(f"{args.base}/console")
        if not page.url.endswith("/console/login"):
            fail(f"an anonymous visit should land on the login form, got {page.url}")
        labelled("login")
        shot("01-login")

        # Keyboard only: Tab from the top reaches the token field, typing and Enter signs in.
        focused = []
        for _ in range(4):
            page.keyboard.press("Tab")
            focused.append(page.evaluate("() => document.activeElement.id || document.activeElement.textContent.trim()"))
            if focused[-1] == "token":
                break
        if focused[-1] != "token":
            fail(f"tabbing never reached the token field: {focused}")
        page.keyboard.type(args.token)
        page.keyboard.press("Enter")
        page.wait_for_url("**/console/payments")
        if page.get_by_role("heading", name="Payments").count() != 1:
            fail("no Payments heading after signing in")
        labelled("payments search")

        # Search by order id, by keyboard through the labelled field.
        page.get_by_label("Order id").focus()
        page.keyboard.type(args.order)
        page.keyboard.press("Enter")
        page.wait_for_url("**order_id=*")
        link = page.get_by_role("link", name=args.payment)
        if link.count() != 1:
            fail(f"the search by order id did not list {args.payment}")
        shot("02-payments-search")

        link.focus()
        page.keyboard.press("Enter")
        page.wait_for_url(f"**/console/payments/{args.payment}")
        timeline = page.locator("table", has=page.locator("caption", has_text="Timeline"))
        text = timeline.inner_text()
        for kind in ("payment.created", "payment.authorized", "payment.captured", "payment.refunded"):
            if kind not in text:
                fail(f"timeline lacks {kind}: {text}")
        audit = page.locator("table", has=page.locator("caption", has_text="Audit entries")).inner_text()
        if "intact" not in audit:
            fail(f"no intact audit entry shown: {audit}")
        shot("03-payment")

        for path, heading in (("providers", "Providers"), ("actors", "Actors"), ("settlements", "Settlements"),
                              ("reconciliations", "Reconciliations"), ("audit", "Audit")):
            page.goto(f"{args.base}/console/{path}")
            if page.get_by_role("heading", name=heading).count() != 1:
                fail(f"/console/{path} has no {heading} heading")
            labelled(path)
            shot(f"04-{path}")

        # The audit button, by keyboard: the form carries the session's CSRF token.
        page.get_by_role("button", name="Verify the audit chain now").focus()
        with page.expect_navigation():
            page.keyboard.press("Enter")
        verdict = page.get_by_role("status").inner_text()
        if "chain intact" not in verdict:
            fail(f"verifying the audit chain from the console did not report an intact chain: {verdict}")
        shot("05-audit-verified")
        browser.close()

    if problems:
        fail("browser reported problems:\n  " + "\n  ".join(problems))
    print(f"browser checks passed; screenshots in {args.out}")


if __name__ == "__main__":
    main()
