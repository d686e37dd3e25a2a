"""The research assistant's page driven in a real browser: Debian's headless Chromium through chromedriver.

Log in, allocate, see the arm and the receipt, be refused at another site (the form edited in the browser
to post Bristol), all on a phone-sized window. Skipped where Chromium is not installed, except under CI.
"""

from __future__ import annotations

import os
import shutil

import pytest

from advance_trial.randomisation import allocation as al
from tests.service_helpers import PASSWORD, Server, serve_trial

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver")


def browser(width: int = 390, height: int = 844):
    """Headless Chromium at a phone's size (no network but loopback, no first-run noise)."""
    if not (CHROMIUM and DRIVER):
        if os.environ.get("CI"):
            pytest.fail("CI needs Debian's chromium and chromium-driver")
        pytest.skip("no chromium and chromedriver")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                f"--window-size={max(width, 500)},{height}"):  # fmt: skip
        opts.add_argument(arg)
    # a phone's screen: the window alone cannot be narrower than 500 px in headless Chromium
    opts.add_experimental_option(
        "mobileEmulation", {"deviceMetrics": {"width": width, "height": height, "pixelRatio": 2}}
    )
    return webdriver.Chrome(service=Service(executable_path=DRIVER), options=opts)


def log_in(driver, url: str, name: str) -> None:
    from selenium.webdriver.common.by import By

    driver.get(url + "/login")
    driver.find_element(By.ID, "name").send_keys(name)
    driver.find_element(By.ID, "password").send_keys(PASSWORD)
    driver.find_element(By.ID, "login").click()
    wait_for(driver, "allocate")


def wait_for(driver, element_id: str):
    """The element once the page that holds it has loaded (a form's post and redirect take a moment)."""
    from selenium.common.exceptions import TimeoutException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    try:
        return WebDriverWait(driver, 20).until(ec.presence_of_element_located((By.ID, element_id)))
    except TimeoutException:
        raise AssertionError(f"no #{element_id} on {driver.current_url}:\n{driver.page_source[:2000]}") from None


def test_an_assistant_allocates_in_a_real_browser_and_is_refused_at_another_site(tmp_path, log_location):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    served = serve_trial(tmp_path, log_location)
    driver = browser()
    try:
        with Server(served) as server:
            log_in(driver, server.url, "ra.london")
            assert driver.find_element(By.ID, "allocate").is_displayed()
            site = Select(driver.find_element(By.ID, "site"))
            assert [o.get_attribute("value") for o in site.options] == ["london"]
            assert site.first_selected_option.get_attribute("value") == "london"
            # nothing wider than the phone's screen
            assert driver.execute_script("return window.innerWidth") == 390
            assert driver.execute_script("return document.documentElement.scrollWidth") <= 390
            driver.find_element(By.ID, "participant_id").send_keys("AF001")
            driver.find_element(By.ID, "allocate-button").click()
            wait_for(driver, "confirm-button").click()
            result = wait_for(driver, "result")
            arm_label = result.find_element(By.CLASS_NAME, "arm").text
            receipt = driver.find_element(By.ID, "receipt").text
            frame = al.allocations(served.cfg, served.ring, served.where).set_index("participant_id")
            assert arm_label == served.cfg.arm(frame.at["AF001", "arm"]).label
            assert "Sequence\n1" in receipt or "Sequence 1" in receipt
            assert "AF001" in driver.find_element(By.ID, "men").text
            driver.save_screenshot(str(tmp_path / "allocated.png"))
            # the form edited in the browser to post another site: refused by the server, nothing written
            driver.execute_script(
                "const s = document.getElementById('site'); const o = document.createElement('option');"
                "o.value = 'bristol'; o.text = 'Bristol'; s.appendChild(o); s.value = 'bristol';"
            )
            driver.find_element(By.ID, "participant_id").send_keys("AF002")
            driver.find_element(By.ID, "allocate-button").click()
            assert "You allocate only at London" in wait_for(driver, "error").text
            assert al.verify_log(served.cfg, served.ring, served.where).allocations == 1
            # logging out ends the session
            driver.find_element(By.CSS_SELECTOR, ".logout button").click()
            wait_for(driver, "login")
            assert driver.current_url.endswith("/login")
            driver.get(server.url + "/")
            assert driver.current_url.endswith("/login")
    finally:
        driver.quit()
