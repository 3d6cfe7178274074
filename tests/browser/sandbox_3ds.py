"""Drives the sandbox's 3-D Secure challenge page in a real headless Chromium (issue 13).

Usage: sandbox_3ds.py CHALLENGE_URL RETURN_PREFIX SCREENSHOT_DIR

Opens the challenge page, checks it shows the amount and the merchant, saves a screenshot,
clicks "Complete authentication", waits to land on the merchant's return URL (RETURN_PREFIX),
saves a second screenshot, and prints one JSON line: {"landed": <final URL>, "page": <its text>}.

Exit status 3 means the browser is missing (Playwright's Python package or /usr/bin/chromium):
the Rust test skips loudly then, or fails under REQUIRE_BROWSER=1. Playwright cannot download
browsers here, so Debian's Chromium is launched by path.
"""

import json
import os
import sys

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")


def main() -> int:
    url, return_prefix, screenshots = sys.argv[1], sys.argv[2], sys.argv[3]
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        print("playwright (Python) is not installed", file=sys.stderr)
        return 3
    if not os.path.exists(CHROMIUM):
        print(f"{CHROMIUM} is not installed", file=sys.stderr)
        return 3
    os.makedirs(screenshots, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_page()
        page.goto(url)
        amount = page.inner_text("#amount")
        merchant = page.inner_text("#merchant")
        page.screenshot(path=os.path.join(screenshots, "sandbox-3ds-challenge.png"), full_page=True)
        page.click("text=Complete authentication")
        page.wait_for_url(lambda landed: landed.startswith(return_prefix), timeout=15000)
        page.screenshot(path=os.path.join(screenshots, "sandbox-3ds-returned.png"), full_page=True)
        result = {"amount": amount, "merchant": merchant, "landed": page.url, "page": page.inner_text("body")}
        browser.close()
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
