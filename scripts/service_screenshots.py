"""Screenshots of the allocation service's pages for docs/service.md, in headless Chromium on a phone screen.

    python scripts/service_screenshots.py

Serves a new trial (a key, a log and accounts in a temporary folder), logs in as the London research
assistant, allocates a man, and writes the login page and the allocation with its receipt as PNG into
docs/screenshots/. Needs Debian's chromium and chromium-driver.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SHOTS = ROOT / "docs" / "screenshots"


def main() -> None:
    from selenium.webdriver.common.by import By

    from tests.service_helpers import Server, serve_trial
    from tests.test_service_browser import browser, log_in, wait_for

    with tempfile.TemporaryDirectory() as tmp:
        served = serve_trial(Path(tmp), str(Path(tmp) / "log" / "log.sqlite"))
        driver = browser()
        try:
            with Server(served) as server:
                driver.get(server.url + "/login")
                driver.save_screenshot(str(SHOTS / "service-login.png"))
                log_in(driver, server.url, "ra.london")
                driver.find_element(By.ID, "participant_id").send_keys("AF105")
                driver.find_element(By.ID, "allocate-button").click()
                wait_for(driver, "result")
                driver.save_screenshot(str(SHOTS / "service-allocated.png"))
        finally:
            driver.quit()
    print(f"wrote {SHOTS / 'service-login.png'} and {SHOTS / 'service-allocated.png'}")


if __name__ == "__main__":
    main()
